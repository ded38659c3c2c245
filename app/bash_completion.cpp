// The bash completion script, written from the CLI::App tree (man_page.h):
// commands and subcommands, each command's options, and for each option or
// positional what its value is, so that the script completes the right thing
// after it. Guest names and lab ids are asked of kvmscope itself when
// completing ('kvmscope guests', 'kvmscope lab list'), so they are never stale.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <string_view>

#include "app/man_page.h"

namespace kvmscope::app {

namespace {

// What completes the value of an option or a positional. The command line
// knows a value's type and its allowed words; what a free-text value means
// (a guest, a lab, a folder, a file, or something only the user knows) is
// said here, by the option's name.
std::string ValueKind(const std::string& command, const CLI::Option& opt) {
  const ValueInfo v = ValueOf(opt);
  if (v.type.empty()) return "flag";
  if (!v.choices.empty()) {
    std::string words;
    for (const std::string& c : v.choices) words += (words.empty() ? "" : " ") + c;
    return "words:" + words;
  }
  const std::string name = OptionNames(opt).back();
  if (name == "--guest" || (command == "guests" && name == "name")) return "guest";
  if (name == "--lab" || name == "lab") return "lab";
  if (command == "help" && name == "command") return "command";
  if (name == "--dir" || name == "--out" || name == "folder") return "dir";
  // "real|protected|long" in the description: those words.
  const std::string& d = opt.get_description();
  for (size_t bar = d.find('|'); bar != std::string::npos; bar = d.find('|', bar + 1)) {
    size_t start = bar;
    while (start > 0 && std::isalnum(static_cast<unsigned char>(d[start - 1]))) --start;
    size_t end = bar;
    while (end < d.size() && (d[end] == '|' || std::isalnum(static_cast<unsigned char>(d[end])))) ++end;
    std::string words = d.substr(start, end - start);
    std::replace(words.begin(), words.end(), '|', ' ');
    if (start < bar) return "words:" + words;
  }
  static constexpr std::string_view kFreeText[] = {"--student", "--predict", "--param", "--expect", "--load", "--theme"};
  if (std::find(std::begin(kFreeText), std::end(kFreeText), name) != std::end(kFreeText)) return "none";
  if (v.type == "TEXT") return "file";
  return "none";  // numbers
}

std::string Quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A bash case arm: `  'key') r=value ;;`
std::string Arm(const std::string& key, const std::string& value) {
  return fmt::format("    {}) r={} ;;\n", Quoted(key), Quoted(value));
}

constexpr const char* kDriver = R"BASH(
# What completes KIND (flag, none, words:A B, guest, lab, command, dir, file),
# given the word so far.
_kvmscope_complete_kind() {
  local kind=$1 cur=$2 exe=${COMP_WORDS[0]} list=""
  [[ -x $exe ]] || exe=kvmscope
  case $kind in
    words:*) list=${kind#words:} ;;
    guest) list=$("$exe" guests 2>/dev/null | awk 'seen && NF == 0 { exit } seen { print $1 } $1 == "GUEST" { seen = 1 }') ;;
    lab) list=$("$exe" lab list 2>/dev/null | awk 'NR > 1 && /^  [^ ]/ { print $1 }') ;;
    command) local r; _kvmscope_commands ""; list=$r ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
    *) return ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
}

_kvmscope() {
  local cur=${COMP_WORDS[COMP_CWORD]} path="" r w i npos=0 option=""
  COMPREPLY=()
  # --opt=value: bash splits it at '=' (COMP_WORDBREAKS).
  local last=$((COMP_CWORD - 1))
  if [[ $cur == "=" ]]; then cur=""; last=$COMP_CWORD; fi
  if ((last >= 1)) && [[ ${COMP_WORDS[last]} == "=" ]]; then last=$((last - 1)); fi
  # The command path so far, the positionals given, and an option still
  # waiting for its value.
  for ((i = 1; i <= last; i++)); do
    w=${COMP_WORDS[i]}
    if [[ -n $option ]]; then option=""; continue; fi
    if [[ $w == -* ]]; then
      if [[ ${COMP_WORDS[i + 1]} == "=" ]] && ((i + 1 < last)); then i=$((i + 2)); continue; fi
      _kvmscope_value "$path" "$w"
      [[ $r != flag ]] && option=$w
      continue
    fi
    _kvmscope_commands "$path"
    if ((npos == 0)) && [[ " $r " == *" $w "* ]]; then
      path=${path:+$path }$w
    else
      npos=$((npos + 1))
    fi
  done
  if [[ -n $option ]]; then
    _kvmscope_value "$path" "$option"
    _kvmscope_complete_kind "$r" "$cur"
    return
  fi
  if [[ $cur == -* ]]; then
    _kvmscope_options "$path"
    mapfile -t COMPREPLY < <(compgen -W "$r" -- "$cur")
    return
  fi
  _kvmscope_commands "$path"
  if [[ -n $r ]] && ((npos == 0)); then
    mapfile -t COMPREPLY < <(compgen -W "$r" -- "$cur")
    return
  fi
  _kvmscope_positional "$path" "$npos"
  _kvmscope_complete_kind "$r" "$cur"
}
complete -F _kvmscope kvmscope
)BASH";

}  // namespace

std::string BashCompletion(const CLI::App& cli) {
  std::vector<CommandNode> tree = CommandTree(cli);
  tree.insert(tree.begin(), CommandNode{"", &cli});

  std::string commands, options, values, positionals;
  for (const CommandNode& node : tree) {
    std::string subs;
    for (const CLI::App* sub : node.app->get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); })) {
      subs += (subs.empty() ? "" : " ") + sub->get_name();
    }
    if (!subs.empty()) commands += Arm(node.path, subs);

    std::string names = "-h --help";
    int position = 0;
    for (const CLI::Option* opt : VisibleOptions(*node.app)) {
      const std::string kind = ValueKind(node.path, *opt);
      if (!opt->nonpositional()) {
        positionals += Arm(fmt::format("{} {}", node.path, position++), kind);
        continue;
      }
      for (const std::string& n : OptionNames(*opt)) {
        names += " " + n;
        if (kind != "flag") values += Arm(node.path + " " + n, kind);
      }
    }
    options += Arm(node.path, names);
  }

  std::string s;
  s += "# bash completion for kvmscope(1), written by 'kvmscope --bash-completion' from\n";
  s += "# kvmscope's own command line (app/main.cpp, app/bash_completion.cpp).\n\n";
  s += "# The subcommands of a command (\"\" is kvmscope itself), into r.\n";
  s += "_kvmscope_commands() {\n  case $1 in\n" + commands + "    *) r='' ;;\n  esac\n}\n\n";
  s += "# The options of a command, into r.\n";
  s += "_kvmscope_options() {\n  case $1 in\n" + options + "    *) r='-h --help' ;;\n  esac\n}\n\n";
  s += "# What the value of option $2 of command $1 is (flag: it takes none), into r.\n";
  s += "_kvmscope_value() {\n  case \"$1 $2\" in\n" + values + "    *) r=flag ;;\n  esac\n}\n\n";
  s += "# What positional number $2 (from 0) of command $1 is, into r.\n";
  s += "_kvmscope_positional() {\n  case \"$1 $2\" in\n" + positionals + "    *) r=none ;;\n  esac\n}\n";
  s += kDriver;
  return s;
}

}  // namespace kvmscope::app

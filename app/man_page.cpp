// kvmscope(1) in roff, written from the CLI::App tree: every command, its
// description, options, positionals, defaults and footer, then the exit
// statuses of exit_codes.h. See man_page.h.
#include "app/man_page.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <string_view>

#include "app/exit_codes.h"

namespace kvmscope::app {

namespace {

// UTF-8 → code point; `i` moves past the sequence. A malformed byte is
// returned as U+FFFD.
uint32_t DecodeUtf8(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i++]);
  int more = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : -1;
  if (more < 0) return 0xFFFD;
  uint32_t cp = b & (0x3F >> more);
  for (; more > 0; --more) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

bool OpensToken(char c) { return c == ' ' || c == '(' || c == '[' || c == '\'' || c == '"' || c == '/' || c == ','; }

// One line of running text for roff: backslashes as \e, non-ASCII as
// \[uXXXX], and '-' as a minus sign (\-) wherever it belongs to an option
// or a number ("--guest", "-o", "[0 - 60000]") but as a hyphen inside a word
// ("self-check", "high-contrast"). A line that would start with a control
// character ('.' or '\'') starts with \& instead.
std::string RoffText(std::string_view s) {
  std::string out;
  bool option_token = false;  // inside a token that started with '-'
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == ' ' || c == '\t') option_token = false;
    if (c == '-') {
      if (i == 0 || OpensToken(s[i - 1])) option_token = true;
      out += option_token ? "\\-" : "-";
      ++i;
    } else if (c == '\\') {
      out += "\\e";
      ++i;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      out += fmt::format("\\[u{:04X}]", DecodeUtf8(s, i));
    } else {
      out += c;
      ++i;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

// A paragraph of text: one roff line per input line, blank lines dropped
// (a new input line is a new paragraph).
std::string Paragraphs(std::string_view text) {
  std::string out;
  bool first = true;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty()) continue;
    if (!first) out += ".PP\n";
    first = false;
    out += RoffText(line) + "\n";
  }
  return out;
}

// A command or option name: every '-' a minus sign.
std::string Minus(std::string_view name) {
  std::string out;
  for (char c : name) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

std::string Bold(std::string_view name) { return "\\fB" + Minus(name) + "\\fR"; }

std::string Italic(std::string_view word) { return "\\fI" + RoffText(word) + "\\fR"; }

// The .TP entry of one option or positional.
std::string OptionEntry(const CLI::Option& opt) {
  const ValueInfo value = ValueOf(opt);
  std::string head;
  if (opt.get_positional() && !opt.nonpositional()) {
    head = Italic(opt.get_name(true));
  } else {
    for (const std::string& n : OptionNames(opt)) head += (head.empty() ? "" : ", ") + Bold(n);
    if (!value.type.empty()) head += " " + Italic(value.type);
  }
  std::string body = RoffText(opt.get_description());
  if (!body.empty() && body.back() != '.') body += ".";
  for (const std::string& check : value.checks) {
    // CLI11's words for its number checks, in English.
    const std::string said = check == "POSITIVE" ? "a number above 0" : check == "NONNEGATIVE" ? "0 or more" : check;
    body += value.choices.empty() ? " Value: " + RoffText(said) + "." : " One of: " + RoffText(said) + ".";
  }
  if (!opt.get_default_str().empty()) body += " Default: " + RoffText(opt.get_default_str()) + ".";
  if (opt.get_required()) body += " Required.";
  for (const CLI::Option* other : opt.get_excludes()) {
    const std::vector<std::string> names = OptionNames(*other);
    if (!names.empty()) body += " Not with " + RoffText(names.back()) + ".";
  }
  if (body.starts_with(" ")) body.erase(0, 1);
  return ".TP\n" + head + "\n" + body + "\n";
}

// "kvmscope stats trace [OPTIONS]" for the synopsis.
std::string SynopsisLine(const CommandNode& node) {
  std::string line = Bold("kvmscope " + node.path);
  bool has_options = false;
  for (const CLI::Option* opt : VisibleOptions(*node.app)) {
    if (opt->nonpositional()) {
      if (opt->get_required()) {
        const std::string type = ValueOf(*opt).type;
        line += " " + Bold(OptionNames(*opt).back()) + (type.empty() ? "" : " " + Italic(type));
      } else {
        has_options = true;
      }
      continue;
    }
    const std::string word = Italic(opt->get_name(true));
    line += opt->get_required() ? " " + word : " [" + word + "]";
  }
  if (!node.app->get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); }).empty()) {
    line += " [" + Italic("COMMAND") + "]";
  }
  if (has_options) line += " [" + Italic("OPTIONS") + "]";
  return line + "\n";
}

// The first sentence of the top-level description, without "kvmscope: ".
std::string Summary(const CLI::App& cli) {
  std::string d = cli.get_description();
  if (d.starts_with("kvmscope: ")) d.erase(0, 10);
  return d.substr(0, d.find(". "));
}

constexpr const char* kEnvironment[][2] = {
    {"KVMSCOPE_LABS", "The labs folder of the lab commands when --dir is not given (default: the labs installed with kvmscope)."},
    {"KVMSCOPE_LIBBPF_DEBUG", "When set, everything libbpf says is printed on stderr (by default its warnings are kept and quoted only when loading or attaching fails)."},
    {"DISPLAY", "With no command, kvmscope opens the window where DISPLAY or WAYLAND_DISPLAY is set and runs the terminal walk-through (tour) otherwise."},
    {"WAYLAND_DISPLAY", "As DISPLAY."},
    {"MESA_SHADER_CACHE_DISABLE", "Set to true by kvmscope itself when it runs with file capabilities (a lab room): it then keeps only the variables of the display, the terminal and the locale, PATH, USER and the two KVMSCOPE_ variables above (not HOME; the list is in app/privileges.cpp), so that nothing the user sets makes a library load into it."},
};

constexpr const char* kFiles[][2] = {
    {"/usr/share/kvmscope/labs", "The labs installed with the Debian package (in general PREFIX/share/kvmscope/labs beside PREFIX/bin/kvmscope), with the lecturer's reference solutions in solutions/."},
    {"/dev/kvm", "The KVM device: root or membership of the kvm group opens it."},
    {"/sys/kernel/btf/vmlinux", "Kernel BTF, needed by the BPF programs that trace the kernel."},
    {"/sys/kernel/tracing", "tracefs; kvmscope mounts it when it is not mounted (as root). A user with kvmscope's file capabilities needs it readable: mount -o remount,gid=kvm,mode=0750 /sys/kernel/tracing (README.md: Install on lab machines)."},
    {"./kvmscope-out", "Where tour saves its traces (--out changes it)."},
    {"/usr/share/doc/kvmscope", "README.md and the design, lab-writing, trace-format and kernel-facts documents."},
};

}  // namespace

std::string ManPage(const CLI::App& cli, const std::string& version) {
  const std::vector<CommandNode> tree = CommandTree(cli);
  std::string m;
  m += ".\\\" kvmscope(1), written by 'kvmscope --man-page' from kvmscope's own command line\n";
  m += ".\\\" (app/main.cpp, app/man_page.cpp): edit those, not this file.\n";
  m += fmt::format(".TH KVMSCOPE 1 \"\" \"{}\" \"User Commands\"\n", RoffText(version));
  m += ".SH NAME\nkvmscope \\- " + RoffText(Summary(cli)) + "\n";

  m += ".SH SYNOPSIS\n" + Bold("kvmscope") + " [" + Italic("OPTIONS") + "]\n";
  for (const CommandNode& node : tree) {
    if (node.app->get_require_subcommand_min() > 0) continue;  // only its subcommands run
    m += ".br\n" + SynopsisLine(node);
  }

  m += ".SH DESCRIPTION\n" + Paragraphs(cli.get_description());
  m += ".PP\nEvery command prints its own help with " + Bold("--help") + " (or " +
       Bold("kvmscope help") + " " + Italic("COMMAND") + ").\n";

  m += ".SH OPTIONS\n";
  m += ".TP\n" + Bold("-h") + ", " + Bold("--help") + "\nPrint the help (of the command it follows) and exit.\n";
  for (const CLI::Option* opt : VisibleOptions(cli)) m += OptionEntry(*opt);

  m += ".SH COMMANDS\n";
  for (const CommandNode& node : tree) {
    std::string description = node.app->get_description();
    if (!description.empty() && std::isalnum(static_cast<unsigned char>(description.back()))) description += ".";
    m += ".SS \"" + Minus("kvmscope " + node.path) + "\"\n" + Paragraphs(description);
    for (const CLI::Option* opt : VisibleOptions(*node.app)) m += OptionEntry(*opt);
    const CLI::App* parent = node.app->get_parent();
    const std::string footer = node.app->get_footer();
    if (!footer.empty() && (parent == nullptr || footer != parent->get_footer())) {
      m += ".PP\n" + Paragraphs(footer);
    }
  }

  m += ".SH EXIT STATUS\n";
  for (const ExitCodeText& e : kExitCodes) {
    m += fmt::format(".TP\n.B {}\n{}.\n", static_cast<int>(e.code), RoffText(e.meaning));
  }
  // The commands that say more about their statuses (a footer of their own,
  // or "exit status" in their description): pointed to.
  std::string own;
  for (const CommandNode& node : tree) {
    const CLI::App* parent = node.app->get_parent();
    std::string d = node.app->get_description();
    std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::tolower(c); });
    if (node.app->get_footer() != parent->get_footer() || d.find("exit status") != std::string::npos) {
      own += (own.empty() ? "" : ", ") + Bold("kvmscope " + node.path);
    }
  }
  if (!own.empty()) m += ".PP\nWhat these statuses mean for a command is said in its section above where it differs: " + own + ".\n";

  m += ".SH ENVIRONMENT\n";
  for (const auto& [name, text] : kEnvironment) m += ".TP\n.B " + std::string(name) + "\n" + RoffText(text) + "\n";
  m += ".SH FILES\n";
  for (const auto& [name, text] : kFiles) m += ".TP\n.I " + RoffText(name) + "\n" + RoffText(text) + "\n";
  m += ".SH SEE ALSO\n.BR as (1),\n.BR bpftool (8),\n.BR qemu\\-system\\-x86_64 (1),\n.BR setcap (8)\n";
  m += ".PP\n/usr/share/doc/kvmscope/README.md, /usr/share/doc/kvmscope/docs/labs.md\n";
  return m;
}

std::vector<CommandNode> CommandTree(const CLI::App& cli) {
  std::vector<CommandNode> out;
  auto walk = [&out](auto& self, const CLI::App& app, const std::string& prefix) -> void {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); })) {
      const std::string path = prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name();
      out.push_back({path, sub});
      self(self, *sub, path);
    }
  };
  walk(walk, cli, "");
  return out;
}

std::vector<const CLI::Option*> VisibleOptions(const CLI::App& app) {
  const CLI::Option* help = app.get_help_ptr();
  return app.get_options([help](const CLI::Option* o) { return o != help && !o->get_group().empty(); });
}

std::vector<std::string> OptionNames(const CLI::Option& opt) {
  std::vector<std::string> names;
  for (const std::string& s : opt.get_snames()) names.push_back("-" + s);
  for (const std::string& l : opt.get_lnames()) names.push_back("--" + l);
  if (names.empty()) names.push_back(opt.get_name(true));
  return names;
}

ValueInfo ValueOf(const CLI::Option& opt) {
  ValueInfo v;
  if (opt.get_type_size() == 0) return v;  // a flag
  const std::string full = opt.get_type_name();
  size_t colon = full.find(':');
  v.type = full.substr(0, colon);
  while (colon != std::string::npos) {
    const size_t next = full.find(':', colon + 1);
    std::string check = full.substr(colon + 1, next == std::string::npos ? std::string::npos : next - colon - 1);
    if (check.size() > 2 && check.front() == '{' && check.back() == '}') {
      std::string_view members(check);
      members = members.substr(1, members.size() - 2);
      while (!members.empty()) {
        const size_t comma = members.find(',');
        v.choices.emplace_back(members.substr(0, comma));
        members = comma == std::string_view::npos ? std::string_view{} : members.substr(comma + 1);
      }
    }
    v.checks.push_back(std::move(check));
    colon = next;
  }
  return v;
}

}  // namespace kvmscope::app

// The man page kvmscope(1) and the bash completion, both written from the
// command line itself (the CLI::App tree main.cpp builds), so that neither
// can drift from --help. `kvmscope --man-page` and `kvmscope
// --bash-completion` print them; the build installs what they print.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace kvmscope::app {

// One command of the tree: "run", "lab list", ... and its CLI11 node.
struct CommandNode {
  std::string path;  // the words after "kvmscope", space-separated
  const CLI::App* app = nullptr;
};

// Every visible command below `cli`, depth first in the order they were
// added (a command before its own subcommands).
std::vector<CommandNode> CommandTree(const CLI::App& cli);

// The visible options of one command (positionals included, hidden ones
// and -h/--help left out).
std::vector<const CLI::Option*> VisibleOptions(const CLI::App& app);

// "-q", "--quiet" for an option; the positional's name for a positional.
std::vector<std::string> OptionNames(const CLI::Option& opt);

// An option's value, split from CLI11's type name "TEXT:{a,b}": the base type
// ("TEXT", "INT", ...; empty for a flag) and what its validators say.
struct ValueInfo {
  std::string type;
  std::vector<std::string> checks;   // "{a,b}", "INT in [0 - 60000]", ...
  std::vector<std::string> choices;  // the members of a {a,b} check
};
ValueInfo ValueOf(const CLI::Option& opt);

// The whole man page, roff with the man macros.
std::string ManPage(const CLI::App& cli, const std::string& version);

// A bash completion script defining and registering _kvmscope.
std::string BashCompletion(const CLI::App& cli);

}  // namespace kvmscope::app

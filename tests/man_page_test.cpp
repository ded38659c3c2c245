// The man page and completion writers (app/man_page.cpp,
// app/bash_completion.cpp) on a small command line of their own, with the
// texts the real one does not have yet: a description starting with '.',
// backslashes, non-ASCII, defaults, nested and hidden commands. The real
// command line is checked by scripts/test-cli-docs.sh.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "app/man_page.h"

namespace kvmscope::app {
namespace {

struct Toy {
  std::string mode = "fast", dir, file, secret;
  int count = 3;
  bool flag = false;
  CLI::App app{"toy: a small command line. It has texts with traps in them.", "toy"};
  Toy() {
    CLI::App* go = app.add_subcommand("go", ".starts with a dot, then C:\\path and 5 \u2192 6");
    go->add_option("--mode", mode, "How: fast or slow; self-check is a word")->check(CLI::IsMember({"fast", "slow"}));
    go->add_option("--count", count, "How many, [0 - 9]")->capture_default_str()->check(CLI::Range(0, 9));
    go->add_option("--dir", dir, "A folder");
    go->add_option("-f,--file", file, "A file, -f for short")->required();
    go->add_flag("--flag", flag, "'quoted' start");
    go->add_option("--secret", secret, "never shown")->group("");
    CLI::App* deep = go->add_subcommand("deeper", "A nested command");
    deep->add_option("thing", file, "A positional")->required();
    app.add_subcommand("hidden", "not in the docs")->group("");
  }
};

// groff's plain-text rendering of `roff`, and its warnings.
std::string Groff(const std::string& roff, const char* device, std::string* warnings) {
  const std::string in = testing::TempDir() + "toy.1", err = testing::TempDir() + "toy.err";
  std::ofstream(in) << roff;
  const std::string cmd = "groff -man -T" + std::string(device) + " -ww -rLL=300n -P-cbou " + in + " 2>" + err;
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
  }
  std::ifstream e(err);
  warnings->assign(std::istreambuf_iterator<char>(e), {});
  return out;
}

TEST(ManPage, EscapesWhatRoffWouldMisread) {
  Toy toy;
  const std::string m = ManPage(toy.app, "toy 1.0");
  EXPECT_NE(m.find("\n\\&.starts with a dot"), std::string::npos) << m;
  EXPECT_NE(m.find("C:\\epath"), std::string::npos);
  EXPECT_NE(m.find("5 \\[u2192] 6"), std::string::npos);
  EXPECT_NE(m.find("\\fB\\-\\-count\\fR \\fIINT\\fR"), std::string::npos);
  EXPECT_NE(m.find("[0 \\- 9]"), std::string::npos);
  EXPECT_NE(m.find("self-check is a word"), std::string::npos);
  EXPECT_NE(m.find(", \\-f for short"), std::string::npos);
  EXPECT_NE(m.find("\n\\&'quoted' start"), std::string::npos) << "a line starting with ' is a request";
}

TEST(ManPage, GroffRendersItWithoutWarnings) {
  Toy toy;
  std::string warnings;
  const std::string text = Groff(ManPage(toy.app, "toy 1.0"), "utf8", &warnings);
  ASSERT_FALSE(text.empty()) << "groff did not run: " << warnings;
  EXPECT_EQ(warnings, "");
  EXPECT_NE(text.find(".starts with a dot, then C:\\path and 5 \u2192 6."), std::string::npos) << text;
  EXPECT_NE(text.find("'quoted' start"), std::string::npos);
}

TEST(ManPage, HasEveryVisibleCommandAndOptionAndNothingHidden) {
  Toy toy;
  std::string warnings;
  const std::string text = Groff(ManPage(toy.app, "toy 1.0"), "ascii", &warnings);
  for (const char* want : {"kvmscope go deeper thing", "kvmscope go --file TEXT [COMMAND] [OPTIONS]", "One of: {fast,slow}.",
                           "Default: 3.", "-f, --file TEXT", "Required.", "EXIT STATUS", "SEE ALSO"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  for (const char* hidden : {"--secret", "never shown", "kvmscope hidden", "not in the docs"}) {
    EXPECT_EQ(text.find(hidden), std::string::npos) << hidden;
  }
  const std::vector<CommandNode> tree = CommandTree(toy.app);
  ASSERT_EQ(tree.size(), 2u);
  EXPECT_EQ(tree[1].path, "go deeper");
}

TEST(BashCompletion, KnowsEachValueByItsKind) {
  Toy toy;
  const std::string s = BashCompletion(toy.app);
  EXPECT_NE(s.find("'go --mode') r='words:fast slow'"), std::string::npos) << s;
  EXPECT_NE(s.find("'go --dir') r='dir'"), std::string::npos);
  EXPECT_NE(s.find("'go --file') r='file'"), std::string::npos);
  EXPECT_NE(s.find("'go -f') r='file'"), std::string::npos);
  EXPECT_NE(s.find("'go --count') r='none'"), std::string::npos);
  EXPECT_EQ(s.find("--flag') r="), std::string::npos) << "a flag takes no value";
  EXPECT_EQ(s.find("secret"), std::string::npos);
  EXPECT_EQ(s.find("hidden"), std::string::npos);
  EXPECT_NE(s.find("'go') r='deeper'"), std::string::npos);
  EXPECT_NE(s.find("complete -F _kvmscope kvmscope"), std::string::npos);
}

}  // namespace
}  // namespace kvmscope::app

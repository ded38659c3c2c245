// Tests of the kvmscope executable: exit statuses and one-line messages for
// bad input, and a real run. Runs the built binary as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "kvm_available.h"

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command and returns its exit status and output.
Result Capture(const std::string& cmd) {
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// Runs kvmscope ARGS with `input` on its standard input.
Result Kvmscope(const std::string& args, const std::string& prefix = "",
                const std::string& input = "") {
  std::string in = input.empty() ? "</dev/null" : "<<'KVMSCOPE_IN'\n" + input + "KVMSCOPE_IN\n";
  return Capture(prefix + " " KVMSCOPE_BIN " " + args + " 2>&1 " + in);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("kvmscope-cli-" + std::to_string(getpid()));
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::all);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  }
  fs::path dir;
};

TEST_F(Cli, HelpExplainsTheExitStatuses) {
  Result r = Kvmscope("run --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--guest-asm"), std::string::npos);
  EXPECT_NE(r.output.find("Exit status: 0 the guest passed"), std::string::npos);
}

TEST_F(Cli, GuestsListsTheCatalog) {
  Result r = Kvmscope("guests");
  EXPECT_EQ(r.status, 0);
  for (const char* g : {"hello", "modes", "pagefault", "exceptions", "mmio", "cpuid", "timer",
                        "smp", "spin", "pio-loop"}) {
    EXPECT_NE(r.output.find(g), std::string::npos) << g;
  }
  Result one = Kvmscope("guests hello --source");
  EXPECT_EQ(one.status, 0);
  EXPECT_NE(one.output.find("self-check"), std::string::npos);
  EXPECT_NE(one.output.find("_start:"), std::string::npos);
}

TEST_F(Cli, UsageErrorsSayWhatIsWrongOnOneLine) {
  struct Case {
    std::string args, message;
  } cases[] = {
      {"run --guest nope", "unknown guest 'nope'"},
      {"run --guest-bin /nonexistent/g.bin", "cannot read guest binary /nonexistent/g.bin"},
      {"run --guest-bin " + Write("g.bin", "\xf4") + " --mode vm86", "unknown mode 'vm86'"},
      {"run --guest-bin " + Write("g2.bin", "\xf4") + " --load zz", "bad load address 'zz'"},
      {"run --guest-bin " + Write("g3.bin", "\xf4") + " --mode long --load 0x1000",
       "bad load address 0x1000"},
      {"run --guest-bin " + Write("big.bin", std::string(0x100000, '\x90')), "too large"},
      {"run --guest-bin " + Write("empty.bin", ""), "is empty"},
      {"run --guest-asm " + Write("bad.S", "\tnop\n\tmov %eax\n"), "bad.S:2"},
      {"run --guest hello --param 5", "takes no --param"},
      {"run --guest hello --guest-bin x", "excludes"},
      {"run --frobnicate", "frobnicate"},
  };
  for (const Case& c : cases) {
    Result r = Kvmscope(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

TEST_F(Cli, AssemblerErrorShowsTheOffendingLine) {
  Result r = Kvmscope("run --guest-asm " + Write("oops.S", "\tnop\n\tfrobnicate %eax\n"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("frobnicate %eax"), std::string::npos) << r.output;
}

TEST_F(Cli, RunsAGuestAndPrintsEachExit) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest hello");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("KVM_EXIT_HLT"), std::string::npos);
  EXPECT_NE(r.output.find("out port=0x3f8 size=1 data=0x48 'H'"), std::string::npos);
  EXPECT_NE(r.output.find("Hello from a KVM guest!"), std::string::npos);
  EXPECT_NE(r.output.find("verdict: passed"), std::string::npos);
}

TEST_F(Cli, NoArgumentsRunsTheDefaultGuest) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("verdict: passed"), std::string::npos);
}

TEST_F(Cli, StepModeRunsOneKvmRunPerEnter) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest hello --step", "", "\n\n\nq\n");
  EXPECT_EQ(r.status, 1) << r.output;  // quit before the guest could pass
  EXPECT_NE(r.output.find("#2 "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("#3 "), std::string::npos) << "a fourth KVM_RUN ran:\n" << r.output;
  EXPECT_NE(r.output.find("verdict: stopped"), std::string::npos) << r.output;
  // Stepping past the final HLT ends the run instead of waiting for a step
  // that can never come (hello makes 26 exits).
  Result all = Kvmscope("run --guest hello --step", "timeout 20", std::string(40, '\n'));
  EXPECT_EQ(all.status, 0) << all.output;
  EXPECT_NE(all.output.find("verdict: passed"), std::string::npos) << all.output;
  // A signal ends a run that waits at the step prompt.
  // (stdin is a pipe that stays open and silent for 3 s.)
  Result sig = Capture("(sleep 3; echo) | timeout --preserve-status -s INT 0.5 " KVMSCOPE_BIN
                       " run --guest hello --step 2>&1");
  EXPECT_EQ(sig.status, 1) << sig.output;
  EXPECT_NE(sig.output.find("interrupted (SIGINT)"), std::string::npos) << sig.output;
  // 'c' continues to the end.
  Result c = Kvmscope("run --guest hello --step", "", "\nc\n");
  EXPECT_EQ(c.status, 0) << c.output;
}

TEST_F(Cli, CustomGuestsPassOnTheirExpectedValue) {
  KVMSCOPE_REQUIRE_KVM();
  std::string src =
      Write("mine.S", "\tmov $0x500, %dx\n\tmov $0x2a, %eax\n\tout %eax, %dx\n\thlt\n");
  EXPECT_EQ(Kvmscope("run --guest-asm " + src + " --mode long --expect 42").status, 0);
  Result wrong = Kvmscope("run --guest-asm " + src + " --mode long --expect 43");
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("reported 0x2a, expected 0x2b"), std::string::npos) << wrong.output;
  // A flat binary with a load address: mov $0x500,%dx; out %al,%dx; hlt in real mode.
  std::string bin = Write("mine.bin", std::string("\xba\x00\x05\xee\xf4", 5));
  EXPECT_EQ(Kvmscope("run --guest-bin " + bin + " --load 0x9000").status, 0);
}

TEST_F(Cli, GuestFailureAndWatchdogHaveTheirStatus) {
  KVMSCOPE_REQUIRE_KVM();
  // ud2 with no IDT in long mode: #UD -> #DF -> triple fault.
  std::string bin = Write("crash.bin", std::string("\x0f\x0b", 2));
  Result crash = Kvmscope("run --guest-bin " + bin + " --mode long");
  EXPECT_EQ(crash.status, 1) << crash.output;
  EXPECT_NE(crash.output.find("verdict: shutdown"), std::string::npos) << crash.output;
  std::string loop = Write("loop.bin", std::string("\xeb\xfe", 2));  // jmp .
  Result spin = Kvmscope("run --guest-bin " + loop + " --mode long --timeout 0.3");
  EXPECT_EQ(spin.status, 1) << spin.output;
  EXPECT_NE(spin.output.find("watchdog"), std::string::npos) << spin.output;
  // The catalog's spin expects the watchdog: that is its pass.
  EXPECT_EQ(Kvmscope("run --guest spin --timeout 0.3 -q").status, 0);
}

TEST_F(Cli, InterruptStopsTheGuestCleanly) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest spin --timeout 60 -q", "timeout --preserve-status -s INT 0.5");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("verdict: stopped — interrupted (SIGINT)"), std::string::npos)
      << r.output;
}

// No /dev/kvm: a private mount namespace with an empty /dev.
TEST_F(Cli, WithoutDevKvmTheEnvironmentStatusAndAHint) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a mount namespace";
  if (system("unshare --mount true 2>/dev/null") != 0)
    GTEST_SKIP() << "unshare --mount unavailable";
  std::string cmd = "unshare --mount sh -c 'mount -t tmpfs none /dev && exec " KVMSCOPE_BIN
                    " run --guest hello' 2>&1";
  Result r = Capture(cmd);
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("/dev/kvm does not exist"), std::string::npos) << r.output;
}

TEST_F(Cli, WithoutPermissionTheEnvironmentStatusAndAHint) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  if (system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "setpriv unavailable";
  if (access("/dev/kvm", F_OK) != 0) GTEST_SKIP() << "no /dev/kvm";
  Result r = Kvmscope("run --guest hello", "setpriv --reuid=nobody --regid=nogroup --clear-groups");
  if (r.output.find("Permission denied") == std::string::npos && r.status == 0) {
    GTEST_SKIP() << "/dev/kvm is open to every user here";
  }
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("run as root or add your user to the 'kvm' group"), std::string::npos)
      << r.output;
}

}  // namespace

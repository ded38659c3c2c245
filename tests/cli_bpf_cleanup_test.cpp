// No BPF program outlives kvmscope: a traced run stopped by SIGINT, SIGTERM
// or SIGKILL leaves no program of its own loaded. Runs the built binary as a
// user would (root and BPF, else skipped with the reason).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpf_programs.h"
#include "cli_fixture.h"
#include "kvm_available.h"

namespace {

namespace fs = std::filesystem;

using kvmscope::test::Cli;
using kvmscope::test::Contains;
using kvmscope::test::kBpftool;
using kvmscope::test::LoadedKvmscopePrograms;

// ---- No BPF program outlives kvmscope -----------------------------------

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += "  " + x + "\n";
  return s;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The wait status of `pid` once it ends within `limit`, else nothing.
std::optional<int> WaitExit(pid_t pid, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  do {
    int st;
    pid_t got = waitpid(pid, &st, WNOHANG);
    if (got == pid) return st;
    if (got < 0) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < end);
  return std::nullopt;
}

class CliBpfCleanup : public Cli {
 protected:
  // Starts a traced spin guest, waits until its BPF programs are loaded and
  // the guest runs, sends `sig`, and checks the programs are then gone.
  void SignalTracedRun(int sig) {
    KVMSCOPE_REQUIRE_KVM();
    KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
    if (access(kBpftool, X_OK) != 0) GTEST_SKIP() << kBpftool << " missing";
    ASSERT_EQ(LoadedKvmscopePrograms(), std::vector<std::string>{})
        << "kvmscope programs are loaded before the test starts (another kvmscope running?)";

    fs::path log = dir / "spin.out";
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      kvmscope::test::PrepareChild(log.c_str());
      execl(KVMSCOPE_BIN, KVMSCOPE_BIN, "run", "--guest", "spin", "--timeout", "30", "-q",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // Killed at the end whatever happens, so a failed assertion leaves no
    // process (and no BPF programs) behind.
    struct Reaper {
      pid_t pid;
      bool reaped = false;
      ~Reaper() {
        if (!reaped) {
          kill(pid, SIGKILL);
          waitpid(pid, nullptr, 0);
        }
      }
    } reaper{pid};

    // Loaded and running: the programs are in the kernel and the guest has
    // started (the "running" line is flushed just before KVM_RUN).
    std::vector<std::string> loaded;
    bool running = false;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      loaded = LoadedKvmscopePrograms();
      running = ReadAll(log).find("kvmscope: running spin") != std::string::npos;
      if (running && Contains(loaded, "run_sys_enter") && Contains(loaded, "tp_kvm_pio")) break;
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        reaper.reaped = true;
        FAIL() << "kvmscope ended (status " << st << ") before its programs were seen:\n"
               << ReadAll(log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(running) << ReadAll(log);
    ASSERT_TRUE(Contains(loaded, "run_sys_enter") && Contains(loaded, "tp_kvm_pio"))
        << "programs seen:\n"
        << Join(loaded) << ReadAll(log);

    ASSERT_EQ(kill(pid, sig), 0) << std::strerror(errno);
    std::optional<int> st = WaitExit(pid, std::chrono::seconds(15));
    ASSERT_TRUE(st.has_value()) << "kvmscope did not end within 15 s of " << strsignal(sig)
                                << ":\n"
                                << ReadAll(log);
    reaper.reaped = true;
    std::string output = ReadAll(log);
    if (sig == SIGKILL) {
      EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL) << "status " << *st;
    } else {
      // A clean stop: the CLI takes the signal, stops the guest, prints the
      // verdict and exits 1 ("the guest ran but failed").
      ASSERT_TRUE(WIFEXITED(*st)) << "ended by signal " << WTERMSIG(*st) << "\n" << output;
      EXPECT_EQ(WEXITSTATUS(*st), 1) << output;
      const char* verdict = sig == SIGINT ? "verdict: stopped — interrupted (SIGINT)"
                                          : "verdict: stopped — terminated (SIGTERM)";
      EXPECT_NE(output.find(verdict), std::string::npos) << output;
      EXPECT_NE(output.find("\nkernel: "), std::string::npos) << output;
    }

    // The kernel frees a program once its last reference (fd, link, perf
    // event) is gone; that can lag the exit a little.
    std::vector<std::string> left;
    end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    do {
      left = LoadedKvmscopePrograms();
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < end);
    EXPECT_EQ(left, std::vector<std::string>{})
        << "BPF programs still loaded 5 s after kvmscope ended by " << strsignal(sig) << ":\n"
        << Join(left);
  }
};

TEST_F(CliBpfCleanup, NoProgramOutlivesSigint) { SignalTracedRun(SIGINT); }
TEST_F(CliBpfCleanup, NoProgramOutlivesSigterm) { SignalTracedRun(SIGTERM); }
TEST_F(CliBpfCleanup, NoProgramOutlivesSigkill) { SignalTracedRun(SIGKILL); }

}  // namespace

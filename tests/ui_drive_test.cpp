// The window driven as a lecturer drives it, with real X input events in a
// private Xvfb: Reset over and over, guest switches while paused, stepping
// and running, replay → live → replay, a bad file, quitting mid-run, and
// SIGINT/SIGTERM while live, and another process's VMM (a real QEMU) watched
// by pid until it exits. The process must survive every click, and end
// cleanly with its BPF programs gone. Built once more with AddressSanitizer
// and ThreadSanitizer by scripts/sanitize.sh (see tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "bpf_programs.h"
#include "gui_driver.h"
#include "kvm_available.h"
#include "qemu_vm.h"

namespace {

using namespace std::chrono_literals;
using kvmscope::test::GuiProcess;
using kvmscope::test::Xvfb;
namespace fs = std::filesystem;

class Drive : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = kvmscope::test::GuiDriverMissing();
    if (!why.empty()) GTEST_SKIP() << why << " (scripts/setup.sh installs it)";
    dir = fs::temp_directory_path() / ("kvmscope-drive-" + std::to_string(getpid()));
    fs::create_directories(dir);
    x = std::make_unique<Xvfb>(1600, 900);
    ASSERT_FALSE(x->display().empty()) << "Xvfb did not start";
    gui = std::make_unique<GuiProcess>(KVMSCOPE_BIN, x->display(), dir);
  }
  void TearDown() override {
    gui.reset();
    x.reset();
    fs::remove_all(dir);
  }

  // Everything a failed expectation needs to explain itself.
  std::string Explain() const {
    return "status: " + gui->Status() + "\nmessage: " + gui->Message() + "\nlog:\n" + gui->Log();
  }

  // Where the kernel can be traced, the programs of the window's run are
  // loaded now (so that their removal later means something).
  bool Traced() const { return geteuid() == 0 && access(kvmscope::test::kBpftool, X_OK) == 0; }

  // Ends the window with `sig` (or Ctrl+Q when 0) and returns its exit
  // status; the process must end within 15 s, by exit, not by a signal.
  int End(int sig) {
    if (sig) {
      EXPECT_TRUE(gui->Signal(sig));
    } else {
      EXPECT_TRUE(gui->Key("ctrl+q"));
    }
    std::optional<int> st = gui->WaitExit(15s);
    EXPECT_TRUE(st.has_value()) << "the window did not close within 15 s (times the sanitizer's "
                                   "scale)\n"
                                << Explain() << "\nstacks:\n"
                                << (st ? "" : gui->Stacks());
    if (!st) return -1;
    EXPECT_TRUE(WIFEXITED(*st)) << "ended by signal " << WTERMSIG(*st) << "\n" << Explain();
    return WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  }

  fs::path dir;
  std::unique_ptr<Xvfb> x;
  std::unique_ptr<GuiProcess> gui;
};

TEST_F(Drive, ResetFiveTimesAfterAFinishedRun) {
  KVMSCOPE_REQUIRE_KVM();
  ASSERT_TRUE(gui->Start({"--guest", "hello"})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("hello: passed")) << Explain();
  for (int i = 0; i < 5; ++i) {
    // r resets to a paused guest; space runs it to the end again.
    ASSERT_TRUE(gui->Key("r")) << "xdotool failed";
    ASSERT_TRUE(gui->WaitStatus("hello: paused (0 exits)")) << "reset " << i << "\n" << Explain();
    ASSERT_TRUE(gui->Key("space"));
    ASSERT_TRUE(gui->WaitStatus("hello: passed")) << "run after reset " << i << "\n" << Explain();
  }
  // The Reset button, clicked, does what r does.
  ASSERT_TRUE(gui->Click("reset"));
  ASSERT_TRUE(gui->WaitStatus("hello: paused (0 exits)")) << Explain();
  EXPECT_TRUE(gui->Alive()) << Explain();
  // SIGTERM with a paused guest: stopped, so the status is run's 1.
  EXPECT_EQ(End(SIGTERM), 1) << Explain();
  EXPECT_NE(gui->Log().find("verdict: stopped — terminated (SIGTERM)"), std::string::npos)
      << Explain();
}

TEST_F(Drive, GuestSwitchWhilePausedSteppingAndRunning) {
  KVMSCOPE_REQUIRE_KVM();
  ASSERT_TRUE(gui->Start({"--guest", "hello", "--paused"})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("hello: paused (0 exits)")) << Explain();
  // Paused: n is the next catalog guest.
  ASSERT_TRUE(gui->Key("n"));
  ASSERT_TRUE(gui->WaitStatus("modes: paused")) << Explain();
  // Stepping: three single KVM_RUNs, then p in the middle of a step.
  ASSERT_TRUE(gui->Key("s s s"));  // typed fast: one frame may see all three
  ASSERT_TRUE(gui->WaitStatus("modes: paused (3 exits)")) << Explain();
  ASSERT_TRUE(gui->Click("step"));
  ASSERT_TRUE(gui->WaitStatus("modes: paused (4 exits)")) << Explain();
  ASSERT_TRUE(gui->Key("s p"));
  ASSERT_TRUE(gui->WaitStatus("hello: paused (0 exits)")) << Explain();
  // Running: the picker (clicked open, then a guest clicked) while an
  // exit-heavy guest runs: p from the first guest wraps to the last,
  // pio-pair (two vCPUs making exits at once).
  ASSERT_TRUE(gui->Key("p"));
  ASSERT_TRUE(gui->WaitStatus("pio-pair: paused")) << Explain();
  ASSERT_TRUE(gui->Key("space"));
  ASSERT_TRUE(gui->WaitStatus("pio-pair: ")) << Explain();
  ASSERT_TRUE(gui->Click("guest"));
  ASSERT_TRUE(gui->WaitWidget("guest:spin")) << "the picker did not open\n" << Explain();
  ASSERT_TRUE(gui->Click("guest:spin"));
  ASSERT_TRUE(gui->WaitStatus("spin: paused")) << Explain();
  ASSERT_TRUE(gui->Click("run"));
  ASSERT_TRUE(gui->WaitStatus("spin: running")) << Explain();
  ASSERT_TRUE(gui->Key("n"));  // while spin runs
  ASSERT_TRUE(gui->WaitStatus("pio-loop: paused")) << Explain();
  EXPECT_TRUE(gui->Alive()) << Explain();
  EXPECT_EQ(End(0), 0) << Explain();
}

// Stepping selects the run just made; ← and → walk back and forth through
// the exits (hello writes "Hello" to COM1, one OUT per KVM_RUN).
TEST_F(Drive, StepSelectsTheNewRunAndArrowsWalkTheExits) {
  KVMSCOPE_REQUIRE_KVM();
  ASSERT_TRUE(gui->Start({"--guest", "hello", "--paused"})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("hello: paused (0 exits)")) << Explain();
  auto selected = [&](const std::string& part) {
    return gui->WaitFor([&] { return gui->Selected().find(part) != std::string::npos; }, 10s);
  };
  for (const char* c : {"'H'", "'e'", "'l'"}) {
    ASSERT_TRUE(gui->Key("s"));
    ASSERT_TRUE(selected(c)) << "after the step that wrote " << c << "\nselected: "
                             << gui->Selected() << "\n" << Explain();
  }
  ASSERT_TRUE(gui->Key("Left"));
  ASSERT_TRUE(selected("'e'")) << gui->Selected();
  ASSERT_TRUE(gui->Key("Left Left"));  // two presses, possibly in one frame
  ASSERT_TRUE(selected("'H'")) << gui->Selected();
  // Step back to the start is the end of the road: ← stays on the first exit.
  ASSERT_TRUE(gui->Key("Left"));
  ASSERT_TRUE(gui->Key("Right"));
  ASSERT_TRUE(selected("'e'")) << gui->Selected();
  EXPECT_EQ(End(0), 0) << Explain();
}

// In slow motion every KVM_RUN is selected as it ends, so the cycle and the
// inspector follow the guest one exit at a time ("Hello" letter by letter).
TEST_F(Drive, SlowMotionFollowsEachRun) {
  KVMSCOPE_REQUIRE_KVM();
  ASSERT_TRUE(gui->Start({"--guest", "hello", "--paused"})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("hello: paused (0 exits)")) << Explain();
  ASSERT_TRUE(gui->Click("slow"));
  // One KVM_RUN a second: slow enough for a frame under ThreadSanitizer too.
  ASSERT_TRUE(gui->WaitWidget("slow:1000")) << "the slow-motion choices did not open\n" << Explain();
  ASSERT_TRUE(gui->Click("slow:1000"));
  ASSERT_TRUE(gui->Key("space"));
  // The runs selected while the guest runs, in the order seen. A frame may
  // take longer than a KVM_RUN on a loaded machine under a sanitizer, so a
  // run can be passed over between two frames; the selection must still
  // follow the guest forward, run after run, to its last one.
  std::vector<int> runs;
  auto note = [&] {
    std::string sel = gui->Selected();
    size_t at = sel.find(" run=");
    if (sel.find("KVM_RUN exit") == std::string::npos || at == std::string::npos) return;
    int run = std::atoi(sel.c_str() + at + 5);
    if (runs.empty() || runs.back() != run) runs.push_back(run);
  };
  EXPECT_TRUE(gui->WaitFor([&] { note(); return gui->Status().find("hello: passed") != std::string::npos; },
                           90s))
      << Explain();
  note();
  std::string seen;
  for (int r : runs) seen += " " + std::to_string(r);
  EXPECT_GE(runs.size(), 4u) << "runs selected:" << seen << "\n" << Explain();
  EXPECT_TRUE(std::is_sorted(runs.begin(), runs.end())) << "runs selected:" << seen;
  EXPECT_NE(gui->Selected().find("data=0x18 (status report)"), std::string::npos)
      << "the last run (the guest's report) is not selected at the end\n" << Explain();
  EXPECT_EQ(End(0), 0) << Explain();
}

TEST_F(Drive, ReplayThenLiveThenReplayAndABadFile) {
  KVMSCOPE_REQUIRE_KVM();
  const std::string data = KVMSCOPE_TESTDATA "/pagefault-pvm.json";
  ASSERT_TRUE(gui->Start({data})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("replay of")) << Explain();
  // Replay → live: a guest chosen in the picker.
  ASSERT_TRUE(gui->Click("guest"));
  ASSERT_TRUE(gui->WaitWidget("guest:hello")) << "the picker did not open\n" << Explain();
  ASSERT_TRUE(gui->Click("guest:hello"));
  ASSERT_TRUE(gui->WaitStatus("hello: paused")) << Explain();
  ASSERT_TRUE(gui->Key("space"));
  ASSERT_TRUE(gui->WaitStatus("hello: passed")) << Explain();
  // Live → replay: a path typed and Open clicked.
  ASSERT_TRUE(gui->Type("path", data));
  ASSERT_TRUE(gui->Click("open"));
  ASSERT_TRUE(gui->WaitStatus("replay of " + data)) << Explain();
  // A file that does not exist: said in the toolbar, the replay stays.
  ASSERT_TRUE(gui->Type("path", "/nonexistent/trace.json"));
  ASSERT_TRUE(gui->Click("open"));
  // The error, not the "loading ..." message that names the same path first.
  ASSERT_TRUE(gui->WaitFor(
      [&] { return gui->Message().find("cannot read /nonexistent/trace.json") != std::string::npos; },
      10s))
      << Explain();
  EXPECT_TRUE(gui->WaitStatus("replay of " + data)) << Explain();
  // Replay → live with a key, while the replay is open.
  ASSERT_TRUE(gui->Key("n"));
  ASSERT_TRUE(gui->WaitStatus("hello: paused")) << Explain();
  EXPECT_TRUE(gui->Alive()) << Explain();
  EXPECT_EQ(End(SIGINT), 1) << Explain();  // paused: stopped
}

// A big trace opened in the window loads in the background: the window keeps
// drawing, the status bar says how far the load is, and the trace replaces
// the live guest when it is loaded.
TEST_F(Drive, OpenLoadsABigTraceInTheBackgroundWithProgress) {
  KVMSCOPE_REQUIRE_KVM();
  const fs::path big = dir / "big.json";  // 1.5M events, 95 MiB: about a second to load
  kvmscope::test::Result made = kvmscope::test::Capture(
      std::string(KVMSCOPE_BIN) + " run --guest pio-loop --param 500000 --no-probes --timeout 300 -q -o " +
      big.string() + " 2>&1");
  ASSERT_EQ(made.status, 0) << made.output;
  ASSERT_TRUE(gui->Start({"--guest", "hello", "--no-probes", "--paused"})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("hello: paused")) << Explain();
  ASSERT_TRUE(gui->Type("path", big.string()));
  ASSERT_TRUE(gui->Click("open"));
  std::set<std::string> seen;  // the progress lines drawn while it loads
  ASSERT_TRUE(gui->WaitFor(
      [&] {
        const std::string status = gui->Status();
        if (status.find("loading " + big.string() + ": ") != std::string::npos) seen.insert(status);
        return status.find("replay of " + big.string()) != std::string::npos;
      },
      60s)) << Explain();
  EXPECT_GE(seen.size(), 2u) << "the status bar did not show the load moving\n" << Explain();
  EXPECT_EQ(End(SIGINT), 0) << Explain();  // a replay: nothing to stop
}

// An engineer watches a QEMU: `gui --pid` on a paused QEMU running the exit
// BIOS, which is let go; the window records it live, says when the VMM
// exited, stays open on what it recorded (its programs gone), and saves it:
// one vCPU track named by QEMU, every port write.
TEST_F(Drive, WatchesAQemuByPidUntilItExits) {
  if (std::string why = kvmscope::test::QemuVm::MissingReason(); !why.empty()) GTEST_SKIP() << why;
  if (!Traced()) GTEST_SKIP() << "gui --pid needs root and bpftool (it loads BPF programs)";
  ASSERT_EQ(kvmscope::test::LoadedKvmscopePrograms(), std::vector<std::string>{})
      << "kvmscope programs are loaded before the test starts (another kvmscope running?)";
  kvmscope::test::QemuVmOptions options;
  options.outs = 20000;
  std::string error;
  std::unique_ptr<kvmscope::test::QemuVm> vm = kvmscope::test::QemuVm::Start(options, &error);
  ASSERT_TRUE(vm) << error;
  const std::string pid = std::to_string(vm->pid());
  ASSERT_TRUE(gui->Start({"--pid", pid})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("pid " + pid + " (qemu-system-x86): recording", 60s)) << Explain();
  EXPECT_FALSE(kvmscope::test::LoadedKvmscopePrograms().empty()) << Explain();
  ASSERT_TRUE(vm->Cont());
  std::optional<int> qemu = vm->Wait(std::chrono::seconds(120));
  ASSERT_TRUE(qemu) << "QEMU did not finish the exit BIOS";
  EXPECT_EQ(*qemu, kvmscope::test::kExitBiosStatus) << vm->Log();
  ASSERT_TRUE(gui->WaitStatus("the VMM exited after", 30s)) << Explain();
  EXPECT_EQ(kvmscope::test::LoadedKvmscopePrograms(), std::vector<std::string>{})
      << "the recording ended with the VMM; its programs stay loaded\n" << Explain();
  // This window watches one VMM: opening a trace in it says how instead.
  ASSERT_TRUE(gui->Type("path", KVMSCOPE_TESTDATA "/pagefault-pvm.json"));
  ASSERT_TRUE(gui->Click("open"));
  ASSERT_TRUE(gui->WaitFor([&] { return gui->Message().find("replay a saved trace with 'kvmscope gui TRACE'") !=
                                        std::string::npos; }, 10s)) << Explain();
  EXPECT_NE(gui->Status().find("the VMM exited after"), std::string::npos) << Explain();
  const fs::path saved = dir / "qemu.json";
  ASSERT_TRUE(gui->Type("path", saved.string()));
  ASSERT_TRUE(gui->Click("save"));
  ASSERT_TRUE(gui->WaitFor([&] { return fs::exists(saved) && gui->Message().find("wrote") != std::string::npos; },
                           20s)) << Explain();
  EXPECT_TRUE(gui->Alive()) << Explain();
  EXPECT_EQ(End(0), 0) << Explain();
  // The saved trace, read by the CLI as any other.
  kvmscope::test::Result stats = kvmscope::test::Capture(std::string(KVMSCOPE_BIN) + " stats " + saved.string() + " 2>&1");
  EXPECT_EQ(stats.status, 0) << stats.output;
  EXPECT_NE(stats.output.find("External VMM (pid " + pid), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find(std::to_string(kvmscope::test::QemuVm::ExpectedIoExits(options.outs))),
            std::string::npos) << stats.output;
}

// A long guest, traced where the kernel allows: the window closed mid-run
// (Ctrl+Q, SIGINT, SIGTERM) stops it and leaves no BPF program behind.
class DriveLive : public Drive, public ::testing::WithParamInterface<int> {};

TEST_P(DriveLive, ClosingMidRunStopsTheGuestAndDetaches) {
  KVMSCOPE_REQUIRE_KVM();
  const int sig = GetParam();
  if (Traced()) {
    ASSERT_EQ(kvmscope::test::LoadedKvmscopePrograms(), std::vector<std::string>{})
        << "kvmscope programs are loaded before the test starts (another kvmscope running?)";
  }
  ASSERT_TRUE(gui->Start({"--guest", "spin", "--timeout", "120"})) << Explain();
  ASSERT_TRUE(gui->WaitStatus("spin: running")) << Explain();
  if (Traced() && gui->Log().find("not traced") == std::string::npos) {
    std::vector<std::string> loaded = kvmscope::test::LoadedKvmscopePrograms();
    EXPECT_TRUE(kvmscope::test::Contains(loaded, "tp_kvm_pio")) << Explain();
  }
  const int status = End(sig);
  const std::string log = gui->Log();
  if (sig == 0) {
    EXPECT_EQ(status, 0) << Explain();  // the user closed the window
    EXPECT_NE(log.find("verdict: stopped — the window was closed"), std::string::npos) << log;
  } else {
    EXPECT_EQ(status, 1) << Explain();  // as `run` does: the guest was stopped
    const char* verdict = sig == SIGINT ? "verdict: stopped — interrupted (SIGINT)"
                                        : "verdict: stopped — terminated (SIGTERM)";
    EXPECT_NE(log.find(verdict), std::string::npos) << log;
  }
  if (Traced()) {
    EXPECT_EQ(kvmscope::test::LoadedKvmscopePrograms(), std::vector<std::string>{}) << log;
  }
}

INSTANTIATE_TEST_SUITE_P(QuitKeySigintSigterm, DriveLive, ::testing::Values(0, SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == 0        ? "CtrlQ"
                                              : info.param == SIGINT ? "SIGINT"
                                                                     : "SIGTERM");
                         });

}  // namespace

namespace {

// A student in the Labs tab: `gui --lab run-loop --answers F` opens on the
// lab; Run this step runs hello; a wrong answer typed and checked gets the
// trace's feedback and the hint, the right one is graded right, and the
// answers file holds the answer and the attempts. Without kernel tracing
// (--no-probes): the lab's VMM-side questions need none.
TEST_F(Drive, LabsTabRunCheckAndSave) {
  KVMSCOPE_REQUIRE_KVM();
  const fs::path answers = dir / "answers.txt";
  ASSERT_TRUE(gui->Start({"--lab", "run-loop", "--answers", answers.string(), "--no-probes", "--paused"}))
      << Explain();
  ASSERT_TRUE(gui->WaitWidget("labrun")) << "the Labs tab did not open on the lab\n" << Explain();
  // The prediction, typed before the run, is committed when the step runs.
  ASSERT_TRUE(gui->WaitWidget("predict:runs")) << Explain();
  ASSERT_TRUE(gui->Type("predict:runs", "20"));
  ASSERT_TRUE(gui->Click("labrun"));
  ASSERT_TRUE(gui->WaitStatus("hello: passed")) << Explain();
  ASSERT_TRUE(gui->WaitFor([&] { return kvmscope::test::ReadFile(answers).find("runs.prediction: 20") != std::string::npos; }, 10s))
      << kvmscope::test::ReadFile(answers) << Explain();
  // Types an answer and checks it until the panel's word says `part`. On a
  // loaded machine a click can land before the typed text reached the field
  // (ImGui 1.86 reads input once a frame): the answer is typed again, and an
  // unchanged answer is not graded again, so the attempts stay exact.
  auto answer = [&](const std::string& text, const std::string& part) {
    for (int i = 0; i < 3; ++i) {
      if (!gui->Type("answer:runs", text)) return false;
      std::this_thread::sleep_for(300ms);
      if (!gui->Click("check:runs")) return false;
      if (gui->WaitFor([&] { return gui->Line("labmsg").find(part) != std::string::npos; }, 5s)) return true;
    }
    return false;
  };
  // Wrong, then right (hello: 25 exits to the VMM, each followed by another
  // KVM_RUN but the HLT's: 26 runs).
  ASSERT_TRUE(gui->WaitWidget("answer:runs")) << Explain();
  ASSERT_TRUE(answer("25", "runs: wrong: your trace says 26")) << gui->Line("labmsg") << "\n" << Explain();
  ASSERT_TRUE(answer("26", "runs: correct")) << gui->Line("labmsg") << "\n" << Explain();
  const std::string saved = kvmscope::test::ReadFile(answers);
  EXPECT_NE(saved.find("runs: 26"), std::string::npos) << saved;
  EXPECT_NE(saved.find("runs.attempts: 2"), std::string::npos) << saved;
  EXPECT_NE(saved.find("runs.prediction: 20"), std::string::npos) << saved;
  // A look-at link selects the first OUT to COM1.
  ASSERT_TRUE(gui->Click("look:0"));
  ASSERT_TRUE(gui->WaitFor([&] { return gui->Selected().find("'H'") != std::string::npos; }, 10s))
      << gui->Selected() << "\n" << Explain();
  EXPECT_TRUE(gui->Alive()) << Explain();
  EXPECT_EQ(End(0), 0) << Explain();
}

}  // namespace

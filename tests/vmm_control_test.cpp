// Real-KVM tests of run control: step runs exactly one KVM_RUN per step,
// pause kicks a spinning vCPU out and resume continues, the watchdog ends a
// spinning guest within its budget, the exit budget and stop work.
#include <gtest/gtest.h>

#include <thread>

#include "support.h"
#include "vmm/catalog.h"
#include "vmm/machine.h"

namespace kvmscope::vmm {
namespace {

using namespace std::chrono_literals;
using test::Recorder;

TEST(Control, StepRunsExactlyOneKvmRunPerStep) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Machine m(ConfigFor(*FindGuest("hello")), &rec);
  RunOptions options;
  options.start_paused = true;
  m.Start(options);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rec.Of(EventKind::RunEnter).size(), 0u) << "ran before the first step";
  for (size_t step = 1; step <= 5; ++step) {
    m.Step(1);
    test::WaitUntil([&] { return rec.Of(EventKind::RunExit).size() >= step; });
    std::this_thread::sleep_for(30ms);  // room for a wrong extra run to show up
    EXPECT_EQ(rec.Of(EventKind::RunEnter).size(), step);
    EXPECT_EQ(rec.Of(EventKind::RunExit).size(), step);
  }
  m.Resume();
  Outcome out = m.Wait();
  EXPECT_EQ(out.verdict, Verdict::Passed) << out.detail;
  EXPECT_EQ(out.console, "Hello from a KVM guest!\n");
}

TEST(Control, WatchdogEndsASpinningGuestWithinItsBudget) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Machine m(ConfigFor(*FindGuest("spin")), &rec);
  RunOptions options;
  options.timeout = 250ms;
  Outcome out = m.Run(options);
  EXPECT_EQ(out.verdict, Verdict::Timeout) << out.detail;
  double seconds = (out.end_ns - out.start_ns) / 1e9;
  EXPECT_GE(seconds, 0.25);
  EXPECT_LT(seconds, 2.0) << "the kick did not get the vCPU out of KVM_RUN promptly";
  EXPECT_EQ(rec.Of(EventKind::Watchdog).size(), 1u);
  auto exits = rec.Of(EventKind::RunExit);
  ASSERT_FALSE(exits.empty());
  EXPECT_EQ(exits.back().exit.reason, uint32_t{KVM_EXIT_INTR});
  EXPECT_EQ(exits.back().exit.run_errno, EINTR);
}

TEST(Control, PauseKicksASpinningVcpuOutAndResumeGoesOn) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Machine m(ConfigFor(*FindGuest("spin")), &rec);
  RunOptions options;
  options.timeout = 300ms;
  m.Start(options);
  std::this_thread::sleep_for(100ms);
  m.Pause();
  test::WaitUntil([&] { return !rec.Of(EventKind::RunExit).empty(); });
  ASSERT_EQ(rec.Of(EventKind::RunExit).size(), 1u) << "pause did not kick the vCPU out";
  // Paused time does not count against the budget: still running after 500 ms.
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(m.finished());
  EXPECT_EQ(rec.Of(EventKind::RunEnter).size(), 1u) << "ran while paused";
  m.Resume();
  Outcome out = m.Wait();
  EXPECT_EQ(out.verdict, Verdict::Timeout) << out.detail;
  EXPECT_EQ(rec.Of(EventKind::RunEnter).size(), 2u);
}

TEST(Control, ExitBudgetStopsAnExitHeavyGuest) {
  KVMSCOPE_REQUIRE_KVM();
  Machine m(ConfigFor(*FindGuest("pio-loop"), 100000), nullptr);
  RunOptions options;
  options.max_exits = 1000;
  Outcome out = m.Run(options);
  EXPECT_EQ(out.verdict, Verdict::ExitBudget) << out.detail;
  EXPECT_EQ(out.exits, 1000u);
}

TEST(Control, SlowMotionSpacesTheRuns) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Machine m(ConfigFor(*FindGuest("pio-loop"), 3), &rec);
  RunOptions options;
  options.slow_motion = 30ms;
  Outcome out = m.Run(options);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  auto enters = rec.Of(EventKind::RunEnter);
  ASSERT_EQ(enters.size(), 5u);
  for (size_t i = 1; i < enters.size(); ++i) {
    EXPECT_GE(enters[i].time_ns - enters[i - 1].time_ns, 30'000'000) << i;
  }
}

TEST(Control, StopFromAnotherThreadEndsTheRun) {
  KVMSCOPE_REQUIRE_KVM();
  Machine m(ConfigFor(*FindGuest("spin")), nullptr);
  RunOptions options;
  options.timeout = 10s;
  m.Start(options);
  std::this_thread::sleep_for(50ms);
  m.Stop("test");
  Outcome out = m.Wait();
  EXPECT_EQ(out.verdict, Verdict::Stopped);
  EXPECT_LT(out.end_ns - out.start_ns, 5'000'000'000);
}

}  // namespace
}  // namespace kvmscope::vmm

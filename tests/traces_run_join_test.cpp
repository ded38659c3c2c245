// Unit tests of RunJoin: VMM runs joined with the kernel events of the same
// KVM_RUN, whichever side arrives first. Synthetic data only; no KVM or BPF
// needed.
#include <gtest/gtest.h>

#include "traces/kernel_event.h"
#include "traces/run_join.h"

namespace kvmscope::traces {
namespace {

VmmRun MakeRun(uint32_t tid, uint64_t index, int64_t enter, int64_t exit) {
  VmmRun r;
  r.tid = tid;
  r.vcpu = static_cast<int>(tid);
  r.run_index = index;
  r.enter_ns = enter;
  r.exit_ns = exit;
  r.exit_reason = 2;
  return r;
}

KernelEvent K(KernelEventKind kind, uint32_t tid, int64_t t) {
  KernelEvent e;
  e.kind = kind;
  e.time_ns = t;
  e.tid = tid;
  e.pid = tid;
  return e;
}

constexpr int64_t kGrace = 1000;

TEST(RunJoin, KernelAfterVmm) {
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 200));
  EXPECT_TRUE(j.TakeReady(210, kGrace).empty());  // kernel side not in yet
  EXPECT_EQ(j.pending(), 1u);
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 110));
  j.AddKernel(K(KernelEventKind::Pio, 7, 150));
  EXPECT_TRUE(j.TakeReady(220, kGrace).empty());  // still no RunExit
  j.AddKernel(K(KernelEventKind::RunExit, 7, 190));
  const auto ready = j.TakeReady(230, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].kernel_complete);
  EXPECT_EQ(ready[0].run.run_index, 1u);
  ASSERT_EQ(ready[0].kernel.size(), 3u);
  EXPECT_EQ(ready[0].kernel[0].kind, KernelEventKind::RunEnter);
  EXPECT_EQ(ready[0].kernel[1].kind, KernelEventKind::Pio);
  EXPECT_EQ(ready[0].kernel[2].kind, KernelEventKind::RunExit);
  EXPECT_EQ(j.pending(), 0u);
  EXPECT_EQ(j.pending_kernel(), 0u);
  EXPECT_TRUE(j.TakeReady(240, kGrace).empty());  // released once
}

TEST(RunJoin, KernelBeforeVmm) {
  // The drain thread delivers the kernel side before the vCPU thread has
  // added its run.
  RunJoin j;
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 110));
  j.AddKernel(K(KernelEventKind::KvmExit, 7, 150));
  j.AddKernel(K(KernelEventKind::RunExit, 7, 190));
  EXPECT_TRUE(j.TakeReady(200, kGrace).empty());
  EXPECT_EQ(j.pending_kernel(), 3u);  // kept for the run to come
  j.AddRun(MakeRun(7, 1, 100, 200));
  const auto ready = j.TakeReady(205, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].kernel_complete);
  EXPECT_EQ(ready[0].kernel.size(), 3u);
}

TEST(RunJoin, AnEntryTheVmmMadeAheadOfTheLastRunsKernelEventsJoinsTheNextRun) {
  // The VMM makes run 2's entry on the vCPU thread while run 1's kernel
  // events are still in the ring buffer: it arrives first.
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 200));
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 110));
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 230));  // run 2's, made by the VMM
  j.AddKernel(K(KernelEventKind::Pio, 7, 150));
  j.AddKernel(K(KernelEventKind::RunExit, 7, 190));
  auto ready = j.TakeReady(240, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].kernel_complete);
  ASSERT_EQ(ready[0].kernel.size(), 3u);
  EXPECT_EQ(ready[0].kernel[1].kind, KernelEventKind::Pio);
  EXPECT_EQ(ready[0].kernel[2].time_ns, 190);
  j.AddRun(MakeRun(7, 2, 225, 300));
  j.AddKernel(K(KernelEventKind::RunExit, 7, 290));
  ready = j.TakeReady(310, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].kernel_complete);
  ASSERT_EQ(ready[0].kernel.size(), 2u);
  EXPECT_EQ(ready[0].kernel[0].time_ns, 230);
  EXPECT_EQ(ready[0].kernel[1].time_ns, 290);
}

TEST(RunJoin, TwoThreadsInterleaved) {
  RunJoin j;
  // vCPU threads 7 and 8 run at the same time.
  j.AddRun(MakeRun(7, 1, 100, 200));
  j.AddRun(MakeRun(8, 1, 120, 210));
  j.AddRun(MakeRun(7, 2, 220, 300));
  j.AddRun(MakeRun(8, 2, 230, 320));
  for (auto [tid, t, kind] : std::vector<std::tuple<uint32_t, int64_t, KernelEventKind>>{
           {7, 105, KernelEventKind::RunEnter},
           {8, 125, KernelEventKind::RunEnter},
           {7, 150, KernelEventKind::Pio},
           {8, 160, KernelEventKind::Mmio},
           {7, 195, KernelEventKind::RunExit},
           {8, 205, KernelEventKind::RunExit},
           {7, 225, KernelEventKind::RunEnter},
           {8, 235, KernelEventKind::RunEnter},
           {7, 260, KernelEventKind::Cpuid},
           {7, 295, KernelEventKind::RunExit},
           {8, 270, KernelEventKind::Msr},
           {8, 315, KernelEventKind::RunExit}}) {
    j.AddKernel(K(kind, tid, t));
  }
  const auto ready = j.TakeReady(330, kGrace);
  ASSERT_EQ(ready.size(), 4u);
  const std::vector<std::pair<uint32_t, uint64_t>> order = {{7, 1}, {8, 1}, {7, 2}, {8, 2}};
  const std::vector<KernelEventKind> middle = {KernelEventKind::Pio, KernelEventKind::Mmio,
                                               KernelEventKind::Cpuid, KernelEventKind::Msr};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ready[i].run.tid, order[i].first) << i;
    EXPECT_EQ(ready[i].run.run_index, order[i].second) << i;
    EXPECT_TRUE(ready[i].kernel_complete) << i;
    ASSERT_EQ(ready[i].kernel.size(), 3u) << i;
    EXPECT_EQ(ready[i].kernel[1].kind, middle[i]) << i;
    for (const KernelEvent& e : ready[i].kernel) {
      EXPECT_EQ(e.tid, ready[i].run.tid);
      EXPECT_GE(e.time_ns, ready[i].run.enter_ns);
      EXPECT_LE(e.time_ns, ready[i].run.exit_ns);
    }
  }
  EXPECT_EQ(j.pending_kernel(), 0u);
}

TEST(RunJoin, GraceTimeoutReleasesIncomplete) {
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 200));
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 110));       // the RunExit never comes
  EXPECT_TRUE(j.TakeReady(200 + kGrace, kGrace).empty());  // exactly at the limit: still waits
  const auto ready = j.TakeReady(201 + kGrace, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_FALSE(ready[0].kernel_complete);
  ASSERT_EQ(ready[0].kernel.size(), 1u);  // what did arrive comes along
  EXPECT_EQ(ready[0].kernel[0].kind, KernelEventKind::RunEnter);
  EXPECT_EQ(j.pending(), 0u);

  // With no kernel events at all, the run still comes out.
  j.AddRun(MakeRun(9, 1, 5000, 5100));
  const auto alone = j.TakeReady(5100 + kGrace + 1, kGrace);
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_FALSE(alone[0].kernel_complete);
  EXPECT_TRUE(alone[0].kernel.empty());
}

TEST(RunJoin, RunExitOutsideTheWindowDoesNotComplete) {
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 200));
  j.AddKernel(K(KernelEventKind::RunExit, 8, 150));  // another thread
  j.AddKernel(K(KernelEventKind::RunExit, 7, 250));  // this thread, the next run
  EXPECT_TRUE(j.TakeReady(260, kGrace).empty());
  const auto ready = j.TakeReady(200 + kGrace + 1, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_FALSE(ready[0].kernel_complete);
  EXPECT_TRUE(ready[0].kernel.empty());
}

TEST(RunJoin, StaleEventsAreDropped) {
  RunJoin j;
  // Kernel events of a thread whose runs never arrive (another process's
  // vCPU, say): held for 2 * grace, then dropped.
  for (int64_t t = 0; t < 1000; ++t) j.AddKernel(K(KernelEventKind::KvmExit, 99, t));
  EXPECT_EQ(j.pending_kernel(), 1000u);
  j.TakeReady(1000, kGrace);
  EXPECT_EQ(j.pending_kernel(), 1000u);  // not yet 2 * grace old
  j.TakeReady(2500, kGrace);             // cutoff 500
  EXPECT_EQ(j.pending_kernel(), 500u);
  j.TakeReady(4000, kGrace);
  EXPECT_EQ(j.pending_kernel(), 0u);
  // A run added now for that window finds nothing: the events are gone.
  j.AddRun(MakeRun(99, 1, 0, 1000));
  const auto ready = j.TakeReady(4001, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].kernel.empty());
  EXPECT_EQ(j.pending(), 0u);
}

TEST(RunJoin, EventsBeforeOldestPendingRunAreDropped) {
  RunJoin j;
  j.AddRun(MakeRun(7, 2, 1000, 1100));
  // Arrives late for a run already gone: older than every held run of tid 7.
  j.AddKernel(K(KernelEventKind::Pio, 7, 500));
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 1010));
  j.TakeReady(1050, kGrace);  // cutoff -950: the time rule alone would keep it
  EXPECT_EQ(j.pending_kernel(), 1u);
  EXPECT_EQ(j.pending(), 1u);
}

TEST(RunJoin, EventsAfterNewestPendingRunWaitThenGo) {
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 200));
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 110));
  // The next run's kernel side, before that run is added.
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 300));
  j.TakeReady(250, kGrace);
  EXPECT_EQ(j.pending_kernel(), 2u);
  // Much later: run 1 times out, and the event at 300 has waited 2 * grace.
  const auto ready = j.TakeReady(300 + 2 * kGrace + 1, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].kernel.size(), 1u);
  EXPECT_EQ(j.pending_kernel(), 0u);
}

TEST(RunJoin, LongPendingRunKeepsItsEvents) {
  // A KVM_RUN that lasts longer than 2 * grace keeps its early events.
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 10000));
  j.AddKernel(K(KernelEventKind::RunEnter, 7, 110));
  j.AddKernel(K(KernelEventKind::KvmExit, 7, 120));
  EXPECT_TRUE(j.TakeReady(10001, kGrace).empty());
  EXPECT_EQ(j.pending_kernel(), 2u);
  j.AddKernel(K(KernelEventKind::RunExit, 7, 9990));
  const auto ready = j.TakeReady(10002, kGrace);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].kernel_complete);
  EXPECT_EQ(ready[0].kernel.size(), 3u);
}

TEST(RunJoin, ReleasedInTheOrderAdded) {
  RunJoin j;
  j.AddRun(MakeRun(7, 1, 100, 200));  // its kernel side lags
  j.AddRun(MakeRun(8, 1, 110, 210));
  j.AddKernel(K(KernelEventKind::RunExit, 8, 205));
  // Thread 8's run is complete but waits behind thread 7's.
  EXPECT_TRUE(j.TakeReady(220, kGrace).empty());
  EXPECT_EQ(j.pending(), 2u);
  j.AddKernel(K(KernelEventKind::RunExit, 7, 195));
  const auto ready = j.TakeReady(230, kGrace);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].run.tid, 7u);
  EXPECT_EQ(ready[1].run.tid, 8u);
  EXPECT_TRUE(ready[0].kernel_complete);
  EXPECT_TRUE(ready[1].kernel_complete);

  // Many runs of one thread come out in order, however the calls split them.
  std::vector<uint64_t> indices;
  for (uint64_t i = 0; i < 50; ++i) {
    const int64_t base = 1000 + static_cast<int64_t>(i) * 100;
    j.AddRun(MakeRun(7, i, base, base + 50));
    j.AddKernel(K(KernelEventKind::RunExit, 7, base + 40));
    if (i % 7 == 0) {
      for (const auto& r : j.TakeReady(base + 60, kGrace)) indices.push_back(r.run.run_index);
    }
  }
  for (const auto& r : j.TakeReady(100000, kGrace)) indices.push_back(r.run.run_index);
  ASSERT_EQ(indices.size(), 50u);
  EXPECT_TRUE(std::is_sorted(indices.begin(), indices.end()));
}

TEST(RunJoin, MemoryStaysBoundedOverALongRun) {
  RunJoin j;
  // A long session: one vCPU thread, plus a noisy thread with no runs.
  for (uint64_t i = 0; i < 10000; ++i) {
    const int64_t base = static_cast<int64_t>(i) * 100;
    j.AddKernel(K(KernelEventKind::RunEnter, 7, base + 5));
    j.AddKernel(K(KernelEventKind::KvmExit, 99, base + 6));
    // Every tenth run's kernel side is lost (ring buffer overflow).
    if (i % 10 != 0) j.AddKernel(K(KernelEventKind::RunExit, 7, base + 45));
    j.AddRun(MakeRun(7, i, base, base + 50));
    j.TakeReady(base + 60, kGrace);
    EXPECT_LE(j.pending(), 12u);
    EXPECT_LE(j.pending_kernel(), 60u);
  }
}

}  // namespace
}  // namespace kvmscope::traces

// Spans of a live trace: after every merge, each track's spans are what
// pairing its events from scratch gives, with late events (the kernel's
// arrive after the VMM's), lost ends, and a vCPU that stays in KVM_RUN for
// a long time (its KVM_RUN span open at the track's end while events pile
// up: merging must not re-pair the whole run each time).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::traces {
namespace {

constexpr uint32_t kPid = 10, kTid = 11;

Event At(int64_t t, EventType type) {
  Event e;
  e.time_ns = t;
  e.pid = kPid;
  e.tid = kTid;
  e.vcpu = 0;
  e.type = type;
  if (type.origin == Origin::Kernel) e.cpu = 1;
  return e;
}

void ExpectSpansAsFromScratch(const TraceData& live, const std::string& when) {
  TraceData scratch = live;
  scratch.BuildSpans();
  ASSERT_EQ(live.tracks.size(), scratch.tracks.size()) << when;
  for (size_t t = 0; t < live.tracks.size(); ++t) {
    for (size_t k = 0; k < kSpanKinds; ++k) {
      EXPECT_EQ(live.tracks[t].spans[k], scratch.tracks[t].spans[k])
          << when << ": track " << t << ", " << SpanKindName(static_cast<SpanKind>(k));
    }
  }
}

TEST(LiveSpans, EveryMergeGivesWhatPairingFromScratchGives) {
  Trace trace;
  trace.SetVmmPid(kPid);
  std::mt19937 rng(11);
  int64_t t = 1000;
  // Runs of random length, some very long; kernel events sometimes late
  // (behind the VMM's), and now and then an end lost.
  for (int chunk = 0; chunk < 60; ++chunk) {
    const int runs = 1 + static_cast<int>(rng() % 3);
    for (int r = 0; r < runs; ++r) {
      const int64_t enter = t;
      trace.Add(At(t += 10, VmmEventKind::RunEnter));
      const bool lose_kernel_exit = rng() % 13 == 0;
      const int inside = chunk % 20 == 7 ? 3000 : static_cast<int>(rng() % 40);
      std::vector<Event> kernel = {At(enter + 11, KernelEventKind::RunEnter)};
      int64_t k = enter + 12;
      for (int i = 0; i < inside; ++i) {
        kernel.push_back(At(k += 5, KernelEventKind::KvmEntry));
        kernel.push_back(At(k += 5, KernelEventKind::KvmExit));
        kernel.push_back(At(k += 1, KernelEventKind::MmuWalk));
      }
      kernel.push_back(At(k += 5, KernelEventKind::UserspaceExit));
      if (!lose_kernel_exit) kernel.push_back(At(k, KernelEventKind::RunExit));
      t = k + 20;
      trace.Add(At(t, VmmEventKind::RunExit));
      // The kernel's events arrive after the VMM's exit: late, in place.
      for (const Event& e : kernel) trace.Add(e);
      trace.Add(At(t += 5, VmmEventKind::DeviceAccess));
    }
    // Sometimes a run is left open at the end of the chunk, its kernel
    // events still coming.
    if (chunk % 4 == 1) {
      trace.Add(At(t += 10, VmmEventKind::RunEnter));
      trace.Add(At(t += 1, KernelEventKind::RunEnter));
      for (int i = 0; i < 200; ++i) trace.Add(At(t += 3, KernelEventKind::MmuWalk));
      ExpectSpansAsFromScratch(*trace.Read(), "open run, chunk " + std::to_string(chunk));
      for (int i = 0; i < 200; ++i) trace.Add(At(t += 3, KernelEventKind::MmuWalk));
      trace.Add(At(t += 2, KernelEventKind::UserspaceExit));
      trace.Add(At(t, KernelEventKind::RunExit));
      trace.Add(At(t += 4, VmmEventKind::RunExit));
    }
    ExpectSpansAsFromScratch(*trace.Read(), "chunk " + std::to_string(chunk));
    ASSERT_FALSE(HasFailure()) << "chunk " << chunk;
  }
  EXPECT_GT(trace.Read()->EventCount(), 20'000u);
}

// A guest that never leaves KVM_RUN (the catalog's spin guest): its kernel
// events stream for as long as it runs, inside one open span of each kind.
TEST(LiveSpans, ARunThatNeverEndsStaysOneOpenSpan) {
  Trace trace;
  trace.SetVmmPid(kPid);
  int64_t t = 1000;
  trace.Add(At(t, VmmEventKind::RunEnter));
  trace.Add(At(t += 1, KernelEventKind::RunEnter));
  for (int batch = 0; batch < 50; ++batch) {
    for (int i = 0; i < 5000; ++i) trace.Add(At(t += 2, KernelEventKind::MmuWalk));
    const Trace::Snapshot snap = trace.Read();
    const Track& track = snap->tracks.at(0);
    for (SpanKind kind : {SpanKind::Run, SpanKind::KernelRun}) {
      const std::vector<Span>& spans = track.spans[static_cast<size_t>(kind)];
      ASSERT_EQ(spans.size(), 1u) << SpanKindName(kind);
      EXPECT_EQ(spans[0].end, kNoEvent) << SpanKindName(kind);
      EXPECT_EQ(spans[0].end_ns, t) << "open to the track's last event";
    }
  }
  ExpectSpansAsFromScratch(*trace.Read(), "after 250,000 events");
}

}  // namespace
}  // namespace kvmscope::traces

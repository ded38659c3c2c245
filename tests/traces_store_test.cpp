// Tests of the trace store: late kernel events merged into time order, spans
// from begin/end pairs (edges, lost ends, incremental = full rebuild), the
// queries, interning, concurrent appends with readers, the symbol subset, and
// the VMM events' decoding. Synthetic data; no KVM or BPF.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "traces/sha256.h"
#include "traces/trace.h"

namespace kvmscope::traces {
namespace {

Event Vmm(VmmEventKind kind, int64_t t, uint32_t tid = 10, int vcpu = 0,
          std::array<uint64_t, 6> a = {}) {
  Event e;
  e.type = kind;
  e.time_ns = t;
  e.pid = 1;
  e.tid = tid;
  e.vcpu = vcpu;
  e.a = a;
  return e;
}

Event Kern(KernelEventKind kind, int64_t t, uint32_t tid = 10, uint32_t pid = 1) {
  Event e;
  e.type = kind;
  e.time_ns = t;
  e.pid = pid;
  e.tid = tid;
  e.cpu = 3;
  return e;
}

TEST(TraceStore, LateKernelEventsAreMergedInTimeOrderAndNamedByVcpu) {
  Trace trace;
  trace.SetVmmPid(1);
  trace.Add(Vmm(VmmEventKind::RunEnter, 10, 10, 2));
  trace.Add(Vmm(VmmEventKind::RunExit, 20, 10, 2, {kKvmExitIo}));
  { auto snap = trace.Read(); ASSERT_EQ(snap->tracks.size(), 1u); }
  trace.Add(Kern(KernelEventKind::RunEnter, 11));
  trace.Add(Kern(KernelEventKind::Pio, 15));
  trace.Add(Kern(KernelEventKind::RunExit, 19));
  auto snap = trace.Read();
  const Track& t = snap->tracks[0];
  EXPECT_EQ(t.kind, TrackKind::Vcpu);
  EXPECT_EQ(t.vcpu, 2);
  std::vector<int64_t> times;
  for (const Event& e : t.events) {
    times.push_back(e.time_ns);
    EXPECT_EQ(e.vcpu, 2);
  }
  EXPECT_EQ(times, (std::vector<int64_t>{10, 11, 15, 19, 20}));
  const auto& run = t.spans[size_t(SpanKind::Run)];
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0].begin_ns, 10);
  EXPECT_EQ(run[0].end_ns, 20);
  EXPECT_EQ(run[0].begin, 0u);
  EXPECT_EQ(run[0].end, 4u);
  const auto& krun = t.spans[size_t(SpanKind::KernelRun)];
  ASSERT_EQ(krun.size(), 1u);
  EXPECT_EQ(krun[0].begin_ns, 11);
  EXPECT_EQ(krun[0].end_ns, 19);
  // The VMM handling after the exit is still open at the trace's end.
  const auto& vmm = t.spans[size_t(SpanKind::VmmHandling)];
  ASSERT_EQ(vmm.size(), 1u);
  EXPECT_EQ(vmm[0].end, kNoEvent);
}

TEST(TraceStore, SpansToleratePairsCutByTheTraceEdges) {
  TraceData d;
  Track t;
  t.tid = 5;
  t.kind = TrackKind::Vcpu;
  t.vcpu = 0;
  // The trace starts inside a KVM_RUN and ends inside another.
  t.events = {Vmm(VmmEventKind::RunExit, 100, 5, 0, {kKvmExitHlt}),
              Vmm(VmmEventKind::RunEnter, 130, 5), Vmm(VmmEventKind::RunExit, 150, 5),
              Vmm(VmmEventKind::RunEnter, 170, 5)};
  d.tracks.push_back(t);
  d.BuildSpans();
  const auto& run = d.tracks[0].spans[size_t(SpanKind::Run)];
  ASSERT_EQ(run.size(), 3u);
  EXPECT_EQ(run[0].begin, kNoEvent);  // began before the trace
  EXPECT_EQ(run[0].begin_ns, 100);
  EXPECT_EQ(run[0].end, 0u);
  EXPECT_EQ(run[1].begin, 1u);
  EXPECT_EQ(run[1].end, 2u);
  EXPECT_EQ(run[2].begin, 3u);
  EXPECT_EQ(run[2].end, kNoEvent);  // still running at the end
  // VMM handling has no "before the trace" half: only 100→130 and 150→170.
  const auto& vmm = d.tracks[0].spans[size_t(SpanKind::VmmHandling)];
  ASSERT_EQ(vmm.size(), 2u);
  EXPECT_EQ(vmm[0].duration_ns(), 30);
  EXPECT_EQ(vmm[1].duration_ns(), 20);
}

TEST(TraceStore, ABeginWithoutItsEndClosesAtTheNextBeginAsLost) {
  TraceData d;
  Track t;
  t.tid = 5;
  t.events = {Kern(KernelEventKind::RunEnter, 1, 5), Kern(KernelEventKind::RunEnter, 5, 5),
              Kern(KernelEventKind::RunExit, 9, 5), Kern(KernelEventKind::RunExit, 12, 5)};
  d.tracks.push_back(t);
  d.BuildSpans();
  const auto& k = d.tracks[0].spans[size_t(SpanKind::KernelRun)];
  ASSERT_EQ(k.size(), 2u);  // the stray second exit makes no span: a begin was seen before it
  EXPECT_EQ(k[0].end, kNoEvent);
  EXPECT_EQ(k[0].end_ns, 5);
  EXPECT_EQ(k[1].begin, 1u);
  EXPECT_EQ(k[1].end, 2u);
}

// Whatever order and batches events arrive in, the store ends up with the
// same events and spans as sorting everything and building spans once.
TEST(TraceStore, IncrementalMergeEqualsAFullRebuild) {
  std::mt19937 rng(7);
  std::vector<Event> all;
  int64_t t = 1000;
  for (uint64_t run = 0; run < 300; ++run) {
    all.push_back(Vmm(VmmEventKind::RunEnter, t, 10, 0, {run}));
    all.push_back(Kern(KernelEventKind::RunEnter, t + 1));
    all.push_back(Kern(KernelEventKind::KvmEntry, t + 2));
    if (rng() % 5) all.push_back(Kern(KernelEventKind::KvmExit, t + 3));  // some lost
    all.push_back(Kern(KernelEventKind::Pio, t + 4));
    all.push_back(Kern(KernelEventKind::RunExit, t + 5));
    all.push_back(Vmm(VmmEventKind::RunExit, t + 6, 10, 0, {kKvmExitIo, 0, run}));
    t += 10;
  }
  all.push_back(Vmm(VmmEventKind::VcpuDone, t, 10, 0));
  // Arrival: VMM events in order; kernel events delayed by up to 40 events.
  std::vector<Event> vmm, kern;
  for (const Event& e : all) (e.type.origin == Origin::Vmm ? vmm : kern).push_back(e);
  Trace trace;
  trace.SetVmmPid(1);
  size_t k = 0;
  for (size_t i = 0; i < vmm.size(); ++i) {
    trace.Add(vmm[i]);
    while (k < kern.size() && kern[k].time_ns + 40 < vmm[i].time_ns) trace.Add(kern[k++]);
    if (rng() % 7 == 0) trace.Read();  // a reader folds in whatever is staged
  }
  while (k < kern.size()) trace.Add(kern[k++]);
  TraceData got = trace.Take();
  TraceData want = got;
  for (Track& tr : want.tracks) {
    std::vector<Event> sorted(tr.events.begin(), tr.events.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
    tr.events = sorted;
  }
  want.BuildSpans();
  EXPECT_EQ(got.tracks[0].events.size(), all.size());
  EXPECT_EQ(got.tracks[0].events, want.tracks[0].events);
  for (size_t s = 0; s < kSpanKinds; ++s) {
    EXPECT_EQ(got.tracks[0].spans[s], want.tracks[0].spans[s]) << SpanKindName(SpanKind(s));
  }
  EXPECT_EQ(got.tracks[0].spans[size_t(SpanKind::Run)].size(), 300u);
}

TEST(TraceStore, Queries) {
  Trace trace;
  trace.SetVmmPid(1);
  for (int v = 0; v < 2; ++v) {
    uint32_t tid = 10 + v;
    for (uint64_t r = 0; r < 4; ++r) {
      int64_t t = 100 * r + v;
      trace.Add(Vmm(VmmEventKind::RunEnter, t, tid, v, {r}));
      Event k = Kern(KernelEventKind::Pio, t + 5, tid);
      k.stack_id = r % 2 == 0 ? 0 : -1;
      trace.Add(k);
      trace.Add(Vmm(VmmEventKind::RunExit, t + 10, tid, v, {r == 3 ? kKvmExitHlt : kKvmExitIo, 0, r}));
    }
  }
  trace.AddStack(0, {0xffffffff81000010});
  trace.AddRegs({1, 2, {}});
  auto d = trace.Read();
  EXPECT_EQ(d->EventCount(), 24u);
  EXPECT_EQ(d->BeginNs(), 0);
  EXPECT_EQ(d->EndNs(), 311);
  ASSERT_EQ(d->TrackOfVcpu(1), 1);
  EXPECT_EQ(d->TrackOfVcpu(7), -1);
  auto w = d->Window(1, 100, 200);  // vCPU 1: 101, 106, 111
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w.front().time_ns, 101);
  EXPECT_EQ(w.back().time_ns, 111);
  EXPECT_TRUE(d->Window(1, 500, 600).empty());
  auto s = d->SpansIn(0, SpanKind::Run, 105, 205);  // runs [100,110] and [200,210]
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].begin_ns, 100);
  EXPECT_EQ(d->OfType(KernelEventKind::Pio).size(), 8u);
  EXPECT_EQ(d->OfType(KernelEventKind::Pio, 1).size(), 4u);
  EXPECT_EQ(d->ExitsWithReason(kKvmExitHlt).size(), 2u);
  EXPECT_EQ(d->ExitsWithReason(kKvmExitIo, 0).size(), 3u);
  EXPECT_EQ(d->Count(VmmEventKind::RunExit), 8u);
  EXPECT_EQ(d->Count(VmmEventKind::Status), 0u);
  EXPECT_EQ(d->At(*d->First(KernelEventKind::Pio)).time_ns, 5);
  EXPECT_EQ(d->At(*d->Last(KernelEventKind::Pio)).time_ns, 306);
  EXPECT_FALSE(d->First(VmmEventKind::Status));
  EXPECT_EQ(d->StackUseCounts(), std::vector<uint64_t>{4});
  ASSERT_NE(d->RegsOf(1, 2), nullptr);
  EXPECT_EQ(d->RegsOf(0, 2), nullptr);
}

TEST(TraceStore, TracksOfOtherProcessesAreSystemTracks) {
  Trace trace;
  trace.SetVmmPid(1);
  trace.Add(Kern(KernelEventKind::Pio, 5, 77, 70));
  trace.Add(Vmm(VmmEventKind::Ioctl, 1, 2, 0));  // KVM_CREATE_VCPU for vCPU 0, on the main thread
  auto d = trace.Read();
  ASSERT_EQ(d->tracks.size(), 2u);
  EXPECT_EQ(d->tracks[0].kind, TrackKind::System);
  EXPECT_EQ(d->tracks[0].Name(), "tid 77 (pid 70)");
  EXPECT_EQ(d->tracks[1].kind, TrackKind::Vmm);
}

std::string Name(int n) { return fmt::format("s{}", n); }

TEST(TraceStore, InterningIsStableAndThreadSafe) {
  Trace trace;
  EXPECT_EQ(trace.Intern(""), 0u);
  std::vector<std::thread> threads;
  std::array<std::vector<uint32_t>, 4> ids;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 200; ++n) ids[i].push_back(trace.Intern(Name(n)));
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 1; i < 4; ++i) EXPECT_EQ(ids[i], ids[0]);
  auto d = trace.Read();
  ASSERT_EQ(d->strings.size(), 201u);
  for (int n = 0; n < 200; ++n) EXPECT_EQ(d->Text(ids[0][n]), Name(n));
}

// Writers never wait for readers, and every snapshot a reader takes is
// consistent: sorted tracks, spans that point at the right events.
TEST(TraceStore, ConcurrentAppendsWithReaders) {
  Trace trace;
  trace.SetVmmPid(1);
  constexpr int kThreads = 4, kRuns = 20000;
  std::atomic<bool> done{false};
  std::atomic<int> snapshots{0};
  std::thread reader([&] {
    while (!done) {
      auto d = trace.Read();
      for (const Track& t : d->tracks) {
        ASSERT_TRUE(std::is_sorted(t.events.begin(), t.events.end(),
                                   [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; }));
        for (const Span& s : t.spans[size_t(SpanKind::Run)]) {
          if (s.begin != kNoEvent) {
            ASSERT_EQ(t.events[s.begin].type, EventType(VmmEventKind::RunEnter));
          }
          if (s.end != kNoEvent) {
            ASSERT_EQ(t.events[s.end].type, EventType(VmmEventKind::RunExit));
          }
        }
      }
      ++snapshots;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kThreads; ++w) {
    writers.emplace_back([&, w] {
      for (int r = 0; r < kRuns; ++r) {
        trace.Add(Vmm(VmmEventKind::RunEnter, 10 * r, 100 + w, w));
        trace.Add(Vmm(VmmEventKind::RunExit, 10 * r + 5, 100 + w, w));
      }
    });
  }
  for (auto& th : writers) th.join();
  done = true;
  reader.join();
  auto d = trace.Read();
  EXPECT_GT(snapshots.load(), 0);
  ASSERT_EQ(d->tracks.size(), size_t(kThreads));
  for (const Track& t : d->tracks) {
    EXPECT_EQ(t.events.size(), size_t(2 * kRuns));
    EXPECT_EQ(t.spans[size_t(SpanKind::Run)].size(), size_t(kRuns));
  }
}

TEST(TraceStore, SymbolSubsetKeepsFramesAndNamedFunctions) {
  SymbolTable all;
  all.Add(0x1000, "kvm_vcpu_ioctl", "kvm");
  all.Add(0x2000, "kvm_arch_vcpu_ioctl_run", "kvm");
  all.Add(0x3000, "vmx_handle_exit", "kvm_intel");
  all.Add(0x4000, "unrelated");
  all.Finish();
  SymbolTable sub = TraceSymbols(all, {{0x2010, 0x1020}}, {"vmx_handle_exit", "not_there"});
  EXPECT_EQ(sub.size(), 3u);
  EXPECT_TRUE(sub.Has("vmx_handle_exit"));
  EXPECT_FALSE(sub.Has("unrelated"));
  EXPECT_EQ(sub.Format(0x2010), "kvm_arch_vcpu_ioctl_run+0x10 [kvm]");
}

TEST(TraceEvents, TypeNamesRoundTripAndVmmExitsDecode) {
  for (size_t i = 0; i < kEventTypes; ++i) {
    EventType t = EventType::FromIndex(i);
    EXPECT_EQ(t.index(), i);
    auto back = EventTypeFromName(EventTypeName(t));
    ASSERT_TRUE(back) << EventTypeName(t);
    EXPECT_EQ(*back, t);
  }
  EXPECT_FALSE(EventTypeFromName("kvm_nonsense"));
  TraceData d;
  Event e = Vmm(VmmEventKind::RunExit, 0, 1, 0,
                {kKvmExitIo, 0, 7, 0x3f8 | (1u << 16) | (1u << 24), 1, 0x48});
  // Port 0x3f8 is named COM1 and the byte shown as a character, as the
  // terminal prints it (one function: PortName/PortDataNote).
  EXPECT_EQ(DescribeEvent(d, e),
            "VMM KVM_RUN exit KVM_EXIT_IO run=7 out port=0x3f8 (COM1) size=1 count=1 data=0x48 'H'");
  Event m = Vmm(VmmEventKind::RunExit, 0, 1, 0, {kKvmExitMmio, 0, 2, 0xd0000000, 4 | (1ull << 32), 5});
  EXPECT_EQ(DescribeEvent(d, m),
            "VMM KVM_RUN exit KVM_EXIT_MMIO run=2 write address=0xd0000000 len=4 data=0x5");
  Event k = Kern(KernelEventKind::Pio, 0);
  k.a = {1, 0x3f8, 1, 1, 0x48, 0};
  EXPECT_EQ(DescribeEvent(d, k), DescribeKernelEvent(ToKernel(k)) + " (COM1 'H')");
  EXPECT_EQ(FromKernel(ToKernel(k)), k);
}

}  // namespace
}  // namespace kvmscope::traces

namespace kvmscope::traces {
namespace {

std::string Sha(std::string_view s) {
  return Sha256Hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

// The FIPS 180-4 example vectors, plus lengths around the padding boundary
// (55, 56 and 64 bytes) checked against sha256sum.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Sha(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Sha(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  EXPECT_EQ(Sha(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

}  // namespace
}  // namespace kvmscope::traces

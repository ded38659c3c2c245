// Tests of the trace stats: exits by KVM_EXIT_* and hardware reason with
// latency (nearest-rank percentiles), per event type and per vCPU, loss
// counters, the text tables and the JSON, on synthetic traces with
// hand-computed answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "traces/fault_context.h"
#include "traces/stats.h"
#include "traces/trace.h"

namespace kvmscope::traces {
namespace {

constexpr uint64_t kVmx = static_cast<uint64_t>(ExitIsa::Vmx);
constexpr uint64_t kEptViolation = 48, kEptMisconfig = 49, kIoInstruction = 30;

Event Vmm(VmmEventKind kind, int64_t time_ns, std::array<uint64_t, 6> a = {}) {
  Event e;
  e.type = kind;
  e.time_ns = time_ns;
  e.a = a;
  return e;
}
Event RunExit(int64_t time_ns, uint32_t reason) {
  return Vmm(VmmEventKind::RunExit, time_ns, {reason});
}
Event Kernel(KernelEventKind kind, int64_t time_ns, std::array<uint64_t, 6> a = {}) {
  Event e;
  e.type = kind;
  e.time_ns = time_ns;
  e.a = a;
  return e;
}
Event KvmExit(int64_t time_ns, uint64_t reason) {
  return Kernel(KernelEventKind::KvmExit, time_ns, {reason, 0, kVmx});
}

Track MakeTrack(TrackKind kind, uint32_t tid, int vcpu, std::vector<Event> events) {
  Track t;
  t.pid = 100;
  t.tid = tid;
  t.vcpu = vcpu;
  t.kind = kind;
  for (Event& e : events) {
    e.pid = 100;
    e.tid = tid;
    e.vcpu = vcpu;
  }
  t.events = std::move(events);
  return t;
}

// Two vCPUs. vCPU 0 is traced in the kernel too (kernel KVM_RUN edges and
// kvm_entry/kvm_exit, as on VMX), and its last KVM_RUN never returns; vCPU 1
// has only the VMM's view. Durations in ns:
//   vCPU 0  IO   kernel KVM_RUN 1000, VMM handling 300
//           IO   kernel KVM_RUN 2000, VMM handling 400
//           MMIO kernel KVM_RUN 3000, VMM handling 500
//           then a KVM_RUN still running at the end
//   vCPU 1  IO   VMM KVM_RUN 1500, VMM handling 600
//           MMIO VMM KVM_RUN 4000, VMM handling 200
//           HLT  VMM KVM_RUN 1000, VMM handling 200 (to VcpuDone)
// Hardware exits on vCPU 0, kvm_exit → kvm_entry / KVM_RUN exit:
//   EPT_VIOLATION 50, 70, 90 and one cut by the end; IO_INSTRUCTION 100, 200;
//   EPT_MISCONFIG 200.
TraceData TwoVcpuTrace() {
  using K = KernelEventKind;
  using V = VmmEventKind;
  TraceData data;
  data.host.backend = "VMX (Intel)";
  data.tracks.push_back(MakeTrack(TrackKind::Vmm, 100, -1, {Vmm(V::Ioctl, 500)}));
  // One event a line, in time order, as a student would read the trace.
  // clang-format off
  data.tracks.push_back(MakeTrack(TrackKind::Vcpu, 101, 0,
                                  {
                                      Vmm(V::RunEnter, 1000),
                                      Kernel(K::RunEnter, 1100),
                                      Kernel(K::KvmEntry, 1200),
                                      KvmExit(1300, kEptViolation),
                                      Kernel(K::KvmEntry, 1350),
                                      KvmExit(2000, kIoInstruction),
                                      Kernel(K::RunExit, 2100),
                                      RunExit(2200, kKvmExitIo),
                                      Vmm(V::RunEnter, 2500),
                                      Kernel(K::RunEnter, 2600),
                                      Kernel(K::KvmEntry, 2700),
                                      KvmExit(3000, kEptViolation),
                                      Kernel(K::KvmEntry, 3070),
                                      KvmExit(4400, kIoInstruction),
                                      Kernel(K::RunExit, 4600),
                                      RunExit(4700, kKvmExitIo),
                                      Vmm(V::RunEnter, 5100),
                                      Kernel(K::RunEnter, 5200),
                                      Kernel(K::KvmEntry, 5300),
                                      KvmExit(6000, kEptViolation),
                                      Kernel(K::KvmEntry, 6090),
                                      KvmExit(8000, kEptMisconfig),
                                      Kernel(K::RunExit, 8200),
                                      RunExit(8300, kKvmExitMmio),
                                      Vmm(V::RunEnter, 8800),
                                      Kernel(K::RunEnter, 8900),
                                      Kernel(K::KvmEntry, 9000),
                                      KvmExit(9500, kEptViolation),
                                  }));
  data.tracks.push_back(MakeTrack(TrackKind::Vcpu, 102, 1,
                                  {
                                      Vmm(V::RunEnter, 1500),
                                      RunExit(3000, kKvmExitIo),
                                      Vmm(V::RunEnter, 3600),
                                      RunExit(7600, kKvmExitMmio),
                                      Vmm(V::RunEnter, 7800),
                                      RunExit(8800, kKvmExitHlt),
                                      Vmm(V::VcpuDone, 9000),
                                  }));
  // clang-format on
  KernelCounts counts;
  auto set = [&](K kind, uint64_t seen, uint64_t lost) {
    counts.seen[static_cast<size_t>(kind)] = seen;
    counts.lost[static_cast<size_t>(kind)] = lost;
    counts.received[static_cast<size_t>(kind)] = seen - lost;
  };
  set(K::RunEnter, 4, 0);
  set(K::RunExit, 3, 0);
  set(K::KvmEntry, 10, 3);
  set(K::KvmExit, 9, 2);
  counts.stacks_taken = 7;
  counts.stacks_failed = 1;
  data.kernel_counts = counts;
  data.BuildSpans();
  return data;
}

const UserspaceExitRow* UserRow(const ScopeStats& s, uint32_t reason) {
  for (const UserspaceExitRow& r : s.userspace.rows) {
    if (r.reason == reason) return &r;
  }
  return nullptr;
}
const HardwareExitRow* HwRow(const ScopeStats& s, uint64_t reason) {
  for (const HardwareExitRow& r : s.hardware.rows) {
    if (r.reason == reason) return &r;
  }
  return nullptr;
}
const EventKindRow* KindRow(const ScopeStats& s, EventType type) {
  for (const EventKindRow& r : s.kinds) {
    if (r.type == type) return &r;
  }
  return nullptr;
}

void ExpectLatency(const LatencyStats& l, uint64_t samples, uint64_t incomplete, int64_t total,
                   int64_t mean, int64_t p50, int64_t p99) {
  EXPECT_EQ(l.samples, samples);
  EXPECT_EQ(l.incomplete, incomplete);
  EXPECT_EQ(l.total_ns, total);
  EXPECT_EQ(l.mean_ns, mean);
  EXPECT_EQ(l.p50_ns, p50);
  EXPECT_EQ(l.p99_ns, p99);
}

// The display column just past the first occurrence of `what` in `line`.
size_t EndColumn(const std::string& line, const std::string& what) {
  const size_t at = line.find(what);
  if (at == std::string::npos) return std::string::npos;
  size_t column = 0;
  for (size_t i = 0; i < at + what.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xc0) != 0x80) ++column;
  }
  return column;
}

TEST(StatsPercentile, NearestRank) {
  EXPECT_EQ(NearestRankPercentile({}, 50), 0);
  EXPECT_EQ(NearestRankPercentile({7}, 50), 7);
  EXPECT_EQ(NearestRankPercentile({7}, 99), 7);
  EXPECT_EQ(NearestRankPercentile({1, 2, 3, 4}, 50), 2);     // rank ceil(2) = 2
  EXPECT_EQ(NearestRankPercentile({1, 2, 3, 4, 5}, 50), 3);  // rank ceil(2.5) = 3
  EXPECT_EQ(NearestRankPercentile({1, 2, 3, 4}, 99), 4);
  std::vector<int64_t> hundred(100);
  std::iota(hundred.begin(), hundred.end(), 1);
  EXPECT_EQ(NearestRankPercentile(hundred, 50), 50);
  EXPECT_EQ(NearestRankPercentile(hundred, 99), 99);
  EXPECT_EQ(NearestRankPercentile(hundred, 100), 100);
  std::vector<int64_t> two_hundred(200);
  std::iota(two_hundred.begin(), two_hundred.end(), 1);
  EXPECT_EQ(NearestRankPercentile(two_hundred, 99), 198);
}

TEST(StatsPercentile, LatencySortsAndRoundsTheMean) {
  ExpectLatency(ComputeLatency({300, 100, 200, 400}, 2), 4, 2, 1000, 250, 200, 400);
  ExpectLatency(ComputeLatency({1, 1, 2}), 3, 0, 4, 1, 1, 2);  // 4/3 = 1.33 → 1
  ExpectLatency(ComputeLatency({1, 2}), 2, 0, 3, 2, 1, 2);     // 3/2 = 1.5 → 2
  ExpectLatency(ComputeLatency({}, 3), 0, 3, 0, 0, 0, 0);
}

TEST(StatsUserspace, AllVcpus) {
  const Stats stats = ComputeStats(TwoVcpuTrace());
  ASSERT_EQ(stats.scopes.size(), 3u);
  const ScopeStats& all = stats.scopes[0];
  EXPECT_EQ(all.label, "all");
  EXPECT_EQ(all.vcpu, kAllVcpus);
  EXPECT_EQ(all.events, 36u);
  EXPECT_EQ(all.begin_ns, 500);
  EXPECT_EQ(all.end_ns, 9500);

  const UserspaceExitTable& u = all.userspace;
  EXPECT_EQ(u.total, 6u);
  EXPECT_EQ(u.incomplete_runs, 1u);
  EXPECT_EQ(u.kernel_source, KernelSideSource::Mixed);
  ASSERT_EQ(u.rows.size(), 3u);
  // By count, descending.
  EXPECT_EQ(u.rows[0].name, "IO");
  EXPECT_EQ(u.rows[1].name, "MMIO");
  EXPECT_EQ(u.rows[2].name, "HLT");

  const UserspaceExitRow* io = UserRow(all, kKvmExitIo);
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->count, 3u);
  EXPECT_DOUBLE_EQ(io->share_pct, 50.0);
  ExpectLatency(io->kernel, 3, 0, 4500, 1500, 1500, 2000);
  EXPECT_EQ(io->kernel_source, KernelSideSource::Mixed);
  EXPECT_EQ(io->kernel_from_kernel_run, 2u);
  EXPECT_EQ(io->kernel_from_run, 1u);
  ExpectLatency(io->vmm, 3, 0, 1300, 433, 400, 600);

  const UserspaceExitRow* mmio = UserRow(all, kKvmExitMmio);
  ASSERT_NE(mmio, nullptr);
  EXPECT_EQ(mmio->count, 2u);
  EXPECT_NEAR(mmio->share_pct, 100.0 * 2 / 6, 1e-9);
  ExpectLatency(mmio->kernel, 2, 0, 7000, 3500, 3000, 4000);
  ExpectLatency(mmio->vmm, 2, 0, 700, 350, 200, 500);

  const UserspaceExitRow* hlt = UserRow(all, kKvmExitHlt);
  ASSERT_NE(hlt, nullptr);
  EXPECT_EQ(hlt->count, 1u);
  EXPECT_NEAR(hlt->share_pct, 100.0 / 6, 1e-9);
  ExpectLatency(hlt->kernel, 1, 0, 1000, 1000, 1000, 1000);
  EXPECT_EQ(hlt->kernel_source, KernelSideSource::Run);
  ExpectLatency(hlt->vmm, 1, 0, 200, 200, 200, 200);  // ends at VcpuDone
}

TEST(StatsUserspace, PerVcpu) {
  const Stats stats = ComputeStats(TwoVcpuTrace());
  ASSERT_EQ(stats.scopes.size(), 3u);
  const ScopeStats& v0 = stats.scopes[1];
  const ScopeStats& v1 = stats.scopes[2];
  EXPECT_EQ(v0.label, "vCPU 0");
  EXPECT_EQ(v0.vcpu, 0);
  EXPECT_EQ(v1.label, "vCPU 1");
  EXPECT_EQ(v0.events, 28u);
  EXPECT_EQ(v1.events, 7u);

  // vCPU 0: the kernel's own KVM_RUN edges.
  EXPECT_EQ(v0.userspace.total, 3u);
  EXPECT_EQ(v0.userspace.incomplete_runs, 1u);
  EXPECT_EQ(v0.userspace.kernel_source, KernelSideSource::KernelRun);
  const UserspaceExitRow* io0 = UserRow(v0, kKvmExitIo);
  ASSERT_NE(io0, nullptr);
  EXPECT_EQ(io0->count, 2u);
  EXPECT_NEAR(io0->share_pct, 100.0 * 2 / 3, 1e-9);
  ExpectLatency(io0->kernel, 2, 0, 3000, 1500, 1000, 2000);
  ExpectLatency(io0->vmm, 2, 0, 700, 350, 300, 400);
  EXPECT_EQ(io0->kernel_source, KernelSideSource::KernelRun);
  const UserspaceExitRow* mmio0 = UserRow(v0, kKvmExitMmio);
  ASSERT_NE(mmio0, nullptr);
  ExpectLatency(mmio0->kernel, 1, 0, 3000, 3000, 3000, 3000);
  EXPECT_EQ(UserRow(v0, kKvmExitHlt), nullptr);

  // vCPU 1: only the VMM's edges.
  EXPECT_EQ(v1.userspace.total, 3u);
  EXPECT_EQ(v1.userspace.incomplete_runs, 0u);
  EXPECT_EQ(v1.userspace.kernel_source, KernelSideSource::Run);
  for (const UserspaceExitRow& r : v1.userspace.rows) {
    EXPECT_EQ(r.count, 1u);
    EXPECT_NEAR(r.share_pct, 100.0 / 3, 1e-9);
  }
  ExpectLatency(UserRow(v1, kKvmExitIo)->kernel, 1, 0, 1500, 1500, 1500, 1500);
  ExpectLatency(UserRow(v1, kKvmExitMmio)->kernel, 1, 0, 4000, 4000, 4000, 4000);
  EXPECT_FALSE(v1.hardware.fired);
  EXPECT_EQ(v1.hardware.note, "no kvm_exit on this vCPU");

  // Asking for one vCPU gives only that scope, the same figures.
  const Stats only1 = ComputeStats(TwoVcpuTrace(), 1);
  ASSERT_EQ(only1.scopes.size(), 1u);
  EXPECT_EQ(only1.scopes[0].label, "vCPU 1");
  EXPECT_EQ(only1.scopes[0].userspace.total, 3u);
  const Stats only_all = ComputeStats(TwoVcpuTrace(), kAllVcpus);
  ASSERT_EQ(only_all.scopes.size(), 1u);
  EXPECT_EQ(only_all.scopes[0].label, "all");
}

TEST(StatsHardware, KvmExitReasons) {
  const Stats stats = ComputeStats(TwoVcpuTrace());
  for (size_t i : {0u, 1u}) {  // "all" and vCPU 0 have the same kvm_exits
    const ScopeStats& s = stats.scopes[i];
    const HardwareExitTable& hw = s.hardware;
    EXPECT_TRUE(hw.fired);
    EXPECT_EQ(hw.note, "");
    EXPECT_EQ(hw.total, 7u);
    ASSERT_EQ(hw.rows.size(), 3u);
    EXPECT_EQ(hw.rows[0].name, "EPT_VIOLATION");
    EXPECT_EQ(hw.rows[1].name, "IO_INSTRUCTION");
    EXPECT_EQ(hw.rows[2].name, "EPT_MISCONFIG");

    const HardwareExitRow* ept = HwRow(s, kEptViolation);
    ASSERT_NE(ept, nullptr);
    EXPECT_EQ(ept->isa, ExitIsa::Vmx);
    EXPECT_EQ(ept->count, 4u);
    EXPECT_NEAR(ept->share_pct, 100.0 * 4 / 7, 1e-9);
    // The last one is cut by the trace's end: counted, not measured.
    ExpectLatency(ept->kernel, 3, 1, 210, 70, 70, 90);
    const HardwareExitRow* io = HwRow(s, kIoInstruction);
    ASSERT_NE(io, nullptr);
    EXPECT_EQ(io->count, 2u);
    ExpectLatency(io->kernel, 2, 0, 300, 150, 100, 200);
    const HardwareExitRow* misconfig = HwRow(s, kEptMisconfig);
    ASSERT_NE(misconfig, nullptr);
    ExpectLatency(misconfig->kernel, 1, 0, 200, 200, 200, 200);
  }
}

TEST(StatsKinds, CountsAndSpanDurations) {
  const ScopeStats all = ComputeScopeStats(TwoVcpuTrace(), kAllVcpus);
  uint64_t sum = 0;
  for (const EventKindRow& r : all.kinds) sum += r.count;
  EXPECT_EQ(sum, all.events);
  for (size_t i = 1; i < all.kinds.size(); ++i) {
    EXPECT_GE(all.kinds[i - 1].count, all.kinds[i].count);
  }

  const EventKindRow* enter = KindRow(all, VmmEventKind::RunEnter);
  ASSERT_NE(enter, nullptr);
  EXPECT_EQ(enter->count, 7u);
  EXPECT_NEAR(enter->share_pct, 100.0 * 7 / 36, 1e-9);
  ASSERT_TRUE(enter->span.has_value());
  EXPECT_EQ(*enter->span, SpanKind::Run);
  // {1000, 1200, 1500, 2200, 3200, 4000} and vCPU 0's open run.
  ExpectLatency(enter->duration, 6, 1, 13100, 2183, 1500, 4000);

  const EventKindRow* kernel_enter = KindRow(all, KernelEventKind::RunEnter);
  ASSERT_NE(kernel_enter, nullptr);
  EXPECT_EQ(*kernel_enter->span, SpanKind::KernelRun);
  ExpectLatency(kernel_enter->duration, 3, 1, 6000, 2000, 2000, 3000);

  const EventKindRow* kvm_exit = KindRow(all, KernelEventKind::KvmExit);
  ASSERT_NE(kvm_exit, nullptr);
  EXPECT_EQ(kvm_exit->count, 7u);
  EXPECT_EQ(*kvm_exit->span, SpanKind::KernelHandling);
  ExpectLatency(kvm_exit->duration, 6, 1, 710, 118, 90, 200);

  const EventKindRow* kvm_entry = KindRow(all, KernelEventKind::KvmEntry);
  ASSERT_NE(kvm_entry, nullptr);
  EXPECT_EQ(*kvm_entry->span, SpanKind::Guest);
  EXPECT_EQ(kvm_entry->duration.samples, 7u);

  const EventKindRow* exit = KindRow(all, VmmEventKind::RunExit);
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(*exit->span, SpanKind::VmmHandling);
  ExpectLatency(exit->duration, 6, 0, 2200, 367, 300, 600);

  // Types that begin no span have no durations; types that do not occur have no row.
  const EventKindRow* ioctl = KindRow(all, VmmEventKind::Ioctl);
  ASSERT_NE(ioctl, nullptr);
  EXPECT_EQ(ioctl->count, 1u);
  EXPECT_FALSE(ioctl->span.has_value());
  EXPECT_FALSE(KindRow(all, VmmEventKind::VcpuDone)->span.has_value());
  EXPECT_EQ(KindRow(all, KernelEventKind::Pio), nullptr);

  const ScopeStats v1 = ComputeScopeStats(TwoVcpuTrace(), 1);
  EXPECT_EQ(KindRow(v1, VmmEventKind::Ioctl), nullptr);  // on the VMM's main thread
  EXPECT_EQ(KindRow(v1, VmmEventKind::RunEnter)->count, 3u);
}

TEST(StatsLoss, KernelCounts) {
  const Stats stats = ComputeStats(TwoVcpuTrace());
  const LossStats& loss = stats.loss;
  EXPECT_TRUE(loss.kernel_traced);
  EXPECT_EQ(loss.seen, 26u);
  EXPECT_EQ(loss.lost, 5u);
  EXPECT_EQ(loss.received, 21u);
  EXPECT_EQ(loss.stacks_taken, 7u);
  EXPECT_EQ(loss.stacks_failed, 1u);
  ASSERT_EQ(loss.rows.size(), 4u);  // only kinds with counts, in kind order
  EXPECT_EQ(loss.rows[0].kind, KernelEventKind::RunEnter);
  EXPECT_EQ(loss.rows[2].name, "kvm_exit");
  EXPECT_EQ(loss.rows[2].lost, 2u);
  EXPECT_EQ(loss.rows[3].name, "kvm_entry");
  EXPECT_EQ(loss.rows[3].seen, 10u);
  EXPECT_EQ(loss.rows[3].received, 7u);
}

TEST(StatsEdges, RunBegunBeforeTheTraceIsCountedNotMeasured) {
  TraceData data;
  data.tracks.push_back(
      MakeTrack(TrackKind::Vcpu, 7, 0,
                {
                    RunExit(100, kKvmExitIo),  // its enter was not recorded
                    Vmm(VmmEventKind::RunEnter, 150), RunExit(400, kKvmExitIo),
                    Vmm(VmmEventKind::RunEnter, 420), RunExit(900, kKvmExitIo),  // nothing after it
                }));
  data.BuildSpans();
  const ScopeStats s = ComputeScopeStats(data, kAllVcpus);
  ASSERT_EQ(s.userspace.rows.size(), 1u);
  const UserspaceExitRow& io = s.userspace.rows[0];
  EXPECT_EQ(io.count, 3u);
  EXPECT_DOUBLE_EQ(io.share_pct, 100.0);
  ExpectLatency(io.kernel, 2, 1, 250 + 480, 365, 250, 480);
  ExpectLatency(io.vmm, 2, 1, 50 + 20, 35, 20, 50);
  EXPECT_EQ(s.userspace.incomplete_runs, 0u);
}

TEST(StatsHardware, PvmSaysWhyThereIsNoKvmExit) {
  TraceData data = TwoVcpuTrace();
  for (Track& t : data.tracks) {
    t.events.EraseIf([](const Event& e) {
      return e.type == KernelEventKind::KvmExit || e.type == KernelEventKind::KvmEntry;
    });
  }
  data.kernel_counts->seen[static_cast<size_t>(KernelEventKind::KvmExit)] = 0;
  data.host.backend = "PVM";
  data.BuildSpans();
  Stats stats = ComputeStats(data);
  for (const ScopeStats& s : stats.scopes) {
    EXPECT_FALSE(s.hardware.fired);
    EXPECT_TRUE(s.hardware.rows.empty());
    EXPECT_NE(s.hardware.note.find("kvm_exit did not fire"), std::string::npos) << s.hardware.note;
    EXPECT_NE(s.hardware.note.find("PVM"), std::string::npos);
  }
  // The userspace exits do not depend on kvm_exit.
  EXPECT_EQ(stats.scopes[0].userspace.total, 6u);

  PlanRecord plan;
  plan.tracepoints = {"kvm:kvm_pio"};
  data.host.plan = plan;
  EXPECT_EQ(ComputeScopeStats(data, kAllVcpus).hardware.note,
            "kvm_exit was not attached (see the attach plan)");

  data.kernel_counts.reset();
  data.host.not_traced_reason = "not root";
  const Stats untraced = ComputeStats(data);
  EXPECT_NE(untraced.scopes[0].hardware.note.find("not traced"), std::string::npos);
  EXPECT_FALSE(untraced.loss.kernel_traced);
  EXPECT_NE(untraced.loss.note.find("no kernel side"), std::string::npos);
  EXPECT_NE(untraced.loss.note.find("not root"), std::string::npos);
}

TEST(StatsText, TablesNameReasonsAndAlign) {
  const std::vector<std::string> lines = FormatStats(ComputeStats(TwoVcpuTrace()));
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  for (const char* want : {"IO", "MMIO", "HLT", "EPT_VIOLATION", "IO_INSTRUCTION", "EPT_MISCONFIG",
                           "kvm_exit", "vCPU 0", "vCPU 1", "nearest rank", "Derived (*)", "1.50 µs",
                           "mixed", "incomplete", "lost"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  // The first table: the IO row's share ends where the header's "share*" does,
  // and its mean where "mean*" does, though "µs" takes more bytes than columns.
  auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("reason") != std::string::npos && l.find("share*") != std::string::npos;
  });
  ASSERT_NE(header, lines.end());
  const std::string& io_row = *(header + 1);
  ASSERT_EQ(io_row.find("  IO "), 0u) << io_row;
  EXPECT_EQ(EndColumn(*header, "share*"), EndColumn(io_row, "50.0%"));
  EXPECT_EQ(EndColumn(*header, "mean*"), EndColumn(io_row, "1.50 µs"));
  for (const std::string& l : lines) EXPECT_EQ(l.find('\t'), std::string::npos);
}

TEST(StatsText, Durations) {
  EXPECT_EQ(FormatStatsDuration(0), "0 ns");
  EXPECT_EQ(FormatStatsDuration(850), "850 ns");
  EXPECT_EQ(FormatStatsDuration(1500), "1.50 µs");
  EXPECT_EQ(FormatStatsDuration(12345), "12.35 µs");
  EXPECT_EQ(FormatStatsDuration(1500000), "1.50 ms");
  EXPECT_EQ(FormatStatsDuration(2000000000), "2.00 s");
}

TEST(StatsJson, FieldsAndNumbersInNs) {
  const nlohmann::json j = nlohmann::json::parse(StatsJson(ComputeStats(TwoVcpuTrace())));
  EXPECT_EQ(j["format"], "kvmscope-stats");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["percentile_method"], "nearest-rank");
  ASSERT_EQ(j["scopes"].size(), 3u);
  const nlohmann::json& all = j["scopes"][0];
  EXPECT_EQ(all["label"], "all");
  EXPECT_TRUE(all["vcpu"].is_null());
  EXPECT_EQ(all["events"], 36);
  EXPECT_EQ(j["scopes"][2]["vcpu"], 1);

  const nlohmann::json& user = all["userspace_exits"];
  EXPECT_EQ(user["total"], 6);
  EXPECT_EQ(user["incomplete_runs"], 1);
  EXPECT_EQ(user["kernel_source"], "mixed");
  const nlohmann::json& io = user["rows"][0];
  EXPECT_EQ(io["reason"], kKvmExitIo);
  EXPECT_EQ(io["name"], "IO");
  EXPECT_EQ(io["count"], 3);
  EXPECT_DOUBLE_EQ(io["share_pct"].get<double>(), 50.0);
  EXPECT_EQ(io["kernel"]["samples"], 3);
  EXPECT_EQ(io["kernel"]["incomplete"], 0);
  EXPECT_EQ(io["kernel"]["total_ns"], 4500);
  EXPECT_EQ(io["kernel"]["mean_ns"], 1500);
  EXPECT_EQ(io["kernel"]["p50_ns"], 1500);
  EXPECT_EQ(io["kernel"]["p99_ns"], 2000);
  EXPECT_EQ(io["kernel"]["source"], "mixed");
  EXPECT_EQ(io["kernel"]["from_kernel_run"], 2);
  EXPECT_EQ(io["kernel"]["from_run"], 1);
  EXPECT_EQ(io["vmm"]["p99_ns"], 600);

  const nlohmann::json& hw = all["hardware_exits"];
  EXPECT_EQ(hw["fired"], true);
  EXPECT_EQ(hw["total"], 7);
  EXPECT_EQ(hw["rows"][0]["isa"], "VMX");
  EXPECT_EQ(hw["rows"][0]["reason"], kEptViolation);
  EXPECT_EQ(hw["rows"][0]["name"], "EPT_VIOLATION");
  EXPECT_EQ(hw["rows"][0]["kernel"]["incomplete"], 1);
  EXPECT_EQ(hw["rows"][0]["kernel"]["p50_ns"], 70);

  bool saw_run_enter = false;
  for (const nlohmann::json& row : all["event_types"]) {
    ASSERT_TRUE(row.contains("type") && row.contains("origin") && row.contains("count") &&
                row.contains("share_pct") && row.contains("span") && row.contains("duration"));
    if (row["span"] == "KVM_RUN") {
      saw_run_enter = true;
      EXPECT_EQ(row["origin"], "vmm");
      EXPECT_EQ(row["duration"]["total_ns"], 13100);
    }
    if (row["span"].is_null()) {
      EXPECT_TRUE(row["duration"].is_null());
    }
  }
  EXPECT_TRUE(saw_run_enter);

  const nlohmann::json& kernel = j["kernel"];
  EXPECT_EQ(kernel["traced"], true);
  EXPECT_EQ(kernel["seen"], 26);
  EXPECT_EQ(kernel["lost"], 5);
  EXPECT_EQ(kernel["received"], 21);
  EXPECT_EQ(kernel["kinds"].size(), 4u);
  EXPECT_EQ(kernel["kinds"][2]["kind"], "kvm_exit");
  EXPECT_EQ(kernel["kinds"][2]["lost"], 2);
}

// The emulator note follows the recorded platform, so it fires for the
// Bochs VMX host, whose model name looks real, and not for QEMU under KVM,
// whose model name says QEMU. Traces from before the platform was recorded
// fall back on the model name.
TEST(StatsNote, LatenciesMeanNothingOnAnEmulatedHost) {
  TraceData bochs = TwoVcpuTrace();
  bochs.host.cpu = "Intel(R) Core(TM) i7-7800X CPU @ 3.50GHz";
  bochs.host.platform = "emulator (Bochs)";
  bochs.host.platform_evidence = "cpuinfo: no hypervisor flag; DMI: bios_vendor 'The Bochs Project'";
  const Stats stats = ComputeStats(bochs);
  EXPECT_NE(stats.emulated_note.find("emulator (Bochs)"), std::string::npos) << stats.emulated_note;
  EXPECT_NE(stats.emulated_note.find("latencies mean nothing"), std::string::npos);
  std::string text;
  for (const std::string& l : FormatStats(stats)) text += l + "\n";
  EXPECT_NE(text.find("Note: the host runs in an emulator (Bochs)"), std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(StatsJson(stats))["emulated_cpu_note"], stats.emulated_note);

  TraceData qemu_kvm = TwoVcpuTrace();
  qemu_kvm.host.cpu = "QEMU Virtual CPU version 2.5+";
  qemu_kvm.host.platform = "virtual machine (KVM)";
  EXPECT_EQ(ComputeStats(qemu_kvm).emulated_note, "");
  qemu_kvm.host.platform = "bare metal";
  EXPECT_EQ(ComputeStats(qemu_kvm).emulated_note, "");

  TraceData old_tcg = TwoVcpuTrace();  // no platform: the model name decides
  old_tcg.host.cpu = "QEMU Virtual CPU version 2.5+";
  EXPECT_NE(ComputeStats(old_tcg).emulated_note.find("QEMU Virtual CPU"), std::string::npos);
  bochs.host.platform = "";
  EXPECT_EQ(ComputeStats(bochs).emulated_note, "");  // an old Bochs trace cannot tell
}

// A kvm_page_fault with no kvm_exit before it (kvm_exit not traced) is
// decoded by the vendor module's recorded ept/npt parameter.
TEST(StatsPageFaults, WithoutKvmExitTheModuleParameterDecides) {
  TraceData data;
  data.host.backend = "VMX (Intel)";
  // A fetch of a not-present page: EPT qualification 0x184 / #PF error code 0x14.
  data.tracks.push_back(MakeTrack(
      TrackKind::Vcpu, 101, 0,
      {Kernel(KernelEventKind::PageFault, 10, {0, 0x1000, 0, 0x184}),
       Kernel(KernelEventKind::PageFault, 20, {0, 0x2000, 0, 0x14})}));
  data.BuildSpans();
  auto codes = [&data] {
    std::vector<std::pair<FaultCode, std::string>> out;
    for (const PageFaultGroup& g : ComputeScopeStats(data, kAllVcpus).page_faults) {
      out.emplace_back(g.code, g.access);
    }
    return out;
  };
  using Codes = std::vector<std::pair<FaultCode, std::string>>;
  EXPECT_EQ(codes(), (Codes{{FaultCode::Unknown, ""}}));  // not recorded: cannot tell
  data.host.module_params["kvm_intel.ept"] = "Y";
  EXPECT_EQ(codes(), (Codes{{FaultCode::EptQualification, "fetch"},
                            {FaultCode::EptQualification, "fetch"}}));
  data.host.module_params["kvm_intel.ept"] = "N";
  EXPECT_EQ(codes(), (Codes{{FaultCode::PfErrorCode, "fetch"}, {FaultCode::PfErrorCode, "read"}}));
  data.host.backend = "SVM (AMD)";
  data.host.module_params = {{"kvm_amd.npt", "N"}};
  EXPECT_EQ(codes(), (Codes{{FaultCode::PfErrorCode, "fetch"}, {FaultCode::PfErrorCode, "read"}}));
}

TEST(StatsEmpty, EmptyTraceGivesEmptyTables) {
  const TraceData empty;
  const Stats stats = ComputeStats(empty);
  ASSERT_EQ(stats.scopes.size(), 1u);  // "all" only: no vCPU tracks
  const ScopeStats& all = stats.scopes[0];
  EXPECT_EQ(all.events, 0u);
  EXPECT_EQ(all.begin_ns, 0);
  EXPECT_EQ(all.end_ns, 0);
  EXPECT_TRUE(all.userspace.rows.empty());
  EXPECT_EQ(all.userspace.total, 0u);
  EXPECT_EQ(all.userspace.kernel_source, KernelSideSource::None);
  EXPECT_TRUE(all.hardware.rows.empty());
  EXPECT_FALSE(all.hardware.fired);
  EXPECT_FALSE(all.hardware.note.empty());
  EXPECT_TRUE(all.kinds.empty());
  EXPECT_FALSE(stats.loss.kernel_traced);

  const std::vector<std::string> lines = FormatStats(stats);
  EXPECT_FALSE(lines.empty());
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  EXPECT_NE(text.find("(none)"), std::string::npos);
  EXPECT_NE(text.find("no kernel side"), std::string::npos);

  const nlohmann::json j = nlohmann::json::parse(StatsJson(stats));
  EXPECT_TRUE(j["scopes"][0]["userspace_exits"]["rows"].empty());
  EXPECT_TRUE(j["scopes"][0]["hardware_exits"]["rows"].empty());
  EXPECT_TRUE(j["scopes"][0]["event_types"].empty());
  EXPECT_EQ(j["kernel"]["traced"], false);

  // A vCPU that has no track: an empty scope, not a crash.
  const Stats none = ComputeStats(empty, 3);
  ASSERT_EQ(none.scopes.size(), 1u);
  EXPECT_EQ(none.scopes[0].label, "vCPU 3");
  EXPECT_EQ(none.scopes[0].events, 0u);
}

}  // namespace
}  // namespace kvmscope::traces

// Tests of traces of another process's VMM (`record --pid`): kernel events
// only. Their KVM_RUN edges make vCPU tracks named by the VMM's threads, the
// VMM's handling is measured between the kernel's edges, stats count exits
// from kvm_userspace_exit, and the JSON and Chrome files keep all of it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "traces/chains.h"
#include "traces/chrome_export.h"
#include "traces/report.h"
#include "traces/seed_check.h"
#include "traces/stats.h"
#include "traces/cycle.h"
#include "traces/trace.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;

constexpr uint32_t kPid = 5000;     // the external VMM (QEMU)
constexpr uint32_t kSyscallTid = 5001;  // vCPU 0, traced at the syscall edge (fd 11)
constexpr uint32_t kKprobeTid = 5002;   // vCPU 1, traced by kprobe (vcpu_id in the edge)
constexpr int kFd0 = 11;

KernelEvent Kernel(int64_t t, uint32_t tid, KernelEventKind kind) {
  KernelEvent k;
  k.time_ns = t;
  k.pid = kPid;
  k.tid = tid;
  k.cpu = 1;
  k.kind = kind;
  return k;
}

// A syscall-source KVM_RUN: enter (fd), a port write, the exit reason, return.
void SyscallRun(Trace& trace, int64_t t, uint32_t reason, int64_t error = 0) {
  KernelEvent enter = Kernel(t, kSyscallTid, KernelEventKind::RunEnter);
  enter.a[0] = kFd0;
  trace.Add(FromKernel(enter));
  KernelEvent pio = Kernel(t + 1000, kSyscallTid, KernelEventKind::Pio);
  pio.a = {1, 0x3f8, 1, 1, 'x', 0};
  trace.Add(FromKernel(pio));
  KernelEvent user = Kernel(t + 2000, kSyscallTid, KernelEventKind::UserspaceExit);
  user.a[0] = reason;
  user.a[1] = static_cast<uint64_t>(error);  // kvm_userspace_exit's errno
  trace.Add(FromKernel(user));
  trace.Add(FromKernel(Kernel(t + 2500, kSyscallTid, KernelEventKind::RunExit)));
}

// A kprobe-source KVM_RUN: the edges carry vcpu_id 1; kvm_userspace_exit
// fires after kvm_arch_vcpu_ioctl_run returned.
void KprobeRun(Trace& trace, int64_t t, uint32_t reason) {
  for (auto [dt, kind] : {std::pair{0, KernelEventKind::RunEnter}, {3000, KernelEventKind::RunExit}}) {
    KernelEvent e = Kernel(t + dt, kKprobeTid, kind);
    e.a[1] = 1;
    e.a[2] = kRunFromKprobe | kRunHasVcpu;
    trace.Add(FromKernel(e));
  }
  KernelEvent user = Kernel(t + 3100, kKprobeTid, KernelEventKind::UserspaceExit);
  user.a[0] = reason;
  trace.Add(FromKernel(user));
}

ExternalVmm Qemu() {
  ExternalVmm vmm;
  vmm.pid = kPid;
  vmm.command = "qemu-system-x86_64 -name q";
  vmm.vcpu_of_fd = {{kFd0, 0}, {12, 1}};
  vmm.thread_names = {{kPid, "qemu-system-x86"}};
  return vmm;
}

// Two vCPU threads and the main thread, as `record --pid` fills the store.
TraceData ExternalTrace() {
  Trace trace;
  trace.SetExternalVmm(Qemu());
  trace.NameThread(kSyscallTid, "CPU 0/KVM");  // before its first event
  for (int i = 0; i < 4; ++i) SyscallRun(trace, 10'000 + i * 4000, i < 3 ? kKvmExitIo : kKvmExitMmio);
  KernelEvent last = Kernel(26'000, kSyscallTid, KernelEventKind::RunEnter);
  last.a[0] = kFd0;
  trace.Add(FromKernel(last));  // still in KVM_RUN when the recording ended
  KprobeRun(trace, 10'000, kKvmExitHlt);
  KprobeRun(trace, 15'000, kKvmExitHlt);
  KernelEvent enter = Kernel(20'000, kKprobeTid, KernelEventKind::RunEnter);
  enter.a[1] = 1;
  enter.a[2] = kRunFromKprobe | kRunHasVcpu;
  trace.Add(FromKernel(enter));
  trace.Add(FromKernel(Kernel(11'000, kPid, KernelEventKind::Cpuid)));
  trace.NameThread(kKprobeTid, "CPU 1/KVM");  // after its events
  trace.SetExternalEnded("the VMM exited after 0.02 s");
  KernelCounts counts;
  counts.seen[static_cast<size_t>(KernelEventKind::EmulateInsn)] = 1000;  // counted, not streamed
  counts.not_streamed[static_cast<size_t>(KernelEventKind::EmulateInsn)] = true;
  counts.seen[static_cast<size_t>(KernelEventKind::UserspaceExit)] = 6;
  counts.received[static_cast<size_t>(KernelEventKind::UserspaceExit)] = 6;
  trace.SetKernelCounts(counts);
  HostFacts host;
  host.backend = "PVM";
  host.plan = PlanRecord{};
  host.plan->tracepoints = {"syscalls:sys_enter_ioctl", "kvm:kvm_userspace_exit", "kvm:kvm_pio",
                            "kvm:kvm_emulate_insn"};
  trace.SetHost(host);
  return trace.Take();
}

const Track& TrackOf(const TraceData& data, uint32_t tid) {
  auto it = std::find_if(data.tracks.begin(), data.tracks.end(),
                         [&](const Track& t) { return t.tid == tid; });
  EXPECT_NE(it, data.tracks.end()) << "no track for tid " << tid;
  return *it;
}

const UserspaceExitRow* Row(const ScopeStats& scope, uint32_t reason) {
  for (const UserspaceExitRow& r : scope.userspace.rows) {
    if (r.reason == reason) return &r;
  }
  return nullptr;
}

TEST(ExternalVmm, KernelRunEdgesMakeVcpuTracksNamedByTheirThreads) {
  const TraceData data = ExternalTrace();
  ASSERT_TRUE(data.external);
  EXPECT_EQ(data.external->ended, "the VMM exited after 0.02 s");
  EXPECT_EQ(data.external->thread_names.at(kSyscallTid), "CPU 0/KVM");
  ASSERT_EQ(data.tracks.size(), 3u);

  const Track& syscall = TrackOf(data, kSyscallTid);
  EXPECT_EQ(syscall.kind, TrackKind::Vcpu);
  EXPECT_EQ(syscall.vcpu, 0);  // fd 11 → kvm-vcpu:0
  EXPECT_EQ(syscall.Name(), "\"CPU 0/KVM\" (vCPU 0, tid 5001)");
  EXPECT_TRUE(std::all_of(syscall.events.begin(), syscall.events.end(),
                          [](const Event& e) { return e.vcpu == 0; }));

  const Track& kprobe = TrackOf(data, kKprobeTid);
  EXPECT_EQ(kprobe.kind, TrackKind::Vcpu);
  EXPECT_EQ(kprobe.vcpu, 1);  // vcpu_id from the edge itself
  EXPECT_EQ(kprobe.Name(), "\"CPU 1/KVM\" (vCPU 1, tid 5002)");

  const Track& main = TrackOf(data, kPid);
  EXPECT_EQ(main.kind, TrackKind::Vmm);
  EXPECT_EQ(main.Name(), "\"qemu-system-x86\" (tid 5000)");
  EXPECT_EQ(data.TrackOfVcpu(0), static_cast<int>(&syscall - data.tracks.data()));

  // Without a name the old form stays.
  Track plain;
  plain.tid = 7;
  plain.vcpu = 2;
  plain.kind = TrackKind::Vcpu;
  EXPECT_EQ(plain.Name(), "vCPU 2 (tid 7)");
}

TEST(ExternalVmm, AnUnknownFdOrAnotherProcessLeavesTheThreadAlone) {
  Trace trace;
  trace.SetExternalVmm(Qemu());
  KernelEvent enter = Kernel(100, kSyscallTid, KernelEventKind::RunEnter);
  enter.a[0] = 99;  // not a vCPU fd the VMM was seen to hold
  trace.Add(FromKernel(enter));
  KernelEvent other = Kernel(100, 6001, KernelEventKind::RunEnter);
  other.pid = 6000;
  other.a[1] = 0;
  other.a[2] = kRunFromKprobe | kRunHasVcpu;
  trace.Add(FromKernel(other));
  const TraceData data = trace.Take();
  EXPECT_EQ(TrackOf(data, kSyscallTid).kind, TrackKind::Vmm);
  EXPECT_EQ(TrackOf(data, 6001).kind, TrackKind::System);
}

TEST(ExternalVmm, VmmHandlingSpansRunFromTheKernelsReturnToTheNextKvmRun) {
  const TraceData data = ExternalTrace();
  const Track& syscall = TrackOf(data, kSyscallTid);
  const auto& runs = syscall.spans[static_cast<size_t>(SpanKind::KernelRun)];
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[0].duration_ns(), 2500);
  EXPECT_EQ(runs.back().end, kNoEvent);  // the last KVM_RUN never returned
  const auto& handling = syscall.spans[static_cast<size_t>(SpanKind::VmmHandling)];
  ASSERT_EQ(handling.size(), 4u);
  for (const Span& s : handling) EXPECT_EQ(s.duration_ns(), 1500);  // RunExit → next RunEnter
  EXPECT_TRUE(syscall.spans[static_cast<size_t>(SpanKind::Run)].empty());

  const auto& kprobe_handling =
      TrackOf(data, kKprobeTid).spans[static_cast<size_t>(SpanKind::VmmHandling)];
  ASSERT_EQ(kprobe_handling.size(), 2u);
  EXPECT_EQ(kprobe_handling[0].duration_ns(), 2000);  // 13'000 → 15'000
}

TEST(ExternalVmm, StatsCountExitsFromTheKernelAndSaySoOnce) {
  const TraceData data = ExternalTrace();
  const Stats stats = ComputeStats(data);
  ASSERT_EQ(stats.scopes.size(), 3u);  // all, vCPU 0, vCPU 1
  const ScopeStats& all = stats.scopes[0];
  EXPECT_EQ(all.userspace.total, 6u);
  EXPECT_EQ(all.userspace.from_kernel, 6u);
  EXPECT_EQ(all.userspace.incomplete_runs, 2u);
  const UserspaceExitRow* io = Row(all, kKvmExitIo);
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->count, 3u);
  EXPECT_EQ(io->kernel.samples, 3u);
  EXPECT_EQ(io->kernel.p50_ns, 2500);  // syscall: the span around kvm_userspace_exit
  EXPECT_EQ(io->kernel_source, KernelSideSource::KernelRun);
  EXPECT_EQ(io->vmm.samples, 3u);
  EXPECT_EQ(io->vmm.p50_ns, 1500);
  const UserspaceExitRow* mmio = Row(all, kKvmExitMmio);
  ASSERT_NE(mmio, nullptr);
  EXPECT_EQ(mmio->count, 1u);
  EXPECT_EQ(mmio->vmm.samples, 1u);  // the next KVM_RUN began, never returned
  const UserspaceExitRow* hlt = Row(stats.scopes[2], kKvmExitHlt);
  ASSERT_NE(hlt, nullptr);
  EXPECT_EQ(hlt->count, 2u);
  EXPECT_EQ(hlt->kernel.p50_ns, 3000);  // kprobe: the span before kvm_userspace_exit
  EXPECT_EQ(hlt->vmm.samples, 2u);
  EXPECT_EQ(hlt->vmm.p50_ns, 2000);

  // The kernel's RunExit row carries the VMM-handling durations.
  auto kind = std::find_if(all.kinds.begin(), all.kinds.end(), [](const EventKindRow& r) {
    return r.type == EventType(KernelEventKind::RunExit);
  });
  ASSERT_NE(kind, all.kinds.end());
  ASSERT_TRUE(kind->span);
  EXPECT_EQ(*kind->span, SpanKind::VmmHandling);
  EXPECT_EQ(kind->duration.samples, 6u);

  const std::vector<std::string> lines = FormatStats(stats);
  const std::string text = fmt::format("{}", fmt::join(lines, "\n"));
  const std::string note = data.ExternalNote();
  EXPECT_NE(note.find("External VMM (pid 5000, qemu-system-x86_64 -name q)"), std::string::npos);
  EXPECT_NE(note.find("not visible"), std::string::npos);
  EXPECT_NE(note.find("the VMM exited after 0.02 s"), std::string::npos);
  size_t first = text.find(note);
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find(note, first + 1), std::string::npos) << "said more than once";
  EXPECT_NE(text.find("all of them counted from the kernel (external VMM)"), std::string::npos);
  EXPECT_NE(text.find("counted in the kernel, not all streamed (seen > received + lost): kvm_emulate_insn (not streamed)"), std::string::npos);
  EXPECT_NE(StatsJson(stats).find("\"external_vmm_note\""), std::string::npos);
}

// The KVM cycle picture of an external VMM: its KVM_RUN calls and returns
// come from the kernel's edges (with kvm_userspace_exit's reasons), the
// exits it handles are not visible, and say so instead of a measured 0.
TEST(ExternalVmm, TheCyclePictureCountsTheVmmSideFromTheKernelAndHidesWhatItCannotSee) {
  Trace trace;
  trace.SetExternalVmm(Qemu());
  SyscallRun(trace, 10'000, 0, -EINTR);
  SyscallRun(trace, 14'000, kKvmExitIo);
  SyscallRun(trace, 18'000, kKvmExitIo);
  const CycleModel m = BuildCycle(trace.Take());
  using A = CycleArcId;
  using N = CycleNodeId;
  EXPECT_EQ(m.Node(N::VmmRun).count.value, 3u);
  EXPECT_EQ(m.Node(N::VmmRun).count.kind, CountKind::Measured);
  EXPECT_NE(m.Node(N::VmmRun).count.what.find("external VMM"), std::string::npos);
  EXPECT_EQ(m.Arc(A::RunAgain).count.value, 2u);
  EXPECT_EQ(m.Arc(A::ReturnToVmm).count.value, 3u);
  std::map<std::string, uint64_t> reasons;
  for (const CycleReason& r : m.Arc(A::ReturnToVmm).reasons) reasons[r.name] = r.count;
  EXPECT_EQ(reasons, (std::map<std::string, uint64_t>{{"KVM_EXIT_IO", 2}, {"interrupted (EINTR)", 1}}));
  EXPECT_EQ(m.Node(N::VmmHandles).count.kind, CountKind::None);
  EXPECT_EQ(m.Node(N::VmmHandles).count.what, "not visible: the VMM is another process (pid 5000)");
  // Without kvm_userspace_exit: the kernel's returns, no reasons, no run-again.
  Trace edges_only;
  edges_only.SetExternalVmm(Qemu());
  for (int64_t t : {10'000, 14'000}) {
    KernelEvent enter = Kernel(t, kSyscallTid, KernelEventKind::RunEnter);
    enter.a[0] = kFd0;
    edges_only.Add(FromKernel(enter));
    edges_only.Add(FromKernel(Kernel(t + 2000, kSyscallTid, KernelEventKind::RunExit)));
  }
  const CycleModel e = BuildCycle(edges_only.Take());
  EXPECT_EQ(e.Arc(A::ReturnToVmm).count.value, 2u);
  EXPECT_TRUE(e.Arc(A::ReturnToVmm).reasons.empty());
  EXPECT_EQ(e.Arc(A::RunAgain).count.kind, CountKind::None);
  // kvm_emulate_insn counted in the kernel, not streamed: the kernel's count.
  TraceData traced = ExternalTrace();
  traced.stacks.push_back({0xffffffff81000000});  // kernel data: a stack was taken
  const CycleModel counted = BuildCycle(traced);
  EXPECT_EQ(counted.Node(N::Emulate).count.value, 1000u);
  EXPECT_EQ(counted.Node(N::Emulate).count.what, "kvm_emulate_insn counted in the kernel (not streamed)");
}

TEST(ExternalVmm, AKvmRunInterruptedByASignalIsNamedSoNotUnknown) {
  // QEMU's first KVM_RUN after attaching often returns -EINTR with
  // run->exit_reason still 0 (KVM_EXIT_UNKNOWN): kvm_userspace_exit's errno.
  Trace trace;
  trace.SetExternalVmm(Qemu());
  SyscallRun(trace, 10'000, 0, -EINTR);
  SyscallRun(trace, 14'000, kKvmExitIo);
  SyscallRun(trace, 18'000, 0);  // no errno: KVM_EXIT_UNKNOWN as the kernel said
  SyscallRun(trace, 22'000, kKvmExitIo, -EFAULT);  // another error: its reason is stale too
  const TraceData data = trace.Take();
  const Stats stats = ComputeStats(data);
  const ScopeStats& all = stats.scopes[0];
  EXPECT_EQ(all.userspace.total, 4u);
  ASSERT_NE(Row(all, kFailedExitReason), nullptr);
  EXPECT_EQ(Row(all, kFailedExitReason)->name, "failed (an error)");
  const UserspaceExitRow* interrupted = Row(all, kInterruptedExitReason);
  ASSERT_NE(interrupted, nullptr);
  EXPECT_EQ(interrupted->count, 1u);
  EXPECT_EQ(interrupted->name, "interrupted (EINTR)");
  ASSERT_NE(Row(all, 0), nullptr);
  EXPECT_EQ(Row(all, 0)->count, 1u) << "the EINTR run counted as KVM_EXIT_UNKNOWN";
  ASSERT_NE(Row(all, kKvmExitIo), nullptr);
  EXPECT_EQ(Row(all, kKvmExitIo)->count, 1u);
  const std::vector<std::string> lines = FormatStats(stats);
  const std::string text = fmt::format("{}", fmt::join(lines, "\n"));
  EXPECT_NE(text.find("interrupted (EINTR)"), std::string::npos) << text;
}

TEST(ExternalVmm, KvmCountersCompareWithTheKernelsCounts) {
  TraceData data = ExternalTrace();
  KvmStatsRecord kvm;
  kvm.vcpus = {{{"io_exits", 3}, {"insn_emulation", 900}, {"exits", 10}},
               {{"io_exits", 0}, {"insn_emulation", 100}, {"exits", 2}}};
  data.kvm_stats = kvm;
  const KvmCounterStats all = ComputeKvmCounters(data, kAllVcpus);
  auto row = [&](const KvmCounterStats& s, std::string_view name) -> const KvmCounterRow* {
    for (const KvmCounterRow& r : s.compared) {
      if (r.counter == name) return &r;
    }
    return nullptr;
  };
  const KvmCounterRow* insn = row(all, "insn_emulation");
  ASSERT_NE(insn, nullptr);
  EXPECT_EQ(insn->trace, 1000u);  // from kernel_counts: counted, never streamed
  EXPECT_NE(insn->traced.find("not streamed"), std::string::npos);
  const KvmCounterRow* io = row(all, "io_exits");
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->trace, 3u);  // kvm_userspace_exit KVM_EXIT_IO
  const KvmCounterRow* exits = row(all, "exits");
  ASSERT_NE(exits, nullptr);
  EXPECT_EQ(exits->trace, 6u);  // kernel KVM_RUN returns
  // One vCPU: the kernel's per-kind count is trace-wide, so nothing to compare.
  const KvmCounterStats vcpu0 = ComputeKvmCounters(data, 0);
  EXPECT_EQ(row(vcpu0, "insn_emulation"), nullptr);
  ASSERT_NE(row(vcpu0, "io_exits"), nullptr);
  EXPECT_EQ(row(vcpu0, "io_exits")->trace, 3u);
}

// A kind streamed up to its budget (run's kvm_emulate_insn) and counted
// after it: the file keeps the budget, and every place that counts the kind
// takes the kernel's count and says how far it was streamed.
TEST(ExternalVmm, AStreamBudgetIsKeptInTheFileAndSaidWhereverTheKindIsCounted) {
  TraceData data = ExternalTrace();
  const size_t insn = static_cast<size_t>(KernelEventKind::EmulateInsn);
  data.kernel_counts->received[insn] = 0;
  data.kernel_counts->stream_budget[insn] = 64;
  EXPECT_EQ(data.kernel_counts->StreamedHow(KernelEventKind::EmulateInsn), "the first 64 streamed");
  EXPECT_EQ(data.kernel_counts->StreamedHow(KernelEventKind::Pio), "not streamed");

  std::ostringstream out;
  WriteTrace(data, out);
  const TraceData loaded = ParseTrace(out.str());
  ASSERT_TRUE(loaded.kernel_counts);
  EXPECT_EQ(loaded.kernel_counts->stream_budget[insn], 64u);
  EXPECT_TRUE(loaded == data);
  const Json kind = Json::parse(out.str())["kernel_counts"]["kinds"]["kvm_emulate_insn"];
  EXPECT_EQ(kind["streamed"], false);
  EXPECT_EQ(kind["stream_budget_total"], 64);
  EXPECT_FALSE(kind.contains("stream_budget"));
  // A file from before budgets: none.
  Json old = Json::parse(out.str());
  old["kernel_counts"]["kinds"]["kvm_emulate_insn"].erase("stream_budget_total");
  EXPECT_EQ(ParseTrace(old.dump()).kernel_counts->stream_budget[insn], 0u);
  // A file from when each CPU had the budget: said so, and written back so.
  old["kernel_counts"]["kinds"]["kvm_emulate_insn"]["stream_budget"] = 64;
  const TraceData per_cpu = ParseTrace(old.dump());
  EXPECT_EQ(per_cpu.kernel_counts->stream_budget[insn], 64u);
  EXPECT_EQ(per_cpu.kernel_counts->StreamedHow(KernelEventKind::EmulateInsn),
            "the first 64 per CPU streamed");
  std::ostringstream again;
  WriteTrace(per_cpu, again);
  EXPECT_EQ(Json::parse(again.str())["kernel_counts"]["kinds"]["kvm_emulate_insn"]["stream_budget"], 64);
  EXPECT_TRUE(ParseTrace(again.str()) == per_cpu);

  const Stats stats = ComputeStats(loaded);
  const std::string text = fmt::format("{}", fmt::join(FormatStats(stats), "\n"));
  EXPECT_NE(text.find("kvm_emulate_insn (the first 64 streamed)"), std::string::npos) << text;
  const Json stats_json = Json::parse(StatsJson(stats));
  bool said = false;
  for (const Json& row : stats_json["kernel"]["kinds"]) {
    if (row["kind"] == "kvm_emulate_insn") said = row.value("counted_only", "") == "the first 64 streamed";
    if (row["kind"] == "kvm_userspace_exit") {
      EXPECT_FALSE(row.contains("counted_only"));
    }
  }
  EXPECT_TRUE(said) << stats_json["kernel"].dump();

  TraceData traced = loaded;
  traced.stacks.push_back({0xffffffff81000000});  // kernel data: a stack was taken
  const CycleModel cycle = BuildCycle(traced);
  EXPECT_EQ(cycle.Node(CycleNodeId::Emulate).count.value, 1000u);
  EXPECT_EQ(cycle.Node(CycleNodeId::Emulate).count.what,
            "kvm_emulate_insn counted in the kernel (the first 64 streamed)");
}

// run and the window detach kvm_emulate_insn with its budget: KVM's own
// counters give the rest (insn_emulation + insn_emulation_fail), only where
// the kernel stopped counting, and every label says who counted.
TEST(ExternalVmm, PastItsBudgetKvmsCountersCountWhatTheKernelNoLongerDid) {
  TraceData data = ExternalTrace();
  const size_t insn = static_cast<size_t>(KernelEventKind::EmulateInsn);
  KernelCounts& k = *data.kernel_counts;
  k.received[insn] = 64;
  k.seen[insn] = 70;  // counted until the detach
  k.stream_budget[insn] = 64;
  KvmStatsRecord kvm;
  kvm.vcpus = {{{"insn_emulation", 900}, {"insn_emulation_fail", 6}},
               {{"insn_emulation", 100}, {"insn_emulation_fail", 0}}};

  KernelCounts tracing = k;  // counted all along: KVM's counters change nothing
  CountFromKvmStats(tracing, kvm);
  EXPECT_TRUE(tracing == k);
  k.seen_by[insn] = SeenBy::UntilBudget;
  EXPECT_EQ(k.StreamedHow(KernelEventKind::EmulateInsn), "the first 64 streamed, then no longer counted");
  KvmStatsRecord without_fail;
  without_fail.vcpus = {{{"insn_emulation", 900}}};
  KernelCounts unfilled = k;
  CountFromKvmStats(unfilled, without_fail);  // a kernel without the counter: left as it was
  EXPECT_TRUE(unfilled == k);
  CountFromKvmStats(k, kvm);
  EXPECT_EQ(k.seen[insn], 1006u);
  EXPECT_EQ(k.SeenByOf(KernelEventKind::EmulateInsn), SeenBy::KvmStatistics);
  EXPECT_EQ(k.StreamedHow(KernelEventKind::EmulateInsn),
            "the first 64 streamed, the rest counted by KVM's own statistics");

  data.kvm_stats = kvm;
  std::ostringstream out;
  WriteTrace(data, out);
  EXPECT_EQ(Json::parse(out.str())["kernel_counts"]["kinds"]["kvm_emulate_insn"]["seen_by"], "kvm_statistics");
  EXPECT_FALSE(Json::parse(out.str())["kernel_counts"]["kinds"]["kvm_pio"].contains("seen_by"));
  const TraceData loaded = ParseTrace(out.str());
  EXPECT_TRUE(loaded == data);
  Json bad = Json::parse(out.str());
  bad["kernel_counts"]["kinds"]["kvm_emulate_insn"]["seen_by"] = "guesswork";
  try {
    ParseTrace(bad.dump());
    FAIL() << "an unknown seen_by was read";
  } catch (const TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown \"guesswork\""), std::string::npos) << e.what();
  }

  // KVM's count beside itself tells nothing: no row compares them.
  const KvmCounterStats counters = ComputeKvmCounters(loaded, kAllVcpus);
  for (const KvmCounterRow& r : counters.compared) EXPECT_NE(r.counter, "insn_emulation");
  TraceData traced = loaded;
  traced.stacks.push_back({0xffffffff81000000});
  EXPECT_EQ(BuildCycle(traced).Node(CycleNodeId::Emulate).count.value, 1006u);
  EXPECT_EQ(BuildCycle(traced).Node(CycleNodeId::Emulate).count.what,
            "kvm_emulate_insn counted in the kernel (the first 64 streamed, the rest counted by KVM's "
            "own statistics)");
  // Live, before KVM's count: no count rather than one that falls short.
  traced.kernel_counts->seen_by[insn] = SeenBy::UntilBudget;
  const CycleModel live = BuildCycle(traced);
  EXPECT_EQ(live.Node(CycleNodeId::Emulate).count.kind, CountKind::None);
  EXPECT_EQ(live.Node(CycleNodeId::Emulate).count.what,
            "kvm_emulate_insn not counted past its budget (the first 64 streamed, then no longer counted)");
}

TEST(ExternalVmm, JsonRoundTripKeepsTheVmmAndTheThreadNames) {
  const TraceData data = ExternalTrace();
  std::ostringstream out;
  WriteTrace(data, out);
  const std::string text = out.str();
  const TraceData loaded = ParseTrace(text);
  EXPECT_TRUE(loaded == data);
  ASSERT_TRUE(loaded.external);
  EXPECT_EQ(loaded.external->vcpu_of_fd, data.external->vcpu_of_fd);

  const Json doc = Json::parse(text);
  EXPECT_EQ(doc["format_version"], 1);
  const Json& vmm = doc["vmm"];
  EXPECT_EQ(vmm["kind"], "external");
  EXPECT_EQ(vmm["pid"], kPid);
  ASSERT_EQ(vmm["vcpus"].size(), 2u);
  EXPECT_EQ(vmm["vcpus"][0], Json::parse(R"({"index":0,"tid":5001,"name":"CPU 0/KVM","fd":11})"));
  EXPECT_EQ(vmm["vcpus"][1]["fd"], 12);
  EXPECT_EQ(vmm["vcpus"][1]["tid"], kKprobeTid);
  EXPECT_EQ(doc["tracks"][0]["name"], "CPU 0/KVM");

  // Files without the new fields (every trace before them) still load.
  Json old = doc;
  old.erase("vmm");
  for (Json& track : old["tracks"]) track.erase("name");
  const TraceData before = ParseTrace(old.dump());
  EXPECT_FALSE(before.external);
  EXPECT_TRUE(std::all_of(before.tracks.begin(), before.tracks.end(),
                          [](const Track& t) { return t.name.empty(); }));
  EXPECT_EQ(before.tracks.size(), data.tracks.size());

  Json bad = doc;
  bad["vmm"]["kind"] = "own";
  try {
    ParseTrace(bad.dump());
    ADD_FAILURE() << "a VMM of unknown kind was accepted";
  } catch (const TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("vmm.kind"), std::string::npos) << e.what();
  }
}

TEST(ExternalVmm, AKvmscopeTraceFromBeforeLoadsWithoutAVmm) {
  const TraceData old = LoadTrace(std::string(KVMSCOPE_TESTDATA) + "/pagefault-pvm.json");
  EXPECT_FALSE(old.external);
  EXPECT_EQ(old.ExternalNote(), "");
  EXPECT_EQ(ComputeStats(old).external_note, "");
}

TEST(ExternalVmm, ChromeExportNamesThreadsAndTheProcess) {
  const TraceData data = ExternalTrace();
  std::ostringstream out;
  WriteChromeTrace(data, out);
  const Json doc = Json::parse(out.str());
  std::set<std::string> threads, processes;
  for (const Json& e : doc["traceEvents"]) {
    if (e["ph"] != "M") continue;
    if (e["name"] == "thread_name") threads.insert(e["args"]["name"].get<std::string>());
    if (e["name"] == "process_name") processes.insert(e["args"]["name"].get<std::string>());
  }
  // Names without ids: viewers add the pid and tid themselves.
  EXPECT_EQ(threads, (std::set<std::string>{"CPU 0/KVM (vCPU 0)", "CPU 1/KVM (vCPU 1)", "qemu-system-x86"}));
  EXPECT_EQ(processes, (std::set<std::string>{"external VMM: qemu-system-x86_64 -name q"}));
  EXPECT_EQ(doc["otherData"]["external_vmm"], data.ExternalNote());
}

TEST(ExternalVmm, ChainsAndSeedClaimsReadItLikeAnyTrace) {
  const TraceData data = ExternalTrace();
  const KernelFacts facts = FactsOf(data);
  EXPECT_FALSE(CheckSeed(facts).empty());
  const std::vector<ChainMatch> chains = MatchChains(facts);
  EXPECT_FALSE(chains.empty());
  for (const ChainMatch& chain : chains) EXPECT_FALSE(FormatChain(chain).empty());
}

}  // namespace
}  // namespace kvmscope::traces

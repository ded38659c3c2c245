// Statistics over a trace: what `perf kvm stat report` gives (exits by reason,
// counts, shares, handling latency), plus the userspace exits it cannot see,
// per event kind, per vCPU and overall, with the kernel's loss counters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "traces/fault_context.h"
#include "traces/kernel_event.h"
#include "traces/count_text.h"
#include "traces/kvm_counters.h"
#include "traces/trace.h"

namespace kvmscope::traces {

// Latency figures of one set of spans. Durations are in ns, as measured.
//
// Percentiles use the nearest-rank method: of the N samples sorted
// ascending, the p-th percentile is the sample of rank ceil(p / 100 * N)
// (1-based). It is always one of the measured durations, never an
// interpolation: p50 of {1, 2, 3, 4} is 2, p99 of 100 samples is the 99th,
// and p99 of fewer than 100 samples is the largest.
// The mean is total / samples rounded to the nearest ns.
// Spans with a missing begin or end (Span::begin or end == kNoEvent: cut by
// the trace's edges) are not samples; they are counted in `incomplete`.
struct LatencyStats {
  uint64_t samples = 0;     // complete spans measured
  uint64_t incomplete = 0;  // spans (or exits) left out: no begin, no end, or no span at all
  int64_t total_ns = 0;
  int64_t mean_ns = 0;
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  bool operator==(const LatencyStats&) const = default;
};
// Percentile `p` (0 < p <= 100) of `sorted_ns` (ascending) by nearest rank;
// 0 when empty.
int64_t NearestRankPercentile(const std::vector<int64_t>& sorted_ns, int p);
// Sorts `durations_ns` and fills samples, total, mean, p50, p99.
LatencyStats ComputeLatency(std::vector<int64_t> durations_ns, uint64_t incomplete = 0);

// Which KVM_RUN span the kernel-side time of a userspace exit came from.
enum class KernelSideSource : uint8_t {
  None,       // no complete span: no figure
  KernelRun,  // the kernel's own KVM_RUN edges (SpanKind::KernelRun): measured in the kernel
  Run,        // the VMM's edges around the ioctl (SpanKind::Run): includes the syscall
              // entry/exit, so slightly longer than the kernel's time
  Mixed,      // some exits of the row had KernelRun, others only Run
};
std::string_view KernelSideSourceName(KernelSideSource source);  // "none", "kernel", "VMM", "mixed"

// One KVM_EXIT_* reason: KVM_RUN returned to the VMM for it.
struct UserspaceExitRow {
  uint32_t reason = 0;   // KVM_EXIT_*
  std::string name;      // KvmExitReasonName, or the number when unknown
  uint64_t count = 0;    // VMM RunExit events with this reason
  double share_pct = 0;  // of all userspace exits in the scope
  // The KVM_RUN that ended with this exit (guest time + kernel handling).
  LatencyStats kernel;
  KernelSideSource kernel_source = KernelSideSource::None;
  uint64_t kernel_from_kernel_run = 0;  // samples taken from SpanKind::KernelRun
  uint64_t kernel_from_run = 0;         // samples taken from SpanKind::Run
  // The VMM's handling after it: SpanKind::VmmHandling (RunExit → next RunEnter)
  // without the time it waited at a closed gate (Pauses::HandlingNs).
  LatencyStats vmm;
};

std::string_view ExitIsaName(ExitIsa isa);  // "VMX", "SVM", "unknown"
// "KVM_EXIT_IO", "interrupted (EINTR)", "failed (an error)", "unknown (no
// kvm_userspace_exit)", or the number (reasons: UserspaceExitReason).
std::string UserspaceReasonName(uint32_t reason);

struct UserspaceExitTable {
  std::vector<UserspaceExitRow> rows;  // by count, descending, then by reason
  uint64_t total = 0;                  // exits (VMM RunExit events)
  // An external VMM's exits (TraceData::external) are counted from the
  // kernel: one per kvm:kvm_userspace_exit (else per kernel KVM_RUN return),
  // the VMM handling from the kernel's KVM_RUN return to its next KVM_RUN.
  uint64_t from_kernel = 0;
  // KVM_RUNs still running when the trace ended: no exit, so no reason.
  uint64_t incomplete_runs = 0;
  KernelSideSource kernel_source = KernelSideSource::None;  // over all rows
};

// One hardware exit reason, from kvm:kvm_exit.
struct HardwareExitRow {
  ExitIsa isa = ExitIsa::Unknown;
  uint64_t reason = 0;  // kvm_exit's exit_reason as recorded (VMX: full reason; SVM: exit code)
  std::string name;     // VmxExitReasonName (basic reason) / SvmExitCodeName, or the number
  uint64_t count = 0;
  double share_pct = 0;  // of all kvm_exit events in the scope
  LatencyStats kernel;   // SpanKind::KernelHandling: kvm_exit → kvm_entry or KVM_RUN exit
};

struct HardwareExitTable {
  std::vector<HardwareExitRow> rows;  // by count, descending, then isa, reason
  uint64_t total = 0;
  bool fired = false;  // any kvm_exit in the scope
  std::string note;    // why the table is empty, when it is
};

// One event type that occurs in the scope.
struct EventKindRow {
  EventType type;
  std::string name;  // EventTypeName
  uint64_t count = 0;
  double share_pct = 0;  // of all events in the scope
  // For the types that begin a span: that span kind and its durations.
  std::optional<SpanKind> span;
  LatencyStats duration;
};

// One scope: the whole trace, or one vCPU's track(s).
inline constexpr int kAllVcpus = -1;
struct ScopeStats {
  int vcpu = kAllVcpus;  // kAllVcpus: every track
  std::string label;     // "all", "vCPU 0"
  uint64_t events = 0;
  int64_t begin_ns = 0;  // earliest / latest event in the scope (0 when none)
  int64_t end_ns = 0;
  // Time the vCPUs waited at the VMM's closed gate (paused, between steps,
  // slow motion): left out of every VMM handling figure (traces/pauses.h).
  int64_t waited_ns = 0;
  UserspaceExitTable userspace;
  HardwareExitTable hardware;
  std::vector<EventKindRow> kinds;  // by count, descending, then type index
  // kvm_page_fault events by what produced them (traces/fault_context.h).
  std::vector<PageFaultGroup> page_faults;
};

// The kernel's accounting of one kernel event kind (trace-wide: the kernel
// counts per kind, not per vCPU).
struct LossRow {
  KernelEventKind kind = KernelEventKind::RunEnter;
  std::string name;
  uint64_t seen = 0;      // fired in the kernel (after the process filter)
  uint64_t received = 0;  // reached user space
  uint64_t lost = 0;      // dropped: ring buffer full
  bool counted_only = false;  // counted in the kernel, not all streamed by choice
  std::string streamed_how;   // when counted_only: "not streamed", "the first N streamed"
};

struct LossStats {
  bool kernel_traced = false;  // the trace has kernel counts
  std::string note;            // "no kernel side: ..." when not traced
  uint64_t seen = 0, received = 0, lost = 0;
  uint64_t stacks_taken = 0, stacks_failed = 0;
  std::vector<LossRow> rows;  // kinds with any count, in KernelEventKind order
};

struct Stats {
  std::vector<ScopeStats> scopes;  // see ComputeStats
  LossStats loss;
  KvmCounterStats kvm;  // KVM's own counters beside the trace's (kvm_counters.h)
  std::string emulated_note;  // EmulatedCpuNote: times on an emulated CPU mean nothing
  std::string external_note;  // TraceData::ExternalNote: "" for kvmscope's own VMM
};

// Which scopes ComputeStats computes.
inline constexpr int kEveryScope = -2;  // "all", then each vCPU with a track, ascending
// vcpu: kEveryScope, kAllVcpus (only "all"), or one vCPU number (only it).
Stats ComputeStats(const TraceData& trace, int vcpu = kEveryScope);
ScopeStats ComputeScopeStats(const TraceData& trace, int vcpu);

// "850 ns", "12.34 µs", "1.50 ms", "2.00 s".
std::string FormatStatsDuration(int64_t ns);
// Text tables for the terminal: aligned columns, one table per section and
// scope, with a legend saying which figures are measured and which derived.
std::vector<std::string> FormatStats(const Stats& stats);
// For `kvmscope stats --json`: stable field names, durations in ns.
std::string StatsJson(const Stats& stats);

}  // namespace kvmscope::traces

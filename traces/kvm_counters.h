// KVM's own counters (KVM_GET_STATS_FD, recorded in TraceData::kvm_stats)
// next to what the trace recorded of the same thing: `kvmscope stats` and the
// window's Stats tab show these. The kernel's values are KVM's counters; the
// trace's are events recorded. Where they differ, the mapping says why they
// may (kvm_counters.cpp); nothing is made to agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::traces {

// One of KVM's counters beside the trace's count of the same thing.
struct KvmCounterRow {
  std::string counter;            // KVM's name: "exits", "io_exits", ...
  uint64_t kvm = 0;               // KVM's value over the scope's vCPUs (or VM-wide)
  std::optional<uint64_t> trace;  // the events recorded; nullopt: this trace cannot tell
  std::string traced;             // what the trace counted: "KVM_EXIT_IO returns to the VMM"
  std::string why;                // why the two may differ (shown when they do)
  bool operator==(const KvmCounterRow&) const = default;
  // "same", "KVM +3", "trace +24", "" when the trace cannot tell.
  std::string Difference() const;
};

// One counter's value per vCPU (the per-vCPU view).
struct KvmCounterValues {
  std::string counter;
  std::vector<uint64_t> values;  // by position in KvmCounterStats::vcpus
  bool operator==(const KvmCounterValues&) const = default;
};

struct KvmCounterStats {
  bool recorded = false;  // the trace has KVM's counters
  std::string note;       // why not, when not
  std::string source;     // where they come from ("" = kvmscope's VMM, KVM_GET_STATS_FD)
  bool external = false;  // another process's VM (record --pid): never KVM_GET_STATS_FD
  // The scope: every vCPU (sum), or the one `stats --vcpu N` asked for.
  std::string scope = "all vCPUs";
  std::vector<int> vcpus;               // the vCPUs in the scope, ascending
  std::vector<KvmCounterRow> compared;  // counters the trace also counted, in mapping order
  // Every vCPU counter with a value on some vCPU of the scope, by name; the
  // ones zero on all of them are only named.
  std::vector<KvmCounterValues> per_vcpu;
  std::vector<std::string> zero_per_vcpu;
  // The VM-wide counters with a value, by name, and the names of the zero ones.
  std::vector<std::pair<std::string, uint64_t>> vm;
  std::vector<std::string> zero_vm;
  bool operator==(const KvmCounterStats&) const = default;
};

// Where a kind's programs were detached with its stream budget
// (SeenBy::UntilBudget: `seen` falls short), fills `seen` from KVM's own
// counters of the same VM and marks it SeenBy::KvmStatistics. Only
// kvm_emulate_insn has such counters: KVM fires it once for every
// instruction it starts to emulate, right beside ++insn_emulation
// (arch/x86/kvm/x86.c, x86_decode_emulated_instruction; older kernels
// have the same two lines in x86_emulate_instruction), and once more for each that
// fails, beside ++insn_emulation_fail (handle_emulation_failure): the sum
// of the two. Measured equal under PVM 6.18: the exceptions guest's 437
// kvm_emulate_insn = insn_emulation 431 + insn_emulation_fail 6. Leaves
// the counts alone when `stats` lacks either counter. Only for stats of the
// traced process's own VM (not --system-wide).
void CountFromKvmStats(KernelCounts& counts, const KvmStatsRecord& stats);

// vcpu: kAllVcpus / kEveryScope (stats.h) for every vCPU, or one vCPU number.
KvmCounterStats ComputeKvmCounters(const TraceData& trace, int vcpu);
// The "KVM's own counters (KVM_GET_STATS_FD)" section of `kvmscope stats`.
std::vector<std::string> FormatKvmCounters(const KvmCounterStats& stats);
// The same as a JSON object (text), for `kvmscope stats --json`.
std::string KvmCountersJson(const KvmCounterStats& stats);

}  // namespace kvmscope::traces

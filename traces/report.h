// What a recorded trace says about the kernel, in the shapes the chains and
// the seed check take (stacks with use counts, the VM-creation ioctls), and
// the run-by-run listing the tour prints.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "traces/chains.h"
#include "traces/trace.h"

namespace kvmscope::traces {

// Every captured stack with how many events carried it.
std::vector<StackUse> StackUses(const TraceData& trace);
// The VMM's ioctls by name ("KVM_CREATE_VM" → 1), successful ones only.
std::map<std::string, uint64_t> IoctlCounts(const TraceData& trace);
// The VM exits of a trace as the chains' tail-call evidence takes them: per
// exit on a vCPU thread, its decoded kvm_exit reason and, in event order, the
// chain functions its kprobe/fentry events and captured stacks ran in.
std::vector<ExitSightings> ExitSightingsOf(const TraceData& trace);
// The kernel a trace was recorded on, as the chains and seed check see it;
// several traces of one kernel (and one boot) are merged.
KernelFacts FactsOf(const TraceData& trace);
KernelFacts FactsOf(const std::vector<const TraceData*>& traces);

// KVM_RUNs as lines: the exit the VMM saw, then what the kernel did inside
// that run (decoded; bulk kinds such as kvm_emulate_insn as counts). When
// `featuring` is given, only runs whose kernel side has an event of that type
// are listed. At most `max_runs`, then a line saying how many were left out.
std::vector<std::string> FormatRuns(const TraceData& trace, size_t max_runs,
                                    std::optional<EventType> featuring = std::nullopt);

}  // namespace kvmscope::traces

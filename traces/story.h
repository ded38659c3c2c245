// The story of a trace: the one exit that shows what its guest is about (the
// first OUT to COM1 for hello, the #PF injected for pagefault, ...) with the
// call chain that goes with it, and the exits in time order over all vCPUs,
// for stepping back and forward through a lecture.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "traces/chains.h"
#include "traces/trace.h"

namespace kvmscope::traces {

struct Story {
  EventRef event;          // the event to select
  ChainId chain = ChainId::RunLoop;  // the call chain to show beside it
  std::string caption;     // one sentence a student follows
};
// The story event of `trace`, chosen by trace.guest.name:
//   hello      the first KVM_EXIT_IO `out` to COM1 (port 0x3f8)
//   pagefault  the first kvm_inj_exception #PF (vector 14), else the first
//              kvm_mmu_walker_error, else the first page-fault event
//   exceptions the #UD injection (vector 6)
//   mmio       the first KVM_EXIT_MMIO
//   cpuid      the first kvm_cpuid
//   timer      the first KVM_EXIT_HLT, else the first kvm_inj_virq
//   smp        the first exit of vCPU 1
//   spin       the watchdog's event
//   pio-loop   the first KVM_EXIT_IO
//   pio-pair   the first KVM_EXIT_IO of vCPU 1
//   modes      the first exit
// and for any other guest (or when the chosen event is missing) the first VMM
// KVM_RUN exit. nullopt when the trace has none of these yet (a live trace
// before its first exit): ask again with a later snapshot.
std::optional<Story> FindStory(const TraceData& trace);

// --- the exits in time order, over all tracks ---
// VMM KVM_RUN exits (VmmEventKind::RunExit) are ordered by (time, track,
// index). Each query is a binary search per track: cheap on millions of events.

// The exit after (direction > 0) or before (direction < 0) `from`, which may
// be any event (a kernel event inside a run: its own exit is the next one).
// nullopt at either end.
std::optional<EventRef> AdjacentExit(const TraceData& trace, EventRef from, int direction);
std::optional<EventRef> FirstExit(const TraceData& trace);
std::optional<EventRef> LatestExit(const TraceData& trace);
// The `n` latest exits, newest first.
std::vector<EventRef> LatestExits(const TraceData& trace, size_t n);
// The KVM_RUN (SpanKind::Run) that the exit `exit` ended, or nullptr.
const Span* RunOfExit(const TraceData& trace, EventRef exit);
// The exit of the KVM_RUN on `track` that was running at time_ns (its VMM
// enter <= time_ns <= its exit), or nullopt: what a click on a kernel event
// or a kernel-side bar of that run means.
std::optional<EventRef> ExitOfRunAt(const TraceData& trace, uint32_t track, int64_t time_ns);
// The events of the track from the run's VMM enter to its exit, both
// included (what the kernel did inside that KVM_RUN); empty when `exit` ends
// no run.
EventRange EventsOfRun(const TraceData& trace, EventRef exit);

}  // namespace kvmscope::traces

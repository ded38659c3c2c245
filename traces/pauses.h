// Time the machine stood still on purpose — paused, waiting for the next
// single step, or in slow motion's wait before each KVM_RUN — reconstructed
// from the VMM's Control events, so that neither the stats nor the timeline
// count it as the VMM's work or the guest's time.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::traces {

struct TimeInterval {
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  int64_t duration_ns() const { return end_ns - begin_ns; }
  bool operator==(const TimeInterval&) const = default;
};

// The VMM's gate between two KVM_RUN calls, as its Control events tell it
// (vmm::Machine emits them; the text says which):
//   "pause"              closed until "resume" or "step N"
//   "step N"             closed, opened for N runs (each waits for its step)
//   "resume"             open
//   "slow motion N ms"   a wait of N ms before every KVM_RUN (0: none)
//   "stop: why"          the vCPUs leave their loops
// A run started paused (`--paused`) has no "pause" event: when the first of
// pause / resume / step is a resume or a step, the gate was closed from the
// start.
class Pauses {
 public:
  Pauses() = default;
  explicit Pauses(const TraceData& trace);

  // Whether the trace has any Control event that closed the gate or slowed
  // it: without one, nothing here changes any figure.
  bool any() const { return m_any; }

  // The wait at the gate inside one VMM handling span (SpanKind::VmmHandling
  // of `track`): from the VMM's last event after the exit (its handling done)
  // to the next KVM_RUN, when the gate was closed or slowed meanwhile;
  // nullopt when the VMM went straight on.
  std::optional<TimeInterval> WaitIn(const TraceData& trace, size_t track,
                                     const Span& handling) const;
  // The VMM's own work in that span: its duration minus the wait.
  int64_t HandlingNs(const TraceData& trace, size_t track, const Span& handling) const;

  // Stretches in which no vCPU did anything because every one waited at the
  // gate (or had finished): the timeline draws these as cuts. Sorted, disjoint.
  const std::vector<TimeInterval>& cuts() const { return m_cuts; }
  // Total waited time of one track's VMM handling spans (the stats' note).
  int64_t WaitedNs(const TraceData& trace, size_t track) const;

 private:
  bool GatedBetween(int64_t from_ns, int64_t to_ns) const;

  bool m_any = false;
  bool m_initially_closed = false;
  std::vector<std::pair<int64_t, bool>> m_gated;  // (time, gated from then on)
  std::vector<int64_t> m_controls;                // times of Control events, sorted
  std::vector<TimeInterval> m_cuts;
};

}  // namespace kvmscope::traces

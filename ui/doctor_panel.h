// The "doctor" panel: what the host allowed when the trace was recorded — the
// kernel, KVM backend and CPU, and the attach plan (each probe point's
// mechanism and the better ones passed over, with why) — or, when the kernel
// was not traced, why not and what to do. Plus the toolbar's badges.
#pragma once

#include <string>

#include "traces/trace.h"

namespace kvmscope::ui {

// The plan's one-line summary ("run loop: tracepoint · exit handler: stacks
// · ..."), or "kernel: not traced" when the trace has no plan.
std::string PlanBadge(const traces::HostFacts& host);
// Kernel events lost to a full ring buffer: "0 lost", "1,234 LOST"; "" when
// the trace has no kernel counts (not traced: PlanBadge says so).
std::string LostBadge(const traces::TraceData& trace);
bool AnyLost(const traces::TraceData& trace);
// The kinds counted in the kernel and not all streamed, and how far each
// was streamed ("kvm_emulate_insn counted, the first 65536 streamed");
// empty when every event was streamed.
std::string CountedOnlyBadge(const traces::TraceData& trace);
// What to do to get the kernel side, for a trace whose plan is absent:
// tailored to the recorded reason (--no-probes, permissions, ...).
std::string NotTracedAdvice(const traces::HostFacts& host);

class DoctorPanel {
 public:
  // Draws into the current window (the caller owns Begin/End).
  void Draw(const traces::TraceData& trace);

 private:
  void DrawHost(const traces::TraceData& trace);
  void DrawPlan(const traces::PlanRecord& plan);
  void DrawNotTraced(const traces::HostFacts& host);
};

}  // namespace kvmscope::ui

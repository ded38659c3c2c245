// What the panels share: the selected and hovered event (kept by a key that
// survives a live trace growing), the visible time window, and the frame's
// inputs. Panels are small classes with their own view state and a Draw()
// over const model data (STYLE.md: the UI keeps no copy of the data).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "traces/chains.h"
#include "traces/trace.h"

namespace kvmscope::ui {

// An event named so that it can be found again in a later snapshot (indices
// move while kernel events are merged into a live trace).
struct EventKey {
  uint32_t tid = 0;
  int64_t time_ns = 0;
  traces::EventType type;
  bool operator==(const EventKey&) const = default;
};
EventKey KeyOf(const traces::Event& event);
// The event of `key` in this snapshot, or nullopt if it is not there.
std::optional<traces::EventRef> Find(const traces::TraceData& trace, const EventKey& key);

// Shared between panels for the life of the window.
struct SharedView {
  std::optional<EventKey> selected;  // clicked in the timeline (or chosen elsewhere)
  std::optional<EventKey> hovered;   // under the mouse this frame
  // The visible window of the timeline, ns (CLOCK_MONOTONIC); both 0 = fit all.
  int64_t view_begin_ns = 0;
  int64_t view_end_ns = 0;
  bool follow_live = true;  // keep the live edge in view while a guest runs
  bool live = false;        // a guest is running (not a replay)
  float font_scale = 1.0f;
  // The chain diagram to bring forward (set by the cycle when its exit-handler
  // node is clicked; the chains panel shows it and clears the request).
  std::optional<traces::ChainId> show_chain;
  // Show the seed document's claims (a toggle: students never saw the seed).
  bool show_claims = false;
  // Bumped by the window whenever the controller's trace is replaced (Reset,
  // guest switch, Open): panels drop per-trace state when it changes.
  uint64_t trace_generation = 0;
};

// --- stepping through exits (the lecture's Back and Forward) ---

// Moves view.selected to the previous (direction < 0) or next (direction > 0)
// VMM KVM_RUN exit in time over all vCPUs (traces::AdjacentExit); with no
// selection, or one not in this trace, to the latest (back) or first
// (forward) exit. Brings it into view: follow_live goes off, and a window
// that does not show the whole run moves (keeping its width, widened to the
// run when narrower) so that it does. Widths are as the timeline draws them
// (display time, TraceWarp: paused stretches are short cuts). Returns false,
// changing nothing, when there is no exit that way.
bool SelectAdjacentExit(const traces::TraceData& trace, SharedView& view, int direction);
// After a step: selects the newest exit and shows the last few runs (up to
// kRecentRuns over all vCPUs, from the oldest one's KVM_RUN enter to the
// newest exit, padded 10%) — fewer when older runs lie far back in running
// time, so the runs shown stay readable. The window is chosen in the
// timeline's display time (TraceWarp): time the machine was paused (between
// single steps) counts only as the short cut the timeline draws for it.
// follow_live goes off. False when the trace has no exit yet.
inline constexpr size_t kRecentRuns = 5;
bool SelectLatestExit(const traces::TraceData& trace, SharedView& view);

// A lab's "look at" link: selects the first of `events` (time order) and
// shows them all (an exit with its whole KVM_RUN), padded 10%, in display
// time as the timeline draws it. follow_live goes off. False when empty.
bool SelectAndShow(const traces::TraceData& trace, SharedView& view,
                   const std::vector<traces::EventRef>& events);

}  // namespace kvmscope::ui

// Event keys: finding the selected event again in a newer snapshot; moving
// the selection from exit to exit with the view following.
#include "ui/view.h"

#include <algorithm>

#include "traces/pauses.h"
#include "traces/story.h"
#include "ui/timeline_math.h"

namespace kvmscope::ui {

EventKey KeyOf(const traces::Event& event) { return {event.tid, event.time_ns, event.type}; }

std::optional<traces::EventRef> Find(const traces::TraceData& trace, const EventKey& key) {
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    if (trace.tracks[t].tid != key.tid) continue;
    const traces::EventRange at = trace.Window(t, key.time_ns, key.time_ns);
    for (size_t i = 0; i < at.size(); ++i) {
      if (at.type(i) == key.type) {
        return traces::EventRef{static_cast<uint32_t>(t),
                                static_cast<uint32_t>(at.first_index() + i)};
      }
    }
  }
  return std::nullopt;
}

namespace {

// The timeline draws paused time as short cuts (TimeWarp): a window is chosen
// in that display time, where a run's width is what the student sees, and
// stored in real time (SharedView) through the same warp. Choosing it in real
// time would count seconds of think time between single steps: its 10% of
// padding alone, drawn at full width after the newest run, squeezed the runs
// into a sliver at the left.
TimeWarp WarpOf(const traces::TraceData& trace) {
  return TraceWarp(trace, traces::Pauses(trace));
}

// Shows display window [begin, end] widened by 10% of its width each side.
void ShowDisplay(const TimeWarp& warp, SharedView& view, int64_t begin, int64_t end) {
  const int64_t pad = std::max<int64_t>((end - begin) / 10, 50);
  const TimeRange real = warp.ToReal(TimeRange{begin - pad, end + pad});
  view.view_begin_ns = real.begin_ns;
  view.view_end_ns = real.end_ns;
}

void Reveal(const traces::TraceData& trace, traces::EventRef exit, SharedView& view) {
  const traces::Event& e = trace.At(exit);
  const traces::Span* run = traces::RunOfExit(trace, exit);
  view.follow_live = false;
  if (view.view_begin_ns == 0 && view.view_end_ns == 0) return;  // fit all shows it
  const TimeWarp warp = WarpOf(trace);
  const int64_t begin = warp.ToDisplay(run != nullptr ? run->begin_ns : e.time_ns);
  const int64_t end = warp.ToDisplay(e.time_ns);
  const TimeRange shown = warp.ToDisplay(TimeRange{view.view_begin_ns, view.view_end_ns});
  if (begin >= shown.begin_ns && end <= shown.end_ns) return;
  const int64_t width = shown.width_ns();
  if (width < (end - begin) * 6 / 5) {
    ShowDisplay(warp, view, begin, end);
    return;
  }
  // Same width on screen, the run in the middle.
  const int64_t middle = begin + (end - begin) / 2;
  const TimeRange real = warp.ToReal(TimeRange{middle - width / 2, middle - width / 2 + width});
  view.view_begin_ns = real.begin_ns;
  view.view_end_ns = real.end_ns;
}

}  // namespace

bool SelectAdjacentExit(const traces::TraceData& trace, SharedView& view, int direction) {
  if (direction == 0) return false;
  const std::optional<traces::EventRef> from =
      view.selected ? Find(trace, *view.selected) : std::nullopt;
  std::optional<traces::EventRef> to;
  if (from) {
    to = traces::AdjacentExit(trace, *from, direction);
  } else {
    to = direction > 0 ? traces::FirstExit(trace) : traces::LatestExit(trace);
  }
  if (!to) return false;
  view.selected = KeyOf(trace.At(*to));
  Reveal(trace, *to, view);
  return true;
}

bool SelectLatestExit(const traces::TraceData& trace, SharedView& view) {
  const std::vector<traces::EventRef> recent = traces::LatestExits(trace, kRecentRuns);
  if (recent.empty()) return false;
  view.selected = KeyOf(trace.At(recent.front()));
  view.follow_live = false;
  // Older runs join while the runs still fill a readable share of the
  // window: runs of microseconds far apart in running time would be slivers
  // (the newest run always shows). Widths are display time, as the timeline
  // draws them: paused time (between single steps) is a short cut.
  constexpr int64_t kMaxGapFactor = 20;  // window <= 20 x the time in the runs shown
  const TimeWarp warp = WarpOf(trace);
  const int64_t end = warp.ToDisplay(trace.At(recent.front()).time_ns);
  int64_t begin = end, busy = 0;
  for (const traces::EventRef& r : recent) {
    const traces::Span* run = traces::RunOfExit(trace, r);
    const int64_t exit_at = warp.ToDisplay(trace.At(r).time_ns);
    const int64_t run_begin = run != nullptr ? warp.ToDisplay(run->begin_ns) : exit_at;
    const int64_t run_ns = std::max<int64_t>(exit_at - run_begin, 1);
    const int64_t from = std::min(begin, run_begin);
    if (r != recent.front() && end - from > kMaxGapFactor * (busy + run_ns)) break;
    begin = from;
    busy += run_ns;
  }
  ShowDisplay(warp, view, begin, end);
  return true;
}

}  // namespace kvmscope::ui

namespace kvmscope::ui {

bool SelectAndShow(const traces::TraceData& trace, SharedView& view,
                   const std::vector<traces::EventRef>& events) {
  if (events.empty()) return false;
  view.selected = KeyOf(trace.At(events.front()));
  view.follow_live = false;
  const TimeWarp warp = WarpOf(trace);
  int64_t begin = INT64_MAX, end = INT64_MIN;
  for (const traces::EventRef& r : events) {
    const int64_t at = trace.At(r).time_ns;
    // An exit is shown with its KVM_RUN (RunOfExit is null for other events).
    const traces::Span* run = traces::RunOfExit(trace, r);
    begin = std::min(begin, warp.ToDisplay(run != nullptr ? run->begin_ns : at));
    end = std::max(end, warp.ToDisplay(at));
  }
  ShowDisplay(warp, view, begin, end);
  return true;
}

}  // namespace kvmscope::ui

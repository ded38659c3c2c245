// Event keys: finding the selected event again in a newer snapshot; moving
// the selection from exit to exit with the view following.
#include "ui/view.h"

#include <algorithm>

#include "traces/pauses.h"
#include "traces/story.h"

namespace kvmscope::ui {

EventKey KeyOf(const traces::Event& event) { return {event.tid, event.time_ns, event.type}; }

std::optional<traces::EventRef> Find(const traces::TraceData& trace, const EventKey& key) {
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    if (trace.tracks[t].tid != key.tid) continue;
    std::span<const traces::Event> at = trace.Window(t, key.time_ns, key.time_ns);
    for (const traces::Event& e : at) {
      if (e.type == key.type) {
        return traces::EventRef{static_cast<uint32_t>(t),
                                static_cast<uint32_t>(&e - trace.tracks[t].events.data())};
      }
    }
  }
  return std::nullopt;
}

namespace {

// The window [begin, end] widened by 10% of its width on each side.
void ShowWindow(SharedView& view, int64_t begin_ns, int64_t end_ns) {
  const int64_t pad = std::max<int64_t>((end_ns - begin_ns) / 10, 50);
  view.view_begin_ns = begin_ns - pad;
  view.view_end_ns = end_ns + pad;
}

void Reveal(const traces::TraceData& trace, traces::EventRef exit, SharedView& view) {
  const traces::Event& e = trace.At(exit);
  const traces::Span* run = traces::RunOfExit(trace, exit);
  const int64_t begin = run != nullptr ? run->begin_ns : e.time_ns;
  const int64_t end = e.time_ns;
  view.follow_live = false;
  if (view.view_begin_ns == 0 && view.view_end_ns == 0) return;  // fit all shows it
  if (begin >= view.view_begin_ns && end <= view.view_end_ns) return;
  const int64_t width = view.view_end_ns - view.view_begin_ns;
  if (width < (end - begin) * 6 / 5) {
    ShowWindow(view, begin, end);
    return;
  }
  // Same width, the run in the middle.
  const int64_t middle = begin + (end - begin) / 2;
  view.view_begin_ns = middle - width / 2;
  view.view_end_ns = view.view_begin_ns + width;
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
  // window: between two single steps the user thinks for seconds, and runs
  // of microseconds a second apart would be slivers (the newest run always
  // shows).
  // Paused time does not count: the timeline draws it as a short cut.
  constexpr int64_t kMaxGapFactor = 20;  // window <= 20 x the time in the runs shown
  const traces::Pauses pauses(trace);
  auto paused_in = [&](int64_t from, int64_t to) {
    int64_t sum = 0;
    for (const traces::TimeInterval& c : pauses.cuts()) {
      sum += std::max<int64_t>(0, std::min(to, c.end_ns) - std::max(from, c.begin_ns));
    }
    return sum;
  };
  const int64_t end = trace.At(recent.front()).time_ns;
  int64_t begin = end, busy = 0;
  for (const traces::EventRef& r : recent) {
    const traces::Span* run = traces::RunOfExit(trace, r);
    const int64_t run_begin = run != nullptr ? run->begin_ns : trace.At(r).time_ns;
    const int64_t run_ns = std::max<int64_t>(trace.At(r).time_ns - run_begin, 1);
    const bool first = r == recent.front();
    const int64_t from = std::min(begin, run_begin);
    if (!first && end - from - paused_in(from, end) > kMaxGapFactor * (busy + run_ns)) break;
    begin = std::min(begin, run_begin);
    busy += run_ns;
  }
  ShowWindow(view, begin, end);
  return true;
}

}  // namespace kvmscope::ui

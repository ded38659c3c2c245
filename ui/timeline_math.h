// The timeline's arithmetic as pure functions (Tracy's way): time <-> pixel,
// zoom around the cursor, pan, fit, follow the live edge, axis ticks, and the
// folding of items narrower than a few pixels into "N events" marks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "traces/pauses.h"
#include "traces/trace.h"

namespace kvmscope::ui {

// A window of time, ns (CLOCK_MONOTONIC). Both 0 in SharedView means "fit all".
struct TimeRange {
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  int64_t width_ns() const { return end_ns - begin_ns; }
  bool operator==(const TimeRange&) const = default;
};

inline constexpr int64_t kMinViewNs = 100;  // the deepest zoom: 100 ns across the canvas
// The widest window zoom accepts (about 11.6 days): far beyond any trace,
// far from int64 overflow.
inline constexpr int64_t kMaxViewNs = 1'000'000'000'000'000;
inline constexpr double kFitMargin = 0.02;  // fit all leaves 2% of the width each side
inline constexpr double kFoldPx = 3.0;      // items closer than this fold together

// x is in pixels from the left edge of the data area, which is width_px wide.
double TimeToX(int64_t t_ns, TimeRange view, double width_px);
int64_t XToTime(double x, TimeRange view, double width_px);

// The window `factor` times as wide (factor < 1 zooms in), with anchor_ns at
// the same x as before. The width is clamped to [kMinViewNs, max_width_ns];
// the anchor keeps its place when clamped too.
TimeRange ZoomAround(TimeRange view, int64_t anchor_ns, double factor,
                     int64_t max_width_ns = kMaxViewNs);
// The window after the content was dragged dx_px to the right (it shows
// earlier times): the point under the mouse stays under the mouse.
TimeRange Pan(TimeRange view, double dx_px, double width_px);
// `view` moved (not resized) so that it shows at least a tenth of its width,
// or all of `bounds` if that is narrower, of `bounds`: panning cannot lose
// the trace off screen.
TimeRange KeepNear(TimeRange view, TimeRange bounds);
// [first, last] widened by `margin` of its width on each side; at least
// kMinViewNs wide, centred, when first == last.
TimeRange FitRange(int64_t first_ns, int64_t last_ns, double margin = kFitMargin);
// The same width, moved so that newest_ns sits `margin` of the width before
// the right edge: the live edge stays in view while a guest runs.
TimeRange FollowLive(TimeRange view, int64_t newest_ns, double margin = kFitMargin);

// Axis ticks: the smallest 1, 2 or 5 x 10^k ns step at least min_px apart.
int64_t TickStep(double ns_per_px, double min_px);
// "+3.05 ms": an offset from the trace's start, in the unit of the larger of
// the offset, magnitude_ns (the largest offset on the axis, so that all ticks
// share a unit) and the step, with the decimals the step needs.
std::string FormatTick(int64_t offset_ns, int64_t step_ns, int64_t magnitude_ns = 0);

// One mark to draw: `count` items from index `first` (of the sequence folded),
// spanning [x0, x1] px. count == 1: a single item drawn as itself.
struct FoldMark {
  double x0 = 0;
  double x1 = 0;
  uint32_t count = 0;
  uint32_t first = 0;
  bool operator==(const FoldMark&) const = default;
};

// Folds n items sorted by begin (and by end: they do not overlap, as spans of
// one kind and instants do). An item at least min_px wide is its own mark;
// a narrow item starts a mark that takes every following item beginning less
// than min_px after it (a wide one excepted). Marks therefore begin at least
// min_px apart, so a window of W px holds at most about W / min_px + 1 of
// them whatever n is, and the counts sum to n. Each mark costs a search that
// starts from a guess: never a walk over the items it folds.
template <typename BeginOf, typename EndOf>
void FoldInto(std::vector<FoldMark>& out, size_t n, BeginOf begin_of, EndOf end_of, TimeRange view,
              double width_px, double min_px = kFoldPx) {
  if (n == 0 || width_px <= 0 || view.width_ns() <= 0) return;
  const double ns_per_px = static_cast<double>(view.width_ns()) / width_px;
  const double min_ns = min_px * ns_per_px;
  auto x_of = [&](int64_t t) { return static_cast<double>(t - view.begin_ns) / ns_per_px; };
  auto narrow = [&](size_t i) { return static_cast<double>(end_of(i) - begin_of(i)) < min_ns; };
  size_t i = 0, hint = 1;
  while (i < n) {
    const int64_t begin = begin_of(i);
    if (!narrow(i)) {
      out.push_back({x_of(begin), x_of(end_of(i)), 1, static_cast<uint32_t>(i)});
      ++i;
      continue;
    }
    // The first item at or past begin + min_ns: everything before it folds.
    // Guessed from the last fold's size (density changes slowly), then
    // galloping from the guess and bisecting: a few probes near the answer,
    // so a dense trace costs a few cache misses per mark, not log n.
    const double limit = static_cast<double>(begin - view.begin_ns) + min_ns;
    auto before_limit = [&](size_t k) {
      return static_cast<double>(begin_of(k) - view.begin_ns) < limit;
    };
    size_t lo = i + 1, hi = n;  // the answer is in [lo, hi]
    const size_t guess = std::min(n, i + std::max<size_t>(hint, 1));
    size_t step = 1;
    if (guess < n && before_limit(guess)) {
      lo = guess + 1;
      while (lo + step < n && before_limit(lo + step)) {
        lo += step + 1;
        step *= 2;
      }
      hi = std::min(n, lo + step);
    } else {
      hi = guess;
      while (hi > lo + step && !before_limit(hi - step)) {
        hi -= step;
        step *= 2;
      }
      if (hi > lo + step) lo = hi - step + 1;
    }
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (before_limit(mid)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    size_t j = lo;
    if (j - 1 > i && !narrow(j - 1)) --j;  // a wide item is drawn as itself
    int64_t end = std::max(end_of(i), end_of(j - 1));
    out.push_back({x_of(begin), x_of(end), static_cast<uint32_t>(j - i), static_cast<uint32_t>(i)});
    hint = j - i;
    i = j;
  }
}

// FoldInto over plain begin/end times (ends.size() == begins.size()).
std::vector<FoldMark> Fold(std::span<const int64_t> begins, std::span<const int64_t> ends,
                           TimeRange view, double width_px, double min_px = kFoldPx);
// Over instants (begin == end == time_ns) and over spans; `first` indexes
// the span given.
void FoldEvents(traces::EventRange events, TimeRange view, double width_px,
                std::vector<FoldMark>& out, double min_px = kFoldPx);
void FoldSpans(std::span<const traces::Span> spans, TimeRange view, double width_px,
               std::vector<FoldMark>& out, double min_px = kFoldPx);

// --- labels that never overlap ---

// A label that wants to sit centred on x (px from the data area's left),
// width px wide; the higher the priority (a bar's duration), the sooner it
// gets its place.
struct LabelCandidate {
  double x = 0;
  double width = 0;
  double priority = 0;
  uint32_t id = 0;  // the caller's: which bar
};
struct PlacedLabel {
  double x0 = 0;
  double x1 = 0;
  uint32_t id = 0;
  bool operator==(const PlacedLabel&) const = default;
};
// Places labels by priority, largest first: each centred on its x, moved
// inside [0, width_px] when it sticks out, and kept only if it is at least
// gap_px clear of every label kept before it. So no two returned labels
// overlap, the biggest bars are labelled first, and at most
// width_px / (narrowest + gap) labels come back. Returned left to right.
std::vector<PlacedLabel> PlaceLabels(std::vector<LabelCandidate> candidates, double width_px,
                                     double gap_px);

// --- paused time drawn as short cuts ---

// Real time ↔ display time: display time runs like real time except inside a
// cut (a stretch when the machine was paused), which takes at most cut_ns of
// it. So a second of think time between two single steps is drawn as a short
// hatched gap and the runs on either side stay readable. Monotonic and
// continuous both ways; the identity when there are no cuts.
class TimeWarp {
 public:
  TimeWarp() = default;
  // cuts: sorted, disjoint (traces::Pauses::cuts()).
  TimeWarp(std::span<const traces::TimeInterval> cuts, int64_t cut_ns);
  bool empty() const { return m_cuts.empty(); }
  int64_t ToDisplay(int64_t t_ns) const;
  int64_t ToReal(int64_t display_ns) const;
  TimeRange ToDisplay(TimeRange real) const { return {ToDisplay(real.begin_ns), ToDisplay(real.end_ns)}; }
  TimeRange ToReal(TimeRange display) const {
    return {ToReal(display.begin_ns), ToReal(display.end_ns)};
  }

 private:
  struct Cut {
    int64_t begin = 0, end = 0;  // real
    int64_t shown = 0;           // display width
    int64_t display_begin = 0;
  };
  std::vector<Cut> m_cuts;
};

// The warp the timeline draws `trace` with: each cut about as wide as two
// typical (median) KVM_RUNs, between 1 µs and 1 ms. Anything that places a
// window for the timeline (SelectLatestExit, SelectAdjacentExit) computes it
// the same way, so the window it chose is the window drawn.
TimeWarp TraceWarp(const traces::TraceData& trace, const traces::Pauses& pauses);

}  // namespace kvmscope::ui

// The timeline's pure arithmetic: time <-> pixel, zoom, pan, fit, follow,
// ticks and folding (see timeline_math.h). Times are int64 ns; positions are
// computed in double from int64 differences, so nothing loses precision at
// CLOCK_MONOTONIC magnitudes (~1e13 ns).
#include "ui/timeline_math.h"

#include <fmt/format.h>

#include <cmath>

namespace kvmscope::ui {

double TimeToX(int64_t t_ns, TimeRange view, double width_px) {
  if (view.width_ns() <= 0) return 0;
  return static_cast<double>(t_ns - view.begin_ns) * width_px /
         static_cast<double>(view.width_ns());
}

int64_t XToTime(double x, TimeRange view, double width_px) {
  if (width_px <= 0) return view.begin_ns;
  return view.begin_ns + std::llround(x * static_cast<double>(view.width_ns()) / width_px);
}

TimeRange ZoomAround(TimeRange view, int64_t anchor_ns, double factor, int64_t max_width_ns) {
  const int64_t width = std::max<int64_t>(view.width_ns(), 1);
  if (!(factor > 0) || !std::isfinite(factor)) factor = 1;
  const double max_width = static_cast<double>(std::max(max_width_ns, kMinViewNs));
  const double new_width =
      std::clamp(static_cast<double>(width) * factor, static_cast<double>(kMinViewNs), max_width);
  // The anchor's fraction of the way across the window stays the same.
  const double fraction =
      static_cast<double>(anchor_ns - view.begin_ns) / static_cast<double>(width);
  const int64_t begin = anchor_ns - std::llround(fraction * new_width);
  return {begin, begin + std::llround(new_width)};
}

TimeRange Pan(TimeRange view, double dx_px, double width_px) {
  if (width_px <= 0) return view;
  const int64_t shift = std::llround(-dx_px * static_cast<double>(view.width_ns()) / width_px);
  return {view.begin_ns + shift, view.end_ns + shift};
}

TimeRange KeepNear(TimeRange view, TimeRange bounds) {
  const int64_t keep = std::min(view.width_ns() / 10, std::max<int64_t>(bounds.width_ns(), 0));
  int64_t shift = 0;
  if (view.end_ns < bounds.begin_ns + keep) {
    shift = bounds.begin_ns + keep - view.end_ns;
  } else if (view.begin_ns > bounds.end_ns - keep) {
    shift = bounds.end_ns - keep - view.begin_ns;
  }
  return {view.begin_ns + shift, view.end_ns + shift};
}

TimeRange FitRange(int64_t first_ns, int64_t last_ns, double margin) {
  if (last_ns < first_ns) std::swap(first_ns, last_ns);
  const int64_t pad = std::llround(static_cast<double>(last_ns - first_ns) * std::max(margin, 0.0));
  TimeRange r{first_ns - pad, last_ns + pad};
  if (r.width_ns() < kMinViewNs) {
    const int64_t mid = first_ns + (last_ns - first_ns) / 2;
    r = {mid - kMinViewNs / 2, mid - kMinViewNs / 2 + kMinViewNs};
  }
  return r;
}

TimeRange FollowLive(TimeRange view, int64_t newest_ns, double margin) {
  const int64_t width = view.width_ns();
  const int64_t end = newest_ns + std::llround(static_cast<double>(width) * margin);
  return {end - width, end};
}

int64_t TickStep(double ns_per_px, double min_px) {
  const double want = std::max(ns_per_px * min_px, 1.0);
  int64_t decade = 1;
  while (true) {
    for (int64_t m : {1, 2, 5}) {
      if (static_cast<double>(m * decade) >= want) return m * decade;
    }
    if (decade > INT64_MAX / 100) return decade * 10;
    decade *= 10;
  }
}

std::string FormatTick(int64_t offset_ns, int64_t step_ns, int64_t magnitude_ns) {
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "µs"}, {1, "ns"}};
  step_ns = std::max<int64_t>(step_ns, 1);
  const int64_t size = std::max({offset_ns < 0 ? -offset_ns : offset_ns, magnitude_ns, step_ns});
  Unit unit = kUnits[3];
  for (const Unit& u : kUnits) {
    if (size >= u.ns) {
      unit = u;
      break;
    }
  }
  // Enough decimals to tell one tick from the next.
  int decimals = 0;
  if (step_ns < unit.ns) {
    decimals = static_cast<int>(
        std::ceil(std::log10(static_cast<double>(unit.ns) / static_cast<double>(step_ns)) - 1e-9));
  }
  const double value = static_cast<double>(offset_ns) / static_cast<double>(unit.ns);
  return fmt::format("{}{:.{}f} {}", offset_ns < 0 ? "" : "+", value, decimals, unit.name);
}

std::vector<FoldMark> Fold(std::span<const int64_t> begins, std::span<const int64_t> ends,
                           TimeRange view, double width_px, double min_px) {
  std::vector<FoldMark> out;
  const size_t n = std::min(begins.size(), ends.size());
  FoldInto(
      out, n, [&](size_t i) { return begins[i]; }, [&](size_t i) { return ends[i]; }, view,
      width_px, min_px);
  return out;
}

void FoldEvents(traces::EventRange events, TimeRange view, double width_px,
                std::vector<FoldMark>& out, double min_px) {
  auto time = [&](size_t i) { return events.time_ns(i); };
  FoldInto(out, events.size(), time, time, view, width_px, min_px);
}

void FoldSpans(std::span<const traces::Span> spans, TimeRange view, double width_px,
               std::vector<FoldMark>& out, double min_px) {
  FoldInto(
      out, spans.size(), [&](size_t i) { return spans[i].begin_ns; },
      [&](size_t i) { return spans[i].end_ns; }, view, width_px, min_px);
}

std::vector<PlacedLabel> PlaceLabels(std::vector<LabelCandidate> candidates, double width_px,
                                     double gap_px) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const LabelCandidate& a, const LabelCandidate& b) {
                     return a.priority > b.priority;
                   });
  std::vector<PlacedLabel> kept;  // sorted by x0, disjoint
  for (const LabelCandidate& c : candidates) {
    if (!(c.width > 0) || c.width > width_px) continue;
    const double x0 = std::clamp(c.x - c.width / 2, 0.0, width_px - c.width);
    const PlacedLabel label{x0, x0 + c.width, c.id};
    auto next = std::lower_bound(kept.begin(), kept.end(), label,
                                 [](const PlacedLabel& a, const PlacedLabel& b) { return a.x0 < b.x0; });
    const bool clear_right = next == kept.end() || label.x1 + gap_px <= next->x0;
    const bool clear_left = next == kept.begin() || std::prev(next)->x1 + gap_px <= label.x0;
    if (clear_left && clear_right) kept.insert(next, label);
  }
  return kept;
}

TimeWarp::TimeWarp(std::span<const traces::TimeInterval> cuts, int64_t cut_ns) {
  int64_t removed = 0;  // real time taken out before the cut
  for (const traces::TimeInterval& c : cuts) {
    if (c.end_ns <= c.begin_ns) continue;
    if (!m_cuts.empty() && c.begin_ns < m_cuts.back().end) continue;  // not disjoint: skip
    const int64_t shown = std::clamp<int64_t>(cut_ns, 1, c.duration_ns());
    m_cuts.push_back({c.begin_ns, c.end_ns, shown, c.begin_ns - removed});
    removed += c.duration_ns() - shown;
  }
}

int64_t TimeWarp::ToDisplay(int64_t t) const {
  auto after = std::upper_bound(m_cuts.begin(), m_cuts.end(), t,
                                [](int64_t v, const Cut& c) { return v < c.begin; });
  if (after == m_cuts.begin()) return t;
  const Cut& c = *std::prev(after);
  const int64_t removed_before = c.begin - c.display_begin;
  if (t < c.end) {
    const double f = static_cast<double>(t - c.begin) / static_cast<double>(c.end - c.begin);
    return c.display_begin + std::llround(f * static_cast<double>(c.shown));
  }
  return t - removed_before - (c.end - c.begin - c.shown);
}

int64_t TimeWarp::ToReal(int64_t d) const {
  auto after = std::upper_bound(m_cuts.begin(), m_cuts.end(), d,
                                [](int64_t v, const Cut& c) { return v < c.display_begin; });
  if (after == m_cuts.begin()) return d;
  const Cut& c = *std::prev(after);
  const int64_t removed_before = c.begin - c.display_begin;
  if (d < c.display_begin + c.shown) {
    const double f = static_cast<double>(d - c.display_begin) / static_cast<double>(c.shown);
    return c.begin + std::llround(f * static_cast<double>(c.end - c.begin));
  }
  return d + removed_before + (c.end - c.begin - c.shown);
}

TimeWarp TraceWarp(const traces::TraceData& trace, const traces::Pauses& pauses) {
  if (pauses.cuts().empty()) return TimeWarp();
  std::vector<int64_t> runs;
  for (const traces::Track& t : trace.tracks) {
    for (const traces::Span& r : t.spans[size_t(traces::SpanKind::Run)]) {
      if (r.begin != traces::kNoEvent && r.end != traces::kNoEvent) runs.push_back(r.duration_ns());
    }
  }
  int64_t typical = 10'000;
  if (!runs.empty()) {
    auto middle = runs.begin() + static_cast<ptrdiff_t>(runs.size() / 2);
    std::nth_element(runs.begin(), middle, runs.end());
    typical = *middle;
  }
  return TimeWarp(pauses.cuts(), std::clamp<int64_t>(2 * typical, 1'000, 1'000'000));
}

}  // namespace kvmscope::ui

// The timeline's overlays: lane labels, labels on KVM_RUN bars (the biggest
// first, never overlapping), counts on folds, paused stretches as hatched
// cuts, the colour legend, and tooltips kept inside the timeline's own rect.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "traces/fault_context.h"
#include "traces/kernel_event.h"
#include "traces/stats.h"
#include "ui/timeline.h"
#include "ui/timeline_internal.h"

namespace kvmscope::ui {
namespace {

using timeline_detail::kLabelPad;
using timeline_detail::kLanePad;
using timeline_detail::Offset;
using timeline_detail::SpanLabel;
using timeline_detail::TextOn;

constexpr uint32_t kBreakdownLimit = 4096;  // folds up to this size list their kinds
constexpr size_t kLabelScan = 20000;        // visible KVM_RUNs searched for the biggest
constexpr size_t kLabelCandidates = 32;     // the biggest bars offered a label
constexpr float kTooltipGap = 16.0f;        // between the cursor and its tooltip, px

std::string_view RowCaption(RowKind kind) {
  switch (kind) {
    case RowKind::Run: return "KVM_RUN";
    case RowKind::VmmHandling: return "VMM";
    case RowKind::KernelRun: return "kernel";
    case RowKind::Guest: return "guest";
    case RowKind::Events: return "events";
  }
  return "";
}

// Tooltips open away from the cursor towards the middle of the timeline,
// so they stay over the timeline and never cover the panes beside it.
void PlaceTooltip(const TimelinePanel::Frame& f) {
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const bool left = mouse.x > (f.data_x0 + f.data_x1) / 2;
  const bool above = mouse.y > (f.min.y + f.max.y) / 2;
  const ImVec2 pos(mouse.x + (left ? -kTooltipGap : kTooltipGap),
                   mouse.y + (above ? -kTooltipGap : kTooltipGap));
  ImGui::SetNextWindowPos(pos, ImGuiCond_Always, ImVec2(left ? 1.0f : 0.0f, above ? 1.0f : 0.0f));
}

}  // namespace

void TimelinePanel::DrawLabels(const std::vector<Lane>& lanes, const traces::TraceData& trace,
                               const Frame& f) {
  const ImVec2 min(f.min.x, f.data_y0), max(f.data_x0, f.data_y1);
  f.dl->PushClipRect(min, max, true);
  const float caption = f.font;  // as large as body text, full contrast
  for (size_t i = 0; i < m_layout.size() && i < lanes.size(); ++i) {
    const LaneGeometry& g = m_layout[i];
    if (g.y1 < f.data_y0 || g.y0 > f.data_y1) continue;
    f.dl->AddText(ImVec2(f.min.x + kLabelPad, g.y0 + kLanePad), f.pal->text,
                  lanes[i].label.c_str());
    for (const RowGeometry& r : g.rows) {
      std::string text = lanes[i].kind == LaneKind::Vcpu
                             ? std::string(RowCaption(r.kind))
                             : fmt::format("tid {}", trace.tracks[r.track].tid);
      const ImVec2 size = ImGui::GetFont()->CalcTextSizeA(caption, FLT_MAX, 0, text.c_str());
      f.dl->AddText(ImGui::GetFont(), caption,
                    ImVec2(f.data_x0 - kLabelPad - size.x, (r.y0 + r.y1 - size.y) / 2),
                    f.pal->text, text.c_str());
    }
    if (f.hovered && m_mouse.x < f.data_x0 && m_mouse.y >= g.y0 && m_mouse.y < g.y1) {
      PlaceTooltip(f);
      ImGui::BeginTooltip();
      for (uint32_t t : lanes[i].tracks) ImGui::TextUnformatted(trace.tracks[t].Name().c_str());
      ImGui::EndTooltip();
    }
  }
  f.dl->PopClipRect();
}


void TimelinePanel::ShowTooltip(const traces::TraceData& trace, const Frame& f) const {
  if (m_hit.kind == HitKind::None) return;
  const traces::Track& track = trace.tracks[m_hit.track];
  PlaceTooltip(f);
  ImGui::BeginTooltip();
  if (m_hit.kind == HitKind::Span) {
    const traces::Span& s = track.spans[size_t(m_hit.span_kind)][m_hit.index];
    std::string head = fmt::format("{}  {}", traces::SpanKindName(m_hit.span_kind),
                                   traces::FormatStatsDuration(s.duration_ns()));
    ImGui::TextUnformatted(head.c_str());
    std::string from = s.begin == traces::kNoEvent
                           ? "began before the trace"
                           : "from: " + traces::DescribeEventAt(trace, {m_hit.track, s.begin});
    std::string to = s.end == traces::kNoEvent
                         ? "to: still open (or its end was lost)"
                         : "to: " + traces::DescribeEventAt(trace, {m_hit.track, s.end});
    ImGui::TextUnformatted(from.c_str());
    ImGui::TextUnformatted(to.c_str());
    ImGui::TextDisabled("%s, %s", Offset(trace, s.begin_ns).c_str(), track.Name().c_str());
  } else if (m_hit.kind == HitKind::Event) {
    const traces::Event& e = track.events[m_hit.index];
    ImGui::TextUnformatted(traces::DescribeEventAt(trace, {m_hit.track, m_hit.index}).c_str());
    ImGui::TextDisabled("%s, %s", Offset(trace, e.time_ns).c_str(), track.Name().c_str());
  } else {
    const bool spans = m_hit.row != RowKind::Events;
    std::string head = fmt::format("{} {} in {}", m_hit.count,
                                   spans ? traces::SpanKindName(m_hit.span_kind) : "events",
                                   traces::FormatStatsDuration(m_hit.end_ns - m_hit.begin_ns));
    ImGui::TextUnformatted(head.c_str());
    if (!spans && m_hit.count <= kBreakdownLimit) {
      // Which kinds folded here (bounded: a fold this small is cheap to count).
      std::array<uint32_t, traces::kEventTypes> counts{};
      for (uint32_t i = 0; i < m_hit.count; ++i)
        ++counts[track.events.type(m_hit.index + i).index()];
      for (int shown = 0; shown < 6; ++shown) {
        auto top = std::max_element(counts.begin(), counts.end());
        if (*top == 0) break;
        auto type = traces::EventType::FromIndex(static_cast<size_t>(top - counts.begin()));
        ImGui::Text("%6u %s", *top, std::string(traces::EventTypeName(type)).c_str());
        *top = 0;
      }
    }
    ImGui::TextDisabled("click or scroll to zoom in");
  }
  ImGui::EndTooltip();
}

void TimelinePanel::DrawRunLabels(const traces::TraceData& trace, const RowGeometry& row,
                                  std::span<const traces::Span> spans, uint32_t base,
                                  const Frame& f) {
  // The candidates: the biggest visible KVM_RUNs (all of them searched while
  // that is cheap, else only those drawn as themselves).
  std::vector<uint32_t> picks;
  if (spans.size() <= kLabelScan) {
    picks.resize(spans.size());
    for (uint32_t i = 0; i < picks.size(); ++i) picks[i] = i;
  } else {
    for (const FoldMark& m : m_marks) {
      if (m.count == 1) picks.push_back(m.first);
    }
  }
  auto longer = [&](uint32_t a, uint32_t b) {
    return spans[a].duration_ns() > spans[b].duration_ns();
  };
  if (picks.size() > kLabelCandidates) {
    std::nth_element(picks.begin(), picks.begin() + kLabelCandidates, picks.end(), longer);
    picks.resize(kLabelCandidates);
  }
  const float size = std::min(f.font, row.y1 - row.y0);
  const float pad = 4.0f;
  // Whether [a, b] (px from the data area's left) is clear of every mark
  // drawn in this row except the bar of span `self` (a tag goes beside its
  // bar, never over the thin bars next to it). Marks are sorted by x.
  auto clear = [&](double a, double b, uint32_t self) {
    if (a < 0 || b > m_data_w) return false;
    auto it = std::partition_point(m_marks.begin(), m_marks.end(),
                                   [&](const FoldMark& m) { return m.x0 <= b; });
    while (it != m_marks.begin()) {
      const FoldMark& m = *--it;
      const double right = std::max(m.x1, m.x0 + (m.count == 1 ? 2.0 : kFoldPx));
      if (right < a - kFoldPx) break;  // earlier marks end earlier still
      if (right >= a && !(m.count == 1 && m.first == self)) return false;
    }
    return true;
  };
  std::vector<LabelCandidate> candidates;
  std::vector<std::string> texts;
  std::vector<bool> inside;
  std::vector<uint32_t> span_of;  // by candidate id
  for (uint32_t i : picks) {
    const traces::Span& s = spans[i];
    const std::string reason = SpanLabel(trace, row.track, traces::SpanKind::Run, s);
    if (reason.empty()) continue;
    const float x0 = std::max(TimeToScreenX(s.begin_ns), f.data_x0);
    const float x1 = std::min(TimeToScreenX(s.end_ns), f.data_x1);
    if (x1 < f.data_x0 || x0 > f.data_x1) continue;
    const float reason_w = ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, reason.c_str()).x;
    const bool fits = reason_w + 2 * pad <= x1 - x0;
    std::string text = fits ? reason
                            : fmt::format("{} {}", reason,
                                          traces::FormatStatsDuration(s.duration_ns()));
    const float w = fits ? reason_w
                         : ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, text.c_str()).x;
    double centre = (x0 + x1) / 2 - f.data_x0;
    if (!fits) {
      // Beside the bar: to its right, else to its left, where nothing is drawn.
      const double bar0 = TimeToScreenX(s.begin_ns) - f.data_x0;
      const double bar1 = std::max<double>(TimeToScreenX(s.end_ns) - f.data_x0, bar0 + 2);
      const double tag = w + 2 * pad, gap = 2;
      if (clear(bar1 + gap, bar1 + gap + tag, i)) {
        centre = bar1 + gap + tag / 2;
      } else if (clear(bar0 - gap - tag, bar0 - gap, i)) {
        centre = bar0 - gap - tag / 2;
      } else {
        continue;  // no room beside it: the tooltip tells
      }
    }
    candidates.push_back({centre, w + 2 * pad,
                          static_cast<double>(s.duration_ns()),
                          static_cast<uint32_t>(texts.size())});
    texts.push_back(std::move(text));
    inside.push_back(fits);
    span_of.push_back(i);
  }
  const ImU32 bar = f.pal->span[size_t(traces::SpanKind::Run)];
  const ImU32 on_bar = f.pal->span_label[size_t(traces::SpanKind::Run)];
  for (const PlacedLabel& p : PlaceLabels(std::move(candidates), m_data_w, pad)) {
    const float x0 = f.data_x0 + static_cast<float>(p.x0);
    const float x1 = f.data_x0 + static_cast<float>(p.x1);
    const std::string& text = texts[p.id];
    const ImVec2 ts = ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, text.c_str());
    const float ty = (row.y0 + row.y1 - ts.y) / 2;
    if (inside[p.id]) {
      f.dl->AddText(ImGui::GetFont(), size, ImVec2(x0 + pad, ty), on_bar, text.c_str());
    } else {
      // A tag beside a bar too thin for its words: canvas-coloured, outlined
      // in the bar's colour, so it reads as a label and not as a longer bar.
      f.dl->AddRectFilled(ImVec2(x0, row.y0), ImVec2(x1, row.y1), f.pal->background);
      f.dl->AddRect(ImVec2(x0, row.y0), ImVec2(x1, row.y1), bar, 0, 0, 1.5f);
      f.dl->AddText(ImGui::GetFont(), size, ImVec2(x0 + pad, ty), f.pal->text, text.c_str());
    }
    m_run_labels.push_back({row.track, base + span_of[p.id], x0, x1, row.y0, row.y1, text});
  }
}

void TimelinePanel::DrawFoldCount(uint32_t count, float x0, float x1, float y0, float y1,
                                  ImU32 fill, const Frame& f) {
  const float size = std::min(f.font, y1 - y0);
  std::string text = fmt::format("{} events", traces::FormatCount(count));
  ImVec2 ts = ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, text.c_str());
  if (ts.x + 4 > x1 - x0) {
    text = traces::FormatCount(count);
    ts = ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, text.c_str());
    if (ts.x + 4 > x1 - x0) return;
  }
  // On a plate of the fold's own colour: the boxes under it may be of many kinds.
  const ImVec2 at((x0 + x1 - ts.x) / 2, (y0 + y1 - ts.y) / 2);
  f.dl->AddRectFilled(ImVec2(at.x - 2, y0), ImVec2(at.x + ts.x + 2, y1), fill);
  f.dl->AddText(ImGui::GetFont(), size, at, TextOn(fill), text.c_str());
  ++m_fold_counts;
}

void TimelinePanel::UpdatePauses(const traces::TraceData& trace, const SharedView& view) {
  const size_t events = trace.EventCount();
  if (&trace == m_pauses_trace && events == m_pauses_events &&
      view.trace_generation == m_pauses_generation) {
    return;
  }
  m_pauses = traces::Pauses(trace);
  // A cut is drawn about as wide as two typical KVM_RUNs: visible, and the
  // runs either side stay readable (the same warp SharedView's windows use).
  m_warp = TraceWarp(trace, m_pauses);
  m_pauses_trace = &trace;
  m_pauses_events = events;
  m_pauses_generation = view.trace_generation;
}

void TimelinePanel::DrawPauses(const Frame& f) {
  const ImU32 hatch = f.pal->grid;
  for (const traces::TimeInterval& cut : m_pauses.cuts()) {
    if (cut.end_ns < m_real.begin_ns || cut.begin_ns > m_real.end_ns) continue;
    const float x0 = std::max(TimeToScreenX(cut.begin_ns), f.data_x0);
    const float x1 = std::min(TimeToScreenX(cut.end_ns), f.data_x1);
    if (x1 - x0 < 3) continue;
    const float y0 = f.data_y0, y1 = f.data_y1;
    f.dl->AddRectFilled(ImVec2(x0, y0), ImVec2(x1, y1), f.pal->lane_alt);
    f.dl->PushClipRect(ImVec2(x0, y0), ImVec2(x1, y1), true);
    const float step = std::max(8.0f, std::round(f.font * 0.6f));
    for (float x = x0 - (y1 - y0); x < x1; x += step) {
      f.dl->AddLine(ImVec2(x, y1), ImVec2(x + (y1 - y0), y0), hatch, 1.0f);
    }
    f.dl->PopClipRect();
    f.dl->AddLine(ImVec2(x0, y0), ImVec2(x0, y1), f.pal->text_dim, 1.0f);
    f.dl->AddLine(ImVec2(x1, y0), ImVec2(x1, y1), f.pal->text_dim, 1.0f);
  }
}

void TimelinePanel::DrawPauseLabels(const Frame& f) {
  // "paused 480 ms" over each cut, in the axis strip (a cut is drawn narrow,
  // its words need not be): the longest pauses first, never overlapping.
  std::vector<LabelCandidate> candidates;
  std::vector<std::string> texts;
  for (const traces::TimeInterval& cut : m_pauses.cuts()) {
    if (cut.end_ns < m_real.begin_ns || cut.begin_ns > m_real.end_ns) continue;
    const float x0 = std::max(TimeToScreenX(cut.begin_ns), f.data_x0);
    const float x1 = std::min(TimeToScreenX(cut.end_ns), f.data_x1);
    if (x1 - x0 < 3) continue;
    texts.push_back("paused " + traces::FormatStatsDuration(cut.duration_ns()));
    candidates.push_back({(x0 + x1) / 2 - f.data_x0, ImGui::CalcTextSize(texts.back().c_str()).x + 8,
                          static_cast<double>(cut.duration_ns()),
                          static_cast<uint32_t>(texts.size() - 1)});
  }
  if (candidates.empty()) return;
  f.dl->PushClipRect(ImVec2(f.data_x0, f.min.y), ImVec2(f.max.x, f.data_y0), true);
  for (const PlacedLabel& p : PlaceLabels(std::move(candidates), m_data_w, 4)) {
    const float x0 = f.data_x0 + static_cast<float>(p.x0);
    const float x1 = f.data_x0 + static_cast<float>(p.x1);
    f.dl->AddRectFilled(ImVec2(x0, f.min.y), ImVec2(x1, f.data_y0 - 1), f.pal->background);
    f.dl->AddRect(ImVec2(x0, f.min.y), ImVec2(x1, f.data_y0 - 1), f.pal->text_dim);
    f.dl->AddText(ImVec2(x0 + 4, f.min.y + 2), f.pal->text, texts[p.id].c_str());
  }
  f.dl->PopClipRect();
}

void TimelinePanel::BuildLegend(const traces::TraceData& trace, const Frame& f) {
  m_legend.clear();
  std::array<bool, traces::kSpanKinds> spans{};
  bool vmm_events = false;
  for (const traces::Track& t : trace.tracks) {
    for (size_t k = 0; k < traces::kSpanKinds; ++k) spans[k] = spans[k] || !t.spans[k].empty();
    vmm_events = vmm_events || (!t.events.empty() && t.kind != traces::TrackKind::System);
  }
  static constexpr std::pair<traces::SpanKind, const char*> kSpans[] = {
      {traces::SpanKind::Run, "KVM_RUN"},
      {traces::SpanKind::VmmHandling, "VMM handling"},
      {traces::SpanKind::KernelRun, "kernel KVM_RUN"},
      {traces::SpanKind::Guest, "guest"},
      {traces::SpanKind::KernelHandling, "kernel handling"},
  };
  for (const auto& [kind, text] : kSpans) {
    if (spans[size_t(kind)]) m_legend.push_back({f.pal->span[size_t(kind)], text});
  }
  // Kernel kinds the kernel reported (span edges are shown by the bars).
  if (trace.kernel_counts) {
    for (size_t k = 0; k < traces::kKernelEventKinds; ++k) {
      const auto kind = static_cast<traces::KernelEventKind>(k);
      if (kind == traces::KernelEventKind::RunEnter || kind == traces::KernelEventKind::RunExit) {
        continue;
      }
      if (trace.kernel_counts->received[k] == 0) continue;
      m_legend.push_back({f.pal->kernel[k], std::string(traces::KernelEventName(kind))});
    }
  }
  if (vmm_events) m_legend.push_back({f.pal->vmm_event, "VMM event"});
  m_legend.push_back({f.pal->fold, "N events (mixed kinds)"});
  if (!m_pauses.cuts().empty()) m_legend.push_back({f.pal->lane_alt, "paused", true});
}

float TimelinePanel::LegendHeight(float width, float height) {
  if (m_legend.empty()) return 0;
  const float font = ImGui::GetFontSize();
  const float line = font + 6;
  // At most a quarter of the canvas (at least one line): the lanes come
  // first; entries that do not fit are left out, the bars' own colours
  // (spans) first in the list and so kept longest.
  const int max_lines = std::max(1, static_cast<int>(height * 0.25f / line));
  float x = 0;
  int lines = 1;
  size_t kept = 0;
  for (const LegendEntry& e : m_legend) {
    const float w = font + 6 + ImGui::CalcTextSize(e.text.c_str()).x + font;
    if (x > 0 && x + w > width) {
      if (lines == max_lines) break;
      ++lines;
      x = 0;
    }
    x += w;
    ++kept;
  }
  m_legend.resize(kept);
  return static_cast<float>(lines) * line + 4;
}

void TimelinePanel::DrawLegend(const Frame& f) {
  if (m_legend.empty()) return;
  const float font = f.font, line = font + 6;
  float x = f.min.x + kLabelPad, y = f.data_y1 + 4;
  f.dl->AddLine(ImVec2(f.min.x, f.data_y1), ImVec2(f.max.x, f.data_y1), f.pal->grid);
  for (const LegendEntry& e : m_legend) {
    const float text_w = ImGui::CalcTextSize(e.text.c_str()).x;
    const float w = font + 6 + text_w + font;
    if (x > f.min.x + kLabelPad && x + w > f.max.x) {
      x = f.min.x + kLabelPad;
      y += line;
    }
    const ImVec2 a(x, y + 3), b(x + font, y + 3 + font - 2);
    f.dl->AddRectFilled(a, b, e.color);
    if (e.hatched) {
      for (float k = 0; k < font; k += 5) {
        f.dl->AddLine(ImVec2(a.x + k, b.y), ImVec2(std::min(b.x, a.x + k + (b.y - a.y)), a.y),
                      f.pal->grid);
      }
    }
    f.dl->AddRect(a, b, f.pal->text_dim);
    f.dl->AddText(ImVec2(x + font + 6, y + 3), f.pal->text, e.text.c_str());
    x += w;
  }
}

}  // namespace kvmscope::ui

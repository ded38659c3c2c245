// The timeline panel: the canvas pattern (one InvisibleButton for input, an
// ImDrawList clipped to the canvas), and per row one binary search of the
// visible window plus folding, so a frame costs what is visible.
#include "ui/timeline.h"

#include "ui/timeline_internal.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "traces/stats.h"
#include "traces/story.h"
#include "ui/colors.h"

namespace kvmscope::ui {
namespace {

constexpr float kDragPx = 3.0f;             // a press that moves less than this is a click
constexpr float kHitPx = 3.0f;              // how far from a mark the mouse may be to hover it
constexpr double kZoomStep = 1.25;          // per wheel notch
constexpr float kRowGap = 2.0f;             // between the rows of a lane
constexpr int kVertexBudget = 60000;        // 16-bit indices: stay below 65536 per draw list
constexpr uint32_t kSmallFold = 16;         // folds up to this size are coloured by their kind

bool IsSpanEdge(traces::EventType t) {
  using traces::KernelEventKind;
  using traces::VmmEventKind;
  return t == KernelEventKind::RunEnter || t == KernelEventKind::RunExit ||
         t == VmmEventKind::RunEnter || t == VmmEventKind::RunExit;
}



// Filled rectangles of one row, merged while they touch and share a colour:
// the contiguous fold boxes of a dense stretch become one quad.
class RectBatch {
 public:
  explicit RectBatch(ImDrawList* dl) : m_dl(dl) {}
  ~RectBatch() { Flush(); }
  void Add(float x0, float y0, float x1, float y1, ImU32 color) {
    if (m_open && color == m_color && y0 == m_y0 && y1 == m_y1 && x0 <= m_x1 + 0.5f) {
      m_x1 = std::max(m_x1, x1);
      return;
    }
    Flush();
    m_open = true;
    m_x0 = x0, m_y0 = y0, m_x1 = x1, m_y1 = y1, m_color = color;
  }
  void Flush() {
    if (m_open) m_dl->AddRectFilled(ImVec2(m_x0, m_y0), ImVec2(m_x1, m_y1), m_color);
    m_open = false;
  }

 private:
  ImDrawList* m_dl;
  bool m_open = false;
  float m_x0 = 0, m_y0 = 0, m_x1 = 0, m_y1 = 0;
  ImU32 m_color = 0;
};

// Whether this draw list is about to run out of 16-bit indices (a renderer
// without ImGuiBackendFlags_RendererHasVtxOffset cannot split it).
bool OverBudget(const ImDrawList* dl) {
  return !(dl->Flags & ImDrawListFlags_AllowVtxOffset) &&
         dl->_VtxCurrentIdx > static_cast<unsigned>(kVertexBudget);
}

}  // namespace

namespace timeline_detail {

ImU32 TextOn(ImU32 fill) {
  const ImVec4 c = ImGui::ColorConvertU32ToFloat4(fill);
  const float luma = 0.2126f * c.x + 0.7152f * c.y + 0.0722f * c.z;
  return luma > 0.35f ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255);
}

std::string SpanLabel(const traces::TraceData& trace, uint32_t track, traces::SpanKind kind,
                      const traces::Span& span) {
  using traces::SpanKind;
  switch (kind) {
    case SpanKind::Run: {
      if (span.end == traces::kNoEvent) return "running";
      const traces::Event& e = trace.tracks[track].events[span.end];
      if (e.type != traces::VmmEventKind::RunExit) return "";
      auto reason = static_cast<uint32_t>(e.a[0]);
      std::string_view name = traces::KvmExitReasonName(reason);
      return name.empty() ? fmt::format("exit {}", reason) : std::string(name);
    }
    case SpanKind::VmmHandling: return "VMM";
    case SpanKind::Guest: return "guest";
    case SpanKind::KernelHandling: return "kernel";
    case SpanKind::KernelRun:
    case SpanKind::Count: break;
  }
  return "";
}

std::string Offset(const traces::TraceData& trace, int64_t t_ns) {
  return fmt::format("+{}", traces::FormatStatsDuration(t_ns - trace.BeginNs()));
}

}  // namespace timeline_detail

using timeline_detail::kLabelPad;
using timeline_detail::kLanePad;
using timeline_detail::SpanLabel;
using timeline_detail::TextOn;

std::vector<Lane> Lanes(const traces::TraceData& trace, bool show_system) {
  std::vector<uint32_t> vcpus, vmm, system;
  for (uint32_t i = 0; i < trace.tracks.size(); ++i) {
    switch (trace.tracks[i].kind) {
      case traces::TrackKind::Vcpu: vcpus.push_back(i); break;
      case traces::TrackKind::Vmm: vmm.push_back(i); break;
      case traces::TrackKind::System: system.push_back(i); break;
    }
  }
  std::stable_sort(vcpus.begin(), vcpus.end(), [&](uint32_t a, uint32_t b) {
    return trace.tracks[a].vcpu < trace.tracks[b].vcpu;
  });
  std::vector<Lane> lanes;
  for (uint32_t t : vcpus) {
    int vcpu = trace.tracks[t].vcpu;
    lanes.push_back(
        {LaneKind::Vcpu, vcpu, vcpu >= 0 ? fmt::format("vCPU {}", vcpu) : "vCPU ?", {t}});
  }
  if (!vmm.empty()) lanes.push_back({LaneKind::Vmm, -1, "VMM", vmm});
  if (show_system) {
    for (uint32_t t : system) lanes.push_back({LaneKind::System, -1, trace.tracks[t].Name(), {t}});
  }
  return lanes;
}

float TimelinePanel::TimeToScreenX(int64_t t_ns) const {
  return m_data_x0 + static_cast<float>(TimeToX(m_warp.ToDisplay(t_ns), m_range, m_data_w));
}

int64_t TimelinePanel::ScreenXToTime(float x) const {
  return m_warp.ToReal(XToTime(static_cast<double>(x - m_data_x0), m_range, m_data_w));
}

std::optional<RowGeometry> TimelinePanel::Row(size_t lane, RowKind kind) const {
  if (lane >= m_layout.size()) return std::nullopt;
  for (const RowGeometry& r : m_layout[lane].rows) {
    if (r.kind == kind) return r;
  }
  return std::nullopt;
}

void TimelinePanel::Draw(const traces::TraceData& trace, SharedView& view) {
  m_hit = {};
  m_stats = {};
  m_layout.clear();
  m_run_labels.clear();
  m_run_bars.clear();
  m_ticks.clear();
  m_fold_counts = 0;
  UpdatePauses(trace, view);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  if (avail.x < 16 || avail.y < 16) return;

  Frame f;
  f.theme = m_theme.value_or(CurrentTheme());
  f.pal = &PaletteFor(f.theme);
  f.dl = ImGui::GetWindowDrawList();
  f.font = ImGui::GetFontSize();
  f.min = ImGui::GetCursorScreenPos();
  f.max = ImVec2(f.min.x + avail.x, f.min.y + avail.y);
  ImGui::InvisibleButton("##timeline_canvas", avail);
  f.hovered = ImGui::IsItemHovered();
  f.active = ImGui::IsItemActive();
  const bool released = ImGui::IsItemDeactivated();
  if (ImGui::BeginPopupContextItem("##timeline_menu")) {
    if (ImGui::MenuItem("Fit all", "f")) RequestFit();
    ImGui::MenuItem("Follow the live edge", nullptr, &view.follow_live);
    ImGui::MenuItem("Show system threads", nullptr, &m_show_system);
    ImGui::EndPopup();
  }

  const std::vector<Lane> lanes = Lanes(trace, m_show_system);
  // Row captions as large as body text (the projector's back row reads them).
  float caption_w = ImGui::CalcTextSize("KVM_RUN").x;
  float label_w = 0;
  for (const Lane& lane : lanes)
    label_w = std::max(label_w, ImGui::CalcTextSize(lane.label.c_str()).x);
  label_w = std::min(label_w + caption_w + 3 * kLabelPad, avail.x * 0.4f);
  f.data_x0 = f.min.x + label_w;
  f.data_x1 = f.max.x;
  f.data_y0 = f.min.y + f.font + 6;
  BuildLegend(trace, f);
  f.data_y1 = std::max(f.data_y0 + f.font, f.max.y - LegendHeight(avail.x, avail.y));
  m_data_x0 = f.data_x0;
  m_data_w = std::max(1.0f, f.data_x1 - f.data_x0);
  f.mouse = ImGui::GetIO().MousePos;
  m_mouse = f.mouse;

  f.dl->PushClipRect(f.min, f.max, true);
  f.dl->AddRectFilled(f.min, f.max, f.pal->background);
  if (trace.EventCount() == 0) {
    const char* text = "No events yet: run a guest or open a trace.";
    ImVec2 size = ImGui::CalcTextSize(text);
    f.dl->AddText(ImVec2(f.min.x + (avail.x - size.x) / 2, f.min.y + (avail.y - size.y) / 2),
                  f.pal->text_dim, text);
    f.dl->PopClipRect();
    m_range = m_real = {};
    m_legend.clear();
    UpdateHovered(trace, view);
    return;
  }

  // m_range and f.bounds are in display time (paused stretches shortened,
  // TimeWarp); SharedView and the trace are in real time.
  f.bounds = FitRange(m_warp.ToDisplay(trace.BeginNs()), m_warp.ToDisplay(trace.EndNs()));
  m_range = ResolveRange(trace, view);
  HandleInput(view, f);
  m_real = m_warp.ToReal(m_range);
  m_mouse_in_data = (f.hovered || f.active) && !m_dragging && f.mouse.x >= f.data_x0 &&
                    f.mouse.y >= f.data_y0 && f.mouse.y < f.data_y1;

  Layout(trace, lanes, f);
  // Lane backgrounds, then the axis and its grid over them.
  for (size_t i = 0; i < m_layout.size(); ++i) {
    const LaneGeometry& g = m_layout[i];
    if (i % 2 == 1)
      f.dl->AddRectFilled(ImVec2(f.min.x, g.y0), ImVec2(f.max.x, g.y1), f.pal->lane_alt);
    f.dl->AddLine(ImVec2(f.min.x, g.y1), ImVec2(f.max.x, g.y1), f.pal->grid);
  }
  DrawAxis(trace, f);
  DrawPauseLabels(f);

  f.dl->PushClipRect(ImVec2(f.data_x0, f.data_y0), ImVec2(f.max.x, f.data_y1), true);
  DrawPauses(f);
  m_over_budget = false;
  for (const LaneGeometry& g : m_layout) {
    for (const RowGeometry& row : g.rows) {
      if (row.y1 < f.data_y0 || row.y0 > f.data_y1 || m_over_budget) continue;
      switch (row.kind) {
        case RowKind::Run: DrawSpanRow(trace, row, traces::SpanKind::Run, f); break;
        case RowKind::VmmHandling: DrawSpanRow(trace, row, traces::SpanKind::VmmHandling, f); break;
        case RowKind::KernelRun: DrawSpanRow(trace, row, traces::SpanKind::KernelRun, f); break;
        case RowKind::Guest:
          DrawSpanRow(trace, row, traces::SpanKind::Guest, f);
          DrawSpanRow(trace, row, traces::SpanKind::KernelHandling, f);
          break;
        case RowKind::Events: DrawEventRow(trace, row, f); break;
      }
    }
  }
  DrawSelection(trace, view, f);
  if (m_hit.kind == HitKind::Span || m_hit.kind == HitKind::Event || m_hit.kind == HitKind::Fold) {
    f.dl->AddRect(ImVec2(m_hit.x0 - 1, m_hit.y0 - 1), ImVec2(m_hit.x1 + 1, m_hit.y1 + 1),
                  StatusColor(Status::Highlight, f.theme), 0, 0, 2.0f);
  }
  if (m_over_budget) {
    f.dl->AddText(ImVec2(f.data_x0 + 4, f.data_y1 - f.font - 4), f.pal->text,
                  "(too much to draw at once: zoom in, or hide system threads)");
  }
  f.dl->PopClipRect();
  DrawLabels(lanes, trace, f);
  DrawLegend(f);
  f.dl->PopClipRect();

  m_stats.lanes = lanes.size();
  if (released && m_pressed && !m_dragging && f.hovered) ApplyClick(trace, view);
  if (released || !f.active) {
    m_pressed = m_dragging = false;
    m_press_travel = m_pending_dx = 0;
  }
  UpdateHovered(trace, view);
  if (m_mouse_in_data && !f.active) ShowTooltip(trace, f);
}

TimeRange TimelinePanel::ResolveRange(const traces::TraceData& trace, SharedView& view) {
  if (m_fit_requested) {
    FitAll(view);
    m_fit_requested = false;
  }
  TimeRange bounds = FitRange(m_warp.ToDisplay(trace.BeginNs()), m_warp.ToDisplay(trace.EndNs()));
  if (view.view_begin_ns == 0 && view.view_end_ns == 0) return bounds;
  TimeRange r = m_warp.ToDisplay(TimeRange{view.view_begin_ns, view.view_end_ns});
  if (r.width_ns() <= 0 || r.end_ns < bounds.begin_ns || r.begin_ns > bounds.end_ns) {
    // Nothing sensible to show (another trace was opened): fit all.
    FitAll(view);
    return bounds;
  }
  if (view.follow_live && view.live) {
    r = FollowLive(r, m_warp.ToDisplay(trace.EndNs()));
    const TimeRange real = m_warp.ToReal(r);
    view.view_begin_ns = real.begin_ns;
    view.view_end_ns = real.end_ns;
  }
  return r;
}

void TimelinePanel::HandleInput(SharedView& view, const Frame& f) {
  const ImGuiIO& io = ImGui::GetIO();
  auto store = [&](TimeRange r) {
    m_range = r;
    const TimeRange real = m_warp.ToReal(r);
    view.view_begin_ns = real.begin_ns;
    view.view_end_ns = real.end_ns;
    view.follow_live = false;  // the user took the wheel
  };
  if (f.hovered && io.MouseWheel != 0) {
    if (f.mouse.x >= f.data_x0) {
      const int64_t anchor = XToTime(f.mouse.x - m_data_x0, m_range, m_data_w);  // display
      const double factor = std::pow(kZoomStep, -static_cast<double>(io.MouseWheel));
      const int64_t max_width = std::max<int64_t>(f.bounds.width_ns() * 4, 10'000);
      store(ZoomAround(m_range, anchor, factor, max_width));
    } else {
      m_scroll_y -= io.MouseWheel * f.font * 3;  // over the labels: scroll the lanes
    }
  }
  if (f.active && !m_pressed) {
    m_pressed = true;  // the press: how the mouse got here is no drag
  } else if (f.active) {
    float dx = io.MouseDelta.x;
    m_press_travel += std::fabs(io.MouseDelta.x) + std::fabs(io.MouseDelta.y);
    if (!m_dragging) {
      m_pending_dx += dx;
      dx = 0;
      if (m_press_travel >= kDragPx) {
        m_dragging = true;
        dx = m_pending_dx;
      }
    }
    if (m_dragging && dx != 0) store(KeepNear(Pan(m_range, dx, m_data_w), f.bounds));
  }
}

void TimelinePanel::Layout(const traces::TraceData& trace, const std::vector<Lane>& lanes,
                           Frame& f) {
  // Rows grow (up to 2.5x) to fill the height: the projector's back row
  // should see the bars, not an empty canvas.
  auto lay_out = [&](float scale) {
    m_layout.clear();
    float y = f.data_y0;
    for (const Lane& lane : lanes) {
      LaneGeometry g;
      g.y0 = y;
      y += kLanePad;
      auto add = [&](RowKind kind, uint32_t track, float h) {
        h = std::round(h * scale);
        g.rows.push_back({kind, track, y, y + h});
        y += h + kRowGap;
      };
      if (lane.kind == LaneKind::Vcpu) {
        const uint32_t t = lane.tracks.front();
        const auto& spans = trace.tracks[t].spans;
        // Every row at least as tall as its caption, which is body text.
        add(RowKind::Run, t, f.font + 6);
        add(RowKind::VmmHandling, t, f.font + 2);
        add(RowKind::KernelRun, t, f.font + 2);
        if (!spans[size_t(traces::SpanKind::Guest)].empty() ||
            !spans[size_t(traces::SpanKind::KernelHandling)].empty()) {
          add(RowKind::Guest, t, f.font + 2);
        }
        add(RowKind::Events, t, f.font + 2);
      } else {
        for (uint32_t t : lane.tracks) add(RowKind::Events, t, f.font + 2);
      }
      y += kLanePad - kRowGap;
      g.y1 = y;
      m_layout.push_back(std::move(g));
    }
    return y - f.data_y0;
  };
  const float natural = lay_out(1.0f);
  size_t rows = 0;
  for (const LaneGeometry& g : m_layout) rows += g.rows.size();
  const float fixed = static_cast<float>(m_layout.size()) * (2 * kLanePad - kRowGap) +
                      static_cast<float>(rows) * kRowGap;
  const float room = f.data_y1 - f.data_y0 - 2;
  if (natural < room && natural > fixed) {
    const float scale = std::min(2.5f, (room - fixed) / (natural - fixed));
    if (scale > 1.05f) lay_out(scale);
  }
  // Scroll (when the lanes do not fit): clamp, then shift everything.
  const float height = m_layout.empty() ? 0 : m_layout.back().y1 - f.data_y0;
  m_scroll_y = std::clamp(m_scroll_y, 0.0f, std::max(0.0f, height - (f.data_y1 - f.data_y0)));
  for (LaneGeometry& g : m_layout) {
    g.y0 -= m_scroll_y;
    g.y1 -= m_scroll_y;
    for (RowGeometry& r : g.rows) {
      r.y0 -= m_scroll_y;
      r.y1 -= m_scroll_y;
    }
  }
}

void TimelinePanel::DrawAxis(const traces::TraceData& trace, const Frame& f) {
  const double ns_per_px = static_cast<double>(m_range.width_ns()) / m_data_w;
  const float min_px = ImGui::CalcTextSize("+0000 ms").x + 24;
  const int64_t step = TickStep(ns_per_px, min_px);
  // Ticks every `step` of real time since the trace's start, labelled with
  // it; none inside a paused cut (the cut has its own "paused 480 ms"
  // label), so the numbers never jump between two neighbouring ticks.
  const int64_t origin = trace.BeginNs();
  const int64_t magnitude =
      std::max(std::abs(m_real.begin_ns - origin), std::abs(m_real.end_ns - origin));
  const std::vector<traces::TimeInterval>& cuts = m_pauses.cuts();
  auto cut = std::partition_point(cuts.begin(), cuts.end(), [&](const traces::TimeInterval& c) {
    return c.end_ns <= m_real.begin_ns;
  });
  f.dl->PushClipRect(ImVec2(f.data_x0, f.min.y), f.max, true);
  float last_x = -FLT_MAX;
  int64_t from = m_real.begin_ns;
  while (from <= m_real.end_ns) {
    // The stretch [from, to] before the next cut (or the window's end).
    const bool before_cut = cut != cuts.end() && cut->begin_ns <= m_real.end_ns;
    const int64_t to = before_cut ? std::min<int64_t>(cut->begin_ns, m_real.end_ns) : m_real.end_ns;
    int64_t k = (from - origin) / step;
    if (origin + k * step < from) ++k;
    for (int64_t t = origin + k * step; t <= to; t += step) {
      const float x = std::round(TimeToScreenX(t)) + 0.5f;
      if (x - last_x < min_px * 0.75f) continue;  // just after a cut: too close
      last_x = x;
      f.dl->AddLine(ImVec2(x, f.min.y + 2), ImVec2(x, f.max.y), f.pal->grid);
      const std::string label = FormatTick(t - origin, step, magnitude);
      f.dl->AddText(ImVec2(x + 3, f.min.y + 2), f.pal->text_dim, label.c_str());
      m_ticks.push_back({x, t, label});
    }
    if (!before_cut) break;
    from = cut->end_ns;
    ++cut;
  }
  f.dl->AddLine(ImVec2(f.data_x0, f.data_y0 - 1), ImVec2(f.max.x, f.data_y0 - 1), f.pal->grid);
  f.dl->PopClipRect();
}

void TimelinePanel::Consider(const Hit& hit) {
  if (m_hit.kind == HitKind::None || hit.distance < m_hit.distance) m_hit = hit;
}

void TimelinePanel::DrawSpanRow(const traces::TraceData& trace, const RowGeometry& row,
                                traces::SpanKind kind, const Frame& f) {
  const std::vector<traces::Span>& all = trace.tracks[row.track].spans[size_t(kind)];
  std::span<const traces::Span> spans =
      trace.SpansIn(row.track, kind, m_real.begin_ns, m_real.end_ns);
  m_stats.visible_items += spans.size();
  m_marks.clear();
  if (m_warp.empty()) {
    FoldSpans(spans, m_range, m_data_w, m_marks);
  } else {
    FoldInto(
        m_marks, spans.size(), [&](size_t i) { return m_warp.ToDisplay(spans[i].begin_ns); },
        [&](size_t i) { return m_warp.ToDisplay(spans[i].end_ns); }, m_range, m_data_w);
  }
  m_stats.marks += m_marks.size();
  const auto base = static_cast<uint32_t>(spans.data() - all.data());
  const ImU32 color = f.pal->span[size_t(kind)];
  const bool mouse_in_row = m_mouse_in_data && f.mouse.y >= row.y0 && f.mouse.y <= row.y1;
  const float lo = f.data_x0 - 2, hi = f.data_x1 + 2;
  const float fold_inset = std::floor((row.y1 - row.y0) / 4);
  RectBatch batch(f.dl);
  for (const FoldMark& m : m_marks) {
    if (OverBudget(f.dl)) {
      m_over_budget = true;
      break;
    }
    float x0 = std::clamp(f.data_x0 + static_cast<float>(m.x0), lo, hi);
    float x1 = std::clamp(f.data_x0 + static_cast<float>(m.x1), lo, hi);
    float y0 = row.y0, y1 = row.y1;
    if (m.count == 1) {
      if (kind == traces::SpanKind::VmmHandling && m_pauses.any()) {
        // The wait at the gate is paused time, not the VMM's work: the bar
        // ends where the VMM finished (the cut shows the rest).
        if (auto wait = m_pauses.WaitIn(trace, row.track, spans[m.first])) {
          x1 = std::clamp(TimeToScreenX(wait->begin_ns), lo, hi);
        }
      }
      x1 = std::max(x1, x0 + 2);
      batch.Add(x0, y0, x1, y1, color);
      if (kind == traces::SpanKind::Run && x1 > f.data_x0 && x0 < f.data_x1) {
        m_run_bars.push_back({row.track, base + m.first, std::max(x0, f.data_x0),
                              std::min(x1, f.data_x1)});
      }
      const float vx0 = std::max(x0, f.data_x0), vx1 = std::min(x1, f.data_x1);
      // KVM_RUN bars are labelled after the row (DrawRunLabels: tags too).
      if (kind != traces::SpanKind::Run && vx1 - vx0 > f.font * 2 &&
          row.y1 - row.y0 >= f.font * 0.75f) {
        const std::string label = SpanLabel(trace, row.track, kind, spans[m.first]);
        const float size = std::min(f.font, row.y1 - row.y0);
        const ImVec2 text = ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, label.c_str());
        if (!label.empty() && text.x + 6 <= vx1 - vx0) {
          batch.Flush();  // the bar under its label
          const ImVec4 clip(vx0, y0, vx1, y1);
          f.dl->AddText(ImGui::GetFont(), size,
                        ImVec2(vx0 + (vx1 - vx0 - text.x) / 2, y0 + (y1 - y0 - text.y) / 2),
                        f.pal->span_label[size_t(kind)], label.c_str(), nullptr, 0, &clip);
        }
      }
    } else {
      // Folded: a thinner band of the same colour says "many, too small to draw".
      x1 = std::max(x1, x0 + static_cast<float>(kFoldPx));
      y0 += fold_inset;
      y1 -= fold_inset;
      batch.Add(x0, y0, x1, y1, color);
      if (x1 - x0 > f.font * 1.5f) {
        batch.Flush();
        DrawFoldCount(m.count, x0, x1, row.y0, row.y1, color, f);
      }
    }
    if (mouse_in_row) {
      const float d = f.mouse.x < x0 ? x0 - f.mouse.x : f.mouse.x > x1 ? f.mouse.x - x1 : 0;
      if (d <= kHitPx) {
        const traces::Span& s = spans[m.first];
        const traces::Span& last = spans[m.first + m.count - 1];
        Consider({m.count == 1 ? HitKind::Span : HitKind::Fold, row.kind, row.track, kind,
                  base + m.first, m.count, s.begin_ns, last.end_ns, x0, x1, y0, y1, d});
      }
    }
  }
  batch.Flush();
  if (kind == traces::SpanKind::Run && !m_over_budget) DrawRunLabels(trace, row, spans, base, f);
}

void TimelinePanel::DrawEventRow(const traces::TraceData& trace, const RowGeometry& row,
                                 const Frame& f) {
  const traces::EventRange events = trace.Window(row.track, m_real.begin_ns, m_real.end_ns);
  m_stats.visible_items += events.size();
  m_marks.clear();
  if (m_warp.empty()) {
    FoldEvents(events, m_range, m_data_w, m_marks);
  } else {
    auto time = [&](size_t i) { return m_warp.ToDisplay(events.time_ns(i)); };
    FoldInto(m_marks, events.size(), time, time, m_range, m_data_w);
  }
  m_stats.marks += m_marks.size();
  const auto base = static_cast<uint32_t>(events.first_index());
  const bool mouse_in_row = m_mouse_in_data && f.mouse.y >= row.y0 && f.mouse.y <= row.y1;
  const float half = std::max(1.5f, std::round(f.font * 0.12f));
  RectBatch batch(f.dl);
  // A stretch of folds that touch, labelled with its count once drawn.
  struct Group {
    float x0 = 0, x1 = 0;
    uint32_t count = 0;
  } group;
  std::vector<Group> groups;
  auto flush_group = [&] {
    if (group.count > 0 && group.x1 - group.x0 > f.font * 1.5f) groups.push_back(group);
    group = {};
  };
  for (const FoldMark& m : m_marks) {
    if (OverBudget(f.dl)) {
      m_over_budget = true;
      break;
    }
    float x0 = f.data_x0 + static_cast<float>(m.x0);
    float x1;
    if (m.count == 1) {
      const traces::EventType type = events.type(m.first);
      if (IsSpanEdge(type)) continue;  // the span bars show these
      x1 = x0 + half;
      x0 -= half;
      batch.Add(x0, row.y0, x1, row.y1, KindColor(type, f.theme));
    } else {
      // A small fold of one kind keeps that kind's colour; one of span edges
      // only is not drawn (the bars show it). Bounded: at most kSmallFold reads.
      std::optional<traces::EventType> kind;
      bool mixed = m.count > kSmallFold, edges_only = !mixed;
      for (uint32_t k = 0; !mixed && k < m.count; ++k) {
        const traces::EventType t = events.type(m.first + k);
        if (IsSpanEdge(t)) continue;
        edges_only = false;
        if (kind && *kind != t) mixed = true;
        kind = t;
      }
      if (edges_only) continue;
      x1 = std::max(f.data_x0 + static_cast<float>(m.x1), x0 + static_cast<float>(kFoldPx));
      const ImU32 fill = mixed ? f.pal->fold : KindColor(*kind, f.theme);
      batch.Add(x0, row.y0, x1, row.y1, fill);
      // Touching folds read as one "N events" box: count them together.
      if (group.count > 0 && x0 <= group.x1 + 1) {
        group.x1 = std::max(group.x1, x1);
        group.count += m.count;
      } else {
        flush_group();
        group = {x0, x1, m.count};
      }
    }
    if (mouse_in_row) {
      const float d = f.mouse.x < x0 ? x0 - f.mouse.x : f.mouse.x > x1 ? f.mouse.x - x1 : 0;
      if (d <= kHitPx) {
        Consider({m.count == 1 ? HitKind::Event : HitKind::Fold, row.kind, row.track,
                  traces::SpanKind::Count, base + m.first, m.count, events.time_ns(m.first),
                  events.time_ns(m.first + m.count - 1), x0, x1, row.y0, row.y1, d});
      }
    }
  }
  flush_group();
  batch.Flush();
  for (const Group& g : groups) DrawFoldCount(g.count, g.x0, g.x1, row.y0, row.y1, f.pal->fold, f);
}

void TimelinePanel::DrawSelection(const traces::TraceData& trace, const SharedView& view,
                                  const Frame& f) {
  if (!view.selected) return;
  std::optional<traces::EventRef> ref = Find(trace, *view.selected);
  if (!ref) return;
  const traces::Event& e = trace.At(*ref);
  if (e.time_ns < m_real.begin_ns || e.time_ns > m_real.end_ns) return;
  const ImU32 color = StatusColor(Status::Selected, f.theme);
  const float x = TimeToScreenX(e.time_ns);
  for (const LaneGeometry& g : m_layout) {
    for (const RowGeometry& row : g.rows) {
      if (row.track != ref->track) continue;
      if (row.kind == RowKind::Run) {
        // The KVM_RUN this exit ended, outlined.
        for (const traces::Span& s :
             trace.SpansIn(row.track, traces::SpanKind::Run, e.time_ns, e.time_ns)) {
          if (s.end != ref->index) continue;
          f.dl->AddRect(ImVec2(std::max(TimeToScreenX(s.begin_ns), f.data_x0 - 3), row.y0 - 2),
                        ImVec2(x + 2, row.y1 + 2), color, 0, 0, 3.0f);
        }
      }
      if (row.kind == RowKind::Events) {
        f.dl->AddRect(ImVec2(x - 5, row.y0 - 2), ImVec2(x + 5, row.y1 + 2), color, 0, 0, 2.0f);
      }
    }
    const bool in_lane = std::any_of(g.rows.begin(), g.rows.end(),
                                     [&](const RowGeometry& r) { return r.track == ref->track; });
    if (in_lane) f.dl->AddLine(ImVec2(x, g.y0), ImVec2(x, g.y1), color, 2.0f);
  }
}



void TimelinePanel::ApplyClick(const traces::TraceData& trace, SharedView& view) {
  if (m_hit.kind == HitKind::None) return;
  const traces::Track& track = trace.tracks[m_hit.track];
  switch (m_hit.kind) {
    case HitKind::None: break;
    case HitKind::Span: {
      // A bar selects its KVM_RUN as a whole: that run's exit (the inspector
      // then shows the exit, the kernel's events inside it and their stack).
      if (std::optional<traces::EventRef> exit = ExitOfHit(trace)) {
        view.selected = KeyOf(trace.At(*exit));
        break;
      }
      const traces::Span& s = track.spans[size_t(m_hit.span_kind)][m_hit.index];
      const uint32_t e = s.end != traces::kNoEvent ? s.end : s.begin;
      if (e != traces::kNoEvent) view.selected = KeyOf(track.events[e]);
      break;
    }
    case HitKind::Event: view.selected = KeyOf(track.events[m_hit.index]); break;
    case HitKind::Fold: {
      const TimeRange r =
          FitRange(m_warp.ToDisplay(m_hit.begin_ns), m_warp.ToDisplay(m_hit.end_ns), 0.1);
      m_range = r;
      const TimeRange real = m_warp.ToReal(r);
      view.view_begin_ns = real.begin_ns;
      view.view_end_ns = real.end_ns;
      view.follow_live = false;
      break;
    }
  }
}

std::optional<traces::EventRef> TimelinePanel::ExitOfHit(const traces::TraceData& trace) const {
  if (m_hit.kind != HitKind::Span) return std::nullopt;
  const traces::Track& track = trace.tracks[m_hit.track];
  if (track.kind != traces::TrackKind::Vcpu) return std::nullopt;
  const traces::Span& s = track.spans[size_t(m_hit.span_kind)][m_hit.index];
  auto is_exit = [&](uint32_t i) {
    return i != traces::kNoEvent && track.events[i].type == traces::VmmEventKind::RunExit;
  };
  switch (m_hit.span_kind) {
    case traces::SpanKind::Run:
      if (is_exit(s.end)) return traces::EventRef{m_hit.track, s.end};
      return std::nullopt;
    case traces::SpanKind::VmmHandling:  // the VMM handling the exit that began it
      if (is_exit(s.begin)) return traces::EventRef{m_hit.track, s.begin};
      return std::nullopt;
    case traces::SpanKind::KernelRun:
    case traces::SpanKind::Guest:
    case traces::SpanKind::KernelHandling:
      // Inside the VMM's KVM_RUN: that run's exit.
      return traces::ExitOfRunAt(trace, m_hit.track, s.end != traces::kNoEvent ? s.end_ns : s.begin_ns);
    case traces::SpanKind::Count: break;
  }
  return std::nullopt;
}

void TimelinePanel::UpdateHovered(const traces::TraceData& trace, SharedView& view) {
  std::optional<EventKey> key;
  if (m_hit.kind == HitKind::Event) {
    key = KeyOf(trace.tracks[m_hit.track].events[m_hit.index]);
  } else if (m_hit.kind == HitKind::Span) {
    const traces::Track& track = trace.tracks[m_hit.track];
    const traces::Span& s = track.spans[size_t(m_hit.span_kind)][m_hit.index];
    const uint32_t e = s.end != traces::kNoEvent ? s.end : s.begin;
    if (std::optional<traces::EventRef> exit = ExitOfHit(trace)) {
      key = KeyOf(trace.At(*exit));
    } else if (e != traces::kNoEvent) {
      key = KeyOf(track.events[e]);
    }
  }
  if (key) {
    view.hovered = key;
    m_hover_set = key;
  } else if (m_hover_set) {
    // Clear only what this panel set: another panel may be hovering something.
    if (view.hovered == m_hover_set) view.hovered.reset();
    m_hover_set.reset();
  }
}

}  // namespace kvmscope::ui

// The timeline panel: a lane per vCPU (KVM_RUN, exit handling, the kernel's
// events) and one for the VMM's other threads; zoom, pan, fit, follow the live
// edge, hover and select. A frame costs what is visible, not what was recorded.
#pragma once

#include <imgui.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "traces/pauses.h"
#include "traces/trace.h"
#include "ui/theme.h"
#include "ui/timeline_math.h"
#include "ui/view.h"

namespace kvmscope::ui {

enum class LaneKind : uint8_t { Vcpu, Vmm, System };

// A horizontal band of the timeline and the tracks it shows.
struct Lane {
  LaneKind kind = LaneKind::Vcpu;
  int vcpu = -1;                 // for Vcpu lanes
  std::string label;             // "vCPU 0", "VMM", "tid 99 (pid 98)"
  std::vector<uint32_t> tracks;  // into TraceData::tracks; the VMM lane stacks all VMM threads
  bool operator==(const Lane&) const = default;
};
// The lanes in drawing order: vCPU lanes by vCPU number, then one VMM lane
// (when the trace has VMM threads), then one lane per System thread when
// show_system is set.
std::vector<Lane> Lanes(const traces::TraceData& trace, bool show_system = false);

// The sub-rows of a lane, top to bottom. A vCPU lane has Run, VmmHandling,
// KernelRun, Guest (only when the track has guest or kernel-handling spans)
// and Events; the VMM and System lanes have one Events row per track.
enum class RowKind : uint8_t { Run, VmmHandling, KernelRun, Guest, Events };

// Where the last frame drew things, in screen coordinates: for tests, and
// for panels that point into the timeline.
struct RowGeometry {
  RowKind kind = RowKind::Events;
  uint32_t track = 0;
  float y0 = 0, y1 = 0;
};
struct LaneGeometry {
  float y0 = 0, y1 = 0;
  std::vector<RowGeometry> rows;
};

// A label the last frame drew on (or beside) a KVM_RUN bar.
struct RunLabel {
  uint32_t track = 0;
  uint32_t span = 0;  // index in the track's SpanKind::Run spans
  float x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // screen px
  std::string text;   // "IO" inside a wide bar; "IO 31.2 µs" as a tag beside a narrow one
  bool operator==(const RunLabel&) const = default;
};

// A KVM_RUN bar the last frame drew as itself (not folded), clipped to the
// data area: what a student can see of that run.
struct RunBar {
  uint32_t track = 0;
  uint32_t span = 0;     // index in the track's SpanKind::Run spans
  float x0 = 0, x1 = 0;  // screen px, inside the data area
  bool operator==(const RunBar&) const = default;
};

// A tick of the time axis the last frame drew.
struct AxisTick {
  float x = 0;          // screen px
  int64_t time_ns = 0;  // real time (CLOCK_MONOTONIC)
  std::string text;     // "+6.08 s": since the trace's start
};

// One entry of the colour legend: the swatch's colour and the words beside it.
struct LegendEntry {
  ImU32 color = 0;
  std::string text;  // "KVM_RUN", "VMM handling", "kvm_pio", "N events (mixed)", "paused"
  bool hatched = false;
};

// What the last frame cost: marks drawn and items in the visible window.
struct TimelineStats {
  size_t lanes = 0;
  size_t marks = 0;          // boxes and markers drawn (after folding)
  size_t visible_items = 0;  // events and spans the binary searches returned
};

class TimelinePanel {
 public:
  // Draws into the current ImGui window, filling the space left in it.
  void Draw(const traces::TraceData& trace, SharedView& view);

  // Fit everything at the next Draw (the app's `f` key, the Fit button).
  void RequestFit() { m_fit_requested = true; }
  // Fit everything now: the "fit all" window of SharedView.
  static void FitAll(SharedView& view) { view.view_begin_ns = view.view_end_ns = 0; }

  // nullopt (the default): the theme ApplyTheme last set (CurrentTheme()).
  void SetTheme(std::optional<Theme> theme) { m_theme = theme; }
  void SetShowSystem(bool show) { m_show_system = show; }
  bool show_system() const { return m_show_system; }

  // --- geometry of the last Draw ---
  // The visible window in real time (the window SharedView holds).
  TimeRange VisibleRange() const { return m_real; }
  // Real time ↔ display time of the last Draw (paused stretches shortened).
  const TimeWarp& Warp() const { return m_warp; }
  float TimeToScreenX(int64_t t_ns) const;
  int64_t ScreenXToTime(float x) const;
  const std::vector<LaneGeometry>& LaneLayout() const { return m_layout; }
  // The first row of `kind` in lane `lane`, if drawn.
  std::optional<RowGeometry> Row(size_t lane, RowKind kind) const;
  const TimelineStats& LastFrameStats() const { return m_stats; }
  struct Frame;  // one Draw's geometry and inputs (ui/timeline_internal.h)
  // The labels on KVM_RUN bars, left to right per row (none overlap).
  const std::vector<RunLabel>& RunLabels() const { return m_run_labels; }
  // The KVM_RUN bars drawn as themselves, left to right per row.
  const std::vector<RunBar>& RunBars() const { return m_run_bars; }
  // The axis ticks, left to right (none inside a paused cut).
  const std::vector<AxisTick>& Ticks() const { return m_ticks; }
  // The legend drawn under the lanes (same colours as the bars and markers).
  const std::vector<LegendEntry>& Legend() const { return m_legend; }
  // Paused stretches of the trace (the VMM's gate closed), drawn as hatched
  // cuts; the model's answer, cached until the trace changes.
  const std::vector<traces::TimeInterval>& Cuts() const { return m_pauses.cuts(); }
  // Counts drawn on "N events" folds in the last frame.
  size_t FoldCountsDrawn() const { return m_fold_counts; }

 private:
  // What is under the mouse.
  enum class HitKind : uint8_t { None, Span, Event, Fold };
  struct Hit {
    HitKind kind = HitKind::None;
    RowKind row = RowKind::Events;
    uint32_t track = 0;
    traces::SpanKind span_kind = traces::SpanKind::Run;
    uint32_t index = 0;  // span index in its track's spans, or event index
    uint32_t count = 0;  // items folded (Fold)
    int64_t begin_ns = 0, end_ns = 0;
    float x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // as drawn, screen px
    float distance = 0;                    // from the mouse, px
  };

  TimeRange ResolveRange(const traces::TraceData& trace, SharedView& view);
  void HandleInput(SharedView& view, const Frame& f);
  void Layout(const traces::TraceData& trace, const std::vector<Lane>& lanes, Frame& f);
  void DrawAxis(const traces::TraceData& trace, const Frame& f);
  void DrawSpanRow(const traces::TraceData& trace, const RowGeometry& row, traces::SpanKind kind,
                   const Frame& f);
  void DrawEventRow(const traces::TraceData& trace, const RowGeometry& row, const Frame& f);
  void DrawSelection(const traces::TraceData& trace, const SharedView& view, const Frame& f);
  void DrawLabels(const std::vector<Lane>& lanes, const traces::TraceData& trace, const Frame& f);
  void DrawRunLabels(const traces::TraceData& trace, const RowGeometry& row,
                     std::span<const traces::Span> spans, uint32_t base, const Frame& f);
  void DrawFoldCount(uint32_t count, float x0, float x1, float y0, float y1, ImU32 fill,
                     const Frame& f);
  void DrawPauses(const Frame& f);
  void BuildLegend(const traces::TraceData& trace, const Frame& f);
  // Fits the legend to the canvas (drops what does not fit); its height.
  float LegendHeight(float width, float height);
  void DrawPauseLabels(const Frame& f);
  void DrawLegend(const Frame& f);
  void UpdatePauses(const traces::TraceData& trace, const SharedView& view);
  void Consider(const Hit& hit);
  void ShowTooltip(const traces::TraceData& trace, const Frame& f) const;
  // The VMM exit a hit span stands for (its KVM_RUN's), for click and hover.
  std::optional<traces::EventRef> ExitOfHit(const traces::TraceData& trace) const;
  void ApplyClick(const traces::TraceData& trace, SharedView& view);
  void UpdateHovered(const traces::TraceData& trace, SharedView& view);

  // View state (the UI keeps no copy of the data: indices and geometry only).
  bool m_fit_requested = false;
  bool m_show_system = false;
  std::optional<Theme> m_theme;
  float m_scroll_y = 0;                 // lanes scrolled up, px (when they do not fit)
  bool m_pressed = false;               // the left button went down on the canvas
  bool m_dragging = false;              // ... and moved far enough to be a drag
  float m_press_travel = 0;             // how far it moved since, px
  float m_pending_dx = 0;               // drag not yet applied (below the drag threshold)
  std::optional<EventKey> m_hover_set;  // what this panel put in view.hovered

  // Per-frame results and scratch buffers (reused to avoid allocating).
  TimeRange m_range;  // display time (m_warp); equal to real time without pauses
  TimeRange m_real;   // the same window in real time
  TimeWarp m_warp;
  float m_data_x0 = 0, m_data_w = 1;
  std::vector<LaneGeometry> m_layout;
  std::vector<FoldMark> m_marks;
  TimelineStats m_stats;
  Hit m_hit;
  bool m_mouse_in_data = false;
  bool m_over_budget = false;  // the draw list ran out of room: some rows not drawn
  ImVec2 m_mouse{0, 0};
  std::vector<RunLabel> m_run_labels;
  std::vector<RunBar> m_run_bars;
  std::vector<AxisTick> m_ticks;
  std::vector<LegendEntry> m_legend;
  size_t m_fold_counts = 0;
  // Paused time, recomputed when the trace changes (pointer, size or generation).
  traces::Pauses m_pauses;
  const traces::TraceData* m_pauses_trace = nullptr;
  size_t m_pauses_events = SIZE_MAX;
  uint64_t m_pauses_generation = 0;
};

}  // namespace kvmscope::ui

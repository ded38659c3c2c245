// What the two halves of the timeline panel share (timeline.cpp draws the
// bars and takes input; timeline_overlay.cpp draws labels, the legend,
// paused cuts and tooltips): one frame's geometry and a few helpers.
#pragma once

#include <imgui.h>

#include <string>

#include "traces/trace.h"
#include "ui/colors.h"
#include "ui/timeline.h"

namespace kvmscope::ui {

// One Draw's geometry and inputs.
struct TimelinePanel::Frame {
  ImDrawList* dl = nullptr;
  const TimelinePalette* pal = nullptr;
  Theme theme = Theme::Dark;
  ImVec2 min, max;  // the canvas
  float data_x0 = 0, data_x1 = 0, data_y0 = 0;
  float data_y1 = 0;  // the bottom of the lanes (the legend is below)
  float font = 13;
  TimeRange bounds;      // fit all
  bool hovered = false;  // the canvas, this frame
  bool active = false;   // the left button is held on it
  ImVec2 mouse;
};

namespace timeline_detail {

inline constexpr float kLabelPad = 6.0f;  // around text in the label column
inline constexpr float kLanePad = 4.0f;   // above and below a lane's rows

// Black or white, whichever reads better on `fill`.
ImU32 TextOn(ImU32 fill);
// The text on a span bar: the exit reason of a KVM_RUN, a word for the others.
std::string SpanLabel(const traces::TraceData& trace, uint32_t track, traces::SpanKind kind,
                      const traces::Span& span);
// "+1.25 ms" from the trace's start.
std::string Offset(const traces::TraceData& trace, int64_t t_ns);

}  // namespace timeline_detail
}  // namespace kvmscope::ui

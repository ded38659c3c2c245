// The panel layout: toolbar across the top; on the left, the KVM cycle (the
// centre of the picture) over the timeline; on the right, the inspector over
// the guest's console and the tabs (call chains, stats, doctor).
#include "ui/layout.h"

#include <algorithm>
#include <cmath>

namespace kvmscope::ui {

float BodyFontSize(float height, float font_scale) {
  // 20 px at 1080 rows (readable at 5 m on a projector), in proportion to the
  // window, never below 13 px; --font-scale on top.
  return std::max(13.0f, std::round(20.0f * height / 1080.0f)) * font_scale;
}

Layout ComputeLayout(float width, float height, float toolbar_height) {
  constexpr float kGap = 4;
  Layout l;
  float top = std::min(toolbar_height, height / 3);
  float body_h = std::max(0.0f, height - top - kGap);
  float left_w = std::floor(width * 0.66f);
  float right_x = left_w + kGap;
  float right_w = std::max(0.0f, width - right_x);
  float cycle_h = std::floor(body_h * 0.60f);
  float inspector_h = std::floor(body_h * 0.42f);
  // The console shows at least a header and three lines of output: about
  // 1.4 toolbars (three rows of widgets) high at any font size.
  float console_h = std::floor(std::max(body_h * 0.14f, std::min(toolbar_height * 1.4f, body_h * 0.25f)));
  float y = top + kGap;
  l.panes[size_t(Pane::Toolbar)] = {0, 0, width, top};
  l.panes[size_t(Pane::Cycle)] = {0, y, left_w, cycle_h};
  l.panes[size_t(Pane::Timeline)] = {0, y + cycle_h + kGap, left_w,
                                     std::max(0.0f, body_h - cycle_h - kGap)};
  l.panes[size_t(Pane::Inspector)] = {right_x, y, right_w, inspector_h};
  l.panes[size_t(Pane::Console)] = {right_x, y + inspector_h + kGap, right_w, console_h};
  float tabs_y = y + inspector_h + kGap + console_h + kGap;
  l.panes[size_t(Pane::Tabs)] = {right_x, tabs_y, right_w,
                                 std::max(0.0f, body_h - (tabs_y - y))};
  return l;
}

}  // namespace kvmscope::ui

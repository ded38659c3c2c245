// The panel layout: toolbar across the top; timeline over the chain diagrams
// on the left; inspector over the stats/console/doctor tabs on the right.
#include "ui/layout.h"

#include <algorithm>
#include <cmath>

namespace kvmscope::ui {

Layout ComputeLayout(float width, float height, float toolbar_height) {
  constexpr float kGap = 4;
  Layout l;
  float top = std::min(toolbar_height, height / 3);
  float body_h = std::max(0.0f, height - top - kGap);
  float left_w = std::floor(width * 0.62f);
  float right_x = left_w + kGap;
  float right_w = std::max(0.0f, width - right_x);
  float timeline_h = std::floor(body_h * 0.42f);
  float inspector_h = std::floor(body_h * 0.5f);
  float y = top + kGap;
  l.panes[size_t(Pane::Toolbar)] = {0, 0, width, top};
  l.panes[size_t(Pane::Timeline)] = {0, y, left_w, timeline_h};
  l.panes[size_t(Pane::Chains)] = {0, y + timeline_h + kGap, left_w,
                                   std::max(0.0f, body_h - timeline_h - kGap)};
  l.panes[size_t(Pane::Inspector)] = {right_x, y, right_w, inspector_h};
  l.panes[size_t(Pane::Tabs)] = {right_x, y + inspector_h + kGap, right_w,
                                 std::max(0.0f, body_h - inspector_h - kGap)};
  return l;
}

}  // namespace kvmscope::ui

// The fixed layout of the window: at the projector sizes kvmscope promises
// (1920×1080 and 1280×720) and at larger font scales, no two panes overlap,
// every pane is on screen and big enough to use.
#include <gtest/gtest.h>

#include "ui/layout.h"

namespace kvmscope::ui {
namespace {

TEST(Layout, PanesTileTheScreenWithoutOverlapAtProjectorSizes) {
  for (auto [w, h] : {std::pair{1920.f, 1080.f}, {1280.f, 720.f}, {1600.f, 900.f}}) {
    for (float toolbar : {56.f, 84.f, 112.f}) {  // font scale 1, 1.5, 2
      Layout l = ComputeLayout(w, h, toolbar);
      for (size_t i = 0; i < l.panes.size(); ++i) {
        const Rect& a = l.panes[i];
        EXPECT_GE(a.x, 0);
        EXPECT_GE(a.y, 0);
        EXPECT_LE(a.x + a.w, w + 0.5f);
        EXPECT_LE(a.y + a.h, h + 0.5f);
        EXPECT_GE(a.h, toolbar * 0.5f) << "pane " << i << " too small at " << w << "x" << h;
        for (size_t j = i + 1; j < l.panes.size(); ++j) {
          EXPECT_FALSE(a.Overlaps(l.panes[j])) << i << " overlaps " << j << " at " << w << "x" << h;
        }
      }
      // The cycle and the timeline take most of the screen.
      EXPECT_GT(l[Pane::Timeline].w, l[Pane::Inspector].w);
      EXPECT_GT(l[Pane::Cycle].w, l[Pane::Inspector].w);
      EXPECT_GT(l[Pane::Cycle].h, l[Pane::Timeline].h);
      float area = 0;
      for (Pane p : {Pane::Cycle, Pane::Timeline}) area += l[p].w * l[p].h;
      EXPECT_GT(area, 0.5f * w * h);
    }
  }
}

TEST(Layout, AHugeToolbarIsCappedSoThePanesStayUsable) {
  Layout l = ComputeLayout(1280, 720, 2000);
  EXPECT_LE(l[Pane::Toolbar].h, 720.f / 3 + 0.5f);
  EXPECT_GT(l[Pane::Cycle].h, 100);
}

TEST(Layout, BodyTextIsProjectorSizedAndScalesWithTheWindow) {
  EXPECT_GE(BodyFontSize(1080, 1.0f), 20.0f);
  EXPECT_GE(BodyFontSize(2160, 1.0f), 40.0f);
  EXPECT_LT(BodyFontSize(720, 1.0f), BodyFontSize(1080, 1.0f));
  EXPECT_GE(BodyFontSize(720, 1.5f), 19.5f);  // 1280x720 with --font-scale 1.5
  EXPECT_GE(BodyFontSize(480, 1.0f), 13.0f);  // never unreadably small
  EXPECT_FLOAT_EQ(BodyFontSize(1080, 2.0f), 2 * BodyFontSize(1080, 1.0f));
}

}  // namespace
}  // namespace kvmscope::ui

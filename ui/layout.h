// Where each panel goes: a fixed, non-overlapping layout computed from the
// display size, so that the projector shows the same picture every time at
// 1920×1080 and 1280×720 (tests check both).
#pragma once

#include <array>
#include <cstddef>

namespace kvmscope::ui {

struct Rect {
  float x = 0, y = 0, w = 0, h = 0;
  bool Overlaps(const Rect& o) const {
    return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
};

enum class Pane { Toolbar, Cycle, Timeline, Inspector, Console, Tabs, Count };

struct Layout {
  std::array<Rect, static_cast<size_t>(Pane::Count)> panes;
  const Rect& operator[](Pane p) const { return panes[static_cast<size_t>(p)]; }
};

// toolbar_height: what the toolbar needs at the current font scale.
Layout ComputeLayout(float width, float height, float toolbar_height);

// The body text size, px, for a window `height` rows high: 20 px at 1080
// (projector rule: readable from the back row), in proportion below and
// above, at least 13 px, times --font-scale.
float BodyFontSize(float height, float font_scale);

}  // namespace kvmscope::ui

// The geometry of a chain diagram: one column of boxes in chain order with
// links between them, sized from the font. Pure (no ImGui context needed), so
// tests check it at any window and font size.
#pragma once

#include <imgui.h>

#include <vector>

#include "traces/chains.h"

namespace kvmscope::ui {

// An axis-aligned rectangle; half-open, so boxes that only touch do not
// overlap.
struct Box {
  ImVec2 min, max;
  bool Contains(ImVec2 p) const {
    return p.x >= min.x && p.x < max.x && p.y >= min.y && p.y < max.y;
  }
  bool Overlaps(const Box& o) const {
    return min.x < o.max.x && o.min.x < max.x && min.y < o.max.y && o.min.y < max.y;
  }
  bool Inside(const Box& o) const {
    return min.x >= o.min.x && min.y >= o.min.y && max.x <= o.max.x && max.y <= o.max.y;
  }
};

// --- Layout (pure: no ImGui context needed) -------------------------------------

struct LayoutMetrics {
  float box_height = 40;  // two lines of text and their padding
  float min_gap = 16;     // between boxes: room for an arrow
  float max_gap = 30;
  float margin = 8;
  float lane_width = 12;  // per lane right of the boxes, for links that skip steps
  float min_box_width = 220;
  float max_box_width = 520;
  float pad = 6;  // text inside a box, from its edges
  // Sizes for a font of this height (ImGui::GetFontSize()): everything
  // scales with it, so a 30 px projector font keeps the same picture.
  static LayoutMetrics ForFont(float font_size);
};

struct ChainLayout {
  ImVec2 size;             // the canvas this needs (at least `available` wide and high)
  std::vector<Box> nodes;  // parallel to chain.nodes, top to bottom in chain order
  // Parallel to chain.edges: the polyline from the caller's box to the
  // callee's (the arrowhead goes at the last point), and its lane: -1 for a
  // straight arrow to the next box, else the lane right of the boxes.
  std::vector<std::vector<ImVec2>> edges;
  std::vector<int> lanes;
};
// Boxes in one column, in chain order, relative to the canvas origin; they
// never overlap and stay inside `size`.
ChainLayout LayoutChain(const traces::Chain& chain, ImVec2 available,
                        const LayoutMetrics& metrics = {});

}  // namespace kvmscope::ui

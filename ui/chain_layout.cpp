// Chain diagram layout: boxes one under another, straight arrows between
// neighbours, lanes right of the boxes for links that skip steps or go up.
#include "ui/chain_layout.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

namespace kvmscope::ui {

namespace {

size_t IndexOf(const traces::Chain& chain, std::string_view id) {
  for (size_t i = 0; i < chain.nodes.size(); ++i)
    if (chain.nodes[i].id == id) return i;
  return chain.nodes.size();
}

}  // namespace

LayoutMetrics LayoutMetrics::ForFont(float font_size) {
  LayoutMetrics m;
  m.pad = std::max(4.0f, std::round(font_size * 0.3f));
  // Two lines of text, a pad above, between (half) and below.
  m.box_height = std::round(2 * font_size + 2.5f * m.pad);
  m.min_gap = std::round(font_size + 4);
  m.max_gap = std::round(2 * font_size + 4);
  m.margin = std::round(font_size * 0.6f);
  m.lane_width = std::max(10.0f, std::round(font_size * 0.8f));
  m.min_box_width = std::round(font_size * 16);
  m.max_box_width = std::round(font_size * 36);
  return m;
}

ChainLayout LayoutChain(const traces::Chain& chain, ImVec2 available, const LayoutMetrics& m) {
  ChainLayout out;
  available = ImVec2(std::max(0.0f, available.x), std::max(0.0f, available.y));
  const size_t n = chain.nodes.size();
  out.edges.resize(chain.edges.size());
  out.lanes.assign(chain.edges.size(), -1);
  // Links that skip steps or go up run in lanes right of the boxes; shorter
  // links take inner lanes, and links whose spans touch never share a lane.
  std::vector<std::pair<size_t, size_t>> ends, spans;  // per edge: (from, to), (low, high)
  std::vector<size_t> order;
  for (const traces::ChainEdge& edge : chain.edges) {
    const size_t from = IndexOf(chain, edge.from), to = IndexOf(chain, edge.to);
    ends.emplace_back(from, to);
    spans.emplace_back(std::min(from, to), std::max(from, to));
    if (from < n && to < n && from != to && to != from + 1) order.push_back(ends.size() - 1);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return spans[x].second - spans[x].first < spans[y].second - spans[y].first;
  });
  std::vector<std::vector<std::pair<size_t, size_t>>> taken;  // per lane: spans
  for (size_t e : order) {
    const auto [lo, hi] = spans[e];
    size_t lane = 0;
    for (; lane < taken.size(); ++lane) {
      bool free = true;
      for (const auto& [a, b] : taken[lane]) free = free && (hi < a || b < lo);
      if (free) break;
    }
    if (lane == taken.size()) taken.emplace_back();
    taken[lane].push_back({lo, hi});
    out.lanes[e] = static_cast<int>(lane);
  }
  const float side = taken.empty() ? 0 : static_cast<float>(taken.size()) * m.lane_width + m.margin;
  const float box_w = std::clamp(available.x - 2 * m.margin - side, m.min_box_width,
                                 std::max(m.min_box_width, m.max_box_width));
  float gap = m.min_gap;
  if (n > 1) {
    const float free = available.y - 2 * m.margin - static_cast<float>(n) * m.box_height;
    gap = std::clamp(free / static_cast<float>(n - 1), m.min_gap, std::max(m.min_gap, m.max_gap));
  }
  const float height = 2 * m.margin + static_cast<float>(n) * m.box_height +
                       (n > 1 ? static_cast<float>(n - 1) * gap : 0.0f);
  out.size =
      ImVec2(std::max(available.x, 2 * m.margin + box_w + side), std::max(available.y, height));
  for (size_t i = 0; i < n; ++i) {
    const float y = m.margin + static_cast<float>(i) * (m.box_height + gap);
    out.nodes.push_back({ImVec2(m.margin, y), ImVec2(m.margin + box_w, y + m.box_height)});
  }
  for (size_t e = 0; e < chain.edges.size(); ++e) {
    const auto [from, to] = ends[e];
    if (from >= n || to >= n || from == to) continue;
    const Box& a = out.nodes[from];
    const Box& b = out.nodes[to];
    if (out.lanes[e] < 0) {
      const float x = (a.min.x + a.max.x) / 2;
      out.edges[e] = {ImVec2(x, a.max.y), ImVec2(x, b.min.y)};
      continue;
    }
    // Out of the caller's right side above its middle, into the callee's
    // below it: a box's outgoing and incoming links never meet.
    const float lane_x = a.max.x + static_cast<float>(out.lanes[e] + 1) * m.lane_width;
    const float y0 = (a.min.y + a.max.y) / 2 - m.box_height * 0.15f;
    const float y1 = (b.min.y + b.max.y) / 2 + m.box_height * 0.15f;
    out.edges[e] = {ImVec2(a.max.x, y0), ImVec2(lane_x, y0), ImVec2(lane_x, y1),
                    ImVec2(b.max.x, y1)};
  }
  return out;
}

}  // namespace kvmscope::ui

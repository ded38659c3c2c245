// The call-chain panel: each of the four KVM chains as a box-and-arrow
// diagram lit by this kernel's captured stacks (observed, present, inlined,
// n/a), the seed's claims pinned to the steps they name, the selected event's
// kernel path travelling down the chain in slow motion, and the merged call
// tree beside it.
#pragma once

#include <imgui.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "traces/chains.h"
#include "traces/seed_check.h"
#include "traces/trace.h"
#include "ui/view.h"

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
  // Sizes for a font of this height (ImGui::GetFontSize()).
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

// --- What a chain and a stack look like ---------------------------------------

// How a step is drawn: Lit (observed: filled, with its count), Dim (present,
// not seen), Absent (dashed, grey: inlined or no symbol), Faded (n/a here).
enum class NodeLook { Lit, Dim, Absent, Faded };
NodeLook LookOf(traces::NodeStatus status);
// NodeMark without its brackets: "observed 42", "absent: inlined into x".
std::string NodeStatusText(const traces::NodeMatch& node);

// The steps of one chain a captured stack passes through, in the stack's
// order (outermost first), and between consecutive steps the links taken:
// direct calls or calls through steps that have no frame (inlined). A route
// is empty when the chain has no such link.
struct ChainPath {
  std::vector<size_t> nodes;                // indices into the chain's nodes
  std::vector<std::vector<size_t>> routes;  // routes[i]: edge indices nodes[i] → nodes[i + 1]
};
ChainPath PathThrough(const traces::ChainMatch& match, const std::vector<std::string>& frames);

// The seed's claim about a chain mapped to the step it names (the function it
// is about, else its other function, else a function it is checked against);
// -1 when no step of the chain names any of them.
int NodeOfClaim(const traces::Chain& chain, const traces::SeedClaim& claim);

// --- The panel ------------------------------------------------------------------

class ChainsPanel {
 public:
  // Where the highlighted path comes from.
  enum class PathSource { None, Selected, Latest };

  // What the last Draw put on the canvas (screen coordinates), for tests.
  struct DrawnNode {
    std::string id;        // the chain node: "vcpu_run"
    std::string function;  // the function chosen for this kernel
    std::string status;    // NodeStatusText
    NodeLook look = NodeLook::Dim;
    bool on_path = false;      // a frame of the highlighted stack is this step
    bool highlighted = false;  // on_path and the slow-motion highlight has reached it
    std::string badge;         // "seed: contradicted" ("" when no claim names it)
    Box box;
  };
  struct DrawnEdge {
    std::string from, to;
    traces::EdgeStatus status = traces::EdgeStatus::NotObserved;
    bool on_path = false;
  };

  // Draws inside the current window.
  void Draw(const traces::TraceData& trace, SharedView& view);

  // Recomputes the per-trace cache (kernel facts, chain matches, seed
  // verdicts, call tree, latest event with a stack) when the trace changed:
  // another trace, new stacks or symbols at once; only more events at most
  // once per refresh interval (a live trace grows every frame and facts cost
  // a pass over every event). Draw calls it with ImGui::GetTime().
  void Refresh(const traces::TraceData& trace, double now);
  void SetRefreshInterval(double seconds) { m_refresh_interval = seconds; }
  size_t refresh_count() const { return m_refresh_count; }

  // Slow motion: the time the highlight takes down a whole path (0: instant).
  void SetAnimationSeconds(double seconds) { m_animation_seconds = seconds; }
  void Replay() { m_anim_start.reset(); }

  // Shows this chain's tab from the next frame on.
  void SetChain(traces::ChainId id) { m_pending_chain = id; }
  traces::ChainId chain() const { return m_chain; }
  // Switch to the chain that most of the selected path runs through.
  void SetFollowSelection(bool follow) { m_follow = follow; }

  // --- Cached model answers (valid after Refresh / Draw) ---
  const traces::ChainMatch& Match(traces::ChainId id) const;
  const std::vector<traces::ClaimResult>& Claims(traces::ChainId id) const;
  const traces::CallTreeNode& CallTree() const { return m_call_tree; }
  // The highlighted stack as ChainFrames (outermost first), and its source.
  const std::vector<std::string>& PathFrames() const { return m_path_frames; }
  PathSource path_source() const { return m_path_source; }
  const std::optional<EventKey>& path_event() const { return m_path_event; }
  // Node ids on the highlighted path, in path order: of the chain shown, or
  // of any chain.
  std::vector<std::string> HighlightedNodes() const { return HighlightedNodes(m_chain); }
  std::vector<std::string> HighlightedNodes(traces::ChainId id) const;

  // --- What the last Draw drew ---
  const std::vector<DrawnNode>& DrawnNodes() const { return m_drawn_nodes; }
  const std::vector<DrawnEdge>& DrawnEdges() const { return m_drawn_edges; }
  std::vector<Box> NodeRects() const;
  const Box& CanvasRect() const { return m_canvas; }

 private:
  struct Cache {
    const traces::TraceData* trace = nullptr;
    size_t events = SIZE_MAX, stacks = SIZE_MAX, symbols = SIZE_MAX;
    double computed_at = 0;
  };

  void FollowSelection(const traces::TraceData& trace, const SharedView& view);
  void DrawHeader(const traces::TraceData& trace);
  void DrawChain(traces::ChainId id);
  void DrawCanvas(traces::ChainId id, float width, float height);
  void DrawCallTree();
  void DrawTreeNode(const traces::CallTreeNode& node, size_t depth, bool on_path);
  double AnimationProgress(size_t steps);

  // Per-trace cache.
  Cache m_cache;
  double m_refresh_interval = 0.25;
  size_t m_refresh_count = 0;
  std::array<traces::ChainMatch, 4> m_matches{};
  std::array<std::vector<traces::ClaimResult>, 4> m_claims{};
  traces::CallTreeNode m_call_tree;
  std::string m_kernel;              // KernelFacts::Describe()
  std::optional<EventKey> m_latest;  // the latest event with a stack

  // The highlighted path.
  std::optional<EventKey> m_path_event;
  PathSource m_path_source = PathSource::None;
  std::vector<std::string> m_path_frames;
  std::string m_path_label;
  std::optional<EventKey> m_label_for;  // the selected event the label speaks of
  std::optional<EventKey> m_followed;   // the selection last followed to a chain
  bool m_open_tree_path = false;        // open the call tree along a new path once
  bool m_reframe = false;               // the cache changed: symbolize the path again

  // View state.
  traces::ChainId m_chain = traces::ChainId::RunLoop;
  std::optional<traces::ChainId> m_pending_chain = traces::ChainId::RunLoop;
  bool m_follow = true;
  double m_animation_seconds = 1.5;
  std::optional<double> m_anim_start;
  double m_now = 0;

  // The last frame's canvas.
  Box m_canvas;
  std::vector<DrawnNode> m_drawn_nodes;
  std::vector<DrawnEdge> m_drawn_edges;
};

}  // namespace kvmscope::ui

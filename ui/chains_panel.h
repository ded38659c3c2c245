// The call-chain panel: each of the four KVM chains as a box-and-arrow
// diagram lit by this kernel's captured stacks (observed, present, inlined,
// n/a), the selected event's kernel path travelling down the chain in slow
// motion, the merged call tree beside it, and behind a "claims" toggle the
// seed document's claims on the steps they name. It only draws: the chain
// questions are answered by traces/ (chains.h, chain_paths.h, seed_check.h).
#pragma once

#include <imgui.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "traces/chain_paths.h"
#include "traces/chains.h"
#include "traces/seed_check.h"
#include "traces/trace.h"
#include "ui/chain_layout.h"
#include "ui/view.h"

namespace kvmscope::ui {

// --- What a chain and a stack look like ---------------------------------------

// How a step is drawn: Lit (observed: filled, with its count), TailCall
// (observed through a tail call: the observed colour, dashed like its links,
// since no stack shows its frame), Dim (present, not seen), Absent (dashed,
// in the absent colour: no symbol and no sign of why), Faded (n/a here),
// Neutral (dashed grey: no symbol of its own, and rightly so: inlined into
// its caller, or __init code freed after load), Unknown (plain grey: the
// kernel was not traced, nothing is known).
enum class NodeLook { Lit, TailCall, Dim, Absent, Faded, Neutral, Unknown };
NodeLook LookOf(traces::NodeStatus status);
// By status, tail-call evidence and absent reason.
NodeLook LookOf(const traces::NodeMatch& node);
// NodeMark without its brackets: "observed 42", "absent: inlined into x";
// for a step observed through a tail call only its head, "observed through
// a tail call, 30 exits" (the evidence is in the tooltip's NodeMark).
std::string NodeStatusText(const traces::NodeMatch& node);

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
    bool on_path = false;             // a frame of the highlighted stack is this step
    bool highlighted = false;         // on_path and the slow-motion highlight has reached it
    std::string badge;                // "seed: contradicted" ("" when claims are hidden or none)
    std::vector<std::string> claims;  // ClaimSentence of each claim shown on it
    Box box;
    Box function_rect, status_rect;  // where its two lines of text went
    Box badge_rect;                  // empty (min == max) without a badge
  };
  struct DrawnEdge {
    std::string from, to;
    traces::EdgeStatus status = traces::EdgeStatus::NotObserved;
    bool on_path = false;
  };

  // Draws inside the current window. Takes view.show_chain (brings that
  // chain forward and clears the request) and draws the seed's claims when
  // view.show_claims is set (its "claims" checkbox toggles it).
  void Draw(const traces::TraceData& trace, SharedView& view);

  // Recomputes the per-trace cache (kernel facts, chain matches, seed
  // verdicts, call tree, latest event with a stack) when what they are made
  // of changed: another trace (or trace generation), the number of stacks or
  // symbols, or the host facts. More events alone do not: a live trace grows
  // every frame and the facts cost a pass over every event under the trace's
  // lock, so counts are as of the last new stack. Draw calls it.
  void Refresh(const traces::TraceData& trace, uint64_t generation = 0);
  size_t refresh_count() const { return m_refresh_count; }
  // Whether the trace has kernel data (symbols or stacks); without, the
  // panel says so once and draws the steps neutral.
  bool kernel_data() const { return m_kernel_data; }
  const std::string& not_traced_note() const { return m_not_traced; }

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
  // The header's items (notes, buttons, checkboxes), in drawing order, and
  // the "claims" checkbox among them.
  const std::vector<Box>& HeaderRects() const { return m_header_rects; }
  const Box& ClaimsToggleRect() const { return m_claims_toggle; }
  // The claim sentences listed under the diagram (when claims are shown).
  const std::vector<std::string>& ListedClaims() const { return m_listed_claims; }

 private:
  // What the cache was computed from.
  struct Stamp {
    const traces::TraceData* trace = nullptr;
    uint64_t generation = 0;
    size_t stacks = SIZE_MAX, symbols = SIZE_MAX;
    traces::HostFacts host;
    bool operator==(const Stamp&) const = default;
  };

  void FollowSelection(const traces::TraceData& trace, const SharedView& view);
  void DrawHeader(const traces::TraceData& trace, SharedView& view);
  void DrawChain(traces::ChainId id, bool show_claims);
  void DrawCanvas(traces::ChainId id, float width, float height, bool show_claims);
  void DrawCallTree();
  void DrawTreeNode(const traces::CallTreeNode& node, size_t depth, bool on_path);
  double AnimationProgress(size_t steps);

  // Per-trace cache.
  Stamp m_stamp;
  bool m_computed = false;
  size_t m_refresh_count = 0;
  bool m_kernel_data = false;
  std::string m_not_traced;  // "" when the kernel was traced
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
  std::vector<Box> m_header_rects;
  Box m_claims_toggle;
  std::vector<std::string> m_listed_claims;
};

}  // namespace kvmscope::ui

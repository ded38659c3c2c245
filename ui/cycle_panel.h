// The KVM cycle panel: the run cycle in the processor manuals' life-cycle
// shape (VMM / KVM / guest bands), this kernel's functions in the boxes, live
// counts on the arcs, and the selected exit's KVM_RUN travelling its path.
#pragma once

#include <imgui.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "traces/cycle.h"
#include "traces/trace.h"
#include "ui/chains_panel.h"  // Box
#include "ui/view.h"

namespace kvmscope::ui {

// --- Layout (pure: no ImGui context needed) -------------------------------------

struct CycleMetrics {
  float pad = 6;           // inside boxes, around labels
  float gap = 16;          // between columns and rows
  float band_gap = 10;     // extra between bands
  float arrow_inset = 16;  // vertical arrows run this far right of a column's left edge
  float max_gap = 64;      // extra room is spread into gaps up to this
  static CycleMetrics ForFont(float font_size);
};

// Where each node sits: 5 columns (init, the loop's left side, arc labels,
// the exit side, the exit handler's side steps) by 5 rows (VMM, three KVM
// rows, guest).
struct CycleCell {
  int col = 0, row = 0;
};
CycleCell CellOf(traces::CycleNodeId node);
inline constexpr int kCycleCols = 5, kCycleRows = 5;

struct CycleLayoutInput {
  std::array<ImVec2, traces::kCycleNodes> nodes{};  // each box's size (its text + padding)
  std::array<ImVec2, traces::kCycleArcs> labels{};  // each arc label's text size; 0 = none
  float band_label_width = 0;                       // the column of band names at the left
};

struct CycleLayout {
  ImVec2 size;  // the canvas this needs: at least the available size
  std::array<Box, traces::kCycleNodes> nodes{};
  std::array<std::vector<ImVec2>, traces::kCycleArcs> arcs{};  // polyline, arrowhead at the end
  std::array<ImVec2, traces::kCycleArcs> labels{};             // top-left of each label
  std::array<Box, 3> bands{};                                  // by CycleBand
};
// Boxes never overlap each other or a label, and stay inside `size`.
CycleLayout LayoutCycle(const CycleLayoutInput& input, ImVec2 available,
                        const CycleMetrics& metrics = {});

// The text of an arc's label: a first line with the count and whether it is
// measured or inferred, then the top reasons (the rest summed); empty when
// the arc carries no label.
std::vector<std::string> ArcLabel(const traces::CycleModel& model, traces::CycleArcId arc,
                                  size_t top_reasons = 3);
// The lines of a node's box: title, function (kernel nodes), status, count.
std::vector<std::string> NodeLines(const traces::CycleNode& node);

// --- The panel ---------------------------------------------------------------------

class CyclePanel {
 public:
  enum class Look { Seen, Present, Inlined, Missing, User };  // border/fill style, with text
  struct DrawnNode {
    traces::CycleNodeId id{};
    std::vector<std::string> lines;  // as drawn, top to bottom
    Look look = Look::User;
    bool on_path = false;      // the selected run went through it
    bool highlighted = false;  // ... and the animation has reached it
    Box box;
  };
  struct DrawnArc {
    traces::CycleArcId id{};
    std::vector<std::string> label;
    bool on_path = false;
    Box label_box;  // where the label's text went (empty when none)
  };

  // Draws inside the current window (the caller owns Begin/End).
  void Draw(const traces::TraceData& trace, SharedView& view);

  // Seconds the selected run takes to travel its path (0: at once).
  void SetAnimationSeconds(double seconds) { m_animation_seconds = seconds; }
  // How often a growing trace is counted again, at most.
  void SetRefreshInterval(double seconds) { m_refresh_interval = seconds; }

  const traces::CycleModel& model() const { return m_cache.model(); }
  const traces::CycleCache& cache() const { return m_cache; }
  const std::optional<traces::CyclePath>& path() const { return m_path; }
  // The caption under the picture: the step the animation is on, else the
  // hovered node, else the exit handler.
  const std::string& caption() const { return m_caption; }

  // What the last Draw drew (screen coordinates), for tests.
  const std::vector<DrawnNode>& DrawnNodes() const { return m_drawn_nodes; }
  const std::vector<DrawnArc>& DrawnArcs() const { return m_drawn_arcs; }
  const DrawnNode* Drawn(traces::CycleNodeId id) const;
  const Box& CanvasRect() const { return m_canvas; }
  // The font scale the canvas was drawn with (below 1 when it shrank to fit).
  float drawn_scale() const { return m_drawn_scale; }
  const std::string& notice() const { return m_notice; }  // "no kernel data: ..." once

 private:
  void UpdatePath(const traces::TraceData& trace, const SharedView& view, double now);
  void DrawCanvas(SharedView& view, ImVec2 available);
  void Click(traces::CycleNodeId node, SharedView& view) const;

  static constexpr float kMinFitScale = 0.8f;
  float m_fit_scale = 1.0f;  // the canvas's font scale that makes it fit
  float m_drawn_scale = 1.0f;

  traces::CycleCache m_cache;
  double m_refresh_interval = 0.25;
  uint64_t m_generation = UINT64_MAX;

  std::optional<EventKey> m_path_for;
  size_t m_path_counted = SIZE_MAX;  // the cache's count_builds the path was made with
  std::optional<traces::CyclePath> m_path;
  double m_anim_start = 0;
  double m_animation_seconds = 1.0;
  double m_now = 0;

  std::string m_caption, m_notice;
  Box m_canvas;
  std::vector<DrawnNode> m_drawn_nodes;
  std::vector<DrawnArc> m_drawn_arcs;
};

}  // namespace kvmscope::ui

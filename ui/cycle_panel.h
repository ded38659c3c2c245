// The KVM cycle panel: the run cycle in the processor manuals' life-cycle
// shape (VMM / KVM / guest bands, init strip above), live counts on the arcs,
// the selected exit's KVM_RUN travelling its path, a caption line and a
// legend; it picks the richest text form that fits its pane without scrolling.
#pragma once

#include <imgui.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "traces/cycle.h"
#include "traces/trace.h"
#include "ui/cycle_layout.h"
#include "ui/view.h"

namespace kvmscope::ui {

class CyclePanel {
 public:
  // Border style, with text. Inlined and Missing (no symbol, other backend):
  // dashed. NotTraced (no kernel data in this trace): dotted, with its own
  // legend entry in place of the dashed one.
  enum class Look { Seen, Present, Inlined, Missing, NotTraced, User };
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
    std::vector<ImVec2> points;  // the arrow's polyline, head at the end
  };

  // Draws inside the current window (the caller owns Begin/End), filling the
  // content region left: the picture, two caption lines, the legend.
  void Draw(const traces::TraceData& trace, SharedView& view);

  // Seconds the selected run takes to travel its path (0: at once).
  void SetAnimationSeconds(double seconds) { m_animation_seconds = seconds; }
  // How often a growing trace is counted again, at most (and never more
  // often than ten times what the last count took). Counting is incremental,
  // so this can be 0 (every frame).
  void SetRefreshInterval(double seconds) { m_refresh_interval = seconds; }

  const traces::CycleModel& model() const { return m_cache.model(); }
  const traces::CycleCache& cache() const { return m_cache; }
  const std::optional<traces::CyclePath>& path() const { return m_path; }
  // The caption under the picture, in full (drawn on at most two lines): the
  // hovered step or arc label, else the step the animation is on, else the
  // selected run's summary, else a hint.
  const std::string& caption() const { return m_caption; }
  const std::vector<std::string>& CaptionLines() const { return m_caption_lines; }
  const std::string& legend() const { return m_legend; }

  // What the last Draw drew (screen coordinates), for tests.
  const std::vector<DrawnNode>& DrawnNodes() const { return m_drawn_nodes; }
  const std::vector<DrawnArc>& DrawnArcs() const { return m_drawn_arcs; }
  const DrawnNode* Drawn(traces::CycleNodeId id) const;
  const Box& PaneRect() const { return m_pane; }      // the content region it was given
  const Box& CanvasRect() const { return m_canvas; }  // the picture
  const Box& CaptionRect() const { return m_caption_rect; }
  const Box& LegendRect() const { return m_legend_rect; }
  // Every other text drawn (band names, the kernel note, legend words).
  const std::vector<Box>& TextRects() const { return m_text_rects; }
  const std::vector<ImVec2>& InjectLink() const { return m_inject_link; }  // empty: not drawn
  // The text size the picture was drawn with, relative to the body font.
  float drawn_scale() const { return m_scale; }
  CycleForm form() const { return m_form; }
  // False when even the tightest form did not fit (the window then scrolls).
  bool fits() const { return m_fits; }
  const std::string& notice() const { return m_notice; }  // "no kernel data: ..." once

 private:
  void UpdatePath(const traces::TraceData& trace, const SharedView& view, double now);
  void Choose(ImVec2 available);
  void DrawCanvas(SharedView& view, ImVec2 available);
  void Click(traces::CycleNodeId node, SharedView& view) const;

  traces::CycleCache m_cache;
  double m_refresh_interval = 0.1;
  double m_count_seconds = 0;  // what the last count of the trace took
  uint64_t m_generation = UINT64_MAX;

  std::optional<EventKey> m_path_for;
  size_t m_path_counted = SIZE_MAX;  // the cache's count_builds the path was made with
  std::optional<traces::CyclePath> m_path;
  double m_anim_start = 0;
  double m_animation_seconds = 1.0;
  double m_now = 0;

  // The form and text scale chosen for a pane size, font and model version.
  struct ChoiceKey {
    float w = -1, h = -1, font = -1;
    size_t facts = SIZE_MAX, counts = SIZE_MAX;
    bool operator==(const ChoiceKey&) const = default;
  };
  ChoiceKey m_choice_key;
  CycleForm m_form = CycleForm::Full;
  float m_scale = 1.0f;
  bool m_fits = true;

  std::string m_caption, m_notice, m_legend;
  std::vector<std::string> m_caption_lines;
  Box m_pane, m_canvas, m_caption_rect, m_legend_rect;
  std::vector<Box> m_text_rects;
  std::vector<ImVec2> m_inject_link;
  std::vector<DrawnNode> m_drawn_nodes;
  std::vector<DrawnArc> m_drawn_arcs;
};

}  // namespace kvmscope::ui

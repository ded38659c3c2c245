// The geometry and the words of the KVM cycle picture, pure (no ImGui context
// needed): a grid in the VMX life-cycle shape with the init steps in a strip
// above it, and the texts of boxes and arc labels in forms from full to
// compact, so the panel picks the richest one that fits its pane.
#pragma once

#include <imgui.h>

#include <array>
#include <string>
#include <vector>

#include "traces/cycle.h"
#include "ui/chain_layout.h"  // Box

namespace kvmscope::ui {

// How much a box and an arc label say, richest first. Full: title, kernel
// function, status, count with "(measured)"; arc labels with the top three
// reasons. Medium: title, function, count; arc labels with the top reason.
// Compact: title and count on two lines (inferred counts as "~N"); short
// arc labels ("to the VMM: 141 (IO 140)"; "handled in the kernel" keeps its
// top two reasons on a second line). Tight: "title count" on one line.
// What a form leaves out is said in the caption line for the hovered or
// animated step.
enum class CycleForm { Full, Medium, Compact, Tight };
inline constexpr int kCycleForms = 4;

struct CycleMetrics {
  float pad = 6;           // inside boxes, around labels
  float gap = 16;          // between columns and rows
  float band_gap = 10;     // extra between bands
  float arrow_inset = 16;  // vertical arrows run this far right of a column's left edge
  float max_gap = 64;      // extra room is spread into gaps up to this
  float init_arrow = 20;   // between the init strip's boxes
  static CycleMetrics ForFont(float font_size);
};

// Where each loop node sits: 4 columns (the loop's left side, the middle with
// the guest and the horizontal arcs' labels, the exit side, the exit
// handler's side steps) by 5 rows (VMM, three KVM rows, guest). Init nodes
// have row -1: the strip above the grid, left to right in col order.
struct CycleCell {
  int col = 0, row = 0;
};
CycleCell CellOf(traces::CycleNodeId node);
inline constexpr int kCycleCols = 4, kCycleRows = 5;

struct CycleLayoutInput {
  std::array<ImVec2, traces::kCycleNodes> nodes{};  // each box's size (its text + padding)
  std::array<ImVec2, traces::kCycleArcs> labels{};  // each arc label's text size; 0 = none
  float band_label_width = 0;                       // the column of band names at the left
  ImVec2 strip_note{};                              // text right of the init strip (0: none)
};

struct CycleLayout {
  ImVec2 size;  // the canvas: the needed size, grown to the available one
  ImVec2 need;  // the smallest canvas that holds everything
  std::array<Box, traces::kCycleNodes> nodes{};
  std::array<std::vector<ImVec2>, traces::kCycleArcs> arcs{};  // polyline, arrowhead at the end
  std::array<ImVec2, traces::kCycleArcs> labels{};             // top-left of each label
  std::array<Box, 3> bands{};                                  // by CycleBand
  Box init_band;                                               // the strip above the bands
  ImVec2 strip_note{};                                         // top-left of the strip's note
  bool strip_note_fits = false;                                // else it is left out
  // "Injected at the next VM entry": from the exception node back to the
  // vendor entry, below the loop's KVM rows (drawn dashed, no arrowhead label).
  std::vector<ImVec2> inject_link;
};
// Boxes never overlap each other or a label, and stay inside `size`.
CycleLayout LayoutCycle(const CycleLayoutInput& input, ImVec2 available,
                        const CycleMetrics& metrics = {});

// The lines of an arc's label in a form; empty when the arc carries none.
std::vector<std::string> ArcLabel(const traces::CycleModel& model, traces::CycleArcId arc,
                                  CycleForm form = CycleForm::Full);
// The lines of a node's box in a form. Init nodes are always one line.
std::vector<std::string> NodeLines(const traces::CycleNode& node, CycleForm form = CycleForm::Full);
// "141 (measured)", "~62" (Compact, Tight: inferred), "" without a count.
std::string CountText(const traces::CycleCount& count, CycleForm form = CycleForm::Full);

// What the caption line says about a node or an arc, in full: title,
// function, status, what it does, its count and how it was counted.
std::string NodeCaption(const traces::CycleNode& node);
std::string ArcCaption(const traces::CycleModel& model, traces::CycleArcId arc);
// The selected run in one sentence: its steps in order, how it ended.
std::string PathSummary(const traces::CycleModel& model, const traces::CyclePath& path);

}  // namespace kvmscope::ui

// The KVM cycle panel: a pure grid layout of the cycle's boxes, arcs and
// labels, and the panel that draws the model (traces/cycle) with ImDrawList
// on a canvas, animates the selected run's path and opens the chain a
// clicked step details.
#include "ui/cycle_panel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "traces/stats.h"
#include "ui/theme.h"

namespace kvmscope::ui {

using traces::CountKind;
using traces::CycleArcId;
using traces::CycleNodeId;
using traces::CycleNodeStatus;
using N = CycleNodeId;
using A = CycleArcId;

// --- Layout ---------------------------------------------------------------------------

CycleMetrics CycleMetrics::ForFont(float fs) {
  CycleMetrics m;
  m.pad = std::round(fs * 0.35f);
  m.gap = std::round(fs * 0.9f);
  m.band_gap = std::round(fs * 0.6f);
  m.arrow_inset = std::round(fs * 1.1f);
  m.max_gap = std::round(fs * 4.0f);
  return m;
}

CycleCell CellOf(CycleNodeId node) {
  switch (node) {
    case N::ModuleLoad: return {0, 1};
    case N::CreateVm: return {0, 2};
    case N::CreateVcpu: return {0, 3};
    case N::VmmRun: return {1, 0};
    case N::ArchRun: return {1, 1};
    case N::RunLoop: return {1, 2};
    case N::VendorEntry: return {1, 3};
    case N::GuestRuns: return {2, 4};
    case N::VmExit: return {3, 4};
    case N::ExitHandler: return {3, 2};
    case N::VmmHandles: return {3, 0};
    case N::Emulate: return {4, 1};
    case N::PageFault: return {4, 2};
    case N::Exception: return {4, 3};
    case N::Count: break;
  }
  return {};
}

namespace {

// Arcs whose label sits in an empty cell: beside a vertical arrow (the
// label starts right of it) or under a horizontal one.
// Beside: right of a vertical arrow that crosses the cell. Below: under a
// horizontal arrow through the cell's middle. Corner: right of a vertical
// arrow that turns right at the cell's middle, above the turn.
enum class Place { Beside, Below, Corner };
struct LabelCell {
  CycleArcId arc;
  CycleCell cell;
  Place place;
};
constexpr LabelCell kLabelCells[] = {{A::RunAgain, {2, 0}, Place::Below},
                                     {A::HandledInKernel, {2, 2}, Place::Below},
                                     {A::ReturnToVmm, {3, 1}, Place::Beside},
                                     {A::ExitToHandler, {3, 3}, Place::Beside},
                                     {A::EntryToGuest, {1, 4}, Place::Corner}};

}  // namespace

CycleLayout LayoutCycle(const CycleLayoutInput& in, ImVec2 available, const CycleMetrics& m) {
  std::array<float, kCycleCols> col_w{};
  std::array<float, kCycleRows> row_h{};
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    const CycleCell c = CellOf(static_cast<N>(i));
    col_w[c.col] = std::max(col_w[c.col], in.nodes[i].x);
    row_h[c.row] = std::max(row_h[c.row], in.nodes[i].y);
  }
  const float label_x = m.arrow_inset + m.pad;  // a label's offset from its column's left edge
  for (const LabelCell& l : kLabelCells) {
    const ImVec2 s = in.labels[static_cast<size_t>(l.arc)];
    if (s.x <= 0) continue;
    col_w[l.cell.col] =
        std::max(col_w[l.cell.col], (l.place == Place::Below ? m.pad : label_x) + s.x + m.pad);
    row_h[l.cell.row] = std::max(row_h[l.cell.row], l.place == Place::Beside ? s.y + 2 * m.pad
                                                                             : 2 * (s.y + 2 * m.pad));
  }
  // Gaps grow with spare room, up to max_gap.
  float need_w = in.band_label_width + m.gap * kCycleCols, need_h = m.gap * (kCycleRows + 1);
  for (float w : col_w) need_w += w;
  for (float h : row_h) need_h += h;
  need_h += 2 * m.band_gap;
  const float gap_x = std::clamp(m.gap + (available.x - need_w) / kCycleCols, m.gap, m.max_gap);
  const float gap_y = std::clamp(m.gap + (available.y - need_h) / (kCycleRows + 1), m.gap, m.max_gap);
  std::array<float, kCycleCols> x{};
  std::array<float, kCycleRows> y{};
  float at = in.band_label_width + gap_x;
  for (int c = 0; c < kCycleCols; ++c) {
    x[c] = at;
    at += col_w[c] + gap_x;
  }
  const float width = at;
  at = gap_y;
  for (int r = 0; r < kCycleRows; ++r) {
    if (r == 1 || r == 4) at += m.band_gap;
    y[r] = at;
    at += row_h[r] + gap_y;
  }
  const float height = at;

  CycleLayout out;
  out.size = ImVec2(std::max(width, available.x), std::max(height, available.y));
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    const CycleCell c = CellOf(static_cast<N>(i));
    const float top = y[c.row] + (row_h[c.row] - in.nodes[i].y) / 2;
    out.nodes[i] = Box{ImVec2(x[c.col], top), ImVec2(x[c.col] + col_w[c.col], top + in.nodes[i].y)};
  }
  // Bands: rows 0, 1-3 and 4, split halfway through the gaps between them.
  const float band_top[3] = {0, y[1] - (gap_y + m.band_gap) / 2, y[4] - (gap_y + m.band_gap) / 2};
  const float band_bottom[3] = {band_top[1], band_top[2], out.size.y};
  for (int b = 0; b < 3; ++b)
    out.bands[b] = Box{ImVec2(0, band_top[b]), ImVec2(out.size.x, band_bottom[b])};

  auto box = [&](N n) -> const Box& { return out.nodes[static_cast<size_t>(n)]; };
  auto mid_y = [&](N n) { return (box(n).min.y + box(n).max.y) / 2; };
  auto arc = [&](A a) -> std::vector<ImVec2>& { return out.arcs[static_cast<size_t>(a)]; };
  const float x1 = x[1] + m.arrow_inset, x3 = x[3] + m.arrow_inset;
  const float gap01 = (x[0] + col_w[0] + x[1]) / 2, gap34 = (x[3] + col_w[3] + x[4]) / 2;
  auto down = [&](A a, N from, N to, float ax) {
    arc(a) = {ImVec2(ax, box(from).max.y), ImVec2(ax, box(to).min.y)};
  };
  auto up = [&](A a, N from, N to, float ax) {
    arc(a) = {ImVec2(ax, box(from).min.y), ImVec2(ax, box(to).max.y)};
  };
  arc(A::InitToRun) = {ImVec2(box(N::CreateVcpu).max.x, mid_y(N::CreateVcpu)),
                       ImVec2(gap01, mid_y(N::CreateVcpu)), ImVec2(gap01, mid_y(N::VmmRun)),
                       ImVec2(box(N::VmmRun).min.x, mid_y(N::VmmRun))};
  down(A::RunCall, N::VmmRun, N::ArchRun, x1);
  down(A::IntoLoop, N::ArchRun, N::RunLoop, x1);
  down(A::Enter, N::RunLoop, N::VendorEntry, x1);
  arc(A::EntryToGuest) = {ImVec2(x1, box(N::VendorEntry).max.y), ImVec2(x1, mid_y(N::GuestRuns)),
                          ImVec2(box(N::GuestRuns).min.x, mid_y(N::GuestRuns))};
  arc(A::GuestToExit) = {ImVec2(box(N::GuestRuns).max.x, mid_y(N::GuestRuns)),
                         ImVec2(box(N::VmExit).min.x, mid_y(N::VmExit))};
  up(A::ExitToHandler, N::VmExit, N::ExitHandler, x3);
  arc(A::HandledInKernel) = {ImVec2(box(N::ExitHandler).min.x, mid_y(N::ExitHandler)),
                             ImVec2(box(N::RunLoop).max.x, mid_y(N::RunLoop))};
  up(A::ReturnToVmm, N::ExitHandler, N::VmmHandles, x3);
  arc(A::RunAgain) = {ImVec2(box(N::VmmHandles).min.x, mid_y(N::VmmHandles)),
                      ImVec2(box(N::VmmRun).max.x, mid_y(N::VmmRun))};
  const float quarter = (box(N::ExitHandler).max.y - box(N::ExitHandler).min.y) / 4;
  auto side = [&](A a, N to, float dy) {
    const float sy = mid_y(N::ExitHandler) + dy;
    arc(a) = {ImVec2(box(N::ExitHandler).max.x, sy), ImVec2(gap34, sy), ImVec2(gap34, mid_y(to)),
              ImVec2(box(to).min.x, mid_y(to))};
  };
  side(A::ToEmulate, N::Emulate, -quarter);
  side(A::ToPageFault, N::PageFault, 0);
  side(A::ToException, N::Exception, quarter);
  for (const LabelCell& l : kLabelCells) {
    const ImVec2 s = in.labels[static_cast<size_t>(l.arc)];
    const float cy = y[l.cell.row] + row_h[l.cell.row] / 2;
    ImVec2& p = out.labels[static_cast<size_t>(l.arc)];
    switch (l.place) {
      case Place::Beside: p = ImVec2(x[l.cell.col] + label_x, cy - s.y / 2); break;
      case Place::Below: p = ImVec2(x[l.cell.col] + m.pad, cy + m.pad); break;
      case Place::Corner: p = ImVec2(x[l.cell.col] + label_x, cy - m.pad - s.y); break;
    }
  }
  return out;
}

// --- Text -----------------------------------------------------------------------------

namespace {

std::string CountText(const traces::CycleCount& c) {
  if (c.kind == CountKind::None) return {};
  return fmt::format("{} ({})", traces::FormatCount(c.value), traces::CountKindName(c.kind));
}

}  // namespace

std::vector<std::string> ArcLabel(const traces::CycleModel& model, CycleArcId id, size_t top) {
  const traces::CycleArc& a = model.Arc(id);
  std::vector<std::string> lines;
  switch (id) {
    case A::RunAgain:
      lines.push_back("KVM_RUN again");
      if (a.count.kind != CountKind::None) lines.push_back(CountText(a.count));
      return lines;
    case A::EntryToGuest:
      lines.push_back("VM entry");
      lines.push_back(a.count.kind != CountKind::None ? CountText(a.count) : "not counted here");
      return lines;
    case A::ExitToHandler:
      lines.push_back("VM exit");
      if (a.count.kind != CountKind::None) {
        lines.push_back(CountText(a.count));
      } else if (model.kernel_data) {
        lines.push_back("not counted:");
        lines.push_back("no kvm_exit here");
      } else {
        lines.push_back("not traced");
      }
      return lines;
    case A::HandledInKernel:
    case A::ReturnToVmm: break;
    default: return lines;
  }
  const bool out = id == A::ReturnToVmm;
  if (a.count.kind == CountKind::None) {
    lines.push_back(out ? "to the VMM" : "handled in kernel");
    lines.push_back(model.kernel_data ? "not counted" : "not traced");
    return lines;
  }
  // PVM's inferred kernel work is a sum of unlike things: the parts say it.
  const bool parts_only = !out && a.count.kind == CountKind::Inferred;
  lines.push_back(fmt::format("{}: {}", out ? "to the VMM" : "handled in kernel",
                              parts_only ? std::string("inferred") : CountText(a.count)));
  uint64_t rest = 0;
  for (size_t i = 0; i < a.reasons.size(); ++i) {
    if (i < top)
      lines.push_back(fmt::format("{} {}", a.reasons[i].name, traces::FormatCount(a.reasons[i].count)));
    else
      rest += a.reasons[i].count;
  }
  if (rest > 0) lines.push_back(fmt::format("others {}", traces::FormatCount(rest)));
  return lines;
}

std::vector<std::string> NodeLines(const traces::CycleNode& n) {
  std::vector<std::string> lines{n.title};
  if (n.band == traces::CycleBand::Kernel) {
    if (!n.function.empty() && n.function != n.title) lines.push_back(n.function);
    if (!n.status_text.empty()) lines.push_back(n.status_text);
  }
  if (n.count.kind != CountKind::None) {
    std::string what = n.id == N::VmmRun ? "calls" : n.id == N::VmmHandles ? "device accesses" : "";
    lines.push_back(what.empty() ? CountText(n.count)
                                 : fmt::format("{} {} ({})", traces::FormatCount(n.count.value), what,
                                               traces::CountKindName(n.count.kind)));
  }
  return lines;
}

// --- The panel -----------------------------------------------------------------------

const CyclePanel::DrawnNode* CyclePanel::Drawn(CycleNodeId id) const {
  for (const DrawnNode& d : m_drawn_nodes)
    if (d.id == id) return &d;
  return nullptr;
}

void CyclePanel::UpdatePath(const traces::TraceData& trace, const SharedView& view, double now) {
  const bool new_selection = view.selected != m_path_for;
  if (!new_selection && m_path_counted == m_cache.count_builds()) return;
  m_path_for = view.selected;
  m_path_counted = m_cache.count_builds();
  m_path.reset();
  if (view.selected)
    if (const auto ref = Find(trace, *view.selected)) m_path = traces::PathOfEvent(trace, *ref);
  if (new_selection) m_anim_start = now;
}

void CyclePanel::Click(CycleNodeId node, SharedView& view) const {
  const bool fault = m_path && m_path->page_fault;
  switch (node) {
    case N::ExitHandler:
      view.show_chain = fault ? traces::ChainId::PageFaults : traces::ChainId::Exceptions;
      break;
    case N::PageFault: view.show_chain = traces::ChainId::PageFaults; break;
    case N::Exception: view.show_chain = traces::ChainId::Exceptions; break;
    case N::ModuleLoad:
    case N::CreateVm:
    case N::CreateVcpu: view.show_chain = traces::ChainId::Init; break;
    case N::ArchRun:
    case N::RunLoop:
    case N::VendorEntry:
    case N::Emulate: view.show_chain = traces::ChainId::RunLoop; break;
    default: break;
  }
}

void CyclePanel::Draw(const traces::TraceData& trace, SharedView& view) {
  m_now = ImGui::GetTime();
  if (view.trace_generation != m_generation) {
    m_cache.Clear();
    m_path_for.reset();
    m_path.reset();
    m_generation = view.trace_generation;
  }
  m_cache.Update(trace, m_now, m_refresh_interval);
  UpdatePath(trace, view, m_now);
  const traces::CycleModel& model = m_cache.model();

  // One line on top: the kernel, or (once) why there is no kernel side.
  m_notice = model.kernel_data ? std::string()
                               : "No kernel data: " + model.no_kernel_reason +
                                     ". The VMM side is counted; kernel steps are not traced.";
  if (!model.kernel_data)
    ImGui::TextColored(StatusColorVec(Status::Warning, CurrentTheme()), "%s", m_notice.c_str());
  else
    ImGui::TextWrapped("KVM cycle on %s", model.kernel.c_str());
  const float fs = ImGui::GetFontSize();
  ImVec2 avail = ImGui::GetContentRegionAvail();
  const float caption_h = 2 * ImGui::GetTextLineHeightWithSpacing() + ImGui::GetStyle().ItemSpacing.y;
  avail.y = std::max(avail.y - caption_h, 6 * fs);
  if (ImGui::BeginChild("##cycle", avail, false, ImGuiWindowFlags_HorizontalScrollbar)) {
    // Text shrinks (to 80% at most) before the picture scrolls; the scale
    // found is kept for the next frame.
    ImGui::SetWindowFontScale(m_fit_scale);
    m_drawn_scale = m_fit_scale;
    DrawCanvas(view, ImGui::GetContentRegionAvail());
  }
  ImGui::EndChild();
  ImGui::TextWrapped("%s", m_caption.c_str());
}

void CyclePanel::DrawCanvas(SharedView& view, ImVec2 available) {
  const traces::CycleModel& model = m_cache.model();
  const float fs = ImGui::GetFontSize();
  const CycleMetrics metrics = CycleMetrics::ForFont(fs);
  const float line_h = ImGui::GetTextLineHeight();

  // Measure the text, then lay out.
  CycleLayoutInput in;
  std::array<std::vector<std::string>, traces::kCycleNodes> node_lines;
  std::array<std::vector<std::string>, traces::kCycleArcs> arc_lines;
  auto measure = [&](const std::vector<std::string>& lines) {
    ImVec2 s(0, line_h * static_cast<float>(lines.size()));
    for (const std::string& l : lines) s.x = std::max(s.x, ImGui::CalcTextSize(l.c_str()).x);
    return s;
  };
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    node_lines[i] = NodeLines(model.nodes[i]);
    const ImVec2 s = measure(node_lines[i]);
    in.nodes[i] = ImVec2(s.x + 2 * metrics.pad, s.y + 2 * metrics.pad);
  }
  for (size_t i = 0; i < traces::kCycleArcs; ++i) {
    arc_lines[i] = ArcLabel(model, static_cast<A>(i));
    if (!arc_lines[i].empty()) in.labels[i] = measure(arc_lines[i]);
  }
  static const char* kBandNames[3][2] = {{"VMM", "user"}, {"KVM", "kernel"}, {"guest", ""}};
  for (auto& b : kBandNames)
    in.band_label_width = std::max({in.band_label_width, ImGui::CalcTextSize(b[0]).x,
                                    ImGui::CalcTextSize(b[1]).x});
  in.band_label_width += 2 * metrics.pad;
  const CycleLayout layout = LayoutCycle(in, available, metrics);
  const ImVec2 need = LayoutCycle(in, ImVec2(0, 0), metrics).size;
  const float over = std::max(need.x / std::max(1.0f, available.x),
                              need.y / std::max(1.0f, available.y));
  const float fit = std::clamp(m_fit_scale / over, kMinFitScale, 1.0f);
  if (std::abs(fit - m_fit_scale) > 0.02f) m_fit_scale = fit;

  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##cycle_canvas", layout.size);
  const bool clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
  const bool hovered_canvas = ImGui::IsItemHovered();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  m_canvas = Box{origin, ImVec2(origin.x + layout.size.x, origin.y + layout.size.y)};
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(ImGui::GetWindowPos(),
                   ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x,
                          ImGui::GetWindowPos().y + ImGui::GetWindowSize().y),
                   true);
  auto at = [&](ImVec2 p) { return ImVec2(origin.x + p.x, origin.y + p.y); };
  auto screen = [&](const Box& b) { return Box{at(b.min), at(b.max)}; };
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const ImU32 band_bg[3] = {ImGui::GetColorU32(ImGuiCol_FrameBg), ImGui::GetColorU32(ImGuiCol_WindowBg),
                            ImGui::GetColorU32(ImGuiCol_FrameBg)};
  const ImU32 box_bg = ImGui::GetColorU32(ImGuiCol_WindowBg) | IM_COL32_A_MASK;
  const ImU32 seen = StatusColor(Status::Observed), present = StatusColor(Status::Present);
  const ImU32 accent = StatusColor(Status::Selected), grey = StatusColor(Status::NotApplicable);
  const float thick = std::max(1.0f, fs / 10), bold = std::max(2.0f, fs / 5);

  // Bands with their names at the left.
  for (int b = 0; b < 3; ++b) {
    const Box band = screen(layout.bands[b]);
    dl->AddRectFilled(band.min, band.max, band_bg[b]);
    const float cy = (band.min.y + band.max.y) / 2;
    dl->AddText(ImVec2(band.min.x + metrics.pad, cy - line_h), text, kBandNames[b][0]);
    dl->AddText(ImVec2(band.min.x + metrics.pad, cy), dim, kBandNames[b][1]);
  }

  // The path: which nodes and arcs the selected run went through, and how
  // far the animation has come.
  std::array<bool, traces::kCycleNodes> on_path{}, reached{};
  std::array<bool, traces::kCycleArcs> arc_on_path{}, arc_reached{};
  std::optional<CycleNodeId> current;
  bool animating = false;
  if (m_path && !m_path->steps.empty()) {
    const size_t n = m_path->steps.size();
    const double progress = m_animation_seconds <= 0 ? 1.0
                                                     : std::clamp((m_now - m_anim_start) / m_animation_seconds, 0.0, 1.0);
    const size_t shown = std::max<size_t>(1, static_cast<size_t>(std::ceil(progress * static_cast<double>(n))));
    for (size_t i = 0; i < n; ++i) {
      const traces::CycleStep& s = m_path->steps[i];
      on_path[static_cast<size_t>(s.node)] = true;
      if (s.arc) arc_on_path[static_cast<size_t>(*s.arc)] = true;
      if (i < shown) {
        reached[static_cast<size_t>(s.node)] = true;
        if (s.arc) arc_reached[static_cast<size_t>(*s.arc)] = true;
      }
    }
    current = m_path->steps[std::min(shown, n) - 1].node;
    animating = progress < 1.0;
  }

  // Arcs.
  m_drawn_arcs.clear();
  for (size_t i = 0; i < traces::kCycleArcs; ++i) {
    const std::vector<ImVec2>& pts = layout.arcs[i];
    if (pts.size() < 2) continue;
    const ImU32 col = arc_reached[i] ? accent : dim;
    const float w = arc_reached[i] ? bold : thick;
    for (size_t p = 0; p + 1 < pts.size(); ++p) dl->AddLine(at(pts[p]), at(pts[p + 1]), col, w);
    const ImVec2 tip = at(pts.back()), from = at(pts[pts.size() - 2]);
    const float dx = tip.x - from.x, dy = tip.y - from.y, len = std::max(1.0f, std::hypot(dx, dy));
    const float ux = dx / len, uy = dy / len, head = fs * 0.45f;
    dl->AddTriangleFilled(tip, ImVec2(tip.x - ux * head - uy * head * 0.5f, tip.y - uy * head + ux * head * 0.5f),
                          ImVec2(tip.x - ux * head + uy * head * 0.5f, tip.y - uy * head - ux * head * 0.5f), col);
    const ImVec2 lp = at(layout.labels[i]);
    for (size_t l = 0; l < arc_lines[i].size(); ++l)
      dl->AddText(ImVec2(lp.x, lp.y + line_h * static_cast<float>(l)), l == 0 ? text : dim,
                  arc_lines[i][l].c_str());
    m_drawn_arcs.push_back({static_cast<A>(i), arc_lines[i], arc_on_path[i],
                            Box{lp, ImVec2(lp.x + in.labels[i].x, lp.y + in.labels[i].y)}});
  }

  // Nodes.
  m_drawn_nodes.clear();
  std::optional<CycleNodeId> hovered;
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    const traces::CycleNode& node = model.nodes[i];
    const Box b = screen(layout.nodes[i]);
    Look look = Look::User;
    switch (node.status) {
      case CycleNodeStatus::Observed: look = Look::Seen; break;
      case CycleNodeStatus::Present: look = Look::Present; break;
      case CycleNodeStatus::Inlined: look = Look::Inlined; break;
      case CycleNodeStatus::NotKernel: look = Look::User; break;
      default: look = Look::Missing; break;
    }
    dl->AddRectFilled(b.min, b.max, box_bg, fs * 0.2f);
    const ImU32 border = reached[i] ? accent
                         : look == Look::Seen ? seen
                         : look == Look::Present ? present
                         : look == Look::User ? text
                                              : grey;
    const float bw = reached[i] ? bold * 1.5f : look == Look::Seen ? bold : thick;
    if (look == Look::Inlined || look == Look::Missing) {  // dashed: no frame of its own
      const float dash = fs * 0.4f;
      auto dashed = [&](ImVec2 p, ImVec2 q) {
        const float len = std::hypot(q.x - p.x, q.y - p.y);
        for (float s = 0; s < len; s += 2 * dash) {
          const float e = std::min(len, s + dash);
          dl->AddLine(ImVec2(p.x + (q.x - p.x) * s / len, p.y + (q.y - p.y) * s / len),
                      ImVec2(p.x + (q.x - p.x) * e / len, p.y + (q.y - p.y) * e / len),
                      reached[i] ? accent : grey, bw);
        }
      };
      dashed(b.min, ImVec2(b.max.x, b.min.y));
      dashed(ImVec2(b.max.x, b.min.y), b.max);
      dashed(b.max, ImVec2(b.min.x, b.max.y));
      dashed(ImVec2(b.min.x, b.max.y), b.min);
    } else {
      dl->AddRect(b.min, b.max, border, fs * 0.2f, 0, bw);
    }
    for (size_t l = 0; l < node_lines[i].size(); ++l) {
      const ImU32 col = l == 0 ? text : (look == Look::Inlined || look == Look::Missing) ? grey : dim;
      dl->AddText(ImVec2(b.min.x + metrics.pad, b.min.y + metrics.pad + line_h * static_cast<float>(l)),
                  l == 1 && node.band == traces::CycleBand::Kernel && look != Look::Inlined ? seen : col,
                  node_lines[i][l].c_str());
    }
    if (hovered_canvas && b.Contains(mouse)) hovered = static_cast<N>(i);
    m_drawn_nodes.push_back({static_cast<N>(i), node_lines[i], look, on_path[i], reached[i], b});
  }
  dl->PopClipRect();

  if (clicked && hovered) Click(*hovered, view);
  const std::optional<CycleNodeId> focus = animating ? current
                                           : hovered ? hovered
                                           : current ? current
                                                     : N::ExitHandler;
  const traces::CycleNode& f = model.Node(*focus);
  m_caption = fmt::format("{}: {}", f.title, f.caption);
  if (hovered && !current) ImGui::SetMouseCursor(ImGuiMouseCursor_Hand);
}

}  // namespace kvmscope::ui

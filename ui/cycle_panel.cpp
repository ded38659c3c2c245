// The KVM cycle panel: picks the richest text form and the largest text
// (down to 85% of the body font) that fit the pane without scrolling, then
// draws the model (traces/cycle) with ImDrawList, animates the selected run's
// path, says what the hovered step does in a caption line, keeps a legend in
// view, and opens the chain a clicked step details.
#include "ui/cycle_panel.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "ui/theme.h"

namespace kvmscope::ui {

using traces::CountKind;
using traces::CycleArcId;
using traces::CycleNodeId;
using traces::CycleNodeStatus;
using N = CycleNodeId;
using A = CycleArcId;

namespace {

// Text forms and sizes, tried in order: larger text first (the back row
// reads it), richer words next; never below 85% of the body font.
struct Candidate {
  CycleForm form;
  float scale;
};
constexpr Candidate kCandidates[] = {
    {CycleForm::Full, 1.0f},     {CycleForm::Medium, 1.0f},  {CycleForm::Compact, 1.0f},
    {CycleForm::Tight, 1.0f},    {CycleForm::Full, 0.92f},   {CycleForm::Medium, 0.92f},
    {CycleForm::Compact, 0.92f}, {CycleForm::Tight, 0.92f},  {CycleForm::Compact, 0.85f},
    {CycleForm::Tight, 0.85f}};

constexpr const char* kBandNames[4][2] = {{"VMM", "user"}, {"KVM", "kernel"}, {"guest", ""}, {"init", ""}};

ImVec2 Measure(ImFont* font, float size, const std::string& s) {
  const ImVec2 v = font->CalcTextSizeA(size, FLT_MAX, 0.0f, s.c_str());
  return ImVec2(std::ceil(v.x), size);
}

// Everything the picture says in one form at one text size, measured.
struct Picture {
  std::array<std::vector<std::string>, traces::kCycleNodes> nodes;
  std::array<std::vector<std::string>, traces::kCycleArcs> arcs;
  std::string note;  // the kernel, right of the init strip
  CycleLayoutInput in;
  CycleMetrics metrics;
  float size = 13;
};

Picture MakePicture(const traces::CycleModel& model, CycleForm form, ImFont* font, float size) {
  Picture p;
  p.size = size;
  p.metrics = CycleMetrics::ForFont(size);
  const float pad = p.metrics.pad;
  auto measure = [&](const std::vector<std::string>& lines) {
    ImVec2 s(0, size * static_cast<float>(lines.size()));
    for (const std::string& l : lines) s.x = std::max(s.x, Measure(font, size, l).x);
    return s;
  };
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    p.nodes[i] = NodeLines(model.nodes[i], form);
    const ImVec2 s = measure(p.nodes[i]);
    p.in.nodes[i] = ImVec2(s.x + 2 * pad, s.y + 2 * pad);
  }
  for (size_t i = 0; i < traces::kCycleArcs; ++i) {
    p.arcs[i] = ArcLabel(model, static_cast<A>(i), form);
    if (!p.arcs[i].empty()) p.in.labels[i] = measure(p.arcs[i]);
  }
  for (const auto& b : kBandNames)
    p.in.band_label_width = std::max({p.in.band_label_width, Measure(font, size, b[0]).x, Measure(font, size, b[1]).x});
  p.in.band_label_width += 2 * pad;
  if (model.kernel_data && !model.kernel.empty()) {
    p.note = "kernel " + model.kernel;
    p.in.strip_note = Measure(font, size, p.note);
  }
  return p;
}

// The legend: a swatch drawn like what it explains, and its words (long
// ones when the line has room).
enum class Swatch { Seen, Present, Dashed, Dotted, Run, Link, None };
struct LegendItem {
  Swatch swatch;
  const char* words;
  const char* short_words;
};
// Without kernel data no step is inlined or seen: the dotted not-traced look
// takes the dashed one's place.
std::vector<LegendItem> LegendItems(CycleForm form, bool kernel_data) {
  const bool words_on_counts = form == CycleForm::Full || form == CycleForm::Medium;
  return {{Swatch::Seen, "seen in stacks (thick)", "seen"},
          {Swatch::Present, "present, not seen (thin)", "present"},
          kernel_data ? LegendItem{Swatch::Dashed, "inlined / no symbol (dashed)", "inlined"}
                      : LegendItem{Swatch::Dotted, "kernel not traced (dotted)", "not traced"},
          {Swatch::Run, "selected run", "this run"},
          {Swatch::Link, "exception enters at next entry", "next entry"},
          {Swatch::None,
           words_on_counts ? "measured: counted from events; inferred: derived" : "N measured, ~N inferred",
           words_on_counts ? "measured / inferred" : "~N inferred"}};
}

float LegendWidth(const std::vector<LegendItem>& items, bool short_words, ImFont* font, float size) {
  float w = 0;
  for (const LegendItem& it : items) {
    if (it.swatch != Swatch::None) w += size * 1.2f + size * 0.3f;
    w += Measure(font, size, short_words ? it.short_words : it.words).x + size * 0.8f;
  }
  return w;
}

// `text` on at most `max_lines` lines of `width`, cut with "..." when longer.
std::vector<std::string> Wrap(ImFont* font, float size, const std::string& text, float width, int max_lines) {
  std::vector<std::string> lines;
  const char* s = text.c_str();
  const char* end = s + text.size();
  const float scale = size / font->FontSize;
  while (s < end && static_cast<int>(lines.size()) < max_lines) {
    const char* e = font->CalcWordWrapPositionA(scale, s, end, width);
    if (e == s) e = s + 1;
    std::string line(s, e);
    s = e;
    while (s < end && *s == ' ') ++s;
    if (static_cast<int>(lines.size()) == max_lines - 1 && s < end) {
      while (!line.empty() && Measure(font, size, line + "...").x > width) line.pop_back();
      line += "...";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

void Dashed(ImDrawList* dl, ImVec2 p, ImVec2 q, ImU32 col, float w, float dash) {
  const float len = std::hypot(q.x - p.x, q.y - p.y);
  if (len <= 0) return;
  for (float s = 0; s < len; s += 2 * dash) {
    const float e = std::min(len, s + dash);
    dl->AddLine(ImVec2(p.x + (q.x - p.x) * s / len, p.y + (q.y - p.y) * s / len),
                ImVec2(p.x + (q.x - p.x) * e / len, p.y + (q.y - p.y) * e / len), col, w);
  }
}

// Round dots `step` apart: the not-traced border, unlike the dashed one at a
// glance and in greyscale.
void Dotted(ImDrawList* dl, ImVec2 p, ImVec2 q, ImU32 col, float r, float step) {
  const float len = std::hypot(q.x - p.x, q.y - p.y);
  const int n = std::max(1, static_cast<int>(len / step));
  for (int i = 0; i <= n; ++i) {
    const float t = static_cast<float>(i) / static_cast<float>(n);
    dl->AddCircleFilled(ImVec2(p.x + (q.x - p.x) * t, p.y + (q.y - p.y) * t), r, col, 8);
  }
}

void DottedRect(ImDrawList* dl, const Box& b, ImU32 col, float r, float step) {
  Dotted(dl, b.min, ImVec2(b.max.x, b.min.y), col, r, step);
  Dotted(dl, ImVec2(b.max.x, b.min.y), b.max, col, r, step);
  Dotted(dl, b.max, ImVec2(b.min.x, b.max.y), col, r, step);
  Dotted(dl, ImVec2(b.min.x, b.max.y), b.min, col, r, step);
}

void DashedRect(ImDrawList* dl, const Box& b, ImU32 col, float w, float dash) {
  Dashed(dl, b.min, ImVec2(b.max.x, b.min.y), col, w, dash);
  Dashed(dl, ImVec2(b.max.x, b.min.y), b.max, col, w, dash);
  Dashed(dl, b.max, ImVec2(b.min.x, b.max.y), col, w, dash);
  Dashed(dl, ImVec2(b.min.x, b.max.y), b.min, col, w, dash);
}

void Arrowhead(ImDrawList* dl, ImVec2 from, ImVec2 tip, ImU32 col, float head) {
  const float dx = tip.x - from.x, dy = tip.y - from.y, len = std::max(1.0f, std::hypot(dx, dy));
  const float ux = dx / len, uy = dy / len;
  dl->AddTriangleFilled(tip, ImVec2(tip.x - ux * head - uy * head * 0.5f, tip.y - uy * head + ux * head * 0.5f),
                        ImVec2(tip.x - ux * head + uy * head * 0.5f, tip.y - uy * head - ux * head * 0.5f), col);
}

// Height under the picture: two caption lines and the legend line.
float BottomHeight(float size) { return 3 * size + 2 * std::round(size * 0.3f); }

}  // namespace

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
    if (const auto ref = Find(trace, *view.selected)) m_path = m_cache.PathOf(trace, *ref);
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
  // A growing trace is counted on from where it changed (about the events
  // added since the last count), at most every refresh interval; a count
  // that had to start over (a new trace, new stacks) costs a pass over every
  // event, so the next one waits at least ten times what it took.
  const size_t counted = m_cache.count_builds();
  const auto t0 = std::chrono::steady_clock::now();
  m_cache.Update(trace, m_now, std::max(m_refresh_interval, 10 * m_count_seconds));
  if (m_cache.count_builds() != counted)
    m_count_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  UpdatePath(trace, view, m_now);
  const traces::CycleModel& model = m_cache.model();

  const ImVec2 pane_min = ImGui::GetCursorScreenPos();
  const ImVec2 pane_size = ImGui::GetContentRegionAvail();
  m_pane = Box{pane_min, ImVec2(pane_min.x + pane_size.x, pane_min.y + pane_size.y)};
  // Said once, above the picture, when there is no kernel side.
  m_notice = model.kernel_data ? std::string()
                               : "No kernel data: " + model.no_kernel_reason +
                                     ". The VMM side is counted; kernel steps are not traced.";
  if (!model.kernel_data) {
    ImGui::PushStyleColor(ImGuiCol_Text, StatusColorVec(Status::Warning, CurrentTheme()));
    ImGui::TextWrapped("%s", m_notice.c_str());
    ImGui::PopStyleColor();
  }
  ImVec2 avail = ImGui::GetContentRegionAvail();
  avail.x = std::max(avail.x, 1.0f);
  avail.y = std::max(avail.y, 1.0f);
  Choose(avail);
  DrawCanvas(view, avail);
}

void CyclePanel::Choose(ImVec2 avail) {
  const ChoiceKey key{avail.x, avail.y, ImGui::GetFontSize(), m_cache.facts_builds(), m_cache.count_builds()};
  if (key == m_choice_key) return;
  m_choice_key = key;
  ImFont* font = ImGui::GetFont();
  const float fs = ImGui::GetFontSize();
  m_fits = false;
  for (const Candidate& c : kCandidates) {
    m_form = c.form;
    m_scale = c.scale;
    const float size = fs * c.scale;
    const Picture p = MakePicture(m_cache.model(), c.form, font, size);
    const ImVec2 room(avail.x, avail.y - BottomHeight(size));
    const CycleLayout l = LayoutCycle(p.in, room, p.metrics);
    const bool legend_fits =
        LegendWidth(LegendItems(c.form, m_cache.model().kernel_data), true, font, size) <= avail.x;
    if (l.need.x <= room.x && l.need.y <= room.y && legend_fits) {
      m_fits = true;
      return;
    }
  }
}

void CyclePanel::DrawCanvas(SharedView& view, ImVec2 available) {
  const traces::CycleModel& model = m_cache.model();
  ImFont* font = ImGui::GetFont();
  const float size = ImGui::GetFontSize() * m_scale;
  const Picture pic = MakePicture(model, m_form, font, size);
  const CycleMetrics& metrics = pic.metrics;
  const float bottom_h = BottomHeight(size), spacing = std::round(size * 0.3f);
  const CycleLayout layout =
      LayoutCycle(pic.in, ImVec2(available.x, std::max(1.0f, available.y - bottom_h)), metrics);

  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 total(std::max(available.x, layout.size.x), layout.size.y + bottom_h);
  ImGui::InvisibleButton("##cycle_canvas", total);
  const bool clicked = ImGui::IsItemClicked(ImGuiMouseButton_Left);
  const bool hovered_canvas = ImGui::IsItemHovered();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  m_canvas = Box{origin, ImVec2(origin.x + layout.size.x, origin.y + layout.size.y)};
  ImDrawList* dl = ImGui::GetWindowDrawList();
  auto at = [&](ImVec2 p) { return ImVec2(origin.x + p.x, origin.y + p.y); };
  auto screen = [&](const Box& b) { return Box{at(b.min), at(b.max)}; };
  auto text_at = [&](ImVec2 p, ImU32 col, const std::string& s) {
    dl->AddText(font, size, p, col, s.c_str());
    return Box{p, ImVec2(p.x + Measure(font, size, s).x, p.y + size)};
  };
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const ImU32 band_bg[3] = {ImGui::GetColorU32(ImGuiCol_FrameBg), ImGui::GetColorU32(ImGuiCol_WindowBg),
                            ImGui::GetColorU32(ImGuiCol_FrameBg)};
  const ImU32 box_bg = ImGui::GetColorU32(ImGuiCol_WindowBg) | IM_COL32_A_MASK;
  const ImU32 seen = StatusColor(Status::Observed), present = StatusColor(Status::Present);
  const ImU32 accent = StatusColor(Status::Selected), grey = StatusColor(Status::NotApplicable);
  const float thick = std::max(1.0f, size / 12), bold = std::max(2.0f, size / 6), dash = size * 0.4f;
  m_text_rects.clear();

  // Bands with their names at the left; the init strip above them.
  for (int b = 0; b < 3; ++b) {
    const Box band = screen(layout.bands[b]);
    dl->AddRectFilled(band.min, band.max, band_bg[b]);
    const bool two = *kBandNames[b][1] && band.max.y - band.min.y >= 2 * size + 2 * metrics.pad;
    const float cy = (band.min.y + band.max.y) / 2 - (two ? size : size / 2);
    m_text_rects.push_back(text_at(ImVec2(band.min.x + metrics.pad, cy), text, kBandNames[b][0]));
    if (two) m_text_rects.push_back(text_at(ImVec2(band.min.x + metrics.pad, cy + size), dim, kBandNames[b][1]));
  }
  {
    const Box strip = screen(layout.init_band);
    const Box first = screen(layout.nodes[static_cast<size_t>(N::ModuleLoad)]);
    m_text_rects.push_back(text_at(ImVec2(strip.min.x + metrics.pad, (first.min.y + first.max.y - size) / 2), dim,
                                   kBandNames[3][0]));
    if (layout.strip_note_fits)
      m_text_rects.push_back(text_at(at(layout.strip_note), dim, pic.note));
    const Box vm = screen(layout.nodes[static_cast<size_t>(N::CreateVm)]);
    const Box vcpu = screen(layout.nodes[static_cast<size_t>(N::CreateVcpu)]);
    for (auto [from, to] : {std::pair{first, vm}, {vm, vcpu}}) {
      const float y = (from.min.y + from.max.y) / 2;
      dl->AddLine(ImVec2(from.max.x, y), ImVec2(to.min.x, y), dim, thick);
      Arrowhead(dl, ImVec2(from.max.x, y), ImVec2(to.min.x, y), dim, size * 0.45f);
    }
  }

  // The path: which nodes and arcs the selected run went through, and how
  // far the animation has come.
  std::array<bool, traces::kCycleNodes> on_path{}, reached{};
  std::array<bool, traces::kCycleArcs> arc_on_path{}, arc_reached{};
  std::optional<CycleNodeId> current;
  bool animating = false;
  if (m_path && !m_path->steps.empty()) {
    const size_t n = m_path->steps.size();
    const double progress =
        m_animation_seconds <= 0 ? 1.0 : std::clamp((m_now - m_anim_start) / m_animation_seconds, 0.0, 1.0);
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

  // Arcs and their labels.
  m_drawn_arcs.clear();
  std::optional<CycleArcId> hovered_arc;
  for (size_t i = 0; i < traces::kCycleArcs; ++i) {
    const std::vector<ImVec2>& pts = layout.arcs[i];
    if (pts.size() < 2) continue;
    const ImU32 col = arc_reached[i] ? accent : dim;
    const float w = arc_reached[i] ? bold : thick;
    for (size_t p = 0; p + 1 < pts.size(); ++p) dl->AddLine(at(pts[p]), at(pts[p + 1]), col, w);
    Arrowhead(dl, at(pts[pts.size() - 2]), at(pts.back()), col, size * 0.45f);
    const ImVec2 lp = at(layout.labels[i]);
    for (size_t l = 0; l < pic.arcs[i].size(); ++l)
      dl->AddText(font, size, ImVec2(lp.x, lp.y + size * static_cast<float>(l)), l == 0 ? text : dim,
                  pic.arcs[i][l].c_str());
    const Box label{lp, ImVec2(lp.x + pic.in.labels[i].x, lp.y + pic.in.labels[i].y)};
    if (hovered_canvas && !pic.arcs[i].empty() && label.Contains(mouse)) hovered_arc = static_cast<A>(i);
    DrawnArc& d = m_drawn_arcs.emplace_back(DrawnArc{static_cast<A>(i), pic.arcs[i], arc_on_path[i], label, {}});
    for (ImVec2 p : pts) d.points.push_back(at(p));
  }
  // The exception is delivered at the next VM entry: a dashed link back.
  m_inject_link.clear();
  if (layout.inject_link.size() >= 2) {
    const bool lit = reached[static_cast<size_t>(N::Exception)];
    const ImU32 col = lit ? accent : dim;
    for (ImVec2 p : layout.inject_link) m_inject_link.push_back(at(p));
    for (size_t p = 0; p + 1 < m_inject_link.size(); ++p)
      Dashed(dl, m_inject_link[p], m_inject_link[p + 1], col, thick, dash * 0.6f);
    Arrowhead(dl, m_inject_link[m_inject_link.size() - 2], m_inject_link.back(), col, size * 0.4f);
  }

  // Nodes.
  m_drawn_nodes.clear();
  std::optional<CycleNodeId> hovered;
  const bool named = m_form == CycleForm::Full || m_form == CycleForm::Medium;
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    const traces::CycleNode& node = model.nodes[i];
    const Box b = screen(layout.nodes[i]);
    Look look = Look::User;
    switch (node.status) {
      case CycleNodeStatus::Observed: look = Look::Seen; break;
      case CycleNodeStatus::Present: look = Look::Present; break;
      case CycleNodeStatus::Inlined: look = Look::Inlined; break;
      case CycleNodeStatus::NotKernel: look = Look::User; break;
      case CycleNodeStatus::NotTraced: look = Look::NotTraced; break;
      default: look = Look::Missing; break;
    }
    dl->AddRectFilled(b.min, b.max, box_bg, size * 0.2f);
    const ImU32 border = reached[i] ? accent
                         : look == Look::Seen ? seen
                         : look == Look::Present ? present
                         : look == Look::User ? text
                                              : grey;
    const float bw = reached[i] ? bold * 1.5f : look == Look::Seen ? bold : thick;
    if (look == Look::Inlined || look == Look::Missing)  // dashed: no frame of its own
      DashedRect(dl, b, reached[i] ? accent : grey, bw, dash);
    else if (look == Look::NotTraced)  // dotted: nothing known of it in this trace
      DottedRect(dl, b, reached[i] ? accent : grey, bw * 0.75f, dash * 0.7f);
    else
      dl->AddRect(b.min, b.max, border, size * 0.2f, 0, bw);
    const bool faint = look == Look::Inlined || look == Look::Missing || look == Look::NotTraced;
    const bool function_line = named && !node.init && node.band == traces::CycleBand::Kernel &&
                               !node.function.empty() && node.function != node.title;
    for (size_t l = 0; l < pic.nodes[i].size(); ++l) {
      const ImU32 col = l == 0 ? text : (l == 1 && function_line && !faint) ? seen : faint ? grey : dim;
      dl->AddText(font, size, ImVec2(b.min.x + metrics.pad, b.min.y + metrics.pad + size * static_cast<float>(l)),
                  col, pic.nodes[i][l].c_str());
    }
    if (hovered_canvas && b.Contains(mouse)) hovered = static_cast<N>(i);
    m_drawn_nodes.push_back({static_cast<N>(i), pic.nodes[i], look, on_path[i], reached[i], b});
  }

  if (clicked && hovered) Click(*hovered, view);
  if (hovered) ImGui::SetMouseCursor(ImGuiMouseCursor_Hand);
  // The caption: what is under the mouse, else the animated step, else the
  // selected run, else how to use the picture.
  if (hovered)
    m_caption = NodeCaption(model.Node(*hovered));
  else if (hovered_arc)
    m_caption = ArcCaption(model, *hovered_arc);
  else if (animating && current)
    m_caption = NodeCaption(model.Node(*current));
  else if (m_path && !m_path->steps.empty())
    m_caption = PathSummary(model, *m_path);
  else
    m_caption = fmt::format("KVM on {}. Point at a step to read what it does; click it for its call chain.",
                            model.kernel.empty() ? std::string("an unknown kernel") : model.kernel);
  const float width = available.x - 2 * metrics.pad;
  m_caption_lines = Wrap(font, size, m_caption, width, 2);
  const float caption_y = m_canvas.max.y + spacing;
  for (size_t l = 0; l < m_caption_lines.size(); ++l)
    dl->AddText(font, size, ImVec2(origin.x + metrics.pad, caption_y + size * static_cast<float>(l)), text,
                m_caption_lines[l].c_str());
  m_caption_rect = Box{ImVec2(origin.x, caption_y), ImVec2(origin.x + available.x, caption_y + 2 * size)};

  // The legend: each swatch drawn as what it explains, with words.
  const std::vector<LegendItem> items = LegendItems(m_form, model.kernel_data);
  const bool short_words = LegendWidth(items, false, font, size) > available.x - 2 * metrics.pad;
  float lx = origin.x + metrics.pad;
  const float ly = caption_y + 2 * size + spacing;
  m_legend.clear();
  for (const LegendItem& it : items) {
    if (it.swatch != Swatch::None) {
      const Box sw{ImVec2(lx, ly + size * 0.15f), ImVec2(lx + size * 1.2f, ly + size * 0.85f)};
      switch (it.swatch) {
        case Swatch::Seen: dl->AddRect(sw.min, sw.max, seen, 0, 0, bold); break;
        case Swatch::Present: dl->AddRect(sw.min, sw.max, present, 0, 0, thick); break;
        case Swatch::Dashed: DashedRect(dl, sw, grey, thick, size * 0.2f); break;
        case Swatch::Dotted: DottedRect(dl, sw, grey, thick * 0.75f, size * 0.2f); break;
        case Swatch::Run: dl->AddRect(sw.min, sw.max, accent, 0, 0, bold * 1.5f); break;
        case Swatch::Link:
          Dashed(dl, ImVec2(sw.min.x, ly + size / 2), ImVec2(sw.max.x, ly + size / 2), dim, thick, size * 0.15f);
          break;
        case Swatch::None: break;
      }
      lx += size * 1.5f;
    }
    const std::string words = short_words ? it.short_words : it.words;
    m_text_rects.push_back(text_at(ImVec2(lx, ly), dim, words));
    lx = m_text_rects.back().max.x + size * 0.8f;
    m_legend += (m_legend.empty() ? "" : " | ") + words;
  }
  m_legend_rect = Box{ImVec2(origin.x, ly), ImVec2(lx - size * 0.8f, ly + size)};
}

}  // namespace kvmscope::ui

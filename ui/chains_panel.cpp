// The call-chain panel: a pure layout of each chain as one column of boxes,
// and the panel that draws them with ImDrawList (canvas pattern) next to the
// merged call tree. What it shows is asked of traces/ and recomputed when the
// trace's stacks, symbols or host facts change.
#include "ui/chains_panel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "traces/report.h"
#include "ui/theme.h"

namespace kvmscope::ui {

using traces::ChainId;
using traces::ChainPath;
using traces::EdgeStatus;
using traces::NodeOfClaim;
using traces::NodeStatus;
using traces::PathThrough;

// --- Helpers ------------------------------------------------------------------------

namespace {

ImVec2 Add(ImVec2 a, ImVec2 b) {
  return ImVec2(a.x + b.x, a.y + b.y);
}
ImVec2 Sub(ImVec2 a, ImVec2 b) {
  return ImVec2(a.x - b.x, a.y - b.y);
}
float Length(ImVec2 v) {
  return std::sqrt(v.x * v.x + v.y * v.y);
}
// The point a fraction t along direction d from a.
ImVec2 Along(ImVec2 a, ImVec2 d, float t) {
  return ImVec2(a.x + d.x * t, a.y + d.y * t);
}

float PolylineLength(const std::vector<ImVec2>& points) {
  float total = 0;
  for (size_t i = 0; i + 1 < points.size(); ++i) total += Length(Sub(points[i + 1], points[i]));
  return total;
}

// The first `length` of a polyline.
std::vector<ImVec2> Prefix(const std::vector<ImVec2>& points, float length) {
  std::vector<ImVec2> out(points.begin(), points.begin() + std::min<size_t>(1, points.size()));
  for (size_t i = 0; i + 1 < points.size() && length > 0; ++i) {
    const ImVec2 d = Sub(points[i + 1], points[i]);
    const float l = Length(d);
    out.push_back(l <= length ? points[i + 1] : Along(points[i], d, length / l));
    length -= l;
  }
  return out;
}

float DistanceToSegment(ImVec2 p, ImVec2 a, ImVec2 b) {
  const ImVec2 ab = Sub(b, a), ap = Sub(p, a);
  const float l2 = ab.x * ab.x + ab.y * ab.y;
  const float t = l2 > 0 ? std::clamp((ap.x * ab.x + ap.y * ab.y) / l2, 0.0f, 1.0f) : 0.0f;
  return Length(Sub(p, Along(a, ab, t)));
}

void DashedLine(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col, float thickness, float dash = 5,
                float gap = 4) {
  const ImVec2 d = Sub(b, a);
  const float l = Length(d);
  if (l <= 0) return;
  for (float s = 0; s < l; s += dash + gap) {
    const float e = std::min(l, s + dash);
    dl->AddLine(Along(a, d, s / l), Along(a, d, e / l), col, thickness);
  }
}

void Polyline(ImDrawList* dl, const std::vector<ImVec2>& points, ImU32 col, float thickness,
              bool dashed) {
  if (points.size() < 2) return;
  if (!dashed) {
    dl->AddPolyline(points.data(), static_cast<int>(points.size()), col, 0, thickness);
    return;
  }
  for (size_t i = 0; i + 1 < points.size(); ++i)
    DashedLine(dl, points[i], points[i + 1], col, thickness);
}

void Arrowhead(ImDrawList* dl, const std::vector<ImVec2>& points, ImU32 col, float size) {
  if (points.size() < 2) return;
  const ImVec2 tip = points.back();
  const ImVec2 d = Sub(tip, points[points.size() - 2]);
  const float l = Length(d);
  if (l <= 0) return;
  const ImVec2 back = Along(tip, d, -size / l), normal(-d.y / l, d.x / l);
  dl->AddTriangleFilled(tip, Along(back, normal, size / 2), Along(back, normal, -size / 2), col);
}

ImU32 WithAlpha(ImU32 col, float alpha) {
  ImVec4 c = ImGui::ColorConvertU32ToFloat4(col);
  c.w *= alpha;
  return ImGui::ColorConvertFloat4ToU32(c);
}

// Text clipped to a box.
void BoxText(ImDrawList* dl, ImVec2 pos, ImU32 col, std::string_view text, const Box& clip) {
  const ImVec4 rect(clip.min.x, clip.min.y, clip.max.x, clip.max.y);
  dl->AddText(ImGui::GetFont(), ImGui::GetFontSize(), pos, col, text.data(),
              text.data() + text.size(), 0.0f, &rect);
}

// Indexed by traces::Verdict (Confirmed, NotOnThisKernel, Contradicted,
// OlderKernelsOnly, Unverified): how bad it is (a step's badge shows its
// worst claim) and its colour.
static_assert(static_cast<int>(traces::Verdict::Unverified) == 4, "kSeverity's order");
constexpr int kSeverity[] = {0, 2, 4, 3, 1};
constexpr Status kVerdictStatus[] = {Status::Observed, Status::NotApplicable, Status::Warning,
                                     Status::Present, Status::Absent};
ImU32 VerdictColor(traces::Verdict v) {
  return StatusColor(kVerdictStatus[static_cast<size_t>(v)]);
}
constexpr const char* kChainTabs[] = {"Init", "Run loop", "Exceptions", "Page faults"};

// The event with a stack that happened last, over all tracks.
std::optional<EventKey> LatestWithStack(const traces::TraceData& trace) {
  std::optional<traces::Event> latest;
  for (const traces::Track& track : trace.tracks) {
    for (auto it = track.events.rbegin(); it != track.events.rend(); ++it) {
      const traces::Event e = *it;
      if (trace.StackOf(e) == nullptr) continue;
      if (!latest || e.time_ns > latest->time_ns) latest = e;
      break;
    }
  }
  if (!latest) return std::nullopt;
  return KeyOf(*latest);
}

std::string EventLabel(const traces::TraceData& trace, const traces::Event& e) {
  return fmt::format("{} at {:.6f} s", traces::EventTypeName(e.type),
                     static_cast<double>(e.time_ns - trace.BeginNs()) / 1e9);
}

// One frame of one chain's canvas: what every drawing step needs.
struct Canvas {
  Canvas(const traces::ChainMatch& m, ChainLayout l) : match(m), layout(std::move(l)) {}
  const traces::ChainMatch& match;
  ChainLayout layout;
  ChainPath path;
  double progress = 0;  // how far the highlight has travelled, in path steps
  ImVec2 origin;
  ImDrawList* dl = nullptr;
  float fs = 13;
  float pad = 6;  // LayoutMetrics::pad
  ImU32 highlight = 0;
  std::optional<ImVec2> mouse;  // over the canvas
  std::vector<bool> on_path_node, on_path_edge;

  std::vector<ImVec2> Edge(size_t e) const {
    std::vector<ImVec2> points = layout.edges[e];
    for (ImVec2& p : points) p = Add(p, origin);
    return points;
  }
  Box NodeBox(size_t i) const {
    return {Add(layout.nodes[i].min, origin), Add(layout.nodes[i].max, origin)};
  }
  // Whether the highlight has reached node i (a path step).
  bool Reached(size_t i) const {
    const auto at = std::find(path.nodes.begin(), path.nodes.end(), i);
    return at != path.nodes.end() && progress >= static_cast<double>(at - path.nodes.begin());
  }
};

// Links, under the boxes: solid calls, dashed where not a call or not
// observable; the count of a straight observed link beside it. Returns the
// link under the mouse, or -1.
int DrawEdges(const Canvas& c) {
  int hovered = -1;
  for (size_t e = 0; e < c.layout.edges.size(); ++e) {
    const std::vector<ImVec2> points = c.Edge(e);
    const traces::EdgeMatch& em = c.match.edges[e];
    // Unobservable is no fault (a later step, module load, an inlined end):
    // drawn quiet, not in the absent colour.
    // A tail call: observed (its colour), dashed and labelled, since no
    // stack shows the link itself.
    const bool tail = em.status == EdgeStatus::ObservedTailCall;
    const ImU32 col = em.status == EdgeStatus::Observed || tail ? StatusColor(Status::Observed)
                      : em.status == EdgeStatus::NotObserved ? StatusColor(Status::Present)
                      : em.status == EdgeStatus::Unobservable
                          ? ImGui::GetColorU32(ImGuiCol_TextDisabled)
                          : WithAlpha(StatusColor(Status::NotApplicable), 0.45f);
    const bool dashed = em.edge->kind == traces::EdgeKind::Later || tail ||
                        em.status == EdgeStatus::Unobservable ||
                        em.status == EdgeStatus::NotApplicable;
    Polyline(c.dl, points, col, em.status == EdgeStatus::Observed ? 2.0f : 1.2f, dashed);
    Arrowhead(c.dl, points, col, c.fs * 0.45f);
    if ((em.status == EdgeStatus::Observed || tail) && c.layout.lanes[e] < 0 &&
        points.size() == 2) {
      const std::string count =
          tail ? fmt::format("tail call, {} exits", em.tail_exits) : fmt::format("{}", em.use.events);
      c.dl->AddText(ImVec2(points[0].x + 5, (points[0].y + points[1].y - c.fs) / 2), col,
                    count.c_str());
    }
    for (size_t i = 0; c.mouse && i + 1 < points.size(); ++i)
      if (DistanceToSegment(*c.mouse, points[i], points[i + 1]) < 4) hovered = static_cast<int>(e);
  }
  return hovered;
}

// The path's links light up as the highlight travels; a dot leads it, also
// through the steps that have no frame of their own.
void DrawTravel(const Canvas& c) {
  for (size_t k = 0; k < c.path.routes.size(); ++k) {
    const double t = c.progress - static_cast<double>(k);
    if (t <= 0 || c.path.routes[k].empty()) continue;
    std::vector<ImVec2> route;
    for (size_t e : c.path.routes[k])
      for (const ImVec2& p : c.Edge(e)) route.push_back(p);
    const float reached = static_cast<float>(std::min(t, 1.0)) * PolylineLength(route);
    float at = 0;
    for (size_t e : c.path.routes[k]) {
      const std::vector<ImVec2> points = c.Edge(e);
      const float l = PolylineLength(points);
      if (reached > at) Polyline(c.dl, Prefix(points, reached - at), c.highlight, 3.0f, false);
      if (reached >= at + l) Arrowhead(c.dl, points, c.highlight, c.fs * 0.55f);
      at += l;
    }
    if (t < 1 && !route.empty())
      c.dl->AddCircleFilled(Prefix(route, reached).back(), c.fs * 0.3f, c.highlight);
  }
}

// The colour of a look: the status colours, grey for the neutral ones.
ImU32 LookColor(NodeLook look) {
  switch (look) {
    case NodeLook::Lit:
    case NodeLook::TailCall: return StatusColor(Status::Observed);
    case NodeLook::Dim: return StatusColor(Status::Present);
    case NodeLook::Absent: return StatusColor(Status::Absent);
    case NodeLook::Faded: return StatusColor(Status::NotApplicable);
    case NodeLook::Neutral:
    case NodeLook::Unknown: break;
  }
  return ImGui::GetColorU32(ImGuiCol_TextDisabled);
}

void DashedRect(ImDrawList* dl, const Box& box, ImU32 col, float thickness) {
  const ImVec2 corners[] = {box.min, ImVec2(box.max.x, box.min.y), box.max,
                            ImVec2(box.min.x, box.max.y), box.min};
  for (size_t k = 0; k < 4; ++k) DashedLine(dl, corners[k], corners[k + 1], col, thickness);
}

// Draws one line of text clipped to `clip`; returns where it went.
Box TextLine(ImDrawList* dl, ImVec2 pos, ImU32 col, std::string_view text, const Box& clip) {
  BoxText(dl, pos, col, text, clip);
  const ImVec2 size = ImGui::CalcTextSize(text.data(), text.data() + text.size());
  return {pos, ImVec2(std::min(pos.x + size.x, clip.max.x), std::min(pos.y + size.y, clip.max.y))};
}

// A step's box by its look, the highlight when the path has reached it, its
// badge (claims shown only), its function(s) and status; `badge_box` gets the
// badge's box.
ChainsPanel::DrawnNode DrawNode(const Canvas& c, size_t i,
                                const std::vector<const traces::ClaimResult*>& claims,
                                Box& badge_box) {
  const traces::NodeMatch& nm = c.match.nodes[i];
  const NodeLook look = LookOf(nm);
  const Box box = c.NodeBox(i);
  // Only a step with a frame of its own is lit, even where the path runs
  // through an inlined step's code.
  const bool reached = (look == NodeLook::Lit || look == NodeLook::Dim) && c.Reached(i);
  const ImU32 col = LookColor(look);
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const float rounding = c.pad * 0.6f;
  if (look == NodeLook::Lit) {
    c.dl->AddRectFilled(box.min, box.max, WithAlpha(col, 0.28f), rounding);
    c.dl->AddRect(box.min, box.max, col, rounding, 0, 2);
  } else if (look == NodeLook::TailCall) {
    // Observed, but no stack shows its frame: lightly filled, dashed.
    c.dl->AddRectFilled(box.min, box.max, WithAlpha(col, 0.12f), rounding);
    DashedRect(c.dl, box, col, 2.0f);
  } else if (look == NodeLook::Dim) {
    c.dl->AddRectFilled(box.min, box.max, ImGui::GetColorU32(ImGuiCol_FrameBg), rounding);
    c.dl->AddRect(box.min, box.max, WithAlpha(col, 0.8f), rounding, 0, 1);
  } else if (look == NodeLook::Absent || look == NodeLook::Neutral) {
    DashedRect(c.dl, box, col, 1.5f);  // no frame of its own
  } else if (look == NodeLook::Unknown) {
    c.dl->AddRect(box.min, box.max, col, rounding, 0, 1);
  } else {
    c.dl->AddRect(box.min, box.max, WithAlpha(col, 0.4f), rounding);
  }
  if (reached) {
    c.dl->AddRect(Sub(box.min, ImVec2(3, 3)), Add(box.max, ImVec2(3, 3)),
                  WithAlpha(c.highlight, 0.35f), rounding + 2, 0, 4);
    c.dl->AddRect(box.min, box.max, c.highlight, rounding, 0, 3);
  }
  ChainsPanel::DrawnNode drawn;
  // The worst verdict of the claims naming this step, as a badge; the
  // sentences go in the tooltip and under the diagram.
  badge_box = {box.max, box.max};
  if (!claims.empty()) {
    const traces::ClaimResult* worst =
        *std::max_element(claims.begin(), claims.end(), [](const auto* a, const auto* b) {
          return kSeverity[static_cast<size_t>(a->verdict)] <
                 kSeverity[static_cast<size_t>(b->verdict)];
        });
    drawn.badge = fmt::format("seed: {}", traces::VerdictName(worst->verdict));
    if (claims.size() > 1) drawn.badge += fmt::format(" +{}", claims.size() - 1);
    for (const traces::ClaimResult* r : claims) drawn.claims.push_back(traces::ClaimSentence(*r));
    const ImVec2 size = ImGui::CalcTextSize(drawn.badge.c_str());
    const ImU32 badge_col = VerdictColor(worst->verdict);
    const float half = c.pad / 2;
    badge_box = {
        ImVec2(std::max(box.min.x + half, box.max.x - size.x - 2 * c.pad - half), box.min.y + half),
        ImVec2(box.max.x - half, box.min.y + c.pad + size.y)};
    c.dl->AddRectFilled(badge_box.min, badge_box.max, WithAlpha(badge_col, 0.2f), half);
    c.dl->AddRect(badge_box.min, badge_box.max, badge_col, half);
    BoxText(c.dl, Add(badge_box.min, ImVec2(c.pad, half)), badge_col, drawn.badge, badge_box);
  }
  const float alpha = look == NodeLook::Faded ? 0.45f : 1.0f;
  const float right = box.max.x - c.pad;
  drawn.function_rect = TextLine(
      c.dl, Add(box.min, ImVec2(c.pad, c.pad)),
      look == NodeLook::Absent    ? col
      : look == NodeLook::Neutral ? WithAlpha(text, 0.75f)
                                  : WithAlpha(text, alpha),
      nm.label,
      {box.min, ImVec2(drawn.badge.empty() ? right : badge_box.min.x - c.pad / 2, box.max.y)});
  // Untraced, the second line names the step: the chain shows steps only.
  drawn.status = look == NodeLook::Unknown ? std::string(nm.node->step) : NodeStatusText(nm);
  drawn.status_rect = TextLine(c.dl, Add(box.min, ImVec2(c.pad, 1.5f * c.pad + c.fs)),
                               look == NodeLook::Lit ? text : WithAlpha(col, alpha), drawn.status,
                               {box.min, ImVec2(right, box.max.y)});
  drawn.id = nm.node->id;
  drawn.function = nm.label;
  drawn.look = look;
  drawn.on_path = c.on_path_node[i];
  drawn.highlighted = reached;
  drawn.box = box;
  drawn.badge_rect = badge_box;
  return drawn;
}

void NodeTooltip(const traces::NodeMatch& nm, bool on_path, ImU32 highlight) {
  ImGui::Text("%s: %s", std::string(nm.node->step).c_str(), nm.label.c_str());
  ImGui::TextDisabled("%s  %s", traces::NodeMark(nm).c_str(), std::string(nm.source_file).c_str());
  ImGui::TextWrapped("%s", std::string(nm.node->teaching).c_str());
  // Where this was checked in the kernel sources; what could not be is said.
  const traces::StepEvidence evidence = traces::EvidenceOf(nm);
  if (!evidence.text.empty()) {
    if (evidence.unverified) {
      ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(Status::Warning));
      ImGui::TextWrapped("not all verified: %s", evidence.text.c_str());
      ImGui::PopStyleColor();
    } else {
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
      ImGui::TextWrapped("checked: %s", evidence.text.c_str());
      ImGui::PopStyleColor();
    }
  }
  for (size_t a = 0; a < nm.alternatives.size(); ++a) {
    if (&nm.node->alternatives[a] == nm.chosen) continue;
    ImGui::TextDisabled("other: %s %s", std::string(nm.node->alternatives[a].function).c_str(),
                        traces::AlternativeMark(nm.alternatives[a]).c_str());
  }
  if (on_path)
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(highlight),
                       "on the highlighted event's kernel stack");
}

}  // namespace

// --- Chains and stacks ---------------------------------------------------------------

NodeLook LookOf(const traces::NodeMatch& node) {
  if (node.status == NodeStatus::PresentNotObserved && node.tail_exits > 0)
    return NodeLook::TailCall;
  if (node.status != NodeStatus::Absent) return LookOf(node.status);
  switch (node.absent_reason) {
    case traces::AbsentReason::Inlined:
    case traces::AbsentReason::InitCodeFreed: return NodeLook::Neutral;
    case traces::AbsentReason::NotTraced: return NodeLook::Unknown;
    case traces::AbsentReason::None:
    case traces::AbsentReason::NotInSymbols: break;
  }
  return NodeLook::Absent;
}

NodeLook LookOf(NodeStatus status) {
  // Indexed by NodeStatus: Observed, PresentNotObserved, Absent, NotApplicable.
  static_assert(static_cast<int>(NodeStatus::NotApplicable) == 3, "kLooks' order");
  constexpr NodeLook kLooks[] = {NodeLook::Lit, NodeLook::Dim, NodeLook::Absent, NodeLook::Faded};
  return kLooks[static_cast<size_t>(status)];
}

std::string NodeStatusText(const traces::NodeMatch& node) {
  std::string mark = traces::NodeMark(node);
  // The evidence is a paragraph: the box says what, the tooltip why.
  if (LookOf(node) == NodeLook::TailCall) mark = mark.substr(0, mark.find(':')) + "]";
  if (mark.size() >= 2 && mark.front() == '[' && mark.back() == ']')
    mark = mark.substr(1, mark.size() - 2);
  // A step inlined or freed is no fault: said without "absent".
  constexpr std::string_view kAbsent = "absent: ";
  const bool neutral = node.absent_reason == traces::AbsentReason::Inlined ||
                       node.absent_reason == traces::AbsentReason::InitCodeFreed;
  if (node.status == NodeStatus::Absent && neutral && mark.rfind(kAbsent, 0) == 0)
    mark.erase(0, kAbsent.size());
  return mark;
}

// --- The panel: model side --------------------------------------------------------------

const traces::ChainMatch& ChainsPanel::Match(ChainId id) const {
  return m_matches[static_cast<size_t>(id)];
}

const std::vector<traces::ClaimResult>& ChainsPanel::Claims(ChainId id) const {
  return m_claims[static_cast<size_t>(id)];
}

void ChainsPanel::Refresh(const traces::TraceData& trace, uint64_t generation) {
  // Compared field by field every frame: a few sizes and the host's strings,
  // never a pass over the events.
  if (m_computed && m_stamp.trace == &trace && m_stamp.generation == generation &&
      m_stamp.stacks == trace.stacks.size() && m_stamp.symbols == trace.symbols.size() &&
      m_stamp.host == trace.host)
    return;
  const traces::KernelFacts facts = traces::FactsOf(trace);
  std::vector<traces::ChainMatch> matches = traces::MatchChains(facts);
  for (ChainId id : traces::kAllChains) {
    m_matches[static_cast<size_t>(id)] = std::move(matches[static_cast<size_t>(id)]);
    m_claims[static_cast<size_t>(id)] = traces::CheckSeed(facts, id);
  }
  m_call_tree = traces::BuildCallTree(traces::StackUses(trace), trace.symbols);
  m_kernel_data = facts.has_kernel_data();
  m_not_traced.clear();
  if (!m_kernel_data) {
    const std::string& why = trace.host.not_traced_reason;
    constexpr std::string_view kTail = "; chains show the steps, not this kernel";
    if (why.rfind("not traced", 0) == 0)  // "not traced (--no-probes)": said once
      m_not_traced = fmt::format("kernel {}{}", why, kTail);
    else
      m_not_traced = fmt::format("kernel not traced: {}{}",
                                 !why.empty()      ? why
                                 : trace.host.plan ? "no kernel symbols or stacks recorded yet"
                                                   : "this trace has no kernel symbols or stacks",
                                 kTail);
    const std::string& release = trace.host.kernel_release;
    const std::string& backend = trace.host.backend;
    m_kernel = fmt::format("{}{}", release.empty() ? "release unknown" : release,
                           backend.empty() ? "" : " (" + backend + ")");
  } else {
    m_kernel = facts.Describe();
  }
  m_latest = LatestWithStack(trace);
  m_stamp = {&trace, generation, trace.stacks.size(), trace.symbols.size(), trace.host};
  m_computed = true;
  ++m_refresh_count;
  m_reframe = true;  // symbols may have changed: name the path's frames again
}

void ChainsPanel::FollowSelection(const traces::TraceData& trace, const SharedView& view) {
  // The selected event's stack, else the latest event's with one.
  const std::optional<traces::EventRef> picked =
      view.selected ? Find(trace, *view.selected) : std::nullopt;
  const std::optional<traces::Event> selected_event =
      picked ? std::optional(trace.At(*picked)) : std::nullopt;
  const traces::Event* selected = selected_event ? &*selected_event : nullptr;
  std::optional<traces::EventRef> ref;
  if (selected != nullptr && trace.StackOf(*selected) != nullptr) ref = picked;
  PathSource source = ref ? PathSource::Selected : PathSource::None;
  if (!ref && m_latest && (ref = Find(trace, *m_latest))) source = PathSource::Latest;
  const std::optional<EventKey> key = ref ? std::optional(KeyOf(trace.At(*ref))) : std::nullopt;
  const std::optional<EventKey> selected_key =
      selected != nullptr ? std::optional(KeyOf(*selected)) : std::nullopt;
  const bool new_path = key != m_path_event;
  if (!new_path && !m_reframe && source == m_path_source && selected_key == m_label_for) return;
  m_path_event = key;
  m_path_source = source;
  m_label_for = selected_key;
  m_reframe = false;
  m_path_frames.clear();
  if (ref) m_path_frames = traces::ChainFrames(*trace.StackOf(trace.At(*ref)), trace.symbols);
  if (new_path) {
    // A live trace's latest stack changes often: let a running slow motion
    // finish rather than restart it every time.
    const bool playing = m_anim_start && m_now - *m_anim_start < m_animation_seconds;
    if (source == PathSource::Selected || !playing) m_anim_start.reset();
    m_open_tree_path = true;
  }
  const std::string what = ref ? EventLabel(trace, trace.At(*ref)) : std::string();
  if (source == PathSource::Selected) {
    m_path_label = fmt::format("Path of the selected {}", what);
  } else if (selected != nullptr) {
    m_path_label = fmt::format(
        "The selected {} has no kernel stack (stacks are taken for new call paths plus a "
        "sample){}",
        traces::EventTypeName(selected->type),
        ref ? fmt::format("; showing the latest event with one, {}", what) : std::string());
  } else if (ref) {
    m_path_label = fmt::format("Path of the latest event with a stack, {}", what);
  } else {
    m_path_label = "No kernel stack captured yet: the chains show this kernel's symbols only.";
  }
  // Show the chain most of a newly selected path runs through.
  if (m_follow && source == PathSource::Selected && key != m_followed) {
    m_followed = key;
    for (ChainId id : traces::kAllChains)
      if (HighlightedNodes(id).size() > HighlightedNodes(m_pending_chain.value_or(m_chain)).size())
        m_pending_chain = id;
  }
}

std::vector<std::string> ChainsPanel::HighlightedNodes(ChainId id) const {
  std::vector<std::string> ids;
  const traces::ChainMatch& match = Match(id);
  if (match.chain == nullptr) return ids;
  for (size_t node : PathThrough(match, m_path_frames).nodes)
    ids.emplace_back(match.chain->nodes[node].id);
  return ids;
}

std::vector<Box> ChainsPanel::NodeRects() const {
  std::vector<Box> boxes;
  for (const DrawnNode& n : m_drawn_nodes) boxes.push_back(n.box);
  return boxes;
}

double ChainsPanel::AnimationProgress(size_t steps) {
  if (!m_anim_start) m_anim_start = m_now;
  if (steps <= 1 || m_animation_seconds <= 0) return static_cast<double>(steps);
  const double per_step = m_animation_seconds / static_cast<double>(steps - 1);
  return (m_now - *m_anim_start) / per_step;
}

// --- The panel: drawing -------------------------------------------------------------------

void ChainsPanel::Draw(const traces::TraceData& trace, SharedView& view) {
  m_now = ImGui::GetTime();
  Refresh(trace, view.trace_generation);
  // Another view (the cycle, a guest's story) asks for a chain: shown from
  // this frame on, even when the same frame selects an event whose path
  // runs mostly through another chain (the request is the more specific).
  const std::optional<ChainId> requested = view.show_chain;
  view.show_chain.reset();
  FollowSelection(trace, view);
  if (requested) m_pending_chain = *requested;
  m_drawn_nodes.clear();
  m_drawn_edges.clear();
  m_header_rects.clear();
  m_listed_claims.clear();
  m_canvas = {};
  DrawHeader(trace, view);
  // The tabs only pick the chain: drawn after the tab bar, the diagram and
  // tree keep their ImGui ids (open tree nodes) across tabs. A requested tab
  // is selected on the next frame; its chain is shown at once.
  ChainId shown = m_chain;
  if (ImGui::BeginTabBar("##chains")) {
    for (ChainId id : traces::kAllChains) {
      const ImGuiTabItemFlags flags =
          m_pending_chain == id ? ImGuiTabItemFlags_SetSelected : ImGuiTabItemFlags_None;
      if (ImGui::BeginTabItem(kChainTabs[static_cast<size_t>(id)], nullptr, flags)) {
        shown = id;
        ImGui::EndTabItem();
      }
    }
    ImGui::EndTabBar();
  }
  shown = m_pending_chain.value_or(shown);
  m_pending_chain.reset();
  if (m_chain != shown) m_anim_start.reset();  // a new diagram: play the path again
  m_chain = shown;
  DrawChain(shown, view.show_claims);
}

void ChainsPanel::DrawHeader(const traces::TraceData& trace, SharedView& view) {
  auto record = [&] {
    m_header_rects.push_back({ImGui::GetItemRectMin(), ImGui::GetItemRectMax()});
  };
  // Items go on one line while they fit, else on the next (large fonts).
  auto next_to_last = [&](const char* label, float extra) {
    const float w = ImGui::CalcTextSize(label).x + extra;
    const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
    const ImGuiStyle& style = ImGui::GetStyle();
    if (ImGui::GetItemRectMax().x + style.ItemSpacing.x + w <= right) ImGui::SameLine();
  };
  // Said once, here: the nodes below are then drawn neutral.
  if (!m_not_traced.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(Status::Warning));
    ImGui::TextWrapped("%s", m_not_traced.c_str());
    ImGui::PopStyleColor();
    record();
  }
  // Wrapped: at projector sizes the kernel's description passes the pane.
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  if (m_kernel_data)
    ImGui::TextWrapped("kernel %s · %zu stacks", m_kernel.c_str(), trace.stacks.size());
  else
    ImGui::TextWrapped("kernel %s", m_kernel.c_str());
  ImGui::PopStyleColor();
  record();
  const ImGuiStyle& style = ImGui::GetStyle();
  next_to_last("Replay path", 2 * style.FramePadding.x);
  if (ImGui::SmallButton("Replay path")) Replay();
  record();
  const float box = ImGui::GetFrameHeight() + style.ItemInnerSpacing.x;
  next_to_last("Follow selection", box);
  ImGui::Checkbox("Follow selection", &m_follow);
  record();
  next_to_last("claims", box);
  ImGui::Checkbox("claims", &view.show_claims);
  record();
  m_claims_toggle = m_header_rects.back();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("The seed document's claims about these steps, checked on this kernel");
  if (!m_kernel_data) return;  // no stacks: nothing to say of paths
  ImGui::PushStyleColor(
      ImGuiCol_Text,
      StatusColor(m_path_source == PathSource::None ? Status::NotApplicable : Status::Highlight));
  ImGui::TextWrapped("%s", m_path_label.c_str());
  ImGui::PopStyleColor();
  record();
}

void ChainsPanel::DrawChain(ChainId id, bool show_claims) {
  const traces::ChainMatch& match = Match(id);
  if (match.chain == nullptr) return;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float spacing = ImGui::GetStyle().ItemSpacing.x;
  const bool side_by_side = avail.x >= ImGui::GetFontSize() * 34;
  const float tree_w = side_by_side ? std::clamp(avail.x * 0.36f, 12 * ImGui::GetFontSize(),
                                                 28 * ImGui::GetFontSize())
                                    : avail.x;
  // At least a few steps high, even when a large font leaves the pane little
  // room under the header: then the pane scrolls instead of hiding the chain.
  const float min_h = 5 * ImGui::GetFontSize();
  const ImVec2 diagram(side_by_side ? std::max(1.0f, avail.x - tree_w - spacing) : avail.x,
                       std::max(min_h, side_by_side ? avail.y : avail.y * 0.65f));
  if (ImGui::BeginChild("##diagram", diagram, true, ImGuiWindowFlags_HorizontalScrollbar)) {
    const ImVec2 room = ImGui::GetContentRegionAvail();
    DrawCanvas(id, room.x - 1, std::max(room.y, 1.0f), show_claims);
    // What the chain is, and with claims shown, each claim in words.
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::max(1.0f, room.x - 1));
    ImGui::TextDisabled("%s: %s", std::string(match.chain->title).c_str(),
                        std::string(match.chain->summary).c_str());
    if (show_claims) {
      for (const traces::ClaimResult& r : Claims(id)) {
        // The verdict in words too: colour is never the only signal.
        m_listed_claims.push_back(traces::ClaimSentence(r));
        ImGui::PushStyleColor(ImGuiCol_Text, VerdictColor(r.verdict));
        ImGui::TextWrapped("[%s] %s", std::string(traces::VerdictName(r.verdict)).c_str(),
                           m_listed_claims.back().c_str());
        ImGui::PopStyleColor();
      }
    }
    ImGui::PopTextWrapPos();
  }
  ImGui::EndChild();
  if (side_by_side) ImGui::SameLine();
  const float tree_h = side_by_side ? diagram.y : std::max(min_h, ImGui::GetContentRegionAvail().y);
  if (ImGui::BeginChild("##tree", ImVec2(tree_w, tree_h), true,
                        ImGuiWindowFlags_HorizontalScrollbar)) {
    // Stacks run deep: indent less than ImGui's default so names stay in view.
    ImGui::PushStyleVar(ImGuiStyleVar_IndentSpacing, ImGui::GetFontSize() * 0.75f);
    DrawCallTree();
    ImGui::PopStyleVar();
  }
  ImGui::EndChild();
}

void ChainsPanel::DrawCanvas(ChainId id, float width, float height, bool show_claims) {
  const traces::Chain& chain = *Match(id).chain;
  const LayoutMetrics metrics = LayoutMetrics::ForFont(ImGui::GetFontSize());
  Canvas c(Match(id), LayoutChain(chain, ImVec2(width, height), metrics));
  c.pad = metrics.pad;
  c.path = PathThrough(c.match, m_path_frames);
  c.progress = AnimationProgress(c.path.nodes.size());
  c.origin = ImGui::GetCursorScreenPos();
  c.fs = ImGui::GetFontSize();
  c.highlight = StatusColor(Status::Highlight);
  ImGui::InvisibleButton("##canvas",
                         ImVec2(std::max(1.0f, c.layout.size.x), std::max(1.0f, c.layout.size.y)));
  if (ImGui::IsItemHovered()) c.mouse = ImGui::GetIO().MousePos;
  c.on_path_node.assign(chain.nodes.size(), false);
  c.on_path_edge.assign(chain.edges.size(), false);
  for (size_t node : c.path.nodes) c.on_path_node[node] = true;
  for (const auto& route : c.path.routes)
    for (size_t e : route) c.on_path_edge[e] = true;

  // While the highlight travels down a selected path, keep it in view.
  if (m_path_source == PathSource::Selected && !c.path.nodes.empty() &&
      c.progress < static_cast<double>(c.path.nodes.size())) {
    const size_t step =
        std::min(c.path.nodes.size() - 1, static_cast<size_t>(std::max(0.0, c.progress)));
    const Box box = c.NodeBox(c.path.nodes[step]);
    const float top = ImGui::GetWindowPos().y, bottom = top + ImGui::GetWindowHeight();
    if (box.min.y < top || box.max.y > bottom)
      ImGui::SetScrollFromPosY((box.min.y + box.max.y) / 2 - top, 0.5f);
  }

  m_canvas = {c.origin, Add(c.origin, c.layout.size)};
  c.dl = ImGui::GetWindowDrawList();
  c.dl->PushClipRect(m_canvas.min, m_canvas.max, true);
  const int hovered_edge = DrawEdges(c);
  DrawTravel(c);
  std::vector<std::vector<const traces::ClaimResult*>> claims_at(chain.nodes.size());
  for (const traces::ClaimResult& r : Claims(id)) {
    const int node = NodeOfClaim(chain, *r.claim);
    if (show_claims && node >= 0) claims_at[static_cast<size_t>(node)].push_back(&r);
  }
  int hovered_node = -1, hovered_badge = -1;
  for (size_t i = 0; i < chain.nodes.size(); ++i) {
    Box badge_box;
    m_drawn_nodes.push_back(DrawNode(c, i, claims_at[i], badge_box));
    if (c.mouse && badge_box.Contains(*c.mouse))
      hovered_badge = static_cast<int>(i);
    else if (c.mouse && c.NodeBox(i).Contains(*c.mouse))
      hovered_node = static_cast<int>(i);
  }
  for (size_t e = 0; e < chain.edges.size(); ++e)
    m_drawn_edges.push_back({std::string(chain.edges[e].from), std::string(chain.edges[e].to),
                             c.match.edges[e].status, c.on_path_edge[e]});
  c.dl->PopClipRect();

  // Tooltips: a badge's claims, a step's facts, a link's status.
  if (hovered_badge < 0 && hovered_node < 0 && hovered_edge < 0) return;
  ImGui::BeginTooltip();
  ImGui::PushTextWrapPos(c.fs * 36);
  if (hovered_badge >= 0) {
    for (const traces::ClaimResult* r : claims_at[static_cast<size_t>(hovered_badge)]) {
      ImGui::PushStyleColor(ImGuiCol_Text, VerdictColor(r->verdict));
      ImGui::TextWrapped("[%s] %s", std::string(traces::VerdictName(r->verdict)).c_str(),
                         traces::ClaimSentence(*r).c_str());
      ImGui::PopStyleColor();
      ImGui::TextDisabled("history: %s", std::string(r->history).c_str());
    }
  } else if (hovered_node >= 0) {
    const size_t i = static_cast<size_t>(hovered_node);
    NodeTooltip(c.match.nodes[i], c.on_path_node[i], c.highlight);
  } else {
    const traces::EdgeMatch& em = c.match.edges[static_cast<size_t>(hovered_edge)];
    ImGui::Text("%s %s %s", c.match.Node(em.edge->from)->label.c_str(),
                em.edge->kind == traces::EdgeKind::Calls ? "calls" : "then",
                c.match.Node(em.edge->to)->label.c_str());
    ImGui::TextDisabled("%s", traces::EdgeMark(em).c_str());
  }
  ImGui::PopTextWrapPos();
  ImGui::EndTooltip();
}

void ChainsPanel::DrawCallTree() {
  ImGui::TextDisabled("Observed call tree (events per path)");
  if (m_call_tree.children.empty()) {
    if (m_kernel_data) ImGui::TextDisabled("no kernel stacks captured");
  } else {
    DrawTreeNode(m_call_tree, 0, true);
  }
  m_open_tree_path = false;
}

void ChainsPanel::DrawTreeNode(const traces::CallTreeNode& node, size_t depth, bool on_path) {
  // Merged stacks stay small (one node per distinct frame path), so the tree
  // is drawn whole rather than clipped.
  for (const traces::CallTreeNode& child : node.children) {
    const bool child_on_path =
        on_path && depth < m_path_frames.size() && child.name == m_path_frames[depth];
    ImGuiTreeNodeFlags flags = ImGuiTreeNodeFlags_SpanAvailWidth;
    if (child.children.empty())
      flags |= ImGuiTreeNodeFlags_Leaf | ImGuiTreeNodeFlags_NoTreePushOnOpen;
    if (depth < 2) flags |= ImGuiTreeNodeFlags_DefaultOpen;
    if (m_open_tree_path && child_on_path) ImGui::SetNextItemOpen(true);
    ImGui::PushID(child.name.c_str());
    if (child_on_path) ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(Status::Highlight));
    const bool open = ImGui::TreeNodeEx("##node", flags, "%s (%llu)", child.name.c_str(),
                                        static_cast<unsigned long long>(child.count));
    if (child_on_path) ImGui::PopStyleColor();
    if (open && !child.children.empty()) {
      DrawTreeNode(child, depth + 1, child_on_path);
      ImGui::TreePop();
    }
    ImGui::PopID();
  }
}

}  // namespace kvmscope::ui

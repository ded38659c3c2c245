// The KVM cycle picture's geometry (a grid in the VMX life-cycle shape, the
// init strip above it, arcs as polylines, labels in empty cells) and its
// words in every form, from full to compact. Pure: tests run it without ImGui.
#include "ui/cycle_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "traces/stats.h"

namespace kvmscope::ui {

using traces::CountKind;
using traces::CycleArcId;
using traces::CycleNodeId;
using N = CycleNodeId;
using A = CycleArcId;

// --- Geometry -------------------------------------------------------------------------

CycleMetrics CycleMetrics::ForFont(float fs) {
  CycleMetrics m;
  m.pad = std::round(fs * 0.3f);
  m.gap = std::round(fs * 0.6f);
  m.band_gap = std::round(fs * 0.3f);
  m.arrow_inset = std::round(fs * 1.0f);
  m.max_gap = std::round(fs * 3.0f);
  m.init_arrow = std::round(fs * 1.2f);
  return m;
}

CycleCell CellOf(CycleNodeId node) {
  switch (node) {
    case N::ModuleLoad: return {0, -1};
    case N::CreateVm: return {1, -1};
    case N::CreateVcpu: return {2, -1};
    case N::VmmRun: return {0, 0};
    case N::ArchRun: return {0, 1};
    case N::RunLoop: return {0, 2};
    case N::VendorEntry: return {0, 3};
    case N::GuestRuns: return {1, 4};
    case N::VmExit: return {2, 4};
    case N::ExitHandler: return {2, 2};
    case N::VmmHandles: return {2, 0};
    case N::Emulate: return {3, 1};
    case N::PageFault: return {3, 2};
    case N::Exception: return {3, 3};
    case N::Count: break;
  }
  return {};
}

namespace {

// Where an arc's label goes, in a cell no box uses. Beside: right of a
// vertical arrow crossing the cell. Below: under a horizontal arrow through
// the cell's middle, running on into the (empty) cell below. UnderTurn:
// under the horizontal end of an arrow that comes down the cell and turns
// right at its middle.
enum class Place { Beside, Below, UnderTurn };
struct LabelCell {
  CycleArcId arc;
  CycleCell cell;
  Place place;
};
constexpr LabelCell kLabelCells[] = {{A::RunAgain, {1, 0}, Place::Below},
                                     {A::HandledInKernel, {1, 2}, Place::Below},
                                     {A::ReturnToVmm, {2, 1}, Place::Beside},
                                     {A::ExitToHandler, {2, 3}, Place::Beside},
                                     {A::EntryToGuest, {0, 4}, Place::UnderTurn}};

bool IsInit(N n) { return CellOf(n).row < 0; }

}  // namespace

CycleLayout LayoutCycle(const CycleLayoutInput& in, ImVec2 available, const CycleMetrics& m) {
  std::array<float, kCycleCols> col_w{};
  std::array<float, kCycleRows> row_h{};
  float strip_w = 0, strip_h = 0;
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    const N n = static_cast<N>(i);
    const CycleCell c = CellOf(n);
    if (IsInit(n)) {
      strip_w += in.nodes[i].x + (c.col > 0 ? m.init_arrow : 0);
      strip_h = std::max(strip_h, in.nodes[i].y);
      continue;
    }
    col_w[c.col] = std::max(col_w[c.col], in.nodes[i].x);
    row_h[c.row] = std::max(row_h[c.row], in.nodes[i].y);
  }
  col_w[1] = std::max(col_w[1], 3 * m.gap);  // room for the horizontal arrows
  const float label_x = m.arrow_inset + m.pad;  // a label's offset from its column's left edge
  for (const LabelCell& l : kLabelCells) {
    const ImVec2 s = in.labels[static_cast<size_t>(l.arc)];
    if (s.x <= 0) continue;
    const int c = l.cell.col, r = l.cell.row;
    col_w[c] = std::max(col_w[c], (l.place == Place::Below ? m.pad : label_x) + s.x + m.pad);
    switch (l.place) {
      case Place::Beside: row_h[r] = std::max(row_h[r], s.y + 2 * m.pad); break;
      case Place::Below: {  // from the middle of row r into the empty cell of row r + 1
        const float room = row_h[r] / 2 + m.gap + (r == 0 ? m.band_gap : 0) + row_h[r + 1];
        if (m.pad + s.y > room) row_h[r + 1] += m.pad + s.y - room;
        break;
      }
      case Place::UnderTurn:  // under the middle of the row, into the gap below it
        row_h[r] = std::max(row_h[r], 2 * (m.pad + s.y - m.gap));
        break;
    }
  }
  // Gaps grow with spare room, up to max_gap.
  float grid_w = in.band_label_width + m.gap * (kCycleCols + 1);
  for (float w : col_w) grid_w += w;
  const float strip_need = in.band_label_width + 2 * m.gap + strip_w;
  float need_h = m.gap * (kCycleRows + 2) + strip_h + 3 * m.band_gap;
  for (float h : row_h) need_h += h;
  const float gap_x =
      std::clamp(m.gap + (available.x - std::max(grid_w, strip_need)) / (kCycleCols + 1), m.gap, m.max_gap);
  const float gap_y = std::clamp(m.gap + (available.y - need_h) / (kCycleRows + 2), m.gap, m.max_gap);

  std::array<float, kCycleCols> x{};
  std::array<float, kCycleRows> y{};
  float at = in.band_label_width + gap_x;
  for (int c = 0; c < kCycleCols; ++c) {
    x[c] = at;
    at += col_w[c] + gap_x;
  }
  const float width = std::max(at, in.band_label_width + gap_x + strip_w + gap_x);
  const float strip_y = gap_y;
  at = strip_y + strip_h + gap_y + m.band_gap;
  for (int r = 0; r < kCycleRows; ++r) {
    if (r == 1 || r == 4) at += m.band_gap;
    y[r] = at;
    at += row_h[r] + gap_y;
  }
  const float height = at;

  CycleLayout out;
  out.need = ImVec2(std::max(grid_w, strip_need), need_h);
  out.size = ImVec2(std::max(width, available.x), std::max(height, available.y));
  float strip_x = x[0];
  for (N n : {N::ModuleLoad, N::CreateVm, N::CreateVcpu}) {
    const ImVec2 s = in.nodes[static_cast<size_t>(n)];
    const float top = strip_y + (strip_h - s.y) / 2;
    out.nodes[static_cast<size_t>(n)] = Box{ImVec2(strip_x, top), ImVec2(strip_x + s.x, top + s.y)};
    strip_x += s.x + m.init_arrow;
  }
  for (size_t i = 0; i < traces::kCycleNodes; ++i) {
    const N n = static_cast<N>(i);
    if (IsInit(n)) continue;
    const CycleCell c = CellOf(n);
    const float top = y[c.row] + (row_h[c.row] - in.nodes[i].y) / 2;
    out.nodes[i] = Box{ImVec2(x[c.col], top), ImVec2(x[c.col] + col_w[c.col], top + in.nodes[i].y)};
  }
  // The strip's note (the kernel) right of the init boxes, when it fits.
  out.strip_note = ImVec2(strip_x - m.init_arrow + gap_x, strip_y + (strip_h - in.strip_note.y) / 2);
  out.strip_note_fits = in.strip_note.x > 0 && out.strip_note.x + in.strip_note.x <= out.size.x - m.pad;
  // Bands split halfway through the gaps between them: init, VMM (row 0),
  // KVM (rows 1-3), guest (row 4).
  const float init_bottom = strip_y + strip_h + (gap_y + m.band_gap) / 2;
  const float band_top[3] = {init_bottom, y[1] - (gap_y + m.band_gap) / 2, y[4] - (gap_y + m.band_gap) / 2};
  const float band_bottom[3] = {band_top[1], band_top[2], out.size.y};
  out.init_band = Box{ImVec2(0, 0), ImVec2(out.size.x, init_bottom)};
  for (int b = 0; b < 3; ++b)
    out.bands[b] = Box{ImVec2(0, band_top[b]), ImVec2(out.size.x, band_bottom[b])};

  auto box = [&](N n) -> const Box& { return out.nodes[static_cast<size_t>(n)]; };
  auto mid_y = [&](N n) { return (box(n).min.y + box(n).max.y) / 2; };
  auto mid_x = [&](N n) { return (box(n).min.x + box(n).max.x) / 2; };
  auto arc = [&](A a) -> std::vector<ImVec2>& { return out.arcs[static_cast<size_t>(a)]; };
  const float x1 = x[0] + m.arrow_inset, x3 = x[2] + m.arrow_inset;
  const float gap23 = (x[2] + col_w[2] + x[3]) / 2;
  auto down = [&](A a, N from, N to, float ax) {
    arc(a) = {ImVec2(ax, box(from).max.y), ImVec2(ax, box(to).min.y)};
  };
  auto up = [&](A a, N from, N to, float ax) {
    arc(a) = {ImVec2(ax, box(from).min.y), ImVec2(ax, box(to).max.y)};
  };
  // The loop starts: from the last init step down into KVM_RUN's top.
  {
    const float sx = mid_x(N::CreateVcpu), tx = mid_x(N::VmmRun);
    const float gy = (box(N::CreateVcpu).max.y + box(N::VmmRun).min.y) / 2;
    arc(A::InitToRun) = {ImVec2(sx, box(N::CreateVcpu).max.y), ImVec2(sx, gy), ImVec2(tx, gy),
                         ImVec2(tx, box(N::VmmRun).min.y)};
  }
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
    arc(a) = {ImVec2(box(N::ExitHandler).max.x, sy), ImVec2(gap23, sy), ImVec2(gap23, mid_y(to)),
              ImVec2(box(to).min.x, mid_y(to))};
  };
  side(A::ToEmulate, N::Emulate, -quarter);
  side(A::ToPageFault, N::PageFault, 0);
  side(A::ToException, N::Exception, quarter);
  // Injected at the next entry: under row 3, above the guest band's edge,
  // into the vendor entry's bottom right of the arrow that leaves it.
  {
    const float ly = y[3] + row_h[3] + (gap_y + m.band_gap) / 4;
    const float vx = std::max(x1 + 2 * m.pad, box(N::VendorEntry).max.x - 2 * m.pad);
    out.inject_link = {ImVec2(mid_x(N::Exception), box(N::Exception).max.y), ImVec2(mid_x(N::Exception), ly),
                       ImVec2(vx, ly), ImVec2(vx, box(N::VendorEntry).max.y)};
  }
  for (const LabelCell& l : kLabelCells) {
    const ImVec2 s = in.labels[static_cast<size_t>(l.arc)];
    const float cy = y[l.cell.row] + row_h[l.cell.row] / 2;
    ImVec2& p = out.labels[static_cast<size_t>(l.arc)];
    switch (l.place) {
      case Place::Beside: p = ImVec2(x[l.cell.col] + label_x, cy - s.y / 2); break;
      case Place::Below: p = ImVec2(x[l.cell.col] + m.pad, cy + m.pad); break;
      case Place::UnderTurn: p = ImVec2(x1 + m.pad, cy + m.pad); break;
    }
  }
  return out;
}

// --- Words ----------------------------------------------------------------------------

namespace {

bool Short(CycleForm f) { return f == CycleForm::Compact || f == CycleForm::Tight; }

std::string ShortTitle(const traces::CycleNode& n) {
  switch (n.id) {
    case N::Emulate: return "emulator";
    case N::Exception: return "inject exception";
    case N::VmmHandles: return "VMM handles exit";
    default: return n.title;
  }
}

// "KVM_EXIT_IO" → "IO", "kvm_emulate_insn" → "emulate": the short names of
// compact labels (the caption line says them in full).
std::string ShortReason(const std::string& name) {
  if (name.rfind("KVM_EXIT_", 0) == 0) return name.substr(9);
  if (name == "kvm_emulate_insn") return "emulate";
  if (name == "page faults") return "#PF";
  return name;
}

}  // namespace

std::string CountText(const traces::CycleCount& c, CycleForm form) {
  if (c.kind == CountKind::None) return {};
  if (Short(form)) return fmt::format("{}{}", c.kind == CountKind::Inferred ? "~" : "", traces::FormatCount(c.value));
  return fmt::format("{} ({})", traces::FormatCount(c.value), traces::CountKindName(c.kind));
}

std::vector<std::string> ArcLabel(const traces::CycleModel& model, CycleArcId id, CycleForm form) {
  const traces::CycleArc& a = model.Arc(id);
  const bool counted = a.count.kind != CountKind::None;
  const bool one_line = Short(form);
  std::vector<std::string> lines;
  switch (id) {
    case A::RunAgain:
      if (one_line) return {counted ? "KVM_RUN again: " + CountText(a.count, form) : "KVM_RUN again"};
      lines.push_back("KVM_RUN again");
      if (counted) lines.push_back(CountText(a.count, form));
      return lines;
    case A::EntryToGuest:
      if (one_line) return {counted ? "VM entry: " + CountText(a.count, form) : "VM entry"};
      lines.push_back("VM entry");
      lines.push_back(counted ? CountText(a.count, form) : "not counted here");
      return lines;
    case A::ExitToHandler: {
      const char* why = model.kernel_data ? "not counted" : "not traced";
      if (one_line) return {counted ? "VM exit: " + CountText(a.count, form) : fmt::format("VM exit ({})", why)};
      lines.push_back("VM exit");
      if (counted) {
        lines.push_back(CountText(a.count, form));
      } else if (model.kernel_data && form == CycleForm::Full) {
        lines.push_back("not counted:");
        lines.push_back("no kvm_exit here");
      } else {
        lines.push_back(why);
      }
      return lines;
    }
    case A::HandledInKernel:
    case A::ReturnToVmm: break;
    default: return lines;
  }
  const bool out = id == A::ReturnToVmm;
  const char* head = out ? "to the VMM" : one_line ? "in kernel" : "handled in kernel";
  if (!counted) {
    const char* why = model.kernel_data ? "not counted" : "not traced";
    if (one_line) return {fmt::format("{} ({})", head, why)};
    return {head, why};
  }
  // PVM's inferred kernel work is a sum of unlike things: the parts say it.
  const bool parts_only = !out && a.count.kind == CountKind::Inferred;
  if (one_line) {
    const std::string top =
        a.reasons.empty()
            ? std::string()
            : fmt::format("{} {}", ShortReason(a.reasons[0].name), traces::FormatCount(a.reasons[0].count));
    if (out) return {fmt::format("{}: {}{}", head, CountText(a.count, form), top.empty() ? "" : " (" + top + ")")};
    // Its label runs on into an empty cell: the reasons go on a second line.
    std::string parts;
    for (size_t i = 0; i < a.reasons.size() && i < 2; ++i)
      parts += fmt::format("{}{} {}", i ? ", " : "", ShortReason(a.reasons[i].name),
                           traces::FormatCount(a.reasons[i].count));
    lines.push_back(parts_only ? fmt::format("{} (inferred)", head)
                               : fmt::format("{}: {}", head, CountText(a.count, form)));
    if (!parts.empty()) lines.push_back(parts);
    return lines;
  }
  lines.push_back(fmt::format("{}: {}", head, parts_only ? std::string("inferred") : CountText(a.count, form)));
  const size_t top = form == CycleForm::Full ? 3 : 1;
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

std::vector<std::string> NodeLines(const traces::CycleNode& n, CycleForm form) {
  if (n.init) return {Short(form) ? ShortTitle(n) : n.title};
  const std::string count = CountText(n.count, form);
  if (Short(form)) {
    const std::string title = ShortTitle(n);
    if (count.empty()) return {title};
    if (form == CycleForm::Tight) return {title + "  " + count};
    return {title, count};
  }
  std::vector<std::string> lines{n.title};
  if (n.band == traces::CycleBand::Kernel) {
    if (!n.function.empty() && n.function != n.title) lines.push_back(n.function);
    if (form == CycleForm::Full && !n.status_text.empty()) lines.push_back(n.status_text);
  }
  if (!count.empty()) {
    const char* what = n.id == N::VmmRun ? "calls" : n.id == N::VmmHandles ? "device accesses" : "";
    lines.push_back(*what == 0 ? count
                               : fmt::format("{} {} ({})", traces::FormatCount(n.count.value), what,
                                             traces::CountKindName(n.count.kind)));
  }
  return lines;
}

std::string NodeCaption(const traces::CycleNode& n) {
  std::string s = n.title;
  if (!n.function.empty() && n.function != n.title) s += " — " + n.function;
  if (!n.status_text.empty()) s += " (" + n.status_text + ")";
  s += ": " + n.caption;
  if (n.count.kind != CountKind::None)
    s += fmt::format(" {}: {}.", n.count.what, CountText(n.count, CycleForm::Full));
  return s;
}

std::string ArcCaption(const traces::CycleModel& model, CycleArcId id) {
  const traces::CycleArc& a = model.Arc(id);
  std::string s = a.label;
  if (a.count.kind != CountKind::None) s += ": " + CountText(a.count, CycleForm::Full);
  else s += model.kernel_data ? ": not counted" : ": not traced";
  for (size_t i = 0; i < a.reasons.size(); ++i)
    s += fmt::format("{}{} {}", i == 0 ? " — " : ", ", a.reasons[i].name, traces::FormatCount(a.reasons[i].count));
  if (!a.count.what.empty()) s += " (" + a.count.what + ")";
  return s + ".";
}

std::string PathSummary(const traces::CycleModel& model, const traces::CyclePath& path) {
  uint64_t entries = 0;
  std::vector<std::string> work;
  for (const traces::CycleStep& s : path.steps) {
    if (s.node == N::GuestRuns) ++entries;
    if (s.node == N::Emulate || s.node == N::PageFault || s.node == N::Exception) {
      std::string w = model.Node(s.node).title;
      if (s.times > 1) w += fmt::format(" ×{}", s.times);
      if (s.evidence == CountKind::Inferred) w += " (inferred)";
      work.push_back(std::move(w));
    }
  }
  std::string s = fmt::format("Selected KVM_RUN: the guest ran {} time{}", entries, entries == 1 ? "" : "s");
  if (!work.empty()) {
    s += "; kernel work: ";
    for (size_t i = 0; i < work.size(); ++i) s += (i ? ", " : "") + work[i];
  }
  if (path.emulation_unstreamed) s += "; any instructions emulated in it were counted, not streamed";
  if (path.returned && path.exit) {
    const std::string_view reason = traces::KvmExitReasonName(path.exit_reason);
    s += fmt::format("; back to user space with KVM_EXIT_{}: {}", reason.empty() ? std::to_string(path.exit_reason) : std::string(reason),
                     model.Node(N::VmmHandles).title);
  } else if (!path.returned) {
    s += "; still inside KVM_RUN";
  }
  return s + ".";
}

}  // namespace kvmscope::ui

// The statistics panel: traces::ComputeStats for the chosen scope, cached
// until the trace changes, drawn as clipped tables (exits with kernel and VMM
// latency, hardware exits, event types, losses) and a bar chart of exit
// counts on the canvas pattern (InvisibleButton + ImDrawList).
#include "ui/stats_panel.h"

#include <fmt/format.h>
#include <imgui.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "ui/theme.h"

namespace kvmscope::ui {

namespace {

// Rows a table shows before it scrolls inside itself.
constexpr int kMaxVisibleRows = 12;

std::string Latency(const traces::LatencyStats& l, int64_t traces::LatencyStats::*field) {
  return l.samples == 0 ? std::string("-") : traces::FormatStatsDuration(l.*field);
}

std::string_view IsaLabel(traces::ExitIsa isa) {
  switch (isa) {
    case traces::ExitIsa::Vmx: return "VMX";
    case traces::ExitIsa::Svm: return "SVM";
    case traces::ExitIsa::Unknown: break;
  }
  return "?";
}

std::string_view KernelSourceMeaning(traces::KernelSideSource source) {
  switch (source) {
    case traces::KernelSideSource::KernelRun:
      return "kernel time measured at the kernel's own KVM_RUN edges";
    case traces::KernelSideSource::Run:
      return "kernel time measured around the VMM's KVM_RUN ioctl (includes the system call "
             "entry and exit)";
    case traces::KernelSideSource::Mixed:
      return "kernel time measured at the kernel's KVM_RUN edges where recorded, else around the "
             "VMM's ioctl";
    case traces::KernelSideSource::None: break;
  }
  return "no complete KVM_RUN: no kernel-side time";
}

void Cell(const std::string& text) {
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(text.c_str());
}

void StatusCell(Status status, const std::string& text) {
  ImGui::TableNextColumn();
  ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(status));
  ImGui::TextUnformatted(text.c_str());
  ImGui::PopStyleColor();
}

void TextStatus(Status status, const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(status));
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

// A table that scrolls within itself past kMaxVisibleRows, with the header
// row and first column frozen (so a wide table scrolled sideways on the
// projector still says which row is which).
// `wide`: the table was wider than the panel at the last frame, so it needs
// room for its horizontal scrollbar (EndStatsTable records it).
bool BeginStatsTable(const char* id, const std::vector<const char*>& columns, size_t rows,
                     bool wide) {
  const ImGuiStyle& style = ImGui::GetStyle();
  const float row_h = ImGui::GetTextLineHeight() + 2 * style.CellPadding.y;
  const int shown = std::min(static_cast<int>(rows), kMaxVisibleRows) + 1;  // + header
  const float height =
      static_cast<float>(shown) * row_h + (wide ? style.ScrollbarSize : 0) + 2;  // + borders
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg |
                                ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX |
                                ImGuiTableFlags_ScrollY;
  if (!ImGui::BeginTable(id, static_cast<int>(columns.size()), flags, ImVec2(0, height))) {
    return false;
  }
  ImGui::TableSetupScrollFreeze(1, 1);
  for (const char* c : columns) ImGui::TableSetupColumn(c);
  ImGui::TableHeadersRow();
  return true;
}

void EndStatsTable(bool& wide) {
  wide = ImGui::GetScrollMaxX() > 0;  // the current window is the table's own (it scrolls)
  ImGui::EndTable();
}

// The KVM_EXIT_* reason of the selected event, when it is a VMM exit.
std::optional<uint32_t> SelectedExitReason(const traces::TraceData& trace, const SharedView& view) {
  if (!view.selected || view.selected->type != traces::EventType(traces::VmmEventKind::RunExit)) {
    return std::nullopt;
  }
  const std::optional<traces::EventRef> ref = Find(trace, *view.selected);
  if (!ref) return std::nullopt;
  return static_cast<uint32_t>(trace.At(*ref).a[0]);
}

// Selects `ref` and, when it is outside the visible window, moves the window
// (same width) to centre it.
void SelectAndReveal(const traces::TraceData& trace, traces::EventRef ref, SharedView& view) {
  const traces::Event& e = trace.At(ref);
  view.selected = KeyOf(e);
  view.follow_live = false;
  const bool fit_all = view.view_begin_ns == 0 && view.view_end_ns == 0;
  if (fit_all || (e.time_ns >= view.view_begin_ns && e.time_ns <= view.view_end_ns)) return;
  const int64_t width = view.view_end_ns - view.view_begin_ns;
  view.view_begin_ns = e.time_ns - width / 2;
  view.view_end_ns = view.view_begin_ns + width;
}

}  // namespace

std::string FormatShare(double pct) {
  return fmt::format("{:.1f}%", pct);
}

std::vector<int> VcpusWithTracks(const traces::TraceData& trace) {
  std::set<int> vcpus;
  for (const traces::Track& track : trace.tracks) {
    if (track.kind == traces::TrackKind::Vcpu && track.vcpu >= 0) vcpus.insert(track.vcpu);
  }
  return {vcpus.begin(), vcpus.end()};
}

std::optional<traces::EventRef> NextExitWithReason(const traces::TraceData& trace, uint32_t reason,
                                                   int vcpu, const std::optional<EventKey>& after) {
  std::vector<traces::EventRef> exits = trace.ExitsWithReason(reason, vcpu);
  if (exits.empty()) return std::nullopt;
  auto order = [&](const traces::EventRef& r) {
    return std::make_tuple(trace.At(r).time_ns, r.track, r.index);
  };
  std::sort(exits.begin(), exits.end(), [&](const traces::EventRef& a, const traces::EventRef& b) {
    return order(a) < order(b);
  });
  const std::optional<traces::EventRef> from = after ? Find(trace, *after) : std::nullopt;
  if (!from) return exits.front();
  const auto key = order(*from);
  auto next = std::find_if(exits.begin(), exits.end(),
                           [&](const traces::EventRef& r) { return order(r) > key; });
  return next == exits.end() ? exits.front() : *next;
}

TraceStamp StampOf(const traces::TraceData& trace) {
  TraceStamp s;
  s.trace = &trace;
  s.events = trace.EventCount();
  s.tracks = trace.tracks.size();
  s.begin_ns = trace.BeginNs();
  s.end_ns = trace.EndNs();
  if (trace.kernel_counts) {
    s.kernel_counts = true;
    s.kernel_seen = trace.kernel_counts->total_seen();
    s.kernel_lost = trace.kernel_counts->total_lost();
  }
  return s;
}

const traces::Stats& StatsPanel::Current() const {
  static const traces::Stats kEmpty;
  if (!m_shown) return kEmpty;
  auto it = m_cache.find(*m_shown);
  return it == m_cache.end() ? kEmpty : it->second.stats;
}

const traces::ScopeStats* StatsPanel::CurrentScope() const {
  const traces::Stats& stats = Current();
  return stats.scopes.empty() ? nullptr : &stats.scopes.front();
}

void StatsPanel::Refresh(const traces::TraceData& trace, const SharedView& view) {
  const TraceStamp stamp = StampOf(trace);
  if (stamp != m_vcpus_stamp) {
    // Another trace in the same place or a grown one: entries of a different
    // TraceData are of no use any more.
    if (stamp.trace != m_vcpus_stamp.trace) m_cache.clear();
    m_vcpus = VcpusWithTracks(trace);
    m_vcpus_stamp = stamp;
  }
  if (m_scope != traces::kAllVcpus &&
      std::find(m_vcpus.begin(), m_vcpus.end(), m_scope) == m_vcpus.end()) {
    m_scope = traces::kAllVcpus;
  }
  const double now = ImGui::GetTime();
  auto it = m_cache.find(m_scope);
  const bool fresh =
      it != m_cache.end() && (it->second.stamp == stamp ||
                              (view.live && now - it->second.computed_at < kLiveRefreshSeconds));
  if (!fresh) {
    Cached& entry = m_cache[m_scope];
    entry.stamp = stamp;
    entry.computed_at = now;
    entry.stats = traces::ComputeStats(trace, m_scope);
    ++m_computations;
  }
  m_shown = m_scope;
}

void StatsPanel::Draw(const traces::TraceData& trace, SharedView& view) {
  ImGui::PushID("stats");
  Refresh(trace, view);
  DrawScopeCombo();
  const traces::ScopeStats* scope = CurrentScope();
  if (scope) {
    ImGui::SameLine();
    ImGui::Text("%s events over %s", FormatCount(scope->events).c_str(),
                traces::FormatStatsDuration(scope->end_ns - scope->begin_ns).c_str());
    if (view.live) {
      ImGui::SameLine();
      ImGui::TextDisabled("(live: refreshed every %.1f s)", kLiveRefreshSeconds);
    }
    DrawUserspace(trace, *scope, view);
    DrawHardware(scope->hardware);
    DrawKinds(*scope);
  }
  DrawLoss(Current().loss);
  ImGui::PopID();
}

void StatsPanel::DrawScopeCombo() {
  auto label = [](int vcpu) {
    return vcpu == traces::kAllVcpus ? std::string("all vCPUs") : fmt::format("vCPU {}", vcpu);
  };
  ImGui::SetNextItemWidth(ImGui::CalcTextSize("all vCPUs").x * 2);
  if (!ImGui::BeginCombo("scope", label(m_scope).c_str())) return;
  if (ImGui::Selectable(label(traces::kAllVcpus).c_str(), m_scope == traces::kAllVcpus)) {
    m_scope = traces::kAllVcpus;
  }
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(m_vcpus.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const int vcpu = m_vcpus[static_cast<size_t>(i)];
      if (ImGui::Selectable(label(vcpu).c_str(), m_scope == vcpu)) m_scope = vcpu;
    }
  }
  ImGui::EndCombo();
}

void StatsPanel::DrawUserspace(const traces::TraceData& trace, const traces::ScopeStats& scope,
                               SharedView& view) {
  const traces::UserspaceExitTable& table = scope.userspace;
  if (!ImGui::CollapsingHeader("Exits to the VMM (KVM_EXIT_* reasons)",
                               ImGuiTreeNodeFlags_DefaultOpen)) {
    return;
  }
  if (table.rows.empty()) {
    TextStatus(Status::NotApplicable, "no KVM_RUN returned to the VMM in this scope");
  } else {
    ImGui::TextWrapped(
        "%s exits. kernel: the KVM_RUN that ended with the exit (guest time + "
        "KVM's handling); VMM: the VMM's handling until the next KVM_RUN. Click a "
        "reason to step through its exits.",
        FormatCount(table.total).c_str());
    const std::optional<uint32_t> selected_reason = SelectedExitReason(trace, view);
    static const std::vector<const char*> kColumns = {
        "reason",     "count",     "share",    "kernel total", "kernel mean", "kernel p50",
        "kernel p99", "VMM total", "VMM mean", "VMM p50",      "VMM p99"};
    if (BeginStatsTable("userspace", kColumns, table.rows.size(), Wide(TableId::Userspace))) {
      ImGuiListClipper clipper;
      clipper.Begin(static_cast<int>(table.rows.size()));
      while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
          const traces::UserspaceExitRow& row = table.rows[static_cast<size_t>(i)];
          ImGui::TableNextRow();
          ImGui::TableNextColumn();
          ImGui::PushID(i);
          const bool selected = selected_reason == row.reason;
          if (ImGui::Selectable(row.name.c_str(), selected, ImGuiSelectableFlags_SpanAllColumns)) {
            if (auto next = NextExitWithReason(trace, row.reason, scope.vcpu, view.selected)) {
              SelectAndReveal(trace, *next, view);
            }
          }
          if (ImGui::IsItemHovered()) {
            ImGui::SetTooltip("KVM_EXIT_%s (%u): click to select the next of its %s exits",
                              row.name.c_str(), row.reason, FormatCount(row.count).c_str());
          }
          ImGui::PopID();
          Cell(FormatCount(row.count));
          Cell(FormatShare(row.share_pct));
          for (const traces::LatencyStats* l : {&row.kernel, &row.vmm}) {
            Cell(Latency(*l, &traces::LatencyStats::total_ns));
            Cell(Latency(*l, &traces::LatencyStats::mean_ns));
            Cell(Latency(*l, &traces::LatencyStats::p50_ns));
            Cell(Latency(*l, &traces::LatencyStats::p99_ns));
          }
        }
      }
      EndStatsTable(Wide(TableId::Userspace));
    }
    ImGui::TextDisabled("%s", std::string(KernelSourceMeaning(table.kernel_source)).c_str());
    if (table.incomplete_runs > 0) {
      ImGui::TextDisabled("%s KVM_RUN%s still running when the trace ended (no exit, no reason)",
                          FormatCount(table.incomplete_runs).c_str(),
                          table.incomplete_runs == 1 ? "" : "s");
    }
    DrawExitBars(table);
  }
}

void StatsPanel::DrawExitBars(const traces::UserspaceExitTable& table) {
  ImGui::Spacing();
  ImGui::TextUnformatted("exits by reason");
  const ImGuiStyle& style = ImGui::GetStyle();
  float label_w = 0;
  for (const traces::UserspaceExitRow& row : table.rows) {
    label_w = std::max(label_w, ImGui::CalcTextSize(row.name.c_str()).x);
  }
  label_w += style.ItemInnerSpacing.x * 2;
  const uint64_t max_count = table.rows.empty() ? 0 : table.rows.front().count;  // sorted
  const float row_h = ImGui::GetTextLineHeightWithSpacing();
  const float width = std::max(ImGui::GetContentRegionAvail().x, label_w + 100);
  const float text_h = ImGui::GetTextLineHeight();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text);

  // Rows exactly row_h apart, as the clipper assumes.
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(style.ItemSpacing.x, 0));
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(table.rows.size()), row_h);
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const traces::UserspaceExitRow& row = table.rows[static_cast<size_t>(i)];
      ImGui::PushID(i);
      ImGui::InvisibleButton("bar", ImVec2(width, row_h));
      const bool hovered = ImGui::IsItemHovered();
      ImGui::PopID();
      const ImVec2 min = ImGui::GetItemRectMin(), max = ImGui::GetItemRectMax();
      draw->PushClipRect(min, max, true);
      const float text_y = min.y + (row_h - text_h) / 2;
      draw->AddText(ImVec2(min.x, text_y), text_col, row.name.c_str());
      const std::string value = FormatCount(row.count) + " (" + FormatShare(row.share_pct) + ")";
      const float value_w = ImGui::CalcTextSize(value.c_str()).x;
      const float bar_x = min.x + label_w;
      const float bar_room = std::max(0.0f, max.x - bar_x - value_w - style.ItemInnerSpacing.x);
      const float frac =
          max_count == 0
              ? 0.0f
              : static_cast<float>(static_cast<double>(row.count) / static_cast<double>(max_count));
      const float bar_end = bar_x + std::max(1.0f, frac * bar_room);
      draw->AddRectFilled(
          ImVec2(bar_x, min.y + 2), ImVec2(bar_end, max.y - 2),
          ImGui::GetColorU32(hovered ? ImGuiCol_PlotHistogramHovered : ImGuiCol_PlotHistogram));
      draw->AddText(ImVec2(bar_end + style.ItemInnerSpacing.x, text_y), text_col, value.c_str());
      draw->PopClipRect();
      if (hovered) {
        ImGui::SetTooltip("KVM_EXIT_%s: %s of %s exits", row.name.c_str(),
                          FormatCount(row.count).c_str(), FormatCount(table.total).c_str());
      }
    }
  }
  ImGui::PopStyleVar();
}

void StatsPanel::DrawHardware(const traces::HardwareExitTable& table) {
  if (!ImGui::CollapsingHeader("Hardware exits (kvm:kvm_exit)", ImGuiTreeNodeFlags_DefaultOpen)) {
    return;
  }
  if (table.rows.empty()) {
    TextStatus(Status::NotApplicable,
               table.note.empty() ? std::string("no kvm_exit in this scope") : table.note);
    return;
  }
  ImGui::TextWrapped(
      "%s exits the CPU made to KVM; time: KVM's handling, kvm_exit to the next "
      "kvm_entry (or KVM_RUN's return).",
      FormatCount(table.total).c_str());
  static const std::vector<const char*> kColumns = {"reason", "ISA",  "code", "count", "share",
                                                    "total",  "mean", "p50",  "p99"};
  if (!BeginStatsTable("hardware", kColumns, table.rows.size(), Wide(TableId::Hardware))) return;
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(table.rows.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const traces::HardwareExitRow& row = table.rows[static_cast<size_t>(i)];
      ImGui::TableNextRow();
      Cell(row.name);
      Cell(std::string(IsaLabel(row.isa)));
      Cell(fmt::format("{:#x}", row.reason));
      Cell(FormatCount(row.count));
      Cell(FormatShare(row.share_pct));
      Cell(Latency(row.kernel, &traces::LatencyStats::total_ns));
      Cell(Latency(row.kernel, &traces::LatencyStats::mean_ns));
      Cell(Latency(row.kernel, &traces::LatencyStats::p50_ns));
      Cell(Latency(row.kernel, &traces::LatencyStats::p99_ns));
    }
  }
  EndStatsTable(Wide(TableId::Hardware));
}

void StatsPanel::DrawKinds(const traces::ScopeStats& scope) {
  if (!ImGui::CollapsingHeader("Event types", ImGuiTreeNodeFlags_DefaultOpen)) return;
  if (scope.kinds.empty()) {
    TextStatus(Status::NotApplicable, "no events in this scope");
    return;
  }
  static const std::vector<const char*> kColumns = {"event", "count", "share", "span",
                                                    "mean",  "p50",   "p99"};
  if (!BeginStatsTable("kinds", kColumns, scope.kinds.size(), Wide(TableId::Kinds))) return;
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(scope.kinds.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const traces::EventKindRow& row = scope.kinds[static_cast<size_t>(i)];
      ImGui::TableNextRow();
      Cell(row.name);
      Cell(FormatCount(row.count));
      Cell(FormatShare(row.share_pct));
      Cell(row.span ? std::string(traces::SpanKindName(*row.span)) : std::string());
      Cell(row.span ? Latency(row.duration, &traces::LatencyStats::mean_ns) : std::string());
      Cell(row.span ? Latency(row.duration, &traces::LatencyStats::p50_ns) : std::string());
      Cell(row.span ? Latency(row.duration, &traces::LatencyStats::p99_ns) : std::string());
    }
  }
  EndStatsTable(Wide(TableId::Kinds));
}

void StatsPanel::DrawLoss(const traces::LossStats& loss) {
  if (!ImGui::CollapsingHeader("Kernel events lost", ImGuiTreeNodeFlags_DefaultOpen)) return;
  if (!loss.kernel_traced) {
    TextStatus(Status::NotApplicable, loss.note);
    return;
  }
  ImGui::Text("%s seen in the kernel, %s received,", FormatCount(loss.seen).c_str(),
              FormatCount(loss.received).c_str());
  ImGui::SameLine();
  const std::string lost = loss.lost > 0
                               ? fmt::format("{} LOST (ring buffer full)", FormatCount(loss.lost))
                               : std::string("none lost");
  ImGui::PushStyleColor(ImGuiCol_Text,
                        StatusColor(loss.lost > 0 ? Status::Warning : Status::Observed));
  ImGui::TextUnformatted(lost.c_str());
  ImGui::PopStyleColor();
  ImGui::Text("stacks: %s taken, %s failed", FormatCount(loss.stacks_taken).c_str(),
              FormatCount(loss.stacks_failed).c_str());
  if (loss.rows.empty()) return;
  static const std::vector<const char*> kColumns = {"kernel event", "seen", "received", "lost"};
  if (!BeginStatsTable("loss", kColumns, loss.rows.size(), Wide(TableId::Loss))) return;
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(loss.rows.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const traces::LossRow& row = loss.rows[static_cast<size_t>(i)];
      ImGui::TableNextRow();
      Cell(row.name);
      Cell(FormatCount(row.seen));
      Cell(FormatCount(row.received));
      if (row.lost > 0) {
        StatusCell(Status::Warning, FormatCount(row.lost));
      } else {
        Cell("0");
      }
    }
  }
  EndStatsTable(Wide(TableId::Loss));
}

}  // namespace kvmscope::ui

// The statistics panel: traces::ComputeStats for the chosen scope, cached
// until the trace changes, drawn as clipped tables (exits with kernel and VMM
// latency, hardware exits, event types, KVM's own counters, losses) and a bar chart of exit
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
// row and first column frozen, holding only the columns that fit.
bool BeginStatsTable(const char* id, size_t columns, size_t rows) {
  const ImGuiStyle& style = ImGui::GetStyle();
  const float row_h = ImGui::GetTextLineHeight() + 2 * style.CellPadding.y;
  const int shown = std::min(static_cast<int>(rows), kMaxVisibleRows) + 1;  // + header
  const float height = static_cast<float>(shown) * row_h + 2;              // + borders
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg |
                                ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollY;
  return ImGui::BeginTable(id, static_cast<int>(columns), flags, ImVec2(0, height));
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

std::vector<size_t> FitColumns(const std::vector<float>& widths, const std::vector<int>& priority,
                               float avail) {
  std::vector<size_t> order(widths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if ((a == 0) != (b == 0)) return a == 0;  // the row's name first, always
    return priority[a] < priority[b];
  });
  std::vector<size_t> kept;
  float used = 0;
  for (size_t i : order) {
    if (i != 0 && used + widths[i] > avail) continue;
    used += widths[i];
    kept.push_back(i);
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

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
  s.kvm_stats = trace.kvm_stats.has_value();
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
  if (view.trace_generation != m_generation) {
    // Another trace (Reset, guest switch, Open), perhaps at the same address
    // and of the same size: nothing cached is of use.
    m_generation = view.trace_generation;
    m_cache.clear();
    m_vcpus_stamp = {};
  }
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
  DrawKvmCounters(Current().kvm);
  DrawLoss(Current().loss);
  ImGui::PopID();
}

void StatsPanel::DrawTable(const char* id, TableId table, const std::vector<Column>& columns,
                           size_t rows, const std::function<void(size_t row)>& first) {
  // Column widths from the font: the widest of the header and every cell.
  const ImGuiStyle& style = ImGui::GetStyle();
  const float pad = 2 * style.CellPadding.x + 1;  // + the inner border
  std::vector<float> widths;
  std::vector<int> priority;
  for (const Column& c : columns) {
    float w = ImGui::CalcTextSize(c.header).x;
    for (size_t r = 0; r < rows; ++r) w = std::max(w, ImGui::CalcTextSize(c.cell(r).c_str()).x);
    widths.push_back(w + pad);
    priority.push_back(c.priority);
  }
  const float avail = ImGui::GetContentRegionAvail().x - style.ScrollbarSize - 2;
  const std::vector<size_t> shown = FitColumns(widths, priority, avail);
  std::vector<std::string>& names = m_shown_columns[static_cast<size_t>(table)];
  names.clear();
  float& table_width = m_table_width[static_cast<size_t>(table)];
  table_width = 0;
  for (size_t i : shown) {
    names.emplace_back(columns[i].header);
    table_width += widths[i];
  }
  if (BeginStatsTable(id, shown.size(), rows)) {
    ImGui::TableSetupScrollFreeze(1, 1);
    for (size_t i : shown) {
      ImGui::TableSetupColumn(columns[i].header, ImGuiTableColumnFlags_WidthFixed, widths[i] - pad);
    }
    ImGui::TableHeadersRow();
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(rows));
    while (clipper.Step()) {
      for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r) {
        const auto row = static_cast<size_t>(r);
        ImGui::TableNextRow();
        for (size_t i : shown) {
          if (i == 0 && first) {
            ImGui::TableNextColumn();
            first(row);
          } else if (columns[i].warn && columns[i].warn(row)) {
            StatusCell(Status::Warning, columns[i].cell(row));
          } else {
            Cell(columns[i].cell(row));
          }
        }
      }
    }
    ImGui::EndTable();
  }
  if (shown.size() < columns.size()) {
    // Nothing essential only in a hidden column: say what is left out.
    std::string left;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (std::find(shown.begin(), shown.end(), i) != shown.end()) continue;
      left += left.empty() ? "" : ", ";
      left += columns[i].header;
    }
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("not shown at this width: %s (widen the panel or use kvmscope stats)",
                        left.c_str());
    ImGui::PopTextWrapPos();
  }
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
    using L = traces::LatencyStats;
    auto row = [&](size_t r) -> const traces::UserspaceExitRow& { return table.rows[r]; };
    auto latency = [&](bool vmm, int64_t L::*field) {
      return [&, vmm, field](size_t r) { return Latency(vmm ? row(r).vmm : row(r).kernel, field); };
    };
    // Priorities: what a lecture needs first (count, share, means, p99).
    const std::vector<Column> columns = {
        {"reason", 0, [&](size_t r) { return row(r).name; }},
        {"count", 0, [&](size_t r) { return FormatCount(row(r).count); }},
        {"share", 1, [&](size_t r) { return FormatShare(row(r).share_pct); }},
        {"kernel total", 6, latency(false, &L::total_ns)},
        {"kernel mean", 2, latency(false, &L::mean_ns)},
        {"kernel p50", 5, latency(false, &L::p50_ns)},
        {"kernel p99", 4, latency(false, &L::p99_ns)},
        {"VMM total", 6, latency(true, &L::total_ns)},
        {"VMM mean", 3, latency(true, &L::mean_ns)},
        {"VMM p50", 5, latency(true, &L::p50_ns)},
        {"VMM p99", 4, latency(true, &L::p99_ns)},
    };
    DrawTable("userspace", TableId::Userspace, columns, table.rows.size(), [&](size_t r) {
      const traces::UserspaceExitRow& x = row(r);
      ImGui::PushID(static_cast<int>(r));
      if (ImGui::Selectable(x.name.c_str(), selected_reason == x.reason,
                            ImGuiSelectableFlags_SpanAllColumns)) {
        if (auto next = NextExitWithReason(trace, x.reason, scope.vcpu, view.selected)) {
          SelectAndReveal(trace, *next, view);
        }
      }
      if (ImGui::IsItemHovered()) {
        ImGui::SetTooltip("KVM_EXIT_%s (%u): click to select the next of its %s exits",
                          x.name.c_str(), x.reason, FormatCount(x.count).c_str());
      }
      ImGui::PopID();
    });
    if (scope.waited_ns > 0) {
      ImGui::TextDisabled("VMM times leave out %s waited while paused, stepping or in slow motion",
                          traces::FormatStatsDuration(scope.waited_ns).c_str());
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
  using L = traces::LatencyStats;
  auto row = [&](size_t r) -> const traces::HardwareExitRow& { return table.rows[r]; };
  auto latency = [&](int64_t L::*field) {
    return [&, field](size_t r) { return Latency(row(r).kernel, field); };
  };
  const std::vector<Column> columns = {
      {"reason", 0, [&](size_t r) { return row(r).name; }},
      {"ISA", 5, [&](size_t r) { return std::string(IsaLabel(row(r).isa)); }},
      {"code", 5, [&](size_t r) { return fmt::format("{:#x}", row(r).reason); }},
      {"count", 0, [&](size_t r) { return FormatCount(row(r).count); }},
      {"share", 1, [&](size_t r) { return FormatShare(row(r).share_pct); }},
      {"total", 4, latency(&L::total_ns)},
      {"mean", 2, latency(&L::mean_ns)},
      {"p50", 4, latency(&L::p50_ns)},
      {"p99", 3, latency(&L::p99_ns)},
  };
  DrawTable("hardware", TableId::Hardware, columns, table.rows.size());
}

void StatsPanel::DrawKinds(const traces::ScopeStats& scope) {
  if (!ImGui::CollapsingHeader("Event types", ImGuiTreeNodeFlags_DefaultOpen)) return;
  if (scope.kinds.empty()) {
    TextStatus(Status::NotApplicable, "no events in this scope");
    return;
  }
  using L = traces::LatencyStats;
  auto row = [&](size_t r) -> const traces::EventKindRow& { return scope.kinds[r]; };
  auto latency = [&](int64_t L::*field) {
    return [&, field](size_t r) {
      return row(r).span ? Latency(row(r).duration, field) : std::string();
    };
  };
  const std::vector<Column> columns = {
      {"event", 0, [&](size_t r) { return row(r).name; }},
      {"count", 0, [&](size_t r) { return FormatCount(row(r).count); }},
      {"share", 1, [&](size_t r) { return FormatShare(row(r).share_pct); }},
      {"span", 3,
       [&](size_t r) {
         return row(r).span ? std::string(traces::SpanKindName(*row(r).span)) : std::string();
       }},
      {"mean", 2, latency(&L::mean_ns)},
      {"p50", 4, latency(&L::p50_ns)},
      {"p99", 3, latency(&L::p99_ns)},
  };
  DrawTable("kinds", TableId::Kinds, columns, scope.kinds.size());
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
  for (const traces::LossRow& r : loss.rows) {
    if (!r.counted_only) continue;
    TextStatus(Status::Present,
               fmt::format("{}: counted in the kernel, {}; counts of it in these panels are the "
                           "kernel's ({} seen, {} streamed)",
                           r.name, r.streamed_how, FormatCount(r.seen), FormatCount(r.received)));
  }
  if (loss.rows.empty()) return;
  auto row = [&](size_t r) -> const traces::LossRow& { return loss.rows[r]; };
  const std::vector<Column> columns = {
      {"kernel event", 0, [&](size_t r) { return row(r).name; }},
      {"seen", 1, [&](size_t r) { return FormatCount(row(r).seen); }},
      {"received", 1, [&](size_t r) { return FormatCount(row(r).received); }},
      {"lost", 0, [&](size_t r) { return FormatCount(row(r).lost); },
       [&](size_t r) { return row(r).lost > 0; }},
  };
  DrawTable("loss", TableId::Loss, columns, loss.rows.size(), [&](size_t r) {
    ImGui::TextUnformatted(row(r).name.c_str());
  });
}

void StatsPanel::DrawKvmCounters(const traces::KvmCounterStats& kvm) {
  // Another process's VM: not KVM_GET_STATS_FD, and the source says which.
  const bool external = kvm.external;
  if (!ImGui::CollapsingHeader(external ? "KVM's own counters (of another process's VM)"
                                        : "KVM's own counters (KVM_GET_STATS_FD)",
                               ImGuiTreeNodeFlags_DefaultOpen)) {
    return;
  }
  if (!kvm.recorded) {
    TextStatus(Status::NotApplicable, kvm.note);
    return;
  }
  ImGui::TextWrapped(
      "KVM = the kernel's own counter, %s; trace = the events this trace recorded (%s). Hover a "
      "counter for why the two may differ.",
      external ? kvm.source.c_str() : "read at the end of the run", kvm.scope.c_str());
  auto row = [&](size_t r) -> const traces::KvmCounterRow& { return kvm.compared[r]; };
  const std::vector<Column> columns = {
      {"counter", 0, [&](size_t r) { return row(r).counter; }},
      {"KVM", 0, [&](size_t r) { return FormatCount(row(r).kvm); }},
      {"trace", 0, [&](size_t r) { return row(r).trace ? FormatCount(*row(r).trace) : "-"; }},
      {"difference", 1, [&](size_t r) { return row(r).Difference(); }},
      {"trace counted", 2, [&](size_t r) { return row(r).traced; }},
  };
  DrawTable("kvm", TableId::KvmCompared, columns, kvm.compared.size(), [&](size_t r) {
    ImGui::TextUnformatted(row(r).counter.c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", row(r).why.c_str());
  });

  ImGui::TextUnformatted("per vCPU, the counters with a value:");
  std::vector<std::string> headers = {"counter"};
  for (int v : kvm.vcpus) headers.push_back(fmt::format("vCPU {}", v));
  std::vector<Column> per_vcpu = {
      {headers[0].c_str(), 0, [&](size_t r) { return kvm.per_vcpu[r].counter; }}};
  for (size_t i = 0; i < kvm.vcpus.size(); ++i) {
    per_vcpu.push_back({headers[i + 1].c_str(), 1, [&kvm, i](size_t r) {
                          return FormatCount(kvm.per_vcpu[r].values[i]);
                        }});
  }
  DrawTable("kvm_vcpus", TableId::KvmPerVcpu, per_vcpu, kvm.per_vcpu.size());
  if (!kvm.zero_per_vcpu.empty()) {
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("zero on every vCPU: %s",
                        fmt::format("{}", fmt::join(kvm.zero_per_vcpu, ", ")).c_str());
    ImGui::PopTextWrapPos();
  }
  std::string vm;
  for (const auto& [name, value] : kvm.vm) {
    vm += fmt::format("{}{} {}", vm.empty() ? "" : ", ", name, FormatCount(value));
  }
  ImGui::PushTextWrapPos(0.0f);
  ImGui::Text("VM-wide: %s", vm.empty() ? "all zero" : vm.c_str());
  ImGui::PopTextWrapPos();
}

}  // namespace kvmscope::ui

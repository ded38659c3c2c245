// The statistics panel: what `kvmscope stats` prints, as tables and a bar
// chart — exits by KVM_EXIT_* reason with kernel and VMM latency, hardware
// exits, event types, KVM's own counters beside the trace's counts, and
// kernel losses — for all vCPUs or one. traces::Stats
// is recomputed only when the trace changes (cached per scope).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "traces/stats.h"
#include "traces/trace.h"
#include "ui/view.h"

namespace kvmscope::ui {

// "1,234,567": counts in tables and badges (the model's formatting).
using traces::FormatCount;
// "12.5%".
std::string FormatShare(double pct);

// The vCPUs that have a track, ascending (the scope combo's choices).
std::vector<int> VcpusWithTracks(const traces::TraceData& trace);

// The next VMM exit with KVM_EXIT_* `reason` after `after` (in time, within
// the scope: traces::kAllVcpus or one vCPU), wrapping to the first; nullopt
// when there is none. Clicking a row of the exit table steps through them.
std::optional<traces::EventRef> NextExitWithReason(const traces::TraceData& trace, uint32_t reason,
                                                   int vcpu, const std::optional<EventKey>& after);

// Which columns of a table fit `avail` px: columns are taken in order of
// priority (0 first; ties by position) while their widths still fit, and
// returned in their original order. The first column (the row's name) is
// always kept. Tables are sized from the font this way, so nothing is cut
// off at 1280x720 with a large font: the least important columns go first.
std::vector<size_t> FitColumns(const std::vector<float>& widths, const std::vector<int>& priority,
                               float avail);

// What the trace looked like when the stats were computed: when any of it
// changes, the stats are stale. A live trace only grows, so the event count
// is what changes; the rest catches a different trace loaded in its place.
struct TraceStamp {
  const traces::TraceData* trace = nullptr;
  size_t events = 0;
  size_t tracks = 0;
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  bool kernel_counts = false;
  uint64_t kernel_seen = 0;
  uint64_t kernel_lost = 0;
  bool kvm_stats = false;  // KVM's own counters arrive when a live run ends
  bool operator==(const TraceStamp&) const = default;
};
TraceStamp StampOf(const traces::TraceData& trace);

class StatsPanel {
 public:
  // While a guest runs (SharedView::live) the trace grows every frame: stats
  // are then refreshed at most this often, so a big live trace does not cost
  // a ComputeStats per frame.
  static constexpr double kLiveRefreshSeconds = 0.5;

  // Draws into the current window (the caller owns Begin/End). Clicking an
  // exit reason selects its next exit in `view` (and brings it into view).
  void Draw(const traces::TraceData& trace, SharedView& view);

  // The stats shown: Current().scopes has one scope, the chosen one, and
  // Current().loss. Empty before the first Draw.
  const traces::Stats& Current() const;
  const traces::ScopeStats* CurrentScope() const;
  // traces::kAllVcpus or a vCPU number; a vCPU that has no track (another
  // trace was loaded) falls back to all at the next Draw.
  int Scope() const { return m_scope; }
  void SetScope(int vcpu) { m_scope = vcpu; }
  // The vCPUs offered by the scope combo at the last Draw.
  const std::vector<int>& Vcpus() const { return m_vcpus; }
  // How many times ComputeStats ran (tests pin the caching with it).
  uint64_t Computations() const { return m_computations; }

  enum class TableId { Userspace, Hardware, Kinds, Loss, KvmCompared, KvmPerVcpu, Count };
  // The headers of the columns the last Draw showed in a table: those that
  // fit the panel (FitColumns).
  const std::vector<std::string>& ShownColumns(TableId id) const {
    return m_shown_columns[static_cast<size_t>(id)];
  }
  // The width of those columns, px (within the panel: the test of "fits").
  float TableWidth(TableId id) const { return m_table_width[static_cast<size_t>(id)]; }

 private:
  struct Cached {
    TraceStamp stamp;
    double computed_at = 0;  // ImGui::GetTime()
    traces::Stats stats;
  };
  void Refresh(const traces::TraceData& trace, const SharedView& view);
  void DrawScopeCombo();
  void DrawUserspace(const traces::TraceData& trace, const traces::ScopeStats& scope,
                     SharedView& view);
  void DrawExitBars(const traces::UserspaceExitTable& table);
  void DrawHardware(const traces::HardwareExitTable& table);
  void DrawKinds(const traces::ScopeStats& scope);
  void DrawLoss(const traces::LossStats& loss);
  void DrawKvmCounters(const traces::KvmCounterStats& kvm);

  // One table's columns: header, priority (FitColumns) and each row's text.
  struct Column {
    const char* header;
    int priority;
    std::function<std::string(size_t row)> cell;
    std::function<bool(size_t row)> warn = {};  // drawn in the warning colour when true
  };
  // Draws the columns that fit the panel; `first` draws column 0's cell
  // (a selectable, say) when given. Says which columns did not fit.
  void DrawTable(const char* id, TableId table, const std::vector<Column>& columns, size_t rows,
                 const std::function<void(size_t row)>& first = {});
  std::array<std::vector<std::string>, static_cast<size_t>(TableId::Count)> m_shown_columns;
  std::array<float, static_cast<size_t>(TableId::Count)> m_table_width{};

  int m_scope = traces::kAllVcpus;
  std::vector<int> m_vcpus;
  TraceStamp m_vcpus_stamp;
  std::map<int, Cached> m_cache;  // by scope; entries of other scopes may be stale
  std::optional<int> m_shown;     // the scope of the stats last drawn
  uint64_t m_computations = 0;
  uint64_t m_generation = 0;  // SharedView::trace_generation the cache belongs to
};

}  // namespace kvmscope::ui

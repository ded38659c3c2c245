// Stats over a trace: exits by KVM_EXIT_* reason and by hardware reason with
// their handling latency, events by type with the durations of the spans they
// begin, per vCPU and overall, and the kernel's loss counters.
#include "traces/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "traces/pauses.h"

namespace kvmscope::traces {
namespace {

// The event type that begins each span kind: its row in the per-type table
// carries the span's durations.
constexpr std::array<EventType, kSpanKinds> kSpanBegin = {
    EventType(VmmEventKind::RunEnter),     // Run
    EventType(KernelEventKind::RunEnter),  // KernelRun
    EventType(KernelEventKind::KvmEntry),  // Guest
    EventType(KernelEventKind::KvmExit),   // KernelHandling
    EventType(VmmEventKind::RunExit),      // VmmHandling
};

bool Complete(const Span& s) {
  return s.begin != kNoEvent && s.end != kNoEvent;
}

bool InScope(const Track& track, int vcpu) {
  return vcpu == kAllVcpus || (track.kind == TrackKind::Vcpu && track.vcpu == vcpu);
}

// Finds a span by the index of its begin (or end) event. A track's spans of
// one kind are in time order and never overlap, so those indices increase
// along the vector: a binary search, nothing built. A span cut by the
// trace's edge has no such event (kNoEvent: only the first span's begin or
// the last one's end) and is never found.
class SpanIndex {
 public:
  enum class Key : uint8_t { Begin, End };
  SpanIndex(const std::vector<Span>& spans, Key key) : m_spans(spans), m_key(key) {}
  const Span* Find(uint32_t event) const {
    auto first = m_spans.begin();
    if (m_key == Key::Begin && first != m_spans.end() && first->begin == kNoEvent) ++first;
    auto it = std::partition_point(first, m_spans.end(),
                                   [&](const Span& s) { return KeyOf(s) < event; });
    return it != m_spans.end() && KeyOf(*it) == event ? &*it : nullptr;
  }

 private:
  uint32_t KeyOf(const Span& s) const { return m_key == Key::Begin ? s.begin : s.end; }
  const std::vector<Span>& m_spans;
  Key m_key;
};
SpanIndex ByBegin(const std::vector<Span>& spans) { return SpanIndex(spans, SpanIndex::Key::Begin); }
SpanIndex ByEnd(const std::vector<Span>& spans) { return SpanIndex(spans, SpanIndex::Key::End); }
const Span* Find(const SpanIndex& index, uint32_t event) { return index.Find(event); }

double Share(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

ExitIsa IsaOf(uint64_t raw) {
  return raw == static_cast<uint64_t>(ExitIsa::Vmx)   ? ExitIsa::Vmx
         : raw == static_cast<uint64_t>(ExitIsa::Svm) ? ExitIsa::Svm
                                                      : ExitIsa::Unknown;
}


std::string HardwareReasonName(ExitIsa isa, uint64_t reason) {
  std::string_view name;
  // VMX exit reasons carry flags above bit 15 (entry failure, from SMM):
  // the name is the basic reason's.
  if (isa == ExitIsa::Vmx) name = VmxExitReasonName(static_cast<uint32_t>(reason & 0xffff));
  if (isa == ExitIsa::Svm) name = SvmExitCodeName(reason);
  return name.empty() ? fmt::format("{:#x}", reason) : std::string(name);
}


KernelSideSource SourceOf(uint64_t from_kernel_run, uint64_t from_run) {
  if (from_kernel_run > 0 && from_run > 0) return KernelSideSource::Mixed;
  if (from_kernel_run > 0) return KernelSideSource::KernelRun;
  if (from_run > 0) return KernelSideSource::Run;
  return KernelSideSource::None;
}

// Why a scope has no kvm_exit, most specific reason first.
std::string NoKvmExitNote(const TraceData& trace, int vcpu) {
  if (vcpu != kAllVcpus && trace.Count(KernelEventKind::KvmExit) > 0) {
    return "no kvm_exit on this vCPU";
  }
  if (!trace.kernel_counts) {
    std::string note = "no kernel side: the kernel was not traced";
    if (!trace.host.not_traced_reason.empty()) note += " (" + trace.host.not_traced_reason + ")";
    return note;
  }
  const auto kvm_exit = static_cast<size_t>(KernelEventKind::KvmExit);
  if (trace.kernel_counts->seen[kvm_exit] > 0) {
    return fmt::format("kvm_exit fired {} times but every one was lost",
                       trace.kernel_counts->seen[kvm_exit]);
  }
  if (trace.host.plan) {
    const std::vector<std::string>& attached = trace.host.plan->tracepoints;
    if (std::find(attached.begin(), attached.end(), "kvm:kvm_exit") == attached.end()) {
      return "kvm_exit was not attached (see the attach plan)";
    }
  }
  if (trace.host.backend == "PVM") {
    return "kvm_exit did not fire (PVM backend: only the VMX/SVM code emits it)";
  }
  return "kvm_exit did not fire (PVM backend or not traced)";
}

// What one KVM_EXIT_* reason collects while walking the tracks.
struct UserspaceSamples {
  uint64_t count = 0;
  std::vector<int64_t> kernel;
  uint64_t kernel_incomplete = 0;
  uint64_t from_kernel_run = 0;
  uint64_t from_run = 0;
  std::vector<int64_t> vmm;
  uint64_t vmm_incomplete = 0;
};

void CollectUserspace(const TraceData& trace, size_t track_index, const Pauses& pauses,
                      std::map<uint32_t, UserspaceSamples>& by_reason, uint64_t& incomplete_runs) {
  const Track& track = trace.tracks[track_index];
  const std::vector<Span>& runs = track.spans[static_cast<size_t>(SpanKind::Run)];
  const std::vector<Span>& kernel_runs = track.spans[static_cast<size_t>(SpanKind::KernelRun)];
  const SpanIndex run_by_end = ByEnd(runs);
  const SpanIndex handling_by_begin =
      ByBegin(track.spans[static_cast<size_t>(SpanKind::VmmHandling)]);
  for (const Span& s : runs) {
    if (s.end == kNoEvent) ++incomplete_runs;
  }

  int64_t previous_exit_ns = std::numeric_limits<int64_t>::min();
  size_t next_kernel_run = 0;  // exits come in time order, so one pass over kernel runs
  for (size_t i = 0; i < track.events.size(); ++i) {
    if (track.events.type(i) != VmmEventKind::RunExit) continue;
    const Event e = track.events[i];
    UserspaceSamples& x = by_reason[static_cast<uint32_t>(e.a[0])];
    ++x.count;
    const auto index = static_cast<uint32_t>(i);

    // The kernel's KVM_RUN of this run lies inside the VMM's (or, when the
    // VMM's enter came before the trace, after the previous exit): the last
    // kernel run that began by this exit, if it also ended by it.
    const Span* run = Find(run_by_end, index);
    const int64_t lower_ns =
        run != nullptr && run->begin != kNoEvent ? run->begin_ns : previous_exit_ns;
    while (next_kernel_run < kernel_runs.size() &&
           kernel_runs[next_kernel_run].begin_ns <= e.time_ns) {
      ++next_kernel_run;
    }
    const Span* kernel_run = next_kernel_run > 0 ? &kernel_runs[next_kernel_run - 1] : nullptr;
    if (kernel_run != nullptr && Complete(*kernel_run) && kernel_run->begin_ns >= lower_ns &&
        kernel_run->end_ns <= e.time_ns) {
      x.kernel.push_back(kernel_run->duration_ns());
      ++x.from_kernel_run;
    } else if (run != nullptr && Complete(*run)) {
      x.kernel.push_back(run->duration_ns());
      ++x.from_run;
    } else {
      ++x.kernel_incomplete;
    }

    const Span* handling = Find(handling_by_begin, index);
    if (handling != nullptr && Complete(*handling)) {
      // Without the wait at a closed gate (paused, stepping, slow motion).
      x.vmm.push_back(pauses.HandlingNs(trace, track_index, *handling));
    } else {
      ++x.vmm_incomplete;
    }
    previous_exit_ns = e.time_ns;
  }
}

// An external VMM's thread: no VMM events, so each KVM_RUN return is the
// kernel's kvm_userspace_exit (fired by kvm_vcpu_ioctl after
// kvm_arch_vcpu_ioctl_run returns: inside the syscall span, after the kprobe
// one), its kernel time the kernel KVM_RUN span that began last before it,
// and the VMM's handling the kernel-only VmmHandling span that follows.
void CollectExternalUserspace(const Track& track,
                              std::map<uint32_t, UserspaceSamples>& by_reason,
                              uint64_t& incomplete_runs, uint64_t& from_kernel) {
  const std::vector<Span>& runs = track.spans[static_cast<size_t>(SpanKind::KernelRun)];
  const SpanIndex handling_by_begin =
      ByBegin(track.spans[static_cast<size_t>(SpanKind::VmmHandling)]);
  for (const Span& s : runs) {
    if (s.end == kNoEvent) ++incomplete_runs;
  }
  bool has_reasons = false;
  for (size_t i = 0; i < track.events.size() && !has_reasons; ++i) {
    has_reasons = track.events.type(i) == KernelEventKind::UserspaceExit;
  }
  const EventType counted = has_reasons ? EventType(KernelEventKind::UserspaceExit)
                                        : EventType(KernelEventKind::RunExit);
  size_t next_run = 0;  // runs that began before the event
  for (size_t i = 0; i < track.events.size(); ++i) {
    if (track.events.type(i) != counted) continue;
    const Event e = track.events[i];
    const uint32_t reason = has_reasons ? UserspaceExitReason(e) : kUnknownExitReason;
    UserspaceSamples& x = by_reason[reason];
    ++x.count;
    ++from_kernel;
    while (next_run < runs.size() &&
           (runs[next_run].begin == kNoEvent || runs[next_run].begin < i)) {
      ++next_run;
    }
    const Span* run = next_run > 0 ? &runs[next_run - 1] : nullptr;
    // A run that ends at this event (RunExit counted) or around it.
    if (run != nullptr && run->end == kNoEvent) run = nullptr;
    if (run != nullptr && Complete(*run)) {
      x.kernel.push_back(run->duration_ns());
      ++x.from_kernel_run;
    } else {
      ++x.kernel_incomplete;
    }
    const Span* handling = run != nullptr ? Find(handling_by_begin, run->end) : nullptr;
    if (handling != nullptr && Complete(*handling)) {
      x.vmm.push_back(handling->duration_ns());
    } else {
      ++x.vmm_incomplete;
    }
  }
}

struct HardwareSamples {
  uint64_t count = 0;
  std::vector<int64_t> kernel;
  uint64_t incomplete = 0;
};
using HardwareKey = std::pair<ExitIsa, uint64_t>;

void CollectHardware(const Track& track, std::map<HardwareKey, HardwareSamples>& by_reason) {
  const SpanIndex handling_by_begin =
      ByBegin(track.spans[static_cast<size_t>(SpanKind::KernelHandling)]);
  for (size_t i = 0; i < track.events.size(); ++i) {
    if (track.events.type(i) != KernelEventKind::KvmExit) continue;
    const Event e = track.events[i];
    HardwareSamples& x = by_reason[{IsaOf(e.a[2]), e.a[0]}];
    ++x.count;
    const Span* handling = Find(handling_by_begin, static_cast<uint32_t>(i));
    if (handling != nullptr && Complete(*handling)) {
      x.kernel.push_back(handling->duration_ns());
    } else {
      ++x.incomplete;
    }
  }
}

UserspaceExitTable MakeUserspaceTable(std::map<uint32_t, UserspaceSamples>& by_reason,
                                      uint64_t incomplete_runs, uint64_t from_kernel) {
  UserspaceExitTable table;
  table.incomplete_runs = incomplete_runs;
  table.from_kernel = from_kernel;
  uint64_t from_kernel_run = 0, from_run = 0;
  for (auto& [reason, x] : by_reason) table.total += x.count;
  for (auto& [reason, x] : by_reason) {
    UserspaceExitRow row;
    row.reason = reason;
    row.name = UserspaceReasonName(reason);
    row.count = x.count;
    row.share_pct = Share(x.count, table.total);
    row.kernel = ComputeLatency(std::move(x.kernel), x.kernel_incomplete);
    row.kernel_from_kernel_run = x.from_kernel_run;
    row.kernel_from_run = x.from_run;
    row.kernel_source = SourceOf(x.from_kernel_run, x.from_run);
    row.vmm = ComputeLatency(std::move(x.vmm), x.vmm_incomplete);
    from_kernel_run += x.from_kernel_run;
    from_run += x.from_run;
    table.rows.push_back(std::move(row));
  }
  table.kernel_source = SourceOf(from_kernel_run, from_run);
  std::stable_sort(
      table.rows.begin(), table.rows.end(),
      [](const UserspaceExitRow& a, const UserspaceExitRow& b) { return a.count > b.count; });
  return table;
}

HardwareExitTable MakeHardwareTable(std::map<HardwareKey, HardwareSamples>& by_reason) {
  HardwareExitTable table;
  for (auto& [key, x] : by_reason) table.total += x.count;
  table.fired = table.total > 0;
  for (auto& [key, x] : by_reason) {
    HardwareExitRow row;
    row.isa = key.first;
    row.reason = key.second;
    row.name = HardwareReasonName(key.first, key.second);
    row.count = x.count;
    row.share_pct = Share(x.count, table.total);
    row.kernel = ComputeLatency(std::move(x.kernel), x.incomplete);
    table.rows.push_back(std::move(row));
  }
  std::stable_sort(
      table.rows.begin(), table.rows.end(),
      [](const HardwareExitRow& a, const HardwareExitRow& b) { return a.count > b.count; });
  return table;
}

std::vector<EventKindRow> MakeKindRows(const TraceData& trace, const Pauses& pauses, int vcpu,
                                       uint64_t& events) {
  std::array<uint64_t, kEventTypes> counts{};
  std::array<std::vector<int64_t>, kSpanKinds> durations;
  std::array<uint64_t, kSpanKinds> incomplete{};
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    const Track& track = trace.tracks[t];
    if (!InScope(track, vcpu)) continue;
    for (size_t i = 0; i < track.events.size(); ++i) {
      const size_t type = track.events.type(i).index();
      if (type < kEventTypes) ++counts[type];
    }
    for (size_t k = 0; k < kSpanKinds; ++k) {
      for (const Span& s : track.spans[k]) {
        if (Complete(s)) {
          durations[k].push_back(k == static_cast<size_t>(SpanKind::VmmHandling)
                                     ? pauses.HandlingNs(trace, t, s)
                                     : s.duration_ns());
        } else {
          ++incomplete[k];
        }
      }
    }
  }
  events = 0;
  for (uint64_t c : counts) events += c;
  // An external VMM's handling begins at the kernel's KVM_RUN return.
  std::array<EventType, kSpanKinds> span_begin = kSpanBegin;
  if (trace.external && counts[EventType(VmmEventKind::RunExit).index()] == 0) {
    span_begin[static_cast<size_t>(SpanKind::VmmHandling)] = KernelEventKind::RunExit;
  }

  std::vector<EventKindRow> rows;
  for (size_t t = 0; t < kEventTypes; ++t) {
    if (counts[t] == 0) continue;
    EventKindRow row;
    row.type = EventType::FromIndex(t);
    row.name = std::string(EventTypeName(row.type));
    row.count = counts[t];
    row.share_pct = Share(counts[t], events);
    for (size_t k = 0; k < kSpanKinds; ++k) {
      if (span_begin[k] != row.type) continue;
      row.span = static_cast<SpanKind>(k);
      row.duration = ComputeLatency(std::move(durations[k]), incomplete[k]);
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const EventKindRow& a, const EventKindRow& b) { return a.count > b.count; });
  return rows;
}

LossStats MakeLoss(const TraceData& trace) {
  LossStats loss;
  if (!trace.kernel_counts) {
    loss.note = "no kernel side: this trace has no kernel counts (the kernel was not traced";
    if (!trace.host.not_traced_reason.empty()) loss.note += ": " + trace.host.not_traced_reason;
    loss.note += ")";
    return loss;
  }
  const KernelCounts& k = *trace.kernel_counts;
  loss.kernel_traced = true;
  loss.seen = k.total_seen();
  loss.received = k.total_received();
  loss.lost = k.total_lost();
  loss.stacks_taken = k.stacks_taken;
  loss.stacks_failed = k.stacks_failed;
  for (size_t i = 0; i < kKernelEventKinds; ++i) {
    if (k.seen[i] == 0 && k.lost[i] == 0 && k.received[i] == 0) continue;
    const auto kind = static_cast<KernelEventKind>(i);
    loss.rows.push_back({kind, std::string(KernelEventName(kind)), k.seen[i], k.received[i],
                         k.lost[i], k.CountedOnly(kind),
                         k.CountedOnly(kind) ? k.StreamedHow(kind) : ""});
  }
  return loss;
}

// ---- text ----

// Columns on a projector line up only if widths count characters, not bytes
// ("µs" is three bytes, two characters).
size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++width;
  }
  return width;
}

struct Column {
  std::string header;
  bool left = false;  // names left-aligned, numbers right-aligned
};

// Aligned rows under a header; "(none)" when there are no rows.
void AppendTable(std::vector<std::string>& out, const std::vector<Column>& columns,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) widths[c] = DisplayWidth(columns[c].header);
  for (const auto& row : rows) {
    for (size_t c = 0; c < columns.size() && c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text = "  ";
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::string& cell = c < cells.size() ? cells[c] : std::string();
      const std::string pad(widths[c] - DisplayWidth(cell), ' ');
      if (c > 0) text += "  ";
      text += columns[c].left ? cell + pad : pad + cell;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  };
  std::vector<std::string> header;
  for (const Column& c : columns) header.push_back(c.header);
  out.push_back(line(header));
  if (rows.empty()) out.push_back("  (none)");
  for (const auto& row : rows) out.push_back(line(row));
}

std::string Percent(double pct) {
  return fmt::format("{:.1f}%", pct);
}

// The latency cells total, mean, p50, p99: "-" when nothing was measured.
std::vector<std::string> LatencyCells(const LatencyStats& l) {
  if (l.samples == 0) return {"-", "-", "-", "-"};
  return {FormatStatsDuration(l.total_ns), FormatStatsDuration(l.mean_ns),
          FormatStatsDuration(l.p50_ns), FormatStatsDuration(l.p99_ns)};
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

void AppendScope(std::vector<std::string>& out, const ScopeStats& scope) {
  out.push_back(fmt::format(
      "== {} — {}, {} ==", scope.label, Plural(scope.events, "event", "events"),
      scope.events == 0 ? std::string("empty")
                        : "over " + FormatStatsDuration(scope.end_ns - scope.begin_ns)));
  out.emplace_back();

  // Userspace exits, kernel side.
  const UserspaceExitTable& user = scope.userspace;
  out.push_back(fmt::format(
      "Userspace exits (KVM_RUN returned to the VMM), by KVM_EXIT_* reason: {}", user.total));
  if (user.from_kernel > 0) {
    out.push_back(fmt::format(
        "  {} of them counted from the kernel (external VMM): one per kvm:kvm_userspace_exit, "
        "or per kernel KVM_RUN return where that event was not recorded",
        user.from_kernel == user.total ? std::string("all") : FormatCount(user.from_kernel)));
  }
  out.push_back("  time in KVM_RUN that ended with the exit (guest + kernel handling)");
  {
    std::vector<std::vector<std::string>> rows;
    for (const UserspaceExitRow& r : user.rows) {
      std::vector<std::string> row = {r.name, fmt::format("{}", r.count), Percent(r.share_pct)};
      for (std::string& cell : LatencyCells(r.kernel)) row.push_back(std::move(cell));
      row.push_back(std::string(KernelSideSourceName(r.kernel_source)));
      row.push_back(fmt::format("{}", r.kernel.incomplete));
      rows.push_back(std::move(row));
    }
    AppendTable(out,
                {{"reason", true},
                 {"count"},
                 {"share*"},
                 {"total"},
                 {"mean*"},
                 {"p50*"},
                 {"p99*"},
                 {"edges", true},
                 {"incomplete"}},
                rows);
  }
  if (user.kernel_source == KernelSideSource::Run ||
      user.kernel_source == KernelSideSource::Mixed) {
    out.push_back("  edges: kernel = the kernel's own KVM_RUN enter/exit events;");
    out.push_back("         VMM = the VMM's timestamps around the ioctl (no kernel KVM_RUN");
    out.push_back("         events for that run), which include the syscall: a bit longer");
  }
  if (user.incomplete_runs > 0) {
    out.push_back(fmt::format("  + {} without an exit (still running when the trace ended,",
                              Plural(user.incomplete_runs, "KVM_RUN", "KVM_RUNs")));
    out.push_back("    or the exit was lost): not in the table");
  }
  out.emplace_back();

  // Userspace exits, VMM side.
  out.push_back(user.from_kernel > 0 && user.from_kernel == user.total
                    ? "  time the VMM spent handling the exit (the kernel's KVM_RUN return → the "
                      "next KVM_RUN it entered)"
                    : "  time the VMM spent handling the exit (KVM_RUN exit → next KVM_RUN)");
  if (scope.waited_ns > 0) {
    out.push_back(fmt::format("  (without {} waited while paused, stepping or in slow motion)",
                              FormatStatsDuration(scope.waited_ns)));
  }
  {
    std::vector<std::vector<std::string>> rows;
    for (const UserspaceExitRow& r : user.rows) {
      std::vector<std::string> row = {r.name, fmt::format("{}", r.vmm.samples)};
      for (std::string& cell : LatencyCells(r.vmm)) row.push_back(std::move(cell));
      row.push_back(fmt::format("{}", r.vmm.incomplete));
      rows.push_back(std::move(row));
    }
    AppendTable(
        out,
        {{"reason", true}, {"handled"}, {"total"}, {"mean*"}, {"p50*"}, {"p99*"}, {"incomplete"}},
        rows);
  }
  out.emplace_back();

  // Hardware exits.
  const HardwareExitTable& hw = scope.hardware;
  out.push_back(fmt::format("Hardware exits (kvm:kvm_exit), by exit reason: {}", hw.total));
  if (!hw.fired) {
    out.push_back("  (none): " + hw.note);
  } else {
    out.push_back("  time KVM spent handling the exit (kvm_exit → kvm_entry or KVM_RUN exit)");
    std::vector<std::vector<std::string>> rows;
    for (const HardwareExitRow& r : hw.rows) {
      std::vector<std::string> row = {std::string(ExitIsaName(r.isa)), r.name,
                                      fmt::format("{}", r.count), Percent(r.share_pct)};
      for (std::string& cell : LatencyCells(r.kernel)) row.push_back(std::move(cell));
      row.push_back(fmt::format("{}", r.kernel.incomplete));
      rows.push_back(std::move(row));
    }
    AppendTable(out,
                {{"isa", true},
                 {"reason", true},
                 {"count"},
                 {"share*"},
                 {"total"},
                 {"mean*"},
                 {"p50*"},
                 {"p99*"},
                 {"incomplete"}},
                rows);
  }
  out.emplace_back();

  // Event types.
  if (!scope.page_faults.empty()) {  // each decoded by the exit that produced it
    out.push_back("Page faults (kvm:kvm_page_fault), by what produced them:");
    for (const PageFaultGroup& g : scope.page_faults) {
      out.push_back(fmt::format("  {:>6}  {}", g.count, PageFaultGroupText(g)));
    }
    out.emplace_back();
  }
  out.push_back(fmt::format("Events by type: {}", scope.events));
  {
    std::vector<std::vector<std::string>> rows;
    for (const EventKindRow& r : scope.kinds) {
      std::vector<std::string> row = {r.name, fmt::format("{}", r.count), Percent(r.share_pct)};
      if (r.span) {
        row.push_back(std::string(SpanKindName(*r.span)));
        for (std::string& cell : LatencyCells(r.duration)) row.push_back(std::move(cell));
        row.push_back(fmt::format("{}", r.duration.incomplete));
      }
      rows.push_back(std::move(row));
    }
    AppendTable(out,
                {{"event", true},
                 {"count"},
                 {"share*"},
                 {"begins span", true},
                 {"total"},
                 {"mean*"},
                 {"p50*"},
                 {"p99*"},
                 {"incomplete"}},
                rows);
  }
  out.emplace_back();
}

void AppendLoss(std::vector<std::string>& out, const LossStats& loss) {
  out.push_back("Kernel events: seen in the kernel, received, lost (whole trace)");
  if (!loss.kernel_traced) {
    out.push_back("  " + loss.note);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> counted_only;
  for (const LossRow& r : loss.rows) {
    rows.push_back({r.name, fmt::format("{}", r.seen), fmt::format("{}", r.received),
                    fmt::format("{}", r.lost), Percent(Share(r.lost, r.seen))});
    if (r.counted_only) counted_only.push_back(fmt::format("{} ({})", r.name, r.streamed_how));
  }
  rows.push_back({"total", fmt::format("{}", loss.seen), fmt::format("{}", loss.received),
                  fmt::format("{}", loss.lost), Percent(Share(loss.lost, loss.seen))});
  AppendTable(out, {{"event", true}, {"seen"}, {"received"}, {"lost"}, {"lost*"}}, rows);
  out.push_back(
      fmt::format("  stacks: {} taken, {} failed", loss.stacks_taken, loss.stacks_failed));
  if (loss.lost > 0) {
    out.push_back("  counts above are of received events; lost ones are missing from every table");
  }
  if (!counted_only.empty()) {
    out.push_back(fmt::format("  counted in the kernel, not all streamed (seen > received + lost): {}",
                              fmt::join(counted_only, ", ")));
  }
}

}  // namespace

std::string_view ExitIsaName(ExitIsa isa) {
  switch (isa) {
    case ExitIsa::Vmx: return "VMX";
    case ExitIsa::Svm: return "SVM";
    case ExitIsa::Unknown: break;
  }
  return "unknown";
}

std::string UserspaceReasonName(uint32_t reason) {
  if (reason == kUnknownExitReason) return "unknown (no kvm_userspace_exit)";
  if (reason == kInterruptedExitReason) return "interrupted (EINTR)";
  if (reason == kFailedExitReason) return "failed (an error)";
  const std::string_view name = KvmExitReasonName(reason);
  return name.empty() ? fmt::format("{}", reason) : std::string(name);
}

int64_t NearestRankPercentile(const std::vector<int64_t>& sorted_ns, int p) {
  if (sorted_ns.empty() || p <= 0) return 0;
  // rank = ceil(p * N / 100), in integers so that p50 of 4 samples is rank 2 exactly.
  const uint64_t n = sorted_ns.size();
  uint64_t rank = (static_cast<uint64_t>(p) * n + 99) / 100;
  rank = std::clamp<uint64_t>(rank, 1, n);
  return sorted_ns[rank - 1];
}

LatencyStats ComputeLatency(std::vector<int64_t> durations_ns, uint64_t incomplete) {
  LatencyStats l;
  l.incomplete = incomplete;
  if (durations_ns.empty()) return l;
  std::sort(durations_ns.begin(), durations_ns.end());
  l.samples = durations_ns.size();
  for (int64_t d : durations_ns) l.total_ns += d;
  const auto n = static_cast<int64_t>(l.samples);
  // Round half away from zero; durations are never negative in a sane trace,
  // but keep the sign right if clocks disagreed.
  l.mean_ns = l.total_ns >= 0 ? (l.total_ns + n / 2) / n : (l.total_ns - n / 2) / n;
  l.p50_ns = NearestRankPercentile(durations_ns, 50);
  l.p99_ns = NearestRankPercentile(durations_ns, 99);
  return l;
}

std::string_view KernelSideSourceName(KernelSideSource source) {
  switch (source) {
    case KernelSideSource::None: return "none";
    case KernelSideSource::KernelRun: return "kernel";
    case KernelSideSource::Run: return "VMM";
    case KernelSideSource::Mixed: return "mixed";
  }
  return "none";
}

ScopeStats ComputeScopeStats(const TraceData& trace, int vcpu) {
  ScopeStats scope;
  scope.vcpu = vcpu;
  scope.label = vcpu == kAllVcpus ? "all" : fmt::format("vCPU {}", vcpu);

  std::map<uint32_t, UserspaceSamples> user;
  uint64_t incomplete_runs = 0, from_kernel = 0;
  std::map<HardwareKey, HardwareSamples> hardware;
  bool any = false;
  const Pauses pauses(trace);
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    const Track& track = trace.tracks[t];
    if (!InScope(track, vcpu)) continue;
    if (trace.IsExternalThread(track)) {
      CollectExternalUserspace(track, user, incomplete_runs, from_kernel);
    } else {
      CollectUserspace(trace, t, pauses, user, incomplete_runs);
    }
    scope.waited_ns += pauses.WaitedNs(trace, t);
    CollectHardware(track, hardware);
    if (track.events.empty()) continue;
    const int64_t first = track.events.time_ns(0);
    const int64_t last = track.events.time_ns(track.events.size() - 1);
    scope.begin_ns = any ? std::min(scope.begin_ns, first) : first;
    scope.end_ns = any ? std::max(scope.end_ns, last) : last;
    any = true;
  }
  scope.userspace = MakeUserspaceTable(user, incomplete_runs, from_kernel);
  scope.hardware = MakeHardwareTable(hardware);
  if (!scope.hardware.fired) scope.hardware.note = NoKvmExitNote(trace, vcpu);
  scope.kinds = MakeKindRows(trace, pauses, vcpu, scope.events);
  scope.page_faults = GroupPageFaults(trace, vcpu);
  return scope;
}

Stats ComputeStats(const TraceData& trace, int vcpu) {
  Stats stats;
  if (vcpu == kEveryScope || vcpu == kAllVcpus) {
    stats.scopes.push_back(ComputeScopeStats(trace, kAllVcpus));
  }
  if (vcpu == kEveryScope) {
    std::set<int> vcpus;
    for (const Track& track : trace.tracks) {
      if (track.kind == TrackKind::Vcpu && track.vcpu >= 0) vcpus.insert(track.vcpu);
    }
    for (int v : vcpus) stats.scopes.push_back(ComputeScopeStats(trace, v));
  } else if (vcpu >= 0) {
    stats.scopes.push_back(ComputeScopeStats(trace, vcpu));
  }
  stats.loss = MakeLoss(trace);
  stats.kvm = ComputeKvmCounters(trace, vcpu);
  stats.emulated_note = EmulatedCpuNote(trace.host);
  stats.external_note = trace.ExternalNote();
  return stats;
}

std::string FormatStatsDuration(int64_t ns) {
  const int64_t magnitude = ns < 0 ? -ns : ns;
  const auto v = static_cast<double>(ns);
  if (magnitude < 1000) return fmt::format("{} ns", ns);
  if (magnitude < 1000000) return fmt::format("{:.2f} µs", v / 1e3);
  if (magnitude < 1000000000) return fmt::format("{:.2f} ms", v / 1e6);
  return fmt::format("{:.2f} s", v / 1e9);
}

std::vector<std::string> FormatStats(const Stats& stats) {
  std::vector<std::string> out;
  out.push_back("Measured: count, total, incomplete (recorded events and their timestamps).");
  out.push_back("Derived (*): share, mean, p50, p99; percentiles by nearest rank");
  out.push_back("  (the sample of rank ceil(p/100 * N), always a measured duration).");
  out.push_back("Latencies leave out spans cut by the trace's edges: counted as incomplete.");
  if (!stats.emulated_note.empty()) out.push_back("Note: " + stats.emulated_note + ".");
  if (!stats.external_note.empty()) out.push_back("Note: " + stats.external_note);
  out.emplace_back();
  for (const ScopeStats& scope : stats.scopes) AppendScope(out, scope);
  for (std::string& line : FormatKvmCounters(stats.kvm)) out.push_back(std::move(line));
  out.emplace_back();
  AppendLoss(out, stats.loss);
  return out;
}

}  // namespace kvmscope::traces

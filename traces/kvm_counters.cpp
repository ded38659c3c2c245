// KVM's own counters beside the trace's counts: the mapping between them, the
// per-vCPU and VM-wide views, as text and JSON.
#include "traces/kvm_counters.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "traces/count_text.h"

namespace kvmscope::traces {
namespace {

// What the trace counts for a KVM counter.
enum class Source : uint8_t {
  VmmExits,   // VMM RunExit events with an exit reason (KVM_RUN returned 0)
  VmmReason,  // VMM RunExit events with the KVM_EXIT_* reason `value`
  VmmEintr,   // VMM RunExit events where KVM_RUN failed with EINTR (a kick)
  Kernel,     // kernel events of `kind` (only when that tracepoint was attached)
  KernelPf,   // kvm_inj_exception events with vector 14 (#PF)
};

// The mapping of KVM's counters (upstream names, arch/x86/kvm/x86.c's
// kvm_vcpu_stats_desc) to what the trace records. A counter shows only where
// this kernel has it; a kernel row only where its tracepoint was attached.
struct Mapping {
  const char* counter;
  Source source;
  uint32_t value;  // VmmReason: the KVM_EXIT_* reason
  KernelEventKind kind;
  const char* traced;
  const char* why;  // why KVM's value and the trace's may differ
};
constexpr uint32_t kEintr = 4;
const std::array<Mapping, 10> kMappings = {{
    {"exits", Source::VmmExits, 0, KernelEventKind::Count, "KVM_RUN returns with an exit reason",
     "KVM counts every exit from the guest, also the ones it handles itself without returning "
     "to the VMM (VMX/SVM: each hardware exit)"},
    {"exits", Source::Kernel, 0, KernelEventKind::KvmExit, "kvm:kvm_exit events",
     "on VMX/SVM both count hardware exits (events lost from the ring buffer are missing); "
     "PVM never emits kvm_exit"},
    {"io_exits", Source::VmmReason, kKvmExitIo, KernelEventKind::Count, "KVM_EXIT_IO returns",
     "KVM counts port I/O exits of the hardware (VMX/SVM), also those handled in the kernel; a "
     "backend that emulates the instruction instead (PVM) counts it as insn_emulation"},
    {"mmio_exits", Source::VmmReason, kKvmExitMmio, KernelEventKind::Count,
     "KVM_EXIT_MMIO returns",
     "KVM counts an MMIO exit where it hands the access to the VMM; a backend may count "
     "emulated accesses elsewhere"},
    {"halt_exits", Source::VmmReason, kKvmExitHlt, KernelEventKind::Count, "KVM_EXIT_HLT returns",
     "with an in-kernel irqchip KVM handles HLT itself: counted by KVM, never returned"},
    {"signal_exits", Source::VmmEintr, 0, KernelEventKind::Count,
     "KVM_RUN returns with EINTR (the VMM's kicks)",
     "KVM counts a signal it found pending; a kick before entry (immediate_exit) returns EINTR "
     "without it"},
    {"hypercalls", Source::Kernel, 0, KernelEventKind::Hypercall, "kvm:kvm_hypercall events",
     "events lost from the ring buffer are missing"},
    {"insn_emulation", Source::Kernel, 0, KernelEventKind::EmulateInsn,
     "kvm:kvm_emulate_insn events",
     "the event fires for every instruction emulated, also those that fail, which KVM counts "
     "apart (insn_emulation_fail)"},
    {"irq_injections", Source::Kernel, 0, KernelEventKind::InjVirq, "kvm:kvm_inj_virq events",
     "PVM injects interrupts without this event"},
    {"pf_guest", Source::KernelPf, 0, KernelEventKind::InjException,
     "kvm:kvm_inj_exception #PF events",
     "KVM counts the page faults it injects into the guest; the event also fires for re-injected "
     "ones"},
}};

bool Attached(const TraceData& trace, KernelEventKind kind) {
  if (!trace.kernel_counts || !trace.host.plan) return false;
  const std::string name = "kvm:" + std::string(KernelEventName(kind));
  const std::vector<std::string>& attached = trace.host.plan->tracepoints;
  return std::find(attached.begin(), attached.end(), name) != attached.end();
}

// Whether the kernel counted events of `kind` that it did not stream (the
// session's stream mask left them out: `record --pid` drops kvm_emulate_insn).
bool CountedOnly(const TraceData& trace, KernelEventKind kind) {
  return trace.kernel_counts && trace.kernel_counts->CountedOnly(kind);
}

// The trace's count when the kernel counted `kind` over the whole
// recording by itself; nullopt when KVM's statistics gave it (comparing
// them with themselves tells nothing) or counting stopped at the budget.
std::optional<uint64_t> KernelSeen(const TraceData& trace, KernelEventKind kind) {
  if (trace.kernel_counts->SeenByOf(kind) != SeenBy::Tracing) return std::nullopt;
  return trace.kernel_counts->seen[static_cast<size_t>(kind)];
}

// An external VMM's trace has no VMM events: each VMM source is counted from
// the kernel's side of the same KVM_RUN returns instead.
uint64_t ExternalCount(const Event& e, const Mapping& m) {
  switch (m.source) {
    case Source::VmmExits: return e.type == KernelEventKind::RunExit && e.a[0] == 0;
    case Source::VmmReason:
      return e.type == KernelEventKind::UserspaceExit && UserspaceExitReason(e) == m.value;
    case Source::VmmEintr:
      return e.type == KernelEventKind::UserspaceExit && UserspaceExitReason(e) == kInterruptedExitReason;
    case Source::Kernel: return e.type == m.kind;
    case Source::KernelPf: return e.type == m.kind && e.a[0] == 14;
  }
  return 0;
}

// The one type of event a mapping counts (the rest are skipped undecoded).
EventType CountedType(const Mapping& m, bool external) {
  switch (m.source) {
    case Source::VmmExits:
      return external ? EventType(KernelEventKind::RunExit) : EventType(VmmEventKind::RunExit);
    case Source::VmmReason:
    case Source::VmmEintr:
      return external ? EventType(KernelEventKind::UserspaceExit) : EventType(VmmEventKind::RunExit);
    case Source::Kernel:
    case Source::KernelPf: break;
  }
  return m.kind;
}

// What the trace counted for a mapping, in the row's words.
std::string Traced(const TraceData& trace, const Mapping& m, bool all_vcpus) {
  if ((m.source == Source::Kernel || m.source == Source::KernelPf) && CountedOnly(trace, m.kind) &&
      all_vcpus) {
    return fmt::format("{} counted in the kernel ({})", m.traced, trace.kernel_counts->StreamedHow(m.kind));
  }
  if (!trace.external) return m.traced;
  switch (m.source) {
    case Source::VmmExits: return "kernel KVM_RUN returns with 0 (kprobe or syscall edge)";
    case Source::VmmReason:
      return fmt::format("kvm:kvm_userspace_exit {} (external VMM)", m.traced);
    case Source::VmmEintr: return "kvm:kvm_userspace_exit with -EINTR (external VMM)";
    case Source::Kernel:
    case Source::KernelPf: break;
  }
  return m.traced;
}

// What an event of kvmscope's own VMM adds to a mapping's count.
uint64_t OwnCount(const Event& e, const Mapping& m) {
  switch (m.source) {
    case Source::VmmExits: return e.type == VmmEventKind::RunExit && e.a[1] == 0;
    case Source::VmmReason:
      return e.type == VmmEventKind::RunExit && e.a[1] == 0 && e.a[0] == m.value;
    case Source::VmmEintr: return e.type == VmmEventKind::RunExit && e.a[1] == kEintr;
    case Source::Kernel: return e.type == m.kind;
    case Source::KernelPf: return e.type == m.kind && e.a[0] == 14;
  }
  return 0;
}

// Every mapping's count of events on the vCPU tracks in scope (vCPU `only`,
// or all), in one pass over the events: a trace of millions of events is
// read once, not once per counter, and an event is decoded only when its
// type (read from the store's header) is one a mapping counts.
std::array<uint64_t, kMappings.size()> EventCounts(const TraceData& trace, std::optional<int> only) {
  std::array<uint64_t, kMappings.size()> n{};
  const bool external = trace.external.has_value();
  // Per event type, the mappings that count it (a bit each).
  std::array<uint32_t, kEventTypes> counted_by{};
  for (size_t m = 0; m < kMappings.size(); ++m) {
    counted_by[CountedType(kMappings[m], external).index()] |= 1u << m;
  }
  for (const Track& track : trace.tracks) {
    if (track.kind != TrackKind::Vcpu || (only && track.vcpu != *only)) continue;
    for (size_t i = 0; i < track.events.size(); ++i) {
      const uint32_t mappings = counted_by[track.events.type(i).index()];
      if (mappings == 0) continue;
      const Event e = track.events[i];
      for (size_t m = 0; m < kMappings.size(); ++m) {
        if (!(mappings & (1u << m))) continue;
        n[m] += external ? ExternalCount(e, kMappings[m]) : OwnCount(e, kMappings[m]);
      }
    }
  }
  return n;
}

// The trace's count for a mapping over the tracks in scope (`events`: its
// count from EventCounts), or nullopt when this trace cannot tell (the
// kernel was not traced, the event not attached, or counted only
// trace-wide while the scope is one vCPU).
std::optional<uint64_t> TraceCount(const TraceData& trace, const Mapping& m, std::optional<int> only,
                                   uint64_t events) {
  const bool kernel = m.source == Source::Kernel || m.source == Source::KernelPf;
  if (kernel && !Attached(trace, m.kind)) return std::nullopt;
  if (kernel && CountedOnly(trace, m.kind)) {
    // The kernel's count is per kind, trace-wide; #PF alone cannot be told apart.
    if (only || m.source == Source::KernelPf) return std::nullopt;
    return KernelSeen(trace, m.kind);
  }
  if (trace.external && m.source != Source::VmmExits && !kernel &&
      !Attached(trace, KernelEventKind::UserspaceExit)) {
    return std::nullopt;
  }
  return events;
}

std::string Join(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

// Appends `text` as lines of at most ~100 characters, indented; the lines
// after the first a little more.
void Wrap(std::vector<std::string>& out, const std::string& text) {
  constexpr size_t kWidth = 100;
  std::string line = "  ";
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(at, end - at);
    if (line.size() > 4 && line.size() + 1 + word.size() > kWidth) {
      out.push_back(line);
      line = "    ";
    }
    line += (line.back() == ' ' ? "" : " ") + word;
    at = end + 1;
  }
  out.push_back(line);
}

}  // namespace

std::string KvmCounterRow::Difference() const {
  if (!trace) return "";
  if (*trace == kvm) return "same";
  return *trace > kvm ? fmt::format("trace +{}", FormatCount(*trace - kvm))
                      : fmt::format("KVM +{}", FormatCount(kvm - *trace));
}

KvmCounterStats ComputeKvmCounters(const TraceData& trace, int vcpu) {
  KvmCounterStats out;
  out.external = trace.external.has_value();
  if (!trace.kvm_stats) {
    out.note = !trace.kvm_stats_note.empty() ? "not recorded: " + trace.kvm_stats_note
               : out.external && trace.external->ended.empty()
                   ? "not yet: they are read while recording and kept when it ends"
                   : "not recorded (a trace from before kvmscope read them)";
    return out;
  }
  out.recorded = true;
  const KvmStatsRecord& k = *trace.kvm_stats;
  out.source = k.source;
  const int count = static_cast<int>(k.vcpus.size());
  if (vcpu >= 0) {
    out.scope = fmt::format("vCPU {}", vcpu);
    if (vcpu < count) out.vcpus.push_back(vcpu);
  } else {
    // vcpu_ids may have gaps (x86: the APIC id, with the CPU topology's
    // holes): ids without counters are no vCPU.
    for (int v = 0; v < count; ++v) {
      if (!k.vcpus[static_cast<size_t>(v)].empty()) out.vcpus.push_back(v);
    }
  }
  const std::optional<int> only = vcpu >= 0 ? std::optional<int>(vcpu) : std::nullopt;

  const std::array<uint64_t, kMappings.size()> counted = EventCounts(trace, only);
  for (size_t i = 0; i < kMappings.size(); ++i) {
    const Mapping& m = kMappings[i];
    // Every vCPU: the counter over the VM (debugfs has only these sums), and
    // every vCPU track, whatever ids they have.
    std::optional<uint64_t> kvm = only ? k.OfVcpu(*only, m.counter) : k.Total(m.counter);
    if (!kvm) continue;  // this kernel (or this source) has no such counter
    KvmCounterRow row{m.counter, *kvm, TraceCount(trace, m, only, counted[i]), Traced(trace, m, !only),
                      m.why};
    if (m.source == Source::Kernel || m.source == Source::KernelPf) {
      if (!row.trace) continue;  // the event was not attached: nothing to compare
    }
    out.compared.push_back(std::move(row));
  }

  std::set<std::string> names;
  for (int v : out.vcpus) {
    for (const auto& [name, value] : k.vcpus[static_cast<size_t>(v)]) names.insert(name);
  }
  for (const std::string& name : names) {
    KvmCounterValues row{name, {}};
    bool any = false;
    for (int v : out.vcpus) {
      const uint64_t x = k.OfVcpu(v, name).value_or(0);
      row.values.push_back(x);
      any = any || x != 0;
    }
    if (any) {
      out.per_vcpu.push_back(std::move(row));
    } else {
      out.zero_per_vcpu.push_back(name);
    }
  }
  for (const auto& [name, value] : k.vm) {
    if (value != 0) {
      out.vm.emplace_back(name, value);
    } else {
      out.zero_vm.push_back(name);
    }
  }
  return out;
}

std::vector<std::string> FormatKvmCounters(const KvmCounterStats& s) {
  std::vector<std::string> out;
  out.push_back(!s.source.empty() ? "KVM's own counters, " + s.source
                : s.external       ? std::string("KVM's own counters of another process's VM")
                                   : "KVM's own counters (KVM_GET_STATS_FD), read from the kernel at the end of the run");
  if (!s.recorded) {
    out.push_back("  " + s.note);
    return out;
  }
  out.push_back("  KVM = the kernel's own counter; trace = the events this trace recorded (" +
                s.scope + ")");
  std::vector<std::vector<std::string>> rows;
  size_t widths[4] = {7, 3, 5, 13};
  for (const KvmCounterRow& r : s.compared) {
    rows.push_back({r.counter, FormatCount(r.kvm), r.trace ? FormatCount(*r.trace) : "-", r.traced,
                    r.Difference()});
    for (size_t c = 0; c < 4; ++c) widths[c] = std::max(widths[c], rows.back()[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    return fmt::format("  {:<{}}  {:>{}}  {:>{}}  {:<{}}  {}", cells[0], widths[0], cells[1],
                       widths[1], cells[2], widths[2], cells[3], widths[3], cells[4]);
  };
  out.push_back(line({"counter", "KVM", "trace", "trace counted", "difference"}));
  if (rows.empty()) out.push_back("  (none of the counters kvmscope compares is on this kernel)");
  for (const auto& row : rows) out.push_back(line(row));
  for (const KvmCounterRow& r : s.compared) {
    if (r.trace && *r.trace != r.kvm) Wrap(out, r.counter + ": " + r.why);
  }

  out.emplace_back();
  out.push_back("  KVM's counters per vCPU (those with a value):");
  size_t name_width = 7;
  for (const KvmCounterValues& r : s.per_vcpu) name_width = std::max(name_width, r.counter.size());
  std::string header = fmt::format("    {:<{}}", "counter", name_width);
  for (int v : s.vcpus) header += fmt::format("  {:>12}", fmt::format("vCPU {}", v));
  out.push_back(header);
  for (const KvmCounterValues& r : s.per_vcpu) {
    std::string text = fmt::format("    {:<{}}", r.counter, name_width);
    for (uint64_t x : r.values) text += fmt::format("  {:>12}", FormatCount(x));
    out.push_back(text);
  }
  if (!s.zero_per_vcpu.empty()) {
    out.push_back(fmt::format("    zero ({}): {}", s.zero_per_vcpu.size(), Join(s.zero_per_vcpu)));
  }
  out.push_back("  KVM's VM-wide counters:");
  for (const auto& [name, value] : s.vm) {
    out.push_back(fmt::format("    {:<{}}  {:>12}", name, name_width, FormatCount(value)));
  }
  if (!s.zero_vm.empty()) {
    out.push_back(fmt::format("    zero ({}): {}", s.zero_vm.size(), Join(s.zero_vm)));
  }
  return out;
}

std::string KvmCountersJson(const KvmCounterStats& s) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["recorded"] = s.recorded;
  j["note"] = s.note;
  if (!s.source.empty()) j["source"] = s.source;
  j["scope"] = s.scope;
  j["vcpus"] = s.vcpus;
  j["compared"] = Json::array();
  for (const KvmCounterRow& r : s.compared) {
    j["compared"].push_back({{"counter", r.counter},
                             {"kvm", r.kvm},
                             {"trace", r.trace ? Json(*r.trace) : Json(nullptr)},
                             {"trace_counted", r.traced},
                             {"why_they_may_differ", r.why}});
  }
  Json per_vcpu = Json::object();
  for (const KvmCounterValues& r : s.per_vcpu) per_vcpu[r.counter] = r.values;
  for (const std::string& name : s.zero_per_vcpu) {
    per_vcpu[name] = std::vector<uint64_t>(s.vcpus.size(), 0);
  }
  j["per_vcpu"] = std::move(per_vcpu);
  Json vm = Json::object();
  for (const auto& [name, value] : s.vm) vm[name] = value;
  for (const std::string& name : s.zero_vm) vm[name] = 0;
  j["vm"] = std::move(vm);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void CountFromKvmStats(KernelCounts& counts, const KvmStatsRecord& stats) {
  const auto k = static_cast<size_t>(KernelEventKind::EmulateInsn);
  if (counts.seen_by[k] != SeenBy::UntilBudget) return;
  std::optional<uint64_t> started = stats.Total("insn_emulation");
  std::optional<uint64_t> failed = stats.Total("insn_emulation_fail");
  if (!started || !failed) return;
  counts.seen[k] = *started + *failed;
  counts.seen_by[k] = SeenBy::KvmStatistics;
}

}  // namespace kvmscope::traces

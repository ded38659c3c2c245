// Trace → kernel facts for the chains and the seed check, and the run listing.
#include "traces/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "traces/fault_context.h"
#include "traces/kernel_event.h"

namespace kvmscope::traces {
namespace {

// Kinds that fire once per emulated instruction or page-table level: shown
// as a count, not one line each.
bool IsBulk(EventType t) {
  return t == KernelEventKind::EmulateInsn || t == KernelEventKind::MmuWalk ||
         t == KernelEventKind::MmuSetSpte;
}

// Run edges themselves are implied by the run line.
bool IsEdge(EventType t) {
  return t == KernelEventKind::RunEnter || t == KernelEventKind::RunExit ||
         t == VmmEventKind::RunEnter || t == VmmEventKind::RunExit;
}

}  // namespace

std::vector<StackUse> StackUses(const TraceData& trace) {
  std::vector<uint64_t> counts = trace.StackUseCounts();
  std::vector<StackUse> out;
  for (size_t id = 0; id < trace.stacks.size(); ++id) {
    if (!trace.stacks[id].empty()) out.push_back({trace.stacks[id], counts[id]});
  }
  return out;
}

std::map<std::string, uint64_t> IoctlCounts(const TraceData& trace) {
  std::map<std::string, uint64_t> out;
  for (const Track& t : trace.tracks) {
    for (size_t i = 0; i < t.events.size(); ++i) {
      if (t.events.type(i) != VmmEventKind::Ioctl) continue;
      const Event e = t.events[i];
      if (static_cast<int64_t>(e.a[0]) >= 0) {
        ++out[std::string(trace.Text(e.text))];
      }
    }
  }
  return out;
}

namespace {

// "kprobe on svm_handle_exit": how the plan watched a probe point.
std::string ProbeHow(const TraceData& trace, std::string_view point, std::string_view function) {
  std::string mechanism = "probe";
  if (trace.host.plan)
    for (const PlanRecord::Entry& e : trace.host.plan->entries)
      if (e.point == point && !e.mechanism.empty()) mechanism = e.mechanism;
  return fmt::format("{} on {}", mechanism, function);
}

std::string ReasonName(const Event& exit) {
  if (exit.a[2] == static_cast<uint64_t>(ExitIsa::Svm)) return std::string(SvmExitCodeName(exit.a[0]));
  if (exit.a[2] == static_cast<uint64_t>(ExitIsa::Vmx))
    return std::string(VmxExitReasonName(static_cast<uint32_t>(exit.a[0])));
  return {};
}

}  // namespace

std::vector<ExitSightings> ExitSightingsOf(const TraceData& trace) {
  const std::vector<std::string> names = ChainSymbolNames();
  const std::set<std::string, std::less<>> wanted(names.begin(), names.end());
  std::string handler = trace.host.vendor_handler;
  if (trace.host.plan)
    for (const PlanRecord::Entry& e : trace.host.plan->entries)
      if (e.point == "exit handler" && !e.target.empty()) handler = e.target;
  std::map<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>, uint64_t>
      merged;
  for (const Track& track : trace.tracks) {
    if (track.kind != TrackKind::Vcpu) continue;
    bool open = false;
    ExitSightings exit;
    auto see = [&](std::string function, std::string how) {
      if (!exit.seen.empty() && exit.seen.back().function == function) return;
      exit.seen.push_back({std::move(function), std::move(how)});
    };
    auto close = [&] {
      if (open && !exit.seen.empty()) {
        std::vector<std::pair<std::string, std::string>> key;
        for (Sighting& s : exit.seen) key.emplace_back(std::move(s.function), std::move(s.how));
        ++merged[{exit.reason, std::move(key)}];
      }
      open = false;
      exit = {};
    };
    for (const Event& e : track.events) {
      if (e.type.origin != Origin::Kernel) continue;
      const KernelEventKind kind = e.type.kernel();
      if (kind == KernelEventKind::KvmEntry || kind == KernelEventKind::RunExit ||
          kind == KernelEventKind::RunEnter) {
        close();
        continue;
      }
      if (kind == KernelEventKind::KvmExit || kind == KernelEventKind::ExitHandler) open = true;
      if (!open) continue;
      if (kind == KernelEventKind::KvmExit && exit.reason.empty()) exit.reason = ReasonName(e);
      // Stack frames first (outermost first), then the probe's own function.
      if (e.stack_id >= 0 && static_cast<size_t>(e.stack_id) < trace.stacks.size()) {
        const std::string how = fmt::format("stack of {}", EventTypeName(e.type));
        for (const std::string& frame : ChainFrames(trace.stacks[e.stack_id], trace.symbols)) {
          const std::string_view base = BaseName(frame);
          if (wanted.count(base) != 0) see(std::string(base), how);
        }
      }
      std::string probed, how;
      if (kind == KernelEventKind::ExitHandler && !handler.empty()) {
        probed = handler;
        how = ProbeHow(trace, "exit handler", handler);
      } else if (kind == KernelEventKind::MmuPageFault) {
        probed = "kvm_mmu_page_fault";
        how = ProbeHow(trace, "page fault", probed);
      }
      if (probed.empty()) continue;
      if (!exit.seen.empty() && exit.seen.back().function == probed)
        exit.seen.back().how = how;
      else
        see(probed, how);
    }
    close();
  }
  std::vector<ExitSightings> out;
  for (auto& [key, count] : merged) {
    ExitSightings exit{key.first, {}, count};
    for (const auto& [function, how] : key.second) exit.seen.push_back({function, how});
    out.push_back(std::move(exit));
  }
  return out;
}

KernelFacts FactsOf(const TraceData& trace) { return FactsOf(std::vector<const TraceData*>{&trace}); }

KernelFacts FactsOf(const std::vector<const TraceData*>& traces) {
  SymbolTable symbols;
  std::vector<StackUse> stacks;
  std::map<std::string, uint64_t> ioctls;
  std::string release;
  size_t kernel_symbols = 0;
  Vendor backend = Vendor::Any;
  std::vector<ExitSightings> exits;
  for (const TraceData* t : traces) {
    for (ExitSightings& e : ExitSightingsOf(*t)) exits.push_back(std::move(e));
    if (backend == Vendor::Any) backend = BackendVendor(t->host.backend);
    for (const Symbol& s : t->symbols.symbols()) symbols.Add(s.addr, s.name, s.module);
    for (StackUse& u : StackUses(*t)) stacks.push_back(std::move(u));
    for (const auto& [name, n] : IoctlCounts(*t)) ioctls[name] += n;
    if (release.empty()) release = t->host.kernel_release;
    kernel_symbols = std::max<size_t>(kernel_symbols, t->host.kernel_symbols);
  }
  symbols.Finish();
  KernelFacts facts(symbols, stacks, release, std::move(ioctls), kernel_symbols, backend);
  facts.SetExits(std::move(exits));
  for (const TraceData* t : traces) {
    if (t->host.module_params.empty()) continue;
    facts.SetModuleParams(t->host.module_params);
    break;
  }
  // The vendor module's parameter, where the trace recorded it, decides
  // EPT/NPT or shadow paging even when no fault was captured.
  for (const TraceData* t : traces) {
    const std::optional<bool> tdp = t->host.TwoDimensionalPaging();
    if (!tdp || t->host.backend.starts_with("PVM")) continue;
    const std::string key = t->host.backend.starts_with("VMX") ? "kvm_intel.ept" : "kvm_amd.npt";
    facts.SetPagingFromHost(tdp, fmt::format("by {}={}", key, t->host.Param(key)));
    break;
  }
  return facts;
}

std::vector<std::string> FormatRuns(const TraceData& trace, size_t max_runs,
                                    std::optional<EventType> featuring) {
  std::vector<std::string> lines;
  size_t matching = 0;
  int64_t origin = trace.BeginNs();
  for (size_t ti = 0; ti < trace.tracks.size(); ++ti) {
    const Track& track = trace.tracks[ti];
    if (track.kind != TrackKind::Vcpu) continue;
    for (const Span& run : track.spans[static_cast<size_t>(SpanKind::Run)]) {
      if (run.end == kNoEvent) continue;
      const EventRange inside = trace.Window(ti, run.begin_ns, run.end_ns);
      bool featured = !featuring || std::any_of(inside.begin(), inside.end(),
                                                [&](const Event& e) { return e.type == *featuring; });
      if (!featured) continue;
      if (++matching > max_runs) continue;
      const auto t = static_cast<uint32_t>(ti);
      lines.push_back(fmt::format("  vCPU {} +{:>9.3f} ms  {}", track.vcpu,
                                  (track.events.time_ns(run.end) - origin) / 1e6,
                                  DescribeEventAt(trace, {t, run.end})));
      std::map<std::string_view, size_t> bulk;
      for (size_t i = 0; i < inside.size(); ++i) {
        const EventType type = inside.type(i);
        if (type.origin != Origin::Kernel || IsEdge(type)) continue;
        if (IsBulk(type)) {
          ++bulk[EventTypeName(type)];
        } else {
          const auto index = static_cast<uint32_t>(inside.first_index() + i);
          lines.push_back(fmt::format("      kernel: {}", DescribeEventAt(trace, {t, index})));
        }
      }
      for (const auto& [name, n] : bulk) lines.push_back(fmt::format("      kernel: {} × {}", name, n));
      lines.push_back(fmt::format("      {:.1f} µs in KVM_RUN", run.duration_ns() / 1e3));
    }
  }
  if (matching > max_runs) {
    lines.push_back(fmt::format("  ... and {} more such runs", matching - max_runs));
  }
  return lines;
}

}  // namespace kvmscope::traces

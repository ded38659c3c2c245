// The KVM cycle's counts: one pass per track over the events (measured where
// an event records the thing, inferred and labelled so where it does not),
// made incremental for a live trace. Each track keeps checkpoints (the pass's
// state and what each stretch added); an update takes off what was added
// after the last checkpoint that nothing was merged behind, and counts on
// from there, so the counts stay exactly those of one pass over the trace.
#include "traces/cycle_count.h"
#include "traces/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace kvmscope::traces::cycle_detail {

using N = CycleNodeId;

bool IsMmuKind(KernelEventKind k) {
  return k == KernelEventKind::MmuWalk || k == KernelEventKind::MmuSetSpte ||
         k == KernelEventKind::MmuWalkerError;
}

// --- Classifier ---------------------------------------------------------------------

Classifier::Classifier(const TraceData& trace) {
  SetStacks(trace);
  MmuStacksByKind kinds{};
  for (const Track& t : trace.tracks)
    for (size_t i = 0; i < t.events.size(); ++i) {
      if (t.events.stack_id(i) < 0) continue;
      const Event e = t.events[i];
      if (e.type.origin != Origin::Kernel || !IsMmuKind(e.type.kernel())) continue;
      MmuStacks& k = kinds[e.type.kind];
      const std::optional<CycleNodeId> n = StackNode(e.stack_id);
      ++k.total;
      k.page_fault += n == N::PageFault;
      k.emulate += n == N::Emulate;
    }
  SetKinds(kinds);
}

void Classifier::SetStacks(const TraceData& trace) {
  m_stack_node.resize(trace.stacks.size());
  for (size_t id = 0; id < trace.stacks.size(); ++id) m_stack_node[id] = NodeOfStack(trace, trace.stacks[id]);
}

std::array<Side, kKernelEventKinds> Classifier::Verdicts(const MmuStacksByKind& kinds) {
  std::array<Side, kKernelEventKinds> out{};
  for (size_t i = 0; i < kKernelEventKinds; ++i) {
    const MmuStacks& k = kinds[i];
    if (k.total > 0 && k.page_fault == k.total) out[i] = {N::PageFault, CountKind::Inferred};
    else if (k.total > 0 && k.emulate == k.total) out[i] = {N::Emulate, CountKind::Inferred};
  }
  return out;
}

void Classifier::SetKinds(const MmuStacksByKind& kinds) { m_unstacked = Verdicts(kinds); }

Side Classifier::Of(const Event& e) const {
  if (e.type.origin != Origin::Kernel) return {};
  switch (e.type.kernel()) {
    case KernelEventKind::EmulateInsn: return {N::Emulate, CountKind::Measured};
    case KernelEventKind::InjException: return {N::Exception, CountKind::Measured};
    case KernelEventKind::MmuPageFault:
    case KernelEventKind::PageFault: return {N::PageFault, CountKind::Measured};
    default: break;
  }
  if (!IsMmuKind(e.type.kernel())) return {};
  if (e.stack_id >= 0) {
    const std::optional<CycleNodeId> n = StackNode(e.stack_id);
    if (n == N::PageFault || n == N::Emulate) return {n, CountKind::Measured};
    return {};
  }
  return m_unstacked[e.type.kind];
}

// --- Tally ------------------------------------------------------------------------------

namespace {

template <typename Map>
void AddMap(Map& to, const Map& from, bool subtract) {
  for (const auto& [key, n] : from) {
    auto it = to.try_emplace(key, 0).first;
    it->second = subtract ? it->second - n : it->second + n;
    if (it->second == 0) to.erase(it);  // a key is there only while it counts something
  }
}

}  // namespace

void Tally::Add(const Tally& o, bool subtract) {
  auto add = [&](uint64_t& to, uint64_t n) { to = subtract ? to - n : to + n; };
  for (size_t i = 0; i < kEventTypes; ++i) add(by_type[i], o.by_type[i]);
  AddMap(vmm_exits, o.vmm_exits, subtract);
  AddMap(vectors, o.vectors, subtract);
  AddMap(ioctls, o.ioctls, subtract);
  AddMap(hw_handled, o.hw_handled, subtract);
  AddMap(kernel_exits, o.kernel_exits, subtract);
  add(run_again, o.run_again);
  add(kernel_run_again, o.kernel_run_again);
  add(handled, o.handled);
  add(pf_episodes, o.pf_episodes);
  add(pf_inferred_events, o.pf_inferred_events);
  for (size_t i = 0; i < kKernelEventKinds; ++i) {
    add(mmu[i].total, o.mmu[i].total);
    add(mmu[i].page_fault, o.mmu[i].page_fault);
    add(mmu[i].emulate, o.mmu[i].emulate);
  }
}

// --- The pass over one event ---------------------------------------------------------

namespace {

bool StackedMmu(const Event& e) {
  return e.type.origin == Origin::Kernel && e.stack_id >= 0 && IsMmuKind(e.type.kernel());
}

void Step(const Event& e, ScanState& s, Tally& t, const Classifier& classify) {
  ++t.by_type[e.type.index()];
  if (e.type == VmmEventKind::RunExit) {
    ++t.vmm_exits[static_cast<uint32_t>(e.a[0])];
    s.exited = true;
  } else if (e.type == VmmEventKind::RunEnter) {
    t.run_again += s.exited;
    s.exited = false;
  } else if (e.type == VmmEventKind::Ioctl && static_cast<int64_t>(e.a[0]) >= 0) {
    ++t.ioctls[e.text];
  } else if (e.type == KernelEventKind::InjException) {
    ++t.vectors[e.a[0]];
  } else if (e.type == KernelEventKind::UserspaceExit) {
    ++t.kernel_exits[UserspaceExitReason(e)];
    s.kernel_exited = true;
  } else if (e.type == KernelEventKind::RunEnter) {
    t.kernel_run_again += s.kernel_exited;
    s.kernel_exited = false;
  }
  // A kvm_exit followed by a kvm_entry in the same KVM_RUN was handled in the kernel.
  if (e.type == KernelEventKind::KvmExit) {
    s.pending_exit = std::pair{e.a[2], e.a[0]};
  } else if (e.type == KernelEventKind::KvmEntry && s.pending_exit) {
    ++t.handled;
    ++t.hw_handled[*s.pending_exit];
    s.pending_exit.reset();
  } else if (e.type == KernelEventKind::RunExit || e.type == VmmEventKind::RunExit) {
    s.pending_exit.reset();
  }
  if (e.type.origin != Origin::Kernel) return;
  if (StackedMmu(e)) {
    MmuStacks& k = t.mmu[e.type.kind];
    const std::optional<CycleNodeId> n = classify.StackNode(e.stack_id);
    ++k.total;
    k.page_fault += n == N::PageFault;
    k.emulate += n == N::Emulate;
  }
  const Side side = classify.Of(e);
  const bool fault = side.node == N::PageFault;
  if (fault && !s.in_fault) ++t.pf_episodes;
  if (fault && side.evidence == CountKind::Inferred) ++t.pf_inferred_events;
  s.in_fault = fault;
}

// Whether the first `cp.index` events of a track are those the checkpoint saw.
bool Holds(const Checkpoint& cp, const EventList& ev) {
  if (cp.index == 0) return true;
  if (cp.index > ev.size() || !(ev[cp.index - 1] == cp.last)) return false;
  return ev.lower_bound_time(cp.last.time_ns) == cp.before;
}

}  // namespace

// --- CycleCounter ---------------------------------------------------------------------

CycleCounter::CycleCounter(const TraceData& trace) { m_classify.SetStacks(trace); }

void CycleCounter::Restart(TrackCount& tc, size_t keep) {
  for (size_t i = keep; i < tc.checkpoints.size(); ++i) m_total.Add(tc.checkpoints[i].tally, true);
  tc.checkpoints.resize(keep + 1);
  tc.checkpoints[keep].tally = Tally{};
}

void CycleCounter::Push(TrackCount& tc, const EventList& ev, uint32_t index, const ScanState& state) {
  // Only the last checkpoint may sit off the grid (at the end of the track
  // when it was counted): an older one is folded into the one before it.
  std::vector<Checkpoint>& cps = tc.checkpoints;
  if (cps.size() >= 2 && cps.back().index % kCheckpointEvery != 0) {
    cps[cps.size() - 2].tally.Add(cps.back().tally);
    cps.pop_back();
  }
  Checkpoint& cp = cps.emplace_back();
  cp.index = index;
  cp.last = ev[index - 1];
  cp.before = static_cast<uint32_t>(std::min<size_t>(ev.lower_bound_time(cp.last.time_ns), index));
  cp.state = state;
}

size_t CycleCounter::Scan(const Track& track, TrackCount& tc) {
  const EventList& ev = track.events;
  const uint32_t start = tc.checkpoints.back().index;
  ScanState state = tc.checkpoints.back().state;
  for (uint32_t i = start; i < ev.size(); ++i) {
    if (i > start && i % kCheckpointEvery == 0) {
      m_total.Add(tc.checkpoints.back().tally);
      Push(tc, ev, i, state);
    }
    Step(ev[i], state, tc.checkpoints.back().tally, m_classify);
  }
  m_total.Add(tc.checkpoints.back().tally);
  if (ev.size() > tc.checkpoints.back().index) Push(tc, ev, static_cast<uint32_t>(ev.size()), state);
  return ev.size() - start;
}

size_t CycleCounter::Update(const TraceData& trace, bool incremental) {
  // A track that is not the one counted there (or gone) starts over; others
  // from their last checkpoint that still holds.
  if (!incremental || trace.tracks.size() < m_tracks.size()) {
    m_tracks.clear();
    m_total = Tally{};
  }
  for (size_t t = 0; t < m_tracks.size(); ++t) {
    const Track& track = trace.tracks[t];
    TrackCount& tc = m_tracks[t];
    size_t keep = 0;
    if (tc.pid != track.pid || tc.tid != track.tid) {
      tc.pid = track.pid;
      tc.tid = track.tid;
    } else
      for (keep = tc.checkpoints.size() - 1; keep > 0; --keep)
        if (Holds(tc.checkpoints[keep], track.events)) break;
    Restart(tc, keep);
  }
  while (m_tracks.size() < trace.tracks.size()) {
    const Track& track = trace.tracks[m_tracks.size()];
    TrackCount& tc = m_tracks.emplace_back();
    tc.pid = track.pid;
    tc.tid = track.tid;
    tc.checkpoints.emplace_back();
  }
  // Events without a stack of their own are classified by what every stack
  // of their kind says, over the whole trace: when that verdict changes,
  // every track is counted again from the start.
  MmuStacksByKind kinds = m_total.mmu;
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    const EventList& ev = trace.tracks[t].events;
    for (size_t i = m_tracks[t].checkpoints.back().index; i < ev.size(); ++i) {
      if (!StackedMmu(ev[i])) continue;
      MmuStacks& k = kinds[ev[i].type.kind];
      const std::optional<CycleNodeId> n = m_classify.StackNode(ev[i].stack_id);
      ++k.total;
      k.page_fault += n == N::PageFault;
      k.emulate += n == N::Emulate;
    }
  }
  if (Classifier::Verdicts(kinds) != m_classify.unstacked() || !incremental) {
    m_classify.SetKinds(kinds);
    for (TrackCount& tc : m_tracks) Restart(tc, 0);
    ++m_full_counts;
  }
  size_t scanned = 0;
  for (size_t t = 0; t < trace.tracks.size(); ++t) scanned += Scan(trace.tracks[t], m_tracks[t]);
  return scanned;
}

// --- The model's counts --------------------------------------------------------------

namespace {

std::vector<CycleReason> Sorted(const std::map<std::string, uint64_t>& counts) {
  std::vector<CycleReason> out;
  for (const auto& [name, n] : counts) out.push_back({name, n});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  return out;
}

std::string KvmExitName(uint32_t reason) {
  const std::string_view name = KvmExitReasonName(reason);
  return name.empty() ? fmt::format("KVM_EXIT {}", reason) : "KVM_EXIT_" + std::string(name);
}

std::string HardwareExitName(uint64_t isa_value, uint64_t reason) {
  const ExitIsa isa = static_cast<ExitIsa>(isa_value);
  std::string_view name;
  if (isa == ExitIsa::Vmx) name = VmxExitReasonName(static_cast<uint32_t>(reason & 0xffff));
  if (isa == ExitIsa::Svm) name = SvmExitCodeName(reason);
  return name.empty() ? fmt::format("reason {:#x}", reason) : std::string(name);
}

std::string VectorName(uint64_t vector) {
  const std::string_view mn = ExceptionMnemonic(static_cast<uint32_t>(vector));
  return mn.empty() ? fmt::format("vector {}", vector) : std::string(mn);
}

// Raw keys → names (two keys may share a name: their counts add up).
template <typename Map, typename Name>
std::map<std::string, uint64_t> Named(const Map& counts, Name name) {
  std::map<std::string, uint64_t> out;
  for (const auto& [key, n] : counts) out[name(key)] += n;
  return out;
}

}  // namespace

void CycleCounter::Fill(CycleModel& m, const TraceData& trace) const {
  for (CycleArc& a : m.arcs) {
    a.count = {};
    a.reasons.clear();
  }
  for (CycleNode& n : m.nodes) n.count = {};
  const Tally& total = m_total;
  const uint64_t run_again = total.run_again, handled = total.handled, pf_episodes = total.pf_episodes,
                 pf_inferred_events = total.pf_inferred_events;
  std::map<std::string, uint64_t> ioctls =
      Named(total.ioctls, [&](uint64_t id) { return std::string(trace.Text(static_cast<uint32_t>(id))); });
  auto count = [&](EventType t) { return total.by_type[t.index()]; };
  auto set = [](CycleCount& c, uint64_t v, CountKind k, std::string what) {
    c = {v, k, std::move(what)};
  };
  auto node = [&](CycleNodeId id) -> CycleNode& { return m.nodes[static_cast<size_t>(id)]; };
  auto arc = [&](CycleArcId id) -> CycleArc& { return m.arcs[static_cast<size_t>(id)]; };
  using A = CycleArcId;
  using K = KernelEventKind;
  if (trace.external) {
    // Another process's VMM: its side is seen from the kernel's edges of
    // KVM_RUN; how it handles an exit is not visible at all.
    const uint64_t runs = count(K::RunEnter);
    set(node(N::VmmRun).count, runs, CountKind::Measured, "KVM_RUN calls (kernel events: external VMM)");
    set(arc(A::RunCall).count, runs, CountKind::Measured, "KVM_RUN calls (kernel events: external VMM)");
    set(arc(A::RunAgain).count, total.kernel_run_again, CountKind::Measured,
        "KVM_RUN after a return to the VMM (kernel events: external VMM)");
    node(N::VmmHandles).count.what =
        fmt::format("not visible: the VMM is another process (pid {})", trace.external->pid);
    set(arc(A::ReturnToVmm).count, count(K::UserspaceExit), CountKind::Measured,
        "KVM_RUN returns by KVM_EXIT_* reason (kvm_userspace_exit: external VMM)");
    if (count(K::UserspaceExit) == 0 && count(K::RunExit) > 0) {
      // kvm_userspace_exit not recorded: the kernel's returns, reasons unknown.
      set(arc(A::ReturnToVmm).count, count(K::RunExit), CountKind::Measured,
          "KVM_RUN returns (kernel edge; without kvm_userspace_exit the reasons are unknown)");
      arc(A::RunAgain).count = {0, CountKind::None, "not counted: kvm_userspace_exit was not recorded"};
    }
    arc(A::ReturnToVmm).reasons = Sorted(
        Named(total.kernel_exits, [](uint64_t r) {
          return r >= kFailedExitReason ? UserspaceReasonName(static_cast<uint32_t>(r))
                                        : KvmExitName(static_cast<uint32_t>(r));
        }));
  } else {
    const uint64_t runs = count(VmmEventKind::RunEnter);
    set(node(N::VmmRun).count, runs, CountKind::Measured, "KVM_RUN calls (VMM events)");
    set(arc(A::RunCall).count, runs, CountKind::Measured, "KVM_RUN calls (VMM events)");
    set(arc(A::RunAgain).count, run_again, CountKind::Measured, "KVM_RUN after an exit (VMM events)");
    set(node(N::VmmHandles).count, count(VmmEventKind::DeviceAccess), CountKind::Measured,
        "device accesses emulated (VMM events)");
    set(arc(A::ReturnToVmm).count, count(VmmEventKind::RunExit), CountKind::Measured,
        "KVM_RUN returns by KVM_EXIT_* reason (VMM events)");
    arc(A::ReturnToVmm).reasons =
        Sorted(Named(total.vmm_exits, [](uint64_t r) { return KvmExitName(static_cast<uint32_t>(r)); }));
  }
  for (auto [id, name] : {std::pair{N::CreateVm, "KVM_CREATE_VM"}, {N::CreateVcpu, "KVM_CREATE_VCPU"}})
    if (ioctls.count(name)) set(node(id).count, ioctls[name], CountKind::Measured, std::string(name) + " calls (VMM events)");
  if (!m.kernel_data) return;  // no kernel side: VMM counts only
  // kvm_emulate_insn counted in the kernel and not all streamed (record
  // --pid, or past its stream budget): the kernel's count, as the events
  // would have given it.
  // Counting stopped with the budget (KVM without binary statistics to
  // count the rest): no count rather than one that falls short.
  const bool emulate_counted = trace.kernel_counts && trace.kernel_counts->CountedOnly(K::EmulateInsn);
  const bool emulate_unknown =
      emulate_counted && trace.kernel_counts->SeenByOf(K::EmulateInsn) == SeenBy::UntilBudget;
  uint64_t emulated = count(K::EmulateInsn);
  if (emulate_counted) {
    emulated = emulate_unknown ? 0 : trace.kernel_counts->seen[static_cast<size_t>(K::EmulateInsn)];
  }

  if (count(K::RunEnter) > 0)
    set(node(N::ArchRun).count, count(K::RunEnter), CountKind::Measured, "KVM_RUN entries (kernel events)");
  if (count(K::KvmEntry) > 0)
    set(arc(A::EntryToGuest).count, count(K::KvmEntry), CountKind::Measured, "kvm_entry events");
  else
    arc(A::EntryToGuest).count.what = "kvm_entry does not fire on this backend";
  if (count(K::KvmExit) > 0) {
    set(arc(A::ExitToHandler).count, count(K::KvmExit), CountKind::Measured, "kvm_exit events");
    set(arc(A::HandledInKernel).count, handled, CountKind::Measured,
        "kvm_exit followed by kvm_entry in the same KVM_RUN");
    arc(A::HandledInKernel).reasons =
        Sorted(Named(total.hw_handled, [](const auto& key) { return HardwareExitName(key.first, key.second); }));
  } else if (count(K::ExitHandler) > 0) {
    set(arc(A::ExitToHandler).count, count(K::ExitHandler), CountKind::Measured,
        "exit handler entries (probe)");
    const uint64_t out = count(VmmEventKind::RunExit);
    set(arc(A::HandledInKernel).count, count(K::ExitHandler) > out ? count(K::ExitHandler) - out : 0,
        CountKind::Inferred, "exit handler entries minus exits returned to the VMM");
  } else {
    arc(A::ExitToHandler).count.what = "kvm_exit does not fire on this backend: exits are not counted";
    std::map<std::string, uint64_t> work;
    if (emulated) work["kvm_emulate_insn"] = emulated;
    if (pf_episodes) work["page faults"] = pf_episodes;
    uint64_t sum = 0;
    for (const auto& [k, n] : work) sum += n;
    set(arc(A::HandledInKernel).count, sum, CountKind::Inferred,
        "kernel work inside KVM_RUN (kvm_exit does not fire here)");
    arc(A::HandledInKernel).reasons = Sorted(work);
  }
  if (emulate_unknown) {
    node(N::Emulate).count.what = fmt::format("kvm_emulate_insn not counted past its budget ({})",
                                              trace.kernel_counts->StreamedHow(K::EmulateInsn));
  } else {
    set(node(N::Emulate).count, emulated, CountKind::Measured,
        emulate_counted ? fmt::format("kvm_emulate_insn counted in the kernel ({})",
                                      trace.kernel_counts->StreamedHow(K::EmulateInsn))
                        : "kvm_emulate_insn events");
  }
  arc(A::ToEmulate).count = node(N::Emulate).count;
  if (count(K::MmuPageFault) > 0)
    set(node(N::PageFault).count, count(K::MmuPageFault), CountKind::Measured,
        "kvm_mmu_page_fault calls (probe)");
  else if (count(K::PageFault) > 0)
    set(node(N::PageFault).count, count(K::PageFault), CountKind::Measured, "kvm_page_fault events");
  else if (pf_episodes > 0)
    set(node(N::PageFault).count, pf_episodes, CountKind::Inferred,
        pf_inferred_events > 0
            ? "runs of kvmmmu events on the kvm_mmu_page_fault path (stacks, and kinds whose "
              "every stack went there)"
            : "runs of kvmmmu events whose stacks went through kvm_mmu_page_fault");
  arc(A::ToPageFault).count = node(N::PageFault).count;
  set(node(N::Exception).count, count(K::InjException), CountKind::Measured, "kvm_inj_exception events");
  arc(A::ToException).count = node(N::Exception).count;
  arc(A::ToException).reasons = Sorted(Named(total.vectors, VectorName));
}

}  // namespace kvmscope::traces::cycle_detail

// The KVM cycle model: nodes named from the chain matching of this kernel,
// arc counts from one pass over the events (measured where an event records
// the thing, inferred and labelled so where it does not), and the path of one
// KVM_RUN from its events and stacks.
#include "traces/cycle.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "traces/cycle_count.h"
#include "traces/report.h"

namespace kvmscope::traces {

std::string_view CycleBandName(CycleBand band) {
  switch (band) {
    case CycleBand::Vmm: return "VMM (user space)";
    case CycleBand::Kernel: return "KVM (host kernel)";
    case CycleBand::Guest: return "guest";
  }
  return "";
}

std::string_view CountKindName(CountKind kind) {
  switch (kind) {
    case CountKind::Measured: return "measured";
    case CountKind::Inferred: return "inferred";
    case CountKind::None: break;
  }
  return "";
}

bool CyclePath::Visits(CycleNodeId node) const {
  return std::any_of(steps.begin(), steps.end(), [&](const CycleStep& s) { return s.node == node; });
}

std::vector<CycleNodeId> CyclePath::Nodes() const {
  std::vector<CycleNodeId> out;
  for (const CycleStep& s : steps) out.push_back(s.node);
  return out;
}

// --- Functions → nodes ------------------------------------------------------------

namespace {

using N = CycleNodeId;

// Functions of the emulator path, which no chain lists.
constexpr std::string_view kEmulatorFunctions[] = {
    "x86_emulate_instruction", "x86_emulate_insn", "x86_decode_emulated_instruction",
    "kvm_emulate_instruction", "handle_emulation_failure", "pvm_emulate_insn_scrubbed",
    "pvm_emulate_one", "emulator_pio_out_emulated", "emulator_pio_in_emulated"};

// Chain steps → cycle nodes (the detailed chain's steps fold into one node).
struct ChainStepNode {
  ChainId chain;
  std::string_view step;
  CycleNodeId node;
};
constexpr ChainStepNode kStepNodes[] = {
    {ChainId::Init, "vendor_init", N::ModuleLoad},   {ChainId::Init, "vendor_setup", N::ModuleLoad},
    {ChainId::Init, "kvm_init", N::ModuleLoad},      {ChainId::Init, "dev_ioctl", N::CreateVm},
    {ChainId::Init, "create_vm", N::CreateVm},       {ChainId::Init, "vm_ioctl", N::CreateVcpu},
    {ChainId::Init, "create_vcpu", N::CreateVcpu},   {ChainId::RunLoop, "vcpu_ioctl", N::ArchRun},
    {ChainId::RunLoop, "arch_run", N::ArchRun},      {ChainId::RunLoop, "vcpu_run", N::RunLoop},
    {ChainId::RunLoop, "enter_guest", N::RunLoop},   {ChainId::RunLoop, "vendor_run", N::VendorEntry},
    {ChainId::RunLoop, "vendor_exit", N::ExitHandler}, {ChainId::RunLoop, "exit_table", N::ExitHandler},
    {ChainId::Exceptions, "exception_exit", N::ExitHandler},
    {ChainId::Exceptions, "queue", N::Exception},    {ChainId::Exceptions, "inject", N::Exception},
    {ChainId::Exceptions, "vendor_inject", N::Exception},
    {ChainId::PageFaults, "fault_exit", N::ExitHandler}, {ChainId::PageFaults, "handle_pf", N::PageFault},
    {ChainId::PageFaults, "mmu_pf", N::PageFault},   {ChainId::PageFaults, "do_pf", N::PageFault},
    {ChainId::PageFaults, "handler", N::PageFault},  {ChainId::PageFaults, "walk", N::PageFault},
    {ChainId::PageFaults, "fetch", N::PageFault},    {ChainId::PageFaults, "tdp_map", N::PageFault},
    {ChainId::PageFaults, "set_spte", N::PageFault}};

// Frames that mean a step more precisely than the chain table (a fault
// handler such as pvm_handle_native_exit is in both the exception and the
// page-fault chain: it stays the exit handler).
std::optional<CycleNodeId> SpecificNode(std::string_view base) {
  for (std::string_view f : kEmulatorFunctions)
    if (f == base) return N::Emulate;
  if (base == "kvm_mmu_page_fault" || base == "kvm_handle_page_fault") return N::PageFault;
  return std::nullopt;
}

}  // namespace

std::optional<CycleNodeId> NodeOfFunction(std::string_view function) {
  const std::string_view base = BaseName(function);
  if (auto n = SpecificNode(base)) return n;
  for (const ChainStepNode& s : kStepNodes) {
    const ChainNode* node = GetChain(s.chain).Node(s.step);
    if (node == nullptr) continue;
    for (const Alternative& a : node->alternatives)
      if (a.function == base) return s.node;
  }
  return std::nullopt;
}

// The innermost frame that enters a side step (the MMU's fault entry, the
// emulator, exception injection) decides, so that a guest page-table walk
// made by the emulator is the emulator's; else the innermost frame that
// belongs to a node, leaving out the MMU's inner steps (they also serve the
// emulator's address translation).
std::optional<CycleNodeId> NodeOfStack(const TraceData& trace, const Stack& frames) {
  std::optional<CycleNodeId> fallback;
  for (uint64_t addr : frames) {  // innermost first
    const Symbol* s = trace.symbols.Find(addr);
    if (s == nullptr) continue;
    const std::string_view base = BaseName(s->name);
    if (auto n = SpecificNode(base)) return n;
    const std::optional<CycleNodeId> n = NodeOfFunction(base);
    if (n == N::Exception) return n;
    if (!fallback && n && n != N::PageFault) fallback = n;
  }
  return fallback;
}

namespace {

using cycle_detail::Classifier;
using cycle_detail::Side;

// The path of the run at a time, its kernel events classified by `classify`.
std::optional<CyclePath> PathAtWith(const TraceData& trace, uint32_t track, int64_t time_ns,
                                    const Classifier& classify);

// --- The node skeleton ---------------------------------------------------------------

void SetNode(CycleModel& m, CycleNodeId id, CycleBand band, std::string title, std::string caption,
             std::optional<ChainId> chain = std::nullopt, bool init = false) {
  CycleNode& n = m.nodes[static_cast<size_t>(id)];
  n.id = id;
  n.band = band;
  n.title = std::move(title);
  n.caption = std::move(caption);
  n.chain = chain;
  n.init = init;
}

void SetArc(CycleModel& m, CycleArcId id, CycleNodeId from, CycleNodeId to, std::string label) {
  CycleArc& a = m.arcs[static_cast<size_t>(id)];
  a.id = id;
  a.from = from;
  a.to = to;
  a.label = std::move(label);
}

// Captions: true for every kernel the chains know, worded per backend where
// the hardware differs.
void Skeleton(CycleModel& m, Paging paging) {
  using B = CycleBand;
  const Vendor v = m.vendor;
  SetNode(m, N::ModuleLoad, B::Kernel, "module load",
          "At boot or modprobe the vendor module starts KVM and registers /dev/kvm.",
          ChainId::Init, true);
  SetNode(m, N::CreateVm, B::Kernel, "KVM_CREATE_VM",
          "The VMM asks /dev/kvm for a VM: KVM makes its memory map and MMU.", ChainId::Init, true);
  SetNode(m, N::CreateVcpu, B::Kernel, "KVM_CREATE_VCPU",
          "The VMM adds a vCPU; KVM_RUN is called on its file descriptor.", ChainId::Init, true);
  SetNode(m, N::VmmRun, B::Vmm, "ioctl(KVM_RUN)",
          "The VMM's vCPU thread hands the CPU to KVM until an exit needs the VMM.");
  SetNode(m, N::ArchRun, B::Kernel, "x86 KVM_RUN",
          "x86 KVM's KVM_RUN: loads the vCPU's state, then runs the loop.", ChainId::RunLoop);
  SetNode(m, N::RunLoop, B::Kernel, "run loop",
          "vcpu_run loops: vcpu_enter_guest injects pending events, enters, handles the exit.",
          ChainId::RunLoop);
  SetNode(m, N::VendorEntry, B::Kernel, "VM entry",
          v == Vendor::Vmx   ? "VMLAUNCH / VMRESUME loads the guest's state from the VMCS."
          : v == Vendor::Svm ? "VMRUN loads the guest's state from the VMCB."
          : v == Vendor::Pvm ? "PVM's switcher enters the guest (no VMX or SVM instructions)."
                             : "The vendor code switches the CPU to the guest.",
          ChainId::RunLoop);
  SetNode(m, N::GuestRuns, B::Guest, "guest runs",
          "The guest's code runs until it does something the host must handle.");
  SetNode(m, N::VmExit, B::Guest, "VM exit",
          v == Vendor::Vmx   ? "The CPU saves the guest in the VMCS and returns to KVM with a reason."
          : v == Vendor::Svm ? "#VMEXIT: the CPU saves the guest in the VMCB and returns to KVM."
          : v == Vendor::Pvm ? "A trap, syscall or interrupt in the guest switches back to KVM."
                             : "The CPU leaves the guest and returns to KVM with a reason.");
  SetNode(m, N::ExitHandler, B::Kernel, "exit handler",
          "Looks at why the guest exited and runs the handler for that reason.",
          ChainId::Exceptions);
  SetNode(m, N::Emulate, B::Kernel, "instruction emulator",
          "KVM decodes and runs a guest instruction in software.", ChainId::RunLoop);
  SetNode(m, N::PageFault, B::Kernel, "page fault",
          paging == Paging::Shadow ? "The MMU walks the guest's page tables and fills the shadow entry."
          : paging == Paging::Tdp  ? "The MMU maps the guest-physical page in EPT/NPT."
                                   : "The MMU maps a guest page that is not mapped yet.",
          ChainId::PageFaults);
  SetNode(m, N::Exception, B::Kernel, "exception injection",
          "A queued exception (#PF, #UD, ...) is delivered to the guest at the next entry.",
          ChainId::Exceptions);
  SetNode(m, N::VmmHandles, B::Vmm, "VMM handles the exit",
          "The VMM reads kvm_run's exit_reason and emulates the device (port, MMIO).");

  using A = CycleArcId;
  SetArc(m, A::InitToRun, N::CreateVcpu, N::VmmRun, "then");
  SetArc(m, A::RunCall, N::VmmRun, N::ArchRun, "KVM_RUN");
  SetArc(m, A::IntoLoop, N::ArchRun, N::RunLoop, "");
  SetArc(m, A::Enter, N::RunLoop, N::VendorEntry, "enter");
  SetArc(m, A::EntryToGuest, N::VendorEntry, N::GuestRuns, "VM entry");
  SetArc(m, A::GuestToExit, N::GuestRuns, N::VmExit, "");
  SetArc(m, A::ExitToHandler, N::VmExit, N::ExitHandler, "VM exit");
  SetArc(m, A::HandledInKernel, N::ExitHandler, N::RunLoop, "handled in the kernel");
  SetArc(m, A::ToEmulate, N::ExitHandler, N::Emulate, "emulate");
  SetArc(m, A::ToPageFault, N::ExitHandler, N::PageFault, "page fault");
  SetArc(m, A::ToException, N::ExitHandler, N::Exception, "exception for the guest");
  SetArc(m, A::ReturnToVmm, N::ExitHandler, N::VmmHandles, "returned to the VMM");
  SetArc(m, A::RunAgain, N::VmmHandles, N::VmmRun, "KVM_RUN again");
}

// --- Kernel names and statuses ------------------------------------------------------

std::string StatusText(const CycleNode& n, const NodeMatch* match) {
  switch (n.status) {
    case CycleNodeStatus::Observed:
      return fmt::format("observed ({} events)", n.stack_events);
    case CycleNodeStatus::Present:
      if (match != nullptr && match->node->phase == Phase::Load) return "present, runs at load";
      if (match != nullptr && match->ioctl_count > 0)
        return fmt::format("present; {} ×{}", match->node->ioctl, match->ioctl_count);
      return "present, not seen";
    case CycleNodeStatus::Inlined: return "inlined into " + n.inlined_into;
    case CycleNodeStatus::Absent: return "no symbol on this kernel";
    case CycleNodeStatus::NotApplicable: return match != nullptr ? "n/a: " + match->note : "n/a";
    case CycleNodeStatus::NotTraced: return "not traced";
    case CycleNodeStatus::NotKernel: break;
  }
  return "";
}

// Names a node from its chain step: the function this kernel uses (the
// recorded backend's when the stacks and symbols cannot tell), its status.
void FromChain(CycleNode& node, const ChainMatch& match, std::string_view step, Vendor vendor) {
  const NodeMatch* n = match.Node(step);
  if (n == nullptr) return;
  size_t alt = static_cast<size_t>(n->chosen - n->node->alternatives.data());
  if (match.vendor == Vendor::Any && vendor != Vendor::Any)
    for (size_t i = 0; i < n->node->alternatives.size(); ++i)
      if (n->node->alternatives[i].vendor == vendor) {
        alt = i;
        break;
      }
  node.function = std::string(n->node->alternatives[alt].function);
  const bool chosen = &n->node->alternatives[alt] == n->chosen;
  const NodeStatus status = chosen ? n->status : n->alternatives[alt].status;
  node.stack_events = status == NodeStatus::Observed ? n->alternatives[alt].use.events : 0;
  switch (status) {
    case NodeStatus::Observed: node.status = CycleNodeStatus::Observed; break;
    case NodeStatus::PresentNotObserved: node.status = CycleNodeStatus::Present; break;
    case NodeStatus::NotApplicable: node.status = CycleNodeStatus::NotApplicable; break;
    case NodeStatus::Absent:
      if (chosen && n->absent_reason == AbsentReason::Inlined) {
        node.status = CycleNodeStatus::Inlined;
        node.inlined_into = n->inlined_into;
      } else {
        node.status = CycleNodeStatus::Absent;
      }
      break;
  }
  node.status_text = StatusText(node, chosen ? n : nullptr);
}

void NameKernelNodes(CycleModel& m, const TraceData& trace) {
  const KernelFacts facts = FactsOf(trace);
  m.kernel = facts.Describe();
  if (facts.vendor() != Vendor::Any) m.vendor = facts.vendor();
  Skeleton(m, m.vendor == Vendor::Pvm ? Paging::Shadow : facts.paging());
  const std::vector<ChainMatch> chains = MatchChains(facts);
  auto chain = [&](ChainId id) -> const ChainMatch& { return chains[static_cast<size_t>(id)]; };
  auto node = [&](CycleNodeId id) -> CycleNode& { return m.nodes[static_cast<size_t>(id)]; };
  FromChain(node(N::ModuleLoad), chain(ChainId::Init), "vendor_init", m.vendor);
  FromChain(node(N::CreateVm), chain(ChainId::Init), "create_vm", m.vendor);
  FromChain(node(N::CreateVcpu), chain(ChainId::Init), "create_vcpu", m.vendor);
  FromChain(node(N::ArchRun), chain(ChainId::RunLoop), "arch_run", m.vendor);
  FromChain(node(N::RunLoop), chain(ChainId::RunLoop), "enter_guest", m.vendor);
  FromChain(node(N::VendorEntry), chain(ChainId::RunLoop), "vendor_run", m.vendor);
  FromChain(node(N::ExitHandler), chain(ChainId::RunLoop), "vendor_exit", m.vendor);
  FromChain(node(N::PageFault), chain(ChainId::PageFaults), "mmu_pf", m.vendor);
  FromChain(node(N::Exception), chain(ChainId::Exceptions), "inject", m.vendor);
  // The emulator is in no chain: asked of the facts directly.
  CycleNode& emu = node(N::Emulate);
  emu.function = "x86_emulate_instruction";
  const FunctionUse use = facts.Through(emu.function);
  emu.stack_events = use.events;
  emu.status = use.stacks > 0           ? CycleNodeStatus::Observed
               : facts.Has(emu.function) ? CycleNodeStatus::Present
                                         : CycleNodeStatus::Absent;
  emu.status_text = emu.status == CycleNodeStatus::Absent ? "not in this trace's symbols"
                                                          : StatusText(emu, nullptr);
}

void NameWithoutKernel(CycleModel& m) {
  Skeleton(m, m.vendor == Vendor::Pvm ? Paging::Shadow : Paging::Any);
  // The backend's own names when the trace recorded which backend it was;
  // never another vendor's.
  auto pick = [&](ChainId chain, std::string_view step) -> std::string {
    const ChainNode* n = GetChain(chain).Node(step);
    if (n == nullptr || n->alternatives.empty()) return {};
    for (const Alternative& a : n->alternatives)
      if (a.vendor == m.vendor || (a.vendor == Vendor::Any && m.vendor != Vendor::Any)) return std::string(a.function);
    if (n->alternatives.front().vendor == Vendor::Any) return std::string(n->alternatives.front().function);
    return {};  // vendor unknown: no name rather than a wrong one
  };
  const std::pair<CycleNodeId, std::pair<ChainId, std::string_view>> names[] = {
      {N::ModuleLoad, {ChainId::Init, "vendor_init"}}, {N::CreateVm, {ChainId::Init, "create_vm"}},
      {N::CreateVcpu, {ChainId::Init, "create_vcpu"}}, {N::ArchRun, {ChainId::RunLoop, "arch_run"}},
      {N::RunLoop, {ChainId::RunLoop, "enter_guest"}}, {N::VendorEntry, {ChainId::RunLoop, "vendor_run"}},
      {N::ExitHandler, {ChainId::RunLoop, "vendor_exit"}}, {N::PageFault, {ChainId::PageFaults, "mmu_pf"}},
      {N::Exception, {ChainId::Exceptions, "inject"}}};
  for (const auto& [id, where] : names) {
    CycleNode& n = m.nodes[static_cast<size_t>(id)];
    n.function = pick(where.first, where.second);
    if (n.function.empty()) n.function = n.title;
  }
  m.nodes[static_cast<size_t>(N::Emulate)].function = "x86_emulate_instruction";
  for (CycleNode& n : m.nodes) {
    if (n.band != CycleBand::Kernel) continue;
    n.status = CycleNodeStatus::NotTraced;
    n.status_text = StatusText(n, nullptr);
  }
}

bool HasKernelData(const TraceData& trace, std::string& reason) {
  if (!trace.host.not_traced_reason.empty()) {
    reason = trace.host.not_traced_reason;
    return false;
  }
  if (trace.stacks.empty() && trace.symbols.size() == 0) {
    reason = trace.kernel_counts ? "no kernel stacks or symbols in this trace"
                                 : "the kernel was not traced";
    return false;
  }
  return true;
}

}  // namespace

// --- The model and its cache ------------------------------------------------------------

CycleModel BuildCycle(const TraceData& trace) {
  CycleCache cache;
  return cache.Update(trace);
}

CycleCache::CycleCache() = default;
CycleCache::~CycleCache() = default;
CycleCache::CycleCache(CycleCache&&) noexcept = default;
CycleCache& CycleCache::operator=(CycleCache&&) noexcept = default;

size_t CycleCache::full_counts() const { return m_counter ? m_counter->full_counts() : 0; }

std::optional<CyclePath> CycleCache::PathOf(const TraceData& trace, EventRef event) const {
  if (!m_counter) return PathOfEvent(trace, event);
  if (event.track >= trace.tracks.size() || event.index >= trace.tracks[event.track].events.size())
    return std::nullopt;
  return PathAtWith(trace, event.track, trace.At(event).time_ns, m_counter->classifier());
}

const CycleModel& CycleCache::Update(const TraceData& trace, double now, double min_interval) {
  const std::string host_key = trace.host.kernel_release + '\n' + trace.host.backend + '\n' +
                               trace.host.not_traced_reason;
  const bool other = &trace != m_trace;
  const bool facts = other || trace.stacks.size() != m_stacks ||
                     trace.symbols.size() != m_symbols || host_key != m_host_key;
  const size_t events = trace.EventCount();
  if (facts) {
    m_model = CycleModel();
    m_model.vendor = BackendVendor(trace.host.backend);
    m_model.kernel_data = HasKernelData(trace, m_model.no_kernel_reason);
    if (m_model.kernel_data)
      NameKernelNodes(m_model, trace);
    else
      NameWithoutKernel(m_model);
    for (CycleNode& n : m_model.nodes)
      if (n.band != CycleBand::Kernel) n.status = CycleNodeStatus::NotKernel;
    m_trace = &trace;
    m_stacks = trace.stacks.size();
    m_symbols = trace.symbols.size();
    m_host_key = host_key;
    ++m_facts_builds;
  }
  if (facts) m_counter = std::make_unique<cycle_detail::CycleCounter>(trace);
  if (facts || (events != m_events && now - m_counted_at >= min_interval)) {
    m_last_scanned = m_counter->Update(trace, m_incremental);
    m_counter->Fill(m_model, trace);
    m_events = events;
    m_counted_at = now;
    ++m_count_builds;
  }
  return m_model;
}

// --- The path of one KVM_RUN -------------------------------------------------------------

std::optional<CyclePath> PathAt(const TraceData& trace, uint32_t track, int64_t time_ns) {
  return PathAtWith(trace, track, time_ns, Classifier(trace));
}

namespace {

std::optional<CyclePath> PathAtWith(const TraceData& trace, uint32_t track, int64_t time_ns,
                                    const Classifier& classify) {
  if (track >= trace.tracks.size() || trace.tracks[track].kind != TrackKind::Vcpu) return std::nullopt;
  const Track& t = trace.tracks[track];
  const std::vector<Span>* runs = &t.spans[static_cast<size_t>(SpanKind::Run)];
  if (runs->empty()) runs = &t.spans[static_cast<size_t>(SpanKind::KernelRun)];
  // The last run that began at or before the time: the one around it, or the
  // one whose exit the VMM was handling.
  auto it = std::partition_point(runs->begin(), runs->end(),
                                 [&](const Span& s) { return s.begin_ns <= time_ns; });
  if (it == runs->begin()) return std::nullopt;
  CyclePath path;
  path.track = track;
  path.run = *(it - 1);
  const int64_t end_ns = path.run.end == kNoEvent ? INT64_MAX : path.run.end_ns;
  const EventRange inside = trace.Window(track, path.run.begin_ns, end_ns);
  const auto first = static_cast<uint32_t>(inside.first_index());
  std::optional<EventRef> vmm_enter, kernel_enter, kvm_entry, kvm_exit;
  for (uint32_t i = 0; i < inside.size(); ++i) {
    const EventRef ref{track, first + i};
    const Event& e = inside[i];
    if (e.type == VmmEventKind::RunEnter && !vmm_enter) vmm_enter = ref;
    if (e.type == VmmEventKind::RunExit) {
      path.exit = ref;
      path.exit_reason = static_cast<uint32_t>(e.a[0]);
      path.returned = true;
    }
    if (e.type.origin != Origin::Kernel) continue;
    path.kernel_events.push_back(ref);
    if (e.type == KernelEventKind::RunEnter && !kernel_enter) kernel_enter = ref;
    if (e.type == KernelEventKind::KvmEntry && !kvm_entry) kvm_entry = ref;
    if (e.type == KernelEventKind::KvmExit && !kvm_exit) kvm_exit = ref;
    if (e.type == KernelEventKind::RunExit) path.returned = true;
  }
  auto push = [&](CycleNodeId node, std::optional<CycleArcId> arc, std::optional<EventRef> ev,
                  uint64_t times = 1) {
    path.steps.push_back({node, arc, times, ev ? CountKind::Measured : CountKind::Inferred, ev});
  };
  using A = CycleArcId;
  push(N::VmmRun, std::nullopt, vmm_enter);
  push(N::ArchRun, A::RunCall, kernel_enter);
  push(N::RunLoop, A::IntoLoop, std::nullopt);
  push(N::VendorEntry, A::Enter, kvm_entry);
  push(N::GuestRuns, A::EntryToGuest, std::nullopt);
  push(N::VmExit, A::GuestToExit, kvm_exit);
  push(N::ExitHandler, A::ExitToHandler, std::nullopt);
  // The kernel's work, one segment per exit (kvm_exit where it fires) or per
  // change of side step (where it does not); equal neighbours fold.
  struct Visit {
    CycleNodeId node;
    uint64_t times = 1;
    CountKind evidence = CountKind::Measured;
    EventRef event;
  };
  using Segment = std::vector<Visit>;
  std::vector<Segment> segments;
  const bool by_exit = kvm_exit.has_value();
  bool seen_exit = false;
  for (const EventRef& ref : path.kernel_events) {
    const Event& e = trace.At(ref);
    if (by_exit && e.type == KernelEventKind::KvmExit) {
      if (seen_exit || segments.empty()) segments.emplace_back();
      seen_exit = true;
      continue;
    }
    const Side side = classify.Of(e);
    if (!side.node) continue;
    path.page_fault = path.page_fault || side.node == N::PageFault;
    path.exception = path.exception || side.node == N::Exception;
    if (segments.empty() || (!by_exit && segments.back().back().node != *side.node))
      segments.emplace_back();
    Segment& seg = segments.back();
    if (!seg.empty() && seg.back().node == *side.node)
      ++seg.back().times;
    else
      seg.push_back({*side.node, 1, side.evidence, ref});
  }
  if (by_exit) {  // fold consecutive exits that did the same work
    std::vector<Segment> folded;
    std::vector<uint64_t> exits;
    for (Segment& s : segments) {
      auto same = [&](const Segment& o) {
        return o.size() == s.size() &&
               std::equal(o.begin(), o.end(), s.begin(),
                          [](const Visit& a, const Visit& b) { return a.node == b.node; });
      };
      if (!folded.empty() && same(folded.back())) {
        for (size_t i = 0; i < s.size(); ++i) folded.back()[i].times += s[i].times;
      } else {
        folded.push_back(std::move(s));
      }
    }
    segments = std::move(folded);
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) {
      push(N::RunLoop, A::HandledInKernel, std::nullopt);
      push(N::VendorEntry, A::Enter, std::nullopt);
      push(N::GuestRuns, A::EntryToGuest, std::nullopt);
      push(N::VmExit, A::GuestToExit, std::nullopt);
      push(N::ExitHandler, A::ExitToHandler, std::nullopt);
    }
    for (const Visit& v : segments[i]) {
      const A arc = v.node == N::PageFault   ? A::ToPageFault
                    : v.node == N::Exception ? A::ToException
                                             : A::ToEmulate;
      path.steps.push_back({v.node, arc, v.times, v.evidence, v.event});
    }
  }
  if (path.exit) push(N::VmmHandles, A::ReturnToVmm, path.exit);
  path.emulation_unstreamed = trace.kernel_counts &&
                              trace.kernel_counts->CountedOnly(KernelEventKind::EmulateInsn) &&
                              !path.Visits(N::Emulate);
  return path;
}

}  // namespace

std::optional<CyclePath> PathOfEvent(const TraceData& trace, EventRef event) {
  if (event.track >= trace.tracks.size() || event.index >= trace.tracks[event.track].events.size())
    return std::nullopt;
  return PathAt(trace, event.track, trace.At(event).time_ns);
}

}  // namespace kvmscope::traces

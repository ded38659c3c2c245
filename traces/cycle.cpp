// The KVM cycle model: nodes named from the chain matching of this kernel,
// arc counts from one pass over the events (measured where an event records
// the thing, inferred and labelled so where it does not), and the path of one
// KVM_RUN from its events and stacks.
#include "traces/cycle.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

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

// --- Classifying kernel events ---------------------------------------------------

namespace {

// Which side step of the exit handler an event shows, and how we know.
struct Side {
  std::optional<CycleNodeId> node;  // Emulate, PageFault or Exception
  CountKind evidence = CountKind::None;
};

bool IsMmuKind(KernelEventKind k) {
  return k == KernelEventKind::MmuWalk || k == KernelEventKind::MmuSetSpte ||
         k == KernelEventKind::MmuWalkerError;
}

// What the captured stacks of a trace say per stack and per event kind: an
// MMU event without a stack of its own is put on the page-fault (or
// emulator) path only when every captured stack of its kind went there.
class Classifier {
 public:
  explicit Classifier(const TraceData& trace) : m_trace(trace) {
    m_stack_node.resize(trace.stacks.size());
    for (size_t id = 0; id < trace.stacks.size(); ++id)
      m_stack_node[id] = NodeOfStack(trace, trace.stacks[id]);
    for (const Track& t : trace.tracks)
      for (const Event& e : t.events) {
        if (e.type.origin != Origin::Kernel || e.stack_id < 0 || !IsMmuKind(e.type.kernel())) continue;
        KindStacks& k = m_kinds[e.type.kind];
        const std::optional<CycleNodeId> n = StackNode(e.stack_id);
        ++k.total;
        k.page_fault += n == N::PageFault;
        k.emulate += n == N::Emulate;
      }
  }

  Side Of(const Event& e) const {
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
    const KindStacks& k = m_kinds[e.type.kind];
    if (k.total > 0 && k.page_fault == k.total) return {N::PageFault, CountKind::Inferred};
    if (k.total > 0 && k.emulate == k.total) return {N::Emulate, CountKind::Inferred};
    return {};
  }

 private:
  struct KindStacks {
    uint64_t total = 0, page_fault = 0, emulate = 0;
  };
  std::optional<CycleNodeId> StackNode(int32_t id) const {
    return static_cast<size_t>(id) < m_stack_node.size() ? m_stack_node[static_cast<size_t>(id)]
                                                         : std::nullopt;
  }
  const TraceData& m_trace;
  std::vector<std::optional<CycleNodeId>> m_stack_node;
  std::array<KindStacks, kKernelEventKinds> m_kinds{};
};

// --- The node skeleton ---------------------------------------------------------------

Vendor VendorOfBackend(std::string_view backend) {
  if (backend.find("PVM") != std::string_view::npos) return Vendor::Pvm;
  if (backend.find("VMX") != std::string_view::npos || backend.find("Intel") != std::string_view::npos)
    return Vendor::Vmx;
  if (backend.find("SVM") != std::string_view::npos || backend.find("AMD") != std::string_view::npos)
    return Vendor::Svm;
  return Vendor::Any;
}

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

// --- Counts ----------------------------------------------------------------------------

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

std::string HardwareExitName(const Event& e) {
  const ExitIsa isa = static_cast<ExitIsa>(e.a[2]);
  std::string_view name;
  if (isa == ExitIsa::Vmx) name = VmxExitReasonName(static_cast<uint32_t>(e.a[0] & 0xffff));
  if (isa == ExitIsa::Svm) name = SvmExitCodeName(e.a[0]);
  return name.empty() ? fmt::format("reason {:#x}", e.a[0]) : std::string(name);
}

void Count(CycleModel& m, const TraceData& trace) {
  for (CycleArc& a : m.arcs) {
    a.count = {};
    a.reasons.clear();
  }
  for (CycleNode& n : m.nodes) n.count = {};
  std::array<uint64_t, kEventTypes> by_type{};
  std::map<std::string, uint64_t> vmm_exits, hw_handled, vectors, ioctls;
  uint64_t run_again = 0, handled = 0, pf_episodes = 0, pf_inferred_events = 0;
  const Classifier classify(trace);
  for (const Track& t : trace.tracks) {
    bool exited = false, in_fault = false;
    std::optional<std::string> pending_exit;  // the reason of a kvm_exit not yet resolved
    for (const Event& e : t.events) {
      ++by_type[e.type.index()];
      if (e.type == VmmEventKind::RunExit) {
        ++vmm_exits[KvmExitName(static_cast<uint32_t>(e.a[0]))];
        exited = true;
      } else if (e.type == VmmEventKind::RunEnter) {
        run_again += exited;
        exited = false;
      } else if (e.type == VmmEventKind::Ioctl && static_cast<int64_t>(e.a[0]) >= 0) {
        ++ioctls[std::string(trace.Text(e.text))];
      } else if (e.type == KernelEventKind::InjException) {
        const std::string_view mn = ExceptionMnemonic(static_cast<uint32_t>(e.a[0]));
        ++vectors[mn.empty() ? fmt::format("vector {}", e.a[0]) : std::string(mn)];
      }
      // A kvm_exit followed by a kvm_entry in the same KVM_RUN was handled in the kernel.
      if (e.type == KernelEventKind::KvmExit) {
        pending_exit = HardwareExitName(e);
      } else if (e.type == KernelEventKind::KvmEntry && pending_exit) {
        ++handled;
        ++hw_handled[*pending_exit];
        pending_exit.reset();
      } else if (e.type == KernelEventKind::RunExit || e.type == VmmEventKind::RunExit) {
        pending_exit.reset();
      }
      if (e.type.origin != Origin::Kernel) continue;
      const Side side = classify.Of(e);
      const bool fault = side.node == N::PageFault;
      if (fault && !in_fault) ++pf_episodes;
      if (fault && side.evidence == CountKind::Inferred) ++pf_inferred_events;
      in_fault = fault;
    }
  }
  auto count = [&](EventType t) { return by_type[t.index()]; };
  auto set = [](CycleCount& c, uint64_t v, CountKind k, std::string what) {
    c = {v, k, std::move(what)};
  };
  auto node = [&](CycleNodeId id) -> CycleNode& { return m.nodes[static_cast<size_t>(id)]; };
  auto arc = [&](CycleArcId id) -> CycleArc& { return m.arcs[static_cast<size_t>(id)]; };
  using A = CycleArcId;
  using K = KernelEventKind;
  const uint64_t runs = count(VmmEventKind::RunEnter);
  set(node(N::VmmRun).count, runs, CountKind::Measured, "KVM_RUN calls (VMM events)");
  set(arc(A::RunCall).count, runs, CountKind::Measured, "KVM_RUN calls (VMM events)");
  set(arc(A::RunAgain).count, run_again, CountKind::Measured, "KVM_RUN after an exit (VMM events)");
  set(node(N::VmmHandles).count, count(VmmEventKind::DeviceAccess), CountKind::Measured,
      "device accesses emulated (VMM events)");
  set(arc(A::ReturnToVmm).count, count(VmmEventKind::RunExit), CountKind::Measured,
      "KVM_RUN returns by KVM_EXIT_* reason (VMM events)");
  arc(A::ReturnToVmm).reasons = Sorted(vmm_exits);
  for (auto [id, name] : {std::pair{N::CreateVm, "KVM_CREATE_VM"}, {N::CreateVcpu, "KVM_CREATE_VCPU"}})
    if (ioctls.count(name)) set(node(id).count, ioctls[name], CountKind::Measured, std::string(name) + " calls (VMM events)");
  if (!m.kernel_data) return;  // no kernel side: VMM counts only

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
    arc(A::HandledInKernel).reasons = Sorted(hw_handled);
  } else if (count(K::ExitHandler) > 0) {
    set(arc(A::ExitToHandler).count, count(K::ExitHandler), CountKind::Measured,
        "exit handler entries (probe)");
    const uint64_t out = count(VmmEventKind::RunExit);
    set(arc(A::HandledInKernel).count, count(K::ExitHandler) > out ? count(K::ExitHandler) - out : 0,
        CountKind::Inferred, "exit handler entries minus exits returned to the VMM");
  } else {
    arc(A::ExitToHandler).count.what = "kvm_exit does not fire on this backend: exits are not counted";
    std::map<std::string, uint64_t> work;
    if (count(K::EmulateInsn)) work["kvm_emulate_insn"] = count(K::EmulateInsn);
    if (pf_episodes) work["page faults"] = pf_episodes;
    uint64_t sum = 0;
    for (const auto& [k, n] : work) sum += n;
    set(arc(A::HandledInKernel).count, sum, CountKind::Inferred,
        "kernel work inside KVM_RUN (kvm_exit does not fire here)");
    arc(A::HandledInKernel).reasons = Sorted(work);
  }
  set(node(N::Emulate).count, count(K::EmulateInsn), CountKind::Measured, "kvm_emulate_insn events");
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
  arc(A::ToException).reasons = Sorted(vectors);
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

const CycleModel& CycleCache::Update(const TraceData& trace, double now, double min_interval) {
  const std::string host_key = trace.host.kernel_release + '\n' + trace.host.backend + '\n' +
                               trace.host.not_traced_reason;
  const bool other = &trace != m_trace;
  const bool facts = other || trace.stacks.size() != m_stacks ||
                     trace.symbols.size() != m_symbols || host_key != m_host_key;
  const size_t events = trace.EventCount();
  if (facts) {
    m_model = CycleModel();
    m_model.vendor = VendorOfBackend(trace.host.backend);
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
  if (facts || (events != m_events && now - m_counted_at >= min_interval)) {
    Count(m_model, trace);
    m_events = events;
    m_counted_at = now;
    ++m_count_builds;
  }
  return m_model;
}

// --- The path of one KVM_RUN -------------------------------------------------------------

std::optional<CyclePath> PathAt(const TraceData& trace, uint32_t track, int64_t time_ns) {
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
  const std::span<const Event> inside = trace.Window(track, path.run.begin_ns, end_ns);
  const uint32_t first = static_cast<uint32_t>(inside.data() - t.events.data());
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
  const Classifier classify(trace);
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
  return path;
}

std::optional<CyclePath> PathOfEvent(const TraceData& trace, EventRef event) {
  if (event.track >= trace.tracks.size() || event.index >= trace.tracks[event.track].events.size())
    return std::nullopt;
  return PathAt(trace, event.track, trace.At(event).time_ns);
}

}  // namespace kvmscope::traces

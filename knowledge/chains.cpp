// The four call chains as data, each fact with where it was checked (see
// chains.h and docs/kernel-facts.md).
#include "knowledge/chains.h"

namespace kvmscope::knowledge {

// --- The chains ----------------------------------------------------------------

namespace {

// The chains are tables, one row per function or link: keep them compact.
// clang-format off
constexpr VersionRange Until(int major, int minor) { return {kOldestKernel, {major, minor}}; }
constexpr VersionRange From(int major, int minor) { return {{major, minor}, kNewestKernel}; }

using Files = std::vector<SourceFile>;
Files One(std::string_view path) { return {{VersionRange{}, path}}; }
// vmx.c became vmx/vmx.c in 5.0, svm.c svm/svm.c in 5.8; mmu.c and
// paging_tmpl.h moved into mmu/ in 5.5.
Files Moved(VersionRange old_versions, std::string_view old_path, VersionRange new_versions,
            std::string_view new_path) {
  return {{old_versions, old_path}, {new_versions, new_path}};
}
Files VmxC() {
  return Moved(Until(4, 20), "arch/x86/kvm/vmx.c", From(5, 0), "arch/x86/kvm/vmx/vmx.c");
}
Files SvmC() {
  return Moved(Until(5, 7), "arch/x86/kvm/svm.c", From(5, 8), "arch/x86/kvm/svm/svm.c");
}
Files MmuC() {
  return Moved(Until(5, 4), "arch/x86/kvm/mmu.c", From(5, 5), "arch/x86/kvm/mmu/mmu.c");
}
Files PagingTmpl() {
  return Moved(Until(5, 4), "arch/x86/kvm/paging_tmpl.h", From(5, 5),
               "arch/x86/kvm/mmu/paging_tmpl.h");
}
// kvm_mmu_do_page_fault is a static inline of mmu.h, of mmu/mmu_internal.h
// from about 6.0; a symbol only where the compiler keeps a copy.
Files DoPfH() {
  return Moved({{5, 6}, {5, 19}}, "arch/x86/kvm/mmu.h", From(6, 0),
               "arch/x86/kvm/mmu/mmu_internal.h");
}
Files PvmC() { return One("arch/x86/kvm/pvm/pvm.c"); }
Files X86C() { return One("arch/x86/kvm/x86.c"); }
Files MainC() { return One("virt/kvm/kvm_main.c"); }

Alternative Fn(std::string_view name, Files files, VersionRange versions = {},
               Vendor vendor = Vendor::Any, Paging paging = Paging::Any) {
  Alternative alt;
  alt.function = name;
  alt.vendor = vendor;
  alt.paging = paging;
  alt.versions = versions;
  alt.files = std::move(files);
  return alt;
}
Alternative InitFn(std::string_view name, Files files, VersionRange versions, Vendor vendor) {
  Alternative alt = Fn(name, std::move(files), versions, vendor);
  alt.init_text = true;
  return alt;
}
// Where a function's range was checked in the sources (Alternative::checked).
Alternative Checked(Alternative alt, std::string_view where, bool unverified = false) {
  alt.evidence = {where, unverified};
  return alt;
}
// A step of one layout: decided by whether `symbol` exists (Alternative::if_symbol).
Alternative IfSymbol(Alternative alt, std::string_view symbol, bool present) {
  alt.if_symbol = symbol;
  alt.if_present = present;
  return alt;
}
// A call, visible in stacks where both ends have symbols.
ChainEdge Call(std::string_view from, std::string_view to, VersionRange versions = {},
               Paging paging = Paging::Any, std::string_view note = {}) {
  return ChainEdge{from, to, EdgeKind::Calls, Vendor::Any, paging, versions, note, {}, true, {}, {}};
}
ChainEdge IfSymbol(ChainEdge edge, std::string_view symbol, bool present) {
  edge.if_symbol = symbol;
  edge.if_present = present;
  return edge;
}
// A call the caller can make as a jump (ChainEdge::tail_call).
ChainEdge Tail(ChainEdge edge, std::string_view where) {
  edge.tail_call = where;
  return edge;
}
// Not a call: `to` runs later (see EdgeKind::Later).
ChainEdge Then(std::string_view from, std::string_view to, std::string_view note) {
  return ChainEdge{from, to, EdgeKind::Later, Vendor::Any, Paging::Any, {}, note, {}, true, {}, {}};
}

// Since 5.11/5.12 (approximate, as the run loop's exit_table) the vendor's
// exit handler hands the reason to a table function; before, it looked the
// handler up itself.
constexpr std::string_view kSvmTableTail =
    "svm_handle_exit ends in return svm_invoke_exit_handler() (6.1-rc7 svm/svm.c)";
constexpr std::string_view kHandlerTail =
    "svm_invoke_exit_handler / __vmx_handle_exit end in return <handler>(vcpu) (6.1-rc7)";

// Steps that several chains share.
ChainNode VcpuIoctlNode(std::string_view teaching) {
  return {"vcpu_ioctl", "ioctl on a vCPU fd", Phase::Run, "KVM_RUN",
          {Fn("kvm_vcpu_ioctl", MainC())}, teaching};
}
ChainNode ArchRunNode() {
  return {"arch_run", "x86 KVM_RUN", Phase::Run, "", {Fn("kvm_arch_vcpu_ioctl_run", X86C())},
          "x86's KVM_RUN: loads the registers user space set in kvm_run, runs the loop and returns "
          "to the VMM when an exit needs it."};
}
ChainNode EnterGuestNode() {
  return {"enter_guest", "one guest entry", Phase::Run, "", {Fn("vcpu_enter_guest", X86C())},
          "One trip into the guest: inject pending events, enter through the vendor, then give the "
          "exit to the vendor's exit handler."};
}
ChainNode VendorExitNode() {
  return {"vendor_exit", "vendor exit handler", Phase::Run, "",
          {Fn("vmx_handle_exit", VmxC(), {}, Vendor::Vmx),
           Fn("svm_handle_exit", SvmC(), {}, Vendor::Svm),
           Fn("pvm_handle_exit", PvmC(), {}, Vendor::Pvm)},
          "Reads why the guest exited and calls the handler for that exit reason; returning 0 "
          "means the exit goes out to user space."};
}

ChainNode ExitTableNode() {
  return {"exit_table", "exit handler table", Phase::Run, "",
          {Fn("__vmx_handle_exit", VmxC(), From(5, 12), Vendor::Vmx),
           Fn("svm_invoke_exit_handler", SvmC(), From(5, 11), Vendor::Svm),
           Fn("__pvm_handle_exit", PvmC(), {}, Vendor::Pvm)},
          "Looks the exit reason up in the vendor's handler table (kvm_vmx_exit_handlers, "
          "svm_exit_handlers): one handler function per exit reason."};
}

Chain InitChain() {
  return {ChainId::Init, "init", "VM and module initialization",
    "Module load brings up KVM and /dev/kvm; later the VMM's ioctls make a VM and its vCPUs. None "
    "of it runs inside KVM_RUN, so stacks rarely show it: symbols and ioctl counts do.",
    {{"vendor_init", "vendor module init", Phase::Load, "",
      {InitFn("vt_init", One("arch/x86/kvm/vmx/main.c"), From(6, 16), Vendor::Vmx),
       InitFn("vmx_init", VmxC(), Until(6, 15), Vendor::Vmx),
       InitFn("svm_init", SvmC(), {}, Vendor::Svm),
       InitFn("pvm_init", PvmC(), From(6, 7), Vendor::Pvm)},
      "The module_init() of kvm_intel, kvm_amd or kvm_pvm: checks the hardware and brings up "
      "generic KVM, once, at module load or boot."},
     {"vendor_setup", "x86 and vendor setup", Phase::Load, "",
      // Stable kernels backport the 6.3 layout (Debian's 6.1.0-57 has it, with
      // kvm_arch_init an empty stub): the symbol decides, the version only
      // without symbols.
      {IfSymbol(Checked(Fn("kvm_x86_vendor_init", X86C(), From(6, 3)),
                        "absent in 6.2.1, present in 6.3.8: arch/x86/kvm/x86.c"),
                "kvm_x86_vendor_init", true),
       IfSymbol(Checked(Fn("kvm_arch_init", X86C(), Until(6, 2)),
                        "the step in 6.2.1 (kvm_init calls it); 6.3.8 has no kvm_arch_init"),
                "kvm_x86_vendor_init", false)},
      "Checks that virtualization is usable and installs the vendor's kvm_x86_ops; in the old "
      "layout kvm_init called kvm_arch_init, in the 6.3 layout the vendor init calls "
      "kvm_x86_vendor_init before kvm_init."},
     {"kvm_init", "generic KVM init", Phase::Load, "", {Fn("kvm_init", MainC())},
      "Generic KVM (virt/kvm/kvm_main.c, never vmx.c): registers /dev/kvm; it calls no ioctl "
      "handler, those run later on the VMM's ioctls."},
     {"dev_ioctl", "ioctl on /dev/kvm", Phase::Setup, "KVM_CREATE_VM",
      {Fn("kvm_dev_ioctl", MainC())},
      "The ioctl handler of /dev/kvm: capability checks and KVM_CREATE_VM."},
     {"create_vm", "create a VM", Phase::Setup, "KVM_CREATE_VM",
      {Fn("kvm_dev_ioctl_create_vm", MainC())},
      "Makes the struct kvm (memory slots, MMU, in-kernel devices) and returns the VM fd."},
     {"vm_ioctl", "ioctl on a VM fd", Phase::Setup, "KVM_CREATE_VCPU",
      {Fn("kvm_vm_ioctl", MainC())},
      "The ioctl handler of a VM fd: memory regions, irqchip, KVM_CREATE_VCPU."},
     {"create_vcpu", "create a vCPU", Phase::Setup, "KVM_CREATE_VCPU",
      {Fn("kvm_vm_ioctl_create_vcpu", MainC())},
      "Makes a vCPU and its fd, whose file operations are kvm_vcpu_fops: .unlocked_ioctl = "
      "kvm_vcpu_ioctl, .compat_ioctl = kvm_vcpu_compat_ioctl."},
     VcpuIoctlNode("Where a 64-bit VMM's ioctls on a vCPU fd arrive, KVM_RUN included: the door "
                   "from the VMM into the run loop."),
     {"compat_ioctl", "32-bit ioctl on a vCPU fd", Phase::Run, "",
      {Fn("kvm_vcpu_compat_ioctl", MainC())},
      "Only for a 32-bit VMM on a 64-bit kernel: converts a few arguments and calls "
      "kvm_vcpu_ioctl."}},
    {IfSymbol(Call("vendor_init", "vendor_setup", From(6, 3)), "kvm_x86_vendor_init", true),
     Call("vendor_init", "kvm_init"),
     IfSymbol(Call("kvm_init", "vendor_setup", Until(6, 2)), "kvm_x86_vendor_init", false),
     Then("kvm_init", "dev_ioctl", "registers /dev/kvm; its ioctls come later, from the VMM"),
     Call("dev_ioctl", "create_vm"),
     Then("create_vm", "vm_ioctl", "the VMM's next ioctls go to the new VM fd"),
     Call("vm_ioctl", "create_vcpu"),
     Then("create_vcpu", "vcpu_ioctl", "the vCPU fd carries kvm_vcpu_fops; its ioctls come later"),
     Call("compat_ioctl", "vcpu_ioctl")},
    ""};
}

Chain RunLoopChain() {
  return {ChainId::RunLoop, "run", "The run loop",
    "Each KVM_RUN ioctl enters the guest and handles exits in the kernel until one needs the VMM.",
    {VcpuIoctlNode("The vCPU fd's ioctl handler; for KVM_RUN it calls the architecture's run "
                   "function."),
     ArchRunNode(),
     {"vcpu_run", "the run loop", Phase::Run, "",
      {Fn("vcpu_run", X86C(), From(4, 0)), Fn("__vcpu_run", X86C(), Until(3, 19))},
      "The loop itself: enter the guest, handle the exit in the kernel, repeat until something "
      "needs user space (I/O, MMIO, a signal)."},
     EnterGuestNode(),
     {"vendor_run", "VM entry", Phase::Run, "",
      {Fn("vmx_vcpu_run", VmxC(), {}, Vendor::Vmx), Fn("svm_vcpu_run", SvmC(), {}, Vendor::Svm),
       Fn("pvm_vcpu_run", PvmC(), {}, Vendor::Pvm)},
      "Switches to the guest (VMRESUME, VMRUN, PVM's switcher) and returns at the next VM exit, "
      "before the exit is handled: no exit handler's stack contains it."},
     VendorExitNode(),
     // The table lookup became a function of its own in these versions
     // (approximate); before, it sat inside *_handle_exit.
     ExitTableNode()},
    {Call("vcpu_ioctl", "arch_run"),
     Call("arch_run", "vcpu_run"),
     Call("vcpu_run", "enter_guest"),
     Call("enter_guest", "vendor_run"),
     Then("vendor_run", "vendor_exit",
          "the VM exit returns from the entry, then vcpu_enter_guest calls the handler"),
     Call("enter_guest", "vendor_exit"),
     Tail(Call("vendor_exit", "exit_table"), kSvmTableTail)},
    ""};
}


Chain ExceptionsChain() {
  return {ChainId::Exceptions, "exceptions", "Exception handling",
    "An exception the guest takes may exit to KVM, which handles or reflects it; exceptions for "
    "the guest are queued and injected at the next entry.",
    {ArchRunNode(),
     EnterGuestNode(),
     VendorExitNode(),
     ExitTableNode(),
     {"exception_exit", "exception exit handler", Phase::Run, "",
      {Fn("handle_exception_nmi", VmxC(), From(5, 2), Vendor::Vmx),
       Fn("handle_exception", VmxC(), Until(5, 1), Vendor::Vmx),
       Fn("ud_interception", SvmC(), {}, Vendor::Svm),
       Fn("pf_interception", SvmC(), {}, Vendor::Svm),
       Fn("pvm_handle_native_exit", PvmC(), {}, Vendor::Pvm)},
      "The handler of one exit reason (an intercepted exception or NMI), not a global handler; "
      "SVM has one *_interception per vector."},
     {"handle_ud", "#UD: emulate or reflect", Phase::Run, "",
      {Checked(Fn("handle_ud", X86C(), From(4, 17)),
               "absent in 4.16.13, present in 4.17.0, 5.6.4, 6.1-rc7: arch/x86/kvm/x86.c")},
      "Shared by VMX and SVM for an intercepted #UD: emulates the instruction (KVM's own "
      "hypercall and a few others); what cannot be emulated becomes a #UD for the guest."},
     {"queue", "queue an exception", Phase::Run, "", {Fn("kvm_queue_exception", X86C())},
      "Marks an exception (#UD, or the #PF the guest must see) pending in vcpu->arch.exception; "
      "kvm_queue_exception_e and kvm_inject_page_fault are variants."},
     {"check_events", "check pending events", Phase::Run, "",
      {Checked(Fn("kvm_check_and_inject_events", X86C(), From(6, 1)),
               "absent in 6.0-rc1, present in 6.1-rc7, 6.2.1, 6.3.8: arch/x86/kvm/x86.c"),
       Checked(Fn("inject_pending_event", X86C(), Until(6, 0)),
               "present in 4.15.18, 4.17.0, 5.6.4, 6.0-rc1, absent in 6.1-rc7: "
               "arch/x86/kvm/x86.c; not checked below 4.15")},
      "Before each entry vcpu_enter_guest looks for pending exceptions and interrupts and "
      "injects the most urgent (inject_pending_event until 6.0)."},
     {"inject", "inject the exception", Phase::Run, "", {Fn("kvm_inject_exception", X86C())},
      "Delivers the pending exception (tracepoint kvm_inj_exception) through the vendor."},
     // Renamed from *_queue_exception in about 6.1.
     {"vendor_inject", "vendor injection", Phase::Run, "",
      {Fn("vmx_inject_exception", VmxC(), From(6, 1), Vendor::Vmx),
       Fn("vmx_queue_exception", VmxC(), Until(6, 0), Vendor::Vmx),
       Fn("svm_inject_exception", SvmC(), From(6, 1), Vendor::Svm),
       Fn("svm_queue_exception", SvmC(), Until(6, 0), Vendor::Svm),
       Fn("pvm_inject_exception", PvmC(), {}, Vendor::Pvm)},
      "Writes the event into the VMCS entry fields or the VMCB's EVENTINJ (PVM: its own event "
      "delivery) so the guest takes it right after entry."}},
    {Call("arch_run", "enter_guest"),
     Call("enter_guest", "vendor_exit"),
     Tail(Call("vendor_exit", "exit_table", From(5, 11)), kSvmTableTail),
     Tail(Call("exit_table", "exception_exit", From(5, 11)), kHandlerTail),
     Call("vendor_exit", "exception_exit", Until(5, 10), Paging::Any,
          "before the exit table had a function of its own"),
     Tail(Call("exception_exit", "handle_ud", From(4, 17), Paging::Any, "on a #UD"),
          "ud_interception / handle_exception_nmi end in return handle_ud() (6.1-rc7)"),
     Call("handle_ud", "queue", From(4, 17), Paging::Any,
          "through x86_emulate_instruction, when it cannot emulate"),
     Call("exception_exit", "queue", {}, Paging::Any, "when the exception belongs to the guest"),
     Then("queue", "check_events", "pending until the next entry"),
     Call("enter_guest", "check_events"),
     Call("check_events", "inject"),
     Call("inject", "vendor_inject")},
    ""};
}

Chain PageFaultsChain() {
  const Paging tdp = Paging::Tdp, shadow = Paging::Shadow;
  return {ChainId::PageFaults, "page-faults", "Page-fault handling",
    "A guest access KVM has not mapped yet exits to the MMU, which maps it (EPT/NPT) or walks the "
    "guest's page tables and builds shadow entries.",
    {VendorExitNode(),
     ExitTableNode(),
     {"fault_exit", "fault exit handler", Phase::Run, "",
      {Fn("handle_ept_violation", VmxC(), {}, Vendor::Vmx, tdp),
       Fn("npf_interception", SvmC(), {}, Vendor::Svm, tdp),
       Fn("handle_exception_nmi", VmxC(), From(5, 2), Vendor::Vmx, shadow),
       Fn("handle_exception", VmxC(), Until(5, 1), Vendor::Vmx, shadow),
       Fn("pf_interception", SvmC(), {}, Vendor::Svm, shadow),
       Fn("pvm_handle_native_exit", PvmC(), {}, Vendor::Pvm, shadow)},
      "With EPT/NPT the exit is an EPT violation / nested page fault on a guest-physical address; "
      "with shadow paging it is the guest's own #PF, intercepted."},
     {"handle_pf", "intercepted #PF", Phase::Run, "",
      {Fn("kvm_handle_page_fault", MmuC(), From(4, 14), Vendor::Any, shadow)},
      "Shared by VMX and SVM for an intercepted #PF: deals with async page faults, else calls "
      "kvm_mmu_page_fault."},
     {"mmu_pf", "MMU page fault", Phase::Run, "", {Fn("kvm_mmu_page_fault", MmuC())},
      "The MMU's entry for every guest fault KVM must resolve; falls back to emulating the "
      "instruction (MMIO)."},
     {"do_pf", "pick the fault handler", Phase::Run, "",
      {Fn("kvm_mmu_do_page_fault", DoPfH(), From(5, 6))},
      "Calls the fault handler of the current MMU: the TDP one, or the shadow walker for the "
      "guest's paging mode."},
     {"handler", "MMU fault handler", Phase::Run, "",
      {Fn("kvm_tdp_page_fault", MmuC(), From(5, 8), Vendor::Any, tdp),
       Fn("tdp_page_fault", MmuC(), Until(5, 7), Vendor::Any, tdp),
       Fn("paging64_page_fault", PagingTmpl(), {}, Vendor::Any, shadow)},
      "TDP: map the guest-physical page in EPT/NPT. Shadow: walk the guest's page tables "
      "(paging64_* from paging_tmpl.h), then build the shadow entry."},
     {"direct_pf", "direct-map fault", Phase::Run, "",
      {Checked(Fn("kvm_tdp_mmu_page_fault", MmuC(), From(6, 3), Vendor::Any, tdp),
               "absent in 6.2.1, present in 6.3.8: arch/x86/kvm/mmu/mmu.c"),
       Checked(Fn("direct_page_fault", MmuC(), {{5, 6}, {6, 2}}, Vendor::Any, tdp),
               "absent in 4.17.0 (tdp_page_fault did it), present in 5.6.4, 6.0-rc1, 6.1-rc7, "
               "6.2.1: arch/x86/kvm/mmu/mmu.c; 6.3.8 keeps it for the legacy MMU only; the first "
               "release between 4.18 and 5.6 is not checked", true)},
      "Resolves the guest-physical address to a host page (kvm_faultin_pfn) and, under "
      "mmu_lock, maps it; TDP-MMU faults take kvm_tdp_mmu_page_fault from 6.3."},
     {"walk", "guest page-table walk", Phase::Run, "",
      {Fn("paging64_walk_addr_generic", PagingTmpl(), {}, Vendor::Any, shadow)},
      "Walks the guest's 4-level page table in software (kvm_mmu_pagetable_walk); a miss becomes "
      "a #PF for the guest (kvm_mmu_walker_error)."},
     {"fetch", "build shadow entries", Phase::Run, "",
      {Fn("paging64_fetch", PagingTmpl(), {}, Vendor::Any, shadow)},
      "Allocates the shadow page-table pages down to the faulting address."},
     {"tdp_map", "TDP MMU map", Phase::Run, "",
      {Fn("kvm_tdp_mmu_map", One("arch/x86/kvm/mmu/tdp_mmu.c"), From(5, 10), Vendor::Any, tdp)},
      "The TDP MMU (5.10+) installs EPT/NPT entries itself, under mmu_lock held for read."},
     {"set_spte", "install the SPTE", Phase::Run, "", {Fn("mmu_set_spte", MmuC())},
      "Writes the final shadow page-table entry (kvm_mmu_set_spte); the access succeeds when the "
      "guest re-executes it."}},
    {Tail(Call("vendor_exit", "exit_table", From(5, 11)), kSvmTableTail),
     Tail(Call("exit_table", "fault_exit", From(5, 11)), kHandlerTail),
     Call("vendor_exit", "fault_exit", Until(5, 10), Paging::Any,
          "before the exit table had a function of its own"),
     Tail(Call("fault_exit", "handle_pf", From(4, 14), shadow),
          "handle_exception_nmi ends in return kvm_handle_page_fault() (6.1-rc7 vmx/vmx.c)"),
     Tail(Call("fault_exit", "mmu_pf"),
          "npf_interception / handle_ept_violation end in return kvm_mmu_page_fault() (6.1-rc7)"),
     Tail(Call("handle_pf", "mmu_pf"),
          "kvm_handle_page_fault's last act is r = kvm_mmu_page_fault(); return r; (6.1-rc7 "
          "mmu/mmu.c), a jump once compiled"),
     Call("mmu_pf", "do_pf", From(5, 6)),
     Tail(Call("do_pf", "handler", From(5, 6)),
          "kvm_tdp_page_fault's own frame: it ends in return direct_page_fault() (6.1-rc7 "
          "mmu/mmu.c)"),
     Call("mmu_pf", "handler", Until(5, 5), Paging::Any, "through vcpu->arch.mmu->page_fault"),
     Call("handler", "walk", {}, shadow),
     Call("handler", "fetch", {}, shadow),
     Call("fetch", "set_spte", {}, shadow),
     Tail(Call("handler", "direct_pf", From(5, 6), tdp),
          "kvm_tdp_page_fault ends in return direct_page_fault() (6.1-rc7 mmu/mmu.c)"),
     Call("direct_pf", "tdp_map", From(5, 10), tdp)},
    "mmu_pf"};
}
// clang-format on

}  // namespace

const ChainNode* Chain::Node(std::string_view node_id) const {
  for (const ChainNode& n : nodes)
    if (n.id == node_id) return &n;
  return nullptr;
}

const std::vector<Chain>& Chains() {
  static const std::vector<Chain> chains = {InitChain(), RunLoopChain(), ExceptionsChain(),
                                            PageFaultsChain()};
  return chains;
}

const Chain& GetChain(ChainId id) {
  return Chains()[static_cast<size_t>(id)];
}

// clang-format off
const std::vector<ImpliedStep>& ImpliedSteps() {
  static const std::vector<ImpliedStep> steps = {
    // 6.1-rc7 svm/svm.c: svm_handle_exit ends in svm_invoke_exit_handler(),
    // which calls npf_interception for SVM_EXIT_NPF and svm_exit_handlers[]
    // ([SVM_EXIT_EXCP_BASE + UD_VECTOR] = ud_interception, + PF_VECTOR =
    // pf_interception) for the rest.
    {Vendor::Svm, "NPF", "svm_handle_exit", "svm_invoke_exit_handler", "6.1-rc7 svm/svm.c"},
    {Vendor::Svm, "NPF", "svm_invoke_exit_handler", "npf_interception", "6.1-rc7 svm/svm.c"},
    {Vendor::Svm, "EXCP_UD", "svm_handle_exit", "svm_invoke_exit_handler", "6.1-rc7 svm/svm.c"},
    {Vendor::Svm, "EXCP_UD", "svm_invoke_exit_handler", "ud_interception", "6.1-rc7 svm/svm.c"},
    {Vendor::Svm, "EXCP_PF", "svm_handle_exit", "svm_invoke_exit_handler", "6.1-rc7 svm/svm.c"},
    {Vendor::Svm, "EXCP_PF", "svm_invoke_exit_handler", "pf_interception", "6.1-rc7 svm/svm.c"},
    // 6.1-rc7 vmx/vmx.c: vmx_handle_exit calls __vmx_handle_exit, which ends in
    // kvm_vmx_exit_handlers[] ([EXIT_REASON_EPT_VIOLATION] = handle_ept_violation,
    // [EXIT_REASON_EXCEPTION_NMI] = handle_exception_nmi).
    {Vendor::Vmx, "EPT_VIOLATION", "vmx_handle_exit", "__vmx_handle_exit", "6.1-rc7 vmx/vmx.c"},
    {Vendor::Vmx, "EPT_VIOLATION", "__vmx_handle_exit", "handle_ept_violation", "6.1-rc7 vmx/vmx.c"},
    {Vendor::Vmx, "EXCEPTION_NMI", "vmx_handle_exit", "__vmx_handle_exit", "6.1-rc7 vmx/vmx.c"},
    {Vendor::Vmx, "EXCEPTION_NMI", "__vmx_handle_exit", "handle_exception_nmi", "6.1-rc7 vmx/vmx.c"},
    // Debian's 6.1.0-57 inlines __vmx_handle_exit into vmx_handle_exit (no
    // symbol): the handler follows vmx_handle_exit itself there.
    {Vendor::Vmx, "EPT_VIOLATION", "vmx_handle_exit", "handle_ept_violation", "6.1-rc7 vmx/vmx.c"},
    {Vendor::Vmx, "EXCEPTION_NMI", "vmx_handle_exit", "handle_exception_nmi", "6.1-rc7 vmx/vmx.c"},
    // 6.1-rc7 mmu/mmu_internal.h kvm_mmu_do_page_fault: with EPT/NPT
    // (fault.is_tdp) it calls kvm_tdp_page_fault.
    {Vendor::Svm, "NPF", "kvm_mmu_page_fault", "kvm_tdp_page_fault", "6.1-rc7 mmu/mmu_internal.h"},
    {Vendor::Vmx, "EPT_VIOLATION", "kvm_mmu_page_fault", "kvm_tdp_page_fault", "6.1-rc7 mmu/mmu_internal.h"},
  };
  return steps;
}
// clang-format on

std::optional<ChainId> ChainIdFromName(std::string_view name) {
  for (const Chain& c : Chains())
    if (c.name == name) return c.id;
  if (name == "run-loop" || name == "runloop") return ChainId::RunLoop;
  if (name == "pagefaults" || name == "page-fault" || name == "pf") return ChainId::PageFaults;
  return std::nullopt;
}

}  // namespace kvmscope::knowledge

// The four call chains as data, each fact with where it was checked (see
// chains.h and docs/kernel-facts.md).
#include "knowledge/chains.h"

namespace kvmscope::knowledge {

// --- The chains ----------------------------------------------------------------

namespace {

// The chains are tables, one row per function or link: keep them compact.
// Every `where` names the tree it was read in (SourceTrees()), the file and
// line, and what is there.
// clang-format off
constexpr VersionRange Until(int major, int minor) { return {kOldestKernel, {major, minor}}; }
constexpr VersionRange From(int major, int minor) { return {{major, minor}, kNewestKernel}; }
constexpr Evidence Read(std::string_view where) { return {where, false}; }
constexpr Evidence NotRead(std::string_view where) { return {where, true}; }

using Files = std::vector<SourceFile>;
Files One(std::string_view path, Evidence evidence) { return {{VersionRange{}, path, evidence}}; }
// One side of a file move: the path over its versions, with where it was seen.
struct Side {
  VersionRange versions;
  std::string_view path;
  Evidence evidence;
};
Files Moved(Side old_side, Side new_side) {
  return {{old_side.versions, old_side.path, old_side.evidence},
          {new_side.versions, new_side.path, new_side.evidence}};
}
// vmx.c became vmx/vmx.c in 5.0 (stable 4.19.y moved it too), svm.c
// svm/svm.c in 5.7; mmu.c and paging_tmpl.h moved into mmu/ in 5.5.
Files VmxC() {
  return Moved({Until(4, 20), "arch/x86/kvm/vmx.c",
                Read("3.19.8 arch/x86/kvm/vmx.c:7324 static int vmx_handle_exit; 4.20.0 "
                     "arch/x86/kvm/vmx.c:10545 static int vmx_handle_exit; 4.19.124 "
                     "arch/x86/kvm/vmx.c:7034 static int handle_exception")},
               {From(5, 0), "arch/x86/kvm/vmx/vmx.c",
                Read("5.0.1 arch/x86/kvm/vmx/vmx.c:5760 static int vmx_handle_exit; 6.19.0 "
                     "arch/x86/kvm/vmx/vmx.c:6768 int vmx_handle_exit; 4.19.304 "
                     "arch/x86/kvm/vmx/vmx.c:10149 static int vmx_handle_exit (stable 4.19.y "
                     "moved it as well: by version alone, late 4.19.y is named vmx.c)")});
}
Files SvmC() {
  return Moved({Until(5, 6), "arch/x86/kvm/svm.c",
                Read("3.19.8 arch/x86/kvm/svm.c:3499 static int handle_exit; 5.6.4 "
                     "arch/x86/kvm/svm.c:4980 static int handle_exit, no svm/ directory")},
               {From(5, 7), "arch/x86/kvm/svm/svm.c",
                Read("5.7.14 arch/x86/kvm/svm/svm.c:2901 static int handle_exit; 6.19.0 "
                     "arch/x86/kvm/svm/svm.c:3515 static int svm_handle_exit")});
}
Files MmuC() {
  return Moved({Until(5, 4), "arch/x86/kvm/mmu.c",
                Read("3.19.8 arch/x86/kvm/mmu.c:4201 int kvm_mmu_page_fault; 5.4.286 "
                     "arch/x86/kvm/mmu.c:5526 int kvm_mmu_page_fault")},
               {From(5, 5), "arch/x86/kvm/mmu/mmu.c",
                Read("5.5-rc5 arch/x86/kvm/mmu/mmu.c:5519 int kvm_mmu_page_fault (5.5 final not "
                     "read, rc5 has moved it); 6.19.0 arch/x86/kvm/mmu/mmu.c:4837 int "
                     "kvm_handle_page_fault")});
}
Files PagingTmpl() {
  return Moved({Until(5, 4), "arch/x86/kvm/paging_tmpl.h",
                Read("3.19.8 arch/x86/kvm/paging_tmpl.h:701 static int FNAME(page_fault); "
                     "5.4.286 arch/x86/kvm/paging_tmpl.h:770 static int FNAME(page_fault)")},
               {From(5, 5), "arch/x86/kvm/mmu/paging_tmpl.h",
                Read("5.5-rc5 arch/x86/kvm/mmu/paging_tmpl.h:768 static int FNAME(page_fault); "
                     "6.19.0 arch/x86/kvm/mmu/paging_tmpl.h:765 static int FNAME(page_fault)")});
}
// kvm_mmu_do_page_fault is a static inline of mmu.h, of mmu/mmu_internal.h
// from 5.19; a symbol only where the compiler keeps a copy.
Files DoPfH() {
  return Moved({{{5, 6}, {5, 18}}, "arch/x86/kvm/mmu.h",
                Read("5.6.4 arch/x86/kvm/mmu.h:108 static inline int kvm_mmu_do_page_fault; "
                     "5.18.12 arch/x86/kvm/mmu.h:205 static inline int kvm_mmu_do_page_fault")},
               {From(5, 19), "arch/x86/kvm/mmu/mmu_internal.h",
                Read("5.19.0 arch/x86/kvm/mmu/mmu_internal.h:232 static inline int "
                     "kvm_mmu_do_page_fault; 6.1-rc7 arch/x86/kvm/mmu/mmu_internal.h:259 static "
                     "inline int kvm_mmu_do_page_fault")});
}
// PVM is out of tree: its functions are checked against this machine's PVM
// kernel only.
Files PvmC() {
  return One("arch/x86/kvm/pvm/pvm.c",
             NotRead("running kernel /proc/kallsyms: pvm_vcpu_run, pvm_handle_exit (symbols "
                     "carry no file); pvm arch/x86/kvm/pvm/pvm.c exists in that tree (file list "
                     "only, its text not read)"));
}
Files X86C() {
  return One("arch/x86/kvm/x86.c",
             Read("3.19.8 arch/x86/kvm/x86.c:6539 int kvm_arch_vcpu_ioctl_run; 6.19.0 "
                  "arch/x86/kvm/x86.c:11891 int kvm_arch_vcpu_ioctl_run"));
}
Files MainC() {
  return One("virt/kvm/kvm_main.c",
             Read("3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init; 6.19.0 "
                  "virt/kvm/kvm_main.c:6498 int kvm_init"));
}

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
// Where a function, its range and its files were checked (Alternative::evidence).
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
// Where the call (or what happens later) and its versions were checked.
ChainEdge Checked(ChainEdge edge, std::string_view where, bool unverified = false) {
  edge.evidence = {where, unverified};
  return edge;
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
ChainEdge Then(std::string_view from, std::string_view to, std::string_view note,
               std::string_view where) {
  return ChainEdge{from,  to, EdgeKind::Later, Vendor::Any, Paging::Any, {}, note, {}, true, {},
                   Read(where)};
}

// Since 5.11 (SVM) / 5.12 (VMX) the vendor's exit handler hands the reason to
// a table function; before, it looked the handler up itself.
constexpr std::string_view kSvmTableTail =
    "svm_handle_exit (handle_exit before 5.18) ends in return svm_invoke_exit_handler() (5.11.0 "
    "svm/svm.c:3310, 6.1-rc7 svm/svm.c:3426)";
constexpr std::string_view kHandlerTail =
    "svm_invoke_exit_handler / __vmx_handle_exit end in return <handler>(vcpu), a direct call "
    "for a few reasons with CONFIG_RETPOLINE (6.1-rc7 svm/svm.c:3364, vmx/vmx.c:6447)";
constexpr std::string_view kExitTableCall =
    "5.11.0 arch/x86/kvm/svm/svm.c:3310 return svm_invoke_exit_handler(svm, exit_code) in "
    "handle_exit; 6.1-rc7 arch/x86/kvm/svm/svm.c:3426 return svm_invoke_exit_handler(vcpu, "
    "exit_code) in svm_handle_exit; 6.1-rc7 arch/x86/kvm/vmx/vmx.c:6464 int ret = "
    "__vmx_handle_exit(vcpu, exit_fastpath) in vmx_handle_exit (not a tail call); 5.10.89 "
    "arch/x86/kvm/svm/svm.c: no svm_invoke_exit_handler; running kernel /proc/kallsyms: "
    "pvm_handle_exit, __pvm_handle_exit.isra.0 (the PVM call itself not read)";
constexpr std::string_view kHandlerCall =
    "6.1-rc7 arch/x86/kvm/svm/svm.c:3364 return svm_exit_handlers[exit_code](vcpu), :3362 return "
    "npf_interception(vcpu) under CONFIG_RETPOLINE (:3352); 6.1-rc7 arch/x86/kvm/vmx/vmx.c:6447 "
    "return kvm_vmx_exit_handlers[exit_handler_index](vcpu); 5.11.0 arch/x86/kvm/svm/svm.c:3241 "
    "return svm_exit_handlers[exit_code](svm)";
constexpr std::string_view kOldHandlerCall =
    "5.10.89 arch/x86/kvm/svm/svm.c:3154 return svm_exit_handlers[exit_code](svm) in "
    "handle_exit; 5.11.0 arch/x86/kvm/vmx/vmx.c:6048 return kvm_vmx_exit_handlers[exit_reason]"
    "(vcpu) in vmx_handle_exit";

// Steps that several chains share.
ChainNode VcpuIoctlNode(std::string_view teaching) {
  return {"vcpu_ioctl", "ioctl on a vCPU fd", Phase::Run, "KVM_RUN",
          {Checked(Fn("kvm_vcpu_ioctl", MainC()),
                   "3.19.8 virt/kvm/kvm_main.c:2025 static long kvm_vcpu_ioctl; 6.19.0 "
                   "virt/kvm/kvm_main.c:4428 static long kvm_vcpu_ioctl")},
          teaching,
          Read("6.1-rc7 virt/kvm/kvm_main.c:3844 .unlocked_ioctl = kvm_vcpu_ioctl, :4041 static "
               "long kvm_vcpu_ioctl, :4087 r = kvm_arch_vcpu_ioctl_run(vcpu) (case KVM_RUN)")};
}
ChainNode ArchRunNode() {
  return {"arch_run", "x86 KVM_RUN", Phase::Run, "",
          {Checked(Fn("kvm_arch_vcpu_ioctl_run", X86C()),
                   "3.19.8 arch/x86/kvm/x86.c:6539 int kvm_arch_vcpu_ioctl_run; 6.1-rc7 "
                   "arch/x86/kvm/x86.c:11095; 6.19.0 arch/x86/kvm/x86.c:11891")},
          "x86's KVM_RUN: finishes what user space did for the last exit (complete_userspace_io), "
          "takes registers from kvm_run only if the VMM marked them dirty (KVM_CAP_SYNC_REGS, "
          "4.17+), runs the loop and returns to the VMM when an exit needs it.",
          Read("6.1-rc7 arch/x86/kvm/x86.c:11141 if (kvm_run->kvm_dirty_regs) → :11142 "
               "sync_regs(vcpu), :11170 if (unlikely(vcpu->arch.complete_userspace_io)), :11190 "
               "r = vcpu_run(vcpu); 4.16.13 arch/x86/kvm/x86.c: no sync_regs; 4.17.0 "
               "arch/x86/kvm/x86.c:7708 r = sync_regs(vcpu); 3.19.8 arch/x86/kvm/x86.c:6566 "
               "if (unlikely(vcpu->arch.complete_userspace_io))")};
}
ChainNode EnterGuestNode() {
  return {"enter_guest", "one guest entry", Phase::Run, "",
          {Checked(Fn("vcpu_enter_guest", X86C()),
                   "3.19.8 arch/x86/kvm/x86.c:6176 static int vcpu_enter_guest; 6.19.0 "
                   "arch/x86/kvm/x86.c:11057 static int vcpu_enter_guest")},
          "One trip into the guest: inject pending events, enter through the vendor, then give the "
          "exit to the vendor's exit handler.",
          Read("6.1-rc7 arch/x86/kvm/x86.c:10667 kvm_check_and_inject_events(), :10770 "
               "static_call(kvm_x86_vcpu_run)(vcpu), :10866 static_call(kvm_x86_handle_exit)(vcpu, "
               "exit_fastpath); 3.19.8 arch/x86/kvm/x86.c:6242 inject_pending_event(), :6312 "
               "kvm_x86_ops->run(vcpu), :6378 kvm_x86_ops->handle_exit(vcpu)")};
}
ChainNode VendorExitNode() {
  return {"vendor_exit", "vendor exit handler", Phase::Run, "",
          {Checked(Fn("vmx_handle_exit", VmxC(), {}, Vendor::Vmx),
                   "3.19.8 arch/x86/kvm/vmx.c:7324 static int vmx_handle_exit; 6.1-rc7 "
                   "arch/x86/kvm/vmx/vmx.c:6462; 6.19.0 arch/x86/kvm/vmx/vmx.c:6768 int "
                   "vmx_handle_exit"),
           // Listed before handle_exit, a name generic enough to exist elsewhere.
           Checked(Fn("svm_handle_exit", SvmC(), From(5, 18), Vendor::Svm),
                   "5.17-rc5 arch/x86/kvm/svm/svm.c: no svm_handle_exit (5.17 final not read); "
                   "5.18.12 arch/x86/kvm/svm/svm.c:3207 static int svm_handle_exit; 6.1-rc7 "
                   "arch/x86/kvm/svm/svm.c:3384; 6.19.0 arch/x86/kvm/svm/svm.c:3515"),
           Checked(Fn("handle_exit", SvmC(), Until(5, 17), Vendor::Svm),
                   "3.19.8 arch/x86/kvm/svm.c:3499 static int handle_exit; 5.6.4 "
                   "arch/x86/kvm/svm.c:4980; 5.7.14 arch/x86/kvm/svm/svm.c:2901; 5.15.85 "
                   "arch/x86/kvm/svm/svm.c:3319; 5.17-rc5 arch/x86/kvm/svm/svm.c:3192 static int "
                   "handle_exit (5.17 final not read); 5.18.12 arch/x86/kvm/svm/svm.c: no "
                   "handle_exit"),
           Checked(Fn("pvm_handle_exit", PvmC(), {}, Vendor::Pvm),
                   "running kernel /proc/kallsyms: t pvm_handle_exit")},
          "Reads why the guest exited and calls the handler for that exit reason; it returns 1 to "
          "enter the guest again, 0 to go out to user space.",
          Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:6462 vmx_handle_exit, :6464 __vmx_handle_exit(); "
               "6.1-rc7 arch/x86/kvm/svm/svm.c:3384 svm_handle_exit, :3426 return "
               "svm_invoke_exit_handler(); 6.1-rc7 arch/x86/kvm/x86.c:10974 if (r <= 0) break, "
               "in vcpu_run")};
}

ChainNode ExitTableNode() {
  return {"exit_table", "exit handler table", Phase::Run, "",
          {Checked(Fn("__vmx_handle_exit", VmxC(), From(5, 12), Vendor::Vmx),
                   "5.11.0 arch/x86/kvm/vmx/vmx.c: no __vmx_handle_exit; 5.12.9 "
                   "arch/x86/kvm/vmx/vmx.c:5963 static int __vmx_handle_exit; 6.1-rc7 "
                   "arch/x86/kvm/vmx/vmx.c:6283"),
           Checked(Fn("svm_invoke_exit_handler", SvmC(), From(5, 11), Vendor::Svm),
                   "5.10.89 arch/x86/kvm/svm/svm.c: no svm_invoke_exit_handler; 5.11.0 "
                   "arch/x86/kvm/svm/svm.c:3224 int svm_invoke_exit_handler; 6.1-rc7 "
                   "arch/x86/kvm/svm/svm.c:3347"),
           Checked(Fn("__pvm_handle_exit", PvmC(), {}, Vendor::Pvm),
                   "running kernel /proc/kallsyms: t __pvm_handle_exit.isra.0")},
          "Looks the exit reason up in the vendor's handler table (kvm_vmx_exit_handlers, "
          "svm_exit_handlers): one handler function per exit reason; with CONFIG_RETPOLINE a few "
          "frequent reasons are direct calls instead.",
          Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:5959 kvm_vmx_exit_handlers[], :6427 #ifdef "
               "CONFIG_RETPOLINE, :6447 return kvm_vmx_exit_handlers[exit_handler_index](vcpu); "
               "6.1-rc7 arch/x86/kvm/svm/svm.c:3132 svm_exit_handlers[], :3352 #ifdef "
               "CONFIG_RETPOLINE, :3364 return svm_exit_handlers[exit_code](vcpu)")};
}

Chain InitChain() {
  return {ChainId::Init, "init", "VM and module initialization",
    "Module load brings up KVM and /dev/kvm; later the VMM's ioctls make a VM and its vCPUs. None "
    "of it runs inside KVM_RUN, so stacks rarely show it: symbols and ioctl counts do.",
    {{"vendor_init", "vendor module init", Phase::Load, "",
      {Checked(InitFn("vt_init", One("arch/x86/kvm/vmx/main.c",
                                     Read("6.16.1 arch/x86/kvm/vmx/main.c:1057 static int __init "
                                          "vt_init")),
                      From(6, 16), Vendor::Vmx),
               "6.14.0 arch/x86/kvm/vmx/main.c: no vt_init (6.15 not read); 6.16.1 "
               "arch/x86/kvm/vmx/main.c:1057 static int __init vt_init, :1102 module_init(vt_init); "
               "6.19.0 arch/x86/kvm/vmx/main.c:1037"),
       // Every version; until 6.15 it is the module_init, from 6.16 vt_init calls it.
       Checked(InitFn("vmx_init", VmxC(), {}, Vendor::Vmx),
               "3.19.8 arch/x86/kvm/vmx.c:9417 static int __init vmx_init, :9442 "
               "module_init(vmx_init); 6.14.0 arch/x86/kvm/vmx/vmx.c:8613, :8674 "
               "module_init(vmx_init); 6.16.1 arch/x86/kvm/vmx/vmx.c:8820 int __init vmx_init, "
               "called at arch/x86/kvm/vmx/main.c:1062 r = vmx_init(); 6.19.0 "
               "arch/x86/kvm/vmx/vmx.c:8723"),
       Checked(InitFn("svm_init", SvmC(), {}, Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:4443 static int __init svm_init, :4454 "
               "module_init(svm_init); 6.19.0 arch/x86/kvm/svm/svm.c:5476, :5513 "
               "module_init(svm_init)"),
       Checked(InitFn("pvm_init", PvmC(), From(6, 7), Vendor::Pvm),
               "running kernel /proc/kallsyms: t pvm_init (a 6.18 kernel), PVM's first base "
               "release (6.7) not read", true)},
      "The module_init() of kvm_intel, kvm_amd or kvm_pvm: checks the hardware and brings up "
      "generic KVM, once, at module load or boot; from 6.16 kvm_intel's is vt_init, which calls "
      "vmx_init.",
      Read("6.14.0 arch/x86/kvm/vmx/vmx.c:8674 module_init(vmx_init); 6.16.1 "
           "arch/x86/kvm/vmx/main.c:1102 module_init(vt_init), :1062 r = vmx_init(), :1090 r = "
           "kvm_init(); 6.19.0 arch/x86/kvm/svm/svm.c:5487 kvm_x86_vendor_init(), :5495 kvm_init(), "
           ":5513 module_init(svm_init); running kernel /proc/kallsyms: t pvm_init")},
     {"vendor_setup", "x86 and vendor setup", Phase::Load, "",
      // Stable kernels backport the 6.3 layout (6.2.12 has both functions;
      // Debian's 6.1.0-57 has it, with kvm_arch_init an empty stub): the
      // symbol decides, the version only without symbols.
      {IfSymbol(Checked(Fn("kvm_x86_vendor_init", X86C(), From(6, 3)),
                        "6.2.1 arch/x86/kvm/x86.c: no kvm_x86_vendor_init; 6.3.8 "
                        "arch/x86/kvm/x86.c:9505 int kvm_x86_vendor_init; 6.2.12 "
                        "arch/x86/kvm/x86.c:9303 int kvm_x86_vendor_init (stable backport); "
                        "6.19.0 arch/x86/kvm/x86.c:10016"),
                "kvm_x86_vendor_init", true),
       IfSymbol(Checked(Fn("kvm_arch_init", X86C(), Until(6, 2)),
                        "6.2.1 arch/x86/kvm/x86.c:9293 int kvm_arch_init, called at "
                        "virt/kvm/kvm_main.c:5931 r = kvm_arch_init(opaque); 6.3.8 "
                        "arch/x86/kvm/x86.c: no kvm_arch_init; 3.19.8 virt/kvm/kvm_main.c:3220 "
                        "r = kvm_arch_init(opaque)"),
                "kvm_x86_vendor_init", false)},
      "Checks that virtualization is usable and installs the vendor's kvm_x86_ops; in the old "
      "layout kvm_init called kvm_arch_init, in the 6.3 layout the vendor init calls "
      "kvm_x86_vendor_init before kvm_init.",
      Read("6.2.1 virt/kvm/kvm_main.c:5931 r = kvm_arch_init(opaque); 6.3.8 "
           "arch/x86/kvm/svm/svm.c:5138 r = kvm_x86_vendor_init(&svm_init_ops), :5146 r = "
           "kvm_init(); 6.3.8 arch/x86/kvm/vmx/vmx.c:8602 r = kvm_x86_vendor_init(&vmx_init_ops)")},
     {"kvm_init", "generic KVM init", Phase::Load, "",
      {Checked(Fn("kvm_init", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init; 6.1-rc7 virt/kvm/kvm_main.c:5864; "
               "6.19.0 virt/kvm/kvm_main.c:6498")},
      "Generic KVM (virt/kvm/kvm_main.c, never vmx.c): registers /dev/kvm; it calls no ioctl "
      "handler, those run later on the VMM's ioctls.",
      Read("6.19.0 virt/kvm/kvm_main.c:6498 int kvm_init, :6558 r = misc_register(&kvm_dev); "
           "3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init")},
     {"dev_ioctl", "ioctl on /dev/kvm", Phase::Setup, "KVM_CREATE_VM",
      {Checked(Fn("kvm_dev_ioctl", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2682 static long kvm_dev_ioctl; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4993; 6.19.0 virt/kvm/kvm_main.c:5544")},
      "The ioctl handler of /dev/kvm: capability checks and KVM_CREATE_VM.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4993 static long kvm_dev_ioctl, :5005 r = "
           "kvm_dev_ioctl_create_vm(arg), :5007 case KVM_CHECK_EXTENSION")},
     {"create_vm", "create a VM", Phase::Setup, "KVM_CREATE_VM",
      {Checked(Fn("kvm_dev_ioctl_create_vm", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2660 static int kvm_dev_ioctl_create_vm; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4950; 6.19.0 virt/kvm/kvm_main.c:5501")},
      "Makes the struct kvm (kvm_create_vm: memory slots, the VM's MMU state) and returns the VM "
      "fd; in-kernel devices such as the irqchip come with later VM ioctls.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4963 kvm = kvm_create_vm(type, fdname), :1129 static "
           "struct kvm *kvm_create_vm; 6.1-rc7 arch/x86/kvm/x86.c:6684 case KVM_CREATE_IRQCHIP")},
     {"vm_ioctl", "ioctl on a VM fd", Phase::Setup, "KVM_CREATE_VCPU",
      {Checked(Fn("kvm_vm_ioctl", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2434 static long kvm_vm_ioctl; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4665; 6.19.0 virt/kvm/kvm_main.c:5169")},
      "The ioctl handler of a VM fd: memory regions, irqchip, KVM_CREATE_VCPU.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4665 static long kvm_vm_ioctl, :4676 r = "
           "kvm_vm_ioctl_create_vcpu(kvm, arg), :4687 case KVM_SET_USER_MEMORY_REGION; 6.1-rc7 "
           "arch/x86/kvm/x86.c:6684 case KVM_CREATE_IRQCHIP (kvm_arch_vm_ioctl)")},
     {"create_vcpu", "create a vCPU", Phase::Setup, "KVM_CREATE_VCPU",
      {Checked(Fn("kvm_vm_ioctl_create_vcpu", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:1955 static int kvm_vm_ioctl_create_vcpu; 6.1-rc7 "
               "virt/kvm/kvm_main.c:3892; 6.19.0 virt/kvm/kvm_main.c:4174")},
      "Makes a vCPU and its fd, whose file operations are kvm_vcpu_fops: .unlocked_ioctl = "
      "kvm_vcpu_ioctl, .compat_ioctl = kvm_vcpu_compat_ioctl.",
      Read("3.19.8 virt/kvm/kvm_main.c:1936 .unlocked_ioctl = kvm_vcpu_ioctl, :1938 "
           ".compat_ioctl = kvm_vcpu_compat_ioctl; 6.1-rc7 virt/kvm/kvm_main.c:3844 "
           ".unlocked_ioctl = kvm_vcpu_ioctl")},
     VcpuIoctlNode("Where a 64-bit VMM's ioctls on a vCPU fd arrive, KVM_RUN included: the door "
                   "from the VMM into the run loop."),
     {"compat_ioctl", "32-bit ioctl on a vCPU fd", Phase::Run, "",
      {Checked(Fn("kvm_vcpu_compat_ioctl", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2228 static long kvm_vcpu_compat_ioctl; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4253 (under #ifdef CONFIG_KVM_COMPAT, :4252); 6.19.0 "
               "virt/kvm/kvm_main.c:4679")},
      "Only for a 32-bit VMM on a 64-bit kernel (CONFIG_KVM_COMPAT): converts a few arguments and "
      "calls kvm_vcpu_ioctl.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4252 #ifdef CONFIG_KVM_COMPAT, :4253 static long "
           "kvm_vcpu_compat_ioctl, :4287 r = kvm_vcpu_ioctl(filp, ioctl, arg)")}},
    {Checked(IfSymbol(Call("vendor_init", "vendor_setup", From(6, 3), Paging::Any,
                           "from 6.16 on VMX through vmx_init: vt_init → vmx_init → "
                           "kvm_x86_vendor_init"),
                      "kvm_x86_vendor_init", true),
             "6.3.8 arch/x86/kvm/svm/svm.c:5138 r = kvm_x86_vendor_init(&svm_init_ops); 6.3.8 "
             "arch/x86/kvm/vmx/vmx.c:8602 r = kvm_x86_vendor_init(&vmx_init_ops); 6.2.12 "
             "arch/x86/kvm/vmx/vmx.c:8581 (stable backport); 6.16.1 arch/x86/kvm/vmx/vmx.c:8833 "
             "r = kvm_x86_vendor_init(&vt_init_ops) in vmx_init, called from "
             "arch/x86/kvm/vmx/main.c:1062"),
     Checked(Call("vendor_init", "kvm_init"),
             "3.19.8 arch/x86/kvm/vmx.c:9419 int r = kvm_init(&vmx_x86_ops, ...) in vmx_init; "
             "6.3.8 arch/x86/kvm/svm/svm.c:5146 r = kvm_init(); 6.16.1 arch/x86/kvm/vmx/main.c:1090 "
             "r = kvm_init() in vt_init"),
     Checked(IfSymbol(Call("kvm_init", "vendor_setup", Until(6, 2)), "kvm_x86_vendor_init", false),
             "3.19.8 virt/kvm/kvm_main.c:3220 r = kvm_arch_init(opaque); 6.2.1 "
             "virt/kvm/kvm_main.c:5931 r = kvm_arch_init(opaque)"),
     Then("kvm_init", "dev_ioctl", "registers /dev/kvm; its ioctls come later, from the VMM",
          "6.19.0 virt/kvm/kvm_main.c:6558 r = misc_register(&kvm_dev) in kvm_init"),
     Checked(Call("dev_ioctl", "create_vm"),
             "3.19.8 virt/kvm/kvm_main.c:2694 r = kvm_dev_ioctl_create_vm(arg); 6.1-rc7 "
             "virt/kvm/kvm_main.c:5005; 6.19.0 virt/kvm/kvm_main.c:5556"),
     Then("create_vm", "vm_ioctl", "the VMM's next ioctls go to the new VM fd",
          "6.1-rc7 virt/kvm/kvm_main.c:4963 kvm = kvm_create_vm() in kvm_dev_ioctl_create_vm, "
          "which returns the VM fd, :4665 kvm_vm_ioctl handles its ioctls"),
     Checked(Call("vm_ioctl", "create_vcpu"),
             "3.19.8 virt/kvm/kvm_main.c:2445 r = kvm_vm_ioctl_create_vcpu(kvm, arg); 6.1-rc7 "
             "virt/kvm/kvm_main.c:4676; 6.19.0 virt/kvm/kvm_main.c:5180"),
     Then("create_vcpu", "vcpu_ioctl", "the vCPU fd carries kvm_vcpu_fops; its ioctls come later",
          "6.1-rc7 virt/kvm/kvm_main.c:3844 .unlocked_ioctl = kvm_vcpu_ioctl in kvm_vcpu_fops"),
     Checked(Call("compat_ioctl", "vcpu_ioctl"),
             "3.19.8 virt/kvm/kvm_main.c:2264 r = kvm_vcpu_ioctl(filp, ioctl, arg); 6.1-rc7 "
             "virt/kvm/kvm_main.c:4287; 6.19.0 virt/kvm/kvm_main.c:4713")},
    ""};
}

Chain RunLoopChain() {
  return {ChainId::RunLoop, "run", "The run loop",
    "Each KVM_RUN ioctl enters the guest and handles exits in the kernel until one needs the VMM.",
    {VcpuIoctlNode("The vCPU fd's ioctl handler; for KVM_RUN it calls the architecture's run "
                   "function."),
     ArchRunNode(),
     {"vcpu_run", "the run loop", Phase::Run, "",
      {Checked(Fn("vcpu_run", X86C(), From(4, 1)),
               "4.0.4 arch/x86/kvm/x86.c: no vcpu_run; 4.1.15 arch/x86/kvm/x86.c:6469 static int "
               "vcpu_run; 6.19.0 arch/x86/kvm/x86.c:11637"),
       Checked(Fn("__vcpu_run", X86C(), Until(4, 0)),
               "3.19.8 arch/x86/kvm/x86.c:6390 static int __vcpu_run; 4.0.4 "
               "arch/x86/kvm/x86.c:6385 static int __vcpu_run; 4.1.15 arch/x86/kvm/x86.c: no "
               "__vcpu_run")},
      "The loop itself: enter the guest, handle the exit in the kernel, repeat until something "
      "needs user space (I/O, MMIO, a signal).",
      Read("6.1-rc7 arch/x86/kvm/x86.c:10954 static int vcpu_run, :10969 r = "
           "vcpu_enter_guest(vcpu), :10974 if (r <= 0) break")},
     EnterGuestNode(),
     {"vendor_run", "VM entry", Phase::Run, "",
      {Checked(Fn("vmx_vcpu_run", VmxC(), {}, Vendor::Vmx),
               "3.19.8 arch/x86/kvm/vmx.c:7761 static void __noclone vmx_vcpu_run; 6.1-rc7 "
               "arch/x86/kvm/vmx/vmx.c:7098; 6.19.0 arch/x86/kvm/vmx/vmx.c:7414"),
       Checked(Fn("svm_vcpu_run", SvmC(), {}, Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:3865 static void svm_vcpu_run; 6.19.0 "
               "arch/x86/kvm/svm/svm.c:4198"),
       Checked(Fn("pvm_vcpu_run", PvmC(), {}, Vendor::Pvm),
               "running kernel /proc/kallsyms: t pvm_vcpu_run")},
      "Switches to the guest (VMLAUNCH/VMRESUME, VMRUN, PVM's own switch) and returns at the next "
      "VM exit; most exits are handled after it returns, but since 5.8 a few (WRMSR to the "
      "x2APIC ICR or TSC deadline, more later) are handled inside it, in a fastpath.",
      Read("5.8.1 arch/x86/kvm/vmx/vmx.c:6640 vmx_exit_handlers_fastpath, called in "
           "vmx_vcpu_run; 5.8.1 arch/x86/kvm/svm/svm.c:3447 exit_fastpath = "
           "svm_exit_handlers_fastpath(vcpu); 5.8.1 arch/x86/kvm/x86.c:1631 "
           "handle_fastpath_set_msr_irqoff, :1638 APIC_ICR, :1645 MSR_IA32_TSCDEADLINE; 5.7.14 "
           "arch/x86/kvm/x86.c:8461 kvm_x86_ops.handle_exit_irqoff() (the 5.6–5.7 fastpath ran "
           "from vcpu_enter_guest); 6.1-rc7 arch/x86/kvm/vmx/vmx.c:7261 return "
           "vmx_exit_handlers_fastpath(vcpu)")},
     VendorExitNode(),
     // The table lookup became a function of its own in 5.11 (SVM) and 5.12
     // (VMX); before, it sat inside *_handle_exit.
     ExitTableNode()},
    {Checked(Call("vcpu_ioctl", "arch_run"),
             "3.19.8 virt/kvm/kvm_main.c:2067 r = kvm_arch_vcpu_ioctl_run(vcpu, vcpu->run); "
             "6.1-rc7 virt/kvm/kvm_main.c:4087; 6.19.0 virt/kvm/kvm_main.c:4492"),
     Checked(Call("arch_run", "vcpu_run"),
             "3.19.8 arch/x86/kvm/x86.c:6575 r = __vcpu_run(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:11190 r = vcpu_run(vcpu)"),
     Checked(Call("vcpu_run", "enter_guest"),
             "3.19.8 arch/x86/kvm/x86.c:6401 r = vcpu_enter_guest(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:10969; 6.19.0 arch/x86/kvm/x86.c:11652"),
     Checked(Call("enter_guest", "vendor_run"),
             "3.19.8 arch/x86/kvm/x86.c:6312 kvm_x86_ops->run(vcpu); 5.12.9 "
             "arch/x86/kvm/x86.c:9183 static_call(kvm_x86_run)(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:10770 static_call(kvm_x86_vcpu_run)(vcpu)"),
     Then("vendor_run", "vendor_exit",
          "the VM exit returns from the entry, then vcpu_enter_guest calls the handler (a "
          "fastpath exit, 5.8+, is handled inside the entry first)",
          "6.1-rc7 arch/x86/kvm/x86.c:10770 exit_fastpath = static_call(kvm_x86_vcpu_run)(vcpu), "
          ":10866 r = static_call(kvm_x86_handle_exit)(vcpu, exit_fastpath); 6.1-rc7 "
          "arch/x86/kvm/vmx/vmx.c:7261 return vmx_exit_handlers_fastpath(vcpu)"),
     Checked(Call("enter_guest", "vendor_exit"),
             "3.19.8 arch/x86/kvm/x86.c:6378 r = kvm_x86_ops->handle_exit(vcpu); 5.12.9 "
             "arch/x86/kvm/x86.c:9277 static_call(kvm_x86_handle_exit); 6.19.0 "
             "arch/x86/kvm/x86.c:11494 kvm_x86_call(handle_exit)"),
     Checked(Tail(Call("vendor_exit", "exit_table"), kSvmTableTail), kExitTableCall)},
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
      {Checked(Fn("handle_exception_nmi", VmxC(), From(5, 3), Vendor::Vmx),
               "5.2.1 arch/x86/kvm/vmx/vmx.c: no handle_exception_nmi; 5.3.1 "
               "arch/x86/kvm/vmx/vmx.c:4478 static int handle_exception_nmi; 6.1-rc7 "
               "arch/x86/kvm/vmx/vmx.c:5960 [EXIT_REASON_EXCEPTION_NMI] = handle_exception_nmi"),
       Checked(Fn("handle_exception", VmxC(), Until(5, 2), Vendor::Vmx),
               "3.19.8 arch/x86/kvm/vmx.c:4844 static int handle_exception; 5.2.1 "
               "arch/x86/kvm/vmx/vmx.c:4449 static int handle_exception; 5.3.1 "
               "arch/x86/kvm/vmx/vmx.c: no handle_exception"),
       Checked(Fn("ud_interception", SvmC(), {}, Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:1782 static int ud_interception; 6.1-rc7 "
               "arch/x86/kvm/svm/svm.c:2021; 6.19.0 arch/x86/kvm/svm/svm.c:1941"),
       Checked(Fn("pf_interception", SvmC(), {}, Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:1708 static int pf_interception; 6.1-rc7 "
               "arch/x86/kvm/svm/svm.c:1950; 6.19.0 arch/x86/kvm/svm/svm.c:1852"),
       Checked(Fn("pvm_handle_native_exit", PvmC(), {}, Vendor::Pvm),
               "running kernel /proc/kallsyms: t pvm_handle_native_exit")},
      "The handler of one exit reason (an intercepted exception or NMI), not a global handler; "
      "SVM has one *_interception per vector.",
      Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:5960 [EXIT_REASON_EXCEPTION_NMI] = "
           "handle_exception_nmi; 6.1-rc7 arch/x86/kvm/svm/svm.c:3160 [SVM_EXIT_EXCP_BASE + "
           "UD_VECTOR] = ud_interception, :3161 [SVM_EXIT_EXCP_BASE + PF_VECTOR] = "
           "pf_interception")},
     {"handle_ud", "#UD: emulate or reflect", Phase::Run, "",
      {Checked(Fn("handle_ud", X86C(), From(4, 17)),
               "4.16.13 arch/x86/kvm/x86.c: no handle_ud; 4.17.0 arch/x86/kvm/x86.c:4853 int "
               "handle_ud; 5.6.4 arch/x86/kvm/x86.c:5586; 6.1-rc7 arch/x86/kvm/x86.c:7360")},
      "Shared by VMX and SVM for an intercepted #UD: has the emulator try the instruction; what "
      "it cannot emulate becomes a #UD queued for the guest.",
      Read("6.1-rc7 arch/x86/kvm/x86.c:7360 int handle_ud, :7381 return "
           "kvm_emulate_instruction(vcpu, emul_type); 6.1-rc7 arch/x86/kvm/x86.c:8837 "
           "kvm_queue_exception(vcpu, UD_VECTOR) in x86_emulate_instruction; 4.17.0 "
           "arch/x86/kvm/x86.c:4872 kvm_queue_exception(vcpu, UD_VECTOR) in handle_ud")},
     {"queue", "queue an exception", Phase::Run, "",
      {Checked(Fn("kvm_queue_exception", X86C()),
               "3.19.8 arch/x86/kvm/x86.c:390 void kvm_queue_exception; 6.1-rc7 "
               "arch/x86/kvm/x86.c:722; 6.19.0 arch/x86/kvm/x86.c:894")},
      "Marks an exception (#UD, or the #PF the guest must see) pending in vcpu->arch.exception; "
      "kvm_queue_exception_e and kvm_inject_page_fault are variants.",
      Read("6.1-rc7 arch/x86/kvm/x86.c:722 void kvm_queue_exception → kvm_multiple_exception "
           "(:637), :681 vcpu->arch.exception.pending = true, :817 void kvm_queue_exception_e, "
           ":770 void kvm_inject_page_fault")},
     {"check_events", "check pending events", Phase::Run, "",
      {Checked(Fn("kvm_check_and_inject_events", X86C(), From(6, 1)),
               "6.0.1 arch/x86/kvm/x86.c: no kvm_check_and_inject_events; 6.1-rc7 "
               "arch/x86/kvm/x86.c:9873 static int kvm_check_and_inject_events; 6.19.0 "
               "arch/x86/kvm/x86.c:10612"),
       Checked(Fn("inject_pending_event", X86C(), Until(6, 0)),
               "3.19.8 arch/x86/kvm/x86.c:6028 static int inject_pending_event; 5.12.9 "
               "arch/x86/kvm/x86.c:8409 static void inject_pending_event; 6.0.1 "
               "arch/x86/kvm/x86.c:9675 static int inject_pending_event; 6.1-rc7 "
               "arch/x86/kvm/x86.c: no inject_pending_event")},
      "Before each entry vcpu_enter_guest looks for pending exceptions and interrupts and "
      "injects the most urgent (inject_pending_event until 6.0).",
      Read("6.1-rc7 arch/x86/kvm/x86.c:10667 r = kvm_check_and_inject_events(vcpu, "
           "&req_immediate_exit) in vcpu_enter_guest, :9913 kvm_inject_exception(vcpu), :9917 "
           "inject_nmi, :9919 inject_irq; 6.0.1 arch/x86/kvm/x86.c:9675 static int "
           "inject_pending_event")},
     // Mainline from 5.14 (5.13 not read), and backported to stable 4.19.y,
     // 5.4.y and 5.10.y: the symbol decides, the version only without
     // symbols. Being static, it could be inlined: then the old layout's link
     // check_events → vendor_inject is the one stacks show.
     {"inject", "inject the exception", Phase::Run, "",
      {IfSymbol(Checked(Fn("kvm_inject_exception", X86C(), From(5, 14)),
                        "5.12.9 arch/x86/kvm/x86.c: no kvm_inject_exception; 5.14.2 "
                        "arch/x86/kvm/x86.c:8812 static void kvm_inject_exception; 6.1-rc7 "
                        "arch/x86/kvm/x86.c:9822; 5.10.7 arch/x86/kvm/x86.c: none, but 5.10.89 "
                        "arch/x86/kvm/x86.c:8302, 5.4.286 arch/x86/kvm/x86.c:7640 and 4.19.304 "
                        "arch/x86/kvm/x86.c:7136 have it (stable backports), 5.13 not read",
                        true),
                "kvm_inject_exception", true)},
      "Hands the pending exception to the vendor (kvm_x86_ops' queue_exception, inject_exception "
      "from 6.1); the kvm_inj_exception tracepoint fires here or in its caller, depending on the "
      "version.",
      Read("5.14.2 arch/x86/kvm/x86.c:8816 static_call(kvm_x86_queue_exception)(vcpu) in "
           "kvm_inject_exception, :8871 trace_kvm_inj_exception in inject_pending_event; 6.1-rc7 "
           "arch/x86/kvm/x86.c:9824 trace_kvm_inj_exception, :9831 "
           "static_call(kvm_x86_inject_exception)(vcpu), both in kvm_inject_exception; 5.18.12 "
           "arch/x86/kvm/x86.c:9397 trace_kvm_inj_exception in inject_pending_event")},
     // Renamed from *_queue_exception in 6.1 (absent 6.0.1, present 6.1-rc7).
     {"vendor_inject", "vendor injection", Phase::Run, "",
      {Checked(Fn("vmx_inject_exception", VmxC(), From(6, 1), Vendor::Vmx),
               "6.0.1 arch/x86/kvm/vmx/vmx.c: no vmx_inject_exception; 6.1-rc7 "
               "arch/x86/kvm/vmx/vmx.c:1695 static void vmx_inject_exception; 6.19.0 "
               "arch/x86/kvm/vmx/vmx.c:1897"),
       Checked(Fn("vmx_queue_exception", VmxC(), Until(6, 0), Vendor::Vmx),
               "3.19.8 arch/x86/kvm/vmx.c:2050 static void vmx_queue_exception; 6.0.1 "
               "arch/x86/kvm/vmx/vmx.c:1687; 6.1-rc7 arch/x86/kvm/vmx/vmx.c: no "
               "vmx_queue_exception"),
       Checked(Fn("svm_inject_exception", SvmC(), From(6, 1), Vendor::Svm),
               "6.0.1 arch/x86/kvm/svm/svm.c: no svm_inject_exception; 6.1-rc7 "
               "arch/x86/kvm/svm/svm.c:458 static void svm_inject_exception; 6.19.0 "
               "arch/x86/kvm/svm/svm.c:365"),
       Checked(Fn("svm_queue_exception", SvmC(), Until(6, 0), Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:531 static void svm_queue_exception; 6.0.1 "
               "arch/x86/kvm/svm/svm.c:464; 6.1-rc7 arch/x86/kvm/svm/svm.c: no "
               "svm_queue_exception"),
       Checked(Fn("pvm_inject_exception", PvmC(), {}, Vendor::Pvm),
               "running kernel /proc/kallsyms: t pvm_inject_exception")},
      "Writes the event into the VMCS entry fields or the VMCB's EVENTINJ (PVM: its own event "
      "delivery) so the guest takes it right after entry.",
      Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:1735 vmcs_write32(VM_ENTRY_INTR_INFO_FIELD, intr_info) "
           "in vmx_inject_exception; 6.1-rc7 arch/x86/kvm/svm/svm.c:469 "
           "svm->vmcb->control.event_inj = ... in svm_inject_exception; running kernel "
           "/proc/kallsyms: t pvm_inject_exception")}},
    {Checked(Call("arch_run", "enter_guest"),
             "3.19.8 arch/x86/kvm/x86.c:6575 r = __vcpu_run(vcpu) → :6401 r = "
             "vcpu_enter_guest(vcpu); 6.1-rc7 arch/x86/kvm/x86.c:11190 r = vcpu_run(vcpu) → "
             ":10969 r = vcpu_enter_guest(vcpu) (through the run loop, not shown in this chain)"),
     Checked(Call("enter_guest", "vendor_exit"),
             "3.19.8 arch/x86/kvm/x86.c:6378 r = kvm_x86_ops->handle_exit(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:10866 static_call(kvm_x86_handle_exit)"),
     Checked(Tail(Call("vendor_exit", "exit_table", From(5, 11)), kSvmTableTail), kExitTableCall),
     Checked(Tail(Call("exit_table", "exception_exit", From(5, 11)), kHandlerTail), kHandlerCall),
     Checked(Call("vendor_exit", "exception_exit", Until(5, 10), Paging::Any,
                  "before the exit table had a function of its own"),
             kOldHandlerCall),
     Checked(Tail(Call("exception_exit", "handle_ud", From(4, 17), Paging::Any, "on a #UD"),
                  "ud_interception / handle_exception_nmi end in return handle_ud() (6.1-rc7 "
                  "svm/svm.c:2023, vmx/vmx.c:5085)"),
             "6.1-rc7 arch/x86/kvm/svm/svm.c:2023 return handle_ud(vcpu) in ud_interception; "
             "6.1-rc7 arch/x86/kvm/vmx/vmx.c:5085 return handle_ud(vcpu) in "
             "handle_exception_nmi; 4.17.0 arch/x86/kvm/vmx.c:6434 return handle_ud(vcpu)"),
     Checked(Call("handle_ud", "queue", From(4, 17), Paging::Any,
                  "through the emulator when it cannot emulate (x86_emulate_instruction); in "
                  "4.17 handle_ud queued the #UD itself"),
             "6.1-rc7 arch/x86/kvm/x86.c:7381 return kvm_emulate_instruction(vcpu, emul_type), "
             ":8837 kvm_queue_exception(vcpu, UD_VECTOR) in x86_emulate_instruction; 5.6.4 "
             "arch/x86/kvm/x86.c:5601, :6796; 4.17.0 arch/x86/kvm/x86.c:4872 "
             "kvm_queue_exception(vcpu, UD_VECTOR) in handle_ud (where between 4.17 and 5.6 "
             "that changed was not read)"),
     Checked(Call("exception_exit", "queue", {}, Paging::Any,
                  "when the exception belongs to the guest"),
             "6.1-rc7 arch/x86/kvm/vmx/vmx.c:5197 kvm_queue_exception_e(vcpu, AC_VECTOR, "
             "error_code) in handle_exception_nmi; 3.19.8 arch/x86/kvm/svm.c:1788 "
             "kvm_queue_exception(&svm->vcpu, UD_VECTOR) in ud_interception; 3.19.8 "
             "arch/x86/kvm/vmx.c:4870 kvm_queue_exception(vcpu, UD_VECTOR) in handle_exception"),
     Then("queue", "check_events", "pending until the next entry",
          "6.1-rc7 arch/x86/kvm/x86.c:681 vcpu->arch.exception.pending = true in "
          "kvm_multiple_exception, :10667 kvm_check_and_inject_events() on the next "
          "vcpu_enter_guest"),
     Checked(Call("enter_guest", "check_events"),
             "3.19.8 arch/x86/kvm/x86.c:6242 inject_pending_event(vcpu, req_int_win); 6.1-rc7 "
             "arch/x86/kvm/x86.c:10667 kvm_check_and_inject_events(vcpu, &req_immediate_exit)"),
     Checked(IfSymbol(Call("check_events", "inject", From(5, 14)), "kvm_inject_exception", true),
             "6.1-rc7 arch/x86/kvm/x86.c:9913 kvm_inject_exception(vcpu) in "
             "kvm_check_and_inject_events; 4.19.304 arch/x86/kvm/x86.c:7150 "
             "kvm_inject_exception(vcpu) in inject_pending_event"),
     Checked(IfSymbol(Call("inject", "vendor_inject", From(5, 14)), "kvm_inject_exception", true),
             "5.10.89 arch/x86/kvm/x86.c:8306 kvm_x86_ops.queue_exception(vcpu); 5.14.2 "
             "arch/x86/kvm/x86.c:8816 static_call(kvm_x86_queue_exception)(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:9831 static_call(kvm_x86_inject_exception)(vcpu)"),
     // The layout without kvm_inject_exception: the vendor's queue function
     // straight from inject_pending_event.
     Checked(IfSymbol(Call("check_events", "vendor_inject", Until(5, 13), Paging::Any,
                           "without kvm_inject_exception: kvm_x86_ops->queue_exception "
                           "directly"),
                      "kvm_inject_exception", false),
             "3.19.8 arch/x86/kvm/x86.c:6048 kvm_x86_ops->queue_exception(vcpu, ...) in "
             "inject_pending_event; 5.12.9 arch/x86/kvm/x86.c:8417 "
             "static_call(kvm_x86_queue_exception)(vcpu) in inject_pending_event")},
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
      {Checked(Fn("handle_ept_violation", VmxC(), {}, Vendor::Vmx, tdp),
               "3.19.8 arch/x86/kvm/vmx.c:5506 static int handle_ept_violation; 6.1-rc7 "
               "arch/x86/kvm/vmx/vmx.c:5617; 6.19.0 arch/x86/kvm/vmx/vmx.c:5875"),
       Checked(Fn("npf_interception", SvmC(), From(4, 16), Vendor::Svm, tdp),
               "4.14.177 arch/x86/kvm/svm.c:4371 [SVM_EXIT_NPF] = pf_interception, no "
               "npf_interception; 4.16.13 arch/x86/kvm/svm.c:2495 static int npf_interception, "
               ":4614 [SVM_EXIT_NPF] = npf_interception; 6.1-rc7 arch/x86/kvm/svm/svm.c:1963, "
               "4.15 not read (no 4.15 tree with svm.c)",
               true),
       Checked(Fn("handle_exception_nmi", VmxC(), From(5, 3), Vendor::Vmx, shadow),
               "5.2.1 arch/x86/kvm/vmx/vmx.c: no handle_exception_nmi; 5.3.1 "
               "arch/x86/kvm/vmx/vmx.c:4478 static int handle_exception_nmi; 6.1-rc7 "
               "arch/x86/kvm/vmx/vmx.c:5134 return kvm_handle_page_fault() for #PF"),
       Checked(Fn("handle_exception", VmxC(), Until(5, 2), Vendor::Vmx, shadow),
               "3.19.8 arch/x86/kvm/vmx.c:4844 static int handle_exception; 5.2.1 "
               "arch/x86/kvm/vmx/vmx.c:4449; 5.3.1 arch/x86/kvm/vmx/vmx.c: no handle_exception"),
       Checked(Fn("pf_interception", SvmC(), {}, Vendor::Svm, shadow),
               "3.19.8 arch/x86/kvm/svm.c:1708 static int pf_interception; 6.1-rc7 "
               "arch/x86/kvm/svm/svm.c:1950, :1957 return kvm_handle_page_fault(); 6.19.0 "
               "arch/x86/kvm/svm/svm.c:1852"),
       // Listed after the shadow row. Before npf_interception, SVM's NPF exits
       // went to pf_interception; the symbol decides (pf_interception itself
       // exists everywhere).
       IfSymbol(Checked(Fn("pf_interception", SvmC(), Until(4, 15), Vendor::Svm, tdp),
                        "3.19.8 arch/x86/kvm/svm.c:3383 [SVM_EXIT_NPF] = pf_interception; "
                        "4.14.177 arch/x86/kvm/svm.c:4371 [SVM_EXIT_NPF] = pf_interception; "
                        "4.16.13 arch/x86/kvm/svm.c:4614 [SVM_EXIT_NPF] = npf_interception, 4.15 "
                        "not read",
                        true),
                "npf_interception", false),
       Checked(Fn("pvm_handle_native_exit", PvmC(), {}, Vendor::Pvm, shadow),
               "running kernel /proc/kallsyms: t pvm_handle_native_exit")},
      "With EPT/NPT the exit is an EPT violation / nested page fault on a guest-physical address "
      "(SVM handled it in pf_interception before npf_interception, 4.16); with shadow paging it is "
      "the guest's own #PF, intercepted.",
      Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:5995 [EXIT_REASON_EPT_VIOLATION] = "
           "handle_ept_violation; 6.1-rc7 arch/x86/kvm/svm/svm.c:3199 [SVM_EXIT_NPF] = "
           "npf_interception; 4.14.177 arch/x86/kvm/svm.c:4371 [SVM_EXIT_NPF] = pf_interception; "
           "6.1-rc7 arch/x86/kvm/vmx/vmx.c:5134 return kvm_handle_page_fault() (#PF in "
           "handle_exception_nmi)")},
     {"handle_pf", "intercepted #PF", Phase::Run, "",
      {Checked(Fn("kvm_handle_page_fault", MmuC(), From(4, 13), Vendor::Any, shadow),
               "4.12.4 arch/x86/kvm/mmu.c: no kvm_handle_page_fault; 4.13.4 arch/x86/kvm/mmu.c:3784 "
               "int kvm_handle_page_fault; 6.1-rc7 arch/x86/kvm/mmu/mmu.c:4294; 6.19.0 "
               "arch/x86/kvm/mmu/mmu.c:4837")},
      "Shared by VMX and SVM for an intercepted #PF: deals with async page faults, else calls "
      "kvm_mmu_page_fault.",
      Read("6.1-rc7 arch/x86/kvm/mmu/mmu.c:4294 int kvm_handle_page_fault, :4312 r = "
           "kvm_mmu_page_fault(), :4314 else if (flags & KVM_PV_REASON_PAGE_NOT_PRESENT)")},
     {"mmu_pf", "MMU page fault", Phase::Run, "",
      {Checked(Fn("kvm_mmu_page_fault", MmuC()),
               "3.19.8 arch/x86/kvm/mmu.c:4201 int kvm_mmu_page_fault; 5.4.286 "
               "arch/x86/kvm/mmu.c:5526; 5.5-rc5 arch/x86/kvm/mmu/mmu.c:5519")},
      "The MMU's entry for every guest fault KVM must resolve; falls back to emulating the "
      "instruction (MMIO).",
      Read("6.1-rc7 arch/x86/kvm/mmu/mmu.c:5550 r = kvm_mmu_do_page_fault(), :5587 emulate:, "
           ":5588 return x86_emulate_instruction()")},
     {"do_pf", "pick the fault handler", Phase::Run, "",
      {Checked(Fn("kvm_mmu_do_page_fault", DoPfH(), From(5, 6)),
               "5.5-rc5 arch/x86/kvm/mmu.h: no kvm_mmu_do_page_fault; 5.6.4 arch/x86/kvm/mmu.h:108 "
               "static inline int kvm_mmu_do_page_fault; 5.19.0 "
               "arch/x86/kvm/mmu/mmu_internal.h:232")},
      "Calls the current MMU's fault handler (vcpu->arch.mmu->page_fault): the TDP one, or the "
      "shadow walker for the guest's paging mode; with CONFIG_RETPOLINE the TDP one directly.",
      Read("6.1-rc7 arch/x86/kvm/mmu/mmu_internal.h:289 if (IS_ENABLED(CONFIG_RETPOLINE) && "
           "fault.is_tdp), :290 r = kvm_tdp_page_fault(vcpu, &fault), :292 r = "
           "vcpu->arch.mmu->page_fault(vcpu, &fault); 5.6.4 arch/x86/kvm/mmu.h:111 #ifdef "
           "CONFIG_RETPOLINE, :113 return kvm_tdp_page_fault(), :115 return "
           "vcpu->arch.mmu->page_fault()")},
     {"handler", "MMU fault handler", Phase::Run, "",
      {Checked(Fn("kvm_tdp_page_fault", MmuC(), From(5, 6), Vendor::Any, tdp),
               "5.5-rc5 arch/x86/kvm/mmu/mmu.c: no kvm_tdp_page_fault; 5.6.4 "
               "arch/x86/kvm/mmu/mmu.c:4222 int kvm_tdp_page_fault; 6.19.0 "
               "arch/x86/kvm/mmu/mmu.c:4917"),
       Checked(Fn("tdp_page_fault", MmuC(), Until(5, 5), Vendor::Any, tdp),
               "3.19.8 arch/x86/kvm/mmu.c:3387 static int tdp_page_fault; 5.4.286 "
               "arch/x86/kvm/mmu.c:4283; 5.5-rc5 arch/x86/kvm/mmu/mmu.c:4262 (5.5 final not "
               "read); 5.6.4 arch/x86/kvm/mmu/mmu.c: no tdp_page_fault"),
       Checked(Fn("paging64_page_fault", PagingTmpl(), {}, Vendor::Any, shadow),
               "3.19.8 arch/x86/kvm/paging_tmpl.h:701 static int FNAME(page_fault); 6.19.0 "
               "arch/x86/kvm/mmu/paging_tmpl.h:765 (PTTYPE 64: paging64_page_fault); running "
               "kernel /proc/kallsyms: t paging64_page_fault")},
      "TDP: map the guest-physical page in EPT/NPT. Shadow: walk the guest's page tables "
      "(paging64_* from paging_tmpl.h), then build the shadow entry.",
      Read("6.1-rc7 arch/x86/kvm/mmu/mmu.c:4327 int kvm_tdp_page_fault, :4351 return "
           "direct_page_fault(); 6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:790 FNAME(page_fault), "
           ":805 r = FNAME(walk_addr)(), :880 r = FNAME(fetch)()")},
     {"direct_pf", "direct-map fault", Phase::Run, "",
      {Checked(Fn("kvm_tdp_mmu_page_fault", MmuC(), From(6, 3), Vendor::Any, tdp),
               "6.2.12 arch/x86/kvm/mmu/mmu.c: no kvm_tdp_mmu_page_fault; 6.3.8 "
               "arch/x86/kvm/mmu/mmu.c:4414 static int kvm_tdp_mmu_page_fault; 6.19.0 "
               "arch/x86/kvm/mmu/mmu.c:4882"),
       // From 6.3 the step only with the TDP MMU off (kvm.tdp_mmu=0, or 32-bit).
       Checked(Fn("direct_page_fault", MmuC(), From(5, 6), Vendor::Any, tdp),
               "5.5-rc5 arch/x86/kvm/mmu/mmu.c: no direct_page_fault (tdp_page_fault did it); "
               "5.6.4 arch/x86/kvm/mmu/mmu.c:4124 static int direct_page_fault; 6.3.8 "
               "arch/x86/kvm/mmu/mmu.c:4333; 6.19.0 arch/x86/kvm/mmu/mmu.c:4788; 6.3.8 "
               "arch/x86/kvm/mmu/mmu.c:4476 return kvm_tdp_mmu_page_fault() if tdp_mmu_enabled, "
               ":4479 return direct_page_fault()")},
      "Resolves the guest-physical address to a host page (kvm_faultin_pfn, try_async_pf before "
      "5.15) and maps it under mmu_lock; from 6.3 TDP-MMU faults take kvm_tdp_mmu_page_fault and "
      "direct_page_fault serves only with the TDP MMU off.",
      Read("6.1-rc7 arch/x86/kvm/mmu/mmu.c:4248 r = kvm_faultin_pfn(vcpu, fault), :4259 "
           "read_lock(&vcpu->kvm->mmu_lock) / :4261 write_lock; 5.14.2 arch/x86/kvm/mmu/mmu.c:3799 "
           "static bool try_async_pf; 5.15.16 arch/x86/kvm/mmu/mmu.c:3906 static bool "
           "kvm_faultin_pfn; 6.3.8 arch/x86/kvm/mmu/mmu.c:4476 return kvm_tdp_mmu_page_fault(), "
           ":4479 return direct_page_fault()")},
     {"walk", "guest page-table walk", Phase::Run, "",
      {Checked(Fn("paging64_walk_addr_generic", PagingTmpl(), {}, Vendor::Any, shadow),
               "3.19.8 arch/x86/kvm/paging_tmpl.h:268 static int FNAME(walk_addr_generic); "
               "6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:302; 6.19.0 "
               "arch/x86/kvm/mmu/paging_tmpl.h:302")},
      "Walks the guest's 64-bit page table in software (tracepoint kvm_mmu_pagetable_walk); a "
      "miss becomes a #PF for the guest (tracepoint kvm_mmu_walker_error).",
      Read("6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:302 FNAME(walk_addr_generic), :324 "
           "trace_kvm_mmu_pagetable_walk, :509 trace_kvm_mmu_walker_error, :814 "
           "kvm_inject_emulated_page_fault() in FNAME(page_fault)")},
     {"fetch", "build shadow entries", Phase::Run, "",
      {Checked(Fn("paging64_fetch", PagingTmpl(), {}, Vendor::Any, shadow),
               "3.19.8 arch/x86/kvm/paging_tmpl.h:560 static int FNAME(fetch); 6.1-rc7 "
               "arch/x86/kvm/mmu/paging_tmpl.h:618; 6.19.0 arch/x86/kvm/mmu/paging_tmpl.h:614")},
      "Allocates the shadow page-table pages down to the faulting address.",
      Read("6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:618 static int FNAME(fetch), :724 ret = "
           "mmu_set_spte() for the last level")},
     {"tdp_map", "TDP MMU map", Phase::Run, "",
      {Checked(Fn("kvm_tdp_mmu_map", One("arch/x86/kvm/mmu/tdp_mmu.c",
                                         Read("5.10.7 arch/x86/kvm/mmu/tdp_mmu.c:552 int "
                                              "kvm_tdp_mmu_map; 6.1-rc7 "
                                              "arch/x86/kvm/mmu/tdp_mmu.c:1155")),
                  From(5, 10), Vendor::Any, tdp),
               "5.9.1 arch/x86/kvm/mmu/tdp_mmu.c: no kvm_tdp_mmu_map; 5.10.7 "
               "arch/x86/kvm/mmu/tdp_mmu.c:552 int kvm_tdp_mmu_map; 6.1-rc7 "
               "arch/x86/kvm/mmu/tdp_mmu.c:1155")},
      "The TDP MMU (5.10+, x86-64, only with kvm.tdp_mmu=Y, the default since 5.15) installs "
      "EPT/NPT entries itself, under mmu_lock: a spinlock in 5.10–5.11, held for read since 5.12.",
      Read("5.10.89 arch/x86/kvm/mmu/tdp_mmu.c:11 tdp_mmu_enabled = false; 5.14.2 "
           "arch/x86/kvm/mmu/tdp_mmu.c:13 tdp_mmu_enabled = false; 5.15.16 "
           "arch/x86/kvm/mmu/tdp_mmu.c:13 tdp_mmu_enabled = true; 5.10.89 "
           "arch/x86/kvm/mmu/mmu.c:3723 spin_lock(&vcpu->kvm->mmu_lock); 5.11.0 "
           "arch/x86/kvm/mmu/mmu.c:3727 spin_lock; 5.12.9 arch/x86/kvm/mmu/mmu.c:3742 "
           "read_lock(&vcpu->kvm->mmu_lock); 6.3.8 arch/x86/kvm/mmu/mmu.c:4435 read_lock")},
     {"set_spte", "install the SPTE", Phase::Run, "",
      {Checked(Fn("mmu_set_spte", MmuC()),
               "3.19.8 arch/x86/kvm/mmu.c:2514 static void mmu_set_spte; 6.1-rc7 "
               "arch/x86/kvm/mmu/mmu.c:2779 static int mmu_set_spte; 6.19.0 "
               "arch/x86/kvm/mmu/mmu.c:3030")},
      "Writes the final shadow page-table entry (tracepoint kvm_mmu_set_spte); the access "
      "succeeds when the guest re-executes it.",
      Read("6.1-rc7 arch/x86/kvm/mmu/mmu.c:2779 static int mmu_set_spte, :2833 "
           "trace_kvm_mmu_set_spte(level, gfn, sptep)")}},
    {Checked(Tail(Call("vendor_exit", "exit_table", From(5, 11)), kSvmTableTail), kExitTableCall),
     Checked(Tail(Call("exit_table", "fault_exit", From(5, 11)), kHandlerTail), kHandlerCall),
     Checked(Call("vendor_exit", "fault_exit", Until(5, 10), Paging::Any,
                  "before the exit table had a function of its own"),
             kOldHandlerCall),
     Checked(Tail(Call("fault_exit", "handle_pf", From(4, 13), shadow),
                  "handle_exception_nmi / pf_interception end in return kvm_handle_page_fault() "
                  "(6.1-rc7 vmx/vmx.c:5134, svm/svm.c:1957)"),
             "4.13.4 arch/x86/kvm/svm.c:2121 and arch/x86/kvm/vmx.c:5779 call "
             "kvm_handle_page_fault; 6.1-rc7 arch/x86/kvm/vmx/vmx.c:5134 return "
             "kvm_handle_page_fault(vcpu, error_code, cr2, NULL, 0); 6.1-rc7 "
             "arch/x86/kvm/svm/svm.c:1957 return kvm_handle_page_fault()"),
     Checked(Tail(Call("fault_exit", "mmu_pf", {}, Paging::Any,
                       "shadow paging (and SVM's NPF in 4.13–4.15): through kvm_handle_page_fault, "
                       "which ends in a jump here"),
                  "npf_interception / handle_ept_violation end in return kvm_mmu_page_fault() "
                  "(6.1-rc7 svm/svm.c:1971, vmx/vmx.c:5668)"),
             "6.1-rc7 arch/x86/kvm/vmx/vmx.c:5668 return kvm_mmu_page_fault(vcpu, gpa, error_code, "
             "NULL, 0) in handle_ept_violation; 6.1-rc7 arch/x86/kvm/svm/svm.c:1971 return "
             "kvm_mmu_page_fault() in npf_interception; 3.19.8 arch/x86/kvm/vmx.c:4901 return "
             "kvm_mmu_page_fault(vcpu, cr2, ...) in handle_exception, :5551 in "
             "handle_ept_violation"),
     Checked(Tail(Call("handle_pf", "mmu_pf"),
                  "kvm_handle_page_fault's last act is r = kvm_mmu_page_fault(); return r; "
                  "(6.1-rc7 mmu/mmu.c:4312), a jump once compiled"),
             "6.1-rc7 arch/x86/kvm/mmu/mmu.c:4312 r = kvm_mmu_page_fault(vcpu, fault_address, "
             "error_code, insn, insn_len) in kvm_handle_page_fault; 4.17.0 arch/x86/kvm/mmu.c:3845"),
     Checked(Call("mmu_pf", "do_pf", From(5, 6)),
             "5.6.4 arch/x86/kvm/mmu/mmu.c:5439 r = kvm_mmu_do_page_fault(); 6.1-rc7 "
             "arch/x86/kvm/mmu/mmu.c:5550"),
     // Marked as a tail call because the callee leaves no frame: with EPT/NPT
     // kvm_tdp_page_fault itself ends in a jump.
     Checked(Tail(Call("do_pf", "handler", From(5, 6)),
                  "kvm_tdp_page_fault leaves no frame: it ends in return direct_page_fault() "
                  "(6.1-rc7 mmu/mmu.c:4351); kvm_mmu_do_page_fault, inline, ends in return "
                  "<handler>() in 5.6.4 (mmu.h:113, :115)"),
             "6.1-rc7 arch/x86/kvm/mmu/mmu_internal.h:290 r = kvm_tdp_page_fault(vcpu, &fault), "
             ":292 r = vcpu->arch.mmu->page_fault(vcpu, &fault); 5.6.4 arch/x86/kvm/mmu.h:113 "
             "return kvm_tdp_page_fault(), :115 return vcpu->arch.mmu->page_fault()"),
     Checked(Call("mmu_pf", "handler", Until(5, 5), Paging::Any,
                  "through vcpu->arch.mmu->page_fault"),
             "3.19.8 arch/x86/kvm/mmu.c:4207 r = vcpu->arch.mmu.page_fault(vcpu, cr2, error_code, "
             "false); 5.5-rc5 arch/x86/kvm/mmu/mmu.c:5539 r = vcpu->arch.mmu->page_fault()"),
     Checked(Call("handler", "walk", {}, shadow),
             "6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:805 r = FNAME(walk_addr)() in "
             "FNAME(page_fault), :516 return FNAME(walk_addr_generic)() in FNAME(walk_addr)"),
     Checked(Call("handler", "fetch", {}, shadow),
             "6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:880 r = FNAME(fetch)(vcpu, fault, &walker) "
             "in FNAME(page_fault)"),
     Checked(Call("fetch", "set_spte", {}, shadow),
             "6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:724 ret = mmu_set_spte() in FNAME(fetch)"),
     Checked(Tail(Call("handler", "direct_pf", From(5, 6), tdp),
                  "kvm_tdp_page_fault ends in return direct_page_fault() (6.1-rc7 "
                  "mmu/mmu.c:4351), from 6.3 in return kvm_tdp_mmu_page_fault() or return "
                  "direct_page_fault() (6.3.8 mmu/mmu.c:4476, :4479)"),
             "5.6.4 arch/x86/kvm/mmu/mmu.c:4237 return direct_page_fault(); 6.1-rc7 "
             "arch/x86/kvm/mmu/mmu.c:4351; 6.3.8 arch/x86/kvm/mmu/mmu.c:4476 return "
             "kvm_tdp_mmu_page_fault(vcpu, fault), :4479 return direct_page_fault(vcpu, fault)"),
     Checked(Call("direct_pf", "tdp_map", From(5, 10), tdp,
                  "only with kvm.tdp_mmu=Y (default off 5.10–5.14, on from 5.15); from 6.3 the "
                  "caller is kvm_tdp_mmu_page_fault"),
             "5.10.89 arch/x86/kvm/mmu/mmu.c:3730 if (is_tdp_mmu_root()) :3731 r = "
             "kvm_tdp_mmu_map() in direct_page_fault; 6.1-rc7 arch/x86/kvm/mmu/mmu.c:4267; 6.3.8 "
             "arch/x86/kvm/mmu/mmu.c:4440 r = kvm_tdp_mmu_map(vcpu, fault) in "
             "kvm_tdp_mmu_page_fault; 5.10.89 arch/x86/kvm/mmu/tdp_mmu.c:11 tdp_mmu_enabled = "
             "false; 5.15.16 arch/x86/kvm/mmu/tdp_mmu.c:13 tdp_mmu_enabled = true")},
    "mmu_pf"};
}
// clang-format on

// Evidence the ImpliedSteps rows share.
constexpr std::string_view kSvm61Tail =
    "6.1-rc7 arch/x86/kvm/svm/svm.c:3426 return svm_invoke_exit_handler(vcpu, exit_code) in "
    "svm_handle_exit";
constexpr std::string_view kSvm511Tail =
    "5.11.0 arch/x86/kvm/svm/svm.c:3310 return svm_invoke_exit_handler(svm, exit_code) in "
    "handle_exit; 5.17-rc5 arch/x86/kvm/svm/svm.c:3243";
constexpr std::string_view kVmx61Call =
    "6.1-rc7 arch/x86/kvm/vmx/vmx.c:6464 int ret = __vmx_handle_exit(vcpu, exit_fastpath) in "
    "vmx_handle_exit";
constexpr std::string_view kTdpHandler =
    "6.1-rc7 arch/x86/kvm/mmu/mmu_internal.h:289 if (IS_ENABLED(CONFIG_RETPOLINE) && "
    "fault.is_tdp), :290 r = kvm_tdp_page_fault(vcpu, &fault); 6.1-rc7 arch/x86/kvm/mmu/mmu.c:5043 "
    "context->page_fault = kvm_tdp_page_fault; 5.6.4 arch/x86/kvm/mmu.h:113 return "
    "kvm_tdp_page_fault()";

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
    // SVM: svm_handle_exit (handle_exit before 5.18) ends in
    // svm_invoke_exit_handler() from 5.11, which calls npf_interception for
    // SVM_EXIT_NPF (a direct call with CONFIG_RETPOLINE, else through the
    // table) and svm_exit_handlers[] for the rest.
    {Vendor::Svm, "NPF", "svm_handle_exit", "svm_invoke_exit_handler", Read(kSvm61Tail)},
    {Vendor::Svm, "NPF", "handle_exit", "svm_invoke_exit_handler", Read(kSvm511Tail)},
    {Vendor::Svm, "NPF", "svm_invoke_exit_handler", "npf_interception",
     Read("6.1-rc7 arch/x86/kvm/svm/svm.c:3362 return npf_interception(vcpu) (CONFIG_RETPOLINE), "
          ":3199 [SVM_EXIT_NPF] = npf_interception")},
    {Vendor::Svm, "EXCP_UD", "svm_handle_exit", "svm_invoke_exit_handler", Read(kSvm61Tail)},
    {Vendor::Svm, "EXCP_UD", "handle_exit", "svm_invoke_exit_handler", Read(kSvm511Tail)},
    {Vendor::Svm, "EXCP_UD", "svm_invoke_exit_handler", "ud_interception",
     Read("6.1-rc7 arch/x86/kvm/svm/svm.c:3364 return svm_exit_handlers[exit_code](vcpu), :3160 "
          "[SVM_EXIT_EXCP_BASE + UD_VECTOR] = ud_interception")},
    {Vendor::Svm, "EXCP_PF", "svm_handle_exit", "svm_invoke_exit_handler", Read(kSvm61Tail)},
    {Vendor::Svm, "EXCP_PF", "handle_exit", "svm_invoke_exit_handler", Read(kSvm511Tail)},
    {Vendor::Svm, "EXCP_PF", "svm_invoke_exit_handler", "pf_interception",
     Read("6.1-rc7 arch/x86/kvm/svm/svm.c:3364 return svm_exit_handlers[exit_code](vcpu), :3161 "
          "[SVM_EXIT_EXCP_BASE + PF_VECTOR] = pf_interception")},
    // Before 5.11 handle_exit indexes svm_exit_handlers[] itself (and a
    // kernel whose svm_invoke_exit_handler is inlined looks the same). NPF
    // before 4.16 went to pf_interception, which this table cannot say
    // without a version: left out.
    {Vendor::Svm, "NPF", "handle_exit", "npf_interception",
     Read("5.10.89 arch/x86/kvm/svm/svm.c:3154 return svm_exit_handlers[exit_code](svm), :2942 "
          "[SVM_EXIT_NPF] = npf_interception")},
    {Vendor::Svm, "EXCP_UD", "handle_exit", "ud_interception",
     Read("5.10.89 arch/x86/kvm/svm/svm.c:3154 return svm_exit_handlers[exit_code](svm); 3.19.8 "
          "arch/x86/kvm/svm.c:1782 static int ud_interception")},
    {Vendor::Svm, "EXCP_PF", "handle_exit", "pf_interception",
     Read("5.10.89 arch/x86/kvm/svm/svm.c:3154 return svm_exit_handlers[exit_code](svm); 3.19.8 "
          "arch/x86/kvm/svm.c:1708 static int pf_interception")},
    // VMX: vmx_handle_exit calls __vmx_handle_exit (from 5.12), which ends in
    // kvm_vmx_exit_handlers[] ([EXIT_REASON_EPT_VIOLATION] =
    // handle_ept_violation, [EXIT_REASON_EXCEPTION_NMI] = handle_exception_nmi).
    {Vendor::Vmx, "EPT_VIOLATION", "vmx_handle_exit", "__vmx_handle_exit", Read(kVmx61Call)},
    {Vendor::Vmx, "EPT_VIOLATION", "__vmx_handle_exit", "handle_ept_violation",
     Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:6447 return kvm_vmx_exit_handlers[exit_handler_index]"
          "(vcpu), :5995 [EXIT_REASON_EPT_VIOLATION] = handle_ept_violation")},
    {Vendor::Vmx, "EXCEPTION_NMI", "vmx_handle_exit", "__vmx_handle_exit", Read(kVmx61Call)},
    {Vendor::Vmx, "EXCEPTION_NMI", "__vmx_handle_exit", "handle_exception_nmi",
     Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:6447 return kvm_vmx_exit_handlers[exit_handler_index]"
          "(vcpu), :5960 [EXIT_REASON_EXCEPTION_NMI] = handle_exception_nmi")},
    // Debian's 6.1.0-57 inlines __vmx_handle_exit into vmx_handle_exit (no
    // symbol), and before 5.12 the lookup sat in vmx_handle_exit: the handler
    // follows vmx_handle_exit itself there.
    {Vendor::Vmx, "EPT_VIOLATION", "vmx_handle_exit", "handle_ept_violation",
     Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:5995 [EXIT_REASON_EPT_VIOLATION] = "
          "handle_ept_violation; 5.11.0 arch/x86/kvm/vmx/vmx.c:6048 return "
          "kvm_vmx_exit_handlers[exit_reason](vcpu) in vmx_handle_exit")},
    {Vendor::Vmx, "EXCEPTION_NMI", "vmx_handle_exit", "handle_exception_nmi",
     Read("6.1-rc7 arch/x86/kvm/vmx/vmx.c:5960 [EXIT_REASON_EXCEPTION_NMI] = "
          "handle_exception_nmi; 5.11.0 arch/x86/kvm/vmx/vmx.c:6048 return "
          "kvm_vmx_exit_handlers[exit_reason](vcpu) in vmx_handle_exit")},
    // With EPT/NPT (fault.is_tdp) kvm_mmu_do_page_fault calls
    // kvm_tdp_page_fault: directly with CONFIG_RETPOLINE, else through
    // vcpu->arch.mmu->page_fault, which is kvm_tdp_page_fault then.
    {Vendor::Svm, "NPF", "kvm_mmu_page_fault", "kvm_tdp_page_fault", Read(kTdpHandler)},
    {Vendor::Vmx, "EPT_VIOLATION", "kvm_mmu_page_fault", "kvm_tdp_page_fault", Read(kTdpHandler)},
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

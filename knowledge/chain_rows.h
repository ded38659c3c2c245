// The chains' building blocks, shared by the files that hold the four chains
// (chains_*.cpp, implied_steps.cpp): short constructors for a row of a
// chain, the source files with their moves, the steps several chains share,
// and the tail-call evidence texts. Internal to knowledge/.
#pragma once

#include <string_view>
#include <vector>

#include "knowledge/chains.h"

namespace kvmscope::knowledge::rows {

// clang-format off
// The chains are tables, one row per function or link: keep them compact.
// Every `where` names the tree it was read in (SourceTrees()), the file and
// line, and what is there.
constexpr VersionRange Until(int major, int minor) { return {kOldestKernel, {major, minor}}; }
constexpr VersionRange From(int major, int minor) { return {{major, minor}, kNewestKernel}; }
constexpr Evidence Read(std::string_view where) { return {where, false}; }
constexpr Evidence NotRead(std::string_view where) { return {where, true}; }

using Files = std::vector<SourceFile>;
inline Files One(std::string_view path, Evidence evidence) { return {{VersionRange{}, path, evidence}}; }
// One side of a file move: the path over its versions, with where it was seen.
struct Side {
  VersionRange versions;
  std::string_view path;
  Evidence evidence;
};
inline Files Moved(Side old_side, Side new_side) {
  return {{old_side.versions, old_side.path, old_side.evidence},
          {new_side.versions, new_side.path, new_side.evidence}};
}
// vmx.c became vmx/vmx.c in 5.0 (stable 4.19.y moved it too), svm.c
// svm/svm.c in 5.7; mmu.c and paging_tmpl.h moved into mmu/ in 5.5.
inline Files VmxC() {
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
inline Files SvmC() {
  return Moved({Until(5, 6), "arch/x86/kvm/svm.c",
                Read("3.19.8 arch/x86/kvm/svm.c:3499 static int handle_exit; 5.6.4 "
                     "arch/x86/kvm/svm.c:4980 static int handle_exit, no svm/ directory")},
               {From(5, 7), "arch/x86/kvm/svm/svm.c",
                Read("5.7.14 arch/x86/kvm/svm/svm.c:2901 static int handle_exit; 6.19.0 "
                     "arch/x86/kvm/svm/svm.c:3515 static int svm_handle_exit")});
}
inline Files MmuC() {
  return Moved({Until(5, 4), "arch/x86/kvm/mmu.c",
                Read("3.19.8 arch/x86/kvm/mmu.c:4201 int kvm_mmu_page_fault; 5.4.286 "
                     "arch/x86/kvm/mmu.c:5526 int kvm_mmu_page_fault")},
               {From(5, 5), "arch/x86/kvm/mmu/mmu.c",
                Read("5.5-rc5 arch/x86/kvm/mmu/mmu.c:5519 int kvm_mmu_page_fault (5.5 final not "
                     "read, rc5 has moved it); 6.19.0 arch/x86/kvm/mmu/mmu.c:4837 int "
                     "kvm_handle_page_fault")});
}
inline Files PagingTmpl() {
  return Moved({Until(5, 4), "arch/x86/kvm/paging_tmpl.h",
                Read("3.19.8 arch/x86/kvm/paging_tmpl.h:701 static int FNAME(page_fault); "
                     "5.4.286 arch/x86/kvm/paging_tmpl.h:770 static int FNAME(page_fault)")},
               {From(5, 5), "arch/x86/kvm/mmu/paging_tmpl.h",
                Read("5.5-rc5 arch/x86/kvm/mmu/paging_tmpl.h:768 static int FNAME(page_fault); "
                     "6.19.0 arch/x86/kvm/mmu/paging_tmpl.h:765 static int FNAME(page_fault)")});
}
// kvm_mmu_do_page_fault is a static inline of mmu.h, of mmu/mmu_internal.h
// from 5.19; a symbol only where the compiler keeps a copy.
inline Files DoPfH() {
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
inline Files PvmC() {
  return One("arch/x86/kvm/pvm/pvm.c",
             NotRead("running kernel /proc/kallsyms: pvm_vcpu_run, pvm_handle_exit (symbols "
                     "carry no file); pvm arch/x86/kvm/pvm/pvm.c exists in that tree (file list "
                     "only, its text not read)"));
}
inline Files X86C() {
  return One("arch/x86/kvm/x86.c",
             Read("3.19.8 arch/x86/kvm/x86.c:6539 int kvm_arch_vcpu_ioctl_run; 6.19.0 "
                  "arch/x86/kvm/x86.c:11891 int kvm_arch_vcpu_ioctl_run"));
}
inline Files MainC() {
  return One("virt/kvm/kvm_main.c",
             Read("3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init; 6.19.0 "
                  "virt/kvm/kvm_main.c:6498 int kvm_init"));
}

inline Alternative Fn(std::string_view name, Files files, VersionRange versions = {},
               Vendor vendor = Vendor::Any, Paging paging = Paging::Any) {
  Alternative alt;
  alt.function = name;
  alt.vendor = vendor;
  alt.paging = paging;
  alt.versions = versions;
  alt.files = std::move(files);
  return alt;
}
inline Alternative InitFn(std::string_view name, Files files, VersionRange versions, Vendor vendor) {
  Alternative alt = Fn(name, std::move(files), versions, vendor);
  alt.init_text = true;
  return alt;
}
// Where a row was checked: a function with its range and files, or a link
// with its versions (Alternative::evidence, ChainEdge::evidence).
template <typename Row>
Row Checked(Row row, std::string_view where, bool unverified = false) {
  row.evidence = {where, unverified};
  return row;
}
// A row of one layout: decided by whether `symbol` exists (if_symbol).
template <typename Row>
Row IfSymbol(Row row, std::string_view symbol, bool present) {
  row.if_symbol = symbol;
  row.if_present = present;
  return row;
}
// A call, visible in stacks where both ends have symbols.
inline ChainEdge Call(std::string_view from, std::string_view to, VersionRange versions = {},
               Paging paging = Paging::Any, std::string_view note = {}) {
  ChainEdge edge;
  edge.from = from;
  edge.to = to;
  edge.kind = EdgeKind::Calls;
  edge.paging = paging;
  edge.versions = versions;
  edge.note = note;
  return edge;
}
// Only where the boolean module parameter `param` is on (Alternative::if_param).
template <typename Row>
Row IfParam(Row row, std::string_view param) {
  row.if_param = param;
  return row;
}
// A call the caller can make as a jump (ChainEdge::tail_call).
inline ChainEdge Tail(ChainEdge edge, std::string_view where) {
  edge.tail_call = where;
  return edge;
}
// Not a call: `to` runs later (see EdgeKind::Later).
inline ChainEdge Then(std::string_view from, std::string_view to, std::string_view note,
               std::string_view where) {
  ChainEdge edge;
  edge.from = from;
  edge.to = to;
  edge.kind = EdgeKind::Later;
  edge.note = note;
  edge.evidence = Read(where);
  return edge;
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
inline ChainNode VcpuIoctlNode(std::string_view teaching) {
  return {"vcpu_ioctl", "ioctl on a vCPU fd", Phase::Run, "KVM_RUN",
          {Checked(Fn("kvm_vcpu_ioctl", MainC()),
                   "3.19.8 virt/kvm/kvm_main.c:2025 static long kvm_vcpu_ioctl; 6.19.0 "
                   "virt/kvm/kvm_main.c:4428 static long kvm_vcpu_ioctl")},
          teaching,
          Read("6.1-rc7 virt/kvm/kvm_main.c:3844 .unlocked_ioctl = kvm_vcpu_ioctl, :4041 static "
               "long kvm_vcpu_ioctl, :4087 r = kvm_arch_vcpu_ioctl_run(vcpu) (case KVM_RUN)")};
}
inline ChainNode ArchRunNode() {
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
inline ChainNode EnterGuestNode() {
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
inline ChainNode VendorExitNode() {
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

inline ChainNode ExitTableNode() {
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
// clang-format on

// The four chains, one function each (chains_init_run.cpp,
// chains_exceptions.cpp, chains_page_faults.cpp).
Chain InitChain();
Chain RunLoopChain();
Chain ExceptionsChain();
Chain PageFaultsChain();

}  // namespace kvmscope::knowledge::rows

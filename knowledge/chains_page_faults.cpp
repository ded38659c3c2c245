// The page-fault chain as data (see chain_rows.h; every fact carries where
// it was checked).
#include "knowledge/chain_rows.h"

namespace kvmscope::knowledge::rows {

// clang-format off
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
      {IfParam(Checked(Fn("kvm_tdp_mmu_page_fault", MmuC(), From(6, 3), Vendor::Any, tdp),
                       "6.2.12 arch/x86/kvm/mmu/mmu.c: no kvm_tdp_mmu_page_fault; 6.3.8 "
                       "arch/x86/kvm/mmu/mmu.c:4414 static int kvm_tdp_mmu_page_fault; 6.19.0 "
                       "arch/x86/kvm/mmu/mmu.c:4882"),
               "kvm.tdp_mmu"),
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
      {IfParam(Checked(Fn("kvm_tdp_mmu_map", One("arch/x86/kvm/mmu/tdp_mmu.c",
                                                 Read("5.10.7 arch/x86/kvm/mmu/tdp_mmu.c:552 int "
                                                      "kvm_tdp_mmu_map; 6.1-rc7 "
                                                      "arch/x86/kvm/mmu/tdp_mmu.c:1155")),
                          From(5, 10), Vendor::Any, tdp),
                       "5.9.1 arch/x86/kvm/mmu/tdp_mmu.c: no kvm_tdp_mmu_map; 5.10.7 "
                       "arch/x86/kvm/mmu/tdp_mmu.c:552 int kvm_tdp_mmu_map; 6.1-rc7 "
                       "arch/x86/kvm/mmu/tdp_mmu.c:1155"),
               "kvm.tdp_mmu")},
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
     IfParam(Checked(Call("direct_pf", "tdp_map", From(5, 10), tdp,
                  "only with kvm.tdp_mmu=Y (default off 5.10–5.14, on from 5.15); from 6.3 the "
                  "caller is kvm_tdp_mmu_page_fault"),
             "5.10.89 arch/x86/kvm/mmu/mmu.c:3730 if (is_tdp_mmu_root()) :3731 r = "
             "kvm_tdp_mmu_map() in direct_page_fault; 6.1-rc7 arch/x86/kvm/mmu/mmu.c:4267; 6.3.8 "
             "arch/x86/kvm/mmu/mmu.c:4440 r = kvm_tdp_mmu_map(vcpu, fault) in "
             "kvm_tdp_mmu_page_fault; 5.10.89 arch/x86/kvm/mmu/tdp_mmu.c:11 tdp_mmu_enabled = "
             "false; 5.15.16 arch/x86/kvm/mmu/tdp_mmu.c:13 tdp_mmu_enabled = true"),
             "kvm.tdp_mmu")},
    "mmu_pf"};
}
// clang-format on

}  // namespace kvmscope::knowledge::rows

// The exceptions chain as data (see chain_rows.h; every fact carries where
// it was checked).
#include "knowledge/chain_rows.h"

namespace kvmscope::knowledge::rows {

// clang-format off
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
// clang-format on

}  // namespace kvmscope::knowledge::rows

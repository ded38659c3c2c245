// What an exit reason fixes in the source (ImpliedSteps, chains.h), each row
// with where it was checked.
#include "knowledge/chain_rows.h"

namespace kvmscope::knowledge {

using rows::Read;
using rows::NotRead;

namespace {

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

}  // namespace kvmscope::knowledge

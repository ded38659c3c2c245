// The seed's claims as data (see seed_claims.h and docs/kernel-facts.md).
#include "knowledge/seed_claims.h"

#include <algorithm>
#include <set>

namespace kvmscope::knowledge {

namespace {

constexpr VersionRange Until(int major, int minor) {
  return {kOldestKernel, {major, minor}};
}
constexpr VersionRange Always{};

std::vector<SeedClaim> MakeClaims() {
  using C = ClaimKind;
  return {
      {"vmx_init-calls-kvm_init",
       "vmx_init, the module_init of arch/x86/kvm/vmx.c, calls kvm_init.",
       C::Calls,
       "vmx_init",
       "kvm_init",
       Vendor::Vmx,
       {Until(6, 15)},
       false,
       "True while vmx_init is kvm_intel's module_init (vmx.c up to 4.20, vmx/vmx.c from 5.0; "
       "6.15 not checked). In 6.16 vt_init in vmx/main.c is the module_init: it calls vmx_init "
       "(which no longer calls kvm_init) and then kvm_init itself.",
       {ChainId::Init},
       {{"vt_init", "kvm_init"}, {"svm_init", "kvm_init"}, {"pvm_init", "kvm_init"}},
       "",
       {"3.19.8 arch/x86/kvm/vmx.c:9419 int r = kvm_init(&vmx_x86_ops, ...) in vmx_init, :9442 "
        "module_init(vmx_init); 4.20.0 arch/x86/kvm/vmx.c:15224 r = kvm_init(&vmx_x86_ops, ...), "
        ":15252 module_init(vmx_init); 5.0.1 arch/x86/kvm/vmx/vmx.c:7912 r = kvm_init(...), :7940 "
        "module_init(vmx_init); 6.14.0 arch/x86/kvm/vmx/vmx.c:8661 r = kvm_init(sizeof(struct "
        "vcpu_vmx), ...), :8674 module_init(vmx_init); 6.16.1 arch/x86/kvm/vmx/main.c:1102 "
        "module_init(vt_init), :1062 r = vmx_init(), :1090 r = kvm_init(vcpu_size, vcpu_align, "
        "THIS_MODULE), vmx/vmx.c:8820 int __init vmx_init(void) has no kvm_init call"},
       "",
       ""},
      {"kvm_init-in-vmx.c",
       "kvm_init is defined in arch/x86/kvm/vmx.c.",
       C::DefinedIn,
       "kvm_init",
       "arch/x86/kvm/vmx.c",
       Vendor::Any,
       {},
       false,
       "Never: kvm_init is generic KVM code in virt/kvm/kvm_main.c, shared by every "
       "architecture; vmx.c only calls it.",
       {ChainId::Init},
       {},
       "",
       {"3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init(void *opaque, unsigned vcpu_size, ...), "
        "arch/x86/kvm/vmx.c:9419 only calls it; 6.1.192 virt/kvm/kvm_main.c:5909 int kvm_init(; "
        "6.16.1 virt/kvm/kvm_main.c:6437 int kvm_init(unsigned vcpu_size, unsigned vcpu_align, "
        "struct module *module)"},
       "",
       ""},
      {"kvm_init-calls-kvm_arch_init",
       "kvm_init calls kvm_arch_init (arch/x86/kvm/x86.c), which checks that hardware "
       "virtualization is enabled and sets up the MMU.",
       C::Calls,
       "kvm_init",
       "kvm_arch_init",
       Vendor::Any,
       {Until(6, 2)},
       false,
       "True up to 6.2 in mainline. In 6.3 kvm_arch_init went away: the vendor init (vmx_init, "
       "svm_init) calls kvm_x86_vendor_init, which does those checks and the MMU setup, before "
       "kvm_init. Stable kernels got kvm_x86_vendor_init early: in 6.1.192 (Debian 12) and "
       "6.2.12 kvm_init still calls kvm_arch_init, but it is an empty stub (return 0).",
       {ChainId::Init},
       {{"kvm_x86_vendor_init", ""}},
       "",
       {"3.19.8 virt/kvm/kvm_main.c:3220 r = kvm_arch_init(opaque) in kvm_init, "
        "arch/x86/kvm/x86.c:5748 int kvm_arch_init(void *opaque): cpu_has_kvm_support, "
        "disabled_by_bios, kvm_mmu_module_init; 6.2.1 virt/kvm/kvm_main.c:5931 r = "
        "kvm_arch_init(opaque), arch/x86/kvm/x86.c:9293 int kvm_arch_init (the same checks, "
        "kvm_mmu_vendor_module_init), no kvm_x86_vendor_init in vmx/vmx.c; 6.3.8 "
        "virt/kvm/kvm_main.c: no kvm_arch_init, arch/x86/kvm/vmx/vmx.c:8602 r = "
        "kvm_x86_vendor_init(&vmx_init_ops), arch/x86/kvm/svm/svm.c:5138 the same; 6.1.192 "
        "arch/x86/kvm/x86.c:9439 int kvm_arch_init(void *opaque) { return 0 } (empty), :9449 int "
        "kvm_x86_vendor_init(, virt/kvm/kvm_main.c:5916 r = kvm_arch_init(opaque), "
        "arch/x86/kvm/vmx/vmx.c:8640 r = kvm_x86_vendor_init(&vmx_init_ops), "
        "arch/x86/kvm/svm/svm.c:5227; 6.2.12 arch/x86/kvm/x86.c:9293 the same empty stub, :9303 "
        "int kvm_x86_vendor_init(, arch/x86/kvm/vmx/vmx.c:8581, arch/x86/kvm/svm/svm.c:5135"},
       "kvm_x86_vendor_init",
       "the vendor init (vmx_init, svm_init) calls it before kvm_init and it does the checks and "
       "the MMU setup; where kvm_arch_init still exists next to it (6.1.192, 6.2.12) it is an "
       "empty stub"},
      {"kvm_init-calls-kvm_vcpu_compat_ioctl",
       "kvm_init next calls kvm_vcpu_compat_ioctl, reached through the .compat_ioctl member of "
       "the static kvm_vcpu_fops.",
       C::Calls,
       "kvm_init",
       "kvm_vcpu_compat_ioctl",
       Vendor::Any,
       {},
       false,
       "Never: kvm_init only registers /dev/kvm. kvm_vcpu_fops belongs to each vCPU fd that "
       "KVM_CREATE_VCPU makes; its .unlocked_ioctl (kvm_vcpu_ioctl) or, for a 32-bit VMM, "
       ".compat_ioctl (kvm_vcpu_compat_ioctl) runs when the VMM calls ioctl on that fd.",
       {ChainId::Init},
       {{"", "kvm_vcpu_ioctl"}},
       "KVM_CREATE_VCPU",
       {"3.19.8 virt/kvm/kvm_main.c:1936 .unlocked_ioctl = kvm_vcpu_ioctl, :1938 .compat_ioctl "
        "= kvm_vcpu_compat_ioctl (kvm_vcpu_fops), :1949 anon_inode_getfd(\"kvm-vcpu\", "
        "&kvm_vcpu_fops, ...) in create_vcpu_fd, not in kvm_init (:3214); 6.1.192 "
        "virt/kvm/kvm_main.c:3878 anon_inode_getfd(name, &kvm_vcpu_fops, ...) in create_vcpu_fd, "
        ":5998 misc_register(&kvm_dev) in kvm_init; 6.16.1 virt/kvm/kvm_main.c:4095 "
        ".unlocked_ioctl = kvm_vcpu_ioctl, :4098 KVM_COMPAT(kvm_vcpu_compat_ioctl)"},
       "",
       ""},
      {"kvm_vcpu_compat_ioctl-calls-kvm_vcpu_ioctl",
       "kvm_vcpu_compat_ioctl (virt/kvm/kvm_main.c) calls kvm_vcpu_ioctl.",
       C::Calls,
       "kvm_vcpu_compat_ioctl",
       "kvm_vcpu_ioctl",
       Vendor::Any,
       {Always},
       true,
       "True in every version checked, but only for a 32-bit VMM on a 64-bit kernel (x86-64 "
       "has CONFIG_KVM_COMPAT); a 64-bit VMM's ioctl enters kvm_vcpu_ioctl directly.",
       {ChainId::Init},
       {{"", "kvm_vcpu_ioctl"}},
       "",
       {"3.19.8 virt/kvm/kvm_main.c:2228 static long kvm_vcpu_compat_ioctl(, :2264 r = "
        "kvm_vcpu_ioctl(filp, ioctl, arg); 6.1.192 virt/kvm/kvm_main.c:4292, :4326 the same, "
        "virt/kvm/Kconfig:68 config KVM_COMPAT, depends on KVM && COMPAT && !(S390 || ARM64 || "
        "RISCV); 6.16.1 virt/kvm/kvm_main.c:4645 static long kvm_vcpu_compat_ioctl(, :4679 r = "
        "kvm_vcpu_ioctl(filp, ioctl, arg);"},
       "",
       ""},
      {"kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run",
       "kvm_vcpu_ioctl calls kvm_arch_vcpu_ioctl_run (arch/x86/kvm/x86.c).",
       C::Calls,
       "kvm_vcpu_ioctl",
       "kvm_arch_vcpu_ioctl_run",
       Vendor::Any,
       {Always},
       true,
       "True in every version: the KVM_RUN case of kvm_vcpu_ioctl calls the architecture's "
       "run function.",
       {ChainId::Init, ChainId::RunLoop},
       {},
       "",
       {"3.19.8 virt/kvm/kvm_main.c:2067 r = kvm_arch_vcpu_ioctl_run(vcpu, vcpu->run); 6.1.192 "
        "virt/kvm/kvm_main.c:4124 r = kvm_arch_vcpu_ioctl_run(vcpu); 6.16.1 "
        "virt/kvm/kvm_main.c:4464 r = kvm_arch_vcpu_ioctl_run(vcpu);"},
       "",
       ""},
      {"__vcpu_run-is-the-loop",
       "__vcpu_run (arch/x86/kvm/x86.c) is the function in which the run loop turns.",
       C::Exists,
       "__vcpu_run",
       "",
       Vendor::Any,
       {Until(4, 0)},
       true,
       "True up to 4.0; renamed vcpu_run in 4.1 (still the loop, still x86.c), which compilers "
       "often inline into kvm_arch_vcpu_ioctl_run.",
       {ChainId::RunLoop},
       {{"vcpu_run", ""}},
       "",
       {"3.19.8 arch/x86/kvm/x86.c:6390 static int __vcpu_run(struct kvm_vcpu *vcpu); 4.0.4 "
        "arch/x86/kvm/x86.c:6385 static int __vcpu_run(, :6570 r = __vcpu_run(vcpu) in "
        "kvm_arch_vcpu_ioctl_run; 4.1.15 arch/x86/kvm/x86.c:6469 static int vcpu_run(, :6634 r = "
        "vcpu_run(vcpu); 6.1.192 arch/x86/kvm/x86.c:11109 static int vcpu_run(, :11348; running "
        "kernel /proc/kallsyms: no vcpu_run symbol (inlined)"},
       "",
       ""},
      {"__vcpu_run-called-from-kvm_vcpu_ioctl",
       "__vcpu_run is called from kvm_vcpu_ioctl.",
       C::Calls,
       "kvm_vcpu_ioctl",
       "__vcpu_run",
       Vendor::Any,
       {},
       true,
       "Not directly in any version: kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run → __vcpu_run "
       "(vcpu_run from 4.1).",
       {ChainId::RunLoop},
       {{"kvm_vcpu_ioctl", "vcpu_run"}},
       "",
       {"3.19.8 virt/kvm/kvm_main.c:2067 r = kvm_arch_vcpu_ioctl_run(vcpu, vcpu->run), "
        "arch/x86/kvm/x86.c:6575 r = __vcpu_run(vcpu) in kvm_arch_vcpu_ioctl_run (:6539); 4.1.15 "
        "arch/x86/kvm/x86.c:6634 r = vcpu_run(vcpu) in kvm_arch_vcpu_ioctl_run (:6598); 6.1.192 "
        "arch/x86/kvm/x86.c:11348 r = vcpu_run(vcpu) in kvm_arch_vcpu_ioctl_run (:11253)"},
       "",
       ""},
      {"handle_exception-is-global",
       "handle_exception (arch/x86/kvm/vmx.c) is the global handler of exceptions.",
       C::Exists,
       "handle_exception",
       "",
       Vendor::Vmx,
       {},
       true,
       "Never global: handle_exception (handle_exception_nmi from 5.3) handles one exit reason, "
       "EXCEPTION_NMI; every other exit reason has its own handler, and exceptions for the "
       "guest are queued with kvm_queue_exception.",
       {ChainId::Exceptions},
       {{"handle_exception_nmi", ""}, {"pvm_handle_native_exit", ""}},
       "",
       {"3.19.8 arch/x86/kvm/vmx.c:4844 static int handle_exception(, :6972 "
        "[EXIT_REASON_EXCEPTION_NMI] = handle_exception; 5.2.1 arch/x86/kvm/vmx/vmx.c:4449 static "
        "int handle_exception(, :5472 [EXIT_REASON_EXCEPTION_NMI] = handle_exception; 5.3.1 "
        "arch/x86/kvm/vmx/vmx.c:4478 static int handle_exception_nmi(, :5499 "
        "[EXIT_REASON_EXCEPTION_NMI] = handle_exception_nmi; 6.1.192 arch/x86/kvm/vmx/vmx.c:5878 "
        "kvm_queue_exception(vcpu, UD_VECTOR) in another exit's handler"},
       "",
       ""},
      {"handle_exception-checks-is_page_fault",
       "handle_exception recognizes a page fault by calling is_page_fault, from the same file.",
       C::Calls,
       "handle_exception",
       "is_page_fault",
       Vendor::Vmx,
       {Until(5, 2)},
       false,
       "True up to 5.2, and handle_exception_nmi does the same from 5.3. is_page_fault is a "
       "static inline helper (vmx.c up to 4.20, vmx/vmcs.h from 5.0): never a symbol, never a "
       "stack frame.",
       {ChainId::Exceptions, ChainId::PageFaults},
       {{"handle_exception_nmi", ""}},
       "",
       {"3.19.8 arch/x86/kvm/vmx.c:860 static inline bool is_page_fault(, :4893 if "
        "(is_page_fault(intr_info)) in handle_exception (:4844); 4.20.0 arch/x86/kvm/vmx.c:1656 "
        "static inline bool is_page_fault(, :7123 in handle_exception (:7071); 5.0.1 "
        "arch/x86/kvm/vmx/vmcs.h:82 static inline bool is_page_fault(; 5.2.1 "
        "arch/x86/kvm/vmx/vmx.c:4501 if (is_page_fault(intr_info)) in handle_exception (:4449) "
        "5.3.1 arch/x86/kvm/vmx/vmx.c:4527 the same in handle_exception_nmi (:4478), "
        "arch/x86/kvm/vmx/vmcs.h:92"},
       "",
       ""},
      {"handle_exception-calls-kvm_mmu_page_fault",
       "handle_exception calls kvm_mmu_page_fault (arch/x86/kvm/mmu.c).",
       C::Calls,
       "handle_exception",
       "kvm_mmu_page_fault",
       Vendor::Vmx,
       {Until(4, 12)},
       true,
       "Only with shadow paging (no EPT), and directly only up to 4.12: from 4.13 it goes "
       "through kvm_handle_page_fault, from 5.3 the caller is handle_exception_nmi. With EPT "
       "the fault arrives in handle_ept_violation, which calls kvm_mmu_page_fault.",
       {ChainId::PageFaults},
       {{"handle_exception_nmi", "kvm_mmu_page_fault"},
        {"handle_ept_violation", "kvm_mmu_page_fault"},
        {"npf_interception", "kvm_mmu_page_fault"},
        {"pf_interception", "kvm_mmu_page_fault"},
        {"pvm_handle_native_exit", "kvm_mmu_page_fault"}},
       "",
       {"3.19.8 arch/x86/kvm/vmx.c:4901 return kvm_mmu_page_fault(vcpu, cr2, error_code, NULL, "
        "0) in handle_exception; 4.12.0 arch/x86/kvm/vmx.c:5656 the same in handle_exception "
        "(:5599), no kvm_handle_page_fault in arch/x86/kvm; 4.12.4 arch/x86/kvm/vmx.c:5661 the "
        "same; 4.13.4 arch/x86/kvm/vmx.c:5779 return kvm_handle_page_fault(vcpu, error_code, "
        "cr2, NULL, 0,, arch/x86/kvm/mmu.c:3784 int kvm_handle_page_fault(, :3796 r = "
        "kvm_mmu_page_fault(; 4.14.5 arch/x86/kvm/vmx.c:5948 the same; 5.3.1 "
        "arch/x86/kvm/vmx/vmx.c:4531 return kvm_handle_page_fault( in handle_exception_nmi; "
        "6.1.192 arch/x86/kvm/vmx/vmx.c:5664 static int handle_ept_violation(, :5715 return "
        "kvm_mmu_page_fault(vcpu, gpa, error_code, NULL, 0);"},
       "",
       ""},
      {"kvm_mmu_page_fault-calls-page_fault",
       "kvm_mmu_page_fault calls page_fault, in arch/x86/kernel/entry_32.S.",
       C::Calls,
       "kvm_mmu_page_fault",
       "page_fault",
       Vendor::Any,
       {},
       true,
       "Never: page_fault (entry_32.S / entry_64.S, asm_exc_page_fault since 5.8) is the "
       "host's own #PF entry. KVM resolves the guest's fault in software. Since 5.6: "
       "kvm_mmu_page_fault → kvm_mmu_do_page_fault (static inline: usually no frame of its own, "
       "though a kernel may keep it out of line, as this project's 6.18 PVM host does) → "
       "kvm_tdp_page_fault, or paging64_page_fault through mmu->page_fault. Before 5.6 "
       "kvm_mmu_page_fault called mmu->page_fault itself: tdp_page_fault (static in mmu.c) or "
       "paging64_page_fault.",
       {ChainId::PageFaults},
       {{"kvm_mmu_page_fault", ""}},
       "",
       {"3.19.8 arch/x86/kernel/entry_32.S:1227 ENTRY(page_fault), arch/x86/kernel/entry_64.S:1286 "
        "trace_idtentry page_fault do_page_fault; 5.7.14 arch/x86/entry/entry_64.S:1203 idtentry "
        "page_fault do_page_fault; 5.8.1 arch/x86/include/asm/idtentry.h:542 "
        "DECLARE_IDTENTRY_RAW_ERRORCODE(X86_TRAP_PF, exc_page_fault); 5.3.1 "
        "arch/x86/kvm/mmu.c:5400 r = vcpu->arch.mmu->page_fault(vcpu, cr2, in kvm_mmu_page_fault "
        "(:5379), :4126 static int tdp_page_fault(; 5.5-rc5 arch/x86/kvm/mmu/mmu.c:5539 r = "
        "vcpu->arch.mmu->page_fault(vcpu, cr2,, no kvm_mmu_do_page_fault; 5.6.4 "
        "arch/x86/kvm/mmu.h:108 static inline int kvm_mmu_do_page_fault(, "
        "arch/x86/kvm/mmu/mmu.c:5439 r = kvm_mmu_do_page_fault(, :4222 int kvm_tdp_page_fault(; "
        "6.16.1 arch/x86/kvm/mmu/mmu_internal.h:347 static inline int kvm_mmu_do_page_fault(, "
        "arch/x86/kvm/mmu/mmu.c:4840 int kvm_tdp_page_fault(; running kernel /proc/kallsyms: t "
        "kvm_mmu_do_page_fault (6.18 PVM: kept out of line)"},
       "",
       ""},
      {"kvm_arch_vcpu_run-is-the-entry",
       "The guest is entered through kvm_arch_vcpu_run() in arch/x86/kvm/x86.c, which sets up "
       "its initial state and starts it.",
       C::Exists,
       "kvm_arch_vcpu_run",
       "",
       Vendor::Any,
       {},
       true,
       "There is no kvm_arch_vcpu_run in any version checked (3.19 to 6.19). The way in is "
       "kvm_arch_vcpu_ioctl_run → "
       "vcpu_run → vcpu_enter_guest → the vendor's *_vcpu_run (VMRESUME, VMRUN).",
       {ChainId::RunLoop},
       {{"kvm_arch_vcpu_ioctl_run", ""}},
       "",
       {"3.19.8 arch/x86/kvm, virt/kvm, include/linux/kvm_host.h: no kvm_arch_vcpu_run (git grep "
        "-w, nor in any other tree of SourceTrees() from 3.19.8 to 6.19.0, and 6.1.192); 6.1.192 "
        "arch/x86/kvm/x86.c:11253 int kvm_arch_vcpu_ioctl_run(, :11348 r = vcpu_run(vcpu), "
        ":11124 r = vcpu_enter_guest(vcpu), :10909 exit_fastpath = "
        "static_call(kvm_x86_vcpu_run)(vcpu, run_flags);"},
       "",
       ""},
      {"kvm_arch_vcpu_run-calls-kvm_vcpu_run",
       "kvm_arch_vcpu_run starts the guest by calling kvm_vcpu_run().",
       C::Calls,
       "kvm_arch_vcpu_run",
       "kvm_vcpu_run",
       Vendor::Any,
       {},
       true,
       "Neither function exists in any version checked (3.19 to 6.19); the guest is entered "
       "when vcpu_enter_guest "
       "calls vmx_vcpu_run, svm_vcpu_run or pvm_vcpu_run.",
       {ChainId::RunLoop},
       {{"vmx_vcpu_run", ""}, {"svm_vcpu_run", ""}, {"pvm_vcpu_run", ""}},
       "",
       {"3.19.8 arch/x86/kvm, virt/kvm, include/linux/kvm_host.h: neither kvm_arch_vcpu_run nor "
        "kvm_vcpu_run (git grep -w, nor in any other tree of SourceTrees() from 3.19.8 to "
        "6.19.0, and 6.1.192); 6.1.192 arch/x86/kvm/x86.c:10909 exit_fastpath = "
        "static_call(kvm_x86_vcpu_run)(vcpu, run_flags) in vcpu_enter_guest (:10631); running "
        "kernel /proc/kallsyms: pvm_vcpu_run"},
       "",
       ""},
      {"kvm_vcpu_exit-is-the-exit",
       "kvm_vcpu_exit() in the same file is the guest's exit point: it saves the guest's state "
       "and frees the VM's resources.",
       C::Exists,
       "kvm_vcpu_exit",
       "",
       Vendor::Any,
       {},
       true,
       "There is no kvm_vcpu_exit in any version checked (3.19 to 6.19). A VM exit returns "
       "from *_vcpu_run into "
       "vcpu_enter_guest, which calls the vendor's *_handle_exit; tearing a VM down is another "
       "path (kvm_destroy_vm, when its last fd is closed).",
       {ChainId::RunLoop, ChainId::Exceptions},
       {{"vmx_handle_exit", ""}, {"svm_handle_exit", ""}, {"pvm_handle_exit", ""}},
       "",
       {"3.19.8 arch/x86/kvm, virt/kvm, include/linux/kvm_host.h: no kvm_vcpu_exit (git grep -w, "
        "nor in any other tree of SourceTrees() from 3.19.8 to 6.19.0, and 6.1.192); 6.1.192 "
        "arch/x86/kvm/x86.c:11019 r = static_call(kvm_x86_handle_exit)(vcpu, exit_fastpath) in "
        "vcpu_enter_guest, virt/kvm/kvm_main.c:1298 static void kvm_destroy_vm(; running kernel "
        "/proc/kallsyms: pvm_handle_exit"},
       "",
       ""},
  };
}

}  // namespace

const std::vector<SeedClaim>& SeedClaims() {
  static const std::vector<SeedClaim> claims = MakeClaims();
  return claims;
}

const SeedClaim* FindSeedClaim(std::string_view id) {
  for (const SeedClaim& c : SeedClaims())
    if (c.id == id) return &c;
  return nullptr;
}

std::vector<const SeedClaim*> SeedClaimsAbout(ChainId chain) {
  std::vector<const SeedClaim*> about;
  for (const SeedClaim& c : SeedClaims())
    if (std::find(c.chains.begin(), c.chains.end(), chain) != c.chains.end()) about.push_back(&c);
  return about;
}

std::vector<std::string_view> SeedClaimFunctions() {
  std::set<std::string_view> names;
  for (const SeedClaim& c : SeedClaims()) {
    names.insert(c.function);
    if (c.kind == ClaimKind::Calls) names.insert(c.other);
    for (auto [a, b] : c.here) {
      if (!a.empty()) names.insert(a);
      if (!b.empty()) names.insert(b);
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace kvmscope::knowledge

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
       "True while vmx_init is kvm_intel's module_init (vmx.c up to 4.20, vmx/vmx.c from 5.0); "
       "from about 6.16 vt_init in vmx/main.c is the module_init and calls kvm_init itself.",
       {ChainId::Init},
       {{"vt_init", "kvm_init"}, {"svm_init", "kvm_init"}, {"pvm_init", "kvm_init"}},
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
       "True up to 6.2. In 6.3 kvm_arch_init went away: the vendor init (vmx_init, svm_init) "
       "calls kvm_x86_vendor_init itself before kvm_init.",
       {ChainId::Init},
       {{"kvm_x86_vendor_init", ""}},
       ""},
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
       "KVM_CREATE_VCPU"},
      {"kvm_vcpu_compat_ioctl-calls-kvm_vcpu_ioctl",
       "kvm_vcpu_compat_ioctl (virt/kvm/kvm_main.c) calls kvm_vcpu_ioctl.",
       C::Calls,
       "kvm_vcpu_compat_ioctl",
       "kvm_vcpu_ioctl",
       Vendor::Any,
       {Always},
       true,
       "True in every version, but only for a 32-bit VMM on a 64-bit kernel; a 64-bit VMM's "
       "ioctl enters kvm_vcpu_ioctl directly.",
       {ChainId::Init},
       {{"", "kvm_vcpu_ioctl"}},
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
       ""},
      {"__vcpu_run-is-the-loop",
       "__vcpu_run (arch/x86/kvm/x86.c) is the function in which the run loop turns.",
       C::Exists,
       "__vcpu_run",
       "",
       Vendor::Any,
       {Until(3, 19)},
       true,
       "True up to 3.19; renamed vcpu_run in 4.0 (still the loop, still x86.c), which compilers "
       "often inline into kvm_arch_vcpu_ioctl_run.",
       {ChainId::RunLoop},
       {{"vcpu_run", ""}},
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
       "(vcpu_run from 4.0).",
       {ChainId::RunLoop},
       {{"kvm_vcpu_ioctl", "vcpu_run"}},
       ""},
      {"handle_exception-is-global",
       "handle_exception (arch/x86/kvm/vmx.c) is the global handler of exceptions.",
       C::Exists,
       "handle_exception",
       "",
       Vendor::Vmx,
       {},
       true,
       "Never global: handle_exception (handle_exception_nmi from 5.2) handles one exit reason, "
       "EXCEPTION_NMI; every other exit reason has its own handler, and exceptions for the "
       "guest are queued with kvm_queue_exception.",
       {ChainId::Exceptions},
       {{"handle_exception_nmi", ""}, {"pvm_handle_native_exit", ""}},
       ""},
      {"handle_exception-checks-is_page_fault",
       "handle_exception recognizes a page fault by calling is_page_fault, from the same file.",
       C::Calls,
       "handle_exception",
       "is_page_fault",
       Vendor::Vmx,
       {Until(5, 1)},
       false,
       "True up to 5.1, and handle_exception_nmi does the same from 5.2. is_page_fault is a "
       "static inline helper (vmx/vmcs.h from 5.2): never a symbol, never a stack frame.",
       {ChainId::Exceptions, ChainId::PageFaults},
       {{"handle_exception_nmi", ""}},
       ""},
      {"handle_exception-calls-kvm_mmu_page_fault",
       "handle_exception calls kvm_mmu_page_fault (arch/x86/kvm/mmu.c).",
       C::Calls,
       "handle_exception",
       "kvm_mmu_page_fault",
       Vendor::Vmx,
       {Until(4, 13)},
       true,
       "Only with shadow paging (no EPT), and directly only up to 4.13: from 4.14 it goes "
       "through kvm_handle_page_fault, from 5.2 the caller is handle_exception_nmi. With EPT "
       "the fault arrives in handle_ept_violation.",
       {ChainId::PageFaults},
       {{"handle_exception_nmi", "kvm_mmu_page_fault"},
        {"handle_ept_violation", "kvm_mmu_page_fault"},
        {"npf_interception", "kvm_mmu_page_fault"},
        {"pf_interception", "kvm_mmu_page_fault"},
        {"pvm_handle_native_exit", "kvm_mmu_page_fault"}},
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
       "host's own #PF entry. KVM resolves the guest's fault in software: kvm_mmu_page_fault → "
       "kvm_mmu_do_page_fault → kvm_tdp_page_fault or paging64_page_fault.",
       {ChainId::PageFaults},
       {{"kvm_mmu_page_fault", ""}},
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
       "There is no kvm_arch_vcpu_run in any version. The way in is kvm_arch_vcpu_ioctl_run → "
       "vcpu_run → vcpu_enter_guest → the vendor's *_vcpu_run (VMRESUME, VMRUN).",
       {ChainId::RunLoop},
       {{"kvm_arch_vcpu_ioctl_run", ""}},
       ""},
      {"kvm_arch_vcpu_run-calls-kvm_vcpu_run",
       "kvm_arch_vcpu_run starts the guest by calling kvm_vcpu_run().",
       C::Calls,
       "kvm_arch_vcpu_run",
       "kvm_vcpu_run",
       Vendor::Any,
       {},
       true,
       "Neither function exists in any version; the guest is entered when vcpu_enter_guest "
       "calls vmx_vcpu_run, svm_vcpu_run or pvm_vcpu_run.",
       {ChainId::RunLoop},
       {{"vmx_vcpu_run", ""}, {"svm_vcpu_run", ""}, {"pvm_vcpu_run", ""}},
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
       "There is no kvm_vcpu_exit in any version. A VM exit returns from *_vcpu_run into "
       "vcpu_enter_guest, which calls the vendor's *_handle_exit; tearing a VM down is another "
       "path (kvm_destroy_vm, when its last fd is closed).",
       {ChainId::RunLoop, ChainId::Exceptions},
       {{"vmx_handle_exit", ""}, {"svm_handle_exit", ""}, {"pvm_handle_exit", ""}},
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

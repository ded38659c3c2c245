// The built-in guest catalog: one entry per vmm/guests/NAME.S.
#include "vmm/catalog.h"

#include <fstream>
#include <string>

namespace kvmscope::vmm {

namespace guests {
// Each is defined in the source cmake/EmbedGuest.cmake generates from NAME.S.
#define KVMSCOPE_DECLARE_GUEST(ident)                    \
  extern const std::span<const uint8_t> k##ident##Image; \
  extern const std::string_view k##ident##Source;        \
  extern const std::span<const uint32_t> k##ident##Lines;
KVMSCOPE_DECLARE_GUEST(hello)
KVMSCOPE_DECLARE_GUEST(modes)
KVMSCOPE_DECLARE_GUEST(pagefault)
KVMSCOPE_DECLARE_GUEST(exceptions)
KVMSCOPE_DECLARE_GUEST(mmio)
KVMSCOPE_DECLARE_GUEST(cpuid)
KVMSCOPE_DECLARE_GUEST(timer)
KVMSCOPE_DECLARE_GUEST(smp)
KVMSCOPE_DECLARE_GUEST(spin)
KVMSCOPE_DECLARE_GUEST(pio_loop)
KVMSCOPE_DECLARE_GUEST(pio_pair)
#undef KVMSCOPE_DECLARE_GUEST
}  // namespace guests

namespace {
std::vector<GuestInfo> MakeCatalog() {
  using namespace guests;
  return {
      {
          .name = "hello",
          .description = "real mode: prints a greeting on the serial console, then hlt",
          .mode = CpuMode::Real,
          .exits = "KVM_EXIT_IO per console byte, KVM_EXIT_IO for the status, KVM_EXIT_HLT",
          .kernel_paths = "run loop; port I/O completed in user space (kvm_userspace_exit)",
          .promises = {{"kvm_pio", kOnAll}, {"kvm_userspace_exit", kOnAll}},
          .self_check = "reports the number of bytes printed (24)",
          .expected_status = 24,
          .image = khelloImage,
          .source = khelloSource,
          .lines = khelloLines,
      },
      {
          .name = "modes",
          .description = "real -> 32-bit protected -> 64-bit long mode, one step at a time",
          .mode = CpuMode::Real,
          .exits = "KVM_EXIT_IO for console output (polling the 16550 line status), KVM_EXIT_HLT",
          .kernel_paths = "CR0/CR4 writes and WRMSR to EFER handled inside KVM (intercepted on "
                          "VMX/SVM, emulated under PVM; lgdt and far jumps run natively on "
                          "SVM and on VMX with unrestricted_guest); no exit to user space for them",
          .promises = {{"kvm_pio", kOnAll},
                       {"kvm_msr", kOnPvm | kOnSvm, 0,
                        "WRMSR to EFER (long mode enable) is intercepted"}},
          .self_check = "reports a bit per mode reached: 1 real, 2 protected, 4 long (7)",
          .expected_status = 7,
          .image = kmodesImage,
          .source = kmodesSource,
          .lines = kmodesLines,
      },
      {
          .name = "pagefault",
          .description = "long mode, ring 3: first-touch faults, then demand paging by the guest",
          .mode = CpuMode::Long,
          .exits =
              "KVM_EXIT_IO for console and status, KVM_EXIT_HLT; the faults stay in the kernel",
          .kernel_paths = "kvm_mmu_page_fault on first touch of 16 fresh pages; guest #PF (vector "
                          "14) injected by KVM for 4 unmapped pages, handled by the guest",
          .promises =
              {{"kvm_mmu_set_spte", kOnAll},
               {"kvm_mmu_pagetable_walk", kOnPvm | kOnShadow, 0,
                "KVM walks the guest's page tables in software (shadow paging)"},
               {"kvm_mmu_walker_error", kOnPvm | kOnShadow, 0,
                "the walk finds the 4 unmapped pages: the guest's own faults"},
               {"kvm_inj_exception", kOnPvm | kOnShadow, 0,
                "KVM injects those #PFs into the guest"},
               {"kvm_page_fault", kOnShadow, 0, "the guest's #PF is intercepted"},
               {"kvm_mmu_walker_error", 0, kOnTdp,
                "with EPT/NPT the CPU walks the guest's page tables and delivers its #PF "
                "itself: KVM sees only the first touch of each guest-physical page"}},
          .self_check = "reports (pages touched << 8) | demand faults handled (0x1004)",
          .expected_status = 0x1004,
          .image = kpagefaultImage,
          .source = kpagefaultSource,
          .lines = kpagefaultLines,
      },
      {
          .name = "exceptions",
          .description =
              "long mode: raises #DE, #BP (from ring 3), #UD, #GP on purpose; the guest's IDT "
              "handles each",
          .mode = CpuMode::Long,
          .exits = "KVM_EXIT_IO for console and status, KVM_EXIT_HLT",
          .kernel_paths = "exception delivery to the guest (kvm_inj_exception where KVM injects)",
          .promises = {{"kvm_inj_exception", kOnAll, 0,
                        "#UD is always intercepted (handle_ud), emulated, then injected"},
                       {"kvm_inj_virq", 0, 0,
                        "under QEMU's emulated SVM only: it reports INT3 as a software "
                        "interrupt, which KVM reinjects (real AMD CPUs report an exception)",
                        kOnSvm}},
          .self_check = "reports a bit per vector handled: 1<<0 | 1<<3 | 1<<6 | 1<<13 (0x2049)",
          .expected_status = 0x2049,
          .image = kexceptionsImage,
          .source = kexceptionsSource,
          .lines = kexceptionsLines,
      },
      {
          .name = "mmio",
          .description = "protected mode: reads and writes the VMM's MMIO device outside RAM",
          .mode = CpuMode::Protected,
          .exits = "KVM_EXIT_MMIO x4 (read ID, write scratch, read scratch, read count), "
                   "KVM_EXIT_IO for the status, KVM_EXIT_HLT",
          .kernel_paths = "MMIO emulation: the access hits no memory slot, KVM decodes the "
                          "instruction and exits to user space (kvm_mmio)",
          .promises = {{"kvm_mmio", kOnAll}, {"kvm_userspace_exit", kOnAll}},
          .self_check = "reports the device's access count (4) if ID and scratch read back right",
          .expected_status = 4,
          .image = kmmioImage,
          .source = kmmioSource,
          .lines = kmmioLines,
      },
      {
          .name = "cpuid",
          .description =
              "long mode: CPUID, WRMSR/RDMSR, RDTSC and a hypercall, handled in the kernel",
          .mode = CpuMode::Long,
          .exits = "only KVM_EXIT_IO for console and status, and KVM_EXIT_HLT: the four checked "
                   "instructions never reach user space",
          .kernel_paths = "kvm_emulate_cpuid (kvm_cpuid); where the MSR is intercepted, "
                          "kvm_emulate_wrmsr/kvm_emulate_rdmsr on a VMX/SVM exit or the "
                          "emulator's emulator_set_msr_with_filter/emulator_get_msr_with_filter "
                          "(kvm_msr); kvm_emulate_hypercall (kvm_hypercall)",
          .promises = {{"kvm_cpuid", kOnAll, 0, "CPUID always exits"},
                       {"kvm_msr", kOnPvm, kOnVmx | kOnSvm,
                        "VMX and SVM always pass MSR_KERNEL_GS_BASE through on a 64-bit host "
                        "(MSR bitmap / permission map): WRMSR/RDMSR of it never exit (seen on "
                        "both test hosts)"},
                       {"kvm_hypercall", kOnVmx | kOnSvm, kOnPvm,
                        "left out on PVM (VMCALL never completes there)"}},
          .self_check = "reports a bit per check that passed: KVM CPUID signature 1, MSR "
                        "read-back 2, TSC advancing 4, hypercall answered -KVM_ENOSYS 8; passes "
                        "when that equals the checks asked for",
          .expected_is_param = true,
          .default_param = 0xf,
          .param_meaning = "bitmask of checks to run",
          .limited_on = KvmBackend::Pvm,
          .limited_param = 0x7,
          .limited_why = "the hypercall check is left out on PVM: KVM's emulator only rewrites "
                         "VMCALL and re-enters the guest, which under PVM emulates it again, "
                         "forever (--param 0xf to watch the watchdog end it)",
          .image = kcpuidImage,
          .source = kcpuidSource,
          .lines = kcpuidLines,
      },
      {
          .name = "timer",
          .description =
              "protected mode: hlt, woken by the in-kernel local APIC timer, three times",
          .mode = CpuMode::Protected,
          .in_kernel_irqchip = true,
          .exits = "one KVM_EXIT_IO for the status: the local APIC and HLT are handled in the "
                   "kernel",
          .kernel_paths = "kvm_vcpu_halt → kvm_vcpu_block (5.15 has kvm_vcpu_block "
                          "alone), the APIC timer (an hrtimer), __apic_accept_irq and "
                          "kvm_vcpu_wake_up (tracepoints kvm_apic_accept_irq, and "
                          "kvm_vcpu_wakeup when kvm_vcpu_halt returns), interrupt injection "
                          "(kvm_inj_virq on VMX/SVM)",
          .promises = {{"kvm_mmio", kOnPvm | kOnSvm, 0,
                        "the guest programs the xAPIC through MMIO, which KVM emulates (on VMX "
                        "with APICv the CPU virtualizes most of it)"},
                       {"kvm_inj_virq", kOnSvm, kOnPvm,
                        "PVM delivers the timer interrupt without it; on VMX with APICv it is "
                        "posted, without APICv injected"}},
          .self_check = "reports the number of timer interrupts taken (3)",
          .expected_status = 3,
          .image = ktimerImage,
          .source = ktimerSource,
          .lines = ktimerLines,
      },
      {
          .name = "smp",
          .description = "real mode, two vCPUs: both add to one counter with locked instructions",
          .mode = CpuMode::Real,
          .vcpus = 2,
          .exits = "KVM_EXIT_IO for console and status, KVM_EXIT_HLT on each vCPU",
          .kernel_paths = "two vCPU threads in KVM_RUN at once; locked read-modify-write on shared "
                          "guest memory",
          .promises = {{"kvm_pio", kOnAll}},
          .self_check = "vCPU 0 reports the counter after both finished: 2 x 1000 (2000)",
          .expected_status = 2000,
          .image = ksmpImage,
          .source = ksmpSource,
          .lines = ksmpLines,
      },
      {
          .name = "spin",
          .description = "long mode: loops forever in supervisor code, for the watchdog",
          .mode = CpuMode::Long,
          .exits = "none by itself: only the watchdog's kick (KVM_EXIT_INTR) ends KVM_RUN",
          .kernel_paths = "the run loop never leaves the kernel until a signal is pending",
          .self_check = "never reports: the expected verdict is the watchdog's time budget",
          .expect_watchdog = true,
          .timeout_ms = 2000,
          .image = kspinImage,
          .source = kspinSource,
          .lines = kspinLines,
      },
      {
          .name = "pio-loop",
          .description = "real mode: N port writes, then hlt: the exit-heavy workload",
          .mode = CpuMode::Real,
          .exits = "N x KVM_EXIT_IO to the tick port, one for the status, KVM_EXIT_HLT",
          .kernel_paths = "the full run loop once per OUT: exit, kvm_userspace_exit, re-entry",
          .promises = {{"kvm_pio", kOnAll}, {"kvm_userspace_exit", kOnAll}},
          .self_check = "reports N, the number of writes made",
          .expected_is_param = true,
          .default_param = 1000,
          .param_meaning = "number of port writes (N)",
          .image = kpio_loopImage,
          .source = kpio_loopSource,
          .lines = kpio_loopLines,
      },
      {
          .name = "pio-pair",
          .description = "real mode, two vCPUs: N port writes each, then hlt: the exit-heavy "
                         "workload on two vCPUs at once",
          .mode = CpuMode::Real,
          .vcpus = 2,
          .exits = "N x KVM_EXIT_IO to the tick port on each vCPU, one for the status, "
                   "KVM_EXIT_HLT on each",
          .kernel_paths = "two vCPU threads in the run loop at once, one full trip per OUT",
          .promises = {{"kvm_pio", kOnAll}, {"kvm_userspace_exit", kOnAll}},
          .self_check = "vCPU 0 reports N, its own writes, once both vCPUs made theirs",
          .expected_is_param = true,
          .default_param = 1000,
          .param_meaning = "number of port writes per vCPU (N)",
          .image = kpio_pairImage,
          .source = kpio_pairSource,
          .lines = kpio_pairLines,
      },
  };
}

constexpr KernelPromise kCommon[] = {
    {"kvm_exit", kOnVmx | kOnSvm, kOnPvm, "PVM does not fire kvm_exit or kvm_entry"},
    {"kvm_entry", kOnVmx | kOnSvm},
    {"kvm_page_fault", kOnTdp, kOnPvm,
     "PVM's shadow MMU resolves faults without it (kvm_mmu_* events show them)"},
    {"kvm_emulate_insn", kOnPvm, 0, "PVM emulates the guest's supervisor code"},
};

bool Applies(const KernelPromise& p, KernelVariant v) {
  return ((p.on | p.not_on | p.maybe_on) & On(v)) != 0;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::string_view KernelVariantName(KernelVariant variant) {
  switch (variant) {
    case KernelVariant::Pvm: return "PVM";
    case KernelVariant::VmxEpt: return "VMX with EPT";
    case KernelVariant::VmxShadow: return "VMX, shadow paging (ept=0)";
    case KernelVariant::SvmNpt: return "SVM with NPT";
    case KernelVariant::SvmShadow: return "SVM, shadow paging (npt=0)";
    case KernelVariant::Count: break;
  }
  return "";
}

std::optional<KernelVariant> DetectKernelVariant(std::string_view sys_module) {
  const std::string root(sys_module);
  // Module parameters read "Y"/"N" (bool) or "1"/"0" (older int ones).
  auto enabled = [&](const char* param) {
    const std::string v = ReadFirstLine(root + "/" + param);
    return v.empty() || v[0] == 'Y' || v[0] == 'y' || v[0] == '1';
  };
  switch (DetectKvmBackend(sys_module)) {
    case KvmBackend::Pvm: return KernelVariant::Pvm;
    case KvmBackend::Vmx:
      return enabled("kvm_intel/parameters/ept") ? KernelVariant::VmxEpt : KernelVariant::VmxShadow;
    case KvmBackend::Svm:
      return enabled("kvm_amd/parameters/npt") ? KernelVariant::SvmNpt : KernelVariant::SvmShadow;
    default: return std::nullopt;
  }
}

std::span<const KernelPromise> CommonPromises() {
  return kCommon;
}

std::vector<const KernelPromise*> PromisesOn(const GuestInfo& guest, KernelVariant variant) {
  std::vector<const KernelPromise*> out;
  for (const KernelPromise& p : kCommon) {
    if (Applies(p, variant)) out.push_back(&p);
  }
  for (const KernelPromise& p : guest.promises) {
    if (Applies(p, variant)) out.push_back(&p);
  }
  return out;
}

std::vector<std::string_view> PromisedEvents(const GuestInfo& guest, KernelVariant variant) {
  std::vector<std::string_view> events;
  for (const KernelPromise* p : PromisesOn(guest, variant)) {
    if ((p->on & On(variant)) == 0) continue;
    bool seen = false;
    for (std::string_view e : events) seen = seen || e == p->event;
    if (!seen) events.push_back(p->event);
  }
  return events;
}

const std::vector<GuestInfo>& Catalog() {
  static const std::vector<GuestInfo> catalog = MakeCatalog();
  return catalog;
}

const GuestInfo* FindGuest(std::string_view name) {
  for (const GuestInfo& g : Catalog()) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

std::string GuestNames() {
  std::string names;
  for (const GuestInfo& g : Catalog()) {
    if (!names.empty()) names += ", ";
    names += g.name;
  }
  return names;
}

uint64_t DefaultParam(const GuestInfo& guest, KvmBackend backend) {
  return LimitedReason(guest, backend) ? guest.limited_param : guest.default_param;
}

std::optional<std::string_view> LimitedReason(const GuestInfo& guest, KvmBackend backend) {
  if (guest.limited_on == KvmBackend::None || guest.limited_on != backend) return std::nullopt;
  return guest.limited_why;
}

MachineConfig ConfigFor(const GuestInfo& guest, std::optional<uint64_t> param, KvmBackend backend) {
  MachineConfig c;
  c.name = std::string(guest.name);
  c.mode = guest.mode;
  c.image.assign(guest.image.begin(), guest.image.end());
  c.vcpus = guest.vcpus;
  c.in_kernel_irqchip = guest.in_kernel_irqchip;
  c.param = param.value_or(DefaultParam(guest, backend));
  if (guest.expected_is_param) {
    c.expected_status = static_cast<uint32_t>(c.param);
  } else if (!guest.expect_watchdog) {
    c.expected_status = guest.expected_status;
  }
  return c;
}

}  // namespace kvmscope::vmm

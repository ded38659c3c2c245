// The built-in guest catalog: one entry per vmm/guests/NAME.S.
#include "vmm/catalog.h"



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
          .kernel_paths = "CR0/CR4/EFER writes and far jumps handled inside KVM (emulated or "
                          "intercepted); no exit to user space for them",
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
          .kernel_paths = "kvm_emulate_cpuid (kvm_cpuid), kvm_set_msr/kvm_get_msr (kvm_msr), "
                          "kvm_emulate_hypercall (kvm_hypercall)",
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
          .kernel_paths = "kvm_vcpu_halt / kvm_vcpu_block, the APIC timer (an hrtimer), "
                          "kvm_apic_accept_irq and kvm_vcpu_wakeup, interrupt injection "
                          "(kvm_inj_virq on VMX/SVM)",
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
          .self_check = "reports N, the number of writes made",
          .expected_is_param = true,
          .default_param = 1000,
          .param_meaning = "number of port writes (N)",
          .image = kpio_loopImage,
          .source = kpio_loopSource,
          .lines = kpio_loopLines,
      },
  };
}
}  // namespace

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

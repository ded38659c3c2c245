// The built-in guest catalog: one entry per vmm/guests/NAME.S.
#include "vmm/guests/catalog.h"

#include <sys/utsname.h>

#include <fstream>

namespace kvmscope::vmm {

namespace guests {
// Each is defined in the source cmake/EmbedGuest.cmake generates from NAME.S.
#define KVMSCOPE_DECLARE_GUEST(ident)                  \
  extern const std::span<const uint8_t> k##ident##Image; \
  extern const std::string_view k##ident##Source;
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
  std::vector<GuestInfo> c;
  GuestInfo g;

  g = {};
  g.name = "hello";
  g.description = "real mode: prints a greeting on the serial console, then hlt";
  g.mode = CpuMode::Real;
  g.exits = "KVM_EXIT_IO per console byte, KVM_EXIT_IO for the status, KVM_EXIT_HLT";
  g.kernel_paths = "run loop; port I/O completed in user space (kvm_userspace_exit)";
  g.self_check = "reports the number of bytes printed (24)";
  g.expected_status = 24;
  g.image = khelloImage;
  g.source = khelloSource;
  c.push_back(g);

  g = {};
  g.name = "modes";
  g.description = "real -> 32-bit protected -> 64-bit long mode, one step at a time";
  g.mode = CpuMode::Real;
  g.exits = "KVM_EXIT_IO for console output (polling the 16550 line status), KVM_EXIT_HLT";
  g.kernel_paths = "CR0/CR4/EFER writes and far jumps handled inside KVM (emulated or "
                   "intercepted); no exit to user space for them";
  g.self_check = "reports a bit per mode reached: 1 real, 2 protected, 4 long (7)";
  g.expected_status = 7;
  g.image = kmodesImage;
  g.source = kmodesSource;
  c.push_back(g);

  g = {};
  g.name = "pagefault";
  g.description = "long mode, ring 3: first-touch faults, then demand paging by the guest";
  g.mode = CpuMode::Long;
  g.exits = "KVM_EXIT_IO for console and status, KVM_EXIT_HLT; the faults stay in the kernel";
  g.kernel_paths = "kvm_mmu_page_fault on first touch of 16 fresh pages; guest #PF (vector "
                   "14) injected by KVM for 4 unmapped pages, handled by the guest";
  g.self_check = "reports (pages touched << 8) | demand faults handled (0x1004)";
  g.expected_status = 0x1004;
  g.image = kpagefaultImage;
  g.source = kpagefaultSource;
  c.push_back(g);

  g = {};
  g.name = "exceptions";
  g.description = "long mode: raises #DE, #BP, #UD, #GP on purpose; the guest's IDT handles each";
  g.mode = CpuMode::Long;
  g.exits = "KVM_EXIT_IO for console and status, KVM_EXIT_HLT";
  g.kernel_paths = "exception delivery to the guest (kvm_inj_exception where KVM injects)";
  g.self_check = "reports a bit per vector handled: 1<<0 | 1<<3 | 1<<6 | 1<<13 (0x2049)";
  g.expected_status = 0x2049;
  g.image = kexceptionsImage;
  g.source = kexceptionsSource;
  c.push_back(g);

  g = {};
  g.name = "mmio";
  g.description = "protected mode: reads and writes the VMM's MMIO device outside RAM";
  g.mode = CpuMode::Protected;
  g.exits = "KVM_EXIT_MMIO x4 (read ID, write scratch, read scratch, read count), "
            "KVM_EXIT_IO for the status, KVM_EXIT_HLT";
  g.kernel_paths = "MMIO emulation: the access hits no memory slot, KVM decodes the "
                   "instruction and exits to user space (kvm_mmio)";
  g.self_check = "reports the device's access count (4) if ID and scratch read back right";
  g.expected_status = 4;
  g.image = kmmioImage;
  g.source = kmmioSource;
  c.push_back(g);

  g = {};
  g.name = "cpuid";
  g.description = "long mode: CPUID, WRMSR/RDMSR, RDTSC and a hypercall, handled in the kernel";
  g.mode = CpuMode::Long;
  g.exits = "only KVM_EXIT_IO for console and status, and KVM_EXIT_HLT: the four checked "
            "instructions never reach user space";
  g.kernel_paths = "kvm_emulate_cpuid (kvm_cpuid), kvm_set_msr/kvm_get_msr (kvm_msr), "
                   "kvm_emulate_hypercall (kvm_hypercall)";
  g.self_check = "reports a bit per check: KVM CPUID signature 1, MSR read-back 2, "
                 "TSC advancing 4, hypercall answered -KVM_ENOSYS 8 (0xf)";
  g.expected_status = 0xf;
  g.image = kcpuidImage;
  g.source = kcpuidSource;
  c.push_back(g);

  g = {};
  g.name = "timer";
  g.description = "protected mode: hlt, woken by the in-kernel local APIC timer, three times";
  g.mode = CpuMode::Protected;
  g.in_kernel_irqchip = true;
  g.exits = "KVM_EXIT_MMIO none (the local APIC is in the kernel), KVM_EXIT_IO for the status; "
            "HLT stays in the kernel";
  g.kernel_paths = "kvm_vcpu_halt / kvm_vcpu_block, the APIC timer (hrtimer), interrupt "
                   "injection (kvm_inj_virq)";
  g.self_check = "reports the number of timer interrupts taken (3)";
  g.expected_status = 3;
  g.image = ktimerImage;
  g.source = ktimerSource;
  c.push_back(g);

  g = {};
  g.name = "smp";
  g.description = "real mode, two vCPUs: both add to one counter with locked instructions";
  g.mode = CpuMode::Real;
  g.vcpus = 2;
  g.exits = "KVM_EXIT_IO for console and status, KVM_EXIT_HLT on each vCPU";
  g.kernel_paths = "two vCPU threads in KVM_RUN at once; locked read-modify-write on shared "
                   "guest memory";
  g.self_check = "vCPU 0 reports the counter after both finished: 2 x 1000 (2000)";
  g.expected_status = 2000;
  g.image = ksmpImage;
  g.source = ksmpSource;
  c.push_back(g);

  g = {};
  g.name = "spin";
  g.description = "long mode: loops forever in supervisor code, for the watchdog";
  g.mode = CpuMode::Long;
  g.exits = "none by itself: only the watchdog's kick (KVM_EXIT_INTR) ends KVM_RUN";
  g.kernel_paths = "the run loop never leaves the kernel until a signal is pending";
  g.self_check = "never reports: the expected verdict is the watchdog's time budget";
  g.expect_watchdog = true;
  g.timeout_ms = 2000;
  g.image = kspinImage;
  g.source = kspinSource;
  c.push_back(g);

  g = {};
  g.name = "pio-loop";
  g.description = "real mode: N port writes, then hlt: the exit-heavy workload";
  g.mode = CpuMode::Real;
  g.exits = "N x KVM_EXIT_IO to the tick port, one for the status, KVM_EXIT_HLT";
  g.kernel_paths = "the full run loop once per OUT: exit, kvm_userspace_exit, re-entry";
  g.self_check = "reports N, the number of writes made";
  g.expected_is_param = true;
  g.default_param = 1000;
  g.param_meaning = "number of port writes (N)";
  g.image = kpio_loopImage;
  g.source = kpio_loopSource;
  c.push_back(g);
  return c;
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

MachineConfig ConfigFor(const GuestInfo& guest, std::optional<uint64_t> param) {
  MachineConfig c;
  c.name = std::string(guest.name);
  c.mode = guest.mode;
  c.image.assign(guest.image.begin(), guest.image.end());
  c.vcpus = guest.vcpus;
  c.in_kernel_irqchip = guest.in_kernel_irqchip;
  c.param = param.value_or(guest.default_param);
  if (guest.expected_is_param) {
    c.expected_status = static_cast<uint32_t>(c.param);
  } else if (!guest.expect_watchdog) {
    c.expected_status = guest.expected_status;
  }
  return c;
}

std::optional<std::string> UnsupportedReason(const GuestInfo&) { return std::nullopt; }

}  // namespace kvmscope::vmm

// The teaching texts behind traces/explain.h: one sentence per event kind,
// per KVM_EXIT_* reason, per common hardware exit and injected exception.
// Each says what happened and why the VM left (or did not leave) the guest.
#include "traces/explain.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cerrno>

namespace kvmscope::traces {
namespace {

// Indexed by KernelEventKind.
constexpr std::array<std::string_view, kKernelEventKinds> kKernelTexts = {
    // RunEnter
    "The VMM's KVM_RUN ioctl entered the kernel: KVM finishes the previous exit "
    "(complete_userspace_io, e.g. stores an IN's data), enters the guest and handles exits in "
    "the kernel until one needs the VMM.",
    // RunExit
    "KVM_RUN returned to the VMM: an exit needs user space (I/O, MMIO, HLT without an in-kernel "
    "local APIC), a signal is pending (-EINTR), or the ioctl failed with the error shown.",
    // ExitHandler
    "The vendor's exit handler ran: the guest has just left (a VM exit) and KVM looks at why, "
    "still in the kernel.",
    // MmuPageFault
    "kvm_mmu_page_fault: KVM's MMU resolves a guest fault it must handle itself: map the page, "
    "build a shadow entry, or emulate the access as MMIO.",
    // KvmExit
    "A VM exit: the CPU stopped the guest and returned to KVM; the exit reason says what the "
    "guest did that the hardware would not let it do alone.",
    // KvmEntry
    "KVM enters the guest (VMRESUME/VMRUN); the guest continues at the RIP shown until the next "
    "VM exit.",
    // UserspaceExit
    "KVM_RUN returns to the VMM (kvm_userspace_exit fires in kvm_vcpu_ioctl on every return): "
    "an exit the kernel cannot finish by itself, a pending signal (-EINTR), or an error.",
    // Pio
    "The guest executed IN/OUT on an I/O port; KVM handles the port itself if it emulates it, "
    "else returns to the VMM with KVM_EXIT_IO.",
    // Mmio
    "The guest accessed a physical address with no RAM behind it (memory-mapped I/O); KVM "
    "emulates the access or returns to the VMM with KVM_EXIT_MMIO.",
    // EmulateInsn
    "KVM decoded and emulated one guest instruction in software (x86_emulate_instruction), "
    "because the hardware could not run it directly here.",
    // InjException
    "KVM injects an exception into the guest: just before VM entry the vendor's function writes "
    "it into the VMCS (VMX) or the VMCB (SVM), and this tracepoint fires there; queueing it "
    "earlier has none. The guest's IDT handler runs once the guest is entered.",
    // InjVirq
    "KVM injects an interrupt into the guest at the next VM entry; the guest's IDT entry for that "
    "vector runs as if a device had raised it.",
    // Cpuid
    "The guest executed CPUID, which always exits: KVM answers from the table the VMM set with "
    "KVM_SET_CPUID2, so the guest sees the CPU the VMM chose.",
    // Msr
    "The guest read or wrote a model-specific register (RDMSR/WRMSR) that KVM intercepts; KVM "
    "emulates it, injects #GP, or (with KVM_CAP_X86_USER_SPACE_MSR or an MSR filter) exits to "
    "the VMM with KVM_EXIT_X86_RDMSR/WRMSR.",
    // Hypercall
    "The guest called the hypervisor on purpose (VMCALL/VMMCALL); KVM handles the call number "
    "shown, or hands it to the VMM.",
    // PageFault
    "A guest memory access faulted in a way KVM must resolve (EPT violation, NPT fault or an "
    "intercepted #PF); the MMU handles it next. Its error_code is what the exit gave: the EPT "
    "exit qualification on VMX with EPT, a #PF error code (NPF's with bit 32 or 33) otherwise. "
    "(Linux 6.1+: up to 6.0 error_code is 32 bits wide and NPF's bits 32/33 are lost.)",
    // MmuWalk
    "KVM walked the guest's page tables in software (shadow paging) to translate an address.",
    // MmuSetSpte
    "KVM wrote a shadow (or EPT/NPT) page-table entry: the address is now mapped, and the access "
    "succeeds when the guest retries it.",
    // MmuWalkerError
    "KVM's software walk of the guest's page tables found no valid mapping or a permission "
    "violation (pferr says which): the fault is the guest's own, so KVM injects a #PF for the "
    "guest to handle.",
};

// Indexed by VmmEventKind.
constexpr std::array<std::string_view, kVmmEventKinds> kVmmTexts = {
    // Ioctl
    "The VMM made a KVM ioctl (create the VM or a vCPU, add memory, set registers): how a VMM "
    "builds and configures a VM before running it.",
    // RunEnter
    "The VMM called KVM_RUN: this vCPU thread now runs the guest inside the kernel until an exit "
    "needs the VMM.",
    // RunExit
    "KVM_RUN returned to the VMM with an exit reason in kvm_run; the VMM handles it (plays a "
    "device, notes a halt) and calls KVM_RUN again.",
    // DeviceAccess
    "The VMM's device model handled the guest's port or MMIO access: a virtual device is just "
    "code in the VMM.",
    // Status
    "The guest reported its self-check value on the status port; the VMM compares it with what "
    "the guest catalog expects.",
    // Control
    "The VMM paused, resumed, single-stepped or slowed this vCPU between two KVM_RUN calls; the "
    "guest cannot tell.",
    // Watchdog
    "The VMM's watchdog acted: it signals the vCPU thread so that KVM_RUN returns with EINTR "
    "(a guest that never exits would otherwise never give control back).",
    // VcpuDone
    "This vCPU thread left its run loop (the guest halted, finished, failed or was stopped) and "
    "calls KVM_RUN no more.",
};

struct ReasonText {
  uint32_t reason;
  std::string_view text;
};

// KVM_EXIT_* values from <linux/kvm.h>.
constexpr ReasonText kExitTexts[] = {
    {0,
     "On x86 only for an SGX ENCLS leaf KVM did not expect (vmx/sgx.c, hardware_exit_reason = "
     "ENCLS); in 6.1 an exit reason KVM has no handler for comes as KVM_EXIT_INTERNAL_ERROR."},
    {1,
     "VMX only: the guest took an intercepted exception that KVM could not handle itself "
     "(handle_exception_nmi's default case); kvm_run->ex has the vector and error code. "
     "Exceptions a debugger asked for come as KVM_EXIT_DEBUG."},
    {2,
     "The guest executed IN/OUT on a port KVM does not emulate; KVM_RUN returned so the VMM "
     "can play the device."},
    {3,
     "The guest made a hypercall KVM forwards to user space (on x86 only KVM_HC_MAP_GPA_RANGE, "
     "when the VMM enabled it with KVM_CAP_EXIT_HYPERCALL); the VMM handles it and sets the "
     "return value."},
    {4,
     "A debug event (single-step or a breakpoint set with KVM_SET_GUEST_DEBUG) stopped the "
     "guest; KVM_RUN returned to the debugger in the VMM."},
    {5,
     "The guest executed HLT and KVM has no in-kernel local APIC (no KVM_CREATE_IRQCHIP or "
     "split irqchip) to wake it; KVM_RUN returned so the VMM decides (here: the guest is "
     "done)."},
    {6,
     "The guest accessed an address with no memory slot (memory-mapped I/O); KVM_RUN returned "
     "so the VMM can emulate the device register."},
    {7,
     "The guest can take an interrupt now; the VMM asked to be told so that it can inject one "
     "with KVM_INTERRUPT."},
    {8,
     "The guest shut down, typically by a triple fault (an exception while delivering a double "
     "fault); real hardware would reset."},
    {9,
     "The CPU refused to enter the guest (invalid guest state); hardware_entry_failure_reason "
     "says why, usually a bad register or segment set-up."},
    {10,
     "KVM_RUN was interrupted by a signal (such as the watchdog's kick) before the guest "
     "needed the VMM; the VMM simply calls KVM_RUN again."},
    {11,
     "Without an in-kernel local APIC, the guest lowered its task-priority register (MOV to "
     "CR8); the VMM may now deliver a pending interrupt."},
    {12, "The guest accessed the APIC's task-priority register, which the VMM asked to trap."},
    {16,
     "Never returned on x86 (only PowerPC uses it); an NMI is handled by the host or injected "
     "into the guest."},
    {17,
     "KVM hit an error it cannot resolve, typically an instruction it could not emulate; "
     "suberror says which, and the guest cannot continue as it is."},
    {24,
     "The guest asked for a machine-level event (shutdown, reset, crash); type says which, "
     "and the VMM decides what to do."},
    {26,
     "The guest acknowledged a level-triggered interrupt of a user-space IOAPIC (split "
     "irqchip); the VMM updates its IOAPIC."},
    {27, "The guest used a Hyper-V enlightenment that the VMM emulates."},
    {29, "The guest read an MSR that KVM filters to user space; the VMM supplies the value."},
    {30,
     "The guest wrote an MSR that KVM filters to user space; the VMM decides what the write "
     "does."},
    {31,
     "This vCPU's dirty-page ring is full; the VMM must collect the dirty pages (live "
     "migration) before the guest continues."},
    {33,
     "The guest made a bus-locking (split-lock) access and the VMM asked to be told, to "
     "throttle guests that slow the whole host."},
    {34, "The guest made a Xen hypercall that the VMM emulates."},
    {37,
     "The guest stayed too long in one instruction without an exit (the notify window); KVM "
     "reports it as a possible denial of service."},
    {39,
     "KVM could not resolve a guest memory access (e.g. a private/shared conversion of a "
     "confidential guest); the VMM must fix the mapping and retry."},
    {40, "A TDX guest made a TDVMCALL that KVM forwards to the VMM."},
};

// VMX basic exit reasons (Intel SDM vol. 3, appendix C).
constexpr ReasonText kVmxTexts[] = {
    {0,
     "EXCEPTION_NMI: the guest took an exception (or NMI) that KVM intercepts, such as #PF "
     "under shadow paging or #UD; handle_exception_nmi deals with it (handle_exception up to "
     "5.2)."},
    {1,
     "EXTERNAL_INTERRUPT: a host interrupt arrived while the guest ran; the host handles it "
     "and KVM re-enters the guest."},
    {2, "TRIPLE_FAULT: the guest faulted while delivering a double fault; the VM shuts down."},
    {7,
     "INTERRUPT_WINDOW: the guest can take an interrupt now, so KVM can inject the pending "
     "one."},
    {10,
     "CPUID: the guest executed CPUID, which always exits on VMX; KVM answers from the "
     "VMM's CPUID table."},
    {12, "HLT: the guest halted; KVM waits for an interrupt or returns KVM_EXIT_HLT."},
    {18, "VMCALL: the guest made a hypercall."},
    {28,
     "CR_ACCESS: the guest wrote a control register bit that KVM watches (paging, "
     "protection mode)."},
    {30,
     "IO_INSTRUCTION: the guest executed IN/OUT; KVM emulates the port or exits with "
     "KVM_EXIT_IO."},
    {31, "MSR_READ: the guest executed RDMSR on an intercepted MSR."},
    {32, "MSR_WRITE: the guest executed WRMSR on an intercepted MSR."},
    {40, "PAUSE_INSTRUCTION: the guest spins (PAUSE in a loop); KVM may yield the host CPU."},
    {48,
     "EPT_VIOLATION: the guest touched a guest-physical page that EPT does not map yet; "
     "KVM's MMU maps it (handle_ept_violation → kvm_mmu_page_fault)."},
    {49,
     "EPT_MISCONFIG: KVM marks MMIO pages with deliberately invalid EPT entries, so this is "
     "an MMIO access to emulate."},
    {52,
     "PREEMPTION_TIMER: the VMX preemption timer fired (KVM uses it to emulate the guest's "
     "APIC timer)."},
};

// SVM exit codes (AMD APM vol. 2, appendix C).
constexpr ReasonText kSvmTexts[] = {
    {0x46, "EXCP_UD: the guest took #UD, which KVM intercepts to emulate the instruction."},
    {0x4e,
     "EXCP_PF: the guest took #PF, intercepted under shadow paging; KVM's MMU resolves it "
     "(pf_interception → kvm_handle_page_fault)."},
    {0x60, "INTR: a host interrupt arrived while the guest ran; the host handles it."},
    {0x72, "CPUID: the guest executed CPUID; KVM answers from the VMM's CPUID table."},
    {0x77, "PAUSE: the guest spins; KVM may yield the host CPU."},
    {0x78,
     "HLT: the guest halted; KVM waits for an interrupt or returns KVM_EXIT_HLT. Without NRIPS "
     "(QEMU's emulated SVM has none; real AMD CPUs do) KVM finds the next RIP by emulating HLT: "
     "__svm_skip_emulated_instruction (6.0+) → kvm_emulate_instruction → "
     "x86_emulate_instruction, a kvm_emulate_insn."},
    {0x75,
     "SWINT: an INT n intercept. KVM does not intercept INT n for its own guests, so this is "
     "not expected here; a soft interrupt interrupted by another exit is re-injected instead "
     "(kvm_inj_virq)."},
    {0x7b, "IOIO: the guest executed IN/OUT; KVM emulates the port or exits with KVM_EXIT_IO."},
    {0x7c, "MSR: the guest executed RDMSR/WRMSR on an intercepted MSR."},
    {0x7f, "SHUTDOWN: the guest triple-faulted; the VM shuts down."},
    {0x81, "VMMCALL: the guest made a hypercall."},
    {0x400,
     "NPF: the guest touched a guest-physical page that the nested page table does not "
     "map yet; KVM's MMU maps it (npf_interception → kvm_mmu_page_fault)."},
};

constexpr ReasonText kExceptionTexts[] = {
    {0, "KVM gives the guest #DE (divide error); the guest's handler for vector 0 runs."},
    {1, "KVM gives the guest #DB (debug); the guest's debugger handler runs."},
    {3, "KVM gives the guest #BP (breakpoint, INT3); the guest's handler for vector 3 runs."},
    {6,
     "KVM gives the guest #UD: the guest executed an instruction that is invalid here, and the "
     "guest's own #UD handler must deal with it."},
    {8,
     "KVM gives the guest #DF: an exception arrived while another was being delivered; one "
     "more fault would be a triple fault."},
    {13,
     "KVM gives the guest #GP: the guest broke a protection rule (privilege, a bad MSR, a "
     "non-canonical address); its #GP handler runs."},
    {14,
     "KVM reflects a page fault to the guest: the guest's own page tables do not map the "
     "address, so the guest's #PF handler must (CR2 holds the address)."},
    {17, "KVM gives the guest #AC (alignment check)."},
    {18, "KVM gives the guest #MC (machine check)."},
};

template <size_t N>
std::string_view Lookup(const ReasonText (&table)[N], uint64_t reason) {
  for (const ReasonText& r : table)
    if (r.reason == reason) return r.text;
  return {};
}

}  // namespace

std::string_view ExplainKind(KernelEventKind kind) {
  const size_t i = static_cast<size_t>(kind);
  return i < kKernelTexts.size() ? kKernelTexts[i] : std::string_view{};
}

std::string_view ExplainKind(VmmEventKind kind) {
  const size_t i = static_cast<size_t>(kind);
  return i < kVmmTexts.size() ? kVmmTexts[i] : std::string_view{};
}

std::string_view ExplainExitReason(uint32_t kvm_exit_reason) {
  return Lookup(kExitTexts, kvm_exit_reason);
}

std::string_view ExplainHardwareExit(ExitIsa isa, uint64_t reason) {
  switch (isa) {
    // The basic exit reason is bits 15:0; bit 31 flags a failed entry.
    case ExitIsa::Vmx: return Lookup(kVmxTexts, reason & 0xffff);
    case ExitIsa::Svm: return Lookup(kSvmTexts, reason);
    case ExitIsa::Unknown: break;
  }
  return {};
}

std::string_view ExplainInjectedException(uint32_t vector) {
  return Lookup(kExceptionTexts, vector);
}

std::string_view ExplainEvent(const Event& e) {
  std::string_view specific;
  if (e.type.origin == Origin::Vmm) {
    if (e.type.vmm() == VmmEventKind::RunExit) {
      // KVM_RUN returned -1: kvm_run's exit_reason is stale, errno says why.
      if (e.a[1] == EINTR) return ExplainExitReason(kKvmExitIntr);
      specific = ExplainExitReason(static_cast<uint32_t>(e.a[0]));
    }
    return specific.empty() ? ExplainKind(e.type.vmm()) : specific;
  }
  switch (e.type.kernel()) {
    case KernelEventKind::UserspaceExit:
      specific = ExplainExitReason(static_cast<uint32_t>(e.a[0]));
      break;
    case KernelEventKind::RunExit:
      if (static_cast<int64_t>(e.a[0]) == -EINTR) specific = ExplainExitReason(kKvmExitIntr);
      break;
    case KernelEventKind::KvmExit:
      specific = ExplainHardwareExit(static_cast<ExitIsa>(e.a[2] & 0xff), e.a[0]);
      break;
    case KernelEventKind::InjException:
      specific = ExplainInjectedException(static_cast<uint32_t>(e.a[0]));
      break;
    default: break;
  }
  return specific.empty() ? ExplainKind(e.type.kernel()) : specific;
}

std::string PortName(uint64_t port) {
  if (port == kCom1Port) return "COM1";
  if (port > kCom1Port && port < kCom1Port + 8) return fmt::format("COM1 register {}", port - kCom1Port);
  if (port == kStatusPort) return "status port";
  return {};
}

std::string PortDataNote(uint64_t port, bool out, uint64_t data) {
  if (port == kCom1Port && out) {
    const char c = static_cast<char>(data & 0xff);
    if (c == '\n') return " '\\n'";
    if (std::isprint(static_cast<unsigned char>(c))) return fmt::format(" '{}'", c);
    return {};
  }
  if (port == kStatusPort) return " (status report)";
  return {};
}

}  // namespace kvmscope::traces

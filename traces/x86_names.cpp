// Names of x86 and KVM numbers that kernel events carry: VMX exit reasons, SVM
// exit codes, KVM_EXIT_* reasons, exception vectors, page-fault error bits and
// EPT-violation exit qualification bits.
// Written out here because traces/ may not include the kernel's headers.
#include <fmt/format.h>

#include <array>
#include <cstdint>

#include "traces/kernel_event.h"

namespace kvmscope::traces {

// arch/x86/include/uapi/asm/vmx.h, EXIT_REASON_* without the prefix. The
// basic exit reason is bits 15:0; the upper bits are flags (FAILED_VMENTRY).
std::string_view VmxExitReasonName(uint32_t reason) {
  switch (reason & 0xffff) {
    case 0: return "EXCEPTION_NMI";
    case 1: return "EXTERNAL_INTERRUPT";
    case 2: return "TRIPLE_FAULT";
    case 3: return "INIT_SIGNAL";
    case 4: return "SIPI_SIGNAL";
    case 7: return "INTERRUPT_WINDOW";
    case 8: return "NMI_WINDOW";
    case 9: return "TASK_SWITCH";
    case 10: return "CPUID";
    case 12: return "HLT";
    case 13: return "INVD";
    case 14: return "INVLPG";
    case 15: return "RDPMC";
    case 16: return "RDTSC";
    case 18: return "VMCALL";
    case 19: return "VMCLEAR";
    case 20: return "VMLAUNCH";
    case 21: return "VMPTRLD";
    case 22: return "VMPTRST";
    case 23: return "VMREAD";
    case 24: return "VMRESUME";
    case 25: return "VMWRITE";
    case 26: return "VMOFF";
    case 27: return "VMON";
    case 28: return "CR_ACCESS";
    case 29: return "DR_ACCESS";
    case 30: return "IO_INSTRUCTION";
    case 31: return "MSR_READ";
    case 32: return "MSR_WRITE";
    case 33: return "INVALID_STATE";
    case 34: return "MSR_LOAD_FAIL";
    case 36: return "MWAIT_INSTRUCTION";
    case 37: return "MONITOR_TRAP_FLAG";
    case 39: return "MONITOR_INSTRUCTION";
    case 40: return "PAUSE_INSTRUCTION";
    case 41: return "MCE_DURING_VMENTRY";
    case 43: return "TPR_BELOW_THRESHOLD";
    case 44: return "APIC_ACCESS";
    case 45: return "EOI_INDUCED";
    case 46: return "GDTR_IDTR";
    case 47: return "LDTR_TR";
    case 48: return "EPT_VIOLATION";
    case 49: return "EPT_MISCONFIG";
    case 50: return "INVEPT";
    case 51: return "RDTSCP";
    case 52: return "PREEMPTION_TIMER";
    case 53: return "INVVPID";
    case 54: return "WBINVD";
    case 55: return "XSETBV";
    case 56: return "APIC_WRITE";
    case 57: return "RDRAND";
    case 58: return "INVPCID";
    case 59: return "VMFUNC";
    case 60: return "ENCLS";
    case 61: return "RDSEED";
    case 62: return "PML_FULL";
    case 63: return "XSAVES";
    case 64: return "XRSTORS";
    case 67: return "UMWAIT";
    case 68: return "TPAUSE";
    case 74: return "BUS_LOCK";
    case 75: return "NOTIFY";
    case 77: return "TDCALL";
    case 84: return "MSR_READ_IMM";
    case 85: return "MSR_WRITE_IMM";
    default: return "";
  }
}

namespace {

// SVM_EXIT_EXCP_BASE + vector: one exit code per exception vector. The uapi
// header defines only the base; the names follow ExceptionMnemonic().
constexpr std::array<std::string_view, 32> kSvmExceptionExits = {
    "EXCP_DE", "EXCP_DB", "EXCP_NMI", "EXCP_BP", "EXCP_OF", "EXCP_BR", "EXCP_UD", "EXCP_NM",
    "EXCP_DF", "EXCP_9",  "EXCP_TS",  "EXCP_NP", "EXCP_SS", "EXCP_GP", "EXCP_PF", "EXCP_15",
    "EXCP_MF", "EXCP_AC", "EXCP_MC",  "EXCP_XM", "EXCP_VE", "EXCP_CP", "EXCP_22", "EXCP_23",
    "EXCP_24", "EXCP_25", "EXCP_26",  "EXCP_27", "EXCP_HV", "EXCP_VC", "EXCP_SX", "EXCP_31",
};
constexpr uint64_t kSvmExitExcpBase = 0x040;  // SVM_EXIT_EXCP_BASE
constexpr uint64_t kSvmExitLastExcp = 0x05f;  // SVM_EXIT_LAST_EXCP

}  // namespace

// arch/x86/include/uapi/asm/svm.h: SVM_EXIT_* without the prefix, and the
// SEV-ES SVM_VMGEXIT_* codes without "SVM_".
std::string_view SvmExitCodeName(uint64_t code) {
  if (code >= kSvmExitExcpBase && code <= kSvmExitLastExcp) {
    return kSvmExceptionExits[code - kSvmExitExcpBase];
  }
  switch (code) {
    case 0x000: return "READ_CR0";
    case 0x002: return "READ_CR2";
    case 0x003: return "READ_CR3";
    case 0x004: return "READ_CR4";
    case 0x008: return "READ_CR8";
    case 0x010: return "WRITE_CR0";
    case 0x012: return "WRITE_CR2";
    case 0x013: return "WRITE_CR3";
    case 0x014: return "WRITE_CR4";
    case 0x018: return "WRITE_CR8";
    case 0x020: return "READ_DR0";
    case 0x021: return "READ_DR1";
    case 0x022: return "READ_DR2";
    case 0x023: return "READ_DR3";
    case 0x024: return "READ_DR4";
    case 0x025: return "READ_DR5";
    case 0x026: return "READ_DR6";
    case 0x027: return "READ_DR7";
    case 0x030: return "WRITE_DR0";
    case 0x031: return "WRITE_DR1";
    case 0x032: return "WRITE_DR2";
    case 0x033: return "WRITE_DR3";
    case 0x034: return "WRITE_DR4";
    case 0x035: return "WRITE_DR5";
    case 0x036: return "WRITE_DR6";
    case 0x037: return "WRITE_DR7";
    case 0x060: return "INTR";
    case 0x061: return "NMI";
    case 0x062: return "SMI";
    case 0x063: return "INIT";
    case 0x064: return "VINTR";
    case 0x065: return "CR0_SEL_WRITE";
    case 0x066: return "IDTR_READ";
    case 0x067: return "GDTR_READ";
    case 0x068: return "LDTR_READ";
    case 0x069: return "TR_READ";
    case 0x06a: return "IDTR_WRITE";
    case 0x06b: return "GDTR_WRITE";
    case 0x06c: return "LDTR_WRITE";
    case 0x06d: return "TR_WRITE";
    case 0x06e: return "RDTSC";
    case 0x06f: return "RDPMC";
    case 0x070: return "PUSHF";
    case 0x071: return "POPF";
    case 0x072: return "CPUID";
    case 0x073: return "RSM";
    case 0x074: return "IRET";
    case 0x075: return "SWINT";
    case 0x076: return "INVD";
    case 0x077: return "PAUSE";
    case 0x078: return "HLT";
    case 0x079: return "INVLPG";
    case 0x07a: return "INVLPGA";
    case 0x07b: return "IOIO";
    case 0x07c: return "MSR";
    case 0x07d: return "TASK_SWITCH";
    case 0x07e: return "FERR_FREEZE";
    case 0x07f: return "SHUTDOWN";
    case 0x080: return "VMRUN";
    case 0x081: return "VMMCALL";
    case 0x082: return "VMLOAD";
    case 0x083: return "VMSAVE";
    case 0x084: return "STGI";
    case 0x085: return "CLGI";
    case 0x086: return "SKINIT";
    case 0x087: return "RDTSCP";
    case 0x088: return "ICEBP";
    case 0x089: return "WBINVD";
    case 0x08a: return "MONITOR";
    case 0x08b: return "MWAIT";
    case 0x08c: return "MWAIT_COND";
    case 0x08d: return "XSETBV";
    case 0x08e: return "RDPRU";
    case 0x08f: return "EFER_WRITE_TRAP";
    case 0x090: return "CR0_WRITE_TRAP";
    case 0x091: return "CR1_WRITE_TRAP";
    case 0x092: return "CR2_WRITE_TRAP";
    case 0x093: return "CR3_WRITE_TRAP";
    case 0x094: return "CR4_WRITE_TRAP";
    case 0x095: return "CR5_WRITE_TRAP";
    case 0x096: return "CR6_WRITE_TRAP";
    case 0x097: return "CR7_WRITE_TRAP";
    case 0x098: return "CR8_WRITE_TRAP";
    case 0x099: return "CR9_WRITE_TRAP";
    case 0x09a: return "CR10_WRITE_TRAP";
    case 0x09b: return "CR11_WRITE_TRAP";
    case 0x09c: return "CR12_WRITE_TRAP";
    case 0x09d: return "CR13_WRITE_TRAP";
    case 0x09e: return "CR14_WRITE_TRAP";
    case 0x09f: return "CR15_WRITE_TRAP";
    case 0x0a2: return "INVPCID";
    case 0x0a5: return "BUS_LOCK";
    case 0x0a6: return "IDLE_HLT";
    case 0x400: return "NPF";
    case 0x401: return "AVIC_INCOMPLETE_IPI";
    case 0x402: return "AVIC_UNACCELERATED_ACCESS";
    case 0x403: return "VMGEXIT";
    case 0x80000001: return "VMGEXIT_MMIO_READ";
    case 0x80000002: return "VMGEXIT_MMIO_WRITE";
    case 0x80000003: return "VMGEXIT_NMI_COMPLETE";
    case 0x80000004: return "VMGEXIT_AP_HLT_LOOP";
    case 0x80000005: return "VMGEXIT_AP_JUMP_TABLE";
    case 0x80000010: return "VMGEXIT_PSC";
    case 0x80000011: return "VMGEXIT_GUEST_REQUEST";
    case 0x80000012: return "VMGEXIT_EXT_GUEST_REQUEST";
    case 0x80000013: return "VMGEXIT_AP_CREATION";
    case 0x8000fffd: return "VMGEXIT_HV_FEATURES";
    case 0x8000fffe: return "VMGEXIT_TERM_REQUEST";
    case 0x8000ffff: return "VMGEXIT_UNSUPPORTED_EVENT";
    case 0xf0000000: return "SW";
    // SVM_EXIT_ERR is -1; kvm_exit's exit_reason field is 32 bits wide.
    case 0xffffffff:
    case UINT64_MAX: return "ERR";
    default: return "";
  }
}

namespace {

// include/uapi/linux/kvm.h, KVM_EXIT_* without the prefix, indexed by number.
constexpr std::array<std::string_view, 42> kKvmExitReasons = {
    "UNKNOWN",          // 0
    "EXCEPTION",        // 1
    "IO",               // 2
    "HYPERCALL",        // 3
    "DEBUG",            // 4
    "HLT",              // 5
    "MMIO",             // 6
    "IRQ_WINDOW_OPEN",  // 7
    "SHUTDOWN",         // 8
    "FAIL_ENTRY",       // 9
    "INTR",             // 10
    "SET_TPR",          // 11
    "TPR_ACCESS",       // 12
    "S390_SIEIC",       // 13
    "S390_RESET",       // 14
    "DCR",              // 15 (deprecated)
    "NMI",              // 16
    "INTERNAL_ERROR",   // 17
    "OSI",              // 18
    "PAPR_HCALL",       // 19
    "S390_UCONTROL",    // 20
    "WATCHDOG",         // 21
    "S390_TSCH",        // 22
    "EPR",              // 23
    "SYSTEM_EVENT",     // 24
    "S390_STSI",        // 25
    "IOAPIC_EOI",       // 26
    "HYPERV",           // 27
    "ARM_NISV",         // 28
    "X86_RDMSR",        // 29
    "X86_WRMSR",        // 30
    "DIRTY_RING_FULL",  // 31
    "AP_RESET_HOLD",    // 32
    "X86_BUS_LOCK",     // 33
    "XEN",              // 34
    "RISCV_SBI",        // 35
    "RISCV_CSR",        // 36
    "NOTIFY",           // 37
    "LOONGARCH_IOCSR",  // 38
    "MEMORY_FAULT",     // 39
    "TDX",              // 40
    "ARM_SEA",          // 41 (in 6.19.0, not in 6.18.2)
};

struct ExceptionInfo {
  std::string_view mnemonic;  // "" where the SDM gives none (reserved vectors)
  std::string_view name;
};

// Intel SDM vol. 3, "Protected-Mode Exceptions and Interrupts", plus the AMD
// vectors 28-30 (#HV, #VC, #SX).
constexpr std::array<ExceptionInfo, 32> kExceptions = {{
    {"#DE", "divide error"},
    {"#DB", "debug"},
    {"NMI", "non-maskable interrupt"},
    {"#BP", "breakpoint"},
    {"#OF", "overflow"},
    {"#BR", "bound range exceeded"},
    {"#UD", "invalid opcode"},
    {"#NM", "device not available"},
    {"#DF", "double fault"},
    {"", "coprocessor segment overrun"},
    {"#TS", "invalid TSS"},
    {"#NP", "segment not present"},
    {"#SS", "stack-segment fault"},
    {"#GP", "general protection"},
    {"#PF", "page fault"},
    {"", "reserved"},
    {"#MF", "x87 floating-point error"},
    {"#AC", "alignment check"},
    {"#MC", "machine check"},
    {"#XM", "SIMD floating-point exception"},
    {"#VE", "virtualization exception"},
    {"#CP", "control protection"},
    {"", "reserved"},
    {"", "reserved"},
    {"", "reserved"},
    {"", "reserved"},
    {"", "reserved"},
    {"", "reserved"},
    {"#HV", "hypervisor injection"},
    {"#VC", "VMM communication"},
    {"#SX", "security exception"},
    {"", "reserved"},
}};

// Page-fault error code bits. 0-5 and 15 are the CPU's #PF error code, as
// PFERR_*_MASK in arch/x86/include/asm/kvm_host.h; bit 6 is the CPU's SS
// (shadow stack) bit, which kvm_host.h does not name. 32 (PFERR_GUEST_FINAL)
// and 33 (PFERR_GUEST_PAGE) are AMD's NPF error code (EXITINFO1), which KVM
// also sets for a VMX EPT violation; only 48/49 (IMPLICIT/PRIVATE_ACCESS)
// are KVM's own. kvm:kvm_page_fault carries bits 32 and up only since 6.1.
struct ErrorBit {
  int bit;
  std::string_view name;
};
constexpr std::array<ErrorBit, 10> kPageFaultBits = {{
    {0, "present"},
    {1, "write"},
    {2, "user"},
    {3, "rsvd"},
    {4, "fetch"},
    {5, "pk"},
    {6, "shstk"},
    {15, "sgx"},
    {32, "guest-final"},
    {33, "guest-page"},
}};

// The exit qualification of a VMX EPT violation: EPT_VIOLATION_* in
// arch/x86/include/asm/vmx.h. 6.1: ACC_READ/ACC_WRITE/ACC_INSTR_BIT 0-2,
// EPT_VIOLATION_RWX_SHIFT 3 for bits 3-5, GVA_IS_VALID_BIT 7,
// GVA_TRANSLATED_BIT 8; 5.15: EPT_VIOLATION_READABLE/WRITABLE/EXECUTABLE for
// bits 3-5; 6.16: EPT_VIOLATION_PROT_READ/WRITE/EXEC and EXEC_FOR_RING3_LIN
// (bit 6). Intel SDM vol. 3, table "Exit Qualification for EPT Violations".
// Bit 8 means something only with bit 7.
constexpr std::array<ErrorBit, 8> kEptQualificationBits = {{
    {0, "read"},                 // the access was a data read
    {1, "write"},                // a data write
    {2, "fetch"},                // an instruction fetch
    {3, "gpa-readable"},         // the GPA's EPT entries allow reads...
    {4, "gpa-writable"},         // ...writes...
    {5, "gpa-executable"},       // ...and execution (all clear: not mapped)
    {6, "gpa-user-executable"},  // mode-based execute control
    {12, "nmi-unblocking"},      // the fault hit an IRET that unblocked NMIs
}};
constexpr int kEptGlaValidBit = 7;        // EPT_VIOLATION_GVA_IS_VALID (6.0+; unnamed in 5.15)
constexpr int kEptGlaTranslatedBit = 8;   // EPT_VIOLATION_GVA_TRANSLATED

}  // namespace

std::string EptQualificationText(uint64_t qualification) {
  std::string text;
  auto add = [&text](std::string_view name) {
    if (!text.empty()) text += '|';
    text += name;
  };
  uint64_t rest = qualification;
  for (const ErrorBit& b : kEptQualificationBits) {
    const uint64_t mask = uint64_t{1} << b.bit;
    if ((qualification & mask) == 0) continue;
    add(b.name);
    rest &= ~mask;
  }
  const uint64_t gla_valid = uint64_t{1} << kEptGlaValidBit;
  const uint64_t translated = uint64_t{1} << kEptGlaTranslatedBit;
  if (qualification & gla_valid) {
    add("gla-valid");
    // With a valid linear address, bit 8 tells the final translation (the
    // page itself) from an access to the guest's own page tables.
    add(qualification & translated ? "final-translation" : "paging-structure");
    rest &= ~(gla_valid | translated);
  }
  if (rest != 0) add(fmt::format("{:#x}", rest));
  return text.empty() ? "no access bits" : text;
}

std::string_view KvmExitReasonName(uint32_t reason) {
  return reason < kKvmExitReasons.size() ? kKvmExitReasons[reason] : std::string_view{};
}

std::string_view ExceptionMnemonic(uint32_t vector) {
  return vector < kExceptions.size() ? kExceptions[vector].mnemonic : std::string_view{};
}

std::string_view ExceptionName(uint32_t vector) {
  return vector < kExceptions.size() ? kExceptions[vector].name : std::string_view{};
}

std::string PageFaultErrorText(uint64_t error_code) {
  // All bits clear is a fault of its own: a read by the kernel of a page that
  // is not present. Say so rather than print nothing.
  if (error_code == 0) return "read, not present, kernel";
  std::string text;
  uint64_t rest = error_code;
  for (const ErrorBit& b : kPageFaultBits) {
    const uint64_t mask = uint64_t{1} << b.bit;
    if ((error_code & mask) == 0) continue;
    if (!text.empty()) text += '|';
    text += b.name;
    rest &= ~mask;
  }
  if (rest != 0) {
    if (!text.empty()) text += '|';
    text += fmt::format("{:#x}", rest);
  }
  return text;
}

}  // namespace kvmscope::traces

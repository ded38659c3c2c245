// Kernel events made readable: the kernel's name of each kind, its raw
// arguments decoded into the fields of the tracepoint they came from, and a
// one-line description of the whole event.
#include "traces/kernel_event.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace kvmscope::traces {
namespace {

// Indexed by KernelEventKind; the names a student finds in
// /sys/kernel/tracing/events/{kvm,kvmmmu}/ or in the kernel's source.
constexpr std::array<std::string_view, kKernelEventKinds> kKindNames = {
    "KVM_RUN enter",           // RunEnter
    "KVM_RUN exit",            // RunExit
    "exit handler",            // ExitHandler
    "kvm_mmu_page_fault",      // MmuPageFault
    "kvm_exit",                // KvmExit
    "kvm_entry",               // KvmEntry
    "kvm_userspace_exit",      // UserspaceExit
    "kvm_pio",                 // Pio
    "kvm_mmio",                // Mmio
    "kvm_emulate_insn",        // EmulateInsn
    "kvm_inj_exception",       // InjException
    "kvm_inj_virq",            // InjVirq
    "kvm_cpuid",               // Cpuid
    "kvm_msr",                 // Msr
    "kvm_hypercall",           // Hypercall
    "kvm_page_fault",          // PageFault
    "kvm_mmu_pagetable_walk",  // MmuWalk
    "kvm_mmu_set_spte",        // MmuSetSpte
    "kvm_mmu_walker_error",    // MmuWalkerError
};

std::string Hex(uint64_t v) {
  return fmt::format("{:#x}", v);
}
std::string Dec(uint64_t v) {
  return fmt::format("{}", v);
}
std::string Bool(uint64_t v) {
  return v != 0 ? "true" : "false";
}

std::string_view ErrnoName(int64_t err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case ENOEXEC: return "ENOEXEC";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENOTTY: return "ENOTTY";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ETIMEDOUT: return "ETIMEDOUT";
#ifdef EHWPOISON
    case EHWPOISON: return "EHWPOISON";
#endif
    default: return "";
  }
}

// "0", "-4 (EINTR)": a kernel return value, negative errno on failure.
std::string ReturnText(int64_t ret) {
  if (ret >= 0) return fmt::format("{}", ret);
  const std::string_view name = ErrnoName(-ret);
  return name.empty() ? fmt::format("{}", ret) : fmt::format("{} ({})", ret, name);
}

// "#PF (page fault)", "vector 15 (reserved)", "0x20".
std::string ExceptionText(uint64_t vector) {
  if (vector >= 32) return Hex(vector);
  const auto v = static_cast<uint32_t>(vector);
  if (ExceptionMnemonic(v).empty()) return fmt::format("vector {} ({})", v, ExceptionName(v));
  return fmt::format("{} ({})", ExceptionMnemonic(v), ExceptionName(v));
}

// "#PF", or the vector number where there is no mnemonic.
std::string ExceptionShort(uint64_t vector) {
  const std::string_view m =
      vector < 32 ? ExceptionMnemonic(static_cast<uint32_t>(vector)) : std::string_view{};
  return m.empty() ? fmt::format("vector {}", vector) : std::string(m);
}

// "0x6 (write|user)".
std::string PageFaultCodeText(uint64_t error_code) {
  return fmt::format("{:#x} ({})", error_code, PageFaultErrorText(error_code));
}

std::string IsaText(uint64_t isa) {
  switch (static_cast<ExitIsa>(isa)) {
    case ExitIsa::Vmx: return "VMX";
    case ExitIsa::Svm: return "SVM";
    default: return Dec(isa);
  }
}

// kvm_exit's exit_reason in the vocabulary of its ISA: "EPT_VIOLATION", "NPF".
std::string ExitReasonText(uint64_t reason, uint64_t isa) {
  std::string_view name;
  if (isa == static_cast<uint64_t>(ExitIsa::Vmx)) {
    name = VmxExitReasonName(static_cast<uint32_t>(reason));
    if (name.empty()) return Hex(reason);
    constexpr uint64_t kFailedVmentry = 0x80000000;  // VMX_EXIT_REASONS_FAILED_VMENTRY
    if (reason & kFailedVmentry) return fmt::format("{} FAILED_VMENTRY", name);
    return std::string(name);
  }
  if (isa == static_cast<uint64_t>(ExitIsa::Svm)) name = SvmExitCodeName(reason);
  return name.empty() ? Hex(reason) : std::string(name);
}

// The event-information layout VMX (VM-exit interruption information) and
// SVM (EXITINTINFO) share: vector in bits 7:0, type in 10:8, error code valid
// in bit 11, valid in bit 31. The rest means something only when the valid
// bit is set: SVM leaves stale contents behind with it clear (seen under
// QEMU's emulated SVM: 0x300, 0xb0d after the #DE and #GP were delivered).
constexpr uint32_t kIntrInfoValid = 0x80000000u;
constexpr uint32_t kIntrInfoErrorValid = 0x800u;

std::string IntrInfoText(uint32_t info, uint64_t isa) {
  if ((info & kIntrInfoValid) == 0) {
    return info == 0 ? "0x0" : fmt::format("{:#x} (valid bit clear: no event, stale bits)", info);
  }
  const uint32_t vector = info & 0xff;
  const uint32_t type = (info >> 8) & 7;
  std::string what;
  switch (type) {
    case 0: what = fmt::format("external interrupt vector {:#x}", vector); break;
    case 2: what = "NMI"; break;
    case 4:
      what = fmt::format("software interrupt vector {:#x}", vector);
      // Real AMD CPUs report INT3 as an exception (type 3), which KVM
      // re-executes; QEMU's emulated SVM reports it as a software interrupt,
      // which KVM reinjects (kvm_inj_virq).
      if (isa == static_cast<uint64_t>(ExitIsa::Svm) && vector == 3) {
        what += ", INT3 as QEMU's emulated SVM reports it (real AMD CPUs: an exception)";
      }
      break;
    case 3:
    case 5:
    case 6: {
      const std::string_view kind = type == 3   ? "hardware exception"
                                    : type == 5 ? "privileged software exception"
                                                : "software exception";
      what = fmt::format("{} {}", kind, ExceptionShort(vector));
      break;
    }
    default: what = fmt::format("event type {} vector {:#x}", type, vector); break;
  }
  // VMX: the event that caused this exit; SVM: the event being delivered
  // when the exit happened (VMX keeps that one in info2, IDT-vectoring info).
  if (isa == static_cast<uint64_t>(ExitIsa::Svm)) what = "delivering " + what;
  return fmt::format("{:#x} ({})", info, what);
}

// kvm_exit's error_code belongs to the event in intr_info: meaningless
// unless that is valid and has an error code.
bool ExitErrorCodeValid(uint32_t info) {
  return (info & kIntrInfoValid) != 0 && (info & kIntrInfoErrorValid) != 0;
}

// kvm_page_fault's fault address: a guest-physical address when EPT or NPT
// faulted, the guest's linear address (its CR2) for an intercepted #PF.
std::string FaultAddressText(uint64_t address, FaultCode kind) {
  switch (kind) {
    case FaultCode::EptQualification:
    case FaultCode::NpfErrorCode: return fmt::format("{:#x} (guest physical)", address);
    case FaultCode::PfErrorCode: return fmt::format("{:#x} (guest linear, CR2)", address);
    case FaultCode::Unknown: break;
  }
  return Hex(address);
}

// kvm_emulate_insn's flags as the tracepoint prints them (KVM_EMUL_INSN_F_*:
// CR0_PE = 1, EFL_VM = 2, CS_D = 4, CS_L = 8).
std::string EmulateModeText(uint64_t flags) {
  switch (flags) {
    case 0: return "real";
    case 1 | 2: return "vm16";
    case 1: return "prot16";
    case 1 | 4: return "prot32";
    case 1 | 8: return "prot64";
    default: return Hex(flags);
  }
}

// "0f 01 c1": the first len bytes of the instruction, a3 holding bytes 0-7
// and a4 bytes 8-15, little endian.
std::string InsnBytesText(uint64_t lo, uint64_t hi, uint64_t len) {
  constexpr uint64_t kMaxInsn = 15;  // the tracepoint's insn[15]
  std::string text;
  for (uint64_t i = 0; i < std::min(len, kMaxInsn); ++i) {
    const uint64_t word = i < 8 ? lo : hi;
    if (!text.empty()) text += ' ';
    text += fmt::format("{:02x}", (word >> (8 * (i % 8))) & 0xff);
  }
  return text.empty() ? "(none)" : text;
}

// fastpath_t in arch/x86/kvm/x86.h.
std::string FastpathText(uint64_t fastpath) {
  switch (fastpath) {
    case 0: return "EXIT_FASTPATH_NONE";
    case 1: return "EXIT_FASTPATH_REENTER_GUEST";
    case 2: return "EXIT_FASTPATH_EXIT_HANDLED";
    case 3: return "EXIT_FASTPATH_EXIT_USERSPACE";
    default: return Dec(fastpath);
  }
}

// include/uapi/linux/kvm_para.h.
std::string HypercallText(uint64_t nr) {
  switch (nr) {
    case 1: return "KVM_HC_VAPIC_POLL_IRQ";
    case 2: return "KVM_HC_MMU_OP";
    case 3: return "KVM_HC_FEATURES";
    case 4: return "KVM_HC_PPC_MAP_MAGIC_PAGE";
    case 5: return "KVM_HC_KICK_CPU";
    case 6: return "KVM_HC_MIPS_GET_CLOCK_FREQ";
    case 7: return "KVM_HC_MIPS_EXIT_VM";
    case 8: return "KVM_HC_MIPS_CONSOLE_OUTPUT";
    case 9: return "KVM_HC_CLOCK_PAIRING";
    case 10: return "KVM_HC_SEND_IPI";
    case 11: return "KVM_HC_SCHED_YIELD";
    case 12: return "KVM_HC_MAP_GPA_RANGE";
    default: return Hex(nr);
  }
}

std::string UserspaceReasonText(uint64_t reason) {
  const std::string_view name = KvmExitReasonName(static_cast<uint32_t>(reason));
  return name.empty() ? Dec(reason) : std::string(name);
}

std::string MmioTypeText(uint64_t type) {
  switch (type) {
    case 0: return "unsatisfied-read";
    case 1: return "read";
    case 2: return "write";
    default: return Dec(type);
  }
}

uint32_t Low32(uint64_t v) {
  return static_cast<uint32_t>(v);
}
uint32_t High32(uint64_t v) {
  return static_cast<uint32_t>(v >> 32);
}

}  // namespace

std::string_view KernelEventName(KernelEventKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kKindNames.size() ? kKindNames[i] : std::string_view{};
}

std::optional<KernelEventKind> KernelEventKindFromName(std::string_view name) {
  // Accept the tracefs spelling "kvm:kvm_pio" / "kvmmmu:kvm_mmu_set_spte" too.
  for (std::string_view group : {"kvm:", "kvmmmu:"}) {
    if (name.starts_with(group)) {
      name.remove_prefix(group.size());
      break;
    }
  }
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<KernelEventKind>(i);
  }
  return std::nullopt;
}

std::string_view FaultCodeName(FaultCode kind) {
  switch (kind) {
    case FaultCode::Unknown: return "raw value";
    case FaultCode::EptQualification: return "EPT exit qualification";
    case FaultCode::NpfErrorCode: return "NPF error code";
    case FaultCode::PfErrorCode: return "#PF error code";
  }
  return "raw value";
}

std::string FaultCodeText(uint64_t code, FaultCode kind) {
  switch (kind) {
    case FaultCode::EptQualification: {
      std::string text = EptQualificationText(code);
      constexpr uint64_t kGpaPermissions = 0x38;  // bits 3-5: the EPT entry's R, W, X
      if ((code & kGpaPermissions) == 0) text += ", EPT entry not present";
      return fmt::format("{:#x} ({}: {})", code, FaultCodeName(kind), text);
    }
    case FaultCode::NpfErrorCode:
    case FaultCode::PfErrorCode:
      return fmt::format("{:#x} ({}: {})", code, FaultCodeName(kind), PageFaultErrorText(code));
    case FaultCode::Unknown: break;
  }
  return fmt::format("{:#x} (raw value, meaning depends on the exit)", code);
}

std::vector<Field> DecodeFields(const KernelEvent& event, const DecodeContext& context) {
  const auto& a = event.a;
  std::vector<Field> f;
  auto add = [&f](std::string_view name, uint64_t value, std::string text) {
    f.push_back(Field{name, value, std::move(text)});
  };
  switch (event.kind) {
    case KernelEventKind::RunEnter:
      if ((a[2] & 0xff) == kRunFromVmm) {
        add("from", a[2],
            "kvmscope's VMM, just before it called KVM_RUN (the system call's own entry was not "
            "traced)");
      } else {
        add("fd", a[0], Dec(a[0]));
      }
      break;
    case KernelEventKind::RunExit:
      add("ret", a[0], ReturnText(static_cast<int64_t>(a[0])));
      if ((a[2] & 0xff) == kRunFromUserspaceExit) {
        add("from", a[2],
            "kvm_userspace_exit's time and result (the system call's own return was not traced)");
      }
      break;
    case KernelEventKind::ExitHandler: add("exit_fastpath", a[0], FastpathText(a[0])); break;
    case KernelEventKind::MmuPageFault:
      add("cr2_or_gpa", a[0], Hex(a[0]));
      add("error_code", a[1], PageFaultCodeText(a[1]));
      break;
    case KernelEventKind::KvmExit:
      add("exit_reason", a[0], ExitReasonText(a[0], a[2]));
      add("guest_rip", a[1], Hex(a[1]));
      add("isa", a[2], IsaText(a[2]));
      add("info1", a[3], Hex(a[3]));
      add("info2", a[4], Hex(a[4]));
      add("intr_info", Low32(a[5]), IntrInfoText(Low32(a[5]), a[2]));
      add("error_code", High32(a[5]),
          ExitErrorCodeValid(Low32(a[5])) ? Hex(High32(a[5]))
                                          : fmt::format("{:#x} (no error code)", High32(a[5])));
      break;
    case KernelEventKind::KvmEntry:
      add("vcpu_id", a[0], Dec(a[0]));
      add("rip", a[1], Hex(a[1]));
      break;
    case KernelEventKind::UserspaceExit:
      add("reason", a[0], UserspaceReasonText(a[0]));
      add("errno", a[1], ReturnText(static_cast<int32_t>(Low32(a[1]))));
      break;
    case KernelEventKind::Pio:
      add("rw", a[0], a[0] != 0 ? "out" : "in");
      add("port", a[1], Hex(a[1]));
      add("size", a[2], Dec(a[2]));
      add("count", a[3], Dec(a[3]));
      add("val", a[4], Hex(a[4]));
      break;
    case KernelEventKind::Mmio:
      add("type", a[0], MmioTypeText(a[0]));
      add("len", a[1], Dec(a[1]));
      add("gpa", a[2], Hex(a[2]));
      add("val", a[3], Hex(a[3]));
      break;
    case KernelEventKind::EmulateInsn: {
      const uint64_t len = a[2] & 0xff;
      const uint64_t flags = (a[2] >> 8) & 0xff;
      const uint64_t failed = (a[2] >> 16) & 0xff;
      add("rip", a[0], Hex(a[0]));
      add("csbase", a[1], Hex(a[1]));
      add("len", len, Dec(len));
      add("insn", a[3], InsnBytesText(a[3], a[4], len));
      add("flags", flags, EmulateModeText(flags));
      add("failed", failed, Bool(failed));
      break;
    }
    case KernelEventKind::InjException:
      add("exception", a[0], ExceptionText(a[0]));
      add("has_error", a[1], Bool(a[1]));
      add("error_code", a[2], a[0] == 14 ? PageFaultCodeText(a[2]) : Hex(a[2]));
      add("reinjected", a[3], Bool(a[3]));
      break;
    case KernelEventKind::InjVirq:
      add("vector", a[0], Hex(a[0]));
      add("soft", a[1], Bool(a[1]));
      add("reinjected", a[2], Bool(a[2]));
      break;
    case KernelEventKind::Cpuid:
      add("function", Low32(a[0]), Hex(Low32(a[0])));
      add("index", High32(a[0]), Hex(High32(a[0])));
      add("rax", a[1], Hex(a[1]));
      add("rbx", a[2], Hex(a[2]));
      add("rcx", a[3], Hex(a[3]));
      add("rdx", a[4], Hex(a[4]));
      add("found", a[5] & 1, Bool(a[5] & 1));
      add("used_max_basic", (a[5] >> 1) & 1, Bool((a[5] >> 1) & 1));
      break;
    case KernelEventKind::Msr:
      add("write", a[0], a[0] != 0 ? "write" : "read");
      add("ecx", a[1], Hex(a[1]));
      add("data", a[2], Hex(a[2]));
      add("exception", a[3], a[3] != 0 ? "#GP" : "none");
      break;
    case KernelEventKind::Hypercall:
      add("nr", a[0], HypercallText(a[0]));
      add("a0", a[1], Hex(a[1]));
      add("a1", a[2], Hex(a[2]));
      add("a2", a[3], Hex(a[3]));
      add("a3", a[4], Hex(a[4]));
      break;
    case KernelEventKind::PageFault:
      add("vcpu_id", a[0], Dec(a[0]));
      add("guest_rip", a[1], Hex(a[1]));
      add("fault_address", a[2], FaultAddressText(a[2], context.fault_code));
      add("error_code", a[3], FaultCodeText(a[3], context.fault_code));
      break;
    case KernelEventKind::MmuWalk:
      add("addr", a[0], Hex(a[0]));
      add("pferr", a[1], PageFaultCodeText(a[1]));
      break;
    case KernelEventKind::MmuSetSpte:
      add("gfn", a[0], Hex(a[0]));
      add("spte", a[1], Hex(a[1]));
      add("level", a[2], Dec(a[2]));
      break;
    case KernelEventKind::MmuWalkerError: add("pferr", a[0], PageFaultCodeText(a[0])); break;
    case KernelEventKind::Count: break;
  }
  return f;
}

std::string DescribeKernelEvent(const KernelEvent& event, const DecodeContext& context) {
  const auto& a = event.a;
  const std::string_view name = KernelEventName(event.kind);
  switch (event.kind) {
    case KernelEventKind::RunEnter:
      return a[0] != 0 ? fmt::format("{} fd={}", name, a[0]) : std::string(name);
    case KernelEventKind::RunExit:
      return fmt::format("{} ret={}", name, ReturnText(static_cast<int64_t>(a[0])));
    case KernelEventKind::ExitHandler:
      // a0 is known only where the probe could read it; 0 says nothing.
      return a[0] != 0 ? fmt::format("{} {}", name, FastpathText(a[0])) : std::string(name);
    case KernelEventKind::MmuPageFault:
      return fmt::format("{} cr2_or_gpa={:#x} error_code={}", name, a[0], PageFaultCodeText(a[1]));
    case KernelEventKind::KvmExit: {
      std::string s = fmt::format("{} reason={} rip={:#x}", name, ExitReasonText(a[0], a[2]), a[1]);
      if (a[3] != 0) s += fmt::format(" info1={:#x}", a[3]);
      if (a[4] != 0) s += fmt::format(" info2={:#x}", a[4]);
      // Only a valid intr_info is shown: stale bits would read as an event.
      if (Low32(a[5]) & kIntrInfoValid) s += fmt::format(" intr_info={}", IntrInfoText(Low32(a[5]), a[2]));
      if (ExitErrorCodeValid(Low32(a[5]))) s += fmt::format(" error_code={:#x}", High32(a[5]));
      return s;
    }
    case KernelEventKind::KvmEntry: return fmt::format("{} vcpu={} rip={:#x}", name, a[0], a[1]);
    case KernelEventKind::UserspaceExit: {
      std::string s = fmt::format("{} reason={}", name, UserspaceReasonText(a[0]));
      const int32_t err = static_cast<int32_t>(Low32(a[1]));
      if (err != 0) s += fmt::format(" errno={}", ReturnText(err));
      return s;
    }
    case KernelEventKind::Pio: {
      std::string s =
          fmt::format("{} {} port={:#x} size={}", name, a[0] != 0 ? "out" : "in", a[1], a[2]);
      if (a[3] > 1) s += fmt::format(" count={}", a[3]);
      s += fmt::format(" val={:#x}", a[4]);
      return s;
    }
    case KernelEventKind::Mmio:
      return fmt::format("{} {} gpa={:#x} len={} val={:#x}", name, MmioTypeText(a[0]), a[2], a[1],
                         a[3]);
    case KernelEventKind::EmulateInsn: {
      const uint64_t len = a[2] & 0xff;
      std::string s =
          fmt::format("{} rip={:#x} insn={} ({})", name, a[0], InsnBytesText(a[3], a[4], len),
                      EmulateModeText((a[2] >> 8) & 0xff));
      if ((a[2] >> 16) & 0xff) s += " failed";
      return s;
    }
    case KernelEventKind::InjException: {
      std::string s = fmt::format("{} {}", name, ExceptionShort(a[0]));
      if (a[1] != 0) {
        s += fmt::format(" error_code={}", a[0] == 14 ? PageFaultCodeText(a[2]) : Hex(a[2]));
      }
      if (a[3] != 0) s += " reinjected";
      return s;
    }
    case KernelEventKind::InjVirq: {
      std::string s = fmt::format("{} vector={:#x}", name, a[0]);
      if (a[1] != 0) s += " soft";
      if (a[2] != 0) s += " reinjected";
      return s;
    }
    case KernelEventKind::Cpuid: {
      std::string s =
          fmt::format("{} function={:#x} index={:#x} rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x}", name,
                      Low32(a[0]), High32(a[0]), a[1], a[2], a[3], a[4]);
      if ((a[5] & 1) == 0) s += " not found";
      return s;
    }
    case KernelEventKind::Msr:
      return fmt::format("{} {} ecx={:#x} data={:#x}{}", name, a[0] != 0 ? "write" : "read", a[1],
                         a[2], a[3] != 0 ? " #GP" : "");
    case KernelEventKind::Hypercall:
      return fmt::format("{} nr={} a0={:#x} a1={:#x} a2={:#x} a3={:#x}", name, HypercallText(a[0]),
                         a[1], a[2], a[3], a[4]);
    case KernelEventKind::PageFault:
      return fmt::format("{} addr={:#x} error_code={} rip={:#x}", name, a[2],
                         FaultCodeText(a[3], context.fault_code), a[1]);
    case KernelEventKind::MmuWalk:
      return fmt::format("{} addr={:#x} pferr={}", name, a[0], PageFaultCodeText(a[1]));
    case KernelEventKind::MmuSetSpte:
      return fmt::format("{} gfn={:#x} spte={:#x} level={}", name, a[0], a[1], a[2]);
    case KernelEventKind::MmuWalkerError:
      return fmt::format("{} pferr={}", name, PageFaultCodeText(a[0]));
    case KernelEventKind::Count: break;
  }
  return fmt::format("unknown kernel event (kind {})", static_cast<unsigned>(event.kind));
}

}  // namespace kvmscope::traces

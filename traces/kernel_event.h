// What the host kernel did while a guest ran, as probes/ reports it: one
// fixed-size record per kernel event (a KVM tracepoint, a probe on a KVM
// function, the edges of KVM_RUN), with decoders that turn its raw arguments
// into named fields and text. No BPF, KVM or UI dependency: probes/ fills
// these records, the trace keeps them as Events (traces/event.h, stored
// compactly by traces/event_list.h), every front end reads them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmscope::traces {

// Where a kernel event comes from. Names are the kernel's tracepoint or
// function names so that a student can grep for them.
enum class KernelEventKind : uint16_t {
  RunEnter,        // KVM_RUN entered (kvm_arch_vcpu_ioctl_run, or the ioctl syscall)
  RunExit,         // KVM_RUN returned; a[0] = return value (negative errno)
  ExitHandler,     // the vendor exit handler was entered (kprobe/fentry only)
  MmuPageFault,    // kvm_mmu_page_fault entered (kprobe/fentry only)
  KvmExit,         // kvm:kvm_exit
  KvmEntry,        // kvm:kvm_entry
  UserspaceExit,   // kvm:kvm_userspace_exit
  Pio,             // kvm:kvm_pio
  Mmio,            // kvm:kvm_mmio
  EmulateInsn,     // kvm:kvm_emulate_insn
  InjException,    // kvm:kvm_inj_exception
  InjVirq,         // kvm:kvm_inj_virq
  Cpuid,           // kvm:kvm_cpuid
  Msr,             // kvm:kvm_msr
  Hypercall,       // kvm:kvm_hypercall
  PageFault,       // kvm:kvm_page_fault
  MmuWalk,         // kvmmmu:kvm_mmu_pagetable_walk
  MmuSetSpte,      // kvmmmu:kvm_mmu_set_spte
  MmuWalkerError,  // kvmmmu:kvm_mmu_walker_error
  Count
};
inline constexpr size_t kKernelEventKinds = static_cast<size_t>(KernelEventKind::Count);

// The x86 virtualization ISA that produced a kvm_exit (the tracepoint's
// `isa` field: KVM_ISA_VMX = 1, KVM_ISA_SVM = 2).
enum class ExitIsa : uint8_t { Unknown = 0, Vmx = 1, Svm = 2 };

// The raw arguments of each kind, as probes/ packs them into `a`:
//   RunEnter       a0 = vCPU fd (syscall source) or 0
//   RunExit        a0 = return value (int64, negative errno)
//   both           a1 = the vCPU's vcpu_id when a2 has kRunHasVcpu (the
//                  kprobe and fentry sources read it from struct kvm_vcpu),
//                  a2 = where the edge came from (kRunFrom*) | kRunHasVcpu;
//                  0 in traces from before these fields
//   ExitHandler    a0 = fastpath argument where known
//   MmuPageFault   a0 = cr2_or_gpa, a1 = error code
//   KvmExit        a0 = exit_reason, a1 = guest_rip, a2 = isa, a3 = info1,
//                  a4 = info2, a5 = intr_info | error_code << 32 (kvm_exit has
//                  intr_info and error_code since 5.10: 0 before)
//   KvmEntry       a0 = vcpu_id, a1 = rip
//   UserspaceExit  a0 = reason (KVM_EXIT_*), a1 = errno (int32)
//   Pio            a0 = rw (1 = out), a1 = port, a2 = size, a3 = count, a4 = val
//   Mmio           a0 = type (0 unsatisfied read, 1 read, 2 write), a1 = len,
//                  a2 = gpa, a3 = val
//   EmulateInsn    a0 = rip, a1 = csbase, a2 = len | flags << 8 | failed << 16,
//                  a3/a4 = instruction bytes 0-7 / 8-15 (little endian)
//   InjException   a0 = vector, a1 = has_error, a2 = error code, a3 = reinjected
//   InjVirq        a0 = vector, a1 = soft, a2 = reinjected
//   Cpuid          a0 = function | index << 32, a1..a4 = rax, rbx, rcx, rdx,
//                  a5 = found | used_max_basic << 1
//   Msr            a0 = write, a1 = ecx (MSR index), a2 = data, a3 = exception
//   Hypercall      a0 = nr, a1..a4 = a0..a3 of the hypercall
//   PageFault      a0 = vcpu_id, a1 = guest_rip, a2 = fault_address, a3 = error code
//                  (vcpu_id and guest_rip since 6.1: 0 before; error_code was
//                  an unsigned int up to 6.0, so bits 32 and up are 0 there)
//   MmuWalk        a0 = addr, a1 = pferr
//   MmuSetSpte     a0 = gfn, a1 = spte, a2 = level
//   MmuWalkerError a0 = pferr
inline constexpr uint64_t kRunFromSyscall = 0, kRunFromKprobe = 1, kRunFromFentry = 2;
// A RunExit with no probe of its own: made from kvm_userspace_exit, which
// fires in kvm_vcpu_ioctl's KVM_RUN case right after
// kvm_arch_vcpu_ioctl_run returns, with its return value (the ioctl's
// result; virt/kvm/kvm_main.c, 6.1 to 6.19). Its time is the tracepoint's,
// a little before the system call returns (probes/ uses it for kvmscope's
// own VM instead of a program on every system call's exit).
inline constexpr uint64_t kRunFromUserspaceExit = 3;
// A RunEnter with no probe of its own: made by kvmscope's own VMM on the
// vCPU thread just before it calls KVM_RUN (probes::Session::MakeRunEnter),
// stamped with the same clock as the kernel's events (CLOCK_MONOTONIC), a
// little before the system call enters the kernel. For kvmscope's own VM
// only, instead of a program on every system call's entry.
inline constexpr uint64_t kRunFromVmm = 4;
inline constexpr uint64_t kRunHasVcpu = 0x100;
// The vcpu_id a RunEnter/RunExit carries, or -1 (syscall source, old trace).
inline int32_t RunEdgeVcpuId(const std::array<uint64_t, 6>& a) {
  return (a[2] & kRunHasVcpu) ? static_cast<int32_t>(a[1]) : -1;
}

struct KernelEvent {
  int64_t time_ns = 0;  // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  uint32_t pid = 0;     // process (tgid)
  uint32_t tid = 0;     // thread: the vCPU thread for KVM events
  uint32_t cpu = 0;     // host CPU
  KernelEventKind kind = KernelEventKind::RunEnter;
  int32_t stack_id = -1;  // into the trace's stack table; -1: no stack taken
  std::array<uint64_t, 6> a{};
};

// "kvm_pio", "kvm_mmu_pagetable_walk", "KVM_RUN enter", ...; "" for Count.
std::string_view KernelEventName(KernelEventKind kind);
// The inverse; also accepts the tracefs spelling with its group, "kvm:kvm_pio".
std::optional<KernelEventKind> KernelEventKindFromName(std::string_view name);

// One decoded argument: its name as in the tracepoint format, the raw value
// and a readable rendering ("0x3f8", "#PF (page fault)", "write|user").
struct Field {
  std::string_view name;
  uint64_t value = 0;
  std::string text;
};

// What kvm:kvm_page_fault's error_code field holds: it depends on the code
// that fired the tracepoint (Linux 6.1, arch/x86/kvm; up to 6.0 the field is
// 32 bits wide and NPF's bits 32/33 are cut off):
//   - vmx/vmx.c handle_ept_violation (VMX EXIT_REASON_EPT_VIOLATION) passes
//     the raw EPT exit qualification (EPT_VIOLATION_* in
//     arch/x86/include/asm/vmx.h), not a page-fault error code;
//   - svm/svm.c npf_interception (SVM_EXIT_NPF) passes exit_info_1: a #PF
//     error code plus PFERR_GUEST_FINAL (bit 32) / PFERR_GUEST_PAGE (bit 33)
//     (PFERR_* in arch/x86/include/asm/kvm_host.h);
//   - mmu/mmu.c kvm_handle_page_fault, reached from an intercepted #PF
//     (shadow paging: VMX with ept=0, SVM with npt=0), passes the guest's #PF
//     error code.
// Which one it was is known only from the kvm_exit before it on the same
// vCPU thread (traces/fault_context.h finds it), or from the host.
enum class FaultCode : uint8_t {
  Unknown,           // producer not known: shown as a raw value
  EptQualification,  // VMX EPT violation
  NpfErrorCode,      // SVM nested page fault
  PfErrorCode,       // an intercepted guest #PF (shadow paging)
};
// "raw value", "EPT exit qualification", "NPF error code", "#PF error code".
std::string_view FaultCodeName(FaultCode kind);
// "0x184 (EPT exit qualification: fetch|gla-valid|final-translation, EPT
// entry not present)"; for Unknown "0x184 (raw value, meaning depends on the
// exit)".
std::string FaultCodeText(uint64_t code, FaultCode kind);
// The EPT exit qualification's bits: "read|write|fetch", the GPA's EPT
// permissions "gpa-readable|gpa-writable|gpa-executable", "gla-valid" and,
// with it, "final-translation" (bit 8 set) or "paging-structure" (clear);
// other bits as hex.
std::string EptQualificationText(uint64_t qualification);

// What a decoder knows beyond the event itself.
struct DecodeContext {
  FaultCode fault_code = FaultCode::Unknown;  // for kvm_page_fault
};
std::vector<Field> DecodeFields(const KernelEvent& event, const DecodeContext& context = {});
// One line, e.g. "kvm_pio out port=0x3f8 size=1 val=0x48".
std::string DescribeKernelEvent(const KernelEvent& event, const DecodeContext& context = {});

// Names of hardware exit reasons and guest-visible facts, for decoding.
// VMX: the basic reason (bits 15:0) as in EXIT_REASON_*: "EPT_VIOLATION", "" if unknown.
std::string_view VmxExitReasonName(uint32_t reason);
std::string_view SvmExitCodeName(uint64_t code);      // "NPF", "EXCP_PF", "" if unknown
std::string_view KvmExitReasonName(uint32_t reason);  // KVM_EXIT_*: "IO", "MMIO", "HLT"...
std::string_view ExceptionMnemonic(uint32_t vector);  // "#PF", "" above 31
std::string_view ExceptionName(uint32_t vector);      // "page fault"
// x86 page-fault error code bits, "present|write|user|rsvd|fetch|pk|shstk|sgx"
// and AMD's NPF bits "guest-final|guest-page" (32, 33); other bits as hex. 0
// is "read, not present, kernel".
std::string PageFaultErrorText(uint64_t error_code);

}  // namespace kvmscope::traces

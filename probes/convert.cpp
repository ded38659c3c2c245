// Raw record → traces::KernelEvent. The argument packing is the same on both
// sides (traces/kernel_event.h documents it), so only kinds are mapped.
#include "probes/convert.h"

namespace kvmscope::probes {

// The run edges' a[2] is the raw flags word: the two sides must agree.
static_assert(KS_RUN_FROM_SYSCALL == traces::kRunFromSyscall);
static_assert(KS_RUN_FROM_KPROBE == traces::kRunFromKprobe);
static_assert(KS_RUN_FROM_FENTRY == traces::kRunFromFentry);
static_assert(KS_RUN_HAS_VCPU == traces::kRunHasVcpu);
static_assert(KS_KIND_COUNT == traces::kKernelEventKinds);

std::optional<traces::KernelEventKind> KindFromRaw(uint32_t raw_kind) {
  using K = traces::KernelEventKind;
  switch (raw_kind) {
    case KS_RUN_ENTER: return K::RunEnter;
    case KS_RUN_EXIT: return K::RunExit;
    case KS_EXIT_HANDLER: return K::ExitHandler;
    case KS_MMU_PAGE_FAULT: return K::MmuPageFault;
    case KS_KVM_EXIT: return K::KvmExit;
    case KS_KVM_ENTRY: return K::KvmEntry;
    case KS_USERSPACE_EXIT: return K::UserspaceExit;
    case KS_PIO: return K::Pio;
    case KS_MMIO: return K::Mmio;
    case KS_EMULATE_INSN: return K::EmulateInsn;
    case KS_INJ_EXCEPTION: return K::InjException;
    case KS_INJ_VIRQ: return K::InjVirq;
    case KS_CPUID: return K::Cpuid;
    case KS_MSR: return K::Msr;
    case KS_HYPERCALL: return K::Hypercall;
    case KS_PAGE_FAULT: return K::PageFault;
    case KS_MMU_WALK: return K::MmuWalk;
    case KS_MMU_SET_SPTE: return K::MmuSetSpte;
    case KS_MMU_WALKER_ERROR: return K::MmuWalkerError;
  }
  return std::nullopt;
}

std::optional<traces::KernelEvent> ToKernelEvent(const kvmscope_event& raw) {
  std::optional<traces::KernelEventKind> kind = KindFromRaw(raw.kind);
  if (!kind) return std::nullopt;
  traces::KernelEvent ev;
  ev.time_ns = static_cast<int64_t>(raw.ts_ns);
  ev.pid = raw.pid;
  ev.tid = raw.tid;
  ev.cpu = raw.cpu;
  ev.kind = *kind;
  for (size_t i = 0; i < ev.a.size(); ++i) ev.a[i] = raw.a[i];
  return ev;
}

}  // namespace kvmscope::probes

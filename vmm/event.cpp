// Event helpers: the monotonic clock and names of KVM exit reasons, spelled
// exactly as in <linux/kvm.h> so that a student can grep for them.
#include "vmm/event.h"

#include <fmt/format.h>

#include <ctime>

namespace kvmscope::vmm {

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string_view ExitReasonName(uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
    case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_IRQ_WINDOW_OPEN: return "KVM_EXIT_IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
    case KVM_EXIT_SET_TPR: return "KVM_EXIT_SET_TPR";
    case KVM_EXIT_TPR_ACCESS: return "KVM_EXIT_TPR_ACCESS";
    case KVM_EXIT_NMI: return "KVM_EXIT_NMI";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
    case KVM_EXIT_IOAPIC_EOI: return "KVM_EXIT_IOAPIC_EOI";
    case KVM_EXIT_HYPERV: return "KVM_EXIT_HYPERV";
    case KVM_EXIT_X86_RDMSR: return "KVM_EXIT_X86_RDMSR";
    case KVM_EXIT_X86_WRMSR: return "KVM_EXIT_X86_WRMSR";
    case KVM_EXIT_DIRTY_RING_FULL: return "KVM_EXIT_DIRTY_RING_FULL";
    case KVM_EXIT_X86_BUS_LOCK: return "KVM_EXIT_X86_BUS_LOCK";
    case KVM_EXIT_NOTIFY: return "KVM_EXIT_NOTIFY";
    default: return "KVM_EXIT_(other)";
  }
}

std::string_view InternalErrorName(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "KVM_INTERNAL_ERROR_EMULATION";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "KVM_INTERNAL_ERROR_SIMUL_EX";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "KVM_INTERNAL_ERROR_DELIVERY_EV";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
      return "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON";
    default: return "KVM_INTERNAL_ERROR_(other)";
  }
}

std::string DescribeExit(const ExitInfo& e) {
  switch (e.reason) {
    case KVM_EXIT_IO:
      return fmt::format("{} port={:#x} size={} data={:#x}{}",
                         e.direction == IoDirection::Out ? "out" : "in", e.port, e.size, e.data,
                         e.count > 1 ? fmt::format(" count={}", e.count) : "");
    case KVM_EXIT_MMIO:
      return fmt::format("{} addr={:#x} len={} data={:#x}", e.mmio_write ? "write" : "read",
                         e.mmio_addr, e.mmio_len, e.mmio_data);
    case KVM_EXIT_HYPERCALL: return fmt::format("nr={}", e.hypercall_nr);
    case KVM_EXIT_INTERNAL_ERROR:
      return fmt::format("suberror={} ({})", e.suberror, InternalErrorName(e.suberror));
    case KVM_EXIT_FAIL_ENTRY:
      return fmt::format("hardware_entry_failure_reason={:#x}", e.hardware_reason);
    case KVM_EXIT_SYSTEM_EVENT: return fmt::format("type={}", e.system_event);
    case KVM_EXIT_INTR: return e.run_errno ? "KVM_RUN returned EINTR (vCPU kicked)" : "";
    default: return "";
  }
}

}  // namespace kvmscope::vmm

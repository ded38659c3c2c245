// The one interface through which the VMM reports what it does: every KVM
// ioctl, each KVM_RUN enter and return with its decoded exit, device accesses,
// console bytes, self-check reports, control and watchdog actions. Each event
// is stamped with CLOCK_MONOTONIC nanoseconds. Nothing here knows of tracing.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kvmscope::vmm {

// CLOCK_MONOTONIC in nanoseconds: the one clock of kvmscope (the BPF side
// uses bpf_ktime_get_ns(), which reads the same clock).
int64_t NowNs();

enum class EventKind : uint8_t {
  Ioctl,         // a KVM ioctl other than KVM_RUN (name in `ioctl`)
  RunEnter,      // the vCPU thread is about to call KVM_RUN
  RunExit,       // KVM_RUN returned; `exit` says why
  DeviceAccess,  // the port or MMIO bus dispatched a guest access
  ConsoleByte,   // the guest wrote a byte to the serial console
  Status,        // the guest reported its self-check value
  Control,       // pause, resume, step, slow motion or stop was requested
  Watchdog,      // the watchdog acted: a budget ran out, a vCPU was kicked
  VcpuDone,      // a vCPU thread left its run loop (`detail` says why)
};

enum class IoDirection : uint8_t { In, Out };

// KVM_RUN's return, decoded from struct kvm_run. Only the fields of
// `reason` are meaningful; names follow <linux/kvm.h>.
struct ExitInfo {
  uint32_t reason = KVM_EXIT_UNKNOWN;  // KVM_EXIT_*
  int run_errno = 0;                   // errno when KVM_RUN returned -1 (EINTR after a kick)
  // KVM_EXIT_IO
  uint16_t port = 0;
  uint8_t size = 0;  // bytes per access: 1, 2 or 4
  IoDirection direction = IoDirection::Out;
  uint32_t count = 0;  // repeat count (string I/O)
  uint64_t data = 0;   // first element: written value, or value returned to an IN
  // KVM_EXIT_MMIO
  uint64_t mmio_addr = 0;
  uint32_t mmio_len = 0;
  bool mmio_write = false;
  uint64_t mmio_data = 0;  // written value, or value returned to a read
  // KVM_EXIT_HYPERCALL
  uint64_t hypercall_nr = 0;
  // KVM_EXIT_INTERNAL_ERROR: KVM_INTERNAL_ERROR_* suberror
  uint32_t suberror = 0;
  // KVM_EXIT_FAIL_ENTRY: hardware entry failure reason
  uint64_t hardware_reason = 0;
  // KVM_EXIT_SYSTEM_EVENT: KVM_SYSTEM_EVENT_* type
  uint32_t system_event = 0;
};

enum class Bus : uint8_t { Pio, Mmio };

struct DeviceAccessInfo {
  Bus bus = Bus::Pio;
  std::string_view device;  // "" when no device claims the address
  uint64_t addr = 0;
  uint32_t size = 0;
  bool write = false;
  uint64_t data = 0;
};

struct Event {
  int64_t time_ns = 0;
  EventKind kind = EventKind::Ioctl;
  int vcpu = -1;  // -1 for VM-wide events

  // Ioctl: the request name as in <linux/kvm.h> and its return value
  // (negative errno on failure).
  std::string_view ioctl;
  long result = 0;

  // RunEnter/RunExit: this vCPU's KVM_RUN sequence number, from 0.
  uint64_t run_index = 0;
  ExitInfo exit;                     // RunExit
  const kvm_regs* regs = nullptr;    // RunExit, when register capture is on
  const kvm_sregs* sregs = nullptr;  // RunExit, when register capture is on

  DeviceAccessInfo access;  // DeviceAccess
  uint8_t byte = 0;         // ConsoleByte
  uint32_t status = 0;      // Status
  std::string detail;       // Control, Watchdog, VcpuDone: what and why
};

// Receives every event, synchronously, on the thread that caused it (vCPU
// threads, the watchdog, the controlling thread): implementations must be
// thread-safe and quick. Pointers inside an Event live only for the call.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void OnEvent(const Event& event) = 0;
};

// An event of `kind` on `vcpu`, stamped now.
inline Event MakeEvent(EventKind kind, int vcpu = -1) {
  Event ev;
  ev.kind = kind;
  ev.vcpu = vcpu;
  ev.time_ns = NowNs();
  return ev;
}

// Names as spelled in <linux/kvm.h>, for printing.
std::string_view ExitReasonName(uint32_t reason);
std::string_view InternalErrorName(uint32_t suberror);
// One-line decoded details of an exit, e.g. "out port=0x3f8 size=1 data=0x48".
std::string DescribeExit(const ExitInfo& exit);

}  // namespace kvmscope::vmm

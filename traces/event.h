// One event of a trace as readers see it: its type (a kernel kind or a VMM
// kind), its time, thread, vCPU, host CPU, stack, text and six raw
// arguments, and the VMM kinds' argument packings. A plain value: the store
// (traces/event_list.h) keeps events encoded and decodes them into these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "traces/kernel_event.h"

namespace kvmscope::traces {

// What the VMM reports, as stored (vmm::EventKind minus console bytes, which
// are kept as the console text).
enum class VmmEventKind : uint16_t {
  Ioctl,         // a KVM ioctl other than KVM_RUN; text = its name, a0 = result (int64)
  RunEnter,      // about to call KVM_RUN; a0 = this vCPU's run index
  RunExit,       // KVM_RUN returned; packing below
  DeviceAccess,  // text = device ("" none); a0 = bus (0 port, 1 MMIO), a1 = address,
                 // a2 = size, a3 = write, a4 = data
  Status,        // the guest's self-check value in a0
  Control,       // pause/resume/step/slow motion/stop; text = what
  Watchdog,      // text = what the watchdog did
  VcpuDone,      // the vCPU left its run loop; text = why
  Count
};
inline constexpr size_t kVmmEventKinds = static_cast<size_t>(VmmEventKind::Count);
// VmmEventKind::RunExit packing: a0 = KVM_EXIT_* reason, a1 = errno when
// KVM_RUN returned -1 (EINTR after a kick), a2 = run index, then by reason:
//   KVM_EXIT_IO      a3 = port | size << 16 | out << 24, a4 = count, a5 = data
//   KVM_EXIT_MMIO    a3 = address, a4 = len | write << 32, a5 = data
//   KVM_EXIT_HYPERCALL a3 = nr; KVM_EXIT_INTERNAL_ERROR a3 = suberror;
//   KVM_EXIT_FAIL_ENTRY a3 = hardware reason; KVM_EXIT_SYSTEM_EVENT a3 = type
// The values of the KVM_EXIT_* reasons kvmscope's model needs, from
// <linux/kvm.h> (which traces/ does not include).
inline constexpr uint32_t kKvmExitIo = 2, kKvmExitHypercall = 3, kKvmExitHlt = 5,
                          kKvmExitMmio = 6, kKvmExitFailEntry = 9, kKvmExitIntr = 10,
                          kKvmExitInternalError = 17, kKvmExitSystemEvent = 24;

enum class Origin : uint8_t { Kernel, Vmm };

// The type of an event: a kernel kind or a VMM kind. Converts implicitly from
// either enum, so `event.type == KernelEventKind::Pio` reads naturally.
struct EventType {
  Origin origin = Origin::Kernel;
  uint16_t kind = 0;
  constexpr EventType() = default;
  constexpr EventType(KernelEventKind k) : origin(Origin::Kernel), kind(static_cast<uint16_t>(k)) {}
  constexpr EventType(VmmEventKind k) : origin(Origin::Vmm), kind(static_cast<uint16_t>(k)) {}
  bool operator==(const EventType&) const = default;
  KernelEventKind kernel() const { return static_cast<KernelEventKind>(kind); }
  VmmEventKind vmm() const { return static_cast<VmmEventKind>(kind); }
  // A dense index over both enums: kernel kinds first, then VMM kinds.
  size_t index() const { return origin == Origin::Kernel ? kind : kKernelEventKinds + kind; }
  static EventType FromIndex(size_t index);
};
inline constexpr size_t kEventTypes = kKernelEventKinds + kVmmEventKinds;
// "kvm_pio", "KVM_RUN exit" (kernel); "VMM KVM_RUN exit", "VMM ioctl" (VMM).
std::string_view EventTypeName(EventType type);
std::optional<EventType> EventTypeFromName(std::string_view name);

inline constexpr uint16_t kNoCpu = 0xffff;

// One event as every reader sees it: a plain value, no pointers. The trace
// does not store it this way (traces/event_list.h keeps about a third of
// its 88 bytes): reading a stored event decodes one of these.
struct Event {
  int64_t time_ns = 0;  // CLOCK_MONOTONIC
  uint32_t pid = 0;
  uint32_t tid = 0;
  int32_t vcpu = -1;      // -1: VM-wide or not known
  int32_t stack_id = -1;  // into the trace's stacks; -1: none
  uint32_t text = 0;      // interned string (ioctl name, device, detail); 0 = none
  uint16_t cpu = kNoCpu;  // host CPU (kernel events)
  EventType type;
  std::array<uint64_t, 6> a{};  // kernel: as KernelEvent::a; VMM: see VmmEventKind
  bool operator==(const Event&) const = default;
};

}  // namespace kvmscope::traces

// Synthetic exit cycles for the timeline's tests and its benchmark: one
// KVM_RUN as the VMM and the kernel see it, the guest running, an exit
// handled in the kernel and then by the VMM — 10 events, 10 µs apart.
#pragma once

#include <deque>

#include "traces/trace.h"

namespace kvmscope::test {

inline constexpr int64_t kCycleNs = 10'000;  // one KVM_RUN + its handling

inline traces::Event Ev(int64_t t, traces::EventType type, const traces::Track& track) {
  traces::Event e;
  e.time_ns = t;
  e.pid = track.pid;
  e.tid = track.tid;
  e.vcpu = track.vcpu;
  e.type = type;
  if (type.origin == traces::Origin::Kernel) e.cpu = 1;
  return e;
}

// Appends one exit cycle starting at `t` to `track`.
inline void AddCycle(traces::Track& track, int64_t t, uint64_t run, uint32_t reason) {
  using traces::KernelEventKind;
  using traces::VmmEventKind;
  // Filled in here, then stored (the track's store hands out no references).
  std::deque<traces::Event> cycle;
  auto add = [&](int64_t dt, traces::EventType type) -> traces::Event& {
    return cycle.emplace_back(Ev(t + dt, type, track));
  };
  add(0, VmmEventKind::RunEnter).a[0] = run;
  add(100, KernelEventKind::RunEnter);
  add(200, KernelEventKind::KvmEntry);
  add(3000, KernelEventKind::KvmExit);
  add(3400, KernelEventKind::MmuWalk).a[0] = 0x1000;
  add(3800, KernelEventKind::Pio).a[1] = 0x3f8;
  add(4600, KernelEventKind::UserspaceExit).a[0] = reason;
  add(5100, KernelEventKind::RunExit);
  traces::Event& exit = add(5200, VmmEventKind::RunExit);
  exit.a[0] = reason;
  exit.a[2] = run;
  add(6000, VmmEventKind::DeviceAccess).a[1] = 0x3f8;
  track.events.append(cycle.begin(), cycle.end());
}

}  // namespace kvmscope::test

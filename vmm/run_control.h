// The gate every vCPU thread passes before each KVM_RUN: run, pause, step
// (exactly one KVM_RUN per step), slow motion (a delay between KVM_RUNs) and
// stop. It also measures "active" time (not paused, not in a slow-motion
// delay) for the watchdog's time budget.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kvmscope::vmm {

class RunControl {
 public:
  // Blocks until this vCPU may call KVM_RUN once. Returns false when the
  // machine is stopping. In step mode each Step() lets exactly one KVM_RUN
  // through, whichever vCPU takes it.
  bool AwaitPermission();
  // Marks the end of a KVM_RUN and its handling (for active-time accounting).
  void Done();

  void Pause();
  void Resume();
  void Step(int count = 1);
  void SetSlowMotion(std::chrono::milliseconds delay);
  void Stop();

  bool paused() const;
  bool stopping() const;
  std::chrono::milliseconds slow_motion() const;
  // Number of vCPU threads currently past the gate (in or around KVM_RUN).
  int active() const;
  // KVM_RUNs let through by Step() so far.
  uint64_t steps_taken() const;

 private:
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_paused = false;
  bool m_stopping = false;
  int m_step_tokens = 0;
  uint64_t m_steps_taken = 0;
  int m_active = 0;
  std::chrono::milliseconds m_slow{0};
};

}  // namespace kvmscope::vmm

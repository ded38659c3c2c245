// Run/pause/step/slow-motion/stop gate for vCPU threads.
#include "vmm/run_control.h"

namespace kvmscope::vmm {

bool RunControl::AwaitPermission() {
  std::unique_lock lock(m_mutex);
  // Slow motion: a pause before every KVM_RUN, cut short by stop or pause.
  if (m_slow.count() > 0 && !m_paused) {
    m_cv.wait_for(lock, m_slow, [&] { return m_stopping || m_paused; });
  }
  m_cv.wait(lock, [&] { return m_stopping || !m_paused || m_step_tokens > 0; });
  if (m_stopping) return false;
  if (m_paused) {
    --m_step_tokens;
    ++m_steps_taken;
  }
  ++m_active;
  return true;
}

void RunControl::Done() {
  std::lock_guard lock(m_mutex);
  --m_active;
}

void RunControl::Pause() {
  std::lock_guard lock(m_mutex);
  m_paused = true;
  m_step_tokens = 0;
  m_cv.notify_all();
}

void RunControl::Resume() {
  std::lock_guard lock(m_mutex);
  m_paused = false;
  m_cv.notify_all();
}

void RunControl::Step(int count) {
  std::lock_guard lock(m_mutex);
  m_paused = true;
  m_step_tokens += count;
  m_cv.notify_all();
}

void RunControl::SetSlowMotion(std::chrono::milliseconds delay) {
  std::lock_guard lock(m_mutex);
  m_slow = delay;
  m_cv.notify_all();
}

void RunControl::Stop() {
  std::lock_guard lock(m_mutex);
  m_stopping = true;
  m_cv.notify_all();
}

bool RunControl::paused() const {
  std::lock_guard lock(m_mutex);
  return m_paused;
}
bool RunControl::stopping() const {
  std::lock_guard lock(m_mutex);
  return m_stopping;
}
std::chrono::milliseconds RunControl::slow_motion() const {
  std::lock_guard lock(m_mutex);
  return m_slow;
}
int RunControl::active() const {
  std::lock_guard lock(m_mutex);
  return m_active;
}
uint64_t RunControl::steps_taken() const {
  std::lock_guard lock(m_mutex);
  return m_steps_taken;
}

}  // namespace kvmscope::vmm

// SIGINT/SIGTERM as a clean stop, for `run` and `gui`: the signals are blocked
// in every thread and taken by one watcher thread with sigtimedwait, which
// calls back with the signal and a reason ("interrupted (SIGINT)").
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace kvmscope::app {

class InterruptWatcher {
 public:
  using Handler = std::function<void(int signal, const std::string& reason)>;
  explicit InterruptWatcher(Handler handler);
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // Blocks the signals in the calling thread, so that every thread started
  // later (vCPUs, the probe drain thread) inherits the mask and only the
  // watcher takes them. Call before starting any thread.
  static void BlockEarly();

 private:
  std::atomic<bool> m_done{false};
  std::thread m_thread;
};

}  // namespace kvmscope::app

// Prints the VMM's events as they happen: one line per KVM_RUN exit (time,
// vCPU, exit reason, decoded details, time spent in KVM_RUN), plus watchdog
// and control actions. Thread-safe: vCPU threads call it concurrently.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "vmm/event.h"

namespace kvmscope::app {

class LivePrinter : public vmm::Observer {
 public:
  LivePrinter(std::FILE* out, bool print_exits) : m_out(out), m_print_exits(print_exits) {}
  void OnEvent(const vmm::Event& event) override;
  // Blocks until at least `count` KVM_RUN exits have been printed or
  // `finished` returns true (checked every 50 ms).
  template <typename Pred>
  void WaitForExits(uint64_t count, Pred finished) {
    std::unique_lock lock(m_mutex);
    while (m_exits < count && !finished()) m_cv.wait_for(lock, std::chrono::milliseconds(50));
  }
  uint64_t exits() const {
    std::lock_guard lock(m_mutex);
    return m_exits;
  }

 private:
  std::FILE* m_out;
  bool m_print_exits;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  int64_t m_origin_ns = 0;
  uint64_t m_exits = 0;
  std::unordered_map<int, int64_t> m_enter_ns;  // per vCPU: last KVM_RUN entry
};

}  // namespace kvmscope::app

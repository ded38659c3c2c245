// Shared test helpers: a thread-safe observer that records every VMM event,
// and the check that decides whether real-KVM tests can run here.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kvm_available.h"
#include "vmm/event.h"

namespace kvmscope::test {

struct RecordedEvent {
  vmm::Event event;  // pointers (regs, sregs) cleared: they die with the callback
  std::string device;
};

class Recorder : public vmm::Observer {
 public:
  void OnEvent(const vmm::Event& e) override {
    std::lock_guard lock(m_mutex);
    RecordedEvent r{e, std::string(e.access.device)};
    r.event.regs = nullptr;
    r.event.sregs = nullptr;
    r.event.access.device = {};
    if (e.kind == vmm::EventKind::RunExit && e.regs) rips.push_back(e.regs->rip);
    m_events.push_back(std::move(r));
  }
  std::vector<RecordedEvent> Events() const {
    std::lock_guard lock(m_mutex);
    return m_events;
  }
  std::vector<vmm::Event> Of(vmm::EventKind kind, int vcpu = -2) const {
    std::vector<vmm::Event> out;
    for (const RecordedEvent& r : Events()) {
      if (r.event.kind == kind && (vcpu == -2 || r.event.vcpu == vcpu)) out.push_back(r.event);
    }
    return out;
  }
  std::vector<uint64_t> rips;

 private:
  mutable std::mutex m_mutex;
  std::vector<RecordedEvent> m_events;
};

// Polls `done` every 5 ms for up to `limit`; returns its last value.
template <typename Pred>
bool WaitUntil(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(1000)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace kvmscope::test

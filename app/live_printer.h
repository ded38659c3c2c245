// Prints the VMM's events as they happen: one line per KVM_RUN exit (time,
// vCPU, exit reason, decoded details, time spent in KVM_RUN), plus watchdog
// and control actions. With kernel tracing on, each exit line is joined with
// what the kernel did inside that KVM_RUN (and the call chain of any call
// path not seen before), so lines wait until the kernel side has arrived.
// Thread-safe: vCPU threads, the probe drain thread and the caller use it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "traces/kernel_event.h"
#include "traces/run_join.h"
#include "traces/symbols.h"
#include "vmm/event.h"

namespace kvmscope::app {

class LivePrinter : public vmm::Observer {
 public:
  LivePrinter(std::FILE* out, bool print_exits) : m_out(out), m_print_exits(print_exits) {}
  ~LivePrinter() override;
  // Turns on the join with kernel events; the tables must outlive the printer.
  void EnableKernel(const traces::SymbolTable* symbols, const traces::StackTable* stacks);
  void OnEvent(const vmm::Event& event) override;
  // A kernel event from the probes' drain thread.
  void OnKernel(const traces::KernelEvent& event);
  // Prints whatever is still waiting for its kernel side (after the probes
  // have stopped and delivered everything).
  void Finish();

  // Blocks until at least `count` exit lines have been printed or `finished`
  // returns true (checked every 50 ms).
  template <typename Pred>
  void WaitForExits(uint64_t count, Pred finished) {
    std::unique_lock lock(m_mutex);
    while (m_printed < count && !finished()) m_cv.wait_for(lock, std::chrono::milliseconds(50));
  }
  uint64_t exits() const {
    std::lock_guard lock(m_mutex);
    return m_printed;
  }

 private:
  struct Line {
    std::string text;
    bool is_run = false;  // waits for its kernel side
    bool ready = false;
    int vcpu = 0;
    uint64_t run_index = 0;
  };
  void Queue(Line line);
  void Flush(int64_t grace_ns);
  std::string KernelLines(const traces::JoinedRun& run);
  void Print(const std::string& text);

  std::FILE* m_out;
  bool m_print_exits;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  int64_t m_origin_ns = 0;
  uint64_t m_printed = 0;
  std::unordered_map<int, int64_t> m_enter_ns;  // per vCPU: last KVM_RUN entry

  // Kernel join (EnableKernel).
  bool m_kernel = false;
  const traces::SymbolTable* m_symbols = nullptr;
  const traces::StackTable* m_stacks = nullptr;
  traces::RunJoin m_join;
  std::deque<Line> m_lines;
  std::unordered_set<int32_t> m_shown_stacks;
  bool m_stop = false;
  std::thread m_flusher;
};

}  // namespace kvmscope::app

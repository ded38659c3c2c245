// Joins the two halves of each KVM_RUN: what the VMM saw (enter, exit, exit
// reason) and what the kernel did on the same thread meanwhile. Kernel events
// arrive later than the VMM's (the ring buffer is drained every few ms), so a
// run is released once its kernel side is known complete — the kernel's
// RunExit on that thread has arrived — or once a grace period has passed.
// Not thread-safe: the caller serializes.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "traces/kernel_event.h"

namespace kvmscope::traces {

// One KVM_RUN as the VMM saw it.
struct VmmRun {
  uint32_t tid = 0;  // the vCPU thread that called KVM_RUN
  int vcpu = 0;
  uint64_t run_index = 0;
  int64_t enter_ns = 0;      // just before the ioctl
  int64_t exit_ns = 0;       // just after it returned
  uint32_t exit_reason = 0;  // KVM_EXIT_* as the VMM read it from kvm_run
};

struct JoinedRun {
  VmmRun run;
  std::vector<KernelEvent> kernel;  // on run.tid within [enter_ns, exit_ns], in time order
  bool kernel_complete = false;     // the kernel's RunExit for this run was seen
};

class RunJoin {
 public:
  void AddRun(VmmRun run);
  void AddKernel(const KernelEvent& event);
  // Runs that are complete, or whose exit_ns is older than now_ns - grace_ns
  // (released with kernel_complete = false), each once, in the order the
  // runs were added: a ready run waits for the runs added before it, so the
  // output never goes back in time. Kernel events older than every pending
  // run of their thread are dropped, and so are events no pending run covers
  // once they are older than now_ns - 2 * grace_ns (their run never came).
  // Assumes each thread adds its own runs, in order, and that a run's
  // kernel events have all arrived once its RunExit has (AddKernel sorts
  // each thread's events by time, whatever order they arrive in).
  std::vector<JoinedRun> TakeReady(int64_t now_ns, int64_t grace_ns);
  size_t pending() const { return m_runs.size(); }
  // Kernel events held, waiting for their run or to be dropped.
  size_t pending_kernel() const;

 private:
  std::deque<VmmRun> m_runs;
  std::unordered_map<uint32_t, std::deque<KernelEvent>> m_kernel;  // per tid

  void DropStale(int64_t cutoff_ns);
};

}  // namespace kvmscope::traces

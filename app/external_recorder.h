// Records another process's VMM (QEMU, ...) into a traces::Trace from the
// probes' drain thread: kernel events with their stacks, the names of its
// threads as they first show up, and the vCPU index of each vCPU fd its
// KVM_RUNs name (read from /proc/PID/fd when a new one appears). Pure wiring
// between procs/, probes/ and traces/, for `record --pid` (and `gui --pid`).
#pragma once

#include <atomic>
#include <cstdint>
#include <set>

#include "procs/vm_list.h"
#include "traces/trace.h"

namespace kvmscope::app {

class ExternalRecorder {
 public:
  // Tells the trace which process it records (SetExternalVmm): call before
  // the probe session starts delivering events.
  ExternalRecorder(traces::Trace& trace, const procs::VmProcess& vmm);
  // From the drain thread only.
  void OnKernel(const traces::KernelEvent& event, const traces::StackTable& stacks);
  // Events recorded so far (any thread).
  uint64_t events() const { return m_events.load(std::memory_order_relaxed); }
  // Threads that ran a vCPU so far (drain thread, or after the session stopped).
  size_t vcpu_threads() const { return m_vcpu_tids.size(); }

 private:
  traces::Trace& m_trace;
  traces::ExternalVmm m_vmm;  // drain thread only after construction
  std::set<uint32_t> m_named;
  std::set<uint32_t> m_vcpu_tids;
  int32_t m_stacks_known = 0;
  std::atomic<uint64_t> m_events{0};
};

}  // namespace kvmscope::app

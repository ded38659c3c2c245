// Records another process's VMM (QEMU, ...) into a traces::Trace from the
// probes' drain thread: kernel events with their stacks, the names of its
// threads as they first show up, and the vCPU index of each vCPU fd its
// KVM_RUNs name (read from /proc/PID/fd when a new one appears). Pure wiring
// between procs/, probes/ and traces/, for `record --pid` (and `gui --pid`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "probes/session.h"
#include "procs/kvm_counters.h"
#include "procs/pidfd.h"
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
  // Threads that ran a vCPU so far (any thread).
  size_t vcpu_threads() const { return m_vcpu_threads.load(std::memory_order_relaxed); }

 private:
  traces::Trace& m_trace;
  traces::ExternalVmm m_vmm;  // drain thread only after construction
  std::set<uint32_t> m_named;
  std::set<uint32_t> m_vcpu_tids;
  int32_t m_stacks_known = 0;
  std::atomic<uint64_t> m_events{0};
  std::atomic<size_t> m_vcpu_threads{0};  // m_vcpu_tids.size(), for other threads
};

// A VMM process checked for recording: a pidfd on it (readable once it
// exits) and what /proc said about it after the pidfd was opened.
struct ExternalTarget {
  procs::PidFd pidfd;
  procs::VmProcess vmm;
};
// Checks --pid PID_TEXT before anything is attached: a process id, a live
// process, this user may look at it, it holds a KVM VM. Else prints why
// ("kvmscope: COMMAND: no process N", "... holds no KVM VM") and sets
// `exit_status` (2: no such process or not a VM; 3: another user's process).
std::optional<ExternalTarget> OpenExternalVmm(const std::string& pid_text, const char* command,
                                              int& exit_status);
// KVM's own counters of the recorded VM (procs::OpenVmCounters: debugfs, or
// the VMM's QMP socket): read once when the recording starts, then again
// while it runs; the trace gets the difference between the first reading
// and the last one, which says how long before the end it was taken.
class ExternalCounters {
 public:
  ExternalCounters(const procs::VmProcess& vmm, const std::string& qmp_socket);
  // Another reading, kept when it works (the VMM may have gone). Not thread-safe.
  void Sample();
  // The last reading, as tracing stops (call before the session stops).
  void MarkEnd();
  // "from SOURCE" or "not read: WHY", for a status line.
  std::string Status() const;
  // For the trace: the difference, or nullopt and why not.
  std::pair<std::optional<traces::KvmStatsRecord>, std::string> Result() const;

 private:
  std::vector<procs::VcpuFd> m_vcpus;  // the VMM's vCPUs: KVM's vcpu_id and thread
  std::unique_ptr<procs::VmCounterReader> m_reader;
  std::string m_why;
  std::optional<procs::CounterSet> m_first, m_last;
  std::chrono::steady_clock::time_point m_first_at, m_last_at, m_end_at;
};

// The probe session for an external VMM, the trace told which VMM it records
// and fed from the session (started): what `record --pid` and `gui --pid`
// share. Throws probes::ProbeError as Session does.
struct ExternalSession {
  std::unique_ptr<ExternalRecorder> recorder;  // declared first: outlives the session feeding it
  std::unique_ptr<probes::Session> session;
  std::unique_ptr<ExternalCounters> counters;  // first read once the session is attached
};
// `qmp_socket`: the VMM's QMP socket for KVM's counters when debugfs cannot
// give them ("" for none).
ExternalSession StartExternalSession(traces::Trace& trace, const procs::VmProcess& vmm,
                                     const probes::SessionOptions& options,
                                     const std::string& qmp_socket = "");
// After session.Stop(): how it ended, kernel counts, KVM's counters, host
// facts, symbols.
void FinishExternalTrace(traces::Trace& trace, const ExternalSession& session,
                         const std::string& ended);

}  // namespace kvmscope::app

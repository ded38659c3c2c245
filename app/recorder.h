// Records a run into a traces::Trace: the VMM's events (observed on the
// thread that caused them, then handed on to the next observer, e.g. the live
// printer) and the kernel's events from the probes' drain thread, with the
// stacks they reference. Pure wiring between vmm/, probes/ and traces/.
#pragma once

#include <atomic>

#include "app/guest_setup.h"
#include "probes/session.h"
#include "traces/trace.h"
#include "vmm/event.h"
#include "vmm/catalog.h"
#include "vmm/machine.h"

namespace kvmscope::app {

class Recorder : public vmm::Observer {
 public:
  // `next` (may be null) sees every VMM event after it is recorded.
  Recorder(traces::Trace& trace, vmm::Observer* next);
  void OnEvent(const vmm::Event& event) override;
  // From the drain thread: records the event, and first every stack of the
  // session not yet in the trace (ids are dense and shared). An event with
  // no stack may come from any thread (a KVM_RUN entry the VMM made).
  void OnKernel(const traces::KernelEvent& event, const traces::StackTable& stacks);
  // From now on nothing more goes into the trace (`next` still sees the VMM's
  // events): for a run being stopped whose trace nobody will read, so that
  // stopping does not wait for the probes' backlog to be folded in.
  void Discard() { m_discard.store(true); }

 private:
  std::atomic<bool> m_discard{false};
  traces::Trace& m_trace;
  vmm::Observer* m_next;
  uint32_t m_pid;
  int32_t m_stacks_known = 0;  // drain thread only
};

// Hands each VMM event on to `next` (may be null), then, for a KVM_RUN about
// to be called, has `session` (may be null; a started one) make that
// KVM_RUN's kernel entry where the session leaves its entries to the VMM
// (Session::MakeRunEnter; its sink then runs on the vCPU thread too). Where
// it does not, the session is not called at all. The machine's observer,
// ahead of the others: the entry is stamped after them, as close to the
// ioctl as user space can.
class RunEntries : public vmm::Observer {
 public:
  RunEntries(vmm::Observer* next, probes::Session* session)
      : m_next(next), m_session(session && session->run_enter_from_vmm() ? session : nullptr) {}
  void OnEvent(const vmm::Event& event) override;

 private:
  vmm::Observer* m_next;
  probes::Session* m_session;
};

// The guest facts a trace records, from the machine's configuration, the
// parameter handed to it and, for a catalog guest, its source and line table.
traces::GuestFacts GuestFactsOf(const Prepared& p);

// The host facts of a run whose kernel was not traced: what kernel and
// backend it is, and why not.
traces::HostFacts UntracedHostFacts(const std::string& why_not);
// Fills in what the trace records besides events, once the run is over:
// guest facts with the verdict, KVM's own counters read from `machine` (or
// why not: with or without root, with or without kernel tracing), host facts
// (the plan, or why the kernel was not traced), loss counts, and the symbols
// its stacks and chains need. Call after machine.Wait().
void FinishTrace(traces::Trace& trace, const Prepared& p, const vmm::Machine& machine,
                 const vmm::Outcome& out, const probes::Session* session,
                 const std::string& why_not);
// KVM's own counters of `machine` for a trace, or nullopt with `why_not`.
std::optional<traces::KvmStatsRecord> KvmStatsOf(const vmm::Machine& machine, std::string& why_not);
// The session's counts for a run of kvmscope's own VM, live or at its end:
// a kind detached with its stream budget (SessionOptions::count_past_budget
// false) takes its count from KVM's own counters of that VM, when there are
// any.
traces::KernelCounts KernelCountsWith(const probes::Session& session,
                                      const std::optional<traces::KvmStatsRecord>& stats);

}  // namespace kvmscope::app

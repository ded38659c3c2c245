#include "app/external_recorder.h"

namespace kvmscope::app {

ExternalRecorder::ExternalRecorder(traces::Trace& trace, const procs::VmProcess& vmm)
    : m_trace(trace) {
  m_vmm.pid = static_cast<uint32_t>(vmm.pid);
  m_vmm.command = vmm.cmdline.empty() ? vmm.comm : vmm.cmdline;
  for (const procs::VcpuFd& v : vmm.vcpus) m_vmm.vcpu_of_fd[v.fd] = v.index;
  for (const procs::ThreadInfo& t : vmm.threads) {
    if (t.kernel_worker) continue;
    m_vmm.thread_names[static_cast<uint32_t>(t.tid)] = t.comm;
  }
  m_trace.SetExternalVmm(m_vmm);
  for (const auto& [tid, name] : m_vmm.thread_names) {
    m_trace.NameThread(tid, name);
    m_named.insert(tid);
  }
}

void ExternalRecorder::OnKernel(const traces::KernelEvent& ev, const traces::StackTable& stacks) {
  for (; m_stacks_known <= ev.stack_id; ++m_stacks_known) {
    m_trace.AddStack(m_stacks_known, stacks.Get(m_stacks_known));
  }
  const int pid = static_cast<int>(m_vmm.pid);
  if (ev.pid == m_vmm.pid) {
    const bool run_edge = ev.kind == traces::KernelEventKind::RunEnter ||
                          ev.kind == traces::KernelEventKind::RunExit;
    if (run_edge) m_vcpu_tids.insert(ev.tid);
    // A vCPU fd created after attaching (hot-plug) or not readable then.
    if (ev.kind == traces::KernelEventKind::RunEnter &&
        (ev.a[2] & 0xff) == traces::kRunFromSyscall && ev.a[0] <= 0x7fffffff &&
        !m_vmm.vcpu_of_fd.contains(static_cast<int>(ev.a[0]))) {
      if (std::optional<int> index = procs::VcpuIndexOfFd(pid, static_cast<int>(ev.a[0]))) {
        m_vmm.vcpu_of_fd[static_cast<int>(ev.a[0])] = *index;
        m_trace.SetExternalVmm(m_vmm);
      }
    }
    if (!m_named.contains(ev.tid)) {
      m_named.insert(ev.tid);
      std::string name = procs::ThreadName(pid, static_cast<int>(ev.tid));
      if (!name.empty()) {
        m_vmm.thread_names[ev.tid] = name;
        m_trace.NameThread(ev.tid, std::move(name));
      }
    }
  }
  m_trace.Add(traces::FromKernel(ev));
  m_events.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace kvmscope::app

#include "app/external_recorder.h"

#include <charconv>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "app/exit_codes.h"
#include "app/privileges.h"
#include "traces/chains.h"

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
    if (run_edge && m_vcpu_tids.insert(ev.tid).second) {
      m_vcpu_threads.store(m_vcpu_tids.size(), std::memory_order_relaxed);
    }
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

namespace {

std::optional<int> ParsePid(const std::string& text) {
  int pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end != text.data() + text.size() || pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

std::optional<ExternalTarget> OpenExternalVmm(const std::string& pid_text, const char* command,
                                              int& exit_status) {
  std::optional<int> pid = ParsePid(pid_text);
  if (!pid) {
    std::fprintf(stderr, "kvmscope: %s: no process %s (--pid takes a process id)\n", command,
                 pid_text.c_str());
    exit_status = kExitUsage;
    return std::nullopt;
  }
  // A vCPU thread's id (as `top` and `vms` show them) names its process.
  if (std::optional<int> tgid = procs::ThreadGroupOf(*pid); tgid && *tgid != *pid) {
    std::fprintf(stderr, "kvmscope: %s: %d is a thread of process %d (%s): use --pid %d\n", command,
                 *pid, *tgid, procs::ThreadName(*tgid, *tgid).c_str(), *tgid);
    exit_status = kExitUsage;
    return std::nullopt;
  }
  if (std::string refused = OtherUserRefusal(*pid, command); !refused.empty()) {
    std::fprintf(stderr, "%s\n", refused.c_str());
    exit_status = kExitEnvironment;
    return std::nullopt;
  }
  std::optional<procs::PidFd> pidfd;
  try {
    pidfd.emplace(procs::PidFd::Open(*pid));
  } catch (const procs::Error& e) {
    std::fprintf(stderr, "kvmscope: %s: %s\n", command, e.what());
    exit_status = e.err() == ESRCH ? kExitUsage : kExitEnvironment;
    return std::nullopt;
  }
  procs::PidLookup found = procs::ReadPid(*pid);
  switch (found.kind) {
    case procs::PidKind::Gone:
      std::fprintf(stderr, "kvmscope: %s: no process %d\n", command, *pid);
      exit_status = kExitUsage;
      return std::nullopt;
    case procs::PidKind::Denied:
      if (procs::ProcessOwner(*pid) == getuid()) {
        std::fprintf(stderr,
                     "kvmscope: %s: pid %d (%s) is yours but runs with privileges you do not have "
                     "(file capabilities, or setuid), so its file descriptors are closed to you: "
                     "trace it from inside (a kvmscope traces its own guests), or as root\n",
                     command, *pid, found.process.comm.c_str());
        exit_status = kExitEnvironment;
        return std::nullopt;
      }
      std::fprintf(stderr,
                   "kvmscope: %s: pid %d (%s) belongs to another user: only root may look at "
                   "its file descriptors and trace it\n",
                   command, *pid, found.process.comm.c_str());
      exit_status = kExitEnvironment;
      return std::nullopt;
    case procs::PidKind::NotVm:
      std::fprintf(stderr,
                   "kvmscope: %s: pid %d (%s) holds no KVM VM ('kvmscope vms' lists those that do)\n",
                   command, *pid, found.process.comm.c_str());
      exit_status = kExitUsage;
      return std::nullopt;
    case procs::PidKind::Vm: break;
  }
  return ExternalTarget{std::move(*pidfd), std::move(found.process)};
}

ExternalCounters::ExternalCounters(const procs::VmProcess& vmm, const std::string& qmp_socket)
    : m_vcpus(vmm.vcpus) {
  std::string why;
  if (vmm.vms.empty()) {
    m_why = "the process holds no VM fd";
    return;
  }
  procs::CounterSet first;
  m_reader = procs::OpenVmCounters(vmm.pid, vmm.vms.front().fd, qmp_socket, &why,
                                   "/sys/kernel/debug", &first);
  if (!m_reader) {
    m_why = "KVM refuses KVM_GET_STATS_FD on another process's VM; " + why;
    return;
  }
  m_first = std::move(first);
  m_first_at = std::chrono::steady_clock::now();
}

void ExternalCounters::Sample() {
  if (!m_reader) return;
  std::string why;
  std::optional<procs::CounterSet> now = m_reader->Read(&why);
  if (!now) {
    if (!m_first) m_why = m_reader->source() + ": " + why;
    return;
  }
  (m_first ? m_last : m_first) = std::move(now);
  (m_last ? m_last_at : m_first_at) = std::chrono::steady_clock::now();
}

std::string ExternalCounters::Status() const {
  return m_first ? "from " + m_reader->source() : "not read: " + m_why;
}

void ExternalCounters::MarkEnd() {
  Sample();
  m_end_at = std::chrono::steady_clock::now();
}

std::pair<std::optional<traces::KvmStatsRecord>, std::string> ExternalCounters::Result() const {
  if (!m_first || !m_last) {
    return {std::nullopt, "KVM's own counters of another process's VM were not read: " +
                              (m_why.empty() ? std::string("only one reading (the VMM was gone)") : m_why)};
  }
  procs::CounterSet d = procs::CounterDifference(*m_first, *m_last);
  traces::KvmStatsRecord record;
  record.vm = std::move(d.vm);
  // The trace's vCPUs are KVM's vcpu_ids: a VMM's own numbering (QEMU's
  // cpu-index) is mapped through the thread that runs each vCPU.
  for (size_t i = 0; i < d.vcpus.size(); ++i) {
    size_t id = i;
    const int tid = i < d.vcpu_tids.size() ? d.vcpu_tids[i] : -1;
    for (const procs::VcpuFd& v : m_vcpus) {
      if (tid > 0 && v.tid == tid && v.index >= 0) id = static_cast<size_t>(v.index);
    }
    if (record.vcpus.size() <= id) record.vcpus.resize(id + 1);
    record.vcpus[id] = std::move(d.vcpus[i]);
  }
  const double span = std::chrono::duration<double>(m_last_at - m_first_at).count();
  const double before_end = std::chrono::duration<double>(m_end_at - m_last_at).count();
  record.source = fmt::format(
      "from {}: the difference over {:.1f} s, from when tracing began to {}{}", m_reader->source(),
      span, before_end < 0.05 ? std::string("its end") : fmt::format("{:.1f} s before its end", before_end),
      record.vcpus.empty() ? " (VM-wide sums only)" : "");
  return {std::move(record), ""};
}

ExternalSession StartExternalSession(traces::Trace& trace, const procs::VmProcess& vmm,
                                     const probes::SessionOptions& options,
                                     const std::string& qmp_socket) {
  ExternalSession s;
  s.session = std::make_unique<probes::Session>(options);
  traces::GuestFacts guest;
  guest.name = vmm.comm;
  guest.mode = "external";
  guest.vcpus = static_cast<int>(vmm.vcpus.size());
  trace.SetGuest(std::move(guest));
  trace.SetHost(s.session->host_facts());
  s.recorder = std::make_unique<ExternalRecorder>(trace, vmm);
  ExternalRecorder* recorder = s.recorder.get();
  const traces::StackTable& stacks = s.session->stacks();
  s.session->Start([recorder, &stacks](const traces::KernelEvent& ev) { recorder->OnKernel(ev, stacks); });
  s.counters = std::make_unique<ExternalCounters>(vmm, qmp_socket);
  return s;
}

void FinishExternalTrace(traces::Trace& trace, const ExternalSession& external,
                         const std::string& ended) {
  const probes::Session& session = *external.session;
  trace.SetExternalEnded(ended);
  trace.SetKernelCounts(session.counts());
  trace.SetHost(session.host_facts());
  if (external.counters) {
    auto [stats, note] = external.counters->Result();
    trace.SetKvmStats(std::move(stats), std::move(note));
  }
  std::vector<traces::Stack> stacks = trace.Read()->stacks;
  std::vector<std::string> names;
  for (const traces::Symbol& s : traces::ChainSymbols(session.symbols())) names.push_back(s.name);
  trace.SetSymbols(traces::TraceSymbols(session.symbols(), stacks, names));
}

}  // namespace kvmscope::app

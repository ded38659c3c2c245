// The recorder: vmm::Event and probe events converted into trace records
// (the VMM event packing is documented in traces/trace.h).
#include "app/recorder.h"

#include <unistd.h>

#include "probes/host.h"
#include "traces/chains.h"
#include "traces/kvm_counters.h"
#include "traces/sha256.h"
#include "vmm/host.h"
#include "vmm/cpu_mode.h"

namespace kvmscope::app {
namespace {

traces::VmmEventKind KindOf(vmm::EventKind kind) {
  switch (kind) {
    case vmm::EventKind::Ioctl: return traces::VmmEventKind::Ioctl;
    case vmm::EventKind::RunEnter: return traces::VmmEventKind::RunEnter;
    case vmm::EventKind::RunExit: return traces::VmmEventKind::RunExit;
    case vmm::EventKind::DeviceAccess: return traces::VmmEventKind::DeviceAccess;
    case vmm::EventKind::Status: return traces::VmmEventKind::Status;
    case vmm::EventKind::Control: return traces::VmmEventKind::Control;
    case vmm::EventKind::Watchdog: return traces::VmmEventKind::Watchdog;
    case vmm::EventKind::VcpuDone:
    case vmm::EventKind::ConsoleByte: break;
  }
  return traces::VmmEventKind::VcpuDone;
}

void PackExit(const vmm::ExitInfo& x, std::array<uint64_t, 6>& a) {
  a[0] = x.reason;
  a[1] = static_cast<uint64_t>(x.run_errno);
  switch (x.reason) {
    case KVM_EXIT_IO:
      a[3] = x.port | uint64_t(x.size) << 16 | uint64_t(x.direction == vmm::IoDirection::Out) << 24;
      a[4] = x.count;
      a[5] = x.data;
      break;
    case KVM_EXIT_MMIO:
      a[3] = x.mmio_addr;
      a[4] = x.mmio_len | uint64_t(x.mmio_write) << 32;
      a[5] = x.mmio_data;
      break;
    case KVM_EXIT_HYPERCALL: a[3] = x.hypercall_nr; break;
    case KVM_EXIT_INTERNAL_ERROR: a[3] = x.suberror; break;
    case KVM_EXIT_FAIL_ENTRY: a[3] = x.hardware_reason; break;
    case KVM_EXIT_SYSTEM_EVENT: a[3] = x.system_event; break;
    default: break;
  }
}

traces::GuestRegs RegsOf(const vmm::Event& e) {
  const kvm_regs& r = *e.regs;
  traces::GuestRegs g;
  g.vcpu = e.vcpu;
  g.run_index = e.run_index;
  g.values = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9, r.r10, r.r11,
              r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags};
  if (e.sregs) {
    const kvm_sregs& s = *e.sregs;
    g.values[18] = s.cr0;
    g.values[19] = s.cr2;
    g.values[20] = s.cr3;
    g.values[21] = s.cr4;
    g.values[22] = s.efer;
  }
  return g;
}

}  // namespace

Recorder::Recorder(traces::Trace& trace, vmm::Observer* next)
    : m_trace(trace), m_next(next), m_pid(static_cast<uint32_t>(getpid())) {
  m_trace.SetVmmPid(m_pid);
}

void Recorder::OnEvent(const vmm::Event& e) {
  if (m_discard.load(std::memory_order_relaxed)) {
    // Not recorded: the run is being stopped and its trace dropped.
  } else if (e.kind == vmm::EventKind::ConsoleByte) {
    m_trace.AppendConsole(static_cast<char>(e.byte));
  } else {
    traces::Event t;
    t.time_ns = e.time_ns;
    t.pid = m_pid;
    t.tid = static_cast<uint32_t>(gettid());
    t.vcpu = e.vcpu;
    t.type = KindOf(e.kind);
    switch (e.kind) {
      case vmm::EventKind::Ioctl:
        t.text = m_trace.Intern(e.ioctl);
        t.a[0] = static_cast<uint64_t>(e.result);
        break;
      case vmm::EventKind::RunEnter: t.a[0] = e.run_index; break;
      case vmm::EventKind::RunExit:
        PackExit(e.exit, t.a);
        t.a[2] = e.run_index;
        if (e.regs) m_trace.AddRegs(RegsOf(e));
        break;
      case vmm::EventKind::DeviceAccess:
        t.text = m_trace.Intern(e.access.device);
        t.a = {e.access.bus == vmm::Bus::Mmio, e.access.addr, e.access.size, e.access.write,
               e.access.data, 0};
        break;
      case vmm::EventKind::Status: t.a[0] = e.status; break;
      default: t.text = m_trace.Intern(e.detail); break;
    }
    m_trace.Add(t);
  }
  if (m_next) m_next->OnEvent(e);
}

void Recorder::OnKernel(const traces::KernelEvent& event, const traces::StackTable& stacks) {
  if (m_discard.load(std::memory_order_relaxed)) return;
  if (event.stack_id >= 0) {  // only the drain thread's events have stacks
    for (; m_stacks_known <= event.stack_id; ++m_stacks_known) {
      m_trace.AddStack(m_stacks_known, stacks.Get(m_stacks_known));
    }
  }
  m_trace.Add(traces::FromKernel(event));
}

void RunEntries::OnEvent(const vmm::Event& event) {
  if (m_next) m_next->OnEvent(event);
  if (m_session && event.kind == vmm::EventKind::RunEnter) m_session->MakeRunEnter(event.vcpu);
}

traces::GuestFacts GuestFactsOf(const Prepared& p) {
  const vmm::MachineConfig& config = p.config;
  const vmm::GuestInfo* info = p.guest;
  traces::GuestFacts g;
  g.param = p.param;
  g.name = config.name;
  g.mode = vmm::CpuModeName(config.mode);
  g.load_addr = config.load_addr;
  g.vcpus = config.vcpus;
  g.sha256 = traces::Sha256Hex(config.image);
  g.image = config.image;
  if (info) {
    g.source = info->source;
    for (size_t i = 0; i + 1 < info->lines.size(); i += 2) {
      if (info->lines[i + 1]) g.lines.emplace_back(info->lines[i], info->lines[i + 1]);
    }
  }
  return g;
}

traces::HostFacts UntracedHostFacts(const std::string& why_not) {
  traces::HostFacts host;
  host.kernel_release = probes::KernelRelease();
  host.backend = vmm::KvmBackendName(vmm::DetectKvmBackend());
  host.cpu = probes::CpuModel();
  host.not_traced_reason = why_not;
  probes::AddPlatformFacts(host);
  return host;
}

std::optional<traces::KvmStatsRecord> KvmStatsOf(const vmm::Machine& machine,
                                                 std::string& why_not) {
  std::optional<vmm::KvmCounters> counters = machine.ReadKvmStats(why_not);
  if (!counters) return std::nullopt;
  traces::KvmStatsRecord record;
  record.vm = std::move(counters->vm);
  record.vcpus = std::move(counters->vcpus);
  return record;
}

traces::KernelCounts KernelCountsWith(const probes::Session& session,
                                      const std::optional<traces::KvmStatsRecord>& stats) {
  traces::KernelCounts counts = session.counts();
  if (stats) traces::CountFromKvmStats(counts, *stats);
  return counts;
}

void FinishTrace(traces::Trace& trace, const Prepared& p, const vmm::Machine& machine,
                 const vmm::Outcome& out, const probes::Session* session,
                 const std::string& why_not) {
  traces::GuestFacts guest = GuestFactsOf(p);
  guest.verdict = vmm::VerdictName(out.verdict);
  guest.detail = out.detail;
  trace.SetGuest(std::move(guest));
  // KVM's own counters need neither root nor tracing: every run has them.
  std::string stats_why_not;
  std::optional<traces::KvmStatsRecord> stats = KvmStatsOf(machine, stats_why_not);
  if (session) trace.SetKernelCounts(KernelCountsWith(*session, stats));
  trace.SetKvmStats(std::move(stats), stats_why_not);
  if (!session) {
    trace.SetHost(UntracedHostFacts(why_not));
    return;
  }
  trace.SetHost(session->host_facts());
  // The trace keeps the symbols of its frames and of every function the
  // chains and the seed check ask about (compiler suffixes included).
  std::vector<traces::Stack> stacks = trace.Read()->stacks;
  std::vector<std::string> names;
  for (const traces::Symbol& s : traces::ChainSymbols(session->symbols())) names.push_back(s.name);
  trace.SetSymbols(traces::TraceSymbols(session->symbols(), stacks, names));
}

}  // namespace kvmscope::app

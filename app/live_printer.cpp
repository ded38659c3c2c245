// Live one-line-per-exit printing for `kvmscope run`, joined with the kernel
// side when probes run.
#include "app/live_printer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <map>

#include "traces/explain.h"
#include "traces/fault_context.h"
#include "vmm/guests/abi.h"

namespace kvmscope::app {

// traces/ names kvmscope's ports without including the guest ABI: the same values.
static_assert(traces::kCom1Port == KVMSCOPE_COM1_PORT && traces::kStatusPort == KVMSCOPE_STATUS_PORT);

namespace {
// Kernel events shown as a count when a run has many of them: the emulator
// and the shadow MMU fire once per guest instruction or page-table level.
bool IsBulk(traces::KernelEventKind kind) {
  using K = traces::KernelEventKind;
  return kind == K::EmulateInsn || kind == K::MmuWalk || kind == K::MmuSetSpte;
}

std::string ExitDetails(const vmm::Event& ev) {
  std::string details = vmm::DescribeExit(ev.exit);
  if (ev.exit.reason == KVM_EXIT_IO) {  // one wording with the window: 'H', (status report)
    details += traces::PortDataNote(ev.exit.port, ev.exit.direction == vmm::IoDirection::Out,
                                    ev.exit.data);
  }
  if (ev.regs) details += fmt::format(" rip={:#x}", ev.regs->rip);
  return details;
}

constexpr int64_t kGraceNs = 250'000'000;  // longest wait for a run's kernel side
}  // namespace

LivePrinter::~LivePrinter() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  if (m_flusher.joinable()) m_flusher.join();
}

void LivePrinter::EnableKernel(const traces::SymbolTable* symbols,
                               const traces::StackTable* stacks) {
  std::lock_guard lock(m_mutex);
  m_kernel = true;
  m_symbols = symbols;
  m_stacks = stacks;
  m_flusher = std::thread([this] {
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
      m_cv.wait_for(lock, std::chrono::milliseconds(10));
      Flush(kGraceNs);
    }
  });
}

void LivePrinter::Print(const std::string& text) {
  std::fputs(text.c_str(), m_out);
  std::fflush(m_out);
}

void LivePrinter::Queue(Line line) {
  if (!m_kernel) {
    Print(line.text);
    if (line.is_run) ++m_printed;
    m_cv.notify_all();
    return;
  }
  // The flusher thread prints it once its kernel side has arrived: no
  // joining on the vCPU thread that called us.
  m_lines.push_back(std::move(line));
}

void LivePrinter::OnEvent(const vmm::Event& ev) {
  std::lock_guard lock(m_mutex);
  if (m_origin_ns == 0) m_origin_ns = ev.time_ns;
  double t_ms = (ev.time_ns - m_origin_ns) / 1e6;
  switch (ev.kind) {
    case vmm::EventKind::RunEnter: m_enter_ns[ev.vcpu] = ev.time_ns; break;
    case vmm::EventKind::RunExit: {
      int64_t enter_ns = m_enter_ns[ev.vcpu];
      std::string text;
      if (m_print_exits) {
        text = fmt::format("{:12.6f} ms  vcpu{}  #{:<6} {:<24} {:<44} {:10.1f} us in KVM_RUN\n",
                           t_ms, ev.vcpu, ev.run_index, vmm::ExitReasonName(ev.exit.reason),
                           ExitDetails(ev), (ev.time_ns - enter_ns) / 1e3);
      }
      if (m_kernel) {
        m_join.AddRun(traces::VmmRun{.tid = static_cast<uint32_t>(gettid()),
                                     .vcpu = ev.vcpu,
                                     .run_index = ev.run_index,
                                     .enter_ns = enter_ns,
                                     .exit_ns = ev.time_ns,
                                     .exit_reason = ev.exit.reason});
      }
      Queue(Line{std::move(text), true, false, ev.vcpu, ev.run_index});
      break;
    }
    case vmm::EventKind::Watchdog:
      Queue(Line{fmt::format("{:12.6f} ms  watchdog: {}\n", t_ms, ev.detail)});
      break;
    case vmm::EventKind::Control:
      if (m_print_exits) Queue(Line{fmt::format("{:12.6f} ms  control: {}\n", t_ms, ev.detail)});
      break;
    case vmm::EventKind::VcpuDone:
      if (m_print_exits) {
        Queue(Line{fmt::format("{:12.6f} ms  vcpu{}  done: {}\n", t_ms, ev.vcpu, ev.detail)});
      }
      break;
    default: break;
  }
}

void LivePrinter::OnKernel(const traces::KernelEvent& event) {
  std::lock_guard lock(m_mutex);
  if (m_kernel) m_join.AddKernel(event);
}

void LivePrinter::Finish() {
  std::lock_guard lock(m_mutex);
  Flush(0);
  for (Line& line : m_lines) line.ready = true;  // runs the join never saw
  Flush(0);
}

// Marks the runs whose kernel side is in, then prints from the front of the
// queue while lines are ready, so output stays in order.
void LivePrinter::Flush(int64_t grace_ns) {
  if (!m_kernel) return;
  for (traces::JoinedRun& joined : m_join.TakeReady(vmm::NowNs(), grace_ns)) {
    for (Line& line : m_lines) {
      if (line.is_run && !line.ready && line.vcpu == joined.run.vcpu &&
          line.run_index == joined.run.run_index) {
        line.ready = true;
        if (m_print_exits) line.text += KernelLines(joined);
        break;
      }
    }
  }
  bool printed = false;
  while (!m_lines.empty() && (m_lines.front().ready || !m_lines.front().is_run)) {
    Print(m_lines.front().text);
    if (m_lines.front().is_run) ++m_printed;
    m_lines.pop_front();
    printed = true;
  }
  if (printed) m_cv.notify_all();
}

std::string LivePrinter::KernelLines(const traces::JoinedRun& joined) {
  using K = traces::KernelEventKind;
  constexpr const char* kIndent = "                           ";
  if (!joined.kernel_complete && joined.kernel.empty()) {
    return fmt::format("{}kernel: nothing arrived for this KVM_RUN\n", kIndent);
  }
  std::map<K, int> bulk;
  int64_t enter = -1, exit = -1;
  std::vector<std::string> detail;
  for (const traces::KernelEvent& ev : joined.kernel) {
    if (ev.kind == K::RunEnter) enter = ev.time_ns;
    if (ev.kind == K::RunExit) exit = ev.time_ns;
    if (IsBulk(ev.kind)) ++bulk[ev.kind];
  }
  for (size_t i = 0; i < joined.kernel.size(); ++i) {
    const traces::KernelEvent& ev = joined.kernel[i];
    if (ev.kind == K::RunEnter || ev.kind == K::RunExit) continue;
    if (IsBulk(ev.kind) && bulk[ev.kind] > 2) continue;
    // kvm_page_fault's error code is decoded by the kvm_exit before it.
    detail.push_back(traces::DescribeKernelEvent(ev, traces::ContextAt(joined.kernel, i)));
  }
  for (auto [kind, n] : bulk) {
    if (n > 2) detail.push_back(fmt::format("{} ×{}", traces::KernelEventName(kind), n));
  }
  std::string text = fmt::format("{}kernel{}: {}\n", kIndent,
                                 enter >= 0 && exit >= 0
                                     ? fmt::format(" ({:.1f} us in the ioctl)", (exit - enter) / 1e3)
                                     : std::string(joined.kernel_complete ? "" : " (incomplete)"),
                                 detail.empty() ? "no KVM events" : fmt::format("{}", fmt::join(detail, " · ")));
  for (const traces::KernelEvent& ev : joined.kernel) {
    if (ev.stack_id < 0 || !m_shown_stacks.insert(ev.stack_id).second) continue;
    text += fmt::format("{}new path ({}): {}\n", kIndent, traces::KernelEventName(ev.kind),
                        traces::ChainText(m_stacks->Get(ev.stack_id), *m_symbols));
  }
  return text;
}

}  // namespace kvmscope::app

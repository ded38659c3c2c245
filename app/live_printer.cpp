// Live one-line-per-exit printing for `kvmscope run`.
#include "app/live_printer.h"

#include <fmt/format.h>

#include <cctype>

#include "vmm/guests/abi.h"

namespace kvmscope::app {

void LivePrinter::OnEvent(const vmm::Event& ev) {
  std::lock_guard lock(m_mutex);
  if (m_origin_ns == 0) m_origin_ns = ev.time_ns;
  double t_ms = (ev.time_ns - m_origin_ns) / 1e6;
  switch (ev.kind) {
    case vmm::EventKind::RunEnter: m_enter_ns[ev.vcpu] = ev.time_ns; break;
    case vmm::EventKind::RunExit: {
      ++m_exits;
      m_cv.notify_all();
      if (!m_print_exits) break;
      std::string details = vmm::DescribeExit(ev.exit);
      if (ev.exit.reason == KVM_EXIT_IO && ev.exit.port == KVMSCOPE_COM1_PORT &&
          ev.exit.direction == vmm::IoDirection::Out) {
        char c = static_cast<char>(ev.exit.data);
        details += std::isprint(static_cast<unsigned char>(c)) ? fmt::format(" '{}'", c)
                   : c == '\n'                                 ? std::string(" '\\n'")
                                                               : std::string();
      } else if (ev.exit.reason == KVM_EXIT_IO && ev.exit.port == KVMSCOPE_STATUS_PORT) {
        details += " (status report)";
      }
      if (ev.regs) details += fmt::format(" rip={:#x}", ev.regs->rip);
      double in_run_us = (ev.time_ns - m_enter_ns[ev.vcpu]) / 1e3;
      std::fprintf(m_out, "%12.6f ms  vcpu%d  #%-6llu %-24s %-44s %10.1f us in KVM_RUN\n", t_ms,
                   ev.vcpu, static_cast<unsigned long long>(ev.run_index),
                   std::string(vmm::ExitReasonName(ev.exit.reason)).c_str(), details.c_str(),
                   in_run_us);
      break;
    }
    case vmm::EventKind::Watchdog:
      std::fprintf(m_out, "%12.6f ms  watchdog: %s\n", t_ms, ev.detail.c_str());
      break;
    case vmm::EventKind::Control:
      if (m_print_exits) std::fprintf(m_out, "%12.6f ms  control: %s\n", t_ms, ev.detail.c_str());
      break;
    case vmm::EventKind::VcpuDone:
      if (m_print_exits) {
        std::fprintf(m_out, "%12.6f ms  vcpu%d  done: %s\n", t_ms, ev.vcpu, ev.detail.c_str());
      }
      break;
    default: break;
  }
  std::fflush(m_out);
}

}  // namespace kvmscope::app

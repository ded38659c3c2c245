// `kvmscope vms [--json]`: the KVM VMs running on this host (procs/), each
// with its vCPUs and the threads running them. Printing only.
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "procs/vm_list.h"

namespace kvmscope::app {

namespace {

constexpr const char* kNonRoot = "as non-root only your own processes are listed";

// The terminal's width when stdout is one, else 0 (no cutting: a file or a
// pipe gets the whole command line).
int TerminalWidth() {
  winsize ws{};
  if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

std::string LocalTime(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "";
  const time_t t = static_cast<time_t>(unix_seconds);
  tm local{};
  char buf[32];
  if (!localtime_r(&t, &local) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local)) return "";
  return buf;
}

std::string VcpuLine(const procs::VmProcess& p, const procs::VcpuFd& v) {
  std::string line = fmt::format("vCPU {}  ", v.index);
  if (v.tid >= 0) {
    const procs::ThreadInfo* t = p.Thread(v.tid);
    line += fmt::format("tid {}  \"{}\"", v.tid, t ? t->comm : "");
    if (v.in_kvm_run) line += "  in KVM_RUN";
  } else {
    line += fmt::format("tid unknown: it is not in KVM_RUN now; `kvmscope record --pid {}` learns it",
                        p.pid);
  }
  return line + fmt::format("  fd {}", v.fd);
}

// "not permitted" pids, several to a line.
void PrintDenied(const std::vector<procs::DeniedProcess>& denied) {
  if (denied.empty()) return;
  std::printf("\nnot permitted to read the fds of %zu processes of other users (root sees them):\n",
              denied.size());
  std::string line = " ";
  for (const procs::DeniedProcess& d : denied) {
    std::string item = fmt::format(" {} ({})", d.pid, d.comm);
    if (line.size() + item.size() > 100) {
      std::printf("%s\n", line.c_str());
      line = " ";
    }
    line += item;
  }
  std::printf("%s\n", line.c_str());
}

nlohmann::ordered_json ToJson(const procs::VmList& list, bool root) {
  nlohmann::ordered_json vms = nlohmann::json::array();
  for (const procs::VmProcess& p : list.vms) {
    nlohmann::ordered_json j;
    j["pid"] = p.pid;
    j["uid"] = p.uid;
    j["user"] = p.user;
    j["comm"] = p.comm;
    j["cmdline"] = p.cmdline;
    j["start_time"] = p.start_time;
    j["vm_fds"] = nlohmann::json::array();
    for (const procs::VmFd& f : p.vms) j["vm_fds"].push_back(f.fd);
    j["vcpus"] = nlohmann::json::array();
    for (const procs::VcpuFd& v : p.vcpus) {
      nlohmann::ordered_json jv;
      jv["index"] = v.index;
      jv["fd"] = v.fd;
      const procs::ThreadInfo* t = v.tid >= 0 ? p.Thread(v.tid) : nullptr;
      jv["tid"] = v.tid >= 0 ? nlohmann::ordered_json(v.tid) : nlohmann::ordered_json();
      jv["thread"] = t ? nlohmann::ordered_json(t->comm) : nlohmann::ordered_json();
      jv["tid_from"] = procs::TidSourceName(v.tid_source);
      jv["in_kvm_run"] = v.in_kvm_run;
      j["vcpus"].push_back(std::move(jv));
    }
    j["threads"] = nlohmann::json::array();
    for (const procs::ThreadInfo& t : p.threads) {
      j["threads"].push_back({{"tid", t.tid}, {"comm", t.comm}, {"kernel_worker", t.kernel_worker}});
    }
    vms.push_back(std::move(j));
  }
  nlohmann::ordered_json denied = nlohmann::json::array();
  for (const procs::DeniedProcess& d : list.denied) denied.push_back({{"pid", d.pid}, {"comm", d.comm}});
  nlohmann::ordered_json out;
  out["vms"] = std::move(vms);
  out["not_permitted"] = std::move(denied);
  out["root"] = root;
  if (!root) out["note"] = kNonRoot;
  return out;
}

}  // namespace

int CmdVms(const VmsArgs& args) {
  const procs::VmList list = procs::ListVms();
  const bool root = geteuid() == 0;
  if (args.json) {
    std::printf("%s\n", ToJson(list, root).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  if (list.vms.empty()) {
    std::printf("no KVM VMs visible%s\n", root ? "" : fmt::format(" ({})", kNonRoot).c_str());
  } else {
    const int width = TerminalWidth();
    std::printf("%-8s %-10s %-5s %-7s %s\n", "PID", "USER", "VCPUS", "THREADS", "COMMAND");
    for (const procs::VmProcess& p : list.vms) {
      std::string row = fmt::format("{:<8} {:<10} {:<5} {:<7} {}", p.pid, p.user, p.vcpus.size(),
                                    p.threads.size(), p.cmdline.empty() ? p.comm : p.cmdline);
      if (width > 3 && static_cast<int>(row.size()) > width) row = row.substr(0, width - 3) + "...";
      std::printf("%s\n", row.c_str());
      std::string fds;
      for (const procs::VmFd& f : p.vms) fds += (fds.empty() ? "" : ", ") + std::to_string(f.fd);
      const std::string started = LocalTime(p.start_time);
      std::printf("%9sVM fd %s%s\n", "", fds.c_str(),
                  started.empty() ? "" : fmt::format(", started {}", started).c_str());
      for (const procs::VcpuFd& v : p.vcpus) std::printf("%9s%s\n", "", VcpuLine(p, v).c_str());
    }
    if (!root) std::printf("\n(%s)\n", kNonRoot);
  }
  PrintDenied(list.denied);
  return kExitOk;
}

}  // namespace kvmscope::app

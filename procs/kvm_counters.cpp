// KVM's counters of another process's VM: debugfs as kvm_stat reads it, or
// the VMM's QMP socket (query-stats).
#include "procs/kvm_counters.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "procs/pidfd.h"

namespace kvmscope::procs {
namespace fs = std::filesystem;
using Json = nlohmann::json;

CounterSet CounterDifference(const CounterSet& start, const CounterSet& end) {
  CounterSet d = end;
  auto subtract = [&](std::map<std::string, uint64_t>& to, const std::map<std::string, uint64_t>* from) {
    if (!from) return;
    for (auto& [name, value] : to) {
      if (end.not_cumulative.contains(name)) continue;
      auto it = from->find(name);
      // A counter that went down was cleared (debugfs files can be written 0).
      if (it != from->end()) value = value >= it->second ? value - it->second : value;
    }
  };
  subtract(d.vm, &start.vm);
  for (size_t i = 0; i < d.vcpus.size(); ++i) {
    subtract(d.vcpus[i], i < start.vcpus.size() ? &start.vcpus[i] : nullptr);
  }
  return d;
}

namespace {

// --- debugfs ---------------------------------------------------------------

// kvm_create_vm_debugfs names the folder "PID-FD" after the creating thread
// and the VM's fd at KVM_CREATE_VM. Each counter is one file: an instant
// value is read-only (0444), running totals and peaks can be cleared (0644);
// peaks are named max_*. Histograms (*_hist) show only their first bucket.
class DebugfsCounters final : public VmCounterReader {
 public:
  explicit DebugfsCounters(fs::path dir) : m_dir(std::move(dir)) {}
  std::string source() const override { return "debugfs " + m_dir.string(); }

  std::optional<CounterSet> Read(std::string* why) override {
    CounterSet set;
    std::string first_error;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_dir, ec)) {
      const std::string name = e.path().filename().string();
      struct stat st{};
      if (stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || name.ends_with("_hist")) continue;
      // The folder also holds files that are no counter (x86: mmu_rmaps_stat,
      // a table, whose read can fail): one that cannot be read is skipped,
      // and only when none can is the reading a failure.
      std::ifstream in(e.path());
      std::string text;
      if (!std::getline(in, text)) {
        const int err = errno;
        if (first_error.empty()) {
          first_error = fmt::format("{}: {}", e.path().string(), err == EPERM ?
              "not permitted (kernel lockdown restricts debugfs; see kernel_lockdown(7))" : std::strerror(err));
        }
        continue;
      }
      uint64_t value = 0;
      auto [p, rc] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (rc != std::errc()) continue;
      set.vm[name] = value;
      if ((st.st_mode & 0222) == 0 || name.starts_with("max_")) set.not_cumulative.insert(name);
    }
    if (ec) {
      if (why) *why = fmt::format("{}: {}", m_dir.string(), ec.message());
      return std::nullopt;
    }
    if (set.vm.empty()) {
      if (why) *why = first_error.empty() ? fmt::format("{}: no counters", m_dir.string()) : first_error;
      return std::nullopt;
    }
    return set;
  }

 private:
  fs::path m_dir;
};

std::unique_ptr<VmCounterReader> OpenDebugfs(int pid, int vm_fd, const std::string& root,
                                             std::string* why, CounterSet* first) {
  const fs::path kvm = fs::path(root) / "kvm";
  std::error_code ec;
  if (!fs::is_directory(kvm, ec)) {
    *why = fs::is_directory(root, ec) && !fs::is_empty(root, ec)
               ? fmt::format("{} does not exist (kvm loaded without debugfs?)", kvm.string())
               : fmt::format("debugfs is not mounted at {} (mount -t debugfs none {})", root, root);
    return nullptr;
  }
  const fs::path dir = kvm / fmt::format("{}-{}", pid, vm_fd);
  if (!fs::is_directory(dir, ec)) {
    *why = fmt::format("{} does not exist (the VM was created by another thread, or under another fd)",
                       dir.string());
    return nullptr;
  }
  auto reader = std::make_unique<DebugfsCounters>(dir);
  std::optional<CounterSet> reading = reader->Read(why);
  if (!reading) return nullptr;
  if (first) *first = std::move(*reading);
  return reader;
}

// --- QMP -------------------------------------------------------------------

// One QMP connection: a JSON object per line each way. Asynchronous events
// (no "return"/"error") in between are skipped.
class QmpCounters final : public VmCounterReader {
 public:
  QmpCounters(std::string path, UniqueFd fd) : m_path(std::move(path)), m_fd(std::move(fd)) {}
  std::string source() const override { return "QMP query-stats on " + m_path; }

  // The greeting, capabilities negotiation, the counter types and the vCPUs.
  // A reply of an unexpected shape is a failed read, never an exception.
  bool Handshake(std::string* why) {
    try {
      return Negotiate(why);
    } catch (const Json::exception& e) {
      return Fail(why, fmt::format("QMP {}: an unexpected reply: {}", m_path, e.what()));
    }
  }

  std::optional<CounterSet> Read(std::string* why) override {
    try {
      return Query(why);
    } catch (const Json::exception& e) {
      Fail(why, fmt::format("QMP {}: an unexpected reply: {}", m_path, e.what()));
      return std::nullopt;
    }
  }

 private:
  bool Negotiate(std::string* why) {
    Json greeting;
    if (!Receive(greeting, why)) return false;
    if (!greeting.contains("QMP")) return Fail(why, "no QMP greeting (is it a QMP socket, -qmp?)");
    Json r;
    if (!Execute("qmp_capabilities", nullptr, r, why)) return false;
    if (!Execute("query-stats-schemas", {{"provider", "kvm"}}, r, why)) return false;
    for (const Json& provider : r) {
      for (const Json& s : provider.value("stats", Json::array())) {
        const std::string type = s.value("type", "");
        if (type != "cumulative") m_not_cumulative.insert(s.value("name", ""));
      }
    }
    // qom-path → vCPU index (query-stats names a vCPU by its qom-path).
    if (!Execute("query-cpus-fast", nullptr, r, why)) return false;
    for (const Json& cpu : r) {
      m_vcpu_of_path[cpu.value("qom-path", "")] = cpu.value("cpu-index", 0);
      m_tid_of_index[cpu.value("cpu-index", 0)] = cpu.value("thread-id", -1);
    }
    return true;
  }

  std::optional<CounterSet> Query(std::string* why) {
    CounterSet set;
    set.not_cumulative = m_not_cumulative;
    Json r;
    if (!Execute("query-stats", {{"target", "vm"}, {"providers", {{{"provider", "kvm"}}}}}, r, why)) {
      return std::nullopt;
    }
    for (const Json& result : r) Numbers(result, set.vm);
    if (!Execute("query-stats", {{"target", "vcpu"}, {"providers", {{{"provider", "kvm"}}}}}, r, why)) {
      return std::nullopt;
    }
    for (const Json& result : r) {
      auto it = m_vcpu_of_path.find(result.value("qom-path", ""));
      if (it == m_vcpu_of_path.end() || it->second < 0 || it->second > 4096) continue;
      if (set.vcpus.size() <= static_cast<size_t>(it->second)) set.vcpus.resize(it->second + 1);
      Numbers(result, set.vcpus[it->second]);
    }
    for (size_t i = 0; i < set.vcpus.size(); ++i) {
      auto tid = m_tid_of_index.find(static_cast<int>(i));
      set.vcpu_tids.push_back(tid == m_tid_of_index.end() ? -1 : tid->second);
    }
    return set;
  }

  static bool Fail(std::string* why, std::string what) {
    if (why) *why = std::move(what);
    return false;
  }
  // Counters with a number or a boolean value; histograms (arrays) left out.
  static void Numbers(const Json& result, std::map<std::string, uint64_t>& to) {
    for (const Json& s : result.value("stats", Json::array())) {
      const Json& v = s.value("value", Json());
      if (v.is_number_unsigned() || v.is_number_integer()) to[s.value("name", "")] = v.get<uint64_t>();
      else if (v.is_boolean()) to[s.value("name", "")] = v.get<bool>() ? 1 : 0;
    }
  }

  bool Execute(const char* command, const Json& arguments, Json& result, std::string* why) {
    // An id on each request: a late reply to an earlier one (after its
    // timeout) is not taken for this one's.
    Json message = {{"execute", command}, {"id", ++m_id}};
    if (!arguments.is_null()) message["arguments"] = arguments;
    const std::string line = message.dump() + "\n";
    if (send(m_fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      return Fail(why, fmt::format("QMP {}: {}: {}", m_path, command, std::strerror(errno)));
    }
    for (;;) {
      Json reply;
      if (!Receive(reply, why)) return false;
      if (!reply.contains("return") && !reply.contains("error")) continue;  // an event
      if (reply.value("id", uint64_t{0}) != m_id) continue;                  // a late reply
      if (reply.contains("error")) {
        return Fail(why, fmt::format("QMP {}: {}: {}", m_path, command,
                                     reply["error"].value("desc", reply["error"].dump())));
      }
      if (reply.contains("return")) {
        result = reply["return"];
        return true;
      }
    }
  }

  // One line, within 2 s.
  bool Receive(Json& out, std::string* why) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
      if (size_t nl = m_buffer.find('\n'); nl != std::string::npos) {
        std::string line = m_buffer.substr(0, nl);
        m_buffer.erase(0, nl + 1);
        out = Json::parse(line, nullptr, false);
        if (out.is_discarded()) return Fail(why, fmt::format("QMP {}: not JSON: {}", m_path, line.substr(0, 80)));
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{m_fd.get(), POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return Fail(why, fmt::format("QMP {}: no answer within 2 s (another client holds the "
                                     "monitor? QEMU serves one at a time)", m_path));
      }
      char chunk[65536];
      ssize_t n = recv(m_fd.get(), chunk, sizeof chunk, 0);
      if (n <= 0) return Fail(why, fmt::format("QMP {}: the VMM closed the socket", m_path));
      m_buffer.append(chunk, static_cast<size_t>(n));
    }
  }

  std::string m_path;
  UniqueFd m_fd;
  std::string m_buffer;
  uint64_t m_id = 0;
  std::set<std::string> m_not_cumulative;
  std::map<std::string, int> m_vcpu_of_path;
  std::map<int, int> m_tid_of_index;  // cpu-index → thread-id
};

std::unique_ptr<VmCounterReader> OpenQmp(const std::string& path, std::string* why,
                                         CounterSet* first) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *why = fmt::format("QMP {}: the path is too long for a socket", path);
    return nullptr;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *why = fmt::format("QMP {}: cannot connect: {}", path, std::strerror(errno));
    return nullptr;
  }
  auto reader = std::make_unique<QmpCounters>(path, std::move(fd));
  if (!reader->Handshake(why)) return nullptr;
  std::optional<CounterSet> reading = reader->Read(why);
  if (!reading) return nullptr;
  if (first) *first = std::move(*reading);
  return reader;
}

}  // namespace

std::unique_ptr<VmCounterReader> OpenVmCounters(int pid, int vm_fd, const std::string& qmp_socket,
                                                std::string* why, const std::string& debugfs_root,
                                                CounterSet* first) {
  // A QMP socket the user named comes first: it has each vCPU's counters.
  std::string qmp_why;
  if (!qmp_socket.empty()) {
    if (auto reader = OpenQmp(qmp_socket, &qmp_why, first)) return reader;
  }
  std::string debugfs_why;
  if (auto reader = OpenDebugfs(pid, vm_fd, debugfs_root, &debugfs_why, first)) return reader;
  *why = debugfs_why + "; " + (qmp_socket.empty() ? "no QMP socket given (--qmp)" : qmp_why);
  return nullptr;
}

}  // namespace kvmscope::procs

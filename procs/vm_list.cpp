// ListVms: the /proc walk behind `kvmscope vms`. Everything is read with
// plain system calls so that EACCES (another user's process) is told apart
// from ENOENT (the process exited meanwhile).
#include "procs/vm_list.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fmt/format.h>

namespace kvmscope::procs {

namespace {

// A whole small file; nullopt with errno set when it cannot be read.
std::optional<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      int err = errno;
      close(fd);
      errno = err;
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

std::string Chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

template <typename T>
std::optional<T> ParseNumber(std::string_view s, int base = 10) {
  if (base == 16 && s.substr(0, 2) == "0x") s.remove_prefix(2);
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// The first number of a /proc/PID/status line "KEY:\t1000\t1000...".
template <typename T>
std::optional<T> StatusField(std::string_view status, std::string_view key) {
  std::string line(1, '\n');  // appended, not "\n" + ...: GCC 12 warns falsely (-Wrestrict) there
  line.append(key).push_back(':');
  size_t at = status.find(line);
  if (at == std::string_view::npos) return std::nullopt;
  at += line.size();
  while (at < status.size() && (status[at] == '\t' || status[at] == ' ')) ++at;
  const size_t end = status.find_first_of("\t \n", at);
  return ParseNumber<T>(status.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
}

// The names in a directory (without . and ..); nullopt with errno set.
std::optional<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (!d) return std::nullopt;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  closedir(d);
  return names;
}

std::optional<std::string> ReadLink(const std::string& path) {
  char buf[512];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

// The fields of a /proc stat file after "(comm)": index 0 is field 3
// (state). comm may hold spaces and parentheses, so split after the last ')'.
std::vector<std::string_view> StatFields(std::string_view stat) {
  std::vector<std::string_view> fields;
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return fields;
  std::string_view rest = stat.substr(close + 1);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\n')) ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
    if (j > i) fields.push_back(rest.substr(i, j - i));
    i = j;
  }
  return fields;
}
constexpr size_t kStatFlags = 9 - 3;       // field 9: flags
constexpr size_t kStatStartTime = 22 - 3;  // field 22: starttime

uint32_t StatFlags(const std::vector<std::string_view>& f) {
  if (f.size() <= kStatFlags) return 0;
  return ParseNumber<uint32_t>(f[kStatFlags]).value_or(0);
}

// The fd of ioctl(fd, KVM_RUN, ...) when /proc/.../syscall shows the thread
// blocked in one ("16 0xb 0xae80 ..."), else -1 ("running", another call).
int KvmRunFd(const std::string& syscall_path) {
  std::optional<std::string> text = ReadFile(syscall_path);
  if (!text) return -1;
  std::vector<std::string_view> words;
  std::string_view s = *text;
  size_t i = 0;
  while (i < s.size() && words.size() < 3) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n') ++j;
    if (j > i) words.push_back(s.substr(i, j - i));
    i = j;
  }
  if (words.size() < 3 || ParseNumber<int>(words[0]) != kSysIoctl) return -1;
  if (ParseNumber<uint64_t>(words[2], 16) != kKvmRun) return -1;
  std::optional<uint64_t> fd = ParseNumber<uint64_t>(words[1], 16);
  return fd && *fd < (1u << 30) ? static_cast<int>(*fd) : -1;
}

std::string UserName(uint32_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return std::to_string(uid);
}

std::optional<int64_t> BootTime(const std::string& proc_root) {
  std::optional<std::string> stat = ReadFile(proc_root + "/stat");
  if (!stat) return std::nullopt;
  size_t at = stat->find("\nbtime ");
  if (at == std::string::npos) return std::nullopt;
  at += 7;
  size_t end = stat->find('\n', at);
  return ParseNumber<int64_t>(std::string_view(*stat).substr(at, end - at));
}

void ReadThreads(const std::string& dir, VmProcess& p) {
  std::optional<std::vector<std::string>> tids = ListDir(dir + "/task");
  if (!tids) return;
  for (const std::string& name : *tids) {
    std::optional<int> tid = ParseNumber<int>(name);
    if (!tid) continue;
    const std::string task = dir + "/task/" + name;
    std::optional<std::string> comm = ReadFile(task + "/comm");
    if (!comm) continue;  // the thread ended meanwhile
    ThreadInfo t;
    t.tid = *tid;
    t.comm = Chomp(*comm);
    uint32_t flags = StatFlags(StatFields(ReadFile(task + "/stat").value_or("")));
    // A kernel worker in the process (vhost_task such as kvm-nx-lpage-recovery)
    // starts with a copy of its creator's registers, so its syscall file shows
    // the creator's KVM_RUN: never take it for a vCPU thread.
    t.kernel_worker = (flags & (kPfUserWorker | kPfIoWorker | kPfKthread)) != 0 ||
                      t.comm.rfind("kvm-", 0) == 0;
    if (!t.kernel_worker) t.kvm_run_fd = KvmRunFd(task + "/syscall");
    p.threads.push_back(std::move(t));
  }
  std::sort(p.threads.begin(), p.threads.end(),
            [](const ThreadInfo& a, const ThreadInfo& b) { return a.tid < b.tid; });
}

// vCPU -> thread. First the exact evidence: a thread blocked in KVM_RUN on
// the vCPU's fd. Then QEMU's names: "CPU N/KVM" counts QEMU's cpu_index,
// which is the vcpu_id KVM sees on the usual topologies (on x86 KVM's id is
// the APIC id, which can skip numbers with odd -smp layouts: hence second).
void MatchVcpuThreads(VmProcess& p) {
  auto taken = [&p](int tid) {
    return std::any_of(p.vcpus.begin(), p.vcpus.end(), [tid](const VcpuFd& v) { return v.tid == tid; });
  };
  for (const ThreadInfo& t : p.threads) {
    if (t.kernel_worker || t.kvm_run_fd < 0) continue;
    for (VcpuFd& v : p.vcpus) {
      if (v.fd == t.kvm_run_fd && v.tid < 0 && !taken(t.tid)) {
        v.tid = t.tid;
        v.tid_source = TidSource::InKvmRun;
        v.in_kvm_run = true;
      }
    }
  }
  for (const ThreadInfo& t : p.threads) {
    std::optional<int> n = ParseQemuVcpuName(t.comm);
    if (t.kernel_worker || !n || taken(t.tid)) continue;
    for (VcpuFd& v : p.vcpus) {
      if (v.index == *n && v.tid < 0) {
        v.tid = t.tid;
        v.tid_source = TidSource::ThreadName;
        v.in_kvm_run = t.kvm_run_fd == v.fd;
        break;
      }
    }
  }
}

PidLookup Read(int pid, const std::string& proc_root, std::optional<int64_t> boot_time) {
  PidLookup r;
  const std::string dir = proc_root + "/" + std::to_string(pid);
  std::optional<std::string> stat = ReadFile(dir + "/stat");
  if (!stat) return r;  // Gone
  r.process.pid = pid;
  r.process.comm = Chomp(ReadFile(dir + "/comm").value_or(""));
  const std::vector<std::string_view> fields = StatFields(*stat);
  if (StatFlags(fields) & kPfKthread) {
    r.kind = PidKind::NotVm;
    return r;
  }
  std::optional<std::vector<std::string>> fds = ListDir(dir + "/fd");
  if (!fds) {
    r.kind = errno == EACCES || errno == EPERM ? PidKind::Denied : PidKind::Gone;
    return r;
  }
  VmProcess& p = r.process;
  for (const std::string& name : *fds) {
    std::optional<int> fd = ParseNumber<int>(name);
    if (!fd) continue;
    std::optional<std::string> link = ReadLink(dir + "/fd/" + name);
    if (!link) continue;  // closed meanwhile
    if (*link == kVmLink) {
      p.vms.push_back(VmFd{*fd});
    } else if (std::optional<int> index = ParseVcpuLink(*link)) {
      p.vcpus.push_back(VcpuFd{*fd, *index});
    }
  }
  if (p.vms.empty()) {
    r.kind = PidKind::NotVm;
    return r;
  }
  std::sort(p.vms.begin(), p.vms.end(), [](const VmFd& a, const VmFd& b) { return a.fd < b.fd; });
  std::sort(p.vcpus.begin(), p.vcpus.end(), [](const VcpuFd& a, const VcpuFd& b) {
    return a.index != b.index ? a.index < b.index : a.fd < b.fd;
  });
  p.cmdline = CommandLine(pid, proc_root);
  if (std::optional<std::string> status = ReadFile(dir + "/status")) {
    p.uid = StatusField<uint32_t>(*status, "Uid").value_or(0);
  }
  p.user = UserName(p.uid);
  if (fields.size() > kStatStartTime) {
    p.start_ticks = ParseNumber<uint64_t>(fields[kStatStartTime]).value_or(0);
    if (boot_time) {
      p.start_time = *boot_time + static_cast<int64_t>(p.start_ticks / sysconf(_SC_CLK_TCK));
    }
  }
  ReadThreads(dir, p);
  MatchVcpuThreads(p);
  r.kind = PidKind::Vm;
  return r;
}

}  // namespace

std::string_view TidSourceName(TidSource source) {
  switch (source) {
    case TidSource::InKvmRun: return "KVM_RUN";
    case TidSource::ThreadName: return "thread name";
    case TidSource::Unknown: break;
  }
  return "unknown";
}

const ThreadInfo* VmProcess::Thread(int tid) const {
  for (const ThreadInfo& t : threads) {
    if (t.tid == tid) return &t;
  }
  return nullptr;
}

const VcpuFd* VmProcess::VcpuOfFd(int fd) const {
  for (const VcpuFd& v : vcpus) {
    if (v.fd == fd) return &v;
  }
  return nullptr;
}

std::optional<int> ParseVcpuLink(std::string_view link) {
  if (link.substr(0, kVcpuLinkPrefix.size()) != kVcpuLinkPrefix) return std::nullopt;
  return ParseNumber<int>(link.substr(kVcpuLinkPrefix.size()));
}

std::optional<int> ParseQemuVcpuName(std::string_view comm) {
  constexpr std::string_view kPrefix = "CPU ", kSuffix = "/KVM";
  if (comm.size() <= kPrefix.size() + kSuffix.size() || comm.substr(0, kPrefix.size()) != kPrefix ||
      comm.substr(comm.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  return ParseNumber<int>(comm.substr(kPrefix.size(), comm.size() - kPrefix.size() - kSuffix.size()));
}

VmList ListVms(const std::string& proc_root) {
  VmList list;
  std::optional<std::vector<std::string>> names = ListDir(proc_root);
  if (!names) return list;
  const std::optional<int64_t> boot_time = BootTime(proc_root);
  std::vector<int> pids;
  for (const std::string& n : *names) {
    if (std::optional<int> pid = ParseNumber<int>(n)) pids.push_back(*pid);
  }
  std::sort(pids.begin(), pids.end());
  for (int pid : pids) {
    PidLookup r = Read(pid, proc_root, boot_time);
    if (r.kind == PidKind::Vm) list.vms.push_back(std::move(r.process));
    if (r.kind == PidKind::Denied) list.denied.push_back(DeniedProcess{pid, r.process.comm});
  }
  return list;
}

PidLookup ReadPid(int pid, const std::string& proc_root) {
  return Read(pid, proc_root, BootTime(proc_root));
}

std::optional<int> VcpuIndexOfFd(int pid, int fd, const std::string& proc_root) {
  std::optional<std::string> link = ReadLink(fmt::format("{}/{}/fd/{}", proc_root, pid, fd));
  if (!link) return std::nullopt;
  return ParseVcpuLink(*link);
}

std::string CommandLine(int pid, const std::string& proc_root) {
  std::string c = Chomp(ReadFile(fmt::format("{}/{}/cmdline", proc_root, pid)).value_or(""));
  std::replace(c.begin(), c.end(), '\0', ' ');
  return c;
}

std::optional<int> ThreadGroupOf(int tid, const std::string& proc_root) {
  std::optional<std::string> status = ReadFile(fmt::format("{}/{}/status", proc_root, tid));
  if (!status) return std::nullopt;
  return StatusField<int>(*status, "Tgid");
}

std::optional<uint32_t> ProcessOwner(int pid, const std::string& proc_root) {
  std::optional<std::string> status = ReadFile(fmt::format("{}/{}/status", proc_root, pid));
  if (!status) return std::nullopt;
  return StatusField<uint32_t>(*status, "Uid");
}

std::string ThreadName(int pid, int tid, const std::string& proc_root) {
  return Chomp(ReadFile(fmt::format("{}/{}/task/{}/comm", proc_root, pid, tid)).value_or(""));
}

}  // namespace kvmscope::procs

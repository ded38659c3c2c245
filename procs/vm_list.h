// The KVM virtual machines running on this host, found the way kvm_stat and
// a curious root would: every process holding an `anon_inode:kvm-vm` file
// descriptor in /proc/PID/fd, with its vCPU fds, its threads, and which
// thread runs which vCPU where that can be told without tracing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmscope::procs {

// How a vCPU's thread was found.
enum class TidSource {
  Unknown,     // neither way below: only tracing KVM_RUN (`record`) tells
  InKvmRun,    // the thread sits in ioctl(fd, KVM_RUN) on this vCPU's fd (exact)
  ThreadName,  // QEMU's thread name "CPU N/KVM" (needs -name ...,debug-threads=on)
};
std::string_view TidSourceName(TidSource source);  // "KVM_RUN", "thread name", "unknown"

// A VM file descriptor (KVM_CREATE_VM's result) in the process.
struct VmFd {
  int fd = -1;
};

// A vCPU file descriptor (KVM_CREATE_VCPU's result) and the thread running it.
struct VcpuFd {
  int fd = -1;
  int index = -1;  // N of `anon_inode:kvm-vcpu:N`: the vcpu_id given to KVM_CREATE_VCPU
  int tid = -1;    // the thread running it; -1 unknown
  TidSource tid_source = TidSource::Unknown;
  bool in_kvm_run = false;  // its thread was inside KVM_RUN when listed
};

// One thread of the process.
struct ThreadInfo {
  int tid = -1;
  std::string comm;            // /proc/PID/task/TID/comm: "CPU 0/KVM", "qemu-system-x86"
  bool kernel_worker = false;  // a kernel thread in the process (PF_USER_WORKER / PF_IO_WORKER,
                               // or comm "kvm-*" such as kvm-nx-lpage-recovery): never a vCPU
  int kvm_run_fd = -1;         // the fd it is blocked in ioctl(KVM_RUN) on, else -1
};

// A process holding at least one KVM VM fd.
struct VmProcess {
  int pid = -1;
  uint32_t uid = 0;       // real uid
  std::string user;       // its name, or the number when it has none
  std::string comm;       // /proc/PID/comm
  std::string cmdline;    // the whole command line, arguments joined by spaces
  uint64_t start_ticks = 0;  // stat field 22: clock ticks after boot (tells a reused pid apart)
  int64_t start_time = 0;    // the same as Unix time (seconds), 0 when /proc/stat has no btime
  std::vector<VmFd> vms;       // usually one; a process may create several VMs
  std::vector<VcpuFd> vcpus;   // sorted by index
  std::vector<ThreadInfo> threads;  // sorted by tid

  const ThreadInfo* Thread(int tid) const;  // nullptr when it is not one of `threads`
  const VcpuFd* VcpuOfFd(int fd) const;     // nullptr when fd is not a vCPU fd
};

// A process whose fds could not be read (EACCES/EPERM: another user's, and
// this process is not root). Kernel threads are never listed.
struct DeniedProcess {
  int pid = -1;
  std::string comm;
};

struct VmList {
  std::vector<VmProcess> vms;          // by pid
  std::vector<DeniedProcess> denied;   // by pid: "not permitted", never hidden silently
};

// Every process under proc_root (a /proc, or a fake tree in tests) holding a
// KVM VM fd. Processes that vanish while being read are left out.
VmList ListVms(const std::string& proc_root = "/proc");

// What one pid is, for commands given a pid (`record --pid`).
enum class PidKind { Vm, NotVm, Denied, Gone };
struct PidLookup {
  PidKind kind = PidKind::Gone;
  VmProcess process;  // complete when kind == Vm; pid and comm when NotVm or Denied
};
PidLookup ReadPid(int pid, const std::string& proc_root = "/proc");

// The vCPU index of `fd` in process pid (readlink of /proc/PID/fd/FD is
// `anon_inode:kvm-vcpu:N`), or nullopt.
std::optional<int> VcpuIndexOfFd(int pid, int fd, const std::string& proc_root = "/proc");
// A process's command line, its arguments joined by spaces ("" if gone).
std::string CommandLine(int pid, const std::string& proc_root = "/proc");
// The process (thread group) a thread id belongs to (/proc/TID/status Tgid:
// the id itself for a process), nullopt when there is no such thread.
std::optional<int> ThreadGroupOf(int tid, const std::string& proc_root = "/proc");
// The real uid of a process (/proc/PID/status Uid, first field), nullopt when
// there is no such process. Readable for every process, whoever asks.
std::optional<uint32_t> ProcessOwner(int pid, const std::string& proc_root = "/proc");
// A thread's name (/proc/PID/task/TID/comm without the newline), "" if gone.
std::string ThreadName(int pid, int tid, const std::string& proc_root = "/proc");

// N of an fd link text `anon_inode:kvm-vcpu:N`, or nullopt for any other text.
std::optional<int> ParseVcpuLink(std::string_view link);
// N of a QEMU vCPU thread name "CPU N/KVM", or nullopt.
std::optional<int> ParseQemuVcpuName(std::string_view comm);

// The exact fd link texts and thread-flag bits this relies on.
inline constexpr std::string_view kVmLink = "anon_inode:kvm-vm";
inline constexpr std::string_view kVcpuLinkPrefix = "anon_inode:kvm-vcpu:";
inline constexpr uint64_t kKvmRun = 0xae80;       // _IO(KVMIO, 0x80) in <linux/kvm.h>
inline constexpr int kSysIoctl = 16;              // __NR_ioctl on x86_64
inline constexpr uint32_t kPfIoWorker = 0x10;     // PF_IO_WORKER (include/linux/sched.h)
inline constexpr uint32_t kPfUserWorker = 0x4000; // PF_USER_WORKER (6.4+: vhost_task, kvm-nx-lpage-recovery)
inline constexpr uint32_t kPfKthread = 0x00200000;  // PF_KTHREAD

}  // namespace kvmscope::procs

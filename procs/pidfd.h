// Process file descriptors (Linux 5.3+): a handle on another process that
// stays bound to it even if its pid is reused, becomes readable when it
// exits, and can copy one of its fds (pidfd_getfd, Linux 5.6+). Open the
// pidfd first, then look at /proc/PID: what is found there is then known to
// belong to the process the pidfd names, as long as it has not exited.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace kvmscope::procs {

// A failed pidfd call: what, why (strerror) and what to try; err() is errno
// (ESRCH: no such process, EPERM: not permitted, ENOSYS: kernel too old).
class Error : public std::runtime_error {
 public:
  Error(int err, const std::string& message) : std::runtime_error(message), m_err(err) {}
  int err() const { return m_err; }

 private:
  int m_err;
};

// Owns a file descriptor; closes it once.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }

 private:
  int m_fd = -1;
};

inline constexpr long kSysPidfdSendSignal = 424;  // x86_64 (all architectures since 5.1)
inline constexpr long kSysPidfdOpen = 434;
inline constexpr long kSysPidfdGetfd = 438;

class PidFd {
 public:
  // pidfd_open(pid, 0). Throws Error: ESRCH "no process PID", ENOSYS "needs
  // Linux 5.3", others with strerror.
  static PidFd Open(int pid);

  int pid() const { return m_pid; }
  int fd() const { return m_fd.get(); }
  // Whether the process has exited, waiting up to timeout_ms for it (0: just
  // look; -1: wait for ever). The pidfd is readable (POLLIN) once it exits.
  bool Exited(int timeout_ms = 0) const;
  // A copy of the process's fd `target_fd` in this process (close-on-exec),
  // as pidfd_getfd(2) gives it: needs ptrace-attach rights over the process
  // (root, or the same user). The process is not disturbed. Throws Error:
  // EBADF "pid P has no fd F", EPERM "not permitted ...", ENOSYS "needs Linux
  // 5.6", ESRCH "process P exited".
  UniqueFd GetFd(int target_fd) const;
  // pidfd_send_signal(2): signals exactly this process, never a reuser of its
  // pid. Throws Error (ESRCH once it has exited and been reaped).
  void Signal(int sig) const;

 private:
  PidFd(int pid, int fd) : m_pid(pid), m_fd(fd) {}
  int m_pid = -1;
  UniqueFd m_fd;
};

}  // namespace kvmscope::procs

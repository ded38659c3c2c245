// pidfd_open, poll, pidfd_getfd and pidfd_send_signal by number: glibc 2.36
// (Debian 12) has no wrappers for all of them.
#include "procs/pidfd.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace kvmscope::procs {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (m_fd >= 0) close(m_fd);
    m_fd = std::exchange(o.m_fd, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (m_fd >= 0) close(m_fd);
}

PidFd PidFd::Open(int pid) {
  if (pid <= 0) throw Error(ESRCH, fmt::format("no process {}", pid));
  long fd = syscall(kSysPidfdOpen, pid, 0);
  if (fd >= 0) return PidFd(pid, static_cast<int>(fd));
  const int err = errno;
  switch (err) {
    case ESRCH: throw Error(err, fmt::format("no process {}", pid));
    case ENOSYS:
      throw Error(err, fmt::format("pidfd_open({}): this kernel has no pidfd_open (needs Linux 5.3)", pid));
    default: throw Error(err, fmt::format("pidfd_open({}): {}", pid, std::strerror(err)));
  }
}

bool PidFd::Exited(int timeout_ms) const {
  pollfd p{fd(), POLLIN, 0};
  for (;;) {
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
  }
}

UniqueFd PidFd::GetFd(int target_fd) const {
  long fd = syscall(kSysPidfdGetfd, this->fd(), target_fd, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  const int err = errno;
  switch (err) {
    case EBADF: throw Error(err, fmt::format("pid {} has no fd {}", m_pid, target_fd));
    case EPERM:
      throw Error(err, fmt::format("pidfd_getfd(pid {}, fd {}): not permitted: it needs ptrace "
                                   "rights over the process (run as root, or as its user)",
                                   m_pid, target_fd));
    case ESRCH: throw Error(err, fmt::format("process {} exited", m_pid));
    case ENOSYS:
      throw Error(err, "pidfd_getfd: this kernel has no pidfd_getfd (needs Linux 5.6)");
    default:
      throw Error(err, fmt::format("pidfd_getfd(pid {}, fd {}): {}", m_pid, target_fd,
                                   std::strerror(err)));
  }
}

void PidFd::Signal(int sig) const {
  if (syscall(kSysPidfdSendSignal, fd(), sig, nullptr, 0) == 0) return;
  const int err = errno;
  if (err == ESRCH) throw Error(err, fmt::format("process {} exited", m_pid));
  throw Error(err, fmt::format("pidfd_send_signal(pid {}, {}): {}", m_pid, sig, std::strerror(err)));
}

}  // namespace kvmscope::procs

// KVM file descriptors and the reporting ioctl wrapper.
#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmm/error.h"

namespace kvmscope::vmm {

std::string ErrnoMessage(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (m_fd >= 0) close(m_fd);
    m_fd = std::exchange(o.m_fd, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (m_fd >= 0) close(m_fd);
}

long IoctlReporter::Call(int fd, unsigned long request, std::string_view name, unsigned long arg,
                         int vcpu, bool may_fail) const {
  Event ev = MakeEvent(EventKind::Ioctl, vcpu);
  ev.ioctl = name;
  long rc = ioctl(fd, request, arg);
  int err = errno;
  ev.result = rc < 0 ? -err : rc;
  Emit(ev);
  if (rc < 0 && !may_fail) {
    throw Error(ErrorKind::Internal, ErrnoMessage(std::string(name) + " failed", err));
  }
  return ev.result;
}

Fd OpenKvm(const IoctlReporter& io, const char* path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      throw Error(ErrorKind::Environment,
                  std::string(path) +
                      " does not exist: this host has no KVM (load kvm_intel or kvm_amd, "
                      "or enable virtualization in the firmware / nested virtualization)");
    }
    if (err == EACCES || err == EPERM) {
      throw Error(ErrorKind::Environment, ErrnoMessage(std::string("cannot open ") + path, err) +
                                              " (run as root or add your user to the 'kvm' group)");
    }
    throw Error(ErrorKind::Environment, ErrnoMessage(std::string("cannot open ") + path, err));
  }
  Fd kvm(fd);
  long version = io.Call(kvm.get(), KVM_GET_API_VERSION, "KVM_GET_API_VERSION", 0UL);
  if (version != KVM_API_VERSION) {
    throw Error(ErrorKind::Environment, "KVM_GET_API_VERSION returned " + std::to_string(version) +
                                            ", expected " + std::to_string(KVM_API_VERSION));
  }
  return kvm;
}

}  // namespace kvmscope::vmm

// File descriptors of /dev/kvm, a VM and a vCPU, and the one place every KVM
// ioctl goes through so that each is timed and reported to the observer.
#pragma once

#include <sys/ioctl.h>

#include <string_view>
#include <utility>

#include "vmm/event.h"

namespace kvmscope::vmm {

// <linux/kvm.h> declares flexible arrays with __DECLARE_FLEX_ARRAY, which in
// C++ wraps them with an empty struct: sizeof(kvm_cpuid2) becomes 12 instead
// of the kernel's 8, so KVM_GET_SUPPORTED_CPUID/KVM_SET_CPUID2 as defined
// there encode the wrong size and the kernel answers EINVAL. These use the C
// layout: a header of two __u32 (nent, padding) followed by the entries.
struct CpuidHeader {
  __u32 nent;
  __u32 padding;
};
inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);

// Owns a file descriptor; closes it once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }

 private:
  int m_fd = -1;
};

// Issues KVM ioctls and reports each one (name, result, vCPU) to the
// observer. KVM_RUN does not come through here: it has its own events.
class IoctlReporter {
 public:
  explicit IoctlReporter(Observer* observer) : m_observer(observer) {}
  // Returns the ioctl's result; on failure throws Error(Internal) naming the
  // request, unless `may_fail`, in which case it returns -errno.
  long Call(int fd, unsigned long request, std::string_view name, unsigned long arg, int vcpu = -1,
            bool may_fail = false) const;
  long Call(int fd, unsigned long request, std::string_view name, const void* arg, int vcpu = -1,
            bool may_fail = false) const {
    return Call(fd, request, name, reinterpret_cast<unsigned long>(arg), vcpu, may_fail);
  }
  void Emit(const Event& event) const {
    if (m_observer) m_observer->OnEvent(event);
  }
  Observer* observer() const { return m_observer; }

 private:
  Observer* m_observer;
};

// Opens /dev/kvm and checks the API version. Throws Error(Environment) with
// what to do when KVM is missing or not permitted.
Fd OpenKvm(const IoctlReporter& io, const char* path = "/dev/kvm");

}  // namespace kvmscope::vmm

// Errors the VMM reports to its caller. Library code never exits: it throws
// vmm::Error, and only app/ turns the kind into a process exit status.
#pragma once

#include <stdexcept>
#include <string>

namespace kvmscope::vmm {

enum class ErrorKind {
  Usage,        // bad input from the user: file, mode, address, assembler error
  Environment,  // the host cannot run KVM here: no /dev/kvm, no permission, API
  Internal,     // a KVM call failed where it should not have
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}
  ErrorKind kind() const { return m_kind; }

 private:
  ErrorKind m_kind;
};

// "what: strerror(errno)" for a failed system call.
std::string ErrnoMessage(const std::string& what, int err);

}  // namespace kvmscope::vmm

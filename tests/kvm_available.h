// Whether real-KVM tests can run on this host, and the skip that says why
// when they cannot. No kvmscope dependency, so any test can use it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace kvmscope::test {

// Empty when KVM is usable here, else the reason to skip.
inline std::string KvmMissingReason() {
  if (access("/dev/kvm", F_OK) != 0) return "this host has no /dev/kvm";
  if (access("/dev/kvm", R_OK | W_OK) != 0) return "no permission to open /dev/kvm";
  return "";
}

#define KVMSCOPE_REQUIRE_KVM()                              \
  do {                                                      \
    std::string why = ::kvmscope::test::KvmMissingReason(); \
    if (!why.empty()) GTEST_SKIP() << "needs KVM: " << why; \
  } while (0)

}  // namespace kvmscope::test

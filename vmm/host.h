// Facts about this host's KVM that decide what a guest can do here: which
// backend runs KVM (Intel VMX, AMD SVM, PVM, or another).
#pragma once

#include <cstdint>
#include <string_view>

namespace kvmscope::vmm {

enum class KvmBackend : uint8_t { None, Vmx, Svm, Pvm, Other };

// Looks for the backend's module (built in or loaded) under /sys/module:
// kvm_intel, kvm_amd, kvm_pvm. `sys_module` is for tests.
KvmBackend DetectKvmBackend(std::string_view sys_module = "/sys/module");
std::string_view KvmBackendName(KvmBackend backend);

}  // namespace kvmscope::vmm

// KVM backend detection.
#include "vmm/host.h"

#include <filesystem>
#include <string>

namespace kvmscope::vmm {

KvmBackend DetectKvmBackend(std::string_view sys_module) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto has = [&](const char* module) { return fs::exists(fs::path(sys_module) / module, ec); };
  if (has("kvm_intel")) return KvmBackend::Vmx;
  if (has("kvm_amd")) return KvmBackend::Svm;
  if (has("kvm_pvm")) return KvmBackend::Pvm;
  if (has("kvm")) return KvmBackend::Other;
  return KvmBackend::None;
}

std::string_view KvmBackendName(KvmBackend backend) {
  switch (backend) {
    case KvmBackend::None: return "none";
    case KvmBackend::Vmx: return "VMX (kvm_intel)";
    case KvmBackend::Svm: return "SVM (kvm_amd)";
    case KvmBackend::Pvm: return "PVM (kvm_pvm)";
    case KvmBackend::Other: return "other";
  }
  return "?";
}

}  // namespace kvmscope::vmm

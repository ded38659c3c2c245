// This host's own files, read by tests independently of probes/host.cpp, so
// that what kvmscope says of the host can be checked against them.
#pragma once

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace kvmscope::test {

// A sysfs/procfs file's text without its trailing newlines; "" when absent.
inline std::string FileText(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Whether /proc/cpuinfo's flags say the CPU is virtualized.
inline bool CpuinfoHasHypervisorFlag() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("flags")) return (line + " ").find(" hypervisor ") != std::string::npos;
  }
  return false;
}

// The KVM module parameters kvmscope records, each as its recorded name
// ("kvm_intel.ept") and its sysfs file (which may not exist on this host).
struct KvmParamFile {
  std::string name;
  std::string file;
};
inline std::vector<KvmParamFile> KvmParamFiles() {
  std::vector<KvmParamFile> out;
  for (const char* mp : {"kvm_intel/ept", "kvm_intel/unrestricted_guest", "kvm_intel/enable_apicv",
                         "kvm_intel/vpid", "kvm_amd/npt", "kvm_amd/nrips", "kvm_amd/avic",
                         "kvm/tdp_mmu"}) {
    const std::string s = mp;
    const size_t slash = s.find('/');
    out.push_back({s.substr(0, slash) + "." + s.substr(slash + 1),
                   "/sys/module/" + s.substr(0, slash) + "/parameters/" + s.substr(slash + 1)});
  }
  return out;
}

}  // namespace kvmscope::test

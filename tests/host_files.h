// This host's own files, read by tests independently of probes/host.cpp, so
// that what kvmscope says of the host can be checked against them.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

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

}  // namespace kvmscope::test

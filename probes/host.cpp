// Host facts for probes/: tracefs, /proc/kallsyms, backend, kernel release.
#include "probes/host.h"

#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kvmscope::probes {

namespace {
constexpr const char* kTracefs = "/sys/kernel/tracing";

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Where a tracefs is mounted, from /proc/mounts; "" if none.
std::string MountedTracefs() {
  std::ifstream mounts("/proc/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
    if (type == "tracefs") return dir;
  }
  return {};
}
}  // namespace

std::string EnsureTracefs() {
  std::string dir = MountedTracefs();
  if (!dir.empty()) return dir;
  if (mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0) {
    int err = errno;
    throw ProbeError(fmt::format(
        "cannot mount tracefs at {}: {} ({}); tracepoints cannot be attached without it. "
        "Run as root, or mount it: mount -t tracefs nodev {}",
        kTracefs, std::strerror(err), ErrnoName(err), kTracefs));
  }
  return kTracefs;
}

bool TracepointExists(std::string_view tracefs, std::string_view category_and_name) {
  size_t colon = category_and_name.find(':');
  if (colon == std::string_view::npos) return false;
  return IsDir(fmt::format("{}/events/{}/{}", tracefs, category_and_name.substr(0, colon),
                           category_and_name.substr(colon + 1)));
}

traces::SymbolTable LoadKallsyms(const std::string& path, bool* zero_addresses) {
  std::ifstream in(path);
  if (!in) {
    throw ProbeError(fmt::format("cannot read {}: {}; kernel stacks cannot be symbolized",
                                 path, std::strerror(errno)));
  }
  traces::SymbolTable table;
  bool all_zero = true;
  std::string line;
  while (std::getline(in, line)) {
    // "ffffffffc0a1b2c0 t vmx_handle_exit\t[kvm_intel]"
    size_t sp1 = line.find(' ');
    if (sp1 == std::string::npos || sp1 + 3 >= line.size()) continue;
    char type = line[sp1 + 1];
    if (type != 't' && type != 'T' && type != 'w' && type != 'W') continue;
    uint64_t addr = std::strtoull(line.c_str(), nullptr, 16);
    std::string_view rest = std::string_view(line).substr(sp1 + 3);
    std::string_view name = rest, module;
    if (size_t tab = rest.find('\t'); tab != std::string_view::npos) {
      name = rest.substr(0, tab);
      module = rest.substr(tab + 1);
      if (module.size() >= 2 && module.front() == '[') module = module.substr(1, module.size() - 2);
    }
    if (addr != 0) all_zero = false;
    table.Add(addr, std::string(name), std::string(module));
  }
  table.Finish();
  if (zero_addresses) *zero_addresses = all_zero && table.size() > 0;
  return table;
}

Backend BackendFromSymbols(const traces::SymbolTable& symbols) {
  for (Backend b : {Backend::Vmx, Backend::Svm, Backend::Pvm}) {
    if (symbols.Has(VendorHandler(b))) return b;
  }
  return Backend::Unknown;
}

std::string KernelRelease() {
  utsname u{};
  uname(&u);
  return u.release;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("model name")) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc 2.32+
  return name ? name : std::to_string(err);
}

}  // namespace kvmscope::probes

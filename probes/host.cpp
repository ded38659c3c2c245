// Host facts for probes/: tracefs, /proc/kallsyms, backend, kernel release,
// KVM module parameters and the platform (bare metal, VM or emulator).
#include "probes/host.h"

#include <fmt/format.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <unistd.h>
#include <zlib.h>

#include <bpf/btf.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>

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

std::string HiddenAddressesWhy(const std::string& proc_sys) {
  auto read = [&](const char* name) -> std::optional<int> {
    std::ifstream in(proc_sys + "/" + name);
    int value = 0;
    if (in >> value) return value;
    return std::nullopt;
  };
  const std::optional<int> kptr = read("kptr_restrict"), paranoid = read("perf_event_paranoid");
  if (kptr && *kptr >= 2) {
    return "kernel.kptr_restrict=2 hides them from everyone, root included (sysctl "
           "kernel.kptr_restrict=1 shows them to root)";
  }
  if (kptr && *kptr == 1) {
    return "kernel.kptr_restrict=1 shows them only with CAP_SYSLOG: run as root, or add cap_syslog "
           "to kvmscope's file capabilities";
  }
  return fmt::format("kernel.perf_event_paranoid={} (above 1) shows them only with CAP_SYSLOG: run "
                     "as root, or add cap_syslog to kvmscope's file capabilities",
                     paranoid ? std::to_string(*paranoid) : "?");
}

uint64_t EffectiveCapabilities() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 16);
  }
  return 0;
}

bool TracingPrivileged(uint64_t effective) {
  auto has = [effective](int cap) { return (effective >> cap) & 1; };
  return has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
}

std::string EnsureTracefs() {
  std::string dir = MountedTracefs();
  if (!dir.empty()) {
    // Mounted, but tracefs is root's alone by default (mode 0700): a user with
    // kvmscope's file capabilities cannot read the tracepoints' ids.
    if (access((dir + "/events").c_str(), X_OK) != 0 && (errno == EACCES || errno == EPERM)) {
      throw ProbeError(fmt::format(
          "tracefs at {} is not readable by this user (it is root's alone unless mounted "
          "otherwise), so no tracepoint can be attached. The administrator lets group kvm read "
          "it: mount -o remount,gid=kvm,mode=0750 {} (README: Install on lab machines)",
          dir, dir));
    }
    return dir;
  }
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

namespace {

struct ModuleRange {
  uint64_t base = 0, end = 0;
};

// /proc/modules: "kvm_intel 380928 0 - Live 0xffffffffc0a00000 (O)".
std::unordered_map<std::string, ModuleRange> ReadModules(const std::string& path) {
  std::unordered_map<std::string, ModuleRange> modules;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, refs, users, state, base;
    uint64_t size = 0;
    if (!(fields >> name >> size >> refs >> users >> state >> base)) continue;
    uint64_t addr = std::strtoull(base.c_str(), nullptr, 16);
    if (addr != 0) modules[name] = ModuleRange{addr, addr + size};
  }
  return modules;
}

constexpr uint64_t kPage = 4096;

}  // namespace

namespace {

// One /proc/kallsyms line: "ffffffffc0a1b2c0 t vmx_handle_exit\t[kvm_intel]".
struct KallsymsEntry {
  std::string_view address;  // hex digits, zeros where the kernel hides them
  char type = 0;
  std::string_view name;
  std::string_view module;  // "" for vmlinux, else without its brackets
  bool function() const { return type == 't' || type == 'T' || type == 'w' || type == 'W'; }
};

// Calls each(entry) for every well-formed line of a kallsyms file. Throws
// ProbeError (what it could not read, then `consequence`) if it cannot be
// opened.
template <typename Each>
void ForEachKallsyms(const std::string& path, std::string_view consequence, Each each) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) {
    throw ProbeError(fmt::format("cannot read {}: {}{}", path, std::strerror(errno), consequence));
  }
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);  // fewer reads: each one costs the kernel a walk
  char line[1024];  // a name is at most KSYM_NAME_LEN (512) bytes
  while (std::fgets(line, sizeof line, f)) {
    const char* sp = std::strchr(line, ' ');
    if (!sp || !sp[1] || sp[2] != ' ') continue;
    KallsymsEntry e{std::string_view(line, static_cast<size_t>(sp - line)), sp[1], {}, {}};
    std::string_view rest(sp + 3);
    if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
    e.name = rest.substr(0, rest.find('\t'));
    if (e.name.size() < rest.size()) {
      e.module = rest.substr(e.name.size() + 1);
      if (e.module.size() >= 2 && e.module.front() == '[') {
        e.module = e.module.substr(1, e.module.size() - 2);
      }
    }
    each(e);
  }
  std::fclose(f);
}

bool AllZero(std::string_view digits) { return digits.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

traces::SymbolTable LoadKallsyms(const std::string& path, bool* zero_addresses,
                                 const std::string& modules_path) {
  std::vector<traces::Symbol> functions;
  std::vector<uint64_t> entries;  // every entry's address, of any type: the bounds
  bool all_zero = true;
  ForEachKallsyms(path, "; kernel stacks cannot be symbolized", [&](const KallsymsEntry& e) {
    const uint64_t addr = std::strtoull(e.address.data(), nullptr, 16);
    entries.push_back(addr);
    if (!e.function()) return;
    if (addr != 0) all_zero = false;
    functions.push_back(traces::Symbol{addr, traces::DisplayName(e.name, e.module),
                                       std::string(e.module), 0});
  });
  std::sort(entries.begin(), entries.end());
  const std::unordered_map<std::string, ModuleRange> modules = ReadModules(modules_path);
  traces::SymbolTable table;
  for (traces::Symbol& s : functions) {
    auto next = std::upper_bound(entries.begin(), entries.end(), s.addr);
    // Nothing after it (the last BPF image, say): no further than its page.
    s.end = next != entries.end() ? *next : (s.addr / kPage + 1) * kPage;
    if (auto m = modules.find(s.module);
        m != modules.end() && s.addr >= m->second.base && s.addr < m->second.end) {
      s.end = std::min(s.end, m->second.end);
    }
    table.Add(std::move(s));
  }
  table.Finish();
  if (zero_addresses) *zero_addresses = all_zero && table.size() > 0;
  return table;
}

namespace {

template <typename Has>
Backend BackendWhere(Has has) {
  for (Backend b : {Backend::Vmx, Backend::Svm, Backend::Pvm}) {
    if (has(VendorHandler(b))) return b;
  }
  return Backend::Unknown;
}

}  // namespace

Backend BackendFromSymbols(const traces::SymbolTable& symbols) {
  return BackendWhere([&](std::string_view name) { return symbols.Has(name); });
}

Backend BackendFromFunctions(const std::set<std::string, std::less<>>& functions) {
  return BackendWhere([&](std::string_view name) { return functions.contains(name); });
}

std::set<std::string, std::less<>> KallsymsFunctions(const std::vector<std::string>& names,
                                                     bool* zero_addresses,
                                                     const std::string& path) {
  const std::set<std::string_view, std::less<>> wanted(names.begin(), names.end());
  std::set<std::string, std::less<>> found;
  bool any_function = false, all_zero = true;
  ForEachKallsyms(path, "", [&](const KallsymsEntry& e) {
    if (!e.function()) return;
    any_function = true;
    if (all_zero && !AllZero(e.address)) all_zero = false;
    if (wanted.contains(e.name)) found.emplace(e.name);
  });
  if (zero_addresses) *zero_addresses = all_zero && any_function;
  return found;
}

std::string KernelRelease() {
  utsname u{};
  uname(&u);
  return u.release;
}

namespace {
// The first "key\t: value" line's value in a /proc/cpuinfo-style file;
// nullopt when the file cannot be read, "" when the key is absent.
std::optional<std::string> CpuinfoField(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.find_first_not_of(" \t", key.size()) != colon) continue;
    size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// A sysfs file's text without its trailing newline; nullopt when absent.
std::optional<std::string> ReadSysfs(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool Contains(std::string_view text, std::string_view word) {
  auto it = std::search(text.begin(), text.end(), word.begin(), word.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return !word.empty() && it != text.end();
}

// CPUID 0x40000000's 12-byte signature, trailing NULs dropped; "" when the
// CPU has no hypervisor leaf or it is not printable text.
std::string HypervisorSignature() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __cpuid(0x40000000, eax, ebx, ecx, edx);
  if (eax < 0x40000000) return "";
  char text[12];
  std::memcpy(text, &ebx, 4);
  std::memcpy(text + 4, &ecx, 4);
  std::memcpy(text + 8, &edx, 4);
  std::string sig(text, 12);
  while (!sig.empty() && sig.back() == '\0') sig.pop_back();
  for (char c : sig) {
    if (c < 0x20 || c > 0x7e) return "";
  }
  return sig;
#else
  return "";
#endif
}

// The hypervisor a CPUID signature names; "" when not one kvmscope knows.
std::string_view HypervisorName(std::string_view sig) {
  constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"KVMKVMKVM", "KVM"},       {"Microsoft Hv", "Hyper-V"},    {"VMwareVMware", "VMware"},
      {"XenVMMXenVMM", "Xen"},    {"VBoxVBoxVBox", "VirtualBox"}, {"bhyve bhyve ", "bhyve"},
      {"ACRNACRNACRN", "ACRN"}};
  for (auto [signature, name] : kNames) {
    if (sig == signature) return name;
  }
  return "";
}
}  // namespace

std::string CpuModel() { return CpuinfoField("/proc/cpuinfo", "model name").value_or(""); }

std::map<std::string, std::string> KvmModuleParams(const std::string& sys_module) {
  constexpr std::pair<std::string_view, std::string_view> kParams[] = {
      {"kvm_intel", "ept"}, {"kvm_intel", "unrestricted_guest"}, {"kvm_intel", "enable_apicv"},
      {"kvm_intel", "vpid"}, {"kvm_amd", "npt"},                 {"kvm_amd", "nrips"},
      {"kvm_amd", "avic"},  {"kvm", "tdp_mmu"}};
  std::map<std::string, std::string> params;
  for (auto [module, param] : kParams) {
    if (std::optional<std::string> value =
            ReadSysfs(fmt::format("{}/{}/parameters/{}", sys_module, module, param))) {
      params[fmt::format("{}.{}", module, param)] = *value;
    }
  }
  return params;
}

PlatformEvidence ReadPlatformEvidence(const PlatformPlaces& places) {
  PlatformEvidence e;
  std::optional<std::string> flags = CpuinfoField(places.cpuinfo, "flags");
  e.cpuinfo = flags.has_value();
  if (flags) {
    std::istringstream words(*flags);
    std::string word;
    while (words >> word) e.hypervisor_flag = e.hypervisor_flag || word == "hypervisor";
  }
  e.cpu_model = CpuinfoField(places.cpuinfo, "model name").value_or("");
  // The signature leaf is defined only when the hypervisor bit is set.
  if (places.cpuid && e.hypervisor_flag) e.cpuid_signature = HypervisorSignature();
  e.dmi = IsDir(places.dmi);
  e.sys_vendor = ReadSysfs(places.dmi + "/sys_vendor").value_or("");
  e.product_name = ReadSysfs(places.dmi + "/product_name").value_or("");
  e.bios_vendor = ReadSysfs(places.dmi + "/bios_vendor").value_or("");
  return e;
}

// Measured on the test hosts (Debian's 6.1 kernel inside): QEMU 7.2 TCG
// (-cpu qemu64,+svm,+npt, q35) sets the hypervisor flag and signs
// "TCGTCGTCGTCG", DMI sys_vendor "QEMU", product_name "Standard PC (Q35 +
// ICH9, 2009)", bios_vendor "SeaBIOS"; Bochs 2.7 (corei7_skylake_x) has no
// hypervisor flag, DMI bios_vendor "The Bochs Project" with empty
// sys_vendor and product_name, and the model name "Intel(R) Core(TM)
// i7-7800X CPU @ 3.50GHz". This machine (PVM in a KVM VM): the flag,
// "KVMKVMKVM", no DMI.
Platform ClassifyPlatform(const PlatformEvidence& e) {
  std::vector<std::string> said;
  if (!e.cpuinfo) {
    said.push_back("cpuinfo: unreadable");
  } else {
    said.push_back(e.hypervisor_flag ? "cpuinfo: hypervisor flag" : "cpuinfo: no hypervisor flag");
  }
  if (!e.cpuid_signature.empty()) {
    said.push_back(fmt::format("CPUID 0x40000000: '{}'", e.cpuid_signature));
  }
  if (!e.dmi) {
    said.push_back("DMI: none");
  } else {
    std::vector<std::string> dmi;
    for (auto [what, value] : {std::pair<const char*, const std::string&>{"sys_vendor", e.sys_vendor},
                               {"product_name", e.product_name},
                               {"bios_vendor", e.bios_vendor}}) {
      if (!value.empty()) dmi.push_back(fmt::format("{} '{}'", what, value));
    }
    said.push_back(dmi.empty() ? "DMI: empty" : "DMI: " + fmt::format("{}", fmt::join(dmi, ", ")));
  }
  if (!e.cpu_model.empty()) said.push_back(fmt::format("model name '{}'", e.cpu_model));
  Platform p;
  p.evidence = fmt::format("{}", fmt::join(said, "; "));
  const bool dmi_bochs = Contains(e.sys_vendor, "bochs") || Contains(e.product_name, "bochs") ||
                         Contains(e.bios_vendor, "bochs");
  const bool dmi_qemu = Contains(e.sys_vendor, "qemu") || Contains(e.product_name, "qemu");
  if (e.cpuid_signature == "TCGTCGTCGTCG") {
    p.name = "emulator (QEMU TCG)";
  } else if (std::string_view hv = HypervisorName(e.cpuid_signature); !hv.empty()) {
    p.name = fmt::format("virtual machine ({})", hv);
  } else if (!e.cpuid_signature.empty()) {
    p.name = fmt::format("virtual machine (hypervisor '{}')", e.cpuid_signature);
  } else if (dmi_bochs || Contains(e.cpu_model, "bochs")) {
    p.name = "emulator (Bochs)";
  } else if (dmi_qemu || Contains(e.cpu_model, "qemu")) {
    // QEMU with KVM signs "KVMKVMKVM"; without a signature it is TCG.
    p.name = "emulator (QEMU TCG)";
  } else if (e.hypervisor_flag) {
    p.name = "virtual machine (unknown hypervisor)";
  } else if (e.cpuinfo) {
    p.name = "bare metal";
  } else {
    p.name = "unknown";
  }
  return p;
}

Platform DetectPlatform(const PlatformPlaces& places) {
  return ClassifyPlatform(ReadPlatformEvidence(places));
}

void AddPlatformFacts(traces::HostFacts& host) {
  host.module_params = KvmModuleParams();
  const Platform platform = DetectPlatform();
  host.platform = platform.name;
  host.platform_evidence = platform.evidence;
}

std::string KernelConfigLine(std::string_view option, const KernelPlaces& places) {
  const std::string set = fmt::format("{}=", option);
  const std::string unset = fmt::format("# {} is not set", option);
  for (std::string path : places.configs) {
    if (path.empty()) path = "/boot/config-" + KernelRelease();
    gzFile file = gzopen(path.c_str(), "rb");  // reads plain files too
    if (!file) continue;
    char buf[512];
    std::string found;
    while (gzgets(file, buf, sizeof buf)) {
      std::string_view l(buf);
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
      if (l.starts_with(set) || l == unset) {
        found = fmt::format("{}: '{}'", path, l);
        break;
      }
    }
    gzclose(file);
    if (!found.empty()) return found;
  }
  return "";
}

std::string Describe(int err) { return fmt::format("{} ({})", ErrnoName(err), std::strerror(err)); }

namespace {
// /sys/kernel/debug/kprobes/blacklist: "0xffffffff81001000-0xffffffff81001020\tfunction".
bool Blacklisted(std::string_view function, const std::string& path) {
  std::ifstream in(path);
  std::string range, name;
  while (in >> range >> name) {
    if (name == function) return true;
  }
  return false;
}
}  // namespace

std::string KprobeRefusal(int err, std::string_view function, bool in_kallsyms,
                          const KernelPlaces& places) {
  const std::string what = fmt::format("kprobe on {}: attach failed: {}", function, Describe(err));
  if ((err == EPERM || err == EACCES) && !places.privileged) {
    return what + ": not permitted: attaching kprobes needs root (or CAP_PERFMON and CAP_BPF)";
  }
  if (!IsDir(places.kprobe_pmu)) {
    std::string config = KernelConfigLine("CONFIG_KPROBES", places);
    return fmt::format("{}: this kernel has no kprobes (no kprobe PMU: {} is absent{}{})", what,
                       places.kprobe_pmu, config.empty() ? "" : "; ", config);
  }
  if (!in_kallsyms) {
    return fmt::format("{}: {} is not in /proc/kallsyms (inlined, or not in this kernel), so it "
                       "cannot be probed",
                       what, function);
  }
  if (Blacklisted(function, places.kprobe_blacklist)) {
    return fmt::format("{}: {} cannot be probed: it is on the kprobe blacklist ({})", what,
                       function, places.kprobe_blacklist);
  }
  if (err == ENOENT || err == EINVAL || err == EILSEQ) {
    return fmt::format("{}: this kernel has kprobes but refuses a probe on {} (a notrace "
                       "function, or an address kprobes cannot use)",
                       what, function);
  }
  return what;
}

std::string FentryRefusal(int err, std::string_view function, std::string_view libbpf_log,
                          const KernelPlaces& places) {
  if (access(places.btf.c_str(), R_OK) != 0) {
    std::string config = KernelConfigLine("CONFIG_DEBUG_INFO_BTF", places);
    return fmt::format("fentry: no kernel BTF ({} is absent{}{}); fentry needs it", places.btf,
                       config.empty() ? "" : "; ", config);
  }
  const std::string what = fmt::format("fentry on {}: {}", function, Describe(err));
  if (libbpf_log.find("failed to find kernel BTF type ID") != std::string_view::npos ||
      err == ESRCH) {
    return fmt::format("{}: the attach target {} is not in the kernel's BTF (inlined, or in a "
                       "module without BTF)",
                       what, function);
  }
  if ((err == EPERM || err == EACCES) && !places.privileged) {
    return what + ": not permitted: BPF tracing programs need root (or CAP_BPF and CAP_PERFMON)";
  }
  return fmt::format("{}{}: the kernel refuses BPF tracing programs (BPF_PROG_TYPE_TRACING: "
                     "fentry/fexit) on this kernel",
                     what, !places.privileged      ? ""
                     : geteuid() == 0 ? " as root"
                                      : " with CAP_BPF and CAP_PERFMON");
}

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc 2.32+
  return name ? name : std::to_string(err);
}

namespace {

// The argument string of typedef btf_trace_EVENT in `b` (TracepointArgs).
std::string ProbeArgs(const btf* b, std::string_view event) {
  const std::string name = fmt::format("btf_trace_{}", event);
  int id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_TYPEDEF);
  if (id < 0) return "";
  const btf_type* t = btf__type_by_id(b, btf__type_by_id(b, id)->type);
  if (!t || !btf_is_ptr(t)) return "";
  t = btf__type_by_id(b, t->type);
  if (!t || !btf_is_func_proto(t)) return "";
  std::string args;
  const btf_param* params = btf_params(t);
  for (int i = 1; i < btf_vlen(t); ++i) {  // the first is the probe's data
    int arg = btf__resolve_type(b, params[i].type);
    const btf_type* a = arg < 0 ? nullptr : btf__type_by_id(b, arg);
    long size = a && !btf_is_ptr(a) ? btf__resolve_size(b, arg) : 0;
    if (a && btf_is_ptr(a)) {
      args += 'p';
    } else if (size == 1 || size == 2 || size == 4 || size == 8) {
      args += static_cast<char>('0' + size);
    } else {
      args += '?';  // a struct by value, or unreadable: matches no program
    }
  }
  return args;
}

}  // namespace

TracepointArgs::TracepointArgs(std::string btf_dir) : dir_(std::move(btf_dir)) {}

TracepointArgs::~TracepointArgs() {
  btf__free(kvm_);
  btf__free(vmlinux_);
}

std::string TracepointArgs::Of(std::string_view event) {
  if (!vmlinux_tried_) {
    vmlinux_tried_ = true;
    vmlinux_ = btf__parse((dir_ + "/vmlinux").c_str(), nullptr);  // NULL on failure
  }
  if (!vmlinux_) return "";
  if (std::string args = ProbeArgs(vmlinux_, event); !args.empty()) return args;
  if (!kvm_tried_) {  // KVM built as a module: its tracepoints are in its BTF
    kvm_tried_ = true;
    kvm_ = btf__parse_split((dir_ + "/kvm").c_str(), vmlinux_);
  }
  return kvm_ ? ProbeArgs(kvm_, event) : "";
}

}  // namespace kvmscope::probes

// What probes/ reads from the host, each in one place: tracefs (mounted on
// demand), /proc/kallsyms (into a traces::SymbolTable), the KVM backend as
// told by its exit handler's symbol, and the kernel release.
#pragma once

#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "probes/plan.h"
#include "traces/symbols.h"

namespace kvmscope::probes {

// A probe failure that the user can act on: the message says what failed,
// why, and what to try.
class ProbeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The tracefs mount point, mounting tracefs at /sys/kernel/tracing when no
// tracefs is mounted yet (libbpf needs it to attach tracepoints). Throws
// ProbeError when that fails.
std::string EnsureTracefs();
// Whether tracefs has events/CATEGORY/NAME ("kvm:kvm_pio" form).
bool TracepointExists(std::string_view tracefs, std::string_view category_and_name);

// Function symbols (t/T/w/W) of /proc/kallsyms, module symbols included,
// each bounded (Symbol::end) by the next kallsyms entry of any type and by
// its module's end from `modules_path` (/proc/modules: base and size).
// BPF programs and trampolines ("[bpf]") get their DisplayName. Throws
// ProbeError if kallsyms cannot be read (/proc/modules is optional).
// `zero_addresses` is set when the kernel hid the addresses (kptr_restrict,
// not root).
traces::SymbolTable LoadKallsyms(const std::string& path = "/proc/kallsyms",
                                 bool* zero_addresses = nullptr,
                                 const std::string& modules_path = "/proc/modules");

// Where the kernel says why a probe cannot attach; the defaults are the real
// places, tests point them at files of their own.
struct KernelPlaces {
  std::string kprobe_pmu = "/sys/bus/event_source/devices/kprobe";
  std::string kprobe_blacklist = "/sys/kernel/debug/kprobes/blacklist";
  std::string btf = "/sys/kernel/btf/vmlinux";
  // Kernel configs to quote from, first readable wins ("" = /boot/config-$(uname -r)).
  std::vector<std::string> configs = {"/proc/config.gz", ""};
  // Running as root: EPERM is then the kernel's refusal, not missing privileges.
  bool root = geteuid() == 0;
};
// The line of the kernel config that sets `option` ("# CONFIG_KPROBES is not
// set", "CONFIG_KPROBES=y") and the file it came from; "" when no config is
// readable or the option is not in it. Reads gzip'd and plain files.
std::string KernelConfigLine(std::string_view option, const KernelPlaces& places = {});
// Why attaching a kprobe on `function` failed with `err`, as the kernel's own
// state tells it: no kprobe PMU (no kprobes in this kernel, with the config
// line), the function blacklisted or not probeable, not in kallsyms,
// privileges, or the errno itself.
std::string KprobeRefusal(int err, std::string_view function, bool in_kallsyms,
                          const KernelPlaces& places = {});
// Why loading/attaching an fentry program on `function` failed with `err`,
// given what libbpf logged: no BTF, the target not in BTF, or the program
// type refused by the kernel.
std::string FentryRefusal(int err, std::string_view function, std::string_view libbpf_log,
                          const KernelPlaces& places = {});

// The backend whose vendor exit handler is among the symbols.
Backend BackendFromSymbols(const traces::SymbolTable& symbols);

std::string KernelRelease();
// The host CPU's "model name" from /proc/cpuinfo, "" when unreadable.
std::string CpuModel();

// "ENOENT" for 2, "EPERM" for 1, ...; the number when unknown.
std::string ErrnoName(int err);

}  // namespace kvmscope::probes

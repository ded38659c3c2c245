// What probes/ reads from the host, each in one place: tracefs (mounted on
// demand), /proc/kallsyms (into a traces::SymbolTable), the KVM backend as
// told by its exit handler's symbol, and the kernel release.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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

// Function symbols (t/T/w/W) of /proc/kallsyms, module symbols included.
// Throws ProbeError if the file cannot be read. `zero_addresses` is set when
// the kernel hid the addresses (kptr_restrict, not root).
traces::SymbolTable LoadKallsyms(const std::string& path = "/proc/kallsyms",
                                 bool* zero_addresses = nullptr);

// The backend whose vendor exit handler is among the symbols.
Backend BackendFromSymbols(const traces::SymbolTable& symbols);

std::string KernelRelease();
// The host CPU's "model name" from /proc/cpuinfo, "" when unreadable.
std::string CpuModel();

// "ENOENT" for 2, "EPERM" for 1, ...; the number when unknown.
std::string ErrnoName(int err);

}  // namespace kvmscope::probes

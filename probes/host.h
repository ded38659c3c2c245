// What probes/ reads from the host, each in one place: tracefs (mounted on
// demand), /proc/kallsyms (into a traces::SymbolTable), the KVM backend as
// told by its exit handler's symbol, the kernel release, the KVM modules'
// parameters and what runs the host (bare metal, a VM, an emulator).
#pragma once

#include <unistd.h>

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "probes/plan.h"
#include "traces/symbols.h"
#include "traces/trace.h"

struct btf;  // libbpf's

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

// The arguments a tracepoint's probes get on the running kernel, as its BTF
// declares them (typedef btf_trace_EVENT: the tracepoint's TP_PROTO after
// the probe's data pointer), one character each: an integer's size in bytes
// ('1', '2', '4', '8') or 'p' for a pointer; kvm_msr(unsigned write, u32 ecx,
// u64 data, bool exception) is "4481". A raw-tracepoint program reads its
// arguments by position, so the loader attaches one only where they are what
// it reads. Looks in BTF_DIR/vmlinux, then in the kvm module's BTF; "" where
// neither declares the event (or the kernel has no BTF).
class TracepointArgs {
 public:
  explicit TracepointArgs(std::string btf_dir = "/sys/kernel/btf");
  ~TracepointArgs();
  TracepointArgs(const TracepointArgs&) = delete;
  TracepointArgs& operator=(const TracepointArgs&) = delete;
  std::string Of(std::string_view event);  // "kvm_msr", "sys_enter"

 private:
  std::string dir_;
  ::btf* vmlinux_ = nullptr;
  ::btf* kvm_ = nullptr;
  bool vmlinux_tried_ = false, kvm_tried_ = false;
};

// Why the kernel hides its addresses in /proc/kallsyms from this process, by
// the kernel's rule (kallsyms_show_value): kernel.kptr_restrict 2 hides them
// from everyone; 1 shows them with CAP_SYSLOG only; 0 also to anyone when
// kernel.perf_event_paranoid is 1 or less. The sysctls are read under
// `proc_sys` (tests point it elsewhere).
std::string HiddenAddressesWhy(const std::string& proc_sys = "/proc/sys/kernel");
// This process's effective capabilities (CapEff of /proc/self/status).
uint64_t EffectiveCapabilities();
// Whether this process may load and attach BPF tracing programs: root's
// capabilities, or CAP_BPF and CAP_PERFMON (a lab room's file capabilities).
bool TracingPrivileged(uint64_t effective = EffectiveCapabilities());

// Where the kernel says why a probe cannot attach; the defaults are the real
// places, tests point them at files of their own.
struct KernelPlaces {
  std::string kprobe_pmu = "/sys/bus/event_source/devices/kprobe";
  std::string kprobe_blacklist = "/sys/kernel/debug/kprobes/blacklist";
  std::string btf = "/sys/kernel/btf/vmlinux";
  // Kernel configs to quote from, first readable wins ("" = /boot/config-$(uname -r)).
  std::vector<std::string> configs = {"/proc/config.gz", ""};
  // Privileged for tracing (root, or CAP_BPF and CAP_PERFMON): EPERM is then
  // the kernel's refusal, not missing privileges.
  bool privileged = TracingPrivileged();
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
// The same from a set of function names (KallsymsFunctions).
Backend BackendFromFunctions(const std::set<std::string, std::less<>>& functions);

// Which of `names` /proc/kallsyms lists as functions (t/T/w/W, module
// symbols included), in one pass that keeps nothing else: what must be
// known before attaching (the backend, the probe points), where the whole
// table is read once, after attaching, when the BPF programs are in it.
// `zero_addresses` as LoadKallsyms. Throws ProbeError if it cannot be read.
std::set<std::string, std::less<>> KallsymsFunctions(const std::vector<std::string>& names,
                                                     bool* zero_addresses = nullptr,
                                                     const std::string& path = "/proc/kallsyms");

std::string KernelRelease();
// The host CPU's "model name" from /proc/cpuinfo, "" when unreadable.
std::string CpuModel();

// The KVM modules' parameters that change what KVM does (kvm_intel ept,
// unrestricted_guest, enable_apicv, vpid; kvm_amd npt, nrips, avic; kvm
// tdp_mmu), "module.param" → the text of
// <sys_module>/<module>/parameters/<param> without its newline. Files that
// do not exist (the module not loaded, an older kernel) are simply absent.
std::map<std::string, std::string> KvmModuleParams(const std::string& sys_module = "/sys/module");

// What tells whether the host's CPU is real, virtualized or emulated.
struct PlatformEvidence {
  bool cpuinfo = false;         // /proc/cpuinfo was readable
  bool hypervisor_flag = false;  // its "flags" have "hypervisor" (CPUID.1:ECX bit 31)
  // CPUID 0x40000000's signature when the flag is set: "KVMKVMKVM" (KVM),
  // "TCGTCGTCGTCG" (QEMU's TCG), "Microsoft Hv", ...; "" otherwise.
  std::string cpuid_signature;
  std::string cpu_model;  // /proc/cpuinfo "model name"
  bool dmi = false;       // /sys/class/dmi/id exists (firmware tables)
  std::string sys_vendor, product_name, bios_vendor;  // DMI; "" when absent
};
// Where ReadPlatformEvidence looks; tests point it at files of their own.
struct PlatformPlaces {
  std::string cpuinfo = "/proc/cpuinfo";
  std::string dmi = "/sys/class/dmi/id";
  bool cpuid = true;  // execute CPUID for the hypervisor signature
};
PlatformEvidence ReadPlatformEvidence(const PlatformPlaces& places = {});
struct Platform {
  // "bare metal", "virtual machine (KVM)", "emulator (QEMU TCG)", "emulator
  // (Bochs)", "virtual machine (unknown hypervisor)".
  std::string name;
  // What said so: "cpuinfo: hypervisor flag; CPUID 0x40000000: 'KVMKVMKVM';
  // DMI: none".
  std::string evidence;
};
// The decision, a pure function: a hypervisor signature names the
// hypervisor (QEMU's TCG signs as one but is an emulator); without one,
// firmware that names Bochs or QEMU is that emulator (QEMU under KVM would
// sign "KVMKVMKVM"); then a CPU model naming either; then the hypervisor
// flag alone; else bare metal. Bochs's VMX model presents a real Intel model
// name, so the model name alone never proves real hardware.
Platform ClassifyPlatform(const PlatformEvidence& evidence);
Platform DetectPlatform(const PlatformPlaces& places = {});
// Records the KVM modules' parameters and the platform in `host`: what every
// trace says of its host, traced or not.
void AddPlatformFacts(traces::HostFacts& host);

// "ENOENT" for 2, "EPERM" for 1, ...; the number when unknown.
std::string ErrnoName(int err);
// ErrnoName with the C library's text: "ENOENT (No such file or directory)".
std::string Describe(int err);

}  // namespace kvmscope::probes

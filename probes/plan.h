// The attach plan: for each probe point of the design (the run loop, the
// vendor exit handler, kvm_mmu_page_fault) which mechanism kvmscope uses on
// this kernel — kprobe, fentry, a tracepoint, or the frame seen in captured
// stacks — and, for every mechanism passed over, why. Decided by a pure
// function of what was found by trying, so it is tested on simulated hosts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmscope::probes {

enum class Backend : uint8_t { Unknown, Vmx, Svm, Pvm };
std::string_view BackendName(Backend backend);  // "VMX (Intel)", "SVM (AMD)", "PVM", "unknown"
// The vendor exit handler symbol of a backend: vmx_handle_exit, ...
std::string_view VendorHandler(Backend backend);

enum class ProbePoint : uint8_t { RunLoop, ExitHandler, MmuPageFault };
std::string_view ProbePointName(ProbePoint point);  // "run loop", ...

enum class Mechanism : uint8_t { Kprobe, Fentry, Tracepoint, Stacks, None };
std::string_view MechanismName(Mechanism mechanism);

// What the user asked for (--attach): Auto is the best mechanism per probe
// point; the others force one mechanism on the function probe points
// (Tracepoint still infers from stacks where no tracepoint fires).
enum class AttachChoice : uint8_t { Auto, Kprobe, Fentry, Tracepoint };
std::string_view AttachChoiceName(AttachChoice choice);  // "auto", "kprobe", ...
std::optional<AttachChoice> ParseAttachChoice(std::string_view name);

// The outcome of one try: ok, or the errno and a sentence saying why.
struct Try {
  bool ok = false;
  int error = 0;       // errno of the failure, 0 when ok or not tried
  std::string reason;  // "kprobe attach failed: ENOENT (the kernel has no kprobes: CONFIG_KPROBES off?)"
};

struct TracepointState {
  std::string name;     // "kvm:kvm_exit"
  bool exists = false;  // under tracefs events/
  Try attach;           // attaching a BPF program to it
  // Attached as a raw tracepoint (bpf_raw_tracepoint_open: the program runs
  // from the tracepoint with its arguments, no perf record per event).
  bool raw = false;
  // Counted by a raw-tracepoint program of its own (kvm_emulate_insn past
  // its stream budget): the perf program, if any, streams the budget and is
  // detached once it is spent.
  bool counted_raw = false;
  // Streamed until its stream budget is spent, then detached with nothing
  // left to count it (SessionOptions::count_past_budget false: KVM's own
  // statistics give the count).
  bool detached_at_budget = false;
  // Why its raw program was not used although raw tracepoints were wanted:
  // this kernel's arguments differ from what the program reads
  // ("kernel 448 (int sizes, p: pointer), program 448p"). Empty otherwise.
  std::string raw_refused = {};
  // Not attached: what its program would give comes from another
  // tracepoint's events ("kvm:kvm_userspace_exit" for sys_exit_ioctl's
  // KVM_RUN return, traces::kRunFromUserspaceExit), or from kvmscope's own
  // VMM (kRunEnterFromVmm for sys_enter_ioctl's KVM_RUN entry,
  // traces::kRunFromVmm). attach.ok then says that the other one attached.
  std::string taken_from = {};
};

// TracepointState::taken_from of sys_enter_ioctl when kvmscope's VMM makes
// KVM_RUN's entries (SessionOptions::run_enter_from_vmm).
inline constexpr std::string_view kRunEnterFromVmm = "kvmscope's VMM, just before each KVM_RUN";

// What was found on the host, by trying.
struct Capabilities {
  std::string kernel_release;
  Backend backend = Backend::Unknown;
  std::string vendor_handler;  // the vendor exit handler found in /proc/kallsyms, "" if none
  bool mmu_page_fault_symbol = false;  // kvm_mmu_page_fault in /proc/kallsyms
  bool btf = false;                    // /sys/kernel/btf/vmlinux
  // Why /proc/kallsyms shows this process zero addresses (HiddenAddressesWhy),
  // "" when it shows them: stacks could not be named, so none are taken.
  std::string kernel_addresses_hidden;
  Try kprobe_run;       // kprobe + kretprobe on kvm_arch_vcpu_ioctl_run
  Try kprobe_handler;   // kprobe on the vendor handler
  Try kprobe_mmu;       // kprobe on kvm_mmu_page_fault
  Try fentry;           // loading an fentry program
  std::vector<TracepointState> tracepoints;

  const TracepointState* Tracepoint(std::string_view name) const;
  bool TracepointWorks(std::string_view name) const;
};

// The tracepoints kvmscope attaches wherever they exist, in display order.
const std::vector<std::string_view>& KvmTracepoints();

struct PlanEntry {
  ProbePoint point = ProbePoint::RunLoop;
  std::string target;  // the kernel function of the design: "pvm_handle_exit"
  Mechanism mechanism = Mechanism::None;
  std::string how;                  // "syscalls:sys_enter_ioctl/sys_exit_ioctl with cmd KVM_RUN"
  std::vector<std::string> passed;  // one line per better mechanism passed over, with why
};

struct AttachPlan {
  AttachChoice requested = AttachChoice::Auto;
  std::vector<PlanEntry> entries;  // RunLoop, ExitHandler, MmuPageFault
  std::vector<std::string> tracepoints;  // attached: "kvm:kvm_pio", ...
  std::vector<std::string> raw;          // of the attached (and the syscall edges), the raw ones
  std::vector<std::string> counted_raw;  // of the attached, those a raw program counts
  std::vector<std::string> detached_at_budget;  // of the attached, those detached with their budget
  // Not attached, their events made from another's: "syscalls:sys_exit_ioctl
  // (from kvm:kvm_userspace_exit)" (TracepointState::taken_from).
  std::vector<std::string> taken_from;
  std::vector<std::string> missing;      // not attached, with why
  std::string stacks_off;                // why no kernel stacks are taken at all, "" when they are
  // Whether the kernel side can be traced at all (the run loop is covered).
  bool usable() const;
  const PlanEntry& entry(ProbePoint point) const;
};

AttachPlan PlanAttach(const Capabilities& caps, AttachChoice requested = AttachChoice::Auto);
// Why a forced plan cannot trace KVM_RUN: "--attach kprobe: kprobes cannot
// attach here: ..."; "" when the plan is usable or was not forced.
std::string ForcedRefusal(const AttachPlan& plan);
// The plan as indented lines, for doctor, run and trace files.
std::vector<std::string> DescribePlan(const AttachPlan& plan);
// Whether PlanAttach will take the run loop at the system-call edge: no
// kprobe or fentry on kvm_arch_vcpu_ioctl_run that `choice` lets it use.
// Needs only caps.kprobe_run, caps.fentry and caps.btf.
bool RunLoopAtSyscallEdge(const Capabilities& caps, AttachChoice choice);
// One badge-sized summary: "run loop: tracepoint · exit handler: stacks · mmu: stacks",
// followed by " (forced: --attach tracepoint)" when forced.
std::string PlanSummary(const AttachPlan& plan);

}  // namespace kvmscope::probes

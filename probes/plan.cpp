// The attach plan's decision rules, from DESIGN.md's probe-point table:
// kprobe, then fentry, then a tracepoint, then the frame in captured stacks.
#include "probes/plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvmscope::probes {

std::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::Vmx: return "VMX (Intel)";
    case Backend::Svm: return "SVM (AMD)";
    case Backend::Pvm: return "PVM";
    case Backend::Unknown: break;
  }
  return "unknown";
}

std::string_view VendorHandler(Backend backend) {
  switch (backend) {
    case Backend::Vmx: return "vmx_handle_exit";
    case Backend::Svm: return "svm_handle_exit";
    case Backend::Pvm: return "pvm_handle_exit";
    case Backend::Unknown: break;
  }
  return "";
}

std::string_view ProbePointName(ProbePoint point) {
  switch (point) {
    case ProbePoint::RunLoop: return "run loop";
    case ProbePoint::ExitHandler: return "exit handler";
    case ProbePoint::MmuPageFault: return "page fault";
  }
  return "?";
}

std::string_view MechanismName(Mechanism mechanism) {
  switch (mechanism) {
    case Mechanism::Kprobe: return "kprobe";
    case Mechanism::Fentry: return "fentry";
    case Mechanism::Tracepoint: return "tracepoint";
    case Mechanism::Stacks: return "stacks";
    case Mechanism::None: return "none";
  }
  return "?";
}

std::string_view AttachChoiceName(AttachChoice choice) {
  switch (choice) {
    case AttachChoice::Auto: return "auto";
    case AttachChoice::Kprobe: return "kprobe";
    case AttachChoice::Fentry: return "fentry";
    case AttachChoice::Tracepoint: return "tracepoint";
  }
  return "?";
}

std::optional<AttachChoice> ParseAttachChoice(std::string_view name) {
  for (AttachChoice c : {AttachChoice::Auto, AttachChoice::Kprobe, AttachChoice::Fentry,
                         AttachChoice::Tracepoint}) {
    if (AttachChoiceName(c) == name) return c;
  }
  return std::nullopt;
}

const TracepointState* Capabilities::Tracepoint(std::string_view name) const {
  auto it = std::find_if(tracepoints.begin(), tracepoints.end(),
                         [&](const TracepointState& t) { return t.name == name; });
  return it == tracepoints.end() ? nullptr : &*it;
}

bool Capabilities::TracepointWorks(std::string_view name) const {
  const TracepointState* t = Tracepoint(name);
  return t && t->exists && t->attach.ok;
}

const std::vector<std::string_view>& KvmTracepoints() {
  static const std::vector<std::string_view> names = {
      "kvm:kvm_entry",         "kvm:kvm_exit",        "kvm:kvm_userspace_exit",
      "kvm:kvm_pio",           "kvm:kvm_mmio",        "kvm:kvm_emulate_insn",
      "kvm:kvm_inj_exception", "kvm:kvm_inj_virq",    "kvm:kvm_cpuid",
      "kvm:kvm_msr",           "kvm:kvm_hypercall",   "kvm:kvm_page_fault",
      "kvmmmu:kvm_mmu_pagetable_walk", "kvmmmu:kvm_mmu_set_spte",
      "kvmmmu:kvm_mmu_walker_error",
  };
  return names;
}

bool AttachPlan::usable() const {
  return !entries.empty() && entries.front().mechanism != Mechanism::None;
}

const PlanEntry& AttachPlan::entry(ProbePoint point) const {
  return entries.at(static_cast<size_t>(point));
}

namespace {

std::string TracepointWhy(const Capabilities& caps, std::string_view name) {
  const TracepointState* t = caps.Tracepoint(name);
  if (!t || !t->exists) return fmt::format("{}: not in this kernel", name);
  return fmt::format("{}: {}", name, t->attach.reason);
}

// Kprobe, then fentry on the entry's target, as far as `choice` allows;
// true when one was chosen.
bool TryFunctionProbes(PlanEntry& e, const Capabilities& caps, AttachChoice choice,
                       const Try& kprobe, bool symbol_known, std::string_view kprobe_how,
                       std::string_view fentry_how) {
  if (choice == AttachChoice::Tracepoint) {
    e.passed.push_back("kprobe, fentry: not used (--attach tracepoint)");
    return false;
  }
  if (!symbol_known) {
    e.passed.push_back(fmt::format("kprobe, fentry: no {} in /proc/kallsyms", e.target));
    return false;
  }
  if (choice != AttachChoice::Fentry) {
    if (kprobe.ok) {
      e.mechanism = Mechanism::Kprobe;
      e.how = kprobe_how;
      return true;
    }
    e.passed.push_back(kprobe.reason);
  }
  if (choice != AttachChoice::Kprobe) {
    if (caps.fentry.ok && caps.btf) {
      e.mechanism = Mechanism::Fentry;
      e.how = fentry_how;
      return true;
    }
    e.passed.push_back(caps.btf ? caps.fentry.reason
                                : std::string("fentry: no kernel BTF (/sys/kernel/btf/vmlinux)"));
  }
  return false;
}

// A forced kprobe or fentry that could not be had: the point is not traced
// (falling back would not be what was asked for).
bool ForcedAndRefused(PlanEntry& e, AttachChoice choice) {
  if (choice != AttachChoice::Kprobe && choice != AttachChoice::Fentry) return false;
  e.mechanism = Mechanism::None;
  e.how = fmt::format("not traced: --attach {} was asked for and the kernel refused it",
                      AttachChoiceName(choice));
  return true;
}

bool VendorEmitsExitTracepoints(Backend backend) {
  return backend == Backend::Vmx || backend == Backend::Svm;
}

PlanEntry PlanRunLoop(const Capabilities& caps, AttachChoice choice) {
  PlanEntry e;
  e.point = ProbePoint::RunLoop;
  e.target = "kvm_arch_vcpu_ioctl_run";
  if (TryFunctionProbes(e, caps, choice, caps.kprobe_run, true,
                        "kprobe + kretprobe on kvm_arch_vcpu_ioctl_run",
                        "fentry + fexit on kvm_arch_vcpu_ioctl_run") ||
      ForcedAndRefused(e, choice)) {
    return e;
  }
  if (caps.TracepointWorks("syscalls:sys_enter_ioctl") &&
      caps.TracepointWorks("syscalls:sys_exit_ioctl")) {
    e.mechanism = Mechanism::Tracepoint;
    const std::string& enter = caps.Tracepoint("syscalls:sys_enter_ioctl")->taken_from;
    const std::string& exit = caps.Tracepoint("syscalls:sys_exit_ioctl")->taken_from;
    if (enter.empty() && exit.empty()) {
      e.how = "syscalls:sys_enter_ioctl/sys_exit_ioctl with cmd KVM_RUN: the same span at the "
              "system-call edge";
      return e;
    }
    std::string entry = enter.empty() ? "syscalls:sys_enter_ioctl with cmd KVM_RUN"
                                      : fmt::format("its entry made by {}", enter);
    std::string ret = exit.empty()
                          ? "its return from syscalls:sys_exit_ioctl"
                          : fmt::format("its return from {} (fired as kvm_arch_vcpu_ioctl_run "
                                        "returns, with its result)",
                                        exit);
    e.how = fmt::format("{}, and {}: the same span at the system-call edge", entry, ret);
    return e;
  }
  e.passed.push_back(TracepointWhy(caps, "syscalls:sys_enter_ioctl"));
  e.how = "KVM_RUN spans cannot be traced here";
  return e;
}

PlanEntry PlanExitHandler(const Capabilities& caps, AttachChoice choice) {
  PlanEntry e;
  e.point = ProbePoint::ExitHandler;
  e.target = caps.vendor_handler.empty() ? "vmx/svm/pvm_handle_exit" : caps.vendor_handler;
  if (TryFunctionProbes(e, caps, choice, caps.kprobe_handler, !caps.vendor_handler.empty(),
                        fmt::format("kprobe on {}", e.target),
                        fmt::format("fentry on {}", e.target)) ||
      ForcedAndRefused(e, choice)) {
    return e;
  }
  if (caps.TracepointWorks("kvm:kvm_exit")) {
    if (VendorEmitsExitTracepoints(caps.backend)) {
      e.mechanism = Mechanism::Tracepoint;
      e.how = "kvm:kvm_exit, emitted by the vendor code on every exit";
      return e;
    }
    e.passed.push_back(fmt::format(
        "kvm:kvm_exit: attached, but only the VMX and SVM code emit it; on {} it never fires",
        BackendName(caps.backend)));
  } else {
    e.passed.push_back(TracepointWhy(caps, "kvm:kvm_exit"));
  }
  if (!caps.vendor_handler.empty()) {
    e.mechanism = Mechanism::Stacks;
    e.how = fmt::format("{} frames in the captured kernel stacks (inferred: seen per call path, "
                        "not counted per exit)",
                        e.target);
  } else {
    e.how = "not observable: no vendor exit handler symbol";
  }
  return e;
}

PlanEntry PlanMmuPageFault(const Capabilities& caps, AttachChoice choice) {
  PlanEntry e;
  e.point = ProbePoint::MmuPageFault;
  e.target = "kvm_mmu_page_fault";
  if (TryFunctionProbes(e, caps, choice, caps.kprobe_mmu, caps.mmu_page_fault_symbol,
                        "kprobe on kvm_mmu_page_fault (fault address, error code)",
                        "fentry on kvm_mmu_page_fault (fault address, error code)") ||
      ForcedAndRefused(e, choice)) {
    return e;
  }
  if (caps.TracepointWorks("kvm:kvm_page_fault")) {
    if (VendorEmitsExitTracepoints(caps.backend)) {
      e.mechanism = Mechanism::Tracepoint;
      e.how = "kvm:kvm_page_fault (fault address, error code)";
      return e;
    }
    e.passed.push_back(fmt::format(
        "kvm:kvm_page_fault: attached, but only the VMX and SVM code emit it; on {} it never "
        "fires",
        BackendName(caps.backend)));
  } else {
    e.passed.push_back(TracepointWhy(caps, "kvm:kvm_page_fault"));
  }
  if (caps.mmu_page_fault_symbol && caps.TracepointWorks("kvmmmu:kvm_mmu_pagetable_walk")) {
    e.mechanism = Mechanism::Stacks;
    e.how = "kvmmmu:* events whose captured stacks contain kvm_mmu_page_fault (inferred)";
  } else {
    e.how = "not observable here";
  }
  return e;
}

}  // namespace

bool RunLoopAtSyscallEdge(const Capabilities& caps, AttachChoice choice) {
  if (choice == AttachChoice::Kprobe || choice == AttachChoice::Fentry) return false;
  PlanEntry e;
  e.target = "kvm_arch_vcpu_ioctl_run";
  return !TryFunctionProbes(e, caps, choice, caps.kprobe_run, true, "", "");
}

AttachPlan PlanAttach(const Capabilities& caps, AttachChoice requested) {
  AttachPlan plan;
  plan.requested = requested;
  plan.entries = {PlanRunLoop(caps, requested), PlanExitHandler(caps, requested),
                  PlanMmuPageFault(caps, requested)};
  if (!caps.kernel_addresses_hidden.empty()) {
    plan.stacks_off = "/proc/kallsyms shows this user zero addresses, so kernel stacks could not "
                      "be named: " + caps.kernel_addresses_hidden;
  }
  for (const TracepointState& t : caps.tracepoints) {
    if (t.raw && t.attach.ok) plan.raw.push_back(t.name);
    if (t.counted_raw && t.attach.ok) plan.counted_raw.push_back(t.name);
    if (t.detached_at_budget && t.attach.ok) plan.detached_at_budget.push_back(t.name);
    if (!t.taken_from.empty() && t.attach.ok &&
        plan.entry(ProbePoint::RunLoop).mechanism == Mechanism::Tracepoint) {
      plan.taken_from.push_back(fmt::format("{} (from {})", t.name, t.taken_from));
    }
  }
  for (std::string_view name : KvmTracepoints()) {
    if (caps.TracepointWorks(name)) {
      plan.tracepoints.emplace_back(name);
    } else {
      plan.missing.push_back(TracepointWhy(caps, name));
    }
  }
  return plan;
}

std::string ForcedRefusal(const AttachPlan& plan) {
  if (plan.requested == AttachChoice::Auto || plan.usable()) return "";
  std::string_view what = plan.requested == AttachChoice::Kprobe ? "kprobes cannot attach here"
                          : plan.requested == AttachChoice::Fentry
                              ? "fentry (BPF tracing programs) cannot attach here"
                              : "the KVM_RUN system-call tracepoints cannot attach here";
  return fmt::format("--attach {}: {}: {}", AttachChoiceName(plan.requested), what,
                     fmt::join(plan.entry(ProbePoint::RunLoop).passed, "; "));
}

std::vector<std::string> DescribePlan(const AttachPlan& plan) {
  std::vector<std::string> lines;
  if (plan.requested != AttachChoice::Auto) {
    lines.push_back(fmt::format("{:<13} --attach {}: only that mechanism on the function probe "
                                "points",
                                "forced", AttachChoiceName(plan.requested)));
  }
  for (const PlanEntry& e : plan.entries) {
    lines.push_back(fmt::format("{:<13} {:<24} → {}: {}", ProbePointName(e.point), e.target,
                                MechanismName(e.mechanism), e.how));
    for (const std::string& why : e.passed) lines.push_back(fmt::format("{:15}passed over: {}", "", why));
  }
  lines.push_back(fmt::format("tracepoints   {} attached: {}", plan.tracepoints.size(),
                              fmt::join(plan.tracepoints, " ")));
  if (!plan.raw.empty()) {
    lines.push_back(fmt::format("{:15}raw tracepoints (no perf record per event): {}", "",
                                fmt::join(plan.raw, " ")));
    bool syscall_edges = std::any_of(plan.raw.begin(), plan.raw.end(), [](const std::string& t) {
      return t.rfind("syscalls:", 0) == 0;
    });
    if (syscall_edges) {
      lines.push_back(fmt::format("{:15}the raw KVM_RUN edges run a program on every system call "
                                  "of the machine while attached (run --perf-tracepoints: perf's)",
                                  ""));
    }
  }
  if (!plan.taken_from.empty()) {
    lines.push_back(fmt::format("{:15}not attached, their events made from another's: {}", "",
                                fmt::join(plan.taken_from, " ")));
  }
  if (!plan.counted_raw.empty()) {
    lines.push_back(fmt::format("{:15}counted by a raw tracepoint, streamed through perf until the "
                                "stream budget is spent (then detached): {}",
                                "", fmt::join(plan.counted_raw, " ")));
  }
  if (!plan.detached_at_budget.empty()) {
    lines.push_back(fmt::format("{:15}streamed until the stream budget is spent, then detached (KVM's "
                                "own statistics count the rest): {}",
                                "", fmt::join(plan.detached_at_budget, " ")));
  }
  for (const std::string& why : plan.missing) lines.push_back(fmt::format("{:15}missing: {}", "", why));
  if (!plan.stacks_off.empty()) lines.push_back(fmt::format("{:<13} off: {}", "stacks", plan.stacks_off));
  return lines;
}

std::string PlanSummary(const AttachPlan& plan) {
  std::vector<std::string> parts;
  for (const PlanEntry& e : plan.entries) {
    parts.push_back(fmt::format("{}: {}", ProbePointName(e.point), MechanismName(e.mechanism)));
  }
  std::string summary = fmt::format("{}", fmt::join(parts, " · "));
  if (plan.requested != AttachChoice::Auto) {
    summary += fmt::format(" (forced: --attach {})", AttachChoiceName(plan.requested));
  }
  return summary;
}

}  // namespace kvmscope::probes

// `kvmscope doctor`: what this host is (platform, KVM module parameters) and
// allows, found by trying — KVM, BPF, kprobes, fentry, each tracepoint — and
// the attach plan kvmscope would use, each line with what to do when
// something is missing.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "app/privileges.h"
#include "probes/session.h"
#include "vmm/error.h"
#include "vmm/host.h"
#include "vmm/kvm.h"

namespace kvmscope::app {

namespace {
void Line(const char* what, const std::string& text) { std::printf("%-13s %s\n", what, text.c_str()); }

// "4 MiB", "64 KiB", "512 bytes": sizes that are powers of two.
std::string Bytes(uint32_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return fmt::format("{} MiB", n >> 20);
  if (n >= (1u << 10) && n % (1u << 10) == 0) return fmt::format("{} KiB", n >> 10);
  return fmt::format("{} bytes", n);
}

std::string YesNo(const probes::Try& t, const char* fix) {
  return t.ok ? std::string("yes") : fmt::format("no — {}\n{:14}→ {}", t.reason, "", fix);
}
}  // namespace

int CmdDoctor(const DoctorArgs& args) {
  std::printf("kvmscope doctor: what this host lets kvmscope do\n\n");
  Line("kernel", probes::KernelRelease());
  vmm::KvmBackend backend = vmm::DetectKvmBackend();
  Line("KVM backend", std::string(vmm::KvmBackendName(backend)) + " (from /sys/module)");
  // What the trace records of the host, in the words of its host facts.
  traces::HostFacts host;
  host.backend = vmm::KvmBackendName(backend);
  host.module_params = probes::KvmModuleParams();
  const probes::Platform platform = probes::DetectPlatform();
  host.platform = platform.name;
  Line("platform", host.Emulated() ? platform.name +
                                         " → times are the emulator's: latencies mean nothing "
                                         "here; counts, stacks and decoding do"
                                   : platform.name);
  Line("", "(" + platform.evidence + ")");
  Line("KVM params", host.module_params.empty()
                         ? "none of kvm_intel ept/unrestricted_guest/enable_apicv/vpid, kvm_amd "
                           "npt/nrips/avic, kvm tdp_mmu in /sys/module"
                         : host.ModuleParamsText());
  if (const std::string paging = host.PagingText(); !paging.empty()) Line("paging", paging);
  try {
    vmm::IoctlReporter io(nullptr);
    vmm::OpenKvm(io);
    Line("/dev/kvm", "opens, API version 12: guests can run");
  } catch (const vmm::Error& e) {
    Line("/dev/kvm", fmt::format("no — {}", e.what()));
  }
  const Privileges priv = CurrentPrivileges();
  if (priv.real_root) {
    Line("privileges", "root: every process's VMs can be traced");
  } else if (priv.CanTrace()) {
    Line("privileges", fmt::format("not root, with the capabilities {}{}: kernel tracing of your own "
                                   "VMs; --system-wide and other users' processes need root",
                                   priv.TracingCapabilities(),
                                   priv.secure_exec ? " (file capabilities of this kvmscope)" : ""));
  } else {
    Line("privileges", "not root → kernel tracing needs root, or the file capabilities "
                       "cap_bpf,cap_perfmon,cap_sys_resource on kvmscope (README: Install on lab "
                       "machines); the VMM side works without them");
  }
  Line("BTF", access("/sys/kernel/btf/vmlinux", R_OK) == 0
                  ? "/sys/kernel/btf/vmlinux"
                  : "missing → fentry and CO-RE need a kernel built with CONFIG_DEBUG_INFO_BTF=y");

  try {
    // As run asks for it; the forced mechanism is planned below from the
    // same findings (a refused one must not stop the report).
    probes::Session session(RunSessionOptions(RunArgs{}));
    const probes::Capabilities& caps = session.capabilities();
    Line("tracefs", "mounted (kvmscope mounts it when it is not)");
    Line("exit handler", caps.vendor_handler.empty()
                             ? "no vmx/svm/pvm_handle_exit in /proc/kallsyms"
                             : fmt::format("{} in /proc/kallsyms ({})", caps.vendor_handler,
                                           probes::BackendName(caps.backend)));
    Line("kprobes", YesNo(caps.kprobe_run, "fine: kvmscope falls back to tracepoints; for the "
                                           "function probes use a kernel with CONFIG_KPROBES=y"));
    if (!caps.kprobe_run.ok && session.kprobes_verified()) {
      Line("", "(the kprobe programs do pass the verifier: only attaching is impossible)");
    }
    Line("fentry", YesNo(caps.fentry, "fine: kprobes or tracepoints are used instead"));
    const probes::RingLayout rings = session.rings();
    Line("ring buffers", fmt::format("{} × {}, one per CPU (of {} online) from --ring-size {}",
                                     rings.count, Bytes(rings.bytes_each), rings.online_cpus,
                                     Bytes(rings.asked_bytes)));
    std::printf("tracepoints\n");
    for (const probes::TracepointState& t : caps.tracepoints) {
      const std::string taken = "not attached: its events come from " + t.taken_from;
      std::printf("  %-31s %s\n", t.name.c_str(),
                  !t.exists      ? "not in this kernel"
                  : t.attach.ok ? (!t.taken_from.empty() ? taken.c_str()
                                   : t.raw               ? "attaches (as a raw tracepoint)"
                                   : t.counted_raw ? "attaches (counted by a raw tracepoint)"
                                                   : "attaches")
                                : t.attach.reason.c_str());
      if (t.attach.ok && !t.raw && !t.raw_refused.empty()) {
        std::printf("  %-31s (through perf: %s)\n", "", t.raw_refused.c_str());
      }
    }
    // Everything was tried above; the plan for a forced mechanism is the
    // same decision on the same findings.
    probes::AttachChoice choice = AttachChoiceOf(args.attach);
    probes::AttachPlan plan = probes::PlanAttach(caps, choice);
    std::printf("\nattach plan (what 'kvmscope run%s' uses here)\n",
                choice == probes::AttachChoice::Auto ? ""
                                                     : (" --attach " + args.attach).c_str());
    for (const std::string& line : probes::DescribePlan(plan)) std::printf("  %s\n", line.c_str());
    if (std::string refused = probes::ForcedRefusal(plan); !refused.empty()) {
      std::printf("\nverdict: kernel tracing with %s\n"
                  "Without --attach (or with --attach auto) kvmscope uses: %s\n",
                  refused.c_str(), probes::PlanSummary(session.plan()).c_str());
      return kExitEnvironment;
    }
    std::printf("\nverdict: kernel tracing works (%s)\n", probes::PlanSummary(plan).c_str());
    return kExitOk;
  } catch (const probes::ProbeError& e) {
    std::printf("\nverdict: kernel tracing is impossible here: %s\n"
                "The VMM still runs without it: kvmscope run --no-probes\n",
                e.what());
    return kExitEnvironment;
  }
}

}  // namespace kvmscope::app

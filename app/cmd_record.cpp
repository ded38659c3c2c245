// `kvmscope record --pid PID`: traces another process's VMM (QEMU, ...) by its
// pid until it exits, Ctrl-C, or --duration, and saves the trace. Checks
// everything it can before attaching anything: the pid, that it holds a KVM
// VM, permissions, the output files.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "app/external_recorder.h"
#include "app/privileges.h"
#include "probes/host.h"
#include "probes/session.h"
#include "procs/pidfd.h"

namespace kvmscope::app {

CLI::App* AddRecordCommand(CLI::App& cli, RecordArgs& args) {
  CLI::App* record = cli.add_subcommand(
      "record",
      "Trace another process's VMM (QEMU, Firecracker, ...) by its pid: every KVM_RUN of its "
      "vCPU threads as the kernel sees it, exits and kernel events decoded, stacks; one track "
      "per vCPU thread, named as the VMM names it. Ends when the VMM exits, on Ctrl-C, or after "
      "--duration, and saves the trace (stats, chains, check-seed, export and gui read it). The "
      "VMM's own side (device accesses, console, registers) is not visible. Needs root");
  record->footer(
      "Exit status: 0 recorded and saved; 2 usage error: no such process, not a KVM VM, an "
      "output file that cannot be written; 3 this host or user cannot trace it (not root, "
      "another user's process, the kernel refuses BPF or the --attach mechanism), or the trace "
      "could not be saved.");
  record->add_option("--pid", args.pid, "The VMM's process id (see 'kvmscope vms')")->required();
  record->add_option("--duration", args.duration_s, "Stop after S seconds (default: until the VMM exits or Ctrl-C)")
      ->check(CLI::PositiveNumber);
  record->add_option("-o,--output", args.output, "Save the trace as FILE.json (docs/trace-format.md)")
      ->required();
  record->add_option("--chrome", args.chrome,
                     "Also save it as Chrome trace event JSON FILE (name it *.trace.json; *.gz is gzipped), "
                  "for Perfetto, chrome://tracing, DevTools or speedscope");
  record->add_option("--qmp", args.qmp,
                     "The VMM's QMP socket (QEMU -qmp unix:PATH,server=on,wait=off), for KVM's own "
                     "counters of its VM (query-stats) where debugfs cannot give them; a QMP "
                     "socket serves one client: give one nobody else holds");
  record->add_flag("--all-events", args.all_events,
                   "Also stream kvm_emulate_insn and the shadow-MMU walk/spte events (counted "
                   "either way; they can fire millions of times a second and then get lost)");
  record->add_option("--stacks", args.stacks,
                     "Kernel stacks: new = for call paths not seen before plus a sample "
                     "(default), all = every event, none")
      ->check(CLI::IsMember({"new", "all", "none"}));
  record->add_option("--attach", args.attach,
                     "How the kernel's function probe points are traced: auto (default), "
                     "kprobe, fentry or tracepoint (exit status 3 if the kernel refuses it)")
      ->check(CLI::IsMember({"auto", "kprobe", "fentry", "tracepoint"}));
  return record;
}

namespace {

std::string Seconds(double s) { return fmt::format("{:.1f} s", s); }

void PrintCounts(const probes::KernelCounts& c) {
  std::vector<std::string> kinds;
  for (size_t i = 0; i < traces::kKernelEventKinds; ++i) {
    if (!c.seen[i]) continue;
    kinds.push_back(fmt::format("{} {}", traces::KernelEventName(static_cast<traces::KernelEventKind>(i)),
                                c.seen[i]));
  }
  std::printf("kernel: %llu events seen (%s)\n", static_cast<unsigned long long>(c.total_seen()),
              fmt::format("{}", fmt::join(kinds, ", ")).c_str());
  std::printf("kernel: %llu received, %llu lost%s\n",
              static_cast<unsigned long long>(c.total_received()),
              static_cast<unsigned long long>(c.total_lost()),
              c.total_lost() ? " (ring buffer full; try --stacks none)" : "");
}

}  // namespace

int CmdRecord(const RecordArgs& args) {
  // 1. The process (a pidfd first, so that what /proc says belongs to it),
  // and the output files: all checked before anything is attached.
  int status = kExitOk;
  std::optional<ExternalTarget> target = OpenExternalVmm(args.pid, "record", status);
  if (!target) return status;
  const procs::VmProcess& vmm = target->vmm;
  for (auto [path, option] : {std::pair{&args.output, "-o"}, std::pair{&args.chrome, "--chrome"}}) {
    if (std::string why = NotWritable(*path, option); !why.empty()) {
      std::fprintf(stderr, "kvmscope: record: %s\n", why.c_str());
      return kExitUsage;
    }
  }

  std::error_code ec;
  if (!args.qmp.empty() && !std::filesystem::is_socket(args.qmp, ec)) {
    std::fprintf(stderr, "kvmscope: record: --qmp %s: %s\n", args.qmp.c_str(),
                 std::filesystem::exists(args.qmp, ec) ? "not a socket" : "no such file");
    return kExitUsage;
  }

  // 2. Signals: blocked before any thread starts, taken from a signalfd.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  procs::UniqueFd sigfd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd.valid()) {  // Ctrl-C would then do nothing: refuse before attaching
    std::fprintf(stderr, "kvmscope: record: signalfd: %s\n", std::strerror(errno));
    return kExitEnvironment;
  }

  // 3. Attach.
  probes::SessionOptions options;
  options.pid = static_cast<uint32_t>(vmm.pid);
  options.uid = OwnProcessesOnly();  // a user (not root): their own processes, even if the pid is reused
  options.stream_kinds = args.all_events ? probes::kStreamAllKinds : probes::kExternalVmmStreamKinds;
  if (args.all_events) options.stream_budget = 0;  // all of them, as asked
  options.attach = AttachChoiceOf(args.attach);
  options.stacks = args.stacks == "all"    ? probes::StackMode::All
                   : args.stacks == "none" ? probes::StackMode::None
                                           : probes::StackMode::New;
  traces::Trace trace;
  ExternalSession external;
  try {
    external = StartExternalSession(trace, vmm, options, args.qmp);
  } catch (const probes::ProbeError& e) {
    std::fprintf(stderr, "kvmscope: record: cannot trace the kernel here: %s ('kvmscope doctor' explains)\n",
                 e.what());
    return kExitEnvironment;
  }
  probes::Session& session = *external.session;
  const ExternalRecorder& recorder = *external.recorder;
  const auto start = std::chrono::steady_clock::now();
  std::printf("kvmscope: recording pid %d (%s), %zu vCPU%s: attached, %s%s\n", vmm.pid,
              vmm.comm.c_str(), vmm.vcpus.size(), vmm.vcpus.size() == 1 ? "" : "s",
              probes::PlanSummary(session.plan()).c_str(),
              args.duration_s ? fmt::format("; stops after {}", Seconds(*args.duration_s)).c_str()
                              : "; Ctrl-C stops");
  std::printf("kvmscope: %s\n", traces::ExternalVmmNote(static_cast<uint32_t>(vmm.pid), vmm.cmdline).c_str());
  std::printf("kvmscope: KVM's own counters of this VM: %s\n", external.counters->Status().c_str());
  std::fflush(stdout);

  // 4. Wait: the VMM exits, a signal, or the duration.
  const bool progress = isatty(STDERR_FILENO);
  std::string ended;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (ended.empty()) {
    int wait_ms = 1000;
    if (args.duration_s) {
      double left = *args.duration_s - elapsed();
      if (left <= 0) {
        ended = fmt::format("duration reached ({})", Seconds(elapsed()));
        break;
      }
      wait_ms = static_cast<int>(std::min(1000.0, left * 1000 + 1));  // no overflow for a huge --duration
    }
    pollfd fds[2] = {{target->pidfd.fd(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
    int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) {
      ended = fmt::format("stopped: poll failed ({})", std::strerror(errno));
    } else if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP))) {
      ended = fmt::format("the VMM exited after {}", Seconds(elapsed()));
    } else if (n > 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo info{};
      ssize_t r = read(sigfd.get(), &info, sizeof info);
      ended = r == sizeof info && info.ssi_signo == SIGTERM ? "stopped by SIGTERM" : "stopped by Ctrl-C";
    }
    if (ended.empty()) external.counters->Sample();
    if (progress && ended.empty()) {
      std::fprintf(stderr, "\r  %.0f s: %llu events, %zu vCPU thread%s seen  ", elapsed(),
                   static_cast<unsigned long long>(recorder.events()), recorder.vcpu_threads(),
                   recorder.vcpu_threads() == 1 ? "" : "s");
    }
  }
  if (progress) std::fprintf(stderr, "\r%60s\r", "");

  // 5. Stop (delivers what is left in the ring buffer), then everything else.
  external.counters->MarkEnd();
  session.Stop();
  std::printf("kvmscope: %s; %llu events recorded\n", ended.c_str(),
              static_cast<unsigned long long>(recorder.events()));
  PrintCounts(session.counts());
  FinishExternalTrace(trace, external, ended);
  external.session.reset();
  return SaveTraces(trace.Take(), args.output, args.chrome) ? kExitOk : kExitEnvironment;
}

}  // namespace kvmscope::app

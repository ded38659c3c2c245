// `kvmscope run`: builds a machine for a catalog or custom guest, runs it
// with the live printer, and reports the verdict.
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "app/commands.h"
#include "app/privileges.h"
#include "app/exit_codes.h"
#include "app/guest_setup.h"
#include "app/interrupts.h"
#include "app/live_printer.h"
#include "app/recorder.h"
#include "probes/session.h"
#include "vmm/catalog.h"
#include "vmm/error.h"
#include "vmm/guest_image.h"

namespace kvmscope::app {

namespace {

// Reads one line from standard input, giving up when `done` turns true
// (checked every 100 ms) so that a run stopped by a signal does not wait for
// Enter. Returns false at end of input or when done.
template <typename Done>
bool ReadLine(std::string& line, Done done) {
  line.clear();
  while (!done()) {
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    char c;
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n <= 0) return false;
    if (c == '\n') return true;
    line.push_back(c);
  }
  return false;
}

void StepLoop(vmm::Machine& machine, LivePrinter& printer) {
  std::fprintf(stderr, "step mode: Enter = one KVM_RUN, c = continue, q = quit\n");
  std::string line;
  auto finished = [&] { return machine.finished(); };
  while (!machine.finished()) {
    std::fprintf(stderr, "step> ");
    if (!ReadLine(line, finished)) {
      if (!machine.finished()) machine.Stop("standard input closed in step mode");
      return;
    }
    if (line == "q") {
      machine.Stop("quit in step mode");
      return;
    }
    if (line == "c") {
      machine.Resume();
      return;
    }
    uint64_t before = printer.exits();
    machine.Step(1);
    printer.WaitForExits(before + 1, finished);
  }
}

}  // namespace

probes::SessionOptions RunSessionOptions(const RunArgs& args) {
  probes::SessionOptions options;
  options.attach = AttachChoiceOf(args.attach);
  options.pid = args.system_wide ? 0 : static_cast<uint32_t>(getpid());
  options.stacks = args.stacks == "all"    ? probes::StackMode::All
                   : args.stacks == "none" ? probes::StackMode::None
                                           : probes::StackMode::New;
  if (args.ring_bytes) options.ring_bytes = *args.ring_bytes;
  if (args.insn_budget) options.stream_budget = *args.insn_budget;
  options.raw_tracepoints = !args.perf_tracepoints;
  // kvmscope's own VM: its exits are dearer to trace than everybody else's
  // system calls, for the seconds a run lasts.
  options.raw_syscall_edges = !args.system_wide;
  // Nor does anyone's system call run a program for its KVM_RUN entries:
  // the VMM makes them (RunEntries).
  options.run_enter_from_vmm = !args.system_wide;
  // Past its budget kvm_emulate_insn is detached and KVM's own counters of
  // this VM count it; system-wide, other VMs' instructions count too.
  options.count_past_budget = args.system_wide;
  return options;
}

namespace {

// Starts kernel tracing for this process, joined into the printer. Returns
// null, after saying why, when the kernel cannot be traced: the VMM side
// still runs — unless --attach forced a mechanism, which is then `refused`
// (nothing should run: what was asked for cannot be shown).
std::unique_ptr<probes::Session> StartProbes(const RunArgs& args, LivePrinter& printer,
                                             Recorder* recorder, std::string& why_not,
                                             bool& refused) {
  probes::SessionOptions options = RunSessionOptions(args);
  try {
    auto session = std::make_unique<probes::Session>(options);
    std::printf("kernel tracing: %s (stacks: %s%s)\n",
                probes::PlanSummary(session->plan()).c_str(),
                session->plan().stacks_off.empty()
                    ? std::string(probes::StackModeName(options.stacks)).c_str()
                    : "off, see below",
                args.system_wide ? ", system-wide" : "");
    if (!args.quiet) {
      for (const std::string& line : probes::DescribePlan(session->plan())) {
        std::printf("  %s\n", line.c_str());
      }
    } else if (!session->plan().stacks_off.empty()) {
      std::printf("  stacks off: %s\n", session->plan().stacks_off.c_str());
    }
    const traces::StackTable& stacks = session->stacks();
    if (!args.quiet) printer.EnableKernel(&session->symbols(), &stacks);
    if (recorder && !args.quiet) {
      session->Start([&printer, recorder, &stacks](const traces::KernelEvent& ev) {
        recorder->OnKernel(ev, stacks);
        printer.OnKernel(ev);
      });
    } else if (recorder) {
      session->Start([recorder, &stacks](const traces::KernelEvent& ev) { recorder->OnKernel(ev, stacks); });
    } else if (!args.quiet) {
      session->Start([&printer](const traces::KernelEvent& ev) { printer.OnKernel(ev); });
    } else {
      session->Start(nullptr);  // counted for the summary; no exit lines to join with
    }
    return session;
  } catch (const probes::ProbeError& e) {
    why_not = e.what();
    if (options.attach != probes::AttachChoice::Auto) {
      refused = true;
      // The refusal names the mechanism itself ("--attach kprobe: ..."); other
      // failures (not root, no tracefs) get it named here.
      std::string what = e.what();
      if (!what.starts_with("--attach")) what = fmt::format("--attach {}: {}", args.attach, what);
      std::fprintf(stderr,
                   "kvmscope: kernel tracing is impossible: %s\n"
                   "kvmscope: 'kvmscope doctor --attach %s' shows why; --attach auto picks what "
                   "works here\n",
                   what.c_str(), args.attach.c_str());
      return nullptr;
    }
    std::fprintf(stderr,
                 "kvmscope: kernel tracing is off: %s\n"
                 "kvmscope: the VMM side still runs ('kvmscope doctor' explains; --no-probes "
                 "hides this)\n",
                 e.what());
    return nullptr;
  }
}

// What the kernel side saw, after the run: events per kind, stacks, losses,
// and how often the vendor exit handler showed up in the stacks.
void PrintKernelSummary(const probes::Session& session,
                        const std::optional<traces::KvmStatsRecord>& stats) {
  probes::KernelCounts c = KernelCountsWith(session, stats);
  std::vector<std::string> kinds;
  for (size_t i = 0; i < traces::kKernelEventKinds; ++i) {
    if (!c.seen[i]) continue;
    kinds.push_back(fmt::format("{} {}",
                                traces::KernelEventName(static_cast<traces::KernelEventKind>(i)),
                                c.seen[i]));
  }
  std::printf("kernel: %llu events (%s)\n", static_cast<unsigned long long>(c.total_seen()),
              fmt::format("{}", fmt::join(kinds, ", ")).c_str());
  const std::string& handler = session.capabilities().vendor_handler;
  size_t with_handler = 0, stacks = session.stacks().size();
  for (size_t id = 0; id < stacks; ++id) {
    for (uint64_t addr : session.stacks().Get(static_cast<int32_t>(id))) {
      const traces::Symbol* sym = session.symbols().Find(addr);
      if (sym && sym->name == handler) {
        ++with_handler;
        break;
      }
    }
  }
  std::printf("kernel: %llu stacks taken (%llu failed), %zu distinct call paths%s\n",
              static_cast<unsigned long long>(c.stacks_taken),
              static_cast<unsigned long long>(c.stacks_failed), stacks,
              handler.empty() ? ""
                              : fmt::format(", {} of them through {}", with_handler, handler).c_str());
  if (c.total_lost()) {
    std::printf("kernel: %llu events LOST (ring buffer full; try --ring-size %u or --stacks none)\n",
                static_cast<unsigned long long>(c.total_lost()),
                4 * probes::SessionOptions{}.ring_bytes);
  } else {
    std::printf("kernel: 0 events lost (%llu delivered)\n",
                static_cast<unsigned long long>(c.total_received()));
  }
  for (size_t i = 0; i < traces::kKernelEventKinds; ++i) {
    const auto kind = static_cast<traces::KernelEventKind>(i);
    if (!c.CountedOnly(kind) || !c.stream_budget[i]) continue;
    std::printf("kernel: %s counted in the kernel, %s (%llu of %llu; --insn-budget 0 streams every one)\n",
                std::string(traces::KernelEventName(kind)).c_str(), c.StreamedHow(kind).c_str(),
                static_cast<unsigned long long>(c.received[i]),
                static_cast<unsigned long long>(c.seen[i]));
  }
}

// One line of KVM's own counters (KVM_GET_STATS_FD, no root needed) beside
// the exits the VMM saw: the counters every backend has, and what PVM counts
// port I/O as. `kvmscope stats TRACE` shows them all.
void PrintKvmCounters(const std::optional<traces::KvmStatsRecord>& stats,
                      const std::string& why_not, const vmm::Outcome& out) {
  if (!stats) {
    std::printf("KVM's own counters: not available (%s)\n", why_not.c_str());
    return;
  }
  std::vector<std::string> parts;
  for (const char* name : {"exits", "io_exits", "mmio_exits", "halt_exits", "insn_emulation"}) {
    if (std::optional<uint64_t> v = stats->Total(name)) parts.push_back(fmt::format("{} {}", name, *v));
  }
  std::printf("KVM's own counters: %s (the VMM saw %llu exits)\n",
              fmt::format("{}", fmt::join(parts, ", ")).c_str(),
              static_cast<unsigned long long>(out.exits));
}

// Refuses before running, not after, an output file that cannot be written.
void CheckWritable(const std::string& path, const char* option) {
  if (std::string why = NotWritable(path, option); !why.empty()) throw UsageFailure{why};
}
}  // namespace

int RunGuest(const RunArgs& args, traces::Trace* trace) {
  Prepared p;
  try {
    p = Prepare(args);
  } catch (const UsageFailure& e) {
    std::fprintf(stderr, "kvmscope: %s\n", e.message.c_str());
    return kExitUsage;
  } catch (const vmm::Error& e) {
    std::fprintf(stderr, "kvmscope: %s\n", e.what());
    return e.kind() == vmm::ErrorKind::Environment ? kExitEnvironment : kExitUsage;
  }
  if (p.guest && args.param.empty()) {
    vmm::KvmBackend backend = vmm::DetectKvmBackend();
    if (auto why = vmm::LimitedReason(*p.guest, backend)) {
      std::printf("kvmscope: note: on %s %.*s\n", std::string(vmm::KvmBackendName(backend)).c_str(),
                  static_cast<int>(why->size()), why->data());
    }
  }

  vmm::RunOptions options = RunOptionsFor(args, p);

  InterruptWatcher::BlockEarly();
  LivePrinter printer(stdout, !args.quiet);
  std::optional<Recorder> recorder;
  if (trace) recorder.emplace(*trace, &printer);
  std::unique_ptr<probes::Session> session;
  std::string why_not = "not traced (--no-probes)";
  if (!args.no_probes) {
    bool refused = false;
    session = StartProbes(args, printer, recorder ? &*recorder : nullptr, why_not, refused);
    if (refused) return kExitEnvironment;
  }
  try {
    RunEntries entries(recorder ? static_cast<vmm::Observer*>(&*recorder) : &printer,
                       session.get());
    vmm::Machine machine(p.config, &entries);
    std::printf("kvmscope: running %s (%s mode, %d vCPU%s, %zu-byte image at %#llx)\n",
                p.config.name.c_str(), std::string(vmm::CpuModeName(p.config.mode)).c_str(),
                p.config.vcpus, p.config.vcpus > 1 ? "s" : "", p.config.image.size(),
                static_cast<unsigned long long>(p.config.load_addr));
    if (!args.quiet) {
      std::printf("%15s  %-5s  %-7s %-24s %-44s %s\n", "time", "vcpu", "run", "exit reason",
                  "details", "");
    }
    std::fflush(stdout);
    InterruptWatcher interrupts(
        [&machine](int, const std::string& reason) { machine.Stop(reason); });
    machine.Start(options);
    if (args.step) StepLoop(machine, printer);
    vmm::Outcome out = machine.Wait();
    if (session) session->Stop();  // delivers the rest of the ring buffer
    printer.Finish();

    std::printf("\n--- guest console ---\n%s%s--- end of console ---\n", out.console.c_str(),
                out.console.empty() || out.console.back() == '\n' ? "" : "\n");
    double ms = (out.end_ns - out.start_ns) / 1e6;
    std::printf("%llu KVM_RUN calls, %llu exits in %.3f ms\n",
                static_cast<unsigned long long>(out.runs),
                static_cast<unsigned long long>(out.exits), ms);
    std::string stats_why_not;
    std::optional<traces::KvmStatsRecord> stats = KvmStatsOf(machine, stats_why_not);
    PrintKvmCounters(stats, stats_why_not, out);
    if (session) PrintKernelSummary(*session, stats);
    if (trace) FinishTrace(*trace, p, machine, out, session.get(), why_not);
    bool expected_watchdog =
        p.guest && p.guest->expect_watchdog && out.verdict == vmm::Verdict::Timeout;
    bool pass = vmm::IsSuccess(out.verdict) || expected_watchdog;
    std::printf("verdict: %s — %s%s\n", std::string(vmm::VerdictName(out.verdict)).c_str(),
                out.detail.c_str(), expected_watchdog ? " (as this guest expects)" : "");
    return pass ? kExitOk : kExitGuestFailed;
  } catch (const vmm::Error& e) {
    std::fprintf(stderr, "kvmscope: %s\n", e.what());
    switch (e.kind()) {
      case vmm::ErrorKind::Usage: return kExitUsage;
      case vmm::ErrorKind::Environment: return kExitEnvironment;
      case vmm::ErrorKind::Internal: return kExitInternal;
    }
    return kExitInternal;
  }
}

int CmdRun(const RunArgs& args) {
  if (args.system_wide && !args.no_probes) {
    if (std::string refused = RootOnlyRefusal("run --system-wide"); !refused.empty()) {
      std::fprintf(stderr, "%s\n", refused.c_str());
      return kExitEnvironment;
    }
  }
  try {
    CheckWritable(args.output, "-o");
    CheckWritable(args.chrome, "--chrome");
  } catch (const UsageFailure& e) {
    std::fprintf(stderr, "kvmscope: %s\n", e.message.c_str());
    return kExitUsage;
  }
  if (args.output.empty() && args.chrome.empty()) return RunGuest(args, nullptr);
  traces::Trace trace;
  int status = RunGuest(args, &trace);
  if (status == kExitUsage || status == kExitEnvironment) return status;  // nothing ran
  return SaveTraces(trace.Take(), args.output, args.chrome) ? status : kExitEnvironment;
}

}  // namespace kvmscope::app

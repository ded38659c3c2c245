// `kvmscope gui`: the desktop window over a live guest (the VMM run with the
// probes, recorded into a trace the panels read every frame) or over a saved
// trace. The controller below is the wiring between ui/ and vmm/ + probes/.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "app/background_load.h"
#include "app/commands.h"
#include "app/exit_codes.h"
#include "app/external_recorder.h"
#include "app/guest_setup.h"
#include "app/interrupts.h"
#include "app/privileges.h"
#include "app/recorder.h"
#include "probes/session.h"
#include "traces/chrome_export.h"
#include "traces/trace_json.h"
#include "ui/gui.h"
#include "ui/labs_panel.h"
#include "vmm/catalog.h"
#include "vmm/error.h"

namespace kvmscope::app {
namespace {

class AppController : public ui::Controller {
 public:
  explicit AppController(const GuiArgs& args) : m_args(args) {}
  ~AppController() override { StopLive(); }

  // Starts a guest: tracing (unless off), recording, the machine.
  std::string StartLive(const RunArgs& run, bool paused) {
    Prepared p;
    try {
      p = Prepare(run);  // a bad choice leaves the current guest running
    } catch (const UsageFailure& e) {
      return e.message;
    } catch (const vmm::Error& e) {
      return e.what();
    }
    StopLive();
    m_load.Cancel();  // a trace still loading would replace this run when done
    auto trace = std::make_shared<traces::Trace>();
    trace->SetGuest(GuestFactsOf(p));  // image and source for the inspector
    auto recorder = std::make_unique<Recorder>(*trace, nullptr);
    std::unique_ptr<probes::Session> session;
    std::string why_not = "not traced (--no-probes)";
    if (!m_args.no_probes) {
      try {
        probes::SessionOptions options;
        options.pid = static_cast<uint32_t>(getpid());
        options.attach = AttachChoiceOf(m_args.attach);
        // KVM's own counters of this VM count kvm_emulate_insn past its budget.
        options.count_past_budget = false;
        options.raw_syscall_edges = true;  // its own VM, as run does
        options.run_enter_from_vmm = true;
        session = std::make_unique<probes::Session>(options);
        trace->SetHost(session->host_facts());
        trace->SetSymbols(session->symbols());  // all of kallsyms while live
        Recorder* r = recorder.get();
        const traces::StackTable& stacks = session->stacks();
        session->Start([r, &stacks](const traces::KernelEvent& ev) { r->OnKernel(ev, stacks); });
      } catch (const probes::ProbeError& e) {
        why_not = e.what();
        // What --attach asked for cannot be shown: no guest runs without it.
        if (m_args.attach != "auto") {
          m_attach_refused = true;
          return why_not.starts_with("--attach")
                     ? "kernel tracing is impossible: " + why_not
                     : fmt::format("kernel tracing is impossible: --attach {}: {}", m_args.attach,
                                   why_not);
        }
      }
    }
    // Not traced: the host facts say so (and what kernel it is) from the
    // first frame, not only once the guest has finished.
    if (!session) trace->SetHost(UntracedHostFacts(why_not));
    std::unique_ptr<RunEntries> entries;
    std::unique_ptr<vmm::Machine> machine;
    try {
      entries = std::make_unique<RunEntries>(recorder.get(), session.get());
      machine = std::make_unique<vmm::Machine>(p.config, entries.get());
    } catch (const vmm::Error& e) {
      return e.what();
    }
    vmm::RunOptions options = RunOptionsFor(run, p);
    options.start_paused = paused;
    options.slow_motion = std::chrono::milliseconds(m_slow_ms);
    options.capture_regs = true;  // the inspector shows them
    {
      // Before m_mutex, never under it (the frame holds a trace snapshot
      // while it asks for guest(); Tick holds this while it writes counts).
      std::lock_guard counts_lock(m_counts_mutex);
      m_counts_final = false;  // the last run's waiter was joined by StopLive
    }
    std::lock_guard lock(m_mutex);
    m_run = run;
    m_trace = trace;
    m_recorder = std::move(recorder);
    m_session = std::move(session);
    m_entries = std::move(entries);
    m_machine = std::move(machine);
    m_replay_path.clear();
    m_paused = paused;
    m_outcome.reset();
    m_machine->Start(options);
    // The waiter owns what it finishes: its own reference to the trace, and
    // pointers to the machine and session, which StopLive keeps alive until
    // it has joined this thread.
    m_waiter = std::thread([this, trace, machine = m_machine.get(), session = m_session.get(),
                            p, why_not] {
      vmm::Outcome out = machine->Wait();
      if (session) session->Stop();  // delivers the rest of the ring buffer
      {
        // No live count may overwrite the final ones (KVM's own counters
        // count kvm_emulate_insn past its budget).
        std::lock_guard counts_lock(m_counts_mutex);
        m_counts_final = true;
      }
      FinishTrace(*trace, p, *machine, out, session, why_not);
      std::lock_guard lock(m_mutex);
      m_outcome = out;
    });
    return fmt::format("running {}", p.config.name);
  }

  bool attach_refused() const { return m_attach_refused; }

  // Stops the live guest (if any) with `reason` and returns how its run
  // ended; nullopt for a replay.
  std::optional<vmm::Outcome> Finish(const std::string& reason) {
    {
      std::lock_guard lock(m_mutex);
      if (!m_machine) return std::nullopt;
      Abandon(reason);
    }
    StopLive();
    std::lock_guard lock(m_mutex);
    return m_outcome;
  }

  // Opens a trace before the window (gui TRACE), with a progress line on a
  // terminal; the window's Open loads in the background instead (Tick).
  std::string OpenReplay(const std::string& path) {
    try {
      std::shared_ptr<traces::Trace> trace;
      {
        ProgressLine line("loading", path, ProgressLine::Unit::Bytes);
        trace = std::make_shared<traces::Trace>(traces::LoadTrace(path, std::ref(line)));
      }
      StopLive();
      std::lock_guard lock(m_mutex);
      m_trace = std::move(trace);
      m_replay_path = path;
      return "opened " + path;
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  std::shared_ptr<traces::Trace> trace() override {
    std::lock_guard lock(m_mutex);
    if (!m_trace) m_trace = std::make_shared<traces::Trace>();
    return m_trace;
  }

  ui::RunState state() const override {
    std::lock_guard lock(m_mutex);
    if (!m_machine) return ui::RunState::Replay;
    if (m_outcome || m_machine->finished()) return ui::RunState::Finished;
    return m_paused ? ui::RunState::Paused : ui::RunState::Running;
  }

  std::string status() const override {
    if (m_load.busy()) return m_load.Progress();
    std::lock_guard lock(m_mutex);
    if (!m_machine) {
      return m_replay_path.empty() ? "no trace" : "replay of " + m_replay_path;
    }
    std::string name = m_run.guest.empty() ? m_run.guest_bin : m_run.guest;
    if (m_outcome) {
      return fmt::format("{}: {} — {}", name, vmm::VerdictName(m_outcome->verdict), m_outcome->detail);
    }
    return fmt::format("{}: {} ({} exits)", name, m_paused ? "paused" : "running", m_machine->exits());
  }

  void Tick() override {
    if (std::optional<BackgroundLoad::Result> loaded = m_load.Take()) {
      if (loaded->trace) {
        StopLive();
        std::lock_guard lock(m_mutex);
        m_trace = std::move(loaded->trace);
        m_replay_path = loaded->path;
        m_late_message = "opened " + loaded->path;
      } else {
        m_late_message = loaded->error;  // names the file; what was open stays
      }
    }
    // The trace's lock is never taken while m_mutex is held (the frame takes
    // them the other way round: a snapshot, then status() and guest()). The
    // session and the machine live until StopLive, which runs on this same
    // (UI) thread.
    const probes::Session* session = nullptr;
    const vmm::Machine* machine = nullptr;
    std::shared_ptr<traces::Trace> trace;
    {
      std::lock_guard lock(m_mutex);
      if (!m_session || m_outcome) return;
      auto now = std::chrono::steady_clock::now();
      if (now - m_last_counts < std::chrono::milliseconds(250)) return;
      m_last_counts = now;
      session = m_session.get();
      machine = m_machine.get();
      trace = m_trace;
    }
    // Past its budget kvm_emulate_insn is counted by KVM alone: its counters
    // of this VM, read live (a few preads), keep the count going.
    std::optional<traces::KvmStatsRecord> stats;
    if (!session->plan().detached_at_budget.empty()) {
      std::string why_not;
      stats = KvmStatsOf(*machine, why_not);
    }
    std::lock_guard counts_lock(m_counts_mutex);
    if (!m_counts_final) trace->SetKernelCounts(KernelCountsWith(*session, stats));
  }

  std::vector<ui::GuestChoice> guests() const override {
    std::vector<ui::GuestChoice> choices;
    for (const vmm::GuestInfo& g : vmm::Catalog()) {
      choices.push_back({std::string(g.name), std::string(g.description)});
    }
    return choices;
  }
  std::string guest() const override {
    std::lock_guard lock(m_mutex);
    if (!m_machine) return {};  // a replay runs no guest
    return m_run.guest.empty() ? m_run.guest_bin : m_run.guest;
  }
  std::string Select(const std::string& name) override {
    RunArgs run;
    if (vmm::FindGuest(name)) {
      run.guest = name;
    } else if (!name.empty()) {
      run.guest_bin = name;  // your own flat binary, real mode at 0x8000
    } else {
      return "type a guest file path first";
    }
    return StartLive(run, true);
  }
  std::string RunGuest(const std::string& name, std::optional<uint64_t> param) override {
    if (!vmm::FindGuest(name)) return fmt::format("no guest '{}' in the catalog", name);
    RunArgs run;
    run.guest = name;
    if (param) run.param = fmt::format("{}", *param);
    return StartLive(run, false);
  }
  void Run() override { Control([](vmm::Machine& m) { m.Resume(); }, false); }
  void Pause() override { Control([](vmm::Machine& m) { m.Pause(); }, true); }
  void Step() override { Control([](vmm::Machine& m) { m.Step(1); }, true); }
  void SetSlowMotion(int ms) override {
    m_slow_ms = ms;
    Control([ms](vmm::Machine& m) { m.SetSlowMotion(std::chrono::milliseconds(ms)); }, std::nullopt);
  }
  void Reset() override {
    RunArgs run;
    {
      std::lock_guard lock(m_mutex);
      if (!m_machine) return;
      run = m_run;
    }
    StartLive(run, true);
  }

  // Loads in the background: the window keeps drawing, and the status bar
  // says how far the load is; Tick swaps the trace in when it is done.
  std::string Open(const std::string& path) override {
    if (path.empty()) return "type a trace file path first";
    if (!m_load.Start(path)) return "already " + m_load.Progress();
    return "loading " + path;
  }
  std::string TakeMessage() override { return std::exchange(m_late_message, {}); }
  std::string Save(const std::string& path) override {
    return Write(path, ".json", [](const traces::TraceData& d, const std::string& p) { traces::SaveTrace(d, p); });
  }
  std::string ExportChrome(const std::string& path) override {
    return Write(path, ".trace.json",
                 [](const traces::TraceData& d, const std::string& p) { traces::SaveChromeTrace(d, p); });
  }

 private:
  template <typename Fn>
  void Control(Fn fn, std::optional<bool> paused) {
    std::lock_guard lock(m_mutex);
    if (!m_machine || m_outcome) return;
    fn(*m_machine);
    if (paused) m_paused = *paused;
  }

  template <typename WriteFn>
  std::string Write(std::string path, const char* ext, WriteFn write) {
    if (path.empty()) path = "kvmscope-" + (guest().empty() ? std::string("trace") : guest()) + ext;
    try {
      traces::TraceData copy = *trace()->Read();
      write(copy, path);
      return fmt::format("wrote {} ({} events)", path, copy.EventCount());
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  // Stops the machine with `reason`, its trace abandoned: the window is
  // closing or another run replaces it, so nobody reads what the probes still
  // deliver, and folding in their backlog (a million events a second from
  // spin on PVM) must not hold up the close. Under m_mutex.
  void Abandon(const std::string& reason) {
    if (m_recorder) m_recorder->Discard();
    if (m_machine) m_machine->Stop(reason);
  }

  void StopLive() {
    {
      std::lock_guard lock(m_mutex);
      Abandon("stopped from the window");
    }
    if (m_waiter.joinable()) m_waiter.join();
    std::lock_guard lock(m_mutex);
    m_machine.reset();
    m_entries.reset();
    m_session.reset();
    m_recorder.reset();
  }

  GuiArgs m_args;
  mutable std::mutex m_mutex;
  // Live kernel counts are written under this, never once the waiter has
  // started writing the final ones (m_counts_final). Taken before the
  // trace's lock, never with m_mutex held (the frame takes m_mutex under a
  // trace snapshot: that would close a cycle).
  std::mutex m_counts_mutex;
  bool m_counts_final = false;
  RunArgs m_run;
  std::shared_ptr<traces::Trace> m_trace;
  std::unique_ptr<Recorder> m_recorder;
  std::unique_ptr<probes::Session> m_session;
  std::unique_ptr<RunEntries> m_entries;  // the machine's observer: the recorder, then the session
  std::unique_ptr<vmm::Machine> m_machine;
  std::thread m_waiter;
  std::optional<vmm::Outcome> m_outcome;
  std::string m_replay_path;
  std::string m_late_message;  // a background Open's outcome, for TakeMessage (UI thread only)
  BackgroundLoad m_load;
  bool m_paused = false;
  bool m_attach_refused = false;  // a forced --attach was refused by the kernel
  int m_slow_ms = 0;
  std::chrono::steady_clock::time_point m_last_counts;
};

// `gui --pid`: the window over another process's VMM, recorded live by pid
// as `record --pid` does. kvmscope runs no guest here: the run controls do
// nothing, the guest choices say why; the recording ends when the VMM exits
// (the window stays open on what was recorded) or the window closes.
class ExternalController : public ui::Controller {
 public:
  ExternalController(ExternalTarget target, std::shared_ptr<traces::Trace> trace,
                     ExternalSession session)
      : m_target(std::move(target)),
        m_trace(std::move(trace)),
        m_session(std::move(session)),
        m_start(std::chrono::steady_clock::now()) {}
  ~ExternalController() override { End("the window was closed"); }

  std::shared_ptr<traces::Trace> trace() override { return m_trace; }
  ui::RunState state() const override {
    return m_ended.empty() ? ui::RunState::Running : ui::RunState::Finished;
  }
  std::string status() const override {
    const procs::VmProcess& vmm = m_target.vmm;
    if (!m_ended.empty()) {
      return fmt::format("pid {} ({}): {}; {} events", vmm.pid, vmm.comm, m_ended, m_events);
    }
    return fmt::format("pid {} ({}): recording, {} events", vmm.pid, vmm.comm,
                       m_session.recorder->events());
  }
  void Tick() override {
    if (!m_ended.empty()) return;
    if (m_target.pidfd.Exited(0)) {
      End(fmt::format("the VMM exited after {:.1f} s", Elapsed()));
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - m_last_counts < std::chrono::milliseconds(250)) return;
    m_last_counts = now;
    m_trace->SetKernelCounts(m_session.session->counts());
    if (now - m_last_sample >= std::chrono::seconds(1)) {
      m_last_sample = now;
      m_session.counters->Sample();
    }
  }
  std::string Select(const std::string&) override { return NoGuest(); }
  std::string RunGuest(const std::string&, std::optional<uint64_t>) override { return NoGuest(); }
  std::string Open(const std::string&) override {
    return fmt::format("watching pid {}: replay a saved trace with 'kvmscope gui TRACE'",
                       m_target.vmm.pid);
  }
  std::string Save(const std::string& path) override {
    return Write(path, ".json", [](const traces::TraceData& d, const std::string& p) { traces::SaveTrace(d, p); });
  }
  std::string ExportChrome(const std::string& path) override {
    return Write(path, ".trace.json",
                 [](const traces::TraceData& d, const std::string& p) { traces::SaveChromeTrace(d, p); });
  }

  // Stops recording (idempotent): the probes detach, the trace says how it ended.
  void End(const std::string& reason) {
    if (!m_ended.empty() || !m_session.session) return;
    m_session.counters->MarkEnd();
    m_session.session->Stop();
    FinishExternalTrace(*m_trace, m_session, reason);
    m_events = m_session.recorder->events();
    m_ended = reason;
    m_session.session.reset();
  }
  const std::string& ended() const { return m_ended; }
  uint64_t events() const { return m_events; }

 private:
  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }
  std::string NoGuest() const {
    return fmt::format("watching pid {} (an external VMM): kvmscope runs no guest here",
                       m_target.vmm.pid);
  }
  template <typename WriteFn>
  std::string Write(std::string path, const char* ext, WriteFn write) {
    if (path.empty()) path = fmt::format("kvmscope-pid{}{}", m_target.vmm.pid, ext);
    try {
      traces::TraceData copy = *m_trace->Read();
      write(copy, path);
      return fmt::format("wrote {} ({} events)", path, copy.EventCount());
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  ExternalTarget m_target;
  std::shared_ptr<traces::Trace> m_trace;
  ExternalSession m_session;
  std::chrono::steady_clock::time_point m_start, m_last_counts, m_last_sample;
  std::string m_ended;
  uint64_t m_events = 0;
};

}  // namespace

bool HaveDisplay() { return ui::HaveDisplay(); }

int CmdGui(const GuiArgs& args) {
  ui::GuiOptions options;
  std::optional<ui::Theme> theme = ui::ParseTheme(args.theme);
  if (!theme) {
    std::fprintf(stderr, "kvmscope: unknown theme '%s' (dark, light, high-contrast)\n", args.theme.c_str());
    return kExitUsage;
  }
  if (!args.screenshot.empty()) {
    std::filesystem::path dir = std::filesystem::absolute(args.screenshot).parent_path();
    if (!std::filesystem::is_directory(dir)) {
      std::fprintf(stderr, "kvmscope: --screenshot %s: the folder %s does not exist\n",
                   args.screenshot.c_str(), dir.c_str());
      return kExitUsage;
    }
  }
  std::optional<ExternalTarget> target;
  if (!args.pid.empty()) {
    // Checked before anything else, as record --pid does: nothing attached on error.
    int status = kExitOk;
    target = OpenExternalVmm(args.pid, "gui", status);
    if (!target) return status;
  }
  options.theme = *theme;
  options.font_scale = args.font_scale;
  options.width = args.width;
  options.height = args.height;
  options.screenshot = args.screenshot;
  options.frames = args.frames;
  options.widget_map = args.widget_map;
  options.labs_dir = LabsDir("");
  options.lab = args.lab;
  options.lab_answers = args.answers;
  options.student = args.student;
  if (!args.lab.empty()) {
    auto found = lab::FindLab(options.labs_dir, args.lab);
    if (auto* error = std::get_if<std::string>(&found)) {
      std::fprintf(stderr, "kvmscope: --lab: %s\n", error->c_str());
      return kExitUsage;
    }
  }
  if (!ui::HaveDisplay()) {
    std::fprintf(stderr, "kvmscope: no display for the window (DISPLAY is not set); try 'kvmscope tour' "
                         "in a terminal, or run under xvfb-run\n");
    return kExitEnvironment;
  }
  // SIGINT/SIGTERM close the window as the CLI stops a run: blocked in every
  // thread from here on, taken by the watcher, which asks the window to close.
  std::atomic<int> signal{0};
  std::string signal_reason;
  std::mutex signal_mutex;
  InterruptWatcher interrupts([&](int sig, const std::string& reason) {
    std::lock_guard lock(signal_mutex);
    if (signal_reason.empty()) signal_reason = reason;
    signal = sig;
  });
  options.quit_requested = [&] { return signal != 0; };

  if (target) {
    probes::SessionOptions session_options;
    session_options.pid = static_cast<uint32_t>(target->vmm.pid);
    session_options.uid = OwnProcessesOnly();
    session_options.stream_kinds = probes::kExternalVmmStreamKinds;
    session_options.attach = AttachChoiceOf(args.attach);
    auto trace = std::make_shared<traces::Trace>();
    ExternalSession session;
    try {
      session = StartExternalSession(*trace, target->vmm, session_options);
    } catch (const probes::ProbeError& e) {
      std::fprintf(stderr, "kvmscope: gui: cannot trace the kernel here: %s ('kvmscope doctor' explains)\n",
                   e.what());
      return kExitEnvironment;
    }
    trace->SetSymbols(session.session->symbols());  // all of kallsyms while live
    const int pid = target->vmm.pid;
    ExternalController external(std::move(*target), trace, std::move(session));
    std::printf("kvmscope: watching pid %d: %s\n", pid,
                traces::ExternalVmmNote(static_cast<uint32_t>(pid), trace->Read()->external->command).c_str());
    std::fflush(stdout);
    try {
      ui::RunGui(external, options);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kvmscope: the window failed: %s\n", e.what());
      return kExitEnvironment;
    }
    if (!args.screenshot.empty()) std::printf("wrote screenshot: %s\n", args.screenshot.c_str());
    {
      std::lock_guard lock(signal_mutex);
      external.End(signal_reason.empty() ? "the window was closed" : signal_reason);
    }
    std::printf("kvmscope: %s; %llu events recorded\n", external.ended().c_str(),
                static_cast<unsigned long long>(external.events()));
    return kExitOk;
  }

  AppController controller(args);
  if (!args.trace.empty()) {
    std::string message = controller.OpenReplay(args.trace);
    if (message.rfind("opened ", 0) != 0) {
      std::fprintf(stderr, "kvmscope: %s\n", message.c_str());
      return kExitUsage;
    }
  } else {
    RunArgs run;
    run.guest = args.guest;
    run.param = args.param;
    run.timeout_s = args.timeout_s;
    std::string message = controller.StartLive(run, args.paused);
    if (message.rfind("running ", 0) != 0) {
      std::fprintf(stderr, "kvmscope: %s\n", message.c_str());
      return controller.attach_refused() ? kExitEnvironment : kExitUsage;
    }
  }
  try {
    ui::RunGui(controller, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvmscope: the window failed: %s\n", e.what());
    return kExitEnvironment;
  }
  if (!args.screenshot.empty()) std::printf("wrote screenshot: %s\n", args.screenshot.c_str());
  // The window is closed: stop the guest on screen (the probes detach with
  // it) and say how it ended. Closed by a signal, the exit status is run's
  // (0 the guest passed, 1 it did not, e.g. stopped); closed by the user, 0.
  std::string reason;
  {
    std::lock_guard lock(signal_mutex);
    reason = signal_reason.empty() ? "the window was closed" : signal_reason;
  }
  std::optional<vmm::Outcome> out = controller.Finish(reason);
  if (out) {
    std::printf("verdict: %s — %s\n", std::string(vmm::VerdictName(out->verdict)).c_str(),
                out->detail.c_str());
  }
  if (signal == 0) return kExitOk;
  return !out || vmm::IsSuccess(out->verdict) ? kExitOk : kExitGuestFailed;
}

}  // namespace kvmscope::app

// `kvmscope top`: a live terminal view of KVM on this machine, per VM and per
// vCPU thread, from kvm_top.bpf.c's counters. Wiring only: the counting is
// probes/top_session, the numbers and text traces/top_model, the terminal
// app/top_screen; what is read from /proc to name the threads is here.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "app/privileges.h"
#include "app/top_screen.h"
#include "probes/host.h"
#include "probes/top_session.h"
#include "procs/vm_list.h"

namespace kvmscope::app {

CLI::App* AddTopCommand(CLI::App& cli, TopArgs& args) {
  CLI::App* top = cli.add_subcommand(
      "top",
      "A live view of KVM on this machine, per VM and per vCPU thread: exits/s by reason "
      "(KVM_EXIT_* returned to the VMM, kvm_exit reasons where they fire), time in KVM_RUN, and "
      "p50/p99 of KVM_RUN and of the VMM's handling. Counting only (BPF tracepoints, no events "
      "streamed), so it costs little; works where kvm_exit never fires (PVM). Needs root. Keys: "
      "q quit, s sort, r reset, f reason filter, v VM filter, x vCPU rows, h help");
  top->footer(
      "Exit status: 0 done; 2 usage error, no such process, or a log file that cannot be "
      "written; 3 this host cannot count (not root, no BPF, no tracefs).");
  top->add_option("--pid", args.pid, "Only this VMM process (counted in the kernel)");
  top->add_option("--interval", args.interval_s, "Seconds between updates (default 1)")
      ->check(CLI::Range(0.1, 3600.0));
  top->add_flag("--once", args.once, "Print one interval and exit (no terminal needed)");
  auto* csv = top->add_option("--csv", args.csv,
                              "Append one CSV line per interval, thread and reason to FILE "
                              "(flushed every interval)");
  auto* json = top->add_option("--json", args.json, "The same as JSON lines to FILE");
  csv->excludes(json);
  top->add_flag("--emulation", args.emulation,
                "Also count kvm_emulate_insn (millions per second under PVM: this costs the "
                "guest far more than the rest)");
  return top;
}

namespace {

// A name or "(exited)" when the thread or process has gone.
std::string OrExited(std::string name) { return name.empty() ? "(exited)" : name; }

// Names of the threads in a snapshot, cached (a thread's vCPU by its fd).
class Namer {
 public:
  void Update(const traces::TopSnapshot& snap) {
    for (const traces::TopThreadSample& t : snap.threads) {
      const int tgid = static_cast<int>(t.tgid), tid = static_cast<int>(t.tid);
      if (!m_names.process.count(t.tgid)) m_names.process[t.tgid] = OrExited(procs::CommandLine(tgid));
      if (!m_names.thread.count(t.tid)) m_names.thread[t.tid] = OrExited(procs::ThreadName(tgid, tid));
      auto fd = m_fd.find(t.tid);
      if (fd == m_fd.end() || fd->second != t.fd) {
        m_fd[t.tid] = t.fd;
        m_names.vcpu[t.tid] = t.fd < 0 ? -1 : procs::VcpuIndexOfFd(tgid, t.fd).value_or(-1);
      }
    }
  }
  void Forget(uint32_t tid) {
    m_names.process.erase(tid);  // a main thread gone: its process (a reused pid is named anew)
    m_names.thread.erase(tid);
    m_names.vcpu.erase(tid);
    m_fd.erase(tid);
  }
  const traces::TopNames& names() const { return m_names; }

 private:
  traces::TopNames m_names;
  std::map<uint32_t, int32_t> m_fd;
};

// The threads of a snapshot that have exited.
std::vector<uint32_t> Gone(const traces::TopSnapshot& snap) {
  std::vector<uint32_t> gone;
  for (const traces::TopThreadSample& t : snap.threads) {
    if (access(fmt::format("/proc/{}/task/{}", t.tgid, t.tid).c_str(), F_OK) != 0)
      gone.push_back(t.tid);
  }
  return gone;
}

double UnixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// SIGINT/SIGTERM (stop) and SIGWINCH (redraw) as a readable fd.
int SignalFd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGWINCH);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

}  // namespace

int CmdTop(const TopArgs& args) {
  uint32_t pid = args.pid.value_or(0);
  if (args.pid) {
    if (access(fmt::format("/proc/{}", pid).c_str(), F_OK) != 0) {
      std::fprintf(stderr, "kvmscope: top: no process %u\n", pid);
      return kExitUsage;
    }
    const int tgid = procs::ThreadGroupOf(static_cast<int>(pid)).value_or(static_cast<int>(pid));
    if (tgid != static_cast<int>(pid)) {
      std::fprintf(stderr, "kvmscope: top: %u is a thread of process %d (%s): use --pid %d\n", pid,
                   tgid, procs::ThreadName(tgid, tgid).c_str(), tgid);
      return kExitUsage;
    }
    if (std::string refused = OtherUserRefusal(static_cast<int>(pid), "top"); !refused.empty()) {
      std::fprintf(stderr, "%s\n", refused.c_str());
      return kExitEnvironment;
    }
    if (geteuid() == 0 && procs::ReadPid(static_cast<int>(pid)).kind == procs::PidKind::NotVm) {
      std::fprintf(stderr, "kvmscope: top: pid %u (%s) holds no KVM VM\n", pid,
                   procs::ThreadName(static_cast<int>(pid), static_cast<int>(pid)).c_str());
      return kExitUsage;
    }
  }
  const std::string& log_path = args.csv.empty() ? args.json : args.csv;
  FILE* log = nullptr;
  if (!log_path.empty()) {
    log = std::fopen(log_path.c_str(), "a");
    if (!log) {
      std::fprintf(stderr, "kvmscope: top: cannot write %s: %s\n", log_path.c_str(),
                   std::strerror(errno));
      return kExitUsage;
    }
    if (!args.csv.empty() && std::ftell(log) == 0)
      std::fprintf(log, "%s\n", traces::TopCsvHeader().c_str());
  }
  std::unique_ptr<FILE, int (*)(FILE*)> log_closer(log,
                                                   [](FILE* f) { return f ? std::fclose(f) : 0; });

  std::unique_ptr<probes::TopSession> session;
  try {
    session = std::make_unique<probes::TopSession>(probes::TopOptions{pid, args.emulation, OwnProcessesOnly()});
  } catch (const probes::ProbeError& e) {
    std::fprintf(stderr, "kvmscope: top: cannot count KVM here: %s\n", e.what());
    return kExitEnvironment;
  }

  const bool tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
  const bool screen = !args.once && tty;
  const bool batch = !args.once && !tty && !log;  // no terminal, no log: frames as text
  TopScreen view_state;
  traces::TopHeader header;
  header.backend = std::string(probes::BackendName(session->backend()));
  header.interval_s = args.interval_s;
  header.emulation = args.emulation;
  header.skipped = session->skipped();

  int sigfd = SignalFd();
  std::unique_ptr<RawTerminal> terminal;
  if (screen) terminal = std::make_unique<RawTerminal>(STDIN_FILENO, STDOUT_FILENO);
  Namer namer;
  traces::TopSnapshot prev = session->Read();
  std::vector<traces::TopVmRows> rows;
  bool have_frame = false;
  auto body = [&](size_t width) {
    if (!have_frame) {
      std::vector<std::string> lines =
          traces::FormatTopScreen({}, header, view_state.view(), width);
      lines.back() =
          "  (counting: the first interval ends in " + fmt::format("{:.1f} s)", args.interval_s);
      return lines;
    }
    return traces::FormatTopScreen(rows, header, view_state.view(), width);
  };
  auto draw = [&] {
    if (!screen) return;
    auto [cols, lines] = RawTerminal::Size(STDOUT_FILENO);
    std::string frame = view_state.Render(body(cols), cols, lines);
    // One write per frame: a line-buffered stdout would hand the terminal
    // half a frame (the header sorted anew, the status line still old).
    std::fflush(stdout);
    for (size_t at = 0; at < frame.size();) {
      ssize_t n = ::write(STDOUT_FILENO, frame.data() + at, frame.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
  };
  draw();

  using Clock = std::chrono::steady_clock;
  const auto period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.interval_s));
  auto deadline = Clock::now() + period;
  std::string stopped;
  while (stopped.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd fds[2] = {{sigfd, POLLIN, 0}, {screen ? STDIN_FILENO : -1, POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n < 0 && errno != EINTR) break;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      signalfd_siginfo si{};
      while (read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH)
          draw();
        else
          stopped = si.ssi_signo == SIGINT ? "interrupted" : "terminated";
      }
    }
    if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
      char keys[64];
      ssize_t got = read(STDIN_FILENO, keys, sizeof keys);
      if (got <= 0) stopped = "standard input closed";
      for (ssize_t i = 0; i < got && stopped.empty(); ++i) {
        TopScreen::Action a = view_state.OnKey(keys[i]);
        if (a == TopScreen::Action::Quit) stopped = "quit";
        if (a == TopScreen::Action::Reset) {
          prev = session->Read();
          have_frame = false;
          deadline = Clock::now() + period;
        }
      }
      draw();
    }
    if (!stopped.empty() || Clock::now() < deadline) continue;

    traces::TopSnapshot cur = session->Read();
    namer.Update(cur);
    traces::TopInterval interval = traces::DiffTop(prev, cur);
    for (const traces::TopThreadSample& t : cur.threads) header.kvm_exit_fires |= t.hw_exits > 0;
    rows = traces::BuildTopRows(interval, namer.names(), view_state.view());
    have_frame = true;
    if (log) {
      double now = UnixNow();
      for (const std::string& l :
           args.csv.empty()
               ? traces::TopJsonLines(interval, namer.names(), view_state.view(), now)
               : traces::TopCsvLines(interval, namer.names(), view_state.view(), now)) {
        std::fprintf(log, "%s\n", l.c_str());
      }
      std::fflush(log);
    }
    if (args.once || batch) {
      for (const std::string& l : traces::FormatTopScreen(rows, header, view_state.view(), 1000)) {
        std::printf("%s\n", l.c_str());
      }
      std::printf("\n");
      std::fflush(stdout);
    }
    draw();
    std::vector<uint32_t> gone = Gone(cur);
    session->Forget(gone);
    for (uint32_t tid : gone) namer.Forget(tid);
    prev = std::move(cur);
    if (args.once) break;
    deadline += period;
    if (deadline < Clock::now()) deadline = Clock::now() + period;  // suspended, or slow reads
  }
  if (terminal) terminal->Restore();
  session->Detach();
  close(sigfd);
  if (!stopped.empty() && stopped != "quit" && !screen)
    std::fprintf(stderr, "kvmscope: top: %s\n", stopped.c_str());
  return kExitOk;
}

}  // namespace kvmscope::app

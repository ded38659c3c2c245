// The subcommands of kvmscope, each returning a process exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probes/plan.h"

namespace CLI {
class App;
}  // namespace CLI

namespace kvmscope {
namespace traces {
class Trace;
struct TraceData;
}  // namespace traces
namespace probes {
struct SessionOptions;
}  // namespace probes
namespace lab {
struct Lab;
}  // namespace lab

namespace app {

// The --attach value (checked by the parser) as the probes' choice.
inline probes::AttachChoice AttachChoiceOf(const std::string& attach) {
  return probes::ParseAttachChoice(attach).value_or(probes::AttachChoice::Auto);
}

struct GuestsArgs {
  std::string name;
  bool source = false;
};
int CmdGuests(const GuestsArgs& args);

struct RunArgs {
  std::string guest, guest_bin, guest_asm;
  std::string mode;  // for custom guests; default real
  std::string load;  // parsed by CmdRun so a bad address gets its own message
  std::string expect;
  std::string param;
  bool step = false;
  int slow_ms = 0;
  std::optional<uint64_t> max_exits;
  std::optional<double> timeout_s;
  bool regs = false;
  bool quiet = false;
  // Kernel tracing (probes/).
  bool no_probes = false;
  std::string stacks = "new";  // new|all|none
  bool system_wide = false;
  std::optional<uint32_t> ring_bytes;
  std::optional<uint64_t> insn_budget;  // --insn-budget: kvm_emulate_insn streamed in all
  std::string attach = "auto";  // auto|kprobe|fentry|tracepoint (--attach)
  bool perf_tracepoints = false;  // --perf-tracepoints: no raw tracepoints
  // Trace files (traces/).
  std::string output;  // -o: native JSON trace
  std::string chrome;  // --chrome: Chrome trace event JSON for Perfetto
};
int CmdRun(const RunArgs& args);
// What run's kernel tracing is asked for (doctor shows the plan it gives).
probes::SessionOptions RunSessionOptions(const RunArgs& args);

// Runs a guest as `kvmscope run` does, recording everything into `trace`
// when it is not null. Returns the exit status.
int RunGuest(const RunArgs& args, traces::Trace* trace);
// Writes the native and/or the Chrome trace (atomically), saying where and
// how big; false after printing why when a write failed.
bool SaveTraces(const traces::TraceData& trace, const std::string& native,
                const std::string& chrome);

// Loads a trace file, or prints why not (the caller exits with status 2).
// Why an output file given as `option` cannot be written ("" when it can):
// its folder is not writable, it is a folder, or it exists and is not
// writable. Checked before a run or a recording, not after.
std::string NotWritable(const std::string& path, const char* option);

// Loads a trace, with a progress line on a terminal; nullopt after saying why.
std::optional<traces::TraceData> LoadOrExplain(const std::string& path);

// A line on stderr that moves while long work goes on ("loading PATH: 45%
// (120.0 of 266.1 MiB)"), redrawn once per percent and erased when done;
// nothing at all when stderr is not a terminal.
class ProgressLine {
 public:
  enum class Unit { Bytes, Events };
  ProgressLine(std::string verb, std::string path, Unit unit);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  void operator()(uint64_t done, uint64_t total);

 private:
  std::string m_verb, m_path;
  Unit m_unit;
  bool m_tty;
  bool m_shown = false;
  int m_percent = -1;
};
// Prints lines of text computed by traces/.
void PrintLines(const std::vector<std::string>& lines, const char* indent = "");

struct TraceArgs {
  std::string trace;   // the trace file to read ("" = live, for check-seed)
  bool json = false;   // stats --json
  int vcpu = -2;       // stats --vcpu (-2: every scope)
  std::string chrome;  // export --chrome
  std::string chain;   // chains --chain
  bool sources = false;  // chains --sources
};
int CmdStats(const TraceArgs& args);
int CmdChains(const TraceArgs& args);
int CmdCheckSeed(const TraceArgs& args);
int CmdExport(const TraceArgs& args);

struct FactsArgs {
  std::string chain;        // --chain
  bool unverified = false;  // --unverified
};
int CmdFacts(const FactsArgs& args);

struct GuiArgs {
  std::string trace;           // replay this trace file
  std::string guest = "hello";  // else run this guest live
  std::string param;            // its --param
  std::optional<double> timeout_s;  // its watchdog (default: the guest's own)
  bool no_probes = false;
  std::string attach = "auto";  // --attach, as for run
  bool paused = false;  // live: start before the first KVM_RUN
  std::string theme = "dark";
  float font_scale = 1.0f;
  int width = 1600, height = 900;
  std::string screenshot;  // save a PNG after `frames` frames and exit
  int frames = 60;
  std::string widget_map;  // test hook: where the toolbar's widgets are (hidden option)
  std::string lab;      // --lab: open the Labs tab on this lab (id or file)
  std::string answers;  // --answers: its answers file (default <lab id>.answers.txt)
  std::string student;  // --student: the id per-student --params come from
  std::string pid;      // --pid: watch this external VMM live (record --pid's checks)
};
int CmdGui(const GuiArgs& args);
// Whether a window can be opened (an X11 or Wayland display is set).
bool HaveDisplay();

struct TourArgs {
  std::string out_dir = "kvmscope-out";
  bool no_probes = false;
  std::string attach = "auto";  // --attach, as for run
};
int CmdTour(const TourArgs& args);

// `kvmscope top` (app/cmd_top.cpp): its options are declared there.
struct TopArgs {
  std::optional<uint32_t> pid;  // --pid: only this VMM
  double interval_s = 1.0;      // --interval
  bool once = false;            // --once: one interval, printed
  std::string csv, json;        // log mode: lines appended to this file
  bool emulation = false;       // --emulation: count kvm_emulate_insn too
};
CLI::App* AddTopCommand(CLI::App& cli, TopArgs& args);
int CmdTop(const TopArgs& args);

struct DoctorArgs {
  std::string attach = "auto";  // show the plan --attach would give
};
int CmdDoctor(const DoctorArgs& args);

struct LabArgs {
  std::string action;  // list | show | run | check | grade | lint
  std::string lab;     // a lab id, or a lab file
  std::string dir;     // --dir: the labs folder (default: the installed labs)
  int step = 0;        // run --step N (1-based; 0 = every step)
  std::string student;  // --student ID
  std::string answers;  // --answers FILE
  std::vector<std::string> traces;       // check --trace FILE...
  std::vector<std::string> predictions;  // run --predict ID=VALUE
  std::string out;       // run --out DIR (where traces go; default .)
  std::string asm_file;  // run/check --asm YOUR.S (steps with your own guest)
  std::string folder;    // grade DIR
  std::string csv_out, json_out;  // grade --csv / --json
  bool json = false;     // check --json
  bool no_run = false;   // lint --no-run
  bool no_probes = false;
  std::string attach = "auto";
};
int CmdLab(const LabArgs& args);
// The `kvmscope run` a lab's step makes for `student`, quiet, saving its
// trace to `trace_path` (`asm_file`: the .S of a `guest: yours` step).
RunArgs RunArgsFor(const lab::Lab& lab, size_t step, const std::string& student,
                   const std::string& asm_file, const std::string& trace_path, const LabArgs& args);
// The labs folder: --dir, $KVMSCOPE_LABS, beside the executable (build tree
// or package), else ./labs.
std::string LabsDir(const std::string& dir);

// `kvmscope record --pid` (app/cmd_record.cpp): its options are declared there.
struct RecordArgs {
  std::string pid;                 // --pid (a string: "no process X" for any bad value)
  std::optional<double> duration_s;  // --duration
  std::string output, chrome;      // -o, --chrome
  bool all_events = false;         // --all-events: stream kvm_emulate_insn and the MMU walk too
  std::string stacks = "new";      // new|all|none
  std::string attach = "auto";     // --attach
  std::string qmp;                 // --qmp SOCKET: KVM's counters from the VMM's QMP
};
CLI::App* AddRecordCommand(CLI::App& cli, RecordArgs& args);
int CmdRecord(const RecordArgs& args);

struct VmsArgs {
  bool json = false;  // --json
};
int CmdVms(const VmsArgs& args);

}  // namespace app
}  // namespace kvmscope

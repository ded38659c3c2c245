// kvmscope: the command line. Parses arguments, wires the VMM to a printer,
// and turns outcomes and errors into exit statuses. No logic of its own.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <cstdio>
#include <string>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "app/man_page.h"
#include "app/privileges.h"
#include "app/version.h"
#include "probes/session.h"

using namespace kvmscope::app;

int main(int argc, char** argv) {
  // First of all: with file capabilities, only the environment kvmscope needs.
  ScrubEnvironment();
  // Blocks of 128 KiB and more (a trace's span vectors as they grow, its
  // staged batches) are mapped and unmapped on their own. glibc's default
  // raises this threshold as such blocks are freed; past that they come from
  // the threads' heaps, where what one thread frees the others do not reuse
  // (a recording's vCPU thread and probe thread both grow the trace): ~30 MiB
  // more at the peak of a 2.2M-event recording.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App cli{
      "kvmscope: watch Linux KVM run a virtual machine. A built-in VMM runs small real "
      "guests on /dev/kvm and shows every KVM_RUN and exit; BPF programs show what the host "
      "kernel did for each.\n"
      "With no command, opens the window on the hello guest where there is a display, and runs "
      "the terminal walk-through (tour) otherwise.",
      "kvmscope"};
  cli.footer(kExitCodeHelp);
  cli.require_subcommand(0, 1);
  cli.set_version_flag("--version", "kvmscope " KVMSCOPE_VERSION " (git " KVMSCOPE_GIT_REVISION ")",
                       "Print kvmscope's version and the git revision it was built from");
  // For the build (hidden): kvmscope(1) and the bash completion, written from this command line.
  bool man_page = false, bash_completion = false;
  cli.add_flag("--man-page", man_page)->group("");
  cli.add_flag("--bash-completion", bash_completion)->group("");
  std::string help_topic;
  CLI::App* help = cli.add_subcommand("help", "Help on a command: 'kvmscope help COMMAND' is 'kvmscope COMMAND --help'");
  help->add_option("command", help_topic, "The command (with none: the list of commands)");

  RunArgs run_args;
  GuestsArgs guests_args;
  // --attach on every command that traces: the same words, the same check.
  auto add_attach = [](CLI::App* cmd, std::string& into) {
    cmd->add_option("--attach", into,
                    "How the kernel's function probe points (run loop, exit handler, page "
                    "fault) are traced: auto = the best this kernel allows (default), or force "
                    "kprobe, fentry or tracepoint (exit status 3 if the kernel refuses it)")
        ->check(CLI::IsMember({"auto", "kprobe", "fentry", "tracepoint"}));
  };

  CLI::App* guests =
      cli.add_subcommand("guests", "List the built-in guest catalog, or describe one");
  guests->add_option("name", guests_args.name, "Describe this guest in full");
  guests->add_flag("--source", guests_args.source, "Also print the guest's assembly source");

  CLI::App* run = cli.add_subcommand("run", "Run a guest and print each exit live");
  run->footer(kExitCodeHelp);
  auto* g = run->add_option("--guest", run_args.guest,
                            "A guest from the catalog (see 'kvmscope guests')");
  auto* bin = run->add_option("--guest-bin", run_args.guest_bin, "Run your own flat binary FILE");
  auto* as = run->add_option("--guest-asm", run_args.guest_asm,
                             "Assemble your own GNU-as FILE.S with 'as' and run it");
  g->excludes(bin, as);
  bin->excludes(as);
  run->add_option("--mode", run_args.mode,
                  "CPU mode for --guest-bin/--guest-asm: real|protected|long (default real)");
  run->add_option("--load", run_args.load,
                  "Load address for --guest-bin/--guest-asm, also the entry point "
                  "(default 0x8000)");
  run->add_option("--expect", run_args.expect,
                  "Self-check value your guest must report on port 0x500 to pass");
  run->add_option("--param", run_args.param, "Parameter handed to the guest in RSI (pio-loop, pio-pair: N)");
  run->add_flag("--step", run_args.step, "Press Enter for each KVM_RUN (c = continue, q = quit)");
  run->add_option("--slow", run_args.slow_ms, "Slow motion: MS milliseconds before each KVM_RUN")
      ->check(CLI::Range(0, 60'000));
  run->add_option("--max-exits", run_args.max_exits, "Exit budget, all vCPUs (0 = none)");
  run->add_option("--timeout", run_args.timeout_s,
                  "Time budget in seconds of unpaused running (default 10; spin: 2)")
      ->check(CLI::Range(0.001, 86'400.0));
  run->add_flag("--regs", run_args.regs, "Read the registers at every exit and show RIP");
  run->add_flag("-q,--quiet", run_args.quiet, "Print only the console output and the verdict");
  run->add_flag("--no-probes", run_args.no_probes,
                "Do not trace the host kernel (by default BPF programs watch KVM in the kernel "
                "while the guest runs; needs root)");
  run->add_option("--stacks", run_args.stacks,
                  "Kernel stacks: new = for call paths not seen before plus a sample (default), "
                  "all = every event (costs about half the traced speed: scripts/bench_probes.sh), none")
      ->check(CLI::IsMember({"new", "all", "none"}));
  run->add_flag("--system-wide", run_args.system_wide,
                "Trace KVM events of every process, not only this VMM");
  run->add_option("--ring-size", run_args.ring_bytes,
                  "Kernel ring buffer size in bytes, a power of two >= 4096 (default 8388608), "
                  "shared among one ring per CPU (up to 16; each at least 4 MiB, or all of it "
                  "when smaller)");
  run->add_option("--insn-budget", run_args.insn_budget,
                  fmt::format("Stream the first N kvm_emulate_insn events (all CPUs together), then "
                              "detach it and take its count from KVM's own counters of this VM "
                              "(insn_emulation + insn_emulation_fail; --system-wide counts it in the "
                              "kernel) (default {}; 0 = stream every one). Under PVM each emulated "
                              "guest instruction is one: a long exit-heavy guest costs less to trace, "
                              "and the trace, stats and window say what was counted only",
                              kvmscope::probes::kDefaultStreamBudget));
  add_attach(run, run_args.attach);
  run->add_flag("--perf-tracepoints", run_args.perf_tracepoints,
                "Attach every tracepoint through perf, none as a raw tracepoint (by default "
                "KVM's tracepoints whose arguments are their records, all but kvm_exit, kvm_entry, "
                "kvm_page_fault and kvm_emulate_insn, are raw where this kernel's prototypes are "
                "the programs', and KVM_RUN's system-call edges have no program: the VMM makes "
                "the entry just before each KVM_RUN and the return is made from "
                "kvm_userspace_exit; with this flag perf's sys_enter_ioctl/sys_exit_ioctl give "
                "both; to compare their cost: scripts/bench_probes.sh)");
  run->add_option("-o,--output", run_args.output,
                  "Save the whole run (VMM and kernel events, stacks, plan, console) as a "
                  "kvmscope trace FILE.json (docs/trace-format.md)");
  run->add_option("--chrome", run_args.chrome,
                  "Also save it as Chrome trace event JSON FILE (name it *.trace.json; *.gz is gzipped), "
                  "for Perfetto, chrome://tracing, DevTools or speedscope");

  TraceArgs trace_args;
  CLI::App* stats = cli.add_subcommand(
      "stats", "Exit reasons, event kinds and handling latency (count, share, total, mean, "
               "p50, p99) of a saved trace, per vCPU and overall, with lost-event counts");
  stats->add_option("trace", trace_args.trace, "A trace saved by 'kvmscope run -o'")->required();
  stats->add_flag("--json", trace_args.json, "Print JSON instead of tables");
  stats->add_option("--vcpu", trace_args.vcpu, "Only this vCPU")->check(CLI::NonNegativeNumber);

  CLI::App* chains = cli.add_subcommand(
      "chains", "The four KVM call chains (VM init, run loop, exceptions, page faults) with "
                "each node's status in a saved trace (observed, present, inlined/absent), and "
                "the observed call tree");
  chains->add_option("trace", trace_args.trace, "A trace saved by 'kvmscope run -o'")->required();
  chains->add_option("--chain", trace_args.chain, "Only this chain: init, run, exceptions, pagefaults");
  chains->add_flag("--sources", trace_args.sources,
                   "Also say where each step's function and sentence were checked in the kernel "
                   "sources (unverified ones are said without it; all facts: 'kvmscope facts')");

  CLI::App* check_seed = cli.add_subcommand(
      "check-seed", "What the seed document claims about KVM's functions and calls, checked "
                    "against a saved trace, or against this kernel live when no trace is given");
  check_seed->add_option("trace", trace_args.trace, "A trace saved by 'kvmscope run -o'");

  FactsArgs facts_args;
  CLI::App* facts = cli.add_subcommand(
      "facts", "Every kernel fact kvmscope states (the chains' functions, versions, source files, "
               "sentences and links, and the seed's claims) with where it was checked in the "
               "kernel sources, as Markdown tables (docs/kernel-facts.md is this output); the "
               "count of checked and unverified facts goes to stderr");
  facts->add_option("--chain", facts_args.chain, "Only this chain: init, run, exceptions, page-faults");
  facts->add_flag("--unverified", facts_args.unverified, "Only the facts that could not be checked");

  CLI::App* export_cmd =
      cli.add_subcommand("export", "Convert a saved trace to Chrome trace event JSON, for Perfetto, "
                                   "chrome://tracing, Chrome DevTools or speedscope");
  export_cmd->add_option("trace", trace_args.trace, "A trace saved by 'kvmscope run -o'")->required();
  export_cmd->add_option("--chrome", trace_args.chrome,
                         "Output FILE, written exactly there (name it *.trace.json: speedscope takes "
                         "*.chrome.json for a DevTools profile; *.gz is gzipped)")
      ->required();

  GuiArgs gui_args;
  CLI::App* gui = cli.add_subcommand(
      "gui", "The desktop window for a lecture: the KVM cycle (VMM, KVM, guest) with live counts "
             "and the selected exit travelling its path, the timeline of every KVM_RUN, the "
             "inspector, the guest console, call chains, stats, doctor and labs. Live on a guest (root "
             "for kernel tracing), or a replay of a saved trace (no privileges). Keys: space "
             "run/pause, s step, r reset, n/p next/previous guest, left/right previous/next exit, "
             "f fit, F12 screenshot, Ctrl+Q quit. SIGINT/SIGTERM close it and stop the guest as "
             "'run' does (exit status 1 unless the guest had passed)");
  auto* gui_trace = gui->add_option("trace", gui_args.trace, "Replay this trace (saved by 'kvmscope run -o')");
  auto* gui_guest = gui->add_option("--guest", gui_args.guest, "Run this catalog guest live (default hello)");
  gui->add_option("--pid", gui_args.pid,
                  "Watch another process's VMM (QEMU, ...) live by its pid, as 'record --pid' "
                  "records it (root; the VMM's own side is not visible, run controls do nothing)")
      ->excludes(gui_guest)
      ->excludes(gui_trace);
  gui->add_option("--param", gui_args.param, "The guest's parameter, as for run (e.g. pio-loop's N)");
  gui->add_option("--timeout", gui_args.timeout_s, "Watchdog in seconds (default: the guest's own)")
      ->check(CLI::PositiveNumber);
  gui->add_flag("--no-probes", gui_args.no_probes, "Do not trace the host kernel");
  add_attach(gui, gui_args.attach);
  gui->add_flag("--paused", gui_args.paused, "Start before the first KVM_RUN (space runs, s steps)");
  gui->add_option("--theme", gui_args.theme, "dark, light or high-contrast (default dark)");
  gui->add_option("--font-scale", gui_args.font_scale, "Text size for the back row (default 1.0)")
      ->check(CLI::Range(0.5, 4.0));
  gui->add_option("--width", gui_args.width, "Window width (default 1600)")->check(CLI::Range(640, 8192));
  gui->add_option("--height", gui_args.height, "Window height (default 900)")->check(CLI::Range(480, 8192));
  gui->add_option("--screenshot", gui_args.screenshot,
                  "Render --frames frames, save this PNG and exit (for docs and tests)");
  gui->add_option("--frames", gui_args.frames, "Frames before --screenshot (default 60)")
      ->check(CLI::Range(1, 100000));
  // For window tests: where the toolbar's buttons are, so real X clicks find them.
  gui->add_option("--widget-map", gui_args.widget_map)->group("");
  gui->add_option("--lab", gui_args.lab,
                  "Open the Labs tab on this lab (an id from 'kvmscope lab list', or a lab file)");
  gui->add_option("--answers", gui_args.answers,
                  "The lab's answers file, saved on every Check and resumed (default LAB-ID.answers.txt)");
  gui->add_option("--student", gui_args.student, "Your student id (some steps derive --param from it)");

  TourArgs tour_args;
  CLI::App* tour = cli.add_subcommand(
      "tour", "The terminal walk-through: runs hello, pagefault and exceptions with kernel "
              "tracing and shows, for each, the exits, the call chain that handled them, the "
              "stats and what the seed document claims; saves every trace");
  tour->add_option("--out", tour_args.out_dir, "Where the traces go (default ./kvmscope-out)");
  tour->add_flag("--no-probes", tour_args.no_probes, "Do not trace the host kernel");
  add_attach(tour, tour_args.attach);

  LabArgs lab_args;
  CLI::App* lab = cli.add_subcommand(
      "lab", "Guided lab exercises: read a lab's handout, run its steps' guests, and have your "
             "answers graded from your own traces (labs/*.md; docs/labs.md tells a lecturer how "
             "to write one). Exit status of check: 0 every graded question right, 1 not");
  lab->require_subcommand(1, 1);
  constexpr const char* kLabExitHelp =
      "Exit status: 0 done (check: every graded question right); 1 check: a question wrong, "
      "unanswered or without its trace, lint: a reference answer failed, run: a guest failed; "
      "2 usage error, or a malformed lab file, answers file or trace (the place is named, "
      "nothing is written); 3 this host cannot run KVM.";
  lab->footer(kLabExitHelp);
  auto add_dir = [&lab_args](CLI::App* c) {
    c->add_option("--dir", lab_args.dir,
                  "The labs folder (default: $KVMSCOPE_LABS, else the labs installed with kvmscope)");
  };
  auto add_lab = [&](const char* name, const char* help) {
    CLI::App* c = lab->add_subcommand(name, help);
    c->footer(kLabExitHelp);
    c->add_option("lab", lab_args.lab, "A lab id (see 'kvmscope lab list') or a lab file")->required();
    c->callback([&lab_args, name] { lab_args.action = name; });
    add_dir(c);
    return c;
  };
  CLI::App* lab_list = lab->add_subcommand("list", "The labs: id, minutes, title, guests");
  lab_list->footer(kLabExitHelp);
  lab_list->callback([&lab_args] { lab_args.action = "list"; });
  add_dir(lab_list);
  add_lab("show", "The lab's handout in the terminal: steps, what to run, what to look at, questions");
  CLI::App* lab_run = add_lab("run", "Run the lab's steps (or one) and save each trace where the lab says");
  lab_run->add_option("--step", lab_args.step, "Only step N (1-based)")->check(CLI::PositiveNumber);
  lab_run->add_option("--out", lab_args.out, "The folder the traces go to (default: the current folder)");
  CLI::App* lab_check = add_lab("check", "Grade your answers against your own traces, with feedback");
  lab_check->add_option("--trace", lab_args.traces,
                        "The traces of the steps that run a guest, in order (default: the files "
                        "the lab names, beside the answers file)");
  lab_check->add_flag("--json", lab_args.json, "Print the result as JSON (for autograders)");
  for (CLI::App* c : {lab_run, lab_check}) {
    c->add_option("--answers", lab_args.answers,
                  "Your answers file: 'student: ID', then one 'id: answer' per line "
                  "(run: predictions are saved into it)");
    c->add_option("--asm", lab_args.asm_file, "Your own guest (GNU-as .S) for the steps that run one");
    c->add_flag("--no-probes", lab_args.no_probes, "Do not trace the host kernel");
    add_attach(c, lab_args.attach);
  }
  lab_run->add_option("--student", lab_args.student, "Your student id (some steps derive --param from it)");
  lab_run->add_option("--predict", lab_args.predictions,
                      "ID=VALUE: commit a prediction before the step runs (else asked on a terminal)");
  CLI::App* lab_grade = add_lab("grade", "For a lecturer: grade every submission in a folder (one "
                                         "folder per student with answers.txt and the traces)");
  lab_grade->add_option("folder", lab_args.folder, "The folder of submissions")->required();
  lab_grade->add_option("--csv", lab_args.csv_out, "The CSV table (default FOLDER/grades.csv)");
  lab_grade->add_option("--json", lab_args.json_out, "The JSON results (default FOLDER/grades.json)");
  CLI::App* lab_lint = add_lab("lint", "For an author: check every query, then run every step live "
                                       "and check that the reference answers pass");
  lab_lint->add_flag("--no-run", lab_args.no_run, "Only parse (no guest runs)");
  lab_lint->add_flag("--no-probes", lab_args.no_probes, "Do not trace the host kernel");
  lab_lint->add_option("--student", lab_args.student, "The student id the per-student parameters use (default lint)");

  TopArgs top_args;
  CLI::App* top = AddTopCommand(cli, top_args);
  RecordArgs record_args;
  CLI::App* record = AddRecordCommand(cli, record_args);

  CLI::App* doctor = cli.add_subcommand(
      "doctor",
      "What this host allows, found by trying: KVM, BPF, kprobes, fentry, each tracepoint, "
      "and the attach plan; exit status 3 if the kernel cannot be traced (or not with the "
      "mechanism --attach forces)");
  DoctorArgs doctor_args;
  add_attach(doctor, doctor_args.attach);

  VmsArgs vms_args;
  CLI::App* vms = cli.add_subcommand(
      "vms", "The KVM virtual machines running on this host: every process holding a KVM VM fd "
             "(anon_inode:kvm-vm in /proc/PID/fd; QEMU, libvirt, Firecracker, kvmscope), its user, "
             "command line, and per vCPU its fd and the thread running it (by QEMU's thread name "
             "'CPU N/KVM', or by the thread sitting in KVM_RUN on that fd; else unknown until "
             "'record' traces it). Root sees every process; other users only their own, and the "
             "processes they may not look at are listed as not permitted");
  vms->footer("Exit status: 0, also when no VM is visible; 2 usage error.");
  vms->add_flag("--json", vms_args.json, "Print JSON (every thread, full command lines)");

  // A bare `help` (CLI11 would show the help command's own help): the list.
  if (argc == 2 && std::string(argv[1]) == "help") {
    std::fputs(cli.help().c_str(), stdout);
    return kExitOk;
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kvmscope: %s (see --help)\n", e.what());
    return kExitUsage;
  }

  if (man_page || bash_completion) {
    std::fputs((man_page ? ManPage(cli, "kvmscope " KVMSCOPE_VERSION) : BashCompletion(cli)).c_str(), stdout);
    return kExitOk;
  }
  if (help->parsed()) {
    CLI::App* topic = nullptr;
    try {
      if (!help_topic.empty()) topic = cli.get_subcommand(help_topic);
    } catch (const CLI::OptionNotFound&) {
    }
    if (!help_topic.empty() && (topic == nullptr || topic == help)) {
      std::fprintf(stderr, "kvmscope: help: no command '%s' (see 'kvmscope --help')\n", help_topic.c_str());
      return kExitUsage;
    }
    std::fputs((help_topic.empty() ? cli.help() : topic->help(cli.get_name())).c_str(), stdout);
    return kExitOk;
  }
  // Commands that read files and trace nothing hold no capabilities (a lab
  // room's kvmscope has some): check-seed and lab run guests live unless
  // given traces, the window may start one at any time.
  const bool reads_only = guests->parsed() || stats->parsed() || chains->parsed() ||
                          export_cmd->parsed() || facts->parsed() || vms->parsed() ||
                          (check_seed->parsed() && !trace_args.trace.empty()) ||
                          (lab->parsed() && (lab_args.action == "list" || lab_args.action == "show" ||
                                             lab_args.action == "grade"));
  if (reads_only) DropCapabilities();
  if (guests->parsed()) return CmdGuests(guests_args);
  if (run->parsed()) return CmdRun(run_args);
  if (doctor->parsed()) return CmdDoctor(doctor_args);
  if (stats->parsed()) return CmdStats(trace_args);
  if (chains->parsed()) return CmdChains(trace_args);
  if (check_seed->parsed()) return CmdCheckSeed(trace_args);
  if (export_cmd->parsed()) return CmdExport(trace_args);
  if (facts->parsed()) return CmdFacts(facts_args);
  if (gui->parsed()) return CmdGui(gui_args);
  if (tour->parsed()) return CmdTour(tour_args);
  if (lab->parsed()) return CmdLab(lab_args);
  if (vms->parsed()) return CmdVms(vms_args);
  if (top->parsed()) return CmdTop(top_args);
  if (record->parsed()) return CmdRecord(record_args);
  // No command: the main job — the window where there is a display, the
  // terminal walk-through otherwise.
  if (HaveDisplay()) return CmdGui(gui_args);
  return CmdTour(tour_args);
}

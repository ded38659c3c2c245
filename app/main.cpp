// kvmscope: the command line. Parses arguments, wires the VMM to a printer,
// and turns outcomes and errors into exit statuses. No logic of its own.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "app/commands.h"
#include "app/exit_codes.h"

using namespace kvmscope::app;

int main(int argc, char** argv) {
  CLI::App cli{
      "kvmscope: watch Linux KVM run a virtual machine. A built-in VMM runs small real "
      "guests on /dev/kvm and shows every KVM_RUN and exit; BPF programs show what the host "
      "kernel did for each.\n"
      "With no command, runs the default guest (hello) in the terminal.",
      "kvmscope"};
  cli.footer(kExitCodeHelp);
  cli.require_subcommand(0, 1);

  RunArgs run_args;
  GuestsArgs guests_args;

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
  run->add_option("--param", run_args.param, "Parameter handed to the guest in RSI (pio-loop: N)");
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
                  "Kernel ring buffer size in bytes, a power of two >= 4096 (default 8388608)");

  CLI::App* doctor = cli.add_subcommand(
      "doctor",
      "What this host allows, found by trying: KVM, BPF, kprobes, fentry, each tracepoint, "
      "and the attach plan; exit status 3 if the kernel cannot be traced");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kvmscope: %s (see --help)\n", e.what());
    return kExitUsage;
  }

  if (guests->parsed()) return CmdGuests(guests_args);
  if (run->parsed()) return CmdRun(run_args);
  if (doctor->parsed()) return CmdDoctor();
  // No command: the main job. Until the GUI and the tour exist, it runs the
  // default guest in the terminal.
  RunArgs defaults;
  defaults.guest = "hello";
  return CmdRun(defaults);
}

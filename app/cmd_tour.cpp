// `kvmscope tour` (the terminal walk-through, and what `kvmscope` runs with
// no command), `chains` and `check-seed`: each runs or loads traces and
// prints what traces/ computes from them.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "traces/report.h"
#include "traces/seed_check.h"
#include "traces/stats.h"
#include "traces/trace.h"

namespace kvmscope::app {

namespace {

void Heading(const std::string& text) {
  std::printf("\n%s\n%s\n", text.c_str(), std::string(text.size(), '-').c_str());
}

// One stop of the tour: a guest, the chain that handles its exits, and the
// kernel event that marks the runs worth showing.
struct Stop {
  const char* guest;
  const char* what;  // what to watch for
  traces::ChainId chain;
  std::optional<traces::EventType> featuring;
};

const Stop kStops[] = {
    {"hello",
     "A real-mode guest prints through the serial port. Every OUT to port 0x3f8 leaves the "
     "guest: KVM_RUN returns KVM_EXIT_IO, the VMM plays the UART, and calls KVM_RUN again. "
     "This is the run loop.",
     traces::ChainId::RunLoop, std::nullopt},
    {"pagefault",
     "A long-mode guest touches pages that are not mapped and handles its own #PF. KVM sees "
     "the fault first: it walks the guest's page tables (shadow paging here) and injects the "
     "#PF into the guest.",
     traces::ChainId::PageFaults, traces::EventType(traces::KernelEventKind::InjException)},
    {"exceptions",
     "A protected-mode guest raises #DE, #BP, #UD and #GP on purpose. KVM queues each "
     "exception and injects it through the guest's IDT.",
     traces::ChainId::Exceptions, traces::EventType(traces::KernelEventKind::InjException)},
};

// Runs one guest quietly with recording; the data, or nullopt when nothing ran.
std::optional<traces::TraceData> Record(const std::string& guest, const TourArgs& tour,
                                        int& status) {
  RunArgs args;
  args.guest = guest;
  args.quiet = true;
  args.no_probes = tour.no_probes;
  args.attach = tour.attach;
  traces::Trace trace;
  status = RunGuest(args, &trace);
  if (status == kExitUsage || status == kExitEnvironment) return std::nullopt;
  return trace.Take();
}

bool KernelTraced(const traces::TraceData& d) { return d.host.plan.has_value(); }

}  // namespace

int CmdChains(const TraceArgs& args) {
  std::optional<traces::ChainId> only;
  if (!args.chain.empty()) {
    only = traces::ChainIdFromName(args.chain);
    if (!only) {
      std::fprintf(stderr, "kvmscope: unknown chain '%s' (init, run, exceptions, pagefaults)\n",
                   args.chain.c_str());
      return kExitUsage;
    }
  }
  std::optional<traces::TraceData> trace = LoadOrExplain(args.trace);
  if (!trace) return kExitUsage;
  traces::KernelFacts facts = traces::FactsOf(*trace);
  std::printf("kernel %s — %zu captured stacks, %llu events with a stack\n",
              facts.Describe().c_str(), facts.stack_count(),
              static_cast<unsigned long long>(facts.event_count()));
  if (std::string note = trace->ExternalNote(); !note.empty()) {
    std::printf("note: %s\n", note.c_str());
  }
  if (!KernelTraced(*trace)) {
    std::printf("note: this trace has no kernel side (%s): the chains show their steps, "
                "not this kernel ([kernel not traced])\n",
                trace->host.not_traced_reason.c_str());
  }
  for (const traces::Chain& chain : traces::Chains()) {
    if (only && chain.id != *only) continue;
    std::printf("\n");
    PrintLines(traces::FormatChain(traces::MatchChain(chain.id, facts), args.sources));
  }
  if (!only) {
    Heading("Observed call tree (all captured stacks merged; events per path)");
    PrintLines(traces::FormatCallTree(traces::BuildCallTree(traces::StackUses(*trace), trace->symbols)));
  }
  return kExitOk;
}

int CmdCheckSeed(const TraceArgs& args) {
  std::vector<traces::TraceData> traces;
  if (!args.trace.empty()) {
    std::optional<traces::TraceData> t = LoadOrExplain(args.trace);
    if (!t) return kExitUsage;
    // The claims are about the kernel's functions: an external VMM's trace
    // checks them as well as kvmscope's own.
    if (std::string note = t->ExternalNote(); !note.empty()) std::printf("note: %s\n", note.c_str());
    traces.push_back(std::move(*t));
  } else {
    std::printf("No trace given: checking this kernel live — recording hello, pagefault and "
                "exceptions with kernel tracing...\n");
    for (const Stop& stop : kStops) {
      int status = 0;
      std::optional<traces::TraceData> t = Record(stop.guest, TourArgs{}, status);
      if (!t) return status;
      if (!KernelTraced(*t)) {
        std::fprintf(stderr, "kvmscope: the live check needs kernel tracing (%s)\n",
                     t->host.not_traced_reason.c_str());
        return kExitEnvironment;
      }
      traces.push_back(std::move(*t));
    }
  }
  std::vector<const traces::TraceData*> all;
  for (const traces::TraceData& t : traces) all.push_back(&t);
  traces::KernelFacts facts = traces::FactsOf(all);
  Heading(fmt::format("The seed document's claims, checked on kernel {}", facts.Describe()));
  PrintLines(traces::FormatSeedCheck(traces::CheckSeed(facts)));
  return kExitOk;
}

int CmdTour(const TourArgs& args) {
  std::error_code ec;
  std::filesystem::create_directories(args.out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "kvmscope: cannot create %s: %s\n", args.out_dir.c_str(),
                 ec.message().c_str());
    return kExitEnvironment;
  }
  std::printf("kvmscope tour: three small guests run on this machine's KVM while BPF programs "
              "watch the host kernel.\nFor each: the exits, the kernel call chain that handled "
              "them, the numbers, and what the seed document claims against what this kernel "
              "did.\n");
  int worst = kExitOk;
  std::vector<std::string> written;
  for (size_t i = 0; i < std::size(kStops); ++i) {
    const Stop& stop = kStops[i];
    Heading(fmt::format("{}/{} — {}", i + 1, std::size(kStops), stop.guest));
    std::printf("%s\n\n", stop.what);
    int status = 0;
    std::optional<traces::TraceData> trace = Record(stop.guest, args, status);
    if (!trace) return status;
    worst = std::max(worst, status);
    traces::KernelFacts facts = traces::FactsOf(*trace);

    Heading(stop.featuring ? fmt::format("Exits whose kernel side has {}",
                                         traces::EventTypeName(*stop.featuring))
                           : std::string("The first exits"));
    PrintLines(traces::FormatRuns(*trace, stop.featuring ? 4 : 6, stop.featuring));

    if (i == 0) {
      Heading("Before any of this: the init chain (module load, then VM and vCPU creation)");
      PrintLines(traces::FormatChain(traces::MatchChain(traces::ChainId::Init, facts)));
    }
    Heading("The chain that handled them, on this kernel");
    if (!KernelTraced(*trace)) {
      std::printf("(no kernel side: %s — nodes show presence in the symbols only)\n",
                  trace->host.not_traced_reason.c_str());
    }
    PrintLines(traces::FormatChain(traces::MatchChain(stop.chain, facts)));

    Heading("Stats");
    PrintLines(traces::FormatStats(traces::ComputeStats(*trace, traces::kAllVcpus)));

    Heading("What the seed document claims about this chain, against this kernel");
    PrintLines(traces::FormatSeedCheck(traces::CheckSeed(facts, stop.chain)));

    std::string base = (std::filesystem::path(args.out_dir) / stop.guest).string();
    if (!SaveTraces(*trace, base + ".json", base + ".trace.json")) return kExitEnvironment;
    written.push_back(base + ".json");
  }
  Heading("Next");
  std::printf("The traces are in %s/ (native .json, and .trace.json for Perfetto, chrome://tracing, DevTools or speedscope).\n",
              args.out_dir.c_str());
  std::printf("  kvmscope stats %s\n  kvmscope chains %s\n  kvmscope check-seed %s\n",
              written[1].c_str(), written[1].c_str(), written[2].c_str());
  return worst;
}

}  // namespace kvmscope::app

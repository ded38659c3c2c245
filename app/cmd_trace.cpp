// The commands that read a trace file — stats, chains, check-seed, export —
// and the saving of traces for run and tour. Wiring: the model in traces/
// computes and formats everything.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "traces/atomic_file.h"
#include "traces/chrome_export.h"
#include "traces/stats.h"
#include "traces/trace_json.h"

namespace kvmscope::app {

namespace {

std::string FileSize(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return "?";
  double kib = st.st_size / 1024.0;
  return kib < 1024 ? fmt::format("{:.1f} KiB", kib) : fmt::format("{:.1f} MiB", kib / 1024);
}

}  // namespace

void PrintLines(const std::vector<std::string>& lines, const char* indent) {
  for (const std::string& line : lines) std::printf("%s%s\n", indent, line.c_str());
}

std::optional<traces::TraceData> LoadOrExplain(const std::string& path) {
  try {
    return traces::LoadTrace(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvmscope: %s\n", e.what());
    return std::nullopt;
  }
}

bool SaveTraces(const traces::TraceData& trace, const std::string& native,
                const std::string& chrome) {
  bool ok = true;
  // `write` returns what the file holds ("1,234 events").
  auto save = [&](const std::string& path, const char* what, auto write) {
    if (path.empty()) return;
    try {
      const std::string holds = write(trace, path);
      std::printf("wrote %s: %s (%s, %s)\n", what, path.c_str(), holds.c_str(), FileSize(path).c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kvmscope: could not save the %s: %s\n", what, e.what());
      ok = false;
    }
  };
  save(native, "trace", [](const traces::TraceData& t, const std::string& p) {
    traces::SaveTrace(t, p);
    return fmt::format("{} events", t.EventCount());
  });
  save(chrome, "Chrome trace (Perfetto, chrome://tracing, DevTools, speedscope)",
       [](const traces::TraceData& t, const std::string& p) {
         // A line that moves on a terminal; nothing when stderr is not one.
         traces::ExportProgress progress;
         if (isatty(STDERR_FILENO)) {
           progress = [&p](size_t done, size_t total) {
             std::fprintf(stderr, "\r  exporting %s: %zu%% (%zu of %zu events)", p.c_str(),
                          total ? done * 100 / total : 100, done, total);
           };
         }
         const traces::ChromeExportCounts c = traces::SaveChromeTrace(t, p, progress);
         if (progress) std::fprintf(stderr, "\r\033[K");
         return fmt::format("{} trace events: {} instants, {} spans, {} names", c.events(), c.instants,
                            c.spans, c.metadata);
       });
  return ok;
}

int CmdStats(const TraceArgs& args) {
  std::optional<traces::TraceData> trace = LoadOrExplain(args.trace);
  if (!trace) return kExitUsage;
  if (args.vcpu >= 0 && trace->TrackOfVcpu(args.vcpu) < 0) {
    std::fprintf(stderr, "kvmscope: the trace has no vCPU %d\n", args.vcpu);
    return kExitUsage;
  }
  traces::Stats stats = traces::ComputeStats(*trace, args.vcpu);
  if (args.json) {
    std::printf("%s\n", traces::StatsJson(stats).c_str());
  } else {
    PrintLines(traces::FormatStats(stats));
  }
  return kExitOk;
}

int CmdExport(const TraceArgs& args) {
  std::optional<traces::TraceData> trace = LoadOrExplain(args.trace);
  if (!trace) return kExitUsage;
  if (std::string note = trace->ExternalNote(); !note.empty()) std::printf("note: %s\n", note.c_str());
  return SaveTraces(*trace, "", args.chrome) ? kExitOk : kExitEnvironment;
}

}  // namespace kvmscope::app

// The commands that read a trace file — stats, chains, check-seed, export —
// and the saving of traces for run and tour. Wiring: the model in traces/
// computes and formats everything.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
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

ProgressLine::ProgressLine(std::string verb, std::string path, Unit unit)
    : m_verb(std::move(verb)), m_path(std::move(path)), m_unit(unit), m_tty(isatty(STDERR_FILENO)) {}

ProgressLine::~ProgressLine() {
  if (m_shown) std::fprintf(stderr, "\r\033[K");
}

void ProgressLine::operator()(uint64_t done, uint64_t total) {
  if (!m_tty || total == 0) return;
  const int percent = static_cast<int>(std::min<uint64_t>(done * 100 / total, 100));
  if (percent == m_percent) return;  // a line per percent, not per call
  m_percent = percent;
  m_shown = true;
  std::string amount =
      m_unit == Unit::Events
          ? fmt::format("{} of {} events", done, total)
          : fmt::format("{:.1f} of {:.1f} MiB", done / 1048576.0, total / 1048576.0);
  std::fprintf(stderr, "\r  %s %s: %d%% (%s)", m_verb.c_str(), m_path.c_str(), percent, amount.c_str());
}

std::string NotWritable(const std::string& path, const char* option) {
  if (path.empty()) return "";
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::string dir = parent.empty() ? std::string(".") : parent.string();
  if (access(dir.c_str(), W_OK) != 0) {
    return fmt::format("{} {}: cannot write to directory '{}': {}", option, path, dir,
                       std::strerror(errno));
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fmt::format("{} {}: is a directory", option, path);
  if (std::filesystem::exists(path, ec) && access(path.c_str(), W_OK) != 0) {
    return fmt::format("{} {}: {}", option, path, std::strerror(errno));
  }
  return "";
}

void PrintLines(const std::vector<std::string>& lines, const char* indent) {
  for (const std::string& line : lines) std::printf("%s%s\n", indent, line.c_str());
}

std::optional<traces::TraceData> LoadOrExplain(const std::string& path) {
  try {
    ProgressLine line("loading", path, ProgressLine::Unit::Bytes);
    return traces::LoadTrace(path, std::ref(line));
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
         traces::ChromeExportCounts c;
         {
           ProgressLine line("exporting", p, ProgressLine::Unit::Events);
           c = traces::SaveChromeTrace(t, p, std::ref(line));
         }
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
  // Before loading what may be a big trace, not after.
  if (std::string why = NotWritable(args.chrome, "--chrome"); !why.empty()) {
    std::fprintf(stderr, "kvmscope: export: %s\n", why.c_str());
    return kExitUsage;
  }
  std::optional<traces::TraceData> trace = LoadOrExplain(args.trace);
  if (!trace) return kExitUsage;
  if (std::string note = trace->ExternalNote(); !note.empty()) std::printf("note: %s\n", note.c_str());
  return SaveTraces(*trace, "", args.chrome) ? kExitOk : kExitEnvironment;
}

}  // namespace kvmscope::app

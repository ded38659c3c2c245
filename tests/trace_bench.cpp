// What a saved trace costs to read, summarize and write, in one process, each
// phase timed on its own: load (parse + spans), `kvmscope stats` (compute +
// format, after load), native save and Chrome export (to files in a temp
// folder), the loaded trace's bytes per event, and how fast a live trace
// takes events while a vCPU stays in KVM_RUN. A benchmark run by hand or
// by scripts/bench_traces.sh, not a test: it prints medians.
//
// It uses only the traces/ API that older revisions have too, so that
// scripts/bench_traces.sh --baseline REV can build this same file against an
// older libkvmscope_traces and print both side by side.
//
// Usage: trace_bench TRACE [ROUNDS] [TMPDIR]   (ROUNDS default 5)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "traces/chrome_export.h"
#include "traces/stats.h"
#include "traces/trace.h"
#include "traces/trace_json.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

uintmax_t FileBytes(const std::string& path) { return std::filesystem::file_size(path); }

// Bytes a track's event store holds, as allocated: the store's own count
// where it has one (EventList), else a vector's capacity (older revisions).
template <class Events>
size_t StoreBytes(const Events& events) {
  if constexpr (requires { events.allocated_bytes(); }) {
    return events.allocated_bytes();
  } else {
    return events.capacity() * sizeof(events[0]);
  }
}

// Bytes the loaded trace's events take in memory.
size_t EventBytes(const kvmscope::traces::TraceData& trace) {
  size_t bytes = 0;
  for (const auto& track : trace.tracks) bytes += StoreBytes(track.events);
  return bytes;
}

// Seconds to feed a live Trace 1,000,000 kernel events of one vCPU that never
// leaves KVM_RUN (the catalog's spin guest), read back every 4,096 events as
// a window's frames do: every merge pairs spans with the run still open.
double LiveOpenRun() {
  using namespace kvmscope::traces;
  Trace trace;
  trace.SetVmmPid(10);
  auto at = [](int64_t t, EventType type) {
    Event e;
    e.time_ns = t;
    e.pid = 10;
    e.tid = 11;
    e.vcpu = 0;
    e.type = type;
    return e;
  };
  Clock::time_point start = Clock::now();
  int64_t t = 1000;
  trace.Add(at(t, VmmEventKind::RunEnter));
  trace.Add(at(++t, KernelEventKind::RunEnter));
  for (int i = 0; i < 1'000'000; ++i) {
    trace.Add(at(t += 2, KernelEventKind::MmuWalk));
    if (i % 4096 == 4095) trace.Read();
  }
  trace.Read();
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kvmscope::traces;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fprintf(stderr, "usage: trace_bench TRACE [ROUNDS] [TMPDIR]\n");
    return 2;
  }
  std::string path = argv[1];
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::string tmp = argc > 3 ? argv[3] : std::filesystem::temp_directory_path().string();
  if (rounds < 1) {
    std::fprintf(stderr, "trace_bench: ROUNDS must be a positive integer\n");
    return 2;
  }
  std::string native_out = tmp + "/trace_bench.native.json";
  std::string chrome_out = tmp + "/trace_bench.trace.json";

  std::vector<double> load, stats, save, chrome, live;
  size_t events = 0, event_bytes = 0, stats_lines = 0;
  uintmax_t native_bytes = 0, chrome_bytes = 0;
  try {
    for (int round = 0; round < rounds; ++round) {
      Clock::time_point t = Clock::now();
      TraceData trace = LoadTrace(path);
      load.push_back(Seconds(t));
      events = trace.EventCount();
      event_bytes = EventBytes(trace);

      t = Clock::now();
      stats_lines = FormatStats(ComputeStats(trace)).size();
      stats.push_back(Seconds(t));

      t = Clock::now();
      SaveTrace(trace, native_out);
      save.push_back(Seconds(t));

      t = Clock::now();
      SaveChromeTrace(trace, chrome_out);
      chrome.push_back(Seconds(t));
      live.push_back(LiveOpenRun());
      std::fprintf(stderr,
                   "round %d/%d: load %.3f s, stats %.3f s, save %.3f s, chrome %.3f s, live %.3f s\n",
                   round + 1, rounds, load.back(), stats.back(), save.back(), chrome.back(),
                   live.back());
    }
    native_bytes = FileBytes(native_out);
    chrome_bytes = FileBytes(chrome_out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trace_bench: %s\n", e.what());
    return 1;
  }
  std::filesystem::remove(native_out);
  std::filesystem::remove(chrome_out);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);

  uintmax_t in_bytes = FileBytes(path);
  constexpr double kMB = 1e6;
  // One line per figure, "name value unit", for scripts to pick up.
  std::printf("events %zu\n", events);
  std::printf("sizeof_event %zu B\n", sizeof(Event));
  std::printf("event_bytes_per_event %.1f B\n", events ? double(event_bytes) / events : 0.0);
  std::printf("load_s %.3f s\n", Median(load));
  std::printf("load_events_per_s %.0f /s\n", events / Median(load));
  std::printf("load_mb_per_s %.1f MB/s\n", in_bytes / kMB / Median(load));
  std::printf("stats_s %.3f s\n", Median(stats));
  std::printf("stats_lines %zu\n", stats_lines);
  std::printf("save_s %.3f s\n", Median(save));
  std::printf("save_mb_per_s %.1f MB/s\n", native_bytes / kMB / Median(save));
  std::printf("chrome_s %.3f s\n", Median(chrome));
  std::printf("chrome_mb_per_s %.1f MB/s\n", chrome_bytes / kMB / Median(chrome));
  std::printf("chrome_mb %.1f MB\n", chrome_bytes / kMB);
  std::printf("live_open_run_events_per_s %.0f /s\n", 1e6 / Median(live));
  std::printf("peak_rss_mib %ld MiB\n", usage.ru_maxrss / 1024);
  return 0;
}

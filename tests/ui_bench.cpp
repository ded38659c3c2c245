// Frame time of the timeline (at fit-all and zoomed in) and of the KVM cycle
// panel over synthetic traces of 10k to 10M events, headless: a benchmark run
// by hand (not a test) to show that a frame costs what is visible, not what
// was recorded; the cycle's one-pass model build is timed beside it, and a
// live 10M-event trace's count per frame, full (before) and incremental
// (after). `ui_bench --growth` prints only the latter.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/synthetic_trace.h"
#include "tests/ui_harness.h"
#include "traces/trace.h"
#include "traces/cycle.h"
#include "ui/cycle_panel.h"
#include "ui/timeline.h"

namespace kvmscope::ui {
namespace {

using traces::Event;
using traces::Track;
using traces::VmmEventKind;

constexpr int64_t kT0 = 1'000'000'000;
constexpr int kFrames = 200;

// Two vCPUs running exit cycles (as tests/ui_timeline_test.cpp builds them)
// and a VMM thread: `events` events in all.
traces::TraceData MakeTrace(size_t events) {
  traces::TraceData trace;
  Track vmm;
  vmm.pid = vmm.tid = 100;
  vmm.kind = traces::TrackKind::Vmm;
  for (int i = 0; i < 10; ++i) {
    Event e;
    e.time_ns = kT0 - 10'000 + i * 1000;
    e.pid = e.tid = 100;
    e.type = VmmEventKind::Ioctl;
    vmm.events.push_back(e);
  }
  trace.tracks.push_back(std::move(vmm));
  const size_t cycles = (events - 10) / 10 / 2;
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    Track t;
    t.pid = 100;
    t.tid = 101 + vcpu;
    t.vcpu = vcpu;
    t.kind = traces::TrackKind::Vcpu;
    t.events.reserve(cycles * 10);
    for (size_t c = 0; c < cycles; ++c) {
      test::AddCycle(t, kT0 + static_cast<int64_t>(c) * test::kCycleNs + vcpu * 3'000, c,
                     traces::kKvmExitIo);
    }
    trace.tracks.push_back(std::move(t));
  }
  // A VMX kernel's symbols and one captured stack through the MMU's fault
  // path, on every MMU walk: the cycle then has a kernel side to count.
  const char* functions[] = {"kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run", "vcpu_run", "vmx_vcpu_run",
                             "vmx_handle_exit", "kvm_mmu_page_fault", "zz_end"};
  uint64_t addr = 0xffffffff81000000;
  std::vector<uint64_t> at;
  for (const char* f : functions) {
    trace.symbols.Add(addr, f);
    at.push_back(addr + 0x40);
    addr += 0x1000;
  }
  trace.symbols.Finish();
  trace.stacks.push_back({at[5], at[4], at[2], at[1], at[0]});  // innermost first
  trace.host.backend = "VMX (Intel)";
  for (Track& t : trace.tracks)
    t.events.Modify([](Event& e) {
      if (e.type == traces::KernelEventKind::MmuWalk) e.stack_id = 0;
    });
  trace.BuildSpans();
  return trace;
}

// CPU time of this thread, µs: the machine may be busy with other work (a
// build), which wall-clock time would count against the frame.
double CpuMicros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

// Runs kFrames frames and gives the median and p99 CPU time and the median
// wall time of one, µs.
template <typename Frame>
void TimeFrames(Frame&& frame, double& median_us, double& p99_us, double& wall_median_us) {
  std::vector<double> cpu, wall;
  for (int i = 0; i < kFrames; ++i) {
    const auto w0 = std::chrono::steady_clock::now();
    const double c0 = CpuMicros();
    frame();
    cpu.push_back(CpuMicros() - c0);
    wall.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - w0).count());
  }
  std::sort(cpu.begin(), cpu.end());
  std::sort(wall.begin(), wall.end());
  median_us = cpu[cpu.size() / 2];
  p99_us = cpu[cpu.size() * 99 / 100];
  wall_median_us = wall[wall.size() / 2];
}

struct Figures {
  double median_us = 0, p99_us = 0;  // CPU time per frame
  double wall_median_us = 0;
  size_t marks = 0, vertices = 0, visible = 0;
};

Figures Measure(HeadlessImGui& ui, const traces::TraceData& trace, SharedView& view) {
  TimelinePanel panel;
  HeadlessImGui::Input input;
  auto frame = [&] {
    ui.Frame(
        [&] {
          ImGui::SetNextWindowPos(ImVec2(0, 0));
          ImGui::SetNextWindowSize(ImGui::GetIO().DisplaySize);
          ImGui::Begin("timeline", nullptr,
                       ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoSavedSettings);
          panel.Draw(trace, view);
          ImGui::End();
        },
        input);
  };
  for (int i = 0; i < 5; ++i) frame();
  // The mouse rests on vCPU 0's events row: hit tests and a tooltip (with
  // the kinds of a fold) are part of the frame, as when a lecturer points.
  if (auto row = panel.Row(0, RowKind::Events)) {
    input.mouse = ImVec2(ImGui::GetIO().DisplaySize.x * 0.6f, (row->y0 + row->y1) / 2);
  }
  for (int i = 0; i < 5; ++i) frame();
  Figures f;
  TimeFrames(frame, f.median_us, f.p99_us, f.wall_median_us);
  f.marks = panel.LastFrameStats().marks;
  f.visible = panel.LastFrameStats().visible_items;
  for (int i = 0; i < ui.draw_data()->CmdListsCount; ++i) {
    f.vertices += static_cast<size_t>(ui.draw_data()->CmdLists[i]->VtxBuffer.Size);
  }
  return f;
}

// The cycle panel in the 1920x1080 window's pane (1260 x 560), a run in the
// middle selected and travelling its path, the mouse on the exit handler.
struct CycleFigures {
  double median_us = 0, p99_us = 0, wall_median_us = 0;
  double build_ms = 0;  // BuildCycle: kernel facts and one pass over every event
  size_t vertices = 0;
  bool fits = false;
};

CycleFigures MeasureCycle(HeadlessImGui& ui, const traces::TraceData& trace) {
  CycleFigures f;
  const double b0 = CpuMicros();
  const traces::CycleModel model = traces::BuildCycle(trace);
  f.build_ms = (CpuMicros() - b0) / 1e3;
  CyclePanel panel;
  SharedView view;
  const traces::Track& vcpu = trace.tracks[1];
  view.selected = KeyOf(vcpu.events[vcpu.events.size() / 2]);
  HeadlessImGui::Input input;
  auto frame = [&] {
    ui.Frame(
        [&] {
          const ImGuiStyle& st = ImGui::GetStyle();
          ImGui::SetNextWindowPos(ImVec2(0, 0));
          ImGui::SetNextWindowSize(ImVec2(1260 + 2 * st.WindowPadding.x,
                                          560 + 2 * st.WindowPadding.y + ImGui::GetFrameHeight()));
          ImGui::Begin("KVM cycle", nullptr, ImGuiWindowFlags_NoSavedSettings);
          panel.Draw(trace, view);
          ImGui::End();
        },
        input);
  };
  for (int i = 0; i < 5; ++i) frame();  // the first one builds the model
  if (const auto* handler = panel.Drawn(traces::CycleNodeId::ExitHandler))
    input.mouse = ImVec2((handler->box.min.x + handler->box.max.x) / 2, (handler->box.min.y + handler->box.max.y) / 2);
  for (int i = 0; i < 5; ++i) frame();
  TimeFrames(frame, f.median_us, f.p99_us, f.wall_median_us);
  f.fits = panel.fits() && model.kernel_data;
  for (int i = 0; i < ui.draw_data()->CmdListsCount; ++i)
    f.vertices += static_cast<size_t>(ui.draw_data()->CmdLists[i]->VtxBuffer.Size);
  return f;
}

// A live run's growth: a trace of `events` events, grown by `cycles` exit
// cycles per vCPU (10 events each) a frame, the VMM's events at once and
// the kernel's one frame late, so that Trace::Merge puts them behind the tail
// of each track as the probe drain does. Each frame takes a snapshot and
// counts the cycle; the CPU time of that count is measured, counting the
// whole trace again (`incremental` false, the old way) or only what changed.
struct GrowthFigures {
  double median_ms = 0, max_ms = 0;
  size_t scanned = 0;  // events passed over by the median count
  size_t events = 0;   // at the end
};

GrowthFigures MeasureGrowth(size_t events, size_t cycles, int frames, bool incremental) {
  traces::Trace trace(MakeTrace(events));
  traces::CycleCache cache;
  cache.SetIncremental(incremental);
  size_t next = (events - 10) / 10 / 2;
  {
    const traces::Trace::Snapshot snap = trace.Read();
    cache.Update(*snap);  // the first count of the trace: not measured
  }
  std::vector<Event> late;
  std::vector<std::pair<double, size_t>> costs;
  for (int f = 0; f < frames; ++f) {
    std::vector<Event> kernel;
    for (int vcpu = 0; vcpu < 2; ++vcpu) {
      Track t;
      t.pid = 100;
      t.tid = 101 + static_cast<uint32_t>(vcpu);
      t.vcpu = vcpu;
      for (size_t c = next; c < next + cycles; ++c)
        test::AddCycle(t, kT0 + static_cast<int64_t>(c) * test::kCycleNs + vcpu * 3'000, c, traces::kKvmExitIo);
      for (Event e : t.events) {
        if (e.type == traces::KernelEventKind::MmuWalk) e.stack_id = 0;
        if (e.type.origin == traces::Origin::Kernel)
          kernel.push_back(e);
        else
          trace.Add(e);
      }
    }
    next += cycles;
    for (const Event& e : late) trace.Add(e);
    late = std::move(kernel);
    const traces::Trace::Snapshot snap = trace.Read();
    const double c0 = CpuMicros();
    cache.Update(*snap, static_cast<double>(f + 1));
    costs.emplace_back((CpuMicros() - c0) / 1e3, cache.last_scanned());
  }
  std::sort(costs.begin(), costs.end());
  GrowthFigures g;
  g.median_ms = costs[costs.size() / 2].first;
  g.scanned = costs[costs.size() / 2].second;
  g.max_ms = costs.back().first;
  g.events = trace.Read()->EventCount();
  return g;
}

void PrintGrowth() {
  const GrowthFigures before = MeasureGrowth(10'000'000, 1000, 9, false);
  const GrowthFigures after = MeasureGrowth(10'000'000, 1000, 60, true);
  std::printf(
      "live growth: 10M events + 20k a frame (VMM events at once, kernel events one frame late,\n"
      "merged behind the tail); CPU ms per count of the cycle, median (max) over 9 / 60 frames\n"
      "%-32s %9.1f ms (%6.1f)  %9zu events passed over\n"
      "%-32s %9.2f ms (%6.2f)  %9zu events passed over\n",
      "before: full recount", before.median_ms, before.max_ms, before.scanned,
      "after: incremental", after.median_ms, after.max_ms, after.scanned);
}

}  // namespace
}  // namespace kvmscope::ui

int main(int argc, char** argv) {
  using namespace kvmscope::ui;
  if (argc > 1 && std::string_view(argv[1]) == "--growth") {
    // Only the live growth comparison.
    PrintGrowth();
    return 0;
  }
  using namespace kvmscope::ui;
  std::printf(
      "frame = NewFrame + Draw + Render, headless, %d frames after 10 warm-up frames; CPU time of\n"
      "the frame's thread, µs. Timeline: 1600x900, mouse over vCPU 0's events row. Cycle: the\n"
      "1920x1080 window's pane (1260x560), a run selected, mouse on the exit handler; 'model ms'\n"
      "is BuildCycle (kernel facts + one pass over every event), done once per trace; a live\n"
      "trace is then counted incrementally (the 'live growth' lines below)\n",
      kFrames);
  std::printf("%10s %7s | %-27s | %-27s | %-37s\n", "events", "build s", "timeline: fit all",
              "timeline: zoomed 100 µs", "cycle panel");
  std::printf("%10s %7s | %7s %7s %9s | %7s %7s %9s | %7s %7s %9s %9s\n", "", "", "median", "p99",
              "vertices", "median", "p99", "vertices", "median", "p99", "vertices", "model ms");
  for (size_t events : {size_t{10'000}, size_t{1'000'000}, size_t{5'000'000}, size_t{10'000'000}}) {
    auto t0 = std::chrono::steady_clock::now();
    const kvmscope::traces::TraceData trace = MakeTrace(events);
    const double build_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    HeadlessImGui ui(ImVec2(1600, 900));
    SharedView fit;
    const Figures a = Measure(ui, trace, fit);
    SharedView zoom;
    const int64_t mid = trace.BeginNs() + (trace.EndNs() - trace.BeginNs()) / 2;
    zoom.view_begin_ns = mid - 50'000;
    zoom.view_end_ns = mid + 50'000;
    const Figures b = Measure(ui, trace, zoom);
    HeadlessImGui cycle_ui(ImVec2(1920, 1080));
    const CycleFigures c = MeasureCycle(cycle_ui, trace);
    std::printf("%10zu %7.2f | %7.0f %7.0f %9zu | %7.0f %7.0f %9zu | %7.0f %7.0f %9zu %9.0f%s\n",
                trace.EventCount(), build_s, a.median_us, a.p99_us, a.vertices, b.median_us, b.p99_us,
                b.vertices, c.median_us, c.p99_us, c.vertices, c.build_ms, c.fits ? "" : " (did not fit)");
  }
  PrintGrowth();
  return 0;
}

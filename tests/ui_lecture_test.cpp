// What a lecture needs from the timeline and its neighbours, driven headless:
// a click on any bar of a run selects that run's exit; Back / Forward and
// "after a step" move the selection and the view; labels on the biggest bars
// never overlap; the legend; fold counts; paused time drawn as cuts; lane
// captions as large as body text; stats tables that fit their panel.
#include <gtest/gtest.h>

#include <random>

#include "tests/synthetic_trace.h"
#include "tests/timeline_fixture.h"
#include "tests/ui_harness.h"
#include "traces/pauses.h"
#include "traces/story.h"
#include "traces/trace_json.h"
#include "ui/colors.h"
#include "ui/stats_panel.h"
#include "ui/timeline.h"
#include "ui/timeline_math.h"
#include "ui/view.h"

namespace kvmscope::ui {
namespace {

using traces::Event;
using traces::KernelEventKind;
using traces::SpanKind;
using traces::TraceData;
using traces::Track;
using traces::TrackKind;
using traces::VmmEventKind;

constexpr int64_t kT0 = 1'000'000'000;
constexpr uint32_t kPid = 100;

Track Thread(TrackKind kind, uint32_t tid, int vcpu) {
  Track t;
  t.pid = kPid;
  t.tid = tid;
  t.vcpu = vcpu;
  t.kind = kind;
  return t;
}

// `cycles` exit cycles on vCPU 0; with `stretch`, cycle c's KVM_RUN is made
// longer by c * stretch ns (so some bars are much bigger than others).
TraceData MakeTrace(size_t cycles, int64_t gap_ns = test::kCycleNs) {
  TraceData trace;
  Track vmm = Thread(TrackKind::Vmm, kPid, -1);
  vmm.events.push_back(test::Ev(kT0 - 5000, VmmEventKind::Ioctl, vmm));
  trace.tracks.push_back(std::move(vmm));
  Track cpu = Thread(TrackKind::Vcpu, kPid + 1, 0);
  const uint32_t reasons[] = {traces::kKvmExitIo, traces::kKvmExitMmio, traces::kKvmExitHlt};
  for (size_t c = 0; c < cycles; ++c) {
    test::AddCycle(cpu, kT0 + static_cast<int64_t>(c) * gap_ns, c, reasons[c % 3]);
  }
  trace.tracks.push_back(std::move(cpu));
  trace.BuildSpans();
  return trace;
}

using LectureFixture = TimelineFrames;

// --- selecting a run as a whole ---

TEST_F(LectureFixture, ClickingAnyBarOfARunSelectsThatRunsExit) {
  const TraceData trace = MakeTrace(20);
  const Track& cpu = trace.tracks[1];
  const traces::Span& run = cpu.spans[size_t(SpanKind::Run)][7];
  const Event& exit = cpu.events[run.end];
  ASSERT_EQ(exit.type, traces::EventType(VmmEventKind::RunExit));
  m_view.view_begin_ns = run.begin_ns - 2000;  // one run across the screen
  m_view.view_end_ns = run.end_ns + 2000;
  Frame(trace);
  Frame(trace);

  // The middle of the KVM_RUN bar (not its end).
  Click(trace, RowCentre(RowKind::Run, run.begin_ns + run.duration_ns() / 2));
  ASSERT_TRUE(m_view.selected);
  EXPECT_EQ(*m_view.selected, KeyOf(exit));

  // The kernel's KVM_RUN bar of the same run.
  m_view.selected.reset();
  const traces::Span& kernel = cpu.spans[size_t(SpanKind::KernelRun)][7];
  Click(trace, RowCentre(RowKind::KernelRun, kernel.begin_ns + kernel.duration_ns() / 2));
  ASSERT_TRUE(m_view.selected);
  EXPECT_EQ(*m_view.selected, KeyOf(exit));

  // The VMM handling after it: the exit it handles.
  m_view.selected.reset();
  const traces::Span& handling = cpu.spans[size_t(SpanKind::VmmHandling)][7];
  ASSERT_EQ(handling.begin, run.end);
  Click(trace, RowCentre(RowKind::VmmHandling, handling.begin_ns + 500));
  ASSERT_TRUE(m_view.selected);
  EXPECT_EQ(*m_view.selected, KeyOf(exit));

  // The guest row (kvm_entry → kvm_exit): inside the run too.
  m_view.selected.reset();
  const traces::Span& guest = cpu.spans[size_t(SpanKind::Guest)][7];
  Click(trace, RowCentre(RowKind::Guest, guest.begin_ns + guest.duration_ns() / 2));
  ASSERT_TRUE(m_view.selected);
  EXPECT_EQ(*m_view.selected, KeyOf(exit));
}

// --- back, forward, after a step ---

TEST(LectureView, BackAndForwardStepThroughExitsAndBringThemIntoView) {
  const TraceData trace = MakeTrace(50);
  SharedView view;
  // Nothing selected: back starts at the newest exit, forward at the first.
  ASSERT_TRUE(SelectAdjacentExit(trace, view, -1));
  EXPECT_EQ(*view.selected, KeyOf(trace.At(*traces::LatestExit(trace))));
  view.selected.reset();
  ASSERT_TRUE(SelectAdjacentExit(trace, view, +1));
  const traces::EventRef first = *traces::FirstExit(trace);
  EXPECT_EQ(*view.selected, KeyOf(trace.At(first)));
  EXPECT_FALSE(view.follow_live);
  EXPECT_FALSE(SelectAdjacentExit(trace, view, -1));  // nothing before the first
  EXPECT_EQ(*view.selected, KeyOf(trace.At(first)));

  // A narrow window far away: forward moves it onto the next exit's run.
  view.view_begin_ns = kT0 + 40 * test::kCycleNs;
  view.view_end_ns = view.view_begin_ns + 3 * test::kCycleNs;
  ASSERT_TRUE(SelectAdjacentExit(trace, view, +1));
  const traces::Event& second = trace.At(*traces::AdjacentExit(trace, first, +1));
  EXPECT_EQ(*view.selected, KeyOf(second));
  EXPECT_LE(view.view_begin_ns, second.time_ns - 5200);  // the whole run
  EXPECT_GE(view.view_end_ns, second.time_ns);
  EXPECT_EQ(view.view_end_ns - view.view_begin_ns, 3 * test::kCycleNs);  // same width

  // A selection not in this trace (another was opened) starts over.
  view.selected = EventKey{999, 1, VmmEventKind::RunExit};
  ASSERT_TRUE(SelectAdjacentExit(trace, view, +1));
  EXPECT_EQ(*view.selected, KeyOf(trace.At(first)));
  EXPECT_FALSE(SelectAdjacentExit(TraceData{}, view, +1));
}

TEST(LectureView, AfterAStepTheNewestExitIsSelectedWithTheLastRunsReadable) {
  SharedView view;
  view.follow_live = true;
  // Free running: the last five runs, 10 µs apart.
  const TraceData dense = MakeTrace(40);
  ASSERT_TRUE(SelectLatestExit(dense, view));
  const traces::Event& newest = dense.At(*traces::LatestExit(dense));
  EXPECT_EQ(*view.selected, KeyOf(newest));
  EXPECT_FALSE(view.follow_live);
  const int64_t five_runs = 4 * test::kCycleNs + 5200;  // 1st run's enter → newest exit
  EXPECT_LE(view.view_begin_ns, newest.time_ns - five_runs);
  EXPECT_GE(view.view_end_ns, newest.time_ns);
  EXPECT_LT(view.view_end_ns - view.view_begin_ns, five_runs * 3 / 2);

  // Stepped: a second between runs (the user thinks). Runs of 5 µs a second
  // apart would be slivers: the view keeps to the newest run.
  const TraceData stepped = MakeTrace(10, 1'000'000'000);
  ASSERT_TRUE(SelectLatestExit(stepped, view));
  const traces::Event& last = stepped.At(*traces::LatestExit(stepped));
  EXPECT_EQ(*view.selected, KeyOf(last));
  EXPECT_LE(view.view_begin_ns, last.time_ns - 5200);
  EXPECT_LT(view.view_end_ns - view.view_begin_ns, 100'000);
  EXPECT_FALSE(SelectLatestExit(TraceData{}, view));
}

// Whether any triangle drawn in `color` covers the point (x, y).
bool PixelCovered(const ImDrawData* data, float x, float y, ImU32 color) {
  auto side = [](ImVec2 a, ImVec2 b, float px, float py) {
    return (b.x - a.x) * (py - a.y) - (b.y - a.y) * (px - a.x);
  };
  for (int l = 0; l < data->CmdListsCount; ++l) {
    const ImDrawList* list = data->CmdLists[l];
    for (int i = 0; i + 2 < list->IdxBuffer.Size; i += 3) {
      const ImDrawVert& a = list->VtxBuffer[list->IdxBuffer[i]];
      const ImDrawVert& b = list->VtxBuffer[list->IdxBuffer[i + 1]];
      const ImDrawVert& c = list->VtxBuffer[list->IdxBuffer[i + 2]];
      if (a.col != color || b.col != color || c.col != color) continue;
      const float d1 = side(a.pos, b.pos, x, y), d2 = side(b.pos, c.pos, x, y),
                  d3 = side(c.pos, a.pos, x, y);
      if ((d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0)) return true;
    }
  }
  return false;
}

// A stepped trace: "step 1" before each of `runs` cycles, `gap_ns` apart;
// with `started_paused`, first the "pause (started paused)" of `--paused`.
TraceData SteppedTrace(size_t runs, int64_t gap_ns = 1'000'000'000, bool started_paused = false) {
  TraceData trace = MakeTrace(runs, gap_ns);
  Track& vmm = trace.tracks[0];
  auto control = [&](int64_t t, const char* text) {
    Event e = test::Ev(t, VmmEventKind::Control, vmm);
    e.text = static_cast<uint32_t>(trace.strings.size());
    trace.strings.emplace_back(text);
    vmm.events.push_back(e);
  };
  if (started_paused) control(kT0 - 4000, "pause (started paused)");
  for (size_t c = 0; c < runs; ++c) control(kT0 + static_cast<int64_t>(c) * gap_ns - 100, "step 1");
  trace.BuildSpans();
  return trace;
}

TEST(LectureView, SteppedTheLastFiveRunsShowBecausePausesAreCuts) {
  const TraceData trace = SteppedTrace(10);
  SharedView view;
  ASSERT_TRUE(SelectLatestExit(trace, view));
  const std::vector<traces::EventRef> last = traces::LatestExits(trace, kRecentRuns);
  ASSERT_EQ(last.size(), kRecentRuns);
  EXPECT_LE(view.view_begin_ns, trace.At(last.back()).time_ns - 5200);  // the 5th's run
  EXPECT_GE(view.view_end_ns, trace.At(last.front()).time_ns);
}

// What the window does (seen on a projector): `gui --guest pagefault
// --paused`, `s` pressed six times 0.4 s apart (the window selects each new
// exit with SelectLatestExit), then ← again and again. The guest is paused
// but live. Each time, the selected run is drawn on screen as a bar wide
// enough to read, and after the steps so are the last five runs.
TEST_F(LectureFixture, SteppedThenBackTheSelectedRunsAreDrawnReadable) {
  const TraceData trace = SteppedTrace(6, 400'000'000, true);
  const std::vector<traces::Span>& runs = trace.tracks[1].spans[size_t(SpanKind::Run)];
  ASSERT_EQ(runs.size(), 6u);
  m_view.live = true;  // paused is live: the follow-live logic must not take over
  m_view.follow_live = true;
  Frame(trace);
  constexpr float kReadablePx = 30;  // "IO" and its duration fit
  auto drawn = [&](size_t span) -> float {
    for (const RunBar& b : m_panel.RunBars()) {
      if (b.track == 1 && b.span == span) return b.x1 - b.x0;
    }
    return 0;
  };
  ASSERT_TRUE(SelectLatestExit(trace, m_view));
  EXPECT_EQ(*m_view.selected, KeyOf(trace.tracks[1].events[runs[5].end]));
  Frame(trace);
  Frame(trace);
  for (size_t i = 1; i < 6; ++i) EXPECT_GE(drawn(i), kReadablePx) << "run " << i;
  // The axis: real time since the start, never inside a cut, and between
  // two ticks with no cut between them exactly one step (no jumps: the cut
  // says how long it paused).
  const std::vector<AxisTick>& ticks = m_panel.Ticks();
  ASSERT_GE(ticks.size(), 3u);
  int64_t step = INT64_MAX;
  for (size_t i = 1; i < ticks.size(); ++i) step = std::min(step, ticks[i].time_ns - ticks[i - 1].time_ns);
  for (size_t i = 0; i < ticks.size(); ++i) {
    bool cut_between = false;
    for (const traces::TimeInterval& c : m_panel.Cuts()) {
      EXPECT_FALSE(ticks[i].time_ns > c.begin_ns && ticks[i].time_ns < c.end_ns) << ticks[i].text;
      if (i > 0) cut_between = cut_between || (c.begin_ns >= ticks[i - 1].time_ns && c.end_ns <= ticks[i].time_ns);
    }
    if (i > 0 && !cut_between) {
      EXPECT_EQ(ticks[i].time_ns - ticks[i - 1].time_ns, step) << ticks[i].text;
    }
    EXPECT_NEAR(ticks[i].x, m_panel.TimeToScreenX(ticks[i].time_ns), 1.0f);
  }
  // The VMM's bars end where its work did: the wait is the cut's, not the VMM's.
  const std::optional<RowGeometry> vmm_row = m_panel.Row(0, RowKind::VmmHandling);
  ASSERT_TRUE(vmm_row);
  const traces::Span& handling = trace.tracks[1].spans[size_t(SpanKind::VmmHandling)][3];
  const traces::Pauses pauses(trace);
  const std::optional<traces::TimeInterval> wait = pauses.WaitIn(trace, 1, handling);
  ASSERT_TRUE(wait);
  EXPECT_FALSE(PixelCovered(m_ui.draw_data(), (m_panel.TimeToScreenX(wait->begin_ns) +
                                               m_panel.TimeToScreenX(wait->end_ns)) / 2,
                            (vmm_row->y0 + vmm_row->y1) / 2,
                            PaletteFor(CurrentTheme()).span[size_t(SpanKind::VmmHandling)]));
  // Back, one run at a time, to the first: the selected run stays in view.
  for (int i = 4; i >= 0; --i) {
    ASSERT_TRUE(SelectAdjacentExit(trace, m_view, -1));
    EXPECT_EQ(*m_view.selected, KeyOf(trace.tracks[1].events[runs[size_t(i)].end]));
    Frame(trace);
    Frame(trace);
    EXPECT_GE(drawn(size_t(i)), kReadablePx) << "back to run " << i;
  }
  // And forward again to the newest.
  for (size_t i = 1; i < 6; ++i) {
    ASSERT_TRUE(SelectAdjacentExit(trace, m_view, +1));
    Frame(trace);
    EXPECT_GE(drawn(i), kReadablePx) << "forward to run " << i;
  }
}

TEST(TimeWarpMath, CutsAreShortAndTheMappingRoundTrips) {
  const TimeWarp none;
  EXPECT_EQ(none.ToDisplay(123), 123);
  EXPECT_EQ(none.ToReal(123), 123);
  const std::vector<traces::TimeInterval> cuts = {{1000, 1'001'000}, {2'000'000, 3'000'000}};
  const TimeWarp warp(cuts, 100);
  EXPECT_EQ(warp.ToDisplay(500), 500);          // before: unchanged
  EXPECT_EQ(warp.ToDisplay(1'001'000), 1100);   // a 1 ms pause takes 100 ns
  EXPECT_EQ(warp.ToDisplay(1'001'050), 1150);   // after it: shifted
  EXPECT_EQ(warp.ToDisplay(3'000'000), 2'000'000 - 999'900 + 100);
  int64_t previous = INT64_MIN;
  for (int64_t t = 0; t < 3'200'000; t += 997) {
    const int64_t d = warp.ToDisplay(t);
    EXPECT_GE(d, previous);
    previous = d;
    if (t < 1000 || (t >= 1'001'000 && t < 2'000'000) || t >= 3'000'000) {
      EXPECT_EQ(warp.ToReal(d), t);  // outside cuts: exact
    } else {
      EXPECT_NEAR(static_cast<double>(warp.ToReal(d)), static_cast<double>(t), 10'001.0);
    }
  }
}

TEST_F(LectureFixture, SteppedRunsAreReadableAtFitAll) {
  const TraceData trace = SteppedTrace(6);
  Frame(trace);
  Frame(trace);
  ASSERT_EQ(m_panel.Cuts().size(), 6u);  // before each run (5 waits + the start)
  const traces::Span& run = trace.tracks[1].spans[size_t(SpanKind::Run)][3];
  // Five seconds of think time, six runs of 5.2 µs: the runs take real width.
  EXPECT_GT(m_panel.TimeToScreenX(run.end_ns) - m_panel.TimeToScreenX(run.begin_ns), 30.0f);
  const traces::TimeInterval wait = m_panel.Cuts()[3];
  EXPECT_LT(m_panel.TimeToScreenX(wait.end_ns) - m_panel.TimeToScreenX(wait.begin_ns), 200.0f);
  EXPECT_GE(m_panel.TimeToScreenX(wait.end_ns) - m_panel.TimeToScreenX(wait.begin_ns), 3.0f);
  // Clicking that run still selects its exit, through the warp.
  Click(trace, RowCentre(RowKind::Run, run.begin_ns + run.duration_ns() / 2));
  ASSERT_TRUE(m_view.selected);
  EXPECT_EQ(*m_view.selected, KeyOf(trace.tracks[1].events[run.end]));
}

// --- labels ---

TEST(LabelPlacement, BiggestFirstNeverOverlappingAndInsideTheWidth) {
  // Three labels on top of each other: only the biggest survives.
  std::vector<PlacedLabel> placed =
      PlaceLabels({{100, 60, 1, 0}, {110, 60, 5, 1}, {120, 60, 3, 2}, {400, 60, 0.5, 3}}, 1000, 4);
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_EQ(placed[0].id, 1u);
  EXPECT_EQ(placed[1].id, 3u);
  EXPECT_DOUBLE_EQ(placed[0].x0, 80);
  // Sticking out of the edge: moved inside.
  placed = PlaceLabels({{5, 40, 1, 7}, {998, 40, 1, 8}}, 1000, 4);
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_DOUBLE_EQ(placed[0].x0, 0);
  EXPECT_DOUBLE_EQ(placed[1].x1, 1000);
  // Wider than the whole row: not placed.
  EXPECT_TRUE(PlaceLabels({{50, 2000, 1, 0}}, 1000, 4).empty());

  // Random candidates: never two overlapping, and the biggest always placed.
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> x(0, 1000), w(10, 120), p(0, 1e6);
  for (int round = 0; round < 200; ++round) {
    std::vector<LabelCandidate> c;
    for (uint32_t i = 0; i < 40; ++i) c.push_back({x(rng), w(rng), p(rng), i});
    const auto biggest = std::max_element(c.begin(), c.end(), [](auto& a, auto& b) {
      return a.priority < b.priority;
    });
    const uint32_t biggest_id = biggest->id;
    placed = PlaceLabels(c, 1000, 4);
    for (size_t i = 1; i < placed.size(); ++i) EXPECT_GE(placed[i].x0, placed[i - 1].x1 + 4);
    EXPECT_TRUE(std::any_of(placed.begin(), placed.end(),
                            [&](const PlacedLabel& l) { return l.id == biggest_id; }));
  }
}

TEST_F(LectureFixture, AtFitAllTheBiggestRunsAreLabelledWithoutOverlap) {
  // 300 runs; every 50th one 100x longer than the rest.
  TraceData trace = MakeTrace(300);
  Track& cpu = trace.tracks[1];
  // Stretch: shift every event after cycle c's enter by a long run.
  int64_t shift = 0;
  size_t i = 0;
  cpu.events.Modify([&](Event& e) {
    if (i % 10 == 1 && (i / 10) % 50 == 0) shift += 500'000;  // the KVM_RUN lasts 0.5 ms more
    e.time_ns += shift;
    ++i;
  });
  trace.BuildSpans();
  Frame(trace);
  Frame(trace);
  const std::vector<RunLabel>& labels = m_panel.RunLabels();
  ASSERT_FALSE(labels.empty());
  for (size_t i = 1; i < labels.size(); ++i) {
    EXPECT_GT(labels[i].x0, labels[i - 1].x1) << labels[i].text;
  }
  // A tag beside a thin bar covers no other bar.
  for (const RunLabel& l : labels) {
    for (const RunBar& b : m_panel.RunBars()) {
      if (b.span == l.span) continue;
      EXPECT_FALSE(b.x1 > l.x0 && b.x0 < l.x1) << l.text << " over run " << b.span;
    }
  }
  // The long runs are the ones labelled, each with its exit reason.
  const auto& runs = cpu.spans[size_t(SpanKind::Run)];
  size_t long_ones = 0;
  for (const RunLabel& l : labels) {
    if (runs[l.span].duration_ns() > 400'000) ++long_ones;
  }
  EXPECT_GE(long_ones, 5u);
  for (const RunLabel& l : labels) {
    EXPECT_TRUE(l.text.starts_with("IO") || l.text.starts_with("MMIO") ||
                l.text.starts_with("HLT"))
        << l.text;
  }
}

// --- legend, fold counts, captions ---

TEST_F(LectureFixture, TheLegendNamesEveryColourUsed) {
  TraceData trace = MakeTrace(30);
  trace.kernel_counts = traces::KernelCounts{};
  trace.kernel_counts->received[size_t(KernelEventKind::Pio)] = 30;
  trace.kernel_counts->received[size_t(KernelEventKind::MmuWalk)] = 30;
  Frame(trace);
  const TimelinePalette& pal = PaletteFor(CurrentTheme());
  auto has = [&](const std::string& text, ImU32 color) {
    for (const LegendEntry& e : m_panel.Legend()) {
      if (e.text == text) return e.color == color;
    }
    return false;
  };
  EXPECT_TRUE(has("KVM_RUN", pal.span[size_t(SpanKind::Run)]));
  EXPECT_TRUE(has("VMM handling", pal.span[size_t(SpanKind::VmmHandling)]));
  EXPECT_TRUE(has("guest", pal.span[size_t(SpanKind::Guest)]));
  EXPECT_TRUE(has("kvm_pio", pal.kernel[size_t(KernelEventKind::Pio)]));
  EXPECT_TRUE(has("kvm_mmu_pagetable_walk", pal.kernel[size_t(KernelEventKind::MmuWalk)]));
  EXPECT_FALSE(has("kvm_cpuid", pal.kernel[size_t(KernelEventKind::Cpuid)]));  // never fired
  EXPECT_TRUE(has("VMM event", pal.vmm_event));
  // The lanes end above the legend.
  ASSERT_FALSE(m_panel.LaneLayout().empty());
  EXPECT_LT(m_panel.LaneLayout().back().y1, 720.0f);
}

TEST_F(LectureFixture, FoldsSayHowManyEvents) {
  const TraceData trace = MakeTrace(20'000);
  Frame(trace);
  EXPECT_GT(m_panel.FoldCountsDrawn(), 0u);
}

TEST_F(LectureFixture, RowsAreTallEnoughForBodyTextCaptions) {
  const TraceData trace = MakeTrace(10);
  Frame(trace);
  const float font = ImGui::GetFontSize();
  for (const LaneGeometry& lane : m_panel.LaneLayout()) {
    for (const RowGeometry& row : lane.rows) EXPECT_GE(row.y1 - row.y0, font);
  }
}

// --- paused time ---

TEST_F(LectureFixture, PausedTimeIsACut) {
  TraceData trace = MakeTrace(3);
  // Stepped: "step 1" before the first run; a second's wait, then "resume".
  Track& vmm = trace.tracks[0];
  auto control = [&](int64_t t, const char* text) {
    Event e = test::Ev(t, VmmEventKind::Control, vmm);
    e.text = static_cast<uint32_t>(trace.strings.size());
    trace.strings.emplace_back(text);
    vmm.events.push_back(e);
  };
  control(kT0 - 100, "step 1");
  Track& cpu = trace.tracks[1];
  size_t i = 0;
  cpu.events.Modify([&i](Event& e) { e.time_ns += i++ >= 10 ? 1'000'000'000 : 0; });
  control(kT0 + 1'000'000'000, "resume");
  trace.BuildSpans();
  Frame(trace);
  ASSERT_EQ(m_panel.Cuts().size(), 2u);  // before the first run, and the wait for "resume"
  const traces::TimeInterval wait = m_panel.Cuts()[1];
  EXPECT_EQ(wait.begin_ns, kT0 + 6000);  // the VMM's last event of the first run
  EXPECT_GT(wait.duration_ns(), 900'000'000);
  bool legend = false;
  for (const LegendEntry& e : m_panel.Legend()) legend = legend || (e.text == "paused" && e.hatched);
  EXPECT_TRUE(legend);
}

// --- stats tables that fit ---

TEST(StatsColumns, TheLeastImportantColumnsGoFirstAndTheNameStays) {
  const std::vector<float> widths = {100, 60, 60, 80, 80};
  const std::vector<int> priority = {0, 0, 3, 1, 2};
  EXPECT_EQ(FitColumns(widths, priority, 1000), (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(FitColumns(widths, priority, 330), (std::vector<size_t>{0, 1, 3, 4}));
  EXPECT_EQ(FitColumns(widths, priority, 250), (std::vector<size_t>{0, 1, 3}));
  EXPECT_EQ(FitColumns(widths, priority, 10), (std::vector<size_t>{0}));
}

TEST(StatsColumns, At1280x720WithALargeFontTheTablesFitTheirPanel) {
  HeadlessImGui ui(ImVec2(1280, 720));
  ImGui::GetIO().FontGlobalScale = 1.5f;
  const TraceData trace = traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  StatsPanel panel;
  SharedView view;
  float panel_width = 0;
  for (int i = 0; i < 3; ++i) {
    ui.Frame([&] {
      ImGui::SetNextWindowPos(ImVec2(0, 0));
      ImGui::SetNextWindowSize(ImVec2(420, 700));  // a third of the window
      ImGui::Begin("stats", nullptr, ImGuiWindowFlags_NoSavedSettings);
      panel_width = ImGui::GetContentRegionAvail().x;
      panel.Draw(trace, view);
      ImGui::End();
    });
  }
  const std::vector<std::string>& shown = panel.ShownColumns(StatsPanel::TableId::Userspace);
  ASSERT_GE(shown.size(), 2u);
  EXPECT_EQ(shown[0], "reason");
  EXPECT_EQ(shown[1], "count");
  EXPECT_LT(shown.size(), 11u);  // not all eleven fit in 420 px at 1.5x
  for (auto id : {StatsPanel::TableId::Userspace, StatsPanel::TableId::Kinds,
                  StatsPanel::TableId::Loss}) {
    EXPECT_GT(panel.TableWidth(id), 0.0f);
    EXPECT_LE(panel.TableWidth(id), panel_width);
  }
}

}  // namespace
}  // namespace kvmscope::ui

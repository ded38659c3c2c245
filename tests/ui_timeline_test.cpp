// The timeline: its pure math (time <-> pixel, zoom, pan, fit, folding), its
// colours, and the panel driven headless over synthetic traces (click, hover,
// wheel, drag, follow live, bounded drawing) and over a real recorded trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "tests/synthetic_trace.h"
#include "tests/timeline_fixture.h"
#include "tests/ui_harness.h"
#include "traces/trace_json.h"
#include "ui/colors.h"
#include "ui/timeline.h"
#include "ui/timeline_math.h"

namespace kvmscope::ui {
namespace {

using traces::Event;
using traces::KernelEventKind;
using traces::SpanKind;
using traces::TraceData;
using traces::Track;
using traces::TrackKind;
using traces::VmmEventKind;

// --- synthetic traces ---

constexpr int64_t kT0 = 1'000'000'000;  // 1 s after boot
constexpr uint32_t kPid = 100;
using test::AddCycle;
using test::Ev;
using test::kCycleNs;

Track MakeVcpu(int vcpu, uint32_t tid) {
  Track t;
  t.pid = kPid;
  t.tid = tid;
  t.vcpu = vcpu;
  t.kind = TrackKind::Vcpu;
  return t;
}

// `cycles` exit cycles on vCPU 0 (10 events each) and a VMM thread's ioctls.
TraceData MakeTrace(size_t cycles) {
  TraceData trace;
  Track vmm;
  vmm.pid = vmm.tid = kPid;
  vmm.kind = TrackKind::Vmm;
  for (int i = 0; i < 3; ++i)
    vmm.events.push_back(Ev(kT0 - 5000 + i * 1000, VmmEventKind::Ioctl, vmm));
  trace.tracks.push_back(std::move(vmm));
  Track cpu = MakeVcpu(0, kPid + 1);
  cpu.events.reserve(cycles * 10);
  const uint32_t reasons[] = {traces::kKvmExitIo, traces::kKvmExitMmio, traces::kKvmExitHlt};
  for (size_t c = 0; c < cycles; ++c) {
    AddCycle(cpu, kT0 + static_cast<int64_t>(c) * kCycleNs, c, reasons[c % 3]);
  }
  trace.tracks.push_back(std::move(cpu));
  trace.BuildSpans();
  return trace;
}

// --- headless frames ---

class TimelineFixture : public TimelineFrames {
 protected:
  size_t Vertices() const {
    size_t n = 0;
    for (int i = 0; i < m_ui.draw_data()->CmdListsCount; ++i) {
      n += static_cast<size_t>(m_ui.draw_data()->CmdLists[i]->VtxBuffer.Size);
    }
    return n;
  }
  size_t Commands() const {
    size_t n = 0;
    for (int i = 0; i < m_ui.draw_data()->CmdListsCount; ++i) {
      n += static_cast<size_t>(m_ui.draw_data()->CmdLists[i]->CmdBuffer.Size);
    }
    return n;
  }
};

// --- math ---

TEST(TimelineMath, TimeAndPixelRoundTrip) {
  const TimeRange view{7'168'169'330'983, 7'168'169'330'983 + 1'000'000};
  EXPECT_DOUBLE_EQ(TimeToX(view.begin_ns, view, 1000), 0.0);
  EXPECT_DOUBLE_EQ(TimeToX(view.end_ns, view, 1000), 1000.0);
  for (int64_t dt : {0LL, 1LL, 999LL, 123'457LL, 999'999LL, 1'000'000LL, -5000LL, 2'000'000LL}) {
    const int64_t t = view.begin_ns + dt;
    EXPECT_EQ(XToTime(TimeToX(t, view, 1000), view, 1000), t) << dt;
  }
  for (double x : {0.0, 0.5, 333.25, 999.9, 1000.0}) {
    EXPECT_NEAR(TimeToX(XToTime(x, view, 1000), view, 1000), x, 0.001) << x;
  }
}

TEST(TimelineMath, ZoomKeepsTheAnchorUnderTheCursor) {
  const TimeRange view{1'000'000'000, 1'000'100'000};  // 100 µs on 1000 px
  const double x = 300;
  const int64_t anchor = XToTime(x, view, 1000);
  for (double factor : {0.8, 0.5, 0.1, 1.25, 3.0}) {
    TimeRange z = ZoomAround(view, anchor, factor);
    EXPECT_NEAR(static_cast<double>(z.width_ns()), 100'000 * factor, 1) << factor;
    EXPECT_NEAR(TimeToX(anchor, z, 1000), x, 0.01) << factor;
  }
}

TEST(TimelineMath, ZoomIsClampedAndTheAnchorStays) {
  const TimeRange view{5'000, 105'000};
  const int64_t anchor = 30'000;  // a quarter of the way across
  TimeRange z = view;
  for (int i = 0; i < 40; ++i) z = ZoomAround(z, anchor, 0.5);
  EXPECT_EQ(z.width_ns(), kMinViewNs);
  EXPECT_NEAR(TimeToX(anchor, z, 1000), 250, 10);
  TimeRange out = ZoomAround(view, anchor, 1e9, 1'000'000);
  EXPECT_EQ(out.width_ns(), 1'000'000);
  EXPECT_NEAR(TimeToX(anchor, out, 1000), 250, 0.01);
  // Nonsense factors leave the window as it is.
  EXPECT_EQ(ZoomAround(view, anchor, 0), view);
  EXPECT_EQ(ZoomAround(view, anchor, std::nan("")), view);
  EXPECT_EQ(ZoomAround(view, anchor, -2), view);
}

TEST(TimelineMath, PanMovesTheContentWithTheMouseAndKeepsTheTraceNear) {
  const TimeRange view{1'000'000, 2'000'000};  // 1000 ns per px on 1000 px
  TimeRange p = Pan(view, 100, 1000);
  EXPECT_EQ(p, (TimeRange{900'000, 1'900'000}));
  const int64_t t = 1'500'000;
  EXPECT_NEAR(TimeToX(t, p, 1000), TimeToX(t, view, 1000) + 100, 1e-9);
  EXPECT_EQ(Pan(p, -100, 1000), view);

  const TimeRange bounds{1'000'000, 1'500'000};
  TimeRange far_right = KeepNear({9'000'000, 10'000'000}, bounds);
  EXPECT_EQ(far_right.width_ns(), 1'000'000);
  EXPECT_EQ(far_right.begin_ns, bounds.end_ns - 100'000);  // a tenth of the view still shows data
  TimeRange far_left = KeepNear({-5'000'000, -4'000'000}, bounds);
  EXPECT_EQ(far_left.end_ns, bounds.begin_ns + 100'000);
  EXPECT_EQ(KeepNear(view, bounds), view);  // overlapping enough: untouched
}

TEST(TimelineMath, FitLeavesAMarginAndHasAMinimumWidth) {
  EXPECT_EQ(FitRange(1000, 2000, 0.05), (TimeRange{950, 2050}));
  EXPECT_EQ(FitRange(2000, 1000, 0.05), (TimeRange{950, 2050}));
  EXPECT_EQ(FitRange(0, 1'000'000), (TimeRange{-20'000, 1'020'000}));  // 2% by default
  TimeRange point = FitRange(5000, 5000);
  EXPECT_EQ(point.width_ns(), kMinViewNs);
  EXPECT_EQ(point.begin_ns + kMinViewNs / 2, 5000);
}

TEST(TimelineMath, FollowLiveKeepsTheWidthAndTheNewestInView) {
  const TimeRange view{0, 1'000'000};
  TimeRange f = FollowLive(view, 5'000'000, 0.05);
  EXPECT_EQ(f.width_ns(), view.width_ns());
  EXPECT_EQ(f.end_ns, 5'050'000);
  EXPECT_LT(f.begin_ns, 5'000'000);
}

TEST(TimelineMath, MillionEventsInOneMillisecondFoldIntoAFewHundredMarks) {
  const size_t n = 1'000'000;
  std::vector<int64_t> times(n);
  for (size_t i = 0; i < n; ++i) times[i] = kT0 + static_cast<int64_t>(i);  // 1 ns apart
  const TimeRange view{kT0, kT0 + 1'000'000};
  std::vector<FoldMark> marks = Fold(times, times, view, 1000);
  EXPECT_LE(marks.size(), static_cast<size_t>(1000 / kFoldPx + 1));
  EXPECT_GE(marks.size(), 300u);  // folded per ~3 px, not into one lump: density still shows
  uint64_t sum = 0;
  uint32_t next = 0;
  for (size_t i = 0; i < marks.size(); ++i) {
    EXPECT_EQ(marks[i].first, next);  // contiguous, in order
    next += marks[i].count;
    sum += marks[i].count;
    if (i > 0) {
      EXPECT_GE(marks[i].x0 - marks[i - 1].x0, kFoldPx - 1e-9);
    }
  }
  EXPECT_EQ(sum, n);
}

TEST(TimelineMath, SparseItemsStaySeparateAndCloseOnesMerge) {
  const TimeRange view{0, 1000};  // 1 ns per px
  std::vector<int64_t> sparse = {0, 10, 20, 500, 999};
  std::vector<FoldMark> marks = Fold(sparse, sparse, view, 1000);
  ASSERT_EQ(marks.size(), sparse.size());
  for (size_t i = 0; i < marks.size(); ++i) {
    EXPECT_EQ(marks[i], (FoldMark{double(sparse[i]), double(sparse[i]), 1, uint32_t(i)}));
  }
  // Exactly min_px apart: separate; closer: one mark.
  std::vector<int64_t> edge = {100, 103, 200, 202};
  marks = Fold(edge, edge, view, 1000);
  ASSERT_EQ(marks.size(), 3u);
  EXPECT_EQ(marks[0].count, 1u);
  EXPECT_EQ(marks[1].count, 1u);
  EXPECT_EQ(marks[2], (FoldMark{200, 202, 2, 2}));
  // Nothing to fold, or nowhere to draw.
  EXPECT_TRUE(Fold({}, {}, view, 1000).empty());
  EXPECT_TRUE(Fold(edge, edge, view, 0).empty());
  EXPECT_TRUE(Fold(edge, edge, TimeRange{5, 5}, 1000).empty());
}

TEST(TimelineMath, WideItemsAreNeverFoldedIntoTheirNarrowNeighbours) {
  const TimeRange view{0, 1000};
  // Two narrow spans, then a wide one starting within 3 px of them, then one
  // that began before the window.
  std::vector<int64_t> begins = {-50, 100, 101, 102, 400};
  std::vector<int64_t> ends = {20, 100, 101, 300, 401};
  std::vector<FoldMark> marks = Fold(begins, ends, view, 1000);
  ASSERT_EQ(marks.size(), 4u);
  EXPECT_EQ(marks[0], (FoldMark{-50, 20, 1, 0}));  // wide, partly left of the window
  EXPECT_EQ(marks[1], (FoldMark{100, 101, 2, 1}));
  EXPECT_EQ(marks[2], (FoldMark{102, 300, 1, 3}));
  EXPECT_EQ(marks[3], (FoldMark{400, 401, 1, 4}));
}

// The galloping search gives what a plain walk over the items gives.
TEST(TimelineMath, FoldingMatchesAStraightforwardScan) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    // Non-overlapping spans: bursts of tiny ones, long ones, gaps of all sizes.
    std::vector<int64_t> begins, ends;
    int64_t t = static_cast<int64_t>(rng() % 1000);
    const size_t n = 1 + rng() % 3000;
    for (size_t i = 0; i < n; ++i) {
      const int64_t width = rng() % 10 == 0 ? static_cast<int64_t>(rng() % 20'000) : rng() % 3;
      begins.push_back(t);
      ends.push_back(t + width);
      t += width + (rng() % 4 == 0 ? static_cast<int64_t>(rng() % 50'000) : rng() % 40);
    }
    const TimeRange view{begins.front() - 100, t};
    const double width_px = 200 + static_cast<double>(rng() % 2000);
    const double min_ns = kFoldPx * static_cast<double>(view.width_ns()) / width_px;
    auto x_of = [&](int64_t v) {
      return static_cast<double>(v - view.begin_ns) * width_px /
             static_cast<double>(view.width_ns());
    };
    auto wide = [&](size_t i) { return static_cast<double>(ends[i] - begins[i]) >= min_ns; };
    std::vector<FoldMark> expected;
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      if (!wide(i)) {
        const double limit = static_cast<double>(begins[i] - view.begin_ns) + min_ns;
        while (j < n && static_cast<double>(begins[j] - view.begin_ns) < limit) ++j;
        if (j - 1 > i && wide(j - 1)) --j;
      }
      expected.push_back({x_of(begins[i]), x_of(std::max(ends[i], ends[j - 1])),
                          static_cast<uint32_t>(j - i), static_cast<uint32_t>(i)});
      i = j;
    }
    std::vector<FoldMark> got = Fold(begins, ends, view, width_px);
    ASSERT_EQ(got.size(), expected.size()) << round;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].first, expected[k].first) << round << " " << k;
      EXPECT_EQ(got[k].count, expected[k].count) << round << " " << k;
      EXPECT_NEAR(got[k].x0, expected[k].x0, 1e-6);
      EXPECT_NEAR(got[k].x1, expected[k].x1, 1e-6);
    }
  }
}

TEST(TimelineMath, TicksAreOneTwoFiveAndLabelledInTheirUnit) {
  EXPECT_EQ(TickStep(1, 100), 100);
  EXPECT_EQ(TickStep(1.3, 100), 200);
  EXPECT_EQ(TickStep(3, 100), 500);
  EXPECT_EQ(TickStep(6, 100), 1000);
  EXPECT_EQ(TickStep(0.001, 1), 1);
  EXPECT_EQ(FormatTick(0, 100), "+0 ns");
  EXPECT_EQ(FormatTick(2'000, 1'000), "+2 µs");
  EXPECT_EQ(FormatTick(3'050'000, 50'000), "+3.05 ms");
  EXPECT_EQ(FormatTick(3'200'000, 200'000), "+3.2 ms");
  EXPECT_EQ(FormatTick(1'234'000'000, 2'000'000), "+1.234 s");
  EXPECT_EQ(FormatTick(3'000'000'000, 1'000'000'000), "+3 s");
  EXPECT_EQ(FormatTick(-1'500'000, 500'000), "-1.5 ms");
  // Every tick of one axis in the unit of its largest offset.
  EXPECT_EQ(FormatTick(0, 50'000, 3'000'000), "+0.00 ms");
  EXPECT_EQ(FormatTick(950'000, 50'000, 3'000'000), "+0.95 ms");
}

TEST(TimelineColors, EveryKindAndSpanIsReadableOnEveryTheme) {
  auto vec = [](ImU32 c) { return ImGui::ColorConvertU32ToFloat4(c); };
  for (Theme theme : {Theme::Dark, Theme::Light, Theme::HighContrast}) {
    const TimelinePalette& p = PaletteFor(theme);
    for (ImU32 bg : {p.background, p.lane_alt}) {
      for (size_t k = 0; k < traces::kKernelEventKinds; ++k) {
        auto type = traces::EventType(static_cast<KernelEventKind>(k));
        EXPECT_GE(ContrastRatio(vec(KindColor(type, theme)), vec(bg)), 3.0)
            << ThemeName(theme) << " " << traces::EventTypeName(type);
      }
      EXPECT_GE(ContrastRatio(vec(KindColor(VmmEventKind::Ioctl, theme)), vec(bg)), 3.0);
      EXPECT_GE(ContrastRatio(vec(p.fold), vec(bg)), 3.0) << ThemeName(theme);
      EXPECT_GE(ContrastRatio(vec(p.text), vec(bg)), 7.0) << ThemeName(theme);
      for (size_t s = 0; s < traces::kSpanKinds; ++s) {
        EXPECT_GE(ContrastRatio(vec(p.span[s]), vec(bg)), 3.0) << ThemeName(theme) << " " << s;
        EXPECT_GE(ContrastRatio(vec(p.span_label[s]), vec(p.span[s])), 4.5) << ThemeName(theme);
      }
    }
    // The canvas is the theme's own window background.
    ImGuiContext* ctx = ImGui::CreateContext();
    ApplyTheme(theme, 1.0f);
    EXPECT_EQ(ImGui::ColorConvertFloat4ToU32(ImGui::GetStyle().Colors[ImGuiCol_WindowBg]),
              p.background)
        << ThemeName(theme);
    ImGui::DestroyContext(ctx);
    // One colour per kernel kind.
    std::vector<ImU32> kinds(p.kernel.begin(), p.kernel.end());
    std::sort(kinds.begin(), kinds.end());
    EXPECT_EQ(std::unique(kinds.begin(), kinds.end()), kinds.end()) << ThemeName(theme);
  }
}

// --- lanes ---

TEST(TimelineLanes, VcpusInOrderThenTheVmmThenSystemWhenAsked) {
  TraceData trace;
  trace.tracks.push_back(MakeVcpu(1, 11));
  Track vmm;
  vmm.tid = 10;
  vmm.kind = TrackKind::Vmm;
  trace.tracks.push_back(vmm);
  Track sys;
  sys.tid = 99;
  sys.pid = 98;
  trace.tracks.push_back(sys);
  trace.tracks.push_back(MakeVcpu(0, 12));
  vmm.tid = 13;  // a second VMM thread (the watchdog) shares the VMM lane
  trace.tracks.push_back(vmm);

  std::vector<Lane> lanes = Lanes(trace);
  ASSERT_EQ(lanes.size(), 3u);
  EXPECT_EQ(lanes[0], (Lane{LaneKind::Vcpu, 0, "vCPU 0", {3}}));
  EXPECT_EQ(lanes[1], (Lane{LaneKind::Vcpu, 1, "vCPU 1", {0}}));
  EXPECT_EQ(lanes[2], (Lane{LaneKind::Vmm, -1, "VMM", {1, 4}}));
  lanes = Lanes(trace, /*show_system=*/true);
  ASSERT_EQ(lanes.size(), 4u);
  EXPECT_EQ(lanes[3], (Lane{LaneKind::System, -1, "tid 99 (pid 98)", {2}}));
}

TEST_F(TimelineFixture, RecordedTraceShowsOneVcpuLaneAndOneVmmLane) {
  const TraceData trace = traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  std::vector<Lane> lanes = Lanes(trace);
  ASSERT_EQ(lanes.size(), 2u);
  EXPECT_EQ(lanes[0].kind, LaneKind::Vcpu);
  EXPECT_EQ(lanes[0].label, "vCPU 0");
  EXPECT_EQ(lanes[1].kind, LaneKind::Vmm);
  EXPECT_EQ(lanes[1].label, "VMM");

  Frame(trace);
  EXPECT_EQ(m_panel.LaneLayout().size(), 2u);
  EXPECT_EQ(m_panel.LastFrameStats().lanes, 2u);
  EXPECT_GT(m_panel.LastFrameStats().marks, 0u);
  EXPECT_EQ(m_panel.VisibleRange(), FitRange(trace.BeginNs(), trace.EndNs()));
  EXPECT_EQ(m_view.view_begin_ns, 0);  // fit all stays "fit all"
  EXPECT_EQ(m_view.view_end_ns, 0);
  // This PVM host has no kvm_entry/kvm_exit: no guest row.
  EXPECT_FALSE(m_panel.Row(0, RowKind::Guest).has_value());
  EXPECT_TRUE(m_panel.Row(0, RowKind::Run).has_value());
}

// --- the panel, driven headless ---

TEST_F(TimelineFixture, ClickAtTheEndOfAKvmRunSelectsItsExit) {
  const TraceData trace = MakeTrace(20);
  Frame(trace);
  Frame(trace);
  const auto& runs = trace.tracks[1].spans[size_t(SpanKind::Run)];
  ASSERT_EQ(runs.size(), 20u);
  const traces::Span& run = runs[7];
  const Event& exit = trace.tracks[1].events[run.end];
  ASSERT_EQ(exit.type, traces::EventType(VmmEventKind::RunExit));
  ImVec2 at = RowCentre(RowKind::Run, run.end_ns);
  at.x -= 1;  // just inside the bar
  Click(trace, at);
  ASSERT_TRUE(m_view.selected.has_value());
  EXPECT_EQ(*m_view.selected, KeyOf(exit));
  EXPECT_EQ(m_view.view_begin_ns, 0);  // a click does not move the view
  EXPECT_EQ(m_view.view_end_ns, 0);

  // A kernel event marker selects that event.
  const Event& walk = trace.tracks[1].events[7 * 10 + 4];
  ASSERT_EQ(walk.type, traces::EventType(KernelEventKind::MmuWalk));
  m_view.view_begin_ns = walk.time_ns - 2000;  // zoom so that markers stand apart
  m_view.view_end_ns = walk.time_ns + 2000;
  Frame(trace);
  Click(trace, RowCentre(RowKind::Events, walk.time_ns));
  ASSERT_TRUE(m_view.selected.has_value());
  EXPECT_EQ(*m_view.selected, KeyOf(walk));
}

TEST_F(TimelineFixture, HoverSetsTheHoveredEventAndLeavingClearsIt) {
  const TraceData trace = MakeTrace(20);
  const Event& pio = trace.tracks[1].events[3 * 10 + 5];
  ASSERT_EQ(pio.type, traces::EventType(KernelEventKind::Pio));
  m_view.view_begin_ns = pio.time_ns - 2000;
  m_view.view_end_ns = pio.time_ns + 2000;
  Frame(trace);
  Frame(trace);
  Frame(trace, {RowCentre(RowKind::Events, pio.time_ns), false});
  ASSERT_TRUE(m_view.hovered.has_value());
  EXPECT_EQ(*m_view.hovered, KeyOf(pio));
  EXPECT_FALSE(m_view.selected.has_value());  // hovering is not selecting
  // Over a KVM_RUN bar: the span's exit.
  const traces::Span& run = trace.tracks[1].spans[size_t(SpanKind::Run)][3];
  Frame(trace, {RowCentre(RowKind::Run, run.end_ns - 100), false});
  ASSERT_TRUE(m_view.hovered.has_value());
  EXPECT_EQ(*m_view.hovered, KeyOf(trace.tracks[1].events[run.end]));
  Frame(trace, {});  // the mouse left
  EXPECT_FALSE(m_view.hovered.has_value());
  // What another panel hovers is not cleared by the timeline.
  m_view.hovered = KeyOf(trace.tracks[0].events[0]);
  Frame(trace, {});
  EXPECT_TRUE(m_view.hovered.has_value());
}

TEST_F(TimelineFixture, WheelZoomsAroundTheMouse) {
  const TraceData trace = MakeTrace(100);
  Frame(trace);
  Frame(trace);
  const TimeRange fit = m_panel.VisibleRange();
  const float x = m_panel.TimeToScreenX(fit.begin_ns + fit.width_ns() / 3);
  const ImVec2 at(x, RowCentre(RowKind::Run, fit.begin_ns).y);
  Frame(trace, {at, false});
  const int64_t under = m_panel.ScreenXToTime(x);
  Frame(trace, {at, false, 1.0f});  // one notch up: zoom in
  ASSERT_NE(m_view.view_end_ns, 0);
  TimeRange zoomed{m_view.view_begin_ns, m_view.view_end_ns};
  EXPECT_EQ(m_panel.VisibleRange(), zoomed);
  EXPECT_NEAR(static_cast<double>(zoomed.width_ns()), fit.width_ns() * 0.8, 2);
  const double ns_per_px = static_cast<double>(zoomed.width_ns()) / 1000;
  EXPECT_NEAR(static_cast<double>(m_panel.ScreenXToTime(x) - under), 0, ns_per_px);
  Frame(trace, {at, false, -2.0f});  // two notches down: zoom out past the start
  EXPECT_GT(m_view.view_end_ns - m_view.view_begin_ns, fit.width_ns());
  EXPECT_NEAR(static_cast<double>(m_panel.ScreenXToTime(x) - under), 0,
              static_cast<double>(m_view.view_end_ns - m_view.view_begin_ns) / 1000);
  EXPECT_FALSE(m_view.follow_live);  // the user took over
  m_panel.RequestFit();
  Frame(trace, {at, false});
  EXPECT_EQ(m_view.view_begin_ns, 0);
  EXPECT_EQ(m_view.view_end_ns, 0);
  EXPECT_EQ(m_panel.VisibleRange(), fit);
}

TEST_F(TimelineFixture, DraggingPansAndDoesNotSelect) {
  const TraceData trace = MakeTrace(100);
  m_view.view_begin_ns = kT0 + 300'000;
  m_view.view_end_ns = kT0 + 500'000;
  Frame(trace);
  Frame(trace);
  const float y = RowCentre(RowKind::Run, kT0).y;
  const float x = m_panel.TimeToScreenX(kT0 + 400'000);
  const double ns_per_px =
      200'000.0 / (m_panel.TimeToScreenX(kT0 + 500'000) - m_panel.TimeToScreenX(kT0 + 300'000));
  Frame(trace, {ImVec2(x, y), false});
  Frame(trace, {ImVec2(x, y), true});
  Frame(trace, {ImVec2(x + 50, y), true});
  Frame(trace, {ImVec2(x + 120, y), true});
  Frame(trace, {ImVec2(x + 120, y), false});
  // The content moved right with the mouse by 120 px: the window shows earlier times.
  EXPECT_NEAR(static_cast<double>(kT0 + 300'000 - m_view.view_begin_ns), 120 * ns_per_px, 2);
  EXPECT_EQ(m_view.view_end_ns - m_view.view_begin_ns, 200'000);
  EXPECT_NEAR(static_cast<double>(m_panel.ScreenXToTime(x + 120) - (kT0 + 400'000)), 0, 2);
  EXPECT_FALSE(m_view.selected.has_value());
  EXPECT_FALSE(m_view.follow_live);
}

// The mouse may jump and press in the same frame (a fast pointer, a touch
// screen): that is a click where it landed, not a drag from where it was.
TEST_F(TimelineFixture, APressAfterAJumpIsAClickNotADrag) {
  const TraceData trace = MakeTrace(20);
  Frame(trace);
  Frame(trace);
  const traces::Span& run = trace.tracks[1].spans[size_t(SpanKind::Run)][12];
  const ImVec2 at = RowCentre(RowKind::Run, (run.begin_ns + run.end_ns) / 2);
  Frame(trace, {ImVec2(at.x - 400, at.y), false});
  Frame(trace, {at, true});
  Frame(trace, {at, false});
  EXPECT_EQ(m_view.view_begin_ns, 0);
  EXPECT_EQ(m_view.view_end_ns, 0);
  ASSERT_TRUE(m_view.selected.has_value());
  EXPECT_EQ(*m_view.selected, KeyOf(trace.tracks[1].events[run.end]));
}

TEST_F(TimelineFixture, FollowLiveKeepsTheNewestEventInView) {
  TraceData trace = MakeTrace(10);
  m_view.live = true;
  m_view.follow_live = true;
  m_view.view_begin_ns = kT0;
  m_view.view_end_ns = kT0 + 50'000;
  Frame(trace);
  for (size_t c = 10; c < 60; c += 10) {
    for (size_t k = c; k < c + 10; ++k)
      AddCycle(trace.tracks[1], kT0 + int64_t(k) * kCycleNs, k, 2);
    trace.BuildSpans();
    Frame(trace);
    const int64_t newest = trace.EndNs();
    EXPECT_EQ(m_view.view_end_ns - m_view.view_begin_ns, 50'000) << c;
    EXPECT_GE(m_view.view_end_ns, newest) << c;
    EXPECT_LE(m_view.view_begin_ns, newest) << c;
    EXPECT_EQ(m_panel.VisibleRange().end_ns, m_view.view_end_ns);
  }
  // Not following: the window stays where it is while the trace grows.
  m_view.follow_live = false;
  const TimeRange before{m_view.view_begin_ns, m_view.view_end_ns};
  AddCycle(trace.tracks[1], kT0 + 60 * kCycleNs, 60, 2);
  trace.BuildSpans();
  Frame(trace);
  EXPECT_EQ((TimeRange{m_view.view_begin_ns, m_view.view_end_ns}), before);
}

TEST_F(TimelineFixture, DrawingAHugeTraceIsBoundedByThePixelsNotTheEvents) {
  const TraceData small = MakeTrace(100);  // 1,003 events
  Frame(small);
  Frame(small);
  const size_t small_vertices = Vertices();

  const TraceData huge = MakeTrace(200'000);  // 2,000,003 events, all visible at fit all
  ASSERT_GT(huge.EventCount(), 2'000'000u);
  Frame(huge);
  Frame(huge);
  const TimelineStats& stats = m_panel.LastFrameStats();
  EXPECT_GT(stats.visible_items, 2'000'000u);  // everything is in the window...
  // ...and at most one mark per ~3 px per row (wide items excepted) is drawn.
  const size_t rows = 5 + 1;  // vCPU lane (guest row has two span kinds) + VMM lane
  EXPECT_LE(stats.marks, rows * 2 * (1280 / 3 + 1));
  EXPECT_LT(Vertices(), 40'000u);
  EXPECT_LT(Commands(), 50u);
  EXPECT_LT(Vertices(), small_vertices * 10);
  // Zoomed in to 100 µs: a few cycles, every one drawn in full.
  m_view.view_begin_ns = kT0 + 1'000'000'000;
  m_view.view_end_ns = kT0 + 1'000'100'000;
  Frame(huge);
  EXPECT_LT(m_panel.LastFrameStats().visible_items, 300u);
  EXPECT_LT(Vertices(), 40'000u);
}

TEST_F(TimelineFixture, ClickOnAFoldZoomsIntoIt) {
  const TraceData trace = MakeTrace(20'000);  // 200k events: folded at fit all
  Frame(trace);
  Frame(trace);
  const TimeRange fit = m_panel.VisibleRange();
  Click(trace, RowCentre(RowKind::Events, fit.begin_ns + fit.width_ns() / 2));
  EXPECT_FALSE(m_view.selected.has_value());
  ASSERT_NE(m_view.view_end_ns, 0);
  EXPECT_LT(m_view.view_end_ns - m_view.view_begin_ns, fit.width_ns() / 50);
}

TEST_F(TimelineFixture, EmptyTraceDrawsAndKeepsFitAll) {
  const TraceData empty;
  Frame(empty);
  Frame(empty, {ImVec2(600, 300), false, 1.0f});
  EXPECT_EQ(m_view.view_begin_ns, 0);
  EXPECT_EQ(m_view.view_end_ns, 0);
  EXPECT_TRUE(m_panel.LaneLayout().empty());
}

}  // namespace
}  // namespace kvmscope::ui

// Tests of the stats, console and doctor panels and the themes, driven
// headless (ImGui with no window) over synthetic traces and the real recorded
// PVM trace: the per-vCPU scope, the stats cache, console rows and escapes as
// the console grows, auto-scroll, the badges, and theme contrast.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "traces/stats.h"
#include "traces/trace.h"
#include "traces/trace_json.h"
#include "ui/console_panel.h"
#include "ui/doctor_panel.h"
#include "ui/stats_panel.h"
#include "ui/theme.h"
#include "ui/view.h"
#include "ui_harness.h"

namespace kvmscope::ui {
namespace {

using traces::Event;
using traces::TraceData;
using traces::VmmEventKind;

// --- synthetic traces ---

Event Vmm(VmmEventKind kind, uint32_t tid, int vcpu, int64_t time_ns,
          std::array<uint64_t, 6> a = {}) {
  Event e;
  e.type = kind;
  e.pid = 100;
  e.tid = tid;
  e.vcpu = vcpu;
  e.time_ns = time_ns;
  e.a = a;
  return e;
}

traces::Track VcpuTrack(uint32_t tid, int vcpu) {
  traces::Track t;
  t.pid = 100;
  t.tid = tid;
  t.vcpu = vcpu;
  t.kind = traces::TrackKind::Vcpu;
  return t;
}

// One KVM_RUN on `track` from `at`: 1000 ns in KVM_RUN, then 200 ns of VMM
// handling until the next run.
void AddRun(traces::Track& track, int64_t at, uint32_t reason) {
  const int vcpu = track.vcpu;
  track.events.push_back(Vmm(VmmEventKind::RunEnter, track.tid, vcpu, at));
  track.events.push_back(Vmm(VmmEventKind::RunExit, track.tid, vcpu, at + 1000, {reason}));
}

// vCPU 0: IO, IO, MMIO; vCPU 1: HLT. The kernel was traced (a plan, counts
// with `lost` events lost).
TraceData TwoVcpuTrace(uint64_t lost = 0) {
  TraceData data;
  data.host.kernel_release = "6.1.0-test";
  data.host.backend = "VMX (Intel)";
  data.host.cpu = "Test CPU";
  data.host.vendor_handler = "vmx_handle_exit";
  data.host.stack_mode = "new";
  traces::PlanRecord plan;
  plan.entries.push_back({"run loop",
                          "kvm_arch_vcpu_ioctl_run",
                          "kprobe",
                          "kprobe on entry",
                          {"fentry: EPERM (Operation not permitted)"}});
  plan.tracepoints = {"kvm:kvm_exit", "kvm:kvm_entry"};
  plan.missing = {"kvm:kvm_page_fault: not in this kernel"};
  plan.summary = "run loop: kprobe";
  data.host.plan = plan;
  traces::KernelCounts counts;
  counts.seen[0] = 10 + lost;
  counts.received[0] = 10;
  counts.lost[0] = lost;
  data.kernel_counts = counts;
  data.guest.name = "hello";
  data.guest.mode = "long";
  data.guest.vcpus = 2;

  traces::Track v0 = VcpuTrack(101, 0), v1 = VcpuTrack(102, 1);
  AddRun(v0, 1000, traces::kKvmExitIo);
  AddRun(v0, 3000, traces::kKvmExitIo);
  AddRun(v0, 5000, traces::kKvmExitMmio);
  AddRun(v1, 2000, traces::kKvmExitHlt);
  data.tracks = {v0, v1};
  data.console = "hello\r\nworld\n";
  data.BuildSpans();
  return data;
}

// CurrentTheme() outlives the ImGui context: tests that apply a theme put the
// default (Dark) back, so that other suites in ui_tests start from it.
struct DefaultThemeAfter {
  ~DefaultThemeAfter() { ApplyTheme(Theme::Dark, 1.0f); }
};

TraceData RecordedTrace() {
  return traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
}

// Runs `frames` frames with `draw` inside one fixed window.
template <typename Draw>
void Frames(HeadlessImGui& gui, int frames, Draw&& draw, const HeadlessImGui::Input& input = {}) {
  for (int i = 0; i < frames; ++i) {
    gui.Frame(
        [&] {
          ImGui::SetNextWindowPos(ImVec2(0, 0));
          ImGui::SetNextWindowSize(ImVec2(900, 400));
          ImGui::Begin("panel", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize);
          draw();
          ImGui::End();
        },
        input);
  }
}

// Everything the panel drew as text in one frame (ImGui's logging captures
// rendered text; the clipboard is ImGui's own in a headless context).
template <typename Draw>
std::string TextOf(HeadlessImGui& gui, Draw&& draw) {
  gui.Frame([&] {
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(1200, 700));
    ImGui::Begin("panel");
    ImGui::LogToClipboard();
    draw();
    ImGui::LogFinish();
    ImGui::End();
  });
  const char* text = ImGui::GetClipboardText();
  return text ? text : "";
}

std::vector<std::string> ReasonNames(const traces::ScopeStats& scope) {
  std::vector<std::string> names;
  for (const traces::UserspaceExitRow& row : scope.userspace.rows) names.push_back(row.name);
  return names;
}

// --- StatsPanel ---

TEST(StatsPanelTest, ShowsExitReasonsOfAllVcpus) {
  HeadlessImGui gui;
  const TraceData trace = TwoVcpuTrace();
  StatsPanel panel;
  SharedView view;
  Frames(gui, 2, [&] { panel.Draw(trace, view); });
  const traces::ScopeStats* scope = panel.CurrentScope();
  ASSERT_NE(scope, nullptr);
  EXPECT_EQ(scope->vcpu, traces::kAllVcpus);
  EXPECT_EQ(scope->userspace.total, 4u);
  EXPECT_EQ(ReasonNames(*scope), (std::vector<std::string>{"IO", "HLT", "MMIO"}));
  EXPECT_EQ(scope->userspace.rows[0].count, 2u);
  EXPECT_DOUBLE_EQ(scope->userspace.rows[0].share_pct, 50.0);
  EXPECT_EQ(scope->userspace.rows[0].kernel.mean_ns, 1000);
  EXPECT_EQ(panel.Vcpus(), (std::vector<int>{0, 1}));
  EXPECT_TRUE(panel.Current().loss.kernel_traced);
  const std::string text = TextOf(gui, [&] { panel.Draw(trace, view); });
  EXPECT_NE(text.find("MMIO"), std::string::npos) << text;
  EXPECT_NE(text.find("none lost"), std::string::npos) << text;
}

// A kind streamed only up to its budget is said in the panel, with the
// kernel's count beside what arrived, and in the window's badge.
TEST(StatsPanelTest, AKindCountedPastItsBudgetIsSaid) {
  HeadlessImGui gui;
  TraceData trace = TwoVcpuTrace();
  const size_t insn = static_cast<size_t>(traces::KernelEventKind::EmulateInsn);
  EXPECT_EQ(CountedOnlyBadge(trace), "");
  trace.kernel_counts->seen[insn] = 5000;
  trace.kernel_counts->received[insn] = 64;
  trace.kernel_counts->not_streamed[insn] = true;
  trace.kernel_counts->stream_budget[insn] = 64;
  EXPECT_EQ(CountedOnlyBadge(trace), "kvm_emulate_insn counted, the first 64 streamed");
  StatsPanel panel;
  SharedView view;
  const std::string text = TextOf(gui, [&] { panel.Draw(trace, view); });
  EXPECT_NE(text.find("kvm_emulate_insn: counted in the kernel, the first 64 streamed; "
                      "counts of it in these panels are the kernel's (5,000 seen, 64 streamed)"),
            std::string::npos)
      << text;
}

TEST(StatsPanelTest, PerVcpuToggleChangesTheScope) {
  HeadlessImGui gui;
  const TraceData trace = TwoVcpuTrace();
  StatsPanel panel;
  SharedView view;
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  panel.SetScope(1);
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  ASSERT_NE(panel.CurrentScope(), nullptr);
  EXPECT_EQ(panel.CurrentScope()->vcpu, 1);
  EXPECT_EQ(panel.CurrentScope()->label, "vCPU 1");
  EXPECT_EQ(ReasonNames(*panel.CurrentScope()), (std::vector<std::string>{"HLT"}));
  panel.SetScope(0);
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(ReasonNames(*panel.CurrentScope()), (std::vector<std::string>{"IO", "MMIO"}));
  EXPECT_EQ(panel.Computations(), 3u);
  // Back to a scope seen before, trace unchanged: served from the cache.
  panel.SetScope(1);
  Frames(gui, 2, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.CurrentScope()->vcpu, 1);
  EXPECT_EQ(panel.Computations(), 3u);
  // A vCPU without a track (say, after another trace was loaded) falls back to all.
  panel.SetScope(7);
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.Scope(), traces::kAllVcpus);
  EXPECT_EQ(panel.CurrentScope()->vcpu, traces::kAllVcpus);
}

TEST(StatsPanelTest, RecomputesOnlyWhenEventsAreAdded) {
  HeadlessImGui gui;
  TraceData trace = TwoVcpuTrace();
  StatsPanel panel;
  SharedView view;
  Frames(gui, 5, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.Computations(), 1u);
  AddRun(trace.tracks[1], 9000, traces::kKvmExitHlt);
  trace.BuildSpans();
  Frames(gui, 3, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.Computations(), 2u);
  EXPECT_EQ(panel.CurrentScope()->userspace.total, 5u);
  EXPECT_EQ(ReasonNames(*panel.CurrentScope()), (std::vector<std::string>{"IO", "HLT", "MMIO"}));
  EXPECT_EQ(panel.CurrentScope()->userspace.rows[1].count, 2u);  // HLT: 2 now
  // Another trace (the window bumps the generation): recomputed even though
  // nothing the stamp sees has changed.
  ++view.trace_generation;
  Frames(gui, 2, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.Computations(), 3u);
}

TEST(StatsPanelTest, LiveTraceRefreshesAtMostTwiceASecond) {
  HeadlessImGui gui;  // 60 frames per second of ImGui time
  TraceData trace = TwoVcpuTrace();
  StatsPanel panel;
  SharedView view;
  view.live = true;
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  int64_t at = 10000;
  for (int frame = 0; frame < 60; ++frame) {  // one second, the trace growing every frame
    AddRun(trace.tracks[0], at, traces::kKvmExitIo);
    at += 2000;
    trace.BuildSpans();
    Frames(gui, 1, [&] { panel.Draw(trace, view); });
  }
  EXPECT_GE(panel.Computations(), 2u);
  EXPECT_LE(panel.Computations(), 3u);
  // The guest stopped: the next frame shows every event.
  view.live = false;
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.CurrentScope()->userspace.total, 4u + 60u);
}

TEST(StatsPanelTest, ClickingAReasonStepsThroughItsExits) {
  const TraceData trace = TwoVcpuTrace();
  auto first = NextExitWithReason(trace, traces::kKvmExitIo, traces::kAllVcpus, std::nullopt);
  ASSERT_TRUE(first);
  EXPECT_EQ(trace.At(*first).time_ns, 2000);
  auto second =
      NextExitWithReason(trace, traces::kKvmExitIo, traces::kAllVcpus, KeyOf(trace.At(*first)));
  ASSERT_TRUE(second);
  EXPECT_EQ(trace.At(*second).time_ns, 4000);
  auto wrapped =
      NextExitWithReason(trace, traces::kKvmExitIo, traces::kAllVcpus, KeyOf(trace.At(*second)));
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(*wrapped, *first);
  EXPECT_FALSE(NextExitWithReason(trace, traces::kKvmExitIo, 1, std::nullopt));
}

TEST(StatsPanelTest, RecordedTraceMatchesComputeStats) {
  HeadlessImGui gui;
  const TraceData trace = RecordedTrace();
  StatsPanel panel;
  SharedView view;
  Frames(gui, 2, [&] { panel.Draw(trace, view); });
  const traces::Stats expected = traces::ComputeStats(trace, traces::kAllVcpus);
  ASSERT_NE(panel.CurrentScope(), nullptr);
  const traces::ScopeStats& scope = *panel.CurrentScope();
  EXPECT_EQ(ReasonNames(scope), ReasonNames(expected.scopes[0]));
  EXPECT_FALSE(scope.userspace.rows.empty());
  EXPECT_EQ(scope.userspace.total, expected.scopes[0].userspace.total);
  EXPECT_EQ(scope.events, trace.EventCount());
  // PVM: no kvm_exit, and the table says why instead.
  EXPECT_TRUE(scope.hardware.rows.empty());
  EXPECT_NE(scope.hardware.note.find("PVM"), std::string::npos) << scope.hardware.note;
  EXPECT_EQ(panel.Vcpus(), (std::vector<int>{0}));
  const std::string text = TextOf(gui, [&] { panel.Draw(trace, view); });
  EXPECT_NE(text.find(scope.userspace.rows[0].name), std::string::npos);
  EXPECT_NE(text.find("kvm_mmu_pagetable_walk"), std::string::npos);
}

TEST(StatsPanelTest, ShowsKvmsOwnCountersBesideTheTracesAndWhenTheyArrive) {
  HeadlessImGui gui;
  TraceData trace = TwoVcpuTrace();
  trace.kvm_stats_note = "this kernel lacks KVM_CAP_BINARY_STATS_FD";
  StatsPanel panel;
  SharedView view;
  std::string text = TextOf(gui, [&] { panel.Draw(trace, view); });
  EXPECT_NE(text.find("KVM's own counters (KVM_GET_STATS_FD)"), std::string::npos) << text;
  EXPECT_NE(text.find("lacks KVM_CAP_BINARY_STATS_FD"), std::string::npos) << text;
  // A live run ends: the counters arrive without a new event, and are shown.
  traces::KvmStatsRecord k;
  k.vm = {{"mmu_cache_miss", 4}};
  k.vcpus = {{{"exits", 7}, {"io_exits", 2}, {"pf_parked", 0}}, {{"exits", 3}, {"io_exits", 0}}};
  trace.kvm_stats = k;
  trace.kvm_stats_note.clear();
  text = TextOf(gui, [&] { panel.Draw(trace, view); });
  EXPECT_TRUE(panel.Current().kvm.recorded);
  EXPECT_EQ(panel.Current().kvm, traces::ComputeKvmCounters(trace, traces::kAllVcpus));
  for (const char* part : {"io_exits", "trace counted", "vCPU 1", "pf_parked", "mmu_cache_miss 4"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
  EXPECT_FALSE(panel.ShownColumns(StatsPanel::TableId::KvmCompared).empty());
  panel.SetScope(1);
  Frames(gui, 1, [&] { panel.Draw(trace, view); });
  EXPECT_EQ(panel.Current().kvm.scope, "vCPU 1");
  EXPECT_EQ(panel.Current().kvm.compared.front().kvm, 3u);
  // Another process's VM (record --pid): where they come from, not KVM_GET_STATS_FD.
  trace.kvm_stats->source = "from QMP query-stats on /run/q.sock: the difference over 2.0 s";
  trace.external = traces::ExternalVmm{};
  StatsPanel external;
  text = TextOf(gui, [&] { external.Draw(trace, view); });
  EXPECT_NE(text.find("KVM's own counters (of another process's VM)"), std::string::npos) << text;
  EXPECT_NE(text.find("from QMP query-stats on /run/q.sock"), std::string::npos) << text;
  EXPECT_EQ(text.find("KVM_GET_STATS_FD"), std::string::npos) << text;
}

TEST(StatsPanelTest, FormatsCountsWithSeparators) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1,000");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatShare(12.345), "12.3%");
}

// --- ConsolePanel ---

std::vector<std::string> RowTexts(std::string_view text, const std::vector<ConsoleRow>& rows) {
  std::vector<std::string> out;
  for (const ConsoleRow& r : rows) out.emplace_back(text.substr(r.begin, r.end - r.begin));
  return out;
}

TEST(ConsolePanelTest, SplitsRowsAtNewlines) {
  using V = std::vector<std::string>;
  EXPECT_TRUE(SplitConsoleRows("").empty());
  EXPECT_EQ(RowTexts("\n", SplitConsoleRows("\n")), V{""});
  EXPECT_EQ(RowTexts("a\nb", SplitConsoleRows("a\nb")), (V{"a", "b"}));
  EXPECT_EQ(RowTexts("a\nb\n", SplitConsoleRows("a\nb\n")), (V{"a", "b"}));
  EXPECT_EQ(RowTexts("a\r\n\nb\rc", SplitConsoleRows("a\r\n\nb\rc")), (V{"a", "", "b\rc"}));
}

TEST(ConsolePanelTest, BreaksOverlongRows) {
  const std::string text =
      std::string(kMaxConsoleRowBytes, 'x') + "\n" + std::string(kMaxConsoleRowBytes * 2 + 5, 'y');
  const std::vector<ConsoleRow> rows = SplitConsoleRows(text);
  ASSERT_EQ(rows.size(), 4u);  // the full row ends at its '\n', not one row later
  EXPECT_EQ(rows[0].end - rows[0].begin, kMaxConsoleRowBytes);
  EXPECT_EQ(rows[1].end - rows[1].begin, kMaxConsoleRowBytes);
  EXPECT_EQ(rows[2].end - rows[2].begin, kMaxConsoleRowBytes);
  EXPECT_EQ(rows[3].end - rows[3].begin, 5u);
}

TEST(ConsolePanelTest, EscapesNonPrintableBytes) {
  EXPECT_EQ(EscapeConsoleRow("plain text"), "plain text");
  EXPECT_EQ(EscapeConsoleRow("a\tb"), "a       b");
  EXPECT_EQ(EscapeConsoleRow("12345678\tx"), "12345678        x");
  EXPECT_EQ(EscapeConsoleRow("bell\x07!"), "bell\\x07!");
  EXPECT_EQ(EscapeConsoleRow(std::string_view("nul\0", 4)), "nul\\x00");
  EXPECT_EQ(EscapeConsoleRow("\x1b[1mbold"), "\\e[1mbold");
  EXPECT_EQ(EscapeConsoleRow("cr\r"), "cr\\r");
  EXPECT_EQ(EscapeConsoleRow("\xc3\xa9\x7f"), "\\xc3\\xa9\\x7f");
  // Escaped pieces come apart from the plain ones (they are drawn in colour).
  std::vector<std::pair<std::string, bool>> pieces;
  ForEachConsoleSegment(
      "a\x01"
      "b",
      [&](std::string_view t, bool e) { pieces.emplace_back(t, e); });
  EXPECT_EQ(pieces, (std::vector<std::pair<std::string, bool>>{
                        {"a", false}, {"\\x01", true}, {"b", false}}));
}

TEST(ConsolePanelTest, IndexGrowsIncrementallyAndMatchesTheFullSplit) {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "line " + std::to_string(i) + (i % 7 == 0 ? "\r\n" : "\n");
    if (i % 50 == 0) text += std::string(kMaxConsoleRowBytes + 10, 'z');
  }
  ConsoleIndex index;
  // Feed it in uneven pieces, cutting rows (and "\r\n") in the middle.
  size_t fed = 0;
  for (size_t step = 1; fed < text.size(); step = step * 3 % 97 + 1) {
    fed = std::min(text.size(), fed + step);
    index.Update(std::string_view(text).substr(0, fed));
    ASSERT_EQ(index.Rows(), SplitConsoleRows(std::string_view(text).substr(0, fed)))
        << "after " << fed << " bytes";
  }
  // Each byte scanned once, in the update that brought it.
  EXPECT_EQ(index.ScannedBytes(), text.size());
  // Another console in its place (shorter, or same length and different) is reindexed.
  index.Update("other\n");
  EXPECT_EQ(RowTexts("other\n", index.Rows()), std::vector<std::string>{"other"});
  index.Update("OTHER\nmore");
  EXPECT_EQ(RowTexts("OTHER\nmore", index.Rows()), (std::vector<std::string>{"OTHER", "more"}));
}

TEST(ConsolePanelTest, FollowsTheEndUnlessScrolledUp) {
  HeadlessImGui gui;
  TraceData trace = TwoVcpuTrace();
  ConsolePanel panel;
  auto grow = [&](int lines) {
    for (int i = 0; i < lines; ++i) trace.console += "output line\n";
  };
  grow(100);
  Frames(gui, 4, [&] { panel.Draw(trace); });
  EXPECT_TRUE(panel.Following());
  EXPECT_GT(panel.ScrollMaxY(), 0);
  EXPECT_FLOAT_EQ(panel.ScrollY(), panel.ScrollMaxY());
  // New text arrives: still at the end.
  grow(20);
  const float before = panel.ScrollMaxY();
  Frames(gui, 3, [&] { panel.Draw(trace); });
  EXPECT_GT(panel.ScrollMaxY(), before);
  EXPECT_FLOAT_EQ(panel.ScrollY(), panel.ScrollMaxY());
  // The user scrolls up with the wheel over the text: it stays where they put it.
  HeadlessImGui::Input wheel;
  wheel.mouse = ImVec2(400, 250);
  wheel.wheel = 5;
  Frames(
      gui, 1, [&] { panel.Draw(trace); }, wheel);
  Frames(gui, 2, [&] { panel.Draw(trace); });
  EXPECT_FALSE(panel.Following());
  const float kept = panel.ScrollY();
  EXPECT_LT(kept, panel.ScrollMaxY());
  grow(20);
  Frames(gui, 3, [&] { panel.Draw(trace); });
  EXPECT_FALSE(panel.Following());
  EXPECT_FLOAT_EQ(panel.ScrollY(), kept);
  // Back down to the end: following again.
  wheel.wheel = -1000;
  Frames(
      gui, 1, [&] { panel.Draw(trace); }, wheel);
  Frames(gui, 2, [&] { panel.Draw(trace); });
  EXPECT_TRUE(panel.Following());
  grow(5);
  Frames(gui, 3, [&] { panel.Draw(trace); });
  EXPECT_FLOAT_EQ(panel.ScrollY(), panel.ScrollMaxY());
}

TEST(ConsolePanelTest, ShowsTheRecordedConsole) {
  HeadlessImGui gui;
  const TraceData trace = RecordedTrace();
  ConsolePanel panel;
  const std::string text = TextOf(gui, [&] { panel.Draw(trace); });
  EXPECT_NE(text.find("#PF at 0x40010800"), std::string::npos) << text;
  EXPECT_EQ(panel.Index().Rows().size(), 7u);
}

TEST(ConsolePanelTest, AnExternalVmmsConsoleIsNotVisibleAndSaysSo) {
  HeadlessImGui gui;
  TraceData trace;
  trace.external = traces::ExternalVmm{};
  trace.external->pid = 4242;
  ConsolePanel panel;
  const std::string text = TextOf(gui, [&] { panel.Draw(trace); });
  EXPECT_NE(text.find("not visible: the guest's console belongs to the VMM (pid 4242)"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("has written nothing"), std::string::npos) << text;
}

// --- DoctorPanel ---

TEST(DoctorPanelTest, BadgesOfATracedTrace) {
  const TraceData recorded = RecordedTrace();
  EXPECT_EQ(PlanBadge(recorded.host),
            "run loop: tracepoint \xc2\xb7 exit handler: stacks \xc2\xb7 page fault: stacks");
  EXPECT_EQ(LostBadge(recorded), "0 lost");
  EXPECT_FALSE(AnyLost(recorded));
  const TraceData lossy = TwoVcpuTrace(1234);
  EXPECT_EQ(LostBadge(lossy), "1,234 LOST");
  EXPECT_TRUE(AnyLost(lossy));
  // No summary recorded: built from the entries.
  traces::HostFacts host = lossy.host;
  host.plan->summary.clear();
  EXPECT_EQ(PlanBadge(host), "run loop: kprobe");
}

TEST(DoctorPanelTest, BadgesAndReportOfAnUntracedTrace) {
  TraceData trace = TwoVcpuTrace();
  trace.host.plan.reset();
  trace.kernel_counts.reset();
  trace.host.not_traced_reason = "not traced (--no-probes)";
  EXPECT_EQ(PlanBadge(trace.host), "kernel: not traced");
  EXPECT_EQ(LostBadge(trace), "");
  EXPECT_NE(NotTracedAdvice(trace.host).find("without that option"), std::string::npos);
  EXPECT_NE(NotTracedAdvice(trace.host).find("kvmscope doctor"), std::string::npos);
  trace.host.not_traced_reason = "loading BPF programs needs root (or CAP_BPF, ...)";
  EXPECT_NE(NotTracedAdvice(trace.host).find("as root"), std::string::npos);

  HeadlessImGui gui;
  DoctorPanel panel;
  const std::string text = TextOf(gui, [&] { panel.Draw(trace); });
  EXPECT_NE(text.find("kernel side not traced: loading BPF programs needs root"), std::string::npos)
      << text;
  EXPECT_NE(text.find("kvmscope doctor"), std::string::npos);
}

TEST(DoctorPanelTest, ReportOfTheRecordedPlan) {
  HeadlessImGui gui;
  const TraceData trace = RecordedTrace();
  DoctorPanel panel;
  const std::string text = TextOf(gui, [&] { panel.Draw(trace); });
  for (const char* expected :
       {"6.18.44-fc-v669", "PVM", "pvm_handle_exit", "tracepoint", "kvm_arch_vcpu_ioctl_run",
        "passed over: kprobe on", "kvm:kvm_entry", "none missing", "15 attached"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
}

// The platform and the module parameters, with the emulator's warning; a
// trace from before them says they were not recorded.
TEST(DoctorPanelTest, ReportOfThePlatformAndTheModuleParameters) {
  HeadlessImGui gui;
  TraceData trace = RecordedTrace();
  DoctorPanel panel;
  std::string text = TextOf(gui, [&] { panel.Draw(trace); });
  EXPECT_NE(text.find("(not recorded: a trace from before kvmscope recorded it)"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("KVM parameters"), std::string::npos);
  EXPECT_NE(text.find("shadow paging (PVM always)"), std::string::npos) << text;

  trace.host.backend = "VMX (Intel)";
  trace.host.platform = "emulator (Bochs)";
  trace.host.platform_evidence = "cpuinfo: no hypervisor flag; DMI: bios_vendor 'The Bochs Project'";
  trace.host.module_params = {{"kvm_intel.ept", "N"}, {"kvm_intel.unrestricted_guest", "N"}};
  text = TextOf(gui, [&] { panel.Draw(trace); });
  for (const char* expected :
       {"emulator (Bochs): times are the emulator's, so latencies mean nothing",
        "bios_vendor 'The Bochs Project'", "kvm_intel.ept=N kvm_intel.unrestricted_guest=N",
        "shadow paging (kvm_intel.ept=N)"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  trace.host.platform = "virtual machine (KVM)";
  trace.host.module_params["kvm_intel.ept"] = "Y";
  text = TextOf(gui, [&] { panel.Draw(trace); });
  EXPECT_NE(text.find("virtual machine (KVM)"), std::string::npos) << text;
  EXPECT_EQ(text.find("latencies mean nothing"), std::string::npos) << text;
  EXPECT_NE(text.find("EPT (kvm_intel.ept=Y)"), std::string::npos) << text;
}

// --- Theme ---

TEST(ThemeTest, ParsesNames) {
  EXPECT_EQ(ParseTheme("dark"), Theme::Dark);
  EXPECT_EQ(ParseTheme("light"), Theme::Light);
  EXPECT_EQ(ParseTheme("high-contrast"), Theme::HighContrast);
  EXPECT_EQ(ParseTheme("High-Contrast"), std::nullopt);
  EXPECT_EQ(ParseTheme(""), std::nullopt);
  for (Theme t : {Theme::Dark, Theme::Light, Theme::HighContrast}) {
    EXPECT_EQ(ParseTheme(ThemeName(t)), t);
  }
}

TEST(ThemeTest, ContrastRatioMatchesWcag) {
  EXPECT_NEAR(ContrastRatio(ImVec4(0, 0, 0, 1), ImVec4(1, 1, 1, 1)), 21.0, 1e-9);
  EXPECT_NEAR(ContrastRatio(ImVec4(1, 1, 1, 1), ImVec4(1, 1, 1, 1)), 1.0, 1e-9);
  // #777777 on white: the classic 4.48:1, just short of AA.
  const float g = 0x77 / 255.0f;
  EXPECT_NEAR(ContrastRatio(ImVec4(g, g, g, 1), ImVec4(1, 1, 1, 1)), 4.48, 0.01);
}

// Text must be readable on every fill ImGui draws text on.
TEST(ThemeTest, TextIsReadableOnEveryBackground) {
  HeadlessImGui gui;
  DefaultThemeAfter restore;
  for (Theme theme : {Theme::Dark, Theme::Light, Theme::HighContrast}) {
    ApplyTheme(theme, 1.0f);
    const ImVec4* c = ImGui::GetStyle().Colors;
    const ImVec4 window = c[ImGuiCol_WindowBg];
    EXPECT_EQ(window.w, 1.0f) << ThemeName(theme);
    const double minimum = theme == Theme::HighContrast ? 7.0 : 4.5;
    for (ImGuiCol bg : {ImGuiCol_WindowBg,      ImGuiCol_ChildBg,        ImGuiCol_PopupBg,
                        ImGuiCol_FrameBg,       ImGuiCol_FrameBgHovered, ImGuiCol_FrameBgActive,
                        ImGuiCol_TitleBg,       ImGuiCol_TitleBgActive,  ImGuiCol_MenuBarBg,
                        ImGuiCol_Button,        ImGuiCol_ButtonHovered,  ImGuiCol_ButtonActive,
                        ImGuiCol_Header,        ImGuiCol_HeaderHovered,  ImGuiCol_HeaderActive,
                        ImGuiCol_Tab,           ImGuiCol_TabHovered,     ImGuiCol_TabActive,
                        ImGuiCol_TableHeaderBg, ImGuiCol_TableRowBg,     ImGuiCol_TableRowBgAlt,
                        ImGuiCol_TextSelectedBg}) {
      const ImVec4 fill = Over(c[bg], window);
      EXPECT_GE(ContrastRatio(c[ImGuiCol_Text], fill), minimum)
          << ThemeName(theme) << " text on " << ImGui::GetStyleColorName(bg);
    }
    // Dim text (labels, notes) sits on the passive backgrounds only.
    for (ImGuiCol bg : {ImGuiCol_WindowBg, ImGuiCol_ChildBg, ImGuiCol_PopupBg, ImGuiCol_FrameBg,
                        ImGuiCol_TableHeaderBg, ImGuiCol_TableRowBg, ImGuiCol_TableRowBgAlt}) {
      EXPECT_GE(ContrastRatio(c[ImGuiCol_TextDisabled], Over(c[bg], window)), 4.5)
          << ThemeName(theme) << " disabled text on " << ImGui::GetStyleColorName(bg);
    }
    if (theme == Theme::HighContrast) {
      EXPECT_NEAR(ContrastRatio(c[ImGuiCol_Text], window), 21.0, 1e-9);  // pure white on black
      EXPECT_GE(ImGui::GetStyle().FrameBorderSize, 2.0f);
      EXPECT_GE(ImGui::GetStyle().WindowBorderSize, 2.0f);
    }
  }
}

TEST(ThemeTest, ThemesAreDistinct) {
  HeadlessImGui gui;
  DefaultThemeAfter restore;
  std::vector<std::pair<ImVec4, ImVec4>> seen;
  for (Theme theme : {Theme::Dark, Theme::Light, Theme::HighContrast}) {
    ApplyTheme(theme, 1.0f);
    EXPECT_EQ(CurrentTheme(), theme);
    const ImVec4* c = ImGui::GetStyle().Colors;
    for (const auto& [text, bg] : seen) {
      const bool same = text.x == c[ImGuiCol_Text].x && text.y == c[ImGuiCol_Text].y &&
                        bg.x == c[ImGuiCol_WindowBg].x && bg.y == c[ImGuiCol_WindowBg].y &&
                        bg.z == c[ImGuiCol_WindowBg].z;
      EXPECT_FALSE(same) << ThemeName(theme);
    }
    seen.emplace_back(c[ImGuiCol_Text], c[ImGuiCol_WindowBg]);
  }
  // Light is light, the others dark.
  EXPECT_GT(RelativeLuminance(seen[1].second), 0.5);
  EXPECT_LT(RelativeLuminance(seen[0].second), 0.05);
  EXPECT_EQ(RelativeLuminance(seen[2].second), 0.0);
}

TEST(ThemeTest, StatusColorsAreDistinctAndReadable) {
  HeadlessImGui gui;
  DefaultThemeAfter restore;
  for (Theme theme : {Theme::Dark, Theme::Light, Theme::HighContrast}) {
    ApplyTheme(theme, 1.0f);
    const ImVec4 window = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
    const double minimum = theme == Theme::HighContrast ? 7.0 : 4.5;
    for (size_t i = 0; i < kStatuses; ++i) {
      const auto status = static_cast<Status>(i);
      EXPECT_GE(ContrastRatio(StatusColorVec(status, theme), window), minimum)
          << ThemeName(theme) << " " << StatusName(status);
      EXPECT_EQ(StatusColor(status), StatusColor(status, theme));
      for (size_t j = 0; j < i; ++j) {
        EXPECT_NE(StatusColor(status, theme), StatusColor(static_cast<Status>(j), theme))
            << ThemeName(theme) << " " << StatusName(status);
      }
    }
  }
}

TEST(ThemeTest, FontScaleIsAppliedOnceNotCompounded) {
  HeadlessImGui gui;
  DefaultThemeAfter restore;
  const ImGuiStyle defaults;
  ApplyTheme(Theme::HighContrast, 2.0f);
  ApplyTheme(Theme::HighContrast, 2.0f);  // idempotent
  const ImGuiStyle& style = ImGui::GetStyle();
  EXPECT_FLOAT_EQ(ImGui::GetIO().FontGlobalScale, 2.0f);
  EXPECT_FLOAT_EQ(style.ItemSpacing.y, std::floor(defaults.ItemSpacing.y * 2.0f));
  EXPECT_FLOAT_EQ(style.WindowPadding.x, std::floor(defaults.WindowPadding.x * 2.0f));
  EXPECT_GE(style.FrameBorderSize, 3.0f);  // thicker borders at projector scale
  // Text really is drawn bigger.
  float height = 0;
  gui.Frame([&] { height = ImGui::GetTextLineHeight(); });
  ApplyTheme(Theme::Dark, 1.0f);
  float normal = 0;
  gui.Frame([&] { normal = ImGui::GetTextLineHeight(); });
  EXPECT_FLOAT_EQ(height, 2 * normal);
  // A font loaded at the projector size: sizes scale, the font is left alone.
  ApplyTheme(Theme::Light, 2.0f, FontScaling::LoadedFont);
  EXPECT_FLOAT_EQ(ImGui::GetIO().FontGlobalScale, 1.0f);
  EXPECT_FLOAT_EQ(ImGui::GetStyle().WindowPadding.x, std::floor(defaults.WindowPadding.x * 2.0f));
  // Nonsense scales are clamped.
  ApplyTheme(Theme::Dark, 100.0f);
  EXPECT_FLOAT_EQ(ImGui::GetIO().FontGlobalScale, 4.0f);
  ApplyTheme(Theme::Dark, 0.0f);
  EXPECT_FLOAT_EQ(ImGui::GetIO().FontGlobalScale, 0.5f);
}

// --- all panels, nothing to show ---

TEST(StatsPanelTest, EmptyTraceDrawsWithoutCrashing) {
  HeadlessImGui gui;
  DefaultThemeAfter restore;
  const TraceData empty;
  StatsPanel stats;
  ConsolePanel console;
  DoctorPanel doctor;
  SharedView view;
  for (Theme theme : {Theme::Dark, Theme::Light, Theme::HighContrast}) {
    ApplyTheme(theme, 1.5f);
    Frames(gui, 3, [&] {
      stats.Draw(empty, view);
      console.Draw(empty);
      doctor.Draw(empty);
    });
  }
  ASSERT_NE(stats.CurrentScope(), nullptr);
  EXPECT_EQ(stats.CurrentScope()->events, 0u);
  EXPECT_TRUE(stats.Vcpus().empty());
  EXPECT_TRUE(console.Index().Rows().empty());
  EXPECT_EQ(PlanBadge(empty.host), "kernel: not traced");
  EXPECT_EQ(LostBadge(empty), "");
}

}  // namespace
}  // namespace kvmscope::ui

// The KVM cycle panel driven headless over the real PVM traces: nothing
// overlaps at 1920x1080 and at 1280x720 with font scale 1.5, this backend's
// names and the model's counts are what is drawn, clicks on steps open their
// chains, and a selected #PF run's path is highlighted.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/ui_harness.h"
#include "traces/cycle.h"
#include "traces/stats.h"
#include "traces/trace_json.h"
#include "ui/cycle_panel.h"
#include "ui/theme.h"

namespace kvmscope::ui {
namespace {

using traces::CycleArcId;
using traces::CycleNodeId;
using traces::TraceData;

TraceData Load(const char* name) {
  return traces::LoadTrace(std::string(KVMSCOPE_TESTDATA) + "/" + name);
}

bool AnyLine(const std::vector<std::string>& lines, std::string_view part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

// A screen of `screen` pixels with the panel in 60% x 50% of it, as the
// window will place it.
struct Screen {
  ImVec2 screen;
  float font_scale;
};
const Screen kProjector{ImVec2(1920, 1080), 20.0f / 13.0f};  // ~20 px body text
const Screen kSmall{ImVec2(1280, 720), 1.5f};

class CycleHarness {
 public:
  explicit CycleHarness(Screen s, ImVec2 share = ImVec2(0.6f, 0.5f))
      : m_gui(s.screen), m_panel_size(s.screen.x * share.x, s.screen.y * share.y) {
    ApplyTheme(Theme::Dark, s.font_scale);
  }
  void Frames(const TraceData& trace, SharedView& view, int n = 1, HeadlessImGui::Input input = {}) {
    for (int i = 0; i < n; ++i)
      m_gui.Frame(
          [&] {
            ImGui::SetNextWindowPos(ImVec2(0, 0));
            ImGui::SetNextWindowSize(m_panel_size);
            ImGui::Begin("cycle", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize);
            panel.Draw(trace, view);
            ImGui::End();
          },
          input);
  }
  void Click(const TraceData& trace, SharedView& view, ImVec2 at) {
    Frames(trace, view, 1, {at, false});
    Frames(trace, view, 1, {at, true});
    Frames(trace, view, 1, {at, false});
  }
  CyclePanel panel;

 private:
  HeadlessImGui m_gui;
  ImVec2 m_panel_size;
};

ImVec2 Center(const Box& b) { return ImVec2((b.min.x + b.max.x) / 2, (b.min.y + b.max.y) / 2); }

void ExpectNothingOverlaps(const CyclePanel& panel) {
  const auto& nodes = panel.DrawnNodes();
  ASSERT_EQ(nodes.size(), traces::kCycleNodes);
  for (size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_TRUE(nodes[i].box.Inside(panel.CanvasRect())) << nodes[i].lines[0];
    // The text fits its box: the widest line plus padding.
    float widest = 0;
    const float scale = panel.drawn_scale();
    for (const std::string& l : nodes[i].lines)
      widest = std::max(widest, ImGui::CalcTextSize(l.c_str()).x * scale);
    EXPECT_LE(widest, nodes[i].box.max.x - nodes[i].box.min.x + 0.5f) << nodes[i].lines[0];
    EXPECT_LE(ImGui::GetTextLineHeight() * scale * nodes[i].lines.size(),
              nodes[i].box.max.y - nodes[i].box.min.y + 0.5f);
    for (size_t j = i + 1; j < nodes.size(); ++j)
      EXPECT_FALSE(nodes[i].box.Overlaps(nodes[j].box)) << nodes[i].lines[0] << " / " << nodes[j].lines[0];
    for (const CyclePanel::DrawnArc& a : panel.DrawnArcs()) {
      if (a.label.empty()) continue;
      EXPECT_FALSE(nodes[i].box.Overlaps(a.label_box)) << nodes[i].lines[0] << " / " << a.label[0];
    }
  }
  const auto& arcs = panel.DrawnArcs();
  for (size_t i = 0; i < arcs.size(); ++i) {
    for (size_t j = i + 1; j < arcs.size(); ++j) {
      if (arcs[i].label.empty() || arcs[j].label.empty()) continue;
      EXPECT_FALSE(arcs[i].label_box.Overlaps(arcs[j].label_box)) << arcs[i].label[0];
    }
  }
}

std::optional<EventKey> KeyOfFirstFaultRun(const TraceData& t) {
  for (uint32_t ti = 0; ti < t.tracks.size(); ++ti)
    for (const traces::Event& e : t.tracks[ti].events)
      if (e.stack_id >= 0 && traces::NodeOfStack(t, t.stacks[e.stack_id]) == CycleNodeId::PageFault)
        return KeyOf(e);
  return std::nullopt;
}

TEST(CycleLayout, BoxesAndLabelsNeverOverlapAtAnySize) {
  CycleLayoutInput in;
  for (auto& n : in.nodes) n = ImVec2(260, 74);
  in.labels[static_cast<size_t>(CycleArcId::ReturnToVmm)] = ImVec2(200, 80);
  in.labels[static_cast<size_t>(CycleArcId::HandledInKernel)] = ImVec2(220, 60);
  in.labels[static_cast<size_t>(CycleArcId::RunAgain)] = ImVec2(140, 40);
  in.labels[static_cast<size_t>(CycleArcId::ExitToHandler)] = ImVec2(180, 60);
  in.labels[static_cast<size_t>(CycleArcId::EntryToGuest)] = ImVec2(150, 40);
  in.band_label_width = 120;
  for (ImVec2 avail : {ImVec2(300, 200), ImVec2(1152, 540), ImVec2(4000, 3000)}) {
    const CycleLayout l = LayoutCycle(in, avail, CycleMetrics::ForFont(20));
    EXPECT_GE(l.size.x, avail.x);
    EXPECT_GE(l.size.y, avail.y);
    const Box canvas{ImVec2(0, 0), l.size};
    std::vector<Box> all(l.nodes.begin(), l.nodes.end());
    for (size_t a = 0; a < traces::kCycleArcs; ++a) {
      const ImVec2 s = in.labels[a];
      if (s.x > 0) all.push_back(Box{l.labels[a], ImVec2(l.labels[a].x + s.x, l.labels[a].y + s.y)});
    }
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_TRUE(all[i].Inside(canvas)) << i;
      for (size_t j = i + 1; j < all.size(); ++j) EXPECT_FALSE(all[i].Overlaps(all[j])) << i << " " << j;
    }
    // Every arc starts and ends on its boxes' edges.
    for (size_t a = 0; a < traces::kCycleArcs; ++a) EXPECT_GE(l.arcs[a].size(), 2u) << a;
    // The band of a node holds it.
    for (size_t n = 0; n < traces::kCycleNodes; ++n) {
      const int row = CellOf(static_cast<CycleNodeId>(n)).row;
      const int band = row == 0 ? 0 : row == 4 ? 2 : 1;
      EXPECT_TRUE(l.nodes[n].Inside(l.bands[band])) << n;
    }
  }
}

TEST(CyclePanel, NothingOverlapsOnTheProjectorOrAtSmallSizeWithLargeFont) {
  for (const char* file : {"pagefault-pvm.json", "exceptions-pvm.json"}) {
    const TraceData t = Load(file);
    for (Screen s : {kProjector, kSmall}) {
      CycleHarness h(s);
      SharedView view;
      view.selected = KeyOfFirstFaultRun(t);
      h.Frames(t, view, 2);
      SCOPED_TRACE(std::string(file) + " at " + std::to_string(int(s.screen.x)));
      ExpectNothingOverlaps(h.panel);
    }
  }
}

TEST(CyclePanel, DrawsPvmNamesAndTheModelsCounts) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kProjector);
  SharedView view;
  h.Frames(t, view, 2);
  const auto* handler = h.panel.Drawn(CycleNodeId::ExitHandler);
  ASSERT_NE(handler, nullptr);
  EXPECT_TRUE(AnyLine(handler->lines, "pvm_handle_exit"));
  EXPECT_EQ(handler->look, CyclePanel::Look::Seen);
  for (const auto& n : h.panel.DrawnNodes()) {
    EXPECT_FALSE(AnyLine(n.lines, "vmx_")) << n.lines[0];
    EXPECT_FALSE(AnyLine(n.lines, "svm_")) << n.lines[0];
  }
  // Inlined steps: neutral, and they say where their code runs.
  const auto* loop = h.panel.Drawn(CycleNodeId::RunLoop);
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(loop->look, CyclePanel::Look::Inlined);
  EXPECT_TRUE(AnyLine(loop->lines, "inlined into kvm_arch_vcpu_ioctl_run"));
  // Counts: what the model holds, with measured / inferred said in words.
  const traces::CycleModel& m = h.panel.model();
  for (const auto& a : h.panel.DrawnArcs()) {
    if (a.id == CycleArcId::ReturnToVmm) {
      EXPECT_TRUE(AnyLine(a.label, traces::FormatCount(m.Arc(a.id).count.value) + " (measured)"));
      EXPECT_TRUE(AnyLine(a.label, "KVM_EXIT_IO " + traces::FormatCount(t.ExitsWithReason(traces::kKvmExitIo).size())));
      EXPECT_TRUE(AnyLine(a.label, "KVM_EXIT_HLT 1"));
    }
    if (a.id == CycleArcId::HandledInKernel) {
      EXPECT_TRUE(AnyLine(a.label, "inferred"));
      EXPECT_TRUE(AnyLine(a.label, "kvm_emulate_insn " + traces::FormatCount(t.Count(traces::KernelEventKind::EmulateInsn))));
    }
    if (a.id == CycleArcId::ExitToHandler) {
      EXPECT_TRUE(AnyLine(a.label, "not counted"));
    }
  }
  const auto* run = h.panel.Drawn(CycleNodeId::VmmRun);
  EXPECT_TRUE(AnyLine(run->lines, traces::FormatCount(t.Count(traces::VmmEventKind::RunEnter)) + " calls (measured)"));
  const auto* exc = h.panel.Drawn(CycleNodeId::Exception);
  EXPECT_TRUE(AnyLine(exc->lines, traces::FormatCount(t.Count(traces::KernelEventKind::InjException)) + " (measured)"));
  const auto* pf = h.panel.Drawn(CycleNodeId::PageFault);
  EXPECT_TRUE(AnyLine(pf->lines, "(inferred)"));
  EXPECT_TRUE(h.panel.notice().empty());
}

TEST(CyclePanel, ClickingAStepOpensTheChainThatDetailsIt) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kProjector, ImVec2(1, 1));  // every box in view, none scrolled off
  SharedView view;
  h.panel.SetAnimationSeconds(0);
  h.Frames(t, view, 2);
  h.Click(t, view, Center(h.panel.Drawn(CycleNodeId::ExitHandler)->box));
  EXPECT_EQ(view.show_chain, traces::ChainId::Exceptions);
  // With a #PF run selected, the exit handler leads to the page-fault chain.
  view.show_chain.reset();
  view.selected = KeyOfFirstFaultRun(t);
  h.Frames(t, view, 2);
  h.Click(t, view, Center(h.panel.Drawn(CycleNodeId::ExitHandler)->box));
  EXPECT_EQ(view.show_chain, traces::ChainId::PageFaults);
  h.Click(t, view, Center(h.panel.Drawn(CycleNodeId::Exception)->box));
  EXPECT_EQ(view.show_chain, traces::ChainId::Exceptions);
  h.Click(t, view, Center(h.panel.Drawn(CycleNodeId::CreateVm)->box));
  EXPECT_EQ(view.show_chain, traces::ChainId::Init);
  h.Click(t, view, Center(h.panel.Drawn(CycleNodeId::PageFault)->box));
  EXPECT_EQ(view.show_chain, traces::ChainId::PageFaults);
}

TEST(CyclePanel, TheSelectedFaultRunTravelsItsPath) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kProjector);
  SharedView view;
  h.Frames(t, view, 1);
  view.selected = KeyOfFirstFaultRun(t);
  ASSERT_TRUE(view.selected);
  h.Frames(t, view, 1);  // the animation starts: only the first steps are lit
  ASSERT_TRUE(h.panel.path());
  EXPECT_TRUE(h.panel.path()->page_fault);
  const auto* pf = h.panel.Drawn(CycleNodeId::PageFault);
  EXPECT_TRUE(pf->on_path);
  EXPECT_FALSE(pf->highlighted);
  EXPECT_TRUE(h.panel.Drawn(CycleNodeId::VmmRun)->highlighted);
  h.Frames(t, view, 70);  // ~1.2 s at 60 frames a second
  EXPECT_TRUE(h.panel.Drawn(CycleNodeId::PageFault)->highlighted);
  EXPECT_TRUE(h.panel.Drawn(CycleNodeId::ExitHandler)->highlighted);
  EXPECT_TRUE(h.panel.Drawn(CycleNodeId::VmmHandles)->highlighted);
  EXPECT_FALSE(h.panel.Drawn(CycleNodeId::ModuleLoad)->on_path);
  for (const auto& a : h.panel.DrawnArcs()) {
    if (a.id != CycleArcId::ToPageFault) continue;
    EXPECT_TRUE(a.on_path);
  }
  // The caption speaks of the step the run ended on.
  EXPECT_NE(h.panel.caption().find("VMM handles the exit"), std::string::npos);
  // The model is not rebuilt per frame.
  EXPECT_EQ(h.panel.cache().facts_builds(), 1u);
  EXPECT_EQ(h.panel.cache().count_builds(), 1u);
}

TEST(CyclePanel, WithoutKernelDataItSaysSoOnceAndShowsTheVmmSide) {
  TraceData t = Load("pagefault-pvm.json");
  t.host.not_traced_reason = "run without root";
  t.host.plan.reset();
  CycleHarness h(kSmall);
  SharedView view;
  h.Frames(t, view, 2);
  EXPECT_NE(h.panel.notice().find("run without root"), std::string::npos);
  for (const auto& n : h.panel.DrawnNodes()) {
    if (h.panel.model().Node(n.id).band == traces::CycleBand::Kernel) {
      EXPECT_EQ(n.look, CyclePanel::Look::Missing) << n.lines[0];
      EXPECT_FALSE(AnyLine(n.lines, "run without root")) << "said once, not per node";
    }
    EXPECT_FALSE(AnyLine(n.lines, "vmx_"));
  }
  EXPECT_TRUE(AnyLine(h.panel.Drawn(CycleNodeId::VmmRun)->lines, "141 calls"));
  ExpectNothingOverlaps(h.panel);
}

}  // namespace
}  // namespace kvmscope::ui

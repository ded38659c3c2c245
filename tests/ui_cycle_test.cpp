// The KVM cycle panel driven headless over the real PVM traces: the whole
// picture fits each lecture pane (1920x1080, 1600x900, 1280x720 with and
// without --font-scale 1.5) with no scrolling, no overlaps and text >= 85% of
// the body font; this backend's names and the model's counts are what is
// drawn or captioned, clicks on steps open their chains, and a selected #PF
// run's path is highlighted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

// A pane of the window as the lecture layout gives the cycle (the content
// region under its title bar) and the body font there, loaded at its size as
// the window loads it (DejaVu Sans when installed).
struct Pane {
  const char* name;
  ImVec2 size;
  float font_px;
};
const Pane kPanes[] = {{"1920x1080", ImVec2(1260, 560), 20},
                       {"1600x900", ImVec2(1050, 460), 17},
                       {"1280x720 --font-scale 1.5", ImVec2(840, 340), 20},
                       {"1280x720", ImVec2(840, 350), 13}};
const Pane kProjector = kPanes[0];
const Pane kSmall = kPanes[2];
const Pane kWhole{"whole 1920x1080 screen", ImVec2(1880, 1000), 20};

void LoadFont(float px) {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  static const ImWchar kRanges[] = {0x0020, 0x00FF, 0x2000, 0x206F, 0x2190, 0x21FF,
                                    0x2200, 0x22FF, 0x2500, 0x257F, 0};
  const char* dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  if (std::FILE* f = std::fopen(dejavu, "rb")) {
    std::fclose(f);
    io.Fonts->AddFontFromFileTTF(dejavu, px, nullptr, kRanges);
  } else {
    ImFontConfig config;
    config.SizePixels = px;
    io.Fonts->AddFontDefault(&config);
  }
  unsigned char* pixels = nullptr;
  int w = 0, h = 0;
  io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);
}

class CycleHarness {
 public:
  explicit CycleHarness(Pane p) : m_gui(ImVec2(1920, 1080)), m_pane(p.size) {
    LoadFont(p.font_px);
    ApplyTheme(Theme::Dark, p.font_px / 16, FontScaling::LoadedFont);
    const ImGuiStyle& st = ImGui::GetStyle();
    const float title = p.font_px + 2 * st.FramePadding.y;
    m_window = ImVec2(p.size.x + 2 * st.WindowPadding.x, p.size.y + 2 * st.WindowPadding.y + title);
  }
  void Frames(const TraceData& trace, SharedView& view, int n = 1, HeadlessImGui::Input input = {}) {
    for (int i = 0; i < n; ++i)
      m_gui.Frame(
          [&] {
            ImGui::SetNextWindowPos(ImVec2(0, 0));
            ImGui::SetNextWindowSize(m_window);
            ImGui::Begin("KVM cycle", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize);
            avail = ImGui::GetContentRegionAvail();
            panel.Draw(trace, view);
            scroll_max = ImVec2(ImGui::GetScrollMaxX(), ImGui::GetScrollMaxY());
            ImGui::End();
          },
          input);
  }
  void Click(const TraceData& trace, SharedView& view, ImVec2 at) {
    Frames(trace, view, 1, {at, false});
    Frames(trace, view, 1, {at, true});
    Frames(trace, view, 1, {at, false});
  }
  ImVec2 pane() const { return m_pane; }
  CyclePanel panel;
  ImVec2 avail, scroll_max;

 private:
  HeadlessImGui m_gui;
  ImVec2 m_pane, m_window;
};

ImVec2 Center(const Box& b) { return ImVec2((b.min.x + b.max.x) / 2, (b.min.y + b.max.y) / 2); }
Box Shrunk(const Box& b, float by) {
  return Box{ImVec2(b.min.x + by, b.min.y + by), ImVec2(b.max.x - by, b.max.y - by)};
}

// A polyline passes through none of `boxes` (its ends may touch their boxes).
void ExpectClearOf(const std::vector<ImVec2>& pts, const std::vector<std::pair<std::string, Box>>& boxes,
                   const std::string& what) {
  for (size_t p = 0; p + 1 < pts.size(); ++p) {
    const ImVec2 a = pts[p], b = pts[p + 1];
    const float len = std::hypot(b.x - a.x, b.y - a.y);
    for (float s = 0; s <= len; s += 1.0f) {
      const ImVec2 q(a.x + (b.x - a.x) * s / std::max(len, 1.0f), a.y + (b.y - a.y) * s / std::max(len, 1.0f));
      for (const auto& [name, box] : boxes)
        if (Shrunk(box, 2).Contains(q)) {
          ADD_FAILURE() << what << " runs through " << name << " at " << q.x << "," << q.y;
          return;
        }
    }
  }
}

// Everything drawn lies in the pane, nothing overlaps, text fits its boxes
// and is at least 85% of the body font, and the window needs no scrollbar.
void ExpectFitsThePane(const CycleHarness& h) {
  const CyclePanel& panel = h.panel;
  EXPECT_NEAR(h.avail.x, h.pane().x, 1.0f);
  EXPECT_NEAR(h.avail.y, h.pane().y, 1.0f);
  EXPECT_TRUE(panel.fits());
  EXPECT_GE(panel.drawn_scale(), 0.85f);
  EXPECT_EQ(h.scroll_max.x, 0.0f) << "a horizontal scrollbar";
  EXPECT_EQ(h.scroll_max.y, 0.0f) << "a vertical scrollbar";
  const Box pane = panel.PaneRect();
  EXPECT_TRUE(panel.CanvasRect().Inside(pane));
  EXPECT_TRUE(panel.CaptionRect().Inside(pane));
  EXPECT_TRUE(panel.LegendRect().Inside(pane));
  EXPECT_LE(panel.CaptionLines().size(), 2u);
  EXPECT_FALSE(panel.CaptionLines().empty());
  const float size = ImGui::GetFontSize() * panel.drawn_scale();
  for (const std::string& l : panel.CaptionLines())
    EXPECT_LE(ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, l.c_str()).x, pane.max.x - pane.min.x) << l;

  std::vector<std::pair<std::string, Box>> all;  // every box and every text, which must not overlap
  const auto& nodes = panel.DrawnNodes();
  EXPECT_EQ(nodes.size(), traces::kCycleNodes);
  for (const CyclePanel::DrawnNode& n : nodes) {
    EXPECT_TRUE(n.box.Inside(panel.CanvasRect())) << n.lines[0];
    float widest = 0;
    for (const std::string& l : n.lines)
      widest = std::max(widest, ImGui::GetFont()->CalcTextSizeA(size, FLT_MAX, 0, l.c_str()).x);
    EXPECT_LE(widest, n.box.max.x - n.box.min.x + 0.5f) << n.lines[0];
    EXPECT_LE(size * n.lines.size(), n.box.max.y - n.box.min.y + 0.5f) << n.lines[0];
    all.push_back({"box " + n.lines[0], n.box});
  }
  for (const CyclePanel::DrawnArc& a : panel.DrawnArcs()) {
    if (a.label.empty()) continue;
    EXPECT_TRUE(a.label_box.Inside(panel.CanvasRect())) << a.label[0];
    all.push_back({"label " + a.label[0], a.label_box});
  }
  for (const Box& t : panel.TextRects()) {
    EXPECT_TRUE(t.Inside(pane));
    all.push_back({"text", t});
  }
  for (size_t i = 0; i < all.size(); ++i)
    for (size_t j = i + 1; j < all.size(); ++j)
      EXPECT_FALSE(all[i].second.Overlaps(all[j].second)) << all[i].first << " / " << all[j].first;
  // Arcs run between their boxes, through no other box and no label.
  const traces::CycleModel& m = panel.model();
  for (const CyclePanel::DrawnArc& a : panel.DrawnArcs()) {
    const traces::CycleArc& arc = m.Arc(a.id);
    std::vector<std::pair<std::string, Box>> others;
    for (const CyclePanel::DrawnNode& n : nodes)
      if (n.id != arc.from && n.id != arc.to) others.push_back({"box " + n.lines[0], n.box});
    for (const CyclePanel::DrawnArc& b : panel.DrawnArcs())
      if (!b.label.empty()) others.push_back({"label " + b.label[0], b.label_box});
    ExpectClearOf(a.points, others, "arc " + arc.label);
  }
  // The exception's link back to the VM entry is drawn, clear of everything else.
  ASSERT_GE(panel.InjectLink().size(), 2u);
  std::vector<std::pair<std::string, Box>> others;
  for (const CyclePanel::DrawnNode& n : nodes)
    if (n.id != CycleNodeId::Exception && n.id != CycleNodeId::VendorEntry) others.push_back({"box " + n.lines[0], n.box});
  for (const CyclePanel::DrawnArc& b : panel.DrawnArcs())
    if (!b.label.empty()) others.push_back({"label " + b.label[0], b.label_box});
  ExpectClearOf(panel.InjectLink(), others, "the injection link");
  for (ImVec2 p : panel.InjectLink()) EXPECT_TRUE(panel.CanvasRect().Contains(p));
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
  for (CycleNodeId init : {CycleNodeId::ModuleLoad, CycleNodeId::CreateVm, CycleNodeId::CreateVcpu})
    in.nodes[static_cast<size_t>(init)] = ImVec2(160, 30);
  in.labels[static_cast<size_t>(CycleArcId::ReturnToVmm)] = ImVec2(200, 80);
  in.labels[static_cast<size_t>(CycleArcId::HandledInKernel)] = ImVec2(220, 60);
  in.labels[static_cast<size_t>(CycleArcId::RunAgain)] = ImVec2(140, 40);
  in.labels[static_cast<size_t>(CycleArcId::ExitToHandler)] = ImVec2(180, 60);
  in.labels[static_cast<size_t>(CycleArcId::EntryToGuest)] = ImVec2(150, 40);
  in.band_label_width = 120;
  in.strip_note = ImVec2(300, 20);
  for (ImVec2 avail : {ImVec2(300, 200), ImVec2(1152, 540), ImVec2(4000, 3000)}) {
    const CycleLayout l = LayoutCycle(in, avail, CycleMetrics::ForFont(20));
    EXPECT_GE(l.size.x, avail.x);
    EXPECT_GE(l.size.y, avail.y);
    EXPECT_LE(l.need.x, l.size.x);
    EXPECT_LE(l.need.y, l.size.y);
    const Box canvas{ImVec2(0, 0), l.size};
    std::vector<Box> all(l.nodes.begin(), l.nodes.end());
    for (size_t a = 0; a < traces::kCycleArcs; ++a) {
      const ImVec2 s = in.labels[a];
      if (s.x > 0) all.push_back(Box{l.labels[a], ImVec2(l.labels[a].x + s.x, l.labels[a].y + s.y)});
    }
    if (l.strip_note_fits) all.push_back(Box{l.strip_note, ImVec2(l.strip_note.x + 300, l.strip_note.y + 20)});
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_TRUE(all[i].Inside(canvas)) << i;
      for (size_t j = i + 1; j < all.size(); ++j) EXPECT_FALSE(all[i].Overlaps(all[j])) << i << " " << j;
    }
    // Every arc starts and ends on its boxes' edges.
    for (size_t a = 0; a < traces::kCycleArcs; ++a) EXPECT_GE(l.arcs[a].size(), 2u) << a;
    EXPECT_GE(l.inject_link.size(), 2u);
    // The band of a node holds it; init steps sit in the strip above the loop.
    for (size_t n = 0; n < traces::kCycleNodes; ++n) {
      const int row = CellOf(static_cast<CycleNodeId>(n)).row;
      const Box& band = row < 0 ? l.init_band : l.bands[row == 0 ? 0 : row == 4 ? 2 : 1];
      EXPECT_TRUE(l.nodes[n].Inside(band)) << n;
    }
  }
}

// The requirement of the lecture layout: at each pane size the window gives
// the cycle, with its font, the whole picture shows without scrolling, on
// both recorded traces, with and without a selected run, with the mouse on a
// step (the caption then says the most).
TEST(CyclePanel, FitsEveryLecturePaneWithoutScrolling) {
  for (const char* file : {"pagefault-pvm.json", "exceptions-pvm.json"}) {
    const TraceData t = Load(file);
    for (const Pane& p : kPanes) {
      SCOPED_TRACE(std::string(file) + " in the " + p.name + " pane");
      CycleHarness h(p);
      SharedView view;
      h.Frames(t, view, 3);
      ExpectFitsThePane(h);
      view.selected = KeyOfFirstFaultRun(t);
      h.panel.SetAnimationSeconds(0);
      h.Frames(t, view, 2);
      ExpectFitsThePane(h);
      h.Frames(t, view, 2, {Center(h.panel.Drawn(CycleNodeId::ExitHandler)->box)});
      EXPECT_NE(h.panel.caption().find("pvm_handle_exit"), std::string::npos);
      ExpectFitsThePane(h);
      std::printf("[ info ] %s in the %s pane: form %d, text %.0f%%\n", file, p.name,
                  static_cast<int>(h.panel.form()), 100 * h.panel.drawn_scale());
    }
  }
}

TEST(CyclePanel, DrawsPvmNamesAndTheModelsCounts) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kWhole);  // room for the full form
  SharedView view;
  h.Frames(t, view, 2);
  ExpectFitsThePane(h);
  EXPECT_EQ(h.panel.form(), CycleForm::Full);
  EXPECT_EQ(h.panel.drawn_scale(), 1.0f);
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
  EXPECT_NE(h.panel.legend().find("inferred"), std::string::npos);
}

// In the small pane the boxes say title and count; labels say the count and
// the top reason; the function, status and details are in the caption line
// for the step or label under the mouse. Nothing is said by colour alone.
TEST(CyclePanel, CompactFormSaysTheRestInTheCaptionLine) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kSmall);
  SharedView view;
  h.Frames(t, view, 2);
  ASSERT_TRUE(h.panel.fits());
  EXPECT_TRUE(h.panel.form() == CycleForm::Compact || h.panel.form() == CycleForm::Tight);
  const traces::CycleModel& m = h.panel.model();
  const std::string io = traces::FormatCount(t.ExitsWithReason(traces::kKvmExitIo).size());
  for (const auto& a : h.panel.DrawnArcs()) {
    if (a.id == CycleArcId::ReturnToVmm) {
      ASSERT_EQ(a.label.size(), 1u);
      EXPECT_EQ(a.label[0], "to the VMM: " + traces::FormatCount(m.Arc(a.id).count.value) + " (IO " + io + ")");
      h.Frames(t, view, 1, {Center(a.label_box)});
      EXPECT_NE(h.panel.caption().find("KVM_EXIT_HLT 1"), std::string::npos) << h.panel.caption();
      EXPECT_NE(h.panel.caption().find("measured"), std::string::npos);
    }
    if (a.id == CycleArcId::HandledInKernel) {
      EXPECT_TRUE(AnyLine(a.label, "inferred"));
    }
  }
  // Inferred counts are marked (the legend says how).
  EXPECT_TRUE(AnyLine(h.panel.Drawn(CycleNodeId::PageFault)->lines, "~"));
  EXPECT_NE(h.panel.legend().find("~N inferred"), std::string::npos);
  EXPECT_NE(h.panel.legend().find("inlined"), std::string::npos);
  h.Frames(t, view, 1, {Center(h.panel.Drawn(CycleNodeId::RunLoop)->box)});
  EXPECT_NE(h.panel.caption().find("inlined into kvm_arch_vcpu_ioctl_run"), std::string::npos);
  h.Frames(t, view, 1, {Center(h.panel.Drawn(CycleNodeId::CreateVm)->box)});
  EXPECT_NE(h.panel.caption().find("KVM_CREATE_VM"), std::string::npos);
}

TEST(CyclePanel, ClickingAStepOpensTheChainThatDetailsIt) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kProjector);
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
  // The caption sums the run up, down to the step it ended on.
  EXPECT_NE(h.panel.caption().find("page fault"), std::string::npos) << h.panel.caption();
  EXPECT_NE(h.panel.caption().find("VMM handles the exit"), std::string::npos) << h.panel.caption();
  // The model is not rebuilt per frame.
  EXPECT_EQ(h.panel.cache().facts_builds(), 1u);
  EXPECT_EQ(h.panel.cache().count_builds(), 1u);
}

// A run past kvm_emulate_insn's stream budget: its summary does not let the
// missing events pass for no emulation.
TEST(CycleLayout, ARunWithoutStreamedEmulationSaysItMayHaveHadSome) {
  const TraceData t = Load("pagefault-pvm.json");
  const traces::CycleModel model = traces::BuildCycle(t);
  traces::CyclePath path;
  path.returned = true;
  EXPECT_EQ(PathSummary(model, path).find("counted, not streamed"), std::string::npos);
  path.emulation_unstreamed = true;
  EXPECT_NE(PathSummary(model, path).find("any instructions emulated in it were counted, not streamed"),
            std::string::npos)
      << PathSummary(model, path);
}

TEST(CyclePanel, WithKernelDataNoStepIsDrawnAsNotTraced) {
  const TraceData t = Load("pagefault-pvm.json");
  CycleHarness h(kSmall);
  SharedView view;
  h.Frames(t, view, 2);
  for (const auto& n : h.panel.DrawnNodes()) EXPECT_NE(n.look, CyclePanel::Look::NotTraced) << n.lines[0];
  EXPECT_EQ(h.panel.Drawn(CycleNodeId::RunLoop)->look, CyclePanel::Look::Inlined);
  EXPECT_NE(h.panel.legend().find("inlined"), std::string::npos) << h.panel.legend();
  EXPECT_EQ(h.panel.legend().find("not traced"), std::string::npos) << h.panel.legend();
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
      // Not traced has its own look (dotted), not the dashed "inlined" one.
      EXPECT_EQ(n.look, CyclePanel::Look::NotTraced) << n.lines[0];
      EXPECT_FALSE(AnyLine(n.lines, "run without root")) << "said once, not per node";
    }
    EXPECT_FALSE(AnyLine(n.lines, "vmx_"));
  }
  // The legend says what the dotted boxes mean, and has no dashed entry.
  EXPECT_NE(h.panel.legend().find("not traced"), std::string::npos) << h.panel.legend();
  EXPECT_EQ(h.panel.legend().find("inlined"), std::string::npos) << h.panel.legend();

  EXPECT_TRUE(AnyLine(h.panel.Drawn(CycleNodeId::VmmRun)->lines, "141"));
  ExpectFitsThePane(h);
}

}  // namespace
}  // namespace kvmscope::ui

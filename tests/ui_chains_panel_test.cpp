// The chains panel as a lecturer meets it, driven headless: the seed's claims
// hidden until the "claims" checkbox is clicked, a chain brought forward by
// another view, a trace without kernel data said once and drawn neutral, and
// a 30 px projector font at 1280x720 with nothing overlapping; on the SVM
// host's trace, steps run only as tail calls and the decoder's own walk.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "tests/ui_harness.h"
#include "traces/trace_json.h"
#include "ui/chains_panel.h"

namespace kvmscope::ui {
namespace {

using traces::ChainId;
using traces::TraceData;

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

ImVec2 Center(const Box& b) {
  return ImVec2((b.min.x + b.max.x) / 2, (b.min.y + b.max.y) / 2);
}

bool Empty(const Box& b) {
  return b.max.x <= b.min.x || b.max.y <= b.min.y;
}

class ChainsPanelUse : public ::testing::Test {
 protected:
  ChainsPanelUse() { panel.SetAnimationSeconds(0); }
  void Frames(const TraceData& trace, int n = 1, HeadlessImGui::Input input = {}) {
    for (int i = 0; i < n; ++i)
      gui.Frame(
          [&] {
            ImGui::SetNextWindowPos(ImVec2(0, 0));
            ImGui::SetNextWindowSize(size);
            ImGui::Begin("panel", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize);
            panel.Draw(trace, view);
            ImGui::End();
          },
          input);
  }
  // A click: pressed on one frame, released on the next.
  void Click(const TraceData& trace, ImVec2 at) {
    Frames(trace, 1, {at, true});
    Frames(trace, 1, {at, false});
    Frames(trace, 1);
  }
  void Show(const TraceData& trace, ChainId id) {
    panel.SetChain(id);
    Frames(trace, 3);
    ASSERT_EQ(panel.chain(), id);
  }
  const ChainsPanel::DrawnNode* Node(std::string_view id) const {
    for (const ChainsPanel::DrawnNode& n : panel.DrawnNodes())
      if (n.id == id) return &n;
    return nullptr;
  }
  HeadlessImGui gui;
  ChainsPanel panel;
  SharedView view;
  ImVec2 size = ImVec2(1000, 700);
};

TraceData RealTrace() {
  return traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
}

// A run with --no-probes: the VMM side and the host's word, nothing of the
// kernel (no symbols, no stacks, no plan).
TraceData UntracedTrace(bool host_facts) {
  traces::Trace trace;
  trace.SetVmmPid(100);
  if (host_facts) {
    traces::HostFacts host;
    host.kernel_release = "6.18.44-fc-v669";
    host.backend = "PVM (kvm_pvm)";
    host.not_traced_reason = "--no-probes given";
    trace.SetHost(host);
  }
  trace.Add(
      traces::Event{1000, 100, 101, 0, -1, 0, traces::kNoCpu, traces::VmmEventKind::RunEnter, {0}});
  trace.Add(traces::Event{2000,
                          100,
                          101,
                          0,
                          -1,
                          0,
                          traces::kNoCpu,
                          traces::VmmEventKind::RunExit,
                          {traces::kKvmExitHlt, 0, 1}});
  TraceData data = trace.Take();
  data.BuildSpans();
  return data;
}

TEST_F(ChainsPanelUse, ClaimsHiddenUntilTheCheckboxIsClicked) {
  const TraceData trace = RealTrace();
  Show(trace, ChainId::Init);
  ASSERT_FALSE(view.show_claims);
  for (const ChainsPanel::DrawnNode& n : panel.DrawnNodes()) {
    EXPECT_EQ(n.badge, "") << n.id;
    EXPECT_TRUE(n.claims.empty()) << n.id;
    EXPECT_TRUE(Empty(n.badge_rect)) << n.id;
  }
  EXPECT_TRUE(panel.ListedClaims().empty());

  ASSERT_FALSE(Empty(panel.ClaimsToggleRect()));
  Click(trace, Center(panel.ClaimsToggleRect()));
  ASSERT_TRUE(view.show_claims);
  const ChainsPanel::DrawnNode* init = Node("kvm_init");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->badge, "seed: contradicted +2");
  ASSERT_EQ(init->claims.size(), 3u);
  for (const std::string& s : init->claims) EXPECT_EQ(s.rfind("The seed says ", 0), 0u) << s;
  // Every claim about the chain, in words, under the diagram.
  EXPECT_EQ(panel.ListedClaims().size(), traces::SeedClaimsAbout(ChainId::Init).size());
  EXPECT_TRUE(Contains(panel.ListedClaims().front(), "; this kernel shows "))
      << panel.ListedClaims().front();

  Click(trace, Center(panel.ClaimsToggleRect()));
  EXPECT_FALSE(view.show_claims);
  EXPECT_EQ(Node("kvm_init")->badge, "");
}

TEST_F(ChainsPanelUse, ShowChainBringsItForwardOnceAndClearsTheRequest) {
  const TraceData trace = RealTrace();
  panel.SetFollowSelection(false);
  Frames(trace, 2);
  ASSERT_EQ(panel.chain(), ChainId::RunLoop);
  view.show_chain = ChainId::PageFaults;
  Frames(trace);
  EXPECT_FALSE(view.show_chain.has_value());
  EXPECT_EQ(panel.chain(), ChainId::PageFaults);
  ASSERT_NE(Node("mmu_pf"), nullptr);  // its diagram is the one drawn
  Frames(trace, 3);
  EXPECT_EQ(panel.chain(), ChainId::PageFaults);  // the tab stays
  view.show_chain = ChainId::Exceptions;
  Frames(trace, 2);
  EXPECT_EQ(panel.chain(), ChainId::Exceptions);
  EXPECT_NE(Node("exception_exit"), nullptr);
}

// A guest's story selects an event and asks for its chain in the same frame:
// the request wins over "follow selection", whose path may run mostly
// through another chain (the #PF injection's stack is in the run loop).
TEST_F(ChainsPanelUse, AChainAskedForWinsOverFollowingTheSameFramesSelection) {
  const TraceData trace = RealTrace();
  std::vector<traces::EventRef> pfs = trace.OfType(traces::KernelEventKind::InjException);
  ASSERT_GE(pfs.size(), 2u);
  Frames(trace, 2);
  // Without a request, following the selection shows the chain of its path.
  view.selected = KeyOf(trace.At(pfs[0]));
  Frames(trace, 3);
  const ChainId followed = panel.chain();
  // Another #PF selected and another chain asked for in the same frame.
  const ChainId asked = followed == ChainId::PageFaults ? ChainId::Exceptions : ChainId::PageFaults;
  view.selected = KeyOf(trace.At(pfs[1]));
  view.show_chain = asked;
  Frames(trace, 3);
  EXPECT_EQ(panel.chain(), asked) << "followed " << static_cast<int>(followed);
}

TEST_F(ChainsPanelUse, WithoutKernelDataSaidOnceAndNeutral) {
  const TraceData trace = UntracedTrace(true);
  Frames(trace, 2);
  EXPECT_FALSE(panel.kernel_data());
  EXPECT_EQ(panel.not_traced_note(),
            "kernel not traced: --no-probes given; chains show the steps, not this kernel");
  for (ChainId id : traces::kAllChains) {
    Show(trace, id);
    ASSERT_FALSE(panel.DrawnNodes().empty());
    for (const ChainsPanel::DrawnNode& n : panel.DrawnNodes()) {
      EXPECT_TRUE(n.look == NodeLook::Unknown || n.look == NodeLook::Faded) << n.id;
      EXPECT_FALSE(Contains(n.status, "absent")) << n.id << ": " << n.status;
      EXPECT_FALSE(Contains(n.status, "not traced")) << n.id << ": " << n.status;  // said once
      EXPECT_NE(n.function.rfind("vmx_", 0), 0u) << n.id << ": " << n.function;    // PVM host
    }
  }
  Show(trace, ChainId::RunLoop);
  EXPECT_EQ(Node("vendor_exit")->function, "pvm_handle_exit");
  EXPECT_EQ(Node("vendor_exit")->status, "vendor exit handler");  // the step, not a verdict

  // Host facts empty too (a trace reset under the panel): no vendor guessed.
  ChainsPanel fresh;
  const TraceData bare = UntracedTrace(false);
  gui.Frame([&] {
    ImGui::SetNextWindowSize(size);
    ImGui::Begin("bare");
    fresh.Draw(bare, view);
    ImGui::End();
  });
  EXPECT_EQ(fresh.not_traced_note(),
            "kernel not traced: this trace has no kernel symbols or stacks; chains show the "
            "steps, not this kernel");
  // The recorder's own wording is not doubled.
  TraceData np = UntracedTrace(true);
  np.host.not_traced_reason = "not traced (--no-probes)";
  Frames(np);
  EXPECT_EQ(panel.not_traced_note(),
            "kernel not traced (--no-probes); chains show the steps, not this kernel");
  const traces::NodeMatch* exit = fresh.Match(ChainId::RunLoop).Node("vendor_exit");
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->label, "vmx_handle_exit / svm_handle_exit / pvm_handle_exit");
}

TEST(ChainsPanelLooks, ByStatusAndWhyAStepHasNoSymbol) {
  EXPECT_EQ(LookOf(traces::NodeStatus::Observed), NodeLook::Lit);
  EXPECT_EQ(LookOf(traces::NodeStatus::PresentNotObserved), NodeLook::Dim);
  EXPECT_EQ(LookOf(traces::NodeStatus::Absent), NodeLook::Absent);
  EXPECT_EQ(LookOf(traces::NodeStatus::NotApplicable), NodeLook::Faded);
  traces::NodeMatch n;
  n.status = traces::NodeStatus::Absent;
  n.absent_reason = traces::AbsentReason::NotInSymbols;
  EXPECT_EQ(LookOf(n), NodeLook::Absent);
  // Inlined or freed is no fault: neutral, never the absent colour.
  n.absent_reason = traces::AbsentReason::Inlined;
  EXPECT_EQ(LookOf(n), NodeLook::Neutral);
  n.absent_reason = traces::AbsentReason::InitCodeFreed;
  EXPECT_EQ(LookOf(n), NodeLook::Neutral);
  n.absent_reason = traces::AbsentReason::NotTraced;
  EXPECT_EQ(LookOf(n), NodeLook::Unknown);
  n.status = traces::NodeStatus::Observed;
  EXPECT_EQ(LookOf(n), NodeLook::Lit);
  // Proved to run as a tail call: its own look, not Lit and not Dim.
  n.status = traces::NodeStatus::PresentNotObserved;
  n.absent_reason = traces::AbsentReason::None;
  EXPECT_EQ(LookOf(n), NodeLook::Dim);
  n.tail_exits = 3;
  EXPECT_EQ(LookOf(n), NodeLook::TailCall);
}

// The SVM host's page faults: svm_invoke_exit_handler and kvm_tdp_page_fault
// only run as tail calls. Their links are drawn as tail calls and the steps
// themselves as observed through a tail call: never plain observed, never
// "present, not seen".
TEST_F(ChainsPanelUse, TailCallLinksAndStepsOnTheSvmHost) {
  const TraceData trace = traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json");
  Show(trace, ChainId::PageFaults);
  for (const char* id : {"exit_table", "handler"}) {
    const ChainsPanel::DrawnNode* n = Node(id);
    ASSERT_NE(n, nullptr) << id;
    EXPECT_EQ(n->look, NodeLook::TailCall) << id;
    EXPECT_EQ(n->status.rfind("observed through a tail call, ", 0), 0u) << id << ": " << n->status;
    EXPECT_FALSE(Contains(n->status, "evidence")) << n->status;  // in the tooltip
    EXPECT_TRUE(n->status_rect.Inside(n->box)) << id;
  }
  EXPECT_EQ(Node("exit_table")->function, "svm_invoke_exit_handler");
  EXPECT_EQ(Node("exit_table")->status, "observed through a tail call, 30 exits");
  EXPECT_EQ(Node("fault_exit")->look, NodeLook::Lit);  // npf_interception is on stacks
  EXPECT_EQ(Node("fault_exit")->status, "observed 4");
  EXPECT_EQ(Node("set_spte")->look, NodeLook::Dim);  // nothing proves it ran
  // The links on both sides of the exit table are drawn as tail calls.
  size_t tail_links = 0;
  for (const ChainsPanel::DrawnEdge& e : panel.DrawnEdges()) {
    if ((e.from == "vendor_exit" && e.to == "exit_table") ||
        (e.from == "exit_table" && e.to == "fault_exit")) {
      EXPECT_EQ(e.status, traces::EdgeStatus::ObservedTailCall) << e.from << " → " << e.to;
      ++tail_links;
    }
  }
  EXPECT_EQ(tail_links, 2u);
  // The run loop ends at the exit table: the same look there.
  Show(trace, ChainId::RunLoop);
  EXPECT_EQ(Node("exit_table")->look, NodeLook::TailCall);
}

// Selecting the instruction decoder's stack (x86_decode_insn → … →
// paging64_walk_addr_generic, no kvm_mmu_page_fault) lights no step of the
// page-fault chain below its entry.
TEST_F(ChainsPanelUse, DecoderStackLightsNoFaultWalk) {
  const TraceData trace = traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json");
  std::optional<EventKey> decoder;
  for (const traces::Track& track : trace.tracks)
    for (const traces::Event& e : track.events) {
      const traces::Stack* stack = trace.StackOf(e);
      if (stack == nullptr || decoder) continue;
      const std::vector<std::string> frames = traces::ChainFrames(*stack, trace.symbols);
      auto has = [&](std::string_view f) {
        return std::find(frames.begin(), frames.end(), f) != frames.end();
      };
      if (has("paging64_walk_addr_generic") && !has("kvm_mmu_page_fault")) decoder = KeyOf(e);
    }
  ASSERT_TRUE(decoder.has_value());
  view.selected = decoder;
  Frames(trace, 3);
  ASSERT_EQ(panel.path_source(), ChainsPanel::PathSource::Selected);
  const std::vector<std::string> lit = panel.HighlightedNodes(ChainId::PageFaults);
  EXPECT_EQ(std::find(lit.begin(), lit.end(), "walk"), lit.end());
  EXPECT_TRUE(lit.empty());
}

TEST_F(ChainsPanelUse, RefreshesOnNewStacksSymbolsOrHostNotOnMoreEvents) {
  TraceData trace = RealTrace();
  Frames(trace, 5);
  EXPECT_EQ(panel.refresh_count(), 1u);
  const uint64_t before = panel.Match(ChainId::RunLoop).Node("vcpu_ioctl")->count;
  traces::Track& track = trace.tracks[0];
  // More events only, for longer than any timer would wait: no refresh.
  for (int i = 0; i < 3; ++i) {
    traces::Event more = track.events.back();
    more.time_ns += 10;
    more.stack_id = -1;
    track.events.push_back(more);
    Frames(trace, 40);
  }
  EXPECT_EQ(panel.refresh_count(), 1u);
  // A new stack: at once, with its event counted.
  trace.stacks.push_back(trace.stacks[0]);
  traces::Event last = track.events.back();
  last.stack_id = static_cast<int32_t>(trace.stacks.size() - 1);
  track.events.set(track.events.size() - 1, last);
  Frames(trace);
  EXPECT_EQ(panel.refresh_count(), 2u);
  EXPECT_EQ(panel.Match(ChainId::RunLoop).Node("vcpu_ioctl")->count, before + 1);
  // New symbols, other host facts, another trace generation: each at once.
  traces::SymbolTable symbols = trace.symbols;
  symbols.Add(0xffffffff90000000, "kvm_vm_ioctl_unknown_helper");
  symbols.Finish();
  trace.symbols = symbols;
  Frames(trace);
  EXPECT_EQ(panel.refresh_count(), 3u);
  trace.host.not_traced_reason = "changed";
  Frames(trace);
  EXPECT_EQ(panel.refresh_count(), 4u);
  ++view.trace_generation;
  Frames(trace, 3);
  EXPECT_EQ(panel.refresh_count(), 5u);
}

TEST(ChainsPanelSizes, MetricsScaleWithTheFont) {
  const LayoutMetrics small = LayoutMetrics::ForFont(13), big = LayoutMetrics::ForFont(30);
  for (const LayoutMetrics* m : {&small, &big}) {
    const float fs = m == &small ? 13 : 30;
    EXPECT_GE(m->box_height, 2 * fs + 2 * m->pad);  // two lines and a pad around them
    EXPECT_GE(m->min_gap, fs);                      // a count fits beside an arrow
  }
  EXPECT_GT(big.pad, small.pad);
  EXPECT_GT(big.lane_width, small.lane_width);
  EXPECT_GT(big.min_box_width, small.min_box_width);
}

// 1280x720 with a 30 px font: the chains pane as the window places it (about
// 62% wide, a third of the height) and the whole screen.
TEST_F(ChainsPanelUse, ThirtyPixelFontNothingOverlaps) {
  ImGui::GetIO().FontGlobalScale = 30.0f / 13.0f;
  const TraceData trace = RealTrace();
  view.show_claims = true;  // badges too
  for (ImVec2 pane : {ImVec2(793, 377), ImVec2(1280, 720), ImVec2(700, 420)}) {
    size = pane;
    for (ChainId id : traces::kAllChains) {
      Show(trace, id);
      ASSERT_NEAR(ImGui::GetFontSize(), 30.0f, 0.5f);
      const std::vector<ChainsPanel::DrawnNode>& nodes = panel.DrawnNodes();
      ASSERT_FALSE(nodes.empty()) << pane.x << "x" << pane.y << " " << traces::GetChain(id).name;
      for (size_t i = 0; i < nodes.size(); ++i) {
        const ChainsPanel::DrawnNode& n = nodes[i];
        const std::string where = std::string(traces::GetChain(id).name) + ":" + n.id;
        EXPECT_TRUE(n.box.Inside(panel.CanvasRect())) << where;
        EXPECT_TRUE(n.function_rect.Inside(n.box)) << where;
        EXPECT_TRUE(n.status_rect.Inside(n.box)) << where;
        EXPECT_FALSE(n.function_rect.Overlaps(n.status_rect)) << where;
        if (!Empty(n.badge_rect)) {
          EXPECT_TRUE(n.badge_rect.Inside(n.box)) << where;
          EXPECT_FALSE(n.badge_rect.Overlaps(n.function_rect)) << where;
          EXPECT_FALSE(n.badge_rect.Overlaps(n.status_rect)) << where;
        }
        for (size_t j = i + 1; j < nodes.size(); ++j)
          EXPECT_FALSE(n.box.Overlaps(nodes[j].box)) << where << " / " << nodes[j].id;
      }
      const std::vector<Box>& header = panel.HeaderRects();
      for (size_t i = 0; i < header.size(); ++i) {
        EXPECT_LE(header[i].max.x, pane.x) << "header item " << i << " at " << pane.x << ": "
                                           << header[i].min.x << "," << header[i].min.y;
        for (size_t j = i + 1; j < header.size(); ++j)
          EXPECT_FALSE(header[i].Overlaps(header[j])) << i << "," << j << " at " << pane.x;
      }
    }
  }
}

}  // namespace
}  // namespace kvmscope::ui

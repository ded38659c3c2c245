// The chains panel, the inspector and the disassembler,
// driven headless over a synthetic VMX trace with known answers and over the
// real PVM trace in tests/data: chain highlighting for a selected stack,
// statuses as drawn, inspector contents, layout geometry, empty traces.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/ui_harness.h"
#include "traces/explain.h"
#include "traces/report.h"
#include "traces/trace_json.h"
#include "ui/chains_panel.h"
#include "ui/disasm.h"
#include "ui/inspector.h"

namespace kvmscope::ui {
namespace {

using traces::ChainId;
using traces::Event;
using traces::KernelEventKind;
using traces::TraceData;
using traces::VmmEventKind;

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool Has(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// --- A synthetic VMX trace -------------------------------------------------------

// Intel, 6.8, EPT on; vcpu_run and vcpu_enter_guest have no symbol (inlined
// into kvm_arch_vcpu_ioctl_run), as on most distribution kernels.
// clang-format off
const std::vector<std::string> kVmxFunctions = {
    "do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
    "vmx_vcpu_run", "vmx_handle_exit", "__vmx_handle_exit", "handle_io", "kvm_fast_pio",
    "handle_ept_violation", "kvm_mmu_page_fault", "kvm_tdp_page_fault", "kvm_tdp_mmu_map",
    "kvm_init", "kvm_vcpu_compat_ioctl", "__traceiter_kvm_pio", "__traceiter_kvm_page_fault"};
// clang-format on
constexpr uint64_t kText = 0xffffffff81000000;

uint64_t Frame(std::string_view function) {
  const auto it = std::find(kVmxFunctions.begin(), kVmxFunctions.end(), function);
  EXPECT_NE(it, kVmxFunctions.end()) << function;
  return kText + 0x1000 * static_cast<uint64_t>(it - kVmxFunctions.begin()) + 0x42;
}

// Written outermost first, stored innermost first (as captured).
traces::Stack StackOf(std::vector<std::string_view> outermost_first) {
  traces::Stack s;
  for (auto it = outermost_first.rbegin(); it != outermost_first.rend(); ++it)
    s.push_back(Frame(*it));
  return s;
}

constexpr uint32_t kPid = 100, kTid = 101;
constexpr uint64_t kLoad = 0x8000;

// 0x8000 mov dx, 0x3f8; 0x8004 cpuid; 0x8006 mov al, 0x48; 0x8008 out dx, al;
// 0x8009 hlt; 0x800a jmp $
const std::vector<uint8_t> kImage = {0x66, 0xba, 0xf8, 0x03, 0x0f, 0xa2,
                                     0xb0, 0x48, 0xee, 0xf4, 0xeb, 0xfe};

// An event of vCPU 0's thread; VMM events know their vCPU, kernel ones their CPU.
Event Ev(int64_t t, traces::EventType type, std::array<uint64_t, 6> a, int32_t stack = -1) {
  const bool vmm = type.origin == traces::Origin::Vmm;
  return Event{t, kPid, kTid, vmm ? 0 : -1, stack, 0, vmm ? traces::kNoCpu : uint16_t{1}, type, a};
}

traces::GuestRegs RegsAt(uint64_t run, uint64_t rip) {
  traces::GuestRegs r;
  r.vcpu = 0;
  r.run_index = run;
  const auto& names = traces::GuestRegNames();
  auto set = [&](std::string_view name, uint64_t v) {
    r.values[static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin())] = v;
  };
  set("rip", rip);
  set("rdx", 0x3f8);
  set("rax", 0x48);
  set("cr0", 0x80000011);  // PG | ET | PE
  set("efer", 0x500);      // LMA | LME
  return r;
}

// Two KVM_RUNs: an OUT to the serial port (kernel stack through handle_io),
// then an EPT violation, an emulated CPUID and a HLT.
TraceData SyntheticTrace(bool with_regs = true) {
  traces::Trace trace;
  trace.SetVmmPid(kPid);
  traces::HostFacts host;
  host.kernel_release = "6.8.0-45-generic";
  host.backend = "VMX (Intel)";
  host.vendor_handler = "vmx_handle_exit";
  host.plan = traces::PlanRecord{};
  host.stack_mode = "new";
  trace.SetHost(host);
  traces::GuestFacts guest;
  guest.name = "synthetic";
  guest.mode = "long";
  guest.load_addr = kLoad;
  guest.image = kImage;
  trace.SetGuest(guest);
  traces::SymbolTable symbols;
  for (size_t i = 0; i < kVmxFunctions.size(); ++i)
    symbols.Add(kText + 0x1000 * i, kVmxFunctions[i]);
  symbols.Add(kText + 0x1000 * kVmxFunctions.size(), "zz_end_of_text");
  symbols.Finish();
  trace.SetSymbols(symbols);
  const std::vector<std::string_view> run = {"do_syscall_64",   "__x64_sys_ioctl",
                                             "kvm_vcpu_ioctl",  "kvm_arch_vcpu_ioctl_run",
                                             "vmx_handle_exit", "__vmx_handle_exit"};
  auto with = [&](std::vector<std::string_view> tail) {
    std::vector<std::string_view> s = run;
    s.insert(s.end(), tail.begin(), tail.end());
    return StackOf(s);
  };
  trace.AddStack(0, with({"handle_io", "kvm_fast_pio", "__traceiter_kvm_pio"}));
  trace.AddStack(1, with({"handle_ept_violation", "kvm_mmu_page_fault", "kvm_tdp_page_fault",
                          "kvm_tdp_mmu_map", "__traceiter_kvm_page_fault"}));
  trace.Add(Ev(1000, VmmEventKind::RunEnter, {0}));
  trace.Add(Ev(1100, KernelEventKind::RunEnter, {0}));
  trace.Add(Ev(1200, KernelEventKind::Pio, {1, 0x3f8, 1, 1, 0x48}, 0));
  trace.Add(Ev(1300, KernelEventKind::UserspaceExit, {traces::kKvmExitIo, 0}));
  trace.Add(Ev(1400, KernelEventKind::RunExit, {0}));
  trace.Add(Ev(1500, VmmEventKind::RunExit,
               {traces::kKvmExitIo, 0, 0, 0x3f8 | 1 << 16 | 1 << 24, 1, 0x48}));
  trace.Add(Ev(2000, VmmEventKind::RunEnter, {1}));
  trace.Add(Ev(2050, KernelEventKind::RunEnter, {0}));
  trace.Add(Ev(2100, KernelEventKind::PageFault, {0, 0x8004, 0x9000, 0x4}, 1));
  // cpuid (0f a2), 2 bytes, flags CR0_PE | CS_L.
  trace.Add(Ev(2200, KernelEventKind::EmulateInsn, {0x8004, 0, 2 | 9 << 8, 0xa20f, 0}));
  trace.Add(Ev(2300, KernelEventKind::RunExit, {0}));
  trace.Add(Ev(2500, VmmEventKind::RunExit, {traces::kKvmExitHlt, 0, 1}));
  if (with_regs) {
    trace.AddRegs(RegsAt(0, 0x8008));  // OUT not completed: RIP on it
    trace.AddRegs(RegsAt(1, 0x800a));  // HLT completed: RIP past it
  }
  TraceData data = trace.Take();
  data.BuildSpans();
  return data;
}

Event FirstOf(const TraceData& trace, traces::EventType type, bool last = false) {
  const std::optional<traces::EventRef> ref = last ? trace.Last(type) : trace.First(type);
  EXPECT_TRUE(ref.has_value()) << traces::EventTypeName(type);
  return trace.At(*ref);
}

TraceData RealTrace() {
  return traces::LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
}

// A kvm_mmu_pagetable_walk of the real trace whose stack went through
// kvm_mmu_page_fault (other walks come from the instruction emulator).
std::optional<Event> WalkThroughMmuFault(const TraceData& trace) {
  for (const traces::EventRef& ref : trace.OfType(KernelEventKind::MmuWalk)) {
    const Event& e = trace.At(ref);
    const traces::Stack* stack = trace.StackOf(e);
    if (stack && Has(traces::ChainFrames(*stack, trace.symbols), "kvm_mmu_page_fault")) return e;
  }
  return std::nullopt;
}

// Draws a panel in a window of its own, as gui.cpp places it.
template <typename Draw>
void PanelFrame(HeadlessImGui& gui, Draw&& draw, HeadlessImGui::Input input = {},
                ImVec2 size = ImVec2(1000, 700)) {
  gui.Frame(
      [&] {
        ImGui::SetNextWindowPos(ImVec2(0, 0));
        ImGui::SetNextWindowSize(size);
        ImGui::Begin("panel", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize);
        draw();
        ImGui::End();
      },
      input);
}

const ChainsPanel::DrawnNode& Drawn(const ChainsPanel& panel, std::string_view id) {
  for (const ChainsPanel::DrawnNode& n : panel.DrawnNodes())
    if (n.id == id) return n;
  ADD_FAILURE() << "no node " << id << " drawn";
  static const ChainsPanel::DrawnNode kNone;
  return kNone;
}

const ChainsPanel::DrawnEdge& DrawnEdge(const ChainsPanel& panel, std::string_view from,
                                        std::string_view to) {
  for (const ChainsPanel::DrawnEdge& e : panel.DrawnEdges())
    if (e.from == from && e.to == to) return e;
  ADD_FAILURE() << "no edge " << from << " -> " << to << " drawn";
  static const ChainsPanel::DrawnEdge kNone;
  return kNone;
}

// A chains panel drawn headless in a window of its own; instant highlight
// unless a test asks for slow motion.
class ChainsPanelDraw : public ::testing::Test {
 protected:
  ChainsPanelDraw() { panel.SetAnimationSeconds(0); }
  void Frames(const TraceData& trace, int n = 1, HeadlessImGui::Input input = {},
              ImVec2 size = ImVec2(1000, 700)) {
    for (int i = 0; i < n; ++i)
      PanelFrame(
          gui, [&] { panel.Draw(trace, view); }, input, size);
  }
  // Frames until the panel shows `id` (tab switches land on the next frame).
  void Show(const TraceData& trace, ChainId id) {
    panel.SetChain(id);
    Frames(trace, 3);
    ASSERT_EQ(panel.chain(), id);
  }
  // The boxes drawn last: inside the canvas, none overlapping another.
  void ExpectGeometry() {
    const std::vector<Box> rects = panel.NodeRects();
    ASSERT_FALSE(rects.empty());
    for (size_t i = 0; i < rects.size(); ++i) {
      EXPECT_TRUE(rects[i].Inside(panel.CanvasRect())) << i;
      for (size_t j = i + 1; j < rects.size(); ++j)
        EXPECT_FALSE(rects[i].Overlaps(rects[j])) << i << "," << j;
    }
  }
  HeadlessImGui gui;
  ChainsPanel panel;
  SharedView view;
};

}  // namespace
}  // namespace kvmscope::ui

namespace kvmscope::ui {
namespace {

// --- Disasm ------------------------------------------------------------------------

TEST(DisasmX86, KnownBytes) {
  const std::vector<uint8_t> out = {0xee}, hlt = {0xf4}, cpuid = {0x0f, 0xa2};
  std::vector<Instruction> i = Disassemble(out, 0x1000, GuestMode::Bits64);
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0].Text(), "out dx, al");
  EXPECT_EQ(i[0].address, 0x1000u);
  EXPECT_EQ(i[0].BytesText(), "ee");
  i = Disassemble(hlt, 0, GuestMode::Bits16);
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0].mnemonic, "hlt");
  EXPECT_EQ(i[0].operands, "");
  i = Disassemble(cpuid, 0x8004, GuestMode::Bits64);
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0].Text(), "cpuid");
  EXPECT_EQ(FormatInstruction(i[0]).substr(0, 6), "0x8004");
  EXPECT_TRUE(Contains(FormatInstruction(i[0]), "0f a2"));
}

TEST(DisasmX86, ModeDecidesTheWidth) {
  const std::vector<uint8_t> mov = {0xb8, 0x34, 0x12, 0x00, 0x00};
  EXPECT_EQ(Disassemble(mov, 0, GuestMode::Bits16, 1).at(0).Text(), "mov ax, 0x1234");
  EXPECT_EQ(Disassemble(mov, 0, GuestMode::Bits32, 1).at(0).Text(), "mov eax, 0x1234");
  const std::vector<uint8_t> rex = {0x48, 0x89, 0xd8};
  EXPECT_EQ(Disassemble(rex, 0, GuestMode::Bits64).at(0).Text(), "mov rax, rbx");
  EXPECT_EQ(GuestModeFromName("real"), GuestMode::Bits16);
  EXPECT_EQ(GuestModeFromName("protected"), GuestMode::Bits32);
  EXPECT_EQ(GuestModeFromName("long"), GuestMode::Bits64);
  EXPECT_EQ(GuestModeFromName("user"), GuestMode::Bits64);
  EXPECT_FALSE(GuestModeFromName("vm86").has_value());
  EXPECT_EQ(GuestModeOfRegs(0x10, 0), GuestMode::Bits16);
  EXPECT_EQ(GuestModeOfRegs(0x11, 0), GuestMode::Bits32);
  EXPECT_EQ(GuestModeOfRegs(0x80000011, 0x500), GuestMode::Bits64);
  EXPECT_EQ(GuestModeOfEmulateFlags(0), GuestMode::Bits16);
  EXPECT_EQ(GuestModeOfEmulateFlags(1 | 4), GuestMode::Bits32);
  EXPECT_EQ(GuestModeOfEmulateFlags(1 | 8), GuestMode::Bits64);
}

TEST(DisasmX86, StopsAtMaxAndAtGarbage) {
  EXPECT_EQ(Disassemble(kImage, kLoad, GuestMode::Bits64).size(), 6u);
  const std::vector<Instruction> two = Disassemble(kImage, kLoad, GuestMode::Bits64, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].address, 0x8004u);
  EXPECT_TRUE(Disassemble({}, 0, GuestMode::Bits64).empty());
  const std::vector<uint8_t> truncated = {0x0f};
  EXPECT_TRUE(Disassemble(truncated, 0, GuestMode::Bits64).empty());
}

TEST(DisasmX86, InstructionAtReadsTheImage) {
  traces::GuestFacts guest;
  guest.mode = "long";
  guest.load_addr = kLoad;
  guest.image = kImage;
  auto text = [&](uint64_t rip) {
    const std::optional<Instruction> i = InstructionAt(guest, rip);
    return i ? i->Text() : "(none)";
  };
  EXPECT_EQ(text(0x8008), "out dx, al");
  EXPECT_EQ(text(0x8009), "hlt");
  EXPECT_EQ(text(0x7fff), "(none)");
  EXPECT_EQ(text(kLoad + kImage.size()), "(none)");
  // Real mode: IP is the low 16 bits, CS base 0; 66 makes a 32-bit operand.
  guest.mode = "real";
  EXPECT_EQ(text(0x18008), "out dx, al");
  EXPECT_EQ(text(0x8000), "mov edx, 0xa20f03f8");
}

TEST(DisasmX86, RecordedImageMatchesTheEmulatedBytes) {
  const TraceData trace = RealTrace();
  ASSERT_FALSE(trace.guest.image.empty());
  const Event& first = FirstOf(trace, KernelEventKind::EmulateInsn);
  ASSERT_EQ(first.a[0], trace.guest.load_addr);
  const std::optional<Instruction> from_image = InstructionAt(trace.guest, first.a[0]);
  ASSERT_TRUE(from_image);
  EXPECT_EQ(from_image->Text(), "lea rsi, [rip + 0x21b]");
  const size_t len = first.a[2] & 0xff;
  ASSERT_EQ(from_image->bytes.size(), len);
  for (size_t b = 0; b < len; ++b)
    EXPECT_EQ(from_image->bytes[b], static_cast<uint8_t>(first.a[3] >> (8 * b))) << b;
  // The whole image decodes from its start (code first, data after).
  EXPECT_GT(Disassemble(trace.guest.image, trace.guest.load_addr, GuestMode::Bits64, 20).size(),
            10u);
}

// --- Chains panel: pure parts ----------------------------------------------------------

TEST(ChainsPanelLayout, BoxesInChainOrderInsideAndApart) {
  for (ChainId id : traces::kAllChains) {
    const traces::Chain& chain = traces::GetChain(id);
    for (ImVec2 avail :
         {ImVec2(600, 500), ImVec2(300, 200), ImVec2(10, 10), ImVec2(0, 0), ImVec2(2000, 1200)}) {
      for (float font : {13.0f, 16.0f, 32.0f}) {
        const ChainLayout l = LayoutChain(chain, avail, LayoutMetrics::ForFont(font));
        ASSERT_EQ(l.nodes.size(), chain.nodes.size());
        ASSERT_EQ(l.edges.size(), chain.edges.size());
        EXPECT_GE(l.size.x, avail.x);
        EXPECT_GE(l.size.y, avail.y);
        const Box canvas{ImVec2(0, 0), l.size};
        for (size_t i = 0; i < l.nodes.size(); ++i) {
          EXPECT_TRUE(l.nodes[i].Inside(canvas)) << chain.name << " " << i;
          if (i > 0) {
            EXPECT_GT(l.nodes[i].min.y, l.nodes[i - 1].max.y);  // top to bottom
          }
          for (size_t j = i + 1; j < l.nodes.size(); ++j)
            EXPECT_FALSE(l.nodes[i].Overlaps(l.nodes[j]));
        }
        for (size_t e = 0; e < l.edges.size(); ++e) {
          ASSERT_GE(l.edges[e].size(), 2u) << chain.name << " edge " << e;
          for (ImVec2 p : l.edges[e]) {
            EXPECT_GE(p.x, 0);
            EXPECT_LE(p.x, l.size.x);
            EXPECT_LE(p.y, l.size.y);
          }
        }
      }
    }
  }
}

TEST(ChainsPanelLayout, SkippingLinksTakeSeparateLanes) {
  const traces::Chain& chain = traces::GetChain(ChainId::PageFaults);
  const ChainLayout l = LayoutChain(chain, ImVec2(600, 600));
  std::vector<std::pair<int, std::pair<size_t, size_t>>> arcs;
  auto index = [&](std::string_view id) { return size_t(chain.Node(id) - chain.nodes.data()); };
  for (size_t e = 0; e < chain.edges.size(); ++e) {
    const auto& edge = chain.edges[e];
    const size_t a = index(edge.from), b = index(edge.to);
    EXPECT_EQ(l.lanes[e] < 0, b == a + 1) << edge.from << "->" << edge.to;
    if (l.lanes[e] >= 0) arcs.push_back({l.lanes[e], {std::min(a, b), std::max(a, b)}});
  }
  for (size_t i = 0; i < arcs.size(); ++i)
    for (size_t j = i + 1; j < arcs.size(); ++j)
      if (arcs[i].first == arcs[j].first) {
        EXPECT_TRUE(arcs[i].second.second < arcs[j].second.first ||
                    arcs[j].second.second < arcs[i].second.first);
      }
}

// --- Chains panel: drawn ------------------------------------------------------------

TEST_F(ChainsPanelDraw, SyntheticSelectionLightsItsPath) {
  const TraceData trace = SyntheticTrace();
  view.selected = KeyOf(FirstOf(trace, KernelEventKind::PageFault));
  Frames(trace, 3);
  // Followed to the chain most of the stack runs through.
  EXPECT_EQ(panel.chain(), ChainId::PageFaults);
  EXPECT_EQ(panel.path_source(), ChainsPanel::PathSource::Selected);
  // The exit table (__vmx_handle_exit) is a step of the page-fault chain too.
  EXPECT_EQ(panel.HighlightedNodes(),
            (std::vector<std::string>{"vendor_exit", "exit_table", "fault_exit", "mmu_pf",
                                      "handler", "tdp_map"}));
  const auto& mmu = Drawn(panel, "mmu_pf");
  EXPECT_EQ(mmu.function, "kvm_mmu_page_fault");
  EXPECT_EQ(mmu.look, NodeLook::Lit);
  EXPECT_TRUE(mmu.highlighted);
  EXPECT_EQ(mmu.status, "observed 1");
  // EPT: the shadow-paging steps are n/a, faded, not on the path.
  EXPECT_EQ(Drawn(panel, "walk").look, NodeLook::Faded);
  EXPECT_FALSE(Drawn(panel, "walk").on_path);
  ExpectGeometry();

  Show(trace, ChainId::RunLoop);
  EXPECT_EQ(panel.HighlightedNodes(),
            (std::vector<std::string>{"vcpu_ioctl", "arch_run", "vendor_exit", "exit_table"}));
  const auto& loop = Drawn(panel, "vcpu_run");
  EXPECT_EQ(loop.look, NodeLook::Neutral);
  EXPECT_FALSE(loop.highlighted);
  EXPECT_TRUE(Contains(loop.status, "inlined into kvm_arch_vcpu_ioctl_run")) << loop.status;
  // The path's links run through the inlined steps.
  EXPECT_TRUE(DrawnEdge(panel, "arch_run", "vcpu_run").on_path);
  EXPECT_FALSE(DrawnEdge(panel, "enter_guest", "vendor_run").on_path);
  EXPECT_TRUE(Drawn(panel, "arch_run").highlighted);
  ExpectGeometry();

  // Another selection with a stack: its path; one without: the latest with one.
  view.selected = KeyOf(FirstOf(trace, KernelEventKind::Pio));
  Frames(trace);
  EXPECT_TRUE(Has(panel.PathFrames(), "handle_io"));
  view.selected = KeyOf(FirstOf(trace, KernelEventKind::UserspaceExit));
  Frames(trace);
  EXPECT_EQ(panel.path_source(), ChainsPanel::PathSource::Latest);
  EXPECT_EQ(panel.path_event(), KeyOf(FirstOf(trace, KernelEventKind::PageFault)));
}

TEST_F(ChainsPanelDraw, RecordedTraceMmuWalkHighlightsThePageFaultChain) {
  const TraceData trace = RealTrace();
  const std::optional<Event> walk = WalkThroughMmuFault(trace);
  ASSERT_TRUE(walk);
  view.selected = KeyOf(*walk);
  Frames(trace, 3);
  EXPECT_EQ(panel.chain(), ChainId::PageFaults);
  const std::vector<std::string> lit = panel.HighlightedNodes();
  for (const char* id : {"vendor_exit", "fault_exit", "mmu_pf", "do_pf", "handler", "walk"})
    EXPECT_TRUE(Has(lit, id)) << id;
  EXPECT_FALSE(Has(lit, "handle_pf"));  // present, but this stack did not go through it
  EXPECT_TRUE(Drawn(panel, "mmu_pf").highlighted);
  EXPECT_EQ(Drawn(panel, "mmu_pf").look, NodeLook::Lit);
  EXPECT_EQ(Drawn(panel, "handle_pf").look, NodeLook::Dim);
  EXPECT_EQ(Drawn(panel, "tdp_map").look, NodeLook::Faded);  // EPT/NPT only
  EXPECT_EQ(Drawn(panel, "fetch").look, NodeLook::Neutral);  // inlined into paging64_page_fault
  EXPECT_TRUE(DrawnEdge(panel, "mmu_pf", "do_pf").on_path);
  EXPECT_EQ(DrawnEdge(panel, "mmu_pf", "do_pf").status, traces::EdgeStatus::Observed);
  ExpectGeometry();

  // Run loop: vcpu_run is inlined here, so it is absent and never lit, even
  // though the path runs through its code.
  Show(trace, ChainId::RunLoop);
  EXPECT_EQ(Drawn(panel, "vcpu_run").look, NodeLook::Neutral);
  EXPECT_FALSE(Drawn(panel, "vcpu_run").highlighted);
  EXPECT_EQ(Drawn(panel, "vcpu_run").status, "inlined into kvm_arch_vcpu_ioctl_run");
  EXPECT_TRUE(Drawn(panel, "arch_run").highlighted);
  EXPECT_TRUE(Drawn(panel, "exit_table").highlighted);
  EXPECT_FALSE(Drawn(panel, "vendor_run").on_path);  // VM entry: in no exit's stack
  EXPECT_EQ(Drawn(panel, "arch_run").status, "observed 39");
  ExpectGeometry();

  // Init: the seed's claims as badges on the steps they name (claims shown).
  view.show_claims = true;
  Show(trace, ChainId::Init);
  EXPECT_EQ(Drawn(panel, "kvm_init").badge, "seed: contradicted +2");
  EXPECT_EQ(Drawn(panel, "vcpu_ioctl").badge, "seed: confirmed");
  EXPECT_EQ(Drawn(panel, "dev_ioctl").badge, "");
  EXPECT_EQ(Drawn(panel, "create_vm").look, NodeLook::Neutral);  // KVM_CREATE_VM ran: inlined
  ExpectGeometry();
}

TEST_F(ChainsPanelDraw, NoSelectionShowsTheLatestStack) {
  const TraceData trace = RealTrace();
  Frames(trace);
  EXPECT_EQ(panel.chain(), ChainId::RunLoop);  // the first chain shown
  EXPECT_EQ(panel.path_source(), ChainsPanel::PathSource::Latest);
  ASSERT_TRUE(panel.path_event());
  // The latest event with a stack, over all tracks.
  int64_t latest = 0;
  for (const traces::Track& t : trace.tracks)
    for (const Event& e : t.events)
      if (e.stack_id >= 0) latest = std::max(latest, e.time_ns);
  EXPECT_EQ(panel.path_event()->time_ns, latest);
  EXPECT_FALSE(panel.PathFrames().empty());
  EXPECT_EQ(panel.PathFrames().front(), "kvm_vcpu_ioctl");
  EXPECT_EQ(panel.CallTree().count, 42u);
  EXPECT_EQ(panel.Match(ChainId::RunLoop).Node("vcpu_run")->status, traces::NodeStatus::Absent);
}

TEST_F(ChainsPanelDraw, SlowMotionTravelsDownThePath) {
  const TraceData trace = SyntheticTrace();
  panel.SetAnimationSeconds(1.0);
  panel.SetFollowSelection(false);
  view.selected = KeyOf(FirstOf(trace, KernelEventKind::Pio));
  Frames(trace);
  ASSERT_EQ(panel.chain(), ChainId::RunLoop);
  EXPECT_TRUE(Drawn(panel, "vcpu_ioctl").highlighted);
  EXPECT_FALSE(Drawn(panel, "exit_table").highlighted);
  EXPECT_TRUE(Drawn(panel, "exit_table").on_path);
  Frames(trace, 70);  // > 1 s
  EXPECT_TRUE(Drawn(panel, "exit_table").highlighted);
  panel.Replay();
  Frames(trace);
  EXPECT_FALSE(Drawn(panel, "exit_table").highlighted);
}

TEST_F(ChainsPanelDraw, EmptyTraceAndHoverDoNotCrash) {
  const TraceData empty;
  Frames(empty);
  EXPECT_EQ(panel.path_source(), ChainsPanel::PathSource::None);
  EXPECT_TRUE(panel.HighlightedNodes().empty());
  EXPECT_FALSE(panel.DrawnNodes().empty());              // the chain from the tables alone
  view.selected = EventKey{1, 2, KernelEventKind::Pio};  // nothing of the kind
  for (ChainId id : traces::kAllChains) {
    panel.SetChain(id);
    Frames(empty, 2);
  }
  // Hover every box and badge of the real trace's chains (tooltips), and a
  // window too small for the diagram.
  const TraceData trace = RealTrace();
  for (ChainId id : traces::kAllChains) {
    panel.SetChain(id);
    Frames(trace, 2);
    const std::vector<ChainsPanel::DrawnNode> nodes = panel.DrawnNodes();
    for (const ChainsPanel::DrawnNode& n : nodes) {
      Frames(trace, 1, {ImVec2(n.box.min.x + 4, n.box.max.y - 4)});  // the box
      Frames(trace, 1, {ImVec2(n.box.max.x - 6, n.box.min.y + 6)});  // its badge
    }
  }
  Frames(trace, 1, {}, ImVec2(120, 80));
}

// --- Inspector -----------------------------------------------------------------------

std::string FieldText(const InspectorContents& c, std::string_view name) {
  for (const traces::Field& f : c.fields)
    if (f.name == name) return f.text;
  return "(no field " + std::string(name) + ")";
}

std::string RegText(const InspectorContents& c, std::string_view name) {
  for (const auto& [reg, value] : c.registers)
    if (reg == name) return value;
  return "(no register " + std::string(name) + ")";
}

TEST(InspectorContentsOf, VmmIoExitWithRegisters) {
  const TraceData trace = SyntheticTrace();
  const InspectorContents c = Contents(trace, KeyOf(FirstOf(trace, VmmEventKind::RunExit)));
  ASSERT_TRUE(c.found);
  EXPECT_TRUE(Contains(c.title, "VMM KVM_RUN exit")) << c.title;
  EXPECT_EQ(FieldText(c, "reason"), "KVM_EXIT_IO");
  EXPECT_EQ(FieldText(c, "port"), "0x3f8 (COM1)");  // named as the terminal names it
  EXPECT_EQ(c.teaching, traces::ExplainExitReason(traces::kKvmExitIo));
  EXPECT_EQ(c.teaching_kind, traces::ExplainKind(VmmEventKind::RunExit));
  // The exit stands for its whole KVM_RUN: the kernel's events inside it, and
  // the stack of its most telling one (the exit itself has none).
  EXPECT_TRUE(Contains(c.run_note, "inside this KVM_RUN")) << c.run_note;
  ASSERT_FALSE(c.run_events.empty());
  bool pio = false;
  for (const std::string& line : c.run_events) pio = pio || Contains(line, "kvm_pio out");
  EXPECT_TRUE(pio);
  EXPECT_EQ(c.stack, (std::vector<std::string>{"kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
                                               "vmx_handle_exit", "__vmx_handle_exit", "handle_io",
                                               "kvm_fast_pio"}));
  EXPECT_TRUE(Contains(c.stack_note, "the stack of kvm_pio inside this KVM_RUN")) << c.stack_note;
  EXPECT_EQ(RegText(c, "rip"), "0x0000000000008008");
  EXPECT_EQ(RegText(c, "rdx"), "0x00000000000003f8");
  EXPECT_EQ(c.registers.size(), traces::kGuestRegs);
  EXPECT_TRUE(Contains(c.registers_note, "at this exit (run 0)")) << c.registers_note;
  ASSERT_EQ(c.disassembly.size(), 1u);
  EXPECT_TRUE(Contains(c.disassembly[0], "out dx, al")) << c.disassembly[0];
  EXPECT_TRUE(Contains(c.disassembly_note, "still points at it")) << c.disassembly_note;
}

TEST(InspectorContentsOf, HltExitFindsTheInstructionBeforeRip) {
  const TraceData trace = SyntheticTrace();
  const InspectorContents c = Contents(trace, KeyOf(FirstOf(trace, VmmEventKind::RunExit, true)));
  EXPECT_EQ(FieldText(c, "reason"), "KVM_EXIT_HLT");
  EXPECT_TRUE(Contains(c.teaching, "HLT"));
  ASSERT_EQ(c.disassembly.size(), 2u);
  EXPECT_TRUE(Contains(c.disassembly[0], "0x8009")) << c.disassembly[0];
  EXPECT_TRUE(Contains(c.disassembly[0], "hlt"));
  EXPECT_TRUE(Contains(c.disassembly[1], "jmp"));
  EXPECT_TRUE(Contains(c.disassembly_note, "points past it")) << c.disassembly_note;
}

TEST(InspectorContentsOf, KernelEventsStacksAndEmulatedBytes) {
  const TraceData trace = SyntheticTrace();
  InspectorContents c = Contents(trace, KeyOf(FirstOf(trace, KernelEventKind::Pio)));
  EXPECT_EQ(c.stack, (std::vector<std::string>{"kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
                                               "vmx_handle_exit", "__vmx_handle_exit", "handle_io",
                                               "kvm_fast_pio"}));
  EXPECT_TRUE(Contains(c.stack_note, "stack 0")) << c.stack_note;
  EXPECT_EQ(c.teaching, traces::ExplainKind(KernelEventKind::Pio));
  EXPECT_EQ(c.teaching_kind, "");
  EXPECT_EQ(FieldText(c, "port"), "0x3f8 (COM1)");
  EXPECT_TRUE(c.run_events.empty());  // a kernel event is not a whole run
  // Inside run 0: the registers read when it exited.
  EXPECT_EQ(RegText(c, "rip"), "0x0000000000008008");
  EXPECT_TRUE(Contains(c.registers_note, "run 0")) << c.registers_note;
  EXPECT_TRUE(c.disassembly.empty());
  EXPECT_FALSE(c.disassembly_note.empty());

  c = Contents(trace, KeyOf(FirstOf(trace, KernelEventKind::EmulateInsn)));
  ASSERT_EQ(c.disassembly.size(), 1u);
  EXPECT_TRUE(Contains(c.disassembly[0], "cpuid")) << c.disassembly[0];
  EXPECT_TRUE(Contains(c.disassembly_note, "tracepoint")) << c.disassembly_note;
  EXPECT_TRUE(Contains(c.stack_note, "no stack captured (stacks are taken for new call paths"));
  EXPECT_TRUE(Contains(c.registers_note, "run 1")) << c.registers_note;

  c = Contents(trace, KeyOf(FirstOf(trace, KernelEventKind::PageFault)));
  ASSERT_EQ(c.disassembly.size(), 1u);
  EXPECT_TRUE(Contains(c.disassembly[0], "cpuid"));  // the guest_rip the tracepoint gave
  EXPECT_TRUE(Has(c.stack, "kvm_mmu_page_fault"));
}

TEST(InspectorContentsOf, MissingRegistersAndEventsAreSaid) {
  const TraceData trace = SyntheticTrace(false);
  InspectorContents c = Contents(trace, KeyOf(FirstOf(trace, VmmEventKind::RunExit)));
  EXPECT_TRUE(c.registers.empty());
  EXPECT_EQ(c.registers_note, "registers not captured (run with --regs)");
  EXPECT_TRUE(c.disassembly.empty());
  c = Contents(trace, KeyOf(FirstOf(trace, VmmEventKind::RunEnter)));
  EXPECT_EQ(c.registers_note, "no guest registers go with this event");
  c = Contents(trace, EventKey{kTid, 999999, KernelEventKind::Pio});
  EXPECT_FALSE(c.found);
  EXPECT_TRUE(c.fields.empty());
  c = Contents(TraceData{}, EventKey{});
  EXPECT_FALSE(c.found);
}

TEST(InspectorContentsOf, RecordedTrace) {
  const TraceData trace = RealTrace();
  const std::optional<Event> walk = WalkThroughMmuFault(trace);
  ASSERT_TRUE(walk);
  InspectorContents c = Contents(trace, KeyOf(*walk));
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.teaching,
            "KVM walked the guest's page tables in software (shadow paging) to translate an "
            "address.");
  EXPECT_FALSE(FieldText(c, "addr").starts_with("(no field"));
  EXPECT_EQ(c.stack.front(), "kvm_vcpu_ioctl");
  EXPECT_TRUE(Has(c.stack, "kvm_mmu_page_fault"));
  EXPECT_TRUE(Has(c.stack, "pvm_handle_exit"));
  // Recorded with --regs: a kernel event inside a run shows the registers
  // read when that run ended.
  EXPECT_FALSE(c.registers.empty()) << c.registers_note;

  c = Contents(trace, KeyOf(FirstOf(trace, KernelEventKind::EmulateInsn)));
  ASSERT_EQ(c.disassembly.size(), 1u);
  EXPECT_TRUE(Contains(c.disassembly[0], "lea rsi, [rip + 0x21b]")) << c.disassembly[0];
  EXPECT_TRUE(Contains(c.disassembly[0], "48 8d 35 1b 02 00 00")) << c.disassembly[0];
  // The source line of that instruction, from the build's line table.
  EXPECT_TRUE(Contains(c.source_note, "pagefault.S line")) << c.source_note;
  auto here = std::find_if(c.source.begin(), c.source.end(),
                           [](const std::string& l) { return l.rfind("→", 0) == 0; });
  ASSERT_NE(here, c.source.end());
  EXPECT_TRUE(Contains(*here, "PUTS")) << *here;  // the macro whose expansion is that lea

  c = Contents(trace, KeyOf(FirstOf(trace, VmmEventKind::RunExit)));
  EXPECT_FALSE(c.registers.empty()) << c.registers_note;
  EXPECT_EQ(FieldText(c, "reason"), "KVM_EXIT_IO");
  ASSERT_FALSE(c.disassembly.empty()) << c.disassembly_note;
  EXPECT_TRUE(Contains(c.disassembly[0], "out")) << c.disassembly[0];
  here = std::find_if(c.source.begin(), c.source.end(),
                      [](const std::string& l) { return l.rfind("→", 0) == 0; });
  ASSERT_NE(here, c.source.end()) << c.source_note;
  EXPECT_TRUE(Contains(*here, "out")) << *here;
}

TEST(InspectorPanelDraw, DrawsSelectionAndNothing) {
  const TraceData trace = SyntheticTrace();
  HeadlessImGui gui;
  InspectorPanel panel;
  SharedView view;
  auto frame = [&](const TraceData& t) {
    PanelFrame(
        gui, [&] { panel.Draw(t, view); }, {}, ImVec2(420, 600));
  };
  frame(trace);
  EXPECT_FALSE(panel.contents().found);
  for (const traces::Track& t : trace.tracks) {
    for (const Event& e : t.events) {
      view.selected = KeyOf(e);
      frame(trace);
      EXPECT_TRUE(panel.contents().found) << traces::EventTypeName(e.type);
      EXPECT_FALSE(panel.contents().teaching.empty());
    }
  }
  view.selected = KeyOf(FirstOf(trace, VmmEventKind::RunExit));
  frame(trace);
  EXPECT_TRUE(Contains(panel.contents().disassembly.at(0), "out dx, al"));
  const TraceData empty;
  frame(empty);
  EXPECT_FALSE(panel.contents().found);
  const TraceData real = RealTrace();
  view.selected = KeyOf(*WalkThroughMmuFault(real));
  frame(real);
  EXPECT_TRUE(Has(panel.contents().stack, "kvm_mmu_page_fault"));
}

TEST(InspectorPanelDraw, ANewSelectionStartsAtTheTopAndAnotherTraceShowsNothingSelected) {
  const TraceData trace = RealTrace();
  HeadlessImGui gui;
  InspectorPanel panel;
  SharedView view;
  float scroll = -1;
  auto frame = [&](const TraceData& t, std::optional<float> scroll_to = std::nullopt) {
    PanelFrame(
        gui,
        [&] {
          scroll = ImGui::GetScrollY();  // as this frame begins
          panel.Draw(t, view);
          if (scroll_to) ImGui::SetScrollY(*scroll_to);
        },
        {}, ImVec2(420, 200));  // short: the contents scroll
  };
  view.selected = KeyOf(FirstOf(trace, VmmEventKind::RunExit));
  frame(trace);
  frame(trace, 400.0f);  // the student scrolls down to the stack
  frame(trace);
  frame(trace);
  ASSERT_GT(scroll, 0.0f);
  // The same selection keeps its place; a new one starts at the top.
  view.selected = KeyOf(*WalkThroughMmuFault(trace));
  frame(trace);
  frame(trace);
  EXPECT_EQ(scroll, 0.0f);

  // Another trace opened (the window bumps the generation): the old
  // selection is not in it, which shows as nothing selected.
  const TraceData other = SyntheticTrace();
  ++view.trace_generation;
  frame(other);
  EXPECT_FALSE(panel.contents().found);
  EXPECT_TRUE(panel.contents().title.empty() ||
              !Contains(panel.contents().title, "not in this trace"));
}

}  // namespace
}  // namespace kvmscope::ui

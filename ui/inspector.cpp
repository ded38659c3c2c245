// The inspector's contents (fields, teaching text, stack, registers, the
// guest instruction behind an exit) computed from the trace, and the ImGui
// panel that lays them out: tables for fields and registers, the stack as a
// chain of function names, the instruction as Capstone prints it.
#include "ui/inspector.h"

#include <fmt/format.h>
#include <imgui.h>

#include <algorithm>

#include "traces/explain.h"
#include "traces/fault_context.h"
#include "traces/stats.h"
#include "traces/story.h"
#include "ui/disasm.h"
#include "ui/theme.h"

namespace kvmscope::ui {
namespace {

using traces::KernelEventKind;
using traces::VmmEventKind;

constexpr size_t kMaxInstruction = 15;

size_t RegIndex(std::string_view name) {
  const auto& names = traces::GuestRegNames();
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

uint64_t Reg(const traces::GuestRegs& regs, std::string_view name) {
  const size_t i = RegIndex(name);
  return i < regs.values.size() ? regs.values[i] : 0;
}

// The registers that go with an event, and which exit they were read at.
struct RegsFound {
  const traces::GuestRegs* regs = nullptr;
  std::optional<uint64_t> run;  // the KVM_RUN whose exit they belong to
  bool at_this_exit = false;    // the event is that exit itself
};

RegsFound RegsFor(const traces::TraceData& trace, traces::EventRef ref) {
  RegsFound found;
  const traces::Event& e = trace.At(ref);
  const traces::Track& track = trace.tracks[ref.track];
  if (e.type == VmmEventKind::RunExit) {
    found.run = e.a[2];
    found.at_this_exit = true;
  } else if (track.kind == traces::TrackKind::Vcpu && e.type.origin == traces::Origin::Kernel) {
    // A kernel event inside a KVM_RUN: the registers read when that run exited.
    for (const traces::Span& s :
         trace.SpansIn(ref.track, traces::SpanKind::Run, e.time_ns, e.time_ns)) {
      if (s.end == traces::kNoEvent || s.begin_ns > e.time_ns || s.end_ns < e.time_ns) continue;
      const traces::Event& exit = track.events[s.end];
      if (exit.type == VmmEventKind::RunExit) found.run = exit.a[2];
    }
  }
  if (found.run) found.regs = trace.RegsOf(track.vcpu >= 0 ? track.vcpu : e.vcpu, *found.run);
  return found;
}

bool IsPortInstruction(const Instruction& insn) {
  std::string_view m = insn.mnemonic;
  if (m.starts_with("rep ")) m.remove_prefix(4);
  return m == "in" || m == "out" || m.starts_with("ins") || m.starts_with("outs");
}

bool TouchesMemory(const Instruction& insn) {
  return insn.operands.find('[') != std::string::npos;
}

// What an exit reason says the guest's instruction was, if it says anything.
using Expectation = bool (*)(const Instruction&);
Expectation ExpectedFor(uint32_t kvm_exit_reason) {
  switch (kvm_exit_reason) {
    case traces::kKvmExitIo: return IsPortInstruction;
    case traces::kKvmExitHlt: return [](const Instruction& i) { return i.mnemonic == "hlt"; };
    case traces::kKvmExitMmio: return TouchesMemory;
    default: return nullptr;
  }
}

// The instruction behind a VMM exit at `rip`. KVM may have completed the
// instruction before returning (HLT, an emulated OUT or MMIO write), leaving
// RIP past it, or not (a fast OUT, an MMIO read), leaving RIP on it. Which one
// is told by decoding: the instruction at RIP if it is of the exit's kind,
// else the one that ends exactly at RIP if that is.
void ExitInstruction(const traces::GuestFacts& guest, uint64_t rip, GuestMode mode, uint32_t reason,
                     InspectorContents& c) {
  const std::optional<Instruction> at = InstructionAt(guest, rip, mode);
  const Expectation expected = ExpectedFor(reason);
  if (expected != nullptr && !(at && expected(*at))) {
    for (uint64_t back = 1; back <= kMaxInstruction && back <= rip; ++back) {
      const std::optional<Instruction> before = InstructionAt(guest, rip - back, mode);
      if (before && before->bytes.size() == back && expected(*before)) {
        c.cause_address = before->address;
        c.disassembly.push_back(FormatInstruction(*before));
        if (at) c.disassembly.push_back(FormatInstruction(*at));
        c.disassembly_note = fmt::format(
            "the instruction just before RIP {:#x} ({}): KVM completed it before returning, so "
            "RIP already points past it; the next line is where the guest resumes",
            rip, GuestModeName(mode));
        return;
      }
    }
  }
  if (!at) {
    c.disassembly_note = fmt::format(
        "RIP {:#x} is outside the guest image ({:#x}..{:#x}) or decodes to no instruction", rip,
        guest.load_addr, guest.load_addr + guest.image.size());
    return;
  }
  c.cause_address = at->address;
  c.disassembly.push_back(FormatInstruction(*at));
  c.disassembly_note =
      expected != nullptr
          ? fmt::format(
                "the instruction at RIP {:#x} ({}): KVM has not completed it yet, so RIP "
                "still points at it",
                rip, GuestModeName(mode))
          : fmt::format("the instruction at RIP {:#x} ({}), read from the guest image", rip,
                        GuestModeName(mode));
}

void FillDisassembly(const traces::TraceData& trace, const traces::Event& e, const RegsFound& regs,
                     InspectorContents& c) {
  const traces::GuestFacts& guest = trace.guest;
  GuestMode mode = GuestModeFromName(guest.mode).value_or(GuestMode::Bits64);
  if (regs.regs != nullptr) mode = GuestModeOfRegs(Reg(*regs.regs, "cr0"), Reg(*regs.regs, "efer"));
  auto from_image = [&](uint64_t rip, std::string_view what) {
    if (const std::optional<Instruction> at = InstructionAt(guest, rip, mode)) {
      c.cause_address = at->address;
      c.disassembly.push_back(FormatInstruction(*at));
      c.disassembly_note =
          fmt::format("{} ({}), read from the guest image", what, GuestModeName(mode));
    } else {
      c.disassembly_note =
          fmt::format("{}: RIP {:#x} is outside the guest image ({:#x}..{:#x})", what, rip,
                      guest.load_addr, guest.load_addr + guest.image.size());
    }
  };
  if (e.type == KernelEventKind::EmulateInsn) {
    // The tracepoint carries the bytes KVM fetched and the mode it decoded in.
    const size_t len = std::min<size_t>(e.a[2] & 0xff, kMaxInstruction);
    const GuestMode emulated = GuestModeOfEmulateFlags((e.a[2] >> 8) & 0xff);
    std::vector<uint8_t> bytes;  // a3 holds bytes 0-7, a4 bytes 8-15, little endian
    for (size_t i = 0; i < len; ++i)
      bytes.push_back(static_cast<uint8_t>(e.a[i < 8 ? 3 : 4] >> (8 * (i % 8))));
    const std::vector<Instruction> insn = Disassemble(bytes, e.a[0], emulated, 1);
    if (!insn.empty()) {
      c.cause_address = insn.front().address;
      c.disassembly.push_back(FormatInstruction(insn.front()));
      c.disassembly_note = fmt::format(
          "the instruction KVM emulated, from the bytes the tracepoint recorded ({}, CS base "
          "{:#x})",
          GuestModeName(emulated), e.a[1]);
    } else {
      mode = emulated;
      from_image(e.a[0], "the instruction KVM emulated (no bytes recorded)");
    }
    return;
  }
  if (e.type == KernelEventKind::KvmExit) return from_image(e.a[1], "the instruction at the exit");
  if (e.type == KernelEventKind::PageFault) return from_image(e.a[1], "the faulting instruction");
  if (e.type == KernelEventKind::KvmEntry) return from_image(e.a[1], "where the guest resumes");
  if (e.type == VmmEventKind::RunExit) {
    if (regs.regs == nullptr) {
      c.disassembly_note = "no RIP without registers (run with --regs)";
      return;
    }
    if (guest.image.empty()) {
      c.disassembly_note = "the trace holds no guest image to read the instruction from";
      return;
    }
    // KVM_RUN failed (EINTR after a kick): kvm_run's exit reason is stale.
    const uint32_t reason = e.a[1] != 0 ? UINT32_MAX : static_cast<uint32_t>(e.a[0]);
    ExitInstruction(guest, Reg(*regs.regs, "rip"), mode, reason, c);
    return;
  }
  c.disassembly_note = "this event names no guest instruction";
}

// The source lines around the instruction that caused the event.
void FillSource(const traces::GuestFacts& guest, InspectorContents& c) {
  constexpr uint32_t kContext = 2;  // lines shown above and below
  if (!c.cause_address) return;
  if (guest.source.empty() || guest.lines.empty()) {
    c.source_note = "no source: the guest was run from a binary, not from the catalog";
    return;
  }
  uint32_t line = guest.LineOf(*c.cause_address);
  if (line == 0) {
    c.source_note = fmt::format("address {:#x} has no line in {}.S", *c.cause_address, guest.name);
    return;
  }
  std::vector<std::string_view> text;
  for (size_t start = 0; start <= guest.source.size();) {
    size_t end = guest.source.find('\n', start);
    if (end == std::string::npos) end = guest.source.size();
    text.emplace_back(guest.source.data() + start, end - start);
    start = end + 1;
  }
  uint32_t first = line > kContext ? line - kContext : 1;
  uint32_t last = std::min<uint32_t>(line + kContext, static_cast<uint32_t>(text.size()));
  for (uint32_t n = first; n <= last; ++n) {
    c.source.push_back(fmt::format("{} {:>4}  {}", n == line ? "→" : " ", n, text[n - 1]));
  }
  c.source_note = fmt::format("{}.S line {}", guest.name, line);
}

// Kernel kinds that fire once per emulated instruction or page-table level:
// listed as a count, not one line each.
bool IsBulk(traces::EventType t) {
  return t == KernelEventKind::EmulateInsn || t == KernelEventKind::MmuWalk ||
         t == KernelEventKind::MmuSetSpte;
}

// Kinds whose stack tells the run's story best, most telling first.
int StackRank(traces::EventType t) {
  if (t == KernelEventKind::InjException) return 0;
  if (t == KernelEventKind::MmuWalkerError || t == KernelEventKind::MmuPageFault ||
      t == KernelEventKind::PageFault) {
    return 1;
  }
  if (t == KernelEventKind::Pio || t == KernelEventKind::Mmio || t == KernelEventKind::Cpuid) return 2;
  if (t == KernelEventKind::UserspaceExit) return 3;
  if (t.origin == traces::Origin::Kernel && !IsBulk(t)) return 4;
  return 5;
}

// A VMM exit shown as its whole KVM_RUN: the kernel's events inside it and,
// when the exit itself has no stack, the stack of its most telling event.
void FillRun(const traces::TraceData& trace, traces::EventRef exit, InspectorContents& c) {
  constexpr size_t kMaxLines = 200;
  const traces::EventRange run = traces::EventsOfRun(trace, exit);
  if (run.empty()) {
    c.run_note = "the KVM_RUN that ended here began before the trace";
    return;
  }
  size_t kernel = 0;
  std::optional<traces::Event> best;
  for (size_t i = 0; i < run.size(); ++i) {
    const traces::Event e = run[i];
    if (e.type.origin != traces::Origin::Kernel) continue;
    ++kernel;
    if (e.stack_id >= 0 && (!best || StackRank(e.type) <= StackRank(best->type))) best = e;
    if (c.run_events.size() >= kMaxLines) continue;
    if (IsBulk(e.type)) {
      size_t n = 1;
      while (i + n < run.size() && run.type(i + n) == e.type) ++n;
      if (n > 1) {
        c.run_events.push_back(fmt::format("{} x {}", n, traces::EventTypeName(e.type)));
        kernel += n - 1;
        i += n - 1;
        continue;
      }
    }
    // Page faults by their exit.
    const traces::EventRef ref{exit.track, static_cast<uint32_t>(run.first_index() + i)};
    c.run_events.push_back(traces::DescribeEventAt(trace, ref));
  }
  const int64_t ns = run.time_ns(run.size() - 1) - run.time_ns(0);
  c.run_note = kernel == 0 ? fmt::format("no kernel events recorded inside this KVM_RUN ({}){}",
                                         traces::FormatStatsDuration(ns),
                                         trace.kernel_counts ? "" : ": the kernel was not traced")
                           : fmt::format("{} kernel event{} inside this KVM_RUN ({}), in order",
                                         traces::FormatCount(kernel), kernel == 1 ? "" : "s",
                                         traces::FormatStatsDuration(ns));
  if (c.run_events.size() >= kMaxLines) c.run_note += fmt::format(" (the first {} lines)", kMaxLines);
  if (c.stack.empty() && best) {
    if (const traces::Stack* stack = trace.StackOf(*best)) {
      c.stack = traces::ChainFrames(*stack, trace.symbols);
      c.stack_note = fmt::format("the stack of {} inside this KVM_RUN ({} frames, outermost first)",
                                 traces::EventTypeName(best->type), c.stack.size());
    }
  }
}

}  // namespace

InspectorContents Contents(const traces::TraceData& trace, const EventKey& key) {
  InspectorContents c;
  const std::optional<traces::EventRef> ref = Find(trace, key);
  if (!ref) return c;  // not in this trace: shown as nothing selected
  c.found = true;
  const traces::Event& e = trace.At(*ref);
  const traces::Track& track = trace.tracks[ref->track];
  c.title = fmt::format("{} · {} · {:.6f} s", traces::EventTypeName(e.type), track.Name(),
                        static_cast<double>(e.time_ns - trace.BeginNs()) / 1e9);
  c.summary = traces::DescribeEventAt(trace, *ref);
  c.fields = traces::EventFieldsAt(trace, *ref);
  c.teaching = traces::ExplainEvent(e);
  const std::string_view kind = e.type.origin == traces::Origin::Kernel
                                    ? traces::ExplainKind(e.type.kernel())
                                    : traces::ExplainKind(e.type.vmm());
  if (kind != c.teaching) c.teaching_kind = kind;

  if (const traces::Stack* stack = trace.StackOf(e)) {
    c.stack = traces::ChainFrames(*stack, trace.symbols);
    c.stack_note = fmt::format("stack {}: {} frames as captured, {} shown (outermost first)",
                               e.stack_id, stack->size(), c.stack.size());
  } else if (e.type.origin == traces::Origin::Vmm) {
    c.stack_note = "a VMM event: no kernel stack (select a kernel event of this run)";
  } else if (trace.host.stack_mode == "none") {
    c.stack_note = "no stack captured (this trace was recorded without stacks)";
  } else {
    c.stack_note = "no stack captured (stacks are taken for new call paths plus a sample)";
  }

  const RegsFound regs = RegsFor(trace, *ref);
  if (regs.regs != nullptr) {
    const auto& names = traces::GuestRegNames();
    for (size_t i = 0; i < names.size(); ++i)
      c.registers.emplace_back(names[i], fmt::format("{:#018x}", regs.regs->values[i]));
    c.registers_note =
        regs.at_this_exit
            ? fmt::format("read by the VMM at this exit (run {})", *regs.run)
            : fmt::format("read by the VMM when this KVM_RUN (run {}) exited, after this event",
                          *regs.run);
  } else if (regs.run) {
    c.registers_note = "registers not captured (run with --regs)";
  } else {
    c.registers_note = "no guest registers go with this event";
  }
  FillDisassembly(trace, e, regs, c);
  FillSource(trace.guest, c);
  if (e.type == VmmEventKind::RunExit) FillRun(trace, *ref, c);
  return c;
}

void InspectorPanel::Draw(const traces::TraceData& trace, const SharedView& view) {
  if (view.trace_generation != m_generation) {
    // Another trace: nothing computed for the old one is of use.
    m_generation = view.trace_generation;
    m_valid = false;
    m_contents = {};
  }
  if (view.selected != m_scrolled_for) {
    ImGui::SetScrollY(0);  // a new selection starts at the top
    m_scrolled_for = view.selected;
  }
  if (!view.selected) {
    m_valid = false;
    m_contents = {};
    ImGui::TextDisabled("Select an event in the timeline to see what it means.");
    return;
  }
  const CacheKey key{view.selected,       &trace,
                     trace.stacks.size(), trace.symbols.size(),
                     trace.regs.size(),   trace.guest.image.size()};
  // An event not found yet may arrive with the next snapshot: look again.
  if (!m_valid || !(key == m_key) || !m_contents.found) {
    m_contents = Contents(trace, *view.selected);
    m_key = key;
    m_valid = true;
  }
  const InspectorContents& c = m_contents;
  if (!c.found) {
    // Not in this trace (another was opened): as if nothing were selected.
    ImGui::TextDisabled("Select an event in the timeline to see what it means.");
    return;
  }
  ImGui::TextWrapped("%s", c.title.c_str());
  ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(Status::Highlight));
  ImGui::TextWrapped("%s", c.teaching.c_str());
  ImGui::PopStyleColor();
  if (!c.teaching_kind.empty()) {
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("%s", c.teaching_kind.c_str());
    ImGui::PopTextWrapPos();
  }

  constexpr ImGuiTableFlags kTable =
      ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingStretchProp;
  if (ImGui::CollapsingHeader("Fields", ImGuiTreeNodeFlags_DefaultOpen) &&
      ImGui::BeginTable("##fields", 3, kTable)) {
    ImGui::TableSetupColumn("field", ImGuiTableColumnFlags_WidthFixed);
    ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableSetupColumn("raw", ImGuiTableColumnFlags_WidthFixed);
    for (const traces::Field& f : c.fields) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextDisabled("%.*s", static_cast<int>(f.name.size()), f.name.data());
      ImGui::TableNextColumn();
      ImGui::TextWrapped("%s", f.text.c_str());
      ImGui::TableNextColumn();
      ImGui::TextDisabled("%s", fmt::format("{:#x}", f.value).c_str());
    }
    ImGui::EndTable();
  }

  if (!c.run_note.empty() &&
      ImGui::CollapsingHeader("Inside this KVM_RUN", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("%s", c.run_note.c_str());
    ImGui::PopTextWrapPos();
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(c.run_events.size()));
    while (clipper.Step()) {
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
        ImGui::TextUnformatted(c.run_events[static_cast<size_t>(i)].c_str());
      }
    }
  }

  if (ImGui::CollapsingHeader("Kernel stack", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::TextDisabled("%s", c.stack_note.c_str());
    for (size_t i = 0; i < c.stack.size(); ++i) {
      ImGui::Indent(std::min<float>(static_cast<float>(i), 8) * ImGui::GetFontSize() * 0.5f);
      ImGui::Text("%s%s", i == 0 ? "" : "-> ", c.stack[i].c_str());
      ImGui::Unindent(std::min<float>(static_cast<float>(i), 8) * ImGui::GetFontSize() * 0.5f);
    }
  }

  if (ImGui::CollapsingHeader("Guest registers", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::TextDisabled("%s", c.registers_note.c_str());
    if (!c.registers.empty() && ImGui::BeginTable("##regs", 4, kTable)) {
      for (size_t i = 0; i < c.registers.size(); ++i) {
        if (i % 2 == 0) ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextDisabled("%s", c.registers[i].first.c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(c.registers[i].second.c_str());
      }
      ImGui::EndTable();
    }
  }

  if (ImGui::CollapsingHeader("Guest instruction", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("%s", c.disassembly_note.c_str());
    ImGui::PopTextWrapPos();
    for (size_t i = 0; i < c.disassembly.size(); ++i) {
      if (i == 0) ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(Status::Observed));
      ImGui::TextUnformatted(c.disassembly[i].c_str());
      if (i == 0) ImGui::PopStyleColor();
    }
  }

  if (!c.source_note.empty() && ImGui::CollapsingHeader("Guest source", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::TextDisabled("%s", c.source_note.c_str());
    for (const std::string& line : c.source) {
      bool here = line.rfind("→", 0) == 0;
      if (here) ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(Status::Observed));
      ImGui::TextUnformatted(line.c_str());
      if (here) ImGui::PopStyleColor();
    }
  }
}

}  // namespace kvmscope::ui

// The inspector: everything the trace knows about the selected event — its
// decoded fields, what it means (for a student), the kernel stack it was
// captured with, the guest's registers at that exit and the guest instruction
// behind it, disassembled. Contents() computes what is shown, without ImGui,
// so tests and other front ends read the same strings.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "traces/trace.h"
#include "ui/view.h"

namespace kvmscope::ui {

struct InspectorContents {
  bool found = false;                 // the key names an event of this trace (else all empty)
  std::string title;                  // "kvm_pio · vCPU 0 (tid 12) · 0.004512 s"
  std::string summary;                // DescribeEvent
  std::vector<traces::Field> fields;  // EventFields
  std::string teaching;               // ExplainEvent: the most specific text
  std::string teaching_kind;          // the kind's text when it adds to `teaching`, else ""
  std::vector<std::string> stack;     // ChainFrames, outermost first; empty when none
  std::string stack_note;             // how many frames, or why there is no stack
  std::vector<std::pair<std::string, std::string>> registers;  // ("rip", "0x0000000000008010")
  std::string registers_note;            // which exit they belong to, or why there are none
  std::vector<std::string> disassembly;  // FormatInstruction lines; the cause first
  std::string disassembly_note;          // where the bytes came from, or why there are none
  std::optional<uint64_t> cause_address;  // address of the first disassembly line
  // The guest's source around that instruction's line ("→  17  out %al, %dx"),
  // from the line table the build made (catalog guests only).
  std::vector<std::string> source;
  std::string source_note;
  // For a VMM KVM_RUN exit, the run as a whole: what the kernel did inside
  // it, in order ("kvm_pio out port=0x3f8 size=1 val=0x48 (COM1 'H')"; runs
  // of one bulk kind folded into "37 x kvm_emulate_insn"); empty otherwise.
  std::vector<std::string> run_events;
  std::string run_note;  // "12 kernel events in this KVM_RUN (31.2 µs)", or why none
};

// What the inspector shows for the event `key` names in `trace`.
InspectorContents Contents(const traces::TraceData& trace, const EventKey& key);

class InspectorPanel {
 public:
  // Draws into the current window (the caller owns Begin/End). A new
  // selection scrolls the window back to the top; a selection that is not
  // in this trace (another trace was opened) shows as nothing selected.
  void Draw(const traces::TraceData& trace, const SharedView& view);
  // What the last Draw showed (empty when nothing was selected).
  const InspectorContents& contents() const { return m_contents; }

 private:
  // Contents are recomputed when the selection or what they depend on changes.
  struct CacheKey {
    std::optional<EventKey> selected;
    const traces::TraceData* trace = nullptr;
    size_t stacks = 0, symbols = 0, regs = 0, image = 0;
    bool operator==(const CacheKey&) const = default;
  };
  CacheKey m_key;
  bool m_valid = false;
  std::optional<EventKey> m_scrolled_for;  // the selection the scroll was reset for
  uint64_t m_generation = 0;
  InspectorContents m_contents;
};

}  // namespace kvmscope::ui

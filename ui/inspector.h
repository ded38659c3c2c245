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
  bool found = false;                 // the key names an event of this trace
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
};

// What the inspector shows for the event `key` names in `trace`.
InspectorContents Contents(const traces::TraceData& trace, const EventKey& key);

class InspectorPanel {
 public:
  // Draws into the current window (the caller owns Begin/End).
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
  InspectorContents m_contents;
};

}  // namespace kvmscope::ui

// The console panel: the guest's serial output (TraceData::console) in a
// monospace font, control and non-ASCII bytes shown escaped, following the
// end while text arrives unless the user scrolled up. Rows are found by an
// index that grows with the console instead of splitting the text per frame.
#pragma once

#include <imgui.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::ui {

// One display row of the console: bytes [begin, end) of the text, without
// the line's terminating "\n" (or "\r\n").
struct ConsoleRow {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool operator==(const ConsoleRow&) const = default;
};
// Rows longer than this are continued on the next row, so that a guest that
// never prints a newline still gives rows ImGui can lay out cheaply.
inline constexpr uint32_t kMaxConsoleRowBytes = 1024;

// Splits console text into rows: a row ends at '\n' (a '\r' just before it
// is dropped) or after kMaxConsoleRowBytes bytes. "a\nb" and "a\nb\n" are
// both two rows ("a", "b"); "" is none; "\n" is one empty row.
std::vector<ConsoleRow> SplitConsoleRows(std::string_view text);

// Calls `segment(text, escaped)` for the pieces of one row as displayed:
// printable ASCII as is, a tab as spaces up to the next multiple of 8
// columns, '\r' as "\r", ESC as "\e", any other control or non-ASCII byte
// as "\xNN". Escaped pieces come separately so they can be coloured.
void ForEachConsoleSegment(std::string_view row,
                           const std::function<void(std::string_view, bool)>& segment);
// The row as displayed, all pieces joined.
std::string EscapeConsoleRow(std::string_view row);

// SplitConsoleRows kept up to date as the console grows: each byte is
// scanned once, when it arrives. Text that is not a
// continuation of the text indexed before (shorter, or its start or last
// indexed bytes differ: another trace) is indexed from scratch.
class ConsoleIndex {
 public:
  void Update(std::string_view text);
  void Clear();
  const std::vector<ConsoleRow>& Rows() const { return m_rows; }
  size_t IndexedBytes() const { return m_indexed; }
  // Bytes scanned since construction (tests check that growth is incremental).
  uint64_t ScannedBytes() const { return m_scanned; }

 private:
  static constexpr size_t kCheckBytes = 16;
  bool Continues(std::string_view text) const;
  void Scan(std::string_view text, size_t begin);

  std::vector<ConsoleRow> m_rows;
  bool m_last_open = false;  // the last row has no '\n' yet and may grow
  size_t m_indexed = 0;
  std::string m_head;  // the first bytes indexed
  std::string m_tail;  // the last bytes indexed
  uint64_t m_scanned = 0;
};

class ConsolePanel {
 public:
  // Draws into the current window (the caller owns Begin/End).
  void Draw(const traces::TraceData& trace);
  // The font for the text; nullptr (default) uses the current font, which for
  // ImGui's built-in ProggyClean is monospace already.
  void SetMonospaceFont(ImFont* font) { m_font = font; }

  const ConsoleIndex& Index() const { return m_index; }
  // True while the view sticks to the end (false once the user scrolls up,
  // true again when they scroll back to the end or tick "follow").
  bool Following() const { return m_following; }
  // The scroll of the text area at the last Draw, for tests.
  float ScrollY() const { return m_scroll_y; }
  float ScrollMaxY() const { return m_scroll_max_y; }

 private:
  void DrawRow(std::string_view text, const ConsoleRow& row);

  ConsoleIndex m_index;
  const traces::TraceData* m_trace = nullptr;
  ImFont* m_font = nullptr;
  bool m_following = true;
  bool m_jump_to_end = false;
  size_t m_drawn_bytes = 0;
  float m_scroll_y = 0;
  float m_scroll_max_y = 0;
};

}  // namespace kvmscope::ui

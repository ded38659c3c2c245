// The console panel: the guest's serial output, rows indexed incrementally as
// the console grows, drawn through ImGuiListClipper with escaped bytes in the
// highlight colour, and sticking to the end unless the user scrolled up.
#include "ui/console_panel.h"

#include <algorithm>

#include "ui/stats_panel.h"
#include "ui/theme.h"

namespace kvmscope::ui {

namespace {

constexpr int kTabWidth = 8;

// Scans `text` from `from` to its end, in a row that began at `begin`
// (<= from), appending rows; returns whether the last row is unfinished (no
// '\n' yet: it may grow).
bool ScanRows(std::string_view text, size_t begin, size_t from, std::vector<ConsoleRow>& rows) {
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\n') {
      const size_t end = i > begin && text[i - 1] == '\r' ? i - 1 : i;
      rows.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(end)});
      begin = i + 1;
    } else if (i - begin == kMaxConsoleRowBytes) {
      rows.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(i)});
      begin = i;
    }
  }
  if (begin < text.size()) {
    rows.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(text.size())});
    return true;
  }
  return false;
}

}  // namespace

std::vector<ConsoleRow> SplitConsoleRows(std::string_view text) {
  std::vector<ConsoleRow> rows;
  ScanRows(text, 0, 0, rows);
  return rows;
}

void ForEachConsoleSegment(std::string_view row,
                           const std::function<void(std::string_view, bool)>& segment) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string plain;
  size_t column = 0;
  auto flush = [&] {
    if (!plain.empty()) segment(plain, false);
    plain.clear();
  };
  for (const char ch : row) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      plain += ch;
      ++column;
    } else if (c == '\t') {
      const size_t spaces = kTabWidth - column % kTabWidth;
      plain.append(spaces, ' ');
      column += spaces;
    } else {
      flush();
      char escape[5] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf], '\0'};
      std::string_view text(escape, 4);
      if (c == '\r') text = "\\r";
      if (c == 0x1b) text = "\\e";
      segment(text, true);
      column += text.size();
    }
  }
  flush();
}

std::string EscapeConsoleRow(std::string_view row) {
  std::string out;
  ForEachConsoleSegment(row, [&](std::string_view text, bool) { out += text; });
  return out;
}

void ConsoleIndex::Clear() {
  m_rows.clear();
  m_last_open = false;
  m_indexed = 0;
  m_head.clear();
  m_tail.clear();
}

bool ConsoleIndex::Continues(std::string_view text) const {
  return text.size() >= m_indexed && text.substr(0, m_head.size()) == m_head &&
         text.substr(m_indexed - m_tail.size(), m_tail.size()) == m_tail;
}

void ConsoleIndex::Update(std::string_view text) {
  if (!Continues(text)) Clear();
  if (text.size() == m_indexed) return;
  size_t begin = m_indexed;
  if (m_last_open) {
    // The unfinished row continues: resume inside it, scanning only the new
    // bytes (a '\r' ending it is looked back at, not rescanned).
    begin = m_rows.back().begin;
    m_rows.pop_back();
  }
  Scan(text, begin);
}

void ConsoleIndex::Scan(std::string_view text, size_t begin) {
  m_scanned += text.size() - m_indexed;
  m_last_open = ScanRows(text, begin, m_indexed, m_rows);
  m_indexed = text.size();
  const size_t check = std::min(kCheckBytes, text.size());
  m_head.assign(text.substr(0, check));
  m_tail.assign(text.substr(text.size() - check));
}

void ConsolePanel::Draw(const traces::TraceData& trace) {
  ImGui::PushID("console");
  if (&trace != m_trace) {
    // Another trace: start from its end.
    m_trace = &trace;
    m_index.Clear();
    m_following = true;
    m_jump_to_end = true;
  }
  const std::string_view text = trace.console;
  m_index.Update(text);
  const std::vector<ConsoleRow>& rows = m_index.Rows();

  ImGui::Text("%s lines, %s bytes", FormatCount(rows.size()).c_str(),
              FormatCount(text.size()).c_str());
  if (!m_following) {
    ImGui::SameLine();
    if (ImGui::SmallButton("follow the end")) m_jump_to_end = true;
  }
  if (text.empty() && trace.external) {
    // Another process's VMM: its serial port is its own; kvmscope sees only
    // the kernel's side.
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("not visible: the guest's console belongs to the VMM (pid %u), which "
                        "kvmscope watches from the kernel only",
                        trace.external->pid);
    ImGui::PopTextWrapPos();
    m_drawn_bytes = 0;
    ImGui::PopID();
    return;
  }
  if (text.empty()) {
    ImGui::TextDisabled("the guest has written nothing to its serial port yet");
    m_drawn_bytes = 0;
    ImGui::PopID();
    return;
  }

  ImGui::BeginChild("text", ImVec2(0, 0), true, ImGuiWindowFlags_HorizontalScrollbar);
  if (m_font) ImGui::PushFont(m_font);
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(rows.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      DrawRow(text, rows[static_cast<size_t>(i)]);
    }
  }
  if (m_font) ImGui::PopFont();

  // Scroll as ImGui last laid it out: the user's wheel or scrollbar drag shows
  // here as a scroll above the end; scrolling back down to the end resumes.
  m_scroll_y = ImGui::GetScrollY();
  m_scroll_max_y = ImGui::GetScrollMaxY();
  const bool at_end = m_scroll_y >= m_scroll_max_y - 1.0f;
  const bool grew = text.size() != m_drawn_bytes;
  m_following = m_jump_to_end || at_end;
  if (m_following && (grew || m_jump_to_end)) ImGui::SetScrollHereY(1.0f);
  m_jump_to_end = false;
  m_drawn_bytes = text.size();
  ImGui::EndChild();
  ImGui::PopID();
}

void ConsolePanel::DrawRow(std::string_view text, const ConsoleRow& row) {
  const std::string_view line = text.substr(row.begin, row.end - row.begin);
  if (line.empty()) {
    ImGui::TextUnformatted("");
    return;
  }
  const ImU32 escape_color = StatusColor(Status::Highlight);
  bool first = true;
  ForEachConsoleSegment(line, [&](std::string_view piece, bool escaped) {
    if (!first) ImGui::SameLine(0, 0);
    first = false;
    if (escaped) ImGui::PushStyleColor(ImGuiCol_Text, escape_color);
    ImGui::TextUnformatted(piece.data(), piece.data() + piece.size());
    if (escaped) ImGui::PopStyleColor();
  });
}

}  // namespace kvmscope::ui

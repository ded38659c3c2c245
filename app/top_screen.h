// `kvmscope top`'s terminal: raw mode on a tty (termios, ANSI escapes, no
// curses), the keys and their prompts, and the frame drawn from the model's
// lines. Holds the view state (sort, filters) that the model rows obey.
#pragma once

#include <termios.h>

#include <cstddef>
#include <string>
#include <vector>

#include "traces/top_model.h"

namespace kvmscope::app {

// The terminal in raw mode (no echo, keys one at a time, signals still
// raised by Ctrl-C) on the alternate screen with the cursor hidden, all
// restored by the destructor.
class RawTerminal {
 public:
  RawTerminal(int in_fd, int out_fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  void Restore();  // idempotent
  // Columns and rows of `fd`'s terminal; 80 x 24 when it does not say.
  static std::pair<size_t, size_t> Size(int fd);

 private:
  int m_in, m_out;
  termios m_saved{};
  bool m_active = false;
};

class TopScreen {
 public:
  enum class Action { None, Redraw, Reset, Quit };

  // One key; in a prompt (f, v) keys edit it until Enter or Esc.
  Action OnKey(char key);
  const traces::TopView& view() const { return m_view; }
  traces::TopView& view() { return m_view; }
  void SetStatus(std::string status) { m_status = std::move(status); }

  // The frame as bytes for the terminal: the body (or the help) cut to
  // `rows - 1` lines of `cols` columns, and the prompt or status line.
  std::string Render(const std::vector<std::string>& body, size_t cols, size_t rows) const;
  static const std::vector<std::string>& HelpLines();

 private:
  enum class Prompt { None, Reason, Vm };
  traces::TopView m_view;
  Prompt m_prompt = Prompt::None;
  std::string m_input;
  std::string m_status;
  bool m_help = false;
};

}  // namespace kvmscope::app

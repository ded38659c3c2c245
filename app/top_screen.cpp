// `kvmscope top`'s terminal (see top_screen.h).
#include "app/top_screen.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <charconv>

namespace kvmscope::app {

namespace {

void Write(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

constexpr std::string_view kEnter = "\x1b[?1049h\x1b[?25l";  // alternate screen, hide cursor
constexpr std::string_view kLeave = "\x1b[?25h\x1b[?1049l";

}  // namespace

RawTerminal::RawTerminal(int in_fd, int out_fd) : m_in(in_fd), m_out(out_fd) {
  if (tcgetattr(m_in, &m_saved) != 0) return;
  termios raw = m_saved;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is SIGINT
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(m_in, TCSAFLUSH, &raw) != 0) return;
  m_active = true;
  Write(m_out, kEnter);
}

RawTerminal::~RawTerminal() {
  Restore();
}

void RawTerminal::Restore() {
  if (!m_active) return;
  m_active = false;
  Write(m_out, kLeave);
  tcsetattr(m_in, TCSAFLUSH, &m_saved);
}

std::pair<size_t, size_t> RawTerminal::Size(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {80, 24};
}

const std::vector<std::string>& TopScreen::HelpLines() {
  static const std::vector<std::string> lines = {
      "kvmscope top: keys (any key closes this help)",
      "  q   quit (every BPF program is detached)",
      "  s   sort by the next column: exits/s, in KVM_RUN, KVM_RUN p99, VMM p99, pid",
      "  r   reset: count from now",
      "  f   filter exit reasons by a regular expression, e.g. IO|MMIO (empty: all)",
      "  v   show one VM by its pid (empty: all)",
      "  x   rows per vCPU thread on/off",
      "  h   this help",
      "",
      "The columns, per VM (a process holding a KVM VM) and per vCPU thread:",
      "  EXITS/s           KVM_RUN returns per second: the exits the VMM saw",
      "  IN KVM_RUN        the share of the interval the thread spent inside KVM_RUN",
      "  KVM_RUN p50/p99   one KVM_RUN call: the guest running plus KVM's handling in the kernel",
      "  VMM p50/p99       a KVM_RUN return to the next KVM_RUN: the VMM handling the exit",
      "  KVM p50/p99       kvm_exit to kvm_entry: KVM's handling of one exit (VMX/SVM; PVM has no "
      "kvm_exit)",
      "  reasons           KVM_EXIT_* returned to the VMM, kvm_exit reasons (VMX/SVM), and the",
      "                    kvm_pio, kvm_mmio, kvm_inj_exception (and with --emulation "
      "kvm_emulate_insn) counts",
      "  p50/p99 are upper bounds of log2 buckets with 4 sub-buckets: at most 25% above the true "
      "value.",
  };
  return lines;
}

TopScreen::Action TopScreen::OnKey(char key) {
  if (m_prompt != Prompt::None) {
    if (key == '\x1b') {  // Esc: keep the old filter
      m_prompt = Prompt::None;
      m_status.clear();
    } else if (key == '\r' || key == '\n') {
      if (m_prompt == Prompt::Reason) {
        std::string why = traces::CheckReasonFilter(m_input);
        if (why.empty()) {
          m_view.reason_filter = m_input;
          m_status =
              m_input.empty() ? "every reason" : fmt::format("reasons matching /{}/", m_input);
        } else {
          m_status = fmt::format("filter unchanged: {}", why);
        }
      } else {
        uint32_t pid = 0;
        auto [end, err] = std::from_chars(m_input.data(), m_input.data() + m_input.size(), pid);
        if (m_input.empty() || (err == std::errc() && end == m_input.data() + m_input.size())) {
          m_view.vm = pid;
          m_status = pid ? fmt::format("only VM {}", pid) : "every VM";
        } else {
          m_status = fmt::format("not a pid: '{}'", m_input);
        }
      }
      m_prompt = Prompt::None;
    } else if (key == '\x7f' || key == '\b') {
      if (!m_input.empty()) m_input.pop_back();
    } else if (static_cast<unsigned char>(key) >= ' ') {
      m_input += key;
    }
    return Action::Redraw;
  }
  if (m_help) {
    m_help = false;
    return key == 'q' ? Action::Quit : Action::Redraw;
  }
  switch (key) {
    case 'q': return Action::Quit;
    case 's':
    case 'S':
      m_view.sort = traces::NextTopSort(m_view.sort);
      m_status = fmt::format("sorted by {}", traces::TopSortName(m_view.sort));
      return Action::Redraw;
    case 'r': m_status = "reset: counting from now"; return Action::Reset;
    case 'f':
      m_prompt = Prompt::Reason;
      m_input = m_view.reason_filter;
      return Action::Redraw;
    case 'v':
      m_prompt = Prompt::Vm;
      m_input = m_view.vm ? std::to_string(m_view.vm) : "";
      return Action::Redraw;
    case 'x':
      m_view.per_vcpu = !m_view.per_vcpu;
      m_status = m_view.per_vcpu ? "rows per vCPU thread" : "rows per VM only";
      return Action::Redraw;
    case 'h':
    case '?': m_help = true; return Action::Redraw;
    default: return Action::None;
  }
}

std::string TopScreen::Render(const std::vector<std::string>& body, size_t cols,
                              size_t rows) const {
  const std::vector<std::string>& lines = m_help ? HelpLines() : body;
  size_t room = rows > 1 ? rows - 1 : 1;
  std::string out = "\x1b[H";
  size_t shown = std::min(lines.size(), room);
  bool cut = lines.size() > room;
  if (cut && shown) --shown;
  for (size_t i = 0; i < shown; ++i) {
    std::string line = lines[i];
    // Cut to the terminal's width by code points (the model's lines are
    // already cut; the help is not).
    size_t n = 0, at = 0;
    for (; at < line.size(); ++at) {
      if ((static_cast<unsigned char>(line[at]) & 0xc0) != 0x80 && n++ == cols) break;
    }
    line.resize(at);
    out += line + "\x1b[K\n";
  }
  if (cut)
    out += fmt::format("… {} more lines (x: rows per VM only; v: one VM)\x1b[K\n",
                       lines.size() - shown);
  out += "\x1b[J";  // clear the rest of the screen, then the last line
  out += fmt::format("\x1b[{};1H", rows);
  if (m_prompt == Prompt::Reason) {
    out += "reason filter (regex, empty = all): " + m_input;
  } else if (m_prompt == Prompt::Vm) {
    out += "VM pid (empty = all): " + m_input;
  } else {
    out += m_status.empty()
               ? std::string("h help · s sort · f reasons · v VM · x vCPUs · r reset · q quit")
               : m_status;
  }
  return out + "\x1b[K";
}

}  // namespace kvmscope::app

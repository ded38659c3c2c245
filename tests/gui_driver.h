// Drives the real kvmscope window as a lecturer does: a private Xvfb server,
// the kvmscope process started in it, and real X input events (xdotool, via
// the XTEST extension: the same path a mouse and keyboard take). The window's
// --widget-map hook says where its toolbar buttons are and what its status
// line reads, so tests click buttons by name and wait for what they expect.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "run_command.h"

namespace kvmscope::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Why these tests cannot run here ("" when they can).
inline std::string GuiDriverMissing() {
  if (std::system("command -v Xvfb >/dev/null 2>&1") != 0) return "Xvfb is not installed";
  if (std::system("command -v xdotool >/dev/null 2>&1") != 0) return "xdotool is not installed";
  return "";
}

// A private X server for one test, on a free display number it picks itself.
class Xvfb {
 public:
  Xvfb(int width, int height) {
    int fds[2];
    if (pipe(fds) != 0) return;
    m_pid = fork();
    if (m_pid == 0) {
      close(fds[0]);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      std::string fd = std::to_string(fds[1]);
      std::string screen = std::to_string(width) + "x" + std::to_string(height) + "x24";
      execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", screen.c_str(), "-nolisten",
             "tcp", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string number;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n') number.push_back(c);
    close(fds[0]);
    if (!number.empty()) m_display = ":" + number;
  }
  ~Xvfb() {
    if (m_pid > 0) {
      kill(m_pid, SIGTERM);
      waitpid(m_pid, nullptr, 0);
    }
  }
  Xvfb(const Xvfb&) = delete;
  Xvfb& operator=(const Xvfb&) = delete;
  const std::string& display() const { return m_display; }  // "" if it did not start

 private:
  pid_t m_pid = -1;
  std::string m_display;
};

struct Widget {
  float x = 0, y = 0, w = 0, h = 0;
};

// One `kvmscope gui` process in an Xvfb server.
class GuiProcess {
 public:
  GuiProcess(const std::string& binary, const std::string& display, const fs::path& dir)
      : m_binary(binary), m_display(display), m_map(dir / "widgets.txt"), m_log(dir / "gui.log") {}
  ~GuiProcess() {
    if (m_pid > 0 && !m_status) {
      kill(m_pid, SIGKILL);
      waitpid(m_pid, nullptr, 0);
    }
  }
  GuiProcess(const GuiProcess&) = delete;
  GuiProcess& operator=(const GuiProcess&) = delete;

  // Starts `kvmscope gui ARGS` (1600x900) and waits until its toolbar is drawn.
  bool Start(const std::vector<std::string>& args) {
    fs::remove(m_map);
    m_pid = fork();
    if (m_pid == 0) {
      PrepareChild(m_log.c_str());
      setenv("DISPLAY", m_display.c_str(), 1);
      // scripts/sanitize.sh: libraries to keep loaded in kvmscope only (not in
      // Xvfb or xdotool), see there.
      if (const char* preload = getenv("KVMSCOPE_GUI_PRELOAD")) setenv("LD_PRELOAD", preload, 1);
      std::vector<std::string> all = {m_binary, "gui"};
      all.insert(all.end(), args.begin(), args.end());
      for (const char* a : {"--width", "1600", "--height", "900", "--widget-map"}) all.push_back(a);
      all.push_back(m_map.string());
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(m_binary.c_str(), argv.data());
      _exit(127);
    }
    return WaitFor([&] { return Widgets().count("reset") || Widgets().count("open"); },
                   std::chrono::seconds(30));
  }

  // The toolbar as last drawn: widget name → rectangle; plus the status line
  // and the message (`Status()`, `Message()`).
  std::map<std::string, Widget> Widgets() const {
    std::map<std::string, Widget> widgets;
    std::istringstream lines(ReadFile(m_map));
    for (std::string line; std::getline(lines, line);) {
      std::istringstream in(line);
      std::string name;
      Widget w;
      if (in >> name >> w.x >> w.y >> w.w >> w.h) widgets[name] = w;
    }
    return widgets;
  }
  std::string Line(const std::string& key) const {
    std::istringstream lines(ReadFile(m_map));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(key + " ", 0) == 0) return line.substr(key.size() + 1);
    }
    return "";
  }
  std::string Status() const { return Line("status"); }
  std::string Message() const { return Line("message"); }
  std::string Selected() const { return Line("selected"); }  // the selected event, one line
  std::string Log() const { return ReadFile(m_log); }

  bool Alive() {
    if (m_status) return false;
    int st;
    if (waitpid(m_pid, &st, WNOHANG) == m_pid) {
      m_status = st;
      return false;
    }
    return true;
  }

  // Polls `done` every 50 ms until it holds, the process ends or `limit` passes.
  // Limits stretch by KVMSCOPE_TEST_TIME_SCALE (scripts/sanitize.sh sets it:
  // ThreadSanitizer makes kvmscope several times slower).
  bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    if (const char* scale = getenv("KVMSCOPE_TEST_TIME_SCALE")) limit *= std::max(1, atoi(scale));
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      if (done()) return true;
      if (!Alive()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }
  bool WaitStatus(const std::string& part, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return WaitFor([&] { return Status().find(part) != std::string::npos; }, limit);
  }

  // Real input: the pointer rests on the status line (X gives the keyboard to
  // the window under the pointer when no window manager runs), then keys.
  bool Key(const std::string& keys) {
    return Xdotool("mousemove 800 12 key --delay 60 " + keys);
  }
  // Waits until `widget` is drawn and has stayed in one place for a few
  // frames (a popup such as the guest picker settles after its first frame).
  bool WaitWidget(const std::string& widget, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::optional<Widget> last;
    int same = 0;
    return WaitFor(
        [&] {
          auto widgets = Widgets();
          auto it = widgets.find(widget);
          if (it == widgets.end()) {
            last.reset();
            same = 0;
            return false;
          }
          const Widget& w = it->second;
          same = last && last->x == w.x && last->y == w.y && last->w == w.w && last->h == w.h ? same + 1 : 0;
          last = w;
          return same >= 6;
        },
        limit);
  }
  bool Click(const std::string& widget) {
    auto widgets = Widgets();
    auto it = widgets.find(widget);
    if (it == widgets.end()) return false;
    int x = static_cast<int>(it->second.x + it->second.w / 2);
    int y = static_cast<int>(it->second.y + it->second.h / 2);
    return Xdotool("mousemove " + std::to_string(x) + " " + std::to_string(y) +
                   " sleep 0.1 click 1 sleep 0.1");
  }
  // Replaces a text field's contents. ImGui 1.86 reads key state once per
  // frame, so ctrl+a and BackSpace must stay down for longer than a frame:
  // xdotool holds each key for half the --delay, stretched like WaitFor (a
  // sanitizer's frames are slow). Typed characters are queued, never lost.
  bool Type(const std::string& widget, const std::string& text) {
    int scale = 1;
    if (const char* s = getenv("KVMSCOPE_TEST_TIME_SCALE")) scale = std::max(1, atoi(s));
    return Click(widget) && Xdotool("key --delay " + std::to_string(100 * scale) +
                                    " ctrl+a BackSpace type --delay 20 '" + text + "'");
  }

  bool Signal(int sig) { return kill(m_pid, sig) == 0; }
  // Where every thread of a window that will not end is: its stacks, from
  // gdb when it is installed (so that a hang says what it waits for).
  std::string Stacks() {
    if (!Alive()) return "(the process has ended)";
    if (std::system("command -v gdb >/dev/null 2>&1") != 0) return "(no gdb to show the stacks)";
    return Capture("timeout 60 gdb -p " + std::to_string(m_pid) +
                   " -batch -nx -ex 'thread apply all bt 25' 2>&1 | grep -E '^(Thread|#)'")
        .output;
  }
  // The wait status once the process ends within `limit`.
  std::optional<int> WaitExit(std::chrono::milliseconds limit) {
    WaitFor([] { return false; }, limit);
    return m_status;
  }

 private:
  bool Xdotool(const std::string& command) {
    return Capture("DISPLAY=" + m_display + " xdotool " + command + " 2>&1").status == 0;
  }

  std::string m_binary, m_display;
  fs::path m_map, m_log;
  pid_t m_pid = -1;
  std::optional<int> m_status;
};

}  // namespace kvmscope::test

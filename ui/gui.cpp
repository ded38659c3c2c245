// The window and its frame loop: every frame takes one snapshot of the
// trace, draws the toolbar and the panels into their fixed places, then runs
// the commands queued while drawing (space run/pause, s step, r reset, n/p
// guest, f fit, ←/→ exits, F12 screenshot) with no snapshot held, renders.
#include "ui/gui.h"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <GL/gl.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <fmt/format.h>
#include <stb_image_write.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>

#include "traces/atomic_file.h"
#include "traces/fault_context.h"
#include "traces/story.h"
#include "ui/chains_panel.h"
#include "ui/console_panel.h"
#include "ui/cycle_panel.h"
#include "ui/doctor_panel.h"
#include "ui/inspector.h"
#include "ui/labs_panel.h"
#include "ui/layout.h"
#include "ui/stats_panel.h"
#include "ui/timeline.h"
#include "ui/view.h"

namespace kvmscope::ui {

std::string_view RunStateName(RunState state) {
  switch (state) {
    case RunState::Replay: return "replay";
    case RunState::Paused: return "paused";
    case RunState::Running: return "running";
    case RunState::Finished: return "finished";
  }
  return "";
}

bool HaveDisplay() {
  const char* x = std::getenv("DISPLAY");
  const char* w = std::getenv("WAYLAND_DISPLAY");
  return (x && *x) || (w && *w);
}

namespace {

constexpr const char* kFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kMonoFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

// Keys pressed this frame, from GLFW (ImGui 1.86 names no letter keys).
struct Keys {
  bool space = false, fit = false, screenshot = false, reset = false;
  int steps = 0;     // s pressed this many times (fast typing puts several in one frame)
  int guest = 0;     // +1 next catalog guest (n), -1 previous (p)
  int move = 0;      // exits to move: +1 per → (next), -1 per ← (previous)
};
Keys g_keys;
ImFont* g_mono = nullptr;  // the console's monospace font, when installed

void OnKey(GLFWwindow* window, int key, int, int action, int mods) {
  if (ImGui::GetCurrentContext() == nullptr) return;
  // Ctrl+Q quits from anywhere, a text box included.
  if (action == GLFW_PRESS && key == GLFW_KEY_Q && (mods & GLFW_MOD_CONTROL)) {
    glfwSetWindowShouldClose(window, GLFW_TRUE);
    return;
  }
  if (ImGui::GetIO().WantTextInput) return;  // typing a path, not a shortcut
  if (action == GLFW_REPEAT) {  // held arrows keep moving through the exits
    if (key == GLFW_KEY_RIGHT) ++g_keys.move;
    if (key == GLFW_KEY_LEFT) --g_keys.move;
    return;
  }
  if (action != GLFW_PRESS) return;
  switch (key) {
    case GLFW_KEY_SPACE: g_keys.space = true; break;
    case GLFW_KEY_S: ++g_keys.steps; break;
    case GLFW_KEY_F: g_keys.fit = true; break;
    case GLFW_KEY_R: g_keys.reset = true; break;
    case GLFW_KEY_N: g_keys.guest = 1; break;
    case GLFW_KEY_P: g_keys.guest = -1; break;
    case GLFW_KEY_RIGHT: ++g_keys.move; break;
    case GLFW_KEY_LEFT: --g_keys.move; break;
    case GLFW_KEY_F12: g_keys.screenshot = true; break;
    default: break;
  }
}

// The body size the theme's paddings and spacings were designed for.
constexpr float kDesignFontPx = 16.0f;

// (Re)builds the font atlas at `px` for body text (the console's monospace
// font slightly smaller); ImGui's own font where DejaVu is not installed.
void LoadFonts(float px) {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  g_mono = nullptr;
  if (std::filesystem::exists(kFontPath)) {
    // Latin-1 (µ, ×) plus the punctuation, arrows, math and box-drawing
    // characters the model's texts use (—, →, ⇢, ≥, └─).
    static const ImWchar kRanges[] = {0x0020, 0x00FF, 0x2000, 0x206F, 0x2190, 0x21FF,
                                      0x2200, 0x22FF, 0x2500, 0x257F, 0};
    io.Fonts->AddFontFromFileTTF(kFontPath, px, nullptr, kRanges);
    if (std::filesystem::exists(kMonoFontPath)) {
      g_mono = io.Fonts->AddFontFromFileTTF(kMonoFontPath, std::round(px * 0.95f), nullptr, kRanges);
    }
  } else {
    ImFontConfig config;
    config.SizePixels = px;
    io.Fonts->AddFontDefault(&config);
  }
}

// Saves what was just rendered as a PNG (atomically).
void SavePng(GLFWwindow* window, const std::string& path) {
  int w = 0, h = 0;
  glfwGetFramebufferSize(window, &w, &h);
  std::vector<unsigned char> pixels(static_cast<size_t>(w) * h * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  stbi_flip_vertically_on_write(1);  // OpenGL's rows start at the bottom
  traces::WriteFileAtomically(path, [&](std::ostream& out) {
    auto write = [](void* ctx, void* data, int size) {
      static_cast<std::ostream*>(ctx)->write(static_cast<const char*>(data), size);
    };
    if (!stbi_write_png_to_func(write, &out, w, h, 4, pixels.data(), w * 4)) {
      throw std::runtime_error("PNG encoding failed");
    }
  });
}

std::string Stamp() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&now));
  return buf;
}

// The slow-motion choices: a fixed list, so that no text box can swallow the
// space bar (typing a number into a slider, then space, used to do nothing).
constexpr int kSlowChoices[] = {0, 50, 200, 500, 1000};

class Window {
 public:
  Window(Controller& controller, const GuiOptions& options)
      : m_controller(controller),
        m_options(options),
        m_labs(controller,
               LabsOptions{options.labs_dir, options.lab, options.lab_answers, options.student},
               [this](std::function<void()> command) { Queue(std::move(command)); },
               [this](const std::string& name) {
                 if (ImGui::IsItemVisible()) Mark(name.c_str());  // scrolled out: not clickable
               }),
        m_select_labs(!options.lab.empty()) {
    SetMonospaceFont(g_mono);
  }

  void SetMonospaceFont(ImFont* font) { m_console.SetMonospaceFont(font); }

  void SetMessage(std::string message) { m_message = std::move(message); }

  void Frame(bool& want_screenshot, std::string& screenshot_path) {
    m_controller.Tick();
    if (std::string late = m_controller.TakeMessage(); !late.empty()) m_message = std::move(late);
    Keys keys = g_keys;
    g_keys = {};
    if (keys.space) Queue([this] { Toggle(); });
    for (int i = 0; i < keys.steps; ++i) Queue([this] { Step(); });
    if (keys.reset) Queue([this] { m_controller.Reset(); });
    if (keys.guest) Queue([this, d = keys.guest] { SelectAdjacentGuest(d); });
    if (keys.fit) m_timeline.RequestFit();
    if (keys.screenshot) {
      want_screenshot = true;
      screenshot_path = "kvmscope-" + Stamp() + ".png";
    }
    // The trace of this frame: held (not locked) until the next frame, so
    // that a replaced trace is noticed by identity, never by a reused address.
    std::shared_ptr<traces::Trace> current = m_controller.trace();
    if (current != m_trace) {
      m_trace = std::move(current);
      m_step_pending = false;
      m_followed_exit.reset();
      m_story_events = SIZE_MAX;
      m_story_asked = -1;
      ++m_view.trace_generation;
      m_view.selected.reset();
      m_view.hovered.reset();
      m_view.view_begin_ns = m_view.view_end_ns = 0;
      m_view.follow_live = true;
      m_timeline.RequestFit();
    }
    const RunState state = m_controller.state();
    m_view.live = state == RunState::Running || state == RunState::Paused;
    m_view.font_scale = m_options.font_scale;
    {
      // The snapshot holds the trace's shared lock: nothing in this block may
      // stop a run or replace the trace. Toolbar buttons queue commands.
      traces::Trace::Snapshot snap = m_trace->Read();
      OpenStory(*snap);
      // ← / →: the previous / next exit of the trace (live or replay).
      for (int i = 0; i < std::abs(keys.move); ++i) {
        SelectAdjacentExit(*snap, m_view, keys.move > 0 ? 1 : -1);
      }
      FollowLatest(*snap, state);
      DrawPanels(*snap, state, want_screenshot, screenshot_path);
      if (!m_options.widget_map.empty()) m_selected_text = SelectedText(*snap);
    }
    RunQueued();
    WriteWidgetMap();
  }

 private:
  void Queue(std::function<void()> command) { m_queued.push_back(std::move(command)); }
  void RunQueued() {
    std::vector<std::function<void()>> commands;
    commands.swap(m_queued);
    for (auto& command : commands) command();
  }

  void DrawPanels(const traces::TraceData& trace, RunState state, bool& want_screenshot,
                  std::string& screenshot_path) {
    ImGuiIO& io = ImGui::GetIO();
    // The toolbar wraps its widgets to the window's width: it is as high as
    // it was last frame (three rows before the first).
    float toolbar_h = m_toolbar_h > 0 ? m_toolbar_h
                                      : ImGui::GetFrameHeightWithSpacing() * 3 +
                                            ImGui::GetStyle().WindowPadding.y * 2;
    Layout layout = ComputeLayout(io.DisplaySize.x, io.DisplaySize.y, toolbar_h);
    if (m_labs_active) {
      // A lab's handout and questions need room: the inspector gives up
      // half its height to the tabs while the Labs tab is in front.
      Rect& inspector = layout.panes[size_t(Pane::Inspector)];
      Rect& console = layout.panes[size_t(Pane::Console)];
      Rect& tabs = layout.panes[size_t(Pane::Tabs)];
      const float give = std::floor(inspector.h * 0.5f);
      inspector.h -= give;
      console.y -= give;
      tabs.y -= give;
      tabs.h += give;
    }
    constexpr ImGuiWindowFlags kFixed =
        ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse;
    auto place = [&](Pane p) {
      const Rect& r = layout[p];
      ImGui::SetNextWindowPos(ImVec2(r.x, r.y), ImGuiCond_Always);
      ImGui::SetNextWindowSize(ImVec2(r.w, r.h), ImGuiCond_Always);
    };

    place(Pane::Toolbar);
    ImGui::Begin("##toolbar", nullptr, kFixed | ImGuiWindowFlags_NoTitleBar);
    DrawToolbar(trace, state, want_screenshot, screenshot_path);
    m_toolbar_h = std::ceil(ImGui::GetCursorPosY() + ImGui::GetStyle().WindowPadding.y -
                            ImGui::GetStyle().ItemSpacing.y);
    ImGui::End();

    place(Pane::Cycle);
    ImGui::Begin("The KVM cycle", nullptr, kFixed);
    m_cycle.Draw(trace, m_view);
    ImGui::End();

    place(Pane::Timeline);
    ImGui::Begin("Timeline", nullptr, kFixed);
    m_timeline.Draw(trace, m_view);
    ImGui::End();

    place(Pane::Inspector);
    ImGui::Begin("Inspector", nullptr, kFixed);
    m_inspector.Draw(trace, m_view);
    ImGui::End();

    place(Pane::Console);
    ImGui::Begin("Guest console", nullptr, kFixed);
    m_console.Draw(trace);
    ImGui::End();

    place(Pane::Tabs);
    ImGui::Begin("##tabs", nullptr, kFixed | ImGuiWindowFlags_NoTitleBar);
    if (ImGui::BeginTabBar("tabs")) {
      // A click on the cycle's exit handler (or a guest's story) asks for a
      // chain: its tab comes forward; the chains panel shows that chain.
      ImGuiTabItemFlags chains_flags = m_view.show_chain ? ImGuiTabItemFlags_SetSelected : 0;
      if (ImGui::BeginTabItem("Call chains", nullptr, chains_flags)) {
        m_chains.Draw(trace, m_view);
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Stats")) {
        m_stats.Draw(trace, m_view);
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Doctor")) {
        m_doctor.Draw(trace);
        ImGui::EndTabItem();
      }
      // --lab opens the window on this tab (once: then it is the user's).
      const bool labs_open = ImGui::BeginTabItem("Labs", nullptr, m_select_labs ? ImGuiTabItemFlags_SetSelected : 0);
      Mark("tab:labs");
      m_select_labs = false;
      m_labs_active = labs_open;
      if (labs_open) {
        m_labs.Draw(trace, m_view);
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
    }
    ImGui::End();
  }

  // One KVM_RUN; once it is in the trace, the run just stepped is selected
  // and the last few exits are shown (FollowLatest).
  void Step() {
    if (!m_step_pending && m_trace) m_followed_exit = LatestExitKey(*m_trace->Read());
    m_controller.Step();
    m_step_pending = true;
  }
  static std::optional<EventKey> LatestExitKey(const traces::TraceData& trace) {
    std::optional<traces::EventRef> latest = traces::LatestExit(trace);
    return latest ? std::optional<EventKey>(KeyOf(trace.At(*latest))) : std::nullopt;
  }
  // After a step, and all the time while a guest runs in slow motion, each
  // new KVM_RUN is selected as it ends (so the cycle animates its path) and
  // the view keeps the last few exits readable.
  void FollowLatest(const traces::TraceData& trace, RunState state) {
    const bool slow_run = state == RunState::Running && m_slow_ms > 0;
    if (!m_step_pending && !slow_run) return;
    std::optional<EventKey> latest = LatestExitKey(trace);
    if (!latest || latest == m_followed_exit) return;
    SelectLatestExit(trace, m_view);
    m_followed_exit = latest;
    m_step_pending = false;
  }

  // Each guest opens on its story: the exit that shows what it is about is
  // selected and its chain shown, as soon as the trace has it (a live guest
  // may need a few frames; one that finished before the first frame has it).
  void OpenStory(const traces::TraceData& trace) {
    if (m_story_told == m_view.trace_generation) return;
    if (m_view.selected) {  // the lecturer chose something first
      m_story_told = m_view.trace_generation;
      return;
    }
    // FindStory reads the whole trace: on a live trace whose story has not
    // happened yet (spin's watchdog comes last) ask again only when it has
    // grown, at most four times a second.
    const size_t events = trace.EventCount();
    const double now = ImGui::GetTime();
    if (events == m_story_events || now - m_story_asked < 0.25) return;
    m_story_events = events;
    m_story_asked = now;
    std::optional<traces::Story> story = traces::FindStory(trace);
    if (!story) return;
    m_story_told = m_view.trace_generation;
    m_view.selected = KeyOf(trace.At(story->event));
    // A student in the Labs tab keeps it: the story's chain waits in its tab.
    if (!m_labs_active) m_view.show_chain = story->chain;
    m_message = story->caption;  // one sentence on what this guest shows
  }

  void Toggle() {
    RunState state = m_controller.state();
    if (state == RunState::Running) {
      m_controller.Pause();
    } else if (state == RunState::Paused) {
      m_controller.Run();
    }
  }

  // n / p: the next / previous guest of the catalog, wrapping around.
  void SelectAdjacentGuest(int direction) {
    std::vector<GuestChoice> guests = m_controller.guests();
    if (guests.empty()) return;
    std::string current = m_controller.guest();
    auto it = std::find_if(guests.begin(), guests.end(),
                           [&](const GuestChoice& g) { return g.name == current; });
    int n = static_cast<int>(guests.size());
    int at = it == guests.end() ? (direction > 0 ? -1 : 0) : static_cast<int>(it - guests.begin());
    m_message = m_controller.Select(guests[static_cast<size_t>(((at + direction) % n + n) % n)].name);
  }

  // The selected event in one line (for --widget-map), "" when none.
  std::string SelectedText(const traces::TraceData& trace) const {
    if (!m_view.selected) return {};
    std::optional<traces::EventRef> ref = Find(trace, *m_view.selected);
    return ref ? traces::DescribeEventAt(trace, *ref) : std::string();
  }

  // Remembers where a toolbar widget was drawn (for --widget-map).
  void Mark(const char* name) {
    if (m_options.widget_map.empty()) return;
    ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    m_widgets += fmt::format("{} {:.0f} {:.0f} {:.0f} {:.0f}\n", name, a.x, a.y, b.x - a.x, b.y - a.y);
  }
  void WriteWidgetMap() {
    if (m_options.widget_map.empty()) return;
    m_widgets += "status " + m_controller.status() + "\n";
    m_widgets += "message " + m_message + "\n";
    m_widgets += "selected " + m_selected_text + "\n";
    m_widgets += "labmsg " + m_labs.message() + "\n";
    if (m_widgets != m_widgets_written) {
      try {
        traces::WriteFileAtomically(m_options.widget_map,
                                    [&](std::ostream& out) { out << m_widgets; });
        m_widgets_written = m_widgets;
      } catch (const std::exception&) {
        // A test hook: a failed write is retried next frame.
      }
    }
    m_widgets.clear();
  }

  // A button that is disabled with the reason shown on hover.
  bool Button(const char* label, const char* name, bool enabled, const char* why_not) {
    ImGui::BeginDisabled(!enabled);
    bool pressed = ImGui::Button(label);
    ImGui::EndDisabled();
    Mark(name);
    if (!enabled && why_not && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
      ImGui::SetTooltip("%s", why_not);
    }
    return pressed;
  }

  // Puts the next widget, `width` px wide, on this row if it fits, else on
  // the next: the toolbar wraps instead of running off a narrow window.
  static void Flow(float width) {
    float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
    ImGui::SameLine();
    if (ImGui::GetCursorScreenPos().x + width > right) ImGui::NewLine();
  }
  static float ButtonWidth(const char* label) {
    return ImGui::CalcTextSize(label, nullptr, true).x + ImGui::GetStyle().FramePadding.x * 2;
  }

  void DrawToolbar(const traces::TraceData& trace, RunState state, bool& want_screenshot,
                   std::string& screenshot_path) {
    std::vector<GuestChoice> guests = m_controller.guests();
    const bool replay = state == RunState::Replay;
    const char* replay_why = "a replay of a saved trace: choose a guest to run one live";
    const float em = ImGui::GetFontSize();
    // Row 1: what runs and how.
    if (!guests.empty()) {
      std::string current = replay ? std::string("choose a guest") : m_controller.guest();
      ImGui::SetNextItemWidth(em * 8);
      if (ImGui::BeginCombo("##guest", current.c_str(), ImGuiComboFlags_HeightLarge)) {
        for (const GuestChoice& g : guests) {
          std::string label = g.name + "  —  " + g.description;
          if (ImGui::Selectable(label.c_str(), !replay && g.name == current)) {
            Queue([this, name = g.name] { m_message = m_controller.Select(name); });
          }
          Mark(("guest:" + g.name).c_str());
        }
        ImGui::EndCombo();
      }
      Mark("guest");
      bool running = state == RunState::Running;
      bool can_run = state == RunState::Running || state == RunState::Paused;
      const char* run_label = running ? "Pause (space)" : "Run (space)";
      Flow(ButtonWidth(run_label));
      if (Button(run_label, "run", can_run,
                 replay ? replay_why : "the guest has finished: Reset (r) runs it again")) {
        Queue([this] { Toggle(); });
      }
      Flow(ButtonWidth("Step (s)"));
      if (Button("Step (s)", "step", state == RunState::Paused,
                 replay ? replay_why : "pause first: Step runs one KVM_RUN of a paused guest")) {
        Queue([this] { Step(); });
      }
      Flow(em * 5 + ImGui::CalcTextSize("slow motion").x);
      ImGui::SetNextItemWidth(em * 5);
      std::string slow = m_slow_ms ? fmt::format("{} ms", m_slow_ms) : std::string("off");
      if (ImGui::BeginCombo("##slow", slow.c_str())) {
        for (int ms : kSlowChoices) {
          std::string label = ms ? fmt::format("{} ms per KVM_RUN", ms) : std::string("off");
          if (ImGui::Selectable(label.c_str(), ms == m_slow_ms)) {
            m_slow_ms = ms;
            Queue([this, ms] { m_controller.SetSlowMotion(ms); });
          }
          Mark(fmt::format("slow:{}", ms).c_str());
        }
        ImGui::EndCombo();
      }
      Mark("slow");
      ImGui::SameLine(0, ImGui::GetStyle().ItemInnerSpacing.x);
      ImGui::TextUnformatted("slow motion");
      Flow(ButtonWidth("Reset (r)"));
      if (Button("Reset (r)", "reset", !replay, replay_why)) Queue([this] { m_controller.Reset(); });
      Flow(ButtonWidth("Fit (f)"));
    }
    if (Button("Fit (f)", "fit", true, nullptr)) m_timeline.RequestFit();
    Flow(ImGui::CalcTextSize("←/→ exits · n/p guest").x);
    ImGui::TextDisabled("←/→ exits · n/p guest");

    // Row 2: the state of the run and of the tracing, always visible.
    std::string status = m_controller.status();
    ImGui::TextUnformatted(status.c_str());
    std::string lost = LostBadge(trace);
    std::string counted = CountedOnlyBadge(trace);
    std::string badge = PlanBadge(trace.host) + (lost.empty() ? "" : " | " + lost) +
                        (counted.empty() ? "" : " | " + counted);
    Flow(ImGui::CalcTextSize(badge.c_str()).x);
    ImGui::TextDisabled("%s", badge.c_str());

    // Row 3: files.
    ImGui::SetNextItemWidth(std::min(em * 16, ImGui::GetContentRegionAvail().x));
    ImGui::InputTextWithHint("##path", "file path (trace .json, guest file, .png)", m_path,
                             sizeof m_path);
    Mark("path");
    // A file button: its command gets the path box's text, and says in the
    // toolbar how it went.
    using FileCommand = std::string (Controller::*)(const std::string&);
    auto file_button = [&](const char* label, const char* name, FileCommand command) {
      Flow(ButtonWidth(label));
      if (Button(label, name, true, nullptr)) {
        Queue([this, command, p = std::string(m_path)] { m_message = (m_controller.*command)(p); });
      }
    };
    if (!guests.empty()) file_button("Run file", "runfile", &Controller::Select);
    file_button("Open", "open", &Controller::Open);
    file_button("Save", "save", &Controller::Save);
    file_button("Export Chrome", "chrome", &Controller::ExportChrome);
    Flow(ButtonWidth("PNG (F12)"));
    if (Button("PNG (F12)", "png", true, nullptr)) {
      want_screenshot = true;
      screenshot_path = m_path[0] ? m_path : "kvmscope-" + Stamp() + ".png";
    }
    if (!m_message.empty()) {
      Flow(ImGui::CalcTextSize(m_message.c_str()).x);
      ImGui::TextUnformatted(m_message.c_str());
    }
  }

  Controller& m_controller;
  GuiOptions m_options;
  std::shared_ptr<traces::Trace> m_trace;
  std::vector<std::function<void()>> m_queued;  // run after the frame's snapshot is released
  SharedView m_view;
  CyclePanel m_cycle;
  TimelinePanel m_timeline;
  ChainsPanel m_chains;
  InspectorPanel m_inspector;
  StatsPanel m_stats;
  ConsolePanel m_console;
  DoctorPanel m_doctor;
  LabsPanel m_labs;
  bool m_select_labs = false;  // bring the Labs tab forward on the first frame
  bool m_labs_active = false;  // the Labs tab was in front last frame (it gets more room)
  int m_slow_ms = 0;
  char m_path[512] = "";
  std::string m_message;
  std::string m_widgets, m_widgets_written, m_selected_text;
  float m_toolbar_h = 0;
  uint64_t m_story_told = UINT64_MAX;  // the trace generation whose story was opened
  size_t m_story_events = SIZE_MAX;    // the trace's size when FindStory last ran
  double m_story_asked = -1;           // and when (ImGui time)
  bool m_step_pending = false;            // a step was asked for; its exit is not in yet
  std::optional<EventKey> m_followed_exit;  // the latest exit when last followed
};

}  // namespace

void RunGui(Controller& controller, const GuiOptions& options) {
  if (!HaveDisplay()) throw std::runtime_error("no display (DISPLAY is not set)");
  if (!glfwInit()) throw std::runtime_error("GLFW could not initialize the display");
  struct Terminate {
    ~Terminate() { glfwTerminate(); }
  } terminate;
  // OpenGL 3.2 core first: from 3.2 the ImGui backend draws more than 65,536
  // vertices per window (16-bit indices); 3.0 is the fallback.
  const char* glsl = "#version 150";
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 2);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  GLFWwindow* window =
      glfwCreateWindow(options.width, options.height, "kvmscope", nullptr, nullptr);
  if (!window) {
    glfwDefaultWindowHints();
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
    glsl = "#version 130";
    window = glfwCreateWindow(options.width, options.height, "kvmscope", nullptr, nullptr);
  }
  if (!window) throw std::runtime_error("could not open an OpenGL 3 window");
  glfwMakeContextCurrent(window);
  glfwSwapInterval(1);
  glfwSetKeyCallback(window, OnKey);  // before ImGui's, which chains to it

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // the layout is fixed; nothing to remember
  int win_w = 0, win_h = 0;
  glfwGetWindowSize(window, &win_w, &win_h);
  float font_px = BodyFontSize(static_cast<float>(win_h), options.font_scale);
  LoadFonts(font_px);
  // The font is loaded at its size already; the theme scales the rest.
  ApplyTheme(options.theme, font_px / kDesignFontPx, FontScaling::LoadedFont);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init(glsl);
  ImGui_ImplOpenGL3_CreateFontsTexture();

  std::string error;
  {
    Window ui(controller, options);
    int frame = 0;
    int eager = 0;  // frames still to draw without waiting for input
    while (!glfwWindowShouldClose(window)) {
      if (options.quit_requested && options.quit_requested()) break;
      // Idle replays wait for input (at most 100 ms); a running guest
      // redraws continuously, and so do the few frames after any input, which
      // ImGui needs to settle (a popup is placed on its second frame).
      if (controller.state() == RunState::Running || !options.screenshot.empty() || eager > 0) {
        glfwPollEvents();
        if (eager > 0) --eager;
      } else {
        double before = glfwGetTime();
        glfwWaitEventsTimeout(0.1);
        if (glfwGetTime() - before < 0.09) eager = 4;  // woken by an event
      }
      // Text follows the window's size: fonts are re-rasterized (crisp, not
      // stretched) when the body size it needs changes by a pixel or more.
      glfwGetWindowSize(window, &win_w, &win_h);
      float wanted_px = BodyFontSize(static_cast<float>(win_h), options.font_scale);
      if (win_h > 0 && std::abs(wanted_px - font_px) >= 1.0f) {
        font_px = wanted_px;
        LoadFonts(font_px);
        ImGui_ImplOpenGL3_DestroyFontsTexture();
        ImGui_ImplOpenGL3_CreateFontsTexture();
        ApplyTheme(options.theme, font_px / kDesignFontPx, FontScaling::LoadedFont);
        ui.SetMonospaceFont(g_mono);
      }
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      bool want_screenshot = false;
      std::string path;
      ui.Frame(want_screenshot, path);
      ImGui::Render();
      int w = 0, h = 0;
      glfwGetFramebufferSize(window, &w, &h);
      glViewport(0, 0, w, h);
      ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
      glClearColor(bg.x, bg.y, bg.z, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      ++frame;
      bool done = !options.screenshot.empty() && frame >= options.frames;
      if (done) {
        want_screenshot = true;
        path = options.screenshot;
      }
      if (want_screenshot) {
        try {
          SavePng(window, path);
          ui.SetMessage("saved " + path);
        } catch (const std::exception& e) {
          if (done) {
            error = e.what();
            break;
          }
          ui.SetMessage(std::string("screenshot failed: ") + e.what());
        }
      }
      glfwSwapBuffers(window);
      if (done) break;
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  if (!error.empty()) throw std::runtime_error("screenshot: " + error);
}

}  // namespace kvmscope::ui

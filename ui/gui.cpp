// The window and its frame loop: every frame takes one snapshot of the
// trace, draws the toolbar and the panels into their fixed places, handles
// the shortcuts (space run/pause, s step, f fit, F12 screenshot), renders.
#include "ui/gui.h"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <GL/gl.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <stb_image_write.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "traces/atomic_file.h"
#include "ui/chains_panel.h"
#include "ui/console_panel.h"
#include "ui/doctor_panel.h"
#include "ui/inspector.h"
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
  bool space = false, step = false, fit = false, screenshot = false;
};
Keys g_keys;
ImFont* g_mono = nullptr;  // the console's monospace font, when installed

void OnKey(GLFWwindow*, int key, int, int action, int) {
  if (action != GLFW_PRESS || ImGui::GetCurrentContext() == nullptr) return;
  if (ImGui::GetIO().WantTextInput) return;  // typing a path, not a shortcut
  switch (key) {
    case GLFW_KEY_SPACE: g_keys.space = true; break;
    case GLFW_KEY_S: g_keys.step = true; break;
    case GLFW_KEY_F: g_keys.fit = true; break;
    case GLFW_KEY_F12: g_keys.screenshot = true; break;
    default: break;
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

class Window {
 public:
  Window(Controller& controller, const GuiOptions& options)
      : m_controller(controller), m_options(options) {
    if (g_mono) m_console.SetMonospaceFont(g_mono);
  }

  void SetMessage(std::string message) { m_message = std::move(message); }

  void Frame(bool& want_screenshot, std::string& screenshot_path) {
    ImGuiIO& io = ImGui::GetIO();
    m_controller.Tick();
    Keys keys = g_keys;
    g_keys = {};
    if (keys.space) Toggle();
    if (keys.step) m_controller.Step();
    if (keys.fit) m_timeline.RequestFit();
    if (keys.screenshot) {
      want_screenshot = true;
      screenshot_path = "kvmscope-" + Stamp() + ".png";
    }
    m_view.live = m_controller.state() == RunState::Running || m_controller.state() == RunState::Paused;
    m_view.font_scale = m_options.font_scale;

    float toolbar_h = ImGui::GetFrameHeightWithSpacing() * 2 + ImGui::GetStyle().WindowPadding.y * 2;
    Layout layout = ComputeLayout(io.DisplaySize.x, io.DisplaySize.y, toolbar_h);
    traces::Trace::Snapshot snap = m_controller.trace().Read();
    const traces::TraceData& trace = *snap;
    constexpr ImGuiWindowFlags kFixed =
        ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse;
    auto place = [&](Pane p) {
      const Rect& r = layout[p];
      ImGui::SetNextWindowPos(ImVec2(r.x, r.y), ImGuiCond_Always);
      ImGui::SetNextWindowSize(ImVec2(r.w, r.h), ImGuiCond_Always);
    };

    place(Pane::Toolbar);
    ImGui::Begin("##toolbar", nullptr, kFixed | ImGuiWindowFlags_NoTitleBar);
    DrawToolbar(trace, want_screenshot, screenshot_path);
    ImGui::End();

    place(Pane::Timeline);
    ImGui::Begin("Timeline", nullptr, kFixed);
    m_timeline.Draw(trace, m_view);
    ImGui::End();

    place(Pane::Chains);
    ImGui::Begin("Call chains", nullptr, kFixed);
    m_chains.Draw(trace, m_view);
    ImGui::End();

    place(Pane::Inspector);
    ImGui::Begin("Inspector", nullptr, kFixed);
    m_inspector.Draw(trace, m_view);
    ImGui::End();

    place(Pane::Tabs);
    ImGui::Begin("##tabs", nullptr, kFixed | ImGuiWindowFlags_NoTitleBar);
    if (ImGui::BeginTabBar("tabs")) {
      if (ImGui::BeginTabItem("Stats")) {
        m_stats.Draw(trace, m_view);
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Guest console")) {
        m_console.Draw(trace);
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Doctor")) {
        m_doctor.Draw(trace);
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
    }
    ImGui::End();
  }

 private:
  void Toggle() {
    if (m_controller.state() == RunState::Running) {
      m_controller.Pause();
    } else if (m_controller.state() == RunState::Paused) {
      m_controller.Run();
    }
  }

  void DrawToolbar(const traces::TraceData& trace, bool& want_screenshot,
                   std::string& screenshot_path) {
    RunState state = m_controller.state();
    std::vector<std::string> guests = m_controller.guests();
    if (!guests.empty()) {
      std::string current = m_controller.guest();
      ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
      if (ImGui::BeginCombo("##guest", current.c_str())) {
        for (const std::string& g : guests) {
          if (ImGui::Selectable(g.c_str(), g == current)) m_message = m_controller.Select(g);
        }
        ImGui::EndCombo();
      }
      ImGui::SameLine();
      bool running = state == RunState::Running;
      if (ImGui::Button(running ? "Pause (space)" : "Run (space)")) Toggle();
      ImGui::SameLine();
      ImGui::BeginDisabled(state != RunState::Paused);
      if (ImGui::Button("Step (s)")) m_controller.Step();
      ImGui::EndDisabled();
      ImGui::SameLine();
      ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
      if (ImGui::SliderInt("slow ms", &m_slow_ms, 0, 1000)) m_controller.SetSlowMotion(m_slow_ms);
      ImGui::SameLine();
      if (ImGui::Button("Reset")) m_controller.Reset();
      ImGui::SameLine();
    }
    ImGui::TextUnformatted(m_controller.status().c_str());
    ImGui::SameLine();
    std::string lost = LostBadge(trace);
    ImGui::TextDisabled("| %s%s%s", PlanBadge(trace.host).c_str(), lost.empty() ? "" : " | ",
                        lost.c_str());

    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 16);
    ImGui::InputTextWithHint("##path", "file path (trace .json, guest file, .png)", m_path,
                             sizeof m_path);
    ImGui::SameLine();
    if (!guests.empty() && ImGui::Button("Run file")) m_message = m_controller.Select(m_path);
    if (!guests.empty()) ImGui::SameLine();
    if (ImGui::Button("Open")) m_message = m_controller.Open(m_path);
    ImGui::SameLine();
    if (ImGui::Button("Save")) m_message = m_controller.Save(m_path);
    ImGui::SameLine();
    if (ImGui::Button("Export Chrome")) m_message = m_controller.ExportChrome(m_path);
    ImGui::SameLine();
    if (ImGui::Button("PNG (F12)")) {
      want_screenshot = true;
      screenshot_path = m_path[0] ? m_path : "kvmscope-" + Stamp() + ".png";
    }
    ImGui::SameLine();
    if (ImGui::Button("Fit (f)")) m_timeline.RequestFit();
    if (!m_message.empty()) {
      ImGui::SameLine();
      ImGui::TextUnformatted(m_message.c_str());
    }
  }

  Controller& m_controller;
  GuiOptions m_options;
  SharedView m_view;
  TimelinePanel m_timeline;
  ChainsPanel m_chains;
  InspectorPanel m_inspector;
  StatsPanel m_stats;
  ConsolePanel m_console;
  DoctorPanel m_doctor;
  int m_slow_ms = 0;
  char m_path[512] = "";
  std::string m_message;
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
  if (std::filesystem::exists(kFontPath)) {
    // Latin-1 (µ, ×) plus the punctuation, arrows, math and box-drawing
    // characters the model's texts use (—, →, ⇢, ≥, └─).
    static const ImWchar kRanges[] = {0x0020, 0x00FF, 0x2000, 0x206F, 0x2190, 0x21FF,
                                      0x2200, 0x22FF, 0x2500, 0x257F, 0};
    io.Fonts->AddFontFromFileTTF(kFontPath, 16.0f * options.font_scale, nullptr, kRanges);
    if (std::filesystem::exists(kMonoFontPath)) {
      g_mono = io.Fonts->AddFontFromFileTTF(kMonoFontPath, 15.0f * options.font_scale, nullptr,
                                            kRanges);
    }
  } else {
    ImFontConfig config;
    config.SizePixels = 13.0f * options.font_scale;
    io.Fonts->AddFontDefault(&config);
  }
  // The font is loaded at its scaled size; the theme scales the rest.
  ApplyTheme(options.theme, options.font_scale, FontScaling::LoadedFont);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init(glsl);

  std::string error;
  {
    Window ui(controller, options);
    int frame = 0;
    while (!glfwWindowShouldClose(window)) {
      // Idle replays wait for input; a running guest redraws continuously.
      if (controller.state() == RunState::Running || !options.screenshot.empty()) {
        glfwPollEvents();
      } else {
        glfwWaitEventsTimeout(0.1);
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

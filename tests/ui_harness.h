// Runs ImGui frames with no window and no GPU (ImGui's example_null shape):
// panels draw into ImDrawLists that tests inspect, with mouse input set by
// the test. ImGui 1.86 (Debian 12): input goes straight into ImGuiIO fields.
#pragma once

#include <imgui.h>

#include <optional>

namespace kvmscope::ui {

class HeadlessImGui {
 public:
  explicit HeadlessImGui(ImVec2 size = ImVec2(1280, 720)) {
    m_context = ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = size;
    io.IniFilename = nullptr;  // no imgui.ini written by tests
    unsigned char* pixels = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);  // builds the font atlas
  }
  ~HeadlessImGui() { ImGui::DestroyContext(m_context); }
  HeadlessImGui(const HeadlessImGui&) = delete;
  HeadlessImGui& operator=(const HeadlessImGui&) = delete;

  struct Input {
    std::optional<ImVec2> mouse;  // nullopt: mouse outside the window
    bool left_down = false;
    float wheel = 0;
  };
  // One frame: sets the input, calls draw(), renders to draw lists.
  template <typename Draw>
  void Frame(Draw&& draw, const Input& input = {}) {
    ImGuiIO& io = ImGui::GetIO();
    io.DeltaTime = 1.0f / 60.0f;
    io.MousePos = input.mouse.value_or(ImVec2(-FLT_MAX, -FLT_MAX));
    io.MouseDown[0] = input.left_down;
    io.MouseWheel = input.wheel;
    ImGui::NewFrame();
    draw();
    ImGui::Render();
  }
  ImDrawData* draw_data() const { return ImGui::GetDrawData(); }

 private:
  ImGuiContext* m_context = nullptr;
};

}  // namespace kvmscope::ui

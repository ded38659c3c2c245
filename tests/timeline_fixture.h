// A timeline panel driven headless in a window that fills a 1280x720 screen:
// the frames and clicks the timeline and lecture tests share.
#pragma once

#include <gtest/gtest.h>

#include <optional>

#include "tests/ui_harness.h"
#include "traces/trace.h"
#include "ui/timeline.h"
#include "ui/view.h"

namespace kvmscope::ui {

class TimelineFrames : public ::testing::Test {
 protected:
  HeadlessImGui m_ui{ImVec2(1280, 720)};
  TimelinePanel m_panel;
  SharedView m_view;

  void Frame(const traces::TraceData& trace, HeadlessImGui::Input input = {}) {
    m_ui.Frame(
        [&] {
          ImGui::SetNextWindowPos(ImVec2(0, 0));
          ImGui::SetNextWindowSize(ImGui::GetIO().DisplaySize);
          ImGui::Begin("timeline", nullptr,
                       ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                           ImGuiWindowFlags_NoSavedSettings);
          m_panel.Draw(trace, m_view);
          ImGui::End();
        },
        input);
  }
  // The middle of a row of `lane` at time t_ns, on screen.
  ImVec2 RowCentre(RowKind kind, int64_t t_ns, size_t lane = 0) const {
    std::optional<RowGeometry> row = m_panel.Row(lane, kind);
    EXPECT_TRUE(row.has_value());
    return ImVec2(m_panel.TimeToScreenX(t_ns), row ? (row->y0 + row->y1) / 2 : 0);
  }
  // A click: move there, press, release (ImGui sees each as one frame).
  void Click(const traces::TraceData& trace, ImVec2 at) {
    Frame(trace, {at, false});
    Frame(trace, {at, true});
    Frame(trace, {at, false});
  }
};

}  // namespace kvmscope::ui

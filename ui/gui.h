// The desktop window: GLFW + OpenGL 3 around the ImGui panels, laid out for a
// projector, with keyboard shortcuts and PNG screenshots (also the
// `--screenshot FILE --frames N` mode used by docs and tests).
#pragma once

#include <functional>
#include <string>

#include "ui/controller.h"
#include "ui/theme.h"

namespace kvmscope::ui {

struct GuiOptions {
  Theme theme = Theme::Dark;
  float font_scale = 1.0f;
  int width = 1600;
  int height = 900;
  std::string screenshot;  // when set: render `frames` frames, save this PNG, return
  int frames = 60;
  // Polled at least every 100 ms: when it returns true the window closes as
  // if the user had closed it (app/ sets it from SIGINT/SIGTERM).
  std::function<bool()> quit_requested;
  // When set, the toolbar's widgets are written to this file ("label x y w
  // h" per line, screen pixels) whenever they move: window tests click them
  // with real X events (xdotool) without guessing coordinates.
  std::string widget_map;
  // The Labs tab: the labs folder, and the lab to open with the tab
  // selected (--lab), its answers file and the student id.
  std::string labs_dir;
  std::string lab;
  std::string lab_answers;
  std::string student;
};

// Whether a window can be opened at all (an X11 or Wayland display is set).
bool HaveDisplay();

// Opens the window and runs until it is closed (or the screenshot is saved).
// Throws std::runtime_error naming what failed (no display, no OpenGL 3).
void RunGui(Controller& controller, const GuiOptions& options);

}  // namespace kvmscope::ui

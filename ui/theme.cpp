// Colour themes and scaling: each theme is a small palette mapped onto all of
// ImGui's style colours, so that every colour a widget can draw text on is
// chosen (and tested) for contrast, not inherited from ImGui's defaults.
#include "ui/theme.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace kvmscope::ui {

namespace {

// 0xRRGGBB, opaque unless told.
ImVec4 Hex(uint32_t rgb, float alpha = 1.0f) {
  return ImVec4(static_cast<float>((rgb >> 16) & 0xff) / 255.0f,
                static_cast<float>((rgb >> 8) & 0xff) / 255.0f,
                static_cast<float>(rgb & 0xff) / 255.0f, alpha);
}

// The few colours a theme is made of; ImGui's ~50 style colours derive from
// them. Every fill that text is drawn on (frames, buttons, headers, title
// bars, selection) is dark enough (light theme: light enough) for the text.
struct Palette {
  uint32_t window_bg, popup_bg, text, text_dim, border;
  uint32_t frame, frame_hover, frame_active;     // input fields, combo, plot backgrounds
  uint32_t button, button_hover, button_active;  // also headers, tabs, selectables
  uint32_t title, title_active;
  uint32_t accent;      // check marks, grabs, histogram bars
  uint32_t accent_alt;  // plot lines, hovered bars
  uint32_t selection;   // selected text background
  uint32_t table_header, table_strong, table_light, table_row_alt;
  uint32_t scrollbar_grab;
  std::array<uint32_t, kStatuses> status;
};

constexpr Palette kDark = {
    .window_bg = 0x16181c,
    .popup_bg = 0x1d2025,
    .text = 0xe8eaed,
    .text_dim = 0x9aa0a6,
    .border = 0x4a505a,
    .frame = 0x2a2e35,
    .frame_hover = 0x363c45,
    .frame_active = 0x414955,
    .button = 0x2b4f7a,
    .button_hover = 0x35609a,
    .button_active = 0x3a68a8,
    .title = 0x111317,
    .title_active = 0x1f3a5c,
    .accent = 0x5aa9f0,
    .accent_alt = 0xe0a040,
    .selection = 0x2b4f7a,
    .table_header = 0x24282e,
    .table_strong = 0x4a505a,
    .table_light = 0x33373e,
    .table_row_alt = 0x1c1f24,
    .scrollbar_grab = 0x4a505a,
    // observed, present, absent, n/a, selected, highlight, warning
    .status = {0x4cc76a, 0x5aa9f0, 0xe5534b, 0x9aa0a6, 0xffd33d, 0x3dd6d0, 0xff9e3d},
};

constexpr Palette kLight = {
    .window_bg = 0xfafafa,
    .popup_bg = 0xffffff,
    .text = 0x1f2328,
    .text_dim = 0x59636e,
    .border = 0x8c959f,
    .frame = 0xeceef1,
    .frame_hover = 0xdde3ea,
    .frame_active = 0xcfd8e3,
    .button = 0xdce6f2,
    .button_hover = 0xc5d7ee,
    .button_active = 0xafc8e8,
    .title = 0xe6e9ed,
    .title_active = 0xc5d7ee,
    .accent = 0x0969da,
    .accent_alt = 0xbc4c00,
    .selection = 0xb6d4f7,
    .table_header = 0xe6e9ed,
    .table_strong = 0x8c959f,
    .table_light = 0xd0d7de,
    .table_row_alt = 0xf0f2f4,
    .scrollbar_grab = 0xafb8c1,
    .status = {0x1a7f37, 0x0550ae, 0xb3261e, 0x57606a, 0x7d4e00, 0x8250df, 0xa84300},
};

// For the projector: black and white, accents at full saturation, nothing
// translucent, every fill that carries text a deep blue white text stands on.
constexpr Palette kHighContrast = {
    .window_bg = 0x000000,
    .popup_bg = 0x000000,
    .text = 0xffffff,
    .text_dim = 0xd0d0d0,
    .border = 0xffffff,
    .frame = 0x1a1a1a,
    .frame_hover = 0x003a8c,
    .frame_active = 0x0050c0,
    .button = 0x000000,
    .button_hover = 0x003a8c,
    .button_active = 0x0050c0,
    .title = 0x000000,
    .title_active = 0x003a8c,
    .accent = 0xffff00,
    .accent_alt = 0x00ffff,
    .selection = 0x0000ff,
    .table_header = 0x262626,
    .table_strong = 0xffffff,
    .table_light = 0xa0a0a0,
    .table_row_alt = 0x141414,
    .scrollbar_grab = 0xc0c0c0,
    .status = {0x00ff00, 0x00ffff, 0xff6060, 0xc0c0c0, 0xffff00, 0xff60ff, 0xff9900},
};

const Palette& PaletteOf(Theme theme) {
  switch (theme) {
    case Theme::Dark: return kDark;
    case Theme::Light: return kLight;
    case Theme::HighContrast: return kHighContrast;
  }
  return kDark;
}

void SetColors(ImVec4* c, const Palette& p) {
  c[ImGuiCol_Text] = Hex(p.text);
  c[ImGuiCol_TextDisabled] = Hex(p.text_dim);
  c[ImGuiCol_WindowBg] = Hex(p.window_bg);
  c[ImGuiCol_ChildBg] = Hex(p.window_bg, 0.0f);  // children show their window's background
  c[ImGuiCol_PopupBg] = Hex(p.popup_bg);
  c[ImGuiCol_Border] = Hex(p.border);
  c[ImGuiCol_BorderShadow] = Hex(0, 0.0f);
  c[ImGuiCol_FrameBg] = Hex(p.frame);
  c[ImGuiCol_FrameBgHovered] = Hex(p.frame_hover);
  c[ImGuiCol_FrameBgActive] = Hex(p.frame_active);
  c[ImGuiCol_TitleBg] = Hex(p.title);
  c[ImGuiCol_TitleBgActive] = Hex(p.title_active);
  c[ImGuiCol_TitleBgCollapsed] = Hex(p.title);
  c[ImGuiCol_MenuBarBg] = Hex(p.table_header);
  c[ImGuiCol_ScrollbarBg] = Hex(p.window_bg);
  c[ImGuiCol_ScrollbarGrab] = Hex(p.scrollbar_grab);
  c[ImGuiCol_ScrollbarGrabHovered] = Hex(p.accent);
  c[ImGuiCol_ScrollbarGrabActive] = Hex(p.accent);
  c[ImGuiCol_CheckMark] = Hex(p.accent);
  c[ImGuiCol_SliderGrab] = Hex(p.accent);
  c[ImGuiCol_SliderGrabActive] = Hex(p.accent_alt);
  c[ImGuiCol_Button] = Hex(p.button);
  c[ImGuiCol_ButtonHovered] = Hex(p.button_hover);
  c[ImGuiCol_ButtonActive] = Hex(p.button_active);
  c[ImGuiCol_Header] = Hex(p.button);
  c[ImGuiCol_HeaderHovered] = Hex(p.button_hover);
  c[ImGuiCol_HeaderActive] = Hex(p.button_active);
  c[ImGuiCol_Separator] = Hex(p.border);
  c[ImGuiCol_SeparatorHovered] = Hex(p.accent);
  c[ImGuiCol_SeparatorActive] = Hex(p.accent);
  c[ImGuiCol_ResizeGrip] = Hex(p.border);
  c[ImGuiCol_ResizeGripHovered] = Hex(p.accent);
  c[ImGuiCol_ResizeGripActive] = Hex(p.accent);
  c[ImGuiCol_Tab] = Hex(p.frame);
  c[ImGuiCol_TabHovered] = Hex(p.button_hover);
  c[ImGuiCol_TabActive] = Hex(p.button_active);
  c[ImGuiCol_TabUnfocused] = Hex(p.frame);
  c[ImGuiCol_TabUnfocusedActive] = Hex(p.button);
  c[ImGuiCol_PlotLines] = Hex(p.accent_alt);
  c[ImGuiCol_PlotLinesHovered] = Hex(p.accent);
  c[ImGuiCol_PlotHistogram] = Hex(p.accent);
  c[ImGuiCol_PlotHistogramHovered] = Hex(p.accent_alt);
  c[ImGuiCol_TableHeaderBg] = Hex(p.table_header);
  c[ImGuiCol_TableBorderStrong] = Hex(p.table_strong);
  c[ImGuiCol_TableBorderLight] = Hex(p.table_light);
  c[ImGuiCol_TableRowBg] = Hex(p.window_bg, 0.0f);
  c[ImGuiCol_TableRowBgAlt] = Hex(p.table_row_alt);
  c[ImGuiCol_TextSelectedBg] = Hex(p.selection);
  c[ImGuiCol_DragDropTarget] = Hex(p.accent);
  c[ImGuiCol_NavHighlight] = Hex(p.accent);
  c[ImGuiCol_NavWindowingHighlight] = Hex(p.accent);
  c[ImGuiCol_NavWindowingDimBg] = Hex(0x808080, 0.35f);
  c[ImGuiCol_ModalWindowDimBg] = Hex(0x000000, 0.6f);
}

// The last theme applied (one GUI per process).
Theme g_current_theme = Theme::Dark;

double Linear(float channel) {
  const double c = std::clamp(static_cast<double>(channel), 0.0, 1.0);
  return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

}  // namespace

std::optional<Theme> ParseTheme(std::string_view name) {
  if (name == "dark") return Theme::Dark;
  if (name == "light") return Theme::Light;
  if (name == "high-contrast") return Theme::HighContrast;
  return std::nullopt;
}

std::string_view ThemeName(Theme theme) {
  switch (theme) {
    case Theme::Dark: return "dark";
    case Theme::Light: return "light";
    case Theme::HighContrast: return "high-contrast";
  }
  return "dark";
}

void ApplyTheme(Theme theme, float font_scale, FontScaling scaling) {
  const float scale = std::clamp(std::isfinite(font_scale) ? font_scale : 1.0f, 0.5f, 4.0f);
  ImGuiStyle& style = ImGui::GetStyle();
  style = ImGuiStyle();  // ImGui's default sizes: scaling starts from them every time
  style.WindowRounding = 0;
  style.ChildRounding = 0;
  style.FrameRounding = 2;
  style.PopupRounding = 2;
  style.GrabRounding = 2;
  style.TabRounding = 2;
  style.ScrollbarRounding = 2;
  style.CellPadding = ImVec2(6, 3);
  if (theme == Theme::HighContrast) {
    // Seen from the back row: square corners, borders on every frame, fat
    // scrollbars and grabs.
    style.FrameRounding = style.PopupRounding = style.GrabRounding = 0;
    style.TabRounding = style.ScrollbarRounding = 0;
    style.ScrollbarSize = 18;
    style.GrabMinSize = 14;
  }
  SetColors(style.Colors, PaletteOf(theme));
  style.ScaleAllSizes(scale);
  // ScaleAllSizes leaves border widths alone.
  const float border =
      theme == Theme::HighContrast ? std::max(2.0f, std::round(1.5f * scale)) : 1.0f;
  style.WindowBorderSize = border;
  style.ChildBorderSize = border;
  style.PopupBorderSize = border;
  style.FrameBorderSize = theme == Theme::HighContrast ? border : 0.0f;
  style.TabBorderSize = theme == Theme::HighContrast ? border : 0.0f;
  ImGui::GetIO().FontGlobalScale = scaling == FontScaling::Global ? scale : 1.0f;
  g_current_theme = theme;
}

Theme CurrentTheme() {
  return g_current_theme;
}

std::string_view StatusName(Status status) {
  switch (status) {
    case Status::Observed: return "observed";
    case Status::Present: return "present";
    case Status::Absent: return "absent";
    case Status::NotApplicable: return "n/a";
    case Status::Selected: return "selected";
    case Status::Highlight: return "highlight";
    case Status::Warning: return "warning";
    case Status::Count: break;
  }
  return "";
}

ImVec4 StatusColorVec(Status status, Theme theme) {
  const size_t i = std::min(static_cast<size_t>(status), kStatuses - 1);
  return Hex(PaletteOf(theme).status[i]);
}

ImU32 StatusColor(Status status, Theme theme) {
  return ImGui::ColorConvertFloat4ToU32(StatusColorVec(status, theme));
}

ImU32 StatusColor(Status status) {
  return StatusColor(status, g_current_theme);
}

double RelativeLuminance(const ImVec4& color) {
  return 0.2126 * Linear(color.x) + 0.7152 * Linear(color.y) + 0.0722 * Linear(color.z);
}

double ContrastRatio(const ImVec4& a, const ImVec4& b) {
  const double la = RelativeLuminance(a), lb = RelativeLuminance(b);
  return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

ImVec4 Over(const ImVec4& top, const ImVec4& bottom) {
  const float a = std::clamp(top.w, 0.0f, 1.0f);
  return ImVec4(top.x * a + bottom.x * (1 - a), top.y * a + bottom.y * (1 - a),
                top.z * a + bottom.z * (1 - a), 1.0f);
}

}  // namespace kvmscope::ui

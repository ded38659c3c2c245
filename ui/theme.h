// Colour themes and scaling for the GUI: dark, light and a high-contrast one
// for the lecture-hall projector (pure black and white, thick borders,
// saturated accents), plus the status palette every panel colours facts with.
#pragma once

#include <imgui.h>

#include <optional>
#include <string_view>

namespace kvmscope::ui {

enum class Theme { Dark, Light, HighContrast };

// "dark", "light", "high-contrast"; nullopt for anything else.
std::optional<Theme> ParseTheme(std::string_view name);
std::string_view ThemeName(Theme theme);

// How text gets bigger with the scale: ImGui stretches the font
// (io.FontGlobalScale, blurry beyond ~1.5x), or the font was loaded at the
// scaled size already (crisp; only paddings, spacings and borders scale).
enum class FontScaling { Global, LoadedFont };

// Sets every ImGui style colour for `theme` and scales sizes (and, with
// FontScaling::Global, the font) by `font_scale`, clamped to [0.5, 4].
// Idempotent: the style starts from ImGui's defaults on every call, so
// applying twice does not scale twice. Needs a current ImGui context.
// Remembers `theme` for StatusColor(Status).
void ApplyTheme(Theme theme, float font_scale, FontScaling scaling = FontScaling::Global);
// The theme last applied (Dark before any ApplyTheme).
Theme CurrentTheme();

// What a colour says about a fact, the same in every panel.
enum class Status {
  Observed,       // seen in this trace
  Present,        // exists on this host (in /proc/kallsyms, attached) but not seen
  Absent,         // not in this kernel / not attached
  NotApplicable,  // does not apply here (greyed)
  Selected,       // the selected event or row
  Highlight,      // hovered, or related to the selection
  Warning,        // something went wrong: events lost, kernel not traced
  Count
};
inline constexpr size_t kStatuses = static_cast<size_t>(Status::Count);
std::string_view StatusName(Status status);  // "observed", "present", ...

// Status colours are readable as text on the theme's window background
// (contrast >= 4.5:1; >= 7:1 in the high-contrast theme).
ImVec4 StatusColorVec(Status status, Theme theme);
ImU32 StatusColor(Status status, Theme theme);
ImU32 StatusColor(Status status);  // in CurrentTheme()

// WCAG 2 relative luminance of an sRGB colour (alpha ignored) and the
// contrast ratio of two colours, 1:1 to 21:1.
double RelativeLuminance(const ImVec4& color);
double ContrastRatio(const ImVec4& a, const ImVec4& b);
// `top` drawn over the opaque `bottom` (alpha blending), opaque.
ImVec4 Over(const ImVec4& top, const ImVec4& bottom);

}  // namespace kvmscope::ui

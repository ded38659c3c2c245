// The timeline's colours: one per kernel event kind (grouped by family: exits
// red, entries green, I/O cyan, MMU blue, faults orange), one per span kind,
// per theme; each contrasts >= 3:1 with the canvas it is drawn on.
#pragma once

#include <imgui.h>

#include <array>
#include <cstdint>

#include "traces/trace.h"
#include "ui/theme.h"

namespace kvmscope::ui {

// The colours of the timeline canvas under one theme. The canvas paints its
// own background (the theme's window background), so these hold whatever
// style the window has.
struct TimelinePalette {
  ImU32 background;  // the canvas; equal to the theme's window background
  ImU32 lane_alt;    // every other lane, a shade off the background
  ImU32 grid;        // time-axis ticks and lane separators
  ImU32 text;        // lane labels, tick labels
  ImU32 text_dim;    // secondary text
  ImU32 fold;        // "N events" boxes of mixed kinds
  ImU32 vmm_event;   // any VMM event (ioctl, device access, status...)
  std::array<ImU32, traces::kKernelEventKinds> kernel;  // by KernelEventKind
  std::array<ImU32, traces::kSpanKinds> span;           // by SpanKind
  std::array<ImU32, traces::kSpanKinds> span_label;     // text on a span bar
};

namespace colors_detail {

// 0xRRGGBB to an opaque ImU32 (IM_COL32 is ABGR).
constexpr ImU32 Rgb(uint32_t rgb) {
  return IM_COL32((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff, 0xff);
}
constexpr ImU32 kBlack = Rgb(0x000000), kWhite = Rgb(0xffffff);

// Kernel kinds in KernelEventKind order; three shades of the same hue per
// kind: light-on-dark, dark-on-light, brightest-on-black.
struct KindShades {
  uint32_t dark, light, high_contrast;
};
constexpr std::array<KindShades, traces::kKernelEventKinds> kKindShades = {{
    {0x94a3b8, 0x475569, 0xcbd5e1},  // RunEnter: slate
    {0xa8a29e, 0x57534e, 0xd6d3d1},  // RunExit: stone
    {0xfb7185, 0xbe123c, 0xfda4af},  // ExitHandler: rose
    {0xfb923c, 0xc2410c, 0xfdba74},  // MmuPageFault: orange (page faults)
    {0xf87171, 0xb91c1c, 0xfca5a5},  // KvmExit: red (exits)
    {0x4ade80, 0x15803d, 0x86efac},  // KvmEntry: green (entries)
    {0xa78bfa, 0x6d28d9, 0xc4b5fd},  // UserspaceExit: violet
    {0x22d3ee, 0x0e7490, 0x67e8f9},  // Pio: cyan (I/O)
    {0x2dd4bf, 0x0f766e, 0x5eead4},  // Mmio: teal (I/O)
    {0xfacc15, 0xa16207, 0xfde047},  // EmulateInsn: yellow
    {0xe879f9, 0xa21caf, 0xf0abfc},  // InjException: fuchsia (injection)
    {0xf472b6, 0xbe185d, 0xf9a8d4},  // InjVirq: pink (injection)
    {0xa3e635, 0x4d7c0f, 0xbef264},  // Cpuid: lime
    {0x818cf8, 0x4338ca, 0xa5b4fc},  // Msr: indigo
    {0x34d399, 0x047857, 0x6ee7b7},  // Hypercall: emerald
    {0xfbbf24, 0xb45309, 0xfcd34d},  // PageFault: amber (page faults)
    {0x38bdf8, 0x0369a1, 0x7dd3fc},  // MmuWalk: sky (MMU)
    {0x60a5fa, 0x1d4ed8, 0x93c5fd},  // MmuSetSpte: blue (MMU)
    {0xc084fc, 0x7e22ce, 0xd8b4fe},  // MmuWalkerError: purple
}};

// Span kinds in SpanKind order: Run, KernelRun, Guest, KernelHandling, VmmHandling.
constexpr std::array<KindShades, traces::kSpanKinds> kSpanShades = {{
    {0x60a5fa, 0x2563eb, 0x93c5fd},  // KVM_RUN: blue
    {0x94a3b8, 0x475569, 0xcbd5e1},  // kernel KVM_RUN: slate
    {0x4ade80, 0x15803d, 0x86efac},  // guest: green
    {0xfb7185, 0xbe123c, 0xfda4af},  // kernel handling: rose
    {0xfbbf24, 0xb45309, 0xfcd34d},  // VMM handling: amber
}};

constexpr TimelinePalette Make(int shade, uint32_t bg, uint32_t alt, uint32_t grid, uint32_t text,
                               uint32_t dim, uint32_t fold, uint32_t vmm) {
  TimelinePalette p{};
  p.background = Rgb(bg);
  p.lane_alt = Rgb(alt);
  p.grid = Rgb(grid);
  p.text = Rgb(text);
  p.text_dim = Rgb(dim);
  p.fold = Rgb(fold);
  p.vmm_event = Rgb(vmm);
  auto pick = [shade](const KindShades& s) {
    return shade == 0 ? s.dark : shade == 1 ? s.light : s.high_contrast;
  };
  for (size_t i = 0; i < p.kernel.size(); ++i) p.kernel[i] = Rgb(pick(kKindShades[i]));
  for (size_t i = 0; i < p.span.size(); ++i) {
    p.span[i] = Rgb(pick(kSpanShades[i]));
    // The light theme's spans are deep enough for white text; the others
    // are bright enough for black (each >= 4.5:1, checked by the tests).
    p.span_label[i] = shade == 1 ? kWhite : kBlack;
  }
  return p;
}

// Backgrounds as in ui/theme.cpp's window backgrounds.
constexpr TimelinePalette kDark =
    Make(0, 0x16181c, 0x1e2127, 0x3a3f47, 0xe8eaed, 0x9aa0a6, 0x71717a, 0xe5e7eb);
constexpr TimelinePalette kLight =
    Make(1, 0xfafafa, 0xeef0f3, 0xc9ced6, 0x1f2328, 0x59636e, 0x71717a, 0x1f2937);
constexpr TimelinePalette kHighContrast =
    Make(2, 0x000000, 0x141414, 0x808080, 0xffffff, 0xd0d0d0, 0xa1a1aa, 0xffffff);

}  // namespace colors_detail

inline const TimelinePalette& PaletteFor(Theme theme) {
  switch (theme) {
    case Theme::Dark: return colors_detail::kDark;
    case Theme::Light: return colors_detail::kLight;
    case Theme::HighContrast: return colors_detail::kHighContrast;
  }
  return colors_detail::kDark;
}

// The colour of an event's marker: its kernel kind's, or the VMM colour.
inline ImU32 KindColor(traces::EventType type, Theme theme) {
  const TimelinePalette& p = PaletteFor(theme);
  if (type.origin == traces::Origin::Vmm || type.kind >= p.kernel.size()) return p.vmm_event;
  return p.kernel[type.kind];
}

inline ImU32 SpanColor(traces::SpanKind kind, Theme theme) {
  return PaletteFor(theme).span[static_cast<size_t>(kind)];
}

}  // namespace kvmscope::ui

// The real window under Xvfb (a real X server and Mesa's software OpenGL):
// live hello and pagefault runs and a replay each render frames and save a
// screenshot, whose pixels are checked where the layout puts the timeline
// lanes and the chain boxes. Skips with the reason where Xvfb is missing.
#include <gtest/gtest.h>
#include <stb_image.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "kvm_available.h"
#include "run_command.h"
#include "ui/layout.h"

namespace {

namespace fs = std::filesystem;

using kvmscope::test::Capture;
using kvmscope::test::Result;

struct Image {
  int w = 0, h = 0;
  std::vector<unsigned char> rgb;
  // Standard deviation of the luminance inside a rectangle: 0 for a flat
  // colour, large where something is drawn.
  double Detail(const kvmscope::ui::Rect& r) const {
    double sum = 0, sum2 = 0;
    size_t n = 0;
    for (int y = int(r.y); y < int(r.y + r.h) && y < h; ++y) {
      for (int x = int(r.x); x < int(r.x + r.w) && x < w; ++x) {
        const unsigned char* p = &rgb[(size_t(y) * w + x) * 3];
        double l = 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
        sum += l;
        sum2 += l * l;
        ++n;
      }
    }
    if (!n) return 0;
    double mean = sum / n;
    return std::sqrt(std::max(0.0, sum2 / n - mean * mean));
  }
  // The share of strongly coloured pixels inside a rectangle: spans, markers
  // and lit chain boxes are saturated; text, grid lines and backgrounds are
  // grey in every theme.
  double Colored(const kvmscope::ui::Rect& r) const {
    size_t colored = 0, n = 0;
    for (int y = int(r.y); y < int(r.y + r.h) && y < h; ++y) {
      for (int x = int(r.x); x < int(r.x + r.w) && x < w; ++x) {
        const unsigned char* p = &rgb[(size_t(y) * w + x) * 3];
        int hi = std::max({p[0], p[1], p[2]}), lo = std::min({p[0], p[1], p[2]});
        colored += hi - lo > 60;
        ++n;
      }
    }
    return n ? double(colored) / n : 0;
  }
};

Image LoadPng(const std::string& path) {
  Image img;
  int channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &img.w, &img.h, &channels, 3);
  if (data) {
    img.rgb.assign(data, data + size_t(img.w) * img.h * 3);
    stbi_image_free(data);
  }
  return img;
}

class Window : public ::testing::Test {
 protected:
  void SetUp() override {
    if (system("command -v xvfb-run >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "xvfb-run is not installed (scripts/setup.sh installs xvfb)";
    }
    dir = fs::temp_directory_path() / ("kvmscope-ui-" + std::to_string(getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  // Runs `kvmscope gui ARGS --screenshot` in a 1600×900 Xvfb screen and
  // returns the image.
  Image Shoot(const std::string& args, const std::string& name) {
    return ShootAt(args, name, 1600, 900);
  }
  Image ShootAt(const std::string& args, const std::string& name, int w, int h) {
    std::string png = (dir / name).string();
    std::string size = std::to_string(w) + "x" + std::to_string(h);
    Result r = Capture("xvfb-run -a -s '-screen 0 " + size + "x24' " KVMSCOPE_BIN " gui " + args +
                       " --width " + std::to_string(w) + " --height " + std::to_string(h) +
                       " --frames 40 --widget-map " + (dir / "widgets.txt").string() +
                       " --screenshot " + png + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(fs::exists(png)) << r.output;
    return LoadPng(png);
  }

  // The picture is not blank, and the cycle and timeline panes are drawn on
  // (toolbar height: what the window's widget map says it used).
  void CheckLayout(const Image& img, int w = 1600, int h = 900, float toolbar = 0) {
    ASSERT_EQ(img.w, w);
    ASSERT_EQ(img.h, h);
    kvmscope::ui::Rect all{0, 0, float(w), float(h)};
    EXPECT_GT(img.Detail(all), 10.0);
    if (toolbar <= 0) toolbar = ToolbarHeight();
    kvmscope::ui::Layout l = kvmscope::ui::ComputeLayout(w, h, toolbar);
    using kvmscope::ui::Pane;
    kvmscope::ui::Rect lanes = l[Pane::Timeline];
    lanes.y += 40;  // below the title bar
    lanes.h -= 40;
    EXPECT_GT(img.Detail(lanes), 8.0) << "timeline lanes look empty";
    // KVM_RUN bars and event markers are coloured; an empty timeline (axis,
    // grid, labels) has no coloured pixel at all.
    kvmscope::ui::Rect timeline = l[Pane::Timeline];
    EXPECT_GT(img.Colored(timeline), 0.003) << "no KVM_RUN bars or markers in the timeline";
    kvmscope::ui::Rect cycle = l[Pane::Cycle];
    cycle.y += 40;
    cycle.h -= 40;
    EXPECT_GT(img.Detail(cycle), 8.0) << "the cycle looks empty";
    EXPECT_GT(img.Colored(cycle), 0.01) << "no coloured (lit or selected) step in the cycle";
  }

  // The toolbar's widgets as the window drew them (--widget-map).
  std::map<std::string, std::array<float, 4>> Widgets() const {
    std::map<std::string, std::array<float, 4>> widgets;
    std::ifstream in(dir / "widgets.txt");
    for (std::string line; std::getline(in, line);) {
      std::istringstream row(line);
      std::string name;
      std::array<float, 4> r{};
      if (row >> name >> r[0] >> r[1] >> r[2] >> r[3]) widgets[name] = r;
    }
    return widgets;
  }
  float ToolbarHeight() const {
    float bottom = 0;
    for (const auto& [name, r] : Widgets()) bottom = std::max(bottom, r[1] + r[3]);
    return bottom + 8;  // the window's padding below the last row
  }

  fs::path dir;
};

TEST_F(Window, LiveHelloRendersCycleAndTimeline) {
  KVMSCOPE_REQUIRE_KVM();
  CheckLayout(Shoot("--guest hello", "hello.png"));
}

TEST_F(Window, LivePagefaultRendersCycleAndTimeline) {
  KVMSCOPE_REQUIRE_KVM();
  CheckLayout(Shoot("--guest pagefault", "pagefault.png"));
}

TEST_F(Window, ReplayOfARecordedTraceNeedsNoKvm) {
  CheckLayout(Shoot(KVMSCOPE_TESTDATA "/pagefault-pvm.json", "replay.png"));
}

// The projector sizes: every toolbar widget inside the window (it wraps,
// never runs off the right edge), every pane drawn on, at 1920x1080 and at
// 1280x720 with --font-scale 1.5.
TEST_F(Window, ProjectorSizesKeepEveryWidgetOnScreen) {
  struct Size {
    int w, h;
    const char* scale;
  };
  for (Size s : {Size{1920, 1080, "1"}, Size{1280, 720, "1.5"}}) {
    SCOPED_TRACE(std::to_string(s.w) + "x" + std::to_string(s.h) + " x" + s.scale);
    Image img = ShootAt(KVMSCOPE_TESTDATA "/pagefault-pvm.json --theme high-contrast --font-scale " +
                            std::string(s.scale),
                        "projector.png", s.w, s.h);
    auto widgets = Widgets();
    ASSERT_GT(widgets.size(), 8u);
    for (const auto& [name, r] : widgets) {
      if (name.rfind("guest:", 0) == 0) continue;  // the closed picker's items
      if (name.rfind("tab:", 0) == 0) continue;    // the tabs' headers, in their pane below
      EXPECT_GE(r[0], 0) << name;
      EXPECT_LE(r[0] + r[2], s.w) << name << " runs off the right edge";
      EXPECT_LE(r[1] + r[3], s.h / 3.0f) << name << " is below the toolbar";
    }
    CheckLayout(img, s.w, s.h);
  }
}

TEST_F(Window, AScreenshotIntoAMissingFolderIsAUsageErrorBeforeAnyWindow) {
  Result r = Capture("xvfb-run -a " KVMSCOPE_BIN " gui " KVMSCOPE_TESTDATA
                     "/pagefault-pvm.json --screenshot /nonexistent-dir/x.png 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent-dir"), std::string::npos) << r.output;
}

TEST_F(Window, ABadTraceIsAUsageErrorBeforeAnyWindow) {
  Result r = Capture("xvfb-run -a " KVMSCOPE_BIN " gui /nonexistent.json 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent.json"), std::string::npos) << r.output;
}

TEST_F(Window, WithoutADisplayTheGuiSaysSo) {
  Result r = Capture("env -u DISPLAY -u WAYLAND_DISPLAY " KVMSCOPE_BIN " gui --guest hello 2>&1");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("no display"), std::string::npos) << r.output;
}

}  // namespace

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
    std::string png = (dir / name).string();
    Result r = Capture("xvfb-run -a -s '-screen 0 1600x900x24' " KVMSCOPE_BIN " gui " + args +
                       " --width 1600 --height 900 --frames 40 --screenshot " + png + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(fs::exists(png)) << r.output;
    return LoadPng(png);
  }

  // The picture is not blank, and the timeline and chain panes are drawn on.
  void CheckLayout(const Image& img) {
    ASSERT_EQ(img.w, 1600);
    ASSERT_EQ(img.h, 900);
    kvmscope::ui::Rect all{0, 0, 1600, 900};
    EXPECT_GT(img.Detail(all), 10.0);
    // The toolbar's height depends on the font: about two rows of widgets.
    kvmscope::ui::Layout l = kvmscope::ui::ComputeLayout(1600, 900, 68);
    using kvmscope::ui::Pane;
    kvmscope::ui::Rect lanes = l[Pane::Timeline];
    lanes.y += 40;  // below the title bar
    lanes.h -= 40;
    EXPECT_GT(img.Detail(lanes), 8.0) << "timeline lanes look empty";
    // KVM_RUN bars and event markers are coloured; an empty timeline (axis,
    // grid, labels) has no coloured pixel at all.
    kvmscope::ui::Rect timeline = l[Pane::Timeline];
    EXPECT_GT(img.Colored(timeline), 0.003) << "no KVM_RUN bars or markers in the timeline";
    kvmscope::ui::Rect chains = l[Pane::Chains];
    chains.y += 40;
    chains.h -= 40;
    EXPECT_GT(img.Detail(chains), 8.0) << "chain boxes look empty";
    EXPECT_GT(img.Colored(chains), 0.02) << "no coloured (lit or marked) chain boxes";
  }

  fs::path dir;
};

TEST_F(Window, LiveHelloRendersTimelineAndChains) {
  KVMSCOPE_REQUIRE_KVM();
  CheckLayout(Shoot("--guest hello", "hello.png"));
}

TEST_F(Window, LivePagefaultRendersTimelineAndChains) {
  KVMSCOPE_REQUIRE_KVM();
  CheckLayout(Shoot("--guest pagefault", "pagefault.png"));
}

TEST_F(Window, ReplayOfARecordedTraceNeedsNoKvm) {
  CheckLayout(Shoot(KVMSCOPE_TESTDATA "/pagefault-pvm.json", "replay.png"));
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

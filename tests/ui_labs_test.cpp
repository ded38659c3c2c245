// The Labs panel headless (ImGui with no window): lab 1 (labs/01-run-loop.md)
// over a hello trace recorded by the kvmscope binary, answers typed through
// the panel's model, checked, graded from that trace, saved and resumed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "traces/trace_json.h"
#include "ui/labs_panel.h"
#include "ui_harness.h"

namespace kvmscope::ui {
namespace {
namespace fs = std::filesystem;

class NoController : public Controller {
 public:
  std::shared_ptr<traces::Trace> trace() override { return std::make_shared<traces::Trace>(); }
  RunState state() const override { return RunState::Replay; }
  std::string status() const override { return "replay"; }
  std::string Open(const std::string&) override { return ""; }
  std::string Save(const std::string&) override { return ""; }
  std::string ExportChrome(const std::string&) override { return ""; }
  std::string RunGuest(const std::string& name, std::optional<uint64_t>) override {
    ran.push_back(name);
    return "running " + name;
  }
  std::vector<std::string> ran;
};

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(LabsPanel, RunLoopOverARecordedHelloTrace) {
  const fs::path dir = fs::temp_directory_path() / ("kvmscope-labs-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path trace_path = dir / "hello.json";
  const std::string cmd = std::string(KVMSCOPE_BIN) + " run --guest hello --no-probes --quiet -o " +
                          trace_path.string() + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0 || !fs::exists(trace_path)) {
    fs::remove_all(dir);
    GTEST_SKIP() << "could not record a hello trace (no /dev/kvm?): " << cmd;
  }
  const traces::TraceData trace = traces::LoadTrace(trace_path.string());
  const fs::path answers = dir / "answers.txt";

  NoController controller;
  std::vector<std::function<void()>> queued;
  LabsOptions options{KVMSCOPE_LABS, "run-loop", answers.string(), "alice"};
  auto panel = std::make_unique<LabsPanel>(controller, options,
                                           [&](std::function<void()> c) { queued.push_back(std::move(c)); },
                                           nullptr);
  HeadlessImGui imgui(ImVec2(1280, 720));
  SharedView view;
  imgui.Frame([&] {
    ImGui::Begin("labs");
    panel->Draw(trace, view);
    ImGui::End();
  });
  LabProgress* p = panel->progress();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->lab().id, "run-loop");

  // Predict, run the step (queued, not run during the frame), predict again: locked.
  p->SetPrediction("runs", "20");
  panel->RunStep();
  EXPECT_TRUE(controller.ran.empty());
  ASSERT_EQ(queued.size(), 1u);
  queued.front()();
  EXPECT_EQ(controller.ran, std::vector<std::string>{"hello"});
  EXPECT_TRUE(p->PredictionLocked("runs"));
  p->SetPrediction("runs", "26");
  EXPECT_EQ(p->Prediction("runs"), "20");

  // Wrong (with the lab's mistake and hint), then right.
  p->SetAnswer("io-exits", "26");
  panel->Check("io-exits", trace);
  const lab::QuestionResult* r = p->Result("io-exits");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->status, lab::Status::Wrong) << r->feedback;
  EXPECT_NE(r->feedback.find("your trace says 25"), std::string::npos) << r->feedback;
  EXPECT_NE(r->feedback.find("including the one that ended in KVM_EXIT_HLT"), std::string::npos) << r->feedback;
  EXPECT_NE(r->hint.find("Count the characters"), std::string::npos) << r->hint;
  EXPECT_NE(panel->message().find("io-exits: wrong"), std::string::npos) << panel->message();
  // Checking the same answer again is not another attempt.
  panel->Check("io-exits", trace);
  EXPECT_EQ(p->Attempts("io-exits"), 1);
  p->SetAnswer("io-exits", "25");
  panel->Check("io-exits", trace);
  EXPECT_EQ(p->Result("io-exits")->status, lab::Status::Correct) << p->Result("io-exits")->feedback;
  EXPECT_EQ(p->Attempts("io-exits"), 2);
  p->SetAnswer("runs", "26");
  panel->Check("runs", trace);
  EXPECT_EQ(p->Result("runs")->status, lab::Status::Correct);
  // Kernel tracing is off in this trace: said, not graded.
  p->SetAnswer("in-kernel", "25");
  panel->Check("in-kernel", trace);
  EXPECT_EQ(p->Result("in-kernel")->status, lab::Status::Skipped) << p->Result("in-kernel")->feedback;
  EXPECT_NE(p->Result("in-kernel")->feedback.find("not graded"), std::string::npos);

  // A look-at link selects the first OUT to COM1 and zooms to it.
  EXPECT_TRUE(panel->FollowLink(0, trace, view));
  ASSERT_TRUE(view.selected.has_value());
  EXPECT_NE(view.view_end_ns, 0);
  EXPECT_FALSE(view.follow_live);

  // Another guest's trace is not this step's run: no grade, no attempt.
  traces::TraceData other = trace;
  other.guest.name = "pagefault";
  panel->Check("first-port", other);
  EXPECT_EQ(p->Result("first-port")->status, lab::Status::NoTrace);
  EXPECT_NE(p->Result("first-port")->feedback.find("runs 'hello'"), std::string::npos) << p->Result("first-port")->feedback;
  EXPECT_EQ(p->Attempts("first-port"), 0);

  // Saved on every Check; a new window resumes it.
  const std::string saved = Read(answers);
  EXPECT_NE(saved.find("student: alice"), std::string::npos) << saved;
  EXPECT_NE(saved.find("io-exits: 25"), std::string::npos) << saved;
  EXPECT_NE(saved.find("io-exits.attempts: 2"), std::string::npos) << saved;
  EXPECT_NE(saved.find("runs.prediction: 20"), std::string::npos) << saved;
  panel = std::make_unique<LabsPanel>(controller, LabsOptions{KVMSCOPE_LABS, "run-loop", answers.string(), ""},
                                      [&](std::function<void()> c) { queued.push_back(std::move(c)); }, nullptr);
  for (int i = 0; i < 2; ++i) {
    imgui.Frame([&] {
      ImGui::Begin("labs");
      panel->Draw(trace, view);
      ImGui::End();
    });
  }
  EXPECT_EQ(panel->progress()->Answer("io-exits"), "25");
  EXPECT_EQ(panel->progress()->student(), "alice");
  EXPECT_TRUE(panel->progress()->PredictionLocked("runs"));
  EXPECT_NE(panel->message().find("resumed"), std::string::npos) << panel->message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kvmscope::ui

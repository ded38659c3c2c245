// The Labs tab: a lab's steps read in the window, each step's guest run
// with one button, its "look at" links selecting and zooming to the events,
// and its questions answered and checked against the trace on screen. The
// grading is lab/'s; LabProgress keeps a student's answers (saved to the
// answers file on every Check), LabsPanel draws them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lab/grade.h"
#include "lab/lab.h"
#include "traces/trace.h"
#include "ui/controller.h"
#include "ui/view.h"

namespace kvmscope::ui {

// One student's progress through one lab: answers, predictions, attempts,
// and the last result of each question. No ImGui (tests drive it directly).
class LabProgress {
 public:
  // Resumes from `answers_path` when it exists; `student` (when not empty)
  // overrides the file's. load_error() says why a file could not be read
  // (then it starts empty and does not overwrite it until the next Check).
  LabProgress(lab::Lab lab, std::string answers_path, const std::string& student);

  const lab::Lab& lab() const { return m_lab; }
  const std::string& answers_path() const { return m_path; }
  const std::string& student() const { return m_answers.student; }
  const std::string& load_error() const { return m_load_error; }

  std::string Answer(const std::string& id) const;
  void SetAnswer(const std::string& id, const std::string& text);
  std::string Prediction(const std::string& id) const;
  // Ignored once locked.
  void SetPrediction(const std::string& id, const std::string& text);
  // A prediction is committed when the step runs (or was in the file).
  bool PredictionLocked(const std::string& id) const;
  int Attempts(const std::string& id) const;

  // The --param step `step` runs with for this student; `why_not` says why
  // it cannot run (a per-student param and no student id).
  std::optional<uint64_t> Param(size_t step, std::string* why_not) const;
  // The step's guest is about to run: its predictions are committed
  // (locked, saved).
  void MarkRun(size_t step);

  // Grades question `id` against `trace`, the run on screen: first whether
  // it is the run of the question's step (lab::TraceProblem), then the
  // answer (an attempt is counted when it is graded). Saves the answers file.
  const lab::QuestionResult& Check(const std::string& id, const traces::TraceData& trace);
  const lab::QuestionResult* Result(const std::string& id) const;
  // What the last save did: "saved FILE" or why it failed.
  const std::string& save_message() const { return m_save_message; }

 private:
  void Save();

  lab::Lab m_lab;
  std::string m_path;
  lab::Answers m_answers;
  std::map<std::string, bool> m_locked;
  std::map<std::string, lab::QuestionResult> m_results;
  std::string m_load_error, m_save_message;
};

struct LabsOptions {
  std::string dir;      // the labs folder
  std::string lab;      // open this lab first ("" = the first in the folder)
  std::string answers;  // its answers file ("" = <lab id>.answers.txt here)
  std::string student;
};

class LabsPanel {
 public:
  using Queue = std::function<void(std::function<void()>)>;
  // `mark(name)` records the last widget's place (the window's --widget-map).
  LabsPanel(Controller& controller, LabsOptions options, Queue queue,
            std::function<void(const std::string&)> mark);

  // Draws the panel over this frame's trace. Running a step is queued (it
  // replaces the trace); links and checks only read `trace`.
  void Draw(const traces::TraceData& trace, SharedView& view);

  // For tests and the widget map: the progress of the open lab (null when
  // none), the step shown, and the last thing the panel said.
  LabProgress* progress() { return m_progress ? &*m_progress : nullptr; }
  size_t step() const { return m_step; }
  void SetStep(size_t step);
  const std::string& message() const { return m_message; }
  // Opens lab `index` of labs() (its answers resumed).
  void OpenLab(size_t index);
  const std::vector<lab::Lab>& labs() const { return m_labs; }
  // What "Run this step" does, without the button (queued like it).
  void RunStep();
  // A "look at" link of the shown step: selects its first event and shows
  // all of them. False (with a message) when the trace has none.
  bool FollowLink(size_t link, const traces::TraceData& trace, SharedView& view);
  // Check, as the button does.
  void Check(const std::string& id, const traces::TraceData& trace);

 private:
  void Load();
  void DrawStep(const traces::TraceData& trace, SharedView& view);
  void DrawQuestion(const lab::Question& q, const traces::TraceData& trace);
  void Mark(const std::string& name) { if (m_mark) m_mark(name); }

  Controller& m_controller;
  LabsOptions m_options;
  Queue m_queue;
  std::function<void(const std::string&)> m_mark;
  bool m_loaded = false;
  std::vector<lab::Lab> m_labs;
  std::vector<std::string> m_errors;  // lab files that do not parse
  size_t m_lab = 0;
  std::optional<LabProgress> m_progress;
  size_t m_step = 0;
  std::string m_message;
  // Text boxes: question id → what is typed (the model is updated as it changes).
  std::map<std::string, std::array<char, 256>> m_answer_buf, m_predict_buf;
};

}  // namespace kvmscope::ui

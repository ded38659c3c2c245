// Grading: a student's answers (a small text file, one `id: answer` per
// line) against the values the lab's queries give on the student's own
// traces, with feedback computed from those traces.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lab/lab.h"
#include "traces/trace.h"

namespace kvmscope::lab {

// The answers file:
//   student: alice
//   io-exits: 26
//   io-exits.prediction: 20      committed before the step ran
//   io-exits.attempts: 2         how often Check was pressed (the window counts)
struct Answers {
  std::string student;
  std::string lab;  // the lab's id, when the file names it
  std::map<std::string, std::string> answers;      // question id → answer
  std::map<std::string, std::string> predictions;  // question id → prediction
  std::map<std::string, int> attempts;
};
// Parses an answers file for `lab`; errors name the line and the key.
std::variant<Answers, std::string> ParseAnswers(const std::string& text, const std::string& path,
                                                const Lab& lab);
std::variant<Answers, std::string> LoadAnswers(const std::string& path, const Lab& lab);
// The file's text (what the window saves as progress and ParseAnswers reads).
std::string FormatAnswers(const Answers& answers, const Lab& lab);

enum class Status {
  Correct,
  Wrong,
  Unanswered,
  Skipped,    // the trace cannot answer it (no kernel tracing / no KVM counters): not graded
  Collected,  // a text answer: kept for the lecturer, not graded
  NoTrace,    // the step's trace is missing or is not the lab's run
  Error,      // the query failed on this trace (the lab's fault or an odd trace)
};
std::string_view StatusName(Status status);  // "correct", "wrong", ...

struct QuestionResult {
  std::string id;
  Status status = Status::Unanswered;
  std::string answer;      // as the student wrote it
  std::string expected;    // from the trace, as a student would write it ("" when unknown)
  std::string prediction;  // "" when none was made
  std::string feedback;    // why: computed from the trace
  std::string hint;        // after a wrong answer: the lab's next hint
};

// A step's trace as the grader sees it: the data, or why there is none.
struct StepTrace {
  const traces::TraceData* trace = nullptr;
  std::string path;
  std::string problem;  // "" when the trace is the lab's run
};

struct LabResult {
  std::string lab, student;
  std::vector<QuestionResult> questions;  // in the lab's order
  int correct = 0, graded = 0, skipped = 0;
  // Every graded question is correct (skipped and collected ones do not count).
  bool Passed() const { return graded > 0 && correct == graded; }
};

// The right answer to a question as a student would write it, from the
// query's value on a trace (what `lab lint` checks is graded right).
std::string ReferenceAnswer(const Question& question, const Value& value);

// Grades one answer; `attempts` (≥ 1) picks the hint.
QuestionResult GradeQuestion(const Question& question, const std::string& answer,
                             const traces::TraceData& trace, int attempts = 1);
// Grades every question; `traces` is indexed by step (only steps that run
// something need an entry).
LabResult GradeLab(const Lab& lab, const Answers& answers, const std::vector<StepTrace>& traces);

// Why a trace is not this step's run for this student, or "": another guest,
// another image (`expected_sha256`, when the caller knows the catalog's), or
// another --param than the student's.
std::string TraceProblem(const Lab& lab, size_t step, const traces::TraceData& trace,
                         const std::string& student, const std::string& expected_sha256);

// For the terminal: one block per question.
std::vector<std::string> FormatResult(const Lab& lab, const LabResult& result);
// For autograders: {"lab", "student", "passed", "correct", "graded", "questions": [...]}.
std::string ResultJson(const LabResult& result);

}  // namespace kvmscope::lab

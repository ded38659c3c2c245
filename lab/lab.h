// A lab: one Markdown file a lecturer writes (labs/*.md; docs/labs.md is the
// reference): the handout text, steps that say what to run and what to look
// at, and questions whose right answers are queries over the student's own
// trace (lab/query.h). Read at run time, so a lab is added or edited without
// rebuilding kvmscope.
//
//   # The run loop                     the title
//   ```lab                             the lab's own facts
//   id: run-loop
//   minutes: 25
//   ```
//   ## Step 1: ...                     each `## ` heading starts a step
//   ```run                             what the step runs
//   guest: hello
//   trace: run-loop-hello.json
//   look: first exits reason=IO | the first OUT
//   ```
//   ```question                        a question, graded from the step's trace
//   id: io-exits
//   ask: How many KVM_EXIT_IO exits did hello make?
//   type: integer
//   answer: count exits reason=IO
//   ```
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lab/query.h"

namespace kvmscope::lab {

// Where in a lab file, and what is wrong there.
struct LabError {
  std::string path;
  int line = 0;
  std::string message;
  std::string Text() const;  // "labs/run-loop.md:23: ..."
};

// A "look at" link: events the window selects and zooms to.
struct Link {
  std::string label;
  std::string query;  // e.g. "exits reason=IO" or "first kvm_inj_exception exception=14"
  bool first = false;  // only the earliest of the selected events
  Selector selector;
  int line = 0;
};

// What a step runs: a catalog guest, or the student's own .S.
struct RunSpec {
  std::string guest;   // catalog name; "" for the student's own
  bool own = false;    // `guest: yours` — the student's .S (lab run --asm FILE)
  std::string mode;    // own guests: real|protected|long
  std::optional<uint64_t> param;  // a fixed --param
  // `param: LO..HI per student`: derived from the student id (StudentParam).
  std::optional<std::pair<uint64_t, uint64_t>> param_range;
  std::string trace;   // where `lab run` saves the trace (relative to the student's folder)
  std::optional<double> timeout_s;
  std::optional<uint64_t> max_exits;
  // `guest: yours` steps: the lecturer's own solution, relative to the lab
  // file, which `lab lint` runs to check the questions.
  std::string solution;
  std::string expect;  // `guest: yours`: the self-check value that means passed (run --expect)
  int line = 0;
};

enum class AnswerType { Integer, Number, Choice, Function, ExitReason, YesNo, Text };
std::string_view AnswerTypeName(AnswerType type);

struct Tolerance {
  double absolute = 0;  // |answer - expected| <= absolute
  double percent = 0;   // or <= percent of expected
};

// "If the student answered what this query gives, say this."
struct Mistake {
  Query query;
  std::string message;
  int line = 0;
};

struct Question {
  std::string id;
  std::string ask;
  AnswerType type = AnswerType::Integer;
  Query answer;            // the right answer, computed from the trace (not for Text)
  Tolerance tolerance;
  std::string unit;        // Number: ns, us, ms, s (the student may write another)
  std::vector<std::string> choices;  // Choice
  bool predict = false;    // the student commits a prediction before the step runs
  std::vector<std::string> hints;     // shown one more after each wrong attempt
  std::vector<Mistake> mistakes;
  std::vector<std::string> wrong_examples;  // answers lab lint checks are graded wrong
  size_t step = 0;  // index into Lab::steps
  int line = 0;
};

struct Step {
  std::string title;
  std::string text;  // the handout's Markdown between the blocks
  std::optional<RunSpec> run;
  std::vector<Link> looks;
  std::vector<size_t> questions;  // into Lab::questions
  // The step whose run the questions read: this one, or the last step
  // before it that ran something.
  std::optional<size_t> trace_step;
  int line = 0;
};

struct Lab {
  std::string path;
  std::string id;
  std::string title;
  int minutes = 0;
  std::string intro;  // text before the first step
  std::vector<Step> steps;
  std::vector<Question> questions;
  // Whether any question needs kernel tracing; its unprivileged path is the rest.
  bool NeedsTracing() const;
  const Question* FindQuestion(std::string_view id) const;
};

std::variant<Lab, LabError> ParseLab(const std::string& text, const std::string& path);
std::variant<Lab, LabError> LoadLab(const std::filesystem::path& path);

// Every *.md in a folder that parses as a lab, in file-name order; files
// that do not parse are returned as errors beside them.
struct LabDir {
  std::vector<Lab> labs;
  std::vector<LabError> errors;
};
LabDir LoadLabDir(const std::filesystem::path& dir);

// A lab by file (a path with '/' or ending in .md) or by id (or file stem)
// in `dir`; else why not: the file's error, or the ids that are there.
std::variant<Lab, std::string> FindLab(const std::filesystem::path& dir, const std::string& name);

// The --param a student gets for a `per student` step: LO + (FNV-1a of
// "lab/step/student") mod (HI - LO + 1). Stable across runs and machines.
uint64_t StudentParam(const Lab& lab, size_t step, const std::string& student);
// The --param a step runs with for this student (nullopt: none).
std::optional<uint64_t> ParamFor(const Lab& lab, size_t step, const std::string& student);

}  // namespace kvmscope::lab

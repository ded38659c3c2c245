// kvmscope lab lint: for a lab's author. Every query of the lab parses (the
// file loaded, so that is done); then, unless --no-run, every step runs live
// here and each question's reference answer — the query's value written as a
// student would — must be graded right, and each `wrong:` example wrong.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "lab/grade.h"

namespace kvmscope::app {
namespace fs = std::filesystem;

namespace {

// A private folder for the lint's traces, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kvmscope-lint-XXXXXX").string();
    if (mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

int CmdLabLint(const lab::Lab& lab, const LabArgs& args) {
  std::printf("%s: %zu steps, %zu questions: every query parses, every guest is in the catalog\n",
              lab.path.c_str(), lab.steps.size(), lab.questions.size());
  if (args.no_run) return kExitOk;
  TempDir tmp;
  if (tmp.path.empty()) {
    std::fprintf(stderr, "kvmscope: cannot make a temporary folder\n");
    return kExitEnvironment;
  }
  const std::string student = args.student.empty() ? "lint" : args.student;
  std::vector<traces::TraceData> data(lab.steps.size());
  for (size_t s = 0; s < lab.steps.size(); ++s) {
    const auto& run = lab.steps[s].run;
    if (!run) continue;
    std::string asm_file;
    if (run->own) {
      if (run->solution.empty()) {
        std::fprintf(stderr, "kvmscope: %s:%d: step %zu runs the student's own guest: give the lab a 'solution: FILE.S' to lint it with\n",
                     lab.path.c_str(), run->line, s + 1);
        return kExitUsage;
      }
      asm_file = (fs::path(lab.path).parent_path() / run->solution).string();
    }
    const std::string path = (tmp.path / run->trace).string();
    const RunArgs r = RunArgsFor(lab, s, student, asm_file, path, args);
    std::printf("== %s\n", lab.steps[s].title.c_str());
    std::fflush(stdout);
    const int st = CmdRun(r);
    if (st == kExitUsage || st == kExitEnvironment || st == kExitInternal) return st;
    auto loaded = LoadOrExplain(path);
    if (!loaded) return kExitInternal;
    data[s] = std::move(*loaded);
  }
  int failures = 0, skipped = 0;
  for (const lab::Question& q : lab.questions) {
    const traces::TraceData& trace = data[*lab.steps[q.step].trace_step];
    if (q.type == lab::AnswerType::Text) {
      std::printf("  ok       %-24s collected, not graded\n", q.id.c_str());
      continue;
    }
    const lab::Outcome o = lab::Evaluate(q.answer, trace);
    if (!o.skipped.empty()) {
      ++skipped;
      std::printf("  skipped  %-24s %s\n", q.id.c_str(), o.skipped.c_str());
      continue;
    }
    std::vector<std::string> problems;
    if (!o.error.empty()) problems.push_back("the query failed: " + o.error);
    std::string reference;
    if (o.value) {
      reference = lab::ReferenceAnswer(q, *o.value);
      const lab::QuestionResult r = lab::GradeQuestion(q, reference, trace);
      if (r.status != lab::Status::Correct) {
        problems.push_back(fmt::format("the reference answer '{}' is graded {}: {}", reference, lab::StatusName(r.status), r.feedback));
      }
      if (q.type == lab::AnswerType::Choice) {
        bool listed = false;
        for (const std::string& c : q.choices) listed = listed || lab::GradeQuestion(q, c, trace).status == lab::Status::Correct;
        if (!listed) problems.push_back(fmt::format("no choice is right on this trace (the query gives '{}')", reference));
      }
      for (const std::string& wrong : q.wrong_examples) {
        const lab::QuestionResult w = lab::GradeQuestion(q, wrong, trace);
        if (w.status != lab::Status::Wrong) {
          problems.push_back(fmt::format("the wrong example '{}' is graded {}", wrong, lab::StatusName(w.status)));
        } else {
          std::printf("           %-24s wrong '%s' → %s\n", "", wrong.c_str(), w.feedback.c_str());
        }
      }
    }
    for (const lab::Mistake& m : q.mistakes) {
      const lab::Outcome mo = lab::Evaluate(m.query, trace);
      if (!mo.error.empty()) problems.push_back(fmt::format("line {}: the mistake's query failed: {}", m.line, mo.error));
    }
    if (problems.empty()) {
      std::printf("  ok       %-24s reference answer %s\n", q.id.c_str(), reference.c_str());
      continue;
    }
    ++failures;
    for (const std::string& p : problems) std::printf("  FAILED   %-24s %s:%d: %s\n", q.id.c_str(), lab.path.c_str(), q.line, p.c_str());
  }
  std::printf("%s: %zu questions, %d failed, %d not checkable on this host (need kernel tracing or KVM's counters)\n",
              lab.id.c_str(), lab.questions.size(), failures, skipped);
  return failures ? kExitGuestFailed : kExitOk;
}

}  // namespace kvmscope::app

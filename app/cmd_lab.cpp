// kvmscope lab: guided lab exercises (lab/ reads the lab files and grades;
// this file finds the labs, runs their steps' guests and prints).
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "lab/grade.h"
#include "traces/atomic_file.h"
#include "traces/sha256.h"
#include "traces/trace_json.h"
#include "vmm/catalog.h"

namespace kvmscope::app {
namespace fs = std::filesystem;

std::string LabsDir(const std::string& dir) {
  if (!dir.empty()) return dir;
  if (const char* env = std::getenv("KVMSCOPE_LABS"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // The build tree (build/app/kvmscope → labs/) and an installed package
    // (bin/kvmscope → share/kvmscope/labs).
    for (const fs::path& p : {exe.parent_path() / "../../labs", exe.parent_path() / "../share/kvmscope/labs"}) {
      if (fs::is_directory(p, ec)) return fs::weakly_canonical(p, ec).string();
    }
  }
  return "labs";
}

// The `kvmscope run` a step makes, into `trace_path`.
RunArgs RunArgsFor(const lab::Lab& lab, size_t step, const std::string& student,
                   const std::string& asm_file, const std::string& trace_path, const LabArgs& args) {
  const lab::RunSpec& run = *lab.steps[step].run;
  RunArgs r;
  if (run.own) {
    r.guest_asm = asm_file;
    r.mode = run.mode;
    r.expect = run.expect;
  } else {
    r.guest = run.guest;
  }
  if (auto p = lab::ParamFor(lab, step, student)) r.param = fmt::format("{}", *p);
  r.timeout_s = run.timeout_s;
  r.max_exits = run.max_exits;
  r.quiet = true;
  r.no_probes = args.no_probes;
  r.attach = args.attach;
  r.output = trace_path;
  return r;
}

namespace {

// A catalog guest named by a lab, or the lab's error naming the line.
std::string CheckGuests(const lab::Lab& lab) {
  for (const lab::Step& step : lab.steps) {
    if (!step.run || step.run->own) continue;
    if (!vmm::FindGuest(step.run->guest)) {
      return fmt::format("{}:{}: guest '{}' is not in the catalog ({})", lab.path, step.run->line,
                         step.run->guest, vmm::GuestNames());
    }
  }
  return "";
}

// LAB is a file, or the id (or file name) of a lab in the labs folder.
std::optional<lab::Lab> FindLab(const LabArgs& args) {
  auto loaded = lab::FindLab(LabsDir(args.dir), args.lab);
  if (auto* error = std::get_if<std::string>(&loaded)) {
    std::fprintf(stderr, "kvmscope: %s\n", error->c_str());
    return std::nullopt;
  }
  lab::Lab lab = std::move(std::get<lab::Lab>(loaded));
  if (std::string problem = CheckGuests(lab); !problem.empty()) {
    std::fprintf(stderr, "kvmscope: %s\n", problem.c_str());
    return std::nullopt;
  }
  return lab;
}

std::string ExpectedSha(const lab::RunSpec& run) {
  if (run.own) return "";
  const vmm::GuestInfo* g = vmm::FindGuest(run.guest);
  return g ? traces::Sha256Hex(g->image) : "";
}

void PrintWrapped(const std::string& text, const char* indent) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) std::printf("%s%s\n", line.empty() ? "" : indent, line.c_str());
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

int CmdLabList(const LabArgs& args) {
  const std::string dir = LabsDir(args.dir);
  if (!fs::is_directory(dir)) {
    std::fprintf(stderr, "kvmscope: no labs folder %s (pass --dir DIR)\n", dir.c_str());
    return kExitUsage;
  }
  const lab::LabDir all = lab::LoadLabDir(dir);
  std::printf("Labs in %s:\n", dir.c_str());
  for (const lab::Lab& l : all.labs) {
    std::string guests;
    for (const lab::Step& s : l.steps) {
      if (s.run) guests += (guests.empty() ? "" : ", ") + (s.run->own ? std::string("your own guest") : s.run->guest);
    }
    std::printf("  %-16s %3d min  %s\n", l.id.c_str(), l.minutes, l.title.c_str());
    std::printf("  %-16s          %zu steps, %zu questions; runs %s%s\n", "", l.steps.size(), l.questions.size(),
                guests.c_str(), l.NeedsTracing() ? "; some questions need kernel tracing (root)" : "");
  }
  for (const lab::LabError& e : all.errors) std::fprintf(stderr, "kvmscope: not a lab: %s\n", e.Text().c_str());
  if (all.labs.empty()) std::printf("  (none)\n");
  std::printf("Read one: kvmscope lab show ID; run its steps: kvmscope lab run ID\n");
  return all.errors.empty() ? kExitOk : kExitUsage;
}

int CmdLabShow(const lab::Lab& lab) {
  std::printf("# %s  (%s, about %d minutes)\n\n", lab.title.c_str(), lab.id.c_str(), lab.minutes);
  if (!lab.intro.empty()) PrintWrapped(lab.intro + "\n", "");
  for (size_t s = 0; s < lab.steps.size(); ++s) {
    const lab::Step& step = lab.steps[s];
    std::printf("\n## %s\n\n", step.title.c_str());
    if (step.run) {
      const lab::RunSpec& run = *step.run;
      std::printf("  Run:  kvmscope lab run %s --step %zu%s%s   (guest %s%s; trace %s)\n", lab.id.c_str(), s + 1,
                  run.param_range ? " --student ID" : "", run.own ? " --asm YOUR.S" : "",
                  run.own ? fmt::format("of your own, {} mode", run.mode).c_str() : run.guest.c_str(),
                  run.param ? fmt::format(", --param {}", *run.param).c_str()
                  : run.param_range ? fmt::format(", --param from your student id ({}..{})", run.param_range->first, run.param_range->second).c_str()
                                    : "",
                  run.trace.c_str());
      for (const lab::Link& link : step.looks) {
        std::printf("  Look: %s  (%s%s)\n", link.label.c_str(), link.first ? "first " : "", link.query.c_str());
      }
      std::printf("\n");
    }
    if (!step.text.empty()) PrintWrapped(step.text, "");
    for (size_t qi : step.questions) {
      const lab::Question& q = lab.questions[qi];
      std::printf("\n  [%s] %s\n", q.id.c_str(), q.ask.c_str());
      std::string kind(lab::AnswerTypeName(q.type));
      if (!q.choices.empty()) kind += ": " + Join(q.choices, " / ");
      if (!q.unit.empty()) kind += " in " + q.unit;
      std::printf("        answer: %s%s%s\n", kind.c_str(), q.predict ? "; predict it before you run the step" : "",
                  q.answer.NeedsTracing() ? "; needs kernel tracing" : "");
    }
  }
  std::printf("\nWrite your answers in a file, one 'id: answer' per line (and 'student: YOUR-ID'), then:\n"
              "  kvmscope lab check %s --answers FILE\n", lab.id.c_str());
  return kExitOk;
}

// The answers file, or an empty one when it does not exist yet.
std::optional<lab::Answers> AnswersOrEmpty(const std::string& path, const lab::Lab& lab) {
  if (path.empty() || !fs::exists(path)) return lab::Answers{};
  auto loaded = lab::LoadAnswers(path, lab);
  if (auto* error = std::get_if<std::string>(&loaded)) {
    std::fprintf(stderr, "kvmscope: %s\n", error->c_str());
    return std::nullopt;
  }
  return std::get<lab::Answers>(loaded);
}

// Writes a whole file atomically; false after saying why.
bool WriteText(const std::string& path, const std::string& text) {
  try {
    traces::WriteFileAtomically(path, [&](std::ostream& out) { out << text; });
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvmscope: %s\n", e.what());
    return false;
  }
}

bool SaveAnswers(const std::string& path, const lab::Answers& answers, const lab::Lab& lab) {
  return WriteText(path, lab::FormatAnswers(answers, lab));
}

// "Predict, then observe": the step's predictions, committed to the answers
// file before its guest runs (from --predict, else asked on a terminal).
int CollectPredictions(const lab::Lab& lab, size_t step, const LabArgs& args, lab::Answers& answers) {
  std::map<std::string, std::string> given;
  for (const std::string& p : args.predictions) {
    const size_t eq = p.find('=');
    const std::string id = p.substr(0, eq);
    const lab::Question* q = lab.FindQuestion(id);
    if (eq == std::string::npos || !q || !q->predict) {
      std::fprintf(stderr, "kvmscope: --predict %s: expected ID=VALUE for a question that asks for a prediction\n", p.c_str());
      return kExitUsage;
    }
    given[id] = p.substr(eq + 1);
  }
  bool changed = false;
  for (size_t qi : lab.steps[step].questions) {
    const lab::Question& q = lab.questions[qi];
    if (!q.predict || answers.predictions.contains(q.id)) continue;
    std::string value;
    if (auto it = given.find(q.id); it != given.end()) {
      value = it->second;
    } else if (!args.answers.empty() && isatty(STDIN_FILENO)) {
      std::printf("Predict before you run it — %s\n  your prediction: ", q.ask.c_str());
      std::fflush(stdout);
      std::getline(std::cin, value);
    } else {
      std::printf("Predict before you look: %s [%s]\n", q.ask.c_str(), q.id.c_str());
      continue;
    }
    if (value.empty()) continue;
    answers.predictions[q.id] = value;
    changed = true;
  }
  if (changed && !args.answers.empty() && !SaveAnswers(args.answers, answers, lab)) return kExitEnvironment;
  return kExitOk;
}

int CmdLabRun(const lab::Lab& lab, const LabArgs& args) {
  if (args.step < 0 || args.step > static_cast<int>(lab.steps.size())) {
    std::fprintf(stderr, "kvmscope: --step %d: lab %s has steps 1 to %zu\n", args.step, lab.id.c_str(), lab.steps.size());
    return kExitUsage;
  }
  std::optional<lab::Answers> answers = AnswersOrEmpty(args.answers, lab);
  if (!answers) return kExitUsage;
  const std::string student = !args.student.empty() ? args.student : answers->student;
  if (!args.student.empty()) answers->student = args.student;
  int status = kExitOk;
  bool ran = false;
  for (size_t s = 0; s < lab.steps.size(); ++s) {
    if (args.step != 0 && s + 1 != static_cast<size_t>(args.step)) continue;
    const lab::Step& step = lab.steps[s];
    if (!step.run) {
      if (args.step != 0) std::printf("Step %zu (%s) runs nothing: it reads the trace of step %zu.\n", s + 1, step.title.c_str(), *step.trace_step + 1);
      continue;
    }
    if (step.run->param_range && student.empty()) {
      std::fprintf(stderr, "kvmscope: step %zu derives its --param from your student id: pass --student ID\n", s + 1);
      return kExitUsage;
    }
    if (step.run->own && args.asm_file.empty()) {
      std::fprintf(stderr, "kvmscope: step %zu runs your own guest: pass --asm YOUR.S\n", s + 1);
      return kExitUsage;
    }
    if (int p = CollectPredictions(lab, s, args, *answers); p != kExitOk) return p;
    const std::string trace_path = (fs::path(args.out.empty() ? "." : args.out) / step.run->trace).string();
    std::printf("== %s, step %zu: %s → %s\n", lab.id.c_str(), s + 1, step.title.c_str(), trace_path.c_str());
    std::fflush(stdout);
    const int st = CmdRun(RunArgsFor(lab, s, student, args.asm_file, trace_path, args));
    ran = true;
    if (st == kExitUsage || st == kExitEnvironment || st == kExitInternal) return st;
    if (st != kExitOk && !step.run->own) status = st;
    for (const lab::Link& link : step.looks) {
      std::printf("   look: %s — in the window: kvmscope gui %s\n", link.label.c_str(), trace_path.c_str());
      break;
    }
  }
  if (!args.answers.empty() && !args.student.empty() && !SaveAnswers(args.answers, *answers, lab)) return kExitEnvironment;
  if (ran) std::printf("Answer the questions (kvmscope lab show %s), then: kvmscope lab check %s --answers FILE\n", lab.id.c_str(), lab.id.c_str());
  return status;
}

// The traces of a student's steps: --trace FILE in the order of the steps
// that run something, else each step's trace file in `folder`.
std::optional<std::vector<traces::TraceData>> LoadStepTraces(const lab::Lab& lab, const std::vector<std::string>& given,
                                                             const std::string& folder, std::vector<std::string>& paths) {
  std::vector<traces::TraceData> out(lab.steps.size());
  paths.assign(lab.steps.size(), "");
  size_t next = 0;
  for (size_t s = 0; s < lab.steps.size(); ++s) {
    if (!lab.steps[s].run) continue;
    paths[s] = next < given.size() ? given[next++] : (fs::path(folder) / lab.steps[s].run->trace).string();
    if (!fs::exists(paths[s])) continue;  // graded as "no trace"
    auto loaded = LoadOrExplain(paths[s]);
    if (!loaded) return std::nullopt;
    out[s] = std::move(*loaded);
  }
  if (next < given.size()) {
    std::fprintf(stderr, "kvmscope: %zu --trace files given, but lab %s has only %zu steps that run a guest\n",
                 given.size(), lab.id.c_str(), next);
    return std::nullopt;
  }
  return out;
}

// Grades one student's folder (or files); nullopt after printing why when an
// input is malformed.
std::optional<lab::LabResult> GradeStudent(const lab::Lab& lab, const std::string& answers_path,
                                           const std::vector<std::string>& given, const std::string& folder) {
  auto loaded = lab::LoadAnswers(answers_path, lab);
  if (auto* error = std::get_if<std::string>(&loaded)) {
    std::fprintf(stderr, "kvmscope: %s\n", error->c_str());
    return std::nullopt;
  }
  const lab::Answers& answers = std::get<lab::Answers>(loaded);
  std::vector<std::string> paths;
  auto data = LoadStepTraces(lab, given, folder, paths);
  if (!data) return std::nullopt;
  std::vector<lab::StepTrace> steps(lab.steps.size());
  for (size_t s = 0; s < lab.steps.size(); ++s) {
    if (!lab.steps[s].run || !fs::exists(paths[s])) {
      if (lab.steps[s].run) steps[s].problem = fmt::format("no trace {} (run: kvmscope lab run {} --step {})", paths[s], lab.id, s + 1);
      continue;
    }
    steps[s].trace = &(*data)[s];
    steps[s].path = paths[s];
    steps[s].problem = lab::TraceProblem(lab, s, (*data)[s], answers.student, ExpectedSha(*lab.steps[s].run));
  }
  return lab::GradeLab(lab, answers, steps);
}

int CmdLabCheck(const lab::Lab& lab, const LabArgs& args) {
  if (args.answers.empty()) {
    std::fprintf(stderr, "kvmscope: lab check needs --answers FILE\n");
    return kExitUsage;
  }
  const std::string folder = fs::path(args.answers).parent_path().string();
  if (!args.asm_file.empty()) {
    // Lab 8's shape: run the student's own guest first, then grade its trace.
    std::optional<lab::Answers> answers = AnswersOrEmpty(args.answers, lab);
    if (!answers) return kExitUsage;
    for (size_t s = 0; s < lab.steps.size(); ++s) {
      if (!lab.steps[s].run || !lab.steps[s].run->own) continue;
      const std::string path = (fs::path(folder.empty() ? "." : folder) / lab.steps[s].run->trace).string();
      const int st = CmdRun(RunArgsFor(lab, s, answers->student, args.asm_file, path, args));
      if (st == kExitUsage || st == kExitEnvironment || st == kExitInternal) return st;
    }
  }
  std::optional<lab::LabResult> result = GradeStudent(lab, args.answers, args.traces, folder.empty() ? "." : folder);
  if (!result) return kExitUsage;
  if (args.json) {
    std::printf("%s\n", lab::ResultJson(*result).c_str());
  } else {
    PrintLines(lab::FormatResult(lab, *result));
  }
  return result->Passed() ? kExitOk : kExitGuestFailed;
}

std::string Csv(std::string s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

int CmdLabGrade(const lab::Lab& lab, const LabArgs& args) {
  if (!fs::is_directory(args.folder)) {
    std::fprintf(stderr, "kvmscope: %s is not a folder of submissions\n", args.folder.c_str());
    return kExitUsage;
  }
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(args.folder)) {
    if (e.is_directory() && fs::exists(e.path() / "answers.txt")) folders.push_back(e.path());
  }
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) {
    std::fprintf(stderr, "kvmscope: no submissions in %s (each is a folder with answers.txt and its traces)\n", args.folder.c_str());
    return kExitUsage;
  }
  std::string csv = "folder,student,correct,graded,skipped,passed";
  for (const lab::Question& q : lab.questions) csv += fmt::format(",{}", q.id);
  csv += "\n";
  nlohmann::ordered_json all = nlohmann::json::array();
  std::vector<std::string> ids;
  for (const lab::Question& q : lab.questions) ids.push_back(q.id);
  std::printf("%-16s %-16s %8s  questions (%s)\n", "folder", "student", "score", Join(ids, " ").c_str());
  int bad = 0;
  for (const fs::path& f : folders) {
    std::optional<lab::LabResult> r = GradeStudent(lab, (f / "answers.txt").string(), {}, f.string());
    const std::string name = f.filename().string();
    if (!r) {
      ++bad;
      std::printf("%-16s %-16s %8s  (not graded: see the error above)\n", name.c_str(), "?", "-");
      csv += Csv(name) + ",,,,,error\n";
      all.push_back({{"folder", name}, {"error", "malformed submission"}});
      continue;
    }
    std::string marks;
    for (const lab::QuestionResult& q : r->questions) {
      marks += q.status == lab::Status::Correct ? "✓" : q.status == lab::Status::Wrong ? "✗"
             : q.status == lab::Status::Skipped ? "–" : q.status == lab::Status::Collected ? "✎" : "·";
    }
    std::printf("%-16s %-16s %5d/%-2d  %s\n", name.c_str(), r->student.c_str(), r->correct, r->graded, marks.c_str());
    csv += fmt::format("{},{},{},{},{},{}", Csv(name), Csv(r->student), r->correct, r->graded, r->skipped, r->Passed() ? "yes" : "no");
    for (const lab::QuestionResult& q : r->questions) csv += fmt::format(",{}", lab::StatusName(q.status));
    csv += "\n";
    nlohmann::ordered_json j = nlohmann::json::parse(lab::ResultJson(*r));
    j["folder"] = name;
    all.push_back(std::move(j));
  }
  std::printf("✓ correct  ✗ wrong  – not gradable from that trace  ✎ collected  · unanswered or no trace\n");
  if (bad) {
    // A malformed file is an error to fix, not a grade: nothing is written.
    std::fprintf(stderr, "kvmscope: %d of %zu submissions are malformed (above); nothing written: fix or remove them and grade again\n",
                 bad, folders.size());
    return kExitUsage;
  }
  const std::string csv_path = args.csv_out.empty() ? (fs::path(args.folder) / "grades.csv").string() : args.csv_out;
  const std::string json_path = args.json_out.empty() ? (fs::path(args.folder) / "grades.json").string() : args.json_out;
  if (!WriteText(csv_path, csv) || !WriteText(json_path, all.dump(2) + "\n")) return kExitEnvironment;
  std::printf("Wrote %s and %s (%zu submissions).\n", csv_path.c_str(), json_path.c_str(), folders.size());
  return kExitOk;
}

}  // namespace

int CmdLabLint(const lab::Lab& lab, const LabArgs& args);  // cmd_lab_lint.cpp

int CmdLab(const LabArgs& args) {
  if (args.action == "list") return CmdLabList(args);
  std::optional<lab::Lab> lab = FindLab(args);
  if (!lab) return kExitUsage;
  if (args.action == "show") return CmdLabShow(*lab);
  if (args.action == "run") return CmdLabRun(*lab, args);
  if (args.action == "check") return CmdLabCheck(*lab, args);
  if (args.action == "grade") return CmdLabGrade(*lab, args);
  return CmdLabLint(*lab, args);
}

}  // namespace kvmscope::app

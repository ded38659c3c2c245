#include "lab/grade.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "lab/text.h"

namespace kvmscope::lab {
namespace {

// A number as a student writes it: "26", "1,234", "0x3f8", "12.5".
std::optional<double> StudentNumber(std::string s) {
  std::erase(s, ',');
  std::erase(s, '_');
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str() + 2, &end, 16);
    if (end != s.c_str() + s.size()) return std::nullopt;
    return static_cast<double>(v);
  }
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

double UnitNs(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "µs") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return 0;
}

// A duration as a student writes it, in ns: "12.4 us", "12400ns", or a bare
// number in the question's unit.
std::optional<double> StudentDuration(const std::string& answer, const std::string& default_unit) {
  std::string s = Trim(answer);
  size_t split = s.size();
  while (split > 0 && std::isalpha(static_cast<unsigned char>(s[split - 1]))) --split;
  if (split > 1 && s.compare(split - 2, 2, "µ") == 0) split -= 2;
  std::string unit = Trim(s.substr(split));
  if (unit.empty()) unit = default_unit.empty() ? "ns" : default_unit;
  const double scale = UnitNs(unit);
  auto n = StudentNumber(s.substr(0, split));
  if (!n || scale == 0) return std::nullopt;
  return *n * scale;
}

// Names compared as kvmscope shows them: case-insensitive, "KVM_EXIT_"
// optional, a trailing "()" or ".isra.0" dropped.
std::string Normal(std::string s, AnswerType type) {
  s = Lower(Trim(s));
  if (s.ends_with("()")) s.resize(s.size() - 2);
  if (type == AnswerType::ExitReason && s.starts_with("kvm_exit_")) s.erase(0, 9);
  if (type == AnswerType::Function) {
    const size_t dot = s.find('.');
    if (dot != std::string::npos && dot > 0) s.resize(dot);
  }
  if (type == AnswerType::YesNo) {
    if (s == "y" || s == "true") return "yes";
    if (s == "n" || s == "false") return "no";
  }
  return s;
}

// The words an expected value accepts.
std::vector<std::string> Accepted(const Value& v) {
  if (v.kind == Value::Kind::Set) return v.set;
  if (v.kind == Value::Kind::Number && !v.text.empty()) {
    // A field: its decoded text ("KVM_EXIT_IO", "0x3f8 (COM1)") and first word.
    return {v.text, v.text.substr(0, v.text.find(' ')), v.Show()};
  }
  return {v.Show()};
}

struct Match {
  bool ok = false;
  std::string problem;  // the answer is not of the question's kind
};

Match Matches(const Question& q, const std::string& answer, const Value& expected) {
  switch (q.type) {
    case AnswerType::Integer:
    case AnswerType::Number: {
      if (expected.kind != Value::Kind::Number) return {false, "the lab's answer is not a number (tell the lecturer)"};
      const std::optional<double> got = expected.duration ? StudentDuration(answer, q.unit) : StudentNumber(answer);
      if (!got) {
        return {false, expected.duration ? "write a duration such as '12.5 us' or '830 ns'" : "write a number"};
      }
      if (q.type == AnswerType::Integer && !expected.duration && *got != std::floor(*got)) {
        return {false, "write a whole number"};
      }
      const double allowed = std::max(q.tolerance.absolute, std::fabs(expected.number) * q.tolerance.percent / 100);
      return {std::fabs(*got - expected.number) <= allowed + 1e-9, ""};
    }
    case AnswerType::Choice: {
      const std::string a = Normal(answer, q.type);
      if (std::none_of(q.choices.begin(), q.choices.end(), [&](const std::string& c) { return Normal(c, q.type) == a; })) {
        std::string list;
        for (const std::string& c : q.choices) list += (list.empty() ? "" : ", ") + c;
        return {false, "answer one of: " + list};
      }
      [[fallthrough]];
    }
    case AnswerType::Function:
    case AnswerType::ExitReason:
    case AnswerType::YesNo: {
      const std::string a = Normal(answer, q.type);
      for (const std::string& w : Accepted(expected)) {
        if (Normal(w, q.type) == a) return {true, ""};
      }
      if (q.type == AnswerType::YesNo && a != "yes" && a != "no") return {false, "answer yes or no"};
      return {false, ""};
    }
    case AnswerType::Text: return {true, ""};
  }
  return {false, ""};
}

std::string ExpectedText(const Value& v) {
  if (v.kind == Value::Kind::Number && !v.text.empty()) return v.text;  // "0x3f8 (COM1)"
  if (v.kind == Value::Kind::Set && v.set.size() > 1) {
    std::string out;
    for (const std::string& s : v.set) out += (out.empty() ? "" : " or ") + s;
    return out;
  }
  return v.Show();
}

}  // namespace

std::string_view StatusName(Status status) {
  switch (status) {
    case Status::Correct: return "correct";
    case Status::Wrong: return "wrong";
    case Status::Unanswered: return "unanswered";
    case Status::Skipped: return "skipped";
    case Status::Collected: return "collected";
    case Status::NoTrace: return "no trace";
    case Status::Error: return "error";
  }
  return "";
}

std::variant<Answers, std::string> ParseAnswers(const std::string& text, const std::string& path,
                                                const Lab& lab) {
  Answers out;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  auto fail = [&](const std::string& message) { return fmt::format("{}:{}: {}", path, line_no, message); };
  std::map<std::string, int> seen;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string line = Trim(raw);
    if (line.empty() || line.starts_with("#")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return fail(fmt::format("expected 'id: answer', got '{}'", line));
    const std::string key = Trim(line.substr(0, colon));
    const std::string value = Trim(line.substr(colon + 1));
    if (seen[key]++) return fail(fmt::format("key '{}' is given twice (first on line {})", key, seen[key]));
    seen[key] = line_no;
    if (key == "student") {
      out.student = value;
      continue;
    }
    if (key == "lab") {
      if (value != lab.id) return fail(fmt::format("these answers are for lab '{}', not '{}'", value, lab.id));
      out.lab = value;
      continue;
    }
    const size_t dot = key.find('.');
    const std::string id = key.substr(0, dot);
    const std::string suffix = dot == std::string::npos ? "" : key.substr(dot + 1);
    const Question* q = lab.FindQuestion(id);
    if (!q) return fail(fmt::format("key '{}': lab '{}' has no question '{}'", key, lab.id, id));
    if (suffix.empty()) {
      out.answers[id] = value;
    } else if (suffix == "prediction") {
      if (!q->predict) return fail(fmt::format("key '{}': question '{}' asks for no prediction", key, id));
      out.predictions[id] = value;
    } else if (suffix == "attempts") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || end != value.c_str() + value.size() || n < 0 || n > 1'000'000) return fail(fmt::format("key '{}': a whole number", key));
      out.attempts[id] = static_cast<int>(n);
    } else {
      return fail(fmt::format("key '{}': after '{}.' only 'prediction' or 'attempts'", key, id));
    }
  }
  return out;
}

std::variant<Answers, std::string> LoadAnswers(const std::string& path, const Lab& lab) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("{}: cannot be read", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (1u << 20)) return fmt::format("{}: larger than 1 MiB: not an answers file", path);
  return ParseAnswers(ss.str(), path, lab);
}

std::string FormatAnswers(const Answers& answers, const Lab& lab) {
  std::string out = fmt::format("# kvmscope lab answers: one 'id: answer' per line\nlab: {}\n", lab.id);
  if (!answers.student.empty()) out += fmt::format("student: {}\n", answers.student);
  for (const Question& q : lab.questions) {
    auto put = [&](const std::map<std::string, std::string>& m, std::string_view suffix) {
      if (auto it = m.find(q.id); it != m.end()) out += fmt::format("{}{}: {}\n", q.id, suffix, it->second);
    };
    put(answers.predictions, ".prediction");
    put(answers.answers, "");
    if (auto it = answers.attempts.find(q.id); it != answers.attempts.end()) {
      out += fmt::format("{}.attempts: {}\n", q.id, it->second);
    }
  }
  return out;
}

std::string ReferenceAnswer(const Question& q, const Value& value) {
  if (q.type == AnswerType::Integer && value.kind == Value::Kind::Number && !value.duration && value.text.empty()) {
    return fmt::format("{}", std::llround(value.number));
  }
  // Exact: Show() rounds to three decimals of the unit it picks.
  if (value.kind == Value::Kind::Number && value.text.empty()) {
    return fmt::format("{}{}", value.number, value.duration ? " ns" : "");
  }
  return value.Show();
}

QuestionResult GradeQuestion(const Question& q, const std::string& answer,
                             const traces::TraceData& trace, int attempts) {
  QuestionResult r;
  r.id = q.id;
  r.answer = answer;
  if (q.type == AnswerType::Text) {
    r.status = answer.empty() ? Status::Unanswered : Status::Collected;
    return r;
  }
  const Outcome outcome = Evaluate(q.answer, trace);
  if (!outcome.skipped.empty()) {
    r.status = Status::Skipped;
    r.feedback = "not graded: " + outcome.skipped;
    return r;
  }
  if (!outcome.error.empty()) {
    r.status = Status::Error;
    r.feedback = fmt::format("the lab's query `{}` failed on this trace: {}", q.answer.source, outcome.error);
    return r;
  }
  Value expected = *outcome.value;
  if (q.type == AnswerType::Integer && expected.kind == Value::Kind::Number && !expected.duration) {
    expected.number = std::round(expected.number);  // a share computed by division
  }
  r.expected = ExpectedText(expected);
  if (Trim(answer).empty()) {
    r.status = Status::Unanswered;
    return r;
  }
  const Match m = Matches(q, answer, expected);
  r.status = m.ok ? Status::Correct : Status::Wrong;
  if (m.ok) {
    r.feedback = fmt::format("your trace says {} ({})", r.expected, q.answer.source);
    return r;
  }
  r.feedback = m.problem.empty()
                   ? fmt::format("your trace says {} ({}); you answered {}", r.expected, q.answer.source, Trim(answer))
                   : fmt::format("{}; you answered '{}'", m.problem, Trim(answer));
  for (const Mistake& mistake : q.mistakes) {
    const Outcome o = Evaluate(mistake.query, trace);
    if (o.value && Matches(q, answer, *o.value).ok) {
      r.feedback += " — " + mistake.message;
      break;
    }
  }
  if (!q.hints.empty()) {
    r.hint = q.hints[static_cast<size_t>(std::clamp(attempts, 1, static_cast<int>(q.hints.size())) - 1)];
  }
  return r;
}

LabResult GradeLab(const Lab& lab, const Answers& answers, const std::vector<StepTrace>& traces) {
  LabResult out;
  out.lab = lab.id;
  out.student = answers.student;
  for (const Question& q : lab.questions) {
    const auto it = answers.answers.find(q.id);
    const std::string answer = it == answers.answers.end() ? "" : it->second;
    const size_t step = *lab.steps[q.step].trace_step;
    const StepTrace* st = step < traces.size() ? &traces[step] : nullptr;
    QuestionResult r;
    if (!st || !st->trace || !st->problem.empty()) {
      r.id = q.id;
      r.answer = answer;
      r.status = q.type == AnswerType::Text ? (answer.empty() ? Status::Unanswered : Status::Collected) : Status::NoTrace;
      if (r.status == Status::NoTrace) {
        r.feedback = st && !st->problem.empty() ? st->problem
                                                : fmt::format("no trace of step {} ({})", step + 1, lab.steps[step].title);
      }
    } else {
      const auto a = answers.attempts.find(q.id);
      r = GradeQuestion(q, answer, *st->trace, a == answers.attempts.end() ? 1 : std::max(1, a->second));
    }
    if (auto p = answers.predictions.find(q.id); p != answers.predictions.end()) r.prediction = p->second;
    if (q.type != AnswerType::Text && r.status != Status::Skipped) ++out.graded;
    if (r.status == Status::Skipped) ++out.skipped;
    if (r.status == Status::Correct) ++out.correct;
    out.questions.push_back(std::move(r));
  }
  return out;
}

std::string TraceProblem(const Lab& lab, size_t step, const traces::TraceData& trace,
                         const std::string& student, const std::string& expected_sha256) {
  const RunSpec& run = *lab.steps[step].run;
  const traces::GuestFacts& g = trace.guest;
  if (!run.own && g.name != run.guest) {
    return fmt::format("this trace ran guest '{}', but step {} runs '{}'", g.name, step + 1, run.guest);
  }
  if (!run.own && !expected_sha256.empty() && g.sha256 != expected_sha256) {
    return fmt::format("this trace's guest image (sha256 {}…) is not kvmscope's '{}' (sha256 {}…)",
                       g.sha256.substr(0, 12), run.guest, expected_sha256.substr(0, 12));
  }
  if (run.own && g.mode != run.mode) {
    return fmt::format("this trace ran a {}-mode guest, but step {} asks for {} mode", g.mode, step + 1, run.mode);
  }
  const std::optional<uint64_t> param = ParamFor(lab, step, student);
  if (param && g.param != param) {
    const std::string who = run.param_range ? fmt::format(" for student '{}'", student) : "";
    return fmt::format("this trace ran with --param {}, but step {} runs with {}{}",
                       g.param ? fmt::format("{}", *g.param) : "none", step + 1, *param, who);
  }
  if (g.verdict.empty()) return "this trace's run did not finish";
  return "";
}

std::vector<std::string> FormatResult(const Lab& lab, const LabResult& result) {
  std::vector<std::string> out;
  for (size_t i = 0; i < result.questions.size(); ++i) {
    const QuestionResult& r = result.questions[i];
    const Question& q = lab.questions[i];
    static constexpr std::string_view kMarks[] = {"✓", "✗", "·", "–", "✎", "!", "!"};
    out.push_back(fmt::format("{} {:<11} {}  {}", kMarks[static_cast<int>(r.status)], StatusName(r.status), q.id, q.ask));
    if (!r.answer.empty()) out.push_back(fmt::format("      your answer: {}", r.answer));
    if (!r.prediction.empty()) {
      out.push_back(fmt::format("      you predicted: {}{}", r.prediction,
                                r.expected.empty() ? "" : fmt::format("; you observed: {}", r.expected)));
    }
    if (!r.feedback.empty()) out.push_back("      " + r.feedback);
    if (!r.hint.empty()) out.push_back("      hint: " + r.hint);
  }
  out.push_back(fmt::format("{}: {} of {} graded questions right{}{}", result.lab, result.correct, result.graded,
                            result.skipped ? fmt::format(", {} not graded (the trace cannot answer them)", result.skipped) : "",
                            result.Passed() ? " — passed" : ""));
  return out;
}

std::string ResultJson(const LabResult& result) {
  nlohmann::ordered_json j;
  j["lab"] = result.lab;
  j["student"] = result.student;
  j["passed"] = result.Passed();
  j["correct"] = result.correct;
  j["graded"] = result.graded;
  j["skipped"] = result.skipped;
  j["questions"] = nlohmann::json::array();
  for (const QuestionResult& r : result.questions) {
    j["questions"].push_back({{"id", r.id}, {"status", StatusName(r.status)}, {"answer", r.answer},
                              {"expected", r.expected}, {"prediction", r.prediction},
                              {"feedback", r.feedback}, {"hint", r.hint}});
  }
  return j.dump(2);
}

}  // namespace kvmscope::lab

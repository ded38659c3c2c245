#include "lab/lab.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lab/text.h"

namespace kvmscope::lab {
namespace {

// One `key: value` of a block, with the line it came from.
struct Entry {
  std::string key, value;
  int line = 0;
};

struct Block {
  std::string kind;  // lab, run, question
  std::vector<Entry> entries;
  int line = 0;
};

class LabParser {
 public:
  LabParser(const std::string& path) { m_lab.path = path; }

  std::optional<LabError> Parse(const std::string& text) {
    std::istringstream in(text);
    std::string raw;
    int line_no = 0;
    std::optional<Block> block;
    bool other_fence = false;
    while (std::getline(in, raw)) {
      ++line_no;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      const std::string line = Trim(raw);
      if (block) {
        if (line.starts_with("```")) {
          if (!Finish(*block)) return m_error;
          block.reset();
          continue;
        }
        if (line.empty() || line.starts_with("#")) continue;
        if ((raw[0] == ' ' || raw[0] == '\t') && !block->entries.empty()) {
          block->entries.back().value += " " + line;  // a continuation line
          continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string::npos || colon == 0) {
          return Error(line_no, fmt::format("expected 'key: value' in the {} block, got '{}'", block->kind, line));
        }
        block->entries.push_back({Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)), line_no});
        continue;
      }
      if (line.starts_with("```")) {
        const std::string kind = Trim(line.substr(3));
        if (!other_fence && (kind == "lab" || kind == "run" || kind == "question")) {
          block = Block{kind, {}, line_no};
          continue;
        }
        other_fence = !other_fence;  // an example in the handout: kept as text
      } else if (!other_fence && line.starts_with("## ")) {
        Step step;
        step.title = Trim(line.substr(3));
        step.line = line_no;
        m_lab.steps.push_back(std::move(step));
        continue;
      } else if (!other_fence && line.starts_with("# ") && m_lab.title.empty()) {
        m_lab.title = Trim(line.substr(2));
        continue;
      }
      std::string& text = m_lab.steps.empty() ? m_lab.intro : m_lab.steps.back().text;
      text += raw + "\n";
    }
    if (block) return Error(block->line, fmt::format("the {} block is not closed with ```", block->kind));
    if (other_fence) return Error(line_no, "a ``` block is not closed");
    if (m_lab.title.empty()) return Error(1, "the lab has no title (a first line '# Title')");
    if (m_lab.id.empty()) return Error(1, "the lab has no ```lab block with its id and minutes");
    if (m_lab.steps.empty()) return Error(line_no, "the lab has no steps ('## ' headings)");
    if (m_lab.questions.empty()) return Error(line_no, "the lab has no questions");
    m_lab.intro = TrimLines(m_lab.intro);
    for (Step& s : m_lab.steps) s.text = TrimLines(s.text);
    return std::nullopt;
  }

  Lab Take() { return std::move(m_lab); }

 private:
  std::optional<LabError> Error(int line, std::string message) {
    m_error = LabError{m_lab.path, line, std::move(message)};
    return m_error;
  }
  bool Fail(int line, std::string message) {
    Error(line, std::move(message));
    return false;
  }

  // Checks the keys of a block: each known, the required ones present, and
  // only the repeatable ones repeated.
  bool CheckKeys(const Block& b, const std::set<std::string>& known,
                 const std::set<std::string>& required, const std::set<std::string>& repeatable) {
    std::map<std::string, int> seen;
    for (const Entry& e : b.entries) {
      if (!known.contains(e.key)) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
        return Fail(e.line, fmt::format("unknown key '{}' in the {} block (known: {})", e.key, b.kind, list));
      }
      if (e.value.empty()) return Fail(e.line, fmt::format("'{}' has no value", e.key));
      if (seen[e.key]++ && !repeatable.contains(e.key)) {
        return Fail(e.line, fmt::format("'{}' is given twice", e.key));
      }
    }
    for (const std::string& k : required) {
      if (!seen.contains(k)) return Fail(b.line, fmt::format("the {} block needs '{}'", b.kind, k));
    }
    return true;
  }

  bool Finish(const Block& b) {
    if (b.kind == "lab") return FinishLab(b);
    if (m_lab.steps.empty()) return Fail(b.line, fmt::format("a {} block before the first step ('## ' heading)", b.kind));
    if (b.kind == "run") return FinishRun(b);
    return FinishQuestion(b);
  }

  bool FinishLab(const Block& b) {
    if (!m_lab.id.empty()) return Fail(b.line, "a second ```lab block");
    if (!CheckKeys(b, {"id", "minutes"}, {"id", "minutes"}, {})) return false;
    for (const Entry& e : b.entries) {
      if (e.key == "id") {
        if (!IsId(e.value)) return Fail(e.line, fmt::format("id '{}': use lowercase letters, digits and '-'", e.value));
        m_lab.id = e.value;
      } else {
        auto n = Integer(e.value);
        if (!n || *n < 5 || *n > 240) return Fail(e.line, "minutes: a whole number from 5 to 240");
        m_lab.minutes = static_cast<int>(*n);
      }
    }
    return true;
  }

  bool FinishRun(const Block& b) {
    Step& step = m_lab.steps.back();
    if (step.run) return Fail(b.line, "a step runs one guest: a second ```run block");
    if (!CheckKeys(b, {"guest", "mode", "param", "trace", "timeout", "max-exits", "look", "solution", "expect"},
                   {"guest", "trace"}, {"look"})) {
      return false;
    }
    RunSpec run;
    run.line = b.line;
    for (const Entry& e : b.entries) {
      if (e.key == "guest") {
        run.own = e.value == "yours";
        if (!run.own) run.guest = e.value;
      } else if (e.key == "mode") {
        if (e.value != "real" && e.value != "protected" && e.value != "long") {
          return Fail(e.line, "mode: real, protected or long");
        }
        run.mode = e.value;
      } else if (e.key == "param") {
        if (!ParseParam(e, run)) return false;
      } else if (e.key == "trace") {
        const std::filesystem::path p(e.value);
        if (p.is_absolute() || e.value.find("..") != std::string::npos || !e.value.ends_with(".json")) {
          return Fail(e.line, "trace: a file name ending in .json, inside the student's folder (no '/' at the start, no '..')");
        }
        run.trace = e.value;
      } else if (e.key == "timeout") {
        char* end = nullptr;
        const double t = std::strtod(e.value.c_str(), &end);
        if (end != e.value.c_str() + e.value.size() || t <= 0 || t > 600) return Fail(e.line, "timeout: seconds, more than 0 and at most 600");
        run.timeout_s = t;
      } else if (e.key == "solution") {
        if (!e.value.ends_with(".S") || e.value.find("..") != std::string::npos || e.value.starts_with("/")) {
          return Fail(e.line, "solution: a .S file beside the lab (no '/' at the start, no '..')");
        }
        run.solution = e.value;
      } else if (e.key == "expect") {
        if (!Integer(e.value) && !(e.value.starts_with("0x") && e.value.size() > 2)) return Fail(e.line, "expect: a number (the status value that means passed)");
        run.expect = e.value;
      } else if (e.key == "max-exits") {
        auto n = Integer(e.value);
        if (!n) return Fail(e.line, "max-exits: a whole number");
        run.max_exits = *n;
      } else {
        Link link;
        link.line = e.line;
        const size_t bar = e.value.find('|');
        std::string query = Trim(e.value.substr(0, bar));
        link.label = bar == std::string::npos ? query : Trim(e.value.substr(bar + 1));
        if (query.starts_with("first ")) {
          link.first = true;
          query = Trim(query.substr(6));
        }
        link.query = query;
        auto s = ParseSelector(query);
        if (auto* error = std::get_if<std::string>(&s)) return Fail(e.line, "look: " + *error);
        link.selector = std::get<Selector>(s);
        step.looks.push_back(std::move(link));
      }
    }
    if (run.own && run.mode.empty()) run.mode = "real";
    if (!run.own && !run.mode.empty()) return Fail(b.line, "mode is for 'guest: yours' only (a catalog guest has its own)");
    if (!run.own && (!run.solution.empty() || !run.expect.empty())) return Fail(b.line, "solution and expect are for 'guest: yours' only");
    for (const Step& s : m_lab.steps) {
      if (s.run && s.run->trace == run.trace) return Fail(b.line, fmt::format("trace '{}' is already another step's", run.trace));
    }
    step.run = std::move(run);
    return true;
  }

  bool ParseParam(const Entry& e, RunSpec& run) {
    if (auto n = Integer(e.value)) {
      run.param = *n;
      return true;
    }
    // LO..HI per student
    const size_t dots = e.value.find("..");
    const size_t per = e.value.find(" per student");
    if (dots != std::string::npos && per != std::string::npos && per > dots) {
      auto lo = Integer(Trim(e.value.substr(0, dots)));
      auto hi = Integer(Trim(e.value.substr(dots + 2, per - dots - 2)));
      if (lo && hi && *lo <= *hi && Trim(e.value.substr(per)) == "per student") {
        run.param_range = {*lo, *hi};
        return true;
      }
    }
    return Fail(e.line, "param: a number, or 'LO..HI per student'");
  }

  bool FinishQuestion(const Block& b) {
    if (!CheckKeys(b, {"id", "ask", "type", "answer", "tolerance", "unit", "choices", "predict",
                       "hint", "mistake", "wrong"},
                   {"id", "ask", "type"}, {"hint", "mistake", "wrong"})) {
      return false;
    }
    Question q;
    q.line = b.line;
    q.step = m_lab.steps.size() - 1;
    for (const Entry& e : b.entries) {
      if (e.key == "id") {
        if (!IsId(e.value)) return Fail(e.line, fmt::format("id '{}': use lowercase letters, digits and '-'", e.value));
        if (m_lab.FindQuestion(e.value)) return Fail(e.line, fmt::format("question id '{}' is used twice", e.value));
        q.id = e.value;
      } else if (e.key == "ask") {
        q.ask = e.value;
      } else if (e.key == "type") {
        static const std::map<std::string, AnswerType> kTypes = {
            {"integer", AnswerType::Integer}, {"number", AnswerType::Number},
            {"choice", AnswerType::Choice}, {"function", AnswerType::Function},
            {"exit-reason", AnswerType::ExitReason}, {"yes-no", AnswerType::YesNo},
            {"text", AnswerType::Text}};
        auto it = kTypes.find(e.value);
        if (it == kTypes.end()) return Fail(e.line, fmt::format("type '{}': integer, number, choice, function, exit-reason, yes-no or text", e.value));
        q.type = it->second;
      } else if (e.key == "answer") {
        auto parsed = ParseQuery(e.value);
        if (auto* error = std::get_if<std::string>(&parsed)) return Fail(e.line, "answer: " + *error);
        q.answer = std::get<Query>(parsed);
      } else if (e.key == "tolerance") {
        std::string v = e.value;
        const bool percent = v.ends_with("%");
        if (percent) v.pop_back();
        char* end = nullptr;
        const double t = std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || t < 0) return Fail(e.line, "tolerance: a number (absolute) or a percentage such as 10%");
        (percent ? q.tolerance.percent : q.tolerance.absolute) = t;
      } else if (e.key == "unit") {
        if (e.value != "ns" && e.value != "us" && e.value != "ms" && e.value != "s") return Fail(e.line, "unit: ns, us, ms or s");
        q.unit = e.value;
      } else if (e.key == "choices") {
        std::stringstream ss(e.value);
        std::string c;
        while (std::getline(ss, c, ',')) {
          if (!Trim(c).empty()) q.choices.push_back(Trim(c));
        }
        if (q.choices.size() < 2) return Fail(e.line, "choices: at least two, separated by commas");
      } else if (e.key == "predict") {
        if (e.value != "yes" && e.value != "no") return Fail(e.line, "predict: yes or no");
        q.predict = e.value == "yes";
      } else if (e.key == "hint") {
        q.hints.push_back(e.value);
      } else if (e.key == "mistake") {
        const size_t arrow = e.value.find("=>");
        if (arrow == std::string::npos) return Fail(e.line, "mistake: 'QUERY => what to tell the student'");
        auto parsed = ParseQuery(Trim(e.value.substr(0, arrow)));
        if (auto* error = std::get_if<std::string>(&parsed)) return Fail(e.line, "mistake: " + *error);
        const std::string message = Trim(e.value.substr(arrow + 2));
        if (message.empty()) return Fail(e.line, "mistake: nothing to tell the student after '=>'");
        q.mistakes.push_back({std::get<Query>(parsed), message, e.line});
      } else {
        q.wrong_examples.push_back(e.value);
      }
    }
    const bool has_answer = !q.answer.source.empty();
    if (q.type == AnswerType::Text && has_answer) return Fail(b.line, "a text question is collected, not graded: it has no answer");
    if (q.type != AnswerType::Text && !has_answer) return Fail(b.line, fmt::format("question '{}' needs 'answer: QUERY'", q.id));
    if (q.type == AnswerType::Choice && q.choices.empty()) return Fail(b.line, "a choice question needs 'choices: a, b, c'");
    if (q.type != AnswerType::Number && !q.unit.empty()) return Fail(b.line, "unit is for number questions");
    Step& step = m_lab.steps.back();
    for (size_t s = m_lab.steps.size(); s-- > 0;) {
      if (m_lab.steps[s].run) {
        step.trace_step = s;
        break;
      }
    }
    if (!step.trace_step) return Fail(b.line, fmt::format("question '{}' has no trace: no step up to here runs a guest", q.id));
    if (q.predict && step.trace_step != q.step) return Fail(b.line, "a prediction is made before the step's own run: this step runs nothing");
    step.questions.push_back(m_lab.questions.size());
    m_lab.questions.push_back(std::move(q));
    return true;
  }

  static bool IsId(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
  }
  static std::optional<uint64_t> Integer(const std::string& s) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    if (s.size() > 18) return std::nullopt;
    return std::stoull(s);
  }

  Lab m_lab;
  std::optional<LabError> m_error;
};

}  // namespace

std::string LabError::Text() const {
  return line > 0 ? fmt::format("{}:{}: {}", path, line, message) : fmt::format("{}: {}", path, message);
}

std::string_view AnswerTypeName(AnswerType type) {
  switch (type) {
    case AnswerType::Integer: return "integer";
    case AnswerType::Number: return "number";
    case AnswerType::Choice: return "choice";
    case AnswerType::Function: return "function";
    case AnswerType::ExitReason: return "exit-reason";
    case AnswerType::YesNo: return "yes-no";
    case AnswerType::Text: return "text";
  }
  return "";
}

bool Lab::NeedsTracing() const {
  return std::any_of(questions.begin(), questions.end(),
                     [](const Question& q) { return q.answer.NeedsTracing(); });
}

const Question* Lab::FindQuestion(std::string_view id) const {
  for (const Question& q : questions) {
    if (q.id == id) return &q;
  }
  return nullptr;
}

std::variant<Lab, LabError> ParseLab(const std::string& text, const std::string& path) {
  LabParser parser(path);
  if (auto error = parser.Parse(text)) return *error;
  return parser.Take();
}

std::variant<Lab, LabError> LoadLab(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return LabError{path.string(), 0, "no such lab file"};
  }
  if (std::filesystem::file_size(path, ec) > (1u << 20)) {
    return LabError{path.string(), 0, "larger than 1 MiB: not a lab"};
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return LabError{path.string(), 0, "cannot be read"};
  return ParseLab(ss.str(), path.string());
}

LabDir LoadLabDir(const std::filesystem::path& dir) {
  LabDir out;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  }
  if (ec) {
    out.errors.push_back({dir.string(), 0, "cannot list the folder: " + ec.message()});
    return out;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto loaded = LoadLab(f);
    if (auto* error = std::get_if<LabError>(&loaded)) {
      out.errors.push_back(*error);
    } else {
      out.labs.push_back(std::move(std::get<Lab>(loaded)));
    }
  }
  return out;
}

std::variant<Lab, std::string> FindLab(const std::filesystem::path& dir, const std::string& name) {
  std::variant<Lab, LabError> loaded;
  if (name.find('/') != std::string::npos || name.ends_with(".md")) {
    loaded = LoadLab(name);
  } else {
    LabDir all = LoadLabDir(dir);
    std::string ids;
    for (Lab& l : all.labs) {
      if (l.id == name || std::filesystem::path(l.path).stem() == name) return std::move(l);
      ids += (ids.empty() ? "" : ", ") + l.id;
    }
    return fmt::format("no lab '{}' in {} (labs there: {})", name, dir.string(), ids.empty() ? "none" : ids);
  }
  if (auto* error = std::get_if<LabError>(&loaded)) return error->Text();
  return std::move(std::get<Lab>(loaded));
}

uint64_t StudentParam(const Lab& lab, size_t step, const std::string& student) {
  const auto& range = *lab.steps[step].run->param_range;
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bit
  for (char c : fmt::format("{}/{}/{}", lab.id, step + 1, student)) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return range.first + h % (range.second - range.first + 1);
}

std::optional<uint64_t> ParamFor(const Lab& lab, size_t step, const std::string& student) {
  const auto& run = lab.steps[step].run;
  if (!run) return std::nullopt;
  if (run->param_range) return StudentParam(lab, step, student);
  return run->param;
}

}  // namespace kvmscope::lab

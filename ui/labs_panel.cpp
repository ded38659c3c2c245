// The Labs tab: pick a lab, read a step, run its guest, follow its "look
// at" links, answer and check its questions against the trace on screen;
// progress saved to the answers file (lab::FormatAnswers) on every Check.
#include "ui/labs_panel.h"

#include <fmt/format.h>
#include <imgui.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "traces/atomic_file.h"

namespace kvmscope::ui {
namespace fs = std::filesystem;

// --- LabProgress ---

LabProgress::LabProgress(lab::Lab lab, std::string answers_path, const std::string& student)
    : m_lab(std::move(lab)), m_path(std::move(answers_path)) {
  std::error_code ec;
  if (fs::exists(m_path, ec)) {
    auto loaded = lab::LoadAnswers(m_path, m_lab);
    if (auto* error = std::get_if<std::string>(&loaded)) {
      m_load_error = *error;
    } else {
      m_answers = std::move(std::get<lab::Answers>(loaded));
      for (const auto& [id, p] : m_answers.predictions) m_locked[id] = !p.empty();
    }
  }
  if (!student.empty()) m_answers.student = student;
  m_answers.lab = m_lab.id;
}

namespace {
std::string Get(const std::map<std::string, std::string>& m, const std::string& id) {
  auto it = m.find(id);
  return it == m.end() ? std::string() : it->second;
}
}  // namespace

std::string LabProgress::Answer(const std::string& id) const { return Get(m_answers.answers, id); }
void LabProgress::SetAnswer(const std::string& id, const std::string& text) {
  if (text.empty()) {
    m_answers.answers.erase(id);
  } else {
    m_answers.answers[id] = text;
  }
}
std::string LabProgress::Prediction(const std::string& id) const { return Get(m_answers.predictions, id); }
void LabProgress::SetPrediction(const std::string& id, const std::string& text) {
  if (PredictionLocked(id)) return;
  if (text.empty()) {
    m_answers.predictions.erase(id);
  } else {
    m_answers.predictions[id] = text;
  }
}
bool LabProgress::PredictionLocked(const std::string& id) const {
  auto it = m_locked.find(id);
  return it != m_locked.end() && it->second;
}
int LabProgress::Attempts(const std::string& id) const {
  auto it = m_answers.attempts.find(id);
  return it == m_answers.attempts.end() ? 0 : it->second;
}

std::optional<uint64_t> LabProgress::Param(size_t step, std::string* why_not) const {
  const lab::Step& s = m_lab.steps[step];
  if (s.run && s.run->param_range && m_answers.student.empty()) {
    if (why_not) {
      *why_not = "this step's --param comes from your student id: open the window with --student ID";
    }
    return std::nullopt;
  }
  return lab::ParamFor(m_lab, step, m_answers.student);
}

void LabProgress::MarkRun(size_t step) {
  bool changed = false;
  for (size_t qi : m_lab.steps[step].questions) {
    const lab::Question& q = m_lab.questions[qi];
    if (!q.predict || PredictionLocked(q.id)) continue;
    m_locked[q.id] = true;  // an empty one too: predicting after the run means nothing
    changed = changed || !Prediction(q.id).empty();
  }
  if (changed) Save();
}

const lab::QuestionResult& LabProgress::Check(const std::string& id, const traces::TraceData& trace) {
  lab::QuestionResult& r = m_results[id];
  const lab::QuestionResult last = r;  // what the previous Check graded
  r = {};
  r.id = id;
  const lab::Question* q = m_lab.FindQuestion(id);
  if (q == nullptr) {
    r.status = lab::Status::Error;
    r.feedback = "no question " + id + " in this lab";
    return r;
  }
  r.answer = Answer(id);
  const std::optional<size_t> step = m_lab.steps[q->step].trace_step;
  std::string problem;
  if (!step) {
    problem = "no step before this question runs a guest";
  } else if (trace.EventCount() == 0) {
    problem = fmt::format("no trace yet: press Run this step (step {})", *step + 1);
  } else {
    problem = lab::TraceProblem(m_lab, *step, trace, m_answers.student, "");
    if (!problem.empty()) problem += fmt::format(": press Run this step (step {})", *step + 1);
  }
  if (!problem.empty()) {
    r.status = lab::Status::NoTrace;
    r.feedback = "not graded: " + problem;
  } else {
    // Checking the answer just graded again is not a new attempt.
    const bool again = last.answer == r.answer &&
                       (last.status == lab::Status::Correct || last.status == lab::Status::Wrong);
    const int attempts = Attempts(id) + (again ? 0 : 1);
    r = lab::GradeQuestion(*q, r.answer, trace, std::max(attempts, 1));
    if (r.status == lab::Status::Correct || r.status == lab::Status::Wrong) {
      m_answers.attempts[id] = std::max(attempts, 1);
    }
  }
  r.prediction = Prediction(id);
  Save();
  return r;
}

const lab::QuestionResult* LabProgress::Result(const std::string& id) const {
  auto it = m_results.find(id);
  return it == m_results.end() ? nullptr : &it->second;
}

void LabProgress::Save() {
  try {
    const std::string text = lab::FormatAnswers(m_answers, m_lab);
    traces::WriteFileAtomically(m_path, [&](std::ostream& out) { out << text; });
    m_save_message = "saved " + m_path;
    m_load_error.clear();
  } catch (const std::exception& e) {
    m_save_message = fmt::format("could not save {}: {}", m_path, e.what());
  }
}

// --- LabsPanel ---

LabsPanel::LabsPanel(Controller& controller, LabsOptions options, Queue queue,
                     std::function<void(const std::string&)> mark)
    : m_controller(controller),
      m_options(std::move(options)),
      m_queue(std::move(queue)),
      m_mark(std::move(mark)) {}

void LabsPanel::Load() {
  if (m_loaded) return;
  m_loaded = true;
  if (!m_options.dir.empty()) {
    lab::LabDir all = lab::LoadLabDir(m_options.dir);
    m_labs = std::move(all.labs);
    for (const lab::LabError& e : all.errors) m_errors.push_back(e.Text());
  }
  size_t first = 0;
  if (!m_options.lab.empty()) {
    auto found = lab::FindLab(m_options.dir, m_options.lab);
    if (auto* error = std::get_if<std::string>(&found)) {
      m_message = *error;
    } else {
      lab::Lab& l = std::get<lab::Lab>(found);
      auto it = std::find_if(m_labs.begin(), m_labs.end(), [&](const lab::Lab& x) { return x.path == l.path; });
      if (it == m_labs.end()) {
        m_labs.push_back(std::move(l));  // a lab file outside the folder
        it = m_labs.end() - 1;
      }
      first = static_cast<size_t>(it - m_labs.begin());
    }
  }
  if (!m_labs.empty()) OpenLab(first);
}

void LabsPanel::OpenLab(size_t index) {
  Load();
  if (index >= m_labs.size()) return;
  // The --answers file belongs to the lab named with --lab; others get their own.
  const bool named = !m_options.lab.empty() && !m_options.answers.empty() &&
                     (m_labs[index].id == m_options.lab || m_labs[index].path == m_options.lab ||
                      fs::path(m_labs[index].path).stem() == m_options.lab);
  const std::string path = named ? m_options.answers : m_labs[index].id + ".answers.txt";
  const std::string student = m_progress ? m_progress->student() : m_options.student;
  m_lab = index;
  m_progress.emplace(m_labs[index], path, student);
  m_step = 0;
  m_answer_buf.clear();
  m_predict_buf.clear();
  auto fill = [](std::array<char, 256>& buf, const std::string& text) {
    buf.fill(0);
    std::strncpy(buf.data(), text.c_str(), buf.size() - 1);
  };
  for (const lab::Question& q : m_progress->lab().questions) {
    fill(m_answer_buf[q.id], m_progress->Answer(q.id));
    fill(m_predict_buf[q.id], m_progress->Prediction(q.id));
  }
  m_message = !m_progress->load_error().empty() ? m_progress->load_error()
              : fs::exists(path)               ? "resumed from " + path
                                               : "your answers will be saved to " + path;
}

void LabsPanel::SetStep(size_t step) {
  if (m_progress && step < m_progress->lab().steps.size()) m_step = step;
}

void LabsPanel::RunStep() {
  if (!m_progress) return;
  const lab::Lab& l = m_progress->lab();
  const std::optional<size_t> ts = l.steps[m_step].trace_step;
  if (!ts || !l.steps[*ts].run || l.steps[*ts].run->own) return;
  std::string why;
  std::optional<uint64_t> param = m_progress->Param(*ts, &why);
  if (!why.empty()) {
    m_message = why;
    return;
  }
  m_progress->MarkRun(*ts);
  m_queue([this, guest = l.steps[*ts].run->guest, param] {
    m_message = m_controller.RunGuest(guest, param);
  });
}

bool LabsPanel::FollowLink(size_t link, const traces::TraceData& trace, SharedView& view) {
  if (!m_progress) return false;
  const lab::Step& s = m_progress->lab().steps[m_step];
  if (link >= s.looks.size()) return false;
  const lab::Link& l = s.looks[link];
  std::vector<traces::EventRef> events = lab::Select(l.selector, trace);
  if (l.first && events.size() > 1) events.resize(1);
  if (!SelectAndShow(trace, view, events)) {
    m_message = fmt::format("{}: no such event in this trace ({})", l.label, l.query);
    return false;
  }
  m_message = events.size() == 1 ? fmt::format("{}: selected", l.label)
                                 : fmt::format("{}: {} events, the first selected", l.label, events.size());
  return true;
}

void LabsPanel::Check(const std::string& id, const traces::TraceData& trace) {
  if (!m_progress) return;
  const lab::QuestionResult& r = m_progress->Check(id, trace);
  m_message = fmt::format("{}: {}{}{} — {}", id, lab::StatusName(r.status), r.feedback.empty() ? "" : ": ",
                          r.feedback, m_progress->save_message());
}

namespace {

// The handout's Markdown paragraphs as flowing text: single line breaks
// (the author's wrapping) become spaces; blank lines stay.
std::string Reflow(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool lone = text[i] == '\n' && (i + 1 >= text.size() || text[i + 1] != '\n') &&
                      (i == 0 || text[i - 1] != '\n');
    out += lone ? ' ' : text[i];
  }
  return out;
}

// A button of the fixed width the label needs, disabled with a reason.
bool Button(const std::string& label, bool enabled, const std::string& why_not) {
  ImGui::BeginDisabled(!enabled);
  const bool pressed = ImGui::Button(label.c_str());
  ImGui::EndDisabled();
  if (!enabled && !why_not.empty() && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
    ImGui::SetTooltip("%s", why_not.c_str());
  }
  return pressed;
}

// Status in words and a colour (never colour alone).
ImVec4 StatusColour(lab::Status s) {
  switch (s) {
    case lab::Status::Correct: return ImVec4(0.35f, 0.85f, 0.40f, 1);
    case lab::Status::Wrong: return ImVec4(0.95f, 0.45f, 0.35f, 1);
    case lab::Status::NoTrace:
    case lab::Status::Error: return ImVec4(0.95f, 0.75f, 0.30f, 1);
    default: return ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
  }
}

}  // namespace

void LabsPanel::Draw(const traces::TraceData& trace, SharedView& view) {
  Load();
  const float em = ImGui::GetFontSize();
  if (m_labs.empty()) {
    ImGui::TextWrapped("No labs in %s (set KVMSCOPE_LABS or open the window with --lab FILE).",
                       m_options.dir.c_str());
    for (const std::string& e : m_errors) ImGui::TextWrapped("not a lab: %s", e.c_str());
    return;
  }
  // Row 1: the lab, the step, where the answers go.
  const lab::Lab& current = m_progress->lab();
  ImGui::SetNextItemWidth(std::min(em * 18, ImGui::GetContentRegionAvail().x * 0.5f));
  if (ImGui::BeginCombo("##lab", current.title.c_str())) {
    for (size_t i = 0; i < m_labs.size(); ++i) {
      const std::string label = fmt::format("{}  ({}, {} min)", m_labs[i].title, m_labs[i].id, m_labs[i].minutes);
      if (ImGui::Selectable(label.c_str(), i == m_lab)) OpenLab(i);
      Mark("lab:" + m_labs[i].id);
    }
    ImGui::EndCombo();
  }
  Mark("lab");
  if (!m_progress) return;  // (OpenLab always makes one)
  const lab::Lab& l = m_progress->lab();
  ImGui::SameLine();
  if (Button("<##prev", m_step > 0, "")) m_step--;
  Mark("step-prev");
  ImGui::SameLine();
  ImGui::Text("Step %zu of %zu", m_step + 1, l.steps.size());
  ImGui::SameLine();
  if (Button(">##next", m_step + 1 < l.steps.size(), "")) m_step++;
  Mark("step-next");
  if (!m_message.empty()) ImGui::TextWrapped("%s", m_message.c_str());

  ImGui::BeginChild("##labstep", ImVec2(0, 0), false);
  DrawStep(trace, view);
  ImGui::EndChild();
}

void LabsPanel::DrawStep(const traces::TraceData& trace, SharedView& view) {
  const lab::Lab& l = m_progress->lab();
  const lab::Step& s = l.steps[m_step];
  const float em = ImGui::GetFontSize();
  ImGui::TextUnformatted(s.title.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("  answers: %s%s", m_progress->answers_path().c_str(),
                      m_progress->student().empty() ? "" : fmt::format(" ({})", m_progress->student()).c_str());
  ImGui::Separator();
  // The handout's text: a few lines at a time, scrolled, so that the
  // buttons and questions stay in view on a projector.
  std::string text = Reflow(m_step == 0 && !l.intro.empty() ? l.intro + "\n\n" + s.text : s.text);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) {
    const float wrap = ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ScrollbarSize;
    const float h = ImGui::CalcTextSize(text.c_str(), nullptr, false, wrap).y;
    ImGui::BeginChild("##text", ImVec2(0, std::min(h + ImGui::GetStyle().WindowPadding.y * 2, em * 5.5f)), true);
    ImGui::TextWrapped("%s", text.c_str());
    ImGui::EndChild();
  }

  // What the step runs.
  const std::optional<size_t> ts = s.trace_step;
  if (s.run && s.run->own) {
    ImGui::TextWrapped("Your own guest (%s mode): kvmscope lab run %s --step %zu --asm YOUR.S, then "
                       "Open its trace (%s) here.",
                       s.run->mode.c_str(), l.id.c_str(), m_step + 1, s.run->trace.c_str());
  } else if (ts) {
    const lab::RunSpec& run = *l.steps[*ts].run;
    std::string why;
    const std::optional<uint64_t> param = m_progress->Param(*ts, &why);
    const bool can = why.empty() && !m_controller.guests().empty();
    if (why.empty() && !can) why = "this window cannot run guests";
    if (Button("Run this step", can, why)) RunStep();
    Mark("labrun");
    ImGui::SameLine();
    std::string what = "guest " + run.guest + (param ? fmt::format(" --param {}", *param) : "");
    if (*ts != m_step) what += fmt::format(" (the run of step {})", *ts + 1);
    ImGui::TextDisabled("%s", what.c_str());
  } else {
    ImGui::TextDisabled("This step runs nothing.");
  }

  // The "look at" links.
  for (size_t i = 0; i < s.looks.size(); ++i) {
    if (i > 0) ImGui::SameLine();
    const std::string label = fmt::format("Look: {}##look{}", s.looks[i].label, i);
    if (ImGui::SmallButton(label.c_str())) FollowLink(i, trace, view);
    Mark(fmt::format("look:{}", i));
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s%s", s.looks[i].first ? "first " : "", s.looks[i].query.c_str());
  }

  for (size_t qi : s.questions) DrawQuestion(l.questions[qi], trace);
}

void LabsPanel::DrawQuestion(const lab::Question& q, const traces::TraceData& trace) {
  const float em = ImGui::GetFontSize();
  ImGui::Spacing();
  ImGui::Separator();
  ImGui::PushID(q.id.c_str());
  ImGui::TextWrapped("%s", q.ask.c_str());
  std::array<char, 256>& answer = m_answer_buf[q.id];
  auto set_answer = [&](const std::string& v) {
    answer.fill(0);
    std::strncpy(answer.data(), v.c_str(), answer.size() - 1);
    m_progress->SetAnswer(q.id, v);
  };
  if (q.predict) {
    std::array<char, 256>& p = m_predict_buf[q.id];
    const bool locked = m_progress->PredictionLocked(q.id);
    ImGui::TextUnformatted("Prediction:");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(em * 8);
    ImGui::BeginDisabled(locked);
    if (ImGui::InputText("##predict", p.data(), p.size())) m_progress->SetPrediction(q.id, p.data());
    ImGui::EndDisabled();
    Mark("predict:" + q.id);
    ImGui::SameLine();
    ImGui::TextDisabled("%s", locked ? "committed: the step has run" : "predict before you run the step");
  }
  const std::string current = answer.data();
  switch (q.type) {
    case lab::AnswerType::Choice:
      for (size_t i = 0; i < q.choices.size(); ++i) {
        if (i > 0) ImGui::SameLine();
        if (ImGui::RadioButton(q.choices[i].c_str(), current == q.choices[i])) set_answer(q.choices[i]);
        Mark(fmt::format("choice:{}:{}", q.id, i));
      }
      break;
    case lab::AnswerType::YesNo:
      for (const char* c : {"yes", "no"}) {
        if (c[0] == 'n') ImGui::SameLine();
        if (ImGui::RadioButton(c, current == c)) set_answer(c);
        Mark(fmt::format("choice:{}:{}", q.id, c));
      }
      break;
    default: {
      ImGui::TextUnformatted("Answer:");
      ImGui::SameLine();
      const bool text = q.type == lab::AnswerType::Text;
      ImGui::SetNextItemWidth(text ? std::max(em * 8, ImGui::GetContentRegionAvail().x - em * 6) : em * 8);
      if (ImGui::InputText("##answer", answer.data(), answer.size())) m_progress->SetAnswer(q.id, answer.data());
      Mark("answer:" + q.id);
      if (!q.unit.empty()) {
        ImGui::SameLine();
        ImGui::TextDisabled("%s", q.unit.c_str());
      }
      break;
    }
  }
  ImGui::SameLine();
  if (ImGui::Button(q.type == lab::AnswerType::Text ? "Save" : "Check")) Check(q.id, trace);
  Mark("check:" + q.id);
  const int attempts = m_progress->Attempts(q.id);
  if (attempts > 0) {
    ImGui::SameLine();
    ImGui::TextDisabled("%d attempt%s", attempts, attempts == 1 ? "" : "s");
  }
  if (const lab::QuestionResult* r = m_progress->Result(q.id)) {
    ImGui::PushStyleColor(ImGuiCol_Text, StatusColour(r->status));
    ImGui::TextWrapped("%s%s%s", std::string(lab::StatusName(r->status)).c_str(), r->feedback.empty() ? "" : ": ",
                       r->feedback.c_str());
    ImGui::PopStyleColor();
    if (!r->prediction.empty() && !r->expected.empty()) {
      ImGui::TextWrapped("You predicted %s; your trace says %s.", r->prediction.c_str(), r->expected.c_str());
    }
    if (r->status == lab::Status::Wrong && !r->hint.empty()) ImGui::TextWrapped("Hint: %s", r->hint.c_str());
  }
  ImGui::PopID();
}

}  // namespace kvmscope::ui

// The lab engine without a VMM: lab files and answers files parsed (errors
// naming the line), queries evaluated over traces recorded on PVM, VMX and
// SVM (tests/data), and grading with feedback computed from the trace.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "lab/grade.h"
#include "traces/trace_json.h"

namespace fs = std::filesystem;
using namespace kvmscope;

namespace {

traces::TraceData Load(const std::string& name) {
  return traces::LoadTrace(std::string(KVMSCOPE_TESTDATA) + "/" + name);
}

lab::Value Eval(const std::string& query, const traces::TraceData& trace) {
  auto parsed = lab::ParseQuery(query);
  EXPECT_TRUE(std::holds_alternative<lab::Query>(parsed)) << query << ": " << std::get<std::string>(parsed);
  const lab::Outcome o = lab::Evaluate(std::get<lab::Query>(parsed), trace);
  EXPECT_TRUE(o.value) << query << ": skipped '" << o.skipped << "' error '" << o.error << "'";
  return o.value.value_or(lab::Value{});
}

std::string ParseError(const std::string& query) {
  auto parsed = lab::ParseQuery(query);
  return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

lab::LabError LabErrorOf(const std::string& text) {
  auto parsed = lab::ParseLab(text, "t.md");
  EXPECT_TRUE(std::holds_alternative<lab::LabError>(parsed)) << text;
  return std::holds_alternative<lab::LabError>(parsed) ? std::get<lab::LabError>(parsed) : lab::LabError{};
}

constexpr const char* kLab = R"(# A small lab
```lab
id: small
minutes: 20
```
Intro text.

## Step 1: pagefault
```run
guest: pagefault
trace: pf.json
look: first kvm_inj_exception exception=14 | the first #PF
```
Some text.
```question
id: pf
ask: How many #PF did KVM inject?
type: integer
answer: count kvm_inj_exception exception=14
mistake: count kvm_inj_exception => that counts every exception
hint: look at kvm_inj_exception
hint: filter by vector 14
wrong: 0
```
```question
id: paging
ask: Which paging?
type: choice
choices: shadow, tdp
answer: paging
```
## Step 2: no run
```question
id: why
ask: Why?
type: text
```
)";

lab::Lab SmallLab() {
  auto parsed = lab::ParseLab(kLab, "small.md");
  if (auto* e = std::get_if<lab::LabError>(&parsed)) ADD_FAILURE() << e->Text();
  return std::get<lab::Lab>(parsed);
}

}  // namespace

TEST(LabFile, ParsesStepsRunsLinksAndQuestions) {
  const lab::Lab lab = SmallLab();
  EXPECT_EQ(lab.id, "small");
  EXPECT_EQ(lab.title, "A small lab");
  EXPECT_EQ(lab.minutes, 20);
  ASSERT_EQ(lab.steps.size(), 2u);
  ASSERT_TRUE(lab.steps[0].run);
  EXPECT_EQ(lab.steps[0].run->guest, "pagefault");
  ASSERT_EQ(lab.steps[0].looks.size(), 1u);
  EXPECT_TRUE(lab.steps[0].looks[0].first);
  EXPECT_EQ(lab.steps[0].looks[0].label, "the first #PF");
  ASSERT_EQ(lab.questions.size(), 3u);
  EXPECT_EQ(lab.questions[0].hints.size(), 2u);
  EXPECT_EQ(lab.questions[0].mistakes.size(), 1u);
  // A step that runs nothing reads the trace of the last step that did.
  EXPECT_EQ(lab.steps[1].trace_step, 0u);
  EXPECT_FALSE(lab.steps[1].run);
  EXPECT_TRUE(lab.NeedsTracing());
}

TEST(LabFile, ErrorsNameTheLine) {
  std::string text = kLab;
  text.replace(text.find("type: integer"), 13, "type: integr");
  lab::LabError e = LabErrorOf(text);
  EXPECT_EQ(e.line, 18) << e.Text();
  EXPECT_NE(e.message.find("integr"), std::string::npos) << e.Text();

  text = kLab;
  text.replace(text.find("count kvm_inj_exception exception=14"), 36, "count kvm_nonsense");
  e = LabErrorOf(text);
  EXPECT_EQ(e.line, 19) << e.Text();
  EXPECT_NE(e.message.find("kvm_nonsense"), std::string::npos) << e.Text();

  text = kLab;
  text.replace(text.find("minutes: 20"), 11, "colour: red");
  e = LabErrorOf(text);
  EXPECT_EQ(e.line, 4) << e.Text();
  EXPECT_EQ(e.Text().rfind("t.md:4: unknown key 'colour'", 0), 0u) << e.Text();

  e = LabErrorOf(std::string(kLab) + "```question\nid: pf\nask: again\ntype: text\n```\n");
  EXPECT_NE(e.message.find("used twice"), std::string::npos) << e.Text();
  e = LabErrorOf(std::string(kLab) + "```question\nid: open\n");
  EXPECT_NE(e.message.find("not closed"), std::string::npos) << e.Text();
  e = LabErrorOf("# t\n```lab\nid: x\nminutes: 20\n```\n## s\n```question\nid: q\nask: a\ntype: integer\nanswer: count exits\n```\n");
  EXPECT_NE(e.message.find("no step up to here runs a guest"), std::string::npos) << e.Text();
  e = LabErrorOf("# t\n```lab\nid: x\nminutes: 20\n```\n## s\n```run\nguest: hello\ntrace: /etc/passwd.json\n```\n");
  EXPECT_EQ(e.line, 9) << e.Text();
}

TEST(LabQuery, ParseErrorsSayWhatWasExpected) {
  EXPECT_NE(ParseError("").find("empty"), std::string::npos);
  EXPECT_NE(ParseError("count").find("which events"), std::string::npos);
  EXPECT_NE(ParseError("first exits").find(".port"), std::string::npos);
  EXPECT_NE(ParseError("p50 exits").find("needs a span"), std::string::npos);
  EXPECT_NE(ParseError("count exits reason=").find("no value"), std::string::npos);
  EXPECT_NE(ParseError("count exits bogus").find("unexpected 'bogus'"), std::string::npos);
  EXPECT_NE(ParseError("verdict no-such-claim").find("not a seed claim"), std::string::npos);
  EXPECT_EQ(ParseError("count exits reason=IO - count exits reason=HLT > 0"), "");
}

// The same questions, answered on three backends from their own stacks.
TEST(LabQuery, AnswersComeFromEachBackendsOwnTrace) {
  const traces::TraceData pvm = Load("pagefault-pvm.json");
  const traces::TraceData svm = Load("pagefault-svm.json");
  const traces::TraceData vmx = Load("pagefault-vmx.json");
  EXPECT_EQ(Eval("vendor-handler", pvm).text, "pvm_handle_exit");
  EXPECT_EQ(Eval("vendor-handler", svm).text, "svm_handle_exit");
  EXPECT_EQ(Eval("vendor-handler", vmx).text, "vmx_handle_exit");
  EXPECT_EQ(Eval("backend", svm).text, "SVM");
  // Shadow paging on PVM injects the guest's #PF; NPT/EPT let the guest take it.
  EXPECT_EQ(Eval("paging", pvm).set, std::vector<std::string>{"shadow"});
  const lab::Value svm_paging = Eval("paging", svm);
  EXPECT_NE(std::find(svm_paging.set.begin(), svm_paging.set.end(), "npt"), svm_paging.set.end());
  EXPECT_GT(Eval("count kvm_inj_exception exception=14", pvm).number, 0);
  // Which kernel function emitted kvm_mmu_set_spte: the shadow MMU's on PVM,
  // the TDP MMU's or the direct map's with NPT and EPT; the page-fault
  // handler is on every stack.
  const lab::Value shadow = Eval("function kvm_mmu_set_spte", pvm);
  EXPECT_NE(std::find(shadow.set.begin(), shadow.set.end(), "mmu_set_spte"), shadow.set.end());
  for (const auto* t : {&pvm, &svm, &vmx}) {
    EXPECT_TRUE(Eval("in-stack kvm_mmu_page_fault kvm_mmu_set_spte", *t).yes) << t->host.backend;
  }
  // handle_ept_violation ends in `return kvm_mmu_page_fault()`: a tail call,
  // so in the stacks the exit handler calls kvm_mmu_page_fault directly.
  const lab::Value callee = Eval("callee vmx_handle_exit kvm_mmu_set_spte", vmx);
  EXPECT_EQ(callee.set, std::vector<std::string>{"kvm_mmu_page_fault"});
  // Arithmetic, comparisons and fields.
  const double runs = Eval("count runs", pvm).number;
  EXPECT_EQ(Eval("count runs - count exits", pvm).number, runs - Eval("count exits", pvm).number);
  EXPECT_TRUE(Eval("count exits > 0", pvm).yes);
  EXPECT_EQ(Eval("last exits .reason", pvm).Show(), "KVM_EXIT_HLT");
  EXPECT_EQ(Eval("first exits reason=IO .port", pvm).Show(), "0x3f8");
  const lab::Value p50 = Eval("p50 run reason=IO", pvm);
  EXPECT_TRUE(p50.duration);
  EXPECT_GT(p50.number, 0);
  EXPECT_LE(p50.number, Eval("max run reason=IO", pvm).number);
  // The kernel's KVM_RUN filtered by the exit the VMM got from it.
  const lab::Value kernel_io = Eval("p50 kernel-run reason=IO", pvm);
  EXPECT_GT(kernel_io.number, 0);
  EXPECT_LE(kernel_io.number, Eval("max kernel-run", pvm).number);
  // Units: a ratio of durations has none; a count over a duration is a rate.
  const lab::Value share = Eval("total kernel-run / total run", pvm);
  EXPECT_FALSE(share.duration);
  EXPECT_GT(share.number, 0.5);
  EXPECT_LE(share.number, 1.0);
  const lab::Value rate = Eval("count exits / total run", pvm);
  EXPECT_FALSE(rate.duration);
  EXPECT_NEAR(rate.number, Eval("count exits", pvm).number * 1e9 / Eval("total run", pvm).number, 1e-6);
  EXPECT_TRUE(Eval("total run / count exits", pvm).duration);
}

TEST(LabQuery, WhatATraceCannotAnswerIsSkippedWithTheReason) {
  traces::TraceData t = Load("pagefault-pvm.json");
  t.kvm_stats.reset();
  t.kvm_stats_note = "the kernel lacks KVM_CAP_BINARY_STATS_FD";
  auto q = std::get<lab::Query>(lab::ParseQuery("kvm-stat exits"));
  lab::Outcome o = lab::Evaluate(q, t);
  EXPECT_FALSE(o.value);
  EXPECT_NE(o.skipped.find("KVM_CAP_BINARY_STATS_FD"), std::string::npos) << o.skipped;

  t.host.plan.reset();
  t.host.not_traced_reason = "kernel tracing needs root";
  q = std::get<lab::Query>(lab::ParseQuery("count kvm_pio"));
  o = lab::Evaluate(q, t);
  EXPECT_NE(o.skipped.find("needs kernel tracing"), std::string::npos) << o.skipped;
  EXPECT_NE(o.skipped.find("needs root"), std::string::npos) << o.skipped;
  // The VMM side is always there.
  q = std::get<lab::Query>(lab::ParseQuery("count exits reason=IO"));
  EXPECT_TRUE(lab::Evaluate(q, t).value);

  t.kvm_stats = traces::KvmStatsRecord{};
  t.kvm_stats->vm["remote_tlb_flush"] = 3;
  t.kvm_stats->vcpus = {{{"exits", 10}}, {{"exits", 5}}};
  EXPECT_EQ(Eval("kvm-stat exits", t).number, 15);
  EXPECT_EQ(Eval("kvm-stat exits vcpu=1", t).number, 5);
  EXPECT_EQ(Eval("kvm-stat remote_tlb_flush", t).number, 3);
}

TEST(LabGrade, FeedbackComesFromTheTrace) {
  const lab::Lab lab = SmallLab();
  const traces::TraceData t = Load("pagefault-pvm.json");
  const double pf = Eval("count kvm_inj_exception exception=14", t).number;
  const double all = Eval("count kvm_inj_exception", t).number;
  ASSERT_GT(pf, 0);
  const lab::Question& q = lab.questions[0];
  lab::QuestionResult r = lab::GradeQuestion(q, fmt::format("{}", pf), t);
  EXPECT_EQ(r.status, lab::Status::Correct) << r.feedback;
  r = lab::GradeQuestion(q, fmt::format("{}", pf + 1), t);
  EXPECT_EQ(r.status, lab::Status::Wrong);
  EXPECT_NE(r.feedback.find(fmt::format("your trace says {}", pf)), std::string::npos) << r.feedback;
  EXPECT_EQ(r.hint, "look at kvm_inj_exception");
  r = lab::GradeQuestion(q, "seven", t, 2);
  EXPECT_NE(r.feedback.find("write a number"), std::string::npos) << r.feedback;
  EXPECT_EQ(r.hint, "filter by vector 14");
  if (all != pf) {
    r = lab::GradeQuestion(q, fmt::format("{}", all), t);
    EXPECT_NE(r.feedback.find("that counts every exception"), std::string::npos) << r.feedback;
  }
  // Choices must be one of the list; names compare case-insensitively.
  EXPECT_EQ(lab::GradeQuestion(lab.questions[1], "Shadow", t).status, lab::Status::Correct);
  EXPECT_EQ(lab::GradeQuestion(lab.questions[1], "tdp", t).status, lab::Status::Wrong);
  EXPECT_NE(lab::GradeQuestion(lab.questions[1], "ept", t).feedback.find("answer one of"), std::string::npos);
}

TEST(LabGrade, ATraceOfAnotherRunIsNotGraded) {
  std::string text = kLab;
  text.replace(text.find("trace: pf.json"), 14, "trace: pf.json\nparam: 10..20 per student");
  const lab::Lab lab = std::get<lab::Lab>(lab::ParseLab(text, "p.md"));
  traces::TraceData t = Load("pagefault-pvm.json");
  const uint64_t alice = lab::StudentParam(lab, 0, "alice");
  EXPECT_GE(alice, 10u);
  EXPECT_LE(alice, 20u);
  EXPECT_EQ(alice, lab::StudentParam(lab, 0, "alice"));
  t.guest.param = alice;
  EXPECT_EQ(lab::TraceProblem(lab, 0, t, "alice", t.guest.sha256), "");
  // Another student's parameter (or none) is named.
  uint64_t other = alice;
  for (int i = 0; other == alice; ++i) other = lab::StudentParam(lab, 0, fmt::format("bob{}", i));
  t.guest.param = other;
  EXPECT_NE(lab::TraceProblem(lab, 0, t, "alice", "").find(fmt::format("--param {}", other)), std::string::npos);
  t.guest.param = alice;
  EXPECT_NE(lab::TraceProblem(lab, 0, t, "alice", std::string(64, 'a')).find("not kvmscope's"), std::string::npos);
  t.guest.name = "hello";
  EXPECT_NE(lab::TraceProblem(lab, 0, t, "alice", "").find("ran guest 'hello'"), std::string::npos);

  lab::Answers answers;
  answers.student = "alice";
  answers.answers["pf"] = "1";
  std::vector<lab::StepTrace> steps(2);
  steps[0] = {&t, "pf.json", "this trace ran guest 'hello', but step 1 runs 'pagefault'"};
  const lab::LabResult r = lab::GradeLab(lab, answers, steps);
  EXPECT_EQ(r.questions[0].status, lab::Status::NoTrace);
  EXPECT_NE(r.questions[0].feedback.find("ran guest 'hello'"), std::string::npos);
  EXPECT_FALSE(r.Passed());
}

TEST(LabAnswers, RoundTripAndErrorsNameTheKey) {
  const lab::Lab lab = SmallLab();
  lab::Answers a;
  a.student = "alice";
  a.answers = {{"pf", "3"}, {"paging", "shadow"}, {"why", "because: the VMM"}};
  a.attempts["pf"] = 2;
  const std::string text = lab::FormatAnswers(a, lab);
  auto back = lab::ParseAnswers(text, "a.txt", lab);
  ASSERT_TRUE(std::holds_alternative<lab::Answers>(back)) << std::get<std::string>(back);
  EXPECT_EQ(std::get<lab::Answers>(back).answers, a.answers);
  EXPECT_EQ(std::get<lab::Answers>(back).attempts, a.attempts);
  EXPECT_EQ(std::get<lab::Answers>(back).student, "alice");

  auto error = [&](const std::string& t) {
    auto r = lab::ParseAnswers(t, "a.txt", lab);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
  };
  EXPECT_EQ(error("student: a\npff: 3\n"), "a.txt:2: key 'pff': lab 'small' has no question 'pff'");
  EXPECT_NE(error("pf: 3\npf: 4\n").find("a.txt:2: key 'pf' is given twice"), std::string::npos);
  EXPECT_NE(error("pf.prediction: 3\n").find("asks for no prediction"), std::string::npos);
  EXPECT_NE(error("lab: other\n").find("not 'small'"), std::string::npos);
  EXPECT_NE(error("just words\n").find("a.txt:1: expected 'id: answer'"), std::string::npos);
}

// Every shipped lab parses, each question has an answer query or is text,
// and every lab can be worked through without root: some of its graded
// questions need neither kernel tracing nor anything a student cannot read.
TEST(ShippedLabs, ParseAndHaveAnUnprivilegedPath) {
  const lab::LabDir dir = lab::LoadLabDir(std::string(KVMSCOPE_SOURCE_DIR) + "/labs");
  for (const lab::LabError& e : dir.errors) ADD_FAILURE() << e.Text();
  EXPECT_GE(dir.labs.size(), 8u);
  for (const lab::Lab& l : dir.labs) {
    int unprivileged = 0;
    for (const lab::Question& q : l.questions) {
      if (q.type != lab::AnswerType::Text && !q.answer.NeedsTracing()) ++unprivileged;
    }
    EXPECT_GE(unprivileged, 2) << l.path << ": every lab needs questions a student without root can answer";
    EXPECT_GE(l.minutes, 20) << l.path;
    EXPECT_LE(l.minutes, 45) << l.path;
  }
}

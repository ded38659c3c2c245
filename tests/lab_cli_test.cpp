// `kvmscope lab` as students, lecturers and authors use it: the real binary,
// the shipped labs, real guests on /dev/kvm. The live lint of every shipped
// lab is the proof that its reference answers pass on this machine; inside
// the emulated SVM/VMX hosts KVMSCOPE_LAB_SUBSET names the few labs to lint
// there (they are emulators).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kvm_available.h"
#include "run_command.h"

namespace fs = std::filesystem;
using kvmscope::test::Capture;
using kvmscope::test::Result;

namespace {

const std::string kLabs = std::string(KVMSCOPE_SOURCE_DIR) + "/labs";
// A student: no root, but the kvm group (as in a lab room).
constexpr const char* kStudent = "setpriv --reuid=nobody --regid=nogroup --groups=kvm";

Result Kvmscope(const std::string& args, const std::string& prefix = "") {
  return Capture(prefix + " " KVMSCOPE_BIN " " + args + " 2>&1 </dev/null");
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool StudentCanRun() {
  return geteuid() == 0 && system("command -v setpriv >/dev/null") == 0 &&
         Capture(std::string(kStudent) + " sh -c 'test -r /dev/kvm && test -w /dev/kvm'").status == 0;
}

class LabCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("kvmscope-lab-" + std::to_string(getpid()));
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::all);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string Write(const std::string& name, const std::string& content) {
    fs::create_directories((dir / name).parent_path());
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  }
  fs::path dir;
};

}  // namespace

TEST_F(LabCli, ListAndShowReadTheShippedLabs) {
  Result r = Kvmscope("lab list --dir " + kLabs);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("run-loop"), std::string::npos) << r.output;
  r = Kvmscope("lab show run-loop --dir " + kLabs);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("kvmscope lab run run-loop --step 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[io-exits]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("predict it before you run the step"), std::string::npos) << r.output;
  // The labs beside the executable are found without --dir.
  EXPECT_EQ(Kvmscope("lab show run-loop").status, 0);
  r = Kvmscope("lab show no-such-lab --dir " + kLabs);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no lab 'no-such-lab'"), std::string::npos) << r.output;
}

TEST_F(LabCli, MalformedInputsAreClearErrorsAndWriteNothing) {
  const std::string lab = Write("bad.md", "# t\n```lab\nid: t\nminutes: 20\n```\n## s\n```run\nguest: nosuch\ntrace: t.json\n```\n"
                                          "```question\nid: q\nask: a\ntype: integer\nanswer: count exits\n```\n");
  Result r = Kvmscope("lab lint " + lab);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("bad.md:7: guest 'nosuch' is not in the catalog"), std::string::npos) << r.output;

  const std::string bad_query = Write("q.md", "# t\n```lab\nid: t\nminutes: 20\n```\n## s\n```run\nguest: hello\ntrace: t.json\n```\n"
                                              "```question\nid: q\nask: a\ntype: integer\nanswer: count exitz\n```\n");
  r = Kvmscope("lab check " + bad_query + " --answers /dev/null");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("q.md:15: answer: 'exitz' is not an event"), std::string::npos) << r.output;

  // An answers file with a key the lab does not have: named, exit 2.
  const std::string answers = Write("s1/answers.txt", "student: alice\nio-exitz: 25\n");
  r = Kvmscope("lab check run-loop --dir " + kLabs + " --answers " + answers);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("answers.txt:2: key 'io-exitz'"), std::string::npos) << r.output;

  // A trace that is not a trace: the place is named, exit 2, no grades written.
  Write("s1/run-loop-hello.json", "{\"format\": \"kvmscope-trace\", \"tracks\": [}");
  Write("s1/answers.txt", "student: alice\nio-exits: 25\n");
  r = Kvmscope("lab check run-loop --dir " + kLabs + " --answers " + (dir / "s1/answers.txt").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("run-loop-hello.json"), std::string::npos) << r.output;
  r = Kvmscope("lab grade run-loop " + dir.string() + " --dir " + kLabs);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir / "grades.csv")) << "a malformed submission must leave no grades behind";
}

// A student's whole path through lab 1, without root: run the step (the
// prediction committed first), answer, check — wrong answers get feedback
// from the student's own trace, right ones pass; a lecturer grades the folder.
TEST_F(LabCli, AStudentWithoutRootRunsChecksAndIsGraded) {
  KVMSCOPE_REQUIRE_KVM();
  const bool as_student = StudentCanRun();
  const std::string prefix = as_student ? kStudent : "";
  const fs::path alice = dir / "alice";
  fs::create_directories(alice);
  fs::permissions(alice, fs::perms::all);
  const std::string answers = (alice / "answers.txt").string();
  Result r = Kvmscope("lab run run-loop --dir " + kLabs + " --student alice --answers " + answers +
                          " --predict runs=20 --out " + alice.string() + (as_student ? "" : " --no-probes"),
                      prefix);
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(fs::exists(alice / "run-loop-hello.json")) << r.output;
  EXPECT_NE(Read(answers).find("runs.prediction: 20"), std::string::npos) << Read(answers);
  if (as_student) {
    EXPECT_NE(r.output.find("kernel tracing is off"), std::string::npos) << r.output;
  }

  // Wrong: the feedback counts from the trace and names the likely mistake.
  std::ofstream(answers, std::ios::app) << "runs: 26\nio-exits: 26\nfirst-port: 0x3f8\nlast-reason: HLT\n"
                                           "io-share: 96\nafter-hlt: no\nexplain: the VMM owns COM1\n";
  r = Kvmscope("lab check run-loop --dir " + kLabs + " --answers " + answers, prefix);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("your trace says 25 (count exits reason=IO); you answered 26"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("including the one that ended in KVM_EXIT_HLT"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("you predicted: 20; you observed: 26"), std::string::npos) << r.output;
  // Without root the kernel's events are not there: that question is skipped, with why.
  if (as_student) {
    EXPECT_NE(r.output.find("needs kernel tracing"), std::string::npos) << r.output;
  }

  // Right: exit 0, and --json for autograders.
  std::string text = Read(answers);
  text.replace(text.find("io-exits: 26"), 12, "io-exits: 25");
  std::ofstream(answers) << text;
  r = Kvmscope("lab check run-loop --dir " + kLabs + " --answers " + answers + " --json", prefix);
  EXPECT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_TRUE(j["passed"].get<bool>());
  EXPECT_EQ(j["student"], "alice");

  // The lecturer: alice's folder and carol's, who wrote one answer and ran nothing.
  fs::create_directories(dir / "carol");
  std::ofstream(dir / "carol" / "answers.txt") << "student: carol\nruns: 3\n";
  r = Kvmscope("lab grade run-loop " + dir.string() + " --dir " + kLabs);
  EXPECT_EQ(r.status, 0) << r.output;
  const std::string csv = Read(dir / "grades.csv");
  EXPECT_NE(csv.find("alice,alice,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("carol,carol,0,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("no trace"), std::string::npos) << csv;
  EXPECT_EQ(nlohmann::json::parse(Read(dir / "grades.json")).size(), 2u);
}

// Every shipped lab, run live here: each question's reference answer (the
// query's value on the fresh trace) is graded right and each `wrong:`
// example wrong. As root with kernel tracing, and as a student without it.
TEST_F(LabCli, EveryShippedLabsReferenceAnswersPassLive) {
  KVMSCOPE_REQUIRE_KVM();
  std::vector<std::string> labs;
  if (const char* subset = std::getenv("KVMSCOPE_LAB_SUBSET")) {
    std::stringstream ss(subset);
    for (std::string id; std::getline(ss, id, ',');) labs.push_back(id);
  } else {
    for (const auto& e : fs::directory_iterator(kLabs)) {
      if (e.path().extension() == ".md") labs.push_back(e.path().string());
    }
    std::sort(labs.begin(), labs.end());
  }
  ASSERT_FALSE(labs.empty());
  for (const std::string& l : labs) {
    Result r = Kvmscope("lab lint " + l + " --dir " + kLabs);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(", 0 failed"), std::string::npos) << r.output;
    if (geteuid() == 0) {
      // With tracing nothing is left unchecked.
      EXPECT_NE(r.output.find("0 not checkable"), std::string::npos) << r.output;
    }
  }
}

TEST_F(LabCli, EveryShippedLabHasAPathForAStudentWithoutRoot) {
  KVMSCOPE_REQUIRE_KVM();
  if (!StudentCanRun()) GTEST_SKIP() << "needs root to become an unprivileged member of group kvm (setpriv)";
  if (std::getenv("KVMSCOPE_LAB_SUBSET")) GTEST_SKIP() << "on the emulated hosts only the traced lint runs";
  for (const auto& e : fs::directory_iterator(kLabs)) {
    if (e.path().extension() != ".md") continue;
    Result r = Kvmscope("lab lint " + e.path().string(), kStudent);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(", 0 failed"), std::string::npos) << r.output;
  }
}

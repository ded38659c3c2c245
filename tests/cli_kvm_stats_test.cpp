// Tests of KVM's own counters through the kvmscope executable: every run's
// trace has them — also with --no-probes and without root, which is the
// point of them — with the guest's parameter, and `kvmscope stats` (text and
// --json) shows them beside the trace's counts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "kvm_available.h"
#include "run_command.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using kvmscope::test::Capture;
using kvmscope::test::Result;

Result Kvmscope(const std::string& args, const std::string& prefix = "") {
  return Capture(prefix + " " KVMSCOPE_BIN " " + args + " 2>&1 </dev/null");
}

class CliKvmStats : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("kvmscope-cli-kvmstats-" + std::to_string(getpid()));
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::all);  // writable by the unprivileged user too
  }
  void TearDown() override { fs::remove_all(dir); }
  Json Load(const fs::path& path) {
    std::ifstream in(path);
    return Json::parse(in);
  }
  fs::path dir;
};

// The trace's kvm_stats, or a failure saying why it is missing.
void ExpectCounters(const Json& trace, uint64_t vmm_exits_at_least) {
  ASSERT_TRUE(trace.contains("kvm_stats")) << "no kvm_stats section";
  if (trace["kvm_stats"].is_null()) {
    // Only a kernel without binary stats may lack them, and it must say so.
    EXPECT_NE(trace["kvm_stats_note"].get<std::string>().find("KVM_CAP_BINARY_STATS_FD"),
              std::string::npos)
        << trace["kvm_stats_note"];
    GTEST_SKIP() << trace["kvm_stats_note"].get<std::string>();
  }
  const Json& vcpus = trace["kvm_stats"]["vcpus"];
  ASSERT_EQ(vcpus.size(), 1u);
  EXPECT_GE(vcpus[0]["exits"].get<uint64_t>(), vmm_exits_at_least);
  EXPECT_GE(vcpus[0]["halt_exits"].get<uint64_t>(), 1u);
  EXPECT_EQ(trace["kvm_stats_note"], "");
}

TEST_F(CliKvmStats, RunWithoutProbesRecordsThemAndStatsShowsThem) {
  KVMSCOPE_REQUIRE_KVM();
  const fs::path out = dir / "pio.json";
  Result r = Kvmscope("run --guest pio-loop --param 50 --no-probes -q -o " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("KVM's own counters: exits "), std::string::npos) << r.output;
  const Json trace = Load(out);
  EXPECT_EQ(trace["guest"]["param"], 50);
  ExpectCounters(trace, 52);  // 50 writes, the status report, the HLT

  Result stats = Kvmscope("stats " + out.string());
  ASSERT_EQ(stats.status, 0) << stats.output;
  for (const char* part : {"KVM's own counters (KVM_GET_STATS_FD)",
                           "KVM = the kernel's own counter; trace = the events this trace recorded",
                           "KVM_RUN returns with an exit reason", "halt_exits", "KVM_EXIT_HLT",
                           "KVM's counters per vCPU", "KVM's VM-wide counters"}) {
    EXPECT_NE(stats.output.find(part), std::string::npos) << part << "\n" << stats.output;
  }
  Result json = Kvmscope("stats --json " + out.string());
  ASSERT_EQ(json.status, 0) << json.output;
  const Json j = Json::parse(json.output);
  EXPECT_TRUE(j["kvm_counters"]["recorded"].get<bool>());
  EXPECT_EQ(j["kvm_counters"]["compared"][0]["counter"], "exits");
  EXPECT_EQ(j["kvm_counters"]["compared"][0]["trace"], 52);  // the VMM's exits
  EXPECT_GE(j["kvm_counters"]["compared"][0]["kvm"].get<uint64_t>(), 52u);
}

// Past its stream budget `run` detaches kvm_emulate_insn: its count is
// KVM's own (insn_emulation + insn_emulation_fail), and the output and the
// file say so.
TEST_F(CliKvmStats, PastTheInsnBudgetRunTakesTheCountFromThem) {
  KVMSCOPE_REQUIRE_KVM();
  const fs::path out = dir / "budget.json";
  Result r = Kvmscope("run --guest pio-loop --param 20000 --insn-budget 100 -q -o " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  if (r.output.find("kernel tracing is off") != std::string::npos) GTEST_SKIP() << r.output;
  const Json trace = Load(out);
  ExpectCounters(trace, 20'000);
  uint64_t started = 0, failed = 0;
  for (const Json& vcpu : trace["kvm_stats"]["vcpus"]) {
    started += vcpu.value("insn_emulation", uint64_t{0});
    failed += vcpu.value("insn_emulation_fail", uint64_t{0});
  }
  if (started <= 100) GTEST_SKIP() << "KVM emulated " << started << " instructions (VMX/SVM run them in hardware)";
  const Json& kind = trace["kernel_counts"]["kinds"]["kvm_emulate_insn"];
  EXPECT_EQ(kind["seen_by"], "kvm_statistics") << kind;
  EXPECT_EQ(kind["seen"].get<uint64_t>(), started + failed) << kind;
  EXPECT_EQ(kind["received"], 100) << kind;
  const std::string said = "kernel: kvm_emulate_insn counted in the kernel, the first 100 streamed, the rest "
                           "counted by KVM's own statistics (100 of " + std::to_string(started + failed) + ";";
  EXPECT_NE(r.output.find(said), std::string::npos) << said << "\n" << r.output;
}

TEST_F(CliKvmStats, WithoutRootTheTraceStillHasThem) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  if (system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "setpriv unavailable";
  KVMSCOPE_REQUIRE_KVM();
  // An ordinary user in the kvm group, as a student is: /dev/kvm, no root.
  const std::string student = "setpriv --reuid=nobody --regid=nogroup --groups=kvm";
  if (Capture(student + " sh -c 'test -r /dev/kvm && test -w /dev/kvm'").status != 0) {
    GTEST_SKIP() << "/dev/kvm is not open to the kvm group here";
  }
  const fs::path out = dir / "hello.json";
  Result r = Kvmscope("run --guest hello --no-probes -o " + out.string(), student);
  ASSERT_EQ(r.status, 0) << r.output;
  const Json trace = Load(out);
  EXPECT_TRUE(trace["guest"]["param"].is_null());  // hello takes no parameter
  ExpectCounters(trace, 1);
  // And with tracing asked for but refused (no root): the counters still come.
  const fs::path traced = dir / "hello-traced.json";
  r = Kvmscope("run --guest hello -o " + traced.string(), student);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("kernel tracing is off"), std::string::npos) << r.output;
  ExpectCounters(Load(traced), 1);
}

TEST_F(CliKvmStats, TheParamOfYourOwnGuestIsRecordedOnlyWhenGiven) {
  KVMSCOPE_REQUIRE_KVM();
  const fs::path bin = dir / "hlt.bin";
  std::ofstream(bin, std::ios::binary) << '\xf4';  // hlt
  const fs::path with = dir / "with.json", without = dir / "without.json";
  Result r = Kvmscope("run --guest-bin " + bin.string() + " --param 0x2a --no-probes -q -o " +
                      with.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Load(with)["guest"]["param"], 42);
  r = Kvmscope("run --guest-bin " + bin.string() + " --no-probes -q -o " + without.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Load(without)["guest"]["param"].is_null());
}

TEST_F(CliKvmStats, AnOldTraceSaysTheyWereNotRecorded) {
  Result stats = Kvmscope("stats " KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  ASSERT_EQ(stats.status, 0) << stats.output;
  EXPECT_NE(stats.output.find("KVM's own counters (KVM_GET_STATS_FD)"), std::string::npos);
  EXPECT_NE(stats.output.find("not recorded (a trace from before kvmscope read them)"),
            std::string::npos)
      << stats.output;
}

}  // namespace

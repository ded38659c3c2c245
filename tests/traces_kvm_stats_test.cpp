// Tests of KVM's own counters in the trace model: the record's queries, the
// native file's "kvm_stats" section and guest "param" (round trip, optional
// in old traces, errors naming the place), and the stats section that sets
// them beside the trace's counts.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "full_trace.h"
#include "traces/kvm_counters.h"
#include "traces/stats.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;
using namespace fixture;

KvmStatsRecord SomeStats() {
  KvmStatsRecord k;
  k.vm = {{"mmu_cache_miss", 4}, {"pages_4k", 0}, {"remote_tlb_flush", 2}};
  k.vcpus = {{{"exits", 3}, {"io_exits", 2}, {"halt_exits", 0}, {"insn_emulation", 9}},
             {{"exits", 5}, {"io_exits", 1}, {"halt_exits", 1}, {"pf_parked", 0}}};
  return k;
}

TraceData WithStats() {
  TraceData trace = FullTrace();
  trace.kvm_stats = SomeStats();
  trace.guest.param = 1000;
  return trace;
}

std::string ErrorOf(const std::string& text) {
  try {
    ParseTrace(text);
  } catch (const TraceFormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(KvmStatsRecord, TotalIsTheVmCounterElseTheSumOverVcpus) {
  const KvmStatsRecord k = SomeStats();
  EXPECT_EQ(k.Total("mmu_cache_miss"), 4u);
  EXPECT_EQ(k.Total("exits"), 8u);
  EXPECT_EQ(k.Total("pf_parked"), 0u);  // present on one vCPU only: still a counter
  EXPECT_EQ(k.Total("no_such_counter"), std::nullopt);
  EXPECT_EQ(k.OfVcpu(1, "halt_exits"), 1u);
  EXPECT_EQ(k.OfVcpu(0, "pf_parked"), std::nullopt);
  EXPECT_EQ(k.OfVcpu(2, "exits"), std::nullopt);
  EXPECT_EQ(k.OfVcpu(-1, "exits"), std::nullopt);
}

TEST(KvmStatsJson, RoundTripOfTheSectionAndTheParam) {
  const TraceData original = WithStats();
  const std::string text = Written(original);
  const TraceData loaded = ParseTrace(text);
  EXPECT_EQ(loaded.kvm_stats, original.kvm_stats);
  EXPECT_EQ(loaded.kvm_stats_note, "");
  EXPECT_EQ(loaded.guest.param, 1000u);
  EXPECT_TRUE(loaded == original);
  EXPECT_EQ(Written(loaded), text);
  Json doc = Json::parse(text);
  EXPECT_EQ(doc["kvm_stats"]["vcpus"][1]["halt_exits"], 1);
  EXPECT_EQ(doc["kvm_stats"]["vm"]["mmu_cache_miss"], 4);
  EXPECT_EQ(doc["guest"]["param"], 1000);
}

TEST(KvmStatsJson, AbsentWithItsReasonRoundTrips) {
  TraceData original = FullTrace();
  original.kvm_stats_note = "this kernel lacks KVM_CAP_BINARY_STATS_FD";
  const std::string text = Written(original);
  const TraceData loaded = ParseTrace(text);
  EXPECT_FALSE(loaded.kvm_stats);
  EXPECT_EQ(loaded.kvm_stats_note, original.kvm_stats_note);
  EXPECT_FALSE(loaded.guest.param);
  EXPECT_TRUE(Json::parse(text)["guest"]["param"].is_null());
}

TEST(KvmStatsJson, TracesWithoutTheSectionStillLoad) {
  // Written before the section existed: drop it and the param from a new file.
  Json doc = Json::parse(Written(WithStats()));
  doc.erase("kvm_stats");
  doc.erase("kvm_stats_note");
  doc["guest"].erase("param");
  const TraceData loaded = ParseTrace(doc.dump());
  EXPECT_FALSE(loaded.kvm_stats);
  EXPECT_EQ(loaded.kvm_stats_note, "");
  EXPECT_FALSE(loaded.guest.param);
  // And the recorded traces of the test data, every one.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(KVMSCOPE_TESTDATA)) {
    if (entry.path().extension() != ".json") continue;
    const TraceData trace = LoadTrace(entry.path().string());
    EXPECT_FALSE(trace.kvm_stats) << entry.path();
    ++files;
    const KvmCounterStats s = ComputeKvmCounters(trace, kAllVcpus);
    EXPECT_FALSE(s.recorded);
    EXPECT_NE(s.note.find("not recorded"), std::string::npos) << s.note;
  }
  EXPECT_GT(files, 0u);
}

TEST(KvmStatsJson, ErrorsNameThePlace) {
  Json doc = Json::parse(Written(WithStats()));
  Json bad = doc;
  bad["kvm_stats"]["vcpus"][1]["exits"] = -3;
  EXPECT_NE(ErrorOf(bad.dump()).find("kvm_stats.vcpus[1].exits: -3 is negative"),
            std::string::npos)
      << ErrorOf(bad.dump());
  bad = doc;
  bad["kvm_stats"]["vm"] = Json::array();
  EXPECT_NE(ErrorOf(bad.dump()).find("kvm_stats.vm: expected an object of counters"),
            std::string::npos);
  bad = doc;
  bad["kvm_stats"].erase("vcpus");
  EXPECT_NE(ErrorOf(bad.dump()).find("kvm_stats: missing field \"vcpus\""), std::string::npos);
  bad = doc;
  bad["kvm_stats_note"] = 7;
  EXPECT_NE(ErrorOf(bad.dump()).find("kvm_stats_note: expected a string"), std::string::npos);
  bad = doc;
  bad["guest"]["param"] = "many";
  EXPECT_NE(ErrorOf(bad.dump()).find("guest.param: expected an unsigned integer"),
            std::string::npos);
  // Twice the same field is refused, as for every top-level field.
  std::string text = Written(WithStats());
  text.insert(text.find("\"kvm_stats\":"), "\"kvm_stats_note\":\"x\",");
  EXPECT_NE(ErrorOf(text).find("the field appears twice"), std::string::npos) << ErrorOf(text);
}

TEST(KvmCounters, BesideTheTracesCountsWithTheDifference) {
  const TraceData trace = WithStats();
  const KvmCounterStats s = ComputeKvmCounters(trace, kAllVcpus);
  ASSERT_TRUE(s.recorded);
  EXPECT_EQ(s.vcpus, (std::vector<int>{0, 1}));
  std::map<std::string, const KvmCounterRow*> rows;
  for (const KvmCounterRow& r : s.compared) rows.emplace(r.counter, &r);  // the first of a name
  ASSERT_TRUE(rows.contains("exits"));
  EXPECT_EQ(rows["exits"]->kvm, 8u);
  EXPECT_EQ(rows["exits"]->traced, "KVM_RUN returns with an exit reason");
  // The trace's own count of the same thing: its VMM RunExit events.
  uint64_t vmm_exits = 0;
  for (const Track& t : trace.tracks) {
    for (const Event& e : t.events) {
      vmm_exits += t.kind == TrackKind::Vcpu && e.type == VmmEventKind::RunExit && e.a[1] == 0;
    }
  }
  EXPECT_EQ(rows["exits"]->trace, vmm_exits);
  ASSERT_TRUE(rows.contains("halt_exits"));
  EXPECT_EQ(rows["halt_exits"]->kvm, 1u);
  // A counter this kernel lacks is not shown.
  EXPECT_FALSE(rows.contains("mmio_exits"));
  // The differences read as such, never made equal.
  KvmCounterRow row{"io_exits", 0, 24, "", ""};
  EXPECT_EQ(row.Difference(), "trace +24");
  row.kvm = 30;
  EXPECT_EQ(row.Difference(), "KVM +6");
  row.trace = 30;
  EXPECT_EQ(row.Difference(), "same");
  row.trace.reset();
  EXPECT_EQ(row.Difference(), "");
  // Per vCPU: the counters with a value, the zero ones named.
  ASSERT_FALSE(s.per_vcpu.empty());
  EXPECT_EQ(s.per_vcpu.front().counter, "exits");
  EXPECT_EQ(s.per_vcpu.front().values, (std::vector<uint64_t>{3, 5}));
  EXPECT_EQ(s.zero_per_vcpu, std::vector<std::string>{"pf_parked"});
  EXPECT_EQ(s.zero_vm, std::vector<std::string>{"pages_4k"});
  // One vCPU.
  const KvmCounterStats one = ComputeKvmCounters(trace, 1);
  EXPECT_EQ(one.scope, "vCPU 1");
  EXPECT_EQ(one.compared.front().kvm, 5u);
}

TEST(KvmCounters, TheStatsTextAndJsonHaveTheSection) {
  const Stats stats = ComputeStats(WithStats());
  std::string text;
  for (const std::string& line : FormatStats(stats)) text += line + "\n";
  EXPECT_NE(text.find("KVM's own counters (KVM_GET_STATS_FD)"), std::string::npos) << text;
  EXPECT_NE(text.find("KVM = the kernel's own counter; trace = the events this trace recorded"),
            std::string::npos);
  EXPECT_NE(text.find("zero (1): pf_parked"), std::string::npos) << text;
  const Json j = Json::parse(StatsJson(stats));
  EXPECT_TRUE(j["kvm_counters"]["recorded"].get<bool>());
  EXPECT_EQ(j["kvm_counters"]["per_vcpu"]["exits"], Json::array({3, 5}));
  EXPECT_EQ(j["kvm_counters"]["vm"]["mmu_cache_miss"], 4);
  EXPECT_EQ(j["kvm_counters"]["compared"][0]["counter"], "exits");

  TraceData old = FullTrace();
  old.kvm_stats_note = "this kernel lacks KVM_CAP_BINARY_STATS_FD";
  text.clear();
  for (const std::string& line : FormatStats(ComputeStats(old))) text += line + "\n";
  EXPECT_NE(text.find("not recorded: this kernel lacks KVM_CAP_BINARY_STATS_FD"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace kvmscope::traces

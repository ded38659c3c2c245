// `kvmscope top`'s model on synthetic counters: the histogram buckets (as
// the BPF side fills them), percentiles, interval rates, rows per VM and
// vCPU with sorting and filters, the screen text, and the CSV/JSON lines.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "traces/top_model.h"

namespace kvmscope::traces {
namespace {

// probes/kvm_top.bpf.c's bucket(), transcribed: the model must agree with it.
size_t BpfBucket(uint64_t ns) {
  if (ns < 4) return ns;
  uint32_t l = 0;
  uint64_t v = ns;
  for (uint32_t shift : {32u, 16u, 8u, 4u, 2u}) {
    if (v >> shift) {
      v >>= shift;
      l += shift;
    }
  }
  if (v >> 1) l += 1;
  return (4 * (l - 1) + ((ns >> (l - 2)) & 3)) & 255;
}

TEST(TopBuckets, AgreeWithTheBpfSideAndBoundEveryValueWithin25Percent) {
  std::mt19937_64 rng(14);
  std::vector<uint64_t> values = {
      0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 1000, 1023, 1024, 1'000'000'000, ~uint64_t{0}};
  for (int i = 0; i < 20000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t v : values) {
    size_t b = TopBucketOf(v);
    ASSERT_EQ(b, BpfBucket(v)) << v;
    ASSERT_LT(b, kTopBuckets);
    EXPECT_LE(TopBucketLow(b), v) << v;
    if (v != ~uint64_t{0}) {
      EXPECT_LT(v, TopBucketHigh(b)) << v;
    }
    if (v >= 4 && TopBucketHigh(b) != ~uint64_t{0}) {
      // The bucket is at most a quarter of its lower bound wide: the "≤25 %".
      EXPECT_LE(4 * (TopBucketHigh(b) - TopBucketLow(b)), TopBucketLow(b)) << v;
    }
  }
  // Buckets tile the line: each starts where the previous ends.
  for (size_t b = 1; b < 248; ++b) EXPECT_EQ(TopBucketLow(b), TopBucketHigh(b - 1)) << b;
}

TopHistogram Hist(std::initializer_list<std::pair<uint64_t, uint32_t>> values) {
  TopHistogram h{};
  for (auto [ns, n] : values) h[TopBucketOf(ns)] += n;
  return h;
}

TEST(TopPercentiles, NearestRankOverBucketsReportsTheBucketsUpperBound) {
  EXPECT_EQ(TopPercentiles(TopHistogram{}).samples, 0u);
  EXPECT_EQ(TopPercentiles(TopHistogram{}).p99_ns, 0u);

  TopLatencyStats one = TopPercentiles(Hist({{1000, 100}}));
  EXPECT_EQ(one.samples, 100u);
  EXPECT_EQ(one.p50_ns, TopBucketHigh(TopBucketOf(1000)));
  EXPECT_GE(one.p50_ns, 1000u);
  EXPECT_LE(one.p50_ns, 1250u);  // the bucket error
  // 99 fast and 1 slow: the 99th of 100 is still fast.
  TopLatencyStats tail1 = TopPercentiles(Hist({{1000, 99}, {1'000'000, 1}}));
  EXPECT_EQ(tail1.p99_ns, one.p50_ns);
  // 98 fast and 2 slow: the 99th is slow.
  TopLatencyStats tail2 = TopPercentiles(Hist({{1000, 98}, {1'000'000, 2}}));
  EXPECT_EQ(tail2.p50_ns, one.p50_ns);
  EXPECT_EQ(tail2.p99_ns, TopBucketHigh(TopBucketOf(1'000'000)));
}

TopThreadSample Thread(uint32_t tid, uint32_t tgid, uint64_t runs, uint64_t io, uint64_t mmio = 0) {
  TopThreadSample t;
  t.tid = tid;
  t.tgid = tgid;
  t.fd = 11;
  t.runs = runs;
  t.user_reasons[2] = io;    // KVM_EXIT_IO
  t.user_reasons[6] = mmio;  // KVM_EXIT_MMIO
  t.pio = io;
  t.mmio = mmio;
  t.run_ns = runs * 3000;  // 3 µs per KVM_RUN
  t.vmm_ns = runs * 1000;
  t.hists[0] = Hist({{3000, static_cast<uint32_t>(runs)}});
  t.hists[1] = Hist({{1000, static_cast<uint32_t>(runs)}});
  return t;
}

TopSnapshot Snap(int64_t mono_ns, std::vector<TopThreadSample> threads) {
  return TopSnapshot{mono_ns, std::move(threads)};
}

TEST(TopDiff, RatesAndPercentilesAreThoseOfTheIntervalOnly) {
  TopSnapshot a = Snap(1'000'000'000, {Thread(101, 100, 1000, 1000)});
  TopSnapshot b =
      Snap(3'000'000'000, {Thread(101, 100, 401'000, 400'000, 1000), Thread(201, 200, 50, 50)});
  // Slow KVM_RUNs before the interval must not reach its percentiles.
  a.threads[0].hists[0][TopBucketOf(5'000'000)] += 500;
  b.threads[0].hists[0][TopBucketOf(5'000'000)] += 500;
  TopInterval i = DiffTop(a, b);
  EXPECT_DOUBLE_EQ(i.seconds, 2.0);
  ASSERT_EQ(i.threads.size(), 2u);
  const TopThreadRates& t = i.threads[0];
  EXPECT_EQ(t.tid, 101u);
  EXPECT_EQ(t.runs, 400'000u);
  EXPECT_DOUBLE_EQ(t.runs_per_s, 200'000.0);
  EXPECT_NEAR(t.run_share, 400'000 * 3000e-9 / 2, 1e-9);
  ASSERT_GE(t.reasons.size(), 3u);
  EXPECT_EQ(t.reasons[0].name, "KVM_EXIT_IO");  // by count: IO and kvm_pio tie, IO first
  EXPECT_EQ(t.reasons[0].count, 399'000u);
  EXPECT_EQ(t.reasons[0].kind, TopReasonKind::Userspace);
  EXPECT_EQ(t.reasons[1].name, "kvm_pio");
  EXPECT_EQ(t.reasons[2].name, "KVM_EXIT_MMIO");
  EXPECT_EQ(t.latency[0].samples, 400'000u);
  EXPECT_LE(t.latency[0].p99_ns, 3750u);  // 3 µs, never the old 5 ms
  // A thread first seen in the interval counts from zero.
  EXPECT_EQ(i.threads[1].tid, 201u);
  EXPECT_EQ(i.threads[1].runs, 50u);
  // KVM_RUN returns with an error (EINTR) have no KVM_EXIT_* reason: a row of their own.
  TopSnapshot c = b;
  c.mono_ns = 4'000'000'000;
  c.threads[1].user_errors = 3;
  c.threads[1].runs += 3;
  TopInterval errors = DiffTop(b, c);
  ASSERT_EQ(errors.threads.size(), 1u);
  ASSERT_EQ(errors.threads[0].reasons.size(), 1u);
  EXPECT_EQ(errors.threads[0].reasons[0].name, "error (EINTR, ...)");
  EXPECT_EQ(errors.threads[0].reasons[0].count, 3u);
  // An idle thread disappears from the interval.
  TopInterval idle = DiffTop(b, Snap(4'000'000'000, b.threads));
  EXPECT_TRUE(idle.threads.empty());
}

TEST(TopDiff, AVcpuHaltedInsideKvmRunIsShownAsAllInKvmRun) {
  // Entered KVM_RUN at 0.5 s and never came back: no exits, 100 % in KVM_RUN.
  TopThreadSample halted = Thread(9, 9, 10, 10);
  halted.run_open_since_ns = 500'000'000;
  TopInterval i = DiffTop(Snap(1'000'000'000, {halted}), Snap(2'000'000'000, {halted}));
  ASSERT_EQ(i.threads.size(), 1u);
  EXPECT_EQ(i.threads[0].runs, 0u);
  EXPECT_DOUBLE_EQ(i.threads[0].run_share, 1.0);
  // It returned at 1.5 s (0.5 s more of KVM_RUN) and has been out since.
  TopThreadSample back = halted;
  back.run_open_since_ns = 0;
  back.runs += 1;
  back.run_ns += 1'000'000'000;
  i = DiffTop(Snap(1'000'000'000, {halted}), Snap(2'000'000'000, {back}));
  EXPECT_NEAR(i.threads[0].run_share, 0.5, 1e-9);
}

TEST(TopDiff, HardwareReasonsAreNamedPerIsaAndHistogramsWrapModulo32Bits) {
  TopThreadSample before = Thread(7, 7, 10, 10), after = Thread(7, 7, 20, 20);
  before.hw_reasons = {{1, 48, 5}};
  after.hw_reasons = {{1, 30, 3}, {1, 48, 9}, {2, 0x400, 2}};
  after.hw_exits = 14;
  before.hw_exits = 5;
  before.hists[2][10] = 0xffff'fff0u;
  after.hists[2][10] = 0x10u;  // wrapped: 0x20 more
  TopInterval i = DiffTop(Snap(0, {before}), Snap(1'000'000'000, {after}));
  ASSERT_EQ(i.threads.size(), 1u);
  std::map<std::string, uint64_t> got;
  for (const TopReason& r : i.threads[0].reasons) {
    if (r.kind == TopReasonKind::Hardware) got[r.name] = r.count;
  }
  EXPECT_EQ(got["VMX EPT_VIOLATION"], 4u);
  EXPECT_EQ(got["VMX IO_INSTRUCTION"], 3u);
  EXPECT_EQ(got["SVM NPF"], 2u);
  EXPECT_EQ(i.threads[0].hw_exits, 9u);
  EXPECT_EQ(i.threads[0].hists[2][10], 0x20u);
}

// Two VMs: pid 100 (one busy vCPU doing I/O) and pid 200 (two vCPUs doing MMIO).
struct TwoVms {
  TopInterval interval;
  TopNames names;
  TwoVms() {
    TopThreadSample v100 = Thread(101, 100, 100'000, 100'000);
    TopThreadSample v200a = Thread(201, 200, 3000, 0, 3000),
                    v200b = Thread(202, 200, 1000, 0, 1000);
    v200a.hists[1] = Hist({{5'000'000, 3000}});  // a slow VMM
    interval = DiffTop(Snap(0, {}), Snap(1'000'000'000, {v100, v200a, v200b}));
    names.process = {{100, "kvmscope run --guest pio-loop"}, {200, "qemu-system-x86_64 -name q"}};
    names.thread = {{101, "kvmscope"}, {201, "CPU 0/KVM"}, {202, "CPU 1/KVM"}};
    names.vcpu = {{101, 0}, {201, 0}, {202, 1}};
  }
};

TEST(TopRows, PerVmAndPerVcpuSortedByTheViewsKey) {
  TwoVms f;
  TopView view;
  std::vector<TopVmRows> rows = BuildTopRows(f.interval, f.names, view);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].vm.pid, 100u);  // most exits/s first
  EXPECT_DOUBLE_EQ(rows[0].vm.exits_per_s, 100'000.0);
  EXPECT_EQ(rows[0].vm.name, "kvmscope run --guest pio-loop");
  EXPECT_EQ(rows[1].vm.threads, 2u);
  EXPECT_DOUBLE_EQ(rows[1].vm.exits_per_s, 4000.0);
  ASSERT_EQ(rows[1].vcpus.size(), 2u);
  EXPECT_EQ(rows[1].vcpus[0].name, "CPU 0/KVM");
  EXPECT_EQ(rows[1].vcpus[0].vcpu, 0);
  EXPECT_EQ(rows[1].vcpus[1].vcpu, 1);
  // The VM's percentiles merge its threads' histograms.
  EXPECT_EQ(rows[1].vm.latency[1].samples, 4000u);

  view.sort = TopSort::VmmP99;
  rows = BuildTopRows(f.interval, f.names, view);
  EXPECT_EQ(rows[0].vm.pid, 200u);
  view.sort = TopSort::Pid;
  rows = BuildTopRows(f.interval, f.names, view);
  EXPECT_EQ(rows[0].vm.pid, 100u);
  // s cycles through every key and comes back.
  TopSort s = TopSort::Exits;
  std::set<TopSort> seen;
  for (size_t i = 0; i < kTopSorts; ++i) seen.insert(s = NextTopSort(s));
  EXPECT_EQ(seen.size(), kTopSorts);
  EXPECT_EQ(s, TopSort::Exits);

  view.per_vcpu = false;
  for (const TopVmRows& vm : BuildTopRows(f.interval, f.names, view)) EXPECT_TRUE(vm.vcpus.empty());
}

TEST(TopRows, VmAndReasonFilters) {
  TwoVms f;
  TopView view;
  view.vm = 200;
  std::vector<TopVmRows> rows = BuildTopRows(f.interval, f.names, view);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].vm.pid, 200u);

  view.vm = 0;
  view.reason_filter = "exit_io";  // case-insensitive
  rows = BuildTopRows(f.interval, f.names, view);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].vm.pid, 100u);
  ASSERT_EQ(rows[0].vm.reasons.size(), 1u);
  EXPECT_EQ(rows[0].vm.reasons[0].name, "KVM_EXIT_IO");

  EXPECT_EQ(CheckReasonFilter("MMIO|IO"), "");
  EXPECT_NE(CheckReasonFilter("(unclosed").find("not a regular expression"), std::string::npos);
  view.reason_filter = "(unclosed";  // filters nothing rather than everything
  EXPECT_EQ(BuildTopRows(f.interval, f.names, view).size(), 2u);
}

size_t Columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

TEST(TopScreen, SaysTheBackendTheBucketErrorAndMarksTheSortColumn) {
  TwoVms f;
  TopView view;
  TopHeader header{"PVM", false, 1.0, false, {"kvm:kvm_exit: no such tracepoint"}};
  std::vector<std::string> lines =
      FormatTopScreen(BuildTopRows(f.interval, f.names, view), header, view, 160);
  std::string text;
  for (const std::string& l : lines) {
    EXPECT_LE(Columns(l), 160u) << l;
    text += l + "\n";
  }
  for (const char* part :
       {"backend PVM", "kvm_exit does not fire on PVM", "EXITS/s are KVM_RUN returns to the VMM",
        "≤25% bucket error", "EXITS/s▼", "KVM_EXIT_IO 100,000/s", "CPU 1/KVM",
        "qemu-system-x86_64 -name q", "not counted: kvm:kvm_exit"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
  view.sort = TopSort::RunShare;
  std::string sorted;
  for (const std::string& l :
       FormatTopScreen(BuildTopRows(f.interval, f.names, view), header, view, 160)) {
    sorted += l + "\n";
  }
  EXPECT_NE(sorted.find("IN KVM_RUN▼"), std::string::npos) << sorted;
  EXPECT_EQ(sorted.find("EXITS/s▼"), std::string::npos);
  // Narrow terminals get cut lines, never wrapped ones.
  for (const std::string& l : FormatTopScreen({}, header, view, 40)) EXPECT_LE(Columns(l), 40u);
  header.kvm_exit_fires = true;
  header.backend = "VMX (Intel)";
  EXPECT_NE(FormatTopScreen({}, header, view, 200)[0].find("kvm_exit fires: EXITS/s are hardware exits"),
            std::string::npos);
  // Where kvm_exit fires, EXITS/s are the hardware exits, most handled in the
  // kernel: more than the KVM_RUN returns (those stay in the logs' kvm_runs_per_s).
  TopInterval hw = f.interval;
  for (TopThreadRates& t : hw.threads) t.hw_exits = t.runs * 3;
  const std::vector<TopVmRows> hw_rows = BuildTopRows(hw, f.names, view);
  ASSERT_FALSE(hw_rows.empty());
  EXPECT_DOUBLE_EQ(hw_rows[0].vm.exits_per_s, 3 * hw_rows[0].vm.runs_per_s);
  EXPECT_GT(hw_rows[0].vm.runs_per_s, 0);
  EXPECT_EQ(TopDuration(0), "-");
  EXPECT_EQ(TopDuration(850), "850ns");
  EXPECT_EQ(TopDuration(12'300), "12.3µs");
  EXPECT_EQ(TopDuration(4'100'000), "4.1ms");
  EXPECT_EQ(TopRate(199'811.6), "199,812/s");
}

TEST(TopLog, OneRecordPerThreadAndReasonInCsvAndJson) {
  TwoVms f;
  f.names.thread[201] = "CPU 0/KVM, \"main\"";  // needs quoting
  TopView view;
  std::vector<std::string> csv = TopCsvLines(f.interval, f.names, view, 1'700'000'000.25);
  // 101: IO + kvm_pio; 201 and 202: MMIO + kvm_mmio.
  ASSERT_EQ(csv.size(), 6u);
  auto fields = [](const std::string& line) {
    size_t n = 1;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) ++n;
    }
    return n;
  };
  for (const std::string& l : csv) EXPECT_EQ(fields(l), fields(TopCsvHeader())) << l;
  EXPECT_EQ(
      csv[0].rfind("1700000000.250,1.000,100,101,0,kvmscope,userspace,KVM_EXIT_IO,100000,", 0), 0u)
      << csv[0];
  EXPECT_NE(csv[2].find("\"CPU 0/KVM, \"\"main\"\"\""), std::string::npos) << csv[2];

  std::vector<std::string> json = TopJsonLines(f.interval, f.names, view, 1'700'000'000.25);
  ASSERT_EQ(json.size(), csv.size());
  nlohmann::json j = nlohmann::json::parse(json[2]);
  EXPECT_EQ(j["pid"], 200);
  EXPECT_EQ(j["tid"], 201);
  EXPECT_EQ(j["vcpu"], 0);
  EXPECT_EQ(j["comm"], "CPU 0/KVM, \"main\"");
  EXPECT_EQ(j["reason"], "KVM_EXIT_MMIO");
  EXPECT_EQ(j["count"], 3000);
  EXPECT_GT(j["vmm_p99_ns"].get<uint64_t>(), 5'000'000u);

  view.reason_filter = "^kvm_(pio|mmio)$";  // only the tracepoint counts (case-insensitive)
  EXPECT_EQ(TopCsvLines(f.interval, f.names, view, 0).size(), 3u);
  view.vm = 100;
  EXPECT_EQ(TopJsonLines(f.interval, f.names, view, 0).size(), 1u);
}

}  // namespace
}  // namespace kvmscope::traces

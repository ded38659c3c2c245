// The model on real traces recorded on a development machine (PVM backend,
// kernel 6.18, `kvmscope run --guest pagefault|exceptions -o`), committed in
// tests/data: loading, chain matching, the seed check, stats and the exports
// must agree with what that kernel is known to do (MACHINE.md's stacks).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "traces/chains.h"
#include "traces/chrome_export.h"
#include "traces/report.h"
#include "traces/seed_check.h"
#include "traces/stats.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

TraceData Load(const char* name) { return LoadTrace(std::string(KVMSCOPE_TESTDATA) + "/" + name); }

const NodeMatch& NodeIn(const ChainMatch& m, std::string_view id) {
  const NodeMatch* n = m.Node(id);
  EXPECT_NE(n, nullptr) << id;
  return *n;
}

TEST(RecordedTrace, LoadsWithItsHostGuestAndKernelSide) {
  TraceData pf = Load("pagefault-pvm.json");
  EXPECT_EQ(pf.host.backend, "PVM");
  ASSERT_TRUE(pf.host.plan);
  EXPECT_EQ(pf.host.plan->entries.size(), 3u);
  EXPECT_EQ(pf.guest.name, "pagefault");
  EXPECT_EQ(pf.guest.verdict, "passed");
  EXPECT_NE(pf.console.find("#PF at 0x40010800"), std::string::npos);
  ASSERT_TRUE(pf.kernel_counts);
  EXPECT_EQ(pf.kernel_counts->total_lost(), 0u);
  // Every kernel event the kernel counted arrived and is in the trace.
  size_t kernel_events = 0;
  for (const Track& t : pf.tracks) {
    for (const Event& e : t.events) kernel_events += e.type.origin == Origin::Kernel;
  }
  EXPECT_EQ(kernel_events, pf.kernel_counts->total_received());
  // One vCPU track whose kernel KVM_RUN spans pair one to one with the VMM's.
  int v0 = pf.TrackOfVcpu(0);
  ASSERT_GE(v0, 0);
  const Track& t = pf.tracks[v0];
  EXPECT_EQ(t.spans[size_t(SpanKind::Run)].size(), t.spans[size_t(SpanKind::KernelRun)].size());
  EXPECT_EQ(t.spans[size_t(SpanKind::Run)].size(), pf.Count(VmmEventKind::RunExit));
  for (size_t i = 0; i < t.spans[size_t(SpanKind::Run)].size(); ++i) {
    const Span& vmm = t.spans[size_t(SpanKind::Run)][i];
    const Span& kern = t.spans[size_t(SpanKind::KernelRun)][i];
    EXPECT_LE(vmm.begin_ns, kern.begin_ns);  // the kernel's edges lie inside the VMM's
    EXPECT_GE(vmm.end_ns, kern.end_ns);
  }
}

TEST(RecordedTrace, RoundTripsBitForBit) {
  TraceData pf = Load("pagefault-pvm.json");
  std::ostringstream first;
  WriteTrace(pf, first);
  TraceData again = ParseTrace(first.str());
  EXPECT_TRUE(again == pf);
  std::ostringstream second;
  WriteTrace(again, second);
  EXPECT_EQ(first.str(), second.str());
}

TEST(RecordedTrace, PageFaultChainIsLitByRealStacks) {
  TraceData pf = Load("pagefault-pvm.json");
  KernelFacts facts = FactsOf(pf);
  EXPECT_EQ(facts.vendor(), Vendor::Pvm);
  EXPECT_EQ(facts.paging(), Paging::Shadow);
  ChainMatch m = MatchChain(ChainId::PageFaults, facts);
  for (const char* id : {"mmu_pf", "do_pf", "handler", "walk"}) {
    EXPECT_EQ(NodeIn(m, id).status, NodeStatus::Observed) << id;
    EXPECT_GT(NodeIn(m, id).count, 0u) << id;
  }
  EXPECT_EQ(NodeIn(m, "handler").chosen->function, "paging64_page_fault");
  EXPECT_EQ(NodeIn(m, "tdp_map").status, NodeStatus::NotApplicable);
  // The run loop on this kernel: vcpu_run and vcpu_enter_guest are inlined,
  // and never shown as observed.
  ChainMatch run = MatchChain(ChainId::RunLoop, facts);
  EXPECT_EQ(NodeIn(run, "arch_run").status, NodeStatus::Observed);
  for (const char* id : {"vcpu_run", "enter_guest"}) {
    EXPECT_EQ(NodeIn(run, id).status, NodeStatus::Absent) << id;
    EXPECT_EQ(NodeIn(run, id).absent_reason, AbsentReason::Inlined) << id;
    EXPECT_EQ(NodeIn(run, id).count, 0u) << id;
  }
  EXPECT_EQ(NodeIn(run, "vendor_exit").chosen->function, "pvm_handle_exit");
  // The init chain comes from symbols and the live ioctls.
  ChainMatch init = MatchChain(ChainId::Init, facts);
  EXPECT_EQ(NodeIn(init, "create_vm").ioctl_count, 1u);
  EXPECT_EQ(NodeIn(init, "create_vcpu").ioctl_count, 1u);
}

TEST(RecordedTrace, CallTreeCountsEveryEventWithAStack) {
  TraceData pf = Load("pagefault-pvm.json");
  std::vector<StackUse> uses = StackUses(pf);
  uint64_t with_stack = 0;
  for (const StackUse& u : uses) with_stack += u.count;
  CallTreeNode root = BuildCallTree(uses, pf.symbols);
  uint64_t top = 0;
  for (const CallTreeNode& c : root.children) top += c.count;
  EXPECT_EQ(top, with_stack);
  ASSERT_FALSE(root.children.empty());
  EXPECT_EQ(root.children.front().name, "kvm_vcpu_ioctl");
}

TEST(RecordedTrace, SeedCheckVerdictsOnThisKernel) {
  TraceData pf = Load("pagefault-pvm.json");
  TraceData ex = Load("exceptions-pvm.json");
  KernelFacts facts = FactsOf({&pf, &ex});
  auto verdict = [&](std::string_view id) {
    const SeedClaim* c = FindSeedClaim(id);
    EXPECT_NE(c, nullptr) << id;
    return CheckClaim(*c, facts).verdict;
  };
  EXPECT_EQ(verdict("kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run"), Verdict::Confirmed);
  EXPECT_EQ(verdict("kvm_arch_vcpu_run-is-the-entry"), Verdict::Contradicted);
  EXPECT_EQ(verdict("kvm_vcpu_exit-is-the-exit"), Verdict::Contradicted);
  EXPECT_EQ(verdict("kvm_mmu_page_fault-calls-page_fault"), Verdict::Contradicted);
  EXPECT_EQ(verdict("__vcpu_run-is-the-loop"), Verdict::OlderKernelsOnly);
  EXPECT_EQ(verdict("kvm_init-calls-kvm_arch_init"), Verdict::OlderKernelsOnly);
  EXPECT_EQ(verdict("handle_exception-checks-is_page_fault"), Verdict::NotOnThisKernel);
  for (const ClaimResult& r : CheckSeed(facts)) EXPECT_FALSE(r.evidence.empty()) << r.claim->id;
}

TEST(RecordedTrace, StatsAgreeWithTheEvents) {
  TraceData ex = Load("exceptions-pvm.json");
  Stats s = ComputeStats(ex, kAllVcpus);
  ASSERT_EQ(s.scopes.size(), 1u);
  const UserspaceExitTable& u = s.scopes[0].userspace;
  EXPECT_EQ(u.total, ex.Count(VmmEventKind::RunExit));
  uint64_t sum = 0;
  double share = 0;
  for (const UserspaceExitRow& r : u.rows) {
    sum += r.count;
    share += r.share_pct;
    EXPECT_LE(r.kernel.p50_ns, r.kernel.p99_ns);
    EXPECT_EQ(r.kernel_source, KernelSideSource::KernelRun) << r.name;  // traced: kernel edges
  }
  EXPECT_EQ(sum, u.total);
  EXPECT_NEAR(share, 100.0, 0.01);
  EXPECT_FALSE(s.scopes[0].hardware.fired);  // kvm_exit does not fire on PVM
  EXPECT_EQ(s.loss.lost, 0u);
}

TEST(RecordedTrace, ChromeExportIsValidJsonWithEveryThreadNamed) {
  TraceData ex = Load("exceptions-pvm.json");
  std::ostringstream out;
  WriteChromeTrace(ex, out);
  auto doc = nlohmann::json::parse(out.str());
  size_t instants = 0, spans = 0, names = 0;
  for (const auto& e : doc["traceEvents"]) {
    std::string ph = e["ph"];
    instants += ph == "I";
    spans += ph == "B";
    names += ph == "M" && e["name"] == "thread_name";
  }
  EXPECT_GT(instants, ex.Count(KernelEventKind::InjException));
  EXPECT_GE(spans, ex.Count(VmmEventKind::RunExit));
  EXPECT_GE(names, ex.tracks.size());
}

}  // namespace
}  // namespace kvmscope::traces

// The chain-graph questions (step of a function or claim, route between
// steps, path of a stack), one status per function over all chains, a trace
// without kernel data, and the seed's claims worded for students: on made-up
// kernels with known answers and on the real PVM traces in tests/data.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "tests/fake_kernel.h"
#include "traces/chain_paths.h"
#include "traces/chains.h"
#include "traces/report.h"
#include "traces/seed_check.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::vector<std::string> Ids(const ChainMatch& m, const std::vector<size_t>& nodes) {
  std::vector<std::string> ids;
  for (size_t n : nodes) ids.emplace_back(m.chain->nodes[n].id);
  return ids;
}

// Intel 6.8 with EPT; vcpu_run and vcpu_enter_guest inlined into
// kvm_arch_vcpu_ioctl_run, as on most distribution kernels.
FakeKernel VmxInlinedKernel() {
  return FakeKernel({"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl",
                     "kvm_arch_vcpu_ioctl_run", "vmx_vcpu_run", "vmx_handle_exit",
                     "__vmx_handle_exit", "handle_ept_violation", "kvm_mmu_page_fault",
                     "kvm_tdp_page_fault", "kvm_tdp_mmu_map"});
}
const std::vector<std::string> kEptFault = {
    "do_syscall_64",      "__x64_sys_ioctl",   "kvm_vcpu_ioctl",       "kvm_arch_vcpu_ioctl_run",
    "vmx_handle_exit",    "__vmx_handle_exit", "handle_ept_violation", "kvm_mmu_page_fault",
    "kvm_tdp_page_fault", "kvm_tdp_mmu_map"};

KernelFacts VmxInlinedFacts() {
  FakeKernel k = VmxInlinedKernel();
  std::vector<std::string_view> frames(kEptFault.begin(), kEptFault.end());
  k.AddStack(frames, 3);
  return KernelFacts(k.symbols(), k.stacks(), "6.8.0-45-generic");
}

// This machine's PVM kernel as the window once saw it: pvm_handle_native_exit
// has no symbol; page faults go from __pvm_handle_exit straight into
// kvm_mmu_page_fault; no stack reached the exception queue.
KernelFacts PvmWithoutNativeExit() {
  FakeKernel k({"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
                "pvm_vcpu_run", "pvm_handle_exit", "__pvm_handle_exit.isra.0",
                "kvm_handle_page_fault", "kvm_mmu_page_fault", "kvm_mmu_do_page_fault",
                "paging64_page_fault", "paging64_walk_addr_generic", "kvm_queue_exception",
                "kvm_inject_exception", "pvm_inject_exception",
                "__traceiter_kvm_mmu_pagetable_walk", "__traceiter_kvm_inj_exception"});
  k.AddStack(
      {"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
       "pvm_handle_exit", "__pvm_handle_exit.isra.0", "kvm_mmu_page_fault", "kvm_mmu_do_page_fault",
       "paging64_page_fault", "paging64_walk_addr_generic", "__traceiter_kvm_mmu_pagetable_walk"},
      94);
  k.AddStack({"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
              "kvm_inject_exception", "__traceiter_kvm_inj_exception"},
             1);
  return KernelFacts(k.symbols(), k.stacks(), "6.18.44-pvm");
}

// Every function that is a step of several chains reads the same on all of
// them (steps n/a on a chain aside: a condition of that chain, not of the
// function). Returns the functions checked on more than one chain.
size_t ExpectOneStatusPerFunction(const KernelFacts& facts, std::string_view what) {
  const std::vector<ChainMatch> all = MatchChains(facts);
  std::map<std::string, std::tuple<NodeStatus, AbsentReason, std::string, std::string, ChainId>>
      seen;
  size_t shared = 0;
  for (const ChainMatch& m : all) {
    // MatchChain alone agrees with MatchChains.
    const ChainMatch alone = MatchChain(m.chain->id, facts);
    for (size_t i = 0; i < m.nodes.size(); ++i)
      EXPECT_EQ(NodeMark(alone.nodes[i]), NodeMark(m.nodes[i])) << what << " " << m.chain->name;
    for (const NodeMatch& n : m.nodes) {
      if (n.status == NodeStatus::NotApplicable) continue;
      const auto now =
          std::make_tuple(n.status, n.absent_reason, n.inlined_into, NodeMark(n), m.chain->id);
      const auto [it, first] = seen.emplace(std::string(n.chosen->function), now);
      if (first) continue;
      ++shared;
      EXPECT_EQ(std::get<3>(it->second), NodeMark(n))
          << what << ": " << n.chosen->function << " on " << GetChain(std::get<4>(it->second)).name
          << " and " << m.chain->name;
    }
  }
  return shared;
}

// --- Steps of functions and claims -------------------------------------------------

TEST(ChainPaths, StepOfAFunctionInOneChainAndAcrossChains) {
  const Chain& run = GetChain(ChainId::RunLoop);
  auto at = [&](std::string_view id) {
    return std::optional<size_t>(static_cast<size_t>(run.Node(id) - run.nodes.data()));
  };
  EXPECT_EQ(ChainNodeOf(run, "__pvm_handle_exit.isra.0"), at("exit_table"));
  EXPECT_EQ(ChainNodeOf(run, "vcpu_run"), at("vcpu_run"));
  EXPECT_EQ(ChainNodeOf(run, "__vcpu_run"), at("vcpu_run"));
  EXPECT_EQ(ChainNodeOf(run, "schedule"), std::nullopt);
  EXPECT_EQ(ChainNodeOf(run, ""), std::nullopt);

  auto where = [](std::string_view function) {
    std::vector<std::string> at;
    for (const ChainNodeRef& ref : ChainNodesOf(function))
      at.push_back(std::string(GetChain(ref.chain).name) + ":" +
                   std::string(GetChain(ref.chain).nodes[ref.node].id));
    return at;
  };
  EXPECT_EQ(where("pvm_handle_native_exit"),
            (std::vector<std::string>{"exceptions:exception_exit", "page-faults:fault_exit"}));
  EXPECT_EQ(where("pvm_handle_exit"),
            (std::vector<std::string>{"run:vendor_exit", "exceptions:vendor_exit",
                                      "page-faults:vendor_exit"}));
  EXPECT_EQ(where("kvm_vcpu_ioctl"),
            (std::vector<std::string>{"init:vcpu_ioctl", "run:vcpu_ioctl"}));
  EXPECT_TRUE(where("schedule").empty());
}

TEST(ChainPaths, ClaimsLandOnTheStepsTheyName) {
  const Chain& init = GetChain(ChainId::Init);
  const Chain& run = GetChain(ChainId::RunLoop);
  auto id_of = [](const Chain& c, std::string_view claim) {
    const int n = NodeOfClaim(c, *FindSeedClaim(claim));
    return n < 0 ? std::string() : std::string(c.nodes[static_cast<size_t>(n)].id);
  };
  EXPECT_EQ(id_of(init, "kvm_init-in-vmx.c"), "kvm_init");
  EXPECT_EQ(id_of(init, "vmx_init-calls-kvm_init"), "vendor_init");
  EXPECT_EQ(id_of(run, "__vcpu_run-is-the-loop"), "vcpu_run");
  // No kvm_arch_vcpu_run anywhere: the claim sits on what it is checked against.
  EXPECT_EQ(id_of(run, "kvm_arch_vcpu_run-is-the-entry"), "arch_run");
  // A claim about the page-fault chain only names no run-loop step.
  EXPECT_EQ(id_of(run, "kvm_mmu_page_fault-calls-page_fault"), "");
}

// --- Paths of stacks ----------------------------------------------------------------------

TEST(ChainPaths, StackMapsOntoStepsThroughInlinedOnes) {
  const ChainMatch run = MatchChain(ChainId::RunLoop, VmxInlinedFacts());
  ASSERT_EQ(run.Node("vcpu_run")->status, NodeStatus::Absent);
  const ChainPath path = PathThrough(run, kEptFault);
  EXPECT_EQ(Ids(run, path.nodes),
            (std::vector<std::string>{"vcpu_ioctl", "arch_run", "vendor_exit", "exit_table"}));
  ASSERT_EQ(path.routes.size(), 3u);
  // kvm_arch_vcpu_ioctl_run → vmx_handle_exit runs through vcpu_run and
  // vcpu_enter_guest, which have no frame of their own.
  std::vector<std::string> hops;
  for (size_t e : path.routes[1])
    hops.push_back(std::string(run.chain->edges[e].from) + ">" +
                   std::string(run.chain->edges[e].to));
  EXPECT_EQ(hops, (std::vector<std::string>{"arch_run>vcpu_run", "vcpu_run>enter_guest",
                                            "enter_guest>vendor_exit"}));
  EXPECT_EQ(path.routes[0].size(), 1u);  // a direct call
  EXPECT_TRUE(PathThrough(run, {}).nodes.empty());
  EXPECT_TRUE(PathThrough(ChainMatch{}, kEptFault).nodes.empty());
}

// Item 6 of issue 11 in the window: below the page-fault chain's entry
// (kvm_mmu_page_fault) a step lights only for a stack through the entry, by
// the rule matching uses (EntryGate).
TEST(ChainPaths, StepsBelowTheEntryOnlyThroughIt) {
  const KernelFacts facts = PvmWithoutNativeExit();
  const ChainMatch pf = MatchChain(ChainId::PageFaults, facts);
  const std::vector<std::string> fault = {"kvm_arch_vcpu_ioctl_run",   "pvm_handle_exit",
                                          "__pvm_handle_exit.isra.0",  "kvm_mmu_page_fault",
                                          "kvm_mmu_do_page_fault",     "paging64_page_fault",
                                          "paging64_walk_addr_generic"};
  EXPECT_EQ(Ids(pf, PathThrough(pf, fault).nodes),
            (std::vector<std::string>{"vendor_exit", "exit_table", "mmu_pf", "do_pf", "handler",
                                      "walk"}));
  // The instruction decoder's own walk: no kvm_mmu_page_fault above it.
  const std::vector<std::string> decoder = {"kvm_arch_vcpu_ioctl_run",   "kvm_emulate_halt",
                                            "x86_emulate_instruction",   "x86_decode_insn",
                                            "kvm_fetch_guest_virt",      "paging64_gva_to_gpa",
                                            "paging64_walk_addr_generic"};
  EXPECT_TRUE(PathThrough(pf, decoder).nodes.empty());
  // The gate is the entry's functions for steps below it, nothing elsewhere.
  const Chain& c = *pf.chain;
  auto at = [&](std::string_view id) { return static_cast<size_t>(c.Node(id) - c.nodes.data()); };
  EXPECT_EQ(EntryGate(c, at("walk")), (std::vector<std::string_view>{"kvm_mmu_page_fault"}));
  EXPECT_TRUE(EntryGate(c, at("mmu_pf")).empty());
  EXPECT_TRUE(EntryGate(c, at("vendor_exit")).empty());
  EXPECT_TRUE(EntryGate(GetChain(ChainId::RunLoop), 2).empty());
}

// The same on the SVM host's recorded decoder stack (x86_decode_insn → … →
// paging64_gva_to_gpa → paging64_walk_addr_generic), a real event's path.
TEST(ChainPaths, RecordedDecoderStackLightsNoFaultStep) {
  const TraceData trace = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json");
  const std::vector<ChainMatch> all = MatchChains(FactsOf(trace));
  const ChainMatch& pf = all[static_cast<size_t>(ChainId::PageFaults)];
  size_t decoder_stacks = 0;
  for (const Stack& stack : trace.stacks) {
    const std::vector<std::string> frames = ChainFrames(stack, trace.symbols);
    const bool walks =
        std::find(frames.begin(), frames.end(), "paging64_walk_addr_generic") != frames.end();
    const bool faults =
        std::find(frames.begin(), frames.end(), "kvm_mmu_page_fault") != frames.end();
    if (!walks || faults) continue;
    ++decoder_stacks;
    for (const std::string& id : Ids(pf, PathThrough(pf, frames).nodes))
      EXPECT_TRUE(id != "walk" && id != "fetch" && id != "handler") << id;
  }
  EXPECT_GT(decoder_stacks, 0u);
}

TEST(ChainPaths, RoutesTakeNeitherPresentStepsNorLinksNaHere) {
  const ChainMatch pf = MatchChain(ChainId::PageFaults, VmxInlinedFacts());
  const Chain& c = *pf.chain;
  auto at = [&](std::string_view id) { return static_cast<size_t>(c.Node(id) - c.nodes.data()); };
  // mmu_pf → handler goes through do_pf (no symbol here) on ≥5.6; the old
  // direct link is n/a on 6.8.
  const std::vector<size_t> route = RouteBetween(pf, at("mmu_pf"), at("handler"));
  ASSERT_EQ(route.size(), 2u);
  EXPECT_EQ(c.edges[route[0]].to, "do_pf");
  // vendor_exit → mmu_pf only through a step that has a symbol: no route.
  EXPECT_TRUE(RouteBetween(pf, at("vendor_exit"), at("mmu_pf")).empty());
  EXPECT_TRUE(RouteBetween(pf, at("mmu_pf"), c.nodes.size()).empty());
  EXPECT_TRUE(RouteBetween(ChainMatch{}, 0, 1).empty());
}

// --- One status per function ----------------------------------------------------------

TEST(ChainConsistency, AStepWithoutSymbolReadsTheSameOnEveryChain) {
  const KernelFacts facts = PvmWithoutNativeExit();
  ASSERT_FALSE(facts.Has("pvm_handle_native_exit"));
  const NodeMatch ex = *MatchChain(ChainId::Exceptions, facts).Node("exception_exit");
  const NodeMatch pf = *MatchChain(ChainId::PageFaults, facts).Node("fault_exit");
  EXPECT_EQ(ex.chosen->function, "pvm_handle_native_exit");
  EXPECT_EQ(pf.chosen->function, "pvm_handle_native_exit");
  // The page-fault stacks show its code inside pvm_handle_exit: so on the
  // exceptions chain too, although no stack went that way there.
  EXPECT_EQ(pf.absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(ex.absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(ex.inlined_into, pf.inlined_into);
  EXPECT_EQ(NodeMark(ex), NodeMark(pf));
  // Both chains go through the exit table (__pvm_handle_exit) above it.
  EXPECT_EQ(NodeMark(ex), "[absent: inlined into __pvm_handle_exit]");
  EXPECT_GE(ExpectOneStatusPerFunction(facts, "PVM without native exit"), 2u);
}

TEST(ChainConsistency, RecordedTracesHaveOneStatusPerFunction) {
  for (const char* name : {"/pagefault-pvm.json", "/exceptions-pvm.json"}) {
    const TraceData trace = LoadTrace(std::string(KVMSCOPE_TESTDATA) + name);
    EXPECT_GE(ExpectOneStatusPerFunction(FactsOf(trace), name), 5u);
  }
  const TraceData a = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  const TraceData b = LoadTrace(KVMSCOPE_TESTDATA "/exceptions-pvm.json");
  ExpectOneStatusPerFunction(FactsOf({&a, &b}), "both traces");
  ExpectOneStatusPerFunction(VmxInlinedFacts(), "VMX, inlined run loop");
}

// --- A trace without kernel data -----------------------------------------------------------

TEST(ChainsNotTraced, NoSymbolsNoStacksMeansNothingIsKnown) {
  const KernelFacts facts(SymbolTable{}, {}, "6.18.44-pvm");
  EXPECT_FALSE(facts.has_kernel_data());
  EXPECT_EQ(facts.vendor(), Vendor::Any);
  for (const ChainMatch& m : MatchChains(facts)) {
    for (const NodeMatch& n : m.nodes) {
      if (n.status == NodeStatus::NotApplicable) continue;  // a version rule still holds
      EXPECT_EQ(n.status, NodeStatus::Absent) << n.node->id;
      EXPECT_EQ(n.absent_reason, AbsentReason::NotTraced) << n.node->id;
      EXPECT_EQ(NodeMark(n), "[kernel not traced]");
      // The vendor is unknown: never guessed as VMX.
      bool per_vendor = false;
      for (const Alternative& a : n.node->alternatives) per_vendor |= a.vendor != Vendor::Any;
      if (per_vendor) {
        EXPECT_TRUE(Contains(n.label, "pvm_")) << n.label;
      }
    }
    for (const EdgeMatch& e : m.edges)
      EXPECT_NE(e.status, EdgeStatus::Observed) << e.edge->from << ">" << e.edge->to;
  }
  EXPECT_EQ(MatchChain(ChainId::RunLoop, facts).Node("vendor_exit")->label,
            "vmx_handle_exit / svm_handle_exit / pvm_handle_exit");
  EXPECT_EQ(MatchChain(ChainId::RunLoop, facts).Node("arch_run")->label, "kvm_arch_vcpu_ioctl_run");
  // Versions still count: vmx_init is ≤6.15, so 6.18 names vt_init.
  EXPECT_EQ(MatchChain(ChainId::Init, facts).Node("vendor_init")->label,
            "vt_init / svm_init / pvm_init");
  // The seed's claims: nothing shown either way (older-kernel ones aside).
  for (const ClaimResult& r : CheckSeed(facts)) {
    EXPECT_TRUE(r.verdict == Verdict::Unverified || r.verdict == Verdict::OlderKernelsOnly)
        << r.claim->id << " " << VerdictName(r.verdict);
    EXPECT_TRUE(Contains(r.evidence, "not traced")) << r.evidence;
  }
}

TEST(ChainsNotTraced, TheHostsBackendNamesTheVendor) {
  // A --no-probes trace: release and backend, no symbols, no stacks.
  Trace trace;
  HostFacts host;
  host.kernel_release = "6.18.44-fc-v669";
  host.backend = "PVM (kvm_pvm)";
  host.not_traced_reason = "--no-probes given";
  trace.SetHost(host);
  const TraceData data = trace.Take();
  const KernelFacts facts = FactsOf(data);
  EXPECT_FALSE(facts.has_kernel_data());
  EXPECT_EQ(facts.vendor(), Vendor::Pvm);
  EXPECT_EQ(facts.paging(), Paging::Shadow);
  const ChainMatch run = MatchChain(ChainId::RunLoop, facts);
  EXPECT_EQ(run.Node("vendor_exit")->label, "pvm_handle_exit");
  EXPECT_EQ(run.Node("vendor_exit")->absent_reason, AbsentReason::NotTraced);
  const std::vector<std::string> text = FormatChain(run);
  for (const std::string& line : text) {
    EXPECT_FALSE(Contains(line, "vmx_handle_exit") || Contains(line, "vmx_vcpu_run")) << line;
    EXPECT_FALSE(Contains(line, "not in this kernel's symbols")) << line;
  }
  EXPECT_EQ(BackendVendor("VMX (Intel)"), Vendor::Vmx);
  EXPECT_EQ(BackendVendor("SVM (kvm_amd)"), Vendor::Svm);
  EXPECT_EQ(BackendVendor("PVM"), Vendor::Pvm);
  EXPECT_EQ(BackendVendor(""), Vendor::Any);
  EXPECT_EQ(BackendVendor("other"), Vendor::Any);
  // Kernel data beats the host's word: symbols name the vendor.
  FakeKernel k({"svm_handle_exit"});
  EXPECT_EQ(KernelFacts(k.symbols(), {}, "6.1", {}, 0, Vendor::Pvm).vendor(), Vendor::Svm);
}

// --- Claims for students ------------------------------------------------------------------------

TEST(SeedSentences, TheSeedSaysXThisKernelShowsY) {
  const TraceData trace = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  const KernelFacts facts = FactsOf(trace);
  auto sentence = [&](std::string_view id) {
    return ClaimSentence(CheckClaim(*FindSeedClaim(id), facts));
  };
  const std::string in_vmx = sentence("kvm_init-in-vmx.c");
  EXPECT_EQ(in_vmx.rfind("The seed says kvm_init is defined in arch/x86/kvm/vmx.c; this kernel "
                         "shows otherwise: kvm_init: present",
                         0),
            0u)
      << in_vmx;
  // A claim that starts with a capital reads as a clause; no period inside.
  const std::string entry = sentence("kvm_arch_vcpu_run-is-the-entry");
  EXPECT_EQ(entry.rfind("The seed says the guest is entered through kvm_arch_vcpu_run()", 0), 0u)
      << entry;
  EXPECT_FALSE(Contains(entry, "starts it.;")) << entry;
  EXPECT_TRUE(Contains(sentence("kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run"),
                       "; this kernel shows the same: "));
  EXPECT_TRUE(Contains(sentence("kvm_init-calls-kvm_arch_init"),
                       "; this kernel shows it held only in older kernels: "));
  for (const ClaimResult& r : CheckSeed(facts)) {
    const std::string s = ClaimSentence(r);
    EXPECT_TRUE(Contains(s, r.evidence)) << s;
    EXPECT_EQ(s.rfind("The seed says ", 0), 0u) << s;
  }
}

}  // namespace
}  // namespace kvmscope::traces

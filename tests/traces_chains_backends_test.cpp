// The chains on real traces of the SVM test host (Debian's 6.1.0-57 under
// QEMU TCG, kvm_amd npt=Y): tail-call links observed only on evidence, the
// init layout decided by symbols, 6.1's functions, and steps below a chain's
// entry lit only by stacks through it, steps run only as tail calls marked so;
// plus synthetic exits without evidence.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "traces/chains.h"
#include "traces/report.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

ChainMatch Match(const char* file, ChainId id) {
  return MatchChain(id, FactsOf(LoadTrace(std::string(KVMSCOPE_TESTDATA) + file)));
}

const EdgeMatch& EdgeOf(const ChainMatch& m, std::string_view from, std::string_view to) {
  const EdgeMatch* e = m.Edge(from, to);
  EXPECT_NE(e, nullptr) << from << " -> " << to;
  static const EdgeMatch none;
  return e != nullptr ? *e : none;
}

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

TEST(ChainsSvmTrace, TailCallsObservedOnEvidence) {
  for (const char* file : {"/pagefault-svm.json", "/pagefault-svm-fentry.json",
                           "/exceptions-svm-tracepoint.json"}) {
    SCOPED_TRACE(file);
    const ChainMatch pf = Match(file, ChainId::PageFaults);
    // No stack shows these links (jumps), every one is proved by the exits.
    for (auto [from, to] : {std::pair{"vendor_exit", "exit_table"}, {"exit_table", "fault_exit"},
                            {"fault_exit", "mmu_pf"}, {"handler", "direct_pf"}}) {
      const EdgeMatch& e = EdgeOf(pf, from, to);
      EXPECT_EQ(e.use.stacks, 0u) << from << " → " << to;
      EXPECT_EQ(e.status, EdgeStatus::ObservedTailCall) << from << " → " << to << ": " << e.note;
      EXPECT_GT(e.tail_exits, 0u);
      EXPECT_TRUE(Contains(e.note, "evidence: ")) << e.note;
      EXPECT_TRUE(Contains(EdgeMark(e), "[observed through a tail call: ")) << EdgeMark(e);
    }
    EXPECT_TRUE(Contains(EdgeOf(pf, "exit_table", "fault_exit").note, "exit reason NPF"));
    EXPECT_EQ(EdgeOf(pf, "direct_pf", "tdp_map").status, EdgeStatus::Observed);
  }
  // With kprobes the callee's own probe fired after the handler in one exit.
  const ChainMatch kprobe = Match("/pagefault-svm.json", ChainId::PageFaults);
  const EdgeMatch& npf = EdgeOf(kprobe, "fault_exit", "mmu_pf");
  EXPECT_TRUE(Contains(npf.note, "kprobe on kvm_mmu_page_fault")) << npf.note;
  EXPECT_EQ(npf.tail_exits, 30u);
}

// A step that only runs as a tail call has no frame in any stack; with the
// links on both sides observed through a tail call it reads so, with the
// evidence, on every chain it is a step of, and never as plain "observed".
TEST(ChainsSvmTrace, StepsRunOnlyAsTailCalls) {
  const KernelFacts facts = FactsOf(LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json"));
  const std::vector<ChainMatch> all = MatchChains(facts);
  const ChainMatch& pf = all[static_cast<size_t>(ChainId::PageFaults)];
  const NodeMatch& table = *pf.Node("exit_table");
  EXPECT_EQ(table.chosen->function, "svm_invoke_exit_handler");
  EXPECT_EQ(table.status, NodeStatus::PresentNotObserved);  // no stack shows it
  EXPECT_EQ(table.count, 0u);
  EXPECT_EQ(table.tail_exits, 30u);
  const std::string mark = NodeMark(table);
  EXPECT_EQ(mark.rfind("[observed through a tail call, 30 exits: svm_handle_exit → "
                       "svm_invoke_exit_handler → npf_interception, both links tail calls; "
                       "evidence: kprobe on svm_handle_exit then exit reason NPF",
                       0),
            0u)
      << mark;
  const NodeMatch& handler = *pf.Node("handler");
  EXPECT_EQ(handler.chosen->function, "kvm_tdp_page_fault");
  EXPECT_EQ(handler.tail_exits, 2u);
  EXPECT_TRUE(Contains(NodeMark(handler), "kvm_tdp_page_fault → direct_page_fault"));
  // Seen on stacks: plain observed, no tail mark.
  EXPECT_EQ(pf.Node("fault_exit")->tail_exits, 0u);
  EXPECT_EQ(NodeMark(*pf.Node("fault_exit")), "[observed 4]");
  // The run loop ends at the exit table (no link out of it there): the same
  // mark, as every chain reads one function the same.
  const ChainMatch& run = all[static_cast<size_t>(ChainId::RunLoop)];
  EXPECT_EQ(NodeMark(*run.Node("exit_table")), mark);
  // The CLI's text.
  bool printed = false;
  for (const std::string& line : FormatChain(pf))
    printed = printed || (Contains(line, "svm_invoke_exit_handler") &&
                          Contains(line, "[observed through a tail call, 30 exits: "));
  EXPECT_TRUE(printed);

  const ChainMatch ex = Match("/exceptions-svm.json", ChainId::Exceptions);
  EXPECT_EQ(ex.Node("exception_exit")->chosen->function, "ud_interception");
  EXPECT_EQ(ex.Node("exception_exit")->tail_exits, 1u);
  EXPECT_TRUE(Contains(NodeMark(*ex.Node("exception_exit")),
                       "svm_invoke_exit_handler → ud_interception → handle_ud"));
  // Nothing proves kvm_queue_exception ran: it stays present, not seen.
  EXPECT_EQ(NodeMark(*ex.Node("queue")), "[present, not seen]");
}

TEST(ChainsSvmTrace, UdInterceptionToHandleUd) {
  for (const char* file : {"/exceptions-svm.json", "/exceptions-svm-tracepoint.json"}) {
    SCOPED_TRACE(file);
    const ChainMatch ex = Match(file, ChainId::Exceptions);
    const EdgeMatch& ud = EdgeOf(ex, "exception_exit", "handle_ud");
    EXPECT_EQ(ud.status, EdgeStatus::ObservedTailCall) << ud.note;
    EXPECT_TRUE(Contains(ud.note, "exit reason EXCP_UD")) << ud.note;
    EXPECT_TRUE(Contains(ud.note, "handle_ud on the stack of")) << ud.note;
    EXPECT_EQ(ex.Node("handle_ud")->status, NodeStatus::Observed);
    // 6.1 has kvm_check_and_inject_events, not inject_pending_event.
    EXPECT_EQ(ex.Node("check_events")->chosen->function, "kvm_check_and_inject_events");
    EXPECT_EQ(ex.Node("check_events")->status, NodeStatus::Observed);
    EXPECT_EQ(EdgeOf(ex, "check_events", "inject").status, EdgeStatus::Observed);
  }
  // No #UD in the page-fault guest: the link stays unseen, never guessed.
  const ChainMatch pf_only = Match("/pagefault-svm.json", ChainId::Exceptions);
  EXPECT_EQ(EdgeOf(pf_only, "exit_table", "exception_exit").status, EdgeStatus::NotObserved);
}

TEST(ChainsSvmTrace, InitLayoutBySymbols) {
  const ChainMatch init = Match("/pagefault-svm.json", ChainId::Init);
  EXPECT_EQ(init.layout, "by symbols: kvm_x86_vendor_init is a symbol");
  EXPECT_EQ(init.Node("vendor_setup")->chosen->function, "kvm_x86_vendor_init");
  EXPECT_TRUE(init.Node("vendor_setup")->note.empty()) << init.Node("vendor_setup")->note;
  EXPECT_EQ(EdgeOf(init, "vendor_init", "vendor_setup").status, EdgeStatus::Unobservable);
  EXPECT_TRUE(Contains(EdgeOf(init, "vendor_init", "vendor_setup").note, "by symbols"));
  const EdgeMatch& old = EdgeOf(init, "kvm_init", "vendor_setup");
  EXPECT_EQ(old.status, EdgeStatus::NotApplicable);
  EXPECT_TRUE(Contains(old.note, "by symbols")) << old.note;
}

TEST(ChainsSvmTrace, DecoderWalkDoesNotLightThePageFaultWalk) {
  // The only stack with paging64_walk_addr_generic is the instruction
  // decoder's (x86_decode_insn → … → paging64_gva_to_gpa), not a fault's.
  const KernelFacts facts = FactsOf(LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json"));
  ASSERT_GT(facts.Through("paging64_walk_addr_generic").stacks, 0u);
  const ChainMatch pf = MatchChain(ChainId::PageFaults, facts);
  EXPECT_EQ(pf.Node("walk")->status, NodeStatus::NotApplicable);
  EXPECT_EQ(pf.Node("walk")->count, 0u);
  EXPECT_EQ(pf.Node("direct_pf")->chosen->function, "direct_page_fault");
  EXPECT_EQ(pf.Node("direct_pf")->status, NodeStatus::Observed);
}

TEST(ChainsSvmTrace, ByVersionWithoutSymbols) {
  // No kernel symbols: the version decides, and says so.
  KernelFacts facts(SymbolTable{}, {{{0x1000}, 1}}, "6.1.0-57-amd64");
  const ChainMatch init = MatchChain(ChainId::Init, facts);
  EXPECT_EQ(init.layout, "by version 6.1 (no symbols)");
  EXPECT_EQ(EdgeOf(init, "vendor_init", "vendor_setup").status, EdgeStatus::NotApplicable);
}

TEST(ChainsVmxTrace, TailCallsWithEptAndShadowPaging) {
  const ChainMatch ept = Match("/pagefault-vmx.json", ChainId::PageFaults);
  EXPECT_EQ(EdgeOf(ept, "fault_exit", "mmu_pf").status, EdgeStatus::ObservedTailCall);
  EXPECT_EQ(EdgeOf(ept, "handler", "direct_pf").status, EdgeStatus::ObservedTailCall);
  const ChainMatch shadow = Match("/pagefault-vmx-shadow.json", ChainId::PageFaults);
  EXPECT_EQ(EdgeOf(shadow, "fault_exit", "handle_pf").status, EdgeStatus::ObservedTailCall);
  EXPECT_EQ(EdgeOf(shadow, "handle_pf", "mmu_pf").status, EdgeStatus::ObservedTailCall);
  // kvm_handle_page_fault is between them: the direct link is not the path.
  EXPECT_EQ(EdgeOf(shadow, "fault_exit", "mmu_pf").status, EdgeStatus::NotObserved);
  EXPECT_TRUE(Contains(EdgeOf(shadow, "fault_exit", "handle_pf").note, "EXCEPTION_NMI"));
}

// Synthetic exits: the same stacks with and without evidence.
KernelFacts SvmFacts(std::vector<ExitSightings> exits) {
  SymbolTable symbols;
  uint64_t addr = 0x1000;
  for (const char* f : {"kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run", "svm_handle_exit",
                        "svm_invoke_exit_handler", "npf_interception", "kvm_mmu_page_fault",
                        "kvm_tdp_page_fault", "direct_page_fault", "kvm_tdp_mmu_map"})
    symbols.Add(addr += 0x100, f, "");
  symbols.Finish();
  // kvm_mmu_page_fault's stack without svm_handle_exit / npf_interception.
  std::vector<StackUse> stacks = {{{0x1600 + 1, 0x1200 + 1, 0x1100 + 1}, 3}};
  KernelFacts facts(symbols, stacks, "6.1.0-57-amd64");
  facts.SetExits(std::move(exits));
  return facts;
}

TEST(ChainsSyntheticExits, NoEvidenceNoMark) {
  const ChainMatch none = MatchChain(ChainId::PageFaults, SvmFacts({}));
  EXPECT_EQ(EdgeOf(none, "fault_exit", "mmu_pf").status, EdgeStatus::NotObserved);
  // The wrong order, or the reason only, prove nothing either.
  const ChainMatch reversed = MatchChain(
      ChainId::PageFaults, SvmFacts({{"", {{"kvm_mmu_page_fault", "kprobe on kvm_mmu_page_fault"},
                                           {"npf_interception", "stack of kvm_page_fault"}},
                                      1}}));
  EXPECT_EQ(EdgeOf(reversed, "fault_exit", "mmu_pf").status, EdgeStatus::NotObserved);
  const ChainMatch reason_only = MatchChain(ChainId::PageFaults, SvmFacts({{"NPF", {}, 5}}));
  EXPECT_EQ(EdgeOf(reason_only, "vendor_exit", "exit_table").status, EdgeStatus::NotObserved);
  EXPECT_EQ(EdgeOf(reason_only, "exit_table", "fault_exit").status, EdgeStatus::NotObserved);
  for (const ChainMatch* m : {&none, &reversed, &reason_only}) {
    EXPECT_EQ(m->Node("exit_table")->tail_exits, 0u);
    EXPECT_EQ(NodeMark(*m->Node("exit_table")), "[present, not seen]");
  }
}

TEST(ChainsSyntheticExits, ProbesInOrderMark) {
  const ChainMatch m = MatchChain(
      ChainId::PageFaults, SvmFacts({{"NPF",
                                      {{"svm_handle_exit", "kprobe on svm_handle_exit"},
                                       {"kvm_mmu_page_fault", "kprobe on kvm_mmu_page_fault"}},
                                      7}}));
  const EdgeMatch& table = EdgeOf(m, "vendor_exit", "exit_table");
  EXPECT_EQ(table.status, EdgeStatus::ObservedTailCall);
  EXPECT_EQ(table.tail_exits, 7u);
  EXPECT_TRUE(Contains(table.note, "kprobe on svm_handle_exit then exit reason NPF")) << table.note;
  EXPECT_EQ(EdgeOf(m, "fault_exit", "mmu_pf").status, EdgeStatus::ObservedTailCall);
  // A reason whose handler is another one proves nothing about npf_interception.
  const ChainMatch other = MatchChain(
      ChainId::PageFaults, SvmFacts({{"EXCP_UD",
                                      {{"svm_handle_exit", "kprobe on svm_handle_exit"},
                                       {"kvm_mmu_page_fault", "kprobe on kvm_mmu_page_fault"}},
                                      7}}));
  EXPECT_EQ(EdgeOf(other, "exit_table", "fault_exit").status, EdgeStatus::NotObserved);
  // Both links of the exit table proved: a tail-call step; with the link
  // into it only (EXCP_UD's handler is not in these stacks), not.
  EXPECT_EQ(m.Node("exit_table")->tail_exits, 7u);
  EXPECT_TRUE(
      Contains(NodeMark(*m.Node("exit_table")), "[observed through a tail call, 7 exits: "));
  EXPECT_EQ(EdgeOf(other, "vendor_exit", "exit_table").status, EdgeStatus::ObservedTailCall);
  EXPECT_EQ(other.Node("exit_table")->tail_exits, 0u);
  EXPECT_EQ(NodeMark(*other.Node("exit_table")), "[present, not seen]");
}

}  // namespace
}  // namespace kvmscope::traces

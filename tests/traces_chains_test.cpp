// Tests of the call-chain model on synthetic kernels with known answers (a
// VMX 6.8 kernel with EPT, an SVM 5.15 kernel with NPT, a PVM kernel shaped
// like this machine's stacks, an old 3.10 VMX kernel: chain_test_kernels.h);
// the seed check on the same kernels is in traces_seed_check_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/chain_test_kernels.h"
#include "tests/fake_kernel.h"
#include "traces/chains.h"
#include "traces/seed_check.h"

namespace kvmscope::traces {
namespace {

// --- Release parsing --------------------------------------------------------------

TEST(ChainsRelease, ParsesMajorMinor) {
  EXPECT_EQ(ParseKernelRelease("6.12.0-pvm"), (KernelVersion{6, 12}));
  EXPECT_EQ(ParseKernelRelease("6.18.44-fc-v669"), (KernelVersion{6, 18}));
  EXPECT_EQ(ParseKernelRelease("3.10.0-1160.el7.x86_64"), (KernelVersion{3, 10}));
  EXPECT_EQ(ParseKernelRelease("v5.15"), (KernelVersion{5, 15}));
  EXPECT_EQ(ParseKernelRelease("  4.19.0 \n"), (KernelVersion{4, 19}));
  EXPECT_EQ(ParseKernelRelease("2.6.32-754.el6"), (KernelVersion{2, 6}));
}

TEST(ChainsRelease, RejectsGarbage) {
  for (std::string_view bad :
       {"", "garbage", "6", "6.", "6.x", "x6.1", ".5", "1234.5", "6.1234", "0.1", "-6.1"})
    EXPECT_EQ(ParseKernelRelease(bad), std::nullopt) << "'" << bad << "'";
}

TEST(ChainsRelease, VersionsCompareAndFormat) {
  EXPECT_LT((KernelVersion{4, 20}), (KernelVersion{5, 0}));
  EXPECT_LT((KernelVersion{6, 2}), (KernelVersion{6, 10}));
  EXPECT_EQ(FormatVersion({6, 3}), "6.3");
  EXPECT_EQ(FormatRange({kOldestKernel, {3, 19}}), "≤3.19");
  EXPECT_EQ(FormatRange({{6, 3}, kNewestKernel}), "≥6.3");
  EXPECT_EQ(FormatRange({{5, 0}, {6, 15}}), "5.0–6.15");
  EXPECT_EQ(FormatRange({}), "all versions");
}

TEST(ChainsRelease, GarbageReleaseMeansNoVersionRule) {
  FakeKernel k = PvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "not a release");
  EXPECT_EQ(facts.version(), std::nullopt);
  EXPECT_TRUE(Contains(facts.Describe(), "version unknown"));
  // Without a version, a missing __vcpu_run is absent, not "until 3.19".
  const ChainMatch m = MatchChain(ChainId::RunLoop, facts);
  EXPECT_EQ(AltOf(NodeOf(m, "vcpu_run"), "__vcpu_run").status, NodeStatus::Absent);
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_arch_init"), Verdict::NotOnThisKernel);
}

// --- The chain data -------------------------------------------------------------

TEST(ChainsData, FourChainsWithConsistentEdges) {
  ASSERT_EQ(Chains().size(), 4u);
  for (ChainId id : kAllChains) {
    const Chain& c = GetChain(id);
    EXPECT_EQ(c.id, id);
    EXPECT_EQ(ChainIdFromName(c.name), id);
    EXPECT_FALSE(c.nodes.empty());
    for (const ChainNode& n : c.nodes) {
      EXPECT_FALSE(n.alternatives.empty()) << n.id;
      EXPECT_FALSE(n.teaching.empty()) << n.id;
      for (const Alternative& a : n.alternatives) EXPECT_FALSE(a.files.empty()) << a.function;
    }
    for (const ChainEdge& e : c.edges) {
      EXPECT_NE(c.Node(e.from), nullptr) << e.from;
      EXPECT_NE(c.Node(e.to), nullptr) << e.to;
    }
  }
  EXPECT_EQ(ChainIdFromName("nonsense"), std::nullopt);
}

TEST(ChainsData, SourceFilesFollowTheVersion) {
  FakeKernel k = VmxKernel();
  const ChainMatch new_vmx =
      MatchChain(ChainId::RunLoop, KernelFacts(k.symbols(), k.stacks(), "6.8.0"));
  EXPECT_EQ(NodeOf(new_vmx, "vendor_exit").source_file, "arch/x86/kvm/vmx/vmx.c");
  FakeKernel old = OldKernel();
  const ChainMatch old_vmx =
      MatchChain(ChainId::RunLoop, KernelFacts(old.symbols(), old.stacks(), "3.10.0"));
  EXPECT_EQ(NodeOf(old_vmx, "vendor_exit").source_file, "arch/x86/kvm/vmx.c");
  const ChainMatch old_pf =
      MatchChain(ChainId::PageFaults, KernelFacts(old.symbols(), old.stacks(), "3.10.0"));
  EXPECT_EQ(NodeOf(old_pf, "mmu_pf").source_file, "arch/x86/kvm/mmu.c");
  EXPECT_EQ(NodeOf(old_pf, "walk").source_file, "arch/x86/kvm/paging_tmpl.h");
}

TEST(ChainsData, SymbolNamesCoverChainsAndSeed) {
  const std::vector<std::string> names = ChainSymbolNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  for (std::string_view want :
       {"vmx_handle_exit", "svm_handle_exit", "pvm_handle_exit", "vcpu_run", "__vcpu_run",
        "handle_exception_nmi", "handle_exception", "kvm_tdp_page_fault", "paging64_page_fault",
        "kvm_x86_vendor_init", "kvm_arch_init", "vt_init", "kvm_vcpu_compat_ioctl",
        "kvm_arch_vcpu_run", "kvm_vcpu_run", "kvm_vcpu_exit", "page_fault", "is_page_fault"})
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), want)) << want;
}

TEST(ChainsData, BaseNameAndChainSymbolsKeepSuffixedParts) {
  EXPECT_EQ(BaseName("__pvm_handle_exit.isra.0"), "__pvm_handle_exit");
  EXPECT_EQ(BaseName("kvm_init.cold"), "kvm_init");
  EXPECT_EQ(BaseName("vcpu_run"), "vcpu_run");
  FakeKernel k = PvmKernel();
  const std::vector<Symbol> kept = ChainSymbols(k.symbols());
  auto has = [&](std::string_view n) {
    return std::any_of(kept.begin(), kept.end(), [&](const Symbol& s) { return s.name == n; });
  };
  EXPECT_TRUE(has("__pvm_handle_exit.isra.0"));
  EXPECT_TRUE(has("kvm_init.cold"));
  EXPECT_TRUE(has("pvm_handle_exit"));
  EXPECT_FALSE(has("do_syscall_64"));
  EXPECT_FALSE(has("em_out"));
}

// --- VMX ---------------------------------------------------------------------------

TEST(ChainsVmx, FactsDetectVendorPagingAndVersion) {
  FakeKernel k = VmxKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.8.0-45-generic");
  EXPECT_EQ(facts.vendor(), Vendor::Vmx);
  EXPECT_EQ(facts.paging(), Paging::Tdp);
  EXPECT_EQ(facts.version(), (KernelVersion{6, 8}));
  EXPECT_EQ(facts.event_count(), 165u);
  EXPECT_EQ(facts.Through("kvm_arch_vcpu_ioctl_run").events, 145u);
  EXPECT_EQ(facts.Through("kvm_arch_vcpu_ioctl_run").stacks, 3u);
}

TEST(ChainsVmx, RunLoopNodes) {
  FakeKernel k = VmxKernel();
  const ChainMatch m = MatchChain(ChainId::RunLoop, KernelFacts(k.symbols(), k.stacks(), "6.8.0"));
  EXPECT_EQ(NodeOf(m, "vcpu_ioctl").status, NodeStatus::Observed);
  EXPECT_EQ(NodeOf(m, "vcpu_ioctl").count, 165u);
  EXPECT_EQ(NodeOf(m, "arch_run").count, 145u);
  const NodeMatch& loop = NodeOf(m, "vcpu_run");
  EXPECT_EQ(loop.chosen->function, "vcpu_run");
  EXPECT_EQ(loop.status, NodeStatus::Observed);
  EXPECT_EQ(AltOf(loop, "__vcpu_run").status, NodeStatus::NotApplicable);
  EXPECT_EQ(AltOf(loop, "__vcpu_run").note, "until 4.0");
  const NodeMatch& exit = NodeOf(m, "vendor_exit");
  EXPECT_EQ(exit.chosen->function, "vmx_handle_exit");
  EXPECT_EQ(exit.status, NodeStatus::Observed);
  EXPECT_EQ(exit.count, 140u);
  EXPECT_EQ(AltOf(exit, "svm_handle_exit").status, NodeStatus::NotApplicable);
  EXPECT_EQ(AltOf(exit, "svm_handle_exit").note, "SVM only");
  EXPECT_EQ(AltOf(exit, "pvm_handle_exit").status, NodeStatus::NotApplicable);
  // VM entry returns before the exit is handled: present, in no stack.
  EXPECT_EQ(NodeOf(m, "vendor_run").chosen->function, "vmx_vcpu_run");
  EXPECT_EQ(NodeOf(m, "vendor_run").status, NodeStatus::PresentNotObserved);
  EXPECT_EQ(NodeOf(m, "exit_table").chosen->function, "__vmx_handle_exit");
  EXPECT_EQ(NodeOf(m, "exit_table").count, 140u);
  EXPECT_EQ(EdgeOf(m, "vcpu_ioctl", "arch_run").status, EdgeStatus::Observed);
  EXPECT_EQ(EdgeOf(m, "vcpu_ioctl", "arch_run").use.direct_events, 145u);
  EXPECT_EQ(EdgeOf(m, "vendor_run", "vendor_exit").status, EdgeStatus::Unobservable);
}

TEST(ChainsVmx, PageFaultsWithEptAndAnInlinedStep) {
  FakeKernel k = VmxKernel();
  const ChainMatch m =
      MatchChain(ChainId::PageFaults, KernelFacts(k.symbols(), k.stacks(), "6.8.0"));
  const NodeMatch& fault = NodeOf(m, "fault_exit");
  EXPECT_EQ(fault.chosen->function, "handle_ept_violation");
  EXPECT_EQ(fault.count, 40u);
  EXPECT_EQ(AltOf(fault, "npf_interception").note, "SVM only");
  // Present, but this kernel runs with EPT and never went that way.
  EXPECT_EQ(AltOf(fault, "handle_exception_nmi").status, NodeStatus::NotApplicable);
  EXPECT_EQ(AltOf(fault, "handle_exception_nmi").note, "shadow paging only");
  EXPECT_EQ(NodeOf(m, "handle_pf").status, NodeStatus::NotApplicable);
  EXPECT_EQ(NodeOf(m, "mmu_pf").count, 40u);
  // kvm_mmu_do_page_fault has no symbol: absent, never observed, and the
  // stacks going kvm_mmu_page_fault → kvm_tdp_page_fault say it is inlined.
  const NodeMatch& pick = NodeOf(m, "do_pf");
  EXPECT_EQ(pick.status, NodeStatus::Absent);
  EXPECT_EQ(pick.count, 0u);
  EXPECT_EQ(pick.absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(pick.inlined_into, "kvm_mmu_page_fault");
  EXPECT_EQ(NodeOf(m, "handler").chosen->function, "kvm_tdp_page_fault");
  EXPECT_EQ(NodeOf(m, "handler").count, 40u);
  EXPECT_EQ(NodeOf(m, "walk").status, NodeStatus::NotApplicable);
  EXPECT_EQ(NodeOf(m, "tdp_map").count, 40u);
  EXPECT_EQ(NodeOf(m, "set_spte").status, NodeStatus::PresentNotObserved);
  // The exit table (__vmx_handle_exit) is a step of its own: both links are
  // direct calls in these stacks; the old direct link is for ≤5.10 only.
  const EdgeMatch& dispatch = EdgeOf(m, "exit_table", "fault_exit");
  EXPECT_EQ(dispatch.status, EdgeStatus::Observed);
  EXPECT_EQ(dispatch.use.events, 40u);
  EXPECT_EQ(dispatch.use.direct_events, 40u);
  EXPECT_EQ(EdgeOf(m, "vendor_exit", "exit_table").status, EdgeStatus::Observed);
  EXPECT_EQ(EdgeOf(m, "vendor_exit", "fault_exit").status, EdgeStatus::NotApplicable);
  // A link whose caller is inlined is seen from the caller's caller.
  const EdgeMatch& through = EdgeOf(m, "do_pf", "handler");
  EXPECT_EQ(through.status, EdgeStatus::Observed);
  EXPECT_EQ(through.use.events, 40u);
  EXPECT_TRUE(Contains(through.note, "kvm_mmu_do_page_fault inlined")) << through.note;
  EXPECT_EQ(EdgeOf(m, "mmu_pf", "do_pf").status, EdgeStatus::Unobservable);
  EXPECT_EQ(EdgeOf(m, "mmu_pf", "handler").status, EdgeStatus::NotApplicable);  // until 5.5
  EXPECT_EQ(EdgeOf(m, "fault_exit", "handle_pf").status, EdgeStatus::NotApplicable);
}

TEST(ChainsVmx, ExceptionsAndInit) {
  FakeKernel k = VmxKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.8.0",
                    {{"KVM_CREATE_VM", 1}, {"KVM_CREATE_VCPU", 2}});
  const ChainMatch ex = MatchChain(ChainId::Exceptions, facts);
  EXPECT_EQ(NodeOf(ex, "exception_exit").chosen->function, "handle_exception_nmi");
  EXPECT_EQ(NodeOf(ex, "exception_exit").status, NodeStatus::PresentNotObserved);
  EXPECT_EQ(AltOf(NodeOf(ex, "exception_exit"), "handle_exception").note, "until 5.2");
  EXPECT_EQ(NodeOf(ex, "inject").count, 5u);
  EXPECT_EQ(NodeOf(ex, "vendor_inject").chosen->function, "vmx_inject_exception");
  // No kvm_check_and_inject_events symbol here: seen as vcpu_enter_guest →
  // kvm_inject_exception, so it runs inlined there.
  EXPECT_EQ(NodeOf(ex, "check_events").absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(EdgeOf(ex, "check_events", "inject").use.direct_events, 5u);
  EXPECT_EQ(EdgeOf(ex, "check_events", "inject").status, EdgeStatus::Observed);
  EXPECT_EQ(EdgeOf(ex, "queue", "check_events").status, EdgeStatus::Unobservable);

  const ChainMatch init = MatchChain(ChainId::Init, facts);
  const NodeMatch& module = NodeOf(init, "vendor_init");
  EXPECT_EQ(module.chosen->function, "vmx_init");
  EXPECT_EQ(module.status, NodeStatus::Absent);
  EXPECT_EQ(module.absent_reason, AbsentReason::InitCodeFreed);
  EXPECT_EQ(AltOf(module, "vt_init").note, "from 6.16");
  EXPECT_EQ(NodeOf(init, "vendor_setup").chosen->function, "kvm_x86_vendor_init");
  EXPECT_EQ(NodeOf(init, "vendor_setup").status, NodeStatus::PresentNotObserved);
  // The symbols decide the layout, not the version.
  EXPECT_EQ(AltOf(NodeOf(init, "vendor_setup"), "kvm_arch_init").note,
            "not this kernel's layout (by symbols: kvm_x86_vendor_init is a symbol)");
  EXPECT_EQ(NodeOf(init, "create_vm").ioctl_count, 1u);
  EXPECT_EQ(NodeOf(init, "create_vcpu").ioctl_count, 2u);
  EXPECT_EQ(NodeOf(init, "create_vcpu").status, NodeStatus::PresentNotObserved);
  EXPECT_EQ(NodeOf(init, "vcpu_ioctl").count, 165u);
  EXPECT_EQ(NodeOf(init, "compat_ioctl").status, NodeStatus::PresentNotObserved);
  EXPECT_EQ(EdgeOf(init, "kvm_init", "vendor_setup").status, EdgeStatus::NotApplicable);
  EXPECT_EQ(EdgeOf(init, "vendor_init", "kvm_init").status, EdgeStatus::Unobservable);
  EXPECT_EQ(NodeMark(NodeOf(init, "create_vcpu")), "[present; KVM_CREATE_VCPU ×2]");
}

TEST(ChainsVmx, CallTreeCounts) {
  FakeKernel k = VmxKernel();
  const CallTreeNode root = BuildCallTree(k.stacks(), k.symbols());
  EXPECT_EQ(root.count, 165u);
  ASSERT_EQ(root.children.size(), 1u);
  const CallTreeNode& ioctl = root.children[0];
  EXPECT_EQ(ioctl.name, "kvm_vcpu_ioctl");
  EXPECT_EQ(ioctl.count, 165u);
  ASSERT_EQ(ioctl.children.size(), 1u);  // the userspace-exit stack ends here
  const CallTreeNode& enter = ioctl.children[0].children[0].children[0];
  EXPECT_EQ(enter.name, "vcpu_enter_guest");
  ASSERT_EQ(enter.children.size(), 2u);
  EXPECT_EQ(enter.children[0].name, "vmx_handle_exit");  // most events first
  EXPECT_EQ(enter.children[0].count, 140u);
  EXPECT_EQ(enter.children[1].name, "kvm_inject_exception");
  EXPECT_EQ(enter.children[1].count, 5u);
  const CallTreeNode& table = enter.children[0].children[0];
  ASSERT_EQ(table.children.size(), 2u);
  EXPECT_EQ(table.children[0].name, "handle_io");
  EXPECT_EQ(table.children[0].count, 100u);
  EXPECT_EQ(table.children[1].name, "handle_ept_violation");

  const std::vector<std::string> all = FormatCallTree(root);
  EXPECT_EQ(all.front(), "kvm_vcpu_ioctl (165)");
  EXPECT_TRUE(AnyLineContains(all, "├─ vmx_handle_exit (140)"));
  EXPECT_TRUE(AnyLineContains(all, "└─ kvm_inject_exception (5)"));
  const std::vector<std::string> big = FormatCallTree(root, {64, 50});
  EXPECT_FALSE(AnyLineContains(big, "kvm_inject_exception"));
  EXPECT_FALSE(AnyLineContains(big, "handle_ept_violation"));
  EXPECT_TRUE(AnyLineContains(big, "… 1 more path (40 events)"));
  EXPECT_EQ(FormatCallTree(root, {2, 1}).size(), 2u);
}

TEST(ChainsVmx, FormattingShowsMarks) {
  FakeKernel k = VmxKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.8.0");
  const std::vector<std::string> run = FormatChain(MatchChain(ChainId::RunLoop, facts));
  EXPECT_TRUE(Contains(run.front(), "The run loop")) << run.front();
  EXPECT_TRUE(Contains(run.front(), "VMX"));
  EXPECT_TRUE(AnyLineContains(run, "[observed 165]"));
  EXPECT_TRUE(AnyLineContains(run, "vmx_handle_exit"));
  EXPECT_TRUE(AnyLineContains(run, "arch/x86/kvm/vmx/vmx.c"));
  EXPECT_TRUE(AnyLineContains(run, "svm_handle_exit [n/a: SVM only]"));
  EXPECT_TRUE(AnyLineContains(run, "[present, not seen]"));
  EXPECT_TRUE(AnyLineContains(run, "kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run  [observed 145]"));
  const std::vector<std::string> pf = FormatChain(MatchChain(ChainId::PageFaults, facts));
  EXPECT_TRUE(AnyLineContains(pf, "[absent: inlined into kvm_mmu_page_fault]"));
  EXPECT_TRUE(AnyLineContains(pf, "[n/a: shadow paging only]"));
  const std::vector<std::string> init = FormatChain(MatchChain(ChainId::Init, facts));
  EXPECT_TRUE(AnyLineContains(init, "[absent: __init code, freed after load]"));
  EXPECT_TRUE(AnyLineContains(init, "[present, runs at load]"));
}

// --- SVM ---------------------------------------------------------------------------

TEST(ChainsSvm, NptKernel) {
  FakeKernel k = SvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "5.15.0-91-generic");
  EXPECT_EQ(facts.vendor(), Vendor::Svm);
  EXPECT_EQ(facts.paging(), Paging::Tdp);
  const ChainMatch run = MatchChain(ChainId::RunLoop, facts);
  EXPECT_EQ(NodeOf(run, "vendor_exit").chosen->function, "svm_handle_exit");
  EXPECT_EQ(NodeOf(run, "vendor_exit").count, 80u);
  EXPECT_EQ(AltOf(NodeOf(run, "vendor_exit"), "vmx_handle_exit").status, NodeStatus::NotApplicable);
  EXPECT_EQ(AltOf(NodeOf(run, "vendor_exit"), "vmx_handle_exit").note, "VMX only");
  EXPECT_EQ(NodeOf(run, "vendor_run").chosen->function, "svm_vcpu_run");
  EXPECT_EQ(NodeOf(run, "exit_table").chosen->function, "svm_invoke_exit_handler");
  EXPECT_EQ(NodeOf(run, "exit_table").count, 80u);

  const ChainMatch pf = MatchChain(ChainId::PageFaults, facts);
  EXPECT_EQ(NodeOf(pf, "fault_exit").chosen->function, "npf_interception");
  EXPECT_EQ(NodeOf(pf, "fault_exit").count, 30u);
  EXPECT_EQ(AltOf(NodeOf(pf, "fault_exit"), "handle_ept_violation").note, "VMX only");
  EXPECT_EQ(AltOf(NodeOf(pf, "fault_exit"), "pf_interception").note, "shadow paging only");
  EXPECT_EQ(NodeOf(pf, "mmu_pf").source_file, "arch/x86/kvm/mmu/mmu.c");
  EXPECT_EQ(NodeOf(pf, "do_pf").absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(EdgeOf(pf, "fault_exit", "mmu_pf").use.direct_events, 30u);

  const ChainMatch init = MatchChain(ChainId::Init, facts);
  EXPECT_EQ(NodeOf(init, "vendor_setup").chosen->function, "kvm_arch_init");
  EXPECT_EQ(AltOf(NodeOf(init, "vendor_setup"), "kvm_x86_vendor_init").note,
            "not this kernel's layout (by symbols: kvm_x86_vendor_init is not a symbol)");
  EXPECT_EQ(NodeOf(init, "vendor_init").chosen->function, "svm_init");
  EXPECT_EQ(NodeOf(init, "vendor_init").absent_reason, AbsentReason::InitCodeFreed);
  EXPECT_EQ(EdgeOf(init, "vendor_init", "vendor_setup").status, EdgeStatus::NotApplicable);

  const ChainMatch ex = MatchChain(ChainId::Exceptions, facts);
  EXPECT_EQ(NodeOf(ex, "vendor_inject").chosen->function, "svm_queue_exception");
  EXPECT_EQ(AltOf(NodeOf(ex, "vendor_inject"), "svm_inject_exception").note, "from 6.1");
}

// --- PVM (this machine's shape) -------------------------------------------------------

TEST(ChainsPvm, InlinedRunLoopSteps) {
  FakeKernel k = PvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.12.0-pvm");
  EXPECT_EQ(facts.vendor(), Vendor::Pvm);
  EXPECT_EQ(facts.paging(), Paging::Shadow);
  EXPECT_TRUE(facts.Has("__pvm_handle_exit"));  // as __pvm_handle_exit.isra.0
  EXPECT_FALSE(facts.Has("vcpu_run"));
  const ChainMatch m = MatchChain(ChainId::RunLoop, facts);
  for (std::string_view inlined : {"vcpu_run", "enter_guest"}) {
    const NodeMatch& n = NodeOf(m, inlined);
    EXPECT_EQ(n.status, NodeStatus::Absent) << inlined;
    EXPECT_EQ(n.count, 0u) << inlined;
    EXPECT_EQ(n.absent_reason, AbsentReason::Inlined) << inlined;
    EXPECT_EQ(n.inlined_into, "kvm_arch_vcpu_ioctl_run") << inlined;
  }
  EXPECT_EQ(AltOf(NodeOf(m, "vcpu_run"), "__vcpu_run").status, NodeStatus::NotApplicable);
  EXPECT_EQ(NodeOf(m, "vcpu_ioctl").count, 1260u);
  EXPECT_EQ(NodeOf(m, "arch_run").count, 660u);
  const NodeMatch& exit = NodeOf(m, "vendor_exit");
  EXPECT_EQ(exit.chosen->function, "pvm_handle_exit");
  EXPECT_EQ(exit.count, 659u);
  EXPECT_EQ(exit.source_file, "arch/x86/kvm/pvm/pvm.c");
  EXPECT_EQ(AltOf(exit, "vmx_handle_exit").status, NodeStatus::NotApplicable);
  EXPECT_EQ(AltOf(exit, "vmx_handle_exit").note, "VMX only");
  EXPECT_EQ(NodeOf(m, "exit_table").count, 659u);
  EXPECT_EQ(NodeOf(m, "vendor_run").status, NodeStatus::PresentNotObserved);
  const EdgeMatch& via = EdgeOf(m, "enter_guest", "vendor_exit");
  EXPECT_EQ(via.status, EdgeStatus::Observed);
  EXPECT_EQ(via.use.events, 659u);
  EXPECT_TRUE(Contains(via.note, "kvm_arch_vcpu_ioctl_run → pvm_handle_exit")) << via.note;
  EXPECT_EQ(EdgeOf(m, "arch_run", "vcpu_run").status, EdgeStatus::Unobservable);
  EXPECT_TRUE(Contains(EdgeOf(m, "arch_run", "vcpu_run").note, "inlined"));
  const std::vector<std::string> text = FormatChain(m);
  EXPECT_TRUE(AnyLineContains(text, "[absent: inlined into kvm_arch_vcpu_ioctl_run]"));
  EXPECT_TRUE(AnyLineContains(text, "[observed 659]"));
}

TEST(ChainsPvm, ShadowPageFaults) {
  FakeKernel k = PvmKernel();
  const ChainMatch m =
      MatchChain(ChainId::PageFaults, KernelFacts(k.symbols(), k.stacks(), "6.12.0-pvm"));
  EXPECT_EQ(NodeOf(m, "fault_exit").chosen->function, "pvm_handle_native_exit");
  EXPECT_EQ(NodeOf(m, "fault_exit").count, 159u);
  EXPECT_EQ(AltOf(NodeOf(m, "fault_exit"), "handle_ept_violation").note, "VMX only");
  // PVM's native-exit handler calls kvm_mmu_page_fault itself.
  EXPECT_EQ(NodeOf(m, "handle_pf").status, NodeStatus::PresentNotObserved);
  EXPECT_EQ(EdgeOf(m, "fault_exit", "mmu_pf").use.direct_events, 159u);
  EXPECT_EQ(NodeOf(m, "do_pf").count, 159u);
  EXPECT_EQ(NodeOf(m, "handler").chosen->function, "paging64_page_fault");
  EXPECT_EQ(AltOf(NodeOf(m, "handler"), "kvm_tdp_page_fault").note, "EPT/NPT only");
  EXPECT_EQ(NodeOf(m, "walk").count, 94u);
  EXPECT_EQ(NodeOf(m, "fetch").count, 65u);
  EXPECT_EQ(NodeOf(m, "set_spte").count, 65u);
  EXPECT_EQ(NodeOf(m, "tdp_map").status, NodeStatus::NotApplicable);
  EXPECT_EQ(EdgeOf(m, "vendor_exit", "exit_table").use.direct_events,
            EdgeOf(m, "vendor_exit", "exit_table").use.events);
  EXPECT_EQ(EdgeOf(m, "exit_table", "fault_exit").status, EdgeStatus::Observed);
}

TEST(ChainsPvm, ExceptionsAndInit) {
  FakeKernel k = PvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.12.0-pvm",
                    {{"KVM_CREATE_VM", 1}, {"KVM_CREATE_VCPU", 2}});
  const ChainMatch ex = MatchChain(ChainId::Exceptions, facts);
  EXPECT_EQ(NodeOf(ex, "inject").count, 1u);
  EXPECT_EQ(NodeOf(ex, "enter_guest").absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(EdgeOf(ex, "check_events", "inject").status, EdgeStatus::Observed);
  EXPECT_EQ(NodeOf(ex, "vendor_inject").chosen->function, "pvm_inject_exception");
  EXPECT_EQ(NodeOf(ex, "queue").status, NodeStatus::PresentNotObserved);

  const ChainMatch init = MatchChain(ChainId::Init, facts);
  EXPECT_EQ(NodeOf(init, "vendor_init").chosen->function, "pvm_init");
  EXPECT_EQ(NodeOf(init, "vendor_init").status, NodeStatus::PresentNotObserved);
  const NodeMatch& vm = NodeOf(init, "create_vm");
  EXPECT_EQ(vm.status, NodeStatus::Absent);
  EXPECT_EQ(vm.absent_reason, AbsentReason::Inlined);
  EXPECT_EQ(vm.inlined_into, "kvm_dev_ioctl");
  EXPECT_EQ(NodeMark(vm), "[absent: inlined into kvm_dev_ioctl; KVM_CREATE_VM ×1]");
  EXPECT_EQ(NodeOf(init, "create_vcpu").inlined_into, "kvm_vm_ioctl");
  EXPECT_EQ(NodeOf(init, "kvm_init").status, NodeStatus::PresentNotObserved);
}

// --- VMX 3.10 ----------------------------------------------------------------------------

TEST(ChainsOld, ShadowPagingOn310) {
  FakeKernel k = OldKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "3.10.0-1160.el7.x86_64");
  EXPECT_EQ(facts.vendor(), Vendor::Vmx);
  EXPECT_EQ(facts.paging(), Paging::Shadow);
  const ChainMatch run = MatchChain(ChainId::RunLoop, facts);
  EXPECT_EQ(NodeOf(run, "vcpu_run").chosen->function, "__vcpu_run");
  EXPECT_EQ(NodeOf(run, "vcpu_run").count, 40u);
  EXPECT_EQ(AltOf(NodeOf(run, "vcpu_run"), "vcpu_run").note, "from 4.1");
  EXPECT_EQ(NodeOf(run, "exit_table").status, NodeStatus::NotApplicable);
  const ChainMatch pf = MatchChain(ChainId::PageFaults, facts);
  EXPECT_EQ(NodeOf(pf, "fault_exit").chosen->function, "handle_exception");
  EXPECT_EQ(AltOf(NodeOf(pf, "fault_exit"), "handle_ept_violation").note, "EPT only");
  EXPECT_EQ(NodeOf(pf, "handle_pf").status, NodeStatus::NotApplicable);
  EXPECT_EQ(NodeOf(pf, "handle_pf").note, "from 4.13");
  EXPECT_EQ(NodeOf(pf, "do_pf").note, "from 5.6");
  EXPECT_EQ(EdgeOf(pf, "mmu_pf", "handler").use.direct_events, 30u);
  EXPECT_EQ(NodeOf(pf, "handler").chosen->function, "paging64_page_fault");
  const ChainMatch ex = MatchChain(ChainId::Exceptions, facts);
  EXPECT_EQ(NodeOf(ex, "check_events").chosen->function, "inject_pending_event");
  EXPECT_EQ(NodeOf(ex, "vendor_inject").chosen->function, "vmx_queue_exception");
  const ChainMatch init = MatchChain(ChainId::Init, facts);
  EXPECT_EQ(NodeOf(init, "vendor_init").chosen->function, "vmx_init");
  EXPECT_EQ(NodeOf(init, "vendor_setup").chosen->function, "kvm_arch_init");
}

}  // namespace
}  // namespace kvmscope::traces

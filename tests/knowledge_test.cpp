// The kernel facts themselves: every fact carries evidence naming a known
// source tree, docs/kernel-facts.md is what `kvmscope facts` prints, and each
// renamed or moved function is pinned on both sides of its boundary with a
// made-up kernel that has no symbols, so the version alone decides.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "knowledge/facts_table.h"
#include "traces/chains.h"
#include "traces/report.h"
#include "traces/trace.h"

namespace kvmscope {
namespace {

using knowledge::Evidence;

TEST(Facts, EveryFactCarriesEvidence) {
  std::vector<std::string> missing;
  knowledge::ForEachEvidence([&](const std::string& fact, const Evidence& e) {
    if (e.where.empty()) missing.push_back(fact);
  });
  std::string list;
  for (const std::string& m : missing) list += "\n  " + m;
  EXPECT_TRUE(missing.empty()) << missing.size() << " facts say nowhere where they were checked:"
                               << list;
  EXPECT_EQ(knowledge::CountFacts().missing, missing.size());
}

TEST(Facts, EvidenceNamesTheTreeItWasReadIn) {
  std::vector<std::string> bad;
  knowledge::ForEachEvidence([&](const std::string& fact, const Evidence& e) {
    if (e.where.empty()) return;
    for (const std::string& tree : knowledge::UnknownTrees(e))
      bad.push_back(fact + ": '" + tree + "' in \"" + std::string(e.where) + "\"");
  });
  std::string list;
  for (const std::string& b : bad) list += "\n  " + b;
  EXPECT_TRUE(bad.empty()) << "evidence parts must start with a release of SourceTrees() or "
                              "'running kernel':"
                           << list;
}

TEST(Facts, UnknownTreesReadsEachPart) {
  Evidence e{"4.0.4 arch/x86/kvm/x86.c:6385 __vcpu_run; 9.9.9 x.c:1 y; running kernel /proc/kallsyms: z", false};
  EXPECT_EQ(knowledge::UnknownTrees(e), std::vector<std::string>{"9.9.9"});
  EXPECT_TRUE(knowledge::UnknownTrees({"", false}).empty());
}

TEST(Facts, SourceTreesAreReleasesWithACommit) {
  std::set<std::string_view> seen;
  const std::regex release(R"(\d\.\d+(\.\d+|-rc\d+)|pvm)");
  const std::regex commit(R"([0-9a-f]{12})");
  for (const knowledge::SourceTree& t : knowledge::SourceTrees()) {
    EXPECT_TRUE(seen.insert(t.release).second) << "listed twice: " << t.release;
    EXPECT_TRUE(std::regex_match(std::string(t.release), release)) << t.release;
    EXPECT_FALSE(t.repo.empty()) << t.release;
    // A Debian source package has no commit; every repository has one.
    if (!t.repo.starts_with("Debian")) {
      EXPECT_TRUE(std::regex_match(std::string(t.commit), commit)) << t.release << " " << t.commit;
    }
  }
}

TEST(Facts, DocsTableIsWhatKvmscopeFactsPrints) {
  std::ifstream in(KVMSCOPE_SOURCE_DIR "/docs/kernel-facts.md");
  ASSERT_TRUE(in) << "docs/kernel-facts.md is missing";
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_TRUE(doc.str() == knowledge::FactsMarkdown())
      << "docs/kernel-facts.md is out of date: run build/app/kvmscope facts > docs/kernel-facts.md";
}

TEST(Facts, UnverifiedOnlyListsUnverifiedFacts) {
  knowledge::FactsOptions o;
  o.unverified_only = true;
  const std::string md = knowledge::FactsMarkdown(o);
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("| ") && !line.starts_with("| step |") && !line.starts_with("| link |") &&
        !line.starts_with("| claim |") && !line.starts_with("| file |") &&
        !line.starts_with("| backend |")) {
      EXPECT_TRUE(line.find("**unverified:**") != std::string::npos ||
                  line.find("**no evidence**") != std::string::npos)
          << line;
    }
  }
  EXPECT_EQ(md.find("## The source trees"), std::string::npos);
}

// --- Boundaries ------------------------------------------------------------------

// A kernel of `release` of which nothing but the version and the backend is
// known: no symbols, no stacks.
traces::KernelFacts VersionOnly(const std::string& release, traces::Vendor vendor) {
  return traces::KernelFacts(traces::SymbolTable{}, {}, release, {}, 0, vendor);
}

struct Boundary {
  traces::ChainId chain;
  const char* node;
  traces::Vendor vendor;
  const char* last_old;   // the last release with the old function (or file)
  const char* old_name;   // "" when the step did not exist before
  const char* first_new;  // the first release with the new one
  const char* new_name;   // "" when the step is gone after
};

// "vendor_exit_5_18_0_SVM": the step, the first new release and the vendor.
std::string TestName(const char* node, const char* release, traces::Vendor vendor) {
  std::string name = std::string(node) + "_" + release + "_" + std::string(traces::VendorName(vendor));
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}
std::string PrintBoundary(const ::testing::TestParamInfo<Boundary>& info) {
  return TestName(info.param.node, info.param.first_new, info.param.vendor);
}

class FunctionBoundary : public ::testing::TestWithParam<Boundary> {};

// The function a step is taken to be on a kernel of this release, and whether
// it applies there at all.
std::string ChosenOn(const Boundary& b, const char* release) {
  const traces::ChainMatch m = traces::MatchChain(b.chain, VersionOnly(release, b.vendor));
  const traces::NodeMatch* n = m.Node(b.node);
  if (n == nullptr) return "(no step " + std::string(b.node) + ")";
  if (n->status == traces::NodeStatus::NotApplicable) return "";
  return std::string(n->chosen->function);
}

TEST_P(FunctionBoundary, TheVersionAloneDecides) {
  const Boundary& b = GetParam();
  EXPECT_EQ(ChosenOn(b, b.last_old), b.old_name) << "on " << b.last_old;
  EXPECT_EQ(ChosenOn(b, b.first_new), b.new_name) << "on " << b.first_new;
}

using traces::ChainId;
using traces::Vendor;
// clang-format off
INSTANTIATE_TEST_SUITE_P(Renames, FunctionBoundary, ::testing::Values(
    // 4.0.4 x86.c:6385 __vcpu_run; 4.1.15 x86.c:6469 vcpu_run.
    Boundary{ChainId::RunLoop, "vcpu_run", Vendor::Vmx, "4.0.4", "__vcpu_run", "4.1.0", "vcpu_run"},
    // 5.2.1 vmx/vmx.c:4449 handle_exception; 5.3.1 vmx/vmx.c:4478 handle_exception_nmi.
    Boundary{ChainId::Exceptions, "exception_exit", Vendor::Vmx, "5.2.21", "handle_exception", "5.3.0", "handle_exception_nmi"},
    // 5.17-rc5 svm/svm.c handle_exit; 5.18.12 svm/svm.c:3207 svm_handle_exit.
    Boundary{ChainId::RunLoop, "vendor_exit", Vendor::Svm, "5.17.15", "handle_exit", "5.18.0", "svm_handle_exit"},
    // 5.10.89: no svm_invoke_exit_handler; 5.11.0 svm/svm.c:3224.
    Boundary{ChainId::RunLoop, "exit_table", Vendor::Svm, "5.10.89", "", "5.11.0", "svm_invoke_exit_handler"},
    // 5.11.0: no __vmx_handle_exit; 5.12.9 vmx/vmx.c:5963.
    Boundary{ChainId::RunLoop, "exit_table", Vendor::Vmx, "5.11.22", "", "5.12.0", "__vmx_handle_exit"},
    // 6.0.1 x86.c:9675 inject_pending_event; 6.1-rc7 x86.c:9873 kvm_check_and_inject_events.
    Boundary{ChainId::Exceptions, "check_events", Vendor::Vmx, "6.0.19", "inject_pending_event", "6.1.0", "kvm_check_and_inject_events"},
    // 6.0.1 vmx_queue_exception / svm_queue_exception; 6.1-rc7 *_inject_exception.
    Boundary{ChainId::Exceptions, "vendor_inject", Vendor::Vmx, "6.0.19", "vmx_queue_exception", "6.1.0", "vmx_inject_exception"},
    Boundary{ChainId::Exceptions, "vendor_inject", Vendor::Svm, "6.0.19", "svm_queue_exception", "6.1.0", "svm_inject_exception"},
    // 4.16.13: no handle_ud; 4.17.0 x86.c:4853.
    Boundary{ChainId::Exceptions, "handle_ud", Vendor::Vmx, "4.16.18", "", "4.17.0", "handle_ud"},
    // 4.12.4: no kvm_handle_page_fault; 4.13.4 mmu.c:3784.
    Boundary{ChainId::PageFaults, "handle_pf", Vendor::Vmx, "4.12.14", "", "4.13.0", "kvm_handle_page_fault"},
    // 5.5-rc5 mmu/mmu.c:4262 static tdp_page_fault; 5.6.4 mmu/mmu.c:4222 kvm_tdp_page_fault.
    Boundary{ChainId::PageFaults, "handler", Vendor::Vmx, "5.5.19", "tdp_page_fault", "5.6.0", "kvm_tdp_page_fault"},
    // 5.5-rc5: no kvm_mmu_do_page_fault; 5.6.4 mmu.h:108.
    Boundary{ChainId::PageFaults, "do_pf", Vendor::Vmx, "5.5.19", "", "5.6.0", "kvm_mmu_do_page_fault"},
    // 5.9.1: no kvm_tdp_mmu_map; 5.10.7 mmu/tdp_mmu.c:552.
    Boundary{ChainId::PageFaults, "tdp_map", Vendor::Vmx, "5.9.16", "", "5.10.0", "kvm_tdp_mmu_map"},
    // 6.14.0: no vt_init, vmx_init is module_init; 6.16.1 vmx/main.c:1057 vt_init.
    Boundary{ChainId::Init, "vendor_init", Vendor::Vmx, "6.15.11", "vmx_init", "6.16.0", "vt_init"},
    // 6.2.1 kvm_arch_init; 6.3.8 kvm_x86_vendor_init (with symbols, the symbol decides).
    Boundary{ChainId::Init, "vendor_setup", Vendor::Vmx, "6.2.16", "kvm_arch_init", "6.3.0", "kvm_x86_vendor_init"},
    // 6.2.12: no kvm_tdp_mmu_page_fault; 6.3.8 mmu/mmu.c:4414 (with the TDP MMU on).
    Boundary{ChainId::PageFaults, "direct_pf", Vendor::Vmx, "6.2.16", "direct_page_fault", "6.3.0", "kvm_tdp_mmu_page_fault"},
    // 5.12.9: no kvm_inject_exception (mainline); 5.14.2 x86.c:8812.
    Boundary{ChainId::Exceptions, "inject", Vendor::Vmx, "5.13.19", "", "5.14.0", "kvm_inject_exception"},
    // 4.14.177 svm.c:4371 [SVM_EXIT_NPF] = pf_interception; 4.16.13 svm.c:2495 npf_interception.
    Boundary{ChainId::PageFaults, "fault_exit", Vendor::Svm, "4.15.18", "pf_interception", "4.16.0", "npf_interception"}),
    PrintBoundary);
// clang-format on

struct FileBoundary {
  traces::ChainId chain;
  const char* node;
  traces::Vendor vendor;
  const char* last_old;
  const char* old_file;
  const char* first_new;
  const char* new_file;
};

class SourceFileBoundary : public ::testing::TestWithParam<FileBoundary> {};

std::string FileOn(const FileBoundary& b, const char* release) {
  const traces::ChainMatch m = traces::MatchChain(b.chain, VersionOnly(release, b.vendor));
  const traces::NodeMatch* n = m.Node(b.node);
  return n == nullptr ? "(no step)" : std::string(n->source_file);
}

TEST_P(SourceFileBoundary, TheVersionAloneDecides) {
  const FileBoundary& b = GetParam();
  EXPECT_EQ(FileOn(b, b.last_old), b.old_file) << "on " << b.last_old;
  EXPECT_EQ(FileOn(b, b.first_new), b.new_file) << "on " << b.first_new;
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Moves, SourceFileBoundary, ::testing::Values(
    // 4.20.0 arch/x86/kvm/vmx.c:10545; 5.0.1 arch/x86/kvm/vmx/vmx.c:5760.
    FileBoundary{ChainId::RunLoop, "vendor_exit", Vendor::Vmx, "4.20.17", "arch/x86/kvm/vmx.c", "5.0.0", "arch/x86/kvm/vmx/vmx.c"},
    // 5.6.4 arch/x86/kvm/svm.c:4980; 5.7.14 arch/x86/kvm/svm/svm.c:2901.
    FileBoundary{ChainId::RunLoop, "vendor_run", Vendor::Svm, "5.6.19", "arch/x86/kvm/svm.c", "5.7.0", "arch/x86/kvm/svm/svm.c"},
    // 5.4.286 arch/x86/kvm/mmu.c:5526; 5.5-rc5 arch/x86/kvm/mmu/mmu.c:5519.
    FileBoundary{ChainId::PageFaults, "mmu_pf", Vendor::Vmx, "5.4.286", "arch/x86/kvm/mmu.c", "5.5.0", "arch/x86/kvm/mmu/mmu.c"},
    // 5.4.286 arch/x86/kvm/paging_tmpl.h:770; 5.5-rc5 arch/x86/kvm/mmu/paging_tmpl.h:768.
    FileBoundary{ChainId::PageFaults, "walk", Vendor::Vmx, "5.4.286", "arch/x86/kvm/paging_tmpl.h", "5.5.0", "arch/x86/kvm/mmu/paging_tmpl.h"},
    // 5.18.12 arch/x86/kvm/mmu.h:205; 5.19.0 arch/x86/kvm/mmu/mmu_internal.h:232.
    FileBoundary{ChainId::PageFaults, "do_pf", Vendor::Vmx, "5.18.19", "arch/x86/kvm/mmu.h", "5.19.0", "arch/x86/kvm/mmu/mmu_internal.h"}),
    [](const ::testing::TestParamInfo<FileBoundary>& info) {
      return TestName(info.param.node, info.param.first_new, info.param.vendor);
    });
// clang-format on

// On a kernel whose symbols are known, the symbols decide before the version:
// stable kernels backport (5.10.89, 5.4.286 and 4.19.304 have 5.14's
// kvm_inject_exception; Debian's 6.1 has 6.3's kvm_x86_vendor_init).
TEST(Backports, TheSymbolsDecideBeforeTheVersion) {
  auto facts = [](const char* release, std::vector<const char*> names) {
    traces::SymbolTable symbols;
    uint64_t addr = 0x1000;
    for (const char* n : names) symbols.Add(addr += 0x100, n, "kvm");
    symbols.Finish();
    return traces::KernelFacts(symbols, {}, release, {}, 0, Vendor::Vmx);
  };
  const traces::ChainMatch backported =
      traces::MatchChain(ChainId::Exceptions, facts("5.10.89", {"kvm_inject_exception", "vmx_vcpu_run"}));
  EXPECT_EQ(backported.Node("inject")->status, traces::NodeStatus::PresentNotObserved);
  EXPECT_EQ(backported.Edge("check_events", "vendor_inject")->status, traces::EdgeStatus::NotApplicable);
  const traces::ChainMatch mainline =
      traces::MatchChain(ChainId::Exceptions, facts("5.10.7", {"inject_pending_event", "vmx_vcpu_run"}));
  EXPECT_EQ(mainline.Node("inject")->status, traces::NodeStatus::NotApplicable);
  EXPECT_NE(mainline.Edge("check_events", "vendor_inject")->status, traces::EdgeStatus::NotApplicable);
  const traces::ChainMatch debian =
      traces::MatchChain(ChainId::Init, facts("6.1.0-57-amd64", {"kvm_x86_vendor_init", "kvm_arch_init"}));
  EXPECT_EQ(debian.Node("vendor_setup")->chosen->function, "kvm_x86_vendor_init");
}

// EPT/NPT or shadow paging is configuration, not version: a trace's recorded
// kvm_intel.ept / kvm_amd.npt decides it even when no fault was captured.
TEST(Configuration, TheModuleParameterDecidesThePagingMode) {
  for (const char* ept : {"Y", "N"}) {
    traces::TraceData t;
    t.host.kernel_release = "6.1.0-57-amd64";
    t.host.backend = "VMX (kvm_intel)";
    t.host.module_params["kvm_intel.ept"] = ept;
    const traces::KernelFacts facts = traces::FactsOf(t);
    const bool tdp = std::string(ept) == "Y";
    EXPECT_EQ(facts.paging(), tdp ? traces::Paging::Tdp : traces::Paging::Shadow) << ept;
    EXPECT_NE(facts.Describe().find(std::string("by kvm_intel.ept=") + ept), std::string::npos)
        << facts.Describe();
    const traces::ChainMatch m = traces::MatchChain(ChainId::PageFaults, facts);
    EXPECT_EQ(m.Node("fault_exit")->chosen->function, tdp ? "handle_ept_violation" : "handle_exception_nmi");
    EXPECT_EQ(m.Node("walk")->status == traces::NodeStatus::NotApplicable, tdp);
  }
  // Not recorded (older traces): the stacks decide, and say so.
  traces::TraceData none;
  none.host.backend = "SVM (kvm_amd)";
  EXPECT_EQ(traces::FactsOf(none).paging(), traces::Paging::Any);
}

// The TDP MMU is a kvm.ko parameter (default on from 5.15): with it off, its
// steps are n/a and the legacy direct_page_fault is the 6.3+ step.
TEST(Configuration, TheTdpMmuParameterDecidesItsSteps) {
  for (const char* on : {"Y", "N", ""}) {
    traces::TraceData t;
    t.host.kernel_release = "6.6.0";
    t.host.backend = "VMX (kvm_intel)";
    t.host.module_params["kvm_intel.ept"] = "Y";
    if (*on) t.host.module_params["kvm.tdp_mmu"] = on;
    const traces::ChainMatch m = traces::MatchChain(ChainId::PageFaults, traces::FactsOf(t));
    const bool off = std::string(on) == "N";
    EXPECT_EQ(m.Node("direct_pf")->chosen->function, off ? "direct_page_fault" : "kvm_tdp_mmu_page_fault")
        << on;
    EXPECT_EQ(m.Node("tdp_map")->status == traces::NodeStatus::NotApplicable, off) << on;
    if (off) {
      EXPECT_EQ(m.Node("tdp_map")->note, "only with kvm.tdp_mmu=Y (this host: N)");
    }
    EXPECT_EQ(m.Edge("direct_pf", "tdp_map")->status == traces::EdgeStatus::NotApplicable, off) << on;
  }
}

TEST(Configuration, OlderTracesLeaveThePagingModeToTheStacks) {
  traces::TraceData old;
  old.host.backend = "VMX (kvm_intel)";
  EXPECT_NE(traces::FactsOf(old).Describe().find("paging mode not seen"), std::string::npos);
}

}  // namespace
}  // namespace kvmscope

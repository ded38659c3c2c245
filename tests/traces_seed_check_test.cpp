// The seed document's claims checked on made-up kernels with known answers
// (chain_test_kernels.h): verdicts and evidence on SVM 5.15, PVM, VMX 6.8 and
// 3.10, and the claims as a whole (well formed, per chain, as text).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/chain_test_kernels.h"
#include "traces/chains.h"
#include "traces/seed_check.h"

namespace kvmscope::traces {
namespace {

TEST(SeedCheckSvm, Verdicts) {
  FakeKernel k = SvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "5.15.0");
  EXPECT_EQ(VerdictOf(facts, "kvm_arch_vcpu_run-is-the-entry"), Verdict::Contradicted);
  // Both symbols exist and 5.15 ≤ 6.2, but the call happens at module load.
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_arch_init"), Verdict::Unverified);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_init-calls-kvm_arch_init"), "module load"));
  EXPECT_EQ(VerdictOf(facts, "vmx_init-calls-kvm_init"), Verdict::NotOnThisKernel);
  EXPECT_EQ(VerdictOf(facts, "kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run"), Verdict::Confirmed);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
            Verdict::NotOnThisKernel);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
                       "npf_interception → kvm_mmu_page_fault is seen in 1 stack"));
}

TEST(SeedCheckPvm, Verdicts) {
  FakeKernel k = PvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.12.0-pvm", {{"KVM_CREATE_VCPU", 2}});
  EXPECT_EQ(VerdictOf(facts, "vmx_init-calls-kvm_init"), Verdict::NotOnThisKernel);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "vmx_init-calls-kvm_init"), "backend is PVM"));
  EXPECT_EQ(VerdictOf(facts, "kvm_init-in-vmx.c"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_arch_init"), Verdict::OlderKernelsOnly);
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_vcpu_compat_ioctl"), Verdict::Contradicted);
  const std::string fops = EvidenceOf(facts, "kvm_init-calls-kvm_vcpu_compat_ioctl");
  EXPECT_TRUE(Contains(fops, "kvm_vcpu_ioctl is called from __x64_sys_ioctl (1,260 events)"))
      << fops;
  EXPECT_TRUE(Contains(fops, "KVM_CREATE_VCPU made 2× live")) << fops;
  EXPECT_EQ(VerdictOf(facts, "kvm_vcpu_compat_ioctl-calls-kvm_vcpu_ioctl"), Verdict::Unverified);
  EXPECT_EQ(VerdictOf(facts, "kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run"), Verdict::Confirmed);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run"),
                       "seen directly in 4 stacks (660 events)"));
  EXPECT_EQ(VerdictOf(facts, "__vcpu_run-is-the-loop"), Verdict::OlderKernelsOnly);
  EXPECT_EQ(VerdictOf(facts, "__vcpu_run-called-from-kvm_vcpu_ioctl"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-is-global"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-checks-is_page_fault"), Verdict::NotOnThisKernel);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
            Verdict::NotOnThisKernel);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
                       "pvm_handle_native_exit → kvm_mmu_page_fault is seen in 2 stacks"));
  EXPECT_EQ(VerdictOf(facts, "kvm_mmu_page_fault-calls-page_fault"), Verdict::Contradicted);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_mmu_page_fault-calls-page_fault"),
                       "kvm_mmu_page_fault calls kvm_mmu_do_page_fault (159 events)"));
  EXPECT_EQ(VerdictOf(facts, "kvm_arch_vcpu_run-is-the-entry"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "kvm_arch_vcpu_run-calls-kvm_vcpu_run"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "kvm_vcpu_exit-is-the-exit"), Verdict::Contradicted);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_vcpu_exit-is-the-exit"),
                       "no such symbol among this kernel's"));
}

TEST(SeedCheckVmx, Verdicts) {
  FakeKernel k = VmxKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.8.0");
  EXPECT_EQ(VerdictOf(facts, "kvm_arch_vcpu_run-is-the-entry"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_arch_init"), Verdict::OlderKernelsOnly);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_init-calls-kvm_arch_init"), "this kernel is 6.8"));
  EXPECT_EQ(VerdictOf(facts, "kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run"), Verdict::Confirmed);
  // vmx_init was dropped with kvm_intel's init code: nothing to see either way.
  EXPECT_EQ(VerdictOf(facts, "vmx_init-calls-kvm_init"), Verdict::Unverified);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "vmx_init-calls-kvm_init"), "__init"));
  EXPECT_EQ(VerdictOf(facts, "__vcpu_run-is-the-loop"), Verdict::OlderKernelsOnly);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
            Verdict::OlderKernelsOnly);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
                       "handle_ept_violation → kvm_mmu_page_fault is seen in 1 stack"));
  EXPECT_EQ(VerdictOf(facts, "handle_exception-checks-is_page_fault"), Verdict::OlderKernelsOnly);
}

TEST(SeedCheckOld, Verdicts) {
  FakeKernel k = OldKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "3.10.0-1160.el7.x86_64");
  EXPECT_EQ(VerdictOf(facts, "__vcpu_run-is-the-loop"), Verdict::Confirmed);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-calls-kvm_mmu_page_fault"), Verdict::Confirmed);
  EXPECT_TRUE(
      Contains(EvidenceOf(facts, "handle_exception-calls-kvm_mmu_page_fault"),
               "handle_exception → kvm_mmu_page_fault seen directly in 1 stack (30 events)"));
  EXPECT_EQ(VerdictOf(facts, "__vcpu_run-called-from-kvm_vcpu_ioctl"), Verdict::Contradicted);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "__vcpu_run-called-from-kvm_vcpu_ioctl"),
                       "only through kvm_arch_vcpu_ioctl_run"));
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_arch_init"), Verdict::Unverified);
  EXPECT_EQ(VerdictOf(facts, "vmx_init-calls-kvm_init"), Verdict::Unverified);
  EXPECT_EQ(VerdictOf(facts, "handle_exception-checks-is_page_fault"), Verdict::Unverified);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "handle_exception-checks-is_page_fault"), "inline"));
  EXPECT_EQ(VerdictOf(facts, "handle_exception-is-global"), Verdict::Contradicted);
  EXPECT_EQ(VerdictOf(facts, "kvm_arch_vcpu_run-is-the-entry"), Verdict::Contradicted);
  // The host's page_fault entry exists here, and KVM still never calls it.
  EXPECT_EQ(VerdictOf(facts, "kvm_mmu_page_fault-calls-page_fault"), Verdict::Contradicted);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_mmu_page_fault-calls-page_fault"),
                       "page_fault: present, in no captured stack"));
}

// Stable 6.1.192 and 6.2.12 have kvm_x86_vendor_init and keep kvm_arch_init as
// an empty stub that kvm_init still calls: the call exists, the checks and
// MMU setup the claim names do not run there.
TEST(SeedCheckStable, KvmArchInitStubIsNotTheClaim) {
  FakeKernel k({"kvm_init", "kvm_arch_init", "kvm_x86_vendor_init", "kvm_vcpu_ioctl"});
  KernelFacts facts(k.symbols(), k.stacks(), "6.1.0-57-amd64");
  EXPECT_EQ(VerdictOf(facts, "kvm_init-calls-kvm_arch_init"), Verdict::NotOnThisKernel);
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_init-calls-kvm_arch_init"),
                       "kvm_x86_vendor_init: present"));
  EXPECT_TRUE(Contains(EvidenceOf(facts, "kvm_init-calls-kvm_arch_init"), "empty stub"));
}

// The renames at their releases, with no symbols (untraced): 4.0 still has
// __vcpu_run, 4.1 vcpu_run; 4.12 calls kvm_mmu_page_fault directly, 4.13
// through kvm_handle_page_fault; 5.2 still has handle_exception.
TEST(SeedCheckClaims, RangesEndWhereTheSourcesSay) {
  auto older = [](const char* release, std::string_view id) {
    KernelFacts facts(SymbolTable{}, {}, release);
    return VerdictOf(facts, id) == Verdict::OlderKernelsOnly;
  };
  EXPECT_FALSE(older("4.0.4", "__vcpu_run-is-the-loop"));
  EXPECT_TRUE(older("4.1.15", "__vcpu_run-is-the-loop"));
  EXPECT_FALSE(older("4.12.4", "handle_exception-calls-kvm_mmu_page_fault"));
  EXPECT_TRUE(older("4.13.4", "handle_exception-calls-kvm_mmu_page_fault"));
  EXPECT_FALSE(older("5.2.1", "handle_exception-checks-is_page_fault"));
  EXPECT_TRUE(older("5.3.1", "handle_exception-checks-is_page_fault"));
  EXPECT_FALSE(older("6.2.12", "kvm_init-calls-kvm_arch_init"));
  EXPECT_TRUE(older("6.3.8", "kvm_init-calls-kvm_arch_init"));
  for (const SeedClaim& c : SeedClaims()) {
    EXPECT_FALSE(Contains(std::string(c.history), "vcpu_run from 4.0")) << c.id;
    EXPECT_FALSE(Contains(std::string(c.history), "vcpu_run in 4.0")) << c.id;
    EXPECT_FALSE(Contains(std::string(c.history), "handle_exception_nmi from 5.2")) << c.id;
  }
}

TEST(SeedCheckClaims, EveryClaimIsWellFormed) {
  ASSERT_GE(SeedClaims().size(), 12u);
  std::vector<std::string_view> ids;
  for (const SeedClaim& c : SeedClaims()) {
    ids.push_back(c.id);
    EXPECT_FALSE(c.claim.empty()) << c.id;
    EXPECT_FALSE(c.history.empty()) << c.id;
    EXPECT_FALSE(c.evidence.where.empty()) << c.id << ": no evidence";
    EXPECT_FALSE(c.function.empty()) << c.id;
    EXPECT_FALSE(c.chains.empty()) << c.id;
    if (c.kind != ClaimKind::Exists) {
      EXPECT_FALSE(c.other.empty()) << c.id;
    }
    EXPECT_EQ(FindSeedClaim(c.id), &c);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_EQ(FindSeedClaim("no-such-claim"), nullptr);
}

TEST(SeedCheckClaims, PerChainSelectionAndFormatting) {
  for (ChainId id : kAllChains) EXPECT_FALSE(SeedClaimsAbout(id).empty());
  const auto init = SeedClaimsAbout(ChainId::Init);
  EXPECT_TRUE(std::any_of(init.begin(), init.end(), [](const SeedClaim* c) {
    return c->id == "kvm_init-calls-kvm_arch_init";
  }));
  FakeKernel k = PvmKernel();
  KernelFacts facts(k.symbols(), k.stacks(), "6.12.0-pvm");
  const std::vector<ClaimResult> pf = CheckSeed(facts, ChainId::PageFaults);
  EXPECT_EQ(pf.size(), SeedClaimsAbout(ChainId::PageFaults).size());
  EXPECT_EQ(CheckSeed(facts).size(), SeedClaims().size());
  const std::vector<std::string> text = FormatSeedCheck(CheckSeed(facts));
  EXPECT_EQ(text.size(), 3 * SeedClaims().size());
  EXPECT_TRUE(AnyLineContains(text, "[contradicted] kvm_init is defined in arch/x86/kvm/vmx.c."));
  EXPECT_TRUE(AnyLineContains(text, "[older kernels only]"));
  EXPECT_TRUE(AnyLineContains(text, "[confirmed]"));
  EXPECT_TRUE(AnyLineContains(text, "    history: "));
  EXPECT_EQ(VerdictName(Verdict::NotOnThisKernel), "not on this kernel");
}

}  // namespace
}  // namespace kvmscope::traces

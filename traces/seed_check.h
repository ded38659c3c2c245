// The check of the seed document's claims (knowledge/seed_claims.h) against
// one kernel: its symbols, its captured stacks and its version.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "knowledge/seed_claims.h"
#include "traces/chains.h"

namespace kvmscope::traces {

using knowledge::ClaimKind;
using knowledge::FindSeedClaim;
using knowledge::SeedClaim;
using knowledge::SeedClaimFunctions;
using knowledge::SeedClaims;
using knowledge::SeedClaimsAbout;

// Confirmed: this kernel shows it (symbol present and, for a call, seen
// directly in a stack). NotOnThisKernel: true on some kernels, but here a
// symbol is missing or the claim is about another backend. Contradicted:
// wrong in every version, or the stacks show the call going another way.
// OlderKernelsOnly: true up to a version older than this one. Unverified:
// the symbols exist but what was captured cannot show it (a call at module
// load, an inline helper, a path no captured stack took).
enum class Verdict { Confirmed, NotOnThisKernel, Contradicted, OlderKernelsOnly, Unverified };
std::string_view VerdictName(Verdict v);  // "confirmed", "not on this kernel", ...

struct ClaimResult {
  const SeedClaim* claim = nullptr;
  Verdict verdict = Verdict::Unverified;
  // What this kernel showed: "kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run seen
  // directly in 12 stacks (3,400 events)"; parts separated by "; ".
  std::string evidence;
  std::string_view history;  // the claim's history line
};

ClaimResult CheckClaim(const SeedClaim& claim, const KernelFacts& facts);
std::vector<ClaimResult> CheckSeed(const KernelFacts& facts);
std::vector<ClaimResult> CheckSeed(const KernelFacts& facts, ChainId chain);

// The claim and its verdict in words for a student who never read the seed:
// "The seed says kvm_init is defined in arch/x86/kvm/vmx.c; this kernel shows
// otherwise: kvm_init: present, in no captured stack".
std::string ClaimSentence(const ClaimResult& result);

// For the terminal: per claim "[verdict] claim", then the evidence and the
// history, indented.
std::vector<std::string> FormatSeedCheck(const std::vector<ClaimResult>& results);

}  // namespace kvmscope::traces

// The seed document's claims about KVM functions and calls, in our own words
// with their history, and the check of each claim against one kernel: its
// symbols, its captured stacks and its version.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "traces/chains.h"

namespace kvmscope::traces {

// Exists: a function exists and does what the seed says. DefinedIn: it is
// defined in a given source file. Calls: the first function calls the second
// directly.
enum class ClaimKind { Exists, DefinedIn, Calls };

// Confirmed: this kernel shows it (symbol present and, for a call, seen
// directly in a stack). NotOnThisKernel: true on some kernels, but here a
// symbol is missing or the claim is about another backend. Contradicted:
// wrong in every version, or the stacks show the call going another way.
// OlderKernelsOnly: true up to a version older than this one. Unverified:
// the symbols exist but what was captured cannot show it (a call at module
// load, an inline helper, a path no captured stack took).
enum class Verdict { Confirmed, NotOnThisKernel, Contradicted, OlderKernelsOnly, Unverified };
std::string_view VerdictName(Verdict v);  // "confirmed", "not on this kernel", ...

struct SeedClaim {
  std::string_view id;     // "kvm_init-calls-kvm_arch_init"
  std::string_view claim;  // what the seed says, paraphrased
  ClaimKind kind = ClaimKind::Exists;
  std::string_view function;          // the function the claim is about (the caller for Calls)
  std::string_view other;             // Calls: the callee; DefinedIn: the file; Exists: ""
  Vendor vendor = Vendor::Any;        // the claim is about this backend only
  std::vector<VersionRange> true_in;  // where it holds per DESIGN.md; empty: never
  // Calls: whether the call can show up in a stack captured during KVM_RUN
  // (not for calls at module load).
  bool in_stacks = true;
  std::string_view history;  // what is true in which versions
  std::vector<ChainId> chains;
  // What to show from this kernel next to the claim: (caller, callee) for a
  // link, (function, "") for a function and what it calls, ("", function)
  // for who calls it. Reported where the kernel has them.
  std::vector<std::pair<std::string_view, std::string_view>> here;
  std::string_view ioctl;  // an ioctl whose live count is evidence, or ""
};

// Every claim, in the seed's order.
const std::vector<SeedClaim>& SeedClaims();
const SeedClaim* FindSeedClaim(std::string_view id);
// The claims about one chain, in the seed's order.
std::vector<const SeedClaim*> SeedClaimsAbout(ChainId chain);
// Every kernel function the claims name (for ChainSymbolNames).
std::vector<std::string_view> SeedClaimFunctions();

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

// The seed document's claims about KVM functions and calls, in our own words,
// with what is true in which versions and where that was checked. Checking
// them against one kernel is traces/seed_check.h.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "knowledge/chains.h"

namespace kvmscope::knowledge {

// Exists: a function exists and does what the seed says. DefinedIn: it is
// defined in a given source file. Calls: the first function calls the second
// directly.
enum class ClaimKind { Exists, DefinedIn, Calls };

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
  Evidence evidence;       // of `true_in` and of the history
  // Where a kernel has this symbol, what the claim says the callee does is
  // done there instead, even if the call remains (a stable kernel's empty
  // stub): the claim is then not true on it, for the reason given.
  std::string_view work_moved_to;
  std::string_view work_moved_why;
};

// Every claim, in the seed's order.
const std::vector<SeedClaim>& SeedClaims();
const SeedClaim* FindSeedClaim(std::string_view id);
// The claims about one chain, in the seed's order.
std::vector<const SeedClaim*> SeedClaimsAbout(ChainId chain);
// Every kernel function the claims name (for ChainSymbolNames).
std::vector<std::string_view> SeedClaimFunctions();

}  // namespace kvmscope::knowledge

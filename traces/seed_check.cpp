// The seed document's claims paraphrased with their history, and the verdict
// of one kernel (KernelFacts, kernel_facts.cpp) on each claim: what it shows,
// not what we expect.
#include "traces/seed_check.h"
#include "traces/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <set>

namespace kvmscope::traces {

namespace {

// Static inline helpers the seed names: never a symbol in any version.
bool AlwaysInline(std::string_view function) {
  return function == "is_page_fault";
}

// __init functions of a vendor module: the module drops their symbols once
// loaded, so their absence says nothing about the claim.
bool IsInitText(std::string_view function) {
  for (const Chain& chain : Chains())
    for (const ChainNode& node : chain.nodes)
      for (const Alternative& alt : node.alternatives)
        if (alt.function == function && alt.init_text) return true;
  return false;
}

std::string StacksText(size_t stacks, uint64_t events) {
  return fmt::format("{} stack{} ({} event{})", FormatCount(stacks), stacks == 1 ? "" : "s",
                     FormatCount(events), events == 1 ? "" : "s");
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

// What the kernel says about one function: missing, present, seen in stacks.
std::string FunctionText(std::string_view f, const KernelFacts& facts) {
  if (AlwaysInline(f)) return fmt::format("{}: a static inline helper, never a symbol", f);
  if (!facts.has_kernel_data()) return fmt::format("{}: unknown, the kernel was not traced", f);
  if (!facts.Has(f) && IsInitText(f))
    return fmt::format("{}: no symbol; __init code, which a module drops once loaded", f);
  if (!facts.Has(f))
    return fmt::format("{}: no such symbol among this kernel's {} symbols", f,
                       FormatCount(facts.symbol_count()));
  const FunctionUse use = facts.Through(f);
  if (use.stacks == 0) return fmt::format("{}: present, in no captured stack", f);
  return fmt::format("{}: present, in {}", f, StacksText(use.stacks, use.events));
}

// The claim's `here` entries that this kernel has.
void HereTexts(const SeedClaim& claim, const KernelFacts& facts, std::vector<std::string>& out) {
  for (auto [a, b] : claim.here) {
    if (a.empty()) {  // who calls b
      const auto callers = facts.Callers(b);
      if (callers.empty()) continue;
      out.push_back(fmt::format("here {} is called from {} ({} events)", b, callers.front().first,
                                FormatCount(callers.front().second)));
    } else if (b.empty()) {  // a, and what it calls
      if (!facts.Has(a)) continue;
      const auto callees = facts.Callees(a);
      if (callees.empty()) {
        out.push_back(fmt::format("here: {} exists", a));
      } else {
        out.push_back(fmt::format("here {} calls {} ({} events)", a, callees.front().first,
                                  FormatCount(callees.front().second)));
      }
    } else if (facts.Has(a) && facts.Has(b)) {
      const LinkUse link = facts.Link(a, b);
      if (link.stacks > 0)
        out.push_back(
            fmt::format("here {} → {} is seen in {}", a, b, StacksText(link.stacks, link.events)));
      else
        out.push_back(fmt::format("here: {} and {} exist", a, b));
    }
  }
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::Confirmed: return "confirmed";
    case Verdict::NotOnThisKernel: return "not on this kernel";
    case Verdict::Contradicted: return "contradicted";
    case Verdict::OlderKernelsOnly: return "older kernels only";
    case Verdict::Unverified: return "unverified";
  }
  return "";
}

ClaimResult CheckClaim(const SeedClaim& claim, const KernelFacts& facts) {
  ClaimResult r;
  r.claim = &claim;
  r.history = claim.history;
  std::vector<std::string> evidence;

  std::vector<std::string_view> functions{claim.function};
  if (claim.kind == ClaimKind::Calls) functions.push_back(claim.other);
  bool missing = false, missing_only_init = true;
  for (std::string_view f : functions) {
    evidence.push_back(FunctionText(f, facts));
    // Untraced, a missing symbol says nothing: the claim stays unverified.
    if (AlwaysInline(f) || facts.Has(f) || !facts.has_kernel_data()) continue;
    missing = true;
    missing_only_init = missing_only_init && IsInitText(f);
  }
  const bool calls = claim.kind == ClaimKind::Calls;
  LinkUse link;
  if (calls && !missing) {
    link = facts.Link(claim.function, claim.other);
    if (link.direct_stacks > 0)
      evidence.push_back(fmt::format("{} → {} seen directly in {}", claim.function, claim.other,
                                     StacksText(link.direct_stacks, link.direct_events)));
    else if (link.stacks > 0)
      evidence.push_back(fmt::format("{} reaches {} only through {} ({})", claim.function,
                                     claim.other, Join(link.via, " → "),
                                     StacksText(link.stacks, link.events)));
  }
  const std::optional<KernelVersion>& version = facts.version();
  const bool older_only =
      version && !claim.true_in.empty() &&
      std::all_of(claim.true_in.begin(), claim.true_in.end(),
                  [&](const VersionRange& range) { return range.max < *version; });
  const bool other_vendor = claim.vendor != Vendor::Any && facts.vendor() != Vendor::Any &&
                            claim.vendor != facts.vendor();

  if (!facts.has_kernel_data()) {
    // What the kernel shows, not what the sources say: nothing, untraced
    // (the history line still tells what the sources say).
    r.verdict = older_only ? Verdict::OlderKernelsOnly : Verdict::Unverified;
    if (older_only) evidence.push_back(fmt::format("this kernel is {}", FormatVersion(*version)));
  } else if (claim.true_in.empty()) {
    // Wrong in every version, unless this very kernel shows the call.
    r.verdict = calls && link.direct_stacks > 0 ? Verdict::Confirmed : Verdict::Contradicted;
  } else if (other_vendor) {
    r.verdict = Verdict::NotOnThisKernel;
    evidence.push_back(fmt::format("a claim about {} only; this kernel's backend is {}",
                                   VendorName(claim.vendor), VendorName(facts.vendor())));
  } else if (!claim.work_moved_to.empty() && !missing && facts.Has(claim.work_moved_to)) {
    // The call is there, but what the claim says it does is not.
    r.verdict = Verdict::NotOnThisKernel;
    evidence.push_back(fmt::format("{}: present: {}", claim.work_moved_to, claim.work_moved_why));
  } else if (missing) {
    r.verdict = older_only          ? Verdict::OlderKernelsOnly
                : missing_only_init ? Verdict::Unverified
                                    : Verdict::NotOnThisKernel;
    if (older_only) evidence.push_back(fmt::format("this kernel is {}", FormatVersion(*version)));
  } else if (claim.kind == ClaimKind::Exists) {
    r.verdict = Verdict::Confirmed;
  } else if (claim.kind == ClaimKind::DefinedIn) {
    r.verdict = Verdict::Unverified;
    evidence.push_back("a running kernel does not say which source file a function came from");
  } else if (link.direct_stacks > 0) {
    r.verdict = Verdict::Confirmed;
  } else if (older_only) {
    r.verdict = Verdict::OlderKernelsOnly;
    evidence.push_back(fmt::format("this kernel is {}", FormatVersion(*version)));
  } else if (link.stacks > 0) {
    r.verdict = Verdict::Contradicted;  // the stacks show it going another way
  } else {
    r.verdict = Verdict::Unverified;
    if (AlwaysInline(claim.other))
      evidence.push_back("an inline call leaves no trace in a stack");
    else if (!claim.in_stacks)
      evidence.push_back("the call happens at module load, before anything is captured");
    else
      evidence.push_back(
          fmt::format("no captured stack went from {} to {}", claim.function, claim.other));
  }
  HereTexts(claim, facts, evidence);
  if (!claim.ioctl.empty() && facts.IoctlCount(claim.ioctl) > 0)
    evidence.push_back(
        fmt::format("{} made {}× live", claim.ioctl, FormatCount(facts.IoctlCount(claim.ioctl))));
  r.evidence = Join(evidence, "; ");
  return r;
}

std::vector<ClaimResult> CheckSeed(const KernelFacts& facts) {
  std::vector<ClaimResult> results;
  for (const SeedClaim& c : SeedClaims()) results.push_back(CheckClaim(c, facts));
  return results;
}

std::vector<ClaimResult> CheckSeed(const KernelFacts& facts, ChainId chain) {
  std::vector<ClaimResult> results;
  for (const SeedClaim* c : SeedClaimsAbout(chain)) results.push_back(CheckClaim(*c, facts));
  return results;
}

std::string ClaimSentence(const ClaimResult& r) {
  // The claim as a clause: "The guest is entered ..." → "the guest is entered ...".
  std::string claim(r.claim->claim);
  while (!claim.empty() && (claim.back() == '.' || claim.back() == ' ')) claim.pop_back();
  if (claim.size() > 1 && std::isupper(static_cast<unsigned char>(claim[0])) &&
      std::islower(static_cast<unsigned char>(claim[1])))
    claim[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(claim[0])));
  std::string_view shows;
  switch (r.verdict) {
    case Verdict::Confirmed: shows = "the same"; break;
    case Verdict::NotOnThisKernel: shows = "something else"; break;
    case Verdict::Contradicted: shows = "otherwise"; break;
    case Verdict::OlderKernelsOnly: shows = "it held only in older kernels"; break;
    case Verdict::Unverified: shows = "nothing either way"; break;
  }
  return fmt::format("The seed says {}; this kernel shows {}: {}", claim, shows, r.evidence);
}

std::vector<std::string> FormatSeedCheck(const std::vector<ClaimResult>& results) {
  std::vector<std::string> lines;
  for (const ClaimResult& r : results) {
    lines.push_back(fmt::format("[{}] {}", VerdictName(r.verdict), r.claim->claim));
    lines.push_back(fmt::format("    seen: {}", r.evidence));
    lines.push_back(fmt::format("    history: {}", r.history));
  }
  return lines;
}

}  // namespace kvmscope::traces

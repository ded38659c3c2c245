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

constexpr VersionRange Until(int major, int minor) {
  return {kOldestKernel, {major, minor}};
}
constexpr VersionRange Always{};

std::vector<SeedClaim> MakeClaims() {
  using C = ClaimKind;
  return {
      {"vmx_init-calls-kvm_init",
       "vmx_init, the module_init of arch/x86/kvm/vmx.c, calls kvm_init.",
       C::Calls,
       "vmx_init",
       "kvm_init",
       Vendor::Vmx,
       {Until(6, 15)},
       false,
       "True while vmx_init is kvm_intel's module_init (vmx.c up to 4.20, vmx/vmx.c from 5.0); "
       "from about 6.16 vt_init in vmx/main.c is the module_init and calls kvm_init itself.",
       {ChainId::Init},
       {{"vt_init", "kvm_init"}, {"svm_init", "kvm_init"}, {"pvm_init", "kvm_init"}},
       ""},
      {"kvm_init-in-vmx.c",
       "kvm_init is defined in arch/x86/kvm/vmx.c.",
       C::DefinedIn,
       "kvm_init",
       "arch/x86/kvm/vmx.c",
       Vendor::Any,
       {},
       false,
       "Never: kvm_init is generic KVM code in virt/kvm/kvm_main.c, shared by every "
       "architecture; vmx.c only calls it.",
       {ChainId::Init},
       {},
       ""},
      {"kvm_init-calls-kvm_arch_init",
       "kvm_init calls kvm_arch_init (arch/x86/kvm/x86.c), which checks that hardware "
       "virtualization is enabled and sets up the MMU.",
       C::Calls,
       "kvm_init",
       "kvm_arch_init",
       Vendor::Any,
       {Until(6, 2)},
       false,
       "True up to 6.2. In 6.3 kvm_arch_init went away: the vendor init (vmx_init, svm_init) "
       "calls kvm_x86_vendor_init itself before kvm_init.",
       {ChainId::Init},
       {{"kvm_x86_vendor_init", ""}},
       ""},
      {"kvm_init-calls-kvm_vcpu_compat_ioctl",
       "kvm_init next calls kvm_vcpu_compat_ioctl, reached through the .compat_ioctl member of "
       "the static kvm_vcpu_fops.",
       C::Calls,
       "kvm_init",
       "kvm_vcpu_compat_ioctl",
       Vendor::Any,
       {},
       false,
       "Never: kvm_init only registers /dev/kvm. kvm_vcpu_fops belongs to each vCPU fd that "
       "KVM_CREATE_VCPU makes; its .unlocked_ioctl (kvm_vcpu_ioctl) or, for a 32-bit VMM, "
       ".compat_ioctl (kvm_vcpu_compat_ioctl) runs when the VMM calls ioctl on that fd.",
       {ChainId::Init},
       {{"", "kvm_vcpu_ioctl"}},
       "KVM_CREATE_VCPU"},
      {"kvm_vcpu_compat_ioctl-calls-kvm_vcpu_ioctl",
       "kvm_vcpu_compat_ioctl (virt/kvm/kvm_main.c) calls kvm_vcpu_ioctl.",
       C::Calls,
       "kvm_vcpu_compat_ioctl",
       "kvm_vcpu_ioctl",
       Vendor::Any,
       {Always},
       true,
       "True in every version, but only for a 32-bit VMM on a 64-bit kernel; a 64-bit VMM's "
       "ioctl enters kvm_vcpu_ioctl directly.",
       {ChainId::Init},
       {{"", "kvm_vcpu_ioctl"}},
       ""},
      {"kvm_vcpu_ioctl-calls-kvm_arch_vcpu_ioctl_run",
       "kvm_vcpu_ioctl calls kvm_arch_vcpu_ioctl_run (arch/x86/kvm/x86.c).",
       C::Calls,
       "kvm_vcpu_ioctl",
       "kvm_arch_vcpu_ioctl_run",
       Vendor::Any,
       {Always},
       true,
       "True in every version: the KVM_RUN case of kvm_vcpu_ioctl calls the architecture's "
       "run function.",
       {ChainId::Init, ChainId::RunLoop},
       {},
       ""},
      {"__vcpu_run-is-the-loop",
       "__vcpu_run (arch/x86/kvm/x86.c) is the function in which the run loop turns.",
       C::Exists,
       "__vcpu_run",
       "",
       Vendor::Any,
       {Until(3, 19)},
       true,
       "True up to 3.19; renamed vcpu_run in 4.0 (still the loop, still x86.c), which compilers "
       "often inline into kvm_arch_vcpu_ioctl_run.",
       {ChainId::RunLoop},
       {{"vcpu_run", ""}},
       ""},
      {"__vcpu_run-called-from-kvm_vcpu_ioctl",
       "__vcpu_run is called from kvm_vcpu_ioctl.",
       C::Calls,
       "kvm_vcpu_ioctl",
       "__vcpu_run",
       Vendor::Any,
       {},
       true,
       "Not directly in any version: kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run → __vcpu_run "
       "(vcpu_run from 4.0).",
       {ChainId::RunLoop},
       {{"kvm_vcpu_ioctl", "vcpu_run"}},
       ""},
      {"handle_exception-is-global",
       "handle_exception (arch/x86/kvm/vmx.c) is the global handler of exceptions.",
       C::Exists,
       "handle_exception",
       "",
       Vendor::Vmx,
       {},
       true,
       "Never global: handle_exception (handle_exception_nmi from 5.2) handles one exit reason, "
       "EXCEPTION_NMI; every other exit reason has its own handler, and exceptions for the "
       "guest are queued with kvm_queue_exception.",
       {ChainId::Exceptions},
       {{"handle_exception_nmi", ""}, {"pvm_handle_native_exit", ""}},
       ""},
      {"handle_exception-checks-is_page_fault",
       "handle_exception recognizes a page fault by calling is_page_fault, from the same file.",
       C::Calls,
       "handle_exception",
       "is_page_fault",
       Vendor::Vmx,
       {Until(5, 1)},
       false,
       "True up to 5.1, and handle_exception_nmi does the same from 5.2. is_page_fault is a "
       "static inline helper (vmx/vmcs.h from 5.2): never a symbol, never a stack frame.",
       {ChainId::Exceptions, ChainId::PageFaults},
       {{"handle_exception_nmi", ""}},
       ""},
      {"handle_exception-calls-kvm_mmu_page_fault",
       "handle_exception calls kvm_mmu_page_fault (arch/x86/kvm/mmu.c).",
       C::Calls,
       "handle_exception",
       "kvm_mmu_page_fault",
       Vendor::Vmx,
       {Until(4, 13)},
       true,
       "Only with shadow paging (no EPT), and directly only up to 4.13: from 4.14 it goes "
       "through kvm_handle_page_fault, from 5.2 the caller is handle_exception_nmi. With EPT "
       "the fault arrives in handle_ept_violation.",
       {ChainId::PageFaults},
       {{"handle_exception_nmi", "kvm_mmu_page_fault"},
        {"handle_ept_violation", "kvm_mmu_page_fault"},
        {"npf_interception", "kvm_mmu_page_fault"},
        {"pf_interception", "kvm_mmu_page_fault"},
        {"pvm_handle_native_exit", "kvm_mmu_page_fault"}},
       ""},
      {"kvm_mmu_page_fault-calls-page_fault",
       "kvm_mmu_page_fault calls page_fault, in arch/x86/kernel/entry_32.S.",
       C::Calls,
       "kvm_mmu_page_fault",
       "page_fault",
       Vendor::Any,
       {},
       true,
       "Never: page_fault (entry_32.S / entry_64.S, asm_exc_page_fault since 5.8) is the "
       "host's own #PF entry. KVM resolves the guest's fault in software: kvm_mmu_page_fault → "
       "kvm_mmu_do_page_fault → kvm_tdp_page_fault or paging64_page_fault.",
       {ChainId::PageFaults},
       {{"kvm_mmu_page_fault", ""}},
       ""},
      {"kvm_arch_vcpu_run-is-the-entry",
       "The guest is entered through kvm_arch_vcpu_run() in arch/x86/kvm/x86.c, which sets up "
       "its initial state and starts it.",
       C::Exists,
       "kvm_arch_vcpu_run",
       "",
       Vendor::Any,
       {},
       true,
       "There is no kvm_arch_vcpu_run in any version. The way in is kvm_arch_vcpu_ioctl_run → "
       "vcpu_run → vcpu_enter_guest → the vendor's *_vcpu_run (VMRESUME, VMRUN).",
       {ChainId::RunLoop},
       {{"kvm_arch_vcpu_ioctl_run", ""}},
       ""},
      {"kvm_arch_vcpu_run-calls-kvm_vcpu_run",
       "kvm_arch_vcpu_run starts the guest by calling kvm_vcpu_run().",
       C::Calls,
       "kvm_arch_vcpu_run",
       "kvm_vcpu_run",
       Vendor::Any,
       {},
       true,
       "Neither function exists in any version; the guest is entered when vcpu_enter_guest "
       "calls vmx_vcpu_run, svm_vcpu_run or pvm_vcpu_run.",
       {ChainId::RunLoop},
       {{"vmx_vcpu_run", ""}, {"svm_vcpu_run", ""}, {"pvm_vcpu_run", ""}},
       ""},
      {"kvm_vcpu_exit-is-the-exit",
       "kvm_vcpu_exit() in the same file is the guest's exit point: it saves the guest's state "
       "and frees the VM's resources.",
       C::Exists,
       "kvm_vcpu_exit",
       "",
       Vendor::Any,
       {},
       true,
       "There is no kvm_vcpu_exit in any version. A VM exit returns from *_vcpu_run into "
       "vcpu_enter_guest, which calls the vendor's *_handle_exit; tearing a VM down is another "
       "path (kvm_destroy_vm, when its last fd is closed).",
       {ChainId::RunLoop, ChainId::Exceptions},
       {{"vmx_handle_exit", ""}, {"svm_handle_exit", ""}, {"pvm_handle_exit", ""}},
       ""},
  };
}

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

const std::vector<SeedClaim>& SeedClaims() {
  static const std::vector<SeedClaim> claims = MakeClaims();
  return claims;
}

const SeedClaim* FindSeedClaim(std::string_view id) {
  for (const SeedClaim& c : SeedClaims())
    if (c.id == id) return &c;
  return nullptr;
}

std::vector<const SeedClaim*> SeedClaimsAbout(ChainId chain) {
  std::vector<const SeedClaim*> about;
  for (const SeedClaim& c : SeedClaims())
    if (std::find(c.chains.begin(), c.chains.end(), chain) != c.chains.end()) about.push_back(&c);
  return about;
}

std::vector<std::string_view> SeedClaimFunctions() {
  std::set<std::string_view> names;
  for (const SeedClaim& c : SeedClaims()) {
    names.insert(c.function);
    if (c.kind == ClaimKind::Calls) names.insert(c.other);
    for (auto [a, b] : c.here) {
      if (!a.empty()) names.insert(a);
      if (!b.empty()) names.insert(b);
    }
  }
  return {names.begin(), names.end()};
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

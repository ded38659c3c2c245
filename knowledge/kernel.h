// Kernel versions, ranges of them, and the backend and paging mode a fact
// can depend on: the words every kernel fact of kvmscope is stated in.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmscope::knowledge {

// --- Kernel versions ----------------------------------------------------------

struct KernelVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const KernelVersion&) const = default;
};
inline constexpr KernelVersion kOldestKernel{0, 0};
inline constexpr KernelVersion kNewestKernel{99, 99};

// "6.12.0-pvm" → 6.12, "v3.10" → 3.10; nullopt for anything without a
// plausible major.minor at the start ("", "garbage", "6", "6.x").
std::optional<KernelVersion> ParseKernelRelease(std::string_view release);
std::string FormatVersion(KernelVersion v);  // "6.12"

// Inclusive on both ends; the default is every version.
struct VersionRange {
  KernelVersion min = kOldestKernel;
  KernelVersion max = kNewestKernel;
  bool Contains(KernelVersion v) const { return min <= v && v <= max; }
  bool All() const { return min == kOldestKernel && max == kNewestKernel; }
};
std::string FormatRange(const VersionRange& range);  // "≤3.19", "≥4.0", "5.0–6.15", "all versions"

// The hardware backend of KVM. As a condition, Any means "every backend"; as
// detected on a kernel, Any means "could not tell".
enum class Vendor { Any, Vmx, Svm, Pvm };
// How guest memory is virtualized. Tdp: the hardware walks a second page table
// (EPT on VMX, NPT on SVM). Shadow: KVM keeps shadow page tables and takes the
// guest's #PF itself (VMX/SVM without EPT/NPT, and PVM always).
enum class Paging { Any, Tdp, Shadow };
std::string_view VendorName(Vendor v);  // "VMX", "SVM", "PVM", "any"
// The vendor of a recorded HostFacts::backend ("PVM (kvm_pvm)", "VMX
// (kvm_intel)", "SVM (kvm_amd)"); Any for "", "none", "other".
Vendor BackendVendor(std::string_view backend);
std::string_view PagingName(Paging p);  // "EPT/NPT", "shadow paging", "any"

// Where a fact was checked in the kernel sources, so that the next person can
// check it again. `where` is parts separated by "; ", each starting with the
// tree it was read in — a release of SourceTrees() ("4.0.4", "6.1-rc7") or
// "running kernel" (this machine's kallsyms) — then the file and line and
// what is there: "4.0.4 arch/x86/kvm/x86.c:6385 static int __vcpu_run; 4.1.15
// arch/x86/kvm/x86.c:6469 static int vcpu_run". A fact that could not be
// checked is `unverified`: shown as such wherever it is stated, never as
// certain; `where` then says what was (or was not) looked at.
struct Evidence {
  std::string_view where;
  bool unverified = false;
};

// A kernel source tree facts were checked in: a release as its top-level
// Makefile says (VERSION.PATCHLEVEL.SUBLEVEL EXTRAVERSION, read at `commit`),
// and the public repository that holds it.
struct SourceTree {
  std::string_view release;  // "4.0.4", "6.1-rc7"
  std::string_view repo;     // "omkar062/linux-4.0.4"
  std::string_view commit;   // the first 12 hex digits
  std::string_view note;     // "" or what to know about it ("Debian's linux-source-6.1 package")
};
const std::vector<SourceTree>& SourceTrees();
// The release names of `evidence` that are not in SourceTrees() (nor
// "running kernel"); empty when every part names its tree.
std::vector<std::string> UnknownTrees(const Evidence& evidence);

}  // namespace kvmscope::knowledge

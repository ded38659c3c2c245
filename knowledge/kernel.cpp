// Kernel versions and the backend and paging names (see kernel.h).
#include "knowledge/kernel.h"

#include <fmt/format.h>

#include <cctype>

namespace kvmscope::knowledge {

// --- Versions ----------------------------------------------------------------

std::optional<KernelVersion> ParseKernelRelease(std::string_view release) {
  size_t i = 0;
  while (i < release.size() && std::isspace(static_cast<unsigned char>(release[i]))) ++i;
  if (i < release.size() && (release[i] == 'v' || release[i] == 'V')) ++i;
  auto number = [&](int& out) {
    const size_t start = i;
    out = 0;
    while (i < release.size() && std::isdigit(static_cast<unsigned char>(release[i])) &&
           i - start < 3) {
      out = out * 10 + (release[i] - '0');
      ++i;
    }
    return i > start;
  };
  KernelVersion v;
  if (!number(v.major) || i >= release.size() || release[i] != '.') return std::nullopt;
  ++i;
  if (!number(v.minor)) return std::nullopt;
  // "6.1234" is no version: a fourth digit means garbage, not minor 123.
  if (i < release.size() && std::isdigit(static_cast<unsigned char>(release[i])))
    return std::nullopt;
  if (v.major < 1 || v.major > 98) return std::nullopt;
  return v;
}

std::string FormatVersion(KernelVersion v) {
  return fmt::format("{}.{}", v.major, v.minor);
}

std::string FormatRange(const VersionRange& r) {
  if (r.All()) return "all versions";
  if (r.min == kOldestKernel) return "≤" + FormatVersion(r.max);
  if (r.max == kNewestKernel) return "≥" + FormatVersion(r.min);
  return FormatVersion(r.min) + "–" + FormatVersion(r.max);
}

std::string_view VendorName(Vendor v) {
  switch (v) {
    case Vendor::Vmx: return "VMX";
    case Vendor::Svm: return "SVM";
    case Vendor::Pvm: return "PVM";
    case Vendor::Any: break;
  }
  return "any";
}

Vendor BackendVendor(std::string_view backend) {
  for (Vendor v : {Vendor::Vmx, Vendor::Svm, Vendor::Pvm})
    if (backend.substr(0, 3) == VendorName(v)) return v;
  return Vendor::Any;
}

std::string_view PagingName(Paging p) {
  switch (p) {
    case Paging::Tdp: return "EPT/NPT";
    case Paging::Shadow: return "shadow paging";
    case Paging::Any: break;
  }
  return "any";
}

}  // namespace kvmscope::knowledge

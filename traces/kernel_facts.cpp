// What one kernel shows, computed once for the chains and the seed check:
// which functions exist (compiler suffixes ignored), the captured stacks as
// function names, the backend, the paging mode and the version.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "traces/chains.h"

namespace kvmscope::traces {

namespace {

constexpr std::string_view kTdpFrames[] = {"handle_ept_violation", "npf_interception",
                                           "kvm_tdp_page_fault", "tdp_page_fault",
                                           "kvm_tdp_mmu_map"};
constexpr std::string_view kShadowFrames[] = {"paging64_page_fault", "paging32_page_fault",
                                              "kvm_handle_page_fault", "paging64_fetch",
                                              "paging32_fetch"};
constexpr std::pair<Vendor, std::string_view> kVendorHandlers[] = {
    {Vendor::Vmx, "vmx_handle_exit"},
    {Vendor::Svm, "svm_handle_exit"},
    {Vendor::Pvm, "pvm_handle_exit"}};

}  // namespace

KernelFacts::KernelFacts(const SymbolTable& symbols, const std::vector<StackUse>& stacks,
                         std::string_view release, std::map<std::string, uint64_t> ioctl_counts,
                         size_t kernel_symbol_count, Vendor backend)
    : m_ioctls(std::move(ioctl_counts)),
      m_release(release),
      m_version(ParseKernelRelease(release)),
      m_symbol_count(kernel_symbol_count != 0 ? kernel_symbol_count : symbols.size()) {
  m_names.reserve(symbols.size());
  for (const Symbol& s : symbols.symbols()) m_names.emplace(BaseName(s.name));
  for (const StackUse& use : stacks) {
    NamedStack named{{}, use.count};
    for (auto it = use.frames.rbegin(); it != use.frames.rend(); ++it) {
      const Symbol* s = symbols.Find(*it);
      std::string name = s != nullptr ? std::string(BaseName(s->name)) : fmt::format("{:#x}", *it);
      // A function's .cold part or a recursion reads as one frame.
      if (named.frames.empty() || named.frames.back() != name)
        named.frames.push_back(std::move(name));
    }
    m_stacks.push_back(std::move(named));
  }
  // The backend: the vendor exit handler the stacks went through, else the
  // one whose symbol exists.
  uint64_t best = 0;
  for (auto [vendor, handler] : kVendorHandlers) {
    const FunctionUse use = Through(handler);
    if (use.stacks > 0 && (m_vendor == Vendor::Any || use.events > best)) {
      m_vendor = vendor;
      best = use.events;
    }
  }
  for (auto [vendor, handler] : kVendorHandlers)
    if (m_vendor == Vendor::Any && Has(handler)) m_vendor = vendor;
  if (m_vendor == Vendor::Any) m_vendor = backend;  // what the host said, else unknown
  // PVM always shadows the guest's page tables; on VMX/SVM only the stacks
  // tell whether EPT/NPT is on (both paths are compiled in).
  auto seen = [&](const auto& frames) {
    return std::any_of(std::begin(frames), std::end(frames),
                       [&](std::string_view f) { return Through(f).stacks > 0; });
  };
  if (m_vendor == Vendor::Pvm)
    m_paging = Paging::Shadow;
  else if (seen(kTdpFrames))
    m_paging = Paging::Tdp;
  else if (seen(kShadowFrames))
    m_paging = Paging::Shadow;
}

bool KernelFacts::Has(std::string_view function) const {
  return m_names.count(std::string(function)) != 0;
}

FunctionUse KernelFacts::Through(std::string_view function) const {
  FunctionUse use;
  for (const NamedStack& s : m_stacks) {
    if (std::find(s.frames.begin(), s.frames.end(), function) == s.frames.end()) continue;
    ++use.stacks;
    use.events += s.count;
  }
  return use;
}

LinkUse KernelFacts::Link(std::string_view caller, std::string_view callee) const {
  LinkUse link;
  uint64_t via_events = 0;
  for (const NamedStack& s : m_stacks) {
    const auto outer = std::find(s.frames.begin(), s.frames.end(), caller);
    if (outer == s.frames.end()) continue;
    const auto inner = std::find(outer + 1, s.frames.end(), callee);
    if (inner == s.frames.end()) continue;
    ++link.stacks;
    link.events += s.count;
    bool direct = false;
    for (size_t i = 0; i + 1 < s.frames.size(); ++i)
      direct = direct || (s.frames[i] == caller && s.frames[i + 1] == callee);
    if (direct) {
      ++link.direct_stacks;
      link.direct_events += s.count;
    } else if (link.via.empty() || s.count > via_events) {
      link.via.assign(outer + 1, inner);
      via_events = s.count;
    }
  }
  return link;
}

std::vector<std::pair<std::string, uint64_t>> KernelFacts::Neighbours(std::string_view function,
                                                                      int direction) const {
  std::map<std::string, uint64_t> events;
  for (const NamedStack& s : m_stacks) {
    std::set<std::string_view> counted;  // once per stack
    for (size_t i = 0; i < s.frames.size(); ++i) {
      if (s.frames[i] != function) continue;
      const size_t j = i + static_cast<size_t>(direction);
      if (j >= s.frames.size() || !counted.insert(s.frames[j]).second) continue;
      events[s.frames[j]] += s.count;
    }
  }
  std::vector<std::pair<std::string, uint64_t>> sorted(events.begin(), events.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& x, const auto& y) { return x.second > y.second; });
  return sorted;
}

std::vector<std::pair<std::string, uint64_t>> KernelFacts::Callers(std::string_view f) const {
  return Neighbours(f, -1);
}
std::vector<std::pair<std::string, uint64_t>> KernelFacts::Callees(std::string_view f) const {
  return Neighbours(f, +1);
}

uint64_t KernelFacts::IoctlCount(std::string_view ioctl) const {
  auto it = m_ioctls.find(std::string(ioctl));
  return it == m_ioctls.end() ? 0 : it->second;
}

uint64_t KernelFacts::event_count() const {
  uint64_t n = 0;
  for (const NamedStack& s : m_stacks) n += s.count;
  return n;
}

std::optional<bool> KernelFacts::ParamOn(std::string_view key) const {
  auto it = m_params.find(std::string(key));
  if (it == m_params.end()) return std::nullopt;
  if (it->second == "Y" || it->second == "y" || it->second == "1") return true;
  if (it->second == "N" || it->second == "n" || it->second == "0") return false;
  return std::nullopt;
}

void KernelFacts::SetPagingFromHost(std::optional<bool> two_dimensional, std::string how) {
  if (!two_dimensional) return;
  m_paging = *two_dimensional ? Paging::Tdp : Paging::Shadow;
  m_paging_how = std::move(how);
}

std::string KernelFacts::Describe() const {
  return fmt::format("{} ({}, {}, {})", m_release.empty() ? "unknown release" : m_release,
                     m_version ? FormatVersion(*m_version) : "version unknown",
                     m_vendor == Vendor::Any ? "no vendor exit handler" : VendorName(m_vendor),
                     m_paging == Paging::Any
                         ? "paging mode not seen"
                         : fmt::format("{} {}", PagingName(m_paging),
                                       m_vendor == Vendor::Pvm ? "always" : m_paging_how));
}

}  // namespace kvmscope::traces

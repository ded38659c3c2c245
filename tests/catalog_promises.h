// The catalog's per-backend kernel-event promises checked against a trace:
// shared by the catalog's own tests and the backend tests that run every
// guest under each attach mechanism.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "traces/trace.h"
#include "vmm/catalog.h"

namespace kvmscope::test {

inline size_t CountOf(const traces::TraceData& trace, std::string_view event) {
  const auto kind = traces::KernelEventKindFromName(event);
  return kind ? trace.Count(traces::EventType(*kind)) : 0;
}

// Whether the trace's recorded backend ("PVM", "VMX (Intel)", "SVM (AMD)")
// is the variant's.
inline bool SameBackend(const traces::TraceData& trace, vmm::KernelVariant v) {
  using vmm::KernelVariant;
  const std::string_view want = v == KernelVariant::Pvm ? "PVM"
                                : v == KernelVariant::VmxEpt || v == KernelVariant::VmxShadow
                                    ? "VMX"
                                    : "SVM";
  return trace.host.backend.starts_with(want);
}

// Every promise is checked against `trace`: promised events fired, excluded
// ones did not.
inline void ExpectPromisesHold(const traces::TraceData& trace, const vmm::GuestInfo& g,
                               vmm::KernelVariant v, const std::string& where) {
  for (std::string_view event : vmm::PromisedEvents(g, v)) {
    EXPECT_GT(CountOf(trace, event), 0u)
        << where << ": " << g.name << " on " << vmm::KernelVariantName(v) << " promises " << event;
  }
  for (const vmm::KernelPromise* p : vmm::PromisesOn(g, v)) {
    if ((p->not_on & vmm::On(v)) == 0) continue;
    EXPECT_EQ(CountOf(trace, p->event), 0u)
        << where << ": " << g.name << " on " << vmm::KernelVariantName(v) << " should make no "
        << p->event << " (" << p->why << ")";
  }
}

}  // namespace kvmscope::test

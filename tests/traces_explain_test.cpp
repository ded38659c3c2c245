// The teaching texts (traces/explain.h): every event kind and the common
// exit reasons have one, the most specific text wins, and every event of
// the recorded PVM trace in tests/data gets one.
#include <gtest/gtest.h>

#include <string_view>

#include "traces/explain.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

TEST(ExplainTexts, EveryKindHasAText) {
  for (size_t k = 0; k < kKernelEventKinds; ++k)
    EXPECT_FALSE(ExplainKind(static_cast<KernelEventKind>(k)).empty()) << k;
  for (size_t k = 0; k < kVmmEventKinds; ++k)
    EXPECT_FALSE(ExplainKind(static_cast<VmmEventKind>(k)).empty()) << k;
  for (size_t i = 0; i < kEventTypes; ++i) {
    Event e;
    e.type = EventType::FromIndex(i);
    EXPECT_FALSE(ExplainEvent(e).empty()) << EventTypeName(e.type);
  }
  EXPECT_TRUE(ExplainKind(KernelEventKind::Count).empty());
}

TEST(ExplainTexts, CommonExitReasons) {
  for (uint32_t reason : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 17u, 24u, 29u, 30u})
    EXPECT_FALSE(ExplainExitReason(reason).empty()) << KvmExitReasonName(reason);
  EXPECT_TRUE(Contains(ExplainExitReason(kKvmExitIo), "IN/OUT"));
  EXPECT_TRUE(Contains(ExplainExitReason(kKvmExitIo), "VMM can play the device"));
  EXPECT_TRUE(Contains(ExplainExitReason(kKvmExitHlt), "HLT"));
  EXPECT_TRUE(Contains(ExplainExitReason(kKvmExitMmio), "memory slot"));
  EXPECT_TRUE(ExplainExitReason(13).empty());  // KVM_EXIT_S390_SIEIC: not for x86
  EXPECT_TRUE(ExplainExitReason(1000).empty());
}

TEST(ExplainTexts, MostSpecificTextPerEvent) {
  auto text = [](EventType type, std::array<uint64_t, 6> a) {
    Event e;
    e.type = type;
    e.a = a;
    return ExplainEvent(e);
  };
  const uint64_t vmx = static_cast<uint64_t>(ExitIsa::Vmx),
                 svm = static_cast<uint64_t>(ExitIsa::Svm);
  EXPECT_EQ(text(VmmEventKind::RunExit, {kKvmExitIo, 0, 3}), ExplainExitReason(kKvmExitIo));
  // EINTR: kvm_run's reason is stale.
  EXPECT_EQ(text(VmmEventKind::RunExit, {kKvmExitIo, 4, 3}), ExplainExitReason(kKvmExitIntr));
  // A reason with no text falls back on the kind's.
  EXPECT_EQ(text(VmmEventKind::RunExit, {13, 0, 3}), ExplainKind(VmmEventKind::RunExit));
  EXPECT_EQ(text(KernelEventKind::UserspaceExit, {kKvmExitMmio}), ExplainExitReason(kKvmExitMmio));
  // #VE: nothing specific, the kind's text; #PF: its own.
  EXPECT_EQ(text(KernelEventKind::InjException, {20}), ExplainKind(KernelEventKind::InjException));
  EXPECT_TRUE(Contains(ExplainKind(KernelEventKind::InjException), "just before VM entry"));
  EXPECT_TRUE(Contains(text(KernelEventKind::InjException, {14}), "page fault"));
  EXPECT_EQ(text(KernelEventKind::MmuWalk, {}),
            "KVM walked the guest's page tables in software (shadow paging) to translate an "
            "address.");
  EXPECT_TRUE(Contains(text(KernelEventKind::KvmExit, {48, 0x8000, vmx}), "EPT_VIOLATION"));
  EXPECT_TRUE(Contains(text(KernelEventKind::KvmExit, {0x400, 0x8000, svm}), "NPF"));
  // ENCLS: the kind's text.
  EXPECT_EQ(text(KernelEventKind::KvmExit, {60, 0x8000, vmx}),
            ExplainKind(KernelEventKind::KvmExit));
}

TEST(ExplainTexts, EveryEventOfTheRecordedTrace) {
  const TraceData trace = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  for (const Track& t : trace.tracks)
    for (const Event& e : t.events) ASSERT_FALSE(ExplainEvent(e).empty()) << EventTypeName(e.type);
}

}  // namespace
}  // namespace kvmscope::traces

// Real-KVM tests of KVM's own counters (KVM_GET_STATS_FD): the descriptors
// are found at run time, the values grow with what the guest does, and they
// are never fewer than the exits the VMM itself saw. The assertions hold on
// VMX, SVM and PVM alike: they name only upstream counters every backend has
// and compare them with what KVM_RUN returned.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "support.h"
#include "vmm/catalog.h"
#include "vmm/error.h"
#include "vmm/kvm_stats.h"
#include "vmm/machine.h"

namespace kvmscope::vmm {
namespace {

using test::Recorder;

// Skips (with the reason) when this kernel has no binary stats.
#define REQUIRE_KVM_STATS(machine)                                           \
  do {                                                                       \
    std::string why_stats;                                                   \
    if (!(machine).ReadKvmStats(why_stats)) GTEST_SKIP() << why_stats;       \
  } while (0)

uint64_t Sum(const KvmCounters& c, const std::string& name) {
  uint64_t total = 0;
  if (auto it = c.vm.find(name); it != c.vm.end()) total += it->second;
  for (const auto& v : c.vcpus) {
    if (auto it = v.find(name); it != v.end()) total += it->second;
  }
  return total;
}

// Prints every counter that moved, for the record (ctest -V shows it).
void Print(const char* what, const KvmCounters& c) {
  std::printf("KVM's counters after %s:\n  VM:", what);
  for (const auto& [name, value] : c.vm) {
    if (value) std::printf(" %s=%llu", name.c_str(), static_cast<unsigned long long>(value));
  }
  for (size_t i = 0; i < c.vcpus.size(); ++i) {
    std::printf("\n  vCPU %zu:", i);
    for (const auto& [name, value] : c.vcpus[i]) {
      if (value) std::printf(" %s=%llu", name.c_str(), static_cast<unsigned long long>(value));
    }
  }
  std::printf("\n");
}

TEST(KvmStats, TheDescriptorsNameTheCountersOfTheVmAndEachVcpu) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Machine m(ConfigFor(*FindGuest("smp")), &rec);
  REQUIRE_KVM_STATS(m);
  std::string why;
  std::optional<KvmCounters> c = m.ReadKvmStats(why);
  ASSERT_TRUE(c) << why;
  EXPECT_FALSE(c->vm.empty());
  ASSERT_EQ(c->vcpus.size(), 2u);
  // The upstream vCPU counters kvmscope compares with its trace, on every backend.
  for (const char* name : {"exits", "io_exits", "mmio_exits", "halt_exits"}) {
    EXPECT_TRUE(c->vcpus[0].contains(name)) << name;
    EXPECT_TRUE(c->vcpus[1].contains(name)) << name;
  }
  // Nothing ran yet: a vCPU has made no exit.
  EXPECT_EQ(c->vcpus[0].at("exits"), 0u);
  // Each KVM_GET_STATS_FD was reported like every KVM ioctl: the VM's and two vCPUs'.
  int opened = 0;
  for (const Event& e : rec.Of(EventKind::Ioctl)) opened += e.ioctl == "KVM_GET_STATS_FD";
  EXPECT_EQ(opened, 3);
}

TEST(KvmStats, TheReaderParsesTheHeaderAndDescriptorsItself) {
  KVMSCOPE_REQUIRE_KVM();
  IoctlReporter io(nullptr);
  Fd kvm = OpenKvm(io);
  if (!HasBinaryStats(io, kvm.get())) GTEST_SKIP() << "no KVM_CAP_BINARY_STATS_FD here";
  Fd vm(static_cast<int>(io.Call(kvm.get(), KVM_CREATE_VM, "KVM_CREATE_VM", 0UL)));
  KvmStats stats = OpenKvmStats(io, vm.get());
  EXPECT_TRUE(stats.id().starts_with("kvm-")) << stats.id();
  ASSERT_FALSE(stats.descriptors().empty());
  std::set<uint32_t> offsets;
  for (const KvmStatDesc& d : stats.descriptors()) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.size, 1u) << d.name;
    EXPECT_TRUE(offsets.insert(d.offset).second) << d.name << " shares offset " << d.offset;
    if (!d.histogram()) {
      EXPECT_EQ(d.size, 1u) << d.name;
    }
  }
  std::map<std::string, uint64_t> values = stats.Read();
  for (const KvmStatDesc& d : stats.descriptors()) {
    EXPECT_EQ(values.contains(d.name), !d.histogram()) << d.name;
  }
}

TEST(KvmStats, CountersAreAtLeastTheExitsTheVmmSawAndGrowWithTheGuest) {
  KVMSCOPE_REQUIRE_KVM();
  std::map<uint64_t, uint64_t> exits_of;  // pio-loop's N → KVM's exits
  const std::vector<std::pair<const char*, std::optional<uint64_t>>> runs = {
      {"hello", std::nullopt}, {"pio-loop", 10}, {"pio-loop", 500}};
  for (const auto& [guest, param] : runs) {
    Recorder rec;
    Machine m(ConfigFor(*FindGuest(guest), param), &rec);
    REQUIRE_KVM_STATS(m);
    Outcome out = m.Run({});
    ASSERT_EQ(out.verdict, Verdict::Passed) << guest << ": " << out.detail;
    std::string why;
    std::optional<KvmCounters> c = m.ReadKvmStats(why);
    ASSERT_TRUE(c) << why;
    const std::string what = param ? fmt::format("{} --param {}", guest, *param) : guest;
    Print(what.c_str(), *c);
    std::printf("  the VMM saw %llu exits\n", static_cast<unsigned long long>(out.exits));
    // Every return of KVM_RUN to the VMM was an exit KVM counted (PVM also
    // counts the instructions it emulates; VMX/SVM every hardware exit).
    EXPECT_GE(Sum(*c, "exits"), out.exits) << what;
    // The guest halts at the end: HLT is an exit KVM counts on every backend.
    EXPECT_GE(Sum(*c, "halt_exits"), 1u) << what;
    if (param) exits_of[*param] = Sum(*c, "exits");
  }
  // 500 port writes: at least as many exits (each OUT comes back to the VMM),
  // and more than for 10. (Not "490 more": a short run may take a few exits
  // of the host's own, an interrupt or a preemption, that a long one need not.)
  EXPECT_GE(exits_of[500], 500u);
  EXPECT_GT(exits_of[500], exits_of[10]);
}

TEST(KvmStats, ReadingWhileTheVcpuRunsIsSafeAndMonotonic) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  // Few enough exits for the emulated VMX/SVM test hosts; the verdict does
  // not matter here, only that reading during the run is sound.
  Machine m(ConfigFor(*FindGuest("pio-loop"), 2000), &rec);
  REQUIRE_KVM_STATS(m);
  m.Start({});
  uint64_t last = 0;
  std::string why;
  while (!m.finished()) {
    std::optional<KvmCounters> c = m.ReadKvmStats(why);
    ASSERT_TRUE(c) << why;
    EXPECT_GE(c->vcpus[0]["exits"], last);
    last = c->vcpus[0]["exits"];
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Outcome out = m.Wait();
  std::optional<KvmCounters> c = m.ReadKvmStats(why);
  ASSERT_TRUE(c) << why;
  EXPECT_GE(c->vcpus[0]["exits"], out.exits);
}

}  // namespace
}  // namespace kvmscope::vmm

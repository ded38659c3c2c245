// Real-KVM tests of the guest catalog: every guest passes its self-check,
// and exit patterns are asserted exactly where they are deterministic.
// Random-byte guests in each mode end with a classified verdict.
#include <gtest/gtest.h>

#include <random>

#include "support.h"
#include "vmm/catalog.h"
#include "vmm/guests/abi.h"
#include "vmm/machine.h"

namespace kvmscope::vmm {
namespace {

using namespace std::chrono_literals;
using test::Recorder;

Outcome RunGuest(const std::string& name, Recorder& rec, RunOptions options = {},
                 std::optional<uint64_t> param = std::nullopt) {
  const GuestInfo* g = FindGuest(name);
  EXPECT_NE(g, nullptr) << name;
  Machine m(ConfigFor(*g, param), &rec);
  return m.Run(options);
}

class EveryGuest : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryGuest, PassesItsSelfCheck) {
  KVMSCOPE_REQUIRE_KVM();
  const GuestInfo* g = FindGuest(GetParam());
  ASSERT_NE(g, nullptr);
  Recorder rec;
  RunOptions options;
  if (g->expect_watchdog) options.timeout = 300ms;
  Outcome out = RunGuest(GetParam(), rec, options);
  if (g->expect_watchdog) {
    EXPECT_EQ(out.verdict, Verdict::Timeout) << out.detail;
  } else {
    EXPECT_EQ(out.verdict, Verdict::Passed) << out.detail << "\nconsole:\n" << out.console;
  }
  // Every vCPU ran and left its loop.
  for (int v = 0; v < g->vcpus; ++v) {
    EXPECT_FALSE(rec.Of(EventKind::RunEnter, v).empty()) << "vCPU " << v << " never ran";
    EXPECT_EQ(rec.Of(EventKind::VcpuDone, v).size(), 1u);
  }
}

std::vector<std::string> AllGuestNames() {
  std::vector<std::string> names;
  for (const GuestInfo& g : Catalog()) names.emplace_back(g.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Catalog, EveryGuest, ::testing::ValuesIn(AllGuestNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(GuestExits, HelloMakesOneIoExitPerByteThenStatusThenHlt) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("hello", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  const std::string greeting = "Hello from a KVM guest!\n";
  EXPECT_EQ(out.console, greeting);
  auto exits = rec.Of(EventKind::RunExit);
  ASSERT_EQ(exits.size(), greeting.size() + 2);
  for (size_t i = 0; i < greeting.size(); ++i) {
    const ExitInfo& e = exits[i].exit;
    EXPECT_EQ(e.reason, uint32_t{KVM_EXIT_IO}) << i;
    EXPECT_EQ(e.port, KVMSCOPE_COM1_PORT) << i;
    EXPECT_EQ(e.direction, IoDirection::Out) << i;
    EXPECT_EQ(e.size, 1) << i;
    EXPECT_EQ(e.data, static_cast<uint8_t>(greeting[i])) << i;
  }
  const ExitInfo& status = exits[greeting.size()].exit;
  EXPECT_EQ(status.reason, uint32_t{KVM_EXIT_IO});
  EXPECT_EQ(status.port, KVMSCOPE_STATUS_PORT);
  EXPECT_EQ(status.size, 4);
  EXPECT_EQ(status.data, greeting.size());
  EXPECT_EQ(exits.back().exit.reason, uint32_t{KVM_EXIT_HLT});
  EXPECT_EQ(out.runs, greeting.size() + 2);
  // Console bytes are reported as their own events, in order.
  std::string from_events;
  for (const Event& e : rec.Of(EventKind::ConsoleByte))
    from_events.push_back(static_cast<char>(e.byte));
  EXPECT_EQ(from_events, greeting);
}

TEST(GuestExits, RunEnterAndExitAlternateWithRisingTimestamps) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  ASSERT_EQ(RunGuest("hello", rec).verdict, Verdict::Passed);
  int64_t last = 0;
  bool inside = false;
  uint64_t index = 0;
  for (const test::RecordedEvent& r : rec.Events()) {
    const Event& e = r.event;
    if (e.kind != EventKind::RunEnter && e.kind != EventKind::RunExit) continue;
    EXPECT_GE(e.time_ns, last);
    last = e.time_ns;
    EXPECT_EQ(e.run_index, index);
    if (e.kind == EventKind::RunEnter) {
      EXPECT_FALSE(inside) << "two KVM_RUN enters in a row";
      inside = true;
    } else {
      EXPECT_TRUE(inside) << "KVM_RUN exit without enter";
      inside = false;
      ++index;
    }
  }
  EXPECT_FALSE(inside);
}

TEST(GuestExits, EveryKvmIoctlIsReported) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  ASSERT_EQ(RunGuest("smp", rec).verdict, Verdict::Passed);
  std::map<std::string, int> count;
  for (const Event& e : rec.Of(EventKind::Ioctl)) {
    count[std::string(e.ioctl)]++;
    EXPECT_GT(e.time_ns, 0);
  }
  EXPECT_EQ(count["KVM_CREATE_VM"], 1);
  EXPECT_EQ(count["KVM_SET_USER_MEMORY_REGION"], 1);
  EXPECT_EQ(count["KVM_CREATE_VCPU"], 2);
  EXPECT_EQ(count["KVM_SET_SREGS"], 2);
  EXPECT_EQ(count["KVM_SET_REGS"], 2);
  EXPECT_EQ(count["KVM_SET_CPUID2"], 2);
}

TEST(GuestExits, PioLoopMakesExactlyNIoExits) {
  KVMSCOPE_REQUIRE_KVM();
  for (uint64_t n : {0ull, 1ull, 500ull}) {
    Recorder rec;
    Outcome out = RunGuest("pio-loop", rec, {}, n);
    ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
    EXPECT_EQ(out.ticks, n);
    uint64_t tick_exits = 0;
    for (const Event& e : rec.Of(EventKind::RunExit)) {
      if (e.exit.reason == KVM_EXIT_IO && e.exit.port == KVMSCOPE_TICK_PORT) ++tick_exits;
    }
    EXPECT_EQ(tick_exits, n);
    EXPECT_EQ(out.exits, n + 2) << "N ticks, the status report, the HLT";
  }
}

TEST(GuestExits, MmioReadsAndWritesTheDeviceWithTheirData) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("mmio", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  std::vector<Event> mmio;
  for (const Event& e : rec.Of(EventKind::RunExit)) {
    if (e.exit.reason == KVM_EXIT_MMIO) mmio.push_back(e);
  }
  struct Expect {
    uint64_t addr;
    bool write;
    uint64_t data;
  };
  const Expect expected[] = {
      {KVMSCOPE_MMIO_BASE + KVMSCOPE_MMIO_ID, false, KVMSCOPE_MMIO_ID_VALUE},
      {KVMSCOPE_MMIO_BASE + KVMSCOPE_MMIO_SCRATCH, true, 0x12345678},
      {KVMSCOPE_MMIO_BASE + KVMSCOPE_MMIO_SCRATCH, false, 0x12345678},
      {KVMSCOPE_MMIO_BASE + KVMSCOPE_MMIO_COUNT, false, 4},
  };
  ASSERT_EQ(mmio.size(), std::size(expected));
  for (size_t i = 0; i < mmio.size(); ++i) {
    EXPECT_EQ(mmio[i].exit.mmio_addr, expected[i].addr) << i;
    EXPECT_EQ(mmio[i].exit.mmio_write, expected[i].write) << i;
    EXPECT_EQ(mmio[i].exit.mmio_len, 4u) << i;
    EXPECT_EQ(mmio[i].exit.mmio_data, expected[i].data) << i;
  }
  // The device saw them too, by name.
  int device_accesses = 0;
  for (const test::RecordedEvent& r : rec.Events()) {
    if (r.event.kind == EventKind::DeviceAccess && r.device == "mmio-test-device")
      ++device_accesses;
  }
  EXPECT_EQ(device_accesses, 4);
}

TEST(GuestExits, ModesPollsTheLineStatusBeforeEveryByte) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("modes", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  const std::string text = "real mode\nprotected mode\nlong mode\n";
  EXPECT_EQ(out.console, text);
  auto exits = rec.Of(EventKind::RunExit);
  ASSERT_EQ(exits.size(), 2 * text.size() + 2);
  for (size_t i = 0; i < text.size(); ++i) {
    const ExitInfo& poll = exits[2 * i].exit;
    const ExitInfo& put = exits[2 * i + 1].exit;
    EXPECT_EQ(poll.port, KVMSCOPE_COM1_LSR) << i;
    EXPECT_EQ(poll.direction, IoDirection::In) << i;
    EXPECT_EQ(poll.data & 0x20, 0x20u) << "the VMM reports THR empty";
    EXPECT_EQ(put.port, KVMSCOPE_COM1_PORT) << i;
    EXPECT_EQ(put.data, static_cast<uint8_t>(text[i])) << i;
  }
  EXPECT_EQ(out.status, 7u);
}

TEST(GuestExits, TimerInterruptsNeverLeaveTheKernel) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("timer", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  // The APIC, its timer, HLT and the interrupts are all in KVM: the one exit
  // is the status report, where the VMM ends the vCPU.
  auto exits = rec.Of(EventKind::RunExit);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].exit.port, KVMSCOPE_STATUS_PORT);
  EXPECT_EQ(exits[0].exit.data, 3u);
  int irqchip = 0;
  for (const Event& e : rec.Of(EventKind::Ioctl)) {
    if (e.ioctl == "KVM_CREATE_IRQCHIP" || e.ioctl == "KVM_CREATE_PIT2") ++irqchip;
  }
  EXPECT_EQ(irqchip, 2);
}

TEST(GuestExits, ExceptionsAreHandledInTheGuestInOrder) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("exceptions", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  EXPECT_EQ(out.console, "#DE handled\n#BP handled\n#UD handled\n#GP handled\n");
  // Exceptions are delivered inside KVM: only console bytes, status and HLT exit.
  auto exits = rec.Of(EventKind::RunExit);
  ASSERT_EQ(exits.size(), out.console.size() + 2);
  EXPECT_EQ(exits[out.console.size()].exit.port, KVMSCOPE_STATUS_PORT);
  EXPECT_EQ(exits.back().exit.reason, uint32_t{KVM_EXIT_HLT});
}

TEST(GuestExits, PagefaultDemandPagesFourFaultsInsideKvm) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("pagefault", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  EXPECT_EQ(out.status, 0x1004u);
  // The guest's #PF handler ran once per unmapped page, in address order.
  std::string expected_faults;
  for (int i = 0; i < 4; ++i) expected_faults += "#PF at 0x4001" + std::to_string(i) + "800\n";
  EXPECT_NE(out.console.find(expected_faults), std::string::npos) << out.console;
  // No fault leaves KVM: every exit is console/status I/O or the final HLT.
  auto exits = rec.Of(EventKind::RunExit);
  for (size_t i = 0; i + 1 < exits.size(); ++i) {
    EXPECT_EQ(exits[i].exit.reason, uint32_t{KVM_EXIT_IO}) << i;
  }
  EXPECT_EQ(exits.back().exit.reason, uint32_t{KVM_EXIT_HLT});
  EXPECT_EQ(exits.size(), out.console.size() + 2);
}

TEST(GuestExits, CpuidRunsOnlyTheChecksAskedFor) {
  KVMSCOPE_REQUIRE_KVM();
  for (uint64_t mask : {0x1ull, 0x5ull}) {
    Recorder rec;
    Outcome out = RunGuest("cpuid", rec, {}, mask);
    EXPECT_EQ(out.verdict, Verdict::Passed) << out.detail << "\n" << out.console;
    EXPECT_EQ(out.status, mask);
  }
}

TEST(GuestExits, CpuidGuestsChecksNeverReachUserSpace) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("cpuid", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  for (const Event& e : rec.Of(EventKind::RunExit)) {
    EXPECT_TRUE(e.exit.reason == KVM_EXIT_IO || e.exit.reason == KVM_EXIT_HLT)
        << ExitReasonName(e.exit.reason);
  }
}

TEST(GuestExits, RegistersAreReadAtEveryExitWhenAsked) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  RunOptions options;
  options.capture_regs = true;
  ASSERT_EQ(RunGuest("hello", rec, options).verdict, Verdict::Passed);
  ASSERT_EQ(rec.rips.size(), rec.Of(EventKind::RunExit).size());
  // Every exit happened inside the image, and RIP only moves forward in hello.
  const GuestInfo* g = FindGuest("hello");
  for (size_t i = 0; i < rec.rips.size(); ++i) {
    EXPECT_GE(rec.rips[i], uint64_t{KVMSCOPE_LOAD_ADDR});
    EXPECT_LE(rec.rips[i], KVMSCOPE_LOAD_ADDR + g->image.size());
    if (i) {
      EXPECT_GE(rec.rips[i], rec.rips[i - 1]);
    }
  }
}

TEST(GuestExits, SmpRunsBothVcpusConcurrently) {
  KVMSCOPE_REQUIRE_KVM();
  Recorder rec;
  Outcome out = RunGuest("smp", rec);
  ASSERT_EQ(out.verdict, Verdict::Passed) << out.detail;
  EXPECT_EQ(out.status, 2000u);
  auto hlt0 = rec.Of(EventKind::RunExit, 0);
  auto hlt1 = rec.Of(EventKind::RunExit, 1);
  ASSERT_FALSE(hlt0.empty());
  ASSERT_FALSE(hlt1.empty());
  EXPECT_EQ(hlt0.back().exit.reason, uint32_t{KVM_EXIT_HLT});
  EXPECT_EQ(hlt1.back().exit.reason, uint32_t{KVM_EXIT_HLT});
}

// Random bytes as a guest, in every mode: whatever they do, the run ends
// with a classified verdict within its budget, and nothing crashes.
TEST(RandomGuests, EndWithAClassifiedVerdictInEveryMode) {
  KVMSCOPE_REQUIRE_KVM();
  std::map<Verdict, int> seen;
  for (CpuMode mode : {CpuMode::Real, CpuMode::Protected, CpuMode::Long}) {
    for (uint32_t seed = 1; seed <= 12; ++seed) {
      std::mt19937 rng(seed * 7919 + static_cast<uint32_t>(mode));
      MachineConfig c;
      c.mode = mode;
      c.image.resize(512);
      for (uint8_t& b : c.image) b = static_cast<uint8_t>(rng());
      RunOptions options;
      options.timeout = 200ms;
      options.max_exits = 5000;
      Machine m(c, nullptr);
      Outcome out = m.Run(options);
      ++seen[out.verdict];
      EXPECT_FALSE(out.detail.empty());
      EXPECT_NE(out.verdict, Verdict::VmmError) << out.detail;
      // The watchdog polls every 5 ms; a generous margin for a loaded machine.
      EXPECT_LT(out.end_ns - out.start_ns, 3'000'000'000) << "seed " << seed;
    }
  }
  for (auto [verdict, n] : seen)
    std::printf("random guests: %-24s %d\n", VerdictName(verdict).data(), n);
}

}  // namespace
}  // namespace kvmscope::vmm

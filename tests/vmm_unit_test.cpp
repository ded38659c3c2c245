// Unit tests of the VMM's parts that need no KVM: the run gate, the buses
// and devices, CPU-mode tables, guest loading and assembly, config checks.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "support.h"
#include "vmm/bus.h"
#include "vmm/catalog.h"
#include "vmm/cpu_mode.h"
#include "vmm/devices.h"
#include "vmm/error.h"
#include "vmm/guest_image.h"
#include "vmm/guests/abi.h"
#include "vmm/host.h"
#include "vmm/machine.h"
#include "vmm/run_control.h"

namespace kvmscope::vmm {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(RunControl, RunningLetsEveryCallThrough) {
  RunControl c;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.AwaitPermission());
    c.Done();
  }
  EXPECT_EQ(c.steps_taken(), 0u);
}

TEST(RunControl, EachStepLetsExactlyOneThrough) {
  RunControl c;
  c.Pause();
  auto waiter = std::async(std::launch::async, [&] { return c.AwaitPermission(); });
  EXPECT_EQ(waiter.wait_for(50ms), std::future_status::timeout) << "paused gate let a run through";
  c.Step(1);
  ASSERT_TRUE(waiter.get());
  c.Done();
  auto second = std::async(std::launch::async, [&] { return c.AwaitPermission(); });
  EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout) << "one step let two runs through";
  c.Step(2);
  ASSERT_TRUE(second.get());
  c.Done();
  ASSERT_TRUE(c.AwaitPermission());  // the second token of Step(2)
  c.Done();
  EXPECT_EQ(c.steps_taken(), 3u);
}

TEST(RunControl, StopReleasesAWaitingThread) {
  RunControl c;
  c.Pause();
  auto waiter = std::async(std::launch::async, [&] { return c.AwaitPermission(); });
  std::this_thread::sleep_for(20ms);
  c.Stop();
  EXPECT_FALSE(waiter.get());
  EXPECT_FALSE(c.AwaitPermission());
}

TEST(RunControl, SlowMotionDelaysEachRun) {
  RunControl c;
  c.SetSlowMotion(40ms);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.AwaitPermission());
  c.Done();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
}

TEST(RunControl, ActiveCountsThreadsPastTheGate) {
  RunControl c;
  EXPECT_EQ(c.active(), 0);
  ASSERT_TRUE(c.AwaitPermission());
  EXPECT_EQ(c.active(), 1);
  c.Done();
  EXPECT_EQ(c.active(), 0);
}

class FakeDevice : public Device {
 public:
  std::string_view Name() const override { return "fake"; }
  void Read(uint64_t offset, uint8_t* data, uint32_t size) override {
    last_offset = offset;
    std::memset(data, 0x5a, size);
  }
  void Write(uint64_t offset, const uint8_t* data, uint32_t) override {
    last_offset = offset;
    last_byte = data[0];
  }
  uint64_t last_offset = ~0ull;
  uint8_t last_byte = 0;
};

TEST(AddressBus, DispatchesByRangeWithOffsets) {
  AddressBus bus(Bus::Pio);
  FakeDevice dev;
  bus.Register(0x100, 8, &dev);
  test::Recorder rec;
  uint8_t b = 0x42;
  bus.Access(0x103, &b, 1, true, 0, &rec);
  EXPECT_EQ(dev.last_offset, 3u);
  EXPECT_EQ(dev.last_byte, 0x42);
  uint8_t r[2] = {};
  bus.Access(0x107, r, 2, false, 1, &rec);
  EXPECT_EQ(r[0], 0x5a);
  auto events = rec.Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].device, "fake");
  EXPECT_TRUE(events[0].event.access.write);
  EXPECT_EQ(events[1].event.access.data, 0x5a5au);
  EXPECT_EQ(events[1].event.vcpu, 1);
}

TEST(AddressBus, UnclaimedReadsFloatHighAndAreReported) {
  AddressBus bus(Bus::Mmio);
  test::Recorder rec;
  uint8_t r[4] = {};
  bus.Access(0x9999, r, 4, false, 0, &rec);
  EXPECT_EQ(r[0], 0xff);
  EXPECT_EQ(r[3], 0xff);
  auto events = rec.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].device, "");
}

TEST(AddressBus, OverlappingRangesAreRefused) {
  AddressBus bus(Bus::Pio);
  FakeDevice a, b;
  bus.Register(0x100, 8, &a);
  EXPECT_THROW(bus.Register(0x107, 2, &b), Error);
  EXPECT_NO_THROW(bus.Register(0x108, 2, &b));
  EXPECT_EQ(bus.Find(0x108), &b);
  EXPECT_EQ(bus.Find(0x10a), nullptr);
}

TEST(Devices, SerialReportsReadyAndPrints) {
  std::string out;
  Serial16550 uart([&](uint8_t c) { out.push_back(static_cast<char>(c)); });
  uint8_t lsr = 0;
  uart.Read(5, &lsr, 1);
  EXPECT_EQ(lsr & 0x20, 0x20) << "THR empty";
  EXPECT_EQ(lsr & 0x40, 0x40) << "transmitter empty";
  uint8_t c = 'A';
  uart.Write(0, &c, 1);
  uint8_t scratch = 0x77;
  uart.Write(7, &scratch, 1);  // scratch register, not output
  uint8_t back = 0;
  uart.Read(7, &back, 1);
  EXPECT_EQ(out, "A");
  EXPECT_EQ(back, 0x77);
}

TEST(Devices, StatusPortReportsAndCountsTicks) {
  std::vector<uint32_t> seen;
  StatusPort port([&](uint32_t v) { seen.push_back(v); });
  uint32_t v = 0x1234;
  port.Write(0, reinterpret_cast<uint8_t*>(&v), 4);
  uint8_t t = 0;
  port.Write(1, &t, 1);
  port.Write(1, &t, 1);
  EXPECT_EQ(seen, std::vector<uint32_t>{0x1234});
  EXPECT_EQ(port.ticks(), 2u);
}

TEST(Devices, MmioDeviceIdScratchAndCount) {
  MmioTestDevice dev;
  uint32_t v = 0;
  dev.Read(KVMSCOPE_MMIO_ID, reinterpret_cast<uint8_t*>(&v), 4);
  EXPECT_EQ(v, uint32_t{KVMSCOPE_MMIO_ID_VALUE});
  uint32_t w = 0xcafe;
  dev.Write(KVMSCOPE_MMIO_SCRATCH, reinterpret_cast<uint8_t*>(&w), 4);
  dev.Read(KVMSCOPE_MMIO_SCRATCH, reinterpret_cast<uint8_t*>(&v), 4);
  EXPECT_EQ(v, 0xcafeu);
  dev.Read(KVMSCOPE_MMIO_COUNT, reinterpret_cast<uint8_t*>(&v), 4);
  EXPECT_EQ(v, 4u);
}

TEST(CpuMode, NamesRoundTrip) {
  for (CpuMode m : {CpuMode::Real, CpuMode::Protected, CpuMode::Long}) {
    EXPECT_EQ(ParseCpuMode(CpuModeName(m)), m);
  }
  EXPECT_FALSE(ParseCpuMode("vm86"));
}

TEST(CpuMode, LongModeTablesAreWhatTheGuestAbiPromises) {
  std::vector<uint8_t> ram(KVMSCOPE_FREE_RAM);
  kvm_sregs sregs{};
  kvm_regs regs{};
  SetupCpuMode(CpuMode::Long, ram, 0x8000, sregs, regs);
  auto at = [&](uint64_t addr) {
    uint64_t v;
    std::memcpy(&v, &ram[addr], 8);
    return v;
  };
  EXPECT_EQ(regs.rip, 0x8000u);
  EXPECT_EQ(regs.rflags, 2u) << "bit 1 of RFLAGS is always set";
  EXPECT_EQ(sregs.cr3, uint64_t{KVMSCOPE_PML4_ADDR});
  EXPECT_TRUE(sregs.efer & (1 << 10)) << "EFER.LMA";
  EXPECT_TRUE(sregs.cr0 & (1u << 31)) << "CR0.PG";
  EXPECT_EQ(sregs.cs.l, 1) << "64-bit code segment";
  EXPECT_EQ(sregs.tr.base, uint64_t{KVMSCOPE_TSS_ADDR});
  // PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] maps 2 MiB at i * 2 MiB, user-accessible.
  EXPECT_EQ(at(KVMSCOPE_PML4_ADDR) & ~0xfffull, uint64_t{KVMSCOPE_PDPT_ADDR});
  EXPECT_EQ(at(KVMSCOPE_PDPT_ADDR) & ~0xfffull, uint64_t{KVMSCOPE_PD_ADDR});
  EXPECT_EQ(at(KVMSCOPE_PD_ADDR + 8 * 5), (5ull << 21) | 0x87);
  // The user code descriptor: present, DPL 3, code, L=1.
  uint64_t ucode = at(KVMSCOPE_GDT_ADDR + (KVMSCOPE_SEL_UCODE & ~3));
  EXPECT_EQ((ucode >> 45) & 3, 3u);
  EXPECT_EQ((ucode >> 53) & 1, 1u);
  EXPECT_EQ((ucode >> 47) & 1, 1u);
  // TSS.RSP0
  EXPECT_EQ(at(KVMSCOPE_TSS_ADDR + 4), uint64_t{KVMSCOPE_RING0_STACK_TOP});
}

TEST(CpuMode, ProtectedModeIsFlat32Bit) {
  std::vector<uint8_t> ram(KVMSCOPE_FREE_RAM);
  kvm_sregs sregs{};
  kvm_regs regs{};
  SetupCpuMode(CpuMode::Protected, ram, 0x9000, sregs, regs);
  EXPECT_EQ(sregs.cr0 & 1, 1u) << "CR0.PE";
  EXPECT_EQ(sregs.cr0 & (1u << 31), 0u) << "paging off";
  EXPECT_EQ(sregs.cs.db, 1);
  EXPECT_EQ(sregs.cs.limit, 0xffffffffu);
  EXPECT_EQ(regs.rip, 0x9000u);
}

class TempFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("kvmscope-test-" + std::to_string(getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  }
  fs::path dir;
};

// The message of the Error `f` throws, checking its kind.
template <typename F>
std::string ErrorOf(F f, ErrorKind kind) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST_F(TempFiles, LoadGuestBinaryRejectsBadFiles) {
  EXPECT_NE(ErrorOf([&] { LoadGuestBinary((dir / "nope.bin").string(), 100); }, ErrorKind::Usage)
                .find("No such file"),
            std::string::npos);
  std::string empty = Write("empty.bin", "");
  EXPECT_NE(ErrorOf([&] { LoadGuestBinary(empty, 100); }, ErrorKind::Usage).find("empty"),
            std::string::npos);
  std::string big = Write("big.bin", std::string(101, '\x90'));
  EXPECT_NE(ErrorOf([&] { LoadGuestBinary(big, 100); }, ErrorKind::Usage).find("too large"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { LoadGuestBinary(dir.string(), 100); }, ErrorKind::Usage)
                .find("not a regular file"),
            std::string::npos);
  std::string ok = Write("ok.bin", "\xf4");
  EXPECT_EQ(LoadGuestBinary(ok, 100), std::vector<uint8_t>{0xf4});
}

TEST_F(TempFiles, AssembleGuestUsesTheModeAndReportsErrorsWithTheLine) {
  std::string src = Write("g.S", "\tinc %ax\n\thlt\n");
  // 16-bit code needs no operand-size prefix for %ax; 64-bit code does.
  EXPECT_EQ(AssembleGuest(src, CpuMode::Real, 0x8000), (std::vector<uint8_t>{0x40, 0xf4}));
  EXPECT_EQ(AssembleGuest(src, CpuMode::Long, 0x8000),
            (std::vector<uint8_t>{0x66, 0xff, 0xc0, 0xf4}));
  std::string bad = Write("bad.S", "\tnop\n\tfrobnicate %eax\n");
  std::string msg = ErrorOf([&] { AssembleGuest(bad, CpuMode::Long, 0x8000); }, ErrorKind::Usage);
  EXPECT_NE(msg.find("bad.S:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("frobnicate %eax"), std::string::npos) << msg;
  ErrorOf([&] { AssembleGuest((dir / "missing.S").string(), CpuMode::Long, 0x8000); },
          ErrorKind::Usage);
}

TEST(MachineConfig, BadLoadAddressesAndSizesAreUsageErrors) {
  auto make = [](CpuMode mode, uint64_t load, size_t size) {
    MachineConfig c;
    c.mode = mode;
    c.load_addr = load;
    c.image.assign(size, 0xf4);
    Machine m(c, nullptr);
  };
  // Into the VMM's GDT/page tables in long mode.
  std::string msg = ErrorOf([&] { make(CpuMode::Long, 0x1000, 16); }, ErrorKind::Usage);
  EXPECT_NE(msg.find("bad load address 0x1000"), std::string::npos) << msg;
  // Past the end of RAM.
  ErrorOf([&] { make(CpuMode::Protected, KVMSCOPE_RAM_SIZE, 16); }, ErrorKind::Usage);
  // Real mode cannot reach past 1 MiB.
  msg = ErrorOf([&] { make(CpuMode::Real, 0xff000, 0x2000); }, ErrorKind::Usage);
  EXPECT_NE(msg.find("too large"), std::string::npos) << msg;
  ErrorOf([&] { make(CpuMode::Real, 0x8000, 0); }, ErrorKind::Usage);
}

TEST(Catalog, EveryGuestIsDescribedAndBuilt) {
  std::set<std::string_view> names;
  for (const GuestInfo& g : Catalog()) {
    EXPECT_TRUE(names.insert(g.name).second) << "duplicate " << g.name;
    EXPECT_FALSE(g.description.empty()) << g.name;
    EXPECT_FALSE(g.exits.empty()) << g.name;
    EXPECT_FALSE(g.kernel_paths.empty()) << g.name;
    EXPECT_FALSE(g.self_check.empty()) << g.name;
    EXPECT_GT(g.image.size(), 0u) << g.name;
    EXPECT_NE(g.source.find("_start"), std::string_view::npos) << g.name;
    EXPECT_EQ(FindGuest(g.name), &g);
  }
  for (const char* required : {"hello", "modes", "pagefault", "exceptions", "mmio", "cpuid",
                               "timer", "smp", "spin", "pio-loop", "pio-pair"}) {
    EXPECT_TRUE(names.count(required)) << required;
  }
  EXPECT_EQ(FindGuest("nope"), nullptr);
}

TEST(Catalog, ConfigCarriesTheExpectation) {
  MachineConfig pio = ConfigFor(*FindGuest("pio-loop"), 77);
  EXPECT_EQ(pio.param, 77u);
  EXPECT_EQ(pio.expected_status, 77u);
  MachineConfig spin = ConfigFor(*FindGuest("spin"));
  EXPECT_FALSE(spin.expected_status) << "spin never reports";
  MachineConfig smp = ConfigFor(*FindGuest("smp"));
  EXPECT_EQ(smp.vcpus, 2);
}

TEST(ExitNames, SpelledAsInLinuxKvmH) {
  EXPECT_EQ(ExitReasonName(KVM_EXIT_IO), "KVM_EXIT_IO");
  EXPECT_EQ(ExitReasonName(KVM_EXIT_INTERNAL_ERROR), "KVM_EXIT_INTERNAL_ERROR");
  ExitInfo io;
  io.reason = KVM_EXIT_IO;
  io.port = 0x3f8;
  io.size = 1;
  io.count = 1;
  io.data = 0x48;
  EXPECT_EQ(DescribeExit(io), "out port=0x3f8 size=1 data=0x48");
}

}  // namespace
}  // namespace kvmscope::vmm

namespace kvmscope::vmm {
namespace {

TEST(Host, BackendIsNamedByItsModule) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("kvmscope-sysmod-" + std::to_string(getpid()));
  fs::create_directories(root);
  EXPECT_EQ(DetectKvmBackend(root.string()), KvmBackend::None);
  fs::create_directories(root / "kvm");
  EXPECT_EQ(DetectKvmBackend(root.string()), KvmBackend::Other);
  fs::create_directories(root / "kvm_pvm");
  EXPECT_EQ(DetectKvmBackend(root.string()), KvmBackend::Pvm);
  fs::create_directories(root / "kvm_intel");
  EXPECT_EQ(DetectKvmBackend(root.string()), KvmBackend::Vmx);
  fs::remove_all(root);
}

// The paging mode splits VMX and SVM: kvm_intel's ept and kvm_amd's npt
// parameters ("Y"/"N", or "1"/"0" on older kernels).
TEST(Catalog, KernelVariantFromModuleParameters) {
  const fs::path root = fs::temp_directory_path() / ("kvmscope-variant-" + std::to_string(getpid()));
  fs::remove_all(root);
  EXPECT_EQ(DetectKernelVariant(root.string()), std::nullopt);
  fs::create_directories(root / "kvm_amd" / "parameters");
  std::ofstream(root / "kvm_amd" / "parameters" / "npt") << "0\n";
  EXPECT_EQ(DetectKernelVariant(root.string()), KernelVariant::SvmShadow);
  std::ofstream(root / "kvm_amd" / "parameters" / "npt") << "Y\n";
  EXPECT_EQ(DetectKernelVariant(root.string()), KernelVariant::SvmNpt);
  fs::create_directories(root / "kvm_intel" / "parameters");
  std::ofstream(root / "kvm_intel" / "parameters" / "ept") << "N\n";
  EXPECT_EQ(DetectKernelVariant(root.string()), KernelVariant::VmxShadow);
  fs::remove_all(root);
}

// Per-variant promises: the common events first, each event once; excluded
// events never promised.
TEST(Catalog, PromisesPerVariant) {
  const GuestInfo* pf = FindGuest("pagefault");
  ASSERT_NE(pf, nullptr);
  using V = std::vector<std::string_view>;
  EXPECT_EQ(PromisedEvents(*pf, KernelVariant::Pvm),
            (V{"kvm_emulate_insn", "kvm_mmu_set_spte", "kvm_mmu_pagetable_walk",
               "kvm_mmu_walker_error", "kvm_inj_exception"}));
  EXPECT_EQ(PromisedEvents(*pf, KernelVariant::SvmNpt),
            (V{"kvm_exit", "kvm_entry", "kvm_page_fault", "kvm_mmu_set_spte"}));
  EXPECT_EQ(PromisedEvents(*pf, KernelVariant::VmxShadow),
            (V{"kvm_exit", "kvm_entry", "kvm_mmu_set_spte", "kvm_mmu_pagetable_walk",
               "kvm_mmu_walker_error", "kvm_inj_exception", "kvm_page_fault"}));
  for (const GuestInfo& g : Catalog()) {
    for (size_t i = 0; i < kKernelVariants; ++i) {
      const auto v = static_cast<KernelVariant>(i);
      for (const KernelPromise* p : PromisesOn(g, v)) {
        if ((p->not_on & On(v)) == 0) continue;
        for (std::string_view e : PromisedEvents(g, v)) EXPECT_NE(e, p->event) << g.name;
      }
    }
  }
}

}  // namespace
}  // namespace kvmscope::vmm

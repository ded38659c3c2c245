// The attach plan against simulated hosts (Intel with kprobes, AMD without
// BTF, PVM as on these machines, nothing at all), automatic and forced
// (--attach); refusal reasons and kallsyms bounds from a fake host's files;
// and the one conversion from the BPF record ABI to traces events.
#include <gtest/gtest.h>

#include <utility>

#include <fmt/format.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>

#include "probes/convert.h"
#include "probes/host.h"
#include "probes/plan.h"
#include "probes/session.h"
#include "traces/trace.h"

namespace kvmscope::probes {
namespace {

Try Ok() { return Try{true, 0, "attached"}; }
Try No(const char* why) { return Try{false, 2, why}; }

// Every tracepoint of the list plus the syscall pair, all working.
std::vector<TracepointState> AllTracepoints() {
  std::vector<TracepointState> tps = {{"syscalls:sys_enter_ioctl", true, Ok()},
                                      {"syscalls:sys_exit_ioctl", true, Ok()}};
  for (std::string_view name : KvmTracepoints()) tps.push_back({std::string(name), true, Ok()});
  return tps;
}

Capabilities IntelWithKprobes() {
  Capabilities c;
  c.backend = Backend::Vmx;
  c.vendor_handler = "vmx_handle_exit";
  c.mmu_page_fault_symbol = true;
  c.btf = true;
  c.kprobe_run = c.kprobe_handler = c.kprobe_mmu = Ok();
  c.fentry = Ok();
  c.tracepoints = AllTracepoints();
  return c;
}

Capabilities AmdWithoutBtfOrKprobes() {
  Capabilities c;
  c.backend = Backend::Svm;
  c.vendor_handler = "svm_handle_exit";
  c.mmu_page_fault_symbol = true;
  c.btf = false;
  c.kprobe_run = c.kprobe_handler = c.kprobe_mmu = No("kprobe attach failed: ENOENT");
  c.fentry = No("no kernel BTF");
  c.tracepoints = AllTracepoints();
  return c;
}

// What these machines have: PVM, no kprobes, no fentry, tracepoints work.
Capabilities Pvm() {
  Capabilities c;
  c.backend = Backend::Pvm;
  c.vendor_handler = "pvm_handle_exit";
  c.mmu_page_fault_symbol = true;
  c.btf = true;
  c.kprobe_run = c.kprobe_handler = c.kprobe_mmu = No("kprobe attach failed: ENOENT");
  c.fentry = No("loading an fentry program failed: EPERM");
  c.tracepoints = AllTracepoints();
  return c;
}

bool Mentions(const PlanEntry& e, std::string_view text) {
  for (const std::string& p : e.passed) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

// One ring per online CPU (a power of two, at most 16), each a power of two
// and at least 4 MiB, or the whole size when that is smaller.
TEST(RingLayout, OneRingPerCpuEachAShareOfTheSizeButNoLessThanTheFloor) {
  auto layout = [](uint32_t bytes, long cpus) {
    RingLayout r = RingLayoutFor(bytes, cpus);
    return std::make_pair(r.count, r.bytes_each);
  };
  constexpr uint32_t MiB = 1u << 20;
  EXPECT_EQ(layout(8 * MiB, 1), std::make_pair(1u, 8 * MiB));
  EXPECT_EQ(layout(8 * MiB, 2), std::make_pair(2u, 4 * MiB));
  EXPECT_EQ(layout(8 * MiB, 6), std::make_pair(4u, 4 * MiB));
  EXPECT_EQ(layout(8 * MiB, 64), std::make_pair(16u, 4 * MiB));
  EXPECT_EQ(layout(64 * MiB, 8), std::make_pair(8u, 8 * MiB));
  EXPECT_EQ(layout(4096, 2), std::make_pair(2u, 4096u));  // tiny: each ring all of it
  EXPECT_EQ(layout(8 * MiB, 0), std::make_pair(1u, 8 * MiB));   // sysconf failed
  EXPECT_EQ(layout(8 * MiB, -1), std::make_pair(1u, 8 * MiB));
  // It says what it was made from (doctor shows it).
  const RingLayout r = RingLayoutFor(8 * MiB, 6);
  EXPECT_EQ(r.online_cpus, 6u);
  EXPECT_EQ(r.asked_bytes, 8 * MiB);
  EXPECT_EQ(RingLayoutFor(8 * MiB, 0).online_cpus, 1u);
}

TEST(AttachPlan, IntelWithKprobesUsesKprobesEverywhere) {
  AttachPlan plan = PlanAttach(IntelWithKprobes());
  ASSERT_TRUE(plan.usable());
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).mechanism, Mechanism::Kprobe);
  EXPECT_EQ(plan.entry(ProbePoint::ExitHandler).mechanism, Mechanism::Kprobe);
  EXPECT_EQ(plan.entry(ProbePoint::ExitHandler).target, "vmx_handle_exit");
  EXPECT_EQ(plan.entry(ProbePoint::MmuPageFault).mechanism, Mechanism::Kprobe);
  for (const PlanEntry& e : plan.entries) EXPECT_TRUE(e.passed.empty()) << e.target;
  EXPECT_EQ(plan.tracepoints.size(), KvmTracepoints().size());
  EXPECT_TRUE(plan.missing.empty());
}

TEST(AttachPlan, IntelWithoutKprobesTakesFentryAndSaysWhy) {
  Capabilities c = IntelWithKprobes();
  c.kprobe_run = c.kprobe_handler = c.kprobe_mmu = No("kprobe attach failed: ENOENT");
  AttachPlan plan = PlanAttach(c);
  for (const PlanEntry& e : plan.entries) {
    EXPECT_EQ(e.mechanism, Mechanism::Fentry) << e.target;
    EXPECT_TRUE(Mentions(e, "ENOENT")) << e.target;
  }
}

TEST(AttachPlan, AmdWithoutBtfFallsBackToTheVendorTracepoints) {
  AttachPlan plan = PlanAttach(AmdWithoutBtfOrKprobes());
  const PlanEntry& run = plan.entry(ProbePoint::RunLoop);
  EXPECT_EQ(run.mechanism, Mechanism::Tracepoint);
  EXPECT_NE(run.how.find("sys_enter_ioctl"), std::string::npos);
  EXPECT_TRUE(Mentions(run, "no kernel BTF"));
  const PlanEntry& handler = plan.entry(ProbePoint::ExitHandler);
  EXPECT_EQ(handler.target, "svm_handle_exit");
  EXPECT_EQ(handler.mechanism, Mechanism::Tracepoint);
  EXPECT_NE(handler.how.find("kvm:kvm_exit"), std::string::npos);
  EXPECT_EQ(plan.entry(ProbePoint::MmuPageFault).mechanism, Mechanism::Tracepoint);
  EXPECT_NE(plan.entry(ProbePoint::MmuPageFault).how.find("kvm:kvm_page_fault"), std::string::npos);
}

TEST(AttachPlan, PvmUsesTheSyscallEdgeAndStacksAndSaysWhyNotKvmExit) {
  AttachPlan plan = PlanAttach(Pvm());
  ASSERT_TRUE(plan.usable());
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).mechanism, Mechanism::Tracepoint);
  const PlanEntry& handler = plan.entry(ProbePoint::ExitHandler);
  EXPECT_EQ(handler.target, "pvm_handle_exit");
  EXPECT_EQ(handler.mechanism, Mechanism::Stacks);
  EXPECT_TRUE(Mentions(handler, "kprobe attach failed"));
  EXPECT_TRUE(Mentions(handler, "EPERM"));
  EXPECT_TRUE(Mentions(handler, "never fires"));
  const PlanEntry& mmu = plan.entry(ProbePoint::MmuPageFault);
  EXPECT_EQ(mmu.mechanism, Mechanism::Stacks);
  EXPECT_TRUE(Mentions(mmu, "kvm:kvm_page_fault"));
  // Three better mechanisms passed over for each of the two inferred points.
  EXPECT_EQ(handler.passed.size(), 3u);
  EXPECT_EQ(mmu.passed.size(), 3u);
}

TEST(AttachPlan, MissingTracepointsAreListedWithTheirReason) {
  Capabilities c = Pvm();
  for (TracepointState& t : c.tracepoints) {
    if (t.name == "kvm:kvm_msr") t.exists = false;
    if (t.name == "kvm:kvm_pio") t.attach = No("attach failed: EINVAL");
  }
  AttachPlan plan = PlanAttach(c);
  EXPECT_EQ(plan.tracepoints.size(), KvmTracepoints().size() - 2);
  ASSERT_EQ(plan.missing.size(), 2u);
  EXPECT_NE(plan.missing[0].find("kvm:kvm_pio: attach failed: EINVAL"), std::string::npos);
  EXPECT_NE(plan.missing[1].find("kvm:kvm_msr: not in this kernel"), std::string::npos);
}

TEST(AttachPlan, WithoutAnyWayToSeeKvmRunTracingIsUnusable) {
  Capabilities c = Pvm();
  c.tracepoints.clear();
  AttachPlan plan = PlanAttach(c);
  EXPECT_FALSE(plan.usable());
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).mechanism, Mechanism::None);
  EXPECT_TRUE(Mentions(plan.entry(ProbePoint::RunLoop), "not in this kernel"));
}

TEST(AttachPlan, NoVendorHandlerSymbolMeansNoHandlerProbe) {
  Capabilities c = IntelWithKprobes();
  c.backend = Backend::Unknown;
  c.vendor_handler.clear();
  AttachPlan plan = PlanAttach(c);
  const PlanEntry& handler = plan.entry(ProbePoint::ExitHandler);
  EXPECT_NE(handler.mechanism, Mechanism::Kprobe);
  EXPECT_TRUE(Mentions(handler, "/proc/kallsyms"));
}

TEST(AttachPlan, DescriptionNamesEveryPointAndEveryReason) {
  AttachPlan plan = PlanAttach(Pvm());
  std::string text;
  for (const std::string& l : DescribePlan(plan)) text += l + "\n";
  for (std::string_view s : {"run loop", "exit handler", "page fault", "pvm_handle_exit",
                             "passed over", "never fires", "kvm:kvm_pio"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(PlanSummary(plan), "run loop: tracepoint · exit handler: stacks · page fault: stacks");
}

// Tracepoints attached as raw tracepoints are listed and said; one whose raw
// attach failed (attached through perf instead) or that is missing is not.
TEST(AttachPlan, RawTracepointsAreListedAndSaid) {
  Capabilities c = Pvm();
  for (TracepointState& t : c.tracepoints) {
    t.raw = t.name == "kvm:kvm_userspace_exit" || t.name == "kvm:kvm_pio" ||
            t.name == "kvm:kvm_mmio";
    if (t.name == "kvm:kvm_mmio") t.attach = No("attach failed: EINVAL");
    t.counted_raw = t.name == "kvm:kvm_emulate_insn";
  }
  AttachPlan plan = PlanAttach(c);
  EXPECT_EQ(plan.raw, (std::vector<std::string>{"kvm:kvm_userspace_exit", "kvm:kvm_pio"}));
  EXPECT_EQ(plan.counted_raw, (std::vector<std::string>{"kvm:kvm_emulate_insn"}));
  std::vector<std::string> lines = DescribePlan(plan);
  auto counted_line = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("counted by a raw tracepoint") != std::string::npos;
  });
  ASSERT_NE(counted_line, lines.end());
  EXPECT_NE(counted_line->find("detached): kvm:kvm_emulate_insn"), std::string::npos) << *counted_line;
  auto raw_line = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("raw tracepoints") != std::string::npos;
  });
  ASSERT_NE(raw_line, lines.end());
  EXPECT_NE(raw_line->find("kvm:kvm_userspace_exit kvm:kvm_pio"), std::string::npos) << *raw_line;
  EXPECT_EQ(raw_line->find("kvm_mmio"), std::string::npos) << *raw_line;
  EXPECT_TRUE(plan.detached_at_budget.empty());

  // run and the window: nothing counts it past the budget, KVM does.
  for (TracepointState& t : c.tracepoints) {
    t.detached_at_budget = std::exchange(t.counted_raw, false);
  }
  AttachPlan detached = PlanAttach(c);
  EXPECT_TRUE(detached.counted_raw.empty());
  EXPECT_EQ(detached.detached_at_budget, (std::vector<std::string>{"kvm:kvm_emulate_insn"}));
  std::string said;
  for (const std::string& l : DescribePlan(detached)) said += l + "\n";
  EXPECT_NE(said.find("then detached (KVM's own statistics count the rest): kvm:kvm_emulate_insn"),
            std::string::npos) << said;
  EXPECT_EQ(said.find("counted by a raw tracepoint"), std::string::npos) << said;
  EXPECT_EQ(said.find("every system call"), std::string::npos) << said;

  // The raw KVM_RUN edges (run's own VM) say what they cost the machine.
  for (TracepointState& t : c.tracepoints) t.raw = t.raw || t.name == "syscalls:sys_exit_ioctl";
  std::string edges;
  for (const std::string& l : DescribePlan(PlanAttach(c))) edges += l + "\n";
  EXPECT_NE(edges.find("raw tracepoints (no perf record per event): syscalls:sys_exit_ioctl"),
            std::string::npos) << edges;
  EXPECT_NE(edges.find("run a program on every system call of the machine"), std::string::npos)
      << edges;

  std::string text;
  for (const std::string& l : DescribePlan(PlanAttach(Pvm()))) text += l + "\n";
  EXPECT_EQ(text.find("raw tracepoints"), std::string::npos) << text;
  EXPECT_EQ(text.find("counted by a raw tracepoint"), std::string::npos) << text;
}

// KVM_RUN's return made from kvm_userspace_exit: the run loop still counts
// as traced at the system-call edge, and the plan says where the return
// comes from, and that sys_exit_ioctl has no program.
TEST(AttachPlan, ARunExitTakenFromKvmUserspaceExitIsSaid) {
  Capabilities c = Pvm();
  for (TracepointState& t : c.tracepoints) {
    if (t.name == "syscalls:sys_exit_ioctl") t.taken_from = "kvm:kvm_userspace_exit";
  }
  AttachPlan plan = PlanAttach(c);
  ASSERT_TRUE(plan.usable());
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).mechanism, Mechanism::Tracepoint);
  EXPECT_NE(plan.entry(ProbePoint::RunLoop).how.find("its return from kvm:kvm_userspace_exit"),
            std::string::npos)
      << plan.entry(ProbePoint::RunLoop).how;
  EXPECT_EQ(plan.taken_from,
            (std::vector<std::string>{"syscalls:sys_exit_ioctl (from kvm:kvm_userspace_exit)"}));
  std::string said;
  for (const std::string& l : DescribePlan(plan)) said += l + "\n";
  EXPECT_NE(said.find("not attached, their events made from another's: syscalls:sys_exit_ioctl"),
            std::string::npos) << said;

  // The session asks before attaching whether the edge will be used.
  EXPECT_TRUE(RunLoopAtSyscallEdge(Pvm(), AttachChoice::Auto));
  EXPECT_TRUE(RunLoopAtSyscallEdge(Pvm(), AttachChoice::Tracepoint));
  EXPECT_FALSE(RunLoopAtSyscallEdge(Pvm(), AttachChoice::Kprobe));
  EXPECT_FALSE(RunLoopAtSyscallEdge(IntelWithKprobes(), AttachChoice::Auto));
  EXPECT_FALSE(RunLoopAtSyscallEdge(IntelWithKprobes(), AttachChoice::Fentry));
  EXPECT_TRUE(RunLoopAtSyscallEdge(IntelWithKprobes(), AttachChoice::Tracepoint));
  EXPECT_TRUE(RunLoopAtSyscallEdge(AmdWithoutBtfOrKprobes(), AttachChoice::Auto));

  // Where the run loop is not traced at the system-call edge, neither is said.
  Capabilities intel = IntelWithKprobes();
  intel.tracepoints = c.tracepoints;
  EXPECT_TRUE(PlanAttach(intel).taken_from.empty());

  // Without it the edge is the system call's own, and nothing is said.
  AttachPlan own = PlanAttach(Pvm());
  EXPECT_TRUE(own.taken_from.empty());
  EXPECT_EQ(own.entry(ProbePoint::RunLoop).how.find("kvm_userspace_exit"), std::string::npos);
}

// KVM_RUN's entry made by kvmscope's VMM (and its return from
// kvm_userspace_exit): no program on the system calls at all, and the plan
// names where each edge comes from.
TEST(AttachPlan, ARunEnterMadeByTheVmmIsSaid) {
  Capabilities c = Pvm();
  for (TracepointState& t : c.tracepoints) {
    if (t.name == "syscalls:sys_enter_ioctl") t.taken_from = kRunEnterFromVmm;
    if (t.name == "syscalls:sys_exit_ioctl") t.taken_from = "kvm:kvm_userspace_exit";
  }
  AttachPlan plan = PlanAttach(c);
  ASSERT_TRUE(plan.usable());
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).mechanism, Mechanism::Tracepoint);
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).how,
            "its entry made by kvmscope's VMM, just before each KVM_RUN, and its return from "
            "kvm:kvm_userspace_exit (fired as kvm_arch_vcpu_ioctl_run returns, with its result): "
            "the same span at the system-call edge");
  EXPECT_EQ(plan.taken_from,
            (std::vector<std::string>{
                "syscalls:sys_enter_ioctl (from kvmscope's VMM, just before each KVM_RUN)",
                "syscalls:sys_exit_ioctl (from kvm:kvm_userspace_exit)"}));
  std::string said;
  for (const std::string& l : DescribePlan(plan)) said += l + "\n";
  EXPECT_EQ(said.find("every system call"), std::string::npos) << said;

  // Only the entry made: the return is the system call's own.
  for (TracepointState& t : c.tracepoints) {
    if (t.name == "syscalls:sys_exit_ioctl") t.taken_from.clear();
  }
  EXPECT_EQ(PlanAttach(c).entry(ProbePoint::RunLoop).how,
            "its entry made by kvmscope's VMM, just before each KVM_RUN, and its return from "
            "syscalls:sys_exit_ioctl: the same span at the system-call edge");
}

TEST(AttachPlan, HiddenKernelAddressesTurnStacksOffAndSaySo) {
  EXPECT_TRUE(PlanAttach(Pvm()).stacks_off.empty());
  Capabilities c = Pvm();
  c.kernel_addresses_hidden = "kernel.perf_event_paranoid=2 ...";  // a lab-room user
  AttachPlan plan = PlanAttach(c);
  EXPECT_NE(plan.stacks_off.find("kernel.perf_event_paranoid=2 ..."), std::string::npos) << plan.stacks_off;
  EXPECT_TRUE(plan.usable());  // tracing still works, without stacks
  std::vector<std::string> lines = DescribePlan(plan);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("stacks        off: /proc/kallsyms shows this user zero addresses, so", 0), 0u)
      << lines.back();
}

// --- --attach: a forced mechanism ------------------------------------------

std::vector<Mechanism> Mechanisms(const AttachPlan& plan) {
  std::vector<Mechanism> m;
  for (const PlanEntry& e : plan.entries) m.push_back(e.mechanism);
  return m;
}

TEST(AttachChoice, NamesParseBack) {
  for (AttachChoice c : {AttachChoice::Auto, AttachChoice::Kprobe, AttachChoice::Fentry,
                         AttachChoice::Tracepoint}) {
    EXPECT_EQ(ParseAttachChoice(AttachChoiceName(c)), c);
  }
  EXPECT_FALSE(ParseAttachChoice("kretprobe"));
  EXPECT_FALSE(ParseAttachChoice(""));
}

TEST(AttachPlan, OnPvmForcedTracepointIsWhatAutoPicks) {
  AttachPlan automatic = PlanAttach(Pvm());
  AttachPlan forced = PlanAttach(Pvm(), AttachChoice::Tracepoint);
  ASSERT_TRUE(forced.usable());
  EXPECT_EQ(Mechanisms(forced), Mechanisms(automatic));
  for (size_t i = 0; i < forced.entries.size(); ++i) {
    EXPECT_EQ(forced.entries[i].how, automatic.entries[i].how);
    EXPECT_TRUE(Mentions(forced.entries[i], "--attach tracepoint"));
  }
  EXPECT_EQ(forced.tracepoints, automatic.tracepoints);
  EXPECT_EQ(forced.requested, AttachChoice::Tracepoint);
  EXPECT_EQ(ForcedRefusal(forced), "");
}

TEST(AttachPlan, ForcedTracepointOnIntelLeavesWorkingKprobesAside) {
  AttachPlan plan = PlanAttach(IntelWithKprobes(), AttachChoice::Tracepoint);
  EXPECT_EQ(Mechanisms(plan), (std::vector<Mechanism>{Mechanism::Tracepoint,
                                                      Mechanism::Tracepoint,
                                                      Mechanism::Tracepoint}));
  EXPECT_NE(plan.entry(ProbePoint::ExitHandler).how.find("kvm:kvm_exit"), std::string::npos);
}

TEST(AttachPlan, ForcedFentryOnIntelUsesFentryThoughKprobesWork) {
  AttachPlan plan = PlanAttach(IntelWithKprobes(), AttachChoice::Fentry);
  EXPECT_EQ(Mechanisms(plan),
            (std::vector<Mechanism>{Mechanism::Fentry, Mechanism::Fentry, Mechanism::Fentry}));
  for (const PlanEntry& e : plan.entries) EXPECT_TRUE(e.passed.empty()) << e.target;
}

TEST(AttachPlan, ForcedKprobeOnIntelUsesKprobesOnly) {
  Capabilities c = IntelWithKprobes();
  c.kprobe_mmu = No("kprobe on kvm_mmu_page_fault: attach failed: ENOENT: blacklisted");
  AttachPlan plan = PlanAttach(c, AttachChoice::Kprobe);
  ASSERT_TRUE(plan.usable());
  EXPECT_EQ(plan.entry(ProbePoint::RunLoop).mechanism, Mechanism::Kprobe);
  // No fallback to fentry or tracepoints: the point is then not traced, and says why.
  const PlanEntry& mmu = plan.entry(ProbePoint::MmuPageFault);
  EXPECT_EQ(mmu.mechanism, Mechanism::None);
  EXPECT_TRUE(Mentions(mmu, "blacklisted"));
  EXPECT_NE(mmu.how.find("--attach kprobe"), std::string::npos);
}

TEST(AttachPlan, ForcedKprobeOnPvmIsRefusedWithTheKernelsReason) {
  Capabilities c = Pvm();
  c.kprobe_run = No("kprobe on kvm_arch_vcpu_ioctl_run: attach failed: ENOENT: this kernel has "
                    "no kprobes (no kprobe PMU)");
  AttachPlan plan = PlanAttach(c, AttachChoice::Kprobe);
  EXPECT_FALSE(plan.usable());
  for (const PlanEntry& e : plan.entries) EXPECT_EQ(e.mechanism, Mechanism::None) << e.target;
  std::string why = ForcedRefusal(plan);
  EXPECT_NE(why.find("--attach kprobe: kprobes cannot attach here"), std::string::npos) << why;
  EXPECT_NE(why.find("no kprobe PMU"), std::string::npos) << why;
  EXPECT_EQ(ForcedRefusal(PlanAttach(c)), "");  // auto falls back instead
}

TEST(AttachPlan, ForcedFentryOnPvmIsRefusedWithTheKernelsReason) {
  AttachPlan plan = PlanAttach(Pvm(), AttachChoice::Fentry);
  EXPECT_FALSE(plan.usable());
  std::string why = ForcedRefusal(plan);
  EXPECT_NE(why.find("--attach fentry: fentry (BPF tracing programs) cannot attach here"),
            std::string::npos) << why;
  EXPECT_NE(why.find("EPERM"), std::string::npos) << why;
  EXPECT_EQ(why.find("kprobe attach failed"), std::string::npos) << why;  // not tried
}

TEST(AttachPlan, ForcedPlansSayTheyWereForced) {
  AttachPlan plan = PlanAttach(Pvm(), AttachChoice::Tracepoint);
  EXPECT_EQ(PlanSummary(plan), "run loop: tracepoint · exit handler: stacks · page fault: stacks "
                               "(forced: --attach tracepoint)");
  EXPECT_NE(DescribePlan(plan).front().find("--attach tracepoint"), std::string::npos);
  EXPECT_EQ(DescribePlan(PlanAttach(Pvm())).front().find("forced"), std::string::npos);
}

// --- Refusal reasons, from the kernel's own state (files of a fake host) -----

class HostFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = std::filesystem::temp_directory_path() /
            fmt::format("kvmscope-host-{}-{}", getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(m_dir);
    m_places.kprobe_pmu = Path("kprobe");
    m_places.kprobe_blacklist = Path("blacklist");
    m_places.btf = Path("vmlinux");
    m_places.configs = {Path("config")};
    m_places.privileged = false;
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::string Path(const char* name) const { return (m_dir / name).string(); }
  void Write(const char* name, const std::string& text) const { std::ofstream(Path(name)) << text; }

  std::filesystem::path m_dir;
  KernelPlaces m_places;
};

TEST_F(HostFiles, NoKprobePmuMeansNoKprobesAndQuotesTheConfig) {
  Write("config", "CONFIG_X86=y\n# CONFIG_KPROBES is not set\nCONFIG_BPF=y\n");
  std::string why = KprobeRefusal(ENOENT, "kvm_arch_vcpu_ioctl_run", true, m_places);
  EXPECT_NE(why.find("kprobe on kvm_arch_vcpu_ioctl_run: attach failed: ENOENT"), std::string::npos);
  EXPECT_NE(why.find("this kernel has no kprobes"), std::string::npos) << why;
  EXPECT_NE(why.find("'# CONFIG_KPROBES is not set'"), std::string::npos) << why;
  std::filesystem::remove(Path("config"));  // no config to quote: said without one
  why = KprobeRefusal(ENOENT, "kvm_arch_vcpu_ioctl_run", true, m_places);
  EXPECT_NE(why.find("no kprobes"), std::string::npos) << why;
  EXPECT_EQ(why.find("CONFIG_KPROBES"), std::string::npos) << why;
}

// Another kernel's BTF, written here: the syscall edges in vmlinux, KVM's
// tracepoints in the kvm module's split BTF, with a kvm_msr of three
// arguments (not what the raw program reads) and, to show the shapes, a
// typedef'd integer, an enum and a struct passed by value.
TEST_F(HostFiles, TracepointArgsReadTheKvmModulesBtfWhereVmlinuxLacksTheEvent) {
  auto save = [this](btf* b, const char* name) {
    uint32_t size = 0;
    const void* data = btf__raw_data(b, &size);
    ASSERT_NE(data, nullptr);
    std::ofstream(Path(name), std::ios::binary).write(static_cast<const char*>(data), size);
  };
  auto probe = [](btf* b, const char* event, std::initializer_list<int> args) {
    int data = btf__add_ptr(b, 0);
    int proto = btf__add_func_proto(b, 0);  // its parameters must come right after it
    btf__add_func_param(b, "__data", data);
    for (int arg : args) btf__add_func_param(b, "", arg);
    btf__add_typedef(b, fmt::format("btf_trace_{}", event).c_str(), btf__add_ptr(b, proto));
  };
  btf* vmlinux = btf__new_empty();
  int u32 = btf__add_int(vmlinux, "unsigned int", 4, 0);
  int u64 = btf__add_int(vmlinux, "long long unsigned int", 8, 0);
  int regs = btf__add_struct(vmlinux, "pt_regs", 168);
  probe(vmlinux, "sys_enter", {btf__add_ptr(vmlinux, regs), u64});
  save(vmlinux, "vmlinux");
  btf* kvm = btf__new_empty_split(vmlinux);
  int u32_typedef = btf__add_typedef(kvm, "u32", u32);
  probe(kvm, "kvm_msr", {u32, u32_typedef, u64});
  int kind = btf__add_enum(kvm, "ks_kind", 4);
  btf__add_enum_value(kvm, "KS_ONE", 1);
  int bool_type = btf__add_int(kvm, "_Bool", 1, BTF_INT_BOOL);
  probe(kvm, "kvm_odd", {kind, bool_type, regs});
  save(kvm, "kvm");
  btf__free(kvm);
  btf__free(vmlinux);

  TracepointArgs args(m_dir.string());
  EXPECT_EQ(args.Of("sys_enter"), "p8");
  EXPECT_EQ(args.Of("kvm_msr"), "448");  // the raw program reads 4481: perf is used
  EXPECT_EQ(args.Of("kvm_odd"), "41?");
  EXPECT_EQ(args.Of("kvm_pio"), "");
  std::filesystem::remove(Path("kvm"));  // KVM without module BTF: nothing of it known
  EXPECT_EQ(TracepointArgs(m_dir.string()).Of("kvm_msr"), "");
}

TEST_F(HostFiles, WithKprobesTheFunctionItselfIsTheReason) {
  std::filesystem::create_directories(Path("kprobe"));
  Write("blacklist", "0xffffffff81001000-0xffffffff81001020\tdo_int3\n"
                     "0xffffffff81002000-0xffffffff81002040\tkvm_mmu_page_fault\n");
  std::string why = KprobeRefusal(EINVAL, "kvm_mmu_page_fault", true, m_places);
  EXPECT_NE(why.find("kprobe blacklist"), std::string::npos) << why;
  why = KprobeRefusal(ENOENT, "vcpu_enter_guest", false, m_places);
  EXPECT_NE(why.find("not in /proc/kallsyms"), std::string::npos) << why;
  why = KprobeRefusal(ENOENT, "pvm_handle_exit", true, m_places);
  EXPECT_NE(why.find("refuses a probe on pvm_handle_exit"), std::string::npos) << why;
  EXPECT_EQ(why.find("no kprobes"), std::string::npos) << why;
  why = KprobeRefusal(EPERM, "pvm_handle_exit", true, m_places);
  EXPECT_NE(why.find("needs root"), std::string::npos) << why;
  m_places.privileged = true;  // as root, EPERM is the kernel saying no
  why = KprobeRefusal(EPERM, "pvm_handle_exit", true, m_places);
  EXPECT_EQ(why.find("needs root"), std::string::npos) << why;
}

TEST_F(HostFiles, FentryReasons) {
  Write("config", "CONFIG_DEBUG_INFO_BTF is not here\n# CONFIG_DEBUG_INFO_BTF is not set\n");
  std::string why = FentryRefusal(ENOENT, "kvm_arch_vcpu_ioctl_run", "", m_places);
  EXPECT_NE(why.find("no kernel BTF"), std::string::npos) << why;
  EXPECT_NE(why.find("# CONFIG_DEBUG_INFO_BTF is not set"), std::string::npos) << why;
  Write("vmlinux", "BTF");
  why = FentryRefusal(ESRCH, "pvm_handle_exit",
                      "libbpf: prog 'x': failed to find kernel BTF type ID of 'pvm_handle_exit'",
                      m_places);
  EXPECT_NE(why.find("attach target pvm_handle_exit is not in the kernel's BTF"),
            std::string::npos) << why;
  why = FentryRefusal(ENOTSUP, "kvm_arch_vcpu_ioctl_run", "", m_places);
  EXPECT_NE(why.find("refuses BPF tracing programs"), std::string::npos) << why;
  why = FentryRefusal(EPERM, "kvm_arch_vcpu_ioctl_run", "", m_places);
  EXPECT_NE(why.find("need root"), std::string::npos) << why;
  m_places.privileged = true;  // what these machines do: EPERM for root
  why = FentryRefusal(EPERM, "kvm_arch_vcpu_ioctl_run", "", m_places);
  EXPECT_NE(why.find("EPERM (Operation not permitted) as root: the kernel refuses BPF tracing "
                     "programs"),
            std::string::npos) << why;
}

// --- /proc/kallsyms and /proc/modules, bounded ------------------------------

TEST_F(HostFiles, KallsymsBoundsEverySymbolByTheNextEntryAndItsModule) {
  Write("kallsyms",
        "ffffffff81000000 T _stext\n"
        "ffffffff81000100 T do_syscall_64\n"
        "ffffffff81000200 D some_data\n"  // a data entry bounds the function before it
        "ffffffff81000400 t p9_errstr2errno.cold\n"
        "ffffffff81000500 T _etext\n"
        "ffffffffc0001000 t vmx_handle_exit\t[kvm_intel]\n"
        "ffffffffc0001200 t mpls_gso_exit\t[mpls_gso]\n"
        "ffffffffc0100000 t bpf_prog_6deef7357e7b4530_run_sys_enter\t[bpf]\n"
        "ffffffffc0100800 t bpf_trampoline_6442491234\t[bpf]\n");
  Write("modules", "kvm_intel 4096 0 - Live 0xffffffffc0001000\n"
                   "mpls_gso 256 0 - Live 0xffffffffc0001200 (O)\n");
  bool zero = true;
  traces::SymbolTable t = LoadKallsyms(Path("kallsyms"), &zero, Path("modules"));
  EXPECT_FALSE(zero);
  ASSERT_NE(t.Find(0xffffffff81000150), nullptr);
  EXPECT_EQ(t.Find(0xffffffff81000150)->name, "do_syscall_64");
  EXPECT_EQ(t.Find(0xffffffff81000150)->end, 0xffffffff81000200u);
  EXPECT_EQ(t.Find(0xffffffff81000250), nullptr);  // in some_data, not do_syscall_64
  EXPECT_EQ(t.Find(0xffffffffc0001100)->name, "vmx_handle_exit");
  // mpls_gso ends at its module's end: what lies beyond is not mpls_gso_exit.
  EXPECT_EQ(t.Find(0xffffffffc0001250)->name, "mpls_gso_exit");
  EXPECT_EQ(t.Find(0xffffffffc0001300), nullptr);
  EXPECT_EQ(t.Format(0xffffffffc0001300), "[unknown 0xffffffffc0001300]");
  // BPF programs and trampolines are named for what they are.
  EXPECT_EQ(t.Find(0xffffffffc0100010)->name, "[bpf program run_sys_enter]");
  EXPECT_EQ(t.Find(0xffffffffc0100010)->module, "bpf");
  EXPECT_EQ(t.Find(0xffffffffc0100840)->name, "[bpf trampoline]");
  // The last entry: no further than its page.
  EXPECT_EQ(t.Find(0xffffffffc0100fff)->name, "[bpf trampoline]");
  EXPECT_EQ(t.Find(0xffffffffc0101000), nullptr);
  EXPECT_FALSE(t.Has("some_data"));  // functions only
  for (const traces::Symbol& s : t.symbols()) EXPECT_GT(s.end, s.addr) << s.name;
}

TEST_F(HostFiles, HiddenAddressesAreNoticed) {
  Write("kallsyms", "0000000000000000 T _stext\n0000000000000000 t vmx_handle_exit\t[kvm_intel]\n");
  bool zero = false;
  LoadKallsyms(Path("kallsyms"), &zero, Path("no-modules"));
  EXPECT_TRUE(zero);
  zero = false;
  EXPECT_EQ(KallsymsFunctions({"vmx_handle_exit"}, &zero, Path("kallsyms")).size(), 1u);
  EXPECT_TRUE(zero);
}

// Before attaching only the probe points' names are looked for: functions
// (a data symbol of the same name is not one), module symbols by their
// name alone, and what the table would say of hidden addresses.
TEST_F(HostFiles, KallsymsFunctionsFindsOnlyTheNamesAskedFor) {
  Write("kallsyms", "ffffffff81000000 T _stext\n"
                    "ffffffff81000100 T kvm_arch_vcpu_ioctl_run\n"
                    "ffffffff81000200 D kvm_mmu_page_fault\n"
                    "ffffffffc0001000 t svm_handle_exit\t[kvm_amd]\n"
                    "ffffffffc0001100 t svm_handle_exit_irqoff\t[kvm_amd]\n");
  bool zero = true;
  std::set<std::string, std::less<>> found = KallsymsFunctions(
      {"kvm_arch_vcpu_ioctl_run", "kvm_mmu_page_fault", "svm_handle_exit", "vmx_handle_exit"},
      &zero, Path("kallsyms"));
  EXPECT_EQ(found, (std::set<std::string, std::less<>>{"kvm_arch_vcpu_ioctl_run",
                                                        "svm_handle_exit"}));
  EXPECT_FALSE(zero);
  EXPECT_EQ(BackendFromFunctions(found), Backend::Svm);
  EXPECT_EQ(BackendFromSymbols(LoadKallsyms(Path("kallsyms"), nullptr, Path("no-modules"))),
            Backend::Svm);
  EXPECT_THROW(KallsymsFunctions({"x"}, nullptr, Path("absent")), ProbeError);
}

// Why they are hidden, by the kernel's rule for each kptr_restrict.
TEST_F(HostFiles, HiddenAddressesAreExplainedByTheSysctlsThatHideThem) {
  Write("kptr_restrict", "0\n");
  Write("perf_event_paranoid", "3\n");
  std::string why = HiddenAddressesWhy(Path(""));
  EXPECT_EQ(why.rfind("kernel.perf_event_paranoid=3 (above 1) shows them only with CAP_SYSLOG", 0), 0u) << why;
  Write("kptr_restrict", "1\n");
  why = HiddenAddressesWhy(Path(""));
  EXPECT_EQ(why.rfind("kernel.kptr_restrict=1 shows them only with CAP_SYSLOG", 0), 0u) << why;
  Write("kptr_restrict", "2\n");
  why = HiddenAddressesWhy(Path(""));
  EXPECT_NE(why.find("root included"), std::string::npos) << why;
}

// --- Module parameters and the platform (files of a fake host) --------------

TEST_F(HostFiles, ModuleParametersAreReadWhereTheyExistAndAbsentElsewhere) {
  std::filesystem::create_directories(Path("module/kvm_intel/parameters"));
  std::filesystem::create_directories(Path("module/kvm/parameters"));
  Write("module/kvm_intel/parameters/ept", "N\n");
  Write("module/kvm_intel/parameters/unrestricted_guest", "N\n");
  Write("module/kvm_intel/parameters/nested", "Y\n");  // not one that changes what is shown
  Write("module/kvm/parameters/tdp_mmu", "Y\n");
  const std::map<std::string, std::string> params = KvmModuleParams(Path("module"));
  EXPECT_EQ(params, (std::map<std::string, std::string>{{"kvm.tdp_mmu", "Y"},
                                                        {"kvm_intel.ept", "N"},
                                                        {"kvm_intel.unrestricted_guest", "N"}}));
  traces::HostFacts host;
  host.module_params = params;
  EXPECT_EQ(host.ModuleParamsText(), "kvm.tdp_mmu=Y kvm_intel.ept=N kvm_intel.unrestricted_guest=N");
  EXPECT_TRUE(KvmModuleParams(Path("no-such-dir")).empty());
}

TEST_F(HostFiles, PlatformEvidenceComesFromCpuinfoAndDmi) {
  Write("cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Core(TM) i7-7800X CPU @ 3.50GHz\n"
                   "flags\t\t: fpu vme vmx ept\n");
  std::filesystem::create_directories(Path("dmi"));
  Write("dmi/bios_vendor", "The Bochs Project\n");
  PlatformPlaces places{Path("cpuinfo"), Path("dmi"), false};
  const PlatformEvidence e = ReadPlatformEvidence(places);
  EXPECT_TRUE(e.cpuinfo);
  EXPECT_FALSE(e.hypervisor_flag);
  EXPECT_EQ(e.cpu_model, "Intel(R) Core(TM) i7-7800X CPU @ 3.50GHz");
  EXPECT_TRUE(e.dmi);
  EXPECT_EQ(e.bios_vendor, "The Bochs Project");
  EXPECT_EQ(e.sys_vendor, "");  // absent file
  const Platform p = ClassifyPlatform(e);
  EXPECT_EQ(p.name, "emulator (Bochs)");  // though the model name looks real
  EXPECT_NE(p.evidence.find("bios_vendor 'The Bochs Project'"), std::string::npos) << p.evidence;
  EXPECT_NE(p.evidence.find("cpuinfo: no hypervisor flag"), std::string::npos) << p.evidence;

  Write("cpuinfo", "model name\t: AMD Ryzen 7 7840U\nflags\t\t: fpu svm\n");
  std::filesystem::remove_all(Path("dmi"));
  const Platform metal = DetectPlatform(places);
  EXPECT_EQ(metal.name, "bare metal");
  EXPECT_NE(metal.evidence.find("DMI: none"), std::string::npos) << metal.evidence;
  // A "hypervisor" inside another word is no flag.
  Write("cpuinfo", "flags\t\t: fpu nohypervisor\n");
  EXPECT_FALSE(ReadPlatformEvidence(places).hypervisor_flag);
  EXPECT_EQ(DetectPlatform({Path("none"), Path("none"), false}).name, "unknown");
}

// Evidence of a host with cpuinfo, the hypervisor flag when `signature` or
// `flag`, and no DMI unless set after.
PlatformEvidence Evidence(bool flag, std::string signature, std::string model = "") {
  PlatformEvidence e;
  e.cpuinfo = true;
  e.hypervisor_flag = flag;
  e.cpuid_signature = std::move(signature);
  e.cpu_model = std::move(model);
  return e;
}

TEST(Platform, TheSignatureDecidesThenFirmwareThenTheModelThenTheFlag) {
  auto name = [](const PlatformEvidence& e) { return ClassifyPlatform(e).name; };
  PlatformEvidence kvm = Evidence(true, "KVMKVMKVM");
  EXPECT_EQ(name(kvm), "virtual machine (KVM)");
  kvm.dmi = true;
  kvm.sys_vendor = "QEMU";  // QEMU with KVM: the signature wins
  EXPECT_EQ(name(kvm), "virtual machine (KVM)");
  EXPECT_EQ(name(Evidence(true, "TCGTCGTCGTCG")), "emulator (QEMU TCG)");
  // The SVM test host: QEMU's firmware and model name, whatever CPUID says.
  PlatformEvidence svm_host = Evidence(true, "", "QEMU Virtual CPU version 2.5+");
  svm_host.dmi = true;
  svm_host.sys_vendor = "QEMU";
  svm_host.product_name = "Standard PC (Q35 + ICH9, 2009)";
  EXPECT_EQ(name(svm_host), "emulator (QEMU TCG)");
  svm_host.dmi = false;
  svm_host.sys_vendor = svm_host.product_name = "";
  EXPECT_EQ(name(svm_host), "emulator (QEMU TCG)");  // the model name alone
  EXPECT_EQ(name(Evidence(true, "Microsoft Hv")), "virtual machine (Hyper-V)");
  EXPECT_EQ(name(Evidence(true, "NewHyperv")), "virtual machine (hypervisor 'NewHyperv')");
  EXPECT_EQ(name(Evidence(true, "")), "virtual machine (unknown hypervisor)");
  EXPECT_EQ(name(Evidence(false, "", "Intel(R) Core(TM) i7-7800X CPU @ 3.50GHz")), "bare metal");
}

TEST(Convert, EveryAbiKindMapsToItsOwnKernelEventKind) {
  std::set<traces::KernelEventKind> kinds;
  for (uint32_t raw = 0; raw < KS_KIND_COUNT; ++raw) {
    std::optional<traces::KernelEventKind> k = KindFromRaw(raw);
    ASSERT_TRUE(k) << raw;
    kinds.insert(*k);
  }
  EXPECT_EQ(kinds.size(), static_cast<size_t>(KS_KIND_COUNT));
  EXPECT_EQ(kinds.size(), traces::kKernelEventKinds);
  EXPECT_FALSE(KindFromRaw(KS_KIND_COUNT));
}

TEST(Convert, CopiesTheRecordFieldByField) {
  kvmscope_event raw{};
  raw.ts_ns = 123456789;
  raw.pid = 10;
  raw.tid = 11;
  raw.cpu = 1;
  raw.kind = KS_PIO;
  raw.stack_id = 7;
  raw.a[0] = 1;
  raw.a[1] = 0x3f8;
  raw.a[4] = 0x48;
  std::optional<traces::KernelEvent> ev = ToKernelEvent(raw);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->time_ns, 123456789);
  EXPECT_EQ(ev->pid, 10u);
  EXPECT_EQ(ev->tid, 11u);
  EXPECT_EQ(ev->cpu, 1u);
  EXPECT_EQ(ev->kind, traces::KernelEventKind::Pio);
  EXPECT_EQ(ev->stack_id, -1);  // interned by the session, not copied
  EXPECT_EQ(ev->a[1], 0x3f8u);
  EXPECT_EQ(traces::DescribeKernelEvent(*ev).find("kvm_pio"), 0u);
  raw.kind = 999;
  EXPECT_FALSE(ToKernelEvent(raw));
}

TEST(Convert, AKprobeRunEdgeNamesItsVcpu) {
  kvmscope_event raw{};
  raw.kind = KS_RUN_EXIT;
  raw.flags = KS_RUN_FROM_KPROBE | KS_RUN_HAS_VCPU;
  raw.a[1] = 3;
  raw.a[2] = raw.flags;  // the BPF side copies the flags into a[2]
  std::optional<traces::KernelEvent> ev = ToKernelEvent(raw);
  ASSERT_TRUE(ev);
  EXPECT_EQ(traces::RunEdgeVcpuId(ev->a), 3);
  raw.a[2] = KS_RUN_FROM_SYSCALL;  // the syscall edge knows only the fd
  EXPECT_EQ(traces::RunEdgeVcpuId(ToKernelEvent(raw)->a), -1);
}

TEST(StreamKinds, ExternalVmmsStreamAllButThePerInstructionKinds) {
  using K = traces::KernelEventKind;
  for (size_t k = 0; k < traces::kKernelEventKinds; ++k) {
    const auto kind = static_cast<K>(k);
    const bool dropped = kind == K::EmulateInsn || kind == K::MmuWalk || kind == K::MmuSetSpte;
    EXPECT_EQ((kExternalVmmStreamKinds & StreamBit(kind)) == 0, dropped)
        << traces::KernelEventName(kind);
    EXPECT_NE(kStreamAllKinds & StreamBit(kind), 0u);
  }
  EXPECT_EQ(SessionOptions{}.stream_kinds, kStreamAllKinds);
}

// The running kernel's BTF: sys_enter(struct pt_regs *regs, long id) and
// sys_exit(regs, long ret) (include/trace/events/syscalls.h) on every
// x86-64 kernel with BTF; kvm_pio(rw, port, size, count, const void *data)
// and kvm_userspace_exit(__u32 reason, int errno) wherever KVM's BTF is
// there (vmlinux or the kvm module).
TEST(TracepointArgs, ReadsEachTracepointsPrototypeFromTheKernelsBtf) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "this kernel has no BTF";
  TracepointArgs args;
  EXPECT_EQ(args.Of("sys_enter"), "p8");
  EXPECT_EQ(args.Of("sys_exit"), "p8");
  EXPECT_EQ(args.Of("no_such_tracepoint_ks"), "");
  if (std::string pio = args.Of("kvm_pio"); !pio.empty()) {
    EXPECT_EQ(pio, "4444p");
    EXPECT_EQ(args.Of("kvm_userspace_exit"), "44");
  }
  EXPECT_EQ(TracepointArgs("/nonexistent").Of("sys_enter"), "");
}

}  // namespace
}  // namespace kvmscope::probes

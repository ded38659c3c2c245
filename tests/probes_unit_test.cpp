// The attach plan against simulated hosts (Intel with kprobes, AMD without
// BTF, PVM as on these machines, nothing at all), and the one conversion
// from the BPF record ABI to traces events.
#include <gtest/gtest.h>

#include <set>

#include "probes/convert.h"
#include "probes/plan.h"

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

}  // namespace
}  // namespace kvmscope::probes

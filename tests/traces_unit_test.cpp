// Unit tests of the trace model: kernel-event decoding and the x86/KVM name
// tables, symbol lookup, stack interning and call chains (the join of VMM
// runs with kernel events: traces_run_join_test.cpp). Synthetic data only;
// no KVM or BPF needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "traces/kernel_event.h"
#include "traces/symbols.h"

namespace kvmscope::traces {
namespace {

KernelEvent Make(KernelEventKind kind, std::array<uint64_t, 6> a = {}, int64_t time_ns = 0,
                 uint32_t tid = 1) {
  KernelEvent e;
  e.kind = kind;
  e.a = a;
  e.time_ns = time_ns;
  e.tid = tid;
  e.pid = tid;
  return e;
}

const Field& Get(const std::vector<Field>& fields, std::string_view name) {
  auto it =
      std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; });
  if (it == fields.end()) {
    ADD_FAILURE() << "no field " << name;
    static const Field kNone;
    return kNone;
  }
  return *it;
}

std::vector<std::string_view> Names(const std::vector<Field>& fields) {
  std::vector<std::string_view> names;
  for (const Field& f : fields) names.push_back(f.name);
  return names;
}

using V = std::vector<std::string_view>;

// --- names -----------------------------------------------------------------

TEST(KernelEventName, KernelSpellings) {
  EXPECT_EQ(KernelEventName(KernelEventKind::Pio), "kvm_pio");
  EXPECT_EQ(KernelEventName(KernelEventKind::KvmExit), "kvm_exit");
  EXPECT_EQ(KernelEventName(KernelEventKind::MmuWalk), "kvm_mmu_pagetable_walk");
  EXPECT_EQ(KernelEventName(KernelEventKind::MmuPageFault), "kvm_mmu_page_fault");
  EXPECT_EQ(KernelEventName(KernelEventKind::RunEnter), "KVM_RUN enter");
  EXPECT_EQ(KernelEventName(KernelEventKind::RunExit), "KVM_RUN exit");
  EXPECT_EQ(KernelEventName(KernelEventKind::ExitHandler), "exit handler");
  EXPECT_EQ(KernelEventName(KernelEventKind::Count), "");
}

TEST(KernelEventName, RoundTripsForEveryKind) {
  std::set<std::string_view> seen;
  for (size_t i = 0; i < kKernelEventKinds; ++i) {
    const auto kind = static_cast<KernelEventKind>(i);
    const std::string_view name = KernelEventName(kind);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(KernelEventKindFromName(name), kind) << name;
  }
}

TEST(KernelEventName, FromNameAcceptsTracefsGroupAndRejectsUnknown) {
  EXPECT_EQ(KernelEventKindFromName("kvm:kvm_pio"), KernelEventKind::Pio);
  EXPECT_EQ(KernelEventKindFromName("kvmmmu:kvm_mmu_set_spte"), KernelEventKind::MmuSetSpte);
  EXPECT_EQ(KernelEventKindFromName("kvm_nonexistent"), std::nullopt);
  EXPECT_EQ(KernelEventKindFromName(""), std::nullopt);
}

TEST(X86Names, VmxExitReasons) {
  EXPECT_EQ(VmxExitReasonName(0), "EXCEPTION_NMI");
  EXPECT_EQ(VmxExitReasonName(1), "EXTERNAL_INTERRUPT");
  EXPECT_EQ(VmxExitReasonName(10), "CPUID");
  EXPECT_EQ(VmxExitReasonName(12), "HLT");
  EXPECT_EQ(VmxExitReasonName(30), "IO_INSTRUCTION");
  EXPECT_EQ(VmxExitReasonName(48), "EPT_VIOLATION");
  EXPECT_EQ(VmxExitReasonName(49), "EPT_MISCONFIG");
  EXPECT_EQ(VmxExitReasonName(75), "NOTIFY");
  EXPECT_EQ(VmxExitReasonName(5), "");  // not defined (IO SMI)
  EXPECT_EQ(VmxExitReasonName(200), "");
  // The basic reason is bits 15:0; FAILED_VMENTRY (bit 31) does not hide it.
  EXPECT_EQ(VmxExitReasonName(0x80000021), "INVALID_STATE");
}

TEST(X86Names, SvmExitCodes) {
  EXPECT_EQ(SvmExitCodeName(0x000), "READ_CR0");
  EXPECT_EQ(SvmExitCodeName(0x400), "NPF");
  EXPECT_EQ(SvmExitCodeName(0x040), "EXCP_DE");
  EXPECT_EQ(SvmExitCodeName(0x04e), "EXCP_PF");  // SVM_EXIT_EXCP_BASE + 14
  EXPECT_EQ(SvmExitCodeName(0x05f), "EXCP_31");
  EXPECT_EQ(SvmExitCodeName(0x060), "INTR");
  EXPECT_EQ(SvmExitCodeName(0x072), "CPUID");
  EXPECT_EQ(SvmExitCodeName(0x078), "HLT");
  EXPECT_EQ(SvmExitCodeName(0x07b), "IOIO");
  EXPECT_EQ(SvmExitCodeName(0x07c), "MSR");
  EXPECT_EQ(SvmExitCodeName(0x081), "VMMCALL");
  EXPECT_EQ(SvmExitCodeName(0x401), "AVIC_INCOMPLETE_IPI");
  EXPECT_EQ(SvmExitCodeName(0x403), "VMGEXIT");
  EXPECT_EQ(SvmExitCodeName(UINT64_MAX), "ERR");
  EXPECT_EQ(SvmExitCodeName(0xffffffff), "ERR");  // -1 as kvm_exit's u32 field
  EXPECT_EQ(SvmExitCodeName(0x001), "");
}

TEST(X86Names, KvmExitReasons) {
  EXPECT_EQ(KvmExitReasonName(0), "UNKNOWN");
  EXPECT_EQ(KvmExitReasonName(2), "IO");
  EXPECT_EQ(KvmExitReasonName(5), "HLT");
  EXPECT_EQ(KvmExitReasonName(6), "MMIO");
  EXPECT_EQ(KvmExitReasonName(8), "SHUTDOWN");
  EXPECT_EQ(KvmExitReasonName(17), "INTERNAL_ERROR");
  EXPECT_EQ(KvmExitReasonName(29), "X86_RDMSR");
  EXPECT_EQ(KvmExitReasonName(37), "NOTIFY");
  EXPECT_EQ(KvmExitReasonName(39), "MEMORY_FAULT");
  EXPECT_EQ(KvmExitReasonName(1000), "");
}

TEST(X86Names, Exceptions) {
  EXPECT_EQ(ExceptionMnemonic(0), "#DE");
  EXPECT_EQ(ExceptionMnemonic(2), "NMI");
  EXPECT_EQ(ExceptionMnemonic(6), "#UD");
  EXPECT_EQ(ExceptionMnemonic(8), "#DF");
  EXPECT_EQ(ExceptionMnemonic(13), "#GP");
  EXPECT_EQ(ExceptionMnemonic(14), "#PF");
  EXPECT_EQ(ExceptionMnemonic(19), "#XM");
  EXPECT_EQ(ExceptionMnemonic(21), "#CP");
  EXPECT_EQ(ExceptionMnemonic(15), "");  // reserved
  EXPECT_EQ(ExceptionMnemonic(32), "");
  EXPECT_EQ(ExceptionName(14), "page fault");
  EXPECT_EQ(ExceptionName(13), "general protection");
  EXPECT_EQ(ExceptionName(32), "");
  for (uint32_t v = 0; v < 32; ++v) EXPECT_FALSE(ExceptionName(v).empty()) << v;
}

TEST(X86Names, PageFaultErrorText) {
  const std::string text = PageFaultErrorText(0x6);
  EXPECT_NE(text.find("write"), std::string::npos);
  EXPECT_NE(text.find("user"), std::string::npos);
  EXPECT_EQ(text.find("present"), std::string::npos);
  EXPECT_EQ(text, "write|user");
  EXPECT_EQ(PageFaultErrorText(0x1), "present");
  EXPECT_EQ(PageFaultErrorText(0x11), "present|fetch");
  EXPECT_EQ(PageFaultErrorText(0x8000), "sgx");
  EXPECT_EQ(PageFaultErrorText(0x100000000), "guest-final");
  // No bit set is a fault of its own, spelled out.
  EXPECT_EQ(PageFaultErrorText(0), "read, not present, kernel");
  // Bits with no name are kept, not dropped.
  EXPECT_EQ(PageFaultErrorText(0x2 | 0x100), "write|0x100");
}

// --- decoding --------------------------------------------------------------

TEST(DecodeFields, Pio) {
  const auto f = DecodeFields(Make(KernelEventKind::Pio, {1, 0x3f8, 1, 1, 0x48}));
  EXPECT_EQ(Names(f), (V{"rw", "port", "size", "count", "val"}));
  EXPECT_EQ(Get(f, "rw").text, "out");
  EXPECT_EQ(Get(f, "rw").value, 1u);
  EXPECT_EQ(Get(f, "port").text, "0x3f8");
  EXPECT_EQ(Get(f, "port").value, 0x3f8u);
  EXPECT_EQ(Get(f, "size").text, "1");
  EXPECT_EQ(Get(f, "val").text, "0x48");
  EXPECT_EQ(Get(DecodeFields(Make(KernelEventKind::Pio, {0, 0x60, 1, 1, 0})), "rw").text, "in");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::Pio, {1, 0x3f8, 1, 1, 0x48})),
            "kvm_pio out port=0x3f8 size=1 val=0x48");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::Pio, {0, 0x1f0, 2, 256, 0x1234})),
            "kvm_pio in port=0x1f0 size=2 count=256 val=0x1234");
}

// A KVM_RUN return made from kvm_userspace_exit says so; one the system
// call's edge saw does not.
TEST(DecodeFields, RunExitSaysWhereItCameFrom) {
  const auto made = DecodeFields(Make(KernelEventKind::RunExit, {0, 0, kRunFromUserspaceExit}));
  EXPECT_EQ(Names(made), (V{"ret", "from"}));
  EXPECT_NE(Get(made, "from").text.find("kvm_userspace_exit's time and result"), std::string::npos);
  const auto own = DecodeFields(Make(KernelEventKind::RunExit, {static_cast<uint64_t>(-4), 0,
                                                                kRunFromSyscall}));
  EXPECT_EQ(Names(own), (V{"ret"}));
}

// A KVM_RUN entry made by kvmscope's VMM says so, and has no fd; one the
// system call's edge saw names its fd.
TEST(DecodeFields, RunEnterSaysWhereItCameFrom) {
  const auto made =
      DecodeFields(Make(KernelEventKind::RunEnter, {0, 1, kRunFromVmm | kRunHasVcpu}));
  EXPECT_EQ(Names(made), (V{"from"}));
  EXPECT_NE(Get(made, "from").text.find("kvmscope's VMM, just before it called KVM_RUN"),
            std::string::npos);
  const auto own = DecodeFields(Make(KernelEventKind::RunEnter, {7, 0, kRunFromSyscall}));
  EXPECT_EQ(Names(own), (V{"fd"}));
  EXPECT_EQ(Get(own, "fd").text, "7");
}

TEST(DecodeFields, KvmExitVmx) {
  // EPT violation on a write, VMX.
  const auto e = Make(KernelEventKind::KvmExit, {48, 0x1000, 1, 0x182, 0xfee00000, 0});
  const auto f = DecodeFields(e);
  EXPECT_EQ(Names(f),
            (V{"exit_reason", "guest_rip", "isa", "info1", "info2", "intr_info", "error_code"}));
  EXPECT_EQ(Get(f, "exit_reason").text, "EPT_VIOLATION");
  EXPECT_EQ(Get(f, "exit_reason").value, 48u);
  EXPECT_EQ(Get(f, "guest_rip").text, "0x1000");
  EXPECT_EQ(Get(f, "isa").text, "VMX");
  EXPECT_EQ(Get(f, "info1").text, "0x182");
  EXPECT_EQ(Get(f, "info2").text, "0xfee00000");
  EXPECT_EQ(DescribeKernelEvent(e),
            "kvm_exit reason=EPT_VIOLATION rip=0x1000 info1=0x182 info2=0xfee00000");
  // A failed VM entry keeps its basic reason and says it failed.
  EXPECT_EQ(
      Get(DecodeFields(Make(KernelEventKind::KvmExit, {0x80000021, 0, 1})), "exit_reason").text,
      "INVALID_STATE FAILED_VMENTRY");
}

TEST(DecodeFields, KvmExitSvmAndIntrInfo) {
  // #PF intercepted on SVM: intr_info low, error code high in a5.
  const uint64_t intr_info = 0x80000b0e;  // valid, error code, hardware exception, vector 14
  const auto e = Make(KernelEventKind::KvmExit,
                      {0x4e, 0x401000, 2, 0x6, 0x7000, intr_info | (uint64_t{0x6} << 32)});
  const auto f = DecodeFields(e);
  EXPECT_EQ(Get(f, "exit_reason").text, "EXCP_PF");
  EXPECT_EQ(Get(f, "isa").text, "SVM");
  EXPECT_EQ(Get(f, "intr_info").value, intr_info);
  // SVM's EXITINTINFO is the event being delivered when the exit came.
  EXPECT_EQ(Get(f, "intr_info").text, "0x80000b0e (delivering hardware exception #PF)");
  EXPECT_EQ(Get(f, "error_code").value, 0x6u);
  EXPECT_EQ(Get(f, "error_code").text, "0x6");
  EXPECT_EQ(Get(DecodeFields(Make(KernelEventKind::KvmExit, {0x400, 0, 2})), "exit_reason").text,
            "NPF");
  // An ISA kvmscope does not know: the reason stays a number.
  EXPECT_EQ(Get(DecodeFields(Make(KernelEventKind::KvmExit, {0x7b, 0, 0})), "exit_reason").text,
            "0x7b");
}

TEST(DecodeFields, UserspaceExit) {
  const auto f = DecodeFields(Make(KernelEventKind::UserspaceExit, {2, 0}));
  EXPECT_EQ(Names(f), (V{"reason", "errno"}));
  EXPECT_EQ(Get(f, "reason").text, "IO");
  EXPECT_EQ(Get(f, "errno").text, "0");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::UserspaceExit, {2, 0})),
            "kvm_userspace_exit reason=IO");
  // errno is an int32: -4 arrives as 0xfffffffc.
  const auto intr = Make(KernelEventKind::UserspaceExit, {10, 0xfffffffc});
  EXPECT_EQ(Get(DecodeFields(intr), "errno").text, "-4 (EINTR)");
  EXPECT_EQ(DescribeKernelEvent(intr), "kvm_userspace_exit reason=INTR errno=-4 (EINTR)");
}

TEST(DecodeFields, RunEnterExitAndHandlers) {
  EXPECT_EQ(Get(DecodeFields(Make(KernelEventKind::RunEnter, {5})), "fd").text, "5");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::RunEnter)), "KVM_RUN enter");
  const auto ret = Make(KernelEventKind::RunExit, {static_cast<uint64_t>(int64_t{-4})});
  EXPECT_EQ(Get(DecodeFields(ret), "ret").text, "-4 (EINTR)");
  EXPECT_EQ(DescribeKernelEvent(ret), "KVM_RUN exit ret=-4 (EINTR)");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::RunExit, {0})), "KVM_RUN exit ret=0");
  EXPECT_EQ(
      Get(DecodeFields(Make(KernelEventKind::RunExit, {static_cast<uint64_t>(-14)})), "ret").text,
      "-14 (EFAULT)");
  EXPECT_EQ(
      Get(DecodeFields(Make(KernelEventKind::RunExit, {static_cast<uint64_t>(-9999)})), "ret").text,
      "-9999");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::ExitHandler)), "exit handler");
  EXPECT_EQ(Get(DecodeFields(Make(KernelEventKind::ExitHandler, {1})), "exit_fastpath").text,
            "EXIT_FASTPATH_REENTER_GUEST");
  const auto pf = Make(KernelEventKind::MmuPageFault, {0x7000, 0x6});
  const auto f = DecodeFields(pf);
  EXPECT_EQ(Names(f), (V{"cr2_or_gpa", "error_code"}));
  EXPECT_EQ(Get(f, "cr2_or_gpa").text, "0x7000");
  EXPECT_EQ(Get(f, "error_code").text, "0x6 (write|user)");
  EXPECT_EQ(DescribeKernelEvent(pf),
            "kvm_mmu_page_fault cr2_or_gpa=0x7000 error_code=0x6 (write|user)");
}

TEST(DecodeFields, Mmio) {
  for (auto [type, text] : {std::pair{0, "unsatisfied-read"}, {1, "read"}, {2, "write"}}) {
    const auto f = DecodeFields(
        Make(KernelEventKind::Mmio, {static_cast<uint64_t>(type), 4, 0xd0000000, 0x2a}));
    EXPECT_EQ(Get(f, "type").text, text);
  }
  const auto e = Make(KernelEventKind::Mmio, {2, 4, 0xd0000000, 0x2a});
  EXPECT_EQ(Names(DecodeFields(e)), (V{"type", "len", "gpa", "val"}));
  EXPECT_EQ(Get(DecodeFields(e), "gpa").text, "0xd0000000");
  EXPECT_EQ(DescribeKernelEvent(e), "kvm_mmio write gpa=0xd0000000 len=4 val=0x2a");
}

TEST(DecodeFields, EmulateInsn) {
  // mov %eax,(%rbx) = 89 03, in 64-bit mode (CR0_PE | CS_L), not failed.
  const auto e = Make(KernelEventKind::EmulateInsn, {0x1234, 0, 2 | (9 << 8), 0x0389, 0});
  const auto f = DecodeFields(e);
  EXPECT_EQ(Names(f), (V{"rip", "csbase", "len", "insn", "flags", "failed"}));
  EXPECT_EQ(Get(f, "len").value, 2u);
  EXPECT_EQ(Get(f, "insn").text, "89 03");
  EXPECT_EQ(Get(f, "flags").text, "prot64");
  EXPECT_EQ(Get(f, "failed").text, "false");
  EXPECT_EQ(DescribeKernelEvent(e), "kvm_emulate_insn rip=0x1234 insn=89 03 (prot64)");
  // Bytes 8-14 come from a4; a failed emulation in real mode.
  const auto long_insn = Make(KernelEventKind::EmulateInsn,
                              {0, 0xf0000, 10 | (0 << 8) | (1 << 16), 0x0706050403020100, 0x0908});
  const auto g = DecodeFields(long_insn);
  EXPECT_EQ(Get(g, "insn").text, "00 01 02 03 04 05 06 07 08 09");
  EXPECT_EQ(Get(g, "flags").text, "real");
  EXPECT_EQ(Get(g, "failed").text, "true");
  EXPECT_EQ(Get(g, "csbase").text, "0xf0000");
  EXPECT_NE(DescribeKernelEvent(long_insn).find(" failed"), std::string::npos);
}

TEST(DecodeFields, InjException) {
  const auto pf = Make(KernelEventKind::InjException, {14, 1, 0x6, 0});
  const auto f = DecodeFields(pf);
  EXPECT_EQ(Names(f), (V{"exception", "has_error", "error_code", "reinjected"}));
  EXPECT_EQ(Get(f, "exception").text, "#PF (page fault)");
  EXPECT_EQ(Get(f, "has_error").text, "true");
  EXPECT_EQ(Get(f, "error_code").text, "0x6 (write|user)");
  EXPECT_EQ(DescribeKernelEvent(pf), "kvm_inj_exception #PF error_code=0x6 (write|user)");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::InjException, {6, 0, 0, 0})),
            "kvm_inj_exception #UD");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::InjException, {13, 1, 0x18, 1})),
            "kvm_inj_exception #GP error_code=0x18 reinjected");
  EXPECT_EQ(Get(DecodeFields(Make(KernelEventKind::InjException, {15})), "exception").text,
            "vector 15 (reserved)");
}

TEST(DecodeFields, InjVirqCpuidMsrHypercall) {
  const auto virq = Make(KernelEventKind::InjVirq, {0x20, 0, 1});
  EXPECT_EQ(Names(DecodeFields(virq)), (V{"vector", "soft", "reinjected"}));
  EXPECT_EQ(DescribeKernelEvent(virq), "kvm_inj_virq vector=0x20 reinjected");

  const auto cpuid =
      Make(KernelEventKind::Cpuid, {0x7 | (uint64_t{1} << 32), 0xa, 0xb, 0xc, 0xd, 1});
  const auto c = DecodeFields(cpuid);
  EXPECT_EQ(Names(c),
            (V{"function", "index", "rax", "rbx", "rcx", "rdx", "found", "used_max_basic"}));
  EXPECT_EQ(Get(c, "function").value, 7u);
  EXPECT_EQ(Get(c, "index").value, 1u);
  EXPECT_EQ(Get(c, "found").text, "true");
  EXPECT_EQ(Get(c, "used_max_basic").text, "false");
  EXPECT_EQ(DescribeKernelEvent(cpuid),
            "kvm_cpuid function=0x7 index=0x1 rax=0xa rbx=0xb rcx=0xc rdx=0xd");
  EXPECT_NE(DescribeKernelEvent(Make(KernelEventKind::Cpuid, {0x40000000, 0, 0, 0, 0, 2}))
                .find("not found"),
            std::string::npos);

  const auto msr = Make(KernelEventKind::Msr, {1, 0xc0000080, 0x500, 0});
  EXPECT_EQ(Names(DecodeFields(msr)), (V{"write", "ecx", "data", "exception"}));
  EXPECT_EQ(Get(DecodeFields(msr), "ecx").text, "0xc0000080");
  EXPECT_EQ(DescribeKernelEvent(msr), "kvm_msr write ecx=0xc0000080 data=0x500");
  EXPECT_EQ(DescribeKernelEvent(Make(KernelEventKind::Msr, {0, 0x1234, 0, 1})),
            "kvm_msr read ecx=0x1234 data=0x0 #GP");

  const auto hc = Make(KernelEventKind::Hypercall, {10, 1, 2, 3, 4});
  EXPECT_EQ(Names(DecodeFields(hc)), (V{"nr", "a0", "a1", "a2", "a3"}));
  EXPECT_EQ(Get(DecodeFields(hc), "nr").text, "KVM_HC_SEND_IPI");
  EXPECT_EQ(Get(DecodeFields(hc), "a0").value, 1u);
}

TEST(DecodeFields, PageFaultAndMmu) {
  const auto pf = Make(KernelEventKind::PageFault, {0, 0x1000, 0x400000, 0x4});
  EXPECT_EQ(Names(DecodeFields(pf)), (V{"vcpu_id", "guest_rip", "fault_address", "error_code"}));
  // What error_code holds depends on the exit that produced the fault.
  EXPECT_EQ(Get(DecodeFields(pf), "error_code").text,
            "0x4 (raw value, meaning depends on the exit)");
  EXPECT_EQ(Get(DecodeFields(pf, {.fault_code = FaultCode::PfErrorCode}), "error_code").text,
            "0x4 (#PF error code: user)");
  EXPECT_EQ(Get(DecodeFields(pf, {.fault_code = FaultCode::PfErrorCode}), "fault_address").text,
            "0x400000 (guest linear, CR2)");

  const auto walk = Make(KernelEventKind::MmuWalk, {0x400000, 0x6});
  EXPECT_EQ(Names(DecodeFields(walk)), (V{"addr", "pferr"}));
  EXPECT_EQ(DescribeKernelEvent(walk),
            "kvm_mmu_pagetable_walk addr=0x400000 pferr=0x6 (write|user)");

  const auto spte = Make(KernelEventKind::MmuSetSpte, {0x400, 0x8000000012345067, 1});
  EXPECT_EQ(Names(DecodeFields(spte)), (V{"gfn", "spte", "level"}));
  EXPECT_EQ(DescribeKernelEvent(spte),
            "kvm_mmu_set_spte gfn=0x400 spte=0x8000000012345067 level=1");

  const auto err = Make(KernelEventKind::MmuWalkerError, {0x9});
  EXPECT_EQ(DescribeKernelEvent(err), "kvm_mmu_walker_error pferr=0x9 (present|rsvd)");

  const auto entry = Make(KernelEventKind::KvmEntry, {0, 0xfff0});
  EXPECT_EQ(Names(DecodeFields(entry)), (V{"vcpu_id", "rip"}));
  EXPECT_EQ(DescribeKernelEvent(entry), "kvm_entry vcpu=0 rip=0xfff0");
}

TEST(DecodeFields, EveryKindDecodesAndDescribes) {
  for (size_t i = 0; i < kKernelEventKinds; ++i) {
    const auto e = Make(static_cast<KernelEventKind>(i));
    const std::string d = DescribeKernelEvent(e);
    EXPECT_EQ(d.rfind(KernelEventName(e.kind), 0), 0u) << d;  // starts with its name
    for (const Field& f : DecodeFields(e)) {
      EXPECT_FALSE(f.name.empty()) << i;
      EXPECT_FALSE(f.text.empty()) << i << " " << f.name;
    }
  }
}

// --- symbols ---------------------------------------------------------------

SymbolTable Table() {
  SymbolTable t;
  // Added out of order, with a duplicate and an alias, as kallsyms may.
  t.Add(0x3000, "vmx_handle_exit", "kvm_intel");
  t.Add(0x1000, "kvm_vcpu_ioctl", "kvm");
  t.Add(0x2000, "kvm_arch_vcpu_ioctl_run", "kvm");
  t.Add(0x1000, "kvm_vcpu_ioctl", "kvm");
  t.Add(0x500, "do_syscall_64");
  t.Add(0x2000, "alias_of_run", "kvm");
  t.Finish();
  return t;
}

TEST(SymbolTable, FinishSortsAndDropsDuplicates) {
  const SymbolTable t = Table();
  EXPECT_EQ(t.size(), 5u);
  EXPECT_TRUE(std::is_sorted(t.symbols().begin(), t.symbols().end(),
                             [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; }));
}

TEST(SymbolTable, FindEdgeCases) {
  const SymbolTable t = Table();
  EXPECT_EQ(t.Find(0x4ff), nullptr);  // below the first symbol
  EXPECT_EQ(t.Find(0), nullptr);
  ASSERT_NE(t.Find(0x500), nullptr);  // exact
  EXPECT_EQ(t.Find(0x500)->name, "do_syscall_64");
  EXPECT_EQ(t.Find(0x1000)->name, "kvm_vcpu_ioctl");
  EXPECT_EQ(t.Find(0x1fff)->name, "kvm_vcpu_ioctl");  // between
  EXPECT_EQ(t.Find(0x3000)->name, "vmx_handle_exit");
  EXPECT_EQ(t.Find(UINT64_MAX)->name, "vmx_handle_exit");  // after the last
  // Aliases: the first by name, whichever was added first.
  EXPECT_EQ(t.Find(0x2010)->name, "alias_of_run");

  SymbolTable empty;
  empty.Finish();
  EXPECT_EQ(empty.Find(0x1000), nullptr);
  EXPECT_EQ(empty.Format(0x1000), "[unknown 0x1000]");
  EXPECT_FALSE(empty.Has("kvm_vcpu_ioctl"));
}

TEST(SymbolTable, FormatAndHas) {
  const SymbolTable t = Table();
  EXPECT_EQ(t.Format(0x301a), "vmx_handle_exit+0x1a [kvm_intel]");
  EXPECT_EQ(t.Format(0x501), "do_syscall_64+0x1");
  EXPECT_EQ(t.Format(0x500), "do_syscall_64+0x0");
  EXPECT_EQ(t.Format(0x10), "[unknown 0x10]");
  EXPECT_TRUE(t.Has("kvm_arch_vcpu_ioctl_run"));
  EXPECT_FALSE(t.Has("kvm_arch_vcpu_ioctl"));  // exact names only
}

TEST(SymbolTable, AnAddressPastASymbolsEndIsNotAttributedToIt) {
  SymbolTable t;
  t.Add(0x1000, "p9_errstr2errno.cold", "", 0x1040);
  t.Add(0x2000, "mpls_gso_exit", "mpls_gso", 0x2100);  // the module ends at 0x2100
  t.Add(0x40000000, "legacy_unbounded");  // a file from before the bound: no end
  t.Finish();
  EXPECT_EQ(t.Find(0x103f)->name, "p9_errstr2errno.cold");
  EXPECT_EQ(t.Find(0x1040), nullptr);
  EXPECT_EQ(t.Find(0x20ff)->name, "mpls_gso_exit");
  EXPECT_EQ(t.Find(0x2000 + 0x31242e06), nullptr);
  EXPECT_EQ(t.Format(0x2200), "[unknown 0x2200]");
  EXPECT_EQ(t.Find(0x4fffffff)->name, "legacy_unbounded");  // no end: as before
  // No frame is ever named with an offset beyond its symbol's end.
  for (uint64_t a = 0xff0; a < 0x2300; a += 8) {
    if (const Symbol* s = t.Find(a)) {
      EXPECT_TRUE(s->Contains(a)) << std::hex << a;
    }
  }
}

TEST(SymbolTable, BpfProgramsAndTrampolinesAreNamedForWhatTheyAre) {
  EXPECT_EQ(DisplayName("bpf_prog_6deef7357e7b4530_run_sys_enter", "bpf"),
            "[bpf program run_sys_enter]");
  EXPECT_EQ(DisplayName("bpf_prog_6deef7357e7b4530", "bpf"), "[bpf program]");
  EXPECT_EQ(DisplayName("bpf_trampoline_6442491234", "bpf"), "[bpf trampoline]");
  EXPECT_EQ(DisplayName("bpf_trampoline_6442491234", ""), "bpf_trampoline_6442491234");
  EXPECT_EQ(DisplayName("kvm_mmu_page_fault", "kvm"), "kvm_mmu_page_fault");
  // Innermost, they are tracing machinery and leave the chain.
  SymbolTable t;
  t.Add(0x1000, "[bpf trampoline]", "bpf", 0x2000);
  t.Add(0x2000, "[bpf program mmu_pf_fentry]", "bpf", 0x2800);
  t.Add(0x3000, "kvm_mmu_page_fault", "kvm", 0x3400);
  t.Add(0x4000, "kvm_vcpu_ioctl", "kvm", 0x4400);
  t.Finish();
  EXPECT_EQ(ChainText({0x2010, 0x1010, 0x3010, 0x3800, 0x4010}, t),
            "kvm_vcpu_ioctl → [unknown 0x3800] → kvm_mmu_page_fault");
}

TEST(StackTable, InternsSameStackToSameId) {
  StackTable st;
  const Stack a{1, 2, 3};
  const Stack b{1, 2, 4};
  const int32_t ia = st.Intern(a);
  const int32_t ib = st.Intern(b);
  EXPECT_EQ(ia, 0);
  EXPECT_EQ(ib, 1);
  EXPECT_EQ(st.Intern(Stack{1, 2, 3}), ia);
  EXPECT_NE(st.Intern(Stack{1, 2}), ia);  // a prefix is a different stack
  EXPECT_EQ(st.size(), 3u);
  EXPECT_EQ(st.Get(ia), a);
  EXPECT_EQ(st.Get(ib), b);
  EXPECT_TRUE(st.Get(-1).empty());
  EXPECT_TRUE(st.Get(99).empty());
  // An empty stack is "no stack".
  EXPECT_EQ(st.Intern(Stack{}), -1);
  EXPECT_EQ(st.size(), 3u);
}

TEST(StackTable, ConcurrentInterningAgreesOnIds) {
  StackTable st;
  constexpr int kThreads = 8;
  constexpr int kStacks = 200;
  std::vector<std::vector<int32_t>> ids(kThreads, std::vector<int32_t>(kStacks));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&st, &ids, t] {
      // Each thread walks the stacks in its own order.
      for (int k = 0; k < kStacks; ++k) {
        const int s = (k * 7 + t * 13) % kStacks;
        ids[t][s] = st.Intern(Stack{0xffffffff81000000u, static_cast<uint64_t>(s)});
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(st.size(), static_cast<size_t>(kStacks));
  std::set<int32_t> distinct(ids[0].begin(), ids[0].end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kStacks));
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(ids[t], ids[0]);
  for (int s = 0; s < kStacks; ++s) EXPECT_EQ(st.Get(ids[0][s])[1], static_cast<uint64_t>(s));
}

// A stack as a tracepoint probe on PVM captures it, innermost first.
struct PvmStack {
  SymbolTable symbols;
  Stack frames;
};

PvmStack MakePvmStack() {
  const std::vector<std::pair<std::string, std::string>> innermost_first = {
      {"bpf_prog_6deef7357e7b4530_tp_mmu_walk", ""},
      {"bpf_trace_run2", ""},
      {"__traceiter_kvm_mmu_pagetable_walk", ""},
      {"paging64_walk_addr_generic", "kvm"},
      {"paging64_page_fault", "kvm"},
      {"kvm_mmu_do_page_fault", "kvm"},
      {"kvm_mmu_page_fault", "kvm"},
      {"pvm_handle_native_exit", "kvm_pvm"},
      {"__pvm_handle_exit.isra.0", "kvm_pvm"},
      {"pvm_handle_exit", "kvm_pvm"},
      {"kvm_arch_vcpu_ioctl_run", "kvm"},
      {"kvm_vcpu_ioctl", "kvm"},
      {"__x64_sys_ioctl", ""},
      {"do_syscall_64", ""},
      {"entry_SYSCALL_64_after_hwframe", ""},
  };
  PvmStack s;
  uint64_t addr = 0xffffffff81000000;
  for (const auto& [name, module] : innermost_first) {
    s.symbols.Add(addr, name, module);
    s.frames.push_back(addr + 0x42);  // a return address inside the function
    addr += 0x1000;
  }
  s.symbols.Finish();
  return s;
}

TEST(Chain, PvmStackReadsFromIoctlDown) {
  const PvmStack s = MakePvmStack();
  EXPECT_EQ(ChainText(s.frames, s.symbols),
            "kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run → pvm_handle_exit → "
            "__pvm_handle_exit.isra.0 → pvm_handle_native_exit → kvm_mmu_page_fault → "
            "kvm_mmu_do_page_fault → paging64_page_fault → paging64_walk_addr_generic");
  const auto frames = ChainFrames(s.frames, s.symbols);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.front(), "kvm_vcpu_ioctl");
  EXPECT_EQ(frames.back(), "paging64_walk_addr_generic");
  for (const std::string& f : frames) {
    EXPECT_EQ(f.find("__traceiter"), std::string::npos);
    EXPECT_EQ(f.find("bpf"), std::string::npos);
    EXPECT_EQ(f.find("+0x"), std::string::npos);  // names only, no offsets
  }
}

TEST(Chain, WithoutIoctlKeepsWholeStackAndHexFrames) {
  SymbolTable t;
  t.Add(0x1000, "perf_trace_kvm_exit");
  t.Add(0x2000, "vmx_vcpu_run");
  t.Add(0x3000, "kvm_arch_vcpu_ioctl_run");
  t.Finish();
  // Innermost first: tracing, an unknown frame below the table, two frames of
  // the same function, then the caller.
  const Stack frames{0x1010, 0x2010, 0x2020, 0x10, 0x3010};
  EXPECT_EQ(ChainFrames(frames, t),
            (std::vector<std::string>{"kvm_arch_vcpu_ioctl_run", "[unknown 0x10]", "vmx_vcpu_run"}));
  EXPECT_EQ(ChainText({}, t), "");
  EXPECT_EQ(ChainText({0x1010}, t), "");  // only tracing machinery
}

TEST(Chain, TracingNamesInsideTheStackAreKept) {
  // Only the innermost run of tracing frames is machinery; a kernel function
  // named bpf_* called from KVM would be part of the path.
  SymbolTable t;
  t.Add(0x1000, "__bpf_trace_kvm_exit");
  t.Add(0x2000, "bpf_something_kvm_calls");
  t.Add(0x3000, "kvm_vcpu_ioctl");
  t.Add(0x4000, "kvm_foo");
  t.Finish();
  EXPECT_EQ(ChainText({0x1000, 0x4000, 0x2000, 0x3000}, t),
            "kvm_vcpu_ioctl → bpf_something_kvm_calls → kvm_foo");
  // At the innermost end it is taken for machinery.
  EXPECT_EQ(ChainText({0x1000, 0x2000, 0x3000}, t), "kvm_vcpu_ioctl");
}

}  // namespace
}  // namespace kvmscope::traces

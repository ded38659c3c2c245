// kvm:kvm_page_fault decoded by what produced it (the kvm_exit before it on
// the same thread, else the backend), and kvm_exit's intr_info decoded only
// when valid: on synthetic events and on the real traces of the SVM and VMX
// test hosts.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "traces/explain.h"
#include "traces/fault_context.h"
#include "traces/kernel_event.h"
#include "traces/trace_json.h"

namespace {

namespace fs = std::filesystem;
using namespace kvmscope::traces;
using K = KernelEventKind;

constexpr uint64_t kVmx = 1, kSvm = 2;  // kvm_exit's isa

KernelEvent Exit(uint64_t reason, uint64_t isa, uint64_t info1 = 0, uint32_t intr_info = 0) {
  KernelEvent e;
  e.kind = K::KvmExit;
  e.a = {reason, 0x8000, isa, info1, 0, intr_info};
  return e;
}
KernelEvent Fault(uint64_t address, uint64_t code) {
  KernelEvent e;
  e.kind = K::PageFault;
  e.a = {0, 0x8000, address, code, 0, 0};
  return e;
}
KernelEvent Of(K kind) {
  KernelEvent e;
  e.kind = kind;
  return e;
}

TEST(FaultDecode, EptQualificationIsNotAnErrorCode) {
  // The two values the VMX host showed wrongly as "user|0x180" and "present|0x180".
  const std::string fetch = FaultCodeText(0x184, FaultCode::EptQualification);
  EXPECT_EQ(fetch,
            "0x184 (EPT exit qualification: fetch|gla-valid|final-translation, EPT entry not "
            "present)");
  const std::string read = FaultCodeText(0x181, FaultCode::EptQualification);
  EXPECT_NE(read.find("read|gla-valid|final-translation"), std::string::npos) << read;
  EXPECT_EQ(read.find("present|"), std::string::npos) << read;
  // A write to a page EPT maps read-only, during the guest's own page walk.
  EXPECT_EQ(EptQualificationText(0x8a), "write|gpa-readable|gla-valid|paging-structure");
  EXPECT_EQ(EptQualificationText(0x1000), "nmi-unblocking");
  EXPECT_EQ(EptQualificationText(0x200), "0x200");
}

TEST(FaultDecode, ErrorCodesAndUnknownProducers) {
  EXPECT_EQ(FaultCodeText(0x200000006, FaultCode::NpfErrorCode),
            "0x200000006 (NPF error code: write|user|guest-page)");
  EXPECT_EQ(FaultCodeText(0x6, FaultCode::PfErrorCode), "0x6 (#PF error code: write|user)");
  EXPECT_EQ(FaultCodeText(0x184, FaultCode::Unknown),
            "0x184 (raw value, meaning depends on the exit)");
  // Without context the event itself no longer guesses.
  EXPECT_EQ(DescribeKernelEvent(Fault(0x3000, 0x184)),
            "kvm_page_fault addr=0x3000 error_code=0x184 (raw value, meaning depends on the exit) "
            "rip=0x8000");
}

TEST(FaultDecode, ProducerFromTheExit) {
  EXPECT_EQ(FaultCodeOfExit(Exit(48, kVmx, 0x184)), FaultCode::EptQualification);
  EXPECT_EQ(FaultCodeOfExit(Exit(0x400, kSvm)), FaultCode::NpfErrorCode);
  EXPECT_EQ(FaultCodeOfExit(Exit(0x4e, kSvm)), FaultCode::PfErrorCode);
  // VMX EXCEPTION_NMI: a #PF only when intr_info is valid and says vector 14.
  EXPECT_EQ(FaultCodeOfExit(Exit(0, kVmx, 0, 0x80000b0e)), FaultCode::PfErrorCode);
  EXPECT_EQ(FaultCodeOfExit(Exit(0, kVmx, 0, 0x00000b0e)), FaultCode::Unknown);
  EXPECT_EQ(FaultCodeOfExit(Exit(0, kVmx, 0, 0x80000306)), FaultCode::Unknown);
  EXPECT_EQ(FaultCodeOfExit(Exit(30, kVmx)), FaultCode::Unknown);
  EXPECT_EQ(FaultCodeOfExit(Exit(48, kSvm)), FaultCode::Unknown);  // 48 is no SVM NPF
}

TEST(FaultDecode, ContextWalksBackToThisRoundTripsExit) {
  const std::vector<KernelEvent> run = {Of(K::RunEnter), Of(K::KvmEntry), Exit(48, kVmx, 0x184),
                                        Of(K::ExitHandler), Fault(0x8000, 0x184),
                                        Of(K::MmuPageFault), Of(K::KvmEntry), Fault(0x9000, 0x181)};
  EXPECT_EQ(FaultCodeAt(run, 4), FaultCode::EptQualification);
  EXPECT_NE(DescribeKernelEvent(run[4], ContextAt(run, 4)).find("EPT exit qualification: fetch"),
            std::string::npos);
  // The second fault has no exit since the last entry (kvm_exit lost): unknown.
  EXPECT_EQ(FaultCodeAt(run, 7), FaultCode::Unknown);
  EXPECT_EQ(FaultCodeAt(run, 2), FaultCode::Unknown);   // not a page fault
  EXPECT_EQ(FaultCodeAt(run, 99), FaultCode::Unknown);  // out of range
}

TEST(FaultDecode, HostDecidesOnlyWhereItCan) {
  TraceData trace;
  trace.tracks.resize(1);
  trace.tracks[0].events = {FromKernel(Fault(0x3000, 0x200000006)), FromKernel(Fault(0x3000, 0x6))};
  trace.host.backend = "SVM (AMD)";
  EXPECT_EQ(FaultCodeAt(trace, {0, 0}), FaultCode::NpfErrorCode);  // bit 33: NPF
  EXPECT_EQ(FaultCodeAt(trace, {0, 1}), FaultCode::PfErrorCode);
  trace.host.backend = "VMX (Intel)";  // EPT or shadow: the trace does not say
  EXPECT_EQ(FaultCodeAt(trace, {0, 0}), FaultCode::Unknown);
  EXPECT_NE(DescribeEventAt(trace, {0, 1}).find("raw value"), std::string::npos);
}

// Up to 6.0 kvm_page_fault's error_code is an unsigned int: NPF's bits 32/33
// never reach the trace, so they cannot tell NPF from an intercepted #PF.
TEST(FaultDecode, SvmBefore61DoesNotGuessFromMissingBits) {
  TraceData trace;
  trace.tracks.resize(1);
  trace.tracks[0].events = {FromKernel(Fault(0x3000, 0x6))};
  trace.host.backend = "SVM (AMD)";
  trace.host.kernel_release = "6.1.0-57-amd64";
  EXPECT_EQ(FaultCodeAt(trace, {0, 0}), FaultCode::PfErrorCode);  // 64-bit field: no bit 32/33
  trace.host.kernel_release = "5.15.0-91-generic";
  EXPECT_EQ(FaultCodeAt(trace, {0, 0}), FaultCode::Unknown);
  EXPECT_EQ(FaultCodesOf(trace, 0)[0], FaultCode::Unknown);
  trace.host.module_params["kvm_amd.npt"] = "Y";  // #PF not intercepted: npf_interception
  EXPECT_EQ(FaultCodeAt(trace, {0, 0}), FaultCode::NpfErrorCode);
  trace.host.module_params["kvm_amd.npt"] = "N";
  EXPECT_EQ(FaultCodeAt(trace, {0, 0}), FaultCode::PfErrorCode);
  // The kvm_exit before it decides on any version.
  trace.host.module_params.clear();
  trace.tracks[0].events.insert(trace.tracks[0].events.begin(), FromKernel(Exit(0x400, kSvm)));
  EXPECT_EQ(FaultCodeAt(trace, {0, 1}), FaultCode::NpfErrorCode);
}

TEST(ExitDecode, IntrInfoOnlyWhenValid) {
  // SVM leaves stale EXITINTINFO behind (seen: 0x300 after a #DE).
  const std::string stale = DescribeKernelEvent(Exit(0x7b, kSvm, 0x3f80010, 0x300));
  EXPECT_EQ(stale.find("intr_info"), std::string::npos) << stale;
  bool saw = false;
  for (const Field& f : DecodeFields(Exit(0x7b, kSvm, 0, 0xb0d))) {
    if (f.name == "intr_info") {
      saw = true;
      EXPECT_EQ(f.text, "0xb0d (valid bit clear: no event, stale bits)");
    }
    if (f.name == "error_code") {
      EXPECT_EQ(f.text, "0x0 (no error code)");
    }
  }
  EXPECT_TRUE(saw);
  const std::string int3 = DescribeKernelEvent(Exit(0x400, kSvm, 0x100000006, 0x80000403));
  EXPECT_NE(int3.find("delivering software interrupt vector 0x3, INT3 as QEMU's emulated SVM"),
            std::string::npos)
      << int3;
  const std::string pf = DescribeKernelEvent(Exit(0, kVmx, 0x10, 0x80000b0e) /*error code 0*/);
  EXPECT_NE(pf.find("intr_info=0x80000b0e (hardware exception #PF)"), std::string::npos) << pf;
}

// The emulated hosts' behaviour is named as the emulator's where kvmscope
// explains it.
TEST(ExitDecode, EmulatorBehaviourIsSaidToBeTheEmulators) {
  EXPECT_NE(ExplainHardwareExit(ExitIsa::Svm, 0x78).find("Without NRIPS (QEMU's emulated SVM"),
            std::string_view::npos);
  // KVM never intercepts INT n for its own guests (no SVM_EXIT_SWINT handler in
  // svm_exit_handlers): the text must not describe SWINT as a guest's INT n.
  EXPECT_NE(ExplainHardwareExit(ExitIsa::Svm, 0x75).find("does not intercept INT n"),
            std::string_view::npos);
  EXPECT_NE(ExplainKind(K::PageFault).find("EPT exit qualification on VMX with EPT"),
            std::string_view::npos);
  EXPECT_NE(ExplainKind(K::PageFault).find("up to 6.0 error_code is 32 bits"),
            std::string_view::npos);
}

TraceData Load(const char* file) {
  return LoadTrace((fs::path(KVMSCOPE_TESTDATA) / file).string());
}

// Every kvm_page_fault of a recorded trace has the producer `want`, and its
// description says so.
void ExpectEveryFault(const TraceData& trace, FaultCode want, size_t expected) {
  size_t n = 0;
  for (uint32_t t = 0; t < trace.tracks.size(); ++t) {
    for (uint32_t i = 0; i < trace.tracks[t].events.size(); ++i) {
      if (trace.tracks[t].events[i].type != K::PageFault) continue;
      ++n;
      EXPECT_EQ(FaultCodeAt(trace, {t, i}), want) << DescribeEventAt(trace, {t, i});
      EXPECT_NE(DescribeEventAt(trace, {t, i}).find(FaultCodeName(want)), std::string::npos);
    }
  }
  EXPECT_EQ(n, expected);
  uint64_t grouped = 0;
  for (const PageFaultGroup& g : GroupPageFaults(trace)) grouped += g.count;
  EXPECT_EQ(grouped, expected);
}

TEST(FaultDecodeRecorded, SvmNestedPageFaults) {
  const TraceData trace = Load("pagefault-svm.json");
  ExpectEveryFault(trace, FaultCode::NpfErrorCode, 30);
  // The guest's code page is fetched once on first touch: bit 32, guest-final.
  const std::vector<PageFaultGroup> groups = GroupPageFaults(trace);
  bool fetch = false;
  for (const PageFaultGroup& g : groups) fetch = fetch || (g.access == "fetch" && !g.present);
  EXPECT_TRUE(fetch);
  // Tracepoints only (no kprobes): the kvm_exit is still there to decide.
  ExpectEveryFault(Load("exceptions-svm-tracepoint.json"), FaultCode::NpfErrorCode, 8);
  EXPECT_NE(EmulatedCpuNote(trace.host).find("QEMU Virtual CPU"), std::string::npos);
  EXPECT_EQ(EmulatedCpuNote(Load("pagefault-pvm.json").host), "");
}

TEST(FaultDecodeRecorded, VmxEptViolationsAndShadowFaults) {
  const fs::path ept = fs::path(KVMSCOPE_TESTDATA) / "pagefault-vmx.json";
  const fs::path shadow = fs::path(KVMSCOPE_TESTDATA) / "pagefault-vmx-shadow.json";
  if (!fs::exists(ept) || !fs::exists(shadow)) GTEST_SKIP() << "VMX traces not recorded yet";
  const TraceData t = LoadTrace(ept.string());
  ExpectEveryFault(t, FaultCode::EptQualification, t.Count(K::PageFault));
  for (uint32_t tr = 0; tr < t.tracks.size(); ++tr) {
    for (uint32_t i = 0; i < t.tracks[tr].events.size(); ++i) {
      if (t.tracks[tr].events[i].type != K::PageFault) continue;
      const std::string s = DescribeEventAt(t, {tr, i});
      EXPECT_EQ(s.find("user|"), std::string::npos) << s;  // the old misreading
    }
  }
  const TraceData s = LoadTrace(shadow.string());
  ExpectEveryFault(s, FaultCode::PfErrorCode, s.Count(K::PageFault));
}

}  // namespace

// What produced each kvm:kvm_page_fault, found from the kvm_exit before it on
// the same thread (or from the host), and the descriptions that use it.
#include "traces/fault_context.h"

#include <fmt/format.h>

#include "knowledge/kernel.h"

#include <map>
#include <optional>
#include <tuple>

namespace kvmscope::traces {
namespace {

// Exit reasons, as in arch/x86/include/uapi/asm/vmx.h and svm.h.
constexpr uint64_t kVmxExceptionNmi = 0;  // EXIT_REASON_EXCEPTION_NMI
constexpr uint64_t kVmxEptViolation = 48;  // EXIT_REASON_EPT_VIOLATION
constexpr uint64_t kSvmExcpPf = 0x4e;      // SVM_EXIT_EXCP_BASE + PF_VECTOR
constexpr uint64_t kSvmNpf = 0x400;        // SVM_EXIT_NPF
constexpr uint32_t kPfVector = 14;
constexpr uint32_t kIntrValid = 0x80000000u;  // INTR_INFO_VALID_MASK
// kvm_page_fault's error_code bits 32/33 on SVM: PFERR_GUEST_FINAL_MASK,
// PFERR_GUEST_PAGE_MASK; NPF sets one of them, a guest #PF neither. Only
// from 6.1: up to 6.0 the tracepoint's error_code is an unsigned int and
// these bits are cut off (6.0.1 arch/x86/kvm/trace.h:397; 6.1-rc7 :397).
constexpr uint64_t kPferrGuestBits = (uint64_t{1} << 32) | (uint64_t{1} << 33);
constexpr knowledge::KernelVersion kPageFaultWideErrorCode{6, 1};

// Whether the trace's kernel is one whose kvm_page_fault error_code is 32
// bits wide (before 6.1); false when the release is not known.
bool NarrowPageFaultErrorCode(const HostFacts& host) {
  const std::optional<knowledge::KernelVersion> v =
      knowledge::ParseKernelRelease(host.kernel_release);
  return v && *v < kPageFaultWideErrorCode;
}

// Walks back from `index` over anything with `kind_of(i)` and `args(i)`.
template <typename KindOf, typename ExitAt>
FaultCode WalkBack(size_t size, size_t index, KindOf kind_of, ExitAt exit_at) {
  using K = KernelEventKind;
  if (index >= size || kind_of(index) != std::optional<K>(K::PageFault)) return FaultCode::Unknown;
  for (size_t i = index; i-- > 0;) {
    const std::optional<K> k = kind_of(i);
    if (!k) continue;  // a VMM event between them: the thread's own user-space side
    if (*k == K::KvmExit) return FaultCodeOfExit(exit_at(i));
    // The exit of this fault comes after the last entry into the guest: past
    // one, the exit found would be another round trip's.
    if (*k == K::KvmEntry || *k == K::RunEnter || *k == K::RunExit) break;
  }
  return FaultCode::Unknown;
}

// The access a page fault's code names, in the producer's terms.
std::tuple<std::string, bool> AccessOf(uint64_t code, FaultCode kind) {
  switch (kind) {
    case FaultCode::EptQualification: {
      // Bits 0-2: read, write, fetch (a write may set read too: name the
      // strongest); bits 3-5: what the EPT entry allowed (none: not present).
      const std::string access = code & 4 ? "fetch" : code & 2 ? "write" : code & 1 ? "read" : "";
      return {access, (code & 0x38) != 0};
    }
    case FaultCode::NpfErrorCode:
    case FaultCode::PfErrorCode: {
      // PFERR_FETCH_MASK (bit 4), PFERR_WRITE_MASK (bit 1), else a read;
      // PFERR_PRESENT_MASK (bit 0).
      const std::string access = code & 0x10 ? "fetch" : code & 2 ? "write" : "read";
      return {access, (code & 1) != 0};
    }
    case FaultCode::Unknown: break;
  }
  return {"", false};
}

}  // namespace

FaultCode FaultCodeOfExit(const KernelEvent& e) {
  if (e.kind != KernelEventKind::KvmExit) return FaultCode::Unknown;
  const auto isa = static_cast<ExitIsa>(e.a[2] & 0xff);
  const uint64_t reason = e.a[0];
  // kvm_exit has intr_info since 5.10 (5.9.1 trace.h lacks it): 0 before,
  // so an intercepted #PF of an older kernel reads as Unknown here.
  const auto intr_info = static_cast<uint32_t>(e.a[5]);
  if (isa == ExitIsa::Vmx) {
    if ((reason & 0xffff) == kVmxEptViolation) return FaultCode::EptQualification;
    // handle_exception_nmi → kvm_handle_page_fault, for a #PF the exit
    // reports in a valid VM-exit interruption information.
    if ((reason & 0xffff) == kVmxExceptionNmi && (intr_info & kIntrValid) &&
        (intr_info & 0xff) == kPfVector) {
      return FaultCode::PfErrorCode;
    }
  }
  if (isa == ExitIsa::Svm) {
    if (reason == kSvmNpf) return FaultCode::NpfErrorCode;       // npf_interception
    if (reason == kSvmExcpPf) return FaultCode::PfErrorCode;     // pf_interception
  }
  return FaultCode::Unknown;
}

FaultCode FaultCodeOfHost(std::string_view backend, uint64_t code) {
  if (backend.starts_with("SVM")) {
    return code & kPferrGuestBits ? FaultCode::NpfErrorCode : FaultCode::PfErrorCode;
  }
  return FaultCode::Unknown;
}

FaultCode FaultCodeOfHost(const HostFacts& host, uint64_t code) {
  // The vendor module's own parameter, when recorded: with EPT on,
  // handle_ept_violation passes the exit qualification (guest #PFs are not
  // intercepted then, unless KVM emulates a smaller guest MAXPHYADDR:
  // kvm_intel.allow_smaller_maxphyaddr); with ept=0 or npt=0 every
  // kvm_page_fault is an intercepted #PF's error code.
  const std::optional<bool> tdp = host.TwoDimensionalPaging();
  if (host.backend.starts_with("VMX") && tdp) {
    return *tdp ? FaultCode::EptQualification : FaultCode::PfErrorCode;
  }
  if (host.backend.starts_with("SVM") && tdp == false) return FaultCode::PfErrorCode;
  if (host.backend.starts_with("SVM") && NarrowPageFaultErrorCode(host)) {
    // Before 6.1 bits 32/33 never reach the trace: they cannot tell NPF
    // from #PF. With npt=Y recorded KVM does not intercept #PF (init_vmcb:
    // clr_exception_intercept(svm, PF_VECTOR), 6.0.1 svm/svm.c:1277), so
    // npf_interception is the producer; without the parameter, unknown.
    return tdp == true ? FaultCode::NpfErrorCode : FaultCode::Unknown;
  }
  return FaultCodeOfHost(host.backend, code);
}

FaultCode FaultCodeAt(std::span<const KernelEvent> events, size_t index) {
  return WalkBack(
      events.size(), index, [&](size_t i) { return std::optional(events[i].kind); },
      [&](size_t i) { return events[i]; });
}

FaultCode FaultCodeAt(EventRange events, size_t index) {
  return WalkBack(
      events.size(), index,
      [&](size_t i) -> std::optional<KernelEventKind> {
        const EventType type = events.type(i);
        if (type.origin != Origin::Kernel) return std::nullopt;
        return type.kernel();
      },
      [&](size_t i) { return ToKernel(events[i]); });
}

FaultCode FaultCodeAt(const TraceData& trace, EventRef ref) {
  if (ref.track >= trace.tracks.size()) return FaultCode::Unknown;
  const EventList& events = trace.tracks[ref.track].events;
  const FaultCode code = FaultCodeAt(events.all(), ref.index);
  if (code != FaultCode::Unknown || ref.index >= events.size()) return code;
  const Event& e = events[ref.index];
  if (e.type != KernelEventKind::PageFault) return code;
  return FaultCodeOfHost(trace.host, e.a[3]);
}

DecodeContext ContextAt(std::span<const KernelEvent> events, size_t index) {
  return DecodeContext{.fault_code = FaultCodeAt(events, index)};
}

std::vector<FaultCode> FaultCodesOf(const TraceData& trace, uint32_t track) {
  using K = KernelEventKind;
  std::vector<FaultCode> codes;
  if (track >= trace.tracks.size()) return codes;
  const EventList& events = trace.tracks[track].events;
  codes.assign(events.size(), FaultCode::Unknown);
  // WalkBack's rule, forward: the last kvm_exit since the last entry or
  // KVM_RUN edge decides; VMM events and other kernel events pass.
  FaultCode exit = FaultCode::Unknown;  // none since the last entry or edge
  for (size_t i = 0; i < events.size(); ++i) {
    const EventType type = events.type(i);
    if (type.origin != Origin::Kernel) continue;
    const K k = type.kernel();
    if (k != K::KvmExit && k != K::PageFault) {
      if (k == K::KvmEntry || k == K::RunEnter || k == K::RunExit) exit = FaultCode::Unknown;
      continue;
    }
    const Event e = events[i];
    if (k == K::KvmExit) {
      exit = FaultCodeOfExit(ToKernel(e));
    } else {  // K::PageFault
      codes[i] = exit;
      if (codes[i] == FaultCode::Unknown) codes[i] = FaultCodeOfHost(trace.host, e.a[3]);
    }
  }
  return codes;
}

DecodeContext ContextOf(const TraceData& trace, const Event& event) {
  if (event.type != KernelEventKind::PageFault) return {};
  // The store keeps no Event objects to compare addresses with: the event
  // is found by value, on its thread's track at its time.
  for (uint32_t t = 0; t < trace.tracks.size(); ++t) {
    if (trace.tracks[t].tid != event.tid) continue;
    const EventRange at = trace.Window(t, event.time_ns, event.time_ns);
    for (size_t i = 0; i < at.size(); ++i) {
      if (at[i] == event) {
        return {.fault_code = FaultCodeAt(
                    trace, EventRef{t, static_cast<uint32_t>(at.first_index() + i)})};
      }
    }
  }
  return {.fault_code = FaultCodeOfHost(trace.host, event.a[3])};
}

std::vector<Field> EventFieldsAt(const TraceData& trace, EventRef ref) {
  const Event& e = trace.At(ref);
  if (e.type != KernelEventKind::PageFault) return EventFieldsWith(trace, e, {});
  return EventFieldsWith(trace, e, {.fault_code = FaultCodeAt(trace, ref)});
}

std::string DescribeEventAt(const TraceData& trace, EventRef ref) {
  const Event& e = trace.At(ref);
  if (e.type != KernelEventKind::PageFault) return DescribeEventWith(trace, e, {});
  return DescribeEventWith(trace, e, {.fault_code = FaultCodeAt(trace, ref)});
}

std::vector<PageFaultGroup> GroupPageFaults(const TraceData& trace, int vcpu) {
  std::map<std::tuple<FaultCode, std::string, bool>, uint64_t> counts;
  for (uint32_t t = 0; t < trace.tracks.size(); ++t) {
    const Track& track = trace.tracks[t];
    if (vcpu >= 0 && track.vcpu != vcpu) continue;
    for (uint32_t i = 0; i < track.events.size(); ++i) {
      if (track.events.type(i) != KernelEventKind::PageFault) continue;
      const Event e = track.events[i];
      const FaultCode code = FaultCodeAt(trace, EventRef{t, i});
      auto [access, present] = AccessOf(e.a[3], code);
      ++counts[{code, access, present}];
    }
  }
  std::vector<PageFaultGroup> groups;
  for (const auto& [key, n] : counts) {
    groups.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
  }
  return groups;
}

std::string PageFaultGroupText(const PageFaultGroup& g) {
  if (g.code == FaultCode::Unknown) return "producer unknown (raw value, meaning depends on the exit)";
  return fmt::format("{}: {}, {}", FaultCodeName(g.code), g.access,
                     g.present ? "present (a protection fault)" : "not present");
}

std::string EmulatedCpuNote(const HostFacts& host) {
  if (!host.platform.empty()) {
    if (!host.Emulated()) return {};
    return fmt::format(
        "the host runs in an {} with CPU '{}': times are the emulator's, so latencies mean "
        "nothing here; counts, stacks and decoding do",
        host.platform, host.cpu);
  }
  // Traces from before the platform was recorded: QEMU's TCG names its
  // default models "QEMU Virtual CPU version ...", but Bochs presents a real
  // model name (its corei7_skylake_x reads "Intel(R) Core(TM) i7-7800X"), so
  // such a trace cannot tell Bochs apart.
  if (host.cpu.find("QEMU") == std::string::npos && host.cpu.find("Bochs") == std::string::npos) {
    return {};
  }
  return fmt::format(
      "the host's CPU is emulated ({}): times are the emulator's, so latencies mean nothing "
      "here; counts, stacks and decoding do",
      host.cpu);
}

}  // namespace kvmscope::traces

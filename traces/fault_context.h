// Decoding that needs more than the event itself: what a kvm:kvm_page_fault's
// error_code holds depends on the exit that led to it (the kvm_exit before it
// on the same vCPU thread), else on the host's backend and its vendor
// module's ept/npt parameter. Functions over a thread's events and over a
// whole trace, for every front end that prints kernel events (the live
// printer, stats, the inspector).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "traces/kernel_event.h"
#include "traces/trace.h"

namespace kvmscope::traces {

// What a kvm_exit says the following kvm_page_fault carries: VMX
// EPT_VIOLATION → EptQualification; SVM NPF → NpfErrorCode; an intercepted
// #PF (VMX EXCEPTION_NMI with a valid #PF in intr_info, SVM EXCP_PF) →
// PfErrorCode; any other exit → Unknown.
FaultCode FaultCodeOfExit(const KernelEvent& kvm_exit);
// Without the exit: what the host's backend (HostFacts::backend, "SVM (AMD)",
// "VMX (Intel)", "PVM") decides alone. On SVM both producers give a #PF
// error code, NPF's with bit 32 or 33 set (on 6.1 and later: up to 6.0 the
// tracepoint's error_code is 32 bits and those bits are lost); on VMX it
// depends on the paging mode (ept=Y: EPT qualification, ept=0: #PF error
// code), which the trace does not record, so Unknown.
FaultCode FaultCodeOfHost(std::string_view backend, uint64_t code);
// The same, deciding VMX (and SVM with npt=0) by the recorded vendor module
// parameter (HostFacts::TwoDimensionalPaging): ept=Y → EptQualification,
// ept=N / npt=N → PfErrorCode; by the backend alone when not recorded. On an
// SVM kernel before 6.1 (HostFacts::kernel_release) the bits are lost:
// npt=Y → NpfErrorCode, npt not recorded → Unknown.
FaultCode FaultCodeOfHost(const HostFacts& host, uint64_t code);

// The producer of the kvm_page_fault at `index` in one thread's time-ordered
// events: the kvm_exit found walking back, stopping at a kvm_entry or a
// KVM_RUN edge (that exit would belong to another round trip). Unknown when
// there is none (kvm_exit not traced, or lost) or `index` is no page fault.
FaultCode FaultCodeAt(std::span<const KernelEvent> events, size_t index);
FaultCode FaultCodeAt(EventRange track_events, size_t index);
// The same over a trace, falling back on the recorded backend.
FaultCode FaultCodeAt(const TraceData& trace, EventRef ref);

// The decode context of any event (for kvm_page_fault: its FaultCode).
DecodeContext ContextAt(std::span<const KernelEvent> events, size_t index);

// FaultCodeAt of every event of one track (Unknown for any event that is no
// page fault), in one pass forward: for front ends that describe a whole
// track (the Chrome export), where a walk back per fault could cost O(n²)
// on a track without kvm_exit or kvm_entry events.
std::vector<FaultCode> FaultCodesOf(const TraceData& trace, uint32_t track);

// The decode context of an event given by value: found among the trace's
// tracks (its thread's, at its time, an equal event), its FaultCodeAt; an
// event that is not in the trace gets what the host alone says. Where the
// event's place is known, EventFieldsAt / DescribeEventAt need no search.
// Empty (and free) for every event but kvm_page_fault. EventFields and
// DescribeEvent (trace.h) decode with it.
DecodeContext ContextOf(const TraceData& trace, const Event& event);

// EventFields / DescribeEvent with the context the event has in the trace,
// found by position (no search among the tracks).
std::vector<Field> EventFieldsAt(const TraceData& trace, EventRef ref);
std::string DescribeEventAt(const TraceData& trace, EventRef ref);
// The same with a context already known (FaultCodesOf). Defined in event.cpp.
std::vector<Field> EventFieldsWith(const TraceData& trace, const Event& event,
                                   const DecodeContext& context);
std::string DescribeEventWith(const TraceData& trace, const Event& event,
                              const DecodeContext& context);

// kvm_page_fault events of a trace (or one vCPU, vcpu >= 0) grouped by what
// produced them and the kind of access: "EPT exit qualification: fetch, not
// present" → 2. The access is named in the producer's own terms.
struct PageFaultGroup {
  FaultCode code = FaultCode::Unknown;
  std::string access;  // "read", "write", "fetch"; "" when unknown
  bool present = false;  // the translation existed (a protection fault)
  uint64_t count = 0;
  bool operator==(const PageFaultGroup&) const = default;
};
std::vector<PageFaultGroup> GroupPageFaults(const TraceData& trace, int vcpu = -1);
// "NPF error code: write, not present" for one group.
std::string PageFaultGroupText(const PageFaultGroup& group);

// Where the host's CPU is an emulator's (HostFacts::platform "emulator
// (...)"; in traces from before it, a HostFacts::cpu naming QEMU or Bochs),
// a sentence saying that times are emulated and latencies mean nothing; ""
// on other hosts.
std::string EmulatedCpuNote(const HostFacts& host);

}  // namespace kvmscope::traces

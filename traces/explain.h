// One-line teaching texts: what an event, a KVM_EXIT_* reason or a hardware
// exit reason means, in words for a student looking at it in the inspector.
// Plain data with no UI dependency, so the terminal tour can print them too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "traces/trace.h"

namespace kvmscope::traces {

// Every kind has a text (never ""); Count has none.
std::string_view ExplainKind(KernelEventKind kind);
std::string_view ExplainKind(VmmEventKind kind);
// The KVM_EXIT_* reason KVM_RUN returned with (kvm_run->exit_reason); "" for
// reasons that no x86 VMM sees (s390, PowerPC, RISC-V, ...).
std::string_view ExplainExitReason(uint32_t kvm_exit_reason);
// A hardware exit reason from kvm:kvm_exit: VMX basic reason or SVM exit
// code; "" for the rarer ones (the kind's text covers them).
std::string_view ExplainHardwareExit(ExitIsa isa, uint64_t reason);
// An exception vector as KVM injects it into the guest (#PF, #UD, #GP, ...);
// "" for vectors with nothing specific to say.
std::string_view ExplainInjectedException(uint32_t vector);

// The most specific text for one event: the exit reason of a KVM_RUN exit
// (VMM or kernel side), the hardware reason of a kvm_exit, the vector of an
// injected exception, else the kind's text. Never "" for a valid event.
std::string_view ExplainEvent(const Event& event);

// The ports of kvmscope's own VMM devices (as KVMSCOPE_COM1_PORT and
// KVMSCOPE_STATUS_PORT in vmm/guests/abi.h, which traces/ does not include).
inline constexpr uint64_t kCom1Port = 0x3f8;
inline constexpr uint64_t kStatusPort = 0x500;
// "COM1" (0x3f8, the 16550's data register), "COM1 register N" (0x3f9-0x3ff),
// "status port" (0x500); "" for other ports.
std::string PortName(uint64_t port);
// What the terminal prints after an I/O exit's data, and the GUI too: " 'H'"
// (or " '\\n'") for a byte written to COM1, " (status report)" for the status
// port, else "".
std::string PortDataNote(uint64_t port, bool out, uint64_t data);

}  // namespace kvmscope::traces

// The one place where a raw ring-buffer record (struct kvmscope_event, the
// ABI of kvm_trace.h) becomes a traces::KernelEvent.
#pragma once

#include <optional>

#include "kvm_trace.h"
#include "traces/kernel_event.h"

namespace kvmscope::probes {

// The C++ kind of an ABI kind; nullopt for a number this build does not know.
std::optional<traces::KernelEventKind> KindFromRaw(uint32_t raw_kind);
// nullopt for an unknown kind. The stack id is left -1: BPF stack ids are
// interned by the session.
std::optional<traces::KernelEvent> ToKernelEvent(const kvmscope_event& raw);

}  // namespace kvmscope::probes

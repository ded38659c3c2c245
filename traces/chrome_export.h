// Export of a trace as Chrome trace event JSON, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open: spans as complete events, the
// other events as instants, one named row per thread and span kind.
#pragma once

#include <ostream>
#include <string>

#include "traces/trace.h"

namespace kvmscope::traces {

// The row (Chrome "tid") of a track's spans of one kind. Perfetto draws
// complete events of one thread as a stack and mis-draws partial overlaps,
// which spans of different kinds have (the VMM's KVM_RUN and the kernel's
// differ by microseconds); each kind gets its own row, numbered
// (kind + 1) * 100000000 + tid so that it reads as its thread's (Linux tids
// stay below 2^22).
uint32_t ChromeSpanTid(uint32_t tid, SpanKind kind);

// Streams the export; throws std::runtime_error if the stream fails.
void WriteChromeTrace(const TraceData& trace, std::ostream& out);
// WriteChromeTrace into `path`, atomically (atomic_file.h).
void SaveChromeTrace(const TraceData& trace, const std::string& path);

}  // namespace kvmscope::traces

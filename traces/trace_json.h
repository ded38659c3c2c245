// kvmscope's native trace file: one JSON document holding a whole TraceData
// (docs/trace-format.md). Written by streaming and read with a SAX parser, so
// a trace of millions of events never exists twice in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "traces/trace.h"

namespace kvmscope::traces {

// The format name and the version this build writes and the newest it reads.
inline constexpr std::string_view kTraceFormatName = "kvmscope-trace";
inline constexpr int kTraceFormatVersion = 1;

// A trace file that is not valid: not JSON, truncated, a field missing or of
// the wrong type, a number out of range, a dangling reference. The message
// names the place, e.g. "tracks[1].events[1234][3]: stack id 57 does not
// exist (the trace has 12 stacks)"; LoadTrace prefixes the file name.
class TraceFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `trace` as a native trace file. Spans are not written (readers
// rebuild them). Throws std::runtime_error if the stream fails.
void WriteTrace(const TraceData& trace, std::ostream& out);
// WriteTrace into `path`, atomically (a failure leaves any old file intact).
void SaveTrace(const TraceData& trace, const std::string& path);

// Reads a native trace file, validates everything and rebuilds the spans.
// Throws TraceFormatError.
TraceData ParseTrace(std::istream& in);
TraceData ParseTrace(std::string_view text);
// How far loading a file is: bytes read of the file's size (total 0 when
// it has none, as a pipe). Called after every read of 64 KiB.
using LoadProgress = Progress;
// ParseTrace of a file; a file that cannot be opened throws FileError
// (atomic_file.h) naming the path and the reason.
TraceData LoadTrace(const std::string& path, const LoadProgress& progress = {});

}  // namespace kvmscope::traces

// Export of a trace as Chrome trace event JSON, for every viewer of that
// format: Perfetto (ui.perfetto.dev), chrome://tracing, Chrome DevTools'
// performance panel and speedscope. What they all read the same way:
//   - one row per real thread (pid/tid as the kernel numbers them), named
//     without ids (viewers add them);
//   - spans as "B"/"E" pairs on that thread, properly nested: the VMM's
//     KVM_RUN holds the kernel's, which holds the guest's runs and the
//     kernel's handling; a child that the clocks let stick out of its parent
//     is cut at the parent's edge, so boundaries are identical, never
//     overlapping by a rounding;
//   - every other event as a thread-scoped instant ("ph":"I", "s":"t");
//   - timestamps in microseconds of CLOCK_MONOTONIC with all nine digits of
//     the nanoseconds, so kvmscope's traces line up with other traces of the
//     same machine (perf, Perfetto's own);
//   - arguments that are decimal integers written as numbers.
// A path ending in .gz is written gzip-compressed.
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

#include "traces/trace.h"

namespace kvmscope::traces {

// What an export wrote, by kind of trace event.
struct ChromeExportCounts {
  size_t metadata = 0;  // "M": process and thread names and order
  size_t instants = 0;  // "I": one per event that is no span edge
  size_t spans = 0;     // "B"/"E" pairs
  size_t events() const { return metadata + instants + 2 * spans; }
};

// Told now and then how far an export is: events of the trace written, of all.
using ExportProgress = Progress;

// Streams the export; throws std::runtime_error if the stream fails.
ChromeExportCounts WriteChromeTrace(const TraceData& trace, std::ostream& out,
                                    const ExportProgress& progress = {});
// WriteChromeTrace into `path`, atomically (atomic_file.h); gzip-compressed
// when the path ends in ".gz".
ChromeExportCounts SaveChromeTrace(const TraceData& trace, const std::string& path,
                                   const ExportProgress& progress = {});

}  // namespace kvmscope::traces

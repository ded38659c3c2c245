// Writing a file so that readers only ever see the old file or the complete
// new one: the content goes to a temporary file in the same directory, is
// flushed to disk, and is renamed over the final name.
#pragma once

#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>

namespace kvmscope::traces {

// An I/O failure while writing or reading a file; the message names the path
// and the system's reason.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Calls `produce` with a stream into `path`.tmp-PID-RANDOM, then fsyncs and
// renames it to `path`. If `produce` throws, or any write, fsync or rename
// fails, the temporary file is removed and `path` is left as it was: an
// exception from `produce` propagates unchanged, a system failure throws
// FileError ("cannot write /x/trace.json: ... : No space left on device").
void WriteFileAtomically(const std::string& path,
                         const std::function<void(std::ostream&)>& produce);

}  // namespace kvmscope::traces

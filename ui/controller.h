// What the window drives: the source of the trace it shows. app/ implements
// it — live (a guest run by the VMM, traced by the probes) or a replay of a
// saved trace — so that ui/ knows nothing of vmm/ or probes/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::ui {

enum class RunState { Replay, Paused, Running, Finished };
std::string_view RunStateName(RunState state);

// A guest of the catalog as the picker offers it.
struct GuestChoice {
  std::string name;
  std::string description;  // one line: what it shows
};

// Threading contract: the window calls every member from its own thread, and
// never while it holds a Snapshot of the trace (commands are queued during a
// frame and run between frames). Select, Reset and Open may stop a run and
// replace the trace; the shared_ptr a frame holds keeps the old one alive.
class Controller {
 public:
  virtual ~Controller() = default;
  // The trace to read this frame (another object after Reset, Open or
  // Select: ask every frame). Never null.
  virtual std::shared_ptr<traces::Trace> trace() = 0;
  virtual RunState state() const = 0;
  // One line for the status bar: "hello: running", "passed — reported 0x18".
  virtual std::string status() const = 0;
  // Called once per frame before drawing (live: refresh the loss counters).
  virtual void Tick() {}
  // The outcome of a command that finished after it returned (Open loads in
  // the background): shown in the toolbar like a command's own message.
  // Asked once per frame after Tick; "" when there is none.
  virtual std::string TakeMessage() { return {}; }

  // Live control (no-ops in a replay).
  virtual std::vector<GuestChoice> guests() const { return {}; }  // the catalog
  virtual std::string guest() const { return {}; }
  // Stops the current guest and prepares `name` (a catalog name or a file).
  virtual std::string Select(const std::string& /*name*/) { return "replay: no guest to run"; }
  // Stops the current guest and runs catalog guest `name` with `param` (its
  // --param) from the start, not paused: what a lab step runs.
  virtual std::string RunGuest(const std::string& /*name*/, std::optional<uint64_t> /*param*/) {
    return "replay: no guest to run";
  }
  virtual void Run() {}
  virtual void Pause() {}
  virtual void Step() {}  // exactly one KVM_RUN
  virtual void SetSlowMotion(int /*ms*/) {}
  virtual void Reset() {}

  // Files. Each returns a one-line message for the status bar.
  virtual std::string Open(const std::string& path) = 0;  // replay a saved trace
  virtual std::string Save(const std::string& path) = 0;  // native trace
  virtual std::string ExportChrome(const std::string& path) = 0;
};

}  // namespace kvmscope::ui

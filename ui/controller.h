// What the window drives: the source of the trace it shows. app/ implements
// it — live (a guest run by the VMM, traced by the probes) or a replay of a
// saved trace — so that ui/ knows nothing of vmm/ or probes/.
#pragma once

#include <string>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::ui {

enum class RunState { Replay, Paused, Running, Finished };
std::string_view RunStateName(RunState state);

class Controller {
 public:
  virtual ~Controller() = default;
  // The trace to read this frame (may be a different object after Reset,
  // Open or Select: ask every frame, keep no snapshot across frames).
  virtual traces::Trace& trace() = 0;
  virtual RunState state() const = 0;
  // One line for the status bar: "hello: running", "passed — reported 0x18".
  virtual std::string status() const = 0;
  // Called once per frame before drawing (live: refresh the loss counters).
  virtual void Tick() {}

  // Live control (no-ops in a replay).
  virtual std::vector<std::string> guests() const { return {}; }  // the catalog
  virtual std::string guest() const { return {}; }
  // Stops the current guest and prepares `name` (a catalog name or a file).
  virtual std::string Select(const std::string& /*name*/) { return "replay: no guest to run"; }
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

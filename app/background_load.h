// Loads a trace file on a thread of its own, so that the window keeps
// drawing while a big trace loads and can say how far it is.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "traces/trace.h"

namespace kvmscope::app {

class BackgroundLoad {
 public:
  BackgroundLoad() = default;
  ~BackgroundLoad();  // cancels a load under way and waits for its thread
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;

  // Starts loading `path`; false (nothing started) while another load runs.
  bool Start(const std::string& path);
  // Forgets the load under way (another run or trace replaced what it was
  // for): it stops at its next read and Take never returns it.
  void Cancel() { m_cancel = true; }
  bool busy() const { return m_thread.joinable() && !m_finished && !m_cancel; }
  // "loading PATH: 45% (120.0 of 266.1 MiB)" while busy.
  std::string Progress() const;

  struct Result {
    std::string path;
    std::shared_ptr<traces::Trace> trace;  // null when it failed
    std::string error;                     // why, naming the file
  };
  // The finished load's result, once (its thread joined); nullopt while it
  // runs, when none was started, or when it was cancelled.
  std::optional<Result> Take();

 private:
  std::thread m_thread;
  std::string m_path;
  std::atomic<uint64_t> m_done{0}, m_total{0};
  std::atomic<bool> m_cancel{false}, m_finished{false};
  Result m_result;  // written by the thread before m_finished is set
};

}  // namespace kvmscope::app

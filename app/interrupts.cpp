// The signal watcher shared by `run` and `gui` (see interrupts.h).
#include "app/interrupts.h"

#include <signal.h>

#include <ctime>

namespace kvmscope::app {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void InterruptWatcher::BlockEarly() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

InterruptWatcher::InterruptWatcher(Handler handler) {
  BlockEarly();
  m_thread = std::thread([this, handler = std::move(handler)] {
    sigset_t set = StopSignals();
    timespec tick{0, 50'000'000};
    while (!m_done) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig > 0) handler(sig, sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
    }
  });
}

InterruptWatcher::~InterruptWatcher() {
  m_done = true;
  m_thread.join();
}

}  // namespace kvmscope::app

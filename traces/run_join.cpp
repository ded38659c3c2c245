// RunJoin: pairs each KVM_RUN the VMM saw with the kernel events of the same
// thread inside it, holding a run back until its kernel side has arrived.
#include "traces/run_join.h"

#include <algorithm>
#include <utility>

namespace kvmscope::traces {
namespace {

// Whether the kernel's own end of this KVM_RUN has arrived (and with it
// everything before it, unless the thread moved to another CPU's ring
// mid-run).
bool HasKernelRunExit(const std::deque<KernelEvent>& events, const VmmRun& run) {
  for (const KernelEvent& e : events) {
    if (e.time_ns > run.exit_ns) break;
    if (e.kind == KernelEventKind::RunExit && e.time_ns >= run.enter_ns) return true;
  }
  return false;
}

}  // namespace

void RunJoin::AddRun(VmmRun run) {
  m_runs.push_back(std::move(run));
}

void RunJoin::AddKernel(const KernelEvent& event) {
  // Kept in time order: most arrive in it, but an entry the VMM made comes
  // from the vCPU thread ahead of its last run's events in the ring buffer,
  // and a thread that moved between CPUs arrives from two rings.
  std::deque<KernelEvent>& q = m_kernel[event.tid];
  auto at = q.end();
  while (at != q.begin() && std::prev(at)->time_ns > event.time_ns) --at;
  q.insert(at, event);
}

size_t RunJoin::pending_kernel() const {
  size_t n = 0;
  for (const auto& [tid, events] : m_kernel) n += events.size();
  return n;
}

std::vector<JoinedRun> RunJoin::TakeReady(int64_t now_ns, int64_t grace_ns) {
  std::vector<JoinedRun> ready;
  while (!m_runs.empty()) {
    const VmmRun& run = m_runs.front();
    auto events = m_kernel.find(run.tid);
    const bool complete = events != m_kernel.end() && HasKernelRunExit(events->second, run);
    if (!complete && run.exit_ns >= now_ns - grace_ns) break;

    JoinedRun joined{std::move(m_runs.front()), {}, complete};
    m_runs.pop_front();
    if (events != m_kernel.end()) {
      // This is the oldest run of its thread still held (each thread adds its
      // runs in order), so what lies before it belongs to no run.
      std::deque<KernelEvent>& q = events->second;
      while (!q.empty() && q.front().time_ns < joined.run.enter_ns) q.pop_front();
      while (!q.empty() && q.front().time_ns <= joined.run.exit_ns) {
        joined.kernel.push_back(q.front());
        q.pop_front();
      }
      if (q.empty()) m_kernel.erase(events);
    }
    ready.push_back(std::move(joined));
  }
  DropStale(now_ns - 2 * grace_ns);
  return ready;
}

void RunJoin::DropStale(int64_t cutoff_ns) {
  // The time span of each thread's pending runs: oldest enter, newest exit.
  std::unordered_map<uint32_t, std::pair<int64_t, int64_t>> spans;
  for (const VmmRun& run : m_runs) {
    auto [it, added] = spans.try_emplace(run.tid, run.enter_ns, run.exit_ns);
    if (!added) {
      it->second.first = std::min(it->second.first, run.enter_ns);
      it->second.second = std::max(it->second.second, run.exit_ns);
    }
  }
  auto before = [](int64_t t) { return [t](const KernelEvent& e) { return e.time_ns < t; }; };
  for (auto it = m_kernel.begin(); it != m_kernel.end();) {
    std::deque<KernelEvent>& q = it->second;
    auto span = spans.find(it->first);
    if (span == spans.end()) {
      // No run of this thread is held: wait for one to be added, for a while.
      q.erase(q.begin(), std::partition_point(q.begin(), q.end(), before(cutoff_ns)));
    } else {
      // Before the oldest held run: no run of this thread can claim them.
      q.erase(q.begin(), std::partition_point(q.begin(), q.end(), before(span->second.first)));
      // After the newest held run: they wait for a later run, for a while.
      auto after = std::partition_point(q.begin(), q.end(), before(span->second.second + 1));
      q.erase(after, std::partition_point(after, q.end(), before(cutoff_ns)));
    }
    if (q.empty()) {
      it = m_kernel.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace kvmscope::traces

// Internal to traces/cycle*.cpp: classifying kernel events onto the cycle's
// side steps, and counting the cycle's arcs incrementally — a live trace is
// recounted only from the last point per track that nothing merged behind.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "traces/cycle.h"

namespace kvmscope::traces::cycle_detail {

// Which side step of the exit handler an event shows, and how we know.
struct Side {
  std::optional<CycleNodeId> node;  // Emulate, PageFault or Exception
  CountKind evidence = CountKind::None;
  bool operator==(const Side&) const = default;
};

bool IsMmuKind(KernelEventKind k);

// Captured stacks of MMU events of one kind: how many, how many went through
// the page-fault path, how many through the emulator.
struct MmuStacks {
  uint64_t total = 0, page_fault = 0, emulate = 0;
};
using MmuStacksByKind = std::array<MmuStacks, kKernelEventKinds>;

// What the captured stacks say per stack and per event kind: an MMU event
// without a stack of its own is put on the page-fault (or emulator) path
// only when every captured stack of its kind went there.
class Classifier {
 public:
  Classifier() = default;
  // From a whole trace: its stacks, then one pass over its events.
  explicit Classifier(const TraceData& trace);
  void SetStacks(const TraceData& trace);
  void SetKinds(const MmuStacksByKind& kinds);
  Side Of(const Event& e) const;
  std::optional<CycleNodeId> StackNode(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < m_stack_node.size() ? m_stack_node[static_cast<size_t>(id)]
                                                                    : std::nullopt;
  }
  // The side of an MMU event without a stack, by kind.
  const std::array<Side, kKernelEventKinds>& unstacked() const { return m_unstacked; }
  static std::array<Side, kKernelEventKinds> Verdicts(const MmuStacksByKind& kinds);

 private:
  std::vector<std::optional<CycleNodeId>> m_stack_node;
  std::array<Side, kKernelEventKinds> m_unstacked{};
};

// What a stretch of events adds to the counts. Additive, so that a stretch
// counted again is first taken off. Keys are raw values (names are made
// once, when the model is filled): KVM_EXIT_* reason, (ExitIsa, hardware
// reason), exception vector, ioctl text id.
struct Tally {
  std::array<uint64_t, kEventTypes> by_type{};
  std::map<uint64_t, uint64_t> vmm_exits, vectors, ioctls;
  // The kernel's side of KVM_RUN returns (kvm_userspace_exit: reason, or
  // kInterruptedExitReason) and of the next KVM_RUN: an external VMM's
  // run loop, whose own events are not recorded.
  std::map<uint64_t, uint64_t> kernel_exits;
  uint64_t kernel_run_again = 0;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> hw_handled;
  uint64_t run_again = 0, handled = 0, pf_episodes = 0, pf_inferred_events = 0;
  MmuStacksByKind mmu{};
  void Add(const Tally& other, bool subtract = false);
};

// Where the per-track pass stands after an event.
struct ScanState {
  bool exited = false;    // the VMM's KVM_RUN returned and was not called again yet
  bool kernel_exited = false;  // the same, as kvm_userspace_exit saw it
  bool in_fault = false;  // the last kernel event was on the page-fault path
  std::optional<std::pair<uint64_t, uint64_t>> pending_exit;  // a kvm_exit not yet resolved
};

// A point of a track the count can restart from: the state after its first
// `index` events, and what the events from there to the next checkpoint
// added. It still holds while the track's first `index` events are the
// same: its last one (`last`) is still at index - 1 and still only `before`
// events are earlier than it (Trace::Merge puts a late event after every
// event of the same time, so nothing merged at or after `last` moves it).
struct Checkpoint {
  uint32_t index = 0;
  uint32_t before = 0;
  Event last{};
  ScanState state;
  Tally tally;
};

struct TrackCount {
  uint32_t pid = 0, tid = 0;
  std::vector<Checkpoint> checkpoints;  // by index; the first at 0
};

// The counts of one trace, kept up to date as it grows.
class CycleCounter {
 public:
  // A checkpoint every this many events of a track (and one at its end).
  static constexpr uint32_t kCheckpointEvery = 4096;

  explicit CycleCounter(const TraceData& trace);  // the trace's stacks (facts)
  // Counts what changed since the last call; returns the events passed over.
  // `incremental` false: everything, from the start (the old way, for the
  // benchmark's side-by-side).
  size_t Update(const TraceData& trace, bool incremental = true);
  // The model's counts from the totals.
  void Fill(CycleModel& m, const TraceData& trace) const;
  const Classifier& classifier() const { return m_classify; }
  size_t full_counts() const { return m_full_counts; }

 private:
  void Restart(TrackCount& tc, size_t keep);  // drops checkpoints after `keep`
  size_t Scan(const Track& track, TrackCount& tc);
  void Push(TrackCount& tc, const EventList& ev, uint32_t index, const ScanState& state);

  Classifier m_classify;
  std::vector<TrackCount> m_tracks;
  Tally m_total;
  size_t m_full_counts = 0;
};

}  // namespace kvmscope::traces::cycle_detail

// The story event of each catalog guest, and the VMM exits in time order over
// all tracks (binary searches over each track's KVM_RUN spans, whose ends are
// the exits).
#include "traces/story.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "traces/explain.h"
#include "traces/fault_context.h"

namespace kvmscope::traces {
namespace {

using Key = std::tuple<int64_t, uint32_t, uint32_t>;  // time, track, index
Key KeyOf(const TraceData& trace, EventRef r) {
  return {trace.At(r).time_ns, r.track, r.index};
}

// The earliest event over all tracks that satisfies `pred` (tracks filtered
// by `track_ok`).
template <typename Pred, typename TrackOk>
std::optional<EventRef> FirstWhere(const TraceData& trace, Pred pred, TrackOk track_ok) {
  std::optional<EventRef> best;
  for (uint32_t t = 0; t < trace.tracks.size(); ++t) {
    if (!track_ok(trace.tracks[t])) continue;
    const EventList& ev = trace.tracks[t].events;
    auto it = std::find_if(ev.begin(), ev.end(), pred);
    if (it == ev.end()) continue;
    EventRef ref{t, static_cast<uint32_t>(it - ev.begin())};
    if (!best || KeyOf(trace, ref) < KeyOf(trace, *best)) best = ref;
  }
  return best;
}
template <typename Pred>
std::optional<EventRef> FirstWhere(const TraceData& trace, Pred pred) {
  return FirstWhere(trace, pred, [](const Track&) { return true; });
}

bool IsExit(const Event& e) { return e.type == VmmEventKind::RunExit; }
bool IsExitWith(const Event& e, uint32_t reason) {
  return IsExit(e) && e.a[1] == 0 && static_cast<uint32_t>(e.a[0]) == reason;
}
bool IsOutTo(const Event& e, uint64_t port) {
  return IsExitWith(e, kKvmExitIo) && (e.a[3] & 0xffff) == port && ((e.a[3] >> 24) & 1) != 0;
}
bool IsInjected(const Event& e, uint32_t vector) {
  return e.type == KernelEventKind::InjException && static_cast<uint32_t>(e.a[0]) == vector;
}

std::string ExitCaption(const Event& e) {
  const auto reason = static_cast<uint32_t>(e.a[0]);
  std::string_view name = KvmExitReasonName(reason);
  return fmt::format("KVM_RUN returned to the VMM with KVM_EXIT_{}: {}",
                     name.empty() ? fmt::format("{}", reason) : std::string(name),
                     ExplainEvent(e));
}

// Exits of a track in time order are the ends of its KVM_RUN spans (those
// that end in a VMM RunExit).
bool EndsInExit(const Track& track, const Span& s) {
  return s.end != kNoEvent && IsExit(track.events[s.end]);
}

// Who walks the guest's page tables in this trace: the CPU (EPT/NPT, true) or
// KVM (shadow paging, false). The recorded module parameter says so, else
// what the kvm_page_fault events decode as; nullopt when neither tells.
std::optional<bool> TwoDimensional(const TraceData& trace) {
  if (std::optional<bool> tdp = trace.host.TwoDimensionalPaging()) return tdp;
  for (const EventRef r : trace.OfType(KernelEventKind::PageFault)) {
    switch (FaultCodeAt(trace, r)) {
      case FaultCode::EptQualification:
      case FaultCode::NpfErrorCode: return true;
      case FaultCode::PfErrorCode: return false;
      case FaultCode::Unknown: break;
    }
  }
  return std::nullopt;
}

bool IsFault(const Event& e) {
  return e.type == KernelEventKind::PageFault || e.type == KernelEventKind::MmuPageFault;
}

}  // namespace

std::optional<Story> FindStory(const TraceData& trace) {
  const std::string& guest = trace.guest.name;
  Story story;
  std::optional<EventRef> ref;
  std::string caption;
  if (guest == "hello") {
    ref = FirstWhere(trace, [](const Event& e) { return IsOutTo(e, kCom1Port); });
    if (ref) {
      const Event& e = trace.At(*ref);
      caption = fmt::format(
          "The guest writes{} to COM1 (port 0x3f8) with OUT: the CPU cannot finish it inside "
          "the guest, so KVM_RUN returns KVM_EXIT_IO and the VMM plays the serial port.",
          PortDataNote(kCom1Port, true, e.a[5]));
    }
  } else if (guest == "pagefault") {
    // Who handles the guest's #PF is configuration. With EPT/NPT KVM does not
    // intercept it (6.0.1 arch/x86/kvm/svm/svm.c:1277 clears the #PF
    // intercept when npt is on; VMX's exception bitmap leaves out #PF with
    // ept): KVM sees only guest-physical pages it has not mapped yet. With
    // shadow paging it intercepts it, walks the guest's tables and injects it
    // (6.1-rc7 arch/x86/kvm/mmu/paging_tmpl.h:302 walk_addr_generic, :814
    // kvm_inject_emulated_page_fault).
    story.chain = ChainId::PageFaults;
    const std::optional<bool> tdp = TwoDimensional(trace);
    if (tdp == true) {
      ref = FirstWhere(trace, IsFault);
      caption =
          "With EPT/NPT the guest's first touch of a page KVM has not mapped exits as an EPT "
          "violation / NPF: kvm_mmu_page_fault maps it and the guest retries.";
    } else {
      ref = FirstWhere(trace, [](const Event& e) { return IsInjected(e, 14); });
      if (!ref) {
        ref = FirstWhere(trace,
                         [](const Event& e) { return e.type == KernelEventKind::MmuWalkerError; });
      }
      if (!ref) ref = FirstWhere(trace, IsFault);
      caption =
          tdp == false
              ? "An address the guest's page tables do not map: with shadow paging KVM "
                "intercepts the #PF, walks the tables in software and injects #PF (vector 14)."
              : "An address the guest's page tables do not map: with shadow paging KVM walks "
                "them and injects #PF; with EPT/NPT the CPU delivers it to the guest.";
    }
  } else if (guest == "exceptions") {
    story.chain = ChainId::Exceptions;
    ref = FirstWhere(trace, [](const Event& e) { return IsInjected(e, 6); });
    caption =
        "The guest executes an instruction that is invalid here: KVM injects #UD (vector 6) "
        "and the guest's own #UD handler runs, all without leaving the kernel.";
  } else if (guest == "mmio") {
    ref = FirstWhere(trace, [](const Event& e) { return IsExitWith(e, kKvmExitMmio); });
    caption =
        "The guest touches an address with no memory behind it: KVM_RUN returns "
        "KVM_EXIT_MMIO and the VMM emulates the device register.";
  } else if (guest == "cpuid") {
    ref = FirstWhere(trace, [](const Event& e) { return e.type == KernelEventKind::Cpuid; });
    caption =
        "The guest executes CPUID, which always exits: KVM answers from the table the VMM set "
        "with KVM_SET_CPUID2, without returning to the VMM.";
  } else if (guest == "timer") {
    ref = FirstWhere(trace, [](const Event& e) { return IsExitWith(e, kKvmExitHlt); });
    if (!ref) {
      ref = FirstWhere(trace, [](const Event& e) { return e.type == KernelEventKind::InjVirq; });
    }
    caption =
        "The guest halts (HLT) and waits for its local APIC timer: the in-kernel APIC wakes it "
        "with an interrupt.";
  } else if (guest == "smp") {
    ref = FirstWhere(trace, IsExit,
                     [](const Track& t) { return t.kind == TrackKind::Vcpu && t.vcpu == 1; });
    caption =
        "vCPU 1 is a second thread of the VMM with its own KVM_RUN loop: here it returns from "
        "its first KVM_RUN.";
  } else if (guest == "spin") {
    ref = FirstWhere(trace, [](const Event& e) { return e.type == VmmEventKind::Watchdog; });
    caption =
        "The guest loops without ever exiting: the VMM's watchdog signals the vCPU thread, and "
        "KVM_RUN returns with EINTR.";
  } else if (guest == "pio-pair") {
    ref = FirstWhere(
        trace, [](const Event& e) { return IsExitWith(e, kKvmExitIo); },
        [](const Track& t) { return t.kind == TrackKind::Vcpu && t.vcpu == 1; });
    caption =
        "Two vCPU threads make the same exits at once: here vCPU 1 returns from KVM_RUN with "
        "KVM_EXIT_IO, while vCPU 0 has its own KVM_RUN loop beside it.";
  } else if (guest == "pio-loop") {
    ref = FirstWhere(trace, [](const Event& e) { return IsExitWith(e, kKvmExitIo); });
    caption =
        "Each OUT to the tick port is one exit: KVM_RUN returns KVM_EXIT_IO, the VMM handles "
        "it and calls KVM_RUN again.";
  }
  if (!ref) {
    // "modes", guests run from a file, or the chosen event is not there.
    ref = FirstWhere(trace, IsExit);
    if (!ref) return std::nullopt;
    caption = ExitCaption(trace.At(*ref));
  }
  story.event = *ref;
  story.caption = caption.empty() ? ExitCaption(trace.At(*ref)) : caption;
  return story;
}

std::optional<EventRef> AdjacentExit(const TraceData& trace, EventRef from, int direction) {
  if (from.track >= trace.tracks.size() || from.index >= trace.tracks[from.track].events.size()) {
    return std::nullopt;
  }
  const Key key = KeyOf(trace, from);
  const int64_t t = std::get<0>(key);
  std::optional<EventRef> best;
  for (uint32_t tr = 0; tr < trace.tracks.size(); ++tr) {
    const Track& track = trace.tracks[tr];
    const std::vector<Span>& runs = track.spans[static_cast<size_t>(SpanKind::Run)];
    auto better = [&](const Span& s) {
      const EventRef r{tr, s.end};
      if (!best) return true;
      return direction > 0 ? KeyOf(trace, r) < KeyOf(trace, *best)
                           : KeyOf(trace, r) > KeyOf(trace, *best);
    };
    if (direction > 0) {
      // The first run ending at or after t whose exit comes after `from`.
      auto it = std::partition_point(runs.begin(), runs.end(),
                                     [&](const Span& s) { return s.end_ns < t; });
      for (; it != runs.end(); ++it) {
        if (!EndsInExit(track, *it) || KeyOf(trace, {tr, it->end}) <= key) continue;
        if (better(*it)) best = EventRef{tr, it->end};
        break;
      }
    } else {
      auto it = std::partition_point(runs.begin(), runs.end(),
                                     [&](const Span& s) { return s.end_ns <= t; });
      while (it != runs.begin()) {
        --it;
        if (!EndsInExit(track, *it) || KeyOf(trace, {tr, it->end}) >= key) continue;
        if (better(*it)) best = EventRef{tr, it->end};
        break;
      }
    }
  }
  return best;
}

std::optional<EventRef> FirstExit(const TraceData& trace) {
  std::optional<EventRef> best;
  for (uint32_t tr = 0; tr < trace.tracks.size(); ++tr) {
    const Track& track = trace.tracks[tr];
    for (const Span& s : track.spans[static_cast<size_t>(SpanKind::Run)]) {
      if (!EndsInExit(track, s)) continue;
      const EventRef r{tr, s.end};
      if (!best || KeyOf(trace, r) < KeyOf(trace, *best)) best = r;
      break;
    }
  }
  return best;
}

std::vector<EventRef> LatestExits(const TraceData& trace, size_t n) {
  // The n latest of each track, merged: at most n * tracks candidates.
  std::vector<EventRef> all;
  for (uint32_t tr = 0; tr < trace.tracks.size(); ++tr) {
    const Track& track = trace.tracks[tr];
    const std::vector<Span>& runs = track.spans[static_cast<size_t>(SpanKind::Run)];
    size_t taken = 0;
    for (auto it = runs.rbegin(); it != runs.rend() && taken < n; ++it) {
      if (!EndsInExit(track, *it)) continue;
      all.push_back({tr, it->end});
      ++taken;
    }
  }
  std::sort(all.begin(), all.end(), [&](EventRef a, EventRef b) {
    return KeyOf(trace, a) > KeyOf(trace, b);
  });
  if (all.size() > n) all.resize(n);
  return all;
}

std::optional<EventRef> LatestExit(const TraceData& trace) {
  std::vector<EventRef> latest = LatestExits(trace, 1);
  if (latest.empty()) return std::nullopt;
  return latest.front();
}

const Span* RunOfExit(const TraceData& trace, EventRef exit) {
  if (exit.track >= trace.tracks.size()) return nullptr;
  const Track& track = trace.tracks[exit.track];
  if (exit.index >= track.events.size()) return nullptr;
  const std::vector<Span>& runs = track.spans[static_cast<size_t>(SpanKind::Run)];
  const int64_t t = track.events.time_ns(exit.index);
  auto it = std::partition_point(runs.begin(), runs.end(),
                                 [&](const Span& s) { return s.end_ns < t; });
  for (; it != runs.end() && it->end_ns == t; ++it) {
    if (it->end == exit.index) return &*it;
  }
  return nullptr;
}

std::optional<EventRef> ExitOfRunAt(const TraceData& trace, uint32_t track, int64_t time_ns) {
  if (track >= trace.tracks.size()) return std::nullopt;
  const Track& tr = trace.tracks[track];
  for (const Span& s : trace.SpansIn(track, SpanKind::Run, time_ns, time_ns)) {
    if (s.begin_ns <= time_ns && time_ns <= s.end_ns && EndsInExit(tr, s)) {
      return EventRef{track, s.end};
    }
  }
  return std::nullopt;
}

EventRange EventsOfRun(const TraceData& trace, EventRef exit) {
  const Span* run = RunOfExit(trace, exit);
  if (run == nullptr) return {};
  const EventList& ev = trace.tracks[exit.track].events;
  const size_t first = run->begin == kNoEvent ? 0 : run->begin;
  return ev.range(first, run->end + size_t{1});
}

}  // namespace kvmscope::traces

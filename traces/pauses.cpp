// The gate of the VMM's run loop rebuilt from its Control events: when it was
// closed or slowed, and so which stretches of VMM handling were waits.
#include "traces/pauses.h"

#include <algorithm>
#include <limits>
#include <string_view>

namespace kvmscope::traces {
namespace {

constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

// "slow motion 250 ms" → 250; anything unreadable counts as slowed.
int64_t SlowMs(std::string_view text) {
  text.remove_prefix(std::string_view("slow motion").size());
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  int64_t ms = 0;
  bool digits = false;
  for (char c : text) {
    if (c < '0' || c > '9') break;
    ms = ms * 10 + (c - '0');
    digits = true;
  }
  return digits ? ms : 1;
}

// a ∩ b, both sorted and disjoint.
std::vector<TimeInterval> Intersect(const std::vector<TimeInterval>& a,
                                    const std::vector<TimeInterval>& b) {
  std::vector<TimeInterval> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const int64_t lo = std::max(a[i].begin_ns, b[j].begin_ns);
    const int64_t hi = std::min(a[i].end_ns, b[j].end_ns);
    if (lo < hi) out.push_back({lo, hi});
    if (a[i].end_ns < b[j].end_ns) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

}  // namespace

Pauses::Pauses(const TraceData& trace) {
  std::vector<Event> controls;  // copies: the store decodes events, keeps no Event objects
  // The VMM emits them from the thread that asked (the window's or the
  // terminal's), never from a vCPU thread: only VMM tracks are read, so a
  // live trace of millions of exits costs nothing here.
  for (const Track& t : trace.tracks) {
    if (t.kind != TrackKind::Vmm) continue;
    for (size_t i = 0; i < t.events.size(); ++i) {
      if (t.events.type(i) == VmmEventKind::Control) controls.push_back(t.events[i]);
    }
  }
  std::stable_sort(controls.begin(), controls.end(),
                   [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
  bool paused = false, first_gate_event = true;
  int64_t slow_ms = 0;
  for (const Event* e = controls.data(); e != controls.data() + controls.size(); ++e) {
    const std::string_view text = trace.Text(e->text);
    m_controls.push_back(e->time_ns);
    const bool gate_event =
        text.starts_with("pause") || text.starts_with("resume") || text.starts_with("step");
    if (gate_event && first_gate_event) {
      m_initially_closed = !text.starts_with("pause");
      paused = m_initially_closed;
      first_gate_event = false;
    }
    if (text.starts_with("pause") || text.starts_with("step")) {
      paused = true;
    } else if (text.starts_with("resume")) {
      paused = false;
    } else if (text.starts_with("slow motion")) {
      slow_ms = SlowMs(text);
    } else if (text.starts_with("stop")) {
      paused = false;
      slow_ms = 0;
    }
    m_gated.emplace_back(e->time_ns, paused || slow_ms > 0);
    m_any = m_any || paused || slow_ms > 0 || m_initially_closed;
  }
  if (!m_any) return;

  // Cuts: the stretches where every vCPU was idle at the gate (or done).
  bool first_track = true;
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    const Track& track = trace.tracks[t];
    if (track.kind != TrackKind::Vcpu || track.events.empty()) continue;
    std::vector<TimeInterval> idle;
    // Before the first KVM_RUN: idle from the VMM's last set-up event.
    size_t enter = 0;
    while (enter < track.events.size() && track.events.type(enter) != VmmEventKind::RunEnter) {
      ++enter;
    }
    if (enter != track.events.size()) {
      const int64_t enter_ns = track.events.time_ns(enter);
      int64_t setup = std::numeric_limits<int64_t>::min();
      for (size_t o = 0; o < trace.tracks.size(); ++o) {
        if (trace.tracks[o].kind != TrackKind::Vmm) continue;
        const EventRange before = trace.Window(o, trace.BeginNs(), enter_ns - 1);
        for (size_t i = 0; i < before.size(); ++i) {
          if (before.type(i) != VmmEventKind::Control) setup = std::max(setup, before.time_ns(i));
        }
      }
      if (setup != std::numeric_limits<int64_t>::min() && GatedBetween(setup, enter_ns)) {
        idle.push_back({setup, enter_ns});
      }
    }
    for (const Span& s : track.spans[static_cast<size_t>(SpanKind::VmmHandling)]) {
      if (auto wait = WaitIn(trace, t, s)) {
        if (!idle.empty() && wait->begin_ns < idle.back().end_ns) continue;
        idle.push_back(*wait);
      }
    }
    idle.push_back({track.events.time_ns(track.events.size() - 1), kForever});
    m_cuts = first_track ? std::move(idle) : Intersect(m_cuts, idle);
    first_track = false;
  }
  const int64_t end = trace.EndNs();
  std::vector<TimeInterval> kept;
  for (TimeInterval c : m_cuts) {
    c.end_ns = std::min(c.end_ns, end);
    if (c.end_ns > c.begin_ns && GatedBetween(c.begin_ns, c.end_ns)) kept.push_back(c);
  }
  m_cuts = std::move(kept);
}

bool Pauses::GatedBetween(int64_t from_ns, int64_t to_ns) const {
  auto state = std::partition_point(m_gated.begin(), m_gated.end(),
                                    [&](const auto& g) { return g.first <= from_ns; });
  const bool gated_at_from = state == m_gated.begin() ? m_initially_closed : std::prev(state)->second;
  if (gated_at_from) return true;
  auto next = std::upper_bound(m_controls.begin(), m_controls.end(), from_ns);
  return next != m_controls.end() && *next <= to_ns;
}

std::optional<TimeInterval> Pauses::WaitIn(const TraceData& trace, size_t track,
                                           const Span& handling) const {
  if (!m_any || track >= trace.tracks.size()) return std::nullopt;
  if (handling.begin == kNoEvent || handling.end == kNoEvent) return std::nullopt;
  const EventList& ev = trace.tracks[track].events;
  if (ev.type(handling.end) != VmmEventKind::RunEnter) return std::nullopt;  // the vCPU left
  // The VMM's handling ends with its last event before the next KVM_RUN.
  const int64_t done = ev.time_ns(handling.end - 1);
  if (done >= handling.end_ns || !GatedBetween(done, handling.end_ns)) return std::nullopt;
  return TimeInterval{done, handling.end_ns};
}

int64_t Pauses::HandlingNs(const TraceData& trace, size_t track, const Span& handling) const {
  const std::optional<TimeInterval> wait = WaitIn(trace, track, handling);
  return handling.duration_ns() - (wait ? wait->duration_ns() : 0);
}

int64_t Pauses::WaitedNs(const TraceData& trace, size_t track) const {
  if (!m_any || track >= trace.tracks.size()) return 0;
  int64_t total = 0;
  for (const Span& s : trace.tracks[track].spans[static_cast<size_t>(SpanKind::VmmHandling)]) {
    if (auto wait = WaitIn(trace, track, s)) total += wait->duration_ns();
  }
  return total;
}

}  // namespace kvmscope::traces

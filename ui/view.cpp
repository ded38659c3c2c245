// Event keys: finding the selected event again in a newer snapshot.
#include "ui/view.h"

#include <algorithm>

namespace kvmscope::ui {

EventKey KeyOf(const traces::Event& event) { return {event.tid, event.time_ns, event.type}; }

std::optional<traces::EventRef> Find(const traces::TraceData& trace, const EventKey& key) {
  for (size_t t = 0; t < trace.tracks.size(); ++t) {
    if (trace.tracks[t].tid != key.tid) continue;
    std::span<const traces::Event> at = trace.Window(t, key.time_ns, key.time_ns);
    for (const traces::Event& e : at) {
      if (e.type == key.type) {
        return traces::EventRef{static_cast<uint32_t>(t),
                                static_cast<uint32_t>(&e - trace.tracks[t].events.data())};
      }
    }
  }
  return std::nullopt;
}

}  // namespace kvmscope::ui

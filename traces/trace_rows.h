// The event rows of a native trace file (docs/trace-format.md), read
// straight from the bytes: the fast path of trace_json_read.cpp. Nearly all
// of a trace file is rows, and a general JSON parser spends most of a load
// on them (a token at a time, a std::string per type name). The scanner
// takes only rows as kvmscope writes them, in any spacing; anything else
// (an escape, a float, a number out of range, a row out of order, the end
// of the input) it refuses, and the reader then reads the input again with
// the JSON parser alone, so that what a damaged file gets is the same
// error, byte offset, line and column as without the fast path. Not part of
// the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::traces::json_detail {

// A row's values: time_ns, type, cpu, stack_id, text_id, a0..a5, then
// optionally vcpu and pid.
inline constexpr size_t kRowValues = 11;
inline constexpr size_t kMostRowValues = 13;
// Marks a row without its own vCPU until the track's is known (never valid).
inline constexpr int32_t kVcpuOfTrack = std::numeric_limits<int32_t>::min();
// Whether a row had its own pid is kept in the event's tid until the track's
// pid and tid are known (every pid value is valid, so pid cannot mark it).
inline constexpr uint32_t kOwnPid = 1;

// The input past where the JSON parser is, lent to the scanner.
class UnreadInput {
 public:
  virtual ~UnreadInput() = default;
  // The bytes from the parser's position on: at least `want` of them, fewer
  // only where the input ends.
  virtual std::string_view Peek(size_t want) = 0;
  // The parser goes on `count` bytes further.
  virtual void Skip(size_t count) = 0;
};

// The event type names of rows, found without allocating (a row's name is
// looked up in place; the reader's std::string map cost a string per row).
class EventTypeNames {
 public:
  EventTypeNames();
  // The type of that name; false for a name that is not one.
  bool Find(std::string_view name, EventType& type) const;

 private:
  struct Slot {
    std::string name;  // "" = empty slot
    EventType type;
  };
  static uint32_t Hash(std::string_view name);
  std::vector<Slot> m_slots;  // open addressing, a power of two in size
};

// Reads the rows of a track's "events" array from just after its '[' up to
// the ']' that closes it, which is left for the parser (so that it sees an
// empty array), appending each row to `events` as the reader would. Returns
// false where a row is not one the scanner takes (see above): the input is
// then to be read again without the scanner, and `events` and the input's
// position mean nothing.
// `place` turns a row as read (see kOwnPid, kVcpuOfTrack) into the event
// stored, as the reader's own rows are.
bool ScanRows(UnreadInput& input, const EventTypeNames& names, EventList& events,
              const std::function<Event(const Event&)>& place);

// ParseTrace (trace_json.h) without the scanner, as an input it refuses is
// read: for tests that hold the two to the same answer.
TraceData ParseTracePlainly(std::string_view text);

}  // namespace kvmscope::traces::json_detail

// The row scanner of the native trace file's reader (trace_rows.h): every
// check of TraceReader's row path (trace_json_read.cpp) is made here too,
// and where one fails the row is refused rather than reported, so that the
// error comes from the plain parser, worded and placed as it always was.
#include "traces/trace_rows.h"

#include <array>
#include <charconv>
#include <cstring>

namespace kvmscope::traces::json_detail {
namespace {

// A row as kvmscope writes it is under 300 bytes (13 numbers of at most 20
// digits and a type name); one longer than this (spacing) is refused.
constexpr size_t kMaxRowBytes = 1024;

// JSON's whitespace, as the parser skips it.
const char* SkipSpace(const char* p, const char* end) {
  while (p != end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A JSON integer at `p`, as the parser reads it: unsigned when it has no
// sign, else signed (so "-0" is 0, not negative). Refuses what is not a
// JSON number (a leading zero) and what does not fit in 64 bits (the parser
// makes a float of it). A float ("1.5", "1e3") stops at its '.' or 'e',
// which the row then refuses as no separator.
bool ScanInteger(const char*& p, const char* end, uint64_t& value, bool& negative) {
  const char* digits = *p == '-' ? p + 1 : p;
  if (digits == end || !IsDigit(*digits)) return false;
  if (*digits == '0' && digits + 1 != end && IsDigit(digits[1])) return false;
  std::from_chars_result result;
  if (digits != p) {
    int64_t signed_value = 0;
    result = std::from_chars(p, end, signed_value);
    value = static_cast<uint64_t>(signed_value);
    negative = signed_value < 0;
  } else {
    result = std::from_chars(p, end, value);
    negative = false;
  }
  if (result.ec != std::errc()) return false;
  p = result.ptr;
  return true;
}

// The ranges of TraceReader::RowNumber: a value out of its column's range
// is refused.
bool InRange(uint64_t value, bool negative, int64_t min, uint64_t max) {
  return negative ? static_cast<int64_t>(value) >= min : value <= max;
}

bool StoreNumber(size_t column, uint64_t value, bool negative, Event& event, bool& own_pid) {
  constexpr int64_t kMinI64 = std::numeric_limits<int64_t>::min();
  constexpr uint64_t kMaxI64 = std::numeric_limits<int64_t>::max();
  constexpr uint64_t kMaxI32 = std::numeric_limits<int32_t>::max();
  constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t kMaxU16 = std::numeric_limits<uint16_t>::max();
  switch (column) {
    case 0:
      if (!InRange(value, negative, kMinI64, kMaxI64)) return false;
      event.time_ns = static_cast<int64_t>(value);
      return true;
    case 2:
      if (!InRange(value, negative, 0, kMaxU16)) return false;
      event.cpu = static_cast<uint16_t>(value);
      return true;
    case 3:
      if (!InRange(value, negative, -1, kMaxI32)) return false;
      event.stack_id = static_cast<int32_t>(value);
      return true;
    case 4:
      if (!InRange(value, negative, 0, kMaxU32)) return false;
      event.text = static_cast<uint32_t>(value);
      return true;
    case 11:
      if (!InRange(value, negative, -1, kMaxI32)) return false;
      event.vcpu = static_cast<int32_t>(value);
      return true;
    case 12:
      if (!InRange(value, negative, 0, kMaxU32)) return false;
      event.pid = static_cast<uint32_t>(value);
      own_pid = true;
      return true;
    default:  // a0..a5
      if (negative) return false;
      event.a[column - 5] = value;
      return true;
  }
}

// One row "[time_ns, type, cpu, ...]" at `p`, which is left past its ']'.
bool ScanRow(const char*& p, const char* end, const EventTypeNames& names, Event& event) {
  if (p == end || *p != '[') return false;
  ++p;
  event = Event{};
  event.vcpu = kVcpuOfTrack;
  bool own_pid = false;
  for (size_t column = 0;; ++column) {
    p = SkipSpace(p, end);
    if (p == end) return false;
    if (column == 1) {
      // A type name: never escaped, so its bytes are the name (an escape
      // or anything not a name fails the lookup).
      if (*p != '"') return false;
      const char* name = p + 1;
      const void* quote = std::memchr(name, '"', static_cast<size_t>(end - name));
      if (quote == nullptr) return false;
      p = static_cast<const char*>(quote);
      if (!names.Find(std::string_view(name, static_cast<size_t>(p - name)), event.type)) {
        return false;
      }
      ++p;
    } else {
      uint64_t value = 0;
      bool negative = false;
      if (!ScanInteger(p, end, value, negative)) return false;
      if (!StoreNumber(column, value, negative, event, own_pid)) return false;
    }
    p = SkipSpace(p, end);
    if (p == end) return false;
    if (*p == ']') {
      ++p;
      if (column + 1 < kRowValues) return false;
      event.tid = own_pid ? kOwnPid : 0;
      return true;
    }
    if (*p != ',' || column + 1 == kMostRowValues) return false;
    ++p;
  }
}

}  // namespace

EventTypeNames::EventTypeNames() {
  size_t size = 16;
  while (size < 4 * kEventTypes) size *= 2;
  m_slots.resize(size);
  for (size_t i = 0; i < kEventTypes; ++i) {
    EventType type = EventType::FromIndex(i);
    std::string_view name = EventTypeName(type);
    if (name.empty()) continue;  // never a row's type: the empty slot's mark
    EventType found;
    if (Find(name, found)) continue;  // two types of one name: the first, as the reader's map
    for (size_t at = Hash(name) & (size - 1);; at = (at + 1) & (size - 1)) {
      if (m_slots[at].name.empty()) {
        m_slots[at] = Slot{std::string(name), type};
        break;
      }
    }
  }
}

// FNV-1a: the names are short and few.
uint32_t EventTypeNames::Hash(std::string_view name) {
  uint32_t hash = 2166136261u;
  for (char c : name) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  return hash;
}

bool EventTypeNames::Find(std::string_view name, EventType& type) const {
  if (name.empty()) return false;
  const size_t mask = m_slots.size() - 1;
  for (size_t at = Hash(name) & mask;; at = (at + 1) & mask) {
    const Slot& slot = m_slots[at];
    if (slot.name.empty()) return false;
    if (slot.name == name) {
      type = slot.type;
      return true;
    }
  }
}

bool ScanRows(UnreadInput& input, const EventTypeNames& names, EventList& events,
              const std::function<Event(const Event&)>& place) {
  bool first = true;
  for (;;) {
    const std::string_view window = input.Peek(kMaxRowBytes);
    const char* const begin = window.data();
    const char* const end = begin + window.size();
    // Less than asked for: the input ends in this window, so read to its
    // end. Otherwise only rows that start a whole row's length before the
    // window's end: the rest come with the next window.
    const bool input_ends = window.size() < kMaxRowBytes;
    const char* p = begin;
    while (input_ends || static_cast<size_t>(end - p) >= kMaxRowBytes) {
      p = SkipSpace(p, end);
      if (p == end) return false;  // the input ends inside the array
      if (*p == ']') {
        input.Skip(static_cast<size_t>(p - begin));
        return true;
      }
      if (!first) {
        if (*p != ',') return false;
        p = SkipSpace(p + 1, end);
      }
      Event event;
      if (!ScanRow(p, end, names, event)) return false;
      // Out of order: the reader says where.
      if (!events.empty() && event.time_ns < events.time_ns(events.size() - 1)) return false;
      events.push_back(place(event));
      first = false;
    }
    input.Skip(static_cast<size_t>(p - begin));
  }
}

}  // namespace kvmscope::traces::json_detail

// The store of one track's events (Track::events): compact, chunked, and
// decoded on read. Readers see plain `Event` values (traces/event.h); the list
// keeps about a third of their 88 bytes and never copies what it holds while
// it grows.
//
// Layout. Per event a 16-byte header, in chunks of kChunkEvents headers:
//   time_ns (int64)  the event's time, read without decoding (binary searches)
//   offset  (uint32) where its payload starts: payload chunk << 16 | position
//   type    (uint8)  EventType::index()
//   flags   (uint8)  which payload fields follow (kCpu ... kArgs, kTypeEscape)
//   vcpu    (int16)  the vCPU; kVcpu in flags when it does not fit (then 0 here)
// and a variable-length payload, in chunks of at most kChunkBytes bytes (an
// event's payload never straddles two), holding only what differs from the
// defaults, in this order:
//   kTypeEscape  origin (1 byte) and kind (varint): a type index() cannot name
//   kCpu         cpu (varint) when it is not kNoCpu
//   kStack       stack_id (varint of its 32 bits) when it is not -1
//   kText        text (varint) when it is not 0
//   kPid, kTid   pid, tid (varints) when they are not the list's own pid/tid
//                (its thread's: a list adopts the first event's when it is
//                empty; SetThread changes them)
//   kVcpu        vcpu (varint of its 32 bits) when it does not fit the header
//   kArgs        a byte with a bit per nonzero a[k], then those (LEB128
//                varints, least significant 7 bits first), when any is nonzero
// Every value round-trips exactly (all-ones args, negative ids, any type).
//
// Memory. The first chunk of each kind grows like a vector (so that a track
// of a few events stays a few hundred bytes), later ones are allocated at
// their full size once: a list of N events holds about 16 N bytes of headers
// plus its payload, at most two chunks of each more (the last one's room and
// one spare that truncate keeps), and growing it never moves or copies what
// it holds. A kvm_exit takes 16 + ~12 bytes, a VMM KVM_RUN
// edge 16 + ~3.
//
// Limits. Payload offsets are 32 bits: 65536 payload chunks of 64 KiB, 4 GiB
// of payload per list (about 300 million typical events on one thread);
// push_back throws std::length_error past it. Indices are 32 bits elsewhere
// (EventRef, Span), so a track holds at most 4G events anyway.
//
// Not thread-safe: the Trace guards its lists with its lock.
#pragma once

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <vector>

#include "traces/event.h"

namespace kvmscope::traces {

class EventList;

// An iterator over a list's events, by index: dereferencing decodes the event
// (a value, not a reference; `it->time_ns` works through a proxy).
class EventIterator {
 public:
  using iterator_concept = std::random_access_iterator_tag;
  using iterator_category = std::random_access_iterator_tag;
  using value_type = Event;
  using difference_type = std::ptrdiff_t;
  using reference = Event;
  struct Arrow {
    Event event;
    const Event* operator->() const { return &event; }
  };
  using pointer = Arrow;

  EventIterator() = default;
  EventIterator(const EventList* list, size_t index) : m_list(list), m_index(index) {}

  inline Event operator*() const;
  Arrow operator->() const { return Arrow{**this}; }
  inline Event operator[](difference_type n) const;
  // The position in the list (what `&*it - data()` was for a vector).
  size_t index() const { return m_index; }

  EventIterator& operator++() { ++m_index; return *this; }
  EventIterator operator++(int) { EventIterator old = *this; ++m_index; return old; }
  EventIterator& operator--() { --m_index; return *this; }
  EventIterator operator--(int) { EventIterator old = *this; --m_index; return old; }
  EventIterator& operator+=(difference_type n) { m_index += n; return *this; }
  EventIterator& operator-=(difference_type n) { m_index -= n; return *this; }
  friend EventIterator operator+(EventIterator it, difference_type n) { return it += n; }
  friend EventIterator operator+(difference_type n, EventIterator it) { return it += n; }
  friend EventIterator operator-(EventIterator it, difference_type n) { return it -= n; }
  friend difference_type operator-(const EventIterator& a, const EventIterator& b) {
    return static_cast<difference_type>(a.m_index) - static_cast<difference_type>(b.m_index);
  }
  friend bool operator==(const EventIterator& a, const EventIterator& b) {
    return a.m_index == b.m_index;
  }
  friend std::strong_ordering operator<=>(const EventIterator& a, const EventIterator& b) {
    return a.m_index <=> b.m_index;
  }

 private:
  const EventList* m_list = nullptr;
  size_t m_index = 0;
};

// A window of one list: its events [first, last), for queries by time
// (TraceData::Window) and a run's events; what std::span<const Event> was.
// Valid while the list is unchanged.
class EventRange {
 public:
  EventRange() = default;
  EventRange(const EventList* list, size_t first, size_t last)
      : m_list(list), m_first(first), m_last(last) {}

  size_t size() const { return m_last - m_first; }
  bool empty() const { return m_last == m_first; }
  inline Event operator[](size_t i) const;
  Event front() const { return (*this)[0]; }
  Event back() const { return (*this)[size() - 1]; }
  inline int64_t time_ns(size_t i) const;
  inline EventType type(size_t i) const;
  EventIterator begin() const { return {m_list, m_first}; }
  EventIterator end() const { return {m_list, m_last}; }
  // The list's index of the range's first event (of `(*this)[i]`: first_index() + i).
  size_t first_index() const { return m_first; }
  const EventList* list() const { return m_list; }
  // Events [offset, offset + count) of this range.
  EventRange subrange(size_t offset, size_t count) const {
    return {m_list, m_first + offset, m_first + offset + count};
  }

 private:
  const EventList* m_list = nullptr;
  size_t m_first = 0, m_last = 0;
};

class EventList {
 public:
  using value_type = Event;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = Event;
  using const_reference = Event;
  using iterator = EventIterator;
  using const_iterator = EventIterator;
  using reverse_iterator = std::reverse_iterator<EventIterator>;
  using const_reverse_iterator = reverse_iterator;

  static constexpr size_t kChunkEvents = 4096;  // headers per chunk
  static constexpr size_t kChunkBytes = 1 << 16;  // payload bytes per chunk (exclusive bound)
  static constexpr size_t kMaxPayloadChunks = size_t{1} << 16;

  EventList() = default;
  EventList(std::initializer_list<Event> events) { append(events.begin(), events.end()); }
  // From any range of events (a std::vector<Event>, another list's range).
  template <std::ranges::input_range R>
    requires(!std::same_as<std::remove_cvref_t<R>, EventList> &&
             std::convertible_to<std::ranges::range_reference_t<R>, Event>)
  EventList(const R& events) {  // NOLINT: implicit, as a vector was assignable from these
    append(std::ranges::begin(events), std::ranges::end(events));
  }
  EventList& operator=(std::initializer_list<Event> events) {
    clear();
    append(events.begin(), events.end());
    return *this;
  }

  size_t size() const { return m_size; }
  bool empty() const { return m_size == 0; }
  // The event at `i`, decoded (i < size()).
  Event operator[](size_t i) const {
    const Header& h = HeaderAt(i);
    Event e;
    e.time_ns = h.time_ns;
    e.pid = m_pid;
    e.tid = m_tid;
    e.vcpu = h.vcpu;
    e.type = TypeOfIndex(h.type);
    if (h.flags != 0) DecodePayload(h, e);
    return e;
  }
  Event front() const { return (*this)[0]; }
  Event back() const { return (*this)[m_size - 1]; }
  // One field without decoding the rest.
  int64_t time_ns(size_t i) const { return HeaderAt(i).time_ns; }
  EventType type(size_t i) const {
    const Header& h = HeaderAt(i);
    return (h.flags & kTypeEscape) ? (*this)[i].type : TypeOfIndex(h.type);
  }
  int32_t stack_id(size_t i) const {
    return (HeaderAt(i).flags & kStack) ? (*this)[i].stack_id : -1;
  }

  EventIterator begin() const { return {this, 0}; }
  EventIterator end() const { return {this, m_size}; }
  reverse_iterator rbegin() const { return reverse_iterator(end()); }
  reverse_iterator rend() const { return reverse_iterator(begin()); }
  EventRange range(size_t first, size_t last) const { return {this, first, last}; }
  EventRange all() const { return {this, 0, m_size}; }
  // The first index whose time is > time_ns / >= time_ns, in [first, last)
  // (the list is time-sorted).
  size_t upper_bound_time(int64_t time_ns, size_t first = 0) const;
  size_t lower_bound_time(int64_t time_ns, size_t first = 0) const;

  // The thread most events have (stored without it). Adopted from the first
  // event pushed into an empty list; SetThread re-encodes a non-empty list
  // (stored events keep their values).
  uint32_t pid() const { return m_pid; }
  uint32_t tid() const { return m_tid; }
  void SetThread(uint32_t pid, uint32_t tid);

  void push_back(const Event& event);
  template <class It>
  void append(It first, It last) {
    for (; first != last; ++first) push_back(*first);
  }
  // Room for `events` more headers without reallocating the chunk index (and
  // the first chunk sized to them when they fit in it).
  void reserve(size_t events);
  // Keeps the first `size` events (no-op when there are fewer).
  void truncate(size_t size);
  // Drops the events from `first` on and appends `events` in their place.
  void ReplaceTail(size_t first, const std::vector<Event>& events);
  // Inserts `event` at index `at` / before `pos` (re-encodes the events after it).
  void insert(size_t at, const Event& event);
  void insert(EventIterator pos, const Event& event) { insert(pos.index(), event); }
  // Replaces the event at `i` (re-encodes the events after it).
  void set(size_t i, const Event& event);
  // As std::vector's: keeps the first `size` events, or adds default ones.
  void resize(size_t size);
  // Drops the events `pred(const Event&)` holds for; how many.
  template <class Pred>
  size_t EraseIf(Pred pred) {
    const size_t before = m_size;
    EventList kept;
    kept.m_pid = m_pid;
    kept.m_tid = m_tid;
    kept.m_thread_set = true;
    for (size_t i = 0; i < m_size; ++i) {
      const Event e = (*this)[i];
      if (!pred(e)) kept.push_back(e);
    }
    *this = std::move(kept);
    return before - m_size;
  }
  void clear();
  // Sets every event's vcpu (in place when it fits the header).
  void SetVcpu(int32_t vcpu);
  // Applies `f(Event&)` to every event; re-encodes the list, freeing what it
  // has read as it goes (so it needs little more memory than the list).
  template <class F>
  void Modify(F f) {
    Rebuild(m_pid, m_tid, f);
  }
  // The same, with (pid, tid) the list's own thread afterwards.
  template <class F>
  void Modify(F f, uint32_t pid, uint32_t tid) {
    Rebuild(pid, tid, f);
  }

  // Bytes allocated for the events (headers, payload, chunk indices).
  size_t allocated_bytes() const;
  // Equal events in the same order (whatever their encoding).
  bool operator==(const EventList& other) const;

 private:
  struct Header {
    int64_t time_ns;
    uint32_t offset;
    uint8_t type;
    uint8_t flags;
    int16_t vcpu;
  };
  static_assert(sizeof(Header) == 16);
  static_assert(kEventTypes <= 255, "type indices must fit the header's byte");
  enum Flag : uint8_t {
    kCpu = 1,
    kStack = 2,
    kText = 4,
    kPid = 8,
    kTid = 16,
    kVcpu = 32,
    kArgs = 64,
    kTypeEscape = 128,
  };
  static constexpr size_t kMaxPayload = 128;  // one event's payload, at most ~97 bytes

  const Header& HeaderAt(size_t i) const {
    return m_headers[i / kChunkEvents][i % kChunkEvents];
  }
  static EventType TypeOfIndex(uint8_t index) {
    return index < kKernelEventKinds ? EventType(static_cast<KernelEventKind>(index))
                                     : EventType(static_cast<VmmEventKind>(index - kKernelEventKinds));
  }
  void DecodePayload(const Header& h, Event& e) const;
  // Encodes the header fields and the payload into `out`; its length.
  size_t Encode(const Event& e, Header& h, uint8_t* out) const;
  // Frees what is below event `next` (all of it read): header chunks and
  // payload chunks before the ones `next` uses.
  void ReleaseBefore(size_t next);

  template <class F>
  void Rebuild(uint32_t pid, uint32_t tid, F& f) {
    EventList out;
    out.m_pid = pid;
    out.m_tid = tid;
    out.m_thread_set = true;
    out.reserve(m_size);
    for (size_t i = 0; i < m_size; ++i) {
      Event e = (*this)[i];
      f(e);
      out.push_back(e);
      if ((i + 1) % kChunkEvents == 0) ReleaseBefore(i + 1);
    }
    *this = std::move(out);
  }

  // A new chunk, from the spare one truncate kept when there is one.
  std::vector<Header>& NewHeaderChunk();
  std::vector<uint8_t>& NewPayloadChunk();

  std::vector<std::vector<Header>> m_headers;    // chunks of kChunkEvents
  std::vector<std::vector<uint8_t>> m_payload;   // chunks of < kChunkBytes
  // One whole chunk of each that truncate dropped, kept for the next one:
  // the merge truncates and appends again at every commit, and memory freed
  // by one thread and asked for by another is not reused by malloc's
  // per-thread arenas.
  std::vector<Header> m_spare_headers;
  std::vector<uint8_t> m_spare_payload;
  size_t m_size = 0;
  uint32_t m_pid = 0;
  uint32_t m_tid = 0;
  bool m_thread_set = false;  // pid/tid chosen (else the first push_back adopts its own)
};

inline Event EventIterator::operator*() const { return (*m_list)[m_index]; }
inline Event EventIterator::operator[](difference_type n) const { return (*m_list)[m_index + n]; }
inline Event EventRange::operator[](size_t i) const { return (*m_list)[m_first + i]; }
inline int64_t EventRange::time_ns(size_t i) const { return m_list->time_ns(m_first + i); }
inline EventType EventRange::type(size_t i) const { return m_list->type(m_first + i); }

static_assert(std::random_access_iterator<EventIterator>);
static_assert(std::ranges::random_access_range<EventList>);

}  // namespace kvmscope::traces

// EventList: encoding and decoding of the compact event records, and the
// chunked storage they live in (layout in event_list.h).
#include "traces/event_list.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace kvmscope::traces {
namespace {

inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

inline uint64_t GetVarint(const uint8_t*& p) {
  uint64_t v = *p++;
  if (v < 0x80) return v;
  v &= 0x7f;
  for (unsigned shift = 7;; shift += 7) {
    const uint64_t b = *p++;
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
}

// The header's byte for a type, or none when index() does not name it back
// (a kind out of its enum's range): then it goes in the payload.
inline bool IndexNames(EventType type) {
  const size_t index = type.index();
  if (index >= 255) return false;
  const EventType back = index < kKernelEventKinds
                             ? EventType(static_cast<KernelEventKind>(index))
                             : EventType(static_cast<VmmEventKind>(index - kKernelEventKinds));
  return back == type;
}

}  // namespace

size_t EventList::Encode(const Event& e, Header& h, uint8_t* out) const {
  uint8_t* p = out;
  uint8_t flags = 0;
  h.time_ns = e.time_ns;
  h.offset = 0;
  if (IndexNames(e.type)) {
    h.type = static_cast<uint8_t>(e.type.index());
  } else {
    h.type = 0;
    flags |= kTypeEscape;
    *p++ = static_cast<uint8_t>(e.type.origin);
    p = PutVarint(p, e.type.kind);
  }
  if (e.cpu != kNoCpu) {
    flags |= kCpu;
    p = PutVarint(p, e.cpu);
  }
  if (e.stack_id != -1) {
    flags |= kStack;
    p = PutVarint(p, static_cast<uint32_t>(e.stack_id));
  }
  if (e.text != 0) {
    flags |= kText;
    p = PutVarint(p, e.text);
  }
  if (e.pid != m_pid) {
    flags |= kPid;
    p = PutVarint(p, e.pid);
  }
  if (e.tid != m_tid) {
    flags |= kTid;
    p = PutVarint(p, e.tid);
  }
  if (e.vcpu >= INT16_MIN && e.vcpu <= INT16_MAX) {
    h.vcpu = static_cast<int16_t>(e.vcpu);
  } else {
    h.vcpu = 0;
    flags |= kVcpu;
    p = PutVarint(p, static_cast<uint32_t>(e.vcpu));
  }
  uint8_t mask = 0;
  for (size_t k = 0; k < e.a.size(); ++k) mask |= static_cast<uint8_t>(e.a[k] != 0) << k;
  if (mask != 0) {
    flags |= kArgs;
    *p++ = mask;
    for (size_t k = 0; k < e.a.size(); ++k) {
      if (e.a[k] != 0) p = PutVarint(p, e.a[k]);
    }
  }
  h.flags = flags;
  return static_cast<size_t>(p - out);
}

void EventList::DecodePayload(const Header& h, Event& e) const {
  const uint8_t* p = m_payload[h.offset >> 16].data() + (h.offset & 0xffff);
  const uint8_t flags = h.flags;
  if (flags & kTypeEscape) {
    e.type.origin = static_cast<Origin>(*p++);
    e.type.kind = static_cast<uint16_t>(GetVarint(p));
  }
  if (flags & kCpu) e.cpu = static_cast<uint16_t>(GetVarint(p));
  if (flags & kStack) e.stack_id = static_cast<int32_t>(static_cast<uint32_t>(GetVarint(p)));
  if (flags & kText) e.text = static_cast<uint32_t>(GetVarint(p));
  if (flags & kPid) e.pid = static_cast<uint32_t>(GetVarint(p));
  if (flags & kTid) e.tid = static_cast<uint32_t>(GetVarint(p));
  if (flags & kVcpu) e.vcpu = static_cast<int32_t>(static_cast<uint32_t>(GetVarint(p)));
  if (flags & kArgs) {
    for (unsigned mask = *p++; mask != 0; mask &= mask - 1) {
      e.a[static_cast<size_t>(__builtin_ctz(mask))] = GetVarint(p);
    }
  }
}

void EventList::push_back(const Event& event) {
  if (m_size == 0 && !m_thread_set) {
    m_pid = event.pid;
    m_tid = event.tid;
  }
  uint8_t buffer[kMaxPayload];
  Header h;
  const size_t n = Encode(event, h, buffer);

  // The payload: in the last chunk if it fits whole (a chunk never reaches
  // kChunkBytes, so that an offset's position never wraps into the next).
  if (m_payload.empty()) m_payload.emplace_back();
  if (m_payload.back().size() + n >= kChunkBytes) {
    if (m_payload.size() >= kMaxPayloadChunks) {
      throw std::length_error("EventList: more than 4 GiB of event payload in one track");
    }
    NewPayloadChunk();
  }
  std::vector<uint8_t>& bytes = m_payload.back();
  h.offset = static_cast<uint32_t>((m_payload.size() - 1) << 16 | bytes.size());
  if (n > 0) {
    if (bytes.size() + n > bytes.capacity()) {
      // Only the first chunk grows (later ones are allocated whole).
      bytes.reserve(std::min(kChunkBytes, std::max({bytes.capacity() * 2, bytes.size() + n,
                                                    size_t{256}})));
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
  }

  if (m_headers.empty() || m_headers.back().size() == kChunkEvents) NewHeaderChunk();
  std::vector<Header>& headers = m_headers.back();
  if (headers.size() == headers.capacity()) {
    headers.reserve(std::min(kChunkEvents, std::max<size_t>(headers.capacity() * 2, 16)));
  }
  headers.push_back(h);
  ++m_size;
}

std::vector<EventList::Header>& EventList::NewHeaderChunk() {
  std::vector<Header>& chunk = m_headers.emplace_back();
  if (m_headers.size() > 1) {
    if (m_spare_headers.capacity() == kChunkEvents) {
      chunk.swap(m_spare_headers);
    } else {
      chunk.reserve(kChunkEvents);
    }
  }
  return chunk;
}

std::vector<uint8_t>& EventList::NewPayloadChunk() {
  std::vector<uint8_t>& chunk = m_payload.emplace_back();
  if (m_spare_payload.capacity() == kChunkBytes) {
    chunk.swap(m_spare_payload);
  } else {
    chunk.reserve(kChunkBytes);
  }
  return chunk;
}

void EventList::reserve(size_t events) {
  const size_t total = m_size + events;
  m_headers.reserve((total + kChunkEvents - 1) / kChunkEvents);
  if (m_headers.empty() && events > 0) {
    m_headers.emplace_back().reserve(std::min(events, kChunkEvents));
  }
}

void EventList::truncate(size_t size) {
  if (size >= m_size) return;
  const uint32_t offset = HeaderAt(size).offset;
  const size_t chunk = offset >> 16;
  // Whole chunks dropped: one of each is kept for the next one.
  if (m_payload.size() > chunk + 1 && m_payload.back().capacity() == kChunkBytes) {
    m_payload.back().clear();
    m_spare_payload.swap(m_payload.back());
  }
  m_payload.resize(chunk + 1);
  m_payload[chunk].resize(offset & 0xffff);
  const size_t header_chunks = (size + kChunkEvents - 1) / kChunkEvents;
  if (m_headers.size() > header_chunks && m_headers.back().capacity() == kChunkEvents) {
    m_headers.back().clear();
    m_spare_headers.swap(m_headers.back());
  }
  m_headers.resize(header_chunks);
  if (size % kChunkEvents != 0) m_headers.back().resize(size % kChunkEvents);
  m_size = size;
}

void EventList::ReplaceTail(size_t first, const std::vector<Event>& events) {
  truncate(first);
  for (const Event& e : events) push_back(e);
}

void EventList::insert(size_t at, const Event& event) {
  std::vector<Event> tail(begin() + static_cast<difference_type>(std::min(at, m_size)), end());
  truncate(at);
  push_back(event);
  for (const Event& e : tail) push_back(e);
}

void EventList::set(size_t i, const Event& event) {
  if (i >= m_size) return;
  std::vector<Event> tail(begin() + static_cast<difference_type>(i + 1), end());
  truncate(i);
  push_back(event);
  for (const Event& e : tail) push_back(e);
}

void EventList::resize(size_t size) {
  truncate(size);
  while (m_size < size) push_back(Event{});
}

void EventList::clear() { *this = EventList(); }

void EventList::SetThread(uint32_t pid, uint32_t tid) {
  auto keep = [](Event&) {};
  Rebuild(pid, tid, keep);
}

void EventList::SetVcpu(int32_t vcpu) {
  bool in_place = vcpu >= INT16_MIN && vcpu <= INT16_MAX;
  for (size_t c = 0; in_place && c < m_headers.size(); ++c) {
    for (const Header& h : m_headers[c]) in_place = in_place && !(h.flags & kVcpu);
  }
  if (!in_place) {
    Modify([vcpu](Event& e) { e.vcpu = vcpu; });
    return;
  }
  for (std::vector<Header>& chunk : m_headers) {
    for (Header& h : chunk) h.vcpu = static_cast<int16_t>(vcpu);
  }
}

void EventList::ReleaseBefore(size_t next) {
  for (size_t c = 0; c < next / kChunkEvents; ++c) std::vector<Header>().swap(m_headers[c]);
  if (next >= m_size) return;
  const size_t chunk = HeaderAt(next).offset >> 16;
  for (size_t c = 0; c < chunk; ++c) std::vector<uint8_t>().swap(m_payload[c]);
}

size_t EventList::upper_bound_time(int64_t time_ns, size_t first) const {
  size_t lo = first, hi = m_size;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (HeaderAt(mid).time_ns <= time_ns) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t EventList::lower_bound_time(int64_t time_ns, size_t first) const {
  size_t lo = first, hi = m_size;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (HeaderAt(mid).time_ns < time_ns) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t EventList::allocated_bytes() const {
  size_t bytes = m_headers.capacity() * sizeof(m_headers[0]) +
                 m_payload.capacity() * sizeof(m_payload[0]);
  for (const std::vector<Header>& chunk : m_headers) bytes += chunk.capacity() * sizeof(Header);
  for (const std::vector<uint8_t>& chunk : m_payload) bytes += chunk.capacity();
  bytes += m_spare_headers.capacity() * sizeof(Header) + m_spare_payload.capacity();
  return bytes;
}

bool EventList::operator==(const EventList& other) const {
  if (m_size != other.m_size) return false;
  for (size_t i = 0; i < m_size; ++i) {
    if ((*this)[i] != other[i]) return false;
  }
  return true;
}

}  // namespace kvmscope::traces

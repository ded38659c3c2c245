// EventList, the compact store of a track's events: every value round-trips
// (extremes included), chunk boundaries, truncation and the tail merge,
// in-place vCPU updates, equality whatever the encoding, and its size.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "traces/event_list.h"
#include "traces/trace.h"

namespace kvmscope::traces {
namespace {

constexpr uint64_t kAllOnes = std::numeric_limits<uint64_t>::max();

Event Plain(int64_t t, EventType type = VmmEventKind::RunEnter) {
  Event e;
  e.time_ns = t;
  e.pid = 10;
  e.tid = 11;
  e.vcpu = 0;
  e.type = type;
  return e;
}

// Events of every type with extreme values in every field.
std::vector<Event> Extremes() {
  std::vector<Event> out;
  for (size_t index = 0; index < kEventTypes; ++index) {
    Event e = Plain(static_cast<int64_t>(index), EventType::FromIndex(index));
    e.a = {kAllOnes, kAllOnes, kAllOnes, kAllOnes, kAllOnes, kAllOnes};
    e.cpu = static_cast<uint16_t>(kNoCpu - 1);
    e.stack_id = std::numeric_limits<int32_t>::max();
    e.text = std::numeric_limits<uint32_t>::max();
    out.push_back(e);
    Event lows = Plain(static_cast<int64_t>(index), EventType::FromIndex(index));
    lows.time_ns = std::numeric_limits<int64_t>::min();
    lows.vcpu = std::numeric_limits<int32_t>::min();
    lows.stack_id = std::numeric_limits<int32_t>::min();
    lows.pid = 0;
    lows.tid = std::numeric_limits<uint32_t>::max();
    lows.cpu = 0;
    lows.a = {0, 1, 0x80, 0, 1ull << 63, 0x7f};
    out.push_back(lows);
    Event defaults = Plain(std::numeric_limits<int64_t>::max(), EventType::FromIndex(index));
    defaults.vcpu = -1;
    defaults.cpu = kNoCpu;
    out.push_back(defaults);
    Event mid = Plain(5, EventType::FromIndex(index));
    mid.vcpu = 32768;  // just past the header's 16 bits
    mid.stack_id = -2;
    mid.pid = 12345678;
    out.push_back(mid);
    mid.vcpu = -32768;  // the header's lowest
    mid.a[5] = 1;
    out.push_back(mid);
  }
  // Types that index() does not name (kinds out of their enums' ranges).
  Event odd = Plain(7);
  odd.type.origin = Origin::Kernel;
  odd.type.kind = 20000;
  out.push_back(odd);
  odd.type.origin = Origin::Vmm;
  odd.type.kind = 65535;
  out.push_back(odd);
  odd.type.origin = static_cast<Origin>(7);
  odd.type.kind = 3;
  out.push_back(odd);
  return out;
}

std::vector<Event> All(const EventList& list) { return {list.begin(), list.end()}; }

TEST(EventList, EveryTypeAndExtremeValueRoundTrips) {
  const std::vector<Event> want = Extremes();
  EventList list;
  for (const Event& e : want) list.push_back(e);
  ASSERT_EQ(list.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(list[i], want[i]) << i;
    EXPECT_EQ(list.time_ns(i), want[i].time_ns) << i;
    EXPECT_EQ(list.type(i), want[i].type) << i;
  }
  EXPECT_EQ(All(list), want);
  EXPECT_EQ(list.front(), want.front());
  EXPECT_EQ(list.back(), want.back());
  // The list's own thread is the first event's; others keep theirs.
  EXPECT_EQ(list.pid(), 10u);
  EXPECT_EQ(list.tid(), 11u);
}

TEST(EventList, ThreadOfTheListAndOthers) {
  EventList list;
  list.SetThread(1, 2);
  Event own = Plain(1);
  own.pid = 1;
  own.tid = 2;
  Event other = own;
  other.pid = 3;  // a thread id a new process reused
  other.tid = 4;
  list.push_back(own);
  list.push_back(other);
  list.push_back(own);
  EXPECT_EQ(All(list), (std::vector<Event>{own, other, own}));
  const size_t before = list.allocated_bytes();
  // Another thread of its own: values stay, the encoding changes.
  list.SetThread(3, 4);
  EXPECT_EQ(All(list), (std::vector<Event>{own, other, own}));
  EXPECT_GT(before, 0u);
}

TEST(EventList, ChunkBoundariesAndTruncation) {
  // Enough events to fill several header chunks and payload chunks: big
  // payloads (all-ones args) make the payload chunks turn over first.
  std::mt19937_64 rng(42);
  std::vector<Event> want;
  const size_t n = EventList::kChunkEvents * 3 + 17;
  for (size_t i = 0; i < n; ++i) {
    Event e = Plain(static_cast<int64_t>(i) * 10, EventType::FromIndex(i % kEventTypes));
    for (uint64_t& a : e.a) a = (rng() % 3 == 0) ? kAllOnes : rng() >> (rng() % 64);
    if (i % 5 == 0) e.text = static_cast<uint32_t>(i);
    if (i % 7 == 0) e.cpu = static_cast<uint16_t>(i % 64);
    want.push_back(e);
  }
  EventList list;
  list.reserve(n);
  for (const Event& e : want) list.push_back(e);
  ASSERT_EQ(All(list), want);
  // The payload spans several chunks, none past its bound.
  EXPECT_GT(list.allocated_bytes(), 3 * EventList::kChunkBytes);

  // Truncating at and around every chunk edge, then growing again.
  for (size_t keep : {n - 1, 3 * EventList::kChunkEvents, 3 * EventList::kChunkEvents - 1,
                      2 * EventList::kChunkEvents + 1, EventList::kChunkEvents, size_t{1},
                      size_t{0}}) {
    EventList copy = list;
    copy.truncate(keep);
    ASSERT_EQ(copy.size(), keep);
    ASSERT_EQ(All(copy), std::vector<Event>(want.begin(), want.begin() + keep)) << keep;
    for (size_t i = keep; i < n; ++i) copy.push_back(want[i]);
    ASSERT_EQ(copy, list) << keep;
    // Truncating and growing again keeps at most a spare chunk of each kind.
    EXPECT_LE(copy.allocated_bytes(), list.allocated_bytes() + 2 * EventList::kChunkBytes +
                                          2 * EventList::kChunkEvents * 16)
        << keep;
  }
  // Binary searches by time, without decoding.
  EXPECT_EQ(list.lower_bound_time(100), 10u);
  EXPECT_EQ(list.upper_bound_time(100), 11u);
  EXPECT_EQ(list.lower_bound_time(-1), 0u);
  EXPECT_EQ(list.upper_bound_time(INT64_MAX), n);
  const EventRange window = list.range(10, 20);
  EXPECT_EQ(window.size(), 10u);
  EXPECT_EQ(window.first_index(), 10u);
  EXPECT_EQ(window[3], want[13]);
  EXPECT_EQ(std::vector<Event>(window.begin(), window.end()),
            std::vector<Event>(want.begin() + 10, want.begin() + 20));
}

TEST(EventList, TailReplacedAsTheMergeDoes) {
  EventList list;
  std::vector<Event> want;
  for (int i = 0; i < 10000; ++i) {
    want.push_back(Plain(i * 2));
    list.push_back(want.back());
  }
  // Late events at odd times: the tail from the first of them is merged.
  std::vector<Event> late;
  for (int i = 0; i < 100; ++i) late.push_back(Plain(19000 + i * 2 + 1, KernelEventKind::KvmExit));
  const size_t from = list.upper_bound_time(late.front().time_ns);
  std::vector<Event> tail(list.begin() + static_cast<std::ptrdiff_t>(from), list.end());
  std::vector<Event> merged;
  std::merge(tail.begin(), tail.end(), late.begin(), late.end(), std::back_inserter(merged),
             [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
  list.ReplaceTail(from, merged);
  want.insert(want.end(), late.begin(), late.end());
  std::stable_sort(want.begin(), want.end(),
                   [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
  EXPECT_EQ(All(list), want);

  // insert, set, resize and EraseIf keep the rest as it was.
  Event odd = Plain(3, KernelEventKind::Pio);
  list.insert(list.begin() + 2, odd);
  want.insert(want.begin() + 2, odd);
  odd.a[0] = kAllOnes;
  list.set(2, odd);
  want[2] = odd;
  EXPECT_EQ(All(list), want);
  EXPECT_EQ(list.EraseIf([](const Event& e) { return e.type == KernelEventKind::KvmExit; }), 100u);
  std::erase_if(want, [](const Event& e) { return e.type == KernelEventKind::KvmExit; });
  EXPECT_EQ(All(list), want);
  list.resize(3);
  list.resize(4);
  EXPECT_EQ(list[3], Event{});
}

TEST(EventList, VcpuSetInPlaceOrReencoded) {
  EventList list;
  for (int i = 0; i < 5000; ++i) {
    Event e = Plain(i, KernelEventKind::KvmEntry);
    e.vcpu = -1;
    e.a[0] = static_cast<uint64_t>(i);
    list.push_back(e);
  }
  list.SetVcpu(3);
  for (size_t i = 0; i < list.size(); ++i) {
    ASSERT_EQ(list[i].vcpu, 3);
    ASSERT_EQ(list[i].a[0], i);
  }
  list.SetVcpu(1 << 20);  // past the header: into every payload
  for (size_t i = 0; i < list.size(); ++i) {
    ASSERT_EQ(list[i].vcpu, 1 << 20);
    ASSERT_EQ(list[i].a[0], i);
  }
  list.SetVcpu(-1);
  EXPECT_EQ(list.back().vcpu, -1);
  list.Modify([](Event& e) { e.text = 9; });
  EXPECT_EQ(list.front().text, 9u);
  EXPECT_EQ(list.back().a[0], 4999u);
}

TEST(EventList, EqualityIsByValue) {
  const std::vector<Event> events = Extremes();
  EventList a(events);
  EventList b;
  b.SetThread(99, 98);  // another encoding of the same events
  for (const Event& e : events) b.push_back(e);
  EXPECT_EQ(a, b);
  Event changed = events.back();
  changed.a[1] ^= 1;
  b.set(b.size() - 1, changed);
  EXPECT_NE(a, b);
  b.truncate(b.size() - 1);
  EXPECT_NE(a, b);
  EXPECT_EQ(EventList{}, EventList{});
  EventList c = {events[0], events[1]};
  EXPECT_EQ(All(c), (std::vector<Event>{events[0], events[1]}));
}

TEST(EventList, CompactAndNeverMuchMoreThanItHolds) {
  // A typical exit cycle: about a third of the 88 bytes per event.
  Track track;
  track.pid = 1000;
  track.tid = 1001;
  for (int i = 0; i < 100000; ++i) {
    Event e = Plain(1'000'000'000 + i * 1000, KernelEventKind::KvmExit);
    e.pid = 1000;
    e.tid = 1001;
    e.cpu = 3;
    e.a = {48, 0x8000 + static_cast<uint64_t>(i % 4096), 1, 0x184, 0, 0};
    track.events.push_back(e);
  }
  const double per_event = double(track.events.allocated_bytes()) / track.events.size();
  EXPECT_LT(per_event, 32.0);
  EXPECT_GT(per_event, 16.0);
  // A tiny track stays tiny.
  EventList small = {Plain(1), Plain(2)};
  EXPECT_LT(small.allocated_bytes(), 1024u);
}

TEST(EventList, IteratorsAndRanges) {
  const std::vector<Event> events = Extremes();
  const EventList list(events);
  EXPECT_EQ(list.end() - list.begin(), static_cast<std::ptrdiff_t>(events.size()));
  EXPECT_EQ((list.begin() + 3)->time_ns, events[3].time_ns);
  EXPECT_EQ(list.begin()[4], events[4]);
  auto r = list.rbegin();
  EXPECT_EQ(*r, events.back());
  EXPECT_EQ(r->a, events.back().a);
  EXPECT_EQ(std::count_if(list.begin(), list.end(),
                          [](const Event& e) { return e.type == KernelEventKind::Pio; }),
            5);
  auto it = std::partition_point(list.begin(), list.end(), [](const Event&) { return true; });
  EXPECT_EQ(it, list.end());
}

}  // namespace
}  // namespace kvmscope::traces

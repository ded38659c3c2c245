// The native trace file (docs/trace-format.md), reading: a SAX handler fills
// TraceData as the bytes go by — event rows are decoded in place, the small
// parts (host, guest, one symbol, one stack...) become a short-lived DOM each
// and are converted (trace_json_facts.cpp) — so a trace never exists twice
// in memory. The rows of a track's "events", nearly all of a file, are read
// by a scanner of their own (trace_rows.cpp) behind the parser's back; an
// input it refuses is read again by the parser alone.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <unordered_map>

#include "traces/atomic_file.h"
#include "traces/trace_json.h"
#include "traces/trace_json_inputs.h"
#include "traces/trace_json_internal.h"
#include "traces/trace_rows.h"

namespace kvmscope::traces {
namespace {
using namespace json_detail;
}  // namespace

// ------------------------------------------------- reading: the SAX handler --
namespace {

// The top-level fields, in the order the writer puts them; all required.
constexpr std::array<std::string_view, 11> kRootKeys = {
    "format",  "format_version", "host",   "guest", "console", "kernel_counts",
    "strings", "symbols",        "stacks", "regs",  "tracks"};
// Top-level fields added later without a version bump: read when present,
// so that traces written before them still load.
constexpr std::array<std::string_view, 3> kOptionalRootKeys = {"kvm_stats", "kvm_stats_note",
                                                                "vmm"};
// Arrays read one element at a time (each element a small DOM).
constexpr std::array<std::string_view, 4> kElementKeys = {"strings", "symbols", "stacks", "regs"};
constexpr std::array<std::string_view, 6> kTrackKeys = {"pid",  "tid",         "vcpu",
                                                        "kind", "event_count", "events"};
// Track fields added later: read when present.
constexpr std::array<std::string_view, 1> kOptionalTrackKeys = {"name"};
// The values of a row (kRowValues, trace_rows.h), by name.
constexpr std::array<std::string_view, kMostRowValues> kRowNames = {
    "time_ns", "type", "cpu", "stack_id", "text_id", "a0", "a1",
    "a2",      "a3",   "a4",  "a5",       "vcpu",    "pid"};

// Thrown where the row scanner cannot give the answer of the parser alone:
// a row it does not take, or an error of the parser after rows it skipped
// (the parser's byte offset, line and column do not count them). The input
// is then read again without the scanner.
struct ReadAgainPlainly {};

template <size_t N>
int IndexOf(const std::array<std::string_view, N>& keys, std::string_view key) {
  for (size_t i = 0; i < N; ++i) {
    if (keys[i] == key) return static_cast<int>(i);
  }
  return -1;
}

class TraceReader {
 public:
  // `input_ended(offset)`: whether the input ends at that byte offset, to
  // tell a truncated file from a malformed one. `rows`: the parser's input,
  // for the row scanner; null to leave the rows to the parser.
  TraceReader(std::function<bool(size_t)> input_ended, UnreadInput* rows)
      : m_input_ended(std::move(input_ended)), m_rows(rows) {
    m_data.strings.clear();
  }

  TraceData Finish() {
    ValidateReferences();
    m_data.symbols.Finish();
    m_data.BuildSpans();
    return std::move(m_data);
  }

  // --- the nlohmann SAX interface ---
  bool null() { return Scalar(Json(nullptr), "null"); }
  bool boolean(bool v) { return Scalar(Json(v), "boolean"); }
  bool number_unsigned(uint64_t v) {
    if (Top() == Ctx::Row) return RowNumber(v, false);
    return Scalar(Json(v), "number");
  }
  bool number_integer(int64_t v) {
    if (Top() == Ctx::Row) return RowNumber(static_cast<uint64_t>(v), v < 0);
    return Scalar(Json(v), "number");
  }
  bool number_float(double v, const std::string& text) {
    if (Top() == Ctx::Row) {
      Fail(Path(), fmt::format("expected an integer ({}), got {}", RowColumnName(), text));
    }
    return Scalar(Json(v), "number");
  }
  bool string(std::string& v) {
    if (Top() == Ctx::Row) return RowString(v);
    return Scalar(Json(std::move(v)), "string");
  }
  bool binary(Json::binary_t&) { return Scalar(Json(nullptr), "binary"); }
  bool start_object(size_t) { return Container(false); }
  bool start_array(size_t) { return Container(true); }
  bool key(std::string& k) {
    Level& level = m_levels.back();
    if (level.ctx == Ctx::Root) MarkSeen(kRootKeys, m_root_seen, k);
    if (level.ctx == Ctx::Root) MarkSeen(kOptionalRootKeys, m_optional_seen, k);
    if (level.ctx == Ctx::Track) MarkSeen(kTrackKeys, m_track_seen, k);
    if (level.ctx == Ctx::Track) MarkSeen(kOptionalTrackKeys, m_optional_track_seen, k);
    level.key = std::move(k);
    return true;
  }
  bool end_object() { return End(); }
  bool end_array() { return End(); }
  bool parse_error(size_t position, const std::string&, const nlohmann::json::exception& e) {
    if (m_scanned) throw ReadAgainPlainly{};
    // nlohmann counts the byte it failed on (or the end of input) as read.
    size_t offset = position > 0 ? position - 1 : 0;
    std::string inside = m_levels.empty() ? "" : fmt::format(" (inside {})", Path());
    if (m_input_ended(offset)) {
      if (offset == 0) Fail("", "not a kvmscope trace: the input is empty");
      Fail("",
           fmt::format("the JSON ends early, at byte {}{}: the file is truncated", offset, inside));
    }
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    std::string_view what = e.what();
    if (size_t bracket = what.find("] "); what.starts_with("[json") && bracket != what.npos) {
      what.remove_prefix(bracket + 2);
    }
    Fail("", fmt::format("not valid JSON at byte {}{}: {}", offset, inside, what));
  }

 private:
  enum class Ctx : uint8_t {
    Root,      // the document's object
    Tracks,    // "tracks"
    Track,     // one track's object
    Events,    // a track's "events"
    Row,       // one event row
    Elements,  // "strings", "symbols", "stacks", "regs"
    Dom,       // a container inside a value being captured whole
    Skip,      // a container inside a field this version does not know
  };
  struct Level {
    Ctx ctx;
    bool array;
    size_t count = 0;  // arrays: elements completed so far, so the current index
    std::string key;   // objects: the current key
  };

  void Push(Ctx ctx, bool array) { m_levels.push_back(Level{ctx, array, 0, {}}); }
  Ctx Top() const { return m_levels.empty() ? Ctx::Skip : m_levels.back().ctx; }

  // "tracks[1].events[1234][3]": where the parser is, from the outermost
  // `depth` levels.
  std::string Path(size_t depth) const {
    std::string path;
    for (size_t i = 0; i < depth && i < m_levels.size(); ++i) {
      const Level& level = m_levels[i];
      if (level.array) {
        path += fmt::format("[{}]", level.count);
      } else if (!level.key.empty()) {
        if (!path.empty()) path += '.';
        path += level.key;
      }
    }
    return path;
  }
  std::string Path() const { return Path(m_levels.size()); }

  template <size_t N>
  void MarkSeen(const std::array<std::string_view, N>& keys, uint32_t& seen, std::string_view k) {
    int index = IndexOf(keys, k);
    if (index < 0) return;
    if (seen & (1u << index)) {
      Fail(Join(Path(m_levels.size() - 1), k), "the field appears twice");
    }
    seen |= 1u << index;
  }

  // What a value arriving now is: decided by its container and key.
  enum class Slot { Document, Capture, Skip, Tracks, Track, Events, Row, RowValue, Elements, Dom };
  Slot SlotOfValue() const {
    if (m_levels.empty()) return Slot::Document;
    const Level& top = m_levels.back();
    switch (top.ctx) {
      case Ctx::Root:
        if (top.key == "tracks") return Slot::Tracks;
        if (IndexOf(kElementKeys, top.key) >= 0) return Slot::Elements;
        return IndexOf(kRootKeys, top.key) >= 0 || IndexOf(kOptionalRootKeys, top.key) >= 0
                   ? Slot::Capture
                   : Slot::Skip;
      case Ctx::Tracks: return Slot::Track;
      case Ctx::Track:
        if (top.key == "events") return Slot::Events;
        return IndexOf(kTrackKeys, top.key) >= 0 || IndexOf(kOptionalTrackKeys, top.key) >= 0
                   ? Slot::Capture
                   : Slot::Skip;
      case Ctx::Events: return Slot::Row;
      case Ctx::Row: return Slot::RowValue;
      case Ctx::Elements: return Slot::Capture;
      case Ctx::Dom: return Slot::Dom;
      case Ctx::Skip: return Slot::Skip;
    }
    return Slot::Skip;
  }

  // A value is complete: the enclosing array moves on to its next index.
  void Completed() {
    if (!m_levels.empty() && m_levels.back().array) ++m_levels.back().count;
  }

  [[noreturn]] void WrongType(std::string_view expected, std::string_view got) {
    if (m_levels.empty()) {
      Fail("", fmt::format("not a kvmscope trace: expected a JSON object, got {}", got));
    }
    Fail(Path(), fmt::format("expected {}, got {}", expected, got));
  }

  // The places that must hold a container of one kind, as errors name them.
  struct Shape {
    std::string_view name;
    bool array;
  };
  static std::optional<Shape> ShapeOf(Slot slot) {
    switch (slot) {
      case Slot::Document: return Shape{"an object", false};
      case Slot::Tracks: return Shape{"an array of tracks", true};
      case Slot::Elements: return Shape{"an array", true};
      case Slot::Track: return Shape{"a track object", false};
      case Slot::Events: return Shape{"an array of event rows", true};
      case Slot::Row: return Shape{"an event row [time_ns, type, cpu, ...]", true};
      default: return std::nullopt;
    }
  }

  bool Scalar(Json value, std::string_view type) {
    Slot slot = SlotOfValue();
    if (std::optional<Shape> shape = ShapeOf(slot)) WrongType(shape->name, type);
    if (slot == Slot::RowValue) WrongType(RowColumnName(), type);
    if (slot == Slot::Capture) Deliver(std::move(value));
    if (slot == Slot::Dom) AddToDom(std::move(value));
    Completed();
    return true;
  }

  bool Container(bool array) {
    Slot slot = SlotOfValue();
    std::string_view type = array ? "array" : "object";
    if (std::optional<Shape> shape = ShapeOf(slot); shape && shape->array != array) {
      WrongType(shape->name, type);
    }
    switch (slot) {
      case Slot::Document: Push(Ctx::Root, false); break;
      case Slot::Tracks: Push(Ctx::Tracks, true); break;
      case Slot::Elements:
        m_elements = m_levels.back().key;
        Push(Ctx::Elements, true);
        break;
      case Slot::Track:
        m_data.tracks.emplace_back();
        m_track_seen = 0;
        m_optional_track_seen = 0;
        m_unfixed_rows = 0;
        Push(Ctx::Track, false);
        break;
      case Slot::Events:
        Push(Ctx::Events, true);
        if (m_rows) ScanRowsOfTrack();
        break;
      case Slot::Row:
        m_event = Event{};
        m_event.vcpu = kVcpuOfTrack;
        m_event_has_pid = false;
        Push(Ctx::Row, true);
        break;
      case Slot::RowValue: WrongType(RowColumnName(), type);
      case Slot::Capture:
        m_dom = array ? Json::array() : Json::object();
        m_dom_stack.assign(1, &m_dom);
        Push(Ctx::Dom, array);
        break;
      case Slot::Dom:
        m_dom_stack.push_back(AddToDom(array ? Json::array() : Json::object()));
        Push(Ctx::Dom, array);
        break;
      case Slot::Skip: Push(Ctx::Skip, array); break;
    }
    return true;
  }

  bool End() {
    Ctx ctx = m_levels.back().ctx;
    switch (ctx) {
      case Ctx::Root: EndDocument(); break;
      case Ctx::Track: EndTrack(); break;
      case Ctx::Row: EndRow(); break;
      case Ctx::Elements: EndElements(); break;
      case Ctx::Dom: m_dom_stack.pop_back(); break;
      case Ctx::Tracks:
      case Ctx::Events:
      case Ctx::Skip: break;
    }
    m_levels.pop_back();
    if (ctx == Ctx::Dom && m_dom_stack.empty()) {
      Deliver(std::move(m_dom));
      m_dom = Json();
    }
    Completed();
    return true;
  }

  // Adds a value to the DOM being captured; returns where it went.
  Json* AddToDom(Json value) {
    Json& into = *m_dom_stack.back();
    if (into.is_array()) {
      into.push_back(std::move(value));
      return &into.back();
    }
    const std::string& key = m_levels.back().key;
    if (into.contains(key)) Fail(Path(), "the field appears twice");
    return &(into[key] = std::move(value));
  }

  // A whole value of a field that is read as DOM has arrived.
  void Deliver(Json value) {
    const Level& top = m_levels.back();
    std::string where = Path();
    if (top.ctx == Ctx::Root) {
      DeliverRootField(top.key, value, where);
    } else if (top.ctx == Ctx::Track) {
      DeliverTrackField(top.key, value, where);
    } else {
      DeliverElement(top.count, value, where);
    }
  }

  void DeliverRootField(std::string_view key, const Json& value, const std::string& where) {
    if (key == "format") {
      std::string name = ReadString(value, where);
      if (name != kTraceFormatName) {
        Fail(where, fmt::format("\"{}\" is not a kvmscope trace (expected \"{}\")", name,
                                kTraceFormatName));
      }
    } else if (key == "format_version") {
      int64_t version = ReadSigned(value, where, 1, kMaxI64);
      if (version > kTraceFormatVersion) {
        Fail("", fmt::format("format_version {} is newer than this kvmscope reads ({}); "
                             "upgrade kvmscope",
                             version, kTraceFormatVersion));
      }
    } else if (key == "host") {
      m_data.host = ReadHost(value);
    } else if (key == "guest") {
      m_data.guest = ReadGuest(value);
    } else if (key == "console") {
      m_data.console = ReadString(value, where);
    } else if (key == "kernel_counts") {
      m_data.kernel_counts = ReadKernelCounts(value);
    } else if (key == "kvm_stats") {
      m_data.kvm_stats = ReadKvmStats(value);
    } else if (key == "kvm_stats_note") {
      m_data.kvm_stats_note = ReadString(value, where);
    } else if (key == "vmm") {
      m_data.external = ReadExternalVmm(value);
    }
  }

  void DeliverTrackField(std::string_view key, const Json& value, const std::string& where) {
    Track& track = m_data.tracks.back();
    if (key == "pid") {
      track.pid = static_cast<uint32_t>(ReadUnsigned(value, where, kMaxU32));
    } else if (key == "tid") {
      track.tid = static_cast<uint32_t>(ReadUnsigned(value, where, kMaxU32));
    } else if (key == "vcpu") {
      track.vcpu = static_cast<int32_t>(ReadSigned(value, where, -1, kMaxI32));
    } else if (key == "kind") {
      std::string name = ReadString(value, where);
      std::optional<TrackKind> kind = TrackKindFromName(name);
      if (!kind) Fail(where, fmt::format("unknown track kind \"{}\"", name));
      track.kind = *kind;
    } else if (key == "name") {
      track.name = ReadString(value, where);
    } else if (key == "event_count") {
      m_event_count = ReadUnsigned(value, where);
      // Only a hint for memory: the rows themselves are checked against it.
      if (track.events.empty()) track.events.reserve(std::min<uint64_t>(m_event_count, 1 << 24));
    }
  }

  void DeliverElement(size_t index, const Json& value, const std::string& where) {
    if (m_elements == "strings") {
      std::string text = ReadString(value, where);
      if (index == 0 && !text.empty()) Fail(where, "strings[0] must be \"\" (text id 0 = none)");
      m_data.strings.push_back(std::move(text));
    } else if (m_elements == "symbols") {
      if (!value.is_array() || value.size() < 2 || value.size() > 4) {
        Fail(where, fmt::format("expected [address, name, module, end], got {}",
                                value.is_array() ? fmt::format("{} values", value.size())
                                                 : std::string(value.type_name())));
      }
      // One at a time, so that the first bad value is the one reported.
      uint64_t addr = ReadUnsigned(value[0], At(where, 0));
      std::string name = ReadString(value[1], At(where, 1));
      std::string module = value.size() > 2 ? ReadString(value[2], At(where, 2)) : "";
      uint64_t end = value.size() > 3 ? ReadUnsigned(value[3], At(where, 3)) : 0;
      if (end != 0 && end <= addr) {
        Fail(At(where, 3), fmt::format("end {:#x} is not past the address {:#x}", end, addr));
      }
      m_data.symbols.Add(addr, std::move(name), std::move(module), end);
    } else if (m_elements == "stacks") {
      if (!value.is_array()) Fail(where, Expected("an array of addresses", value));
      Stack stack;
      stack.reserve(value.size());
      for (size_t f = 0; f < value.size(); ++f) {
        stack.push_back(ReadUnsigned(value[f], At(where, f)));
      }
      m_data.stacks.push_back(std::move(stack));
    } else if (m_elements == "regs") {
      m_data.regs.push_back(ReadRegs(value, where));
    }
  }

  void EndElements() {
    if (m_elements == "strings" && m_data.strings.empty()) {
      Fail(Path(m_levels.size() - 1), "must start with \"\" (text id 0 = none)");
    }
  }

  // --- event rows, decoded without a DOM ---
  std::string RowColumnName() const {
    size_t column = m_levels.back().count;
    if (column >= kRowNames.size()) return "nothing (an event row has at most 13 values)";
    return column == 1 ? std::string("an event type name") : fmt::format("{}", kRowNames[column]);
  }

  bool RowNumber(uint64_t v, bool negative) {
    size_t column = m_levels.back().count;
    auto range = [&](int64_t min, uint64_t max) {
      bool ok = negative ? static_cast<int64_t>(v) >= min : v <= max;
      if (!ok) {
        Fail(Path(), fmt::format("{} {} is out of range ({}..{})", kRowNames[column],
                                 negative ? fmt::format("{}", static_cast<int64_t>(v))
                                          : fmt::format("{}", v),
                                 min, max));
      }
    };
    switch (column) {
      case 0:
        range(kMinI64, kMaxI64);
        m_event.time_ns = static_cast<int64_t>(v);
        break;
      case 1: WrongType("an event type name", "number");
      case 2:
        range(0, kMaxU16);
        m_event.cpu = static_cast<uint16_t>(v);
        break;
      case 3:
        range(-1, kMaxI32);
        m_event.stack_id = static_cast<int32_t>(v);
        break;
      case 4:
        range(0, kMaxU32);
        m_event.text = static_cast<uint32_t>(v);
        break;
      case 5:
      case 6:
      case 7:
      case 8:
      case 9:
      case 10:
        range(0, kMaxU64);
        m_event.a[column - 5] = v;
        break;
      case 11:
        range(-1, kMaxI32);
        m_event.vcpu = static_cast<int32_t>(v);
        break;
      case 12:
        range(0, kMaxU32);
        m_event.pid = static_cast<uint32_t>(v);
        m_event_has_pid = true;
        break;
      default: WrongType(RowColumnName(), "number");
    }
    Completed();
    return true;
  }

  bool RowString(const std::string& v) {
    if (m_levels.back().count != 1) WrongType(RowColumnName(), "string");
    if (!m_type_names.Find(v, m_event.type)) {
      Fail(Path(), fmt::format("unknown event type \"{}\"", v));
    }
    Completed();
    return true;
  }

  // Just past the '[' of a track's "events": the scanner reads the rows and
  // leaves the ']', so the parser sees an empty array.
  void ScanRowsOfTrack() {
    m_scanned = true;
    Track& track = m_data.tracks.back();
    EventList& events = track.events;
    const bool known = ThreadKnown();
    auto place = [&](const Event& e) { return known ? OfTrack(e, track) : e; };
    if (!ScanRows(*m_rows, m_type_names, events, place)) throw ReadAgainPlainly{};
    if (!known) m_unfixed_rows = events.size();
    m_levels.back().count = events.size();
  }

  void EndRow() {
    size_t values = m_levels.back().count;
    if (values < kRowValues) {
      Fail(Path(m_levels.size() - 1),
           fmt::format("an event row has 11 values [time_ns, type, cpu, stack_id, "
                       "text_id, a0..a5] (then vcpu, pid), this one {}",
                       values));
    }
    EventList& events = m_data.tracks.back().events;
    if (!events.empty() && m_event.time_ns < events.time_ns(events.size() - 1)) {
      Fail(Path(m_levels.size() - 1) + "[0]",
           fmt::format("time {} is before the previous event's {} (events are "
                       "sorted by time within a track)",
                       m_event.time_ns, events.time_ns(events.size() - 1)));
    }
    m_event.tid = m_event_has_pid ? kOwnPid : 0;
    if (ThreadKnown()) {
      events.push_back(OfTrack(m_event, m_data.tracks.back()));
    } else {
      events.push_back(m_event);
      m_unfixed_rows = events.size();
    }
  }

  // Whether the track's pid, tid and vcpu (kTrackKeys' first three) came.
  bool ThreadKnown() const { return (m_track_seen & 7u) == 7u; }

  // A row as read (tid kOwnPid when it has a pid of its own, vcpu
  // kVcpuOfTrack when it has none) with its track's thread.
  static Event OfTrack(Event e, const Track& track) {
    if (e.tid != kOwnPid) e.pid = track.pid;
    e.tid = track.tid;
    if (e.vcpu == kVcpuOfTrack) e.vcpu = track.vcpu;
    return e;
  }

  void EndTrack() {
    Track& track = m_data.tracks.back();
    std::string where = Path(m_levels.size() - 1);
    for (size_t k = 0; k < kTrackKeys.size(); ++k) {
      if (kTrackKeys[k] != "event_count" && !(m_track_seen & (1u << k))) {
        Fail(where, fmt::format("missing field \"{}\"", kTrackKeys[k]));
      }
    }
    size_t index = m_data.tracks.size() - 1;
    auto [it, inserted] = m_track_of_tid.emplace(track.tid, index);
    if (!inserted) {
      Fail(Join(where, "tid"), fmt::format("tid {} is also the tid of tracks[{}] (one track per "
                                           "thread)",
                                           track.tid, it->second));
    }
    if ((m_track_seen & (1u << IndexOf(kTrackKeys, "event_count"))) &&
        m_event_count != track.events.size()) {
      Fail(Join(where, "event_count"),
           fmt::format("says {} but \"events\" has {} rows", m_event_count, track.events.size()));
    }
    // Rows take their thread from the track, which may come after them: the
    // rows read before it came take it now (the others took it as read).
    if (m_unfixed_rows > 0) {
      size_t row = 0;
      track.events.Modify(
          [&](Event& e) {
            if (row++ < m_unfixed_rows) e = OfTrack(e, track);
          },
          track.pid, track.tid);
    }
  }

  void EndDocument() {
    if (!(m_root_seen & 1u)) {
      Fail("", "not a kvmscope trace: the top-level object has no \"format\" field");
    }
    for (size_t k = 0; k < kRootKeys.size(); ++k) {
      if (!(m_root_seen & (1u << k))) {
        Fail("", fmt::format("missing top-level field \"{}\"", kRootKeys[k]));
      }
    }
  }

  // Stack and text ids point into tables that may come anywhere in the file.
  void ValidateReferences() const {
    for (size_t t = 0; t < m_data.tracks.size(); ++t) {
      const EventList& events = m_data.tracks[t].events;
      for (size_t i = 0; i < events.size(); ++i) {
        const Event& e = events[i];
        if (e.stack_id >= 0 && static_cast<size_t>(e.stack_id) >= m_data.stacks.size()) {
          Fail(fmt::format("tracks[{}].events[{}][3]", t, i),
               fmt::format("stack id {} does not exist (the trace has {} stacks)", e.stack_id,
                           m_data.stacks.size()));
        }
        if (e.text >= m_data.strings.size()) {
          Fail(fmt::format("tracks[{}].events[{}][4]", t, i),
               fmt::format("text id {} does not exist (the trace has {} strings)", e.text,
                           m_data.strings.size()));
        }
      }
    }
  }

  std::function<bool(size_t)> m_input_ended;
  UnreadInput* m_rows = nullptr;
  bool m_scanned = false;  // the scanner has moved the parser's input on
  TraceData m_data;
  std::vector<Level> m_levels;
  EventTypeNames m_type_names;
  uint32_t m_root_seen = 0;
  uint32_t m_optional_seen = 0;
  uint32_t m_track_seen = 0;
  uint32_t m_optional_track_seen = 0;
  uint64_t m_event_count = 0;
  size_t m_unfixed_rows = 0;  // rows of the track read before its thread
  std::unordered_map<uint32_t, size_t> m_track_of_tid;
  std::string m_elements;  // which of kElementKeys is being read
  Event m_event;           // the row being read
  bool m_event_has_pid = false;
  Json m_dom;  // the value being captured whole
  std::vector<Json*> m_dom_stack;
};

template <typename Input>
TraceData Parse(Input& input, std::function<bool(size_t)> input_ended, bool scan_rows) {
  TraceReader reader(std::move(input_ended), scan_rows ? &input : nullptr);
  Json::sax_parse(input.begin(), input.end(), &reader);
  return reader.Finish();
}

TraceData ParseStream(std::istream& in, const LoadProgress& progress, uint64_t size) {
  // The row scanner's rare refusal means a second reading: only for a
  // stream that can go back (a file, not a pipe).
  const std::istream::pos_type start = in.tellg();
  uint64_t reached = 0;  // by the reading with the scanner
  if (start != std::istream::pos_type(-1)) {
    StreamChunks chunks(in, progress, size);
    try {
      return Parse(chunks, [&chunks](size_t) { return chunks.ended(); }, true);
    } catch (const ReadAgainPlainly&) {
      reached = chunks.total();
    }
    in.clear();
    in.seekg(start);
    if (!in) throw TraceFormatError("reading failed: the input cannot be read a second time");
  }
  // Progress does not go back for the second reading.
  LoadProgress onwards = progress;
  if (progress && reached > 0) {
    onwards = [&progress, reached](uint64_t done, uint64_t total) {
      progress(std::max<uint64_t>(done, reached), total);
    };
  }
  StreamChunks chunks(in, onwards, size);
  return Parse(chunks, [&chunks](size_t) { return chunks.ended(); }, false);
}

}  // namespace

TraceData ParseTrace(std::istream& in) { return ParseStream(in, {}, 0); }

TraceData ParseTrace(std::string_view text) {
  try {
    TextInput input(text);
    return Parse(input, [&text](size_t offset) { return offset >= text.size(); }, true);
  } catch (const ReadAgainPlainly&) {
    return json_detail::ParseTracePlainly(text);
  }
}

TraceData json_detail::ParseTracePlainly(std::string_view text) {
  TextInput input(text);
  return Parse(input, [&text](size_t offset) { return offset >= text.size(); }, false);
}

TraceData LoadTrace(const std::string& path, const LoadProgress& progress) {
  std::vector<char> buffer(1 << 16);
  std::ifstream in;
  in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  in.open(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  try {
    std::error_code ec;
    const uintmax_t size = std::filesystem::is_regular_file(path, ec) ? std::filesystem::file_size(path, ec) : 0;
    return ParseStream(in, progress, ec ? 0 : size);
  } catch (const TraceFormatError& e) {
    throw TraceFormatError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace kvmscope::traces

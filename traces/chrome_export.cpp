// Chrome trace event export, streamed: process and thread names first, then
// per track its spans (nested "B"/"E" pairs) and instants merged in time
// order on the track's own thread. Times are CLOCK_MONOTONIC microseconds,
// printed exactly (nine digits of nanoseconds).
#include "traces/chrome_export.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <streambuf>
#include <tuple>
#include <vector>

#include "traces/atomic_file.h"
#include "traces/fault_context.h"
#include "traces/text_out.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Any text as a JSON string, as nlohmann::json writes it. The export is for
// viewing, so bytes that are not UTF-8 (a guest's console, say) become
// U+FFFD rather than failing: that rare case is left to the JSON library.
void AppendQuoted(std::string& out, std::string_view text) {
  if (!AppendJsonString(out, text)) out += Dump(Json(std::string(text)));
}
std::string Quoted(std::string_view text) {
  std::string quoted;
  AppendQuoted(quoted, text);
  return quoted;
}

// Nanoseconds as microseconds with all nine digits kept: 1234567 -> "1234.567".
void WriteMicros(TextOut& out, int64_t ns) {
  uint64_t magnitude = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  if (ns < 0) out << '-';
  const auto fraction = static_cast<unsigned>(magnitude % 1000);
  const char digits[3] = {static_cast<char>('0' + fraction / 100),
                          static_cast<char>('0' + fraction / 10 % 10),
                          static_cast<char>('0' + fraction % 10)};
  out << magnitude / 1000 << '.' << std::string_view(digits, 3);
}

// A field's text as JSON: a decimal integer as a number, anything else
// (hex, names, "yes") as the text it is. True with `number` set for an integer.
bool DecimalInteger(std::string_view text, int64_t& number) {
  if (text.empty() || text.size() > 18 || text == "-") return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  return ec == std::errc() && end == text.data() + text.size() &&
         !(text.size() > 1 && text[0] == '0');
}

// One argument of an instant. The arguments are written as nlohmann::json
// wrote its object: sorted by key, a later value replacing an earlier one.
struct Arg {
  enum class Kind : uint8_t { Number, Text, Json };
  std::string_view key;
  Kind kind;
  int64_t number;
  std::string_view text;  // Text: to be quoted; Json: written as it is
};

// How deep a span sits on its thread when spans begin together: the VMM's
// KVM_RUN (or its handling between runs) holds the kernel's KVM_RUN, which
// holds the guest's runs and the kernel's handling of exits.
int Depth(SpanKind kind) {
  switch (kind) {
    case SpanKind::Run:
    case SpanKind::VmmHandling: return 0;
    case SpanKind::KernelRun: return 1;
    case SpanKind::Guest:
    case SpanKind::KernelHandling: return 2;
    case SpanKind::Count: break;
  }
  return 3;
}

// The thread's name as viewers show it (they add the ids themselves).
std::string ThreadName(const Track& t) {
  switch (t.kind) {
    case TrackKind::Vcpu:
      return t.name.empty() ? fmt::format("vCPU {}", t.vcpu) : fmt::format("{} (vCPU {})", t.name, t.vcpu);
    case TrackKind::Vmm: return t.name.empty() ? std::string("VMM") : t.name;
    case TrackKind::System: break;
  }
  return t.name.empty() ? std::string("thread") : t.name;
}

class Exporter {
 public:
  Exporter(const TraceData& trace, std::ostream& out, const ExportProgress& progress)
      : m_trace(trace),
        m_out(out, "writing the Chrome trace failed: the stream failed"),
        m_progress(progress),
        m_total(trace.EventCount()),
        m_chains(trace.stacks.size()) {
    // Every instant names its type: quote the names once.
    for (size_t i = 0; i < kEventTypes; ++i) {
      m_type_names[i] = Quoted(EventTypeName(EventType::FromIndex(i)));
    }
  }

  ChromeExportCounts Write() {
    // Rows: vCPUs first, in vCPU order, then the VMM's other threads, then
    // other processes' threads.
    std::vector<size_t> by_row(m_trace.tracks.size());
    for (size_t i = 0; i < by_row.size(); ++i) by_row[i] = i;
    auto key = [this](size_t i) {
      const Track& t = m_trace.tracks[i];
      int group = t.kind == TrackKind::Vcpu ? 0 : t.kind == TrackKind::Vmm ? 1 : 2;
      return std::tuple(group, t.vcpu, i);
    };
    std::sort(by_row.begin(), by_row.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    m_out << "{\"displayTimeUnit\":\"ns\",\n\"otherData\":" << Dump(OtherData())
          << ",\n\"traceEvents\":[";
    WriteProcessNames();
    for (size_t row = 0; row < by_row.size(); ++row) {
      const Track& track = m_trace.tracks[by_row[row]];
      Metadata("thread_name", track.pid, track.tid, {{"name", ThreadName(track)}});
      Metadata("thread_sort_index", track.pid, track.tid, {{"sort_index", row}});
    }
    // TextOut stops at the first failure of the stream (a full disk).
    for (size_t t = 0; t < m_trace.tracks.size(); ++t) WriteTrack(t);
    m_out << "\n]}\n";
    m_out.Flush();
    return m_counts;
  }

 private:
  Json OtherData() const {
    const HostFacts& host = m_trace.host;
    std::string plan = host.plan ? host.plan->summary : "not traced: " + host.not_traced_reason;
    return Json{{"exported_by", "kvmscope"},
                {"clock", "CLOCK_MONOTONIC, microseconds"},
                {"kernel", host.kernel_release},
                {"backend", host.backend},
                {"cpu", host.cpu},
                {"vendor_handler", host.vendor_handler},
                {"plan", plan},
                {"guest", m_trace.guest.name},
                {"guest_mode", m_trace.guest.mode},
                {"verdict", m_trace.guest.verdict},
                {"external_vmm", m_trace.ExternalNote()}};
  }

  // Starts one trace event: `{"name":...,"ph":...,"pid":...,"tid":...`,
  // the name already quoted.
  void Begin(std::string_view quoted_name, char ph, uint32_t pid, uint32_t tid) {
    m_out << std::string_view(",\n{\"name\":").substr(m_first ? 1 : 0) << quoted_name
          << ",\"ph\":\"" << ph << "\",\"pid\":" << pid << ",\"tid\":" << tid;
    m_first = false;
  }
  void Metadata(std::string_view what, uint32_t pid, uint32_t tid, const Json& args) {
    Begin(Quoted(what), 'M', pid, tid);
    m_out << ",\"ts\":";
    WriteMicros(m_out, m_trace.BeginNs());
    m_out << ",\"args\":" << Dump(args) << '}';
    ++m_counts.metadata;
  }

  void WriteProcessNames() {
    std::set<uint32_t> done;
    for (const Track& track : m_trace.tracks) {
      if (!done.insert(track.pid).second) continue;
      bool vmm = std::any_of(m_trace.tracks.begin(), m_trace.tracks.end(), [&](const Track& t) {
        return t.pid == track.pid && t.kind != TrackKind::System;
      });
      const bool external = m_trace.external && m_trace.external->pid == track.pid;
      std::string name = external ? fmt::format("external VMM: {}", m_trace.external->command)
                         : vmm    ? fmt::format("kvmscope VMM: {}", m_trace.guest.name)
                                  : std::string("process");
      Metadata("process_name", track.pid, track.pid, {{"name", name}});
      Metadata("process_sort_index", track.pid, track.pid, {{"sort_index", vmm || external ? 0 : 1}});
    }
  }

  // One edge of a span on its thread: E edges sort before instants and B
  // edges of the same time, so a span that ends where the next begins
  // closes first.
  struct Edge {
    int64_t ns = 0;
    bool begin = false;
    SpanKind kind = SpanKind::Run;
    const Span* span = nullptr;
  };

  // The spans of a track as properly nested B/E edges in time order: sorted
  // by begin (outer first), each cut at the end of the span holding it.
  std::vector<Edge> NestedEdges(const Track& track) const {
    struct Open {
      int64_t begin, end;
      int depth;
      SpanKind kind;
      const Span* span;
    };
    std::vector<Open> all;
    for (size_t k = 0; k < kSpanKinds; ++k) {
      const auto kind = static_cast<SpanKind>(k);
      for (const Span& s : track.spans[k]) {
        all.push_back({s.begin_ns, std::max(s.begin_ns, s.end_ns), Depth(kind), kind, &s});
      }
    }
    std::sort(all.begin(), all.end(), [](const Open& a, const Open& b) {
      return std::tie(a.begin, a.depth, b.end) < std::tie(b.begin, b.depth, a.end);
    });
    std::vector<Edge> edges;
    edges.reserve(all.size() * 2);
    std::vector<Open> stack;
    for (Open s : all) {
      while (!stack.empty() && stack.back().end <= s.begin) {
        edges.push_back({stack.back().end, false, stack.back().kind, stack.back().span});
        stack.pop_back();
      }
      if (!stack.empty()) s.end = std::min(s.end, stack.back().end);
      edges.push_back({s.begin, true, s.kind, s.span});
      stack.push_back(s);
    }
    for (; !stack.empty(); stack.pop_back()) {
      edges.push_back({stack.back().end, false, stack.back().kind, stack.back().span});
    }
    return edges;
  }

  void WriteTrack(size_t index) {
    const Track& track = m_trace.tracks[index];
    // What produced each kvm_page_fault, for the whole track in one pass.
    m_codes = FaultCodesOf(m_trace, static_cast<uint32_t>(index));
    const std::vector<Edge> edges = NestedEdges(track);
    size_t e = 0;
    for (size_t i = 0; i < track.events.size(); ++i) {
      const Event& ev = track.events[i];
      // Edges up to this event: those that end at or before it, and those
      // that begin before it.
      for (; e < edges.size() && (edges[e].begin ? edges[e].ns < ev.time_ns : edges[e].ns <= ev.time_ns); ++e) {
        WriteEdge(track, edges[e]);
      }
      // The VMM's KVM_RUN edges are the span itself; every other event is an instant.
      if (ev.type != VmmEventKind::RunEnter && ev.type != VmmEventKind::RunExit) WriteInstant(track, i);
      if (m_progress && (++m_done & 0xffff) == 0) m_progress(m_done, m_total);
    }
    for (; e < edges.size(); ++e) WriteEdge(track, edges[e]);
  }

  void WriteInstant(const Track& track, size_t i) {
    const Event& e = track.events[i];
    const size_t type = e.type.index();
    Begin(type < kEventTypes ? std::string_view(m_type_names[type]) : Quoted(EventTypeName(e.type)),
          'I', track.pid, track.tid);
    m_out << (e.type.origin == Origin::Kernel ? ",\"cat\":\"kernel\",\"s\":\"t\",\"ts\":"
                                              : ",\"cat\":\"vmm\",\"s\":\"t\",\"ts\":");
    WriteMicros(m_out, e.time_ns);
    // What produced a kvm_page_fault is all the decoding needs beyond the event.
    const FaultCode code = i < m_codes.size() ? m_codes[i] : FaultCode::Unknown;
    m_out << ",\"args\":" << ArgsOf(e, code) << '}';
    ++m_counts.instants;
  }

  // The arguments of an instant, as a JSON object. A trace repeats itself (a
  // guest's loop exits at the same instructions with the same values), and
  // decoding an event (EventFieldsWith) costs more than all the rest of its
  // export: the arguments are kept by the event's content, which is
  // everything of it but its time, and its decode context. Decoding reads
  // less (the type, arguments and text), never the time; the test
  // ChromeExport.InstantsAreWrittenExactlyAsTheJsonLibraryWroteThem decodes
  // every event afresh to check. Direct-mapped: a new content takes its slot
  // over, so the memory is bounded and, once the slots' strings have grown,
  // no allocation is made. When nothing repeats, this costs about a tenth
  // more than decoding every event; in a loop, a third as much.
  const std::string& ArgsOf(const Event& e, FaultCode code) {
    Event content = e;
    content.time_ns = 0;
    ArgsSlot& slot = m_args_slots[ContentHash(content, code) >> (64 - kArgsSlotBits)];
    if (!slot.used || slot.code != code || !(slot.content == content)) {
      slot.used = true;
      slot.content = content;
      slot.code = code;
      slot.args.clear();
      AppendArgs(slot.args, e, code);
    }
    return slot.args;
  }

  static uint64_t ContentHash(const Event& content, FaultCode code) {
    uint64_t hash = content.type.index() << 8 | static_cast<uint8_t>(code);
    auto mix = [&hash](uint64_t v) {
      hash = (hash ^ v) * 0x9e3779b97f4a7c15;
      hash ^= hash >> 29;
    };
    for (uint64_t v : content.a) mix(v);
    mix(uint64_t{content.pid} << 32 | content.tid);
    mix(uint64_t{static_cast<uint32_t>(content.vcpu)} << 32 |
        static_cast<uint32_t>(content.stack_id));
    mix(uint64_t{content.text} << 16 | content.cpu);
    return hash * 0x9e3779b97f4a7c15;  // the top bits pick the slot
  }

  // The arguments as nlohmann::json wrote its object: sorted by key (a
  // stable insertion sort: an event has a handful), the last of equal keys
  // winning.
  void AppendArgs(std::string& out, const Event& e, FaultCode code) {
    const std::vector<Field> fields = EventFieldsWith(m_trace, e, {.fault_code = code});
    m_args.clear();
    for (const Field& f : fields) {
      int64_t number = 0;
      m_args.push_back(DecimalInteger(f.text, number) ? Arg{f.name, Arg::Kind::Number, number, {}}
                                                      : Arg{f.name, Arg::Kind::Text, 0, f.text});
    }
    if (e.cpu != kNoCpu) m_args.push_back({"cpu", Arg::Kind::Number, e.cpu, {}});
    if (const Stack* stack = m_trace.StackOf(e)) {
      m_args.push_back({"stack", Arg::Kind::Json, 0, ChainOf(e.stack_id, *stack)});
    }
    for (size_t i = 1; i < m_args.size(); ++i) {
      for (size_t k = i; k > 0 && m_args[k].key < m_args[k - 1].key; --k) {
        std::swap(m_args[k], m_args[k - 1]);
      }
    }
    out += '{';
    bool first = true;
    for (size_t i = 0; i < m_args.size(); ++i) {
      const Arg& arg = m_args[i];
      if (i + 1 < m_args.size() && m_args[i + 1].key == arg.key) continue;
      if (!first) out += ',';
      first = false;
      AppendQuoted(out, arg.key);
      out += ':';
      switch (arg.kind) {
        case Arg::Kind::Number: {
          char digits[24];
          out.append(digits, std::to_chars(digits, digits + sizeof digits, arg.number).ptr);
          break;
        }
        case Arg::Kind::Text: AppendQuoted(out, arg.text); break;
        case Arg::Kind::Json: out += arg.text; break;
      }
    }
    out += '}';
  }

  // A stack's frames as a JSON array: one symbolization per stack, however
  // many events share it.
  std::string_view ChainOf(int32_t stack_id, const Stack& stack) {
    std::optional<std::string>& chain = m_chains[static_cast<size_t>(stack_id)];
    if (!chain) {
      chain = "[";
      for (const std::string& frame : ChainFrames(stack, m_trace.symbols)) {
        if (chain->size() > 1) *chain += ',';
        AppendQuoted(*chain, frame);
      }
      *chain += ']';
    }
    return *chain;
  }

  // "KVM_RUN → IO", "kernel exit handling: EPT_VIOLATION": the kind, and
  // the exit it was about where one of its events says.
  std::string SpanTitle(SpanKind kind, const Event* begin, const Event* end) const {
    std::string title(SpanKindName(kind));
    // Only kvm_exit's exit_reason is asked for: no page fault, no context.
    auto field = [this](const Event* e, std::string_view name) -> std::string {
      if (e == nullptr) return "";
      for (const Field& f : EventFieldsWith(m_trace, *e, {})) {
        if (f.name == name) return f.text;
      }
      return "";
    };
    if (kind == SpanKind::Run && end != nullptr) {
      std::string_view reason = KvmExitReasonName(static_cast<uint32_t>(end->a[0]));
      title += reason.empty() ? fmt::format(" → exit {}", end->a[0]) : fmt::format(" → {}", reason);
    } else if (kind == SpanKind::VmmHandling && begin != nullptr &&
               begin->type == VmmEventKind::RunExit) {  // an external VMM's: a kernel RunExit
      std::string_view reason = KvmExitReasonName(static_cast<uint32_t>(begin->a[0]));
      if (!reason.empty()) title += fmt::format(": {}", reason);
    } else if (kind == SpanKind::KernelHandling) {
      if (std::string reason = field(begin, "exit_reason"); !reason.empty()) title += ": " + reason;
    } else if (kind == SpanKind::Guest) {
      if (std::string reason = field(end, "exit_reason"); !reason.empty()) title += " → " + reason;
    }
    return title;
  }

  // A B edge carries the span's name and, only when one is missing, which
  // edge the trace lacks; the E edge closes the innermost open span.
  void WriteEdge(const Track& track, const Edge& edge) {
    const Span& span = *edge.span;
    if (!edge.begin) {
      // The same name and category as its B: DevTools' trace engine pairs them so.
      Begin(m_open_names.back(), 'E', track.pid, track.tid);
      m_out << ",\"cat\":\"span\",\"ts\":";
      WriteMicros(m_out, edge.ns);
      m_out << '}';
      m_open_names.pop_back();
      return;
    }
    // Decoded copies: the store keeps no Event objects to point at.
    std::optional<Event> begin_event, end_event;
    if (span.begin != kNoEvent) begin_event = track.events[span.begin];
    if (span.end != kNoEvent) end_event = track.events[span.end];
    const Event* begin = begin_event ? &*begin_event : nullptr;
    const Event* end = end_event ? &*end_event : nullptr;
    m_open_names.push_back(Quoted(SpanTitle(edge.kind, begin, end)));
    Begin(m_open_names.back(), 'B', track.pid, track.tid);
    m_out << ",\"cat\":\"span\",\"ts\":";
    WriteMicros(m_out, edge.ns);
    // The keys in the order nlohmann::json's object sorts them.
    if (begin == nullptr && end == nullptr) {
      m_out << R"(,"args":{"begin":"before the trace","end":"after the trace, or lost"})";
    } else if (begin == nullptr) {
      m_out << R"(,"args":{"begin":"before the trace"})";
    } else if (end == nullptr) {
      m_out << R"(,"args":{"end":"after the trace, or lost"})";
    }
    m_out << '}';
    ++m_counts.spans;
  }

  const TraceData& m_trace;
  TextOut m_out;
  const ExportProgress& m_progress;
  size_t m_total = 0, m_done = 0;  // the trace's events, and those written
  std::array<std::string, kEventTypes> m_type_names;  // quoted, by EventType::index()
  std::vector<std::optional<std::string>> m_chains;   // by stack id: its frames as a JSON array
  std::vector<FaultCode> m_codes;                     // of the track being written, by event
  std::vector<Arg> m_args;                            // of the instant being decoded
  // ArgsOf's slots: 4096 of them, each a content and its arguments.
  struct ArgsSlot {
    bool used = false;
    Event content;  // time_ns 0
    FaultCode code = FaultCode::Unknown;
    std::string args;
  };
  static constexpr int kArgsSlotBits = 12;
  std::vector<ArgsSlot> m_args_slots = std::vector<ArgsSlot>(size_t{1} << kArgsSlotBits);
  std::vector<std::string> m_open_names;  // the B edges not yet closed, innermost last, quoted
  ChromeExportCounts m_counts;
  bool m_first = true;
};

// An ostream buffer that gzip-compresses into another stream.
class GzipBuffer : public std::streambuf {
 public:
  explicit GzipBuffer(std::ostream& sink) : m_sink(sink) {
    // 15 + 16: a gzip header and trailer, not a bare zlib stream.
    if (deflateInit2(&m_z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("gzip: deflateInit2 failed");
    }
    setp(m_in.data(), m_in.data() + m_in.size());
  }
  ~GzipBuffer() override { deflateEnd(&m_z); }
  // Flushes what is buffered and writes the gzip trailer.
  void Finish() {
    Deflate(Z_FINISH);
    if (!m_sink) throw std::runtime_error("writing the Chrome trace failed: the stream failed");
  }

 protected:
  int_type overflow(int_type ch) override {
    Deflate(Z_NO_FLUSH);
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return m_sink ? traits_type::not_eof(ch) : traits_type::eof();
  }

 private:
  void Deflate(int flush) {
    m_z.next_in = reinterpret_cast<Bytef*>(pbase());
    m_z.avail_in = static_cast<uInt>(pptr() - pbase());
    int rc = Z_OK;
    do {
      m_z.next_out = reinterpret_cast<Bytef*>(m_out.data());
      m_z.avail_out = static_cast<uInt>(m_out.size());
      rc = deflate(&m_z, flush);
      // Z_STREAM_ERROR means a broken stream state; retrying would loop forever.
      if (rc == Z_STREAM_ERROR) throw std::runtime_error("gzip: deflate failed (Z_STREAM_ERROR)");
      m_sink.write(m_out.data(), static_cast<std::streamsize>(m_out.size() - m_z.avail_out));
      if (!m_sink) break;  // Finish() and overflow() report it
    } while (m_z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    setp(m_in.data(), m_in.data() + m_in.size());
  }

  std::ostream& m_sink;
  z_stream m_z{};
  std::array<char, 1 << 16> m_in{};
  std::array<char, 1 << 16> m_out{};
};

}  // namespace

ChromeExportCounts WriteChromeTrace(const TraceData& trace, std::ostream& out,
                                    const ExportProgress& progress) {
  ChromeExportCounts counts = Exporter(trace, out, progress).Write();
  out.flush();
  if (!out) throw std::runtime_error("writing the Chrome trace failed: the stream reports an error");
  return counts;
}

ChromeExportCounts SaveChromeTrace(const TraceData& trace, const std::string& path,
                                   const ExportProgress& progress) {
  ChromeExportCounts counts;
  const bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  WriteFileAtomically(path, [&](std::ostream& out) {
    if (!gzip) {
      counts = WriteChromeTrace(trace, out, progress);
      return;
    }
    GzipBuffer buffer(out);
    std::ostream zipped(&buffer);
    counts = WriteChromeTrace(trace, zipped, progress);
    buffer.Finish();
  });
  return counts;
}

}  // namespace kvmscope::traces

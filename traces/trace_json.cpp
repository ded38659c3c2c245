// The native trace file (docs/trace-format.md), writing: streamed straight
// to the output in large blocks, never built as one document in memory. The
// reader is in trace_json_read.cpp.
#include "traces/trace_json.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "traces/atomic_file.h"
#include "traces/text_out.h"
#include "traces/trace_json_internal.h"

namespace kvmscope::traces {

namespace json_detail {

// ---------------------------------------------------------------- base64 --

constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                 uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64[(v >> shift) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += rest == 2 ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      size_t at = kBase64.find(c);
      bool last_group = i + 4 == text.size();
      if (c == '=' && last_group && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        ++pad;
        at = 0;
      } else if (at == std::string_view::npos || pad > 0) {
        return std::nullopt;
      }
      v = v << 6 | static_cast<uint32_t>(at);
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>(v >> 8 & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

// --------------------------------------------------------------- writing --

}  // namespace json_detail

namespace {

using namespace json_detail;

// The native file's JSON, written straight into TextOut's block: plain
// numbers, quoted names and strings, each a few copies.
class Writer {
 public:
  explicit Writer(std::ostream& out)
      : m_text(out, "writing the trace failed: the output stream failed") {}

  template <typename T>
  Writer& operator<<(const T& v) {
    m_text << v;
    return *this;
  }

  // A JSON string; bytes that are not valid UTF-8 cannot be a JSON string,
  // so such text is written losslessly as {"base64":"..."} instead.
  Writer& String(std::string_view text) {
    if (!m_text.JsonString(text)) m_text << R"({"base64":")" << Base64Encode(text) << "\"}";
    return *this;
  }
  Writer& Strings(const std::vector<std::string>& list) {
    *this << '[';
    for (size_t i = 0; i < list.size(); ++i) String(list[i]) << (i + 1 < list.size() ? "," : "");
    return *this << ']';
  }
  // A number, or null when absent.
  template <std::integral T>
  Writer& Optional(const std::optional<T>& v) {
    if (v) return *this << *v;
    return *this << "null";
  }
  // `"key":` after a comma unless first; keys are plain ASCII.
  Writer& Key(std::string_view key, bool first = false) {
    return *this << (first ? "\"" : ",\"") << key << "\":";
  }
  Writer& Field(std::string_view key, std::string_view text) { return Key(key).String(text); }
  template <std::integral T>
  Writer& Field(std::string_view key, T v) {
    return Key(key) << v;
  }
  void Flush() { m_text.Flush(); }

 private:
  TextOut m_text;
};

void WritePlan(Writer& w, const PlanRecord& plan) {
  w.Key("summary", true).String(plan.summary).Field("requested", plan.requested)
      << ",\"entries\":[";
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const PlanRecord::Entry& e = plan.entries[i];
    w << (i > 0 ? ",\n  {" : "\n  {");
    w.Key("point", true).String(e.point).Field("target", e.target);
    w.Field("mechanism", e.mechanism).Field("how", e.how).Key("passed").Strings(e.passed) << '}';
  }
  w << "],\n ";
  w.Key("tracepoints", true).Strings(plan.tracepoints) << ",\n ";
  w.Key("missing", true).Strings(plan.missing) << '}';
}

void WriteHost(Writer& w, const HostFacts& host) {
  w << "\"host\":{";
  w.Key("kernel_release", true).String(host.kernel_release);
  w.Field("backend", host.backend).Field("cpu", host.cpu);
  w.Field("vendor_handler", host.vendor_handler);
  w.Field("not_traced_reason", host.not_traced_reason).Field("stack_mode", host.stack_mode);
  w.Key("system_wide") << (host.system_wide ? "true" : "false");
  w.Field("kernel_symbols", host.kernel_symbols);
  w.Field("platform", host.platform).Field("platform_evidence", host.platform_evidence);
  w.Key("module_params") << '{';
  bool first = true;
  for (const auto& [key, value] : host.module_params) {
    (w << (first ? "" : ",")).String(key) << ':';  // keys from a file may be any text
    w.String(value);
    first = false;
  }
  w << '}';
  w << ",\n \"plan\":";
  if (host.plan) {
    w << '{';
    WritePlan(w, *host.plan);
  } else {
    w << "null";
  }
  w << "},\n";
}

void WriteGuest(Writer& w, const GuestFacts& guest) {
  w << "\"guest\":{";
  w.Key("name", true).String(guest.name).Field("mode", guest.mode);
  w.Field("load_addr", guest.load_addr).Field("vcpus", guest.vcpus);
  w.Field("sha256", guest.sha256).Field("verdict", guest.verdict).Field("detail", guest.detail);
  std::string_view image(reinterpret_cast<const char*>(guest.image.data()), guest.image.size());
  w << ",\n \"image\":\"" << Base64Encode(image) << "\"";
  w.Field("source", guest.source);
  w << ",\"param\":";
  w.Optional(guest.param);
  w << ",\n \"lines\":[";
  for (size_t i = 0; i < guest.lines.size(); ++i) {
    w << (i ? ",[" : "[") << guest.lines[i].first << "," << guest.lines[i].second << "]";
  }
  w << "]},\n";
}

void WriteKernelCounts(Writer& w, const std::optional<KernelCounts>& counts) {
  w << "\"kernel_counts\":";
  if (!counts) {
    w << "null,\n";
    return;
  }
  w << '{';
  w.Key("stacks_taken", true) << counts->stacks_taken;
  w.Field("stacks_failed", counts->stacks_failed);
  w << ",\"kinds\":{";
  for (size_t k = 0; k < kKernelEventKinds; ++k) {
    w << (k > 0 ? ",\n  " : "\n  ");
    w.String(KernelEventName(static_cast<KernelEventKind>(k))) << ":{";
    w.Key("seen", true) << counts->seen[k];
    w.Field("lost", counts->lost[k]).Field("received", counts->received[k]);
    if (counts->not_streamed[k]) w << ",\"streamed\":false";
    if (counts->stream_budget[k]) {
      w.Field(counts->stream_budget_per_cpu ? "stream_budget" : "stream_budget_total",
              counts->stream_budget[k]);
    }
    if (counts->seen_by[k] != SeenBy::Tracing) {
      w << ",\"seen_by\":";
      w.String(SeenByName(counts->seen_by[k]));
    }
    w << '}';
  }
  w << "}},\n";
}

// {"name":value,...}; names from the kernel may be any text.
void WriteCounters(Writer& w, const std::map<std::string, uint64_t>& counters) {
  w << '{';
  bool first = true;
  for (const auto& [name, value] : counters) {
    (w << (first ? "" : ",")).String(name) << ':' << value;
    first = false;
  }
  w << '}';
}

void WriteKvmStats(Writer& w, const std::optional<KvmStatsRecord>& stats,
                   const std::string& note) {
  w << "\"kvm_stats\":";
  if (!stats) {
    w << "null";
  } else {
    w << "{\"vm\":";
    WriteCounters(w, stats->vm);
    w << ",\"vcpus\":[";
    for (size_t i = 0; i < stats->vcpus.size(); ++i) {
      w << (i > 0 ? ",\n  " : "\n  ");
      WriteCounters(w, stats->vcpus[i]);
    }
    w << ']';
    if (!stats->source.empty()) (w << ",\"source\":").String(stats->source);
    w << '}';
  }
  w << ",\n";
  w.Key("kvm_stats_note", true).String(note) << ",\n";
}

// "vmm": only for another process's VMM (absent for kvmscope's own).
void WriteExternalVmm(Writer& w, const TraceData& trace) {
  if (!trace.external) return;
  const ExternalVmm& vmm = *trace.external;
  w << "\"vmm\":{";
  w.Key("kind", true).String("external").Field("pid", vmm.pid).Field("command", vmm.command);
  // One row per vCPU known by its fd or by its track, in index order.
  std::map<int, std::pair<std::optional<int>, std::optional<uint32_t>>> vcpus;  // fd, tid
  for (const auto& [fd, index] : vmm.vcpu_of_fd) vcpus[index].first = fd;
  for (const Track& t : trace.tracks) {
    if (t.pid == vmm.pid && t.kind == TrackKind::Vcpu && t.vcpu >= 0) vcpus[t.vcpu].second = t.tid;
  }
  w << ",\n \"vcpus\":[";
  bool first = true;
  for (const auto& [index, ids] : vcpus) {
    w << (first ? "{" : ",{");
    first = false;
    w.Key("index", true) << index;
    w.Key("tid").Optional(ids.second);
    auto name = ids.second ? vmm.thread_names.find(*ids.second) : vmm.thread_names.end();
    w.Field("name", name != vmm.thread_names.end() ? std::string_view(name->second) : "");
    w.Key("fd").Optional(ids.first) << '}';
  }
  w << "],\n \"threads\":[";
  first = true;
  for (const auto& [tid, name] : vmm.thread_names) {
    (w << (first ? "[" : ",[") << tid << ',').String(name) << ']';
    first = false;
  }
  w << ']';
  w.Field("not_visible", vmm.not_visible).Field("ended", vmm.ended) << "},\n";
}

void WriteRegs(Writer& w, const std::vector<GuestRegs>& regs) {
  w << "\"regs\":[";
  for (size_t i = 0; i < regs.size(); ++i) {
    w << (i > 0 ? ",\n{" : "\n{");
    w.Key("vcpu", true) << regs[i].vcpu;
    w.Field("run_index", regs[i].run_index);
    for (size_t r = 0; r < kGuestRegs; ++r) w.Field(GuestRegNames()[r], regs[i].values[r]);
    w << '}';
  }
  w << "],\n";
}

void WriteTracks(Writer& w, const TraceData& trace) {
  const std::vector<Track>& tracks = trace.tracks;
  // Every row names its type; quote the names once.
  std::array<std::string, kEventTypes> type_names;
  for (size_t i = 0; i < kEventTypes; ++i) {
    type_names[i] = Json(std::string(EventTypeName(EventType::FromIndex(i)))).dump();
  }
  w << "\"tracks\":[";
  for (size_t t = 0; t < tracks.size(); ++t) {
    const Track& track = tracks[t];
    w << (t > 0 ? ",\n{" : "\n{");
    w.Key("pid", true) << track.pid;
    w.Field("tid", track.tid).Field("vcpu", track.vcpu).Field("kind", TrackKindName(track.kind));
    if (!track.name.empty()) w.Field("name", track.name);  // absent: no name known
    w.Field("event_count", track.events.size()) << ",\"events\":[";
    for (size_t i = 0; i < track.events.size(); ++i) {
      const Event& e = track.events[i];
      bool dangling = e.stack_id >= static_cast<int64_t>(trace.stacks.size()) || e.stack_id < -1 ||
                      e.text >= trace.strings.size();
      if (e.tid != track.tid || e.type.index() >= kEventTypes || dangling) {
        // The store files events by thread and records stacks and strings
        // before the events that use them: a bug, not bad input. Refuse
        // rather than write a file that would not load.
        throw std::logic_error(fmt::format(
            "cannot write tracks[{}].events[{}]: tid {} (track {}), type {}, stack id {} (of {}), "
            "text id {} (of {})",
            t, i, e.tid, track.tid, e.type.index(), e.stack_id, trace.stacks.size(), e.text,
            trace.strings.size()));
      }
      w << (i > 0 ? ",\n[" : "\n[") << e.time_ns << ',' << type_names[e.type.index()] << ','
        << e.cpu << ',' << e.stack_id << ',' << e.text;
      for (uint64_t arg : e.a) w << ',' << arg;
      // vCPU and pid are the track's unless said otherwise (a thread id that
      // a new process reused, in a system-wide trace).
      if (e.vcpu != track.vcpu || e.pid != track.pid) w << ',' << e.vcpu;
      if (e.pid != track.pid) w << ',' << e.pid;
      w << ']';
    }
    w << "]}";
  }
  w << "]}\n";
}

}  // namespace

void WriteTrace(const TraceData& trace, std::ostream& out) {
  Writer w(out);
  w << '{';
  w.Key("format", true).String(kTraceFormatName).Field("format_version", kTraceFormatVersion);
  w << ",\n";
  WriteHost(w, trace.host);
  WriteGuest(w, trace.guest);
  w.Key("console", true).String(trace.console) << ",\n";
  WriteKernelCounts(w, trace.kernel_counts);
  WriteKvmStats(w, trace.kvm_stats, trace.kvm_stats_note);
  WriteExternalVmm(w, trace);
  w.Key("strings", true).Strings(trace.strings) << ",\n\"symbols\":[";
  const std::vector<Symbol>& symbols = trace.symbols.symbols();
  for (size_t i = 0; i < symbols.size(); ++i) {
    w << (i > 0 ? ",\n[" : "\n[") << symbols[i].addr << ',';
    w.String(symbols[i].name) << ',';
    w.String(symbols[i].module);
    if (symbols[i].end != 0) w << ',' << symbols[i].end;  // absent in files from before the bound
    w << ']';
  }
  w << "],\n\"stacks\":[";
  for (size_t i = 0; i < trace.stacks.size(); ++i) {
    w << (i > 0 ? ",\n[" : "\n[");
    for (size_t f = 0; f < trace.stacks[i].size(); ++f) {
      w << (f > 0 ? "," : "") << trace.stacks[i][f];
    }
    w << ']';
  }
  w << "],\n";
  WriteRegs(w, trace.regs);
  WriteTracks(w, trace);
  w.Flush();
  out.flush();
  if (!out) throw std::runtime_error("writing the trace failed: the output stream failed");
}

void SaveTrace(const TraceData& trace, const std::string& path) {
  WriteFileAtomically(path, [&trace](std::ostream& out) { WriteTrace(trace, out); });
}


}  // namespace kvmscope::traces

// Chrome trace event export, streamed: metadata names first, then per track
// its instants and each span kind's complete ("X") events on their own row.
// Times are microseconds from the trace's first event, printed exactly.
#include "traces/chrome_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "traces/atomic_file.h"
#include "traces/fault_context.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;

// Any text as a JSON string. The export is for viewing, so bytes that are
// not UTF-8 (a guest's console, say) become U+FFFD rather than failing.
std::string Quote(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}
std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Nanoseconds as microseconds with all nine digits kept: 1234567 -> "1234.567".
std::string Micros(int64_t ns) {
  uint64_t magnitude = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  return fmt::format("{}{}.{:03}", ns < 0 ? "-" : "", magnitude / 1000, magnitude % 1000);
}

class Exporter {
 public:
  Exporter(const TraceData& trace, std::ostream& out)
      : m_trace(trace), m_out(out), m_begin_ns(trace.BeginNs()), m_chains(trace.stacks.size()) {}

  void Write() {
    // Rows in Perfetto: vCPUs first, in vCPU order, then the VMM's other
    // threads, then other processes' threads; each followed by its span rows.
    std::vector<size_t> by_row(m_trace.tracks.size());
    for (size_t i = 0; i < by_row.size(); ++i) by_row[i] = i;
    auto key = [this](size_t i) {
      const Track& t = m_trace.tracks[i];
      int group = t.kind == TrackKind::Vcpu ? 0 : t.kind == TrackKind::Vmm ? 1 : 2;
      return std::tuple(group, t.vcpu, i);
    };
    std::sort(by_row.begin(), by_row.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    m_rank.resize(by_row.size());
    for (size_t row = 0; row < by_row.size(); ++row) m_rank[by_row[row]] = row;
    m_out << "{\"displayTimeUnit\":\"ns\",\n\"otherData\":" << Dump(OtherData())
          << ",\n\"traceEvents\":[";
    WriteProcessNames();
    for (size_t t = 0; t < m_trace.tracks.size(); ++t) {
      WriteTrack(t);
      // Stop at the first failure (a full disk) rather than format the rest.
      if (!m_out) throw std::runtime_error("writing the Chrome trace failed: the stream failed");
    }
    m_out << "\n]}\n";
  }

 private:
  Json OtherData() const {
    const HostFacts& host = m_trace.host;
    std::string plan = host.plan ? host.plan->summary : "not traced: " + host.not_traced_reason;
    return Json{{"exported_by", "kvmscope"},
                {"kernel", host.kernel_release},
                {"backend", host.backend},
                {"cpu", host.cpu},
                {"vendor_handler", host.vendor_handler},
                {"plan", plan},
                {"guest", m_trace.guest.name},
                {"guest_mode", m_trace.guest.mode},
                {"verdict", m_trace.guest.verdict},
                {"external_vmm", m_trace.ExternalNote()},
                // ts 0 of this file, for lining it up with the native trace.
                {"begin_ns_clock_monotonic", fmt::format("{}", m_begin_ns)}};
  }

  // Starts one trace event: `{"name":...,"ph":...,"pid":...,"tid":...`.
  void Begin(std::string_view name, char ph, uint32_t pid, uint32_t tid) {
    m_out << (m_first ? "\n{\"name\":" : ",\n{\"name\":") << Quote(name) << ",\"ph\":\"" << ph
          << "\",\"pid\":" << pid << ",\"tid\":" << tid;
    m_first = false;
  }
  void Metadata(std::string_view what, uint32_t pid, uint32_t tid, const Json& args) {
    Begin(what, 'M', pid, tid);
    m_out << ",\"ts\":0,\"args\":" << Dump(args) << '}';
  }

  void WriteProcessNames() {
    std::set<uint32_t> done;
    for (const Track& track : m_trace.tracks) {
      if (!done.insert(track.pid).second) continue;
      bool vmm = std::any_of(m_trace.tracks.begin(), m_trace.tracks.end(), [&](const Track& t) {
        return t.pid == track.pid && t.kind != TrackKind::System;
      });
      const bool external = m_trace.external && m_trace.external->pid == track.pid;
      std::string name =
          external ? fmt::format("external VMM: {} (pid {})", m_trace.external->command, track.pid)
          : vmm    ? fmt::format("kvmscope VMM: {} (pid {})", m_trace.guest.name, track.pid)
                   : fmt::format("pid {}", track.pid);
      Metadata("process_name", track.pid, track.pid, {{"name", name}});
      Metadata("process_sort_index", track.pid, track.pid,
               {{"sort_index", vmm || external ? 0 : 1}});
    }
  }

  void WriteTrack(size_t index) {
    const Track& track = m_trace.tracks[index];
    int64_t order = static_cast<int64_t>(m_rank[index]) * 8;
    Metadata("thread_name", track.pid, track.tid, {{"name", track.Name()}});
    Metadata("thread_sort_index", track.pid, track.tid, {{"sort_index", order}});
    // What produced each kvm_page_fault, for the whole track in one pass.
    m_codes = FaultCodesOf(m_trace, static_cast<uint32_t>(index));
    for (size_t i = 0; i < track.events.size(); ++i) {
      const Event& e = track.events[i];
      bool is_span_edge = e.type == VmmEventKind::RunEnter || e.type == VmmEventKind::RunExit;
      if (!is_span_edge) WriteInstant(track, i);
    }
    for (size_t k = 0; k < kSpanKinds; ++k) {
      const std::vector<Span>& spans = track.spans[k];
      if (spans.empty()) continue;
      SpanKind kind = static_cast<SpanKind>(k);
      uint32_t lane = ChromeSpanTid(track.tid, kind);
      Metadata("thread_name", track.pid, lane,
               {{"name", fmt::format("{}: {}", track.Name(), SpanKindName(kind))}});
      Metadata("thread_sort_index", track.pid, lane,
               {{"sort_index", order + static_cast<int64_t>(k) + 1}});
      for (const Span& span : spans) WriteSpan(track, kind, lane, span);
    }
  }

  // The context of the current track's event i (its FaultCode).
  DecodeContext Context(size_t i) const {
    return {.fault_code = i < m_codes.size() ? m_codes[i] : FaultCode::Unknown};
  }

  Json Fields(const Event& e, size_t i) const {
    Json args = Json::object();
    for (const Field& f : EventFieldsWith(m_trace, e, Context(i))) {
      args[std::string(f.name)] = f.text;
    }
    return args;
  }

  void WriteInstant(const Track& track, size_t i) {
    const Event& e = track.events[i];
    Json args = Fields(e, i);
    if (e.cpu != kNoCpu) args["cpu"] = e.cpu;
    if (const Stack* stack = m_trace.StackOf(e)) {
      // One symbolization per stack, however many events share it.
      std::optional<Json>& chain = m_chains[static_cast<size_t>(e.stack_id)];
      if (!chain) chain = Json(ChainFrames(*stack, m_trace.symbols));
      args["stack"] = *chain;
    }
    Begin(EventTypeName(e.type), 'i', track.pid, track.tid);
    m_out << ",\"cat\":\"" << (e.type.origin == Origin::Kernel ? "kernel" : "vmm")
          << "\",\"s\":\"t\",\"ts\":" << Micros(e.time_ns - m_begin_ns)
          << ",\"args\":" << Dump(args) << '}';
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
      if (std::string reason = field(begin, "exit_reason"); !reason.empty()) {
        title += ": " + reason;
      }
    } else if (kind == SpanKind::Guest) {
      if (std::string reason = field(end, "exit_reason"); !reason.empty()) {
        title += " → " + reason;
      }
    }
    return title;
  }

  void WriteSpan(const Track& track, SpanKind kind, uint32_t lane, const Span& span) {
    const Event* begin = span.begin != kNoEvent ? &track.events[span.begin] : nullptr;
    const Event* end = span.end != kNoEvent ? &track.events[span.end] : nullptr;
    Json args = end != nullptr ? Fields(*end, span.end) : Json::object();
    args["begin_missing"] = begin == nullptr;
    args["end_missing"] = end == nullptr;
    if (begin != nullptr) {
      args["begin_event"] = DescribeEventWith(m_trace, *begin, Context(span.begin));
    }
    if (end != nullptr) args["end_event"] = DescribeEventWith(m_trace, *end, Context(span.end));
    Begin(SpanTitle(kind, begin, end), 'X', track.pid, lane);
    m_out << ",\"cat\":\"span\",\"ts\":" << Micros(span.begin_ns - m_begin_ns)
          << ",\"dur\":" << Micros(std::max<int64_t>(0, span.duration_ns()))
          << ",\"args\":" << Dump(args) << '}';
  }

  const TraceData& m_trace;
  std::ostream& m_out;
  int64_t m_begin_ns;
  std::vector<std::optional<Json>> m_chains;  // by stack id
  std::vector<size_t> m_rank;                 // by track: its place among the rows
  std::vector<FaultCode> m_codes;             // of the track being written, by event
  bool m_first = true;
};

}  // namespace

uint32_t ChromeSpanTid(uint32_t tid, SpanKind kind) {
  return (static_cast<uint32_t>(kind) + 1) * 100000000u + tid;
}

void WriteChromeTrace(const TraceData& trace, std::ostream& out) {
  Exporter(trace, out).Write();
  out.flush();
  if (!out)
    throw std::runtime_error("writing the Chrome trace failed: the stream reports an error");
}

void SaveChromeTrace(const TraceData& trace, const std::string& path) {
  WriteFileAtomically(path, [&trace](std::ostream& out) { WriteChromeTrace(trace, out); });
}

}  // namespace kvmscope::traces

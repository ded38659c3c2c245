// `kvmscope top` as text: the screen's lines, and the log mode's CSV and
// JSON lines (one record per interval, thread and reason).
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "traces/top_model.h"

namespace kvmscope::traces {

std::string TopDuration(uint64_t ns) {
  if (ns == 0) return "-";
  if (ns < 1'000) return fmt::format("{}ns", ns);
  if (ns < 100'000) return fmt::format("{:.1f}µs", ns / 1e3);
  if (ns < 1'000'000) return fmt::format("{:.0f}µs", ns / 1e3);
  if (ns < 100'000'000) return fmt::format("{:.1f}ms", ns / 1e6);
  if (ns < 1'000'000'000) return fmt::format("{:.0f}ms", ns / 1e6);
  return fmt::format("{:.2f}s", ns / 1e9);
}

namespace {

std::string Thousands(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Columns on a terminal: every code point of the text is one column (the
// non-ASCII characters used here, µ · ▼ └ ≤, are all narrow).
size_t Columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string Fit(std::string s, size_t width) {
  if (Columns(s) <= width) return s;
  size_t cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80 && cols++ == width) break;
  }
  s.resize(i);
  return s;
}

std::string Right(std::string_view s, size_t width) {
  size_t n = Columns(s);
  return n >= width ? std::string(s) : std::string(width - n, ' ') + std::string(s);
}

std::string Percent(double share) {
  return fmt::format("{:.0f}%", share * 100);
}

std::string PairOf(const TopLatencyStats& l) {
  if (!l.samples) return "-";
  return TopDuration(l.p50_ns) + " / " + TopDuration(l.p99_ns);
}

std::string ReasonList(const std::vector<TopReason>& reasons) {
  std::string text;
  for (const TopReason& r : reasons) {
    if (!text.empty()) text += " · ";
    text += r.name + " " + TopRate(r.per_s);
  }
  return text.empty() ? "(no exits in this interval)" : text;
}

// The columns: title, width, the sort key it shows (kTopSorts: none).
struct Column {
  const char* title;
  size_t width;
  size_t sort;
};
constexpr Column kColumns[] = {
    {"PID", 8, static_cast<size_t>(TopSort::Pid)},
    {"TID", 8, kTopSorts},
    {"vCPU", 6, kTopSorts},
    {"EXITS/s", 11, static_cast<size_t>(TopSort::Exits)},
    {"IN KVM_RUN", 12, static_cast<size_t>(TopSort::RunShare)},
    {"KVM_RUN p50 / p99", 20, static_cast<size_t>(TopSort::RunP99)},
    {"VMM p50 / p99", 20, static_cast<size_t>(TopSort::VmmP99)},
    {"KVM p50 / p99", 20, kTopSorts},
};

std::string RowLine(const TopRow& row, bool vm) {
  std::string cells[] = {
      vm ? std::to_string(row.pid) : "",
      vm ? "" : std::to_string(row.tid),
      vm              ? fmt::format("{} thr", row.threads)
      : row.vcpu >= 0 ? std::to_string(row.vcpu)
                      : "?",
      Thousands(static_cast<uint64_t>(std::llround(row.exits_per_s))),
      Percent(row.run_share),
      PairOf(row.latency[0]),
      PairOf(row.latency[1]),
      PairOf(row.latency[2]),
  };
  std::string line;
  for (size_t i = 0; i < std::size(kColumns); ++i) line += Right(cells[i], kColumns[i].width);
  return line + "  " + (vm ? row.name : "└ " + row.name);
}

// Where the reasons line starts: under the EXITS/s column.
constexpr size_t kReasonIndent = 8 + 8 + 6 + 2;

}  // namespace

std::string TopRate(double per_s) {
  return Thousands(static_cast<uint64_t>(std::llround(std::max(per_s, 0.0)))) + "/s";
}

std::vector<std::string> FormatTopScreen(const std::vector<TopVmRows>& rows,
                                         const TopHeader& header, const TopView& view,
                                         size_t width) {
  std::vector<std::string> lines;
  std::string how =
      header.kvm_exit_fires ? "kvm_exit fires: EXITS/s are hardware exits, with their reasons and "
                              "KVM's handling time (kvm_exit → kvm_entry)"
      : header.backend == "PVM"
          ? "kvm_exit does not fire on PVM: EXITS/s are KVM_RUN returns to the VMM "
            "(kvm_userspace_exit)"
          : "kvm_exit has not fired: EXITS/s are KVM_RUN returns to the VMM (kvm_userspace_exit)";
  lines.push_back(fmt::format("kvmscope top · backend {} · {} · every {:.1f} s", header.backend,
                              how, header.interval_s));
  std::string filters;
  if (view.vm) filters += fmt::format(" · VM {}", view.vm);
  if (!view.reason_filter.empty()) filters += fmt::format(" · reasons /{}/", view.reason_filter);
  lines.push_back(fmt::format(
      "p50/p99 = upper bound of a log2 bucket (≤25% bucket error) · sort ▼ {}{}{} · h help · q "
      "quit",
      TopSortName(view.sort), filters, header.emulation ? " · kvm_emulate_insn counted" : ""));
  if (!header.skipped.empty()) {
    std::string text = "not counted: ";
    for (size_t i = 0; i < header.skipped.size(); ++i) text += (i ? "; " : "") + header.skipped[i];
    lines.push_back(text);
  }
  lines.emplace_back();
  std::string titles;
  for (const Column& c : kColumns) {
    std::string title = c.title;
    if (c.sort == static_cast<size_t>(view.sort)) title += "▼";
    titles += Right(title, c.width);
  }
  lines.push_back(titles + "  COMMAND / THREAD");
  if (rows.empty()) {
    lines.push_back(view.vm || !view.reason_filter.empty()
                        ? "  (nothing matches the filters: v and f change them)"
                        : "  (no KVM_RUN on this host in the last interval)");
  }
  std::string indent(kReasonIndent, ' ');
  for (const TopVmRows& vm : rows) {
    lines.push_back(RowLine(vm.vm, true));
    lines.push_back(indent + ReasonList(vm.vm.reasons));
    for (const TopRow& v : vm.vcpus) {
      lines.push_back(RowLine(v, false));
      lines.push_back(indent + "  " + ReasonList(v.reasons));
    }
  }
  for (std::string& l : lines) l = Fit(std::move(l), width);
  return lines;
}

namespace {

std::string_view KindName(TopReasonKind kind) {
  switch (kind) {
    case TopReasonKind::Userspace: return "userspace";
    case TopReasonKind::Hardware: return "kvm_exit";
    case TopReasonKind::Event: return "event";
  }
  return "?";
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The vCPU rows the log writes: every thread, filtered as the view says.
std::vector<TopRow> LogRows(const TopInterval& interval, const TopNames& names,
                            const TopView& view) {
  TopView v = view;
  v.per_vcpu = true;
  v.sort = TopSort::Pid;
  std::vector<TopRow> out;
  for (TopVmRows& vm : BuildTopRows(interval, names, v)) {
    for (TopRow& r : vm.vcpus) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::string TopCsvHeader() {
  return "time,interval_s,pid,tid,vcpu,comm,kind,reason,count,per_s,kvm_runs_per_s,run_share,"
         "run_p50_ns,run_p99_ns,vmm_p50_ns,vmm_p99_ns,kvm_p50_ns,kvm_p99_ns";
}

std::vector<std::string> TopCsvLines(const TopInterval& interval, const TopNames& names,
                                     const TopView& view, double unix_time) {
  std::vector<std::string> lines;
  for (const TopRow& row : LogRows(interval, names, view)) {
    for (const TopReason& r : row.reasons) {
      lines.push_back(fmt::format(
          "{:.3f},{:.3f},{},{},{},{},{},{},{},{:.1f},{:.1f},{:.4f},{},{},{},{},{},{}", unix_time,
          interval.seconds, row.pid, row.tid, row.vcpu, CsvField(row.name), KindName(r.kind),
          CsvField(r.name), r.count, r.per_s, row.runs_per_s, row.run_share, row.latency[0].p50_ns,
          row.latency[0].p99_ns, row.latency[1].p50_ns, row.latency[1].p99_ns,
          row.latency[2].p50_ns, row.latency[2].p99_ns));
    }
  }
  return lines;
}

std::vector<std::string> TopJsonLines(const TopInterval& interval, const TopNames& names,
                                      const TopView& view, double unix_time) {
  std::vector<std::string> lines;
  for (const TopRow& row : LogRows(interval, names, view)) {
    for (const TopReason& r : row.reasons) {
      nlohmann::ordered_json j;
      j["time"] = std::round(unix_time * 1000) / 1000;
      j["interval_s"] = interval.seconds;
      j["pid"] = row.pid;
      j["tid"] = row.tid;
      j["vcpu"] = row.vcpu;
      j["comm"] = row.name;
      j["kind"] = KindName(r.kind);
      j["reason"] = r.name;
      j["count"] = r.count;
      j["per_s"] = r.per_s;
      j["kvm_runs_per_s"] = row.runs_per_s;
      j["run_share"] = row.run_share;
      j["run_p50_ns"] = row.latency[0].p50_ns;
      j["run_p99_ns"] = row.latency[0].p99_ns;
      j["vmm_p50_ns"] = row.latency[1].p50_ns;
      j["vmm_p99_ns"] = row.latency[1].p99_ns;
      j["kvm_p50_ns"] = row.latency[2].p50_ns;
      j["kvm_p99_ns"] = row.latency[2].p99_ns;
      lines.push_back(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  return lines;
}

}  // namespace kvmscope::traces

#include "lab/query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include "lab/text.h"
#include "traces/chains.h"
#include "traces/fault_context.h"
#include "traces/report.h"
#include "traces/seed_check.h"
#include "traces/stats.h"

namespace kvmscope::lab {
namespace {

using traces::EventType;
using traces::KernelEventKind;
using traces::TraceData;
using traces::VmmEventKind;

std::vector<std::string> Tokens(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsArithmetic(const std::string& t) { return t == "+" || t == "-" || t == "*" || t == "/"; }
bool IsComparison(const std::string& t) {
  return t == ">" || t == "<" || t == ">=" || t == "<=" || t == "==" || t == "!=";
}

// An integer as authors write them: 14, 0x3f8.
std::optional<uint64_t> ParseUnsigned(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> ParseNumber(const std::string& s) {
  if (auto u = ParseUnsigned(s)) return static_cast<double>(*u);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// The selector words and the event types they name.
std::optional<EventType> SelectorType(const std::string& word) {
  if (word == "exits") return VmmEventKind::RunExit;
  if (word == "runs") return VmmEventKind::RunEnter;
  if (word == "ioctls") return VmmEventKind::Ioctl;
  if (word == "accesses") return VmmEventKind::DeviceAccess;
  if (word == "status") return VmmEventKind::Status;
  if (auto t = traces::EventTypeFromName(word); t && t->origin == traces::Origin::Kernel) return t;
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(std::vector<std::string> tokens) : m_tokens(std::move(tokens)) {}
  std::string error;

  bool AtEnd() const { return m_pos >= m_tokens.size(); }
  const std::string& Peek() const { return m_tokens[m_pos]; }
  std::string Next() { return m_tokens[m_pos++]; }
  bool Fail(std::string message) {
    if (error.empty()) error = std::move(message);
    return false;
  }
  std::string Where() const {
    return AtEnd() ? "at the end" : fmt::format("at '{}' (word {})", Peek(), m_pos + 1);
  }

  bool ParseFilter(const std::string& token, Filter& f) {
    static constexpr std::pair<std::string_view, Filter::Op> kOps[] = {
        {"!=", Filter::Op::Ne}, {"=", Filter::Op::Eq}, {">", Filter::Op::Gt}, {"<", Filter::Op::Lt}};
    for (auto [text, op] : kOps) {
      const size_t at = token.find(text);
      if (at == std::string::npos || at == 0) continue;
      f.field = token.substr(0, at);
      f.op = op;
      f.value = token.substr(at + text.size());
      if (f.value.empty()) return Fail(fmt::format("filter '{}' has no value", token));
      return true;
    }
    return false;
  }

  static bool LooksLikeFilter(const std::string& t) {
    return !IsComparison(t) && t.size() > 1 && t[0] != '.' &&
           t.find_first_of("=<>") != std::string::npos;
  }

  bool ParseFilters(std::vector<Filter>& filters) {
    while (!AtEnd() && LooksLikeFilter(Peek())) {
      Filter f;
      if (!ParseFilter(Next(), f)) return false;
      filters.push_back(std::move(f));
    }
    return true;
  }

  bool ParseSelector(Selector& s) {
    if (AtEnd()) return Fail("expected which events (exits, runs, ioctls, accesses, a kernel event such as kvm_pio) at the end");
    s.word = Next();
    auto type = SelectorType(s.word);
    if (!type) {
      return Fail(fmt::format("'{}' is not an event: use exits, runs, ioctls, accesses, status, or a kernel event name (kvm_pio, kvm_inj_exception, kvm_mmu_set_spte, ...)", s.word));
    }
    s.type = *type;
    return ParseFilters(s.filters);
  }

  bool ParseField(Term& t) {
    if (AtEnd() || Peek().size() < 2 || Peek()[0] != '.') {
      return Fail(fmt::format("expected a field such as .port or .reason {}", Where()));
    }
    t.field = Next().substr(1);
    return true;
  }

  bool ParseTerm(Term& t) {
    if (AtEnd()) return Fail("expected a value at the end");
    const std::string word = Next();
    if (auto n = ParseNumber(word)) {
      t.kind = Term::Kind::Number;
      t.number = *n;
      return true;
    }
    if (word == "count") {
      t.kind = Term::Kind::Count;
      return ParseSelector(t.selector);
    }
    if (word == "first" || word == "last" || word == "nth") {
      t.kind = Term::Kind::Field;
      t.word = word;
      if (word == "nth") {
        auto n = AtEnd() ? std::nullopt : ParseUnsigned(Peek());
        if (!n || *n == 0) return Fail(fmt::format("nth needs a number from 1 {}", Where()));
        Next();
        t.nth = static_cast<int64_t>(*n);
      }
      return ParseSelector(t.selector) && ParseField(t);
    }
    if (word == "distinct" || word == "values") {
      t.kind = word == "distinct" ? Term::Kind::Distinct : Term::Kind::Values;
      return ParseSelector(t.selector) && ParseField(t);
    }
    static const std::set<std::string> kStats = {"p50", "p90", "p99", "mean", "min", "max", "total"};
    if (kStats.contains(word)) {
      t.kind = Term::Kind::Latency;
      t.word = word;
      static const std::set<std::string> kSpans = {"run", "vmm", "kernel-run", "guest",
                                                   "kernel-handling"};
      if (AtEnd() || !kSpans.contains(Peek())) {
        return Fail(fmt::format("{} needs a span: run, vmm, kernel-run, guest or kernel-handling {}", word, Where()));
      }
      t.span = Next();
      return ParseFilters(t.selector.filters);
    }
    if (word == "kvm-stat") {
      t.kind = Term::Kind::KvmStat;
      if (AtEnd()) return Fail("kvm-stat needs a counter name such as exits or halt_exits");
      t.word = Next();
      std::vector<Filter> filters;
      if (!ParseFilters(filters)) return false;
      for (const Filter& f : filters) {
        auto n = ParseUnsigned(f.value);
        if (f.field != "vcpu" || f.op != Filter::Op::Eq || !n) {
          return Fail("kvm-stat takes only vcpu=N");
        }
        t.vcpu = static_cast<int>(*n);
      }
      return true;
    }
    if (word == "function") {
      t.kind = Term::Kind::Function;
      return ParseSelector(t.selector);
    }
    if (word == "callee" || word == "caller" || word == "in-stack") {
      t.kind = word == "in-stack" ? Term::Kind::InStack : Term::Kind::Neighbour;
      t.word = word;
      if (AtEnd()) return Fail(fmt::format("{} needs a kernel function name", word));
      t.field = Next();
      return ParseSelector(t.selector);
    }
    if (word == "seed") {
      t.kind = Term::Kind::SeedVerdicts;
      static const std::set<std::string> kVerdicts = {"confirmed", "contradicted", "not-here",
                                                      "older", "unverified"};
      if (AtEnd() || !kVerdicts.contains(Peek())) {
        return Fail("seed needs a verdict: confirmed, contradicted, not-here, older or unverified");
      }
      t.word = Next();
      return true;
    }
    if (word == "verdict") {
      t.kind = Term::Kind::ClaimVerdict;
      if (AtEnd()) return Fail("verdict needs a seed claim id (kvmscope check-seed lists them)");
      t.word = Next();
      if (knowledge::FindSeedClaim(t.word) == nullptr) {
        return Fail(fmt::format("'{}' is not a seed claim id", t.word));
      }
      return true;
    }
    if (word == "paging" || word == "backend" || word == "vendor-handler") {
      t.kind = Term::Kind::Host;
      t.word = word;
      return true;
    }
    m_pos--;
    return Fail(fmt::format("expected count, first, last, nth, distinct, values, p50/p90/p99/mean/min/max/total, kvm-stat, function, callee, caller, in-stack, seed, verdict, paging, backend, vendor-handler or a number {}", Where()));
  }

  bool ParseSum(std::vector<Term>& terms, std::vector<char>& ops) {
    Term t;
    if (!ParseTerm(t)) return false;
    terms.push_back(std::move(t));
    while (!AtEnd() && IsArithmetic(Peek())) {
      ops.push_back(Next()[0]);
      Term next;
      if (!ParseTerm(next)) return false;
      terms.push_back(std::move(next));
    }
    return true;
  }

  bool ParseQuery(Query& q) {
    if (!ParseSum(q.terms, q.ops)) return false;
    if (!AtEnd() && IsComparison(Peek())) {
      q.compare = Next();
      if (!ParseSum(q.rhs_terms, q.rhs_ops)) return false;
    }
    if (!AtEnd()) return Fail(fmt::format("unexpected '{}' (word {})", Peek(), m_pos + 1));
    return true;
  }

 private:
  std::vector<std::string> m_tokens;
  size_t m_pos = 0;
};

// --- evaluation ---

// How a filter value matches a decoded field: numbers by value, words by
// the decoded text (case-insensitive; the text's first word counts, and
// KVM_EXIT_ prefixes are optional: reason=IO, reason=KVM_EXIT_IO).
bool TextMatches(std::string_view field_text, const std::string& want) {
  std::string text = Lower(field_text);
  std::string w = Lower(want);
  for (std::string* s : {&text, &w}) {
    if (s->starts_with("kvm_exit_")) s->erase(0, 9);
  }
  if (text == w) return true;
  if (text.starts_with(w) && text.size() > w.size()) {
    const char next = text[w.size()];
    return next == ' ' || next == '(' || next == ',';
  }
  return false;
}

bool FieldMatches(const traces::Field& f, const Filter& filter) {
  const auto n = ParseUnsigned(filter.value);
  switch (filter.op) {
    case Filter::Op::Eq: return n ? f.value == *n : TextMatches(f.text, filter.value);
    case Filter::Op::Ne: return n ? f.value != *n : !TextMatches(f.text, filter.value);
    case Filter::Op::Gt: return n && f.value > *n;
    case Filter::Op::Lt: return n && f.value < *n;
  }
  return false;
}

int VcpuOf(const TraceData& trace, traces::EventRef ref) {
  const traces::Event& e = trace.At(ref);
  return e.vcpu >= 0 ? e.vcpu : trace.tracks[ref.track].vcpu;
}

bool EventMatches(const TraceData& trace, traces::EventRef ref, const std::vector<Filter>& filters) {
  if (filters.empty()) return true;
  std::vector<traces::Field> fields;
  bool decoded = false;
  for (const Filter& filter : filters) {
    if (filter.field == "vcpu") {
      traces::Field f{"vcpu", static_cast<uint64_t>(static_cast<int64_t>(VcpuOf(trace, ref))), ""};
      f.text = fmt::format("{}", static_cast<int64_t>(f.value));
      if (!FieldMatches(f, filter)) return false;
      continue;
    }
    if (!decoded) {
      fields = traces::EventFieldsAt(trace, ref);
      decoded = true;
    }
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const traces::Field& f) { return f.name == filter.field; });
    if (it == fields.end() || !FieldMatches(*it, filter)) return false;
  }
  return true;
}

// "reason=IO port=0x3f8", as written.
std::string FiltersText(const std::vector<Filter>& filters) {
  std::string out;
  for (const Filter& f : filters) {
    static constexpr std::string_view kOps[] = {"=", "!=", ">", "<"};
    out += fmt::format("{}{}{}{}", out.empty() ? "" : " ", f.field, kOps[static_cast<int>(f.op)], f.value);
  }
  return out;
}

std::string Describe(const Selector& s) {
  return s.filters.empty() ? s.word : s.word + " " + FiltersText(s.filters);
}

using Result = std::variant<Value, std::string>;  // a value or an error

Value NumberValue(double n, bool duration = false) {
  Value v;
  v.number = n;
  v.duration = duration;
  return v;
}
Value TextValue(std::string text) {
  Value v;
  v.kind = Value::Kind::Text;
  v.text = std::move(text);
  return v;
}
Value SetValue(std::set<std::string> members) {
  Value v;
  v.kind = Value::Kind::Set;
  v.set.assign(members.begin(), members.end());
  return v;
}

Result FieldOf(const TraceData& trace, traces::EventRef ref, const std::string& field,
               const Selector& s) {
  if (field == "vcpu") return NumberValue(VcpuOf(trace, ref));
  if (field == "time") return NumberValue(static_cast<double>(trace.At(ref).time_ns - trace.BeginNs()), true);
  for (const traces::Field& f : traces::EventFieldsAt(trace, ref)) {
    if (f.name != field) continue;
    Value v = NumberValue(static_cast<double>(f.value));
    v.text = f.text;
    return v;
  }
  std::string names;
  for (const traces::Field& f : traces::EventFieldsAt(trace, ref)) {
    names += fmt::format("{}{}", names.empty() ? "" : ", ", f.name);
  }
  return fmt::format("{} events have no field '{}' (they have: {}, vcpu, time)", Describe(s), field, names);
}

std::vector<std::vector<std::string>> StacksOf(const TraceData& trace, const Selector& s) {
  std::vector<std::vector<std::string>> out;
  std::set<int32_t> seen;
  for (traces::EventRef ref : Select(s, trace)) {
    const traces::Event& e = trace.At(ref);
    if (e.stack_id < 0 || !seen.insert(e.stack_id).second) continue;
    if (const traces::Stack* stack = trace.StackOf(e)) {
      std::vector<std::string> frames = traces::ChainFrames(*stack, trace.symbols);
      for (std::string& f : frames) f = std::string(traces::BaseName(f));
      out.push_back(std::move(frames));
    }
  }
  return out;
}

std::optional<traces::SpanKind> SpanOf(const std::string& word) {
  if (word == "run") return traces::SpanKind::Run;
  if (word == "vmm") return traces::SpanKind::VmmHandling;
  if (word == "kernel-run") return traces::SpanKind::KernelRun;
  if (word == "guest") return traces::SpanKind::Guest;
  if (word == "kernel-handling") return traces::SpanKind::KernelHandling;
  return std::nullopt;
}

Result LatencyOf(const TraceData& trace, const Term& t) {
  const traces::SpanKind kind = *SpanOf(t.span);
  std::vector<int64_t> durations;
  for (size_t i = 0; i < trace.tracks.size(); ++i) {
    for (const traces::Span& span : trace.tracks[i].spans[static_cast<size_t>(kind)]) {
      if (span.begin == traces::kNoEvent || span.end == traces::kNoEvent) continue;
      // The event that says what the span was about: the exit a KVM_RUN ended
      // with, the exit the VMM's handling began at.
      // The kernel's KVM_RUN ends before the VMM sees its exit: the filters
      // read the VMM's exit of the same KVM_RUN, the next one on the thread.
      uint32_t key = kind == traces::SpanKind::VmmHandling ? span.begin : span.end;
      const auto& events = trace.tracks[i].events;
      if (kind == traces::SpanKind::KernelRun && !t.selector.filters.empty()) {
        while (key < events.size() && events.type(key) != VmmEventKind::RunExit) ++key;
        if (key == events.size()) continue;
      }
      if (!EventMatches(trace, {static_cast<uint32_t>(i), key}, t.selector.filters)) continue;
      durations.push_back(span.duration_ns());
    }
  }
  if (durations.empty()) {
    return fmt::format("no complete {} spans{} in this trace", t.span,
                       t.selector.filters.empty() ? "" : " with " + FiltersText(t.selector.filters));
  }
  std::sort(durations.begin(), durations.end());
  double value = 0;
  if (t.word == "min") value = static_cast<double>(durations.front());
  else if (t.word == "max") value = static_cast<double>(durations.back());
  else if (t.word == "total" || t.word == "mean") {
    double total = 0;
    for (int64_t d : durations) total += static_cast<double>(d);
    value = t.word == "total" ? total : total / static_cast<double>(durations.size());
  } else {
    value = static_cast<double>(traces::NearestRankPercentile(durations, std::stoi(t.word.substr(1))));
  }
  return NumberValue(value, true);
}

std::string VerdictWord(traces::Verdict v) {
  switch (v) {
    case traces::Verdict::Confirmed: return "confirmed";
    case traces::Verdict::Contradicted: return "contradicted";
    case traces::Verdict::NotOnThisKernel: return "not-here";
    case traces::Verdict::OlderKernelsOnly: return "older";
    case traces::Verdict::Unverified: return "unverified";
  }
  return "";
}

Result EvaluateTerm(const Term& t, const TraceData& trace) {
  switch (t.kind) {
    case Term::Kind::Number: return NumberValue(t.number);
    case Term::Kind::Count: return NumberValue(static_cast<double>(Select(t.selector, trace).size()));
    case Term::Kind::Field: {
      const std::vector<traces::EventRef> refs = Select(t.selector, trace);
      const size_t index = t.word == "first" ? 0 : t.word == "last" ? refs.size() - 1 : static_cast<size_t>(t.nth - 1);
      if (refs.empty() || index >= refs.size()) {
        return fmt::format("the trace has {} {} events, so no {}{}", refs.size(), Describe(t.selector),
                           t.word, t.word == "nth" ? fmt::format(" {}", t.nth) : "");
      }
      return FieldOf(trace, refs[index], t.field, t.selector);
    }
    case Term::Kind::Distinct:
    case Term::Kind::Values: {
      std::set<std::string> values;
      for (traces::EventRef ref : Select(t.selector, trace)) {
        Result r = FieldOf(trace, ref, t.field, t.selector);
        if (auto* error = std::get_if<std::string>(&r)) return *error;
        const Value& v = std::get<Value>(r);
        values.insert(v.text.empty() ? v.Show() : v.text);
      }
      if (t.kind == Term::Kind::Distinct) return NumberValue(static_cast<double>(values.size()));
      return SetValue(std::move(values));
    }
    case Term::Kind::Latency: return LatencyOf(trace, t);
    case Term::Kind::KvmStat: {
      const auto& stats = *trace.kvm_stats;
      const auto v = t.vcpu ? stats.OfVcpu(*t.vcpu, t.word) : stats.Total(t.word);
      if (!v) return fmt::format("KVM has no counter '{}' on this kernel", t.word);
      return NumberValue(static_cast<double>(*v));
    }
    case Term::Kind::Function:
    case Term::Kind::Neighbour: {
      std::set<std::string> names;
      for (const auto& frames : StacksOf(trace, t.selector)) {
        if (t.kind == Term::Kind::Function) {
          if (!frames.empty()) names.insert(frames.back());
          continue;
        }
        for (size_t i = 0; i < frames.size(); ++i) {
          if (frames[i] != t.field) continue;
          if (t.word == "callee" && i + 1 < frames.size()) names.insert(frames[i + 1]);
          if (t.word == "caller" && i > 0) names.insert(frames[i - 1]);
        }
      }
      if (names.empty()) {
        return fmt::format("no captured stack of {} events{}", Describe(t.selector),
                           t.kind == Term::Kind::Neighbour ? " passes through " + t.field : "");
      }
      return SetValue(std::move(names));
    }
    case Term::Kind::InStack: {
      Value v;
      v.kind = Value::Kind::YesNo;
      for (const auto& frames : StacksOf(trace, t.selector)) {
        v.yes = v.yes || std::find(frames.begin(), frames.end(), t.field) != frames.end();
      }
      return v;
    }
    case Term::Kind::SeedVerdicts:
    case Term::Kind::ClaimVerdict: {
      std::set<std::string> ids;
      for (const traces::ClaimResult& r : traces::CheckSeed(traces::FactsOf(trace))) {
        if (t.kind == Term::Kind::ClaimVerdict && r.claim->id == t.word) return TextValue(VerdictWord(r.verdict));
        if (t.kind == Term::Kind::SeedVerdicts && VerdictWord(r.verdict) == t.word) ids.insert(std::string(r.claim->id));
      }
      if (t.kind == Term::Kind::ClaimVerdict) return fmt::format("no verdict for claim '{}'", t.word);
      if (ids.empty()) return fmt::format("no seed claim is {} on this kernel", t.word);
      return SetValue(std::move(ids));
    }
    case Term::Kind::Host: {
      const traces::HostFacts& host = trace.host;
      if (t.word == "vendor-handler") {
        if (host.vendor_handler.empty()) return std::string("the trace does not name the vendor exit handler");
        return TextValue(host.vendor_handler);
      }
      if (t.word == "backend") {
        const std::string first = host.backend.substr(0, host.backend.find(' '));
        if (first.empty()) return std::string("the trace does not name the KVM backend");
        return TextValue(first);
      }
      // The module parameter the trace recorded, else what its stacks show
      // (traces from before the parameters were recorded).
      std::optional<bool> tdp = host.TwoDimensionalPaging();
      if (!tdp) {
        const traces::Paging p = traces::FactsOf(trace).paging();
        if (p != traces::Paging::Any) tdp = p == traces::Paging::Tdp;
      }
      if (!tdp) return std::string("the trace does not say which paging KVM used");
      if (!*tdp) return SetValue({"shadow"});
      return SetValue({"tdp", host.backend.starts_with("VMX") ? "ept" : "npt"});
    }
  }
  return std::string("unknown term");
}

Result EvaluateSum(const std::vector<Term>& terms, const std::vector<char>& ops,
                   const TraceData& trace) {
  Result first = EvaluateTerm(terms[0], trace);
  if (ops.empty() || std::holds_alternative<std::string>(first)) return first;
  Value acc = std::get<Value>(first);
  for (size_t i = 0; i < ops.size(); ++i) {
    Result next = EvaluateTerm(terms[i + 1], trace);
    if (auto* error = std::get_if<std::string>(&next)) return *error;
    const Value& v = std::get<Value>(next);
    if (acc.kind != Value::Kind::Number || v.kind != Value::Kind::Number) {
      return std::string("only numbers can be added, subtracted, multiplied or divided");
    }
    // Units: a duration plus or minus a duration, times a number, or over a
    // number is a duration; a duration over a duration is a ratio; a number
    // over a duration is a rate per second.
    switch (ops[i]) {
      case '+': acc.number += v.number; break;
      case '-': acc.number -= v.number; break;
      case '*':
        acc.number *= v.number;
        acc.duration = acc.duration != v.duration;
        break;
      case '/':
        if (v.number == 0) return std::string("division by zero");
        acc.number /= v.number;
        if (v.duration) {
          if (!acc.duration) acc.number *= 1e9;  // per ns → per second
          acc.duration = false;
        }
        break;
    }
    if (ops[i] == '+' || ops[i] == '-') acc.duration = acc.duration || v.duration;
    acc.text.clear();
  }
  return acc;
}

std::string Trim(double n) {
  std::string s = fmt::format("{:.3f}", n);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

bool Term::NeedsTracing() const {
  switch (kind) {
    case Kind::Count:
    case Kind::Field:
    case Kind::Distinct:
    case Kind::Values: return selector.kernel();
    case Kind::Latency: return span == "kernel-run" || span == "guest" || span == "kernel-handling";
    case Kind::Function:
    case Kind::Neighbour:
    case Kind::InStack:
    case Kind::SeedVerdicts:
    case Kind::ClaimVerdict: return true;
    case Kind::Host: return word == "vendor-handler";
    case Kind::Number:
    case Kind::KvmStat: return false;
  }
  return false;
}

bool Query::NeedsTracing() const {
  auto any = [](const std::vector<Term>& ts) {
    return std::any_of(ts.begin(), ts.end(), [](const Term& t) { return t.NeedsTracing(); });
  };
  return any(terms) || any(rhs_terms);
}

bool Query::NeedsKvmStats() const {
  auto any = [](const std::vector<Term>& ts) {
    return std::any_of(ts.begin(), ts.end(), [](const Term& t) { return t.NeedsKvmStats(); });
  };
  return any(terms) || any(rhs_terms);
}

std::variant<Query, std::string> ParseQuery(const std::string& text) {
  Query q;
  q.source = text;
  Parser p(Tokens(text));
  if (p.AtEnd()) return std::string("the query is empty");
  if (!p.ParseQuery(q)) return p.error;
  return q;
}

std::variant<Selector, std::string> ParseSelector(const std::string& text) {
  Selector s;
  Parser p(Tokens(text));
  if (!p.ParseSelector(s)) return p.error;
  if (!p.AtEnd()) return fmt::format("unexpected '{}' after the filters", p.Peek());
  return s;
}

std::string Value::Show() const {
  switch (kind) {
    case Kind::Number: {
      if (!text.empty()) return text.substr(0, text.find(' '));  // a field: "0x3f8", "KVM_EXIT_IO"
      if (!duration) return Trim(number);
      const double a = std::fabs(number);
      if (a >= 1e9) return Trim(number / 1e9) + " s";
      if (a >= 1e6) return Trim(number / 1e6) + " ms";
      if (a >= 1e3) return Trim(number / 1e3) + " us";
      return Trim(number) + " ns";
    }
    case Kind::Text: return text;
    case Kind::Set: return set.empty() ? "" : set.front();
    case Kind::YesNo: return yes ? "yes" : "no";
  }
  return "";
}

std::vector<traces::EventRef> Select(const Selector& selector, const TraceData& trace) {
  std::vector<traces::EventRef> refs = trace.OfType(selector.type);
  std::erase_if(refs, [&](traces::EventRef ref) { return !EventMatches(trace, ref, selector.filters); });
  std::stable_sort(refs.begin(), refs.end(), [&](traces::EventRef a, traces::EventRef b) {
    return trace.At(a).time_ns < trace.At(b).time_ns;
  });
  return refs;
}

Outcome Evaluate(const Query& query, const TraceData& trace) {
  Outcome out;
  if (query.NeedsTracing() && !trace.host.plan) {
    out.skipped = "needs kernel tracing, and this trace was recorded without it" +
                  (trace.host.not_traced_reason.empty() ? "" : ": " + trace.host.not_traced_reason);
    return out;
  }
  if (query.NeedsKvmStats() && !trace.kvm_stats) {
    out.skipped = "needs KVM's own counters (KVM_GET_STATS_FD), and this trace has none" +
                  (trace.kvm_stats_note.empty() ? "" : ": " + trace.kvm_stats_note);
    return out;
  }
  Result lhs = EvaluateSum(query.terms, query.ops, trace);
  if (auto* error = std::get_if<std::string>(&lhs)) {
    out.error = *error;
    return out;
  }
  if (query.compare.empty()) {
    out.value = std::get<Value>(lhs);
    return out;
  }
  Result rhs = EvaluateSum(query.rhs_terms, query.rhs_ops, trace);
  if (auto* error = std::get_if<std::string>(&rhs)) {
    out.error = *error;
    return out;
  }
  const Value& a = std::get<Value>(lhs);
  const Value& b = std::get<Value>(rhs);
  Value v;
  v.kind = Value::Kind::YesNo;
  if (a.kind == Value::Kind::Number && b.kind == Value::Kind::Number) {
    const std::string& c = query.compare;
    v.yes = c == ">" ? a.number > b.number : c == "<" ? a.number < b.number
          : c == ">=" ? a.number >= b.number : c == "<=" ? a.number <= b.number
          : c == "==" ? a.number == b.number : a.number != b.number;
  } else if (query.compare == "==" || query.compare == "!=") {
    v.yes = (a.Show() == b.Show()) == (query.compare == "==");
  } else {
    out.error = "only numbers can be compared with < or >";
    return out;
  }
  out.value = v;
  return out;
}

}  // namespace kvmscope::lab

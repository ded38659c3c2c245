// The native trace file (docs/trace-format.md), reading its small parts:
// the checked conversions every reader uses (numbers in range, strings or
// base64, required fields with their place in errors) and the host, guest,
// plan, kernel-count and register objects. The SAX reader of the whole file,
// events and tracks is in trace_json_read.cpp.
#include <fmt/format.h>

#include "traces/trace_json.h"
#include "traces/trace_json_internal.h"

namespace kvmscope::traces::json_detail {

void Fail(const std::string& where, std::string_view what) {
  throw TraceFormatError(where.empty() ? std::string(what) : fmt::format("{}: {}", where, what));
}

std::string Expected(std::string_view what, const Json& got) {
  return fmt::format("expected {}, got {}", what, got.type_name());
}

std::string Join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}
std::string At(const std::string& where, size_t index) {
  return fmt::format("{}[{}]", where, index);
}

uint64_t ReadUnsigned(const Json& j, const std::string& where, uint64_t max) {
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > max) Fail(where, fmt::format("{} is out of range (0..{})", v, max));
    return v;
  }
  if (j.is_number_integer()) {
    Fail(where, fmt::format("{} is negative (expected 0..{})", j.get<int64_t>(), max));
  }
  if (j.is_number_float()) {
    Fail(where, fmt::format("expected an integer in 0..{}, got {}", max, j.dump()));
  }
  Fail(where, Expected("an unsigned integer", j));
}

int64_t ReadSigned(const Json& j, const std::string& where, int64_t min, int64_t max) {
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(max) || static_cast<int64_t>(v) < min) {
      Fail(where, fmt::format("{} is out of range ({}..{})", v, min, max));
    }
    return static_cast<int64_t>(v);
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < min || v > max) Fail(where, fmt::format("{} is out of range ({}..{})", v, min, max));
    return v;
  }
  if (j.is_number_float()) {
    Fail(where, fmt::format("expected an integer in {}..{}, got {}", min, max, j.dump()));
  }
  Fail(where, Expected("an integer", j));
}

// A string, or {"base64":"..."} for text that is not valid UTF-8.
std::string ReadString(const Json& j, const std::string& where) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.size() == 1 && j.contains("base64")) {
    const Json& b = j["base64"];
    if (!b.is_string()) Fail(Join(where, "base64"), Expected("a string", b));
    std::optional<std::string> bytes = Base64Decode(b.get_ref<const std::string&>());
    if (!bytes) Fail(Join(where, "base64"), "not valid base64");
    return *bytes;
  }
  Fail(where, Expected("a string", j));
}

namespace {

std::vector<std::string> ReadStringList(const Json& j, const std::string& where) {
  if (!j.is_array()) Fail(where, Expected("an array of strings", j));
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) out.push_back(ReadString(j[i], At(where, i)));
  return out;
}

// The fields of one JSON object, each required, with the place in errors.
class Fields {
 public:
  Fields(const Json& j, std::string where) : m_json(j), m_where(std::move(where)) {
    if (!j.is_object()) Fail(m_where, Expected("an object", j));
  }
  const Json& Get(std::string_view key) const {
    auto it = m_json.find(std::string(key));
    if (it == m_json.end()) Fail(m_where, fmt::format("missing field \"{}\"", key));
    return *it;
  }
  bool Has(std::string_view key) const { return m_json.contains(std::string(key)); }
  std::string Where(std::string_view key) const { return Join(m_where, key); }
  std::string String(std::string_view key) const { return ReadString(Get(key), Where(key)); }
  uint64_t Unsigned(std::string_view key, uint64_t max = kMaxU64) const {
    return ReadUnsigned(Get(key), Where(key), max);
  }
  int64_t Signed(std::string_view key, int64_t min, int64_t max) const {
    return ReadSigned(Get(key), Where(key), min, max);
  }
  bool Bool(std::string_view key) const {
    const Json& j = Get(key);
    if (!j.is_boolean()) Fail(Where(key), Expected("true or false", j));
    return j.get<bool>();
  }
  std::vector<std::string> Strings(std::string_view key) const {
    return ReadStringList(Get(key), Where(key));
  }

 private:
  const Json& m_json;
  std::string m_where;
};

PlanRecord ReadPlan(const Json& j, const std::string& where) {
  Fields f(j, where);
  PlanRecord plan;
  plan.summary = f.String("summary");
  // Files from before --attach have no "requested": their plan was chosen automatically.
  if (f.Has("requested")) plan.requested = f.String("requested");
  const Json& entries = f.Get("entries");
  if (!entries.is_array()) Fail(f.Where("entries"), Expected("an array", entries));
  for (size_t i = 0; i < entries.size(); ++i) {
    Fields e(entries[i], At(f.Where("entries"), i));
    plan.entries.push_back(PlanRecord::Entry{e.String("point"), e.String("target"),
                                             e.String("mechanism"), e.String("how"),
                                             e.Strings("passed")});
  }
  plan.tracepoints = f.Strings("tracepoints");
  plan.missing = f.Strings("missing");
  return plan;
}

}  // namespace

HostFacts ReadHost(const Json& j) {
  Fields f(j, "host");
  HostFacts host;
  host.kernel_release = f.String("kernel_release");
  host.backend = f.String("backend");
  host.cpu = f.String("cpu");
  host.vendor_handler = f.String("vendor_handler");
  if (const Json& plan = f.Get("plan"); !plan.is_null())
    host.plan = ReadPlan(plan, f.Where("plan"));
  host.not_traced_reason = f.String("not_traced_reason");
  host.stack_mode = f.String("stack_mode");
  host.system_wide = f.Bool("system_wide");
  host.kernel_symbols = f.Unsigned("kernel_symbols");
  // Added in version 1 without a version bump: optional, so that traces
  // written before them still load (and say nothing of the platform).
  if (f.Has("platform")) host.platform = f.String("platform");
  if (f.Has("platform_evidence")) host.platform_evidence = f.String("platform_evidence");
  if (f.Has("module_params")) {
    const Json& params = f.Get("module_params");
    if (!params.is_object()) Fail(f.Where("module_params"), Expected("an object", params));
    for (const auto& [key, value] : params.items()) {
      host.module_params[key] = ReadString(value, Join(f.Where("module_params"), key));
    }
  }
  return host;
}

GuestFacts ReadGuest(const Json& j) {
  Fields f(j, "guest");
  GuestFacts guest;
  guest.name = f.String("name");
  guest.mode = f.String("mode");
  guest.load_addr = f.Unsigned("load_addr");
  guest.vcpus = static_cast<int>(f.Signed("vcpus", 0, kMaxI32));
  guest.sha256 = f.String("sha256");
  const Json& image = f.Get("image");
  if (!image.is_string()) Fail(f.Where("image"), Expected("a base64 string", image));
  std::optional<std::string> bytes = Base64Decode(image.get_ref<const std::string&>());
  if (!bytes) Fail(f.Where("image"), "not valid base64");
  guest.image.assign(bytes->begin(), bytes->end());
  guest.verdict = f.String("verdict");
  guest.detail = f.String("detail");
  // Added in version 1 without a version bump, like "source" and "lines":
  // absent or null when no parameter was handed over.
  if (f.Has("param") && !f.Get("param").is_null()) guest.param = f.Unsigned("param");
  // Added in version 1 without a version bump: optional, so that traces
  // written before them still load.
  if (f.Has("source")) guest.source = f.String("source");
  if (f.Has("lines")) {
    const Json& lines = f.Get("lines");
    std::string where = f.Where("lines");
    if (!lines.is_array()) Fail(where, Expected("an array", lines));
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string at = At(where, i);
      if (!lines[i].is_array() || lines[i].size() != 2) Fail(at, "expected [address, line]");
      uint64_t addr = ReadUnsigned(lines[i][0], At(at, 0));
      auto line = static_cast<uint32_t>(ReadUnsigned(lines[i][1], At(at, 1), kMaxU32));
      if (!guest.lines.empty() && addr < guest.lines.back().first) {
        Fail(at, "addresses must be in ascending order");
      }
      guest.lines.emplace_back(addr, line);
    }
  }
  return guest;
}

namespace {
// {"name": value, ...}: one set of counters.
std::map<std::string, uint64_t> ReadCounters(const Json& j, const std::string& where) {
  if (!j.is_object()) Fail(where, Expected("an object of counters", j));
  std::map<std::string, uint64_t> out;
  for (const auto& [name, value] : j.items()) {
    if (name.empty()) Fail(where, "a counter with an empty name");
    out[name] = ReadUnsigned(value, Join(where, name));
  }
  return out;
}
}  // namespace

std::optional<KvmStatsRecord> ReadKvmStats(const Json& j) {
  if (j.is_null()) return std::nullopt;
  Fields f(j, "kvm_stats");
  KvmStatsRecord stats;
  stats.vm = ReadCounters(f.Get("vm"), f.Where("vm"));
  const Json& vcpus = f.Get("vcpus");
  if (!vcpus.is_array()) Fail(f.Where("vcpus"), Expected("an array (one object per vCPU)", vcpus));
  for (size_t i = 0; i < vcpus.size(); ++i) {
    stats.vcpus.push_back(ReadCounters(vcpus[i], At(f.Where("vcpus"), i)));
  }
  if (f.Has("source")) stats.source = f.String("source");
  return stats;
}

std::optional<ExternalVmm> ReadExternalVmm(const Json& j) {
  if (j.is_null()) return std::nullopt;
  Fields f(j, "vmm");
  const std::string kind = f.String("kind");
  if (kind != "external") {
    Fail(f.Where("kind"), fmt::format("unknown VMM kind \"{}\" (expected \"external\")", kind));
  }
  ExternalVmm vmm;
  vmm.pid = static_cast<uint32_t>(f.Unsigned("pid", kMaxU32));
  vmm.command = f.String("command");
  vmm.not_visible = f.String("not_visible");
  vmm.ended = f.String("ended");
  const Json& vcpus = f.Get("vcpus");
  if (!vcpus.is_array()) Fail(f.Where("vcpus"), Expected("an array (one object per vCPU)", vcpus));
  for (size_t i = 0; i < vcpus.size(); ++i) {
    Fields v(vcpus[i], At(f.Where("vcpus"), i));
    const auto index = static_cast<int>(v.Signed("index", 0, kMaxI32));
    // fd null: the vCPU's fd was not known (kprobe/fentry hosts need none).
    if (!v.Get("fd").is_null()) {
      const auto fd = static_cast<int>(v.Signed("fd", 0, kMaxI32));
      if (!vmm.vcpu_of_fd.emplace(fd, index).second) {
        Fail(v.Where("fd"), fmt::format("fd {} is also another vCPU's", fd));
      }
    }
  }
  // Every thread named, vCPU or not (the vcpus' tid and name repeat these).
  const Json& threads = f.Get("threads");
  if (!threads.is_array()) Fail(f.Where("threads"), Expected("an array of [tid, name]", threads));
  for (size_t i = 0; i < threads.size(); ++i) {
    const std::string where = At(f.Where("threads"), i);
    if (!threads[i].is_array() || threads[i].size() != 2) {
      Fail(where, Expected("[tid, name]", threads[i]));
    }
    const auto tid = static_cast<uint32_t>(ReadUnsigned(threads[i][0], At(where, 0), kMaxU32));
    vmm.thread_names[tid] = ReadString(threads[i][1], At(where, 1));
  }
  return vmm;
}

std::optional<KernelCounts> ReadKernelCounts(const Json& j) {
  if (j.is_null()) return std::nullopt;
  Fields f(j, "kernel_counts");
  KernelCounts counts;
  counts.stacks_taken = f.Unsigned("stacks_taken");
  counts.stacks_failed = f.Unsigned("stacks_failed");
  const Json& kinds = f.Get("kinds");
  if (!kinds.is_object()) Fail(f.Where("kinds"), Expected("an object", kinds));
  // Kinds absent from the file (an older kvmscope knew fewer) count zero.
  for (const auto& [name, value] : kinds.items()) {
    std::string where = Join(f.Where("kinds"), name);
    std::optional<KernelEventKind> kind = KernelEventKindFromName(name);
    if (!kind || *kind == KernelEventKind::Count) {
      Fail(where, fmt::format("unknown kernel event kind \"{}\"", name));
    }
    Fields per_kind(value, where);
    size_t k = static_cast<size_t>(*kind);
    counts.seen[k] = per_kind.Unsigned("seen");
    counts.lost[k] = per_kind.Unsigned("lost");
    counts.received[k] = per_kind.Unsigned("received");
    // Files before stream masks streamed every kind they counted.
    if (per_kind.Has("streamed")) counts.not_streamed[k] = !per_kind.Bool("streamed");
    // Files before stream budgets had none; until 2026-12-03 a budget was
    // per CPU ("stream_budget"), since then for all CPUs together.
    if (per_kind.Has("stream_budget_total")) {
      counts.stream_budget[k] = per_kind.Unsigned("stream_budget_total");
    } else if (per_kind.Has("stream_budget")) {
      counts.stream_budget[k] = per_kind.Unsigned("stream_budget");
      counts.stream_budget_per_cpu = true;
    }
    // Since 2026-12-03: who counted `seen` when the programs were detached
    // with the budget (absent: the programs, for the whole recording).
    if (per_kind.Has("seen_by")) {
      const std::string by = per_kind.String("seen_by");
      std::optional<SeenBy> seen_by = SeenByFromName(by);
      if (!seen_by) {
        Fail(Join(where, "seen_by"),
             fmt::format("unknown \"{}\" (tracing, until_budget or kvm_statistics)", by));
      }
      counts.seen_by[k] = *seen_by;
    }
  }
  return counts;
}

GuestRegs ReadRegs(const Json& j, const std::string& where) {
  Fields f(j, where);
  GuestRegs regs;
  regs.vcpu = static_cast<int32_t>(f.Signed("vcpu", -1, kMaxI32));
  regs.run_index = f.Unsigned("run_index");
  for (size_t r = 0; r < kGuestRegs; ++r) regs.values[r] = f.Unsigned(GuestRegNames()[r]);
  return regs;
}

std::optional<TrackKind> TrackKindFromName(std::string_view name) {
  for (TrackKind kind : kTrackKinds) {
    if (TrackKindName(kind) == name) return kind;
  }
  return std::nullopt;
}


}  // namespace kvmscope::traces::json_detail

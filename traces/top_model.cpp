// `kvmscope top`'s model: snapshots → interval rates and percentiles → rows
// per VM and vCPU, sorted and filtered. The text forms are in top_format.cpp.
#include "traces/top_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <regex>

#include "traces/kernel_event.h"

namespace kvmscope::traces {

std::string_view TopLatencyName(TopLatency latency) {
  switch (latency) {
    case TopLatency::Run: return "KVM_RUN";
    case TopLatency::Vmm: return "VMM";
    case TopLatency::Kernel: return "KVM";
  }
  return "?";
}

size_t TopBucketOf(uint64_t ns) {
  if (ns < 4) return ns;
  unsigned l = 63 - static_cast<unsigned>(__builtin_clzll(ns));
  return 4 * (l - 1) + ((ns >> (l - 2)) & 3);
}

uint64_t TopBucketLow(size_t bucket) {
  if (bucket < 4) return bucket;
  unsigned l = static_cast<unsigned>(bucket / 4 + 1), s = static_cast<unsigned>(bucket % 4);
  if (l > 63) return std::numeric_limits<uint64_t>::max();
  return uint64_t{4 + s} << (l - 2);
}

uint64_t TopBucketHigh(size_t bucket) {
  if (bucket < 4) return bucket + 1;
  unsigned l = static_cast<unsigned>(bucket / 4 + 1), s = static_cast<unsigned>(bucket % 4);
  // (5 + s) << (l - 2) needs l + 1 bits: past 2^64 from l = 63 on.
  if (l >= 63) return std::numeric_limits<uint64_t>::max();
  return uint64_t{5 + s} << (l - 2);
}

TopLatencyStats TopPercentiles(const TopHistogram& hist) {
  TopLatencyStats s;
  for (uint32_t n : hist) s.samples += n;
  if (!s.samples) return s;
  // Nearest rank: the smallest bucket whose cumulative count reaches
  // ceil(p/100 * N), as traces/stats.h does for exact samples.
  auto at = [&](uint64_t percent) {
    uint64_t rank = (percent * s.samples + 99) / 100, seen = 0;
    for (size_t b = 0; b < hist.size(); ++b) {
      seen += hist[b];
      if (seen >= rank) return TopBucketHigh(b);
    }
    return TopBucketHigh(hist.size() - 1);
  };
  s.p50_ns = at(50);
  s.p99_ns = at(99);
  return s;
}

namespace {

std::string UserReasonName(size_t reason) {
  if (reason == kTopUserReasons - 1) return fmt::format("KVM_EXIT_{}+", reason);
  std::string_view name = KvmExitReasonName(static_cast<uint32_t>(reason));
  return name.empty() ? fmt::format("KVM_EXIT_{}", reason) : fmt::format("KVM_EXIT_{}", name);
}

std::string HwReasonName(uint32_t isa, uint32_t reason) {
  if (isa == 1) {
    std::string_view name = VmxExitReasonName(reason & 0xffff);
    return name.empty() ? fmt::format("VMX {}", reason & 0xffff) : fmt::format("VMX {}", name);
  }
  if (isa == 2) {
    std::string_view name = SvmExitCodeName(reason);
    return name.empty() ? fmt::format("SVM {:#x}", reason) : fmt::format("SVM {}", name);
  }
  return fmt::format("kvm_exit {}", reason);
}

const TopThreadSample& Zero() {
  static const TopThreadSample zero;
  return zero;
}

// Counters only grow; a smaller value means the record was recreated (the
// thread's tid reused): count from zero then.
uint64_t Delta(uint64_t cur, uint64_t prev) {
  return cur >= prev ? cur - prev : cur;
}

// Time spent in KVM_RUN up to `mono_ns`, the open call included.
double InRunSeconds(const TopThreadSample& t, int64_t mono_ns) {
  uint64_t open = t.run_open_since_ns && static_cast<uint64_t>(mono_ns) > t.run_open_since_ns
                      ? static_cast<uint64_t>(mono_ns) - t.run_open_since_ns
                      : 0;
  return static_cast<double>(t.run_ns + open) / 1e9;
}

TopThreadRates DiffThread(const TopThreadSample& prev, int64_t prev_mono,
                          const TopThreadSample& cur, int64_t cur_mono) {
  const double dt = static_cast<double>(cur_mono - prev_mono) / 1e9;
  TopThreadRates r;
  r.tid = cur.tid;
  r.tgid = cur.tgid;
  r.fd = cur.fd;
  r.runs = Delta(cur.runs, prev.runs);
  r.runs_per_s = dt > 0 ? r.runs / dt : 0;
  double run_s = InRunSeconds(cur, cur_mono) - InRunSeconds(prev, prev_mono);
  r.run_share = dt > 0 ? std::clamp(run_s / dt, 0.0, 1.0) : 0;
  r.hw_exits = Delta(cur.hw_exits, prev.hw_exits);
  r.hw_per_s = dt > 0 ? r.hw_exits / dt : 0;
  auto add = [&](TopReasonKind kind, std::string name, uint64_t count) {
    if (!count) return;
    r.reasons.push_back({kind, std::move(name), count, dt > 0 ? count / dt : 0});
  };
  for (size_t i = 0; i < kTopUserReasons; ++i) {
    add(TopReasonKind::Userspace, UserReasonName(i),
        Delta(cur.user_reasons[i], prev.user_reasons[i]));
  }
  // KVM_RUN returned an error (a signal's -EINTR, mostly): no KVM_EXIT_* reason.
  add(TopReasonKind::Userspace, "error (EINTR, ...)", Delta(cur.user_errors, prev.user_errors));
  for (const TopHwExit& e : cur.hw_reasons) {
    uint64_t before = 0;
    for (const TopHwExit& p : prev.hw_reasons) {
      if (p.isa == e.isa && p.reason == e.reason) before = p.count;
    }
    add(TopReasonKind::Hardware, HwReasonName(e.isa, e.reason), Delta(e.count, before));
  }
  add(TopReasonKind::Event, "kvm_pio", Delta(cur.pio, prev.pio));
  add(TopReasonKind::Event, "kvm_mmio", Delta(cur.mmio, prev.mmio));
  add(TopReasonKind::Event, "kvm_inj_exception", Delta(cur.inj_exception, prev.inj_exception));
  add(TopReasonKind::Event, "kvm_emulate_insn", Delta(cur.emulated, prev.emulated));
  std::stable_sort(r.reasons.begin(), r.reasons.end(),
                   [](const TopReason& a, const TopReason& b) { return a.count > b.count; });
  for (size_t h = 0; h < kTopLatencies; ++h) {
    for (size_t b = 0; b < kTopBuckets; ++b) {
      r.hists[h][b] = cur.hists[h][b] - prev.hists[h][b];  // modulo 2^32, as the kernel's u32
    }
    r.latency[h] = TopPercentiles(r.hists[h]);
  }
  return r;
}

bool Active(const TopThreadRates& r) {
  if (r.runs || r.hw_exits || r.run_share > 0 || !r.reasons.empty()) return true;
  for (const TopLatencyStats& l : r.latency) {
    if (l.samples) return true;
  }
  return false;
}

}  // namespace

TopInterval DiffTop(const TopSnapshot& prev, const TopSnapshot& cur) {
  TopInterval out;
  out.end_mono_ns = cur.mono_ns;
  out.seconds = static_cast<double>(cur.mono_ns - prev.mono_ns) / 1e9;
  for (const TopThreadSample& t : cur.threads) {
    auto it = std::lower_bound(prev.threads.begin(), prev.threads.end(), t.tid,
                               [](const TopThreadSample& s, uint32_t tid) { return s.tid < tid; });
    bool known = it != prev.threads.end() && it->tid == t.tid && it->tgid == t.tgid;
    TopThreadRates r = DiffThread(known ? *it : Zero(), prev.mono_ns, t, cur.mono_ns);
    if (Active(r)) out.threads.push_back(std::move(r));
  }
  return out;
}

std::string_view TopSortName(TopSort sort) {
  switch (sort) {
    case TopSort::Exits: return "exits/s";
    case TopSort::RunShare: return "in KVM_RUN";
    case TopSort::RunP99: return "KVM_RUN p99";
    case TopSort::VmmP99: return "VMM p99";
    case TopSort::Pid: return "pid";
  }
  return "?";
}

TopSort NextTopSort(TopSort sort) {
  return static_cast<TopSort>((static_cast<size_t>(sort) + 1) % kTopSorts);
}

std::string CheckReasonFilter(const std::string& filter) {
  try {
    std::regex re(filter, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error& e) {
    return fmt::format("not a regular expression: {}", e.what());
  }
  return "";
}

namespace {

// The row of a thread, or the sum of threads (a VM), with the reasons that
// pass the filter.
TopRow MakeRow(const std::vector<const TopThreadRates*>& threads, const std::regex* filter,
               double seconds) {
  TopRow row;
  std::map<std::pair<TopReasonKind, std::string>, uint64_t> reasons;
  std::array<TopHistogram, kTopLatencies> hists{};
  uint64_t runs = 0, hw = 0;
  double share = 0;
  for (const TopThreadRates* t : threads) {
    runs += t->runs;
    hw += t->hw_exits;
    share += t->run_share;
    for (const TopReason& r : t->reasons) {
      if (!filter || std::regex_search(r.name, *filter)) reasons[{r.kind, r.name}] += r.count;
    }
    for (size_t h = 0; h < kTopLatencies; ++h) {
      for (size_t b = 0; b < kTopBuckets; ++b) hists[h][b] += t->hists[h][b];
    }
  }
  row.threads = threads.size();
  row.runs_per_s = seconds > 0 ? runs / seconds : 0;
  row.hw_per_s = seconds > 0 ? hw / seconds : 0;
  row.exits_per_s = std::max(row.runs_per_s, row.hw_per_s);
  row.run_share = threads.empty() ? 0 : share / static_cast<double>(threads.size());
  for (auto& [key, count] : reasons) {
    row.reasons.push_back({key.first, key.second, count, seconds > 0 ? count / seconds : 0});
  }
  std::stable_sort(row.reasons.begin(), row.reasons.end(),
                   [](const TopReason& a, const TopReason& b) { return a.count > b.count; });
  for (size_t h = 0; h < kTopLatencies; ++h) row.latency[h] = TopPercentiles(hists[h]);
  return row;
}

// The value a row sorts by, descending (Pid sorts by pid alone: 0 here).
double SortKey(const TopRow& r, TopSort sort) {
  switch (sort) {
    case TopSort::Exits: return r.exits_per_s;
    case TopSort::RunShare: return r.run_share;
    case TopSort::RunP99: return static_cast<double>(r.latency[0].p99_ns);
    case TopSort::VmmP99: return static_cast<double>(r.latency[1].p99_ns);
    case TopSort::Pid: return 0;
  }
  return 0;
}

// VMs: by the key descending, then by pid.
bool VmBefore(const TopRow& a, const TopRow& b, TopSort sort) {
  double ka = SortKey(a, sort), kb = SortKey(b, sort);
  return ka != kb ? ka > kb : a.pid < b.pid;
}

// vCPUs of one VM: by the key descending, then by vCPU index (unknown
// last), then by tid.
bool VcpuBefore(const TopRow& a, const TopRow& b, TopSort sort) {
  double ka = SortKey(a, sort), kb = SortKey(b, sort);
  if (ka != kb) return ka > kb;
  unsigned va = static_cast<unsigned>(a.vcpu), vb = static_cast<unsigned>(b.vcpu);  // -1 → largest
  return va != vb ? va < vb : a.tid < b.tid;
}

}  // namespace

std::vector<TopVmRows> BuildTopRows(const TopInterval& interval, const TopNames& names,
                                    const TopView& view) {
  std::optional<std::regex> filter;
  if (!view.reason_filter.empty() && CheckReasonFilter(view.reason_filter).empty()) {
    filter.emplace(view.reason_filter, std::regex::ECMAScript | std::regex::icase);
  }
  const std::regex* f = filter ? &*filter : nullptr;
  std::map<uint32_t, std::vector<const TopThreadRates*>> by_pid;
  for (const TopThreadRates& t : interval.threads) {
    if (view.vm && t.tgid != view.vm) continue;
    by_pid[t.tgid].push_back(&t);
  }
  auto lookup = [](const auto& map, uint32_t key, auto fallback) {
    auto it = map.find(key);
    return it == map.end() ? fallback : it->second;
  };
  std::vector<TopVmRows> out;
  for (const auto& [pid, threads] : by_pid) {
    TopVmRows vm;
    vm.vm = MakeRow(threads, f, interval.seconds);
    vm.vm.pid = pid;
    vm.vm.name = lookup(names.process, pid, std::string("?"));
    if (f && vm.vm.reasons.empty()) continue;
    if (view.per_vcpu) {
      for (const TopThreadRates* t : threads) {
        TopRow row = MakeRow({t}, f, interval.seconds);
        if (f && row.reasons.empty()) continue;
        row.pid = pid;
        row.tid = t->tid;
        row.vcpu = lookup(names.vcpu, t->tid, -1);
        row.name = lookup(names.thread, t->tid, std::string("?"));
        vm.vcpus.push_back(std::move(row));
      }
      std::stable_sort(vm.vcpus.begin(), vm.vcpus.end(), [&](const TopRow& a, const TopRow& b) {
        return VcpuBefore(a, b, view.sort);
      });
    }
    out.push_back(std::move(vm));
  }
  std::stable_sort(out.begin(), out.end(), [&](const TopVmRows& a, const TopVmRows& b) {
    return VmBefore(a.vm, b.vm, view.sort);
  });
  return out;
}

}  // namespace kvmscope::traces

// `kvmscope stats --json`: the same numbers as the text, one object per
// scope, nulls where there are no samples.
#include <nlohmann/json.hpp>

#include "traces/kvm_counters.h"
#include "traces/stats.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::ordered_json;

Json LatencyJson(const LatencyStats& l) {
  Json j;
  j["samples"] = l.samples;
  j["incomplete"] = l.incomplete;
  j["total_ns"] = l.total_ns;
  // No samples: no mean or percentile, rather than a misleading 0.
  j["mean_ns"] = l.samples ? Json(l.mean_ns) : Json(nullptr);
  j["p50_ns"] = l.samples ? Json(l.p50_ns) : Json(nullptr);
  j["p99_ns"] = l.samples ? Json(l.p99_ns) : Json(nullptr);
  return j;
}

Json ScopeJson(const ScopeStats& s) {
  Json j;
  j["label"] = s.label;
  j["vcpu"] = s.vcpu == kAllVcpus ? Json(nullptr) : Json(s.vcpu);
  j["events"] = s.events;
  j["begin_ns"] = s.begin_ns;
  j["end_ns"] = s.end_ns;
  j["waited_ns"] = s.waited_ns;

  Json user;
  user["total"] = s.userspace.total;
  user["incomplete_runs"] = s.userspace.incomplete_runs;
  user["kernel_source"] = KernelSideSourceName(s.userspace.kernel_source);
  user["from_kernel"] = s.userspace.from_kernel;
  user["rows"] = Json::array();
  for (const UserspaceExitRow& r : s.userspace.rows) {
    Json row;
    row["reason"] = r.reason;
    row["name"] = r.name;
    row["count"] = r.count;
    row["share_pct"] = r.share_pct;
    Json kernel = LatencyJson(r.kernel);
    kernel["source"] = KernelSideSourceName(r.kernel_source);
    kernel["from_kernel_run"] = r.kernel_from_kernel_run;
    kernel["from_run"] = r.kernel_from_run;
    row["kernel"] = std::move(kernel);
    row["vmm"] = LatencyJson(r.vmm);
    user["rows"].push_back(std::move(row));
  }
  j["userspace_exits"] = std::move(user);

  Json hw;
  hw["total"] = s.hardware.total;
  hw["fired"] = s.hardware.fired;
  hw["note"] = s.hardware.note;
  hw["rows"] = Json::array();
  for (const HardwareExitRow& r : s.hardware.rows) {
    Json row;
    row["isa"] = ExitIsaName(r.isa);
    row["reason"] = r.reason;
    row["name"] = r.name;
    row["count"] = r.count;
    row["share_pct"] = r.share_pct;
    row["kernel"] = LatencyJson(r.kernel);
    hw["rows"].push_back(std::move(row));
  }
  j["hardware_exits"] = std::move(hw);

  j["event_types"] = Json::array();
  for (const EventKindRow& r : s.kinds) {
    Json row;
    row["type"] = r.name;
    row["origin"] = r.type.origin == Origin::Kernel ? "kernel" : "vmm";
    row["count"] = r.count;
    row["share_pct"] = r.share_pct;
    row["span"] = r.span ? Json(SpanKindName(*r.span)) : Json(nullptr);
    row["duration"] = r.span ? LatencyJson(r.duration) : Json(nullptr);
    j["event_types"].push_back(std::move(row));
  }
  j["page_faults"] = Json::array();
  for (const PageFaultGroup& g : s.page_faults) {
    j["page_faults"].push_back({{"producer", FaultCodeName(g.code)}, {"access", g.access},
                                {"present", g.present}, {"count", g.count}});
  }
  return j;
}

Json LossJson(const LossStats& loss) {
  Json j;
  j["traced"] = loss.kernel_traced;
  j["note"] = loss.note;
  j["seen"] = loss.seen;
  j["received"] = loss.received;
  j["lost"] = loss.lost;
  j["stacks_taken"] = loss.stacks_taken;
  j["stacks_failed"] = loss.stacks_failed;
  j["kinds"] = Json::array();
  for (const LossRow& r : loss.rows) {
    Json row{{"kind", r.name}, {"seen", r.seen}, {"received", r.received}, {"lost", r.lost}};
    if (r.counted_only) row["counted_only"] = r.streamed_how;
    j["kinds"].push_back(std::move(row));
  }
  return j;
}

}  // namespace

std::string StatsJson(const Stats& stats) {
  Json j;
  j["format"] = "kvmscope-stats";
  j["version"] = 1;
  j["percentile_method"] = "nearest-rank";
  j["units"] = "ns";
  j["scopes"] = Json::array();
  for (const ScopeStats& scope : stats.scopes) j["scopes"].push_back(ScopeJson(scope));
  j["kernel"] = LossJson(stats.loss);
  j["kvm_counters"] = Json::parse(KvmCountersJson(stats.kvm));
  j["emulated_cpu_note"] = stats.emulated_note;
  j["external_vmm_note"] = stats.external_note;
  return j.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace kvmscope::traces

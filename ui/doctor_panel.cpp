// The doctor panel: the host facts and attach plan recorded with the trace,
// drawn as a report a student can read aloud — every mechanism chosen, every
// better one passed over with the kernel's reason — and the toolbar badges.
#include "ui/doctor_panel.h"

#include <fmt/format.h>
#include <imgui.h>

#include <optional>
#include <string_view>

#include "ui/stats_panel.h"
#include "ui/theme.h"

namespace kvmscope::ui {

namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string_view StackModeMeaning(std::string_view mode) {
  if (mode == "new") return "a kernel stack for each call path not seen before, plus a sample";
  if (mode == "all") return "a kernel stack on every event";
  if (mode == "none") return "no kernel stacks";
  return "";
}

// Measured mechanisms count every call; "stacks" only infers from captured
// stacks; "none" means the point is not seen at all.
Status MechanismStatus(std::string_view mechanism) {
  if (mechanism == "none" || mechanism.empty()) return Status::Absent;
  if (mechanism == "stacks") return Status::Present;
  return Status::Observed;
}

void TextStatus(Status status, std::string_view text) {
  ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(status));
  ImGui::TextUnformatted(text.data(), text.data() + text.size());
  ImGui::PopStyleColor();
}

void TextWrappedStatus(Status status, const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, StatusColor(status));
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

// One "what: value" row of the host table.
void FactRow(const char* what, const std::string& value, std::optional<Status> status = {}) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextDisabled("%s", what);
  ImGui::TableNextColumn();
  if (status) {
    TextWrappedStatus(*status, value);
  } else {
    ImGui::TextWrapped("%s", value.c_str());
  }
}

// A list of one-line rows, clipped to what is visible.
void ClippedList(const std::vector<std::string>& items, Status status) {
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(items.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      ImGui::Bullet();
      TextStatus(status, items[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace

std::string PlanBadge(const traces::HostFacts& host) {
  if (!host.plan) return "kernel: not traced";
  if (!host.plan->summary.empty()) return host.plan->summary;
  // An older or hand-made trace without a summary: build it from the entries.
  std::string badge;
  for (const traces::PlanRecord::Entry& e : host.plan->entries) {
    if (!badge.empty()) badge += " \xc2\xb7 ";  // U+00B7, in ImGui's default glyph range
    badge += e.point + ": " + e.mechanism;
  }
  return badge.empty() ? "kernel: traced" : badge;
}

bool AnyLost(const traces::TraceData& trace) {
  return trace.kernel_counts && trace.kernel_counts->total_lost() > 0;
}

std::string LostBadge(const traces::TraceData& trace) {
  if (!trace.kernel_counts) return "";
  const uint64_t lost = trace.kernel_counts->total_lost();
  return FormatCount(lost) + (lost > 0 ? " LOST" : " lost");
}

std::string CountedOnlyBadge(const traces::TraceData& trace) {
  if (!trace.kernel_counts) return "";
  std::string badge;
  for (size_t i = 0; i < traces::kKernelEventKinds; ++i) {
    const auto kind = static_cast<traces::KernelEventKind>(i);
    if (!trace.kernel_counts->CountedOnly(kind)) continue;
    if (!badge.empty()) badge += "; ";
    badge += fmt::format("{} counted, {}", traces::KernelEventName(kind),
                         trace.kernel_counts->StreamedHow(kind));
  }
  return badge;
}

std::string NotTracedAdvice(const traces::HostFacts& host) {
  const std::string_view why = host.not_traced_reason;
  std::string advice;
  if (Contains(why, "--no-probes")) {
    advice =
        "This run was started with --no-probes: run it again without that option (as "
        "root) to record the kernel side.";
  } else if (Contains(why, "root") || Contains(why, "CAP_") || Contains(why, "EPERM") ||
             Contains(why, "EACCES") || Contains(why, "not permitted")) {
    advice = "Run kvmscope as root (or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE).";
  } else {
    advice = "Run kvmscope as root to trace the kernel side.";
  }
  advice +=
      " `kvmscope doctor` shows what this host allows: KVM, BPF, kprobes, fentry and "
      "each tracepoint, with what to do when one is missing.";
  return advice;
}

void DoctorPanel::Draw(const traces::TraceData& trace) {
  ImGui::PushID("doctor");
  DrawHost(trace);
  ImGui::Spacing();
  if (trace.host.plan) {
    DrawPlan(*trace.host.plan);
  } else {
    DrawNotTraced(trace.host);
  }
  ImGui::PopID();
}

void DoctorPanel::DrawHost(const traces::TraceData& trace) {
  const traces::HostFacts& host = trace.host;
  if (!ImGui::CollapsingHeader("Host", ImGuiTreeNodeFlags_DefaultOpen)) return;
  if (!ImGui::BeginTable("host", 2, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
    return;
  }
  ImGui::TableSetupColumn("what", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch);
  auto or_unknown = [](const std::string& s) { return s.empty() ? std::string("(unknown)") : s; };
  FactRow("kernel", or_unknown(host.kernel_release));
  FactRow("KVM backend", or_unknown(host.backend));
  FactRow("CPU", or_unknown(host.cpu));
  if (host.platform.empty()) {
    FactRow("platform", "(not recorded: a trace from before kvmscope recorded it)");
  } else if (host.Emulated()) {
    FactRow("platform",
            host.platform + ": times are the emulator's, so latencies mean nothing; counts, "
                            "stacks and decoding do",
            Status::Warning);
  } else {
    FactRow("platform", host.platform);
  }
  if (!host.platform_evidence.empty()) FactRow("  because", host.platform_evidence);
  if (!host.module_params.empty()) FactRow("KVM parameters", host.ModuleParamsText());
  if (const std::string paging = host.PagingText(); !paging.empty()) FactRow("paging", paging);
  FactRow("exit handler", host.vendor_handler.empty()
                              ? std::string("(no vmx/svm/pvm_handle_exit found)")
                              : host.vendor_handler);
  FactRow("kernel side", PlanBadge(host), host.plan ? Status::Observed : Status::Warning);
  if (host.plan) {
    const std::string_view meaning = StackModeMeaning(host.stack_mode);
    FactRow("stacks", meaning.empty() ? or_unknown(host.stack_mode)
                                      : fmt::format("{}: {}", host.stack_mode, meaning));
    FactRow("processes", host.system_wide ? "system-wide: every process's KVM events"
                                          : "the VMM's process only");
    if (host.kernel_symbols > 0) {
      FactRow("symbols", FormatCount(host.kernel_symbols) + " in /proc/kallsyms");
    }
  }
  if (trace.kernel_counts) {
    const traces::KernelCounts& k = *trace.kernel_counts;
    const std::string counted = CountedOnlyBadge(trace);
    FactRow("kernel events",
            fmt::format("{} seen, {} received, {}{}", FormatCount(k.total_seen()),
                        FormatCount(k.total_received()), LostBadge(trace),
                        counted.empty() ? "" : "; " + counted),
            AnyLost(trace) ? std::optional(Status::Warning) : std::nullopt);
  }
  const traces::GuestFacts& guest = trace.guest;
  if (!guest.name.empty()) {
    std::string text = fmt::format("{} ({} mode, {} vCPU{})", guest.name, guest.mode, guest.vcpus,
                                   guest.vcpus == 1 ? "" : "s");
    if (!guest.verdict.empty()) text += ": " + guest.verdict;
    if (!guest.detail.empty()) text += " (" + guest.detail + ")";
    FactRow("guest", text);
  }
  ImGui::EndTable();
}

void DoctorPanel::DrawPlan(const traces::PlanRecord& plan) {
  if (ImGui::CollapsingHeader("Attach plan", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::TextWrapped(
        "What kvmscope attached to see each point of the exit cycle, and the "
        "better mechanisms it tried first.");
    const ImGuiTableFlags flags =
        ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit;
    if (!plan.entries.empty() && ImGui::BeginTable("plan", 3, flags)) {
      ImGui::TableSetupColumn("probe point", ImGuiTableColumnFlags_WidthFixed);
      ImGui::TableSetupColumn("mechanism", ImGuiTableColumnFlags_WidthFixed);
      ImGui::TableSetupColumn("how, and what was passed over", ImGuiTableColumnFlags_WidthStretch);
      ImGui::TableHeadersRow();
      // A handful of rows of wrapped (variable-height) text: no clipper.
      for (const traces::PlanRecord::Entry& e : plan.entries) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(e.point.c_str());
        if (!e.target.empty()) ImGui::TextDisabled("%s", e.target.c_str());
        ImGui::TableNextColumn();
        TextStatus(MechanismStatus(e.mechanism), e.mechanism);
        ImGui::TableNextColumn();
        ImGui::TextWrapped("%s", e.how.c_str());
        for (const std::string& passed : e.passed) {
          ImGui::Bullet();
          ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
          ImGui::TextWrapped("passed over: %s", passed.c_str());
          ImGui::PopStyleColor();
        }
      }
      ImGui::EndTable();
    }
  }
  if (ImGui::CollapsingHeader("Tracepoints", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::Text("%zu attached", plan.tracepoints.size());
    ImGui::Indent();
    ClippedList(plan.tracepoints, Status::Observed);
    ImGui::Unindent();
    if (plan.missing.empty()) {
      ImGui::TextUnformatted("none missing");
    } else {
      ImGui::Text("%zu not attached:", plan.missing.size());
      ImGui::Indent();
      ClippedList(plan.missing, Status::Absent);
      ImGui::Unindent();
    }
  }
}

void DoctorPanel::DrawNotTraced(const traces::HostFacts& host) {
  const std::string why =
      host.not_traced_reason.empty() ? std::string("no reason recorded") : host.not_traced_reason;
  TextWrappedStatus(Status::Warning, "kernel side not traced: " + why);
  ImGui::Spacing();
  ImGui::TextUnformatted("What to do:");
  ImGui::Indent();
  ImGui::TextWrapped("%s", NotTracedAdvice(host).c_str());
  ImGui::Unindent();
  ImGui::Spacing();
  ImGui::TextWrapped(
      "This trace shows the VMM's side only: every KVM_RUN and the exits it "
      "returned with, but not what KVM did inside the kernel.");
}

}  // namespace kvmscope::ui

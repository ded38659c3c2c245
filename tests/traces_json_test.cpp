// Tests of trace files: the native JSON format round-trips every field and
// refuses malformed input with errors that name the place; the Chrome export
// is valid and well nested; atomic writes never leave a half-written file.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "traces/atomic_file.h"
#include "traces/chrome_export.h"
#include "traces/fault_context.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;

// --- a synthetic trace with every field filled ----------------------------

constexpr uint32_t kPid = 4000, kTid0 = 4001, kTid1 = 4002, kMainTid = 4000, kOtherTid = 77;
constexpr uint64_t kKvmBase = 0xffffffffc0a00000, kCoreBase = 0xffffffff81000000;

Event Make(EventType type, int64_t t, uint32_t tid, int32_t vcpu, std::array<uint64_t, 6> a = {},
           int32_t stack = -1, uint32_t text = 0) {
  Event e;
  e.type = type;
  e.time_ns = t;
  e.pid = kPid;
  e.tid = tid;
  e.vcpu = vcpu;
  e.a = a;
  e.stack_id = stack;
  e.text = text;
  e.cpu = type.origin == Origin::Kernel ? static_cast<uint16_t>(tid % 8) : kNoCpu;
  return e;
}

// One KVM_RUN of a vCPU with its kernel side, ending in a port write.
void AddRun(Track& track, int64_t t, uint64_t run, int32_t stack) {
  uint32_t tid = track.tid;
  int32_t v = track.vcpu;
  auto& ev = track.events;
  ev.push_back(Make(VmmEventKind::RunEnter, t, tid, v, {run}));
  ev.push_back(Make(KernelEventKind::RunEnter, t + 2000, tid, v, {7}));
  ev.push_back(Make(KernelEventKind::KvmEntry, t + 3000, tid, v, {0, 0x1000}));
  ev.push_back(Make(KernelEventKind::KvmExit, t + 9000, tid, v, {30, 0x1005, 1, 0x3f8, 0, 0}));
  ev.push_back(Make(KernelEventKind::ExitHandler, t + 9100, tid, v, {0}, stack));
  ev.push_back(Make(KernelEventKind::Pio, t + 9500, tid, v, {1, 0x3f8, 1, 1, 'H'}, stack));
  ev.push_back(Make(KernelEventKind::UserspaceExit, t + 9800, tid, v, {kKvmExitIo, 0}));
  ev.push_back(Make(KernelEventKind::RunExit, t + 9900, tid, v, {0}));
  uint64_t io = 0x3f8 | 1u << 16 | 1u << 24;
  ev.push_back(Make(VmmEventKind::RunExit, t + 11000, tid, v, {kKvmExitIo, 0, run, io, 1, 'H'}));
  ev.push_back(Make(VmmEventKind::DeviceAccess, t + 11500, tid, v, {0, 0x3f8, 1, 1, 'H'}, -1, 2));
}

TraceData FullTrace() {
  TraceData trace;
  trace.host.kernel_release = "6.6.0-pvm \"test\"";
  trace.host.backend = "PVM";
  trace.host.cpu = "Intel(R) Xeon(R) — ünïcode";
  trace.host.vendor_handler = "pvm_handle_exit";
  PlanRecord plan;
  plan.entries.push_back({"run loop",
                          "kvm_arch_vcpu_ioctl_run",
                          "tracepoint",
                          "sys_enter_ioctl",
                          {"kprobe: kprobes are disabled", "fentry: no BTF"}});
  plan.entries.push_back({"exit handler", "pvm_handle_exit", "stacks", "from stacks", {}});
  plan.tracepoints = {"kvm:kvm_exit", "kvm:kvm_pio"};
  plan.missing = {"kvm:kvm_page_fault: not on this kernel"};
  plan.summary = "tracepoints, stacks: new";
  plan.requested = "tracepoint";
  trace.host.plan = plan;
  trace.host.not_traced_reason = "";
  trace.host.stack_mode = "new";
  trace.host.system_wide = true;
  trace.host.kernel_symbols = 190000;
  trace.host.module_params = {{"kvm.tdp_mmu", "Y"}, {"kvm_intel.ept", "N"}, {"odd \"key\"", "1"}};
  trace.host.platform = "emulator (Bochs)";
  trace.host.platform_evidence = "DMI bios_vendor: 'The Bochs Project'";

  trace.guest.name = "pio-loop";
  trace.guest.mode = "long";
  trace.guest.load_addr = 0x1000;
  trace.guest.vcpus = 2;
  trace.guest.sha256 = std::string(64, 'a');
  // 302 bytes: base64 with one '=' of padding (the strings below cover "==").
  for (int i = 0; i < 302; ++i) trace.guest.image.push_back(static_cast<uint8_t>(i * 7));
  trace.guest.verdict = "pass";
  trace.guest.detail = "status 0x600d";
  trace.guest.source = "_start:\n\tout %al, %dx\n\thlt\n";
  trace.guest.lines = {{0x1000, 2}, {0x1001, 3}};
  // Quotes, a backslash, control characters, non-ASCII, a NUL and a byte
  // that is not UTF-8: a guest's console can print anything.
  trace.console = std::string("Hello \"guest\"\\\n\ttab é ✓ \x01 nul:") + '\0' + "\xff end";

  KernelCounts counts;
  for (size_t k = 0; k < kKernelEventKinds; ++k) {
    counts.seen[k] = 100 + k;
    counts.lost[k] = k;
    counts.received[k] = 100;
  }
  counts.seen[0] = UINT64_MAX;
  counts.stacks_taken = 12;
  counts.stacks_failed = 1;
  trace.kernel_counts = counts;

  trace.strings = {"", "KVM_CREATE_VM", "serial", "pause \"now\"", "bad \xfe byte"};
  trace.symbols.Add(kCoreBase, "__x64_sys_ioctl");
  trace.symbols.Add(kKvmBase, "kvm_vcpu_ioctl", "kvm");
  trace.symbols.Add(kKvmBase + 0x1000, "kvm_arch_vcpu_ioctl_run", "kvm");
  trace.symbols.Add(kKvmBase + 0x2000, "pvm_handle_exit", "kvm_pvm");
  trace.symbols.Add(kKvmBase + 0x3000, "kernel_pio", "kvm", kKvmBase + 0x3400);  // bounded
  trace.symbols.Finish();
  trace.stacks = {{kKvmBase + 0x2010, kKvmBase + 0x1010, kKvmBase + 0x10, kCoreBase + 0x40},
                  {kKvmBase + 0x3004, kKvmBase + 0x2010, kKvmBase + 0x1010, kKvmBase + 0x10},
                  {}};

  GuestRegs regs;
  regs.vcpu = 1;
  regs.run_index = 3;
  for (size_t r = 0; r < kGuestRegs; ++r) regs.values[r] = r * 0x1111;
  regs.values[0] = UINT64_MAX;
  trace.regs = {regs, GuestRegs{}};

  Track main;
  main.pid = kPid;
  main.tid = kMainTid;
  main.kind = TrackKind::Vmm;
  main.events.push_back(Make(VmmEventKind::Ioctl, 1000, kMainTid, -1, {0}, -1, 1));
  main.events.push_back(
      Make(VmmEventKind::Ioctl, 1500, kMainTid, -1, {static_cast<uint64_t>(-22)}, -1, 1));
  main.events.push_back(Make(VmmEventKind::Control, 90000, kMainTid, -1, {}, -1, 3));
  main.events.push_back(Make(VmmEventKind::Watchdog, 95000, kMainTid, -1, {}, -1, 3));
  // The VMM's main thread acting for vCPU 1: a row with its own vCPU.
  main.events.push_back(Make(VmmEventKind::Control, 96000, kMainTid, 1, {}, -1, 4));

  Track v0;
  v0.pid = kPid;
  v0.tid = kTid0;
  v0.vcpu = 0;
  v0.kind = TrackKind::Vcpu;
  AddRun(v0, 10000, 0, 0);
  AddRun(v0, 30000, 1, 1);
  // The kernel's KVM_RUN starts before the VMM's (partial overlap of spans).
  v0.events.push_back(Make(KernelEventKind::RunEnter, 49000, kTid0, 0, {7}));
  v0.events.push_back(Make(VmmEventKind::RunEnter, 50000, kTid0, 0, {2}));
  v0.events.push_back(Make(KernelEventKind::KvmEntry, 50100, kTid0, 0, {0, 0x1000}));
  // Every other kernel kind, with extreme argument values.
  int64_t t = 50200;
  for (KernelEventKind k :
       {KernelEventKind::MmuPageFault, KernelEventKind::Mmio, KernelEventKind::EmulateInsn,
        KernelEventKind::InjException, KernelEventKind::InjVirq, KernelEventKind::Cpuid,
        KernelEventKind::Msr, KernelEventKind::Hypercall, KernelEventKind::PageFault,
        KernelEventKind::MmuWalk, KernelEventKind::MmuSetSpte, KernelEventKind::MmuWalkerError}) {
    v0.events.push_back(Make(k, t += 10, kTid0, 0, {UINT64_MAX, 14, 0x6, 1, 2, 3}, 1));
  }
  v0.events.push_back(Make(KernelEventKind::KvmExit, t += 10, kTid0, 0, {48, 0x1005, 1}));
  v0.events.push_back(
      Make(KernelEventKind::RunExit, t += 10, kTid0, 0, {static_cast<uint64_t>(-4)}));
  v0.events.push_back(Make(VmmEventKind::RunExit, t += 10, kTid0, 0, {kKvmExitIntr, 4, 2}));
  v0.events.push_back(Make(VmmEventKind::Status, t += 10, kTid0, 0, {0x600d}));
  v0.events.push_back(Make(VmmEventKind::VcpuDone, t += 10, kTid0, 0, {}, -1, 3));

  Track v1;
  v1.pid = kPid;
  v1.tid = kTid1;
  v1.vcpu = 1;
  v1.kind = TrackKind::Vcpu;
  AddRun(v1, 12000, 0, 0);

  // A thread of another process; a later event of a new process that got the
  // same thread id keeps its own pid.
  Track other;
  other.pid = 99;
  other.tid = kOtherTid;
  other.kind = TrackKind::System;
  other.events.push_back(Make(KernelEventKind::KvmExit, 5000, kOtherTid, -1, {1, 2, 2}));
  other.events.back().pid = 99;
  other.events.back().cpu = 65534;
  other.events.push_back(Make(KernelEventKind::KvmEntry, 6000, kOtherTid, -1, {1, 2}));
  other.events.back().pid = 123456;
  other.events.push_back(Make(KernelEventKind::KvmEntry, 6000, kOtherTid, -1, {1, 2}));
  other.events.back().pid = 99;
  other.events.back().time_ns = INT64_MAX;

  trace.tracks = {main, v0, v1, other};
  trace.BuildSpans();
  return trace;
}

std::string Written(const TraceData& trace) {
  std::ostringstream out;
  WriteTrace(trace, out);
  return out.str();
}

// --- round trip -----------------------------------------------------------

TEST(TraceJson, RoundTripKeepsEveryField) {
  TraceData original = FullTrace();
  std::string text = Written(original);
  TraceData loaded = ParseTrace(text);
  EXPECT_EQ(loaded.host, original.host);
  EXPECT_EQ(loaded.guest, original.guest);
  EXPECT_EQ(loaded.console, original.console);
  EXPECT_EQ(loaded.kernel_counts, original.kernel_counts);
  EXPECT_EQ(loaded.strings, original.strings);
  EXPECT_EQ(loaded.symbols, original.symbols);
  EXPECT_EQ(loaded.stacks, original.stacks);
  EXPECT_EQ(loaded.regs, original.regs);
  ASSERT_EQ(loaded.tracks.size(), original.tracks.size());
  for (size_t t = 0; t < loaded.tracks.size(); ++t) {
    EXPECT_EQ(loaded.tracks[t].events, original.tracks[t].events) << "track " << t;
    EXPECT_EQ(loaded.tracks[t].spans, original.tracks[t].spans) << "track " << t;
  }
  EXPECT_TRUE(loaded == original);
  // Spans were rebuilt on load, not stored.
  EXPECT_FALSE(loaded.tracks[1].spans[static_cast<size_t>(SpanKind::Run)].empty());
  EXPECT_EQ(Written(loaded), text);
}

TEST(TraceJson, SymbolEndsAndTheRequestedAttachAreKeptAndOptional) {
  TraceData original = FullTrace();
  nlohmann::json doc = nlohmann::json::parse(Written(original));
  EXPECT_EQ(doc["host"]["plan"]["requested"], "tracepoint");
  bool bounded_row = false;
  for (const auto& row : doc["symbols"]) bounded_row |= row.size() == 4;
  EXPECT_TRUE(bounded_row);
  TraceData loaded = ParseTrace(doc.dump());
  const Symbol* pio = loaded.symbols.Find(kKvmBase + 0x3010);
  ASSERT_NE(pio, nullptr);
  EXPECT_EQ(pio->end, kKvmBase + 0x3400);
  EXPECT_EQ(loaded.symbols.Find(kKvmBase + 0x3400), nullptr);  // past its end
  // Files from before: no "requested" (auto) and [address, name, module] rows (unbounded).
  EXPECT_EQ(doc["host"]["module_params"]["kvm_intel.ept"], "N");
  EXPECT_EQ(loaded.host.TwoDimensionalPaging(), false);  // PVM shadows, whatever else is recorded
  EXPECT_TRUE(loaded.host.Emulated());
  doc["host"]["plan"].erase("requested");
  for (const char* key : {"module_params", "platform", "platform_evidence"}) doc["host"].erase(key);
  for (auto& row : doc["symbols"]) {
    if (row.size() == 4) row.erase(3);
  }
  TraceData old = ParseTrace(doc.dump());
  EXPECT_EQ(old.host.plan->requested, "auto");
  EXPECT_TRUE(old.host.module_params.empty());
  EXPECT_EQ(old.host.platform, "");
  EXPECT_FALSE(old.host.Emulated());
  EXPECT_EQ(old.symbols.Find(kKvmBase + 0x3400)->name, "kernel_pio");
  // An end that is not past the address is refused.
  doc["symbols"][0].push_back(0);
  doc["symbols"][0][3] = doc["symbols"][0][0];
  EXPECT_THROW(ParseTrace(doc.dump()), TraceFormatError);
}

TEST(TraceJson, RoundTripOfAnEmptyTraceAndThroughStreamsAndFiles) {
  TraceData empty;
  EXPECT_TRUE(ParseTrace(Written(empty)) == empty);

  TraceData original = FullTrace();
  std::istringstream in(Written(original));
  EXPECT_TRUE(ParseTrace(in) == original);

  std::string path = ::testing::TempDir() + "kvmscope_json_roundtrip.json";
  SaveTrace(original, path);
  EXPECT_TRUE(LoadTrace(path) == original);
  // A loaded trace feeds the store as well.
  Trace store(LoadTrace(path));
  EXPECT_EQ(store.Read()->EventCount(), original.EventCount());
  std::filesystem::remove(path);
}

TEST(TraceJson, LargeTraceThroughAStream) {
  // More than one 64 KiB read block, so rows straddle block boundaries.
  TraceData trace;
  trace.strings = {"", "unused", "serial"};
  Track& track = trace.tracks.emplace_back();
  track.pid = kPid;
  track.tid = kTid0;
  track.vcpu = 0;
  track.kind = TrackKind::Vcpu;
  for (int run = 0; run < 3000; ++run) AddRun(track, 10000 + run * 20000, run, -1);
  trace.BuildSpans();
  std::string text = Written(trace);
  ASSERT_GT(text.size(), 3u << 16);
  std::istringstream in(text);
  EXPECT_TRUE(ParseTrace(in) == trace);
  for (size_t cut : {size_t{1} << 16, (size_t{1} << 16) + 1, (size_t{2} << 16) - 1}) {
    std::istringstream truncated(text.substr(0, cut));
    try {
      ParseTrace(truncated);
      ADD_FAILURE() << "no error at cut " << cut;
    } catch (const TraceFormatError& e) {
      EXPECT_NE(std::string(e.what()).find(fmt::format("at byte {}", cut)), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
}

TEST(TraceJson, NotUtf8TextIsStoredAsBase64AndPlainTextIsReadable) {
  TraceData trace;
  trace.console = "ok\n";
  trace.strings = {"", "caf\xc3\xa9", "\xc3"};  // "café" and a cut UTF-8 sequence
  std::string text = Written(trace);
  EXPECT_NE(text.find("\"console\":\"ok\\n\""), std::string::npos);
  EXPECT_NE(text.find("\"café\""), std::string::npos);
  EXPECT_NE(text.find("{\"base64\":\"ww==\"}"), std::string::npos);
  EXPECT_TRUE(ParseTrace(text) == trace);
}

TEST(TraceJson, FieldsMayComeInAnyOrderAndUnknownFieldsAreIgnored) {
  TraceData original = FullTrace();
  Json doc = Json::parse(Written(original));
  // nlohmann's object sorts keys: "tracks" before "strings", "pid" after "events".
  doc["a_field_from_a_newer_minor_version"] = {{"x", 1.5}, {"y", {1, 2, 3}}};
  doc["tracks"][0]["comment"] = "ignored";
  EXPECT_TRUE(ParseTrace(doc.dump()) == original);
}

// --- malformed input ------------------------------------------------------

// Parses `text` and expects a TraceFormatError whose message contains each of
// `parts`; returns the message.
std::string ErrorOf(const std::string& text) {
  try {
    ParseTrace(text);
  } catch (const TraceFormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text.substr(0, 200);
  return "";
}

#define EXPECT_ERROR(text, ...)                                     \
  do {                                                              \
    std::string message = ErrorOf(text);                            \
    for (std::string_view part : {__VA_ARGS__}) {                   \
      EXPECT_NE(message.find(part), std::string::npos)              \
          << "message: " << message << "\nexpected part: " << part; \
    }                                                               \
  } while (0)

class TraceJsonErrors : public ::testing::Test {
 protected:
  // The doc of FullTrace, to break one thing at a time.
  Json Doc() const { return Json::parse(m_text); }
  std::string m_text = Written(FullTrace());
};

TEST_F(TraceJsonErrors, TruncatedAnywhere) {
  for (size_t cut = 0; cut < m_text.size() - 1; cut += 37) {
    std::string message = ErrorOf(m_text.substr(0, cut));
    EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                message.find("empty") != std::string::npos)
        << "cut at " << cut << ": " << message;
  }
  std::string message = ErrorOf(m_text.substr(0, m_text.size() - 3));
  EXPECT_NE(message.find(fmt::format("at byte {}", m_text.size() - 3)), std::string::npos)
      << message;
  size_t row = m_text.find("\"events\":[") + 30;
  EXPECT_ERROR(m_text.substr(0, row), "truncated", "inside tracks[0].events[0]");
}

TEST_F(TraceJsonErrors, NotJsonOrNotATrace) {
  EXPECT_ERROR("", "empty");
  EXPECT_ERROR("hello", "not valid JSON at byte");
  EXPECT_ERROR("{\"format\":\"kvmscope-trace\",}", "not valid JSON at byte 27");
  EXPECT_ERROR(m_text + "x", "not valid JSON");
  EXPECT_ERROR("[1,2]", "not a kvmscope trace");
  EXPECT_ERROR("42", "not a kvmscope trace");
  EXPECT_ERROR(R"({"traceEvents":[],"displayTimeUnit":"ns"})", "no \"format\" field");
  Json doc = Doc();
  doc["format"] = "chrome";
  EXPECT_ERROR(doc.dump(), "format: \"chrome\" is not a kvmscope trace");
}

TEST_F(TraceJsonErrors, NewerVersionRefusedClearly) {
  Json doc = Doc();
  doc["format_version"] = 99;
  EXPECT_ERROR(doc.dump(), "format_version 99 is newer than this kvmscope reads (1); upgrade");
  doc["format_version"] = 0;
  EXPECT_ERROR(doc.dump(), "format_version: 0 is out of range");
  doc["format_version"] = "1";
  EXPECT_ERROR(doc.dump(), "format_version: expected an integer, got string");
}

TEST_F(TraceJsonErrors, WrongTypes) {
  Json doc = Doc();
  doc["host"]["kernel_release"] = 5;
  EXPECT_ERROR(doc.dump(), "host.kernel_release: expected a string, got number");
  doc = Doc();
  doc["host"]["module_params"]["kvm_amd.npt"] = true;
  EXPECT_ERROR(doc.dump(), "host.module_params.kvm_amd.npt: expected a string, got boolean");
  doc = Doc();
  doc["host"]["system_wide"] = "yes";
  EXPECT_ERROR(doc.dump(), "host.system_wide: expected true or false, got string");
  doc = Doc();
  doc["host"]["plan"]["entries"][1]["passed"] = {"x", 2};
  EXPECT_ERROR(doc.dump(), "host.plan.entries[1].passed[1]: expected a string, got number");
  doc = Doc();
  doc["guest"] = Json::array();
  EXPECT_ERROR(doc.dump(), "guest: expected an object, got array");
  doc = Doc();
  doc["guest"]["image"] = "not base64!";
  EXPECT_ERROR(doc.dump(), "guest.image: not valid base64");
  doc = Doc();
  doc["tracks"] = Json::object();
  EXPECT_ERROR(doc.dump(), "tracks: expected an array of tracks, got object");
  doc = Doc();
  doc["tracks"][2]["events"][1][1] = 5;
  EXPECT_ERROR(doc.dump(), "tracks[2].events[1][1]: expected an event type name, got number");
  doc = Doc();
  doc["tracks"][2]["events"][1][6] = "x";
  EXPECT_ERROR(doc.dump(), "tracks[2].events[1][6]: expected a1, got string");
  doc = Doc();
  doc["tracks"][2]["events"][1] = {{"time_ns", 1}};
  EXPECT_ERROR(doc.dump(), "tracks[2].events[1]: expected an event row");
  doc = Doc();
  doc["tracks"][0]["kind"] = "thread";
  EXPECT_ERROR(doc.dump(), "tracks[0].kind: unknown track kind \"thread\"");
  doc = Doc();
  doc["symbols"][1] = {1, 2, 3};
  EXPECT_ERROR(doc.dump(), "symbols[1][1]: expected a string, got number");
  doc = Doc();
  doc["stacks"][0][2] = nullptr;
  EXPECT_ERROR(doc.dump(), "stacks[0][2]: expected an unsigned integer, got null");
  doc = Doc();
  doc["kernel_counts"]["kinds"]["kvm_frobnicate"] = {{"seen", 1}, {"lost", 0}, {"received", 1}};
  EXPECT_ERROR(doc.dump(), "kernel_counts.kinds.kvm_frobnicate: unknown kernel event kind");
}

TEST_F(TraceJsonErrors, MissingFields) {
  Json doc = Doc();
  doc["host"].erase("cpu");
  EXPECT_ERROR(doc.dump(), "host: missing field \"cpu\"");
  doc = Doc();
  doc.erase("tracks");
  EXPECT_ERROR(doc.dump(), "missing top-level field \"tracks\"");
  doc = Doc();
  doc["tracks"][3].erase("tid");
  EXPECT_ERROR(doc.dump(), "tracks[3]: missing field \"tid\"");
  doc = Doc();
  doc["regs"][0].erase("efer");
  EXPECT_ERROR(doc.dump(), "regs[0]: missing field \"efer\"");
  doc = Doc();
  doc["kernel_counts"]["kinds"]["kvm_pio"].erase("lost");
  EXPECT_ERROR(doc.dump(), "kernel_counts.kinds.kvm_pio: missing field \"lost\"");
  doc = Doc();
  doc["tracks"][1]["events"][0].erase(doc["tracks"][1]["events"][0].begin() + 10);
  EXPECT_ERROR(doc.dump(), "tracks[1].events[0]: an event row has 11 values", "this one 10");
}

TEST_F(TraceJsonErrors, NegativeAndHugeNumbers) {
  Json doc = Doc();
  doc["tracks"][1]["pid"] = -1;
  EXPECT_ERROR(doc.dump(), "tracks[1].pid: -1 is negative");
  doc = Doc();
  doc["tracks"][1]["events"][2][5] = -1;
  EXPECT_ERROR(doc.dump(), "tracks[1].events[2][5]: a0 -1 is out of range");
  doc = Doc();
  doc["tracks"][1]["events"][2][0] = 1e30;
  EXPECT_ERROR(doc.dump(), "tracks[1].events[2][0]: expected an integer (time_ns), got 1e+30");
  doc = Doc();
  doc["host"]["kernel_symbols"] = 1e30;
  EXPECT_ERROR(doc.dump(), "host.kernel_symbols: expected an integer", "1e+30");
  doc = Doc();
  doc["tracks"][1]["events"][2][2] = 70000;
  EXPECT_ERROR(doc.dump(), "tracks[1].events[2][2]: cpu 70000 is out of range (0..65535)");
  doc = Doc();
  doc["tracks"][1]["vcpu"] = 2147483648u;
  EXPECT_ERROR(doc.dump(), "tracks[1].vcpu: 2147483648 is out of range (-1..2147483647)");
  doc = Doc();
  doc["tracks"][1]["events"][2][3] = -2;
  EXPECT_ERROR(doc.dump(), "tracks[1].events[2][3]: stack_id -2 is out of range");
  doc = Doc();
  doc["tracks"][1]["events"][2][4] = 4294967296u;
  EXPECT_ERROR(doc.dump(), "tracks[1].events[2][4]: text_id 4294967296 is out of range");
  doc = Doc();
  doc["guest"]["vcpus"] = -3;
  EXPECT_ERROR(doc.dump(), "guest.vcpus: -3 is out of range");
  // One more than UINT64_MAX: not representable, so not a number kvmscope
  // wrote. The text is patched since nlohmann cannot hold it either.
  doc = Doc();
  doc["tracks"][1]["events"][2][5] = 123454321;
  std::string text = doc.dump();
  text.replace(text.find("123454321"), 9, "18446744073709551616");
  EXPECT_ERROR(text, "tracks[1].events[2][5]: expected an integer (a0), got 18446744073709551616");
  doc = Doc();
  doc["stacks"][0][0] = 123454321;
  text = doc.dump();
  text.replace(text.find("123454321"), 9, "18446744073709551616");
  EXPECT_ERROR(text, "stacks[0][0]: expected an integer");
}

TEST_F(TraceJsonErrors, BrokenReferencesAndOrder) {
  Json doc = Doc();
  doc["tracks"][2]["tid"] = kTid0;
  EXPECT_ERROR(doc.dump(),
               fmt::format("tracks[2].tid: tid {} is also the tid of tracks[1]", kTid0));
  doc = Doc();
  doc["tracks"][1]["events"][4][3] = 57;
  EXPECT_ERROR(doc.dump(),
               "tracks[1].events[4][3]: stack id 57 does not exist (the trace has 3 "
               "stacks)");
  doc = Doc();
  doc["tracks"][0]["events"][1][4] = 5;
  EXPECT_ERROR(doc.dump(),
               "tracks[0].events[1][4]: text id 5 does not exist (the trace has 5 "
               "strings)");
  doc = Doc();
  doc["tracks"][1]["events"][3][0] = 1;
  EXPECT_ERROR(doc.dump(), "tracks[1].events[3][0]: time 1 is before the previous event's");
  doc = Doc();
  doc["tracks"][1]["events"][3][1] = "kvm_frobnicate";
  EXPECT_ERROR(doc.dump(), "tracks[1].events[3][1]: unknown event type \"kvm_frobnicate\"");
  doc = Doc();
  doc["strings"][0] = "x";
  EXPECT_ERROR(doc.dump(), "strings[0]: strings[0] must be \"\"");
  doc = Doc();
  doc["strings"] = Json::array();
  EXPECT_ERROR(doc.dump(), "strings: must start with \"\"");
  doc = Doc();
  doc["tracks"][1]["event_count"] = 3;
  EXPECT_ERROR(doc.dump(), "tracks[1].event_count: says 3 but \"events\" has");
  doc = Doc();
  doc["tracks"][1]["events"][0].push_back(0);
  doc["tracks"][1]["events"][0].push_back(1);
  doc["tracks"][1]["events"][0].push_back(2);
  EXPECT_ERROR(doc.dump(), "tracks[1].events[0][13]: expected nothing");
  // A field twice (which a DOM parser would silently take the last of).
  std::string text = m_text;
  text.insert(text.find("\"host\""), "\"console\":\"x\",");
  EXPECT_ERROR(text, "console: the field appears twice");
  text = m_text;
  text.insert(text.find("\"kernel_release\""), "\"cpu\":\"x\",");
  EXPECT_ERROR(text, "host.cpu: the field appears twice");
}

TEST_F(TraceJsonErrors, RandomDamageIsRefusedOrHarmless) {
  // Any damage either still reads (a changed digit or letter) or is refused
  // with a TraceFormatError; nothing else escapes and nothing crashes.
  std::mt19937 random(1234);
  const std::string bytes = "{}[]\",:0123456789-.eE \\ntfa\x80\xff";
  for (int round = 0; round < 3000; ++round) {
    std::string text = m_text;
    for (int k = 0, n = 1 + round % 3; k < n; ++k) {
      size_t at = random() % text.size();
      switch (random() % 3) {
        case 0: text[at] = bytes[random() % bytes.size()]; break;
        case 1: text.erase(at, 1 + random() % 8); break;
        default: text.insert(at, 1, bytes[random() % bytes.size()]); break;
      }
    }
    try {
      ParseTrace(text);
    } catch (const TraceFormatError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "round " << round << ": " << e.what();
    }
  }
}

TEST(TraceJson, LoadTraceNamesTheFile) {
  std::string missing = ::testing::TempDir() + "kvmscope_no_such_trace.json";
  try {
    LoadTrace(missing);
    ADD_FAILURE() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos);
  }
  std::string broken = ::testing::TempDir() + "kvmscope_broken_trace.json";
  std::ofstream(broken) << "{\"format\":\"kvmscope-trace\",\"format_version\":7}";
  try {
    LoadTrace(broken);
    ADD_FAILURE() << "no error";
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(broken + ": format_version 7 is newer", 0), 0u)
        << e.what();
  }
  std::filesystem::remove(broken);
}

// --- Chrome export --------------------------------------------------------

int64_t Ns(const Json& micros) {
  return std::llround(micros.get<double>() * 1000.0);
}

TEST(ChromeExport, ValidJsonWithNamedThreadsAndProperlyNestedSpans) {
  TraceData trace = FullTrace();
  std::ostringstream out;
  WriteChromeTrace(trace, out);
  Json doc = Json::parse(out.str());  // throws if not valid JSON
  ASSERT_TRUE(doc["traceEvents"].is_array());
  EXPECT_EQ(doc["displayTimeUnit"], "ns");
  EXPECT_EQ(doc["otherData"]["kernel"], trace.host.kernel_release);
  EXPECT_EQ(doc["otherData"]["plan"], trace.host.plan->summary);

  using Thread = std::pair<int64_t, int64_t>;
  std::set<Thread> named_threads, used_threads;
  std::set<int64_t> named_processes;
  std::map<Thread, int64_t> last_ts;
  std::map<Thread, std::vector<std::pair<int64_t, int64_t>>> open;  // per thread: X stack
  size_t instants = 0, spans = 0, with_stack = 0;
  std::set<std::string> span_names;
  std::map<int64_t, Thread> sort_indices;
  for (const Json& e : doc["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("ts") && e.contains("pid") && e.contains("tid") &&
                e.contains("name"))
        << e.dump();
    Thread thread{e["pid"].get<int64_t>(), e["tid"].get<int64_t>()};
    std::string ph = e["ph"];
    if (ph == "M") {
      if (e["name"] == "thread_name") named_threads.insert(thread);
      if (e["name"] == "process_name") named_processes.insert(thread.first);
      if (e["name"] == "thread_sort_index") {
        auto [it, inserted] = sort_indices.emplace(e["args"]["sort_index"], thread);
        EXPECT_TRUE(inserted) << "two threads at sort index " << it->first;
      }
      EXPECT_TRUE(e["args"].is_object());
      continue;
    }
    used_threads.insert(thread);
    int64_t ts = Ns(e["ts"]);
    EXPECT_GE(ts, 0);
    if (last_ts.count(thread)) {
      EXPECT_GE(ts, last_ts[thread]) << e.dump();
    }
    last_ts[thread] = ts;
    ASSERT_TRUE(e["args"].is_object()) << e.dump();
    if (ph == "i") {
      ++instants;
      EXPECT_EQ(e["s"], "t");
      if (e["args"].contains("stack")) {
        ++with_stack;
        EXPECT_EQ(e["args"]["stack"][0], "kvm_vcpu_ioctl") << e.dump();
      }
      continue;
    }
    ASSERT_EQ(ph, "X") << e.dump();
    ++spans;
    span_names.insert(e["name"]);
    int64_t dur = Ns(e["dur"]);
    EXPECT_GE(dur, 0);
    auto& stack = open[thread];
    while (!stack.empty() && stack.back().second <= ts) stack.pop_back();
    if (!stack.empty()) {
      EXPECT_LE(ts + dur, stack.back().second) << "partial overlap on a thread: " << e.dump();
    }
    stack.push_back({ts, ts + dur});
  }
  for (const Thread& t : used_threads) {
    EXPECT_TRUE(named_threads.count(t)) << "thread " << t.first << "/" << t.second;
    EXPECT_TRUE(named_processes.count(t.first)) << "process " << t.first;
  }
  size_t vmm_edges = trace.Count(VmmEventKind::RunEnter) + trace.Count(VmmEventKind::RunExit);
  EXPECT_EQ(instants, trace.EventCount() - vmm_edges);
  EXPECT_EQ(with_stack, 6u + 12u);  // 3 runs x 2 events, 12 events of the extreme-values block
  size_t all_spans = 0;
  for (const Track& track : trace.tracks) {
    for (const auto& s : track.spans) all_spans += s.size();
  }
  EXPECT_EQ(spans, all_spans);
  EXPECT_TRUE(span_names.count("KVM_RUN → IO"));
  EXPECT_TRUE(span_names.count("KVM_RUN → INTR"));
}

TEST(ChromeExport, TimesAreExactMicrosecondsFromTheFirstEvent) {
  TraceData trace;
  Track track;
  track.pid = 1;
  track.tid = 2;
  track.events.push_back(Make(VmmEventKind::Status, 1'000'000'000'000, 2, -1));
  track.events.push_back(Make(VmmEventKind::RunEnter, 1'000'000'001'234, 2, -1));
  track.events.push_back(Make(VmmEventKind::RunExit, 1'000'123'456'789, 2, -1, {kKvmExitHlt}));
  for (Event& e : track.events) e.pid = 1;
  trace.tracks.push_back(track);
  trace.BuildSpans();
  std::ostringstream out;
  WriteChromeTrace(trace, out);
  std::string text = out.str();
  EXPECT_NE(text.find("\"ts\":0.000,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"ts\":1.234,\"dur\":123455.555,"), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("\"tid\":{}", ChromeSpanTid(2, SpanKind::Run))),
            std::string::npos);
  EXPECT_NE(text.find("KVM_RUN → HLT"), std::string::npos);
}

TEST(ChromeExport, SaveWritesTheFile) {
  std::string path = ::testing::TempDir() + "kvmscope_chrome_export.json";
  SaveChromeTrace(FullTrace(), path);
  std::ifstream in(path);
  EXPECT_TRUE(Json::parse(in)["traceEvents"].is_array());
  std::filesystem::remove(path);
}

// --- atomic writes --------------------------------------------------------

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "kvmscope_atomic_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(m_dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string m_dir;
};

TEST_F(AtomicFile, WritesAndReplaces) {
  std::string path = m_dir + "/out.json";
  WriteFileAtomically(path, [](std::ostream& out) { out << "first"; });
  EXPECT_EQ(Read(path), "first");
  WriteFileAtomically(path, [](std::ostream& out) { out << std::string(1 << 20, 'x'); });
  EXPECT_EQ(Read(path), std::string(1 << 20, 'x'));
  EXPECT_EQ(Files(), std::vector<std::string>{"out.json"});
}

TEST_F(AtomicFile, ProducerThatThrowsLeavesNoFile) {
  std::string path = m_dir + "/out.json";
  auto half = [](std::ostream& out) {
    out << std::string(200000, 'y');  // more than one buffer reaches the disk
    throw std::invalid_argument("producer gave up");
  };
  EXPECT_THROW(WriteFileAtomically(path, half), std::invalid_argument);
  EXPECT_TRUE(Files().empty());
}

TEST_F(AtomicFile, ExistingFileUntouchedWhenProducerThrows) {
  std::string path = m_dir + "/out.json";
  WriteFileAtomically(path, [](std::ostream& out) { out << "old"; });
  auto half = [](std::ostream& out) {
    out << "new, half written";
    out.flush();
    throw std::runtime_error("stop");
  };
  EXPECT_THROW(WriteFileAtomically(path, half), std::runtime_error);
  EXPECT_EQ(Read(path), "old");
  EXPECT_EQ(Files(), std::vector<std::string>{"out.json"});
  // A trace that cannot be written (a store bug) leaves the old file too.
  TraceData bad;
  bad.tracks.emplace_back().tid = 5;
  bad.tracks[0].events.emplace_back().tid = 6;
  EXPECT_THROW(SaveTrace(bad, path), std::logic_error);
  bad.tracks[0].events[0].tid = 5;
  bad.tracks[0].events[0].stack_id = 0;  // no stacks
  EXPECT_THROW(SaveTrace(bad, path), std::logic_error);
  EXPECT_EQ(Read(path), "old");
  EXPECT_EQ(Files(), std::vector<std::string>{"out.json"});
}

TEST_F(AtomicFile, UnwritableDirectoryNamesThePath) {
  std::string path = m_dir + "/no/such/dir/out.json";
  try {
    WriteFileAtomically(path, [](std::ostream& out) { out << "x"; });
    ADD_FAILURE() << "no error";
  } catch (const FileError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  }
  try {
    SaveTrace(FullTrace(), path);
    ADD_FAILURE() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(AtomicFile, WriteErrorNamesTheSystemsReason) {
  // A file size limit makes write() fail with EFBIG part way, as a full disk
  // would with ENOSPC.
  std::string path = m_dir + "/big.json";
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 100000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    SaveTrace(FullTrace(), path + ".small");  // fits
    TraceData large;
    Track& track = large.tracks.emplace_back();
    track.tid = 1;
    for (int run = 0; run < 2000; ++run) AddRun(track, run * 20000, run, -1);
    large.strings = {"", "", "serial"};
    SaveTrace(large, path);
  } catch (const FileError& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(std::strerror(EFBIG)), std::string::npos) << message;
  EXPECT_EQ(Files(), std::vector<std::string>{"big.json.small"});
}

TEST_F(AtomicFile, FailedRenameCleansUp) {
  // A directory in the way of the final name: everything is written, the
  // rename fails, and the temporary file must not stay behind.
  std::string path = m_dir + "/taken";
  std::filesystem::create_directory(path);
  std::filesystem::create_directory(path + "/child");
  try {
    WriteFileAtomically(path, [](std::ostream& out) { out << "x"; });
    ADD_FAILURE() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("renaming"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Files(), std::vector<std::string>{"taken"});
}

}  // namespace
}  // namespace kvmscope::traces

namespace kvmscope::traces {
namespace {

// The guest's source and line table are optional (traces written before
// them load), but when present they are checked like everything else.
TEST(TraceJsonGuestSource, OptionalButValidated) {
  TraceData t;
  t.guest.load_addr = 0x8000;
  t.guest.image = {0xe6, 0x3f, 0xf4};
  t.guest.source = "a\nb\nc\n";
  t.guest.lines = {{0x8000, 1}, {0x8002, 3}};
  std::ostringstream out;
  WriteTrace(t, out);
  nlohmann::json doc = nlohmann::json::parse(out.str());
  EXPECT_TRUE(ParseTrace(doc.dump()) == t);
  EXPECT_EQ(t.guest.LineOf(0x8001), 1u);
  EXPECT_EQ(t.guest.LineOf(0x8002), 3u);
  EXPECT_EQ(t.guest.LineOf(0x8003), 0u);  // past the image
  EXPECT_EQ(t.guest.LineOf(0x7fff), 0u);
  nlohmann::json old = doc;
  old["guest"].erase("source");
  old["guest"].erase("lines");
  TraceData loaded = ParseTrace(old.dump());
  EXPECT_TRUE(loaded.guest.lines.empty());
  EXPECT_TRUE(loaded.guest.source.empty());
  nlohmann::json bad = doc;
  bad["guest"]["lines"] = {{0x8002, 3}, {0x8000, 1}};
  try {
    ParseTrace(bad.dump());
    ADD_FAILURE() << "unsorted lines accepted";
  } catch (const TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("guest.lines[1]"), std::string::npos) << e.what();
  }
}

// kvm_page_fault's error_code means what its exit made it: the export, and
// every context-free call (DescribeEvent, EventFields: the report and the
// timeline), decode it by the kvm_exit before it, never as a raw value.
TEST(ChromeExport, PageFaultsDecodedByWhatProducedThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"/pagefault-vmx.json", "(EPT exit qualification: "},
      {"/pagefault-svm.json", "(NPF error code: "},
      {"/pagefault-vmx-shadow.json", "(#PF error code: "}};
  for (const auto& [file, want] : cases) {
    SCOPED_TRACE(file);
    const TraceData trace = LoadTrace(std::string(KVMSCOPE_TESTDATA) + file);
    std::ostringstream out;
    WriteChromeTrace(trace, out);
    const Json doc = Json::parse(out.str());
    size_t faults = 0;
    for (const Json& e : doc["traceEvents"]) {
      if (e["name"] != "kvm_page_fault") continue;
      ++faults;
      const std::string code = e["args"]["error_code"].get<std::string>();
      EXPECT_NE(code.find(want), std::string::npos) << code;
      EXPECT_EQ(code.find("raw value"), std::string::npos) << code;
    }
    EXPECT_GE(faults, 30u);
    for (uint32_t t = 0; t < trace.tracks.size(); ++t) {
      const std::vector<Event>& events = trace.tracks[t].events;
      // The export's one pass forward agrees with the walk back per event.
      const std::vector<FaultCode> codes = FaultCodesOf(trace, t);
      ASSERT_EQ(codes.size(), events.size());
      for (uint32_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(codes[i], FaultCodeAt(trace, {t, i})) << t << ":" << i;
        EXPECT_EQ(DescribeEvent(trace, events[i]), DescribeEventAt(trace, {t, i}));
        if (events[i].type != KernelEventKind::PageFault) continue;
        EXPECT_NE(DescribeEvent(trace, events[i]).find(want), std::string::npos);
        const std::vector<Field> fields = EventFields(trace, events[i]);
        const std::vector<Field> at = EventFieldsAt(trace, {t, i});
        ASSERT_EQ(fields.size(), at.size());
        for (size_t f = 0; f < fields.size(); ++f) EXPECT_EQ(fields[f].text, at[f].text);
      }
    }
  }
  // A copy from outside the trace has no exit before it: the host decides
  // (SVM: NPF by bits 32/33), else it stays a raw value.
  TraceData svm = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json");
  const std::optional<EventRef> first = svm.First(KernelEventKind::PageFault);
  ASSERT_TRUE(first.has_value());
  const Event copy = svm.At(*first);
  EXPECT_NE(DescribeEvent(svm, copy).find("(NPF error code: "), std::string::npos);
  svm.host.backend.clear();
  EXPECT_NE(DescribeEvent(svm, copy).find("raw value"), std::string::npos);
}

// A track of page faults with no kvm_exit or kvm_entry between them: the
// export stays linear (no walk back to the start per fault).
TEST(ChromeExport, ManyFaultsWithoutExitsStayFast) {
  Trace trace;
  trace.SetVmmPid(100);
  for (int64_t i = 0; i < 200000; ++i)
    trace.Add(
        Event{1000 + i, 100, 101, 0, -1, 0, 0, KernelEventKind::PageFault, {0x1000, 0, 0, 4}});
  TraceData data = trace.Take();
  data.BuildSpans();
  const auto start = std::chrono::steady_clock::now();
  std::ostringstream out;
  WriteChromeTrace(data, out);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);  // quadratic: 2·10^10 steps, minutes
  EXPECT_NE(out.str().find("raw value, meaning depends on the exit"), std::string::npos);
}

}  // namespace
}  // namespace kvmscope::traces

// Tests of trace files: the native JSON format round-trips every field and
// refuses malformed input with errors that name the place; the Chrome export
// is valid and well nested (atomic writes and the export's decoding: traces_files_test.cpp).
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
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "traces/atomic_file.h"
#include "traces/chrome_export.h"
#include "traces/fault_context.h"
#include "traces/trace_json.h"
#include "traces/trace_rows.h"
#include "full_trace.h"
#include "run_command.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;
using namespace fixture;

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

// What every viewer needs: valid JSON; every thread and process named; on
// each thread, timestamps that never go back and B/E pairs that close in
// order (E closes the innermost open B); "I" instants scoped to the thread;
// decimal arguments as numbers.
TEST(ChromeExport, ValidJsonWithNamedThreadsAndProperlyNestedSpans) {
  TraceData trace = FullTrace();
  std::ostringstream out;
  const ChromeExportCounts counts = WriteChromeTrace(trace, out);
  Json doc = Json::parse(out.str());  // throws if not valid JSON
  ASSERT_TRUE(doc["traceEvents"].is_array());
  EXPECT_EQ(doc["traceEvents"].size(), counts.events());
  EXPECT_EQ(doc["displayTimeUnit"], "ns");
  EXPECT_EQ(doc["otherData"]["kernel"], trace.host.kernel_release);
  EXPECT_EQ(doc["otherData"]["plan"], trace.host.plan->summary);

  using Thread = std::pair<int64_t, int64_t>;
  std::set<Thread> named_threads, used_threads;
  std::set<int64_t> named_processes;
  std::map<Thread, double> last_ts;  // µs (an event at INT64_MAX ns is in this trace)
  std::map<Thread, std::vector<std::string>> open;  // per thread: the B names not closed
  size_t instants = 0, spans = 0, with_stack = 0, numbers = 0;
  std::set<std::string> span_names;
  std::map<int64_t, Thread> sort_indices;
  for (const Json& e : doc["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("ts") && e.contains("pid") && e.contains("tid") &&
                e.contains("name"))
        << e.dump();
    Thread thread{e["pid"].get<int64_t>(), e["tid"].get<int64_t>()};
    EXPECT_LT(thread.second, 1 << 22) << "a synthetic thread id: " << e.dump();
    std::string ph = e["ph"];
    if (ph == "M") {
      if (e["name"] == "thread_name") named_threads.insert(thread);
      if (e["name"] == "process_name") named_processes.insert(thread.first);
      if (e["name"] == "thread_sort_index") {
        auto [it, inserted] = sort_indices.emplace(e["args"]["sort_index"], thread);
        EXPECT_TRUE(inserted) << "two threads at sort index " << it->first;
      }
      EXPECT_TRUE(e["args"].is_object());
      EXPECT_EQ(e["args"].dump().find("(pid"), std::string::npos) << "ids in a name: " << e.dump();
      continue;
    }
    used_threads.insert(thread);
    const double ts = e["ts"].get<double>();
    EXPECT_GE(ts, trace.BeginNs() / 1000.0) << "CLOCK_MONOTONIC, not from the first event";
    if (last_ts.count(thread)) {
      EXPECT_GE(ts, last_ts[thread]) << e.dump();
    }
    last_ts[thread] = ts;
    if (ph == "I") {
      ++instants;
      EXPECT_EQ(e["s"], "t");
      ASSERT_TRUE(e["args"].is_object()) << e.dump();
      for (const auto& [k, v] : e["args"].items()) numbers += v.is_number();
      if (e["args"].contains("stack")) {
        ++with_stack;
        EXPECT_EQ(e["args"]["stack"][0], "kvm_vcpu_ioctl") << e.dump();
      }
      continue;
    }
    if (ph == "B") {
      ++spans;
      span_names.insert(e["name"]);
      open[thread].push_back(e["name"]);
      continue;
    }
    ASSERT_EQ(ph, "E") << e.dump();
    ASSERT_FALSE(open[thread].empty()) << "an E with nothing open: " << e.dump();
    EXPECT_EQ(open[thread].back(), e["name"]) << "E closes the innermost B";
    open[thread].pop_back();
  }
  for (const auto& [thread, names] : open) EXPECT_TRUE(names.empty()) << "B left open";
  for (const Thread& t : used_threads) {
    EXPECT_TRUE(named_threads.count(t)) << "thread " << t.first << "/" << t.second;
    EXPECT_TRUE(named_processes.count(t.first)) << "process " << t.first;
  }
  size_t vmm_edges = trace.Count(VmmEventKind::RunEnter) + trace.Count(VmmEventKind::RunExit);
  EXPECT_EQ(instants, trace.EventCount() - vmm_edges);
  EXPECT_EQ(instants, counts.instants);
  EXPECT_GT(numbers, 0u);
  EXPECT_EQ(with_stack, 6u + 12u);  // 3 runs x 2 events, 12 events of the extreme-values block
  size_t all_spans = 0;
  for (const Track& track : trace.tracks) {
    for (const auto& s : track.spans) all_spans += s.size();
  }
  EXPECT_EQ(spans, all_spans);
  EXPECT_EQ(spans, counts.spans);
  EXPECT_TRUE(span_names.count("KVM_RUN → IO"));
  EXPECT_TRUE(span_names.count("KVM_RUN → INTR"));
}

TEST(ChromeExport, TimesAreExactMonotonicMicroseconds) {
  TraceData trace;
  Track track;
  track.pid = 1;
  track.tid = 2;
  track.events.push_back(Make(VmmEventKind::Status, 1'000'000'000'000, 2, -1));
  track.events.push_back(Make(VmmEventKind::RunEnter, 1'000'000'001'234, 2, -1));
  track.events.push_back(Make(VmmEventKind::RunExit, 1'000'123'456'789, 2, -1, {kKvmExitHlt}));
  track.events.Modify([](Event& e) { e.pid = 1; });
  trace.tracks.push_back(track);
  trace.BuildSpans();
  std::ostringstream out;
  WriteChromeTrace(trace, out);
  std::string text = out.str();
  EXPECT_NE(text.find("\"ts\":1000000000.000,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"name\":\"KVM_RUN → HLT\",\"ph\":\"B\",\"pid\":1,\"tid\":2,\"cat\":\"span\",\"ts\":1000000001.234}"),
            std::string::npos) << text;
  EXPECT_NE(text.find("\"ph\":\"E\",\"pid\":1,\"tid\":2,\"cat\":\"span\",\"ts\":1000123456.789}"), std::string::npos) << text;
}

// The clocks of the VMM and of the kernel can make a child span stick out of
// its parent by a little: it is cut at the parent's edge, so the two share
// the boundary exactly and viewers nest them.
TEST(ChromeExport, AChildSpanStickingOutIsCutAtItsParentsEdge) {
  TraceData trace;
  Track track;
  track.pid = 1;
  track.tid = 2;
  track.spans[static_cast<size_t>(SpanKind::Run)] = {Span{1000, 5000, kNoEvent, kNoEvent}};
  track.spans[static_cast<size_t>(SpanKind::KernelRun)] = {Span{1500, 5200, kNoEvent, kNoEvent}};
  track.spans[static_cast<size_t>(SpanKind::VmmHandling)] = {Span{5000, 6000, kNoEvent, kNoEvent}};
  trace.tracks.push_back(track);
  std::ostringstream out;
  WriteChromeTrace(trace, out);
  std::vector<std::pair<std::string, std::string>> edges;  // ph, ts
  const Json doc = Json::parse(out.str());
  for (const Json& e : doc["traceEvents"]) {
    if (e["ph"] == "B" || e["ph"] == "E") edges.emplace_back(e["ph"], fmt::format("{:.3f}", e["ts"].get<double>()));
  }
  const std::vector<std::pair<std::string, std::string>> want = {
      {"B", "1.000"}, {"B", "1.500"}, {"E", "5.000"}, {"E", "5.000"}, {"B", "5.000"}, {"E", "6.000"}};
  EXPECT_EQ(edges, want);
}

TEST(ChromeExport, GzipWhenThePathEndsInGz) {
  const std::string path = ::testing::TempDir() + "kvmscope_chrome_export.json.gz";
  const ChromeExportCounts counts = SaveChromeTrace(FullTrace(), path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x1f);  // gzip's magic
  EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0x8b);
  kvmscope::test::Result r = kvmscope::test::Capture("gzip -dc " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["traceEvents"].size(), counts.events());
  std::filesystem::remove(path);
}

TEST(ChromeExport, SaveWritesTheFile) {
  std::string path = ::testing::TempDir() + "kvmscope_chrome_export.json";
  SaveChromeTrace(FullTrace(), path);
  std::ifstream in(path);
  EXPECT_TRUE(Json::parse(in)["traceEvents"].is_array());
  std::filesystem::remove(path);
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

}  // namespace
}  // namespace kvmscope::traces

// The writers' text output (traces/text_out.h) and its exactness.
// The writers format JSON themselves, for speed; what they write must stay
// byte for byte what nlohmann::json wrote before them.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "traces/chrome_export.h"
#include "traces/fault_context.h"
#include "traces/text_out.h"
#include "traces/trace_json.h"
#include "full_trace.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;
using namespace fixture;

// Every string, escaped and checked as the JSON library escapes and checks
// it: control characters, quotes, valid and broken UTF-8 (overlong forms,
// surrogates, past U+10FFFF, cut sequences), through a string and through
// TextOut, short and longer than TextOut's block.
TEST(TraceJson, StringsAreEscapedAsTheJsonLibraryEscapesThem) {
  std::vector<std::string> texts = {"", "plain", "quote \" back \\ slash", "\b\f\n\r\t\x01\x1f\x7f",
                                    std::string("nul:") + '\0'};
  for (const char* valid : {"café ✓ 😀", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) texts.push_back(valid);
  // Cut, overlong, overlong, a surrogate, past U+10FFFF, never a lead byte, cut.
  for (const char* broken : {"\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                             "\xf5", "\xe2\x9c"}) {
    texts.push_back(broken);
  }
  // Random strings from the bytes where UTF-8's rules change.
  const std::string alphabet = std::string("\x00\x01\x08\x09\x0a\x0c\x0d\x1f a\"\\\x7f", 13) +
                               "\x80\x8f\x90\x9f\xa0\xbf\xc0\xc1\xc2\xdf\xe0\xe1\xed\xee\xef\xf0"
                               "\xf1\xf4\xf5\xff";
  std::mt19937 random(42);
  for (int i = 0; i < 20000; ++i) {
    std::string text(random() % 9, ' ');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    texts.push_back(text);
  }
  texts.push_back(std::string(300'000, 'x'));         // longer than the block
  texts.push_back(std::string(100'000, '\n') + "é");  // escaped, longer than the block
  for (const std::string& text : texts) {
    std::optional<std::string> want;
    try {
      want = Json(text).dump();
    } catch (const Json::type_error&) {
    }
    EXPECT_EQ(ValidUtf8(text), want.has_value())
        << Json(text).dump(-1, ' ', true, Json::error_handler_t::replace);
    std::string appended = "before";
    EXPECT_EQ(AppendJsonString(appended, text), want.has_value());
    EXPECT_EQ(appended, "before" + want.value_or(""));
    std::ostringstream stream;
    TextOut out(stream, "failed");
    out << "[" << -12 << ',' << uint64_t{UINT64_MAX} << ',';
    EXPECT_EQ(out.JsonString(text), want.has_value());
    out << ']';
    out.Flush();
    EXPECT_EQ(stream.str(), "[-12,18446744073709551615," + want.value_or("") + "]");
  }
}

// UTF-8's rules at every lead byte: all two-byte strings, and longer ones
// with each possible second byte.
TEST(TraceJson, Utf8IsCheckedAsTheJsonLibraryChecksIt) {
  auto accepted = [](const std::string& text) {
    try {
      Json(text).dump();
      return true;
    } catch (const Json::type_error&) {
      return false;
    }
  };
  std::vector<std::string> texts;
  for (int first = 0; first < 256; ++first) {
    for (int second = 0; second < 256; ++second) {
      texts.push_back({static_cast<char>(first), static_cast<char>(second)});
      if (first < 0xe0 || first > 0xf4) continue;
      for (char rest : {'\x7f', '\x80', '\xbf', '\xc0'}) {
        texts.push_back({static_cast<char>(first), static_cast<char>(second), rest});
        texts.push_back({static_cast<char>(first), static_cast<char>(second), rest, '\x80'});
      }
    }
  }
  for (const std::string& text : texts) {
    ASSERT_EQ(ValidUtf8(text), accepted(text))
        << Json(text).dump(-1, ' ', true, Json::error_handler_t::replace);
  }
}

TEST(TraceJson, AFailingStreamStopsTheWriter) {
  std::ostringstream stream;
  stream.setstate(std::ios::badbit);
  TextOut out(stream, "the stream failed");
  out << "text";
  EXPECT_THROW(out.Flush(), std::runtime_error);
  TraceData trace = FullTrace();
  EXPECT_THROW(WriteTrace(trace, stream), std::runtime_error);
  EXPECT_THROW(WriteChromeTrace(trace, stream), std::runtime_error);
}

// An instant's arguments as the export wrote them with nlohmann::json (its
// object sorts the keys, a later value replacing an earlier one): the
// reference the export's own formatting must equal byte for byte.
std::string ReferenceInstant(const TraceData& trace, const Track& track, const Event& e,
                             FaultCode code) {
  Json args = Json::object();
  for (const Field& f : EventFieldsWith(trace, e, {.fault_code = code})) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(f.text.data(), f.text.data() + f.text.size(), v);
    const bool number = !f.text.empty() && f.text.size() <= 18 && f.text != "-" &&
                        ec == std::errc() && end == f.text.data() + f.text.size() &&
                        !(f.text.size() > 1 && f.text[0] == '0');
    args[std::string(f.name)] = number ? Json(v) : Json(f.text);
  }
  if (e.cpu != kNoCpu) args["cpu"] = e.cpu;
  if (const Stack* stack = trace.StackOf(e)) args["stack"] = ChainFrames(*stack, trace.symbols);
  auto dump = [](const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); };
  const uint64_t magnitude = e.time_ns < 0 ? 0 - static_cast<uint64_t>(e.time_ns) : e.time_ns;
  return fmt::format(
      R"({{"name":{},"ph":"I","pid":{},"tid":{},"cat":"{}","s":"t","ts":{}{}.{:03},"args":{}}})",
      dump(std::string(EventTypeName(e.type))), track.pid, track.tid,
      e.type.origin == Origin::Kernel ? "kernel" : "vmm", e.time_ns < 0 ? "-" : "",
      magnitude / 1000, magnitude % 1000, dump(args));
}

// Every instant of a trace, with texts of every kind (quotes, control
// characters, bytes that are not UTF-8), stacks, numbers and negative
// results, the same content again at other times, on other CPUs, with other
// stacks, and identical page faults that different exits produced (which
// decode differently): each line is the reference's.
TEST(ChromeExport, InstantsAreWrittenExactlyAsTheJsonLibraryWroteThem) {
  TraceData trace = FullTrace();
  trace.strings.push_back(std::string("ctl \x01\x1f tab\t \"q\" \\ nul:") + '\0' + " \xff\xfe end");
  const uint32_t odd = static_cast<uint32_t>(trace.strings.size() - 1);
  Track& track = trace.tracks[0];
  std::vector<Event> events(track.events.begin(), track.events.end());  // decoded copies
  int64_t t = -5'000'123;  // before the clock's zero too
  auto add = [&](EventType type, std::array<uint64_t, 6> a, int32_t stack = -1, uint32_t text = 0,
                 uint16_t cpu = kNoCpu) {
    Event e = Make(type, t += 1'001, track.tid, track.vcpu, a, stack, text);
    e.pid = track.pid;
    if (cpu != kNoCpu) e.cpu = cpu;
    events.push_back(e);
  };
  for (int round = 0; round < 3; ++round) {
    add(VmmEventKind::Control, {}, -1, odd);
    add(VmmEventKind::Ioctl, {static_cast<uint64_t>(-4)}, -1, odd);
    add(VmmEventKind::DeviceAccess, {0, 0x3f8, 1, 1, '"'}, -1, 2);
    add(KernelEventKind::Pio, {1, 0x3f8, 1, 1, '\\'}, round % 2, 0, static_cast<uint16_t>(round));
    add(KernelEventKind::KvmExit, {48, 0x1005, 1, 0x184, 0x1000, 0});  // VMX EPT_VIOLATION
    add(KernelEventKind::PageFault, {0, 0x1005, 0x1000, 0x184});
    add(KernelEventKind::KvmEntry, {0, 0x1005});
    add(KernelEventKind::PageFault, {0, 0x1005, 0x1000, 0x184});  // no exit before it
  }
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
  track.events.clear();
  track.events.append(events.begin(), events.end());
  trace.BuildSpans();

  std::ostringstream out;
  WriteChromeTrace(trace, out);
  std::vector<std::string> instants;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.find(R"(,"ph":"I",)") == std::string::npos) continue;
    if (line.ends_with(',')) line.pop_back();
    instants.push_back(line);
  }
  size_t n = 0, faults = 0;
  std::set<FaultCode> codes;
  for (uint32_t index = 0; index < trace.tracks.size(); ++index) {
    const Track& written = trace.tracks[index];
    const std::vector<FaultCode> track_codes = FaultCodesOf(trace, index);
    for (size_t i = 0; i < written.events.size(); ++i) {
      const Event& e = written.events[i];
      if (e.type == VmmEventKind::RunEnter || e.type == VmmEventKind::RunExit) continue;
      ASSERT_LT(n, instants.size());
      EXPECT_EQ(instants[n++], ReferenceInstant(trace, written, e, track_codes[i]));
      if (e.type == KernelEventKind::PageFault) {
        codes.insert(track_codes[i]);
        ++faults;
      }
    }
  }
  EXPECT_EQ(n, instants.size());
  EXPECT_GE(faults, 6u);
  EXPECT_EQ(codes.size(), 2u) << "the same page fault, decoded two ways";
}

// The native file writes strings as the JSON library dumps them, and text
// that is not UTF-8 as base64.
TEST(TraceJson, StringsAreWrittenAsTheJsonLibraryDumpsThem) {
  TraceData trace;
  trace.console = "tab\t \"quote\" \\ \x01\x7f é ✓ 😀\n";
  trace.strings = {"", trace.console, "bad \xc3"};
  const std::string text = Written(trace);
  EXPECT_NE(text.find("\"console\":" + Json(trace.console).dump() + ",\n"), std::string::npos);
  EXPECT_NE(
      text.find("\"strings\":[\"\"," + Json(trace.console).dump() + R"(,{"base64":"YmFkIMM="}])"),
      std::string::npos)
      << text;
  EXPECT_TRUE(ParseTrace(text) == trace);
}

}  // namespace
}  // namespace kvmscope::traces

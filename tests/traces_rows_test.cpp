// The trace reader's row scanner (traces/trace_rows.h): what it takes reads
// exactly as the JSON parser alone reads it, damage included.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "traces/trace_json.h"
#include "traces/trace_rows.h"
#include "full_trace.h"

namespace kvmscope::traces {
namespace {

using namespace fixture;

// --- the row scanner (traces/trace_rows.h) ---------------------------------

// What reading comes to: the trace as written back, or the error's message.
template <typename Parse>
std::string AnswerOf(Parse parse) {
  try {
    return Written(parse());
  } catch (const TraceFormatError& e) {
    return std::string("error: ") + e.what();
  }
}

// A stream buffer that cannot seek, as a pipe's (seekoff and seekpos stay
// the base's, which fail): its stream is read once, without the scanner.
struct PipeBuffer : std::streambuf {
  explicit PipeBuffer(std::string& text) {
    setg(text.data(), text.data(), text.data() + text.size());
  }
};

// ParseTrace gives what the parser alone gives: the same trace, or the same
// error word for word (byte offsets, lines and columns included); through
// streams too when `streams`. Returns whether the text loaded.
bool ExpectSameAnswerAsTheParserAlone(const std::string& text, const std::string& context,
                                      bool streams) {
  // A heap block of exactly the text's size: a sanitizer sees a read past it.
  auto copy = std::make_unique<char[]>(text.size());
  std::memcpy(copy.get(), text.data(), text.size());
  const std::string_view view(copy.get(), text.size());
  const std::string answer = AnswerOf([&] { return ParseTrace(view); });
  EXPECT_EQ(answer, AnswerOf([&] { return json_detail::ParseTracePlainly(view); })) << context;
  if (streams) {
    std::istringstream seekable(text);
    std::string bytes = text;
    PipeBuffer buffer(bytes);
    std::istream pipe(&buffer);
    EXPECT_EQ(AnswerOf([&] { return ParseTrace(seekable); }),
              AnswerOf([&] { return ParseTrace(pipe); }))
        << context;
  }
  return !answer.starts_with("error: ");
}

// FullTrace with more rows to damage.
TraceData RowsTrace() {
  TraceData trace = FullTrace();
  Track& v1 = trace.tracks[2];
  for (int run = 1; run <= 20; ++run) AddRun(v1, 100000 + run * 20000, run, run % 3 - 1);
  trace.BuildSpans();
  return trace;
}

// Where the rows are: from each "events":[ to the ]} that ends its track.
std::vector<std::pair<size_t, size_t>> EventArrays(const std::string& text) {
  std::vector<std::pair<size_t, size_t>> arrays;
  for (size_t at = text.find("\"events\":["); at != std::string::npos;
       at = text.find("\"events\":[", at + 1)) {
    arrays.emplace_back(at + 10, text.find("]}", at) + 1);
  }
  return arrays;
}

TEST(TraceRows, WhatTheScannerTakesReadsAsTheParserReadsIt) {
  const TraceData original = RowsTrace();
  const std::string text = Written(original);
  EXPECT_TRUE(ParseTrace(text) == original);
  EXPECT_TRUE(json_detail::ParseTracePlainly(text) == original);
  // JSON's spacing anywhere in and between rows.
  std::string spaced = text.substr(0, EventArrays(text)[0].first);
  for (size_t i = EventArrays(text)[0].first; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ',' || c == '[' || c == ']') spaced += " \t\r\n"[i % 4];
    spaced += c;
    if (c == ',') spaced += "\n \t"[i % 3];
  }
  EXPECT_TRUE(ExpectSameAnswerAsTheParserAlone(spaced, "spaced", true));
  EXPECT_TRUE(ParseTrace(spaced) == original);
  // What the scanner leaves to the parser, each in one row of tracks[1]:
  // its first value, its type, a middle and a last value.
  const size_t row = text.find('\n', EventArrays(text)[1].first) + 1;
  const size_t next_row = text.find('\n', row) + 1;
  const size_t type = text.find('"', row);
  const size_t cpu = text.find(',', text.find('"', type + 1)) + 1;
  const size_t cpu_length = text.find(',', cpu) - cpu;
  struct Change {
    size_t at;
    size_t length;
    std::string with;
    bool loads;
  };
  for (const Change& change : std::vector<Change>{
           {row, 0, " ", true},                               // spacing before a row
           {row, 0, "\v", false},                             // not JSON's spacing
           {cpu, cpu_length, "-0", true},                     // "-0" reads as 0
           {type + 1, 1, "\\u0056", true},                    // "VMM KVM_RUN enter", escaped
           {type + 1, 3, "kvm", false},                       // an unknown type
           {row + 1, 0, "0", false},                          // a leading zero
           {cpu, cpu_length, "1.0", false},                   // a float
           {cpu, cpu_length, "1e3", false},                   // another
           {cpu, cpu_length, "65536", false},                 // out of range
           {cpu, cpu_length, "18446744073709551616", false},  // past 64 bits
           {cpu, cpu_length, "-9223372036854775809", false},  // past 64 bits, signed
           {cpu, cpu_length, "null", false},                  // not a number
           {row - 1, 0, ",", false},                          // a comma before the first row
           {next_row - 3, 0, ",", false},                     // a comma at a row's end
           {next_row - 2, 1, "", false},                      // no comma between rows
           {EventArrays(text)[1].second - 1, 0, ",", false},  // a comma after the last row
           {row, 1, "{", false},                              // not a row
           {type, 1, "'", false},                             // not a string
           {text.size() - 3, 3, "", false},                   // cut after the last row
           {text.size(), 0, "x", false},                      // a stray byte after it
       }) {
    std::string changed = text;
    changed.replace(change.at, change.length, change.with);
    EXPECT_EQ(ExpectSameAnswerAsTheParserAlone(changed, change.with, true), change.loads)
        << change.with;
  }
  // Empty arrays, spaced or not.
  TraceData empty = FullTrace();
  for (Track& track : empty.tracks) track.events.clear();
  empty.BuildSpans();
  std::string empty_text = Written(empty);
  EXPECT_TRUE(ParseTrace(empty_text) == empty);
  size_t at = empty_text.find("\"events\":[") + 10;
  empty_text.insert(at, " \n ");
  EXPECT_TRUE(ExpectSameAnswerAsTheParserAlone(empty_text, "spaced empty array", true));
  EXPECT_FALSE(ExpectSameAnswerAsTheParserAlone(empty_text.substr(0, at + 2), "cut", true));
}

TEST(TraceRows, RandomDamageIsRefusedOrHarmlessAsWithTheParserAlone) {
  // Damage inside the events arrays, where the row scanner reads, and (one
  // time in five) anywhere: refused with a TraceFormatError or still read,
  // either way as the parser alone has it (after rows the scanner skipped,
  // the parser's offsets, lines and columns would not count them: its errors
  // come from a second reading). Nothing else escapes, nothing crashes.
  std::mt19937 random(4321);
  const std::string text = Written(RowsTrace());
  std::vector<std::pair<size_t, size_t>> places = EventArrays(text);
  ASSERT_EQ(places.size(), 4u);
  places.emplace_back(0, text.size());
  const std::string bytes = "{}[]\",:0123456789-.eE \\ntfa\x80\xff\n\t\r";
  int loaded = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string damaged = text;
    size_t cut = damaged.size();
    for (int k = 0, n = 1 + round % 3; k < n; ++k) {
      const auto& [from, to] = places[random() % places.size()];
      const size_t at = from + random() % (to - from);
      if (at >= cut) continue;  // beyond a cut made before
      switch (random() % 5) {
        case 0:
        case 1: damaged[at] = bytes[random() % bytes.size()]; break;
        case 2: damaged.erase(at, 1 + random() % 8); break;
        case 3: damaged.insert(at, 1, bytes[random() % bytes.size()]); break;
        default: cut = at; break;
      }
    }
    damaged.resize(std::min(cut, damaged.size()));
    try {
      loaded += ExpectSameAnswerAsTheParserAlone(damaged, fmt::format("round {}", round),
                                                 round % 8 == 0);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "round " << round << ": " << e.what();
    }
  }
  // Both outcomes were met (a changed digit still reads).
  EXPECT_GT(loaded, 50);
  EXPECT_LT(loaded, 1900);
}

TEST(TraceRows, ProgressReachesTheEndAndNeverGoesBack) {
  // Blocks of 64 KiB, and a row in the last block that the scanner leaves to
  // a second reading (an escaped type name): progress still only goes on.
  TraceData trace = RowsTrace();
  for (int run = 0; run < 2000; ++run) AddRun(trace.tracks[2], 600000 + run * 20000, 21 + run, -1);
  trace.BuildSpans();
  const std::string text = Written(trace);
  const std::string path = ::testing::TempDir() + "kvmscope_rows_progress.json";
  for (bool escaped : {false, true}) {
    std::string file = text;
    if (escaped) {
      const size_t at = file.rfind("\"KVM_RUN enter\"");
      ASSERT_GT(at, file.size() - (1 << 16));
      file.replace(at + 1, 1, "\\u004b");
    }
    std::ofstream(path, std::ios::binary) << file;
    std::vector<uint64_t> done;
    TraceData loaded = LoadTrace(path, [&](uint64_t bytes, uint64_t total) {
      EXPECT_EQ(total, file.size());
      done.push_back(bytes);
    });
    EXPECT_TRUE(loaded == trace) << escaped;
    ASSERT_FALSE(done.empty());
    EXPECT_TRUE(std::is_sorted(done.begin(), done.end())) << escaped;
    EXPECT_EQ(done.back(), file.size());
    EXPECT_GE(done.size(), file.size() >> 16) << escaped;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kvmscope::traces

// Tests of how traces reach files beyond the native format: atomic writes
// never leave a half-written file, and the Chrome export decodes each
// kvm_page_fault by what produced it, in linear time.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "traces/atomic_file.h"
#include "traces/chrome_export.h"
#include "traces/fault_context.h"
#include "traces/trace_json.h"
#include "full_trace.h"

namespace kvmscope::traces {
namespace {

using Json = nlohmann::json;
using namespace fixture;

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
  Event wrong;
  wrong.tid = 6;
  bad.tracks[0].events.push_back(wrong);
  EXPECT_THROW(SaveTrace(bad, path), std::logic_error);
  wrong.tid = 5;
  wrong.stack_id = 0;  // no stacks
  bad.tracks[0].events.set(0, wrong);
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
      ASSERT_TRUE(e["args"]["error_code"].is_string()) << e.dump();
      const std::string code = e["args"]["error_code"].get<std::string>();
      EXPECT_NE(code.find(want), std::string::npos) << code;
      EXPECT_EQ(code.find("raw value"), std::string::npos) << code;
    }
    EXPECT_GE(faults, 30u);
    for (uint32_t t = 0; t < trace.tracks.size(); ++t) {
      const EventList& events = trace.tracks[t].events;
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
  // An event from outside the trace has no exit before it: the host decides
  // (SVM: NPF by bits 32/33), else it stays a raw value. (Events are found
  // by value: one equal to the trace's is the trace's, so this one differs
  // in its time.)
  TraceData svm = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json");
  const std::optional<EventRef> first = svm.First(KernelEventKind::PageFault);
  ASSERT_TRUE(first.has_value());
  Event copy = svm.At(*first);
  copy.time_ns += 1;
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
  std::vector<size_t> told;  // progress: events written so far
  WriteChromeTrace(data, out, [&](size_t done, size_t total) {
    EXPECT_EQ(total, 200000u);
    told.push_back(done);
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);  // quadratic: 2·10^10 steps, minutes
  ASSERT_EQ(told.size(), 3u);  // every 65,536 events
  EXPECT_TRUE(std::is_sorted(told.begin(), told.end()));
  EXPECT_EQ(told.back(), 3u * 65536u);
  EXPECT_NE(out.str().find("raw value, meaning depends on the exit"), std::string::npos);
}

}  // namespace
}  // namespace kvmscope::traces

// The whole catalog under each attach mechanism (--attach kprobe, fentry,
// tracepoint), on whatever KVM backend this host has: PVM here, and the real
// VMX and SVM backends inside the test hosts (scripts/test-host.sh). Each run
// must pass its self-check, account for every kernel event (seen = received +
// lost), record the forced plan, name the vendor exit handler in its stacks,
// make the kernel events the catalog promises for this backend, and on
// VMX/SVM decode every kvm:kvm_exit reason. The pagefault guest's page-fault
// chain must be observed end to end.
//
// A mechanism this kernel refuses is skipped with the kernel's reason, unless
// KVMSCOPE_REQUIRE_ATTACH lists it (the test hosts set it: there a refusal is
// a failure).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog_promises.h"
#include "kvm_available.h"
#include "run_command.h"
#include "traces/chains.h"
#include "traces/report.h"
#include "traces/stats.h"
#include "traces/trace_json.h"
#include "vmm/catalog.h"

namespace {

namespace fs = std::filesystem;
using namespace kvmscope;

bool Required(const std::string& mechanism) {
  const char* list = std::getenv("KVMSCOPE_REQUIRE_ATTACH");
  if (!list) return false;
  std::string all = std::string(",") + list + ",";
  return all.find("," + mechanism + ",") != std::string::npos;
}

// Guests that end by passing their self-check (spin is ended by the watchdog).
std::vector<std::string> PassingGuests() {
  std::vector<std::string> names;
  for (const vmm::GuestInfo& g : vmm::Catalog()) {
    if (!g.expect_watchdog) names.emplace_back(g.name);
  }
  return names;
}

struct Case {
  std::string mechanism;
  std::string guest;
};
void PrintTo(const Case& c, std::ostream* os) { *os << "--attach " << c.mechanism << " --guest " << c.guest; }

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (const char* m : {"kprobe", "fentry", "tracepoint"}) {
    for (const std::string& g : PassingGuests()) cases.push_back({m, g});
  }
  return cases;
}

// Whether a page-fault chain path of observed links leads from its first step
// through kvm_mmu_page_fault to a step that calls nothing further. Links that
// cannot be seen because a step has no symbol of its own (inlined, or a
// static inline with no frame) are crossed; links merely not seen are not.
bool ObservedEndToEnd(const traces::ChainMatch& match, std::string* why) {
  const traces::Chain& chain = *match.chain;
  std::set<std::string_view> reached;
  std::vector<std::string_view> todo;
  auto applicable = [&](const traces::NodeMatch& n) {
    return n.status != traces::NodeStatus::NotApplicable;
  };
  for (const traces::NodeMatch& n : match.nodes) {
    if (applicable(n)) {
      todo.push_back(n.node->id);
      reached.insert(n.node->id);
      break;
    }
  }
  while (!todo.empty()) {
    std::string_view from = todo.back();
    todo.pop_back();
    for (const traces::EdgeMatch& e : match.edges) {
      if (e.edge->from != from || e.edge->kind != traces::EdgeKind::Calls) continue;
      const traces::NodeMatch* to = match.Node(e.edge->to);
      const traces::NodeMatch* source = match.Node(from);
      bool through_absent = e.status == traces::EdgeStatus::Unobservable &&
                            (to->status == traces::NodeStatus::Absent ||
                             source->status == traces::NodeStatus::Absent);
      bool seen = e.status != traces::EdgeStatus::NotObserved &&
                  e.status != traces::EdgeStatus::NotApplicable &&
                  e.status != traces::EdgeStatus::Unobservable;
      if ((seen || through_absent) && reached.insert(e.edge->to).second) {
        todo.push_back(e.edge->to);
      }
    }
  }
  const traces::NodeMatch* mmu = match.Node("mmu_pf");
  bool leaf_reached = false;
  for (const traces::NodeMatch& n : match.nodes) {
    if (!reached.count(n.node->id) || n.status != traces::NodeStatus::Observed) continue;
    bool calls_on = false;
    for (const traces::EdgeMatch& e : match.edges) {
      calls_on |= e.edge->from == n.node->id && e.status != traces::EdgeStatus::NotApplicable &&
                  e.edge->kind == traces::EdgeKind::Calls;
    }
    leaf_reached |= !calls_on;
  }
  if (mmu && reached.count(mmu->node->id) && leaf_reached) return true;
  std::string text;
  for (const std::string& line : traces::FormatChain(match)) text += line + "\n";
  *why = "reached: " + std::to_string(reached.size()) + " of " +
         std::to_string(chain.nodes.size()) + " steps\n" + text;
  return false;
}

class Backend : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    KVMSCOPE_REQUIRE_KVM();
    if (geteuid() != 0) GTEST_SKIP() << "kernel tracing needs root";
    dir = fs::temp_directory_path() / ("kvmscope-backend-" + std::to_string(getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
  fs::path dir;
};

TEST_P(Backend, CatalogGuestPassesUnderTheForcedMechanism) {
  const Case& c = GetParam();
  fs::path file = dir / (c.guest + ".json");
  test::Result r = test::Capture(std::string(KVMSCOPE_BIN) + " run --guest " + c.guest +
                                 " --attach " + c.mechanism + " -q -o " + file.string() +
                                 " 2>&1 </dev/null");
  if (r.status == 3 && !Required(c.mechanism)) {
    GTEST_SKIP() << "--attach " << c.mechanism << " refused by this kernel: " << r.output;
  }
  ASSERT_EQ(r.status, 0) << r.output;
  traces::TraceData trace = traces::LoadTrace(file.string());
  EXPECT_EQ(trace.guest.verdict, "passed") << r.output;

  // The plan says what was forced, and the run loop uses it.
  ASSERT_TRUE(trace.host.plan.has_value());
  const traces::PlanRecord& plan = *trace.host.plan;
  ASSERT_FALSE(plan.entries.empty());
  EXPECT_EQ(plan.entries.front().mechanism, c.mechanism) << plan.summary;
  EXPECT_EQ(plan.requested, c.mechanism);

  // Every kernel event is accounted for.
  ASSERT_TRUE(trace.kernel_counts.has_value());
  const traces::KernelCounts& counts = *trace.kernel_counts;
  for (size_t k = 0; k < counts.seen.size(); ++k) {
    EXPECT_EQ(counts.seen[k], counts.received[k] + counts.lost[k])
        << traces::KernelEventName(static_cast<traces::KernelEventKind>(k));
  }
  EXPECT_GT(counts.total_seen(), 0u);

  // The kernel events the catalog promises for this backend and paging mode
  // fired, and none it rules out.
  std::optional<vmm::KernelVariant> variant = vmm::DetectKernelVariant();
  ASSERT_TRUE(variant.has_value()) << "no known KVM backend module in /sys/module";
  ASSERT_TRUE(test::SameBackend(trace, *variant)) << trace.host.backend;
  test::ExpectPromisesHold(trace, *vmm::FindGuest(c.guest), *variant,
                           "--attach " + c.mechanism);

  // The vendor exit handler is in the captured stacks.
  traces::KernelFacts facts = traces::FactsOf(trace);
  ASSERT_FALSE(trace.host.vendor_handler.empty());
  EXPECT_GT(facts.Through(trace.host.vendor_handler).stacks, 0u)
      << "no stack through " << trace.host.vendor_handler;

  // Where the vendor code emits kvm:kvm_exit, every reason has its name.
  traces::Vendor vendor = traces::BackendVendor(trace.host.backend);
  if (vendor == traces::Vendor::Vmx || vendor == traces::Vendor::Svm) {
    traces::ScopeStats stats = traces::ComputeScopeStats(trace, traces::kAllVcpus);
    ASSERT_TRUE(stats.hardware.fired) << stats.hardware.note;
    std::set<std::string> names;
    for (const traces::HardwareExitRow& row : stats.hardware.rows) {
      EXPECT_NE(row.name, std::to_string(row.reason)) << "undecoded kvm_exit reason";
      names.insert(row.name);
    }
    if (c.guest == "hello") {
      EXPECT_TRUE(names.count("IO_INSTRUCTION") || names.count("IOIO")) << ::testing::PrintToString(names);
    }
  }

  if (c.guest == "pagefault") {
    traces::ChainMatch match = traces::MatchChain(traces::ChainId::PageFaults, facts);
    std::string why;
    // A failure says whether stacks were refused (a stack map bucket held
    // by another stack gives -EEXIST for every later sighting of this one).
    EXPECT_TRUE(ObservedEndToEnd(match, &why))
        << why << "kernel stacks: " << counts.stacks_taken << " taken, " << counts.stacks_failed
        << " failed; through kvm_mmu_page_fault: " << facts.Through("kvm_mmu_page_fault").stacks
        << " stacks";
  }
}

// Where the test host requires every mechanism, the doctor must show each
// working and every tracepoint attaching.
TEST(BackendDoctor, ShowsEveryRequiredMechanismAndEveryTracepoint) {
  KVMSCOPE_REQUIRE_KVM();
  if (geteuid() != 0) GTEST_SKIP() << "kernel tracing needs root";
  if (!Required("kprobe") || !Required("fentry")) {
    GTEST_SKIP() << "KVMSCOPE_REQUIRE_ATTACH does not require kprobe and fentry on this host";
  }
  test::Result r = test::Capture(std::string(KVMSCOPE_BIN) + " doctor 2>&1 </dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\nkprobes       yes\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nfentry        yes\n"), std::string::npos) << r.output;
  size_t tracepoints = 0;
  size_t at = r.output.find("\ntracepoints\n");
  ASSERT_NE(at, std::string::npos) << r.output;
  size_t end = r.output.find("\n\n", at);
  std::string block = r.output.substr(at, end - at);
  for (size_t p = block.find("\n  "); p != std::string::npos; p = block.find("\n  ", p + 1)) {
    size_t eol = block.find('\n', p + 1);
    std::string line = block.substr(p + 1, eol == std::string::npos ? eol : eol - p - 1);
    EXPECT_NE(line.find(" attaches"), std::string::npos) << line;
    ++tracepoints;
  }
  EXPECT_EQ(tracepoints, 17u) << block;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.mechanism + "_" + info.param.guest;
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Catalog, Backend, ::testing::ValuesIn(Cases()), CaseName);

}  // namespace

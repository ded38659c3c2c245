// The story event of each catalog guest, the exits in time order over all
// vCPUs (back / forward), and paused time (the VMM's gate rebuilt from its
// Control events) kept out of VMM handling: on synthetic traces with
// hand-computed answers and on the real recorded traces in tests/data.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "traces/explain.h"
#include "traces/pauses.h"
#include "traces/stats.h"
#include "traces/story.h"
#include "traces/trace.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

constexpr uint32_t kPid = 100;

Event Make(EventType type, int64_t t, const Track& track, std::array<uint64_t, 6> a = {}) {
  Event e;
  e.type = type;
  e.time_ns = t;
  e.pid = track.pid;
  e.tid = track.tid;
  e.vcpu = track.vcpu;
  e.a = a;
  return e;
}
uint64_t IoWord(uint64_t port, bool out) { return port | (1ull << 16) | (uint64_t(out) << 24); }

Track Vcpu(int vcpu) {
  Track t;
  t.pid = kPid;
  t.tid = kPid + 1 + static_cast<uint32_t>(vcpu);
  t.vcpu = vcpu;
  t.kind = TrackKind::Vcpu;
  return t;
}
Track VmmThread() {
  Track t;
  t.pid = t.tid = kPid;
  t.kind = TrackKind::Vmm;
  return t;
}

// One KVM_RUN at t: enter, the kernel events given (at t+10, t+20, ...), then
// the VMM exit at t+100 with `exit` as its packing; the VMM handles it until
// t+120 (a device access).
void AddRun(Track& track, int64_t t, uint64_t index, std::array<uint64_t, 6> exit,
         std::vector<Event> kernel = {}) {
  track.events.push_back(Make(VmmEventKind::RunEnter, t, track, {index}));
  int64_t k = t + 10;
  for (Event e : kernel) {
    e.time_ns = k;
    e.tid = track.tid;
    track.events.push_back(e);
    k += 10;
  }
  exit[2] = index;
  track.events.push_back(Make(VmmEventKind::RunExit, t + 100, track, exit));
  track.events.push_back(Make(VmmEventKind::DeviceAccess, t + 120, track));
}

Event Inject(uint64_t vector) {
  Event e;
  e.type = KernelEventKind::InjException;
  e.a[0] = vector;
  return e;
}

TraceData Guest(const std::string& name, std::vector<Track> tracks) {
  TraceData trace;
  trace.guest.name = name;
  trace.tracks = std::move(tracks);
  trace.BuildSpans();
  return trace;
}

// --- the story ---

TEST(Story, HelloIsTheFirstOutToCom1NotAnEarlierExit) {
  Track cpu = Vcpu(0);
  AddRun(cpu, 1000, 0, {kKvmExitIo, 0, 0, IoWord(0x80, true), 1, 0});            // another port
  AddRun(cpu, 2000, 1, {kKvmExitIo, 0, 0, IoWord(kCom1Port, false), 1, 0});     // an IN from COM1
  AddRun(cpu, 3000, 2, {kKvmExitIo, 0, 0, IoWord(kCom1Port, true), 1, 'H'});    // the story
  AddRun(cpu, 4000, 3, {kKvmExitIo, 0, 0, IoWord(kCom1Port, true), 1, 'i'});
  const TraceData trace = Guest("hello", {cpu});
  const std::optional<Story> story = FindStory(trace);
  ASSERT_TRUE(story);
  EXPECT_EQ(trace.At(story->event).time_ns, 3100);
  EXPECT_EQ(trace.At(story->event).type, EventType(VmmEventKind::RunExit));
  EXPECT_EQ(story->chain, ChainId::RunLoop);
  EXPECT_NE(story->caption.find("'H'"), std::string::npos) << story->caption;
}

TEST(Story, PagefaultIsTheInjectedPfThenTheWalkerErrorThenAFault) {
  Track cpu = Vcpu(0);
  Event walker;
  walker.type = KernelEventKind::MmuWalkerError;
  AddRun(cpu, 1000, 0, {kKvmExitIo, 0, 0, IoWord(kCom1Port, true), 1, 'x'}, {Inject(6)});
  AddRun(cpu, 2000, 1, {kKvmExitIo}, {walker, Inject(14)});
  TraceData trace = Guest("pagefault", {cpu});
  std::optional<Story> story = FindStory(trace);
  ASSERT_TRUE(story);
  EXPECT_EQ(trace.At(story->event).type, EventType(KernelEventKind::InjException));
  EXPECT_EQ(trace.At(story->event).a[0], 14u);
  EXPECT_EQ(story->chain, ChainId::PageFaults);

  // No #PF injected (lost): the walker error.
  trace.tracks[0].events.EraseIf([](const Event& e) {
    return e.type == EventType(KernelEventKind::InjException) && e.a[0] == 14;
  });
  trace.BuildSpans();
  story = FindStory(trace);
  ASSERT_TRUE(story);
  EXPECT_EQ(trace.At(story->event).type, EventType(KernelEventKind::MmuWalkerError));
}

// Who handles the guest's #PF is configuration: on PVM (shadow paging) KVM
// injects it; on the SVM host (NPT) the story is the first nested page fault.
// Each caption fits the toolbar's one line on a 1600-pixel projector.
TEST(Story, PagefaultSaysWhoWalksThePageTables) {
  const TraceData pvm = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  std::optional<Story> story = FindStory(pvm);
  ASSERT_TRUE(story);
  EXPECT_NE(story->caption.find("with shadow paging KVM intercepts the #PF"), std::string::npos)
      << story->caption;
  const TraceData svm = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-svm.json");
  story = FindStory(svm);
  ASSERT_TRUE(story);
  EXPECT_NE(story->caption.find("exits as an EPT violation / NPF"), std::string::npos)
      << story->caption;
  const Event& e = svm.At(story->event);
  EXPECT_TRUE(e.type == EventType(KernelEventKind::PageFault) ||
              e.type == EventType(KernelEventKind::MmuPageFault));
  EXPECT_LE(story->caption.size(), 170u);
  // Recorded ept=N on VMX: shadow paging, whatever else the trace holds.
  TraceData vmx = svm;
  vmx.host.backend = "VMX (kvm_intel)";
  vmx.host.module_params["kvm_intel.ept"] = "N";
  story = FindStory(vmx);
  ASSERT_TRUE(story);
  EXPECT_NE(story->caption.find("with shadow paging"), std::string::npos) << story->caption;
}

TEST(Story, EachGuestHasItsEvent) {
  Track cpu0 = Vcpu(0), cpu1 = Vcpu(1), vmm = VmmThread();
  Event cpuid;
  cpuid.type = KernelEventKind::Cpuid;
  AddRun(cpu0, 1000, 0, {kKvmExitIo, 0, 0, IoWord(0x500, true), 4, 0}, {Inject(14), cpuid});
  AddRun(cpu0, 2000, 1, {kKvmExitMmio, 0, 0, 0xd0000000, 4, 5}, {Inject(6)});
  AddRun(cpu0, 3000, 2, {kKvmExitHlt});
  AddRun(cpu1, 2500, 0, {kKvmExitHlt});
  AddRun(cpu1, 2800, 1, {kKvmExitIo, 0, 1, IoWord(0x500, true), 1, 0});  // exit at 2900
  vmm.events.push_back(Make(VmmEventKind::Watchdog, 2700, vmm));
  const TraceData trace = Guest("", {vmm, cpu0, cpu1});
  struct Case {
    std::string guest;
    EventType type;
    int64_t time_ns;
    ChainId chain;
  };
  const Case cases[] = {
      {"exceptions", KernelEventKind::InjException, 2010, ChainId::Exceptions},
      {"mmio", VmmEventKind::RunExit, 2100, ChainId::RunLoop},
      {"cpuid", KernelEventKind::Cpuid, 1020, ChainId::RunLoop},
      {"timer", VmmEventKind::RunExit, 2600, ChainId::RunLoop},  // the first HLT: vCPU 1's
      {"smp", VmmEventKind::RunExit, 2600, ChainId::RunLoop},
      {"spin", VmmEventKind::Watchdog, 2700, ChainId::RunLoop},
      {"pio-loop", VmmEventKind::RunExit, 1100, ChainId::RunLoop},
      {"pio-pair", VmmEventKind::RunExit, 2900, ChainId::RunLoop},  // vCPU 1's first OUT
      {"modes", VmmEventKind::RunExit, 1100, ChainId::RunLoop},
      {"my-own.bin", VmmEventKind::RunExit, 1100, ChainId::RunLoop},
  };
  for (const Case& c : cases) {
    TraceData named = trace;
    named.guest.name = c.guest;
    const std::optional<Story> story = FindStory(named);
    ASSERT_TRUE(story) << c.guest;
    EXPECT_EQ(named.At(story->event).type, c.type) << c.guest;
    EXPECT_EQ(named.At(story->event).time_ns, c.time_ns) << c.guest;
    EXPECT_EQ(story->chain, c.chain) << c.guest;
    EXPECT_FALSE(story->caption.empty()) << c.guest;
  }
  // smp's event is on vCPU 1.
  TraceData smp = trace;
  smp.guest.name = "smp";
  EXPECT_EQ(smp.tracks[FindStory(smp)->event.track].vcpu, 1);
}

TEST(Story, NoExitYetIsNoStoryAndAMissingEventFallsBackToTheFirstExit) {
  EXPECT_FALSE(FindStory(Guest("hello", {})));
  Track cpu = Vcpu(0);
  AddRun(cpu, 1000, 0, {kKvmExitHlt});
  const TraceData trace = Guest("exceptions", {cpu});  // no #UD in it
  const std::optional<Story> story = FindStory(trace);
  ASSERT_TRUE(story);
  EXPECT_EQ(trace.At(story->event).type, EventType(VmmEventKind::RunExit));
}

TEST(Story, RecordedTracesOpenOnTheirStory) {
  const TraceData pf = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  ASSERT_EQ(pf.guest.name, "pagefault");
  std::optional<Story> story = FindStory(pf);
  ASSERT_TRUE(story);
  EXPECT_EQ(pf.At(story->event).type, EventType(KernelEventKind::InjException));
  EXPECT_EQ(pf.At(story->event).a[0], 14u);
  EXPECT_EQ(story->chain, ChainId::PageFaults);
  // The first one: no #PF injection earlier on any track.
  for (const EventRef r : pf.OfType(KernelEventKind::InjException)) {
    if (pf.At(r).a[0] == 14) {
      EXPECT_GE(pf.At(r).time_ns, pf.At(story->event).time_ns);
    }
  }

  const TraceData ex = LoadTrace(KVMSCOPE_TESTDATA "/exceptions-pvm.json");
  story = FindStory(ex);
  ASSERT_TRUE(story);
  EXPECT_EQ(ex.At(story->event).type, EventType(KernelEventKind::InjException));
  EXPECT_EQ(ex.At(story->event).a[0], 6u);
  EXPECT_EQ(story->chain, ChainId::Exceptions);
}

// --- exits in time order ---

TEST(Exits, BackAndForwardInterleaveTheVcpusByTime) {
  Track cpu0 = Vcpu(0), cpu1 = Vcpu(1);
  AddRun(cpu0, 1000, 0, {kKvmExitIo});  // exit at 1100
  AddRun(cpu1, 1050, 0, {kKvmExitIo});  // 1150
  AddRun(cpu0, 1200, 1, {kKvmExitIo});  // 1300
  AddRun(cpu1, 1400, 1, {kKvmExitHlt}); // 1500
  const TraceData trace = Guest("smp", {cpu0, cpu1});
  std::vector<int64_t> forward;
  for (std::optional<EventRef> r = FirstExit(trace); r; r = AdjacentExit(trace, *r, +1)) {
    forward.push_back(trace.At(*r).time_ns);
  }
  EXPECT_EQ(forward, (std::vector<int64_t>{1100, 1150, 1300, 1500}));
  std::vector<int64_t> back;
  for (std::optional<EventRef> r = LatestExit(trace); r; r = AdjacentExit(trace, *r, -1)) {
    back.push_back(trace.At(*r).time_ns);
  }
  EXPECT_EQ(back, (std::vector<int64_t>{1500, 1300, 1150, 1100}));

  // From a kernel-less VMM event inside vCPU 0's second run (its enter at
  // 1200): next is that run's exit, previous the exit before it.
  const EventRef enter{0, 3};
  ASSERT_EQ(trace.At(enter).type, EventType(VmmEventKind::RunEnter));
  EXPECT_EQ(trace.At(*AdjacentExit(trace, enter, +1)).time_ns, 1300);
  EXPECT_EQ(trace.At(*AdjacentExit(trace, enter, -1)).time_ns, 1150);

  const std::vector<EventRef> latest = LatestExits(trace, 3);
  ASSERT_EQ(latest.size(), 3u);
  EXPECT_EQ(trace.At(latest[0]).time_ns, 1500);
  EXPECT_EQ(trace.At(latest[2]).time_ns, 1150);

  // The run of an exit, and the exit of a run from inside it.
  const Span* run = RunOfExit(trace, latest[0]);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->begin_ns, 1400);
  EXPECT_EQ(ExitOfRunAt(trace, 0, 1250), (EventRef{0, 4}));
  EXPECT_FALSE(ExitOfRunAt(trace, 0, 1150));  // between two runs of vCPU 0
  EXPECT_EQ(EventsOfRun(trace, EventRef{0, 4}).size(), 2u);  // enter and exit
}

TEST(Exits, RecordedTraceStepsThroughEveryExitBothWays) {
  const TraceData trace = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  const size_t exits = trace.Count(VmmEventKind::RunExit);
  ASSERT_GT(exits, 1u);
  size_t n = 0;
  int64_t last = INT64_MIN;
  for (std::optional<EventRef> r = FirstExit(trace); r; r = AdjacentExit(trace, *r, +1)) {
    EXPECT_GE(trace.At(*r).time_ns, last);
    last = trace.At(*r).time_ns;
    ++n;
  }
  EXPECT_EQ(n, exits);
  // The exit of a #PF injection's run holds that injection among its events.
  const std::optional<Story> story = FindStory(trace);
  ASSERT_TRUE(story);
  const std::optional<EventRef> exit =
      ExitOfRunAt(trace, story->event.track, trace.At(story->event).time_ns);
  ASSERT_TRUE(exit);
  bool found = false;
  for (const Event& e : EventsOfRun(trace, *exit)) found = found || e == trace.At(story->event);
  EXPECT_TRUE(found);
}

// --- paused time ---

// A stepped run, as `kvmscope run --step` records it (seen on this machine):
// no "pause" event (the run starts paused), "step 1" before each run, the
// user's think time in between, then "resume".
TraceData Stepped() {
  Track vmm = VmmThread(), cpu = Vcpu(0);
  auto control = [&](int64_t t, const std::string& text, TraceData& trace) {
    Event e = Make(VmmEventKind::Control, t, vmm);
    e.text = static_cast<uint32_t>(trace.strings.size());
    trace.strings.push_back(text);
    vmm.events.push_back(e);
  };
  TraceData trace;
  vmm.events.push_back(Make(VmmEventKind::Ioctl, 100, vmm));
  control(900, "step 1", trace);
  AddRun(cpu, 1000, 0, {kKvmExitIo});             // handled until 1120
  control(1'000'000, "step 1", trace);          // the user pressed Enter a ms later
  AddRun(cpu, 1'000'100, 1, {kKvmExitIo});         // handled until 1'000'220
  control(3'000'000, "resume", trace);
  AddRun(cpu, 3'000'050, 2, {kKvmExitIo});         // free running again
  AddRun(cpu, 3'000'200, 3, {kKvmExitHlt});
  trace.guest.name = "hello";
  trace.tracks = {vmm, cpu};
  trace.BuildSpans();
  return trace;
}

TEST(Pauses, WaitsAtTheGateAreCutsAndNotVmmHandling) {
  const TraceData trace = Stepped();
  const Pauses pauses(trace);
  ASSERT_TRUE(pauses.any());
  const auto& handling = trace.tracks[1].spans[size_t(SpanKind::VmmHandling)];
  ASSERT_EQ(handling.size(), 4u);  // the last (after HLT) is open: no next KVM_RUN
  // 1100 → 1'000'100: 20 ns of work (to the device access at 1120), then a wait.
  EXPECT_EQ(handling[0].duration_ns(), 1'000'100 - 1100);
  EXPECT_EQ(pauses.HandlingNs(trace, 1, handling[0]), 20);
  EXPECT_EQ(pauses.WaitIn(trace, 1, handling[0]), (TimeInterval{1120, 1'000'100}));
  EXPECT_EQ(pauses.HandlingNs(trace, 1, handling[1]), 20);  // waited for "resume"
  // Free running after "resume": the whole span is handling.
  EXPECT_FALSE(pauses.WaitIn(trace, 1, handling[2]));
  EXPECT_EQ(pauses.HandlingNs(trace, 1, handling[2]), handling[2].duration_ns());

  // Cuts: before the first run (started paused), and the two waits.
  const std::vector<TimeInterval> expected = {
      {100, 1000}, {1120, 1'000'100}, {1'000'220, 3'000'050}};
  EXPECT_EQ(pauses.cuts(), expected);
  EXPECT_EQ(pauses.WaitedNs(trace, 1), (1'000'100 - 1120) + (3'000'050 - 1'000'220));
}

TEST(Pauses, StatsLeaveTheWaitsOutOfVmmHandling) {
  const TraceData trace = Stepped();
  const ScopeStats scope = ComputeScopeStats(trace, kAllVcpus);
  const UserspaceExitRow* io = nullptr;
  for (const UserspaceExitRow& r : scope.userspace.rows) {
    if (r.reason == kKvmExitIo) io = &r;
  }
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->vmm.samples, 3u);
  // 20 + 20 + (3'000'200 - 3'000'150) = 90 ns: no second of user think time.
  EXPECT_EQ(io->vmm.total_ns, 20 + 20 + 50);
  EXPECT_EQ(io->vmm.p99_ns, 50);
  EXPECT_EQ(scope.waited_ns, (1'000'100 - 1120) + (3'000'050 - 1'000'220));
  const std::vector<std::string> text = FormatStats(ComputeStats(trace));
  bool noted = false;
  for (const std::string& line : text) noted = noted || line.find("waited while paused") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Pauses, SlowMotionWaitsAndAFreeRunHasNoPauses) {
  TraceData trace = Stepped();
  // Free running: drop every Control event.
  trace.tracks[0].events.EraseIf(
      [](const Event& e) { return e.type == EventType(VmmEventKind::Control); });
  trace.BuildSpans();
  EXPECT_FALSE(Pauses(trace).any());
  EXPECT_TRUE(Pauses(trace).cuts().empty());

  // Slow motion from the start: every handling span ends in a wait.
  Event slow = Make(VmmEventKind::Control, 500, trace.tracks[0]);
  slow.text = static_cast<uint32_t>(trace.strings.size());
  trace.strings.push_back("slow motion 250 ms");
  trace.tracks[0].events.insert(trace.tracks[0].events.begin() + 1, slow);
  trace.BuildSpans();
  const Pauses pauses(trace);
  ASSERT_TRUE(pauses.any());
  for (const Span& s : trace.tracks[1].spans[size_t(SpanKind::VmmHandling)]) {
    EXPECT_EQ(pauses.HandlingNs(trace, 1, s), 20);
  }
}

TEST(Pauses, RecordedTracesRanFreely) {
  const TraceData trace = LoadTrace(KVMSCOPE_TESTDATA "/pagefault-pvm.json");
  EXPECT_FALSE(Pauses(trace).any());
  EXPECT_EQ(ComputeScopeStats(trace, kAllVcpus).waited_ns, 0);
}

// --- port names and characters (shared by the terminal and the GUI) ---

TEST(PortText, Com1AndTheStatusPortAreNamedAndBytesShownAsCharacters) {
  EXPECT_EQ(PortName(0x3f8), "COM1");
  EXPECT_EQ(PortName(0x3fd), "COM1 register 5");
  EXPECT_EQ(PortName(0x500), "status port");
  EXPECT_EQ(PortName(0x80), "");
  EXPECT_EQ(PortDataNote(0x3f8, true, 0x34), " '4'");
  EXPECT_EQ(PortDataNote(0x3f8, true, '\n'), " '\\n'");
  EXPECT_EQ(PortDataNote(0x3f8, true, 0x07), "");
  EXPECT_EQ(PortDataNote(0x3f8, false, 0x34), "");  // a read is not a character written
  EXPECT_EQ(PortDataNote(0x500, true, 0x18), " (status report)");
  TraceData trace;
  Track cpu = Vcpu(0);
  const Event exit = Make(VmmEventKind::RunExit, 1, cpu, {kKvmExitIo, 0, 3, IoWord(0x3f8, true), 1, 0x34});
  bool data = false, port = false;
  for (const Field& f : EventFields(trace, exit)) {
    if (f.name == "data") data = f.text == "0x34 '4'";
    if (f.name == "port") port = f.text == "0x3f8 (COM1)";
  }
  EXPECT_TRUE(data);
  EXPECT_TRUE(port);
}

}  // namespace
}  // namespace kvmscope::traces

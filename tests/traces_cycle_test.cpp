// The KVM cycle model on a synthetic VMX trace (kvm_exit fires: measured
// counts), on traces without kernel data, and on the real PVM traces in
// tests/data: names of this backend, inlined steps, counts equal to what the
// trace holds, and the path of one KVM_RUN.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "synthetic_trace.h"
#include "traces/cycle.h"
#include "traces/trace_json.h"

namespace kvmscope::traces {
namespace {

using N = CycleNodeId;
using A = CycleArcId;

TraceData Load(const char* name) { return LoadTrace(std::string(KVMSCOPE_TESTDATA) + "/" + name); }

uint64_t Reason(const CycleArc& arc, std::string_view name) {
  for (const CycleReason& r : arc.reasons)
    if (r.name == name) return r.count;
  return 0;
}

// A VMX 6.8 kernel with EPT: three KVM_RUNs on vCPU 0 — an I/O exit, an EPT
// violation handled in the kernel then an I/O exit, a #UD injected then HLT.
class VmxTrace {
 public:
  VmxTrace() {
    const char* functions[] = {"kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run", "vcpu_run",
                               "vmx_vcpu_run",   "vmx_handle_exit",         "handle_ept_violation",
                               "kvm_mmu_page_fault", "kvm_tdp_page_fault",  "kvm_inject_exception",
                               "kvm_dev_ioctl",  "kvm_vm_ioctl",            "vt_init",
                               "kvm_init",       "zz_end"};
    uint64_t addr = 0xffffffff81000000;
    for (const char* f : functions) {
      data.symbols.Add(addr, f);
      m_addr[f] = addr + 0x40;
      addr += 0x1000;
    }
    data.symbols.Finish();
    // Innermost first, as captured.
    data.stacks.push_back({m_addr["kvm_tdp_page_fault"], m_addr["kvm_mmu_page_fault"],
                           m_addr["handle_ept_violation"], m_addr["vmx_handle_exit"],
                           m_addr["vcpu_run"], m_addr["kvm_arch_vcpu_ioctl_run"],
                           m_addr["kvm_vcpu_ioctl"]});
    data.stacks.push_back({m_addr["kvm_inject_exception"], m_addr["vcpu_run"],
                           m_addr["kvm_arch_vcpu_ioctl_run"], m_addr["kvm_vcpu_ioctl"]});
    data.host.kernel_release = "6.8.0-generic";
    data.host.backend = "VMX (Intel)";
    data.kernel_counts = KernelCounts{};
    Track t;
    t.pid = 10;
    t.tid = 11;
    t.vcpu = 0;
    t.kind = TrackKind::Vcpu;
    test::AddCycle(t, 1'000'000, 0, kKvmExitIo);  // one exit, out to the VMM
    int64_t at = 2'000'000;
    // Filled in here, then stored (the track's store hands out no references).
    std::deque<Event> events;
    auto add = [&](KernelEventKind k) -> Event& {
      return events.emplace_back(test::Ev(at += 1000, k, t));
    };
    auto vmm = [&](VmmEventKind k, uint64_t a0) -> Event& {
      Event& e = events.emplace_back(test::Ev(at += 1000, k, t));
      e.a[0] = a0;
      return e;
    };
    auto exit = [&](uint32_t reason) { add(KernelEventKind::KvmExit).a = {reason, 0, 1, 0, 0, 0}; };
    // Run 1: EPT violation handled in the kernel, then an I/O exit.
    vmm(VmmEventKind::RunEnter, 1);
    add(KernelEventKind::RunEnter);
    add(KernelEventKind::KvmEntry);
    exit(48);
    add(KernelEventKind::PageFault).stack_id = 0;
    add(KernelEventKind::KvmEntry);
    exit(30);
    add(KernelEventKind::UserspaceExit);
    add(KernelEventKind::RunExit);
    vmm(VmmEventKind::RunExit, kKvmExitIo).a[2] = 1;
    // Run 2: #UD injected, then HLT.
    vmm(VmmEventKind::RunEnter, 2);
    add(KernelEventKind::RunEnter);
    add(KernelEventKind::KvmEntry);
    exit(0);
    Event& inj = add(KernelEventKind::InjException);
    inj.a[0] = 6;
    inj.stack_id = 1;
    add(KernelEventKind::KvmEntry);
    exit(12);
    add(KernelEventKind::RunExit);
    vmm(VmmEventKind::RunExit, kKvmExitHlt).a[2] = 2;
    t.events.append(events.begin(), events.end());
    data.tracks.push_back(std::move(t));
    data.BuildSpans();
  }
  TraceData data;

 private:
  std::map<std::string, uint64_t> m_addr;
};

TEST(Cycle, VmxCountsAreMeasuredFromTheEvents) {
  VmxTrace vmx;
  const CycleModel m = BuildCycle(vmx.data);
  EXPECT_TRUE(m.kernel_data);
  EXPECT_EQ(m.vendor, Vendor::Vmx);
  EXPECT_EQ(m.Node(N::ExitHandler).function, "vmx_handle_exit");
  EXPECT_EQ(m.Node(N::ExitHandler).status, CycleNodeStatus::Observed);
  EXPECT_EQ(m.Node(N::VendorEntry).function, "vmx_vcpu_run");
  EXPECT_NE(m.Node(N::VendorEntry).caption.find("VMRESUME"), std::string::npos);
  // vcpu_enter_guest has no symbol; stacks go vcpu_run → vmx_handle_exit.
  EXPECT_EQ(m.Node(N::RunLoop).status, CycleNodeStatus::Inlined);
  EXPECT_EQ(m.Node(N::RunLoop).inlined_into, "vcpu_run");
  EXPECT_EQ(m.Node(N::RunLoop).status_text, "inlined into vcpu_run");

  EXPECT_EQ(m.Arc(A::RunCall).count.value, 3u);
  EXPECT_EQ(m.Arc(A::RunCall).count.kind, CountKind::Measured);
  EXPECT_EQ(m.Arc(A::ReturnToVmm).count.value, 3u);
  EXPECT_EQ(Reason(m.Arc(A::ReturnToVmm), "KVM_EXIT_IO"), 2u);
  EXPECT_EQ(Reason(m.Arc(A::ReturnToVmm), "KVM_EXIT_HLT"), 1u);
  EXPECT_EQ(m.Arc(A::RunAgain).count.value, 2u);
  EXPECT_EQ(m.Arc(A::ExitToHandler).count.value, vmx.data.Count(KernelEventKind::KvmExit));
  EXPECT_EQ(m.Arc(A::ExitToHandler).count.kind, CountKind::Measured);
  // Two exits came back into the loop: the EPT violation and the #UD's exception exit.
  EXPECT_EQ(m.Arc(A::HandledInKernel).count.value, 2u);
  EXPECT_EQ(m.Arc(A::HandledInKernel).count.kind, CountKind::Measured);
  EXPECT_EQ(Reason(m.Arc(A::HandledInKernel), "EPT_VIOLATION"), 1u);
  EXPECT_EQ(Reason(m.Arc(A::HandledInKernel), "EXCEPTION_NMI"), 1u);
  EXPECT_EQ(m.Node(N::PageFault).count.value, 1u);
  EXPECT_EQ(m.Node(N::PageFault).count.kind, CountKind::Measured);
  EXPECT_EQ(Reason(m.Arc(A::ToException), "#UD"), 1u);
}

TEST(Cycle, VmxPathOfARunLoopsBackThroughThePageFault) {
  VmxTrace vmx;
  const auto pf = vmx.data.First(KernelEventKind::PageFault);
  ASSERT_TRUE(pf);
  const auto path = PathOfEvent(vmx.data, *pf);
  ASSERT_TRUE(path);
  EXPECT_TRUE(path->page_fault);
  EXPECT_TRUE(path->returned);
  EXPECT_EQ(path->exit_reason, kKvmExitIo);
  const std::vector<N> want = {N::VmmRun,    N::ArchRun,     N::RunLoop,     N::VendorEntry,
                               N::GuestRuns, N::VmExit,      N::ExitHandler, N::PageFault,
                               N::RunLoop,   N::VendorEntry, N::GuestRuns,   N::VmExit,
                               N::ExitHandler, N::VmmHandles};
  EXPECT_EQ(path->Nodes(), want);
  EXPECT_EQ(path->steps.back().arc, A::ReturnToVmm);
  // The same run from the VMM's handling of its exit (after KVM_RUN returned).
  const auto exit = path->exit;
  ASSERT_TRUE(exit);
  EXPECT_EQ(PathAt(vmx.data, exit->track, vmx.data.At(*exit).time_ns + 1)->run, path->run);
  // The #UD run: an exception step.
  const auto ud = PathOfEvent(vmx.data, *vmx.data.First(KernelEventKind::InjException));
  ASSERT_TRUE(ud);
  EXPECT_TRUE(ud->exception);
  EXPECT_FALSE(ud->page_fault);
  EXPECT_EQ(ud->exit_reason, kKvmExitHlt);
}

TEST(Cycle, NoKernelDataIsSaidOnceAndTheVmmSideIsCounted) {
  TraceData t;
  t.host.backend = "PVM";
  t.host.not_traced_reason = "kernel tracing needs root";
  Track track;
  track.tid = 5;
  track.kind = TrackKind::Vcpu;
  for (int i = 0; i < 4; ++i) {
    Event enter = test::Ev(i * 1000, VmmEventKind::RunEnter, track);
    enter.a[0] = static_cast<uint64_t>(i);
    track.events.push_back(enter);
    Event exit = test::Ev(i * 1000 + 500, VmmEventKind::RunExit, track);
    exit.a[0] = i == 3 ? kKvmExitHlt : kKvmExitIo;
    track.events.push_back(exit);
  }
  t.tracks.push_back(track);
  t.BuildSpans();
  const CycleModel m = BuildCycle(t);
  EXPECT_FALSE(m.kernel_data);
  EXPECT_EQ(m.no_kernel_reason, "kernel tracing needs root");
  for (const CycleNode& n : m.nodes) {
    if (n.band == CycleBand::Kernel) {
      EXPECT_EQ(n.status, CycleNodeStatus::NotTraced) << n.title;
      // Said once in the model, not as an error on every node.
      EXPECT_EQ(n.status_text, "not traced") << n.title;
    }
    EXPECT_EQ(n.function.rfind("vmx_", 0), std::string::npos) << n.function;
    EXPECT_EQ(n.function.rfind("svm_", 0), std::string::npos) << n.function;
  }
  EXPECT_EQ(m.Node(N::ExitHandler).function, "pvm_handle_exit");
  EXPECT_EQ(m.Arc(A::RunCall).count.value, 4u);
  EXPECT_EQ(Reason(m.Arc(A::ReturnToVmm), "KVM_EXIT_IO"), 3u);
  EXPECT_EQ(Reason(m.Arc(A::ReturnToVmm), "KVM_EXIT_HLT"), 1u);
  EXPECT_EQ(m.Arc(A::HandledInKernel).count.kind, CountKind::None);
  // The path still goes round the VMM side.
  const auto path = PathAt(t, 0, 1200);
  ASSERT_TRUE(path);
  EXPECT_EQ(path->Nodes().front(), N::VmmRun);
  EXPECT_EQ(path->Nodes().back(), N::VmmHandles);
  EXPECT_FALSE(path->emulation_unstreamed);
  // kvm_emulate_insn counted past its budget: a run without any may have had some.
  TraceData budgeted = t;
  budgeted.kernel_counts = KernelCounts{};
  budgeted.kernel_counts->not_streamed[static_cast<size_t>(KernelEventKind::EmulateInsn)] = true;
  budgeted.kernel_counts->stream_budget[static_cast<size_t>(KernelEventKind::EmulateInsn)] = 64;
  EXPECT_TRUE(PathAt(budgeted, 0, 1200)->emulation_unstreamed);

  // Backend unknown too: no vendor's name is guessed.
  t.host.backend.clear();
  const CycleModel unknown = BuildCycle(t);
  EXPECT_EQ(unknown.Node(N::ExitHandler).function, "exit handler");
  EXPECT_EQ(unknown.Node(N::VendorEntry).function, "VM entry");
}

TEST(Cycle, CacheRecomputesFactsOnlyWhenStacksOrSymbolsChange) {
  VmxTrace vmx;
  CycleCache cache;
  cache.Update(vmx.data, 0.0, 0.25);
  cache.Update(vmx.data, 0.1, 0.25);
  EXPECT_EQ(cache.facts_builds(), 1u);
  EXPECT_EQ(cache.count_builds(), 1u);
  // More events: counted again, but not more often than the interval.
  Track& t = vmx.data.tracks[0];
  Event more = test::Ev(9'000'000, VmmEventKind::RunEnter, t);
  more.a[0] = 3;
  t.events.push_back(more);
  cache.Update(vmx.data, 0.2, 0.25);
  EXPECT_EQ(cache.count_builds(), 1u);
  EXPECT_EQ(cache.Update(vmx.data, 0.4, 0.25).Arc(A::RunCall).count.value, 4u);
  EXPECT_EQ(cache.count_builds(), 2u);
  EXPECT_EQ(cache.facts_builds(), 1u);
  vmx.data.stacks.push_back({0xffffffff81000040});
  cache.Update(vmx.data, 0.5, 0.25);
  EXPECT_EQ(cache.facts_builds(), 2u);
}

// --- Incremental counting of a live trace -------------------------------------------

void ExpectSameCounts(const CycleModel& got, const CycleModel& want, const std::string& where) {
  auto same = [&](const CycleCount& a, const CycleCount& b, const std::string& what) {
    EXPECT_EQ(a.value, b.value) << what << " " << where;
    EXPECT_EQ(a.kind, b.kind) << what << " " << where;
    EXPECT_EQ(a.what, b.what) << what << " " << where;
  };
  for (size_t i = 0; i < kCycleNodes; ++i) same(got.nodes[i].count, want.nodes[i].count, want.nodes[i].title);
  for (size_t i = 0; i < kCycleArcs; ++i) {
    same(got.arcs[i].count, want.arcs[i].count, want.arcs[i].label);
    ASSERT_EQ(got.arcs[i].reasons.size(), want.arcs[i].reasons.size()) << want.arcs[i].label << " " << where;
    for (size_t r = 0; r < want.arcs[i].reasons.size(); ++r) {
      EXPECT_EQ(got.arcs[i].reasons[r].name, want.arcs[i].reasons[r].name) << where;
      EXPECT_EQ(got.arcs[i].reasons[r].count, want.arcs[i].reasons[r].count) << where;
    }
  }
}

// A VMX guest on up to three vCPUs, fed to a real Trace the way a live run
// feeds it: the VMM's events as they happen, the kernel's drained later (one
// or two chunks late, now and then far behind), so Trace::Merge puts them
// behind the tail of each track; a third vCPU appears half-way; a captured
// stack through the emulator arrives late, which changes how the MMU events
// without a stack are classified (the whole trace is counted again then).
class LiveVmx {
 public:
  static constexpr uint32_t kPid = 10;
  LiveVmx() {
    const char* functions[] = {"kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run", "vcpu_run", "vmx_vcpu_run",
                               "vmx_handle_exit", "kvm_mmu_page_fault", "x86_emulate_instruction",
                               "kvm_inject_exception", "zz_end"};
    SymbolTable symbols;
    uint64_t addr = 0xffffffff81000000;
    for (const char* f : functions) {
      symbols.Add(addr, f);
      m_at[f] = addr + 0x40;
      addr += 0x1000;
    }
    symbols.Finish();
    trace.SetSymbols(std::move(symbols));
    HostFacts host;
    host.kernel_release = "6.8.0-generic";
    host.backend = "VMX (kvm_intel)";
    trace.SetHost(host);
    trace.SetVmmPid(kPid);
    const Stack tail = {m_at["vmx_handle_exit"], m_at["vcpu_run"], m_at["kvm_arch_vcpu_ioctl_run"],
                        m_at["kvm_vcpu_ioctl"]};
    auto stack = [&](const char* inner) {
      Stack s{m_at[inner]};
      s.insert(s.end(), tail.begin(), tail.end());
      return s;
    };
    trace.AddStack(0, stack("kvm_mmu_page_fault"));
    trace.AddStack(1, stack("x86_emulate_instruction"));
    trace.AddStack(2, stack("kvm_inject_exception"));
    for (const char* name : {"KVM_CREATE_VM", "KVM_CREATE_VCPU", "KVM_CREATE_VCPU"}) {
      Event e = Make(m_time += 1000, kPid, VmmEventKind::Ioctl);
      e.text = trace.Intern(name);
      trace.Add(e);
    }
  }

  // One chunk: `runs` KVM_RUNs per vCPU; kernel events due now are added.
  void Chunk(int chunk, int runs) {
    const int vcpus = chunk >= 6 ? 3 : 2;
    for (int r = 0; r < runs; ++r) {
      for (int v = 0; v < vcpus; ++v) Run(chunk, v);
      m_time += 20'000;
    }
    for (auto it = m_late.begin(); it != m_late.end();) {
      if (it->first <= chunk) {
        trace.Add(it->second);
        it = m_late.erase(it);
      } else {
        ++it;
      }
    }
  }
  void Drain() {
    for (const auto& [due, e] : m_late) trace.Add(e);
    m_late.clear();
  }

  Trace trace;

 private:
  Event Make(int64_t t, uint32_t tid, EventType type, int32_t vcpu = -1) {
    Event e;
    e.time_ns = t;
    e.pid = kPid;
    e.tid = tid;
    e.vcpu = vcpu;
    e.type = type;
    if (type.origin == Origin::Kernel) e.cpu = 1;
    return e;
  }

  void Run(int chunk, int vcpu) {
    const uint32_t tid = 11 + static_cast<uint32_t>(vcpu);
    int64_t t = m_time + vcpu * 3'000;
    const uint64_t run = m_runs[vcpu]++;
    // The kernel's events reach the trace one or two chunks late; in chunks
    // 10 and 20 one run's far behind (several checkpoints' worth of events).
    const bool far = (chunk == 10 || chunk == 20) && run % 50 == 7;
    const int due = chunk + 1 + static_cast<int>(m_rng() % 2) + (far ? 5 : 0);
    auto kernel = [&](KernelEventKind k, std::array<uint64_t, 6> a = {}, int32_t stack = -1) {
      Event e = Make(t += 100, tid, k);
      e.a = a;
      e.stack_id = stack;
      m_late.emplace_back(due, e);
    };
    Event enter = Make(t, tid, VmmEventKind::RunEnter, vcpu);
    enter.a[0] = run;
    trace.Add(enter);
    kernel(KernelEventKind::RunEnter);
    const int exits = 1 + static_cast<int>(m_rng() % 3);
    for (int x = 0; x < exits; ++x) {
      kernel(KernelEventKind::KvmEntry);
      const uint64_t reason = x + 1 < exits ? (m_rng() % 2 ? 48 : 0) : 30;  // EPT violation, exception; I/O
      kernel(KernelEventKind::KvmExit, {reason, 0, 1, 0, 0, 0});
      if (reason == 48) {
        // After chunk 12 one MMU walk's stack goes through the emulator.
        const bool emulated = chunk >= 12 && m_rng() % 50 == 0;
        kernel(KernelEventKind::MmuWalk, {0x1000, 0, 0, 0, 0, 0}, m_rng() % 3 == 0 ? (emulated ? 1 : 0) : -1);
        kernel(KernelEventKind::MmuSetSpte);
      } else if (reason == 0) {
        kernel(KernelEventKind::InjException, {m_rng() % 2 ? 14u : 6u, 0, 0, 0, 0, 0}, 2);
      }
      if (m_rng() % 4 == 0) kernel(KernelEventKind::EmulateInsn);
    }
    kernel(KernelEventKind::UserspaceExit, {2, 0, 0, 0, 0, 0});
    kernel(KernelEventKind::RunExit);
    const uint32_t reason = m_rng() % 5 == 0 ? kKvmExitHlt : kKvmExitIo;
    Event exit = Make(t += 200, tid, VmmEventKind::RunExit, vcpu);
    exit.a[0] = reason;
    exit.a[2] = run;
    trace.Add(exit);
    trace.Add(Make(t += 300, tid, VmmEventKind::DeviceAccess, vcpu));
  }

  std::map<std::string, uint64_t> m_at;
  std::mt19937 m_rng{7};
  int64_t m_time = 1'000'000;
  std::array<uint64_t, 3> m_runs{};
  std::vector<std::pair<int, Event>> m_late;
};

TEST(CycleLive, IncrementalCountsEqualAFullCountAfterEveryChunk) {
  LiveVmx live;
  CycleCache cache;
  size_t scanned = 0, cheap = 0;
  size_t last_events = 0;
  for (int chunk = 0; chunk < 30; ++chunk) {
    live.Chunk(chunk, 150);
    if (chunk == 29) live.Drain();
    const Trace::Snapshot snap = live.trace.Read();
    const TraceData& data = *snap;
    // Late kernel events were merged before the end of a track.
    for (const Track& t : data.tracks)
      for (size_t i = 1; i < t.events.size(); ++i) ASSERT_LE(t.events[i - 1].time_ns, t.events[i].time_ns);
    const size_t full_before = cache.full_counts();
    const CycleModel& got = cache.Update(data);
    ExpectSameCounts(got, BuildCycle(data), "after chunk " + std::to_string(chunk));
    ASSERT_FALSE(HasFailure()) << "chunk " << chunk;
    scanned += cache.last_scanned();
    const size_t events = data.EventCount();
    if (chunk > 0 && cache.full_counts() == full_before) {
      // Counted from a checkpoint: the events of the last two chunks (the
      // kernel's arrive up to two late) and a checkpoint's worth per track,
      // not the whole trace.
      EXPECT_LT(cache.last_scanned(), events) << "chunk " << chunk;
      cheap += cache.last_scanned() <= 2 * (events - last_events) + 3 * 4096;
    }
    last_events = events;
    EXPECT_EQ(cache.facts_builds(), 1u);
  }
  EXPECT_GT(live.trace.Read()->EventCount(), 60'000u);
  EXPECT_GE(cheap, 20u);
  // Counted from scratch twice only: when the first MMU stacks arrived (MMU
  // walks without a stack are page faults from then on), and when the late
  // emulator stack made them unclassified again.
  EXPECT_EQ(cache.full_counts(), 2u);
  EXPECT_LT(scanned, 4 * live.trace.Read()->EventCount());
}

TEST(CycleLive, ATraceThatShrankOrChangedIsCountedAgain) {
  LiveVmx live;
  for (int chunk = 0; chunk < 8; ++chunk) live.Chunk(chunk, 200);
  live.Drain();
  TraceData data = live.trace.Take();
  CycleCache cache;
  cache.Update(data);
  // Fewer events on a track (the same TraceData): counted again from there.
  data.tracks[1].events.resize(data.tracks[1].events.size() / 2);
  data.BuildSpans();
  ExpectSameCounts(cache.Update(data), BuildCycle(data), "after shrinking");
  // A late event far behind the end (as Trace::Merge puts it).
  Track& t = data.tracks[2];
  Event late = t.events[t.events.size() / 3];
  late.type = KernelEventKind::EmulateInsn;
  t.events.insert(t.events.begin() + static_cast<std::ptrdiff_t>(t.events.size() / 3 + 1), late);
  data.BuildSpans();
  ExpectSameCounts(cache.Update(data), BuildCycle(data), "after a late event");
  // A track that is another thread now.
  data.tracks[1].events.Modify([](Event& e) { e.tid = 99; });
  data.tracks[1].tid = 99;
  data.tracks[1].events.push_back(data.tracks[1].events.back());
  ExpectSameCounts(cache.Update(data), BuildCycle(data), "another thread");
  // Fewer tracks.
  data.tracks.pop_back();
  ExpectSameCounts(cache.Update(data), BuildCycle(data), "fewer tracks");
}

TEST(Cycle, NodeOfAFunction) {
  EXPECT_EQ(NodeOfFunction("pvm_handle_exit"), N::ExitHandler);
  EXPECT_EQ(NodeOfFunction("__pvm_handle_exit.isra.0"), N::ExitHandler);
  EXPECT_EQ(NodeOfFunction("vmx_handle_exit"), N::ExitHandler);
  EXPECT_EQ(NodeOfFunction("paging64_page_fault"), N::PageFault);
  EXPECT_EQ(NodeOfFunction("kvm_mmu_page_fault"), N::PageFault);
  EXPECT_EQ(NodeOfFunction("kvm_inject_exception"), N::Exception);
  EXPECT_EQ(NodeOfFunction("x86_emulate_instruction"), N::Emulate);
  EXPECT_EQ(NodeOfFunction("pvm_emulate_insn_scrubbed.constprop.0"), N::Emulate);
  EXPECT_EQ(NodeOfFunction("kvm_arch_vcpu_ioctl_run"), N::ArchRun);
  EXPECT_EQ(NodeOfFunction("vcpu_enter_guest"), N::RunLoop);
  EXPECT_EQ(NodeOfFunction("pvm_vcpu_run"), N::VendorEntry);
  EXPECT_EQ(NodeOfFunction("kvm_dev_ioctl_create_vm"), N::CreateVm);
  EXPECT_EQ(NodeOfFunction("schedule"), std::nullopt);
}

// --- The real PVM traces ---------------------------------------------------------

void ExpectPvmNames(const CycleModel& m) {
  EXPECT_TRUE(m.kernel_data);
  EXPECT_EQ(m.vendor, Vendor::Pvm);
  EXPECT_EQ(m.Node(N::ExitHandler).function, "pvm_handle_exit");
  EXPECT_EQ(m.Node(N::ExitHandler).status, CycleNodeStatus::Observed);
  EXPECT_GT(m.Node(N::ExitHandler).stack_events, 0u);
  EXPECT_EQ(m.Node(N::VendorEntry).function, "pvm_vcpu_run");
  EXPECT_EQ(m.Node(N::ModuleLoad).function, "pvm_init");
  for (const CycleNode& n : m.nodes) {
    EXPECT_EQ(n.function.find("vmx"), std::string::npos) << n.function;
    EXPECT_EQ(n.function.find("svm"), std::string::npos) << n.function;
    EXPECT_EQ(n.caption.find("VMCS"), std::string::npos) << n.caption;
  }
  // vcpu_run and vcpu_enter_guest are inlined on this kernel (MACHINE.md):
  // neutral, with the caller named.
  EXPECT_EQ(m.Node(N::RunLoop).status, CycleNodeStatus::Inlined);
  EXPECT_EQ(m.Node(N::RunLoop).inlined_into, "kvm_arch_vcpu_ioctl_run");
  EXPECT_EQ(m.Node(N::CreateVm).status, CycleNodeStatus::Inlined);
  EXPECT_EQ(m.Node(N::CreateVm).inlined_into, "kvm_dev_ioctl");
  EXPECT_EQ(m.Node(N::CreateVcpu).inlined_into, "kvm_vm_ioctl");
}

void ExpectCountsOfTheTrace(const CycleModel& m, const TraceData& t) {
  EXPECT_EQ(m.Arc(A::RunCall).count.value, t.Count(VmmEventKind::RunEnter));
  EXPECT_EQ(m.Arc(A::ReturnToVmm).count.value, t.Count(VmmEventKind::RunExit));
  EXPECT_EQ(Reason(m.Arc(A::ReturnToVmm), "KVM_EXIT_IO"), t.ExitsWithReason(kKvmExitIo).size());
  EXPECT_EQ(m.Arc(A::ReturnToVmm).count.kind, CountKind::Measured);
  // kvm_exit never fires on PVM: exits are not counted, kernel work is inferred.
  EXPECT_EQ(t.Count(KernelEventKind::KvmExit), 0u);
  EXPECT_EQ(m.Arc(A::ExitToHandler).count.kind, CountKind::None);
  EXPECT_NE(m.Arc(A::ExitToHandler).count.what.find("does not fire"), std::string::npos);
  EXPECT_EQ(m.Arc(A::HandledInKernel).count.kind, CountKind::Inferred);
  EXPECT_EQ(Reason(m.Arc(A::HandledInKernel), "kvm_emulate_insn"),
            t.Count(KernelEventKind::EmulateInsn));
  EXPECT_EQ(m.Node(N::Exception).count.value, t.Count(KernelEventKind::InjException));
  EXPECT_EQ(m.Node(N::Emulate).count.value, t.Count(KernelEventKind::EmulateInsn));
  // Page faults: inferred from kvmmmu events on the kvm_mmu_page_fault path;
  // each one installs a shadow entry or fails its walk.
  const CycleCount& pf = m.Node(N::PageFault).count;
  EXPECT_EQ(pf.kind, CountKind::Inferred);
  EXPECT_GT(pf.value, 0u);
  EXPECT_LE(pf.value,
            t.Count(KernelEventKind::MmuSetSpte) + t.Count(KernelEventKind::MmuWalkerError));
}

TEST(CycleRecorded, PageFaultTraceOnPvm) {
  const TraceData t = Load("pagefault-pvm.json");
  const CycleModel m = BuildCycle(t);
  ExpectPvmNames(m);
  ExpectCountsOfTheTrace(m, t);
  EXPECT_EQ(Reason(m.Arc(A::ReturnToVmm), "KVM_EXIT_HLT"), 1u);
  EXPECT_EQ(Reason(m.Arc(A::ToException), "#PF"), 4u);
  EXPECT_EQ(m.Node(N::PageFault).function, "kvm_mmu_page_fault");
  EXPECT_EQ(m.Node(N::PageFault).status, CycleNodeStatus::Observed);
}

TEST(CycleRecorded, ExceptionsTraceOnPvm) {
  const TraceData t = Load("exceptions-pvm.json");
  const CycleModel m = BuildCycle(t);
  ExpectPvmNames(m);
  ExpectCountsOfTheTrace(m, t);
  for (const char* v : {"#DE", "#BP", "#UD", "#GP"}) EXPECT_EQ(Reason(m.Arc(A::ToException), v), 1u) << v;
}

TEST(CycleRecorded, PathOfAPageFaultRunGoesThroughKvmMmuPageFault) {
  const TraceData t = Load("pagefault-pvm.json");
  // The run that captured a stack through kvm_mmu_page_fault.
  std::optional<EventRef> fault;
  for (uint32_t ti = 0; ti < t.tracks.size() && !fault; ++ti)
    for (uint32_t i = 0; i < t.tracks[ti].events.size() && !fault; ++i) {
      const Event& e = t.tracks[ti].events[i];
      if (e.stack_id >= 0 && NodeOfStack(t, t.stacks[e.stack_id]) == N::PageFault) fault = EventRef{ti, i};
    }
  ASSERT_TRUE(fault);
  const auto path = PathOfEvent(t, *fault);
  ASSERT_TRUE(path);
  EXPECT_TRUE(path->page_fault);
  EXPECT_TRUE(path->Visits(N::PageFault));
  EXPECT_TRUE(path->returned);
  EXPECT_EQ(path->steps.front().node, N::VmmRun);
  EXPECT_EQ(path->steps.back().node, N::VmmHandles);
  const auto step = std::find_if(path->steps.begin(), path->steps.end(),
                                 [](const CycleStep& s) { return s.node == N::PageFault; });
  ASSERT_NE(step, path->steps.end());
  EXPECT_EQ(step->arc, A::ToPageFault);
  // Every kernel event of the run lies inside it.
  for (const EventRef& r : path->kernel_events) {
    EXPECT_GE(t.At(r).time_ns, path->run.begin_ns);
    EXPECT_LE(t.At(r).time_ns, path->run.end_ns);
  }
  // The first #PF injected: its run injects an exception.
  std::optional<EventRef> inj;
  for (const EventRef& r : t.OfType(KernelEventKind::InjException))
    if (t.At(r).a[0] == 14 && !inj) inj = r;
  ASSERT_TRUE(inj);
  const auto inj_path = PathOfEvent(t, *inj);
  ASSERT_TRUE(inj_path);
  EXPECT_TRUE(inj_path->exception);
  EXPECT_TRUE(inj_path->Visits(N::Exception));
  // An I/O run without faults: emulator, then out to the VMM with KVM_EXIT_IO.
  const auto io = PathOfEvent(t, t.ExitsWithReason(kKvmExitIo).back());
  ASSERT_TRUE(io);
  EXPECT_EQ(io->exit_reason, kKvmExitIo);
  EXPECT_TRUE(io->Visits(N::Emulate));
}

}  // namespace
}  // namespace kvmscope::traces

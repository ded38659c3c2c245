// Real BPF on the real kernel while the built-in VMM runs real guests: the
// kernel side of each KVM_RUN arrives, with stacks through the probe points,
// nothing is lost at normal rates, losses are counted when the ring is tiny.
// Needs root and /dev/kvm; skips with the reason elsewhere.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

#include "host_files.h"
#include "probes/session.h"
#include "support.h"
#include "traces/kvm_counters.h"
#include "vmm/catalog.h"
#include "vmm/machine.h"

namespace kvmscope {
namespace {

using traces::KernelEvent;
using traces::KernelEventKind;

#define KVMSCOPE_REQUIRE_BPF()                                               \
  do {                                                                       \
    KVMSCOPE_REQUIRE_KVM();                                                  \
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs"; \
  } while (0)

// The session's events in time order: each CPU has a ring buffer of its
// own, so a thread that moved between CPUs may arrive out of order.
class Collector {
 public:
  void Add(const KernelEvent& ev) {
    std::lock_guard lock(m_mutex);
    m_events.push_back(ev);
  }
  std::vector<KernelEvent> Of(KernelEventKind kind) const {
    std::vector<KernelEvent> out;
    for (const KernelEvent& e : All()) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  std::vector<KernelEvent> All() const {
    std::lock_guard lock(m_mutex);
    std::vector<KernelEvent> out = m_events;
    std::stable_sort(out.begin(), out.end(), [](const KernelEvent& a, const KernelEvent& b) {
      return a.time_ns < b.time_ns;
    });
    return out;
  }

 private:
  mutable std::mutex m_mutex;
  std::vector<KernelEvent> m_events;
};

struct Traced {
  vmm::Outcome outcome;
  std::vector<vmm::Event> vmm_exits;
  probes::KernelCounts counts;
  std::optional<vmm::KvmCounters> kvm;  // KVM's own counters, where it has them
};

// Records the VMM's events, then has the session make each KVM_RUN's
// entry where it leaves them to the VMM, as app/'s RunEntries does.
class EntryMaker : public vmm::Observer {
 public:
  EntryMaker(test::Recorder& rec, probes::Session& session) : m_rec(rec), m_session(session) {}
  void OnEvent(const vmm::Event& e) override {
    m_rec.OnEvent(e);
    if (e.kind == vmm::EventKind::RunEnter) m_session.MakeRunEnter(e.vcpu);
  }

 private:
  test::Recorder& m_rec;
  probes::Session& m_session;
};

// Runs a catalog guest with a session on this process.
Traced RunTraced(probes::Session& session, Collector& collector, const std::string& guest,
                 std::optional<uint64_t> param = std::nullopt) {
  test::Recorder rec;
  EntryMaker entries(rec, session);
  session.Start([&collector](const KernelEvent& ev) { collector.Add(ev); });
  const vmm::GuestInfo* g = vmm::FindGuest(guest);
  EXPECT_NE(g, nullptr);
  vmm::Machine machine(vmm::ConfigFor(*g, param), &entries);
  Traced t;
  t.outcome = machine.Run({});
  session.Stop();
  t.vmm_exits = rec.Of(vmm::EventKind::RunExit);
  t.counts = session.counts();
  std::string why_not;
  t.kvm = machine.ReadKvmStats(why_not);
  return t;
}

probes::SessionOptions ThisProcess() {
  probes::SessionOptions o;
  o.pid = static_cast<uint32_t>(getpid());
  return o;
}

std::vector<std::string> Names(const probes::Session& s, int32_t stack_id) {
  std::vector<std::string> names;
  for (uint64_t addr : s.stacks().Get(stack_id)) {
    const traces::Symbol* sym = s.symbols().Find(addr);
    names.push_back(sym ? sym->name : "?");
  }
  return names;
}

bool Has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(ProbesLive, PagefaultStacksPassThroughTheRunLoopTheHandlerAndTheMmu) {
  KVMSCOPE_REQUIRE_BPF();
  probes::Session session(ThisProcess());
  Collector c;
  Traced t = RunTraced(session, c, "pagefault");
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  const std::string& handler = session.capabilities().vendor_handler;
  ASSERT_FALSE(handler.empty()) << "no vendor exit handler in /proc/kallsyms";

  // Where the handler reaches kvm_mmu_page_fault by tail calls (SVM:
  // svm_handle_exit → svm_invoke_exit_handler → npf_interception →
  // kvm_mmu_page_fault are jumps in 6.1), its frame is gone from the stack;
  // then the handler's own probe must fire first on the same thread, with
  // no KVM_RUN edge between it and the fault's probe.
  bool through_all_three = false;
  bool through_tail_call = false;
  std::map<uint32_t, bool> in_handler;  // by thread: the handler's probe fired in this exit
  for (const KernelEvent& ev : c.All()) {
    if (ev.kind == KernelEventKind::ExitHandler) in_handler[ev.tid] = true;
    if (ev.kind == KernelEventKind::RunEnter || ev.kind == KernelEventKind::RunExit) {
      in_handler[ev.tid] = false;
    }
    if (ev.stack_id < 0) continue;
    std::vector<std::string> names = Names(session, ev.stack_id);
    if (!Has(names, "kvm_arch_vcpu_ioctl_run") || !Has(names, "kvm_mmu_page_fault")) continue;
    if (Has(names, handler)) through_all_three = true;
    if (ev.kind == KernelEventKind::MmuPageFault && in_handler[ev.tid]) through_tail_call = true;
  }
  EXPECT_TRUE(through_all_three || through_tail_call)
      << "no stack with kvm_arch_vcpu_ioctl_run, " << handler
      << " and kvm_mmu_page_fault, and no kvm_mmu_page_fault probe inside a " << handler
      << " probe's exit";

  std::vector<KernelEvent> injected = c.Of(KernelEventKind::InjException);
  EXPECT_TRUE(std::any_of(injected.begin(), injected.end(),
                          [](const KernelEvent& e) { return e.a[0] == 14; }))
      << "the guest's #PF was not seen as an injected exception with vector 14";
  EXPECT_GT(c.Of(KernelEventKind::MmuSetSpte).size(), 0u);
  EXPECT_EQ(t.counts.total_lost(), 0u);
}

TEST(ProbesLive, HelloKernelRunSpansMatchTheVmmExactly) {
  KVMSCOPE_REQUIRE_BPF();
  probes::Session session(ThisProcess());
  Collector c;
  Traced t = RunTraced(session, c, "hello");
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  ASSERT_GT(t.outcome.runs, 10u);
  EXPECT_EQ(c.Of(KernelEventKind::RunEnter).size(), t.outcome.runs);
  EXPECT_EQ(c.Of(KernelEventKind::RunExit).size(), t.outcome.runs);

  std::vector<KernelEvent> kernel_exits = c.Of(KernelEventKind::UserspaceExit);
  ASSERT_EQ(kernel_exits.size(), t.vmm_exits.size());
  for (size_t i = 0; i < kernel_exits.size(); ++i) {
    EXPECT_EQ(kernel_exits[i].a[0], t.vmm_exits[i].exit.reason) << "KVM_RUN #" << i;
    EXPECT_GE(static_cast<int64_t>(kernel_exits[i].time_ns), 0);
  }
  // Every kernel event of the VMM's vCPU thread lies inside a kernel span.
  std::vector<KernelEvent> enters = c.Of(KernelEventKind::RunEnter);
  std::vector<KernelEvent> exits = c.Of(KernelEventKind::RunExit);
  for (size_t i = 0; i < enters.size(); ++i) {
    EXPECT_LE(enters[i].time_ns, exits[i].time_ns);
    EXPECT_EQ(enters[i].tid, exits[i].tid);
  }
  EXPECT_EQ(t.counts.total_lost(), 0u);
  EXPECT_EQ(t.counts.total_received(), t.counts.total_seen());
}

// The raw tracepoint programs read the tracepoints' arguments themselves:
// the same guest traced through them and through perf gives the same port
// writes (port, size, value: the console's bytes), the same exits to the
// VMM and a KVM_RUN span for every run, ending with the same return
// values. (The vCPU's fd differs: the raw programs hold fds of their own.)
// The KVM_RUN edges come from the raw sys_enter only when asked (it runs on
// every system call of the machine), and for this process; their returns
// then come from kvm_userspace_exit (no program on every system call's
// exit), at its time, with the same values as the sys_exit edge's.
TEST(ProbesLive, RawTracepointsDeliverWhatThePerfOnesDo) {
  KVMSCOPE_REQUIRE_BPF();
  bool made = false;  // the raw run's KVM_RUN returns were made from kvm_userspace_exit
  auto trace = [&made](bool raw, std::vector<std::string>& attached_raw, bool raw_edges = true) {
    probes::SessionOptions o = ThisProcess();
    o.raw_tracepoints = raw;
    o.raw_syscall_edges = raw_edges;
    probes::Session session(o);
    attached_raw = session.plan().raw;
    // Where kprobes or fentry trace the run loop (the SVM test host), the
    // system-call edges are not used at all.
    const bool edges = session.plan().entry(probes::ProbePoint::RunLoop).mechanism ==
                       probes::Mechanism::Tracepoint;
    const bool taken = !session.plan().taken_from.empty();
    EXPECT_EQ(taken, edges && raw && raw_edges);
    if (raw && raw_edges) made = taken;
    Collector c;
    Traced t = RunTraced(session, c, "hello");
    EXPECT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
    EXPECT_EQ(t.counts.total_lost(), 0u);
    EXPECT_EQ(c.Of(KernelEventKind::RunEnter).size(), t.outcome.runs);
    EXPECT_EQ(c.Of(KernelEventKind::RunExit).size(), t.outcome.runs);
    EXPECT_EQ(t.counts.seen[static_cast<size_t>(KernelEventKind::RunExit)], t.outcome.runs);
    std::vector<std::array<uint64_t, 6>> fields;
    for (KernelEventKind k : {KernelEventKind::Pio, KernelEventKind::UserspaceExit}) {
      for (const KernelEvent& e : c.Of(k)) fields.push_back(e.a);
    }
    const std::vector<KernelEvent> exits = c.Of(KernelEventKind::UserspaceExit);
    const std::vector<KernelEvent> returns = c.Of(KernelEventKind::RunExit);
    for (size_t i = 0; i < returns.size(); ++i) {
      const KernelEvent& e = returns[i];
      fields.push_back({e.a[0], 0, 0, 0, 0, 0});  // KVM_RUN's return value
      if (edges) {
        EXPECT_EQ(e.a[2] & 0xff, taken ? traces::kRunFromUserspaceExit : traces::kRunFromSyscall);
      }
      if (!taken || i >= exits.size()) continue;
      EXPECT_EQ(e.time_ns, exits[i].time_ns);
      EXPECT_EQ(e.tid, exits[i].tid);
    }
    return fields;
  };
  std::vector<std::string> raw_names, perf_names, no_edge_names;
  std::vector<std::array<uint64_t, 6>> raw = trace(true, raw_names);
  std::vector<std::array<uint64_t, 6>> perf = trace(false, perf_names);
  EXPECT_TRUE(perf_names.empty());
  if (raw_names.empty()) GTEST_SKIP() << "this kernel attached no raw tracepoint";
  auto has = [](const std::vector<std::string>& names, const char* name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  EXPECT_TRUE(has(raw_names, "kvm:kvm_pio"));
  EXPECT_TRUE(has(raw_names, "syscalls:sys_enter_ioctl"));
  // Where the returns are made from kvm_userspace_exit, sys_exit has no program.
  EXPECT_NE(has(raw_names, "syscalls:sys_exit_ioctl"), made);
  ASSERT_GT(raw.size(), 10u);
  EXPECT_EQ(raw, perf);

  std::vector<std::array<uint64_t, 6>> perf_edges = trace(true, no_edge_names, false);
  EXPECT_TRUE(has(no_edge_names, "kvm:kvm_pio"));
  EXPECT_FALSE(has(no_edge_names, "syscalls:sys_enter_ioctl"));
  EXPECT_FALSE(has(no_edge_names, "syscalls:sys_exit_ioctl"));
  EXPECT_EQ(perf_edges, perf);

  // Another process's VM may be in KVM_RUN already when tracing starts: the
  // raw exit edge (which pairs nothing) is not used for it.
  probes::SessionOptions other = ThisProcess();
  other.pid = static_cast<uint32_t>(getppid());
  other.raw_syscall_edges = true;
  probes::Session session(other);
  EXPECT_TRUE(has(session.plan().raw, "kvm:kvm_pio"));
  EXPECT_FALSE(has(session.plan().raw, "syscalls:sys_exit_ioctl"));
  EXPECT_TRUE(session.plan().taken_from.empty());
}

// Links of raw tracepoint programs on the tracepoint `name` in the whole
// kernel, whoever attached them.
size_t RawTracepointLinks(const std::string& name) {
  size_t n = 0;
  for (uint32_t id = 0; bpf_link_get_next_id(id, &id) == 0;) {
    int fd = bpf_link_get_fd_by_id(id);
    if (fd < 0) continue;
    char tp_name[64] = {};
    bpf_link_info info = {};
    uint32_t len = sizeof info;
    info.raw_tracepoint.tp_name = reinterpret_cast<uint64_t>(tp_name);
    info.raw_tracepoint.tp_name_len = sizeof tp_name;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
        info.type == BPF_LINK_TYPE_RAW_TRACEPOINT && name == tp_name) {
      ++n;
    }
    close(fd);
  }
  return n;
}

// For kvmscope's own VM the VMM makes each KVM_RUN's entry, just before the
// call (run and the window do): no program then runs on the machine's
// system calls (the return comes from kvm_userspace_exit). The run loop at
// the system-call edge is forced, so that a host whose kprobes or fentry
// would trace it (the SVM test host) makes the entries too. Two vCPUs:
// each entry names its vCPU and is followed, on its thread, by that run's
// return, with the run's kvm_pio between.
TEST(ProbesLive, TheVmmMakesKvmRunEntriesAndNoProgramRunsOnSystemCalls) {
  KVMSCOPE_REQUIRE_BPF();
  const size_t others = RawTracepointLinks("sys_enter");
  probes::SessionOptions o = ThisProcess();
  o.attach = probes::AttachChoice::Tracepoint;
  o.raw_syscall_edges = true;
  {
    // Not asked to: the raw sys_enter edge is attached (the count can tell).
    probes::Session session(o);
    EXPECT_FALSE(session.run_enter_from_vmm());
    EXPECT_EQ(RawTracepointLinks("sys_enter"), others + 1);
  }
  {
    // Where kprobes or fentry trace the run loop, they give the entries.
    probes::SessionOptions automatic = o;
    automatic.attach = probes::AttachChoice::Auto;
    automatic.run_enter_from_vmm = true;
    probes::Session session(automatic);
    EXPECT_EQ(session.run_enter_from_vmm(),
              session.plan().entry(probes::ProbePoint::RunLoop).mechanism ==
                  probes::Mechanism::Tracepoint);
  }
  o.run_enter_from_vmm = true;
  probes::Session session(o);
  ASSERT_TRUE(session.run_enter_from_vmm());
  EXPECT_EQ(RawTracepointLinks("sys_enter"), others);
  EXPECT_EQ(session.plan().taken_from,
            (std::vector<std::string>{
                "syscalls:sys_enter_ioctl (from kvmscope's VMM, just before each KVM_RUN)",
                "syscalls:sys_exit_ioctl (from kvm:kvm_userspace_exit)"}));
  for (const std::string& raw : session.plan().raw) EXPECT_FALSE(raw.starts_with("syscalls:")) << raw;
  Collector c;
  Traced t = RunTraced(session, c, "pio-pair", 200);
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  EXPECT_EQ(c.Of(KernelEventKind::RunEnter).size(), t.outcome.runs);
  const size_t kEnter = static_cast<size_t>(KernelEventKind::RunEnter);
  EXPECT_EQ(t.counts.seen[kEnter], t.outcome.runs);
  EXPECT_EQ(t.counts.received[kEnter], t.outcome.runs);
  EXPECT_EQ(t.counts.total_lost(), 0u);
  std::map<uint32_t, int32_t> vcpu_of_tid;
  std::map<uint32_t, bool> in_run;  // per thread: an entry without its return yet
  for (const KernelEvent& e : c.All()) {
    if (e.kind == KernelEventKind::RunEnter) {
      EXPECT_EQ(e.a[2] & 0xff, traces::kRunFromVmm);
      EXPECT_EQ(e.pid, static_cast<uint32_t>(getpid()));
      const int32_t vcpu = traces::RunEdgeVcpuId(e.a);
      EXPECT_TRUE(vcpu == 0 || vcpu == 1) << vcpu;
      auto [it, added] = vcpu_of_tid.try_emplace(e.tid, vcpu);
      EXPECT_EQ(it->second, vcpu) << "thread " << e.tid << " ran two vCPUs";
      EXPECT_FALSE(in_run[e.tid]) << "two entries without a return between, thread " << e.tid;
      in_run[e.tid] = true;
    } else if (e.kind == KernelEventKind::RunExit) {
      EXPECT_TRUE(in_run[e.tid]) << "a return without its entry, thread " << e.tid;
      in_run[e.tid] = false;
    } else if (e.kind == KernelEventKind::Pio) {
      EXPECT_TRUE(in_run[e.tid]) << "kvm_pio outside a KVM_RUN span, thread " << e.tid;
    }
  }
  EXPECT_EQ(vcpu_of_tid.size(), 2u);
}

// KVM's other tracepoints as raw tracepoints, where this kernel's prototypes
// are the programs' (TracepointArgs): each guest that makes them records the
// same events through either kind of program. Only the shadow entry's value
// (it holds the host's page frame), what RDMSR reads and the hypercall's RDX
// (the TSC moves) differ between two runs, and how often timing repeats an
// injection or a walk, or makes an injection a reinjection.
TEST(ProbesLive, RawKvmTracepointsRecordWhatThePerfOnesDo) {
  KVMSCOPE_REQUIRE_BPF();
  using Fields = std::map<KernelEventKind, std::vector<std::array<uint64_t, 6>>>;
  auto trace = [](const std::string& guest, bool raw, std::vector<std::string>& attached_raw) {
    probes::SessionOptions o = ThisProcess();
    o.raw_tracepoints = raw;
    probes::Session session(o);
    attached_raw = session.plan().raw;
    Collector c;
    Traced t = RunTraced(session, c, guest);
    EXPECT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << guest << ": " << t.outcome.detail;
    EXPECT_EQ(t.counts.total_lost(), 0u) << guest;
    Fields fields;
    for (KernelEventKind k :
         {KernelEventKind::Mmio, KernelEventKind::InjException, KernelEventKind::InjVirq,
          KernelEventKind::Cpuid, KernelEventKind::Msr, KernelEventKind::Hypercall,
          KernelEventKind::MmuWalk, KernelEventKind::MmuSetSpte, KernelEventKind::MmuWalkerError}) {
      for (KernelEvent e : c.Of(k)) {
        if (k == KernelEventKind::MmuSetSpte) e.a[1] = 0;
        if (k == KernelEventKind::Msr && e.a[0] == 0) e.a[2] = 0;  // a read
        if (k == KernelEventKind::Hypercall) e.a[3] = 0;  // RDX: the cpuid guest's last TSC
        // Whether an injection is a reinjection (an exit came before the
        // guest took it) is timing: the SVM test host's CI saw #UD
        // reinjected in one run and not in the other.
        if (k == KernelEventKind::InjException) e.a[3] = 0;
        if (k == KernelEventKind::InjVirq) e.a[2] = 0;
        fields[k].push_back(e.a);
      }
    }
    // How often an exception or interrupt is injected again, and its
    // handler's page walked again, depends on timing (on the SVM test host
    // the timer's interrupt 4 or 5 times, #DE reinjected once or twice): the
    // distinct events are compared, not how many of each.
    for (auto& [kind, events] : fields) {
      std::sort(events.begin(), events.end());
      events.erase(std::unique(events.begin(), events.end()), events.end());
    }
    return fields;
  };
  std::set<KernelEventKind> seen;
  std::set<std::string> raw_attached;
  for (const char* guest : {"mmio", "cpuid", "exceptions", "timer", "pagefault"}) {
    std::vector<std::string> raw_names, perf_names;
    Fields raw = trace(guest, true, raw_names);
    Fields perf = trace(guest, false, perf_names);
    EXPECT_TRUE(perf_names.empty()) << guest;
    raw_attached.insert(raw_names.begin(), raw_names.end());
    for (const auto& [kind, events] : perf) {
      EXPECT_EQ(raw[kind], events) << guest << ": " << traces::KernelEventName(kind);
      if (!events.empty()) seen.insert(kind);
    }
  }
  if (!raw_attached.count("kvm:kvm_msr")) GTEST_SKIP() << "this kernel attached kvm_msr through perf";
  // The guests make these on every backend (PVM injects the timer's
  // interrupt without kvm_inj_virq).
  for (KernelEventKind k :
       {KernelEventKind::Mmio, KernelEventKind::InjException, KernelEventKind::Cpuid}) {
    EXPECT_TRUE(seen.count(k)) << traces::KernelEventName(k);
  }
  for (const char* name : {"kvm:kvm_mmio", "kvm:kvm_inj_exception", "kvm:kvm_inj_virq",
                           "kvm:kvm_cpuid", "kvm:kvm_hypercall", "kvmmmu:kvm_mmu_set_spte"}) {
    EXPECT_TRUE(raw_attached.count(name)) << name;
  }
}

TEST(ProbesLive, KprobeProgramsPassTheVerifierAndThePlanFallsBackWhenTheyCannotAttach) {
  KVMSCOPE_REQUIRE_BPF();
  probes::Session session(ThisProcess());
  EXPECT_TRUE(session.kprobes_verified());
  const probes::Capabilities& caps = session.capabilities();
  const probes::AttachPlan& plan = session.plan();
  ASSERT_TRUE(plan.usable());
  if (caps.kprobe_run.ok) {
    EXPECT_EQ(plan.entry(probes::ProbePoint::RunLoop).mechanism, probes::Mechanism::Kprobe);
  } else {
    EXPECT_NE(plan.entry(probes::ProbePoint::RunLoop).mechanism, probes::Mechanism::Kprobe);
    EXPECT_FALSE(plan.entry(probes::ProbePoint::RunLoop).passed.empty());
    EXPECT_NE(caps.kprobe_run.error, 0);
  }
  EXPECT_EQ(plan.entries.size(), 3u);
}

// At the default ring size an exit-heavy guest loses nothing, streaming
// every event. Each CPU writes a ring buffer of its own: pio-pair's two
// vCPUs exit at once on different CPUs, and every ring must be drained.
class ExitHeavy : public ::testing::TestWithParam<const char*> {};

TEST_P(ExitHeavy, AtTheDefaultSizeLosesNothingAndEveryCpusRingIsDrained) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.stream_budget = 0;  // every kvm_emulate_insn too (80,000 per vCPU under PVM)
  o.raw_syscall_edges = o.run_enter_from_vmm = true;  // as run traces its own VM
  probes::Session session(o);
  const probes::RingLayout rings = session.rings();
  EXPECT_EQ(rings.count, probes::RingLayoutFor(o.ring_bytes, sysconf(_SC_NPROCESSORS_ONLN)).count);
  Collector c;
  Traced t = RunTraced(session, c, GetParam(), 20'000);
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  EXPECT_EQ(t.counts.total_lost(), 0u);
  EXPECT_EQ(t.counts.total_received(), t.counts.total_seen());
  EXPECT_EQ(c.Of(KernelEventKind::RunEnter).size(), t.outcome.runs);
  EXPECT_EQ(c.Of(KernelEventKind::RunExit).size(), t.outcome.runs);
  EXPECT_EQ(c.Of(KernelEventKind::UserspaceExit).size(), t.outcome.runs);
  std::set<uint32_t> cpus;
  for (const KernelEvent& e : c.All()) cpus.insert(e.cpu);
  std::printf("%u ring(s) of %u bytes; events from %zu CPU(s)\n", rings.count, rings.bytes_each,
              cpus.size());
}

INSTANTIATE_TEST_SUITE_P(Guests, ExitHeavy, ::testing::Values("pio-loop", "pio-pair"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return info.param[4] == 'l' ? "PioLoop" : "PioPair";
                         });

TEST(ProbesLive, ATinyRingBufferLosesEventsAndCountsEveryOne) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.ring_bytes = 4096;
  o.stream_budget = 0;
  o.stacks = probes::StackMode::None;
  o.drain_period = std::chrono::milliseconds(200);
  probes::Session session(o);
  Collector c;
  Traced t = RunTraced(session, c, "pio-loop", 20'000);
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  EXPECT_GT(t.counts.total_lost(), 0u);
  EXPECT_EQ(t.counts.total_received() + t.counts.total_lost(), t.counts.total_seen());
  EXPECT_EQ(c.All().size(), t.counts.total_received());
}

// Two different stacks whose hashes fall in one bucket of the first stack
// map: the second is refused there and kept in the overflow map, so its
// call path keeps its stacks. With one bucket, every stack but the first
// collides: without the overflow map a run would have one distinct stack.
TEST(ProbesLive, StacksThatCollideInTheFirstMapAreKeptInTheSecond) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.stacks = probes::StackMode::All;
  o.stack_buckets = 1;
  probes::Session session(o);
  if (!session.plan().stacks_off.empty()) GTEST_SKIP() << session.plan().stacks_off;
  Collector c;
  Traced t = RunTraced(session, c, "pagefault");
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  EXPECT_GE(session.stacks().size(), 5u) << "distinct stacks";
  EXPECT_GT(t.counts.stacks_taken, t.counts.stacks_failed);
  size_t with_stack = 0;
  for (const KernelEvent& ev : c.All()) {
    if (ev.stack_id < 0) continue;
    ++with_stack;
    ASSERT_FALSE(session.stacks().Get(ev.stack_id).empty()) << "stack " << ev.stack_id;
  }
  EXPECT_GT(with_stack, 0u);
}

// The budget: the first N kvm_emulate_insn are streamed (all CPUs
// together), then the kernel only counts them; every other kind streams
// whole. With raw tracepoints a raw program counts them and the perf one is
// detached once the budget is spent; through perf alone, the perf program
// counts. Only where the backend emulates the guest's instructions (PVM:
// every one of them).
class StreamBudget : public ::testing::TestWithParam<bool> {};

TEST_P(StreamBudget, StreamsTheFirstEventsAndCountsTheRest) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.stream_budget = 100;
  o.raw_tracepoints = GetParam();
  probes::Session session(o);
  Collector c;
  // Long enough for the drain thread (every 10 ms) to see the budget spent.
  Traced t = RunTraced(session, c, "pio-loop", 20'000);
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  const size_t insn = static_cast<size_t>(KernelEventKind::EmulateInsn);
  if (t.counts.seen[insn] <= o.stream_budget) {
    GTEST_SKIP() << "this backend emulated " << t.counts.seen[insn]
                 << " guest instructions, not more than the budget (VMX/SVM run them in hardware)";
  }
  const std::vector<std::string>& counted_raw = session.plan().counted_raw;
  EXPECT_EQ(counted_raw, GetParam() ? std::vector<std::string>{"kvm:kvm_emulate_insn"}
                                    : std::vector<std::string>{});
  EXPECT_EQ(session.budget_detached(), GetParam());
  EXPECT_EQ(t.counts.total_lost(), 0u);
  EXPECT_TRUE(t.counts.CountedOnly(KernelEventKind::EmulateInsn));
  EXPECT_EQ(t.counts.stream_budget[insn], 100u);
  EXPECT_EQ(t.counts.received[insn], 100u);
  EXPECT_EQ(c.Of(KernelEventKind::EmulateInsn).size(), 100u);
  // Counted whole either way: KVM's own count of the VM's emulated
  // instructions (per vCPU), where this kernel keeps one.
  if (t.kvm && !t.kvm->vcpus.empty() && t.kvm->vcpus[0].count("insn_emulation")) {
    uint64_t kvm_count = 0;
    for (const auto& vcpu : t.kvm->vcpus) kvm_count += vcpu.at("insn_emulation");
    EXPECT_EQ(t.counts.seen[insn], kvm_count);
  }
  for (size_t k = 0; k < traces::kKernelEventKinds; ++k) {
    if (k == insn) continue;
    EXPECT_FALSE(t.counts.not_streamed[k]) << k;
    EXPECT_EQ(t.counts.stream_budget[k], 0u) << k;
    EXPECT_EQ(t.counts.received[k], t.counts.seen[k]) << k;
  }
  EXPECT_EQ(c.Of(KernelEventKind::RunExit).size(), t.outcome.runs);
}
// What `run` and the window do: with count_past_budget false nothing of
// kvm_emulate_insn stays attached past its budget (raw tracepoints or not),
// the kernel's count stops there, and KVM's own counters of the VM give it.
TEST_P(StreamBudget, DetachedWithItsBudgetKvmCountsTheRest) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.stream_budget = 100;
  o.raw_tracepoints = GetParam();
  o.count_past_budget = false;
  probes::Session session(o);
  Collector c;
  Traced t = RunTraced(session, c, "pio-loop", 20'000);
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  const size_t insn = static_cast<size_t>(KernelEventKind::EmulateInsn);
  std::optional<traces::KvmStatsRecord> kvm;
  if (t.kvm) kvm = traces::KvmStatsRecord{t.kvm->vm, t.kvm->vcpus, ""};
  const std::optional<uint64_t> emulated = kvm ? kvm->Total("insn_emulation") : std::nullopt;
  if (!emulated || *emulated <= o.stream_budget) {
    GTEST_SKIP() << "KVM emulated " << emulated.value_or(0)
                 << " guest instructions, not more than the budget (VMX/SVM run them in hardware)";
  }
  EXPECT_TRUE(session.plan().counted_raw.empty());
  EXPECT_EQ(session.plan().detached_at_budget, std::vector<std::string>{"kvm:kvm_emulate_insn"});
  EXPECT_TRUE(session.budget_detached());
  EXPECT_EQ(t.counts.received[insn], 100u);
  EXPECT_EQ(c.Of(KernelEventKind::EmulateInsn).size(), 100u);
  EXPECT_TRUE(t.counts.CountedOnly(KernelEventKind::EmulateInsn));
  EXPECT_EQ(t.counts.SeenByOf(KernelEventKind::EmulateInsn), traces::SeenBy::UntilBudget);
  EXPECT_GE(t.counts.seen[insn], 100u);
  EXPECT_LT(t.counts.seen[insn], *emulated);  // 80,000: the kernel stopped counting
  probes::KernelCounts filled = t.counts;
  traces::CountFromKvmStats(filled, *kvm);
  EXPECT_EQ(filled.SeenByOf(KernelEventKind::EmulateInsn), traces::SeenBy::KvmStatistics);
  EXPECT_EQ(filled.seen[insn], *emulated + kvm->Total("insn_emulation_fail").value_or(0));
  EXPECT_EQ(c.Of(KernelEventKind::RunExit).size(), t.outcome.runs);
}

INSTANTIATE_TEST_SUITE_P(RawOrPerf, StreamBudget, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "RawCounter" : "PerfOnly"; });

// The sum CountFromKvmStats takes, checked on this kernel: kvm_emulate_insn
// fires once per instruction KVM starts to emulate (insn_emulation) and once
// more per failure (insn_emulation_fail). The exceptions guest's 64-bit
// iretq fails emulation under PVM (which then completes it): 6 of them.
TEST(ProbesLive, KvmEmulateInsnCountsWhatKvmCountsStartedAndFailed) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.stream_budget = 0;
  probes::Session session(o);
  Collector c;
  Traced t = RunTraced(session, c, "exceptions");
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  if (!t.kvm || t.kvm->vcpus.empty() || !t.kvm->vcpus[0].count("insn_emulation_fail")) {
    GTEST_SKIP() << "this kernel has no insn_emulation/insn_emulation_fail counters";
  }
  const uint64_t started = t.kvm->vcpus[0].at("insn_emulation");
  const uint64_t failed = t.kvm->vcpus[0].at("insn_emulation_fail");
  const uint64_t events = c.Of(KernelEventKind::EmulateInsn).size();
  EXPECT_EQ(events, started + failed) << started << " started, " << failed << " failed";
}

// Under the budget nothing is held back, and nothing is said to be.
TEST(ProbesLive, UnderItsBudgetAGuestStreamsEveryEvent) {
  KVMSCOPE_REQUIRE_BPF();
  probes::Session session(ThisProcess());
  Collector c;
  Traced t = RunTraced(session, c, "hello");
  ASSERT_EQ(t.outcome.verdict, vmm::Verdict::Passed) << t.outcome.detail;
  EXPECT_EQ(t.counts.total_received(), t.counts.total_seen());
  EXPECT_EQ(t.counts.not_streamed, decltype(t.counts.not_streamed){});
  EXPECT_EQ(t.counts.stream_budget, decltype(t.counts.stream_budget){});
}

TEST(ProbesLive, BadRingSizesAreRefusedWithAReason) {
  probes::SessionOptions o = ThisProcess();
  o.ring_bytes = 5000;
  try {
    probes::Session session(o);
    FAIL() << "a ring of 5000 bytes was accepted";
  } catch (const probes::ProbeError& e) {
    EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kvmscope

namespace kvmscope {
namespace {
// Read after attaching, the symbols know the session's own BPF programs (when
// the kernel lists JITed programs in kallsyms: net.core.bpf_jit_kallsyms) and
// every symbol has an end past its start.
TEST(ProbesLive, SymbolsAreReadAfterAttachingAndBounded) {
  KVMSCOPE_REQUIRE_BPF();
  probes::SessionOptions o = ThisProcess();
  o.attach = probes::AttachChoice::Tracepoint;
  probes::Session session(o);
  EXPECT_EQ(session.plan().requested, probes::AttachChoice::Tracepoint);
  EXPECT_EQ(session.host_facts().plan->requested, "tracepoint");
  const traces::SymbolTable& symbols = session.symbols();
  ASSERT_GT(symbols.size(), 1000u);
  for (const traces::Symbol& s : symbols.symbols()) ASSERT_GT(s.end, s.addr) << s.name;
  std::ifstream jit("/proc/sys/net/core/bpf_jit_kallsyms");
  int listed = 0;
  if (!(jit >> listed) || listed == 0) {
    GTEST_SKIP() << "BPF programs are not in /proc/kallsyms here (net.core.bpf_jit_kallsyms)";
  }
  EXPECT_TRUE(symbols.Has("[bpf program run_sys_enter]"));
}
}  // namespace
}  // namespace kvmscope

namespace kvmscope {
namespace {
using test::CpuinfoHasHypervisorFlag;
using test::FileText;

// The platform follows this host's cpuinfo and DMI: without the hypervisor
// flag or an emulator's firmware it is bare metal; with the flag it is a VM
// or an emulator; Bochs's firmware makes it Bochs. Here (PVM inside a KVM
// VM, no DMI tables) that is "virtual machine (KVM)"; in the test hosts
// (scripts/test-host.sh) "emulator (QEMU TCG)" and "emulator (Bochs)".
TEST(ProbesLive, ThePlatformIsWhatThisHostsCpuinfoAndDmiSay) {
  const probes::Platform p = probes::DetectPlatform();
  const bool flag = CpuinfoHasHypervisorFlag();
  const std::string dmi = "/sys/class/dmi/id";
  const bool has_dmi = std::filesystem::is_directory(dmi);
  const std::string firmware = FileText(dmi + "/sys_vendor") + " " + FileText(dmi + "/product_name") +
                               " " + FileText(dmi + "/bios_vendor");
  const bool bochs = firmware.find("Bochs") != std::string::npos;
  const bool qemu = firmware.find("QEMU") != std::string::npos;
  SCOPED_TRACE("platform: " + p.name + " — " + p.evidence);
  EXPECT_NE(p.evidence.find(flag ? "cpuinfo: hypervisor flag" : "cpuinfo: no hypervisor flag"),
            std::string::npos);
  EXPECT_EQ(p.evidence.find("DMI: none") != std::string::npos, !has_dmi);
  if (bochs && !flag) {
    EXPECT_EQ(p.name, "emulator (Bochs)");
  } else if (flag) {
    EXPECT_TRUE(p.name.starts_with("virtual machine") || p.name.starts_with("emulator"));
  } else if (!qemu) {
    EXPECT_EQ(p.name, "bare metal");
  }
  // PVM runs inside a KVM guest on these machines (MACHINE.md).
  if (std::filesystem::exists("/sys/module/kvm_pvm") && flag && !qemu && !bochs) {
    EXPECT_TRUE(p.name.starts_with("virtual machine"));
  }
}

// Every parameter file that exists is recorded with its value, and no other.
TEST(ProbesLive, TheModuleParametersAreThisHostsFiles) {
  const std::map<std::string, std::string> params = probes::KvmModuleParams();
  size_t present = 0;
  for (const test::KvmParamFile& p : test::KvmParamFiles()) {
    const std::string& name = p.name;
    const std::string& file = p.file;
    if (!std::filesystem::exists(file)) {
      EXPECT_EQ(params.count(name), 0u) << name;
      continue;
    }
    ++present;
    EXPECT_EQ(params.count(name) ? params.at(name) : "(absent)", FileText(file)) << name;
  }
  EXPECT_EQ(params.size(), present);
}

// The trace's host facts carry both.
TEST(ProbesLive, HostFactsRecordThePlatformAndTheModuleParameters) {
  KVMSCOPE_REQUIRE_BPF();
  probes::Session session(ThisProcess());
  const traces::HostFacts h = session.host_facts();
  EXPECT_EQ(h.platform, probes::DetectPlatform().name);
  EXPECT_FALSE(h.platform_evidence.empty());
  EXPECT_EQ(h.module_params, probes::KvmModuleParams());
  EXPECT_EQ(h.Emulated(), h.platform.starts_with("emulator"));
}
}  // namespace
}  // namespace kvmscope

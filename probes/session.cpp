// The loader: open → set rodata → load → attach by trying → plan → arm, and
// the thread that drains the ring buffer. libbpf stays inside this file.
#include "probes/session.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_map>

#include "fentry_probe.skel.h"
#include "kvm_trace.skel.h"
#include "probes/convert.h"
#include "probes/libbpf_log.h"

namespace kvmscope::probes {

std::string_view StackModeName(StackMode mode) {
  switch (mode) {
    case StackMode::None: return "none";
    case StackMode::New: return "new";
    case StackMode::All: return "all";
  }
  return "?";
}


namespace {

Try Failed(int err, std::string reason) { return Try{false, err, std::move(reason)}; }

// SessionOptions::stream_kinds (bits of traces::KernelEventKind) as the BPF
// object's stream_mask (bits of enum kvmscope_kind).
uint32_t StreamMask(uint32_t stream_kinds) {
  uint32_t mask = 0;
  for (uint32_t raw = 0; raw < KS_KIND_COUNT; ++raw) {
    std::optional<traces::KernelEventKind> kind = KindFromRaw(raw);
    if (kind && (stream_kinds & StreamBit(*kind))) mask |= 1u << raw;
  }
  return mask;
}

// A tracepoint program of the object and the event it belongs to, with the
// raw-tracepoint program of the same event where there is one (preferred:
// cheaper per event; the perf program is the fallback).
struct TracepointProgram {
  std::string_view name;  // "kvm:kvm_pio"
  bpf_program* prog;
  bpf_program* raw = nullptr;
  // The arguments `raw` reads, as TracepointArgs writes them: it is used
  // only where the running kernel's are the same.
  std::string_view raw_args = {};
  // A raw program that only counts the event (kind `counted`), for a kind
  // that is budgeted or not streamed: `prog` then streams the budget only.
  bpf_program* counter = nullptr;
  uint32_t counted = KS_KIND_COUNT;  // enum kvmscope_kind
  // `raw` runs on every system call of the machine: attached only with
  // SessionOptions::raw_syscall_edges.
  bool every_syscall = false;
};

}  // namespace

struct Session::Impl {
  SessionOptions options;
  std::string tracefs;
  traces::SymbolTable symbols;
  std::set<std::string, std::less<>> functions;  // the probe points /proc/kallsyms lists
  traces::StackTable stacks;
  Capabilities caps;
  AttachPlan plan;
  bool kprobes_verified = false;
  TracepointArgs kernel_args;  // the running kernel's tracepoint prototypes, read on first use

  kvm_trace_bpf* skel = nullptr;
  std::vector<bpf_link*> links;
  // The perf program of a kind a raw program counts, streaming its budget:
  // detached by the drain thread (on a thread of its own, an RCU grace
  // period) once the budget is spent, or by Stop().
  std::atomic<bpf_link*> budget_link{nullptr};
  uint32_t budget_kind = KS_KIND_COUNT;  // its enum kvmscope_kind
  std::atomic<bool> budget_detached{false};
  // KVM_RUN's return made from kvm_userspace_exit (traces::kRunFromUserspaceExit)
  // instead of a program on every system call's exit: set before the drain
  // thread starts.
  bool run_exit_from_userspace_exit = false;
  // KVM_RUN's entry made by the caller's VMM (MakeRunEnter, traces::kRunFromVmm)
  // instead of a program on every system call's entry: set before Start().
  bool run_enter_from_vmm = false;
  // Between Start() and Stop(): MakeRunEnter delivers. Read on every
  // KVM_RUN by the vCPU threads: on a cache line of its own, and the count
  // of made entries on one per vCPU slot, away from what the drain thread
  // writes (`received`: sharing its line cost each KVM_RUN a cache miss and
  // a contended lock add, 1.4% of pio-pair's vCPU time).
  alignas(64) std::atomic<bool> taking_entries{false};
  struct alignas(64) MadeEntries {
    std::atomic<uint64_t> n{0};
  };
  std::array<MadeEntries, 16> made_entries{};  // by vcpu_id % 16
  std::thread budget_detach;
  RingLayout rings;
  std::vector<int> ring_fds;  // the ring buffer maps, by slot
  ring_buffer* ring = nullptr;
  std::thread drain;
  std::atomic<bool> stopping{false};
  bool stopped = false;
  Sink sink;

  std::unordered_map<int32_t, int32_t> stack_ids;  // BPF stack id → StackTable id
  // Written by the drain thread, read by counts() at any time.
  std::array<std::atomic<uint64_t>, traces::kKernelEventKinds> received{};
  // Per kind: its stream budget (0: none), and what came past it from the
  // ring buffer (two CPUs passing the budget's last slot at once): dropped,
  // so that exactly the budget is delivered.
  std::array<uint64_t, traces::kKernelEventKinds> budget{};
  std::array<std::atomic<uint64_t>, traces::kKernelEventKinds> dropped{};

  ~Impl() {
    if (budget_detach.joinable()) budget_detach.join();
    if (bpf_link* l = budget_link.exchange(nullptr)) bpf_link__destroy(l);
    for (bpf_link* l : links) bpf_link__destroy(l);
    ring_buffer__free(ring);
    for (int fd : ring_fds) close(fd);
    kvm_trace_bpf__destroy(skel);
  }

  std::vector<TracepointProgram> TracepointPrograms() const {
    auto* p = &skel->progs;
    return {
        {"syscalls:sys_enter_ioctl", p->run_sys_enter, p->raw_sys_enter, "p8", nullptr,
         KS_KIND_COUNT, true},
        {"syscalls:sys_exit_ioctl", p->run_sys_exit, p->raw_sys_exit, "p8", nullptr,
         KS_KIND_COUNT, true},
        {"kvm:kvm_entry", p->tp_kvm_entry},
        {"kvm:kvm_exit", p->tp_kvm_exit},
        {"kvm:kvm_userspace_exit", p->tp_kvm_userspace_exit, p->raw_kvm_userspace_exit, "44"},
        {"kvm:kvm_pio", p->tp_kvm_pio, p->raw_kvm_pio, "4444p"},
        {"kvm:kvm_mmio", p->tp_kvm_mmio, p->raw_kvm_mmio, "448p"},
        {"kvm:kvm_emulate_insn", p->tp_kvm_emulate_insn, nullptr, "", p->count_kvm_emulate_insn,
         KS_EMULATE_INSN},
        {"kvm:kvm_inj_exception", p->tp_kvm_inj_exception, p->raw_kvm_inj_exception, "4141"},
        {"kvm:kvm_inj_virq", p->tp_kvm_inj_virq, p->raw_kvm_inj_virq, "411"},
        {"kvm:kvm_cpuid", p->tp_kvm_cpuid, p->raw_kvm_cpuid, "44888811"},
        {"kvm:kvm_msr", p->tp_kvm_msr, p->raw_kvm_msr, "4481"},
        {"kvm:kvm_hypercall", p->tp_kvm_hypercall, p->raw_kvm_hypercall, "88888"},
        {"kvm:kvm_page_fault", p->tp_kvm_page_fault},
        {"kvmmmu:kvm_mmu_pagetable_walk", p->tp_kvm_mmu_pagetable_walk,
         p->raw_kvm_mmu_pagetable_walk, "84"},
        {"kvmmmu:kvm_mmu_set_spte", p->tp_kvm_mmu_set_spte, p->raw_kvm_mmu_set_spte, "48p"},
        {"kvmmmu:kvm_mmu_walker_error", p->tp_kvm_mmu_walker_error,
         p->raw_kvm_mmu_walker_error, "4"},
    };
  }

  bool Streamed(traces::KernelEventKind kind) const { return options.stream_kinds & StreamBit(kind); }
  bool Budgeted(traces::KernelEventKind kind) const {
    return options.stream_budget > 0 && (options.budget_kinds & StreamBit(kind));
  }
  bool Streamed(uint32_t raw_kind) const {
    std::optional<traces::KernelEventKind> kind = KindFromRaw(raw_kind);
    return kind && Streamed(*kind);
  }
  bool Budgeted(uint32_t raw_kind) const {
    std::optional<traces::KernelEventKind> kind = KindFromRaw(raw_kind);
    return kind && Budgeted(*kind);
  }
  // Whether the tracepoint's raw program is tried before its perf one.
  bool WantsRaw(const TracepointProgram& t) const {
    // The raw KVM_RUN edges pair nothing (kvm_trace.bpf.c): only for this
    // process's own VM, whose first KVM_RUN comes after Start().
    return t.raw && options.raw_tracepoints &&
           (!t.every_syscall ||
            (options.raw_syscall_edges && options.pid == static_cast<uint32_t>(getpid())));
  }
  // Whether this kernel's tracepoint gives `t.raw` the arguments it reads
  // (the prototypes differ between kernel versions); if not, the reason
  // goes to the tracepoint's `state` and the perf program is used.
  bool RawArgsMatch(const TracepointProgram& t, TracepointState& state) {
    std::string_view section = bpf_program__section_name(t.raw);  // "raw_tp/kvm_msr"
    std::string args = kernel_args.Of(section.substr(section.find('/') + 1));
    if (args == t.raw_args) return true;
    state.raw_refused =
        fmt::format("its arguments here are {} (integer sizes, p: pointer), the raw program "
                    "reads {}",
                    args.empty() ? "not in the kernel's BTF" : args, t.raw_args);
    return false;
  }
  // A raw program counts a kind that is not streamed, or streamed only up to
  // a budget (its perf program then streams the budget and is detached).
  bool CountedRaw(const TracepointProgram& t) const {
    return t.counter && options.raw_tracepoints &&
           (!Streamed(t.counted) || (Budgeted(t.counted) && options.count_past_budget));
  }
  // A streamed, budgeted kind nothing counts past its budget: its program
  // is detached with the budget.
  bool DetachedAtBudget(const TracepointProgram& t) const {
    return Streamed(t.counted) && Budgeted(t.counted) && !options.count_past_budget;
  }

  // Whether KVM_RUN's return may come from kvm_userspace_exit rather than
  // the raw sys_exit edge: the same process's raw edges, the run loop
  // traced at the system-call edge (not by kprobe or fentry: caps.kprobe_run
  // and caps.fentry are known by then), both kinds streamed whole (no
  // budget, so every return has its userspace exit).
  bool RunExitFromUserspaceExit(const TracepointProgram& t) const {
    using K = traces::KernelEventKind;
    return t.name == "syscalls:sys_exit_ioctl" && WantsRaw(t) &&
           RunLoopAtSyscallEdge(caps, options.attach) && Streamed(K::RunExit) &&
           Streamed(K::UserspaceExit) && !Budgeted(K::RunExit) && !Budgeted(K::UserspaceExit);
  }

  // Whether KVM_RUN's entry may come from the caller's VMM rather than the
  // raw sys_enter edge: asked for, the same process's raw edges, the run
  // loop traced at the system-call edge, its entries streamed whole.
  bool RunEnterFromVmm(const TracepointProgram& t) const {
    using K = traces::KernelEventKind;
    return t.name == "syscalls:sys_enter_ioctl" && options.run_enter_from_vmm && WantsRaw(t) &&
           RunLoopAtSyscallEdge(caps, options.attach) && Streamed(K::RunEnter) &&
           !Budgeted(K::RunEnter);
  }

  void DetectHost() {
    caps.kernel_release = KernelRelease();
    tracefs = EnsureTracefs();
    bool hidden = false;
    // Only the probe points' names now: the whole table is read once, after
    // attaching (Session::Session).
    std::vector<std::string> names = {"kvm_arch_vcpu_ioctl_run", "kvm_mmu_page_fault"};
    for (Backend b : {Backend::Vmx, Backend::Svm, Backend::Pvm}) {
      names.emplace_back(VendorHandler(b));
    }
    functions = KallsymsFunctions(names, &hidden);
    if (hidden) caps.kernel_addresses_hidden = HiddenAddressesWhy();
    caps.backend = BackendFromFunctions(functions);
    caps.vendor_handler = std::string(VendorHandler(caps.backend));
    caps.mmu_page_fault_symbol = functions.contains("kvm_mmu_page_fault");
    struct stat st;
    caps.btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;
  }

  // fentry is tried with a program of its own: a failing fentry program in
  // the main object would fail the whole load.
  void TryFentry() {
    if (!caps.btf) {
      caps.fentry = Failed(ENOENT, FentryRefusal(ENOENT, "kvm_arch_vcpu_ioctl_run", ""));
      return;
    }
    fentry_probe_bpf* probe = fentry_probe_bpf__open_and_load();
    if (probe) {
      caps.fentry = Try{true, 0, "loaded"};
      fentry_probe_bpf__destroy(probe);
    } else {
      int err = errno;
      caps.fentry = Failed(err, FentryRefusal(err, "kvm_arch_vcpu_ioctl_run", TakeLibbpfLog()));
    }
    TakeLibbpfLog();
  }

  void Load() {
    skel = kvm_trace_bpf__open();
    if (!skel) {
      int err = errno;
      throw ProbeError(fmt::format("opening the BPF object failed: {}\n{}", Describe(err),
                                   TakeLibbpfLog()));
    }
    skel->rodata->targ_tgid = options.pid;
    if (options.uid) {
      skel->rodata->filter_uid = true;
      skel->rodata->targ_uid = *options.uid;
    }
    skel->rodata->stream_mask = StreamMask(options.stream_kinds);
    if (options.stream_budget > 0) {
      skel->rodata->budget_mask = StreamMask(options.budget_kinds);
      skel->rodata->stream_budget = options.stream_budget;
    }
    // Stacks that could not be named are not taken (the plan says why).
    if (!caps.kernel_addresses_hidden.empty()) options.stacks = StackMode::None;
    skel->rodata->stack_mode = options.stacks == StackMode::None  ? KS_STACKS_NONE
                               : options.stacks == StackMode::All ? KS_STACKS_ALL
                                                                  : KS_STACKS_NEW;
    if (options.stack_buckets) bpf_map__set_max_entries(skel->maps.stacks, options.stack_buckets);
    rings = RingLayoutFor(options.ring_bytes, sysconf(_SC_NPROCESSORS_ONLN));
    skel->rodata->ring_count = rings.count;
    MakeRings();
    // The first ring is the slots' template (libbpf 1.1 cannot resize the
    // object's own inner map).
    bpf_map__set_max_entries(skel->maps.events, rings.count);
    if (int err = bpf_map__set_inner_map_fd(skel->maps.events, ring_fds.front()); err) {
      throw ProbeError(fmt::format("the ring buffers ({} of {} bytes) cannot be used: {}",
                                   rings.count, rings.bytes_each, Describe(-err)));
    }
    bool fentry = caps.fentry.ok && (options.attach == AttachChoice::Auto ||
                                     options.attach == AttachChoice::Fentry);
    bpf_program__set_autoload(skel->progs.run_fentry, fentry);
    bpf_program__set_autoload(skel->progs.run_fexit, fentry);
    bpf_program__set_autoload(skel->progs.mmu_pf_fentry, fentry && caps.mmu_page_fault_symbol);
    bool handler_fentry = fentry && !caps.vendor_handler.empty();
    bpf_program__set_autoload(skel->progs.handler_fentry, handler_fentry);
    if (handler_fentry) {
      bpf_program__set_attach_target(skel->progs.handler_fentry, 0, caps.vendor_handler.c_str());
    }
    // A tracepoint this kernel lacks has no context type to relocate against.
    for (const TracepointProgram& t : TracepointPrograms()) {
      bool exists = TracepointExists(tracefs, t.name);
      TracepointState& state =
          caps.tracepoints.emplace_back(TracepointState{std::string(t.name), exists, {}});
      bpf_program__set_autoload(t.prog, exists);
      if (t.raw) bpf_program__set_autoload(t.raw, exists && WantsRaw(t) && RawArgsMatch(t, state));
      if (t.counter) bpf_program__set_autoload(t.counter, exists && CountedRaw(t));
    }
    if (int err = kvm_trace_bpf__load(skel); err) {
      int e = -err;
      std::string log = TakeLibbpfLog();
      bool verifier = log.find("PROG LOAD LOG") != std::string::npos;
      std::string hint = verifier ? "the verifier refused a program (a kvmscope bug on this "
                                    "kernel: please report the log below)"
                         : e == EPERM || e == EACCES
                             ? "loading BPF programs needs root (or CAP_BPF, CAP_PERFMON and "
                               "CAP_SYS_RESOURCE): run kvmscope as root, or use --no-probes"
                             : "see the libbpf messages below";
      throw ProbeError(fmt::format("loading the BPF programs failed: {}: {}\n{}", Describe(e),
                                   hint, log));
    }
    PlaceRings();
    kprobes_verified = bpf_program__fd(skel->progs.run_kprobe) >= 0 &&
                       bpf_program__fd(skel->progs.handler_kprobe) >= 0 &&
                       bpf_program__fd(skel->progs.mmu_pf_kprobe) >= 0;
  }

  // One ring buffer per slot of `events` (the programs look their CPU's
  // up): made before loading, put in their slots after.
  void MakeRings() {
    for (uint32_t slot = 0; slot < rings.count; ++slot) {
      int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "kvmscope_ring", 0, 0, rings.bytes_each,
                              nullptr);
      if (fd < 0) {
        int err = errno;
        throw ProbeError(fmt::format("creating ring buffer {} of {} ({} bytes) failed: {}",
                                     slot + 1, rings.count, rings.bytes_each, Describe(err)));
      }
      ring_fds.push_back(fd);
    }
  }
  void PlaceRings() {
    const int outer = bpf_map__fd(skel->maps.events);
    for (uint32_t slot = 0; slot < rings.count; ++slot) {
      if (bpf_map_update_elem(outer, &slot, &ring_fds[slot], BPF_ANY) != 0) {
        int err = errno;
        throw ProbeError(fmt::format("putting ring buffer {} in place failed: {}", slot + 1,
                                     Describe(err)));
      }
    }
  }

  // Attaches `progs` (program, is-kretprobe) on `function` into `out`: all
  // or nothing.
  Try TryKprobe(std::initializer_list<std::pair<bpf_program*, bool>> progs,
                const std::string& function, std::vector<bpf_link*>& out) {
    for (auto [prog, ret] : progs) {
      bpf_link* link = bpf_program__attach_kprobe(prog, ret, function.c_str());
      if (!link) {
        int err = errno;
        Keep(out, false);
        TakeLibbpfLog();
        std::string why = KprobeRefusal(err, function, functions.contains(function));
        if (ret) why.replace(0, 6, "kretprobe");  // "kprobe on ..." → "kretprobe on ..."
        return Failed(err, std::move(why));
      }
      out.push_back(link);
    }
    return Try{true, 0, "attached"};
  }

  // Moves `tried` into the session's links, or detaches them.
  void Keep(std::vector<bpf_link*>& tried, bool keep) {
    for (bpf_link* l : tried) {
      if (keep) {
        links.push_back(l);
      } else {
        bpf_link__destroy(l);
      }
    }
    tried.clear();
  }

  void AttachFentry(bpf_program* prog) {
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err = errno;
      throw ProbeError(fmt::format("{} loaded but attaching it failed: {}\n{}",
                                   bpf_program__name(prog), Describe(err), TakeLibbpfLog()));
    }
    links.push_back(link);
  }

  // Tries every mechanism, records the outcome in `caps`, lets PlanAttach
  // decide, then keeps only what the plan uses (one source of KVM_RUN spans).
  void AttachByPlan() {
    std::vector<bpf_link*> run_kprobes, handler_kprobe, mmu_kprobe;
    caps.kprobe_run = TryKprobe({{skel->progs.run_kprobe, false}, {skel->progs.run_kretprobe, true}},
                                "kvm_arch_vcpu_ioctl_run", run_kprobes);
    caps.kprobe_handler =
        caps.vendor_handler.empty()
            ? Failed(ENOENT, "no vendor exit handler in /proc/kallsyms")
            : TryKprobe({{skel->progs.handler_kprobe, false}}, caps.vendor_handler, handler_kprobe);
    caps.kprobe_mmu = caps.mmu_page_fault_symbol
                          ? TryKprobe({{skel->progs.mmu_pf_kprobe, false}}, "kvm_mmu_page_fault",
                                      mmu_kprobe)
                          : Failed(ENOENT, "no kvm_mmu_page_fault in /proc/kallsyms");
    std::vector<bpf_link*> syscall_links, tracepoint_links;
    std::vector<TracepointProgram> programs = TracepointPrograms();
    // sys_exit_ioctl comes last where kvm_userspace_exit may stand in for
    // it: its program is attached only if that one did not attach.
    auto stand_in = [&](size_t i) { return RunExitFromUserspaceExit(programs[i]); };
    std::vector<size_t> order(programs.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_partition(order.begin(), order.end(), [&](size_t i) { return !stand_in(i); });
    for (size_t i : order) {
      TracepointState& state = caps.tracepoints[i];
      if (!state.exists) continue;
      if (stand_in(i) && caps.TracepointWorks("kvm:kvm_userspace_exit")) {
        state.taken_from = "kvm:kvm_userspace_exit";
        state.attach = Try{true, 0, "attached"};
        continue;
      }
      if (RunEnterFromVmm(programs[i])) {
        state.taken_from = kRunEnterFromVmm;
        state.attach = Try{true, 0, "made by the VMM"};
        continue;
      }
      if (CountedRaw(programs[i])) {
        if (bpf_link* counter = bpf_program__attach(programs[i].counter)) {
          state.counted_raw = true;
          skel->bss->counted_raw |= 1u << programs[i].counted;
          tracepoint_links.push_back(counter);
        } else {
          TakeLibbpfLog();  // the perf program counts it instead
        }
      }
      if (state.counted_raw && !Streamed(programs[i].counted)) {
        state.attach = Try{true, 0, "attached"};
        continue;
      }
      const bool raw_loaded = programs[i].raw && bpf_program__fd(programs[i].raw) >= 0;
      bpf_link* link = raw_loaded ? bpf_program__attach(programs[i].raw) : nullptr;
      state.raw = link != nullptr;
      if (!link) {
        TakeLibbpfLog();
        link = bpf_program__attach(programs[i].prog);
      }
      if (!link) {
        int err = errno;
        state.attach = Failed(err, fmt::format("attach failed: {}", Describe(err)));
        TakeLibbpfLog();
        continue;
      }
      state.attach = Try{true, 0, "attached"};
      state.detached_at_budget = DetachedAtBudget(programs[i]);
      if (state.counted_raw || state.detached_at_budget) {
        budget_kind = programs[i].counted;
        budget_link = link;
        continue;
      }
      (programs[i].name.starts_with("syscalls:") ? syscall_links : tracepoint_links).push_back(link);
    }
    plan = PlanAttach(caps, options.attach);

    Mechanism run = plan.entry(ProbePoint::RunLoop).mechanism;
    Keep(run_kprobes, run == Mechanism::Kprobe);
    Keep(syscall_links, run == Mechanism::Tracepoint);
    const TracepointState* exit = caps.Tracepoint("syscalls:sys_exit_ioctl");
    run_exit_from_userspace_exit = run == Mechanism::Tracepoint && exit && !exit->taken_from.empty();
    const TracepointState* enter = caps.Tracepoint("syscalls:sys_enter_ioctl");
    run_enter_from_vmm = run == Mechanism::Tracepoint && enter && !enter->taken_from.empty();
    Keep(handler_kprobe, plan.entry(ProbePoint::ExitHandler).mechanism == Mechanism::Kprobe);
    Keep(mmu_kprobe, plan.entry(ProbePoint::MmuPageFault).mechanism == Mechanism::Kprobe);
    Keep(tracepoint_links, true);
    if (run == Mechanism::Fentry) {
      AttachFentry(skel->progs.run_fentry);
      AttachFentry(skel->progs.run_fexit);
    }
    if (plan.entry(ProbePoint::ExitHandler).mechanism == Mechanism::Fentry) {
      AttachFentry(skel->progs.handler_fentry);
    }
    if (plan.entry(ProbePoint::MmuPageFault).mechanism == Mechanism::Fentry) {
      AttachFentry(skel->progs.mmu_pf_fentry);
    }
  }

  int32_t InternStack(int32_t bpf_id) {
    if (bpf_id < 0) return -1;
    auto it = stack_ids.find(bpf_id);
    if (it != stack_ids.end()) return it->second;
    uint64_t frames[KVMSCOPE_STACK_DEPTH] = {};
    int32_t id = -1;
    const bool more = (bpf_id & KVMSCOPE_MORE_STACKS) != 0;
    const int32_t key = bpf_id & ~KVMSCOPE_MORE_STACKS;
    bpf_map* map = more ? skel->maps.more_stacks : skel->maps.stacks;
    if (bpf_map_lookup_elem(bpf_map__fd(map), &key, frames) == 0) {
      traces::Stack stack;
      for (uint64_t f : frames) {
        if (!f) break;
        stack.push_back(f);
      }
      id = stacks.Intern(stack);
    }
    stack_ids.emplace(bpf_id, id);
    return id;
  }

  static int OnRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    kvmscope_event raw;
    if (size < sizeof raw) return 0;
    std::memcpy(&raw, data, sizeof raw);  // copied out of the ring, never cast in place
    std::optional<traces::KernelEvent> ev = ToKernelEvent(raw);
    if (!ev) return 0;
    const size_t k = static_cast<size_t>(ev->kind);
    if (self->budget[k] && self->received[k].load(std::memory_order_relaxed) >= self->budget[k]) {
      self->dropped[k].fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    ev->stack_id = self->InternStack(raw.stack_id);
    self->received[k].fetch_add(1, std::memory_order_relaxed);
    if (self->sink) self->sink(*ev);
    if (ev->kind == traces::KernelEventKind::UserspaceExit && self->run_exit_from_userspace_exit) {
      self->SinkRunExit(*ev);
    }
    return 0;
  }

  // KVM_RUN's return from kvm_userspace_exit (`exit`): at its time, with its
  // errno, which is KVM_RUN's result (sign-extended, as the sys_exit edge's).
  void SinkRunExit(const traces::KernelEvent& exit) {
    traces::KernelEvent ev = exit;
    ev.kind = traces::KernelEventKind::RunExit;
    ev.a = {exit.a[1], 0, traces::kRunFromUserspaceExit, 0, 0, 0};
    ev.stack_id = -1;
    received[static_cast<size_t>(ev.kind)].fetch_add(1, std::memory_order_relaxed);
    if (sink) sink(ev);
  }

  // Once the budget of a kind is spent, its perf program only throws perf
  // records away (a raw program counts the kind), or only counts what KVM
  // counts as well (count_past_budget false): detached (here, by the drain
  // thread; Stop() joins the detaching thread after this one).
  void DetachSpentBudget() {
    bpf_link* link = budget_link.load();
    if (!link || budget_kind >= KS_KIND_COUNT) return;
    uint64_t used = __atomic_load_n(&skel->bss->budget_used[budget_kind], __ATOMIC_RELAXED);
    if (used < options.stream_budget || !budget_link.compare_exchange_strong(link, nullptr)) return;
    budget_detached = true;
    budget_detach = std::thread([link] { bpf_link__destroy(link); });
  }

  void DrainLoop() {
    while (!stopping.load()) {
      ring_buffer__consume(ring);
      DetachSpentBudget();
      std::this_thread::sleep_for(options.drain_period);
    }
    ring_buffer__consume(ring);
  }
};

RingLayout RingLayoutFor(uint32_t ring_bytes, long online_cpus) {
  RingLayout r;
  r.online_cpus = static_cast<uint32_t>(std::max(online_cpus, 1L));
  r.asked_bytes = ring_bytes;
  r.count = std::bit_floor(std::min(r.online_cpus, kMaxRings));
  uint32_t share = std::bit_floor(ring_bytes / r.count);
  r.bytes_each = std::max(share, std::min(ring_bytes, kMinRingBytes));
  return r;
}

Session::Session(const SessionOptions& options) : m(std::make_unique<Impl>()) {
  KeepLibbpfLog();
  m->options = options;
  for (size_t k = 0; k < traces::kKernelEventKinds; ++k) {
    const auto kind = static_cast<traces::KernelEventKind>(k);
    if (m->Streamed(kind) && m->Budgeted(kind)) m->budget[k] = options.stream_budget;
  }
  uint32_t size = options.ring_bytes;
  if (size < 4096 || (size & (size - 1)) != 0) {
    throw ProbeError(fmt::format(
        "ring buffer size {} must be a power of two and at least 4096 bytes", size));
  }
  m->DetectHost();
  m->TryFentry();
  m->Load();
  m->AttachByPlan();
  if (std::string refused = ForcedRefusal(m->plan); !refused.empty()) throw ProbeError(refused);
  if (!m->plan.usable()) {
    throw ProbeError(fmt::format("KVM_RUN cannot be traced on this kernel: {}",
                                 fmt::join(m->plan.entry(ProbePoint::RunLoop).passed, "; ")));
  }
  // BPF programs and their trampolines are in kallsyms only now that they
  // exist; stacks through them are named from this table.
  m->symbols = LoadKallsyms();
}

Session::~Session() { Stop(); }

const Capabilities& Session::capabilities() const { return m->caps; }
const AttachPlan& Session::plan() const { return m->plan; }

traces::HostFacts Session::host_facts() const {
  traces::HostFacts h;
  h.kernel_release = m->caps.kernel_release;
  h.backend = BackendName(m->caps.backend);
  h.cpu = CpuModel();
  h.vendor_handler = m->caps.vendor_handler;
  traces::PlanRecord plan;
  for (const PlanEntry& e : m->plan.entries) {
    plan.entries.push_back({std::string(ProbePointName(e.point)), e.target,
                            std::string(MechanismName(e.mechanism)), e.how, e.passed});
  }
  plan.tracepoints = m->plan.tracepoints;
  plan.missing = m->plan.missing;
  plan.summary = PlanSummary(m->plan);
  plan.requested = AttachChoiceName(m->plan.requested);
  h.plan = std::move(plan);
  h.stack_mode = StackModeName(m->options.stacks);
  h.system_wide = m->options.pid == 0;
  h.kernel_symbols = m->symbols.size();
  AddPlatformFacts(h);
  return h;
}
bool Session::kprobes_verified() const { return m->kprobes_verified; }
const traces::SymbolTable& Session::symbols() const { return m->symbols; }
RingLayout Session::rings() const { return m->rings; }
const traces::StackTable& Session::stacks() const { return m->stacks; }

void Session::Start(Sink sink) {
  if (m->ring || m->stopped) return;
  m->sink = std::move(sink);
  for (int fd : m->ring_fds) {
    int err = 0;
    if (!m->ring) {
      m->ring = ring_buffer__new(fd, &Impl::OnRecord, m.get(), nullptr);
      if (!m->ring) err = errno;
    } else if (int r = ring_buffer__add(m->ring, fd, &Impl::OnRecord, m.get()); r < 0) {
      err = -r;
    }
    if (err) {
      throw ProbeError(fmt::format("creating the ring buffer reader failed: {}", Describe(err)));
    }
  }
  m->skel->bss->armed = 1;
  m->drain = std::thread([this] { m->DrainLoop(); });
  m->taking_entries = m->run_enter_from_vmm;
}

bool Session::run_enter_from_vmm() const { return m->run_enter_from_vmm; }

void Session::MakeRunEnter(int32_t vcpu_id) {
  if (!m->taking_entries.load(std::memory_order_acquire)) return;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // bpf_ktime_get_ns's clock
  traces::KernelEvent ev;
  ev.time_ns = int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  // No system call per KVM_RUN: the ids are kept (a system call costs
  // about as much as the program this replaces).
  static const uint32_t pid = static_cast<uint32_t>(getpid());
  thread_local const uint32_t tid = static_cast<uint32_t>(gettid());
  ev.pid = pid;
  ev.tid = tid;
  ev.cpu = static_cast<uint32_t>(std::max(sched_getcpu(), 0));
  ev.kind = traces::KernelEventKind::RunEnter;
  ev.a = {0, static_cast<uint64_t>(vcpu_id), traces::kRunFromVmm | traces::kRunHasVcpu, 0, 0, 0};
  m->made_entries[static_cast<uint32_t>(vcpu_id) % m->made_entries.size()].n.fetch_add(
      1, std::memory_order_relaxed);
  if (m->sink) m->sink(ev);
}

void Session::Stop() {
  if (m->stopped) return;
  m->stopped = true;
  m->taking_entries = false;
  if (m->skel && m->skel->bss) m->skel->bss->armed = 0;
  // Each detach waits for an RCU grace period (~80 ms here): detaching them
  // side by side makes stopping take one grace period instead of seventeen.
  std::vector<std::thread> detachers;
  for (bpf_link* l : m->links) detachers.emplace_back([l] { bpf_link__destroy(l); });
  if (bpf_link* l = m->budget_link.exchange(nullptr)) {
    detachers.emplace_back([l] { bpf_link__destroy(l); });
  }
  for (std::thread& t : detachers) t.join();
  m->links.clear();
  m->stopping = true;
  if (m->drain.joinable()) m->drain.join();
  if (m->budget_detach.joinable()) m->budget_detach.join();
}

bool Session::budget_detached() const { return m->budget_detached.load(); }

KernelCounts Session::counts() const {
  KernelCounts c;
  for (size_t i = 0; i < c.received.size(); ++i) {
    c.received[i] = m->received[i].load();
    c.not_streamed[i] = !(m->options.stream_kinds & StreamBit(static_cast<traces::KernelEventKind>(i)));
  }
  if (!m->skel) return c;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return c;
  std::vector<uint64_t> values(ncpus);
  int fd = bpf_map__fd(m->skel->maps.counters);
  auto sum = [&](uint32_t index) {
    uint64_t total = 0;
    if (bpf_map_lookup_elem(fd, &index, values.data()) == 0) {
      for (uint64_t v : values) total += v;
    }
    return total;
  };
  for (uint32_t raw = 0; raw < KS_KIND_COUNT; ++raw) {
    std::optional<traces::KernelEventKind> kind = KindFromRaw(raw);
    if (!kind) continue;
    size_t i = static_cast<size_t>(*kind);
    c.seen[i] = sum(KS_CNT_SEEN + raw);
    c.lost[i] = sum(KS_CNT_LOST + raw);
    // Past its budget: counted only from there on. Held back by the perf
    // program or dropped here past the budget, or, once the perf program is
    // detached (only the raw one counts: nothing races), seen beyond what
    // the budget let through.
    // With count_past_budget false, nothing counted the kind after the
    // detach: `seen` falls short, and the kind is past its budget.
    const bool detached = raw == m->budget_kind && m->budget_detached.load();
    const bool stopped_counting = detached && !m->options.count_past_budget;
    bool past_budget = stopped_counting || sum(KS_CNT_HELD + raw) > 0 || m->dropped[i].load() > 0;
    if (!past_budget && detached) {
      uint64_t used = __atomic_load_n(&m->skel->bss->budget_used[raw], __ATOMIC_RELAXED);
      past_budget = c.seen[i] > std::min(used, m->options.stream_budget);
    }
    if (past_budget && m->Streamed(*kind)) {
      c.not_streamed[i] = true;
      c.stream_budget[i] = m->options.stream_budget;
      if (stopped_counting) c.seen_by[i] = traces::SeenBy::UntilBudget;
    }
  }
  if (m->run_exit_from_userspace_exit) {
    // Each kvm_userspace_exit is a KVM_RUN return, seen or lost with it.
    constexpr size_t kRunExit = static_cast<size_t>(traces::KernelEventKind::RunExit);
    constexpr size_t kUserspaceExit = static_cast<size_t>(traces::KernelEventKind::UserspaceExit);
    c.seen[kRunExit] = c.seen[kUserspaceExit];
    c.lost[kRunExit] = c.lost[kUserspaceExit];
  }
  if (m->run_enter_from_vmm) {
    // Made on the vCPU threads: each one is delivered.
    constexpr size_t kRunEnter = static_cast<size_t>(traces::KernelEventKind::RunEnter);
    uint64_t made = 0;
    for (const auto& slot : m->made_entries) made += slot.n.load(std::memory_order_relaxed);
    c.seen[kRunEnter] = c.received[kRunEnter] = made;
    c.lost[kRunEnter] = 0;
  }
  c.stacks_taken = sum(KS_CNT_STACKS_TAKEN);
  c.stacks_failed = sum(KS_CNT_STACKS_FAILED);
  return c;
}

}  // namespace kvmscope::probes

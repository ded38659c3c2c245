// A tracing session on the host kernel: finds out by trying what this kernel
// allows (kprobes, fentry, each tracepoint), settles the attach plan, and
// streams every kernel event of the traced process to a sink as
// traces::KernelEvent, with stacks interned and symbolized. Everything it
// attaches belongs to this process (nothing is pinned), so it is gone when
// the process exits, however it exits.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probes/host.h"
#include "probes/plan.h"
#include "traces/kernel_event.h"
#include "traces/symbols.h"
#include "traces/trace.h"

namespace kvmscope::probes {

enum class StackMode : uint8_t { None, New, All };
std::string_view StackModeName(StackMode mode);

// Bit i stands for traces::KernelEventKind i in SessionOptions::stream_kinds.
constexpr uint32_t StreamBit(traces::KernelEventKind kind) {
  return 1u << static_cast<uint32_t>(kind);
}
inline constexpr uint32_t kStreamAllKinds = (1u << traces::kKernelEventKinds) - 1;
// What `record --pid` streams of another process's VM: everything but the
// three kinds that fire per emulated instruction or per shadow-MMU step
// (kvm_emulate_insn runs at 1-3 M/s for QEMU's SeaBIOS under PVM), which
// are only counted in the kernel (KernelCounts::seen).
inline constexpr uint32_t kExternalVmmStreamKinds =
    kStreamAllKinds & ~(StreamBit(traces::KernelEventKind::EmulateInsn) |
                        StreamBit(traces::KernelEventKind::MmuWalk) |
                        StreamBit(traces::KernelEventKind::MmuSetSpte));

// Events of a budgeted kind streamed (all CPUs together) before it is counted only.
inline constexpr uint64_t kDefaultStreamBudget = 65536;

// The kernel's ring buffers: one per online CPU, rounded down to a power
// of two, at most kMaxRings (CPU n writes to ring n % count), so vCPUs on
// different CPUs share no lock. `ring_bytes` is divided among them, each a
// power of two and at least kMinRingBytes (or all of `ring_bytes` when
// that is smaller).
struct RingLayout {
  uint32_t count = 1;
  uint32_t bytes_each = 0;
  uint32_t online_cpus = 1;  // what the count was made for
  uint32_t asked_bytes = 0;  // the ring_bytes divided among them
};
inline constexpr uint32_t kMaxRings = 16;
inline constexpr uint32_t kMinRingBytes = 4u << 20;
RingLayout RingLayoutFor(uint32_t ring_bytes, long online_cpus);

struct SessionOptions {
  uint32_t pid = 0;  // the traced process (tgid); 0: every process
  std::optional<uint32_t> uid;  // only processes of this real uid (checked in the kernel)
  // The kinds put in the ring buffer (StreamBit of each). The others are
  // counted in the kernel (counts().seen) but never reach the sink.
  uint32_t stream_kinds = kStreamAllKinds;
  // The kinds that stream only their first `stream_budget` events (all CPUs
  // together) and are counted in the kernel after that (0: no budget). By
  // default kvm_emulate_insn, which fires once per emulated guest
  // instruction (about four per exit of an exit-heavy guest under PVM): a
  // lecture's guest streams all of them, a guest that runs for minutes costs
  // less to trace. Where raw tracepoints are allowed, a raw program counts
  // such a kind and its perf program is detached once the budget is spent.
  uint32_t budget_kinds = StreamBit(traces::KernelEventKind::EmulateInsn);
  uint64_t stream_budget = kDefaultStreamBudget;
  StackMode stacks = StackMode::New;
  // The size of the kernel's first stack map (0: the object's, 4096), for
  // tests: a small one makes stacks collide, and the second map take them.
  uint32_t stack_buckets = 0;
  // The kernel ring buffers' size: a power of two, at least one page,
  // divided among one ring per CPU (RingLayoutFor).
  uint32_t ring_bytes = 8u << 20;
  std::chrono::milliseconds drain_period{10};
  // --attach: the mechanism for the function probe points. A forced one the
  // kernel refuses for the run loop makes the constructor throw, naming why.
  AttachChoice attach = AttachChoice::Auto;
  // KVM's tracepoints whose arguments hold what their records do (all but
  // kvm_exit, kvm_entry, kvm_page_fault and kvm_emulate_insn, whose records
  // read the vCPU's state through KVM's callbacks) as raw tracepoints, where
  // the kernel allows it and its BTF shows the prototype the program reads
  // (TracepointArgs): cheaper per event, no perf record is built, and
  // detaching waits for no grace period. kvm_emulate_insn is counted by
  // one. False attaches every tracepoint through perf.
  bool raw_tracepoints = true;
  // The KVM_RUN system-call edges from the raw sys_enter/sys_exit too (with
  // raw_tracepoints). Cheaper for the traced VM, dearer for everyone else:
  // a program then runs on every system call of the machine, where perf's
  // syscall tracepoints pass any call but ioctl at once
  // (scripts/bench_probes.sh measures both). For kvmscope's own VM (run,
  // the window), not for another process's VM or --system-wide: the raw
  // exit edge knows KVM_RUN by its registers, not by a per-thread note of
  // the entry, so the session must be started before the VM's first
  // KVM_RUN. Honoured only where pid is this process.
  bool raw_syscall_edges = false;
  // KVM_RUN's entry made by the caller, kvmscope's own VMM, just before each
  // KVM_RUN (MakeRunEnter) instead of by a program on sys_enter: then no
  // program runs on the machine's system calls at all. With
  // raw_syscall_edges, where the run loop is traced at the system-call edge
  // and its entries are streamed whole; run_enter_from_vmm() says whether it
  // took effect.
  bool run_enter_from_vmm = false;
  // Whether a budgeted kind stays counted in the kernel once its budget is
  // spent (by a raw program, or by its perf program where raw ones are
  // refused). false detaches everything of the kind with the budget:
  // counts() then says SeenBy::UntilBudget and KVM's own statistics of the
  // traced VM give the count (traces::CountFromKvmStats). For kvmscope's own
  // VM (run, the window) that has them; not for --system-wide or another
  // process's VM.
  bool count_past_budget = true;
};

// Kernel-side accounting (seen/lost/received per kind, stacks): the model's type.
using KernelCounts = traces::KernelCounts;

class Session {
 public:
  using Sink = std::function<void(const traces::KernelEvent&)>;

  // Detects, loads and attaches according to the plan, but emits nothing
  // until Start(). Throws ProbeError naming what is missing when the kernel
  // cannot be traced at all (not root, no BPF, no tracefs...) or refuses the
  // mechanism options.attach forces. Reads /proc/kallsyms again once
  // everything is attached, so that the BPF programs and trampolines on the
  // stacks have names.
  explicit Session(const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Capabilities& capabilities() const;
  const AttachPlan& plan() const;
  // Whether the BPF object's kprobe programs passed the verifier (they load
  // even where attaching them is impossible).
  bool kprobes_verified() const;

  // Arms the programs and starts the thread that drains the ring buffer every
  // drain_period, calling `sink` on it for each event in arrival order
  // (and on the vCPU thread for the entries MakeRunEnter makes).
  void Start(Sink sink);
  // Disarms, detaches everything, delivers what is still in the ring buffer
  // and joins the thread. Idempotent; the destructor calls it.
  void Stop();

  // Whether KVM_RUN's entries are the caller's to make
  // (SessionOptions::run_enter_from_vmm took effect).
  bool run_enter_from_vmm() const;
  // From a vCPU thread of this process, just before it calls KVM_RUN on
  // vCPU `vcpu_id`: where run_enter_from_vmm(), that KVM_RUN's entry
  // (traces::kRunFromVmm), stamped now and counted with the kernel's
  // events, goes to the sink on the calling thread. The sink must then be
  // thread-safe. Nothing before Start() or once Stop() has begun.
  void MakeRunEnter(int32_t vcpu_id);

  KernelCounts counts() const;
  // Whether the perf program of a budgeted kind that a raw program counts
  // was detached because its budget was spent.
  bool budget_detached() const;
  // What a trace records about this host and how it was traced: kernel,
  // backend, CPU, the attach plan with every fallback reason, stack mode.
  traces::HostFacts host_facts() const;
  // /proc/kallsyms as read after attaching, every symbol bounded.
  const traces::SymbolTable& symbols() const;
  RingLayout rings() const;  // the kernel ring buffers made
  const traces::StackTable& stacks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace kvmscope::probes

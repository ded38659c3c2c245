// The KVM run cycle of one trace as a picture model: the steps from the VMM's
// KVM_RUN through KVM, the guest and back, named with this kernel's functions
// (from the chain matching), with live counts on the arcs and the path one
// KVM_RUN took. No UI: ui/cycle_panel draws it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "traces/chains.h"
#include "traces/trace.h"

namespace kvmscope::traces {

// Where a step runs: the VMM in user space, KVM in the host kernel, the guest.
enum class CycleBand { Vmm, Kernel, Guest };
std::string_view CycleBandName(CycleBand band);  // "VMM (user space)", ...

enum class CycleNodeId {
  ModuleLoad,   // init: the vendor module's init
  CreateVm,     // init: KVM_CREATE_VM
  CreateVcpu,   // init: KVM_CREATE_VCPU
  VmmRun,       // the VMM calls ioctl(KVM_RUN)
  ArchRun,      // kvm_arch_vcpu_ioctl_run
  RunLoop,      // vcpu_run / vcpu_enter_guest
  VendorEntry,  // vmx_vcpu_run / svm_vcpu_run / pvm_vcpu_run
  GuestRuns,    // the guest's code runs
  VmExit,       // the switch back to the host
  ExitHandler,  // vmx_handle_exit / svm_handle_exit / pvm_handle_exit
  Emulate,      // KVM's instruction emulator
  PageFault,    // kvm_mmu_page_fault
  Exception,    // kvm_inject_exception
  VmmHandles,   // the VMM emulates the device
  Count
};
inline constexpr size_t kCycleNodes = static_cast<size_t>(CycleNodeId::Count);

// How a step is known on this kernel. Observed: a captured stack went through
// its function. Present: the symbol exists, no stack went through it.
// Inlined: no symbol, its code runs inside `inlined_into` (neutral, never an
// error). Absent: no symbol and no sign of inlining. NotApplicable: for
// another backend or version. NotTraced: no kernel data in this trace.
// NotKernel: a step of the VMM, the guest or the hardware (no kernel function).
enum class CycleNodeStatus { Observed, Present, Inlined, Absent, NotApplicable, NotTraced, NotKernel };

// Measured: counted from events that record exactly this. Inferred: derived
// from other events or stacks (say so next to the number). None: no count.
enum class CountKind { None, Measured, Inferred };
std::string_view CountKindName(CountKind kind);  // "", "measured", "inferred"

struct CycleCount {
  uint64_t value = 0;
  CountKind kind = CountKind::None;
  std::string what;  // "KVM_RUN calls (VMM events)"
};

// One part of a count: an exit reason, an exception vector, an event kind.
struct CycleReason {
  std::string name;  // "KVM_EXIT_IO", "#PF", "kvm_emulate_insn"
  uint64_t count = 0;
};

struct CycleNode {
  CycleNodeId id = CycleNodeId::VmmRun;
  CycleBand band = CycleBand::Kernel;
  bool init = false;      // before the loop
  std::string title;      // "exit handler"
  std::string function;   // this kernel's function ("pvm_handle_exit"); "" when not kernel code
  std::string caption;    // one line, plain words
  CycleNodeStatus status = CycleNodeStatus::NotKernel;
  uint64_t stack_events = 0;  // Observed: events whose stacks went through it
  std::string inlined_into;   // Inlined: the caller whose code holds it
  std::string status_text;    // "seen in 36 stacked events", "inlined into kvm_arch_vcpu_ioctl_run"
  std::optional<ChainId> chain;  // the detailed chain diagram of this step
  CycleCount count;              // the step's own count (calls, injections, ...)
};

enum class CycleArcId {
  InitToRun,        // CreateVcpu → VmmRun: the loop starts
  RunCall,          // VmmRun → ArchRun: KVM_RUN calls
  IntoLoop,         // ArchRun → RunLoop
  Enter,            // RunLoop → VendorEntry
  EntryToGuest,     // VendorEntry → GuestRuns: VM entry
  GuestToExit,      // GuestRuns → VmExit
  ExitToHandler,    // VmExit → ExitHandler: VM exits
  HandledInKernel,  // ExitHandler → RunLoop: handled without the VMM
  ToEmulate,        // ExitHandler → Emulate
  ToPageFault,      // ExitHandler → PageFault
  ToException,      // ExitHandler → Exception: queued for the guest
  ReturnToVmm,      // ExitHandler → VmmHandles: KVM_EXIT_* by reason
  RunAgain,         // VmmHandles → VmmRun
  Count
};
inline constexpr size_t kCycleArcs = static_cast<size_t>(CycleArcId::Count);

struct CycleArc {
  CycleArcId id = CycleArcId::RunCall;
  CycleNodeId from = CycleNodeId::VmmRun, to = CycleNodeId::ArchRun;
  std::string label;                // "returned to the VMM"
  CycleCount count;                 // kind None: no count on this arc
  std::vector<CycleReason> reasons;  // most first
};

// The cycle of one trace.
struct CycleModel {
  std::array<CycleNode, kCycleNodes> nodes{};  // by CycleNodeId
  std::array<CycleArc, kCycleArcs> arcs{};     // by CycleArcId
  // False when the trace has no kernel side (not traced, or no stacks and no
  // symbols): said once here, and kernel nodes are NotTraced.
  bool kernel_data = true;
  std::string no_kernel_reason;
  Vendor vendor = Vendor::Any;  // from the stacks/symbols, else the recorded backend
  std::string kernel;           // "6.18.44 (6.18, PVM, shadow paging)"
  const CycleNode& Node(CycleNodeId id) const { return nodes[static_cast<size_t>(id)]; }
  const CycleArc& Arc(CycleArcId id) const { return arcs[static_cast<size_t>(id)]; }
};

// Builds the whole model (kernel facts, chain matches, counts): a pass over
// every event. For a growing trace use CycleCache.
CycleModel BuildCycle(const TraceData& trace);

// The node a kernel function belongs to (compiler suffixes ignored), e.g.
// "paging64_page_fault" → PageFault, "pvm_handle_exit" → ExitHandler.
std::optional<CycleNodeId> NodeOfFunction(std::string_view function);
// The node of a captured stack: its innermost frame that belongs to a node.
std::optional<CycleNodeId> NodeOfStack(const TraceData& trace, const Stack& frames);

// One step of a run's path: a node reached over an arc (none for the first),
// `times` consecutive visits folded into one, the first event behind it.
struct CycleStep {
  CycleNodeId node = CycleNodeId::VmmRun;
  std::optional<CycleArcId> arc;
  uint64_t times = 1;
  CountKind evidence = CountKind::Measured;  // Inferred: no event of its own
  std::optional<EventRef> event;
};

// The path one KVM_RUN took through the cycle.
struct CyclePath {
  uint32_t track = 0;
  Span run;                          // the VMM's KVM_RUN span (or the kernel's)
  std::optional<EventRef> exit;      // the VMM's RunExit
  uint32_t exit_reason = 0;          // KVM_EXIT_*
  bool returned = false;             // KVM_RUN returned to the VMM
  std::vector<EventRef> kernel_events;  // inside the run, in time order
  std::vector<CycleStep> steps;         // in order
  bool page_fault = false;  // went through the page-fault path (measured or inferred)
  bool exception = false;   // an exception was injected
  // No kvm_emulate_insn in this run while the trace did not stream them all
  // (past the stream budget, or counted only): instructions KVM emulated in
  // it may be missing, not absent.
  bool emulation_unstreamed = false;
  bool Visits(CycleNodeId node) const;
  std::vector<CycleNodeId> Nodes() const;
};

// The KVM_RUN an event belongs to: the run around it on its vCPU track, or
// the run whose exit the VMM was handling then; nullopt when there is none.
std::optional<CyclePath> PathOfEvent(const TraceData& trace, EventRef event);
std::optional<CyclePath> PathAt(const TraceData& trace, uint32_t track, int64_t time_ns);

namespace cycle_detail {
class CycleCounter;
}

// The model of a trace, recomputed only when the trace changed: kernel facts
// and names when stacks, symbols or host facts change; counts when events
// were added, at most once per `min_interval` seconds of `now`. Counting is
// incremental: each track is counted on from the last checkpoint (every 4096
// events, and its end) that no late event was merged behind, so an update
// costs about the events added, and the counts are exactly BuildCycle's.
class CycleCache {
 public:
  CycleCache();
  ~CycleCache();
  CycleCache(CycleCache&&) noexcept;
  CycleCache& operator=(CycleCache&&) noexcept;

  const CycleModel& Update(const TraceData& trace, double now = 0, double min_interval = 0);
  const CycleModel& model() const { return m_model; }
  // The path of the run around an event, its kernel events classified as
  // the counts were (no pass over the trace, unlike PathOfEvent).
  std::optional<CyclePath> PathOf(const TraceData& trace, EventRef event) const;
  size_t facts_builds() const { return m_facts_builds; }
  size_t count_builds() const { return m_count_builds; }
  // Events the last count passed over; counts that started from scratch.
  size_t last_scanned() const { return m_last_scanned; }
  size_t full_counts() const;
  // Off: every count passes over the whole trace (the benchmark's "before").
  void SetIncremental(bool on) { m_incremental = on; }
  void Clear() { *this = CycleCache(); }

 private:
  CycleModel m_model;
  std::unique_ptr<cycle_detail::CycleCounter> m_counter;
  const TraceData* m_trace = nullptr;
  size_t m_events = SIZE_MAX, m_stacks = SIZE_MAX, m_symbols = SIZE_MAX;
  std::string m_host_key;
  double m_counted_at = 0;
  size_t m_facts_builds = 0, m_count_builds = 0, m_last_scanned = 0;
  bool m_incremental = true;
};

}  // namespace kvmscope::traces

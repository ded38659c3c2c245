// The trace: every event kvmscope recorded — the VMM's and the kernel's — in
// one store that every front end reads. Events kept per track (one per
// thread), time-sorted and compact (traces/event_list.h), with interned
// strings and stacks; spans built from begin/end pairs; queries by time
// window, type, exit reason and vCPU.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "traces/event.h"
#include "traces/event_list.h"
#include "traces/kernel_event.h"
#include "traces/symbols.h"

namespace kvmscope::traces {

// How far long work on a trace is (events or bytes done of total; total 0
// when it is not known), for a progress line or bar.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

// Why a KVM_RUN returned to the VMM, from the kernel's kvm_userspace_exit
// event: run->exit_reason (KVM_EXIT_*) when KVM_RUN returned 0; when it
// returned an error the reason there is stale (often 0, KVM_EXIT_UNKNOWN):
//   kInterruptedExitReason for -EINTR (a signal before or during the run,
//   e.g. QEMU's first KVM_RUN after a pause), kFailedExitReason for others.
// kUnknownExitReason: an external VMM's return without the event (only the
// kernel's KVM_RUN edges recorded).
inline constexpr uint32_t kUnknownExitReason = UINT32_MAX;
inline constexpr uint32_t kInterruptedExitReason = UINT32_MAX - 1;
inline constexpr uint32_t kFailedExitReason = UINT32_MAX - 2;
uint32_t UserspaceExitReason(const Event& kvm_userspace_exit);

// A kernel event as stored (vcpu -1 until its track says which vCPU it is),
// and back (for the kernel decoders).
Event FromKernel(const KernelEvent& event);
KernelEvent ToKernel(const Event& event);

// Spans: the stretches of time a teacher talks about, built per track from
// begin/end events.
enum class SpanKind : uint8_t {
  Run,             // KVM_RUN as the VMM saw it: VMM RunEnter → VMM RunExit
  KernelRun,       // KVM_RUN as the kernel saw it: kernel RunEnter → RunExit
  Guest,           // the guest ran: kvm_entry → kvm_exit (where they fire)
  KernelHandling,  // KVM handled an exit in the kernel: kvm_exit → kvm_entry or KVM_RUN exit
  VmmHandling,     // the VMM handled an exit: VMM RunExit → next VMM RunEnter (or vCPU done)
  Count
};
inline constexpr size_t kSpanKinds = static_cast<size_t>(SpanKind::Count);
std::string_view SpanKindName(SpanKind kind);  // "KVM_RUN", "kernel KVM_RUN", "guest", ...

inline constexpr uint32_t kNoEvent = UINT32_MAX;
struct Span {
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  uint32_t begin = kNoEvent;  // event index in the track; kNoEvent: began before the trace
  uint32_t end = kNoEvent;    // kNoEvent: still open at the trace's end, or its end was lost
  bool operator==(const Span&) const = default;
  int64_t duration_ns() const { return end_ns - begin_ns; }
};

enum class TrackKind : uint8_t {
  Vcpu,    // a vCPU thread of the VMM
  Vmm,     // another thread of the VMM (main, watchdog)
  System,  // a thread of another process (system-wide tracing)
};
std::string_view TrackKindName(TrackKind kind);

struct Track {
  uint32_t pid = 0;
  uint32_t tid = 0;
  int32_t vcpu = -1;  // for Vcpu tracks
  TrackKind kind = TrackKind::System;
  std::string name;  // the thread's name (comm) where known: "CPU 0/KVM"; "" otherwise
  EventList events;                                   // time-sorted
  std::array<std::vector<Span>, kSpanKinds> spans{};  // per kind, sorted, never overlapping
  // "vCPU 0 (tid 1234)", "VMM (tid 1230)", "tid 99 (pid 98)"; with a name:
  // "CPU 0/KVM" (vCPU 0, tid 1234), "call_rcu" (tid 1231) — quotes included.
  std::string Name() const;
  bool operator==(const Track&) const = default;
};

// The attach plan as recorded (probes::AttachPlan flattened to text, since
// traces/ knows nothing of probes/).
struct PlanRecord {
  struct Entry {
    std::string point;      // "run loop", "exit handler", "kvm_mmu_page_fault"
    std::string target;     // "pvm_handle_exit"
    std::string mechanism;  // "kprobe", "fentry", "tracepoint", "stacks", "none"
    std::string how;
    std::vector<std::string> passed;  // better mechanisms passed over, with why
    bool operator==(const Entry&) const = default;
  };
  std::vector<Entry> entries;
  std::vector<std::string> tracepoints;  // attached
  std::vector<std::string> missing;      // not attached, with why
  std::string summary;                   // the one-line badge
  // What --attach asked for: "auto" (the best mechanism per point), or the
  // one mechanism forced: "kprobe", "fentry", "tracepoint".
  std::string requested = "auto";
  bool operator==(const PlanRecord&) const = default;
};

struct HostFacts {
  std::string kernel_release;  // uname -r
  std::string backend;         // "PVM", "VMX (Intel)", ...
  std::string cpu;             // /proc/cpuinfo model name
  std::string vendor_handler;  // "pvm_handle_exit"
  std::optional<PlanRecord> plan;  // absent when the kernel was not traced
  std::string not_traced_reason;   // why not, when plan is absent
  std::string stack_mode;          // "new", "all", "none"
  bool system_wide = false;
  uint64_t kernel_symbols = 0;  // symbols in /proc/kallsyms (the trace keeps a subset)
  // The vendor modules' parameters that change what KVM does, "module.param"
  // → the value /sys/module/<module>/parameters/<param> read ("Y", "N", "1"):
  // kvm_intel.ept, .unrestricted_guest, .enable_apicv, .vpid; kvm_amd.npt,
  // .nrips, .avic; kvm.tdp_mmu. These are the values in effect (a module
  // clears ept/npt itself when the CPU lacks it). A parameter the host does
  // not have is absent; all are absent in traces from before them.
  std::map<std::string, std::string> module_params;
  // What runs the host: "bare metal", "virtual machine (KVM)", "emulator
  // (QEMU TCG)", "emulator (Bochs)", ...; "" when not recorded. The evidence
  // says what told it: "cpuinfo: hypervisor flag; CPUID 0x40000000:
  // KVMKVMKVM; DMI: absent".
  std::string platform;
  std::string platform_evidence;
  bool operator==(const HostFacts&) const = default;

  // A recorded parameter's value ("kvm_intel.ept"), "" when not recorded.
  std::string_view Param(std::string_view key) const {
    auto it = module_params.find(std::string(key));
    return it == module_params.end() ? std::string_view() : std::string_view(it->second);
  }
  // A boolean parameter: "Y"/"1" true, "N"/"0" false, nullopt when absent.
  std::optional<bool> Flag(std::string_view key) const {
    const std::string_view v = Param(key);
    if (v == "Y" || v == "y" || v == "1") return true;
    if (v == "N" || v == "n" || v == "0") return false;
    return std::nullopt;
  }
  // "kvm.tdp_mmu=Y kvm_intel.ept=Y ...", "" when none were recorded.
  std::string ModuleParamsText() const {
    std::string out;
    for (const auto& [key, value] : module_params) {
      out += (out.empty() ? "" : " ") + key + "=" + value;
    }
    return out;
  }
  // Whether the host's CPU is an emulator's (times there mean nothing).
  bool Emulated() const { return platform.starts_with("emulator"); }
  // Two-dimensional paging (EPT on VMX, NPT on SVM) as the vendor module's
  // parameter says: true on, false shadow paging; nullopt when not recorded.
  // PVM always shadows the guest's page tables.
  std::optional<bool> TwoDimensionalPaging() const {
    if (backend.starts_with("VMX")) return Flag("kvm_intel.ept");
    if (backend.starts_with("SVM")) return Flag("kvm_amd.npt");
    if (backend.starts_with("PVM")) return false;
    return std::nullopt;
  }
  // TwoDimensionalPaging in words, with what said so: "EPT (kvm_intel.ept=Y)",
  // "shadow paging (kvm_amd.npt=N)", "shadow paging (PVM always)"; "" unknown.
  std::string PagingText() const {
    const std::optional<bool> tdp = TwoDimensionalPaging();
    if (!tdp) return "";
    if (backend.starts_with("PVM")) return "shadow paging (PVM always)";
    const bool vmx = backend.starts_with("VMX");
    const std::string key = vmx ? "kvm_intel.ept" : "kvm_amd.npt";
    return std::string(*tdp ? (vmx ? "EPT" : "NPT") : "shadow paging") + " (" + key + "=" +
           std::string(Param(key)) + ")";
  }
};

struct GuestFacts {
  std::string name;  // catalog name or the file run
  std::string mode;  // "real", "protected", "long", "user"
  uint64_t load_addr = 0;
  int vcpus = 1;
  std::string sha256;          // of the binary image
  std::vector<uint8_t> image;  // the binary itself (small), for disassembly in replay
  std::string verdict;         // "pass", "fail", "timeout", ... ("" while running)
  std::string detail;
  // The assembly source (catalog guests) and its address → line table, in
  // address order ("" / empty for guests run from a binary).
  std::string source;
  std::vector<std::pair<uint64_t, uint32_t>> lines;
  // The parameter handed to the guest in RSI: --param, or a catalog guest's
  // default for the parameter it takes; absent when the guest takes none
  // (and in traces from before it).
  std::optional<uint64_t> param;  // --param handed to the guest in RSI, when given
  bool operator==(const GuestFacts&) const = default;
  // The 1-based source line of the instruction at `address`: the last table
  // row at or below it, within the image; 0 when unknown.
  uint32_t LineOf(uint64_t address) const;
};

// Who counted a kind's `seen`.
enum class SeenBy : uint8_t {
  Tracing,       // the BPF programs, for the whole recording
  UntilBudget,   // the BPF programs until its stream budget was spent, then
                 // nothing was attached for it any more: `seen` falls short
  KvmStatistics  // KVM's own counters (CountFromKvmStats): nothing attached past the budget
};
// "tracing", "until_budget", "kvm_statistics" (the trace file's words).
std::string_view SeenByName(SeenBy by);
std::optional<SeenBy> SeenByFromName(std::string_view name);

// Kernel-side accounting: events seen in the kernel (after the process
// filter), lost (ring buffer full) and received, per kind; stacks.
struct KernelCounts {
  std::array<uint64_t, kKernelEventKinds> seen{};
  std::array<uint64_t, kKernelEventKinds> lost{};
  std::array<uint64_t, kKernelEventKinds> received{};
  // Kinds the session did not stream every event of by choice: its stream
  // mask left them out (record --pid does so for kvm_emulate_insn:
  // `received` is 0 by design, not by loss), or they ran past their stream
  // budget (stream_budget). Their counts come from `seen`.
  std::array<bool, kKernelEventKinds> not_streamed{};
  // For a kind that was streamed until it ran past its budget: how many of
  // its events were streamed before counting them only (0: no budget).
  std::array<uint64_t, kKernelEventKinds> stream_budget{};
  // Files written before 2026-12-03 budgeted each CPU: stream_budget is
  // then per CPU ("stream_budget" in the file; "stream_budget_total" since).
  bool stream_budget_per_cpu = false;
  // For a budgeted kind whose programs were detached with the budget:
  // where `seen` comes from ("seen_by" in the file; absent: Tracing).
  std::array<SeenBy, kKernelEventKinds> seen_by{};
  uint64_t stacks_taken = 0;
  uint64_t stacks_failed = 0;
  uint64_t total_seen() const;
  uint64_t total_lost() const;
  // Events of `kind` were counted in the kernel and not all streamed.
  bool CountedOnly(KernelEventKind kind) const { return not_streamed[static_cast<size_t>(kind)]; }
  // How a counted-only kind was streamed, in a few words for a label:
  // "not streamed", or "the first N streamed" ("the first N per CPU
  // streamed" from an older file), and who counted the rest when it was
  // not the BPF programs ("..., the rest counted by KVM's own statistics").
  std::string StreamedHow(KernelEventKind kind) const;
  SeenBy SeenByOf(KernelEventKind kind) const { return seen_by[static_cast<size_t>(kind)]; }
  uint64_t total_received() const;
  bool operator==(const KernelCounts&) const = default;
};

// KVM's own counters for this VM (KVM_GET_STATS_FD), read by the VMM at the end of the run.
// Scalar counters only (cumulative, instant, peak), raw as KVM gives them
// (a counter's unit is in its name: "halt_wait_ns"); histograms are left out.
// Which counters exist depends on the kernel and backend: look them up by
// name, never assume one is there.
struct KvmStatsRecord {
  std::map<std::string, uint64_t> vm;                  // VM-wide counters by name
  std::vector<std::map<std::string, uint64_t>> vcpus;  // per vCPU index
  // Where they come from when not from kvmscope's own VMM ("" = its
  // KVM_GET_STATS_FD at the end of the run): for another process's VM,
  // debugfs or QMP, the difference over the recording.
  std::string source;
  bool operator==(const KvmStatsRecord&) const = default;
  // A VM-wide counter by name, else the sum of that counter over the vCPUs; nullopt when no such counter.
  std::optional<uint64_t> Total(std::string_view name) const;
  // One vCPU's counter; nullopt when absent.
  std::optional<uint64_t> OfVcpu(int vcpu, std::string_view name) const;
};

// The guest's registers at one exit (when the VMM captured them).
inline constexpr size_t kGuestRegs = 23;
// "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8".."r15", "rip",
// "rflags", "cr0", "cr2", "cr3", "cr4", "efer" — in this order.
const std::array<std::string_view, kGuestRegs>& GuestRegNames();
struct GuestRegs {
  int32_t vcpu = 0;
  uint64_t run_index = 0;  // the KVM_RUN that returned with these
  std::array<uint64_t, kGuestRegs> values{};
  bool operator==(const GuestRegs&) const = default;
};

// Where an event is in one snapshot (indices move while a live trace grows).
struct EventRef {
  uint32_t track = 0;
  uint32_t index = 0;
  bool operator==(const EventRef&) const = default;
};

// Another process's VMM (QEMU, ...) recorded by pid (`record --pid`): only
// the kernel's side of its KVM activity is visible. Absent for kvmscope's own VMM.
struct ExternalVmm {
  uint32_t pid = 0;
  std::string command;                  // its command line, for display
  std::map<int, int> vcpu_of_fd;        // vCPU fd → vCPU index (anon_inode:kvm-vcpu:N)
  std::map<uint32_t, std::string> thread_names;  // tid → comm ("CPU 0/KVM")
  std::string not_visible;              // what cannot be seen of it (ExternalVmmNote)
  std::string ended;                    // how the recording ended: "the VMM exited after 2.1 s"
  bool operator==(const ExternalVmm&) const = default;
};
// The default ExternalVmm::not_visible: "External VMM (pid N, COMMAND):
// device accesses, console, registers and the VMM's own KVM_RUN view are not
// visible; KVM_RUN spans are the kernel's."
std::string ExternalVmmNote(uint32_t pid, std::string_view command);

// Everything a trace holds, as plain data: what the JSON files contain, what
// readers see. Queries are const members.
struct TraceData {
  HostFacts host;
  GuestFacts guest;
  std::string console;
  std::optional<KernelCounts> kernel_counts;  // absent when not traced
  std::vector<std::string> strings{""};       // interned; id 0 is ""
  std::vector<Stack> stacks;                  // by stack id
  SymbolTable symbols;                        // enough to name every frame and chain node
  std::vector<Track> tracks;                  // in order of first appearance
  std::vector<GuestRegs> regs;                // in order of capture
  std::optional<KvmStatsRecord> kvm_stats;  // absent: not read (old trace, or the kernel lacks KVM_CAP_BINARY_STATS_FD)
  std::string kvm_stats_note;               // why absent, when it is ("" otherwise)
  std::optional<ExternalVmm> external;      // set when another process's VMM was recorded
  bool operator==(const TraceData&) const = default;

  // Whether a track is a thread of an external VMM: it has kernel events
  // only, so its exits and VMM handling come from the kernel's KVM_RUN edges.
  bool IsExternalThread(const Track& track) const {
    return external && track.pid == external->pid;
  }
  // The one line every reader of an external trace prints once ("" when the
  // trace is of kvmscope's own VMM): ExternalVmm::not_visible, and how it ended.
  std::string ExternalNote() const;

  std::string_view Text(uint32_t id) const {
    return id < strings.size() ? std::string_view(strings[id]) : std::string_view();
  }
  const Stack* StackOf(const Event& e) const;  // nullptr when none
  Event At(EventRef ref) const { return tracks[ref.track].events[ref.index]; }

  // Queries.
  size_t EventCount() const;
  int64_t BeginNs() const;  // earliest event, 0 when empty
  int64_t EndNs() const;    // latest event, 0 when empty
  // The track of a vCPU, or -1.
  int TrackOfVcpu(int vcpu) const;
  // Events of one track with begin_ns <= time_ns <= end_ns (binary search).
  EventRange Window(size_t track, int64_t begin_ns, int64_t end_ns) const;
  // Spans of one kind on one track that overlap [begin_ns, end_ns].
  std::span<const Span> SpansIn(size_t track, SpanKind kind, int64_t begin_ns,
                                int64_t end_ns) const;
  // All events of a type, by track then time; restricted to one vCPU's track
  // when vcpu >= 0.
  std::vector<EventRef> OfType(EventType type, int vcpu = -1) const;
  // VMM RunExit events with this KVM_EXIT_* reason.
  std::vector<EventRef> ExitsWithReason(uint32_t reason, int vcpu = -1) const;
  // The earliest / latest event of a type over all tracks, and how many.
  std::optional<EventRef> First(EventType type) const;
  std::optional<EventRef> Last(EventType type) const;
  size_t Count(EventType type) const;
  // How many events used each stack id (index = stack id).
  std::vector<uint64_t> StackUseCounts() const;
  // The captured registers of a vCPU's run, or nullptr.
  const GuestRegs* RegsOf(int vcpu, uint64_t run_index) const;

  // Rebuilds every track's spans from its events (after loading).
  void BuildSpans();
};

// Named fields and one line of text for any event (kernel events decode as
// DecodeFields/DescribeKernelEvent do; VMM events by their packing).
std::vector<Field> EventFields(const TraceData& trace, const Event& event);
std::string DescribeEvent(const TraceData& trace, const Event& event);

// The store for a trace being recorded: appends from any thread (VMM vCPU
// threads, the probe drain thread) never wait for readers; a reader takes a
// Snapshot, which first folds staged events into the tracks, then holds a
// shared lock for as long as it lives — keep it for one frame or one
// command, not longer.
class Trace {
 public:
  Trace() = default;
  explicit Trace(TraceData data);  // a loaded trace; spans are (re)built
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // --- writers (thread-safe) ---
  // Staged until the next snapshot or until enough accumulate.
  void Add(const Event& event);
  // Interns a string for Event::text; the same text always gets the same id.
  uint32_t Intern(std::string_view text);
  // Records stack `id` (ids must be dense from 0, as probes' StackTable gives
  // them); a stack already known is ignored.
  void AddStack(int32_t id, const Stack& frames);
  // Threads whose events are VMM-side (the VMM's pid); events of other pids
  // go to System tracks.
  void SetVmmPid(uint32_t pid);
  // Records another process's VMM (also SetVmmPid(vmm.pid)): its threads'
  // kernel KVM_RUN edges make their tracks vCPU tracks, the vCPU taken from
  // vcpu_of_fd (syscall source) or the edge's vcpu_id (kprobe/fentry).
  // An empty not_visible is filled with ExternalVmmNote.
  void SetExternalVmm(ExternalVmm vmm);
  // A thread's name (comm), at any time: its track shows it, and, for an
  // external VMM, ExternalVmm::thread_names keeps it.
  void NameThread(uint32_t tid, std::string name);
  // How the recording of an external VMM ended (no-op without one).
  void SetExternalEnded(std::string text);
  void AppendConsole(char c);
  void AddRegs(const GuestRegs& regs);
  // Metadata: replaced under the exclusive lock.
  void SetHost(HostFacts host);
  void SetGuest(GuestFacts guest);
  void SetKernelCounts(const KernelCounts& counts);
  // KVM's own counters, or (nullopt) why they were not read.
  void SetKvmStats(std::optional<KvmStatsRecord> stats, std::string note);
  void SetSymbols(SymbolTable symbols);

  // --- readers ---
  class Snapshot {
   public:
    const TraceData& operator*() const { return *m_data; }
    const TraceData* operator->() const { return m_data; }

   private:
    friend class Trace;
    Snapshot(std::shared_lock<std::shared_mutex> lock, const TraceData* data)
        : m_lock(std::move(lock)), m_data(data) {}
    std::shared_lock<std::shared_mutex> m_lock;
    const TraceData* m_data;
  };
  Snapshot Read();
  // Folds staged events in and hands the data over (the Trace is empty after).
  TraceData Take();

 private:
  void Commit();  // caller holds m_lock exclusively
  // Folds one batch of staged events (in arrival order) into the tracks.
  void Merge(const std::vector<Event>& batch);
  // The vCPU index a kernel KVM_RUN edge of an external VMM's thread names, or -1.
  int32_t ExternalVcpuOf(const Event& e) const;

  mutable std::shared_mutex m_lock;  // guards m_data and Merge's scratch
  TraceData m_data;
  // Merge's scratch, kept between merges (bounded by a batch and a tail).
  std::vector<uint32_t> m_merge_track_of, m_merge_order;
  std::vector<Event> m_merge_tail;
  uint32_t m_vmm_pid = 0;
  std::unordered_map<uint32_t, uint32_t> m_track_of_tid;
  std::unordered_map<uint32_t, std::string> m_thread_names;  // for tracks not made yet

  std::mutex m_stage_mutex;  // guards everything below
  // Staged events in batches of a fixed size (never one vector that doubles);
  // merged batches are kept for reuse (a few), not freed: they are filled by
  // one thread and merged by another, and malloc's per-thread arenas would
  // not give the memory back to the thread that asks next.
  std::vector<std::vector<Event>> m_staged;
  std::vector<std::vector<Event>> m_free_batches;
  size_t m_staged_count = 0;
  std::vector<std::string> m_staged_strings;
  std::vector<std::pair<int32_t, Stack>> m_staged_stacks;
  std::string m_staged_console;
  std::vector<GuestRegs> m_staged_regs;
  std::unordered_map<std::string, uint32_t> m_string_ids;
  uint32_t m_next_string = 1;
  int32_t m_next_stack = 0;
};

// The symbols a trace keeps from the full /proc/kallsyms: those naming a
// captured stack frame, plus every symbol whose name is in `names` (the call
// chains' and seed claims' functions), so that presence checks still work.
SymbolTable TraceSymbols(const SymbolTable& all, const std::vector<Stack>& stacks,
                         const std::vector<std::string>& names);

}  // namespace kvmscope::traces

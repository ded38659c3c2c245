// The trace store: staging of appends from many threads, the merge into
// time-sorted per-thread tracks (kernel events arrive late, so they are merged
// in rather than appended), spans rebuilt incrementally from the first changed
// event, and the queries every front end uses.
#include "traces/trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <numeric>
#include <unordered_set>

namespace kvmscope::traces {
namespace {

// Enough staged events to be worth folding in without a reader asking; they
// are staged in batches of kStageBatch (allocated whole, so staging never
// doubles a vector), each merged on its own.
constexpr size_t kCommitBatch = 1 << 13;
constexpr size_t kStageBatch = 1 << 12;

// How each span kind pairs its begin and end events.
struct SpanRule {
  EventType begin;
  EventType end;
  std::optional<EventType> end_too;  // a second event that also ends the span
  // An end seen before any begin opens a span at the track's first event (the
  // trace started mid-span). Off for the "between" spans, whose first end
  // (the first KVM_RUN, the first kvm_entry) has nothing before it.
  bool edge_begin;
};
constexpr std::array<SpanRule, kSpanKinds> kSpanRules = {{
    {VmmEventKind::RunEnter, VmmEventKind::RunExit, std::nullopt, true},           // Run
    {KernelEventKind::RunEnter, KernelEventKind::RunExit, std::nullopt, true},     // KernelRun
    {KernelEventKind::KvmEntry, KernelEventKind::KvmExit, std::nullopt, true},     // Guest
    {KernelEventKind::KvmExit, KernelEventKind::KvmEntry, KernelEventKind::RunExit, false},
    {VmmEventKind::RunExit, VmmEventKind::RunEnter, VmmEventKind::VcpuDone, false},
}};

// An external VMM's threads have no VMM events: its handling of an exit is
// what lies between the kernel's KVM_RUN return and the next KVM_RUN.
constexpr SpanRule kKernelOnlyVmmHandling = {KernelEventKind::RunExit, KernelEventKind::RunEnter,
                                             std::nullopt, false};

// Appends a span, growing the vector by an eighth rather than doubling it
// (a recording's spans take about a third of the memory of its events).
void AddSpan(std::vector<Span>& spans, const Span& span) {
  if (spans.size() == spans.capacity()) spans.reserve(spans.size() + spans.size() / 8 + 64);
  spans.push_back(span);
}

// Rebuilds one kind of span of a track from event index `from` on: spans that
// end before `from` are untouched (nothing before them moved), the rest are
// dropped and re-paired from the first event they referenced. A span still
// open at the track's end that began before `from` stays open from there:
// pairing resumes at `from`, not at its begin, so a vCPU that stays in
// KVM_RUN for millions of events costs each merge only its new events.
void RebuildSpans(Track& track, SpanKind kind, size_t from, bool kernel_only) {
  const SpanRule& rule = kernel_only && kind == SpanKind::VmmHandling
                             ? kKernelOnlyVmmHandling
                             : kSpanRules[static_cast<size_t>(kind)];
  std::vector<Span>& spans = track.spans[static_cast<size_t>(kind)];
  const EventList& ev = track.events;
  size_t start = from;
  uint32_t open = kNoEvent;
  // The last span has no end event: open at the track's end (an earlier
  // span with none lost its end and is followed by the next begin).
  if (!spans.empty() && spans.back().end == kNoEvent && spans.back().begin != kNoEvent &&
      spans.back().begin < from) {
    open = spans.back().begin;
    spans.pop_back();
  } else {
    // The begin of the span after the one looked at: a span with no end
    // event lasts until it.
    size_t next_begin = kNoEvent;
    while (!spans.empty()) {
      const Span& last = spans.back();
      const size_t until = last.end != kNoEvent ? last.end : next_begin;
      if (until < from) break;
      next_begin = last.begin == kNoEvent ? 0 : last.begin;
      start = std::min(start, next_begin);
      spans.pop_back();
    }
  }
  bool seen = !spans.empty() || open != kNoEvent;
  for (size_t i = start; i < ev.size(); ++i) {
    EventType t = ev.type(i);
    bool is_end = t == rule.end || (rule.end_too && t == *rule.end_too);
    if (t == rule.begin) {
      // A second begin without an end between: the end was lost.
      if (open != kNoEvent) AddSpan(spans, {ev.time_ns(open), ev.time_ns(i), open, kNoEvent});
      open = static_cast<uint32_t>(i);
      seen = true;
    } else if (is_end) {
      if (open != kNoEvent) {
        AddSpan(spans, {ev.time_ns(open), ev.time_ns(i), open, static_cast<uint32_t>(i)});
        open = kNoEvent;
      } else if (!seen && rule.edge_begin) {
        AddSpan(spans, {ev.time_ns(0), ev.time_ns(i), kNoEvent, static_cast<uint32_t>(i)});
      }
      seen = true;
    }
  }
  if (open != kNoEvent) AddSpan(spans, {ev.time_ns(open), ev.time_ns(ev.size() - 1), open, kNoEvent});
}

void RebuildAllSpans(Track& track, size_t from, bool kernel_only) {
  for (size_t k = 0; k < kSpanKinds; ++k) {
    RebuildSpans(track, static_cast<SpanKind>(k), from, kernel_only);
  }
}

}  // namespace

EventType EventType::FromIndex(size_t index) {
  if (index < kKernelEventKinds) return static_cast<KernelEventKind>(index);
  return static_cast<VmmEventKind>(index - kKernelEventKinds);
}

Event FromKernel(const KernelEvent& k) {
  Event e;
  e.time_ns = k.time_ns;
  e.pid = k.pid;
  e.tid = k.tid;
  e.stack_id = k.stack_id;
  e.cpu = k.cpu < kNoCpu ? static_cast<uint16_t>(k.cpu) : kNoCpu;
  e.type = k.kind;
  e.a = k.a;
  return e;
}

std::string_view SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::Run: return "KVM_RUN";
    case SpanKind::KernelRun: return "kernel KVM_RUN";
    case SpanKind::Guest: return "guest running";
    case SpanKind::KernelHandling: return "kernel exit handling";
    case SpanKind::VmmHandling: return "VMM exit handling";
    case SpanKind::Count: break;
  }
  return "";
}

std::string_view TrackKindName(TrackKind kind) {
  switch (kind) {
    case TrackKind::Vcpu: return "vcpu";
    case TrackKind::Vmm: return "vmm";
    case TrackKind::System: return "system";
  }
  return "";
}

std::string Track::Name() const {
  if (!name.empty()) {
    switch (kind) {
      case TrackKind::Vcpu: return fmt::format("\"{}\" (vCPU {}, tid {})", name, vcpu, tid);
      case TrackKind::Vmm: return fmt::format("\"{}\" (tid {})", name, tid);
      case TrackKind::System: return fmt::format("\"{}\" (tid {}, pid {})", name, tid, pid);
    }
  }
  switch (kind) {
    case TrackKind::Vcpu: return fmt::format("vCPU {} (tid {})", vcpu, tid);
    case TrackKind::Vmm: return fmt::format("VMM (tid {})", tid);
    case TrackKind::System: break;
  }
  return fmt::format("tid {} (pid {})", tid, pid);
}

std::string ExternalVmmNote(uint32_t pid, std::string_view command) {
  return fmt::format(
      "External VMM (pid {}{}{}): device accesses, console, registers and the VMM's own KVM_RUN "
      "view are not visible; KVM_RUN spans are the kernel's.",
      pid, command.empty() ? "" : ", ", command);
}

std::string TraceData::ExternalNote() const {
  if (!external) return "";
  std::string note = external->not_visible.empty()
                         ? ExternalVmmNote(external->pid, external->command)
                         : external->not_visible;
  if (!external->ended.empty()) note += " Recording ended: " + external->ended + ".";
  return note;
}

uint64_t KernelCounts::total_seen() const { return std::accumulate(seen.begin(), seen.end(), 0ull); }
uint64_t KernelCounts::total_lost() const { return std::accumulate(lost.begin(), lost.end(), 0ull); }
uint64_t KernelCounts::total_received() const {
  return std::accumulate(received.begin(), received.end(), 0ull);
}
namespace {
constexpr std::array<std::string_view, 3> kSeenByNames = {"tracing", "until_budget", "kvm_statistics"};
}  // namespace

std::string_view SeenByName(SeenBy by) { return kSeenByNames[static_cast<size_t>(by)]; }
std::optional<SeenBy> SeenByFromName(std::string_view name) {
  for (size_t i = 0; i < kSeenByNames.size(); ++i) {
    if (kSeenByNames[i] == name) return static_cast<SeenBy>(i);
  }
  return std::nullopt;
}

std::string KernelCounts::StreamedHow(KernelEventKind kind) const {
  const uint64_t budget = stream_budget[static_cast<size_t>(kind)];
  if (!budget) return "not streamed";
  const std::string first =
      fmt::format("the first {}{} streamed", budget, stream_budget_per_cpu ? " per CPU" : "");
  switch (SeenByOf(kind)) {
    case SeenBy::Tracing: break;
    case SeenBy::UntilBudget: return first + ", then no longer counted";
    case SeenBy::KvmStatistics: return first + ", the rest counted by KVM's own statistics";
  }
  return first;
}

const std::array<std::string_view, kGuestRegs>& GuestRegNames() {
  static constexpr std::array<std::string_view, kGuestRegs> kNames = {
      "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8",     "r9",  "r10", "r11",
      "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "efer"};
  return kNames;
}

uint32_t GuestFacts::LineOf(uint64_t address) const {
  if (address < load_addr || address >= load_addr + image.size()) return 0;
  auto it = std::upper_bound(lines.begin(), lines.end(), address,
                             [](uint64_t a, const auto& row) { return a < row.first; });
  return it == lines.begin() ? 0 : std::prev(it)->second;
}

uint32_t UserspaceExitReason(const Event& e) {
  const auto error = static_cast<int64_t>(e.a[1]);  // kvm_userspace_exit's errno, negative
  if (error == -EINTR) return kInterruptedExitReason;
  if (error != 0) return kFailedExitReason;
  return static_cast<uint32_t>(e.a[0]);
}

std::optional<uint64_t> KvmStatsRecord::Total(std::string_view name) const {
  const std::string key(name);
  if (auto it = vm.find(key); it != vm.end()) return it->second;
  std::optional<uint64_t> sum;
  for (const auto& counters : vcpus) {
    if (auto it = counters.find(key); it != counters.end()) sum = sum.value_or(0) + it->second;
  }
  return sum;
}

std::optional<uint64_t> KvmStatsRecord::OfVcpu(int vcpu, std::string_view name) const {
  if (vcpu < 0 || static_cast<size_t>(vcpu) >= vcpus.size()) return std::nullopt;
  const auto& counters = vcpus[static_cast<size_t>(vcpu)];
  auto it = counters.find(std::string(name));
  if (it == counters.end()) return std::nullopt;
  return it->second;
}

// --- TraceData queries ---

const Stack* TraceData::StackOf(const Event& e) const {
  if (e.stack_id < 0 || static_cast<size_t>(e.stack_id) >= stacks.size()) return nullptr;
  return &stacks[static_cast<size_t>(e.stack_id)];
}

size_t TraceData::EventCount() const {
  size_t n = 0;
  for (const Track& t : tracks) n += t.events.size();
  return n;
}

int64_t TraceData::BeginNs() const {
  std::optional<int64_t> v;
  for (const Track& t : tracks) {
    if (!t.events.empty()) v = std::min(v.value_or(INT64_MAX), t.events.time_ns(0));
  }
  return v.value_or(0);
}

int64_t TraceData::EndNs() const {
  std::optional<int64_t> v;
  for (const Track& t : tracks) {
    if (!t.events.empty()) v = std::max(v.value_or(INT64_MIN), t.events.time_ns(t.events.size() - 1));
  }
  return v.value_or(0);
}

int TraceData::TrackOfVcpu(int vcpu) const {
  for (size_t i = 0; i < tracks.size(); ++i) {
    if (tracks[i].kind == TrackKind::Vcpu && tracks[i].vcpu == vcpu) return static_cast<int>(i);
  }
  return -1;
}

EventRange TraceData::Window(size_t track, int64_t begin_ns, int64_t end_ns) const {
  if (track >= tracks.size() || end_ns < begin_ns) return {};
  const EventList& ev = tracks[track].events;
  const size_t lo = ev.lower_bound_time(begin_ns);
  return ev.range(lo, ev.upper_bound_time(end_ns, lo));
}

std::span<const Span> TraceData::SpansIn(size_t track, SpanKind kind, int64_t begin_ns,
                                         int64_t end_ns) const {
  if (track >= tracks.size() || kind == SpanKind::Count || end_ns < begin_ns) return {};
  const std::vector<Span>& s = tracks[track].spans[static_cast<size_t>(kind)];
  // Spans of one kind never overlap, so both their begins and ends are sorted.
  auto lo = std::partition_point(s.begin(), s.end(),
                                 [&](const Span& x) { return x.end_ns < begin_ns; });
  auto hi = std::partition_point(lo, s.end(), [&](const Span& x) { return x.begin_ns <= end_ns; });
  return {lo, hi};
}

std::vector<EventRef> TraceData::OfType(EventType type, int vcpu) const {
  std::vector<EventRef> out;
  for (size_t t = 0; t < tracks.size(); ++t) {
    if (vcpu >= 0 && !(tracks[t].kind == TrackKind::Vcpu && tracks[t].vcpu == vcpu)) continue;
    const EventList& ev = tracks[t].events;
    for (size_t i = 0; i < ev.size(); ++i) {
      if (ev.type(i) == type) out.push_back({static_cast<uint32_t>(t), static_cast<uint32_t>(i)});
    }
  }
  return out;
}

std::vector<EventRef> TraceData::ExitsWithReason(uint32_t reason, int vcpu) const {
  std::vector<EventRef> out = OfType(VmmEventKind::RunExit, vcpu);
  std::erase_if(out, [&](const EventRef& r) { return At(r).a[0] != reason; });
  return out;
}

std::optional<EventRef> TraceData::First(EventType type) const {
  std::optional<EventRef> best;
  for (size_t t = 0; t < tracks.size(); ++t) {
    const EventList& ev = tracks[t].events;
    size_t i = 0;
    while (i < ev.size() && ev.type(i) != type) ++i;
    if (i == ev.size()) continue;
    EventRef ref{static_cast<uint32_t>(t), static_cast<uint32_t>(i)};
    if (!best || ev.time_ns(i) < tracks[best->track].events.time_ns(best->index)) best = ref;
  }
  return best;
}

std::optional<EventRef> TraceData::Last(EventType type) const {
  std::optional<EventRef> best;
  for (size_t t = 0; t < tracks.size(); ++t) {
    const EventList& ev = tracks[t].events;
    size_t i = ev.size();
    while (i > 0 && ev.type(i - 1) != type) --i;
    if (i == 0) continue;
    EventRef ref{static_cast<uint32_t>(t), static_cast<uint32_t>(i - 1)};
    if (!best || ev.time_ns(i - 1) >= tracks[best->track].events.time_ns(best->index)) best = ref;
  }
  return best;
}

size_t TraceData::Count(EventType type) const {
  size_t n = 0;
  for (const Track& t : tracks) {
    for (size_t i = 0; i < t.events.size(); ++i) n += t.events.type(i) == type;
  }
  return n;
}

std::vector<uint64_t> TraceData::StackUseCounts() const {
  std::vector<uint64_t> counts(stacks.size(), 0);
  for (const Track& t : tracks) {
    for (size_t i = 0; i < t.events.size(); ++i) {
      const int32_t id = t.events.stack_id(i);
      if (id >= 0 && static_cast<size_t>(id) < counts.size()) ++counts[id];
    }
  }
  return counts;
}

const GuestRegs* TraceData::RegsOf(int vcpu, uint64_t run_index) const {
  for (const GuestRegs& r : regs) {
    if (r.vcpu == vcpu && r.run_index == run_index) return &r;
  }
  return nullptr;
}

void TraceData::BuildSpans() {
  for (Track& t : tracks) {
    for (auto& s : t.spans) s.clear();
    RebuildAllSpans(t, 0, IsExternalThread(t));
  }
}

// --- Trace: the concurrent store ---

Trace::Trace(TraceData data) : m_data(std::move(data)) {
  m_data.BuildSpans();
  if (m_data.external) m_vmm_pid = m_data.external->pid;
  for (size_t i = 0; i < m_data.tracks.size(); ++i) {
    m_track_of_tid[m_data.tracks[i].tid] = static_cast<uint32_t>(i);
  }
  for (size_t i = 0; i < m_data.strings.size(); ++i) {
    m_string_ids.emplace(m_data.strings[i], static_cast<uint32_t>(i));
  }
  m_next_string = static_cast<uint32_t>(m_data.strings.size());
  m_next_stack = static_cast<int32_t>(m_data.stacks.size());
}

void Trace::Add(const Event& event) {
  size_t staged;
  {
    std::lock_guard lock(m_stage_mutex);
    if (m_staged.empty() || m_staged.back().size() == kStageBatch) {
      if (m_free_batches.empty()) {
        m_staged.emplace_back().reserve(kStageBatch);
      } else {
        m_staged.push_back(std::move(m_free_batches.back()));
        m_free_batches.pop_back();
      }
    }
    m_staged.back().push_back(event);
    staged = ++m_staged_count;
  }
  if (staged >= kCommitBatch) {
    // Fold in now if no reader holds the trace; otherwise the next reader will.
    std::unique_lock lock(m_lock, std::try_to_lock);
    if (lock) Commit();
  }
}

uint32_t Trace::Intern(std::string_view text) {
  if (text.empty()) return 0;
  std::lock_guard lock(m_stage_mutex);
  auto [it, inserted] = m_string_ids.try_emplace(std::string(text), m_next_string);
  if (inserted) {
    m_staged_strings.emplace_back(text);
    ++m_next_string;
  }
  return it->second;
}

void Trace::AddStack(int32_t id, const Stack& frames) {
  std::lock_guard lock(m_stage_mutex);
  while (m_next_stack <= id) {
    // Ids are dense; a gap (never expected) is kept as empty stacks.
    m_staged_stacks.emplace_back(m_next_stack, m_next_stack == id ? frames : Stack{});
    ++m_next_stack;
  }
}

void Trace::SetVmmPid(uint32_t pid) {
  std::unique_lock lock(m_lock);
  m_vmm_pid = pid;
}

void Trace::SetExternalVmm(ExternalVmm vmm) {
  if (vmm.not_visible.empty()) vmm.not_visible = ExternalVmmNote(vmm.pid, vmm.command);
  std::unique_lock lock(m_lock);
  m_vmm_pid = vmm.pid;
  // Names given before keep their place; the new ones win.
  if (m_data.external) vmm.thread_names.merge(m_data.external->thread_names);
  for (const auto& [tid, name] : vmm.thread_names) m_thread_names[tid] = name;
  for (Track& t : m_data.tracks) {
    if (auto it = m_thread_names.find(t.tid); it != m_thread_names.end()) t.name = it->second;
  }
  m_data.external = std::move(vmm);
  for (Track& t : m_data.tracks) {
    if (!m_data.IsExternalThread(t)) continue;
    for (auto& spans : t.spans) spans.clear();
    RebuildAllSpans(t, 0, true);
  }
}

void Trace::NameThread(uint32_t tid, std::string name) {
  std::unique_lock lock(m_lock);
  if (m_data.external) m_data.external->thread_names[tid] = name;
  if (auto it = m_track_of_tid.find(tid); it != m_track_of_tid.end()) {
    m_data.tracks[it->second].name = name;
  }
  m_thread_names[tid] = std::move(name);
}

void Trace::SetExternalEnded(std::string text) {
  std::unique_lock lock(m_lock);
  if (m_data.external) m_data.external->ended = std::move(text);
}

int32_t Trace::ExternalVcpuOf(const Event& e) const {
  const std::optional<ExternalVmm>& vmm = m_data.external;
  if (!vmm || e.pid != vmm->pid) return -1;
  if (e.type != KernelEventKind::RunEnter && e.type != KernelEventKind::RunExit) return -1;
  if (int32_t id = RunEdgeVcpuId(e.a); id >= 0) return id;
  // The syscall source names the vCPU by the fd KVM_RUN was called on.
  if (e.type == KernelEventKind::RunEnter && (e.a[2] & 0xff) == kRunFromSyscall &&
      e.a[0] <= static_cast<uint64_t>(INT32_MAX)) {
    auto it = vmm->vcpu_of_fd.find(static_cast<int>(e.a[0]));
    if (it != vmm->vcpu_of_fd.end()) return it->second;
  }
  return -1;
}

void Trace::AppendConsole(char c) {
  std::lock_guard lock(m_stage_mutex);
  m_staged_console.push_back(c);
}

void Trace::AddRegs(const GuestRegs& regs) {
  std::lock_guard lock(m_stage_mutex);
  m_staged_regs.push_back(regs);
}

void Trace::SetHost(HostFacts host) {
  std::unique_lock lock(m_lock);
  m_data.host = std::move(host);
}

void Trace::SetGuest(GuestFacts guest) {
  std::unique_lock lock(m_lock);
  m_data.guest = std::move(guest);
}

void Trace::SetKernelCounts(const KernelCounts& counts) {
  std::unique_lock lock(m_lock);
  m_data.kernel_counts = counts;
}

void Trace::SetKvmStats(std::optional<KvmStatsRecord> stats, std::string note) {
  std::unique_lock lock(m_lock);
  m_data.kvm_stats = std::move(stats);
  m_data.kvm_stats_note = m_data.kvm_stats ? std::string() : std::move(note);
}

void Trace::SetSymbols(SymbolTable symbols) {
  std::unique_lock lock(m_lock);
  m_data.symbols = std::move(symbols);
}

Trace::Snapshot Trace::Read() {
  {
    std::unique_lock lock(m_lock);
    Commit();
  }
  return Snapshot(std::shared_lock(m_lock), &m_data);
}

TraceData Trace::Take() {
  std::unique_lock lock(m_lock);
  Commit();
  TraceData out = std::move(m_data);
  m_data = TraceData{};
  m_track_of_tid.clear();
  m_thread_names.clear();
  std::vector<uint32_t>().swap(m_merge_track_of);
  std::vector<uint32_t>().swap(m_merge_order);
  std::vector<Event>().swap(m_merge_tail);
  std::lock_guard stage(m_stage_mutex);
  std::vector<std::vector<Event>>().swap(m_free_batches);
  m_string_ids.clear();
  m_next_string = 1;
  m_next_stack = 0;
  return out;
}

void Trace::Commit() {
  std::vector<std::vector<Event>> staged;
  {
    std::lock_guard lock(m_stage_mutex);
    staged.swap(m_staged);
    m_staged_count = 0;
    for (std::string& s : m_staged_strings) m_data.strings.push_back(std::move(s));
    m_staged_strings.clear();
    for (auto& [id, frames] : m_staged_stacks) m_data.stacks.push_back(std::move(frames));
    m_staged_stacks.clear();
    m_data.console += m_staged_console;
    m_staged_console.clear();
    m_data.regs.insert(m_data.regs.end(), m_staged_regs.begin(), m_staged_regs.end());
    m_staged_regs.clear();
  }
  // Batch by batch, in arrival order: the same as merging them all at once
  // (a thread's events keep their order; equal times keep arrival order).
  for (std::vector<Event>& batch : staged) {
    Merge(batch);
    batch.clear();
    std::lock_guard lock(m_stage_mutex);
    if (m_free_batches.size() < kCommitBatch / kStageBatch) m_free_batches.push_back(std::move(batch));
  }
}

void Trace::Merge(const std::vector<Event>& batch) {
  // The track of each staged event, made on its thread's first event.
  std::vector<uint32_t>& track_of = m_merge_track_of;
  track_of.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Event& e = batch[i];
    auto [it, inserted] =
        m_track_of_tid.try_emplace(e.tid, static_cast<uint32_t>(m_data.tracks.size()));
    if (inserted) {
      Track t;
      t.pid = e.pid;
      t.tid = e.tid;
      bool vmm_side = e.type.origin == Origin::Vmm || m_vmm_pid == 0 || e.pid == m_vmm_pid;
      t.kind = vmm_side ? TrackKind::Vmm : TrackKind::System;
      if (auto name = m_thread_names.find(e.tid); name != m_thread_names.end()) {
        t.name = name->second;
      }
      t.events.SetThread(e.pid, e.tid);
      m_data.tracks.push_back(std::move(t));
    }
    track_of[i] = it->second;
    Track& track = m_data.tracks[it->second];
    // Only a vCPU's own thread calls KVM_RUN (ioctls about a vCPU, such as
    // KVM_CREATE_VCPU, come from the main thread).
    bool runs_vcpu = e.type == VmmEventKind::RunEnter || e.type == VmmEventKind::RunExit;
    // An external VMM's thread shows it runs a vCPU by the kernel's KVM_RUN.
    int32_t vcpu = runs_vcpu ? e.vcpu : track.kind == TrackKind::Vcpu ? -1 : ExternalVcpuOf(e);
    if (vcpu >= 0 && track.kind != TrackKind::Vcpu) {
      // The thread turns out to run a vCPU: name its kernel events too.
      track.kind = TrackKind::Vcpu;
      track.vcpu = vcpu;
      track.events.SetVcpu(vcpu);
    }
  }
  // The batch by track, then time, then arrival: indices, not copies.
  std::vector<uint32_t>& order = m_merge_order;
  order.resize(batch.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (track_of[a] != track_of[b]) return track_of[a] < track_of[b];
    return batch[a].time_ns < batch[b].time_ns;
  });
  std::vector<Event>& tail = m_merge_tail;
  for (size_t g = 0; g < order.size();) {
    const uint32_t index = track_of[order[g]];
    size_t end = g;
    while (end < order.size() && track_of[order[end]] == index) ++end;
    Track& track = m_data.tracks[index];
    const bool vcpu_track = track.kind == TrackKind::Vcpu;
    auto staged = [&](size_t k) {
      Event e = batch[order[k]];
      if (vcpu_track) e.vcpu = track.vcpu;
      return e;
    };
    EventList& ev = track.events;
    const size_t old_size = ev.size();
    // Late events (the kernel's arrive after the VMM's) go in their place:
    // the stored tail from the first of them on is decoded, merged with them
    // (stored first at equal times) and appended again; everything from there
    // on is re-paired into spans.
    const size_t from = ev.upper_bound_time(batch[order[g]].time_ns);
    if (from == old_size) {
      for (size_t k = g; k < end; ++k) ev.push_back(staged(k));
    } else {
      tail.assign(ev.begin() + static_cast<std::ptrdiff_t>(from), ev.end());
      ev.truncate(from);
      size_t t = 0, k = g;
      while (t < tail.size() || k < end) {
        if (k == end || (t < tail.size() && tail[t].time_ns <= batch[order[k]].time_ns)) {
          ev.push_back(tail[t++]);
        } else {
          ev.push_back(staged(k++));
        }
      }
    }
    RebuildAllSpans(track, from, m_data.IsExternalThread(track));
    g = end;
  }
}

SymbolTable TraceSymbols(const SymbolTable& all, const std::vector<Stack>& stacks,
                         const std::vector<std::string>& names) {
  SymbolTable out;
  std::unordered_set<const Symbol*> kept;
  for (const Stack& stack : stacks) {
    for (uint64_t addr : stack) {
      const Symbol* s = all.Find(addr);
      if (s && kept.insert(s).second) out.Add(*s);
    }
  }
  std::unordered_set<std::string_view> wanted(names.begin(), names.end());
  for (const Symbol& s : all.symbols()) {
    if (wanted.count(s.name) && kept.insert(&s).second) out.Add(s);
  }
  out.Finish();
  return out;
}

}  // namespace kvmscope::traces

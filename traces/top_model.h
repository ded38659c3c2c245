// The model of `kvmscope top`, with no BPF, KVM or terminal in it: raw
// per-thread counters read from the kernel (TopSnapshot) → one interval's
// rates and latency percentiles (TopInterval) → rows per VM and per vCPU
// thread, sorted and filtered (TopVmRows) → screen lines, CSV or JSON lines.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kvmscope::traces {

// ---- the raw counters (the layout of probes/kvm_top.h, in C++ types) ----

inline constexpr size_t kTopBuckets = 256;
inline constexpr size_t kTopUserReasons = 64;  // KVM_EXIT_*; the last slot holds larger ones

// The latencies top histograms, in the order of kvm_top.h's kvm_top_hist.
enum class TopLatency : uint8_t {
  Run,     // a KVM_RUN call: from sys_enter_ioctl to its return
  Vmm,     // the VMM's handling: a KVM_RUN return to the next KVM_RUN
  Kernel,  // KVM's handling of an exit: kvm_exit to kvm_entry (VMX/SVM only)
};
inline constexpr size_t kTopLatencies = 3;
std::string_view TopLatencyName(TopLatency latency);  // "KVM_RUN", "VMM", "KVM"

// Log2 buckets with 4 sub-buckets per power of two (as the BPF side fills
// them): 0..3 have their own buckets; each other bucket is at most 25 % of
// its lower bound wide.
using TopHistogram = std::array<uint32_t, kTopBuckets>;
size_t TopBucketOf(uint64_t ns);
uint64_t TopBucketLow(size_t bucket);   // the smallest value in the bucket
uint64_t TopBucketHigh(size_t bucket);  // one past the largest (saturates at UINT64_MAX)

// One kvm_exit hardware reason of a thread. isa: 1 VMX, 2 SVM (the
// tracepoint's KVM_ISA_*), 0 unknown.
struct TopHwExit {
  uint32_t isa = 0;
  uint32_t reason = 0;
  uint64_t count = 0;
};

// Everything the kernel counted for one thread since it was first seen.
struct TopThreadSample {
  uint32_t tid = 0;
  uint32_t tgid = 0;
  int32_t fd = -1;  // the vCPU fd of its latest KVM_RUN
  uint64_t runs = 0, run_ns = 0, vmm_ns = 0, kernel_ns = 0;
  // The start (CLOCK_MONOTONIC ns) of the KVM_RUN the thread is in now; 0
  // when it is not in one. A vCPU halted inside KVM_RUN for the whole
  // interval counts as 100 % in KVM_RUN through it.
  uint64_t run_open_since_ns = 0;
  std::array<uint64_t, kTopUserReasons> user_reasons{};  // kvm_userspace_exit by KVM_EXIT_*
  uint64_t user_errors = 0;  // KVM_RUN returns with an error (EINTR, ...), not in user_reasons
  uint64_t pio = 0, mmio = 0, emulated = 0, inj_exception = 0, hw_exits = 0, entries = 0;
  std::array<TopHistogram, kTopLatencies> hists{};
  std::vector<TopHwExit> hw_reasons;  // sorted by (isa, reason)
};

// All threads at one moment (CLOCK_MONOTONIC), sorted by tid.
struct TopSnapshot {
  int64_t mono_ns = 0;
  std::vector<TopThreadSample> threads;
};

// ---- one interval ----

enum class TopReasonKind : uint8_t {
  Userspace,  // a KVM_EXIT_* returned to the VMM (kvm_userspace_exit)
  Hardware,   // a kvm_exit reason (VMX/SVM; never fires on PVM)
  Event,      // a KVM tracepoint counted: kvm_pio, kvm_mmio, kvm_inj_exception, kvm_emulate_insn
};

struct TopReason {
  TopReasonKind kind = TopReasonKind::Userspace;
  std::string name;  // "KVM_EXIT_IO", "VMX EPT_VIOLATION", "SVM NPF", "kvm_pio"
  uint64_t count = 0;
  double per_s = 0;
};

// Percentiles of an interval's histogram by nearest rank, each reported as
// its bucket's upper bound (so at most 25 % above the true value).
struct TopLatencyStats {
  uint64_t samples = 0;
  uint64_t p50_ns = 0, p99_ns = 0;  // 0 when there are no samples
};
TopLatencyStats TopPercentiles(const TopHistogram& hist);

struct TopThreadRates {
  uint32_t tid = 0, tgid = 0;
  int32_t fd = -1;
  uint64_t runs = 0;  // KVM_RUN returns in the interval: the exits the VMM saw
  double runs_per_s = 0;
  double run_share =
      0;  // fraction of the interval spent inside KVM_RUN (0..1), open calls included
  uint64_t hw_exits = 0;
  double hw_per_s = 0;
  std::vector<TopReason> reasons;  // non-zero only, by count descending
  std::array<TopHistogram, kTopLatencies> hists{};
  std::array<TopLatencyStats, kTopLatencies> latency{};
};

struct TopInterval {
  double seconds = 0;
  int64_t end_mono_ns = 0;
  std::vector<TopThreadRates> threads;  // threads with any activity, by tid
};

// The counters of `cur` minus those of `prev` over the time between them. A
// thread absent from `prev` counts from zero (its record was created in the
// interval); a thread absent from `cur` is gone; a thread with no activity
// (no exit, not in KVM_RUN) is left out. Histograms subtract modulo 2^32 as
// the kernel's u32 buckets wrap.
TopInterval DiffTop(const TopSnapshot& prev, const TopSnapshot& cur);

// ---- rows ----

// Who the threads are: read from /proc by the caller.
struct TopNames {
  std::map<uint32_t, std::string> process;  // tgid → command line
  std::map<uint32_t, std::string> thread;   // tid → comm
  std::map<uint32_t, int> vcpu;             // tid → vCPU index (from its KVM_RUN fd)
};

enum class TopSort : uint8_t { Exits, RunShare, RunP99, VmmP99, Pid };
inline constexpr size_t kTopSorts = 5;
std::string_view TopSortName(TopSort sort);  // "exits/s", "in KVM_RUN", ...
TopSort NextTopSort(TopSort sort);

struct TopView {
  TopSort sort = TopSort::Exits;
  std::string reason_filter;  // ECMAScript regex over reason names; "" = all
  uint32_t vm = 0;            // only this VMM's pid; 0 = all
  bool per_vcpu = true;       // rows per vCPU thread under each VM
};
// "" when `filter` is a usable reason filter, else why not.
std::string CheckReasonFilter(const std::string& filter);

struct TopRow {
  uint32_t pid = 0;
  uint32_t tid = 0;  // 0 for a VM's row
  int vcpu = -1;     // -1: unknown (or a VM's row)
  std::string name;  // the command line (VM) or the thread's comm
  size_t threads = 0;
  // Exits per second: hardware exits (kvm_exit) where they fire, which
  // include those returned to the VMM; else (PVM) the KVM_RUN returns.
  double exits_per_s = 0;
  double runs_per_s = 0;   // KVM_RUN returns to the VMM per second
  double run_share = 0;    // VM: the mean over its vCPU threads
  double hw_per_s = 0;     // kvm_exit per second
  std::vector<TopReason> reasons;  // after the reason filter, by rate descending
  std::array<TopLatencyStats, kTopLatencies> latency{};
};

struct TopVmRows {
  TopRow vm;
  std::vector<TopRow> vcpus;  // empty unless view.per_vcpu
};

// Groups the interval's threads by process, applies the VM and reason
// filters (with a reason filter, rows with none of its reasons go), and
// sorts VMs and, within each, vCPUs by the view's key (descending; Pid
// ascending). An invalid reason filter filters nothing.
std::vector<TopVmRows> BuildTopRows(const TopInterval& interval, const TopNames& names,
                                    const TopView& view);

// ---- text ----

struct TopHeader {
  std::string backend;          // "PVM", "VMX (Intel)", ...
  bool kvm_exit_fires = false;  // kvm_exit counted anything since start
  double interval_s = 1;
  bool emulation = false;            // kvm_emulate_insn counted
  std::vector<std::string> skipped;  // tracepoints not attached, with why
};

// "850ns", "12.3µs", "4.1ms", "2.50s"; "-" for 0.
std::string TopDuration(uint64_t ns);
// "199,812/s" style: the rate rounded, with thousands separators.
std::string TopRate(double per_s);

// The whole screen as lines of at most `width` columns (µ, ·, ▼ count as
// one): the header (backend; on PVM that kvm_exit does not fire and counts
// come from KVM_RUN returns; the bucket error), the column titles with ▼ on
// the sort column, and per VM its row, its top reasons and its vCPU rows.
std::vector<std::string> FormatTopScreen(const std::vector<TopVmRows>& rows,
                                         const TopHeader& header, const TopView& view,
                                         size_t width);

// Log mode: one record per (interval, thread, reason) with the thread's
// run counts and latencies repeated; `unix_time` stamps the interval's end.
std::string TopCsvHeader();
std::vector<std::string> TopCsvLines(const TopInterval& interval, const TopNames& names,
                                     const TopView& view, double unix_time);
std::vector<std::string> TopJsonLines(const TopInterval& interval, const TopNames& names,
                                      const TopView& view, double unix_time);

}  // namespace kvmscope::traces

// `kvmscope top`'s loader: kvm_top.bpf.c's tracepoint programs, attached
// where the kernel has the tracepoint, and the two hash maps read back as a
// traces::TopSnapshot. libbpf stays inside this file.
#include "probes/top_session.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include "kvm_top.h"
#include "kvm_top.skel.h"
#include "probes/host.h"

namespace kvmscope::probes {

namespace {

// libbpf is quiet while top loads (its warnings would land on the screen);
// what matters reaches the user through our errors. KVMSCOPE_LIBBPF_DEBUG=1
// keeps its voice.
int Quiet(libbpf_print_level, const char*, va_list) {
  return 0;
}

class QuietLibbpf {
 public:
  QuietLibbpf() : m_old(std::getenv("KVMSCOPE_LIBBPF_DEBUG") ? nullptr : libbpf_set_print(Quiet)) {}
  ~QuietLibbpf() {
    if (m_old) libbpf_set_print(m_old);
  }

 private:
  libbpf_print_fn_t m_old;
};

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The one place a kernel record becomes the model's sample (copied out of
// the map first, never read in place).
traces::TopThreadSample ToSample(uint32_t tid, const kvm_top_thread& raw) {
  static_assert(traces::kTopUserReasons == KVM_TOP_UREASONS);
  static_assert(traces::kTopBuckets == KVM_TOP_HIST_BUCKETS);
  static_assert(traces::kTopLatencies == KVM_TOP_HISTS);
  traces::TopThreadSample t;
  t.tid = tid;
  t.tgid = raw.tgid;
  t.fd = raw.last_fd;
  t.runs = raw.runs;
  t.run_ns = raw.run_ns;
  t.vmm_ns = raw.vmm_ns;
  t.kernel_ns = raw.kernel_ns;
  t.run_open_since_ns = raw.run_enter_ts;  // bpf_ktime_get_ns(): CLOCK_MONOTONIC
  std::copy(std::begin(raw.ureason), std::end(raw.ureason), t.user_reasons.begin());
  t.user_errors = raw.uerrors;
  t.pio = raw.pio;
  t.mmio = raw.mmio;
  t.emulated = raw.emulated;
  t.inj_exception = raw.inj_exception;
  t.hw_exits = raw.hw_exits;
  t.entries = raw.entries;
  for (size_t h = 0; h < traces::kTopLatencies; ++h) {
    std::copy(std::begin(raw.hist[h]), std::end(raw.hist[h]), t.hists[h].begin());
  }
  return t;
}

}  // namespace

struct TopSession::Impl {
  TopOptions options;
  Backend backend = Backend::Unknown;
  kvm_top_bpf* skel = nullptr;
  std::vector<bpf_link*> links;
  std::vector<std::string> attached, skipped;

  ~Impl() {
    Detach();
    kvm_top_bpf__destroy(skel);
  }

  void Detach() {
    // Each detach waits for an RCU grace period: side by side, one wait.
    std::vector<std::thread> detachers;
    for (bpf_link* l : links) detachers.emplace_back([l] { bpf_link__destroy(l); });
    for (std::thread& t : detachers) t.join();
    links.clear();
  }

  struct Program {
    std::string_view tracepoint;
    bpf_program* prog;
    bool wanted;
  };

  // `userspace_exit`: whether kvm:kvm_userspace_exit exists. It ends each
  // KVM_RUN (fired inside the ioctl, right after kvm_arch_vcpu_ioctl_run
  // returns) and fires for KVM_RUN only; sys_exit_ioctl fires for every
  // ioctl on the host, so it is the fallback where that tracepoint is absent.
  std::vector<Program> Programs(bool userspace_exit) const {
    auto* p = &skel->progs;
    return {
        {"syscalls:sys_enter_ioctl", p->top_sys_enter, true},
        {"syscalls:sys_exit_ioctl", p->top_sys_exit, !userspace_exit},
        {"kvm:kvm_userspace_exit", p->top_userspace_exit, true},
        {"kvm:kvm_pio", p->top_pio, true},
        {"kvm:kvm_mmio", p->top_mmio, true},
        {"kvm:kvm_inj_exception", p->top_inj_exception, true},
        {"kvm:kvm_exit", p->top_kvm_exit, true},
        {"kvm:kvm_entry", p->top_kvm_entry, true},
        {"kvm:kvm_emulate_insn", p->top_emulate_insn, options.emulation},
    };
  }

  void Open() {
    std::string tracefs = EnsureTracefs();
    bool hidden = false;
    backend = BackendFromSymbols(LoadKallsyms("/proc/kallsyms", &hidden));
    skel = kvm_top_bpf__open();
    if (!skel) {
      throw ProbeError(
          fmt::format("opening kvmscope top's BPF object failed: {}", Describe(errno)));
    }
    skel->rodata->targ_tgid = options.pid;
    if (options.uid) {
      skel->rodata->filter_uid = true;
      skel->rodata->targ_uid = *options.uid;
    }
    std::vector<Program> programs = Programs(TracepointExists(tracefs, "kvm:kvm_userspace_exit"));
    for (Program& p : programs) {
      // A tracepoint this kernel lacks has no context type to relocate against.
      bool exists = TracepointExists(tracefs, p.tracepoint);
      if (!exists && p.wanted)
        skipped.push_back(fmt::format("{}: no such tracepoint", p.tracepoint));
      p.wanted = p.wanted && exists;
      bpf_program__set_autoload(p.prog, p.wanted);
    }
    if (int err = kvm_top_bpf__load(skel); err) {
      int e = -err;
      std::string hint = e == EPERM || e == EACCES
                             ? "loading BPF programs needs root (or CAP_BPF, CAP_PERFMON and "
                               "CAP_SYS_RESOURCE): run kvmscope top as root"
                             : "the kernel refused a program (KVMSCOPE_LIBBPF_DEBUG=1 shows why)";
      throw ProbeError(
          fmt::format("loading kvmscope top's BPF programs failed: {}: {}", Describe(e), hint));
    }
    for (const Program& p : programs) {
      if (!p.wanted) continue;
      bpf_link* link = bpf_program__attach(p.prog);
      if (!link) {
        int err = errno;
        skipped.push_back(fmt::format("{}: attach failed: {}", p.tracepoint, Describe(err)));
        continue;
      }
      links.push_back(link);
      attached.emplace_back(p.tracepoint);
    }
    if (std::find(attached.begin(), attached.end(), "syscalls:sys_enter_ioctl") == attached.end()) {
      throw ProbeError(
          "KVM_RUN cannot be counted: syscalls:sys_enter_ioctl did not attach (a kernel without "
          "CONFIG_FTRACE_SYSCALLS?); 'kvmscope doctor' shows what this kernel allows");
    }
  }
};

TopSession::TopSession(const TopOptions& options) : m(std::make_unique<Impl>()) {
  QuietLibbpf quiet;
  m->options = options;
  m->Open();
}

TopSession::~TopSession() = default;

Backend TopSession::backend() const {
  return m->backend;
}
const std::vector<std::string>& TopSession::attached() const {
  return m->attached;
}
const std::vector<std::string>& TopSession::skipped() const {
  return m->skipped;
}
void TopSession::Detach() {
  m->Detach();
}

traces::TopSnapshot TopSession::Read() const {
  traces::TopSnapshot snap;
  int threads_fd = bpf_map__fd(m->skel->maps.top_threads);
  int exits_fd = bpf_map__fd(m->skel->maps.top_exits);
  snap.mono_ns = MonotonicNs();
  // Thread records are ~3.7 KB: read into one buffer, never on the stack.
  auto raw = std::make_unique<kvm_top_thread>();
  uint32_t key = 0, next = 0;
  uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(threads_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(threads_fd, &key, raw.get()) != 0) continue;  // deleted meanwhile
    snap.threads.push_back(ToSample(key, *raw));
  }
  std::sort(snap.threads.begin(), snap.threads.end(),
            [](const auto& a, const auto& b) { return a.tid < b.tid; });
  kvm_top_exit_key ekey{}, enext{};
  kvm_top_exit_key* eprev = nullptr;
  uint64_t count = 0;
  while (bpf_map_get_next_key(exits_fd, eprev, &enext) == 0) {
    ekey = enext;
    eprev = &ekey;
    if (bpf_map_lookup_elem(exits_fd, &ekey, &count) != 0) continue;
    auto it = std::lower_bound(snap.threads.begin(), snap.threads.end(), ekey.tid,
                               [](const auto& t, uint32_t tid) { return t.tid < tid; });
    if (it == snap.threads.end() || it->tid != ekey.tid) continue;
    it->hw_reasons.push_back({ekey.isa, ekey.reason, count});
  }
  for (traces::TopThreadSample& t : snap.threads) {
    std::sort(t.hw_reasons.begin(), t.hw_reasons.end(), [](const auto& a, const auto& b) {
      return a.isa != b.isa ? a.isa < b.isa : a.reason < b.reason;
    });
  }
  return snap;
}

void TopSession::Forget(const std::vector<uint32_t>& tids) {
  if (tids.empty()) return;
  int threads_fd = bpf_map__fd(m->skel->maps.top_threads);
  int exits_fd = bpf_map__fd(m->skel->maps.top_exits);
  for (uint32_t tid : tids) bpf_map_delete_elem(threads_fd, &tid);
  std::vector<kvm_top_exit_key> gone;
  kvm_top_exit_key key{}, next{};
  kvm_top_exit_key* prev = nullptr;
  while (bpf_map_get_next_key(exits_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (std::find(tids.begin(), tids.end(), key.tid) != tids.end()) gone.push_back(key);
  }
  for (const kvm_top_exit_key& k : gone) bpf_map_delete_elem(exits_fd, &k);
}

}  // namespace kvmscope::probes

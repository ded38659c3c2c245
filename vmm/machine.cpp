// The VM, its vCPU threads and their run loop, and the watchdog.
#include "vmm/machine.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "vmm/error.h"

namespace kvmscope::vmm {

namespace {
// The signal that kicks a vCPU thread out of KVM_RUN. Its handler does
// nothing: the point is that KVM_RUN returns EINTR. SA_RESTART keeps other
// system calls (writes to the terminal) from failing; KVM_RUN is never
// restarted by it.
constexpr int kKickSignal = SIGUSR1;

void InstallKickHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(kKickSignal, &sa, nullptr);
  });
}

// Where QEMU puts them: below 4 GiB, above any RAM we map. VMX needs these
// for real-mode emulation on CPUs without unrestricted guest.
constexpr uint64_t kIdentityMapAddr = 0xfeffc000;
constexpr uint64_t kTssAddr = kIdentityMapAddr + 0x1000;

constexpr uint64_t kRealModeLimit = 0x100000;  // 1 MiB
constexpr uint64_t kRealModeMinLoad = 0x500;   // past the IVT and BIOS data area
constexpr long kNoHypercall = -1000;           // -KVM_ENOSYS

thread_local int t_vcpu = -1;          // the vCPU this thread runs
thread_local bool t_reported = false;  // it reported a status this exit
}  // namespace

struct Machine::Vcpu {
  int id = 0;
  Fd fd;
  KvmStats stats;  // after fd: closed before it
  kvm_run* run = nullptr;
  size_t run_size = 0;
  std::thread thread;
  uint64_t run_index = 0;
  ~Vcpu() {
    if (run) munmap(run, run_size);
  }
};

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::Passed: return "passed";
    case Verdict::Halted: return "halted";
    case Verdict::WrongStatus: return "wrong status";
    case Verdict::NoStatus: return "no status";
    case Verdict::Shutdown: return "shutdown";
    case Verdict::InternalError: return "internal error";
    case Verdict::FailEntry: return "entry failed";
    case Verdict::Timeout: return "watchdog: time budget";
    case Verdict::ExitBudget: return "watchdog: exit budget";
    case Verdict::Stopped: return "stopped";
    case Verdict::Unhandled: return "unhandled exit";
    case Verdict::VmmError: return "VMM error";
  }
  return "?";
}

bool IsSuccess(Verdict v) {
  return v == Verdict::Passed || v == Verdict::Halted;
}

void Machine::ValidateConfig() const {
  const MachineConfig& c = m_config;
  auto usage = [](const std::string& m) { return Error(ErrorKind::Usage, m); };
  if (c.image.empty()) throw usage("the guest image is empty");
  if (c.vcpus < 1 || c.vcpus > 64) throw usage(fmt::format("bad vCPU count {}", c.vcpus));
  if (c.ram_size < KVMSCOPE_FREE_RAM || c.ram_size % 4096) {
    throw usage(fmt::format("bad RAM size {:#x}", c.ram_size));
  }
  uint64_t min_load = c.mode == CpuMode::Real ? kRealModeMinLoad : uint64_t{KVMSCOPE_LOAD_ADDR};
  uint64_t limit = c.mode == CpuMode::Real ? kRealModeLimit : c.ram_size;
  if (c.load_addr < min_load || c.load_addr >= limit) {
    throw usage(fmt::format(
        "bad load address {:#x}: in {} mode it must be in [{:#x}, {:#x}) (below {:#x} are the "
        "VMM's tables, see vmm/guests/abi.h)",
        c.load_addr, CpuModeName(c.mode), min_load, limit, min_load));
  }
  if (c.image.size() > limit - c.load_addr) {
    throw usage(
        fmt::format("the guest image is too large: {} bytes at {:#x} pass the {} limit "
                    "of {:#x} ({} bytes available)",
                    c.image.size(), c.load_addr, c.mode == CpuMode::Real ? "real-mode" : "RAM",
                    limit, limit - c.load_addr));
  }
}

Machine::Machine(MachineConfig config, Observer* observer)
    : m_config(std::move(config)), m_io(observer) {
  ValidateConfig();
  InstallKickHandler();
  m_kvm = OpenKvm(m_io);
  int kvm = m_kvm.get();

  m_vm = Fd(static_cast<int>(m_io.Call(kvm, KVM_CREATE_VM, "KVM_CREATE_VM", 0UL)));
  // Optional on VMX only; other backends may refuse.
  m_io.Call(m_vm.get(), KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", &kIdentityMapAddr,
            -1, true);
  m_io.Call(m_vm.get(), KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", kTssAddr, -1, true);
  if (m_config.in_kernel_irqchip) {
    m_io.Call(m_vm.get(), KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", 0UL);
    kvm_pit_config pit{};
    m_io.Call(m_vm.get(), KVM_CREATE_PIT2, "KVM_CREATE_PIT2", &pit);
  }

  void* ram_map = mmap(nullptr, m_config.ram_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram_map == MAP_FAILED) {
    throw Error(ErrorKind::Internal, ErrnoMessage("mmap guest RAM", errno));
  }
  m_ram = static_cast<uint8_t*>(ram_map);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = m_config.ram_size;
  region.userspace_addr = reinterpret_cast<uint64_t>(m_ram);
  m_io.Call(m_vm.get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", &region);
  std::memcpy(m_ram + m_config.load_addr, m_config.image.data(), m_config.image.size());

  m_serial = std::make_unique<Serial16550>([this](uint8_t byte) {
    Event ev = MakeEvent(EventKind::ConsoleByte, t_vcpu);
    ev.byte = byte;
    {
      std::lock_guard lock(m_mutex);
      m_console.push_back(static_cast<char>(byte));
    }
    m_io.Emit(ev);
  });
  m_status_port = std::make_unique<StatusPort>([this](uint32_t value) {
    Event ev = MakeEvent(EventKind::Status, t_vcpu);
    ev.status = value;
    {
      std::lock_guard lock(m_mutex);
      m_status = value;
    }
    t_reported = true;
    m_io.Emit(ev);
  });
  m_mmio_device = std::make_unique<MmioTestDevice>();
  m_pio.Register(KVMSCOPE_COM1_PORT, 8, m_serial.get());
  m_pio.Register(KVMSCOPE_STATUS_PORT, 2, m_status_port.get());
  m_mmio.Register(KVMSCOPE_MMIO_BASE, KVMSCOPE_MMIO_SIZE, m_mmio_device.get());

  // CPUID as the host KVM supports it, so that long mode, RDTSC and the
  // KVM signature leaf are visible to the guest.
  constexpr int kMaxCpuid = 256;
  std::vector<uint8_t> cpuid(sizeof(CpuidHeader) + kMaxCpuid * sizeof(kvm_cpuid_entry2));
  reinterpret_cast<CpuidHeader*>(cpuid.data())->nent = kMaxCpuid;
  m_io.Call(kvm, kKvmGetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID", cpuid.data());

  // KVM's own counters: the VM's now, each vCPU's right after it is created.
  bool stats = HasBinaryStats(m_io, kvm);
  if (!stats) {
    m_stats_unavailable =
        "this kernel lacks KVM_CAP_BINARY_STATS_FD (KVM_GET_STATS_FD came in Linux 5.14)";
  }
  auto open_stats = [&](int fd, int vcpu) {
    if (!stats) return KvmStats();
    try {
      return OpenKvmStats(m_io, fd, vcpu);
    } catch (const Error& e) {
      stats = false;
      m_stats_unavailable = vcpu < 0 ? std::string(e.what())
                                     : fmt::format("vCPU {}: {}", vcpu, e.what());
      return KvmStats();
    }
  };
  m_vm_stats = open_stats(m_vm.get(), -1);

  long mmap_size = m_io.Call(kvm, KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE", 0UL);
  for (int i = 0; i < m_config.vcpus; ++i) {
    auto v = std::make_unique<Vcpu>();
    v->id = i;
    v->fd = Fd(static_cast<int>(m_io.Call(m_vm.get(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU",
                                          static_cast<unsigned long>(i), i)));
    v->stats = open_stats(v->fd.get(), i);
    void* run = mmap(nullptr, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd.get(), 0);
    if (run == MAP_FAILED) throw Error(ErrorKind::Internal, ErrnoMessage("mmap kvm_run", errno));
    v->run = static_cast<kvm_run*>(run);
    v->run_size = mmap_size;
    m_io.Call(v->fd.get(), kKvmSetCpuid2, "KVM_SET_CPUID2", cpuid.data(), i);

    kvm_sregs sregs{};
    m_io.Call(v->fd.get(), KVM_GET_SREGS, "KVM_GET_SREGS", &sregs, i);
    kvm_regs regs{};
    SetupCpuMode(m_config.mode, ram(), m_config.load_addr, sregs, regs);
    regs.rsi = m_config.param;
    regs.rdi = static_cast<uint64_t>(i);
    m_io.Call(v->fd.get(), KVM_SET_SREGS, "KVM_SET_SREGS", &sregs, i);
    m_io.Call(v->fd.get(), KVM_SET_REGS, "KVM_SET_REGS", &regs, i);
    m_vcpus.push_back(std::move(v));
  }
}

Machine::~Machine() {
  {
    std::lock_guard lock(m_mutex);
    if (m_started && !m_joined) {
      m_control.Stop();
    }
  }
  if (m_started && !m_joined) {
    KickAll();
    Wait();
  }
  m_vcpus.clear();
  if (m_ram) munmap(m_ram, m_config.ram_size);
}

std::optional<KvmCounters> Machine::ReadKvmStats(std::string& why_not) const {
  if (!m_stats_unavailable.empty()) {
    why_not = m_stats_unavailable;
    return std::nullopt;
  }
  try {
    KvmCounters counters;
    counters.vm = m_vm_stats.Read();
    for (const auto& v : m_vcpus) counters.vcpus.push_back(v->stats.Read());
    return counters;
  } catch (const Error& e) {
    why_not = e.what();
    return std::nullopt;
  }
}

void Machine::EmitControl(std::string detail, EventKind kind) {
  Event ev = MakeEvent(kind);
  ev.detail = std::move(detail);
  m_io.Emit(ev);
}

void Machine::Start(const RunOptions& options) {
  {
    std::lock_guard lock(m_mutex);
    if (m_started) throw Error(ErrorKind::Internal, "Machine::Start called twice");
    m_started = true;
    m_options = options;
    m_running_vcpus = static_cast<int>(m_vcpus.size());
    m_start_ns = NowNs();
  }
  if (options.start_paused) {
    m_control.Pause();
    EmitControl("pause (started paused)");  // a trace sees the wait from its start
  }
  m_control.SetSlowMotion(options.slow_motion);
  for (auto& v : m_vcpus) {
    Vcpu* vcpu = v.get();
    vcpu->thread = std::thread([this, vcpu] { VcpuLoop(*vcpu); });
  }
  m_watchdog = std::thread([this] { WatchdogLoop(); });
}

void Machine::VcpuLoop(Vcpu& vcpu) {
  t_vcpu = vcpu.id;
  const std::string thread_name = fmt::format("vcpu{}", vcpu.id);
  pthread_setname_np(pthread_self(), thread_name.c_str());
  std::string why = "stopped";
  while (m_control.AwaitPermission()) {
    Event enter = MakeEvent(EventKind::RunEnter, vcpu.id);
    enter.run_index = vcpu.run_index;
    m_io.Emit(enter);
    m_runs.fetch_add(1);

    int rc = ioctl(vcpu.fd.get(), KVM_RUN, 0);
    int err = errno;
    int64_t returned_ns = NowNs();

    ExitInfo info;
    if (rc < 0) {
      info.run_errno = err;
      info.reason = KVM_EXIT_INTR;
    } else {
      info.reason = vcpu.run->exit_reason;
    }
    t_reported = false;
    bool keep_running = true;
    if (rc < 0 && err != EINTR) {
      Fail(Verdict::VmmError, ErrnoMessage(fmt::format("KVM_RUN on vCPU {}", vcpu.id), err));
      why = "KVM_RUN failed";
      keep_running = false;
    } else {
      keep_running = HandleExit(vcpu, info);
      if (!keep_running) why = std::string(ExitReasonName(info.reason));
    }

    Event ev;
    ev.kind = EventKind::RunExit;
    ev.vcpu = vcpu.id;
    ev.run_index = vcpu.run_index++;
    ev.exit = info;
    ev.time_ns = returned_ns;
    kvm_regs regs{};
    kvm_sregs sregs{};
    if (m_options.capture_regs) {
      // Read directly, not through IoctlReporter: these reads are part of
      // observing the exit, not of what the VMM does to the guest.
      if (ioctl(vcpu.fd.get(), KVM_GET_REGS, &regs) == 0) ev.regs = &regs;
      if (ioctl(vcpu.fd.get(), KVM_GET_SREGS, &sregs) == 0) ev.sregs = &sregs;
    }
    m_io.Emit(ev);
    m_control.Done();

    uint64_t exits = m_exits.fetch_add(1) + 1;
    if (m_options.max_exits && exits >= m_options.max_exits && keep_running) {
      Fail(Verdict::ExitBudget, fmt::format("exit budget of {} reached", m_options.max_exits));
    }
    if (keep_running && t_reported && m_config.in_kernel_irqchip) {
      // With the in-kernel irqchip, HLT is handled inside KVM and never
      // returns to us, so the status report is where this vCPU ends.
      why = "reported its status (in-kernel irqchip: HLT stays in the kernel)";
      keep_running = false;
    }
    if (!keep_running) break;
    // Kicked for pause: clear and go on. Atomic, as KickAll sets it from
    // other threads (ThreadSanitizer saw the plain store race with it).
    if (rc < 0) __atomic_store_n(&vcpu.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  }
  Event done = MakeEvent(EventKind::VcpuDone, vcpu.id);
  done.detail = why;
  m_io.Emit(done);
  std::lock_guard lock(m_mutex);
  if (--m_running_vcpus == 0) {
    m_finished = true;
    m_cv.notify_all();
  }
}

bool Machine::HandleExit(Vcpu& vcpu, ExitInfo& info) {
  kvm_run* run = vcpu.run;
  switch (info.reason) {
    case KVM_EXIT_IO: {
      info.port = run->io.port;
      info.size = run->io.size;
      info.direction = run->io.direction == KVM_EXIT_IO_OUT ? IoDirection::Out : IoDirection::In;
      info.count = run->io.count;
      uint8_t* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
      for (uint32_t i = 0; i < run->io.count; ++i) {
        m_pio.Access(run->io.port, data + i * run->io.size, run->io.size,
                     info.direction == IoDirection::Out, vcpu.id, m_io.observer());
      }
      std::memcpy(&info.data, data, std::min<uint32_t>(run->io.size, 8));
      return true;
    }
    case KVM_EXIT_MMIO: {
      info.mmio_addr = run->mmio.phys_addr;
      info.mmio_len = run->mmio.len;
      info.mmio_write = run->mmio.is_write;
      m_mmio.Access(run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write, vcpu.id,
                    m_io.observer());
      std::memcpy(&info.mmio_data, run->mmio.data, std::min<uint32_t>(run->mmio.len, 8));
      return true;
    }
    case KVM_EXIT_HLT: return false;
    case KVM_EXIT_INTR: return true;  // kicked: the gate decides whether to go on
    case KVM_EXIT_HYPERCALL:
      info.hypercall_nr = run->hypercall.nr;
      run->hypercall.ret = static_cast<uint64_t>(kNoHypercall);
      return true;
    case KVM_EXIT_DEBUG: return true;
    case KVM_EXIT_SHUTDOWN:
      Fail(Verdict::Shutdown, fmt::format("vCPU {}: KVM_EXIT_SHUTDOWN (triple fault)", vcpu.id));
      return false;
    case KVM_EXIT_INTERNAL_ERROR:
      info.suberror = run->internal.suberror;
      Fail(Verdict::InternalError,
           fmt::format("vCPU {}: KVM_EXIT_INTERNAL_ERROR {}", vcpu.id, DescribeExit(info)));
      return false;
    case KVM_EXIT_FAIL_ENTRY:
      info.hardware_reason = run->fail_entry.hardware_entry_failure_reason;
      Fail(Verdict::FailEntry,
           fmt::format("vCPU {}: KVM_EXIT_FAIL_ENTRY {}", vcpu.id, DescribeExit(info)));
      return false;
    case KVM_EXIT_SYSTEM_EVENT:
      info.system_event = run->system_event.type;
      Fail(Verdict::Shutdown,
           fmt::format("vCPU {}: KVM_EXIT_SYSTEM_EVENT {}", vcpu.id, DescribeExit(info)));
      return false;
    default:
      Fail(Verdict::Unhandled,
           fmt::format("vCPU {}: {} ({})", vcpu.id, ExitReasonName(info.reason), info.reason));
      return false;
  }
}

void Machine::Fail(Verdict verdict, const std::string& detail) {
  {
    std::lock_guard lock(m_mutex);
    // Once every vCPU has left its loop the verdict is settled: a late stop
    // (Ctrl-C after the guest halted) must not overwrite it.
    if (m_running_vcpus == 0 && m_started) return;
    if (!m_failure) {
      m_failure = verdict;
      m_failure_detail = detail;
    }
  }
  m_control.Stop();
  KickAll();
}

void Machine::KickAll() {
  std::lock_guard lock(m_mutex);
  if (!m_started || m_joined) return;
  for (auto& v : m_vcpus) {
    // immediate_exit makes a KVM_RUN that has not started yet return at once;
    // the signal interrupts one that is already running.
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (v->thread.joinable()) pthread_kill(v->thread.native_handle(), kKickSignal);
  }
}

void Machine::WatchdogLoop() {
  pthread_setname_np(pthread_self(), "watchdog");
  using namespace std::chrono;
  constexpr auto kTick = milliseconds(5);
  nanoseconds active{0};
  std::unique_lock lock(m_mutex);
  auto last = steady_clock::now();
  while (m_running_vcpus > 0) {
    m_cv.wait_for(lock, kTick);
    auto now = steady_clock::now();
    // Only time with a vCPU past the gate counts: paused, stepping and
    // slow-motion waits do not use up the budget.
    if (m_control.active() > 0) active += now - last;
    last = now;
    if (m_running_vcpus > 0 && active > m_options.timeout && !m_failure) {
      lock.unlock();
      Event ev = MakeEvent(EventKind::Watchdog);
      ev.detail = fmt::format("time budget of {} ms used up: kicking every vCPU out of KVM_RUN",
                              m_options.timeout.count());
      m_io.Emit(ev);
      Fail(Verdict::Timeout, ev.detail);
      lock.lock();
    }
  }
}

void Machine::Pause() {
  m_control.Pause();
  EmitControl("pause");
  KickAll();
}
void Machine::Resume() {
  m_control.Resume();
  EmitControl("resume");
}
void Machine::Step(int count) {
  m_control.Step(count);
  EmitControl(fmt::format("step {}", count));
}
void Machine::SetSlowMotion(std::chrono::milliseconds delay) {
  m_control.SetSlowMotion(delay);
  EmitControl(fmt::format("slow motion {} ms", delay.count()));
}
void Machine::Stop(const std::string& why) {
  EmitControl("stop: " + why);
  Fail(Verdict::Stopped, why);
}

Outcome Machine::Wait() {
  {
    std::unique_lock lock(m_mutex);
    if (!m_started) throw Error(ErrorKind::Internal, "Machine::Wait before Start");
    if (m_joined) throw Error(ErrorKind::Internal, "Machine::Wait called twice");
    m_cv.wait(lock, [&] { return m_running_vcpus == 0; });
  }
  m_cv.notify_all();
  if (m_watchdog.joinable()) m_watchdog.join();
  {
    std::lock_guard lock(m_mutex);
    m_joined = true;
  }
  for (auto& v : m_vcpus) {
    if (v->thread.joinable()) v->thread.join();
  }

  std::lock_guard lock(m_mutex);
  Outcome out;
  out.start_ns = m_start_ns;
  out.end_ns = NowNs();
  out.status = m_status;
  out.console = m_console;
  out.runs = m_runs.load();
  out.exits = m_exits.load();
  out.ticks = m_status_port->ticks();
  if (m_failure) {
    out.verdict = *m_failure;
    out.detail = m_failure_detail;
  } else if (!m_config.expected_status) {
    out.verdict = Verdict::Halted;
    out.detail = m_status ? fmt::format("halted after reporting {:#x}", *m_status)
                          : "halted (no self-check expected)";
  } else if (!m_status) {
    out.verdict = Verdict::NoStatus;
    out.detail = fmt::format("halted without reporting a status (expected {:#x})",
                             *m_config.expected_status);
  } else if (*m_status == *m_config.expected_status) {
    out.verdict = Verdict::Passed;
    out.detail = fmt::format("reported {:#x} as expected", *m_status);
  } else {
    out.verdict = Verdict::WrongStatus;
    out.detail =
        fmt::format("reported {:#x}, expected {:#x}", *m_status, *m_config.expected_status);
  }
  return out;
}

}  // namespace kvmscope::vmm

// A virtual machine: one KVM VM with its RAM slot, devices on the port and
// MMIO buses, and vCPUs each on its own thread, run under a RunControl gate
// and a watchdog that enforces a time and an exit budget. Every KVM ioctl,
// KVM_RUN and device access is reported to the Observer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "vmm/bus.h"
#include "vmm/cpu_mode.h"
#include "vmm/devices.h"
#include "vmm/event.h"
#include "vmm/kvm.h"
#include "vmm/kvm_stats.h"
#include "vmm/run_control.h"

namespace kvmscope::vmm {

struct MachineConfig {
  std::string name = "guest";
  CpuMode mode = CpuMode::Real;
  std::vector<uint8_t> image;               // flat binary
  uint64_t load_addr = KVMSCOPE_LOAD_ADDR;  // where `image` goes; also the entry point
  uint64_t ram_size = KVMSCOPE_RAM_SIZE;
  int vcpus = 1;
  bool in_kernel_irqchip = false;           // KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2
  uint64_t param = 0;                       // handed to the guest in RSI
  std::optional<uint32_t> expected_status;  // the self-check value that means "passed"
};

struct RunOptions {
  std::chrono::milliseconds timeout{10'000};  // budget of active (unpaused) time
  uint64_t max_exits = 1'000'000;             // KVM_RUN returns, all vCPUs; 0 = no limit
  bool start_paused = false;                  // step mode: nothing runs until Step()
  std::chrono::milliseconds slow_motion{0};   // delay before each KVM_RUN
  bool capture_regs = false;                  // read registers at every exit (Event::regs/sregs)
};

enum class Verdict : uint8_t {
  Passed,         // every vCPU halted and the status matched the expected value
  Halted,         // every vCPU halted; no expected status was given
  WrongStatus,    // the guest reported a value other than the expected one
  NoStatus,       // halted without reporting a status
  Shutdown,       // KVM_EXIT_SHUTDOWN: a triple fault
  InternalError,  // KVM_EXIT_INTERNAL_ERROR (e.g. the emulator gave up)
  FailEntry,      // KVM_EXIT_FAIL_ENTRY
  Timeout,        // the watchdog's time budget ran out
  ExitBudget,     // --max-exits reached
  Stopped,        // stopped on request
  Unhandled,      // an exit this VMM does not handle
  VmmError,       // KVM_RUN itself failed
};
std::string_view VerdictName(Verdict verdict);
bool IsSuccess(Verdict verdict);  // Passed or Halted

struct Outcome {
  Verdict verdict = Verdict::Stopped;
  std::string detail;              // one line: why
  std::optional<uint32_t> status;  // last self-check value reported
  uint64_t runs = 0;               // KVM_RUN calls, all vCPUs
  uint64_t exits = 0;              // KVM_RUN returns, all vCPUs
  uint64_t ticks = 0;              // OUTs to KVMSCOPE_TICK_PORT
  std::string console;             // bytes the guest wrote to COM1
  int64_t start_ns = 0, end_ns = 0;
};

// KVM's own counters for this VM (KVM_GET_STATS_FD), read at one moment:
// the scalar counters by name, VM-wide and per vCPU (vmm/kvm_stats.h).
struct KvmCounters {
  std::map<std::string, uint64_t> vm;
  std::vector<std::map<std::string, uint64_t>> vcpus;  // by vCPU index
};

class Machine {
 public:
  // Creates the VM, its memory, devices and vCPUs; loads the image and sets
  // up the CPU mode. Throws Error: Usage for a bad config (image size, load
  // address), Environment when KVM is unusable, Internal otherwise.
  Machine(MachineConfig config, Observer* observer);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  void Start(const RunOptions& options);  // starts the vCPU threads and the watchdog
  Outcome Wait();                         // joins them and returns the verdict
  Outcome Run(const RunOptions& options) {
    Start(options);
    return Wait();
  }

  // Control, from any thread. Pause and Stop kick vCPUs out of KVM_RUN.
  void Pause();
  void Resume();
  void Step(int count = 1);
  void SetSlowMotion(std::chrono::milliseconds delay);
  void Stop(const std::string& why = "stopped on request");
  // True once every vCPU thread has left its run loop (Wait() may still be due).
  bool finished() const { return m_finished.load(); }
  uint64_t exits() const { return m_exits.load(); }

  // KVM's own counters (KVM_GET_STATS_FD on the VM and each vCPU, opened
  // right after each was created). nullopt, with `why_not` set, when this
  // kernel lacks KVM_CAP_BINARY_STATS_FD or opening or reading them failed.
  // Safe from any thread at any time, also while the vCPUs run (the kernel
  // reads them without locks); at the end of a run call it after Wait().
  std::optional<KvmCounters> ReadKvmStats(std::string& why_not) const;

  const MachineConfig& config() const { return m_config; }
  std::span<uint8_t> ram() { return {m_ram, m_config.ram_size}; }

 private:
  struct Vcpu;
  void ValidateConfig() const;
  void VcpuLoop(Vcpu& vcpu);
  // Handles one exit; returns false when this vCPU must leave its loop.
  bool HandleExit(Vcpu& vcpu, ExitInfo& info);
  void Fail(Verdict verdict, const std::string& detail);
  void KickAll();
  void WatchdogLoop();
  void EmitControl(std::string detail, EventKind kind = EventKind::Control);

  MachineConfig m_config;
  IoctlReporter m_io;
  Fd m_kvm, m_vm;
  // Declared after m_vm, so closed before it; each vCPU's after its fd.
  KvmStats m_vm_stats;
  std::string m_stats_unavailable;  // why there are no stats ("" when there are)
  uint8_t* m_ram = nullptr;
  std::vector<std::unique_ptr<Vcpu>> m_vcpus;

  AddressBus m_pio{Bus::Pio}, m_mmio{Bus::Mmio};
  std::unique_ptr<Serial16550> m_serial;
  std::unique_ptr<StatusPort> m_status_port;
  std::unique_ptr<MmioTestDevice> m_mmio_device;

  RunControl m_control;
  RunOptions m_options;
  std::atomic<uint64_t> m_exits{0}, m_runs{0};
  std::atomic<bool> m_finished{false};

  mutable std::mutex m_mutex;  // guards the fields below
  std::condition_variable m_cv;
  std::optional<Verdict> m_failure;
  std::string m_failure_detail;
  std::optional<uint32_t> m_status;
  std::string m_console;
  int m_running_vcpus = 0;
  bool m_started = false, m_joined = false;
  int64_t m_start_ns = 0;
  std::thread m_watchdog;
};

}  // namespace kvmscope::vmm

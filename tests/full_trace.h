// A synthetic trace with every field of the native format filled, for the
// trace-file tests (traces_json_test.cpp, traces_files_test.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "traces/trace.h"
#include "traces/trace_json.h"

namespace kvmscope::traces::fixture {


inline constexpr uint32_t kPid = 4000, kTid0 = 4001, kTid1 = 4002, kMainTid = 4000, kOtherTid = 77;
inline constexpr uint64_t kKvmBase = 0xffffffffc0a00000, kCoreBase = 0xffffffff81000000;

inline Event Make(EventType type, int64_t t, uint32_t tid, int32_t vcpu, std::array<uint64_t, 6> a = {},
           int32_t stack = -1, uint32_t text = 0) {
  Event e;
  e.type = type;
  e.time_ns = t;
  e.pid = kPid;
  e.tid = tid;
  e.vcpu = vcpu;
  e.a = a;
  e.stack_id = stack;
  e.text = text;
  e.cpu = type.origin == Origin::Kernel ? static_cast<uint16_t>(tid % 8) : kNoCpu;
  return e;
}

// One KVM_RUN of a vCPU with its kernel side, ending in a port write.
inline void AddRun(Track& track, int64_t t, uint64_t run, int32_t stack) {
  uint32_t tid = track.tid;
  int32_t v = track.vcpu;
  auto& ev = track.events;
  ev.push_back(Make(VmmEventKind::RunEnter, t, tid, v, {run}));
  ev.push_back(Make(KernelEventKind::RunEnter, t + 2000, tid, v, {7}));
  ev.push_back(Make(KernelEventKind::KvmEntry, t + 3000, tid, v, {0, 0x1000}));
  ev.push_back(Make(KernelEventKind::KvmExit, t + 9000, tid, v, {30, 0x1005, 1, 0x3f8, 0, 0}));
  ev.push_back(Make(KernelEventKind::ExitHandler, t + 9100, tid, v, {0}, stack));
  ev.push_back(Make(KernelEventKind::Pio, t + 9500, tid, v, {1, 0x3f8, 1, 1, 'H'}, stack));
  ev.push_back(Make(KernelEventKind::UserspaceExit, t + 9800, tid, v, {kKvmExitIo, 0}));
  ev.push_back(Make(KernelEventKind::RunExit, t + 9900, tid, v, {0}));
  uint64_t io = 0x3f8 | 1u << 16 | 1u << 24;
  ev.push_back(Make(VmmEventKind::RunExit, t + 11000, tid, v, {kKvmExitIo, 0, run, io, 1, 'H'}));
  ev.push_back(Make(VmmEventKind::DeviceAccess, t + 11500, tid, v, {0, 0x3f8, 1, 1, 'H'}, -1, 2));
}

inline TraceData FullTrace() {
  TraceData trace;
  trace.host.kernel_release = "6.6.0-pvm \"test\"";
  trace.host.backend = "PVM";
  trace.host.cpu = "Intel(R) Xeon(R) — ünïcode";
  trace.host.vendor_handler = "pvm_handle_exit";
  PlanRecord plan;
  plan.entries.push_back({"run loop",
                          "kvm_arch_vcpu_ioctl_run",
                          "tracepoint",
                          "sys_enter_ioctl",
                          {"kprobe: kprobes are disabled", "fentry: no BTF"}});
  plan.entries.push_back({"exit handler", "pvm_handle_exit", "stacks", "from stacks", {}});
  plan.tracepoints = {"kvm:kvm_exit", "kvm:kvm_pio"};
  plan.missing = {"kvm:kvm_page_fault: not on this kernel"};
  plan.summary = "tracepoints, stacks: new";
  plan.requested = "tracepoint";
  trace.host.plan = plan;
  trace.host.not_traced_reason = "";
  trace.host.stack_mode = "new";
  trace.host.system_wide = true;
  trace.host.kernel_symbols = 190000;
  trace.host.module_params = {{"kvm.tdp_mmu", "Y"}, {"kvm_intel.ept", "N"}, {"odd \"key\"", "1"}};
  trace.host.platform = "emulator (Bochs)";
  trace.host.platform_evidence = "DMI bios_vendor: 'The Bochs Project'";

  trace.guest.name = "pio-loop";
  trace.guest.mode = "long";
  trace.guest.load_addr = 0x1000;
  trace.guest.vcpus = 2;
  trace.guest.sha256 = std::string(64, 'a');
  // 302 bytes: base64 with one '=' of padding (the strings below cover "==").
  for (int i = 0; i < 302; ++i) trace.guest.image.push_back(static_cast<uint8_t>(i * 7));
  trace.guest.verdict = "pass";
  trace.guest.detail = "status 0x600d";
  trace.guest.source = "_start:\n\tout %al, %dx\n\thlt\n";
  trace.guest.lines = {{0x1000, 2}, {0x1001, 3}};
  // Quotes, a backslash, control characters, non-ASCII, a NUL and a byte
  // that is not UTF-8: a guest's console can print anything.
  trace.console = std::string("Hello \"guest\"\\\n\ttab é ✓ \x01 nul:") + '\0' + "\xff end";

  KernelCounts counts;
  for (size_t k = 0; k < kKernelEventKinds; ++k) {
    counts.seen[k] = 100 + k;
    counts.lost[k] = k;
    counts.received[k] = 100;
  }
  counts.seen[0] = UINT64_MAX;
  counts.stacks_taken = 12;
  counts.stacks_failed = 1;
  trace.kernel_counts = counts;

  trace.strings = {"", "KVM_CREATE_VM", "serial", "pause \"now\"", "bad \xfe byte"};
  trace.symbols.Add(kCoreBase, "__x64_sys_ioctl");
  trace.symbols.Add(kKvmBase, "kvm_vcpu_ioctl", "kvm");
  trace.symbols.Add(kKvmBase + 0x1000, "kvm_arch_vcpu_ioctl_run", "kvm");
  trace.symbols.Add(kKvmBase + 0x2000, "pvm_handle_exit", "kvm_pvm");
  trace.symbols.Add(kKvmBase + 0x3000, "kernel_pio", "kvm", kKvmBase + 0x3400);  // bounded
  trace.symbols.Finish();
  trace.stacks = {{kKvmBase + 0x2010, kKvmBase + 0x1010, kKvmBase + 0x10, kCoreBase + 0x40},
                  {kKvmBase + 0x3004, kKvmBase + 0x2010, kKvmBase + 0x1010, kKvmBase + 0x10},
                  {}};

  GuestRegs regs;
  regs.vcpu = 1;
  regs.run_index = 3;
  for (size_t r = 0; r < kGuestRegs; ++r) regs.values[r] = r * 0x1111;
  regs.values[0] = UINT64_MAX;
  trace.regs = {regs, GuestRegs{}};

  Track main;
  main.pid = kPid;
  main.tid = kMainTid;
  main.kind = TrackKind::Vmm;
  main.events.push_back(Make(VmmEventKind::Ioctl, 1000, kMainTid, -1, {0}, -1, 1));
  main.events.push_back(
      Make(VmmEventKind::Ioctl, 1500, kMainTid, -1, {static_cast<uint64_t>(-22)}, -1, 1));
  main.events.push_back(Make(VmmEventKind::Control, 90000, kMainTid, -1, {}, -1, 3));
  main.events.push_back(Make(VmmEventKind::Watchdog, 95000, kMainTid, -1, {}, -1, 3));
  // The VMM's main thread acting for vCPU 1: a row with its own vCPU.
  main.events.push_back(Make(VmmEventKind::Control, 96000, kMainTid, 1, {}, -1, 4));

  Track v0;
  v0.pid = kPid;
  v0.tid = kTid0;
  v0.vcpu = 0;
  v0.kind = TrackKind::Vcpu;
  AddRun(v0, 10000, 0, 0);
  AddRun(v0, 30000, 1, 1);
  // The kernel's KVM_RUN starts before the VMM's (partial overlap of spans).
  v0.events.push_back(Make(KernelEventKind::RunEnter, 49000, kTid0, 0, {7}));
  v0.events.push_back(Make(VmmEventKind::RunEnter, 50000, kTid0, 0, {2}));
  v0.events.push_back(Make(KernelEventKind::KvmEntry, 50100, kTid0, 0, {0, 0x1000}));
  // Every other kernel kind, with extreme argument values.
  int64_t t = 50200;
  for (KernelEventKind k :
       {KernelEventKind::MmuPageFault, KernelEventKind::Mmio, KernelEventKind::EmulateInsn,
        KernelEventKind::InjException, KernelEventKind::InjVirq, KernelEventKind::Cpuid,
        KernelEventKind::Msr, KernelEventKind::Hypercall, KernelEventKind::PageFault,
        KernelEventKind::MmuWalk, KernelEventKind::MmuSetSpte, KernelEventKind::MmuWalkerError}) {
    v0.events.push_back(Make(k, t += 10, kTid0, 0, {UINT64_MAX, 14, 0x6, 1, 2, 3}, 1));
  }
  v0.events.push_back(Make(KernelEventKind::KvmExit, t += 10, kTid0, 0, {48, 0x1005, 1}));
  v0.events.push_back(
      Make(KernelEventKind::RunExit, t += 10, kTid0, 0, {static_cast<uint64_t>(-4)}));
  v0.events.push_back(Make(VmmEventKind::RunExit, t += 10, kTid0, 0, {kKvmExitIntr, 4, 2}));
  v0.events.push_back(Make(VmmEventKind::Status, t += 10, kTid0, 0, {0x600d}));
  v0.events.push_back(Make(VmmEventKind::VcpuDone, t += 10, kTid0, 0, {}, -1, 3));

  Track v1;
  v1.pid = kPid;
  v1.tid = kTid1;
  v1.vcpu = 1;
  v1.kind = TrackKind::Vcpu;
  AddRun(v1, 12000, 0, 0);

  // A thread of another process; a later event of a new process that got the
  // same thread id keeps its own pid.
  Track other;
  other.pid = 99;
  other.tid = kOtherTid;
  other.kind = TrackKind::System;
  Event exit = Make(KernelEventKind::KvmExit, 5000, kOtherTid, -1, {1, 2, 2});
  exit.pid = 99;
  exit.cpu = 65534;
  other.events.push_back(exit);
  Event reused = Make(KernelEventKind::KvmEntry, 6000, kOtherTid, -1, {1, 2});
  reused.pid = 123456;
  other.events.push_back(reused);
  Event last = Make(KernelEventKind::KvmEntry, 6000, kOtherTid, -1, {1, 2});
  last.pid = 99;
  last.time_ns = INT64_MAX;
  other.events.push_back(last);

  trace.tracks = {main, v0, v1, other};
  trace.BuildSpans();
  return trace;
}

inline std::string Written(const TraceData& trace) {
  std::ostringstream out;
  WriteTrace(trace, out);
  return out.str();
}

}  // namespace kvmscope::traces::fixture

// The loader of `kvmscope top`'s counting programs (kvm_top.bpf.c): open →
// set the tgid filter → load → attach the tracepoints this kernel has, then
// read every thread's counters on demand. Nothing is pinned: whatever it
// attached is gone when the process exits, however it exits.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probes/plan.h"
#include "traces/top_model.h"

namespace kvmscope::probes {

struct TopOptions {
  uint32_t pid = 0;        // count only this process (tgid); 0: every process
  bool emulation = false;  // also count kvm_emulate_insn (millions/s on PVM: costly)
  std::optional<uint32_t> uid;  // count only processes of this real uid (checked in the kernel)
};

class TopSession {
 public:
  // Throws ProbeError saying what failed and what to try: not root, no
  // tracefs, a program refused, or KVM_RUN not countable (no
  // syscalls:sys_enter_ioctl).
  explicit TopSession(const TopOptions& options);
  ~TopSession();
  TopSession(const TopSession&) = delete;
  TopSession& operator=(const TopSession&) = delete;

  // Every counted thread's counters now, sorted by tid.
  traces::TopSnapshot Read() const;
  // Drops the records of threads that are gone (their tids may come back).
  void Forget(const std::vector<uint32_t>& tids);

  Backend backend() const;
  const std::vector<std::string>& attached() const;  // "kvm:kvm_pio", ...
  const std::vector<std::string>& skipped() const;   // "kvm:kvm_exit: no such tracepoint"

  // Detaches every program now (the destructor does it too). Idempotent.
  void Detach();

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace kvmscope::probes

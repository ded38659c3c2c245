// Turning `run`'s guest options into a machine configuration (catalog guest,
// or your own binary or assembly file), shared by `run`, `tour` and `gui`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "app/commands.h"
#include "vmm/catalog.h"
#include "vmm/machine.h"

namespace kvmscope::app {

// A bad option value: the message says which and why (exit status 2).
struct UsageFailure {
  std::string message;
};

struct Prepared {
  vmm::MachineConfig config;
  const vmm::GuestInfo* guest = nullptr;  // null for custom guests
  // The parameter handed to the guest in RSI: --param, or the default of a
  // catalog guest that takes one; nullopt when the guest takes none.
  std::optional<uint64_t> param;
};

// Throws UsageFailure, or vmm::Error for unreadable or unassemblable files.
Prepared Prepare(const RunArgs& args);

// How to run it: the watchdog (--timeout, else the guest's own), the exit
// budget, slow motion, starting paused for --step, registers for --regs.
vmm::RunOptions RunOptionsFor(const RunArgs& args, const Prepared& p);

}  // namespace kvmscope::app

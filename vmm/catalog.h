// The catalog of built-in guests: what each is for, its CPU mode, the exits
// and kernel paths it exercises, and the self-check value that means it
// passed. Sources are vmm/guests/NAME.S, embedded at build time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/machine.h"

namespace kvmscope::vmm {

struct GuestInfo {
  std::string_view name;
  std::string_view description;  // one line
  CpuMode mode = CpuMode::Real;
  int vcpus = 1;
  bool in_kernel_irqchip = false;
  std::string_view exits;          // the exits it makes (to userspace or not)
  std::string_view kernel_paths;   // the KVM code paths it exercises
  std::string_view self_check;     // what it reports, in words
  uint32_t expected_status = 0;    // the value that means "passed"...
  bool expected_is_param = false;  // ...or, if set, the parameter itself
  bool expect_watchdog = false;    // never reports: the watchdog ending it is the expected end
  uint32_t timeout_ms = 0;         // its own default time budget, 0 = the global default
  uint64_t default_param = 0;      // handed to the guest in RSI (--param)
  std::string_view param_meaning;  // "" when the guest takes no parameter
  std::span<const uint8_t> image;
  std::string_view source;  // the .S text, for students and the inspector
};

const std::vector<GuestInfo>& Catalog();
const GuestInfo* FindGuest(std::string_view name);
std::string GuestNames();  // "hello, modes, ..." for messages

// A ready MachineConfig for a catalog guest. `param` overrides the default.
MachineConfig ConfigFor(const GuestInfo& guest, std::optional<uint64_t> param = std::nullopt);

// Why this guest cannot run on this host, or nullopt when it can.
std::optional<std::string> UnsupportedReason(const GuestInfo& guest);

}  // namespace kvmscope::vmm

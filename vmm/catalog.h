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

#include "vmm/host.h"
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
  // Where a backend cannot do part of what the guest does, the guest runs
  // there with `limited_param` instead of `default_param`, and says why.
  KvmBackend limited_on = KvmBackend::None;
  uint64_t limited_param = 0;
  std::string_view limited_why;
  std::span<const uint8_t> image;
  std::string_view source;  // the .S text, for students and the inspector
  // Address → line of `source`: (address, 1-based line) pairs in address
  // order, from the assembler's DWARF line table.
  std::span<const uint32_t> lines;
};

const std::vector<GuestInfo>& Catalog();
const GuestInfo* FindGuest(std::string_view name);
std::string GuestNames();  // "hello, modes, ..." for messages

// The parameter the guest runs with on `backend` when none is given.
uint64_t DefaultParam(const GuestInfo& guest, KvmBackend backend);
// Why the guest runs limited on `backend`, or nullopt when it runs in full.
std::optional<std::string_view> LimitedReason(const GuestInfo& guest, KvmBackend backend);

// A ready MachineConfig for a catalog guest on `backend`. `param` overrides
// the default.
MachineConfig ConfigFor(const GuestInfo& guest, std::optional<uint64_t> param = std::nullopt,
                        KvmBackend backend = DetectKvmBackend());

}  // namespace kvmscope::vmm

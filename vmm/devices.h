// The VMM's devices: a COM1 16550 serial console, the status port through
// which guests report their self-check, and a small MMIO device placed
// outside RAM so that guest accesses to it leave KVM as KVM_EXIT_MMIO.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "vmm/bus.h"
#include "vmm/guests/abi.h"

namespace kvmscope::vmm {

// Enough of a 16550 UART for a guest to print: THR/RBR at +0, LSR at +5
// always reporting "transmitter empty", the other registers as scratch.
class Serial16550 : public Device {
 public:
  using Sink = std::function<void(uint8_t)>;
  explicit Serial16550(Sink sink) : m_sink(std::move(sink)) {}
  std::string_view Name() const override { return "serial-16550 (COM1)"; }
  void Read(uint64_t offset, uint8_t* data, uint32_t size) override;
  void Write(uint64_t offset, const uint8_t* data, uint32_t size) override;

 private:
  Sink m_sink;
  uint8_t m_regs[8] = {};
};

// KVMSCOPE_STATUS_PORT: a 32-bit OUT reports the guest's self-check value.
// KVMSCOPE_TICK_PORT: any OUT is counted (the exit-heavy workload's target).
class StatusPort : public Device {
 public:
  using Sink = std::function<void(uint32_t)>;
  explicit StatusPort(Sink sink) : m_sink(std::move(sink)) {}
  std::string_view Name() const override { return "status-port"; }
  void Read(uint64_t offset, uint8_t* data, uint32_t size) override;
  void Write(uint64_t offset, const uint8_t* data, uint32_t size) override;
  uint64_t ticks() const { return m_ticks; }

 private:
  Sink m_sink;
  uint64_t m_ticks = 0;
};

// Registers at KVMSCOPE_MMIO_BASE (see abi.h): a read-only ID, a scratch
// register that reads back what was written, and a counter of accesses.
class MmioTestDevice : public Device {
 public:
  std::string_view Name() const override { return "mmio-test-device"; }
  void Read(uint64_t offset, uint8_t* data, uint32_t size) override;
  void Write(uint64_t offset, const uint8_t* data, uint32_t size) override;

 private:
  uint64_t m_scratch = 0;
  uint64_t m_accesses = 0;
};

}  // namespace kvmscope::vmm

// A port-I/O or MMIO bus keyed by address range. Devices register a range
// and see only accesses to it; they never see the run loop (kvmtool's way).
#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "vmm/event.h"

namespace kvmscope::vmm {

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string_view Name() const = 0;
  // `offset` is relative to the registered base. Reads fill `data`
  // (little-endian, `size` bytes); writes consume it.
  virtual void Read(uint64_t offset, uint8_t* data, uint32_t size) = 0;
  virtual void Write(uint64_t offset, const uint8_t* data, uint32_t size) = 0;
};

class AddressBus {
 public:
  explicit AddressBus(Bus kind) : m_kind(kind) {}
  // Throws Error(Internal) if the range overlaps one already registered.
  void Register(uint64_t base, uint64_t length, Device* device);
  // Dispatches one access and reports it to `io` as a DeviceAccess event.
  // Unclaimed reads return all ones, as an empty bus does; unclaimed writes
  // are dropped. Thread-safe: vCPU threads may dispatch concurrently.
  void Access(uint64_t addr, uint8_t* data, uint32_t size, bool write, int vcpu,
              Observer* observer);
  Device* Find(uint64_t addr) const;

 private:
  struct Range {
    uint64_t base, length;
    Device* device;
  };
  Bus m_kind;
  const Range* Lookup(uint64_t addr) const;
  std::vector<Range> m_ranges;
  std::mutex m_mutex;  // serializes device state across vCPUs
};

}  // namespace kvmscope::vmm

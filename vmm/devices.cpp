// Device models for the serial console, status port and MMIO test device.
#include "vmm/devices.h"

#include <cstring>

namespace kvmscope::vmm {

namespace {
constexpr uint64_t kUartThr = 0;        // transmit holding register (write)
constexpr uint64_t kUartLsr = 5;        // line status register
constexpr uint8_t kLsrThrEmpty = 0x20;  // THRE: ready to take a byte
constexpr uint8_t kLsrTxEmpty = 0x40;   // TEMT: nothing being shifted out

uint64_t Load(const uint8_t* data, uint32_t size) {
  uint64_t v = 0;
  std::memcpy(&v, data, size < 8 ? size : 8);
  return v;
}
void Store(uint8_t* data, uint32_t size, uint64_t v) {
  std::memcpy(data, &v, size < 8 ? size : 8);
}
}  // namespace

void Serial16550::Read(uint64_t offset, uint8_t* data, uint32_t size) {
  std::memset(data, 0, size);
  // Output is instantaneous, so the transmitter is always empty.
  data[0] = offset == kUartLsr ? (kLsrThrEmpty | kLsrTxEmpty) : m_regs[offset & 7];
}

void Serial16550::Write(uint64_t offset, const uint8_t* data, uint32_t size) {
  for (uint32_t i = 0; i < size; ++i) {
    if (offset + i == kUartThr) {
      m_sink(data[i]);
    } else if (offset + i < 8) {
      m_regs[offset + i] = data[i];
    }
  }
}

void StatusPort::Read(uint64_t, uint8_t* data, uint32_t size) {
  std::memset(data, 0, size);
}

void StatusPort::Write(uint64_t offset, const uint8_t* data, uint32_t size) {
  if (offset == 0) {  // KVMSCOPE_STATUS_PORT; offset 1 is KVMSCOPE_TICK_PORT
    m_sink(static_cast<uint32_t>(Load(data, size)));
  } else {
    ++m_ticks;
  }
}

void MmioTestDevice::Read(uint64_t offset, uint8_t* data, uint32_t size) {
  ++m_accesses;
  switch (offset) {
    case KVMSCOPE_MMIO_ID: Store(data, size, KVMSCOPE_MMIO_ID_VALUE); break;
    case KVMSCOPE_MMIO_SCRATCH: Store(data, size, m_scratch); break;
    case KVMSCOPE_MMIO_COUNT: Store(data, size, m_accesses); break;
    default: Store(data, size, 0); break;
  }
}

void MmioTestDevice::Write(uint64_t offset, const uint8_t* data, uint32_t size) {
  ++m_accesses;
  if (offset == KVMSCOPE_MMIO_SCRATCH) m_scratch = Load(data, size);
}

}  // namespace kvmscope::vmm

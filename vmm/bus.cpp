// Address-range dispatch for the port and MMIO buses.
#include "vmm/bus.h"

#include <fmt/format.h>

#include <cstring>

#include "vmm/error.h"

namespace kvmscope::vmm {

void AddressBus::Register(uint64_t base, uint64_t length, Device* device) {
  for (const Range& r : m_ranges) {
    if (base < r.base + r.length && r.base < base + length) {
      throw Error(ErrorKind::Internal, fmt::format("{} at {:#x} overlaps {} at {:#x}",
                                                   device->Name(), base, r.device->Name(), r.base));
    }
  }
  m_ranges.push_back({base, length, device});
}

const AddressBus::Range* AddressBus::Lookup(uint64_t addr) const {
  for (const Range& r : m_ranges) {
    if (addr >= r.base && addr - r.base < r.length) return &r;
  }
  return nullptr;
}

Device* AddressBus::Find(uint64_t addr) const {
  const Range* r = Lookup(addr);
  return r ? r->device : nullptr;
}

void AddressBus::Access(uint64_t addr, uint8_t* data, uint32_t size, bool write, int vcpu,
                        Observer* observer) {
  Event ev = MakeEvent(EventKind::DeviceAccess, vcpu);
  ev.access.bus = m_kind;
  ev.access.addr = addr;
  ev.access.size = size;
  ev.access.write = write;
  {
    std::lock_guard lock(m_mutex);
    ev.time_ns = NowNs();
    const Range* hit = Lookup(addr);
    if (hit) {
      ev.access.device = hit->device->Name();
      if (write) {
        hit->device->Write(addr - hit->base, data, size);
      } else {
        hit->device->Read(addr - hit->base, data, size);
      }
    } else if (!write) {
      std::memset(data, 0xff, size);
    }
  }
  std::memcpy(&ev.access.data, data, std::min<uint32_t>(size, 8));
  if (observer) observer->OnEvent(ev);
}

}  // namespace kvmscope::vmm

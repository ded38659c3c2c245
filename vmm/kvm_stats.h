// KVM's own counters for a VM or a vCPU, read without root through the
// binary stats file descriptor (KVM_GET_STATS_FD, Linux 5.14+): a header, a
// descriptor per counter (name, type, unit, where its value lies), and a data
// block. Every counter is discovered from the descriptors at run time; none
// is assumed, and no offset is hard-coded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/kvm.h"

namespace kvmscope::vmm {

// One counter as its descriptor (struct kvm_stats_desc) describes it.
struct KvmStatDesc {
  std::string name;      // "exits", "halt_exits", "pf_fixed", ...
  uint32_t flags = 0;    // KVM_STATS_TYPE_* | KVM_STATS_UNIT_* | KVM_STATS_BASE_*
  int16_t exponent = 0;  // the value is value * base^exponent units (ns counters: -9)
  uint16_t size = 0;     // number of u64 values (1 for scalars, buckets for histograms)
  uint32_t offset = 0;   // from the start of the data block
  uint32_t bucket_size = 0;
  uint32_t type() const { return flags & KVM_STATS_TYPE_MASK; }
  uint32_t unit() const { return flags & KVM_STATS_UNIT_MASK; }
  // Histograms (linear or log) are the only counters with several values.
  bool histogram() const {
    return type() == KVM_STATS_TYPE_LINEAR_HIST || type() == KVM_STATS_TYPE_LOG_HIST;
  }
};

// The stats of one VM or one vCPU: the descriptors are parsed once when it
// is opened; Read() takes the current values with one pread of the data
// block. KVM updates the counters without locks and reading them takes none,
// so Read() is safe from any thread, also while a vCPU is in KVM_RUN.
class KvmStats {
 public:
  KvmStats() = default;
  // Takes a stats fd (from KVM_GET_STATS_FD) and reads its header and
  // descriptors. Throws Error(Internal) when they cannot be read or make no
  // sense (a descriptor or value outside the file).
  explicit KvmStats(Fd stats_fd);
  bool valid() const { return m_fd.valid(); }

  // "kvm-1234" (VM) or "kvm-1234/vcpu-0": the id string the kernel gives.
  const std::string& id() const { return m_id; }
  const std::vector<KvmStatDesc>& descriptors() const { return m_descs; }

  // The current value of every scalar counter (cumulative, instant, peak) by
  // name. Histograms are left out: their buckets are not one number, and
  // summing them would read as a counter of something else. Throws
  // Error(Internal) when the read fails.
  std::map<std::string, uint64_t> Read() const;

 private:
  Fd m_fd;
  std::string m_id;
  std::vector<KvmStatDesc> m_descs;
  uint32_t m_data_offset = 0;
  size_t m_data_words = 0;  // u64s in the data block, as far as the descriptors reach
};

// Whether this kernel has KVM_GET_STATS_FD (KVM_CAP_BINARY_STATS_FD), asked
// of /dev/kvm's fd through `io` (so the check is reported like every ioctl).
bool HasBinaryStats(const IoctlReporter& io, int kvm_fd);
// KVM_GET_STATS_FD on a VM or vCPU fd, then its descriptors. Throws
// Error(Internal) naming the errno when the ioctl or the parse fails.
KvmStats OpenKvmStats(const IoctlReporter& io, int vm_or_vcpu_fd, int vcpu = -1);

}  // namespace kvmscope::vmm

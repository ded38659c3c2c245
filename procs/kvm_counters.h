// KVM's own counters of another process's VM. Its own VMM reads them through
// KVM_GET_STATS_FD, but that ioctl cannot be made on someone else's VM: KVM
// refuses every ioctl on a VM fd from a process whose mm is not the VM's
// (kvm_vm_ioctl: kvm->mm != current->mm → -EIO), also on one borrowed with
// pidfd_getfd. What is left, in the order tried:
//   - the VMM's own QMP socket (QEMU 7.1+ `query-stats`), when the user names
//     it: per vCPU, with each counter's type from `query-stats-schemas`;
//   - debugfs, /sys/kernel/debug/kvm/PID-FD/NAME, as kvm_stat reads it: one
//     file per counter, the vCPU counters summed over the VM's vCPUs. Root
//     only, debugfs mounted, and refused under kernel lockdown.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kvmscope::procs {

// One reading of a VM's counters. Histograms and non-numeric values are
// left out.
struct CounterSet {
  std::map<std::string, uint64_t> vm;                  // VM-wide (debugfs: also the vCPU sums)
  // By the VMM's vCPU index (QMP: QEMU's cpu-index, which is not always
  // KVM's vcpu_id: that is the APIC id); empty from debugfs.
  std::vector<std::map<std::string, uint64_t>> vcpus;
  std::vector<int> vcpu_tids;  // the thread running each of `vcpus` (-1 unknown)
  // Counters that are not running totals (instant values, peaks): a
  // difference of two readings means nothing for them.
  std::set<std::string> not_cumulative;
};

// `end` minus `start` for running totals, `end` as it is for the others
// (a counter missing at the start counts from 0).
CounterSet CounterDifference(const CounterSet& start, const CounterSet& end);

// Reads KVM's counters of the VM `vm_fd` of process `pid`, from one source
// chosen when it is opened.
class VmCounterReader {
 public:
  virtual ~VmCounterReader() = default;
  // "debugfs /sys/kernel/debug/kvm/1234-11" or "QMP query-stats on /run/q.sock".
  virtual std::string source() const = 0;
  // The counters now; nullopt with *why (the VM has gone, the socket closed).
  virtual std::optional<CounterSet> Read(std::string* why) = 0;
};

// The first source that works: QMP when `qmp_socket` is not empty, then
// debugfs (`debugfs_root`, normally /sys/kernel/debug); the reading
// that proved it works goes to *first when given. nullptr with *why saying
// what each source answered.
std::unique_ptr<VmCounterReader> OpenVmCounters(int pid, int vm_fd, const std::string& qmp_socket,
                                                std::string* why,
                                                const std::string& debugfs_root = "/sys/kernel/debug",
                                                CounterSet* first = nullptr);

}  // namespace kvmscope::procs

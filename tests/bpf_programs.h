// Which of kvmscope's BPF programs are loaded in the kernel right now (from
// bpftool): how tests check that nothing outlives a kvmscope process.
#pragma once

#include <cctype>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "run_command.h"

namespace kvmscope::test {

inline constexpr const char* kBpftool = "/usr/sbin/bpftool";

// kvmscope's BPF program names (probes/*.bpf.c). The kernel keeps at most
// 15 characters of a name (BPF_OBJ_NAME_LEN - 1); bpftool shows the full
// name when BTF has it, so the 15-character prefix matches both.
inline const char* const kKvmscopePrograms[] = {
    "run_kprobe",          "run_kretprobe",         "run_fentry",
    "run_fexit",           "run_sys_enter",         "run_sys_exit",
    "handler_kprobe",      "handler_fentry",        "mmu_pf_kprobe",
    "mmu_pf_fentry",       "fentry_probe",          "tp_kvm_exit",
    "tp_kvm_entry",        "tp_kvm_userspace_exit", "tp_kvm_pio",
    "tp_kvm_mmio",         "tp_kvm_emulate_insn",   "tp_kvm_inj_exception",
    "tp_kvm_inj_virq",     "tp_kvm_cpuid",          "tp_kvm_msr",
    "tp_kvm_hypercall",    "tp_kvm_page_fault",     "tp_kvm_mmu_pagetable_walk",
    "tp_kvm_mmu_set_spte", "tp_kvm_mmu_walker_error",
};

// "ID: NAME" of each loaded program whose name is one of kvmscope's.
inline std::vector<std::string> LoadedKvmscopePrograms() {
  Result r = Capture(std::string(kBpftool) + " prog show 2>&1");
  std::vector<std::string> found;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    // "1360: tracepoint  name run_sys_enter  tag fc0bc592441671d7  gpl"
    size_t colon = line.find(':'), at = line.find(" name ");
    if (line.empty() || !isdigit(static_cast<unsigned char>(line[0])) ||
        colon == std::string::npos || at == std::string::npos) {
      continue;
    }
    std::istringstream rest(line.substr(at + 6));
    std::string name;
    rest >> name;
    for (const char* prog : kKvmscopePrograms) {
      std::string prefix = std::string(prog).substr(0, 15);
      if (name.compare(0, prefix.size(), prefix) == 0 && name.size() <= std::strlen(prog)) {
        found.push_back(line.substr(0, colon) + ": " + name);
        break;
      }
    }
  }
  return found;
}

inline bool Contains(const std::vector<std::string>& progs, const char* name) {
  std::string prefix = std::string(name).substr(0, 15);
  for (const std::string& p : progs) {
    std::string n = p.substr(p.find(": ") + 2);
    if (n.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

}  // namespace kvmscope::test

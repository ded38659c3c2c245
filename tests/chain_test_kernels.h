// The made-up kernels the chain and seed-check tests share, with their known
// answers (a VMX 6.8 kernel with EPT, an SVM 5.15 kernel with NPT, a PVM
// kernel shaped like this machine's stacks, an old 3.10 VMX kernel), and the
// lookups those tests use.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fake_kernel.h"
#include "traces/chains.h"
#include "traces/seed_check.h"

namespace kvmscope::traces {

inline bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

inline bool AnyLineContains(const std::vector<std::string>& lines, std::string_view part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return Contains(l, part); });
}

inline const NodeMatch& NodeOf(const ChainMatch& m, std::string_view id) {
  const NodeMatch* n = m.Node(id);
  EXPECT_NE(n, nullptr) << id;
  static const NodeMatch kNone;
  return n != nullptr ? *n : kNone;
}

inline const AlternativeMatch& AltOf(const NodeMatch& n, std::string_view function) {
  for (size_t i = 0; i < n.node->alternatives.size(); ++i)
    if (n.node->alternatives[i].function == function) return n.alternatives[i];
  ADD_FAILURE() << "no alternative " << function;
  static const AlternativeMatch kNone;
  return kNone;
}

inline const EdgeMatch& EdgeOf(const ChainMatch& m, std::string_view from, std::string_view to) {
  const EdgeMatch* e = m.Edge(from, to);
  EXPECT_NE(e, nullptr) << from << " -> " << to;
  static const EdgeMatch kNone;
  return e != nullptr ? *e : kNone;
}

inline Verdict VerdictOf(const KernelFacts& facts, std::string_view claim_id) {
  const SeedClaim* claim = FindSeedClaim(claim_id);
  EXPECT_NE(claim, nullptr) << claim_id;
  return claim != nullptr ? CheckClaim(*claim, facts).verdict : Verdict::Unverified;
}

inline std::string EvidenceOf(const KernelFacts& facts, std::string_view claim_id) {
  const SeedClaim* claim = FindSeedClaim(claim_id);
  EXPECT_NE(claim, nullptr) << claim_id;
  return claim != nullptr ? CheckClaim(*claim, facts).evidence : std::string();
}

// --- The kernels -------------------------------------------------------------------

// Intel, 6.8, EPT on. kvm_mmu_do_page_fault is inlined (no symbol); vmx_init
// was freed after kvm_intel loaded.
inline FakeKernel VmxKernel() {
  FakeKernel k({"do_syscall_64",
                "__x64_sys_ioctl",
                "kvm_vcpu_ioctl",
                "kvm_vcpu_compat_ioctl",
                "kvm_arch_vcpu_ioctl_run",
                "vcpu_run",
                "vcpu_enter_guest",
                "vmx_vcpu_run",
                "vmx_handle_exit",
                "__vmx_handle_exit",
                "handle_io",
                "kvm_fast_pio",
                "handle_ept_violation",
                "handle_exception_nmi",
                "kvm_handle_page_fault",
                "kvm_mmu_page_fault",
                "kvm_tdp_page_fault",
                "kvm_tdp_mmu_map",
                "mmu_set_spte",
                "paging64_page_fault",
                "paging64_walk_addr_generic",
                "paging64_fetch",
                "kvm_queue_exception",
                "kvm_inject_exception",
                "vmx_inject_exception",
                "kvm_init",
                "kvm_x86_vendor_init",
                "kvm_dev_ioctl",
                "kvm_dev_ioctl_create_vm",
                "kvm_vm_ioctl",
                "kvm_vm_ioctl_create_vcpu",
                "__traceiter_kvm_pio",
                "__traceiter_kvm_mmu_set_spte",
                "__traceiter_kvm_inj_exception",
                "__traceiter_kvm_userspace_exit"});
  const std::vector<std::string_view> run = {"do_syscall_64",  "__x64_sys_ioctl",
                                             "kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
                                             "vcpu_run",       "vcpu_enter_guest"};
  auto with = [&](std::vector<std::string_view> tail) {
    std::vector<std::string_view> s = run;
    s.insert(s.end(), tail.begin(), tail.end());
    return s;
  };
  k.AddStack(with({"vmx_handle_exit", "__vmx_handle_exit", "handle_io", "kvm_fast_pio",
                   "__traceiter_kvm_pio"}),
             100);
  k.AddStack(
      with({"vmx_handle_exit", "__vmx_handle_exit", "handle_ept_violation", "kvm_mmu_page_fault",
            "kvm_tdp_page_fault", "kvm_tdp_mmu_map", "__traceiter_kvm_mmu_set_spte"}),
      40);
  k.AddStack(with({"kvm_inject_exception", "__traceiter_kvm_inj_exception"}), 5);
  k.AddStack(
      {"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "__traceiter_kvm_userspace_exit"}, 20);
  return k;
}

// AMD, 5.15, NPT on; kvm_arch_init still exists.
inline FakeKernel SvmKernel() {
  FakeKernel k({"do_syscall_64",
                "__x64_sys_ioctl",
                "kvm_vcpu_ioctl",
                "kvm_vcpu_compat_ioctl",
                "kvm_arch_vcpu_ioctl_run",
                "vcpu_run",
                "vcpu_enter_guest",
                "svm_vcpu_run",
                "svm_handle_exit",
                "svm_invoke_exit_handler",
                "io_interception",
                "kvm_fast_pio",
                "npf_interception",
                "pf_interception",
                "ud_interception",
                "kvm_handle_page_fault",
                "kvm_mmu_page_fault",
                "kvm_tdp_page_fault",
                "kvm_tdp_mmu_map",
                "mmu_set_spte",
                "paging64_page_fault",
                "paging64_walk_addr_generic",
                "paging64_fetch",
                "kvm_queue_exception",
                "kvm_inject_exception",
                "svm_queue_exception",
                "kvm_init",
                "kvm_arch_init",
                "kvm_dev_ioctl",
                "kvm_dev_ioctl_create_vm",
                "kvm_vm_ioctl",
                "kvm_vm_ioctl_create_vcpu",
                "__traceiter_kvm_pio",
                "__traceiter_kvm_mmu_set_spte"});
  const std::vector<std::string_view> exit = {
      "do_syscall_64", "__x64_sys_ioctl",  "kvm_vcpu_ioctl",  "kvm_arch_vcpu_ioctl_run",
      "vcpu_run",      "vcpu_enter_guest", "svm_handle_exit", "svm_invoke_exit_handler"};
  auto with = [&](std::vector<std::string_view> tail) {
    std::vector<std::string_view> s = exit;
    s.insert(s.end(), tail.begin(), tail.end());
    return s;
  };
  k.AddStack(with({"npf_interception", "kvm_mmu_page_fault", "kvm_tdp_page_fault",
                   "kvm_tdp_mmu_map", "__traceiter_kvm_mmu_set_spte"}),
             30);
  k.AddStack(with({"io_interception", "kvm_fast_pio", "__traceiter_kvm_pio"}), 50);
  return k;
}

// This machine's shape (MACHINE.md): PVM, vcpu_run and vcpu_enter_guest
// inlined into kvm_arch_vcpu_ioctl_run, the creation helpers inlined into
// their ioctl handlers, compiler suffixes on the PVM exit path.
inline FakeKernel PvmKernel() {
  FakeKernel k({"do_syscall_64",
                "__x64_sys_ioctl",
                "kvm_vcpu_ioctl",
                "kvm_vcpu_compat_ioctl",
                "kvm_arch_vcpu_ioctl_run",
                "pvm_vcpu_run",
                "pvm_handle_exit",
                "__pvm_handle_exit.isra.0",
                "pvm_handle_native_exit",
                "pvm_emulate_insn_scrubbed.constprop.0",
                "x86_emulate_instruction",
                "x86_emulate_insn",
                "em_out",
                "emulator_pio_out_emulated",
                "kvm_handle_page_fault",
                "kvm_mmu_page_fault",
                "kvm_mmu_do_page_fault",
                "kvm_tdp_page_fault",
                "kvm_tdp_mmu_map",
                "paging64_page_fault",
                "paging64_walk_addr_generic",
                "paging64_fetch",
                "mmu_set_spte",
                "kvm_queue_exception",
                "kvm_inject_exception",
                "pvm_inject_exception",
                "kvm_init",
                "kvm_init.cold",
                "kvm_x86_vendor_init",
                "pvm_init",
                "kvm_dev_ioctl",
                "kvm_vm_ioctl",
                "__traceiter_kvm_mmu_pagetable_walk",
                "__traceiter_kvm_mmu_set_spte",
                "__traceiter_kvm_pio",
                "__traceiter_kvm_inj_exception",
                "__traceiter_kvm_userspace_exit"});
  const std::vector<std::string_view> exit = {"do_syscall_64",   "__x64_sys_ioctl",
                                              "kvm_vcpu_ioctl",  "kvm_arch_vcpu_ioctl_run",
                                              "pvm_handle_exit", "__pvm_handle_exit.isra.0"};
  auto with = [&](std::vector<std::string_view> tail) {
    std::vector<std::string_view> s = exit;
    s.insert(s.end(), tail.begin(), tail.end());
    return s;
  };
  k.AddStack(with({"pvm_handle_native_exit", "kvm_mmu_page_fault", "kvm_mmu_do_page_fault",
                   "paging64_page_fault", "paging64_walk_addr_generic",
                   "__traceiter_kvm_mmu_pagetable_walk"}),
             94);
  k.AddStack(with({"pvm_handle_native_exit", "kvm_mmu_page_fault", "kvm_mmu_do_page_fault",
                   "paging64_page_fault", "paging64_fetch", "mmu_set_spte",
                   "__traceiter_kvm_mmu_set_spte"}),
             65);
  k.AddStack(
      with({"pvm_emulate_insn_scrubbed.constprop.0", "x86_emulate_instruction", "x86_emulate_insn",
            "em_out", "emulator_pio_out_emulated", "__traceiter_kvm_pio"}),
      500);
  k.AddStack({"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "kvm_arch_vcpu_ioctl_run",
              "kvm_inject_exception", "__traceiter_kvm_inj_exception"},
             1);
  k.AddStack(
      {"do_syscall_64", "__x64_sys_ioctl", "kvm_vcpu_ioctl", "__traceiter_kvm_userspace_exit"},
      600);
  return k;
}

// RHEL-7-like 3.10 VMX kernel without EPT: __vcpu_run, handle_exception, the
// host's page_fault entry; kvm_intel built in, so vmx_init is still there.
inline FakeKernel OldKernel() {
  FakeKernel k({"system_call_fastpath",
                "sys_ioctl",
                "do_vfs_ioctl",
                "kvm_vcpu_ioctl",
                "kvm_vcpu_compat_ioctl",
                "kvm_arch_vcpu_ioctl_run",
                "__vcpu_run",
                "vcpu_enter_guest",
                "vmx_vcpu_run",
                "vmx_handle_exit",
                "handle_exception",
                "handle_io",
                "handle_ept_violation",
                "kvm_mmu_page_fault",
                "tdp_page_fault",
                "paging64_page_fault",
                "paging64_walk_addr_generic",
                "paging64_fetch",
                "mmu_set_spte",
                "kvm_queue_exception",
                "inject_pending_event",
                "vmx_queue_exception",
                "kvm_init",
                "kvm_arch_init",
                "vmx_init",
                "kvm_dev_ioctl",
                "kvm_dev_ioctl_create_vm",
                "kvm_vm_ioctl",
                "kvm_vm_ioctl_create_vcpu",
                "page_fault",
                "perf_trace_kvm_mmu_pagetable_walk",
                "perf_trace_kvm_pio"});
  const std::vector<std::string_view> exit = {
      "system_call_fastpath",    "sys_ioctl",  "do_vfs_ioctl",     "kvm_vcpu_ioctl",
      "kvm_arch_vcpu_ioctl_run", "__vcpu_run", "vcpu_enter_guest", "vmx_handle_exit"};
  auto with = [&](std::vector<std::string_view> tail) {
    std::vector<std::string_view> s = exit;
    s.insert(s.end(), tail.begin(), tail.end());
    return s;
  };
  k.AddStack(with({"handle_exception", "kvm_mmu_page_fault", "paging64_page_fault",
                   "paging64_walk_addr_generic", "perf_trace_kvm_mmu_pagetable_walk"}),
             30);
  k.AddStack(with({"handle_io", "perf_trace_kvm_pio"}), 10);
  return k;
}

}  // namespace kvmscope::traces

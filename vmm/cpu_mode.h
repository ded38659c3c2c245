// CPU-mode set-up, kept apart from the run loop: the registers, segment
// descriptors, GDT, TSS and page tables a guest needs to start directly in
// real, 32-bit protected or 64-bit long mode.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace kvmscope::vmm {

enum class CpuMode : uint8_t {
  Real,       // 16-bit, CS:IP = 0:load address, no GDT
  Protected,  // 32-bit flat segments, paging off
  Long,       // 64-bit, identity paging of the first 1 GiB, GDT with ring-3
              // segments and a TSS, so a guest can iretq to user mode
};

std::string_view CpuModeName(CpuMode mode);
std::optional<CpuMode> ParseCpuMode(std::string_view name);

// Writes the mode's tables (GDT, TSS, page tables; see guests/abi.h) into
// guest memory `ram` and fills `sregs`/`regs` for a vCPU starting at `entry`.
// `regs.rsi` and `regs.rdi` are left for the caller.
void SetupCpuMode(CpuMode mode, std::span<uint8_t> ram, uint64_t entry, kvm_sregs& sregs,
                  kvm_regs& regs);

}  // namespace kvmscope::vmm

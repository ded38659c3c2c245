// Guest instructions as text: Capstone's x86 disassembly (Intel syntax) of
// guest bytes, and the instruction at a guest RIP read from the guest image
// the trace keeps, so the inspector can show what the guest was executing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::ui {

// The width the CPU decodes instructions with.
enum class GuestMode { Bits16, Bits32, Bits64 };
std::string_view GuestModeName(GuestMode mode);  // "16-bit", "32-bit", "64-bit"
// From GuestFacts::mode: "real" → 16, "protected" → 32, "long" and "user"
// (64-bit ring 3) → 64; nullopt for anything else.
std::optional<GuestMode> GuestModeFromName(std::string_view mode);
// From the control registers captured at an exit: CR0.PE clear → 16; EFER.LMA
// set → 64 (assumes CS.L, i.e. no compatibility-mode code); else 32 (assumes
// CS.D, the flat segments kvmscope's guests use).
GuestMode GuestModeOfRegs(uint64_t cr0, uint64_t efer);
// From kvm_emulate_insn's flags (KVM_EMUL_INSN_F_*: CR0_PE 1, EFL_VM 2,
// CS_D 4, CS_L 8), which give the mode KVM decoded with.
GuestMode GuestModeOfEmulateFlags(uint64_t flags);

struct Instruction {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  std::string mnemonic;           // "out"
  std::string operands;           // "dx, al"; "" when none
  std::string Text() const;       // "out dx, al"
  std::string BytesText() const;  // "ee", "0f a2"
};

// Disassembles up to `max` instructions from the start of `bytes`, the first
// at `address`; stops at the first byte sequence that is no instruction.
std::vector<Instruction> Disassemble(std::span<const uint8_t> bytes, uint64_t address,
                                     GuestMode mode, size_t max = SIZE_MAX);

// The instruction at guest `rip`, read from guest.image (loaded at
// guest.load_addr). kvmscope's guests run identity-mapped (paging off, or the
// first GiB mapped 1:1), so in protected and long mode the linear address is
// rip itself; in real mode it is CS base + IP with CS base 0, as the VMM sets
// CS:IP = 0:load address (a guest that reloads CS would break this).
// `mode` defaults to GuestModeFromName(guest.mode). nullopt when rip is
// outside the image or its bytes decode to no instruction.
std::optional<Instruction> InstructionAt(const traces::GuestFacts& guest, uint64_t rip,
                                         std::optional<GuestMode> mode = std::nullopt);

// "0x8000  48 c7 c0 01 00 00 00  mov rax, 1"
std::string FormatInstruction(const Instruction& instruction);

}  // namespace kvmscope::ui

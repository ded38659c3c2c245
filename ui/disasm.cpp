// Capstone behind ui/disasm.h: one handle per call (cheap next to a frame,
// and the inspector caches what it shows), x86 in the guest's width, Intel
// syntax, no detail (mnemonic and operands are all the inspector shows).
#include "ui/disasm.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <algorithm>

namespace kvmscope::ui {
namespace {

// x86 instructions are at most 15 bytes long (Intel SDM vol. 2, 2.3.11).
constexpr size_t kMaxInstruction = 15;

constexpr uint64_t kCr0Pe = 1ull << 0;     // protection enable
constexpr uint64_t kEferLma = 1ull << 10;  // long mode active

cs_mode CapstoneMode(GuestMode mode) {
  switch (mode) {
    case GuestMode::Bits16: return CS_MODE_16;
    case GuestMode::Bits32: return CS_MODE_32;
    case GuestMode::Bits64: break;
  }
  return CS_MODE_64;
}

// A Capstone handle that closes itself.
class Capstone {
 public:
  explicit Capstone(GuestMode mode) {
    if (cs_open(CS_ARCH_X86, CapstoneMode(mode), &m_handle) != CS_ERR_OK) {
      m_handle = 0;
      return;
    }
    cs_option(m_handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
  }
  ~Capstone() {
    if (m_handle != 0) cs_close(&m_handle);
  }
  Capstone(const Capstone&) = delete;
  Capstone& operator=(const Capstone&) = delete;
  csh handle() const { return m_handle; }

 private:
  csh m_handle = 0;
};

}  // namespace

std::string_view GuestModeName(GuestMode mode) {
  switch (mode) {
    case GuestMode::Bits16: return "16-bit";
    case GuestMode::Bits32: return "32-bit";
    case GuestMode::Bits64: break;
  }
  return "64-bit";
}

std::optional<GuestMode> GuestModeFromName(std::string_view mode) {
  if (mode == "real") return GuestMode::Bits16;
  if (mode == "protected") return GuestMode::Bits32;
  if (mode == "long" || mode == "user") return GuestMode::Bits64;
  return std::nullopt;
}

GuestMode GuestModeOfRegs(uint64_t cr0, uint64_t efer) {
  if ((cr0 & kCr0Pe) == 0) return GuestMode::Bits16;
  return (efer & kEferLma) != 0 ? GuestMode::Bits64 : GuestMode::Bits32;
}

GuestMode GuestModeOfEmulateFlags(uint64_t flags) {
  constexpr uint64_t kPe = 1, kVm = 2, kCsD = 4, kCsL = 8;
  if ((flags & kPe) == 0 || (flags & kVm) != 0) return GuestMode::Bits16;  // real or vm86
  if ((flags & kCsL) != 0) return GuestMode::Bits64;
  return (flags & kCsD) != 0 ? GuestMode::Bits32 : GuestMode::Bits16;
}

std::string Instruction::Text() const {
  return operands.empty() ? mnemonic : mnemonic + " " + operands;
}

std::string Instruction::BytesText() const {
  std::string text;
  for (uint8_t b : bytes) {
    if (!text.empty()) text += ' ';
    text += fmt::format("{:02x}", b);
  }
  return text;
}

std::vector<Instruction> Disassemble(std::span<const uint8_t> bytes, uint64_t address,
                                     GuestMode mode, size_t max) {
  std::vector<Instruction> out;
  if (bytes.empty() || max == 0) return out;
  Capstone capstone(mode);
  if (capstone.handle() == 0) return out;
  cs_insn* insn = nullptr;
  const size_t count = cs_disasm(capstone.handle(), bytes.data(), bytes.size(), address,
                                 max == SIZE_MAX ? 0 : max, &insn);
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Instruction instruction;
    instruction.address = insn[i].address;
    instruction.bytes.assign(insn[i].bytes, insn[i].bytes + insn[i].size);
    instruction.mnemonic = insn[i].mnemonic;
    instruction.operands = insn[i].op_str;
    out.push_back(std::move(instruction));
  }
  if (insn != nullptr) cs_free(insn, count);
  return out;
}

std::optional<Instruction> InstructionAt(const traces::GuestFacts& guest, uint64_t rip,
                                         std::optional<GuestMode> mode) {
  if (!mode) mode = GuestModeFromName(guest.mode);
  if (!mode) mode = GuestMode::Bits64;
  // Real mode: linear = CS base (0, see the header) + IP.
  const uint64_t linear = *mode == GuestMode::Bits16 ? (rip & 0xffff) : rip;
  if (linear < guest.load_addr || linear - guest.load_addr >= guest.image.size())
    return std::nullopt;
  const size_t offset = static_cast<size_t>(linear - guest.load_addr);
  const size_t size = std::min(kMaxInstruction, guest.image.size() - offset);
  std::vector<Instruction> one =
      Disassemble(std::span(guest.image).subspan(offset, size), rip, *mode, 1);
  if (one.empty()) return std::nullopt;
  return std::move(one.front());
}

std::string FormatInstruction(const Instruction& instruction) {
  return fmt::format("{:#x}  {:<20}  {}", instruction.address, instruction.BytesText(),
                     instruction.Text());
}

}  // namespace kvmscope::ui

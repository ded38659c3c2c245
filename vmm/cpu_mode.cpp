// CPU-mode set-up for real, protected and long mode.
#include "vmm/cpu_mode.h"

#include <cstring>

#include "vmm/guests/abi.h"

namespace kvmscope::vmm {

namespace {
// Control-register and EFER bits, named as in the SDM.
constexpr uint64_t CR0_PE = 1u << 0;   // protection enable
constexpr uint64_t CR0_MP = 1u << 1;   // monitor coprocessor
constexpr uint64_t CR0_ET = 1u << 4;   // extension type (always 1 on modern CPUs)
constexpr uint64_t CR0_NE = 1u << 5;   // native x87 error reporting
constexpr uint64_t CR0_WP = 1u << 16;  // ring 0 honours read-only pages
constexpr uint64_t CR0_PG = 1u << 31;  // paging
constexpr uint64_t CR4_PAE = 1u << 5;
constexpr uint64_t CR4_OSFXSR = 1u << 9;  // SSE instructions allowed
constexpr uint64_t EFER_SCE = 1u << 0;    // SYSCALL enable
constexpr uint64_t EFER_LME = 1u << 8;    // long mode enable
constexpr uint64_t EFER_LMA = 1u << 10;   // long mode active

// Page-table entry bits.
constexpr uint64_t PTE_P = 1u << 0;     // present
constexpr uint64_t PTE_RW = 1u << 1;    // writable
constexpr uint64_t PTE_US = 1u << 2;    // user-accessible
constexpr uint64_t PDE64_PS = 1u << 7;  // 2 MiB page in a page directory

constexpr uint64_t kRflagsReserved = 1u << 1;  // bit 1 of RFLAGS is always set

// Segment types (S=1 code/data, S=0 system).
constexpr uint8_t kTypeDataRW = 0x3;     // read/write, accessed
constexpr uint8_t kTypeCodeRX = 0xb;     // execute/read, accessed
constexpr uint8_t kTypeTss64Busy = 0xb;  // system: 64-bit TSS (busy)

kvm_segment Segment(uint16_t selector, uint8_t type, uint8_t dpl, bool code64, bool db) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = db;
  s.s = 1;  // code or data, not a system segment
  s.l = code64;
  s.g = 1;  // limit counted in 4 KiB units
  return s;
}

// Packs a kvm_segment into an 8-byte GDT descriptor.
uint64_t Descriptor(const kvm_segment& s) {
  uint64_t limit = s.g ? s.limit >> 12 : s.limit;
  uint64_t d = (limit & 0xffff) | ((s.base & 0xffffff) << 16);
  d |= uint64_t(s.type & 0xf) << 40;
  d |= uint64_t(s.s) << 44;
  d |= uint64_t(s.dpl & 3) << 45;
  d |= uint64_t(s.present) << 47;
  d |= ((limit >> 16) & 0xf) << 48;
  d |= uint64_t(s.l) << 53;
  d |= uint64_t(s.db) << 54;
  d |= uint64_t(s.g) << 55;
  d |= ((s.base >> 24) & 0xff) << 56;
  return d;
}

void Put64(std::span<uint8_t> ram, uint64_t addr, uint64_t v) {
  std::memcpy(&ram[addr], &v, 8);
}

void SetDataSegments(kvm_sregs& sregs, const kvm_segment& data) {
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
}

void SetupProtected(std::span<uint8_t> ram, kvm_sregs& sregs) {
  kvm_segment code = Segment(KVMSCOPE_SEL_CODE32, kTypeCodeRX, 0, false, true);
  kvm_segment data = Segment(KVMSCOPE_SEL_DATA32, kTypeDataRW, 0, false, true);
  Put64(ram, KVMSCOPE_GDT_ADDR + 0, 0);  // the null descriptor
  Put64(ram, KVMSCOPE_GDT_ADDR + KVMSCOPE_SEL_CODE32, Descriptor(code));
  Put64(ram, KVMSCOPE_GDT_ADDR + KVMSCOPE_SEL_DATA32, Descriptor(data));
  sregs.gdt.base = KVMSCOPE_GDT_ADDR;
  sregs.gdt.limit = 3 * 8 - 1;
  sregs.cs = code;
  SetDataSegments(sregs, data);
  sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
}

void SetupLong(std::span<uint8_t> ram, kvm_sregs& sregs) {
  // Identity-map the first 1 GiB with 2 MiB pages. PTE_US on every level lets
  // ring-3 code reach it too; guests that want private pages build their own.
  Put64(ram, KVMSCOPE_PML4_ADDR, KVMSCOPE_PDPT_ADDR | PTE_P | PTE_RW | PTE_US);
  Put64(ram, KVMSCOPE_PDPT_ADDR, KVMSCOPE_PD_ADDR | PTE_P | PTE_RW | PTE_US);
  for (uint64_t i = 0; i < 512; ++i) {
    Put64(ram, KVMSCOPE_PD_ADDR + i * 8, (i << 21) | PTE_P | PTE_RW | PTE_US | PDE64_PS);
  }

  kvm_segment kcode = Segment(KVMSCOPE_SEL_KCODE, kTypeCodeRX, 0, true, false);
  kvm_segment kdata = Segment(KVMSCOPE_SEL_KDATA, kTypeDataRW, 0, false, true);
  kvm_segment udata = Segment(KVMSCOPE_SEL_UDATA & ~3, kTypeDataRW, 3, false, true);
  kvm_segment ucode = Segment(KVMSCOPE_SEL_UCODE & ~3, kTypeCodeRX, 3, true, false);

  // 64-bit TSS: RSP0 (offset 4) is the stack the CPU switches to when an
  // interrupt or exception arrives in ring 3. The I/O map base (offset 102)
  // points past the limit: no I/O permission bitmap.
  constexpr uint32_t kTssLimit = 0x67;
  std::memset(&ram[KVMSCOPE_TSS_ADDR], 0, kTssLimit + 1);
  Put64(ram, KVMSCOPE_TSS_ADDR + 4, KVMSCOPE_RING0_STACK_TOP);
  uint16_t iomap = kTssLimit + 1;
  std::memcpy(&ram[KVMSCOPE_TSS_ADDR + 102], &iomap, 2);

  kvm_segment tss{};
  tss.base = KVMSCOPE_TSS_ADDR;
  tss.limit = kTssLimit;
  tss.selector = KVMSCOPE_SEL_TSS;
  tss.type = kTypeTss64Busy;
  tss.present = 1;

  Put64(ram, KVMSCOPE_GDT_ADDR + 0, 0);
  Put64(ram, KVMSCOPE_GDT_ADDR + KVMSCOPE_SEL_KCODE, Descriptor(kcode));
  Put64(ram, KVMSCOPE_GDT_ADDR + KVMSCOPE_SEL_KDATA, Descriptor(kdata));
  Put64(ram, KVMSCOPE_GDT_ADDR + (KVMSCOPE_SEL_UDATA & ~3), Descriptor(udata));
  Put64(ram, KVMSCOPE_GDT_ADDR + (KVMSCOPE_SEL_UCODE & ~3), Descriptor(ucode));
  // A system descriptor in long mode takes 16 bytes: the low 8 as usual
  // (byte granular, S=0), the high 8 hold base bits 32..63.
  kvm_segment tss_desc = tss;
  tss_desc.g = 0;
  Put64(ram, KVMSCOPE_GDT_ADDR + KVMSCOPE_SEL_TSS, Descriptor(tss_desc));
  Put64(ram, KVMSCOPE_GDT_ADDR + KVMSCOPE_SEL_TSS + 8, tss.base >> 32);

  // An IDT of 256 empty (not present) gates: guests fill in what they need.
  std::memset(&ram[KVMSCOPE_IDT_ADDR], 0, 256 * 16);

  sregs.gdt.base = KVMSCOPE_GDT_ADDR;
  sregs.gdt.limit = KVMSCOPE_SEL_TSS + 16 - 1;
  sregs.idt.base = KVMSCOPE_IDT_ADDR;
  sregs.idt.limit = 256 * 16 - 1;
  sregs.cs = kcode;
  SetDataSegments(sregs, kdata);
  sregs.tr = tss;
  sregs.cr3 = KVMSCOPE_PML4_ADDR;
  sregs.cr4 = CR4_PAE | CR4_OSFXSR;
  sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
  sregs.efer = EFER_SCE | EFER_LME | EFER_LMA;
}
}  // namespace

std::string_view CpuModeName(CpuMode mode) {
  switch (mode) {
    case CpuMode::Real: return "real";
    case CpuMode::Protected: return "protected";
    case CpuMode::Long: return "long";
  }
  return "?";
}

std::optional<CpuMode> ParseCpuMode(std::string_view name) {
  for (CpuMode m : {CpuMode::Real, CpuMode::Protected, CpuMode::Long}) {
    if (CpuModeName(m) == name) return m;
  }
  return std::nullopt;
}

void SetupCpuMode(CpuMode mode, std::span<uint8_t> ram, uint64_t entry, kvm_sregs& sregs,
                  kvm_regs& regs) {
  regs = {};
  regs.rflags = kRflagsReserved;
  regs.rip = entry;
  regs.rsp = KVMSCOPE_STACK_TOP;
  switch (mode) {
    case CpuMode::Real:
      // Reset state already has 16-bit segments; point them all at 0 so
      // that linear = offset and CS:IP = 0:entry.
      for (kvm_segment* s : {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
        s->base = 0;
        s->selector = 0;
      }
      break;
    case CpuMode::Protected: SetupProtected(ram, sregs); break;
    case CpuMode::Long: SetupLong(ram, sregs); break;
  }
}

}  // namespace kvmscope::vmm

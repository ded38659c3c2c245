/* The contract between the VMM and its guests: guest-physical memory layout,
 * ports and MMIO registers. Included by C++ and by the guests' .S sources
 * (which are run through the C preprocessor), so it holds only #defines. */
#ifndef KVMSCOPE_GUEST_ABI_H
#define KVMSCOPE_GUEST_ABI_H

/* Guest-physical memory (RAM starts at 0):
 *   0x0000  real-mode interrupt vector table (free for guests)
 *   0x1000  GDT built by the VMM for protected and long mode
 *   0x1800  64-bit TSS built by the VMM (RSP0 = KVMSCOPE_RING0_STACK_TOP)
 *   0x2000  IDT: IDTR points here in long mode, all gates empty; guests fill
 *           in the gates they need (16 bytes each)
 *   0x3000  page tables built by the VMM in long mode: PML4, PDPT, PD
 *           identity-mapping the first 1 GiB with 2 MiB pages, user-accessible
 *   0x6000  ring-0 stack used on interrupts from ring 3 (top at 0x7000)
 *   0x7000  initial stack (top at 0x8000)
 *   0x8000  guest image (default load address)
 *   0x100000 up to the end of RAM: free for guests */
#define KVMSCOPE_GDT_ADDR 0x1000
#define KVMSCOPE_TSS_ADDR 0x1800
#define KVMSCOPE_IDT_ADDR 0x2000
#define KVMSCOPE_PML4_ADDR 0x3000
#define KVMSCOPE_PDPT_ADDR 0x4000
#define KVMSCOPE_PD_ADDR 0x5000
#define KVMSCOPE_RING0_STACK_TOP 0x7000
#define KVMSCOPE_STACK_TOP 0x8000
#define KVMSCOPE_LOAD_ADDR 0x8000
#define KVMSCOPE_FREE_RAM 0x100000
#define KVMSCOPE_RAM_SIZE 0x1000000 /* 16 MiB */

/* GDT selectors in protected mode (flat 4 GiB segments). */
#define KVMSCOPE_SEL_CODE32 0x08
#define KVMSCOPE_SEL_DATA32 0x10
/* GDT selectors in long mode. User selectors carry RPL 3. */
#define KVMSCOPE_SEL_KCODE 0x08
#define KVMSCOPE_SEL_KDATA 0x10
#define KVMSCOPE_SEL_UDATA 0x1b
#define KVMSCOPE_SEL_UCODE 0x23
#define KVMSCOPE_SEL_TSS 0x28

/* Ports. The serial console is a 16550 at COM1. */
#define KVMSCOPE_COM1_PORT 0x3f8
#define KVMSCOPE_COM1_LSR 0x3fd
/* OUT a 32-bit value here to report the self-check result (then hlt). */
#define KVMSCOPE_STATUS_PORT 0x500
/* Any OUT here is counted: the target of the exit-heavy pio-loop guest. */
#define KVMSCOPE_TICK_PORT 0x501

/* The MMIO test device, outside RAM so that accesses exit to the VMM. */
#define KVMSCOPE_MMIO_BASE 0x10000000
#define KVMSCOPE_MMIO_SIZE 0x1000
#define KVMSCOPE_MMIO_ID 0x0      /* read-only: KVMSCOPE_MMIO_ID_VALUE */
#define KVMSCOPE_MMIO_SCRATCH 0x8 /* reads back the last value written */
#define KVMSCOPE_MMIO_COUNT 0x10  /* read-only: accesses so far, this one included */
#define KVMSCOPE_MMIO_ID_VALUE 0x4b564d53 /* "SMVK" little-endian: 'K','V','M','S' */

/* On entry the VMM sets RSI (ESI/SI) to the guest parameter (--param),
 * and RDI to the vCPU index. */

#endif

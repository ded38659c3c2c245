/* modes: the road from reset to 64-bit code, one step at a time, the way a
 * boot loader walks it. The VMM starts this guest in real mode (16-bit, no
 * GDT, no paging) and the guest itself does everything else:
 *
 *   1. real mode:      print "real mode", set bit 1
 *   2. load its own GDT (lgdt), set CR0.PE, far jump into a 32-bit code
 *      segment, reload the data segments:
 *                      print "protected mode", set bit 2
 *   3. build 4-level page tables in free RAM, set CR4.PAE, load CR3, set
 *      EFER.LME (wrmsr), set CR0.PG, far jump into a 64-bit code segment:
 *                      print "long mode", set bit 4
 *   4. report the bits (7) on the status port and hlt.
 *
 * Console output polls the 16550's line status register before every byte,
 * like a real driver: one KVM_EXIT_IO for the IN from the LSR and one for the
 * OUT of the byte. The mode switches themselves (lgdt, mov to CR0/CR3/CR4,
 * wrmsr to EFER, far jumps) never leave the kernel: KVM handles them (under
 * VMX/SVM by intercepting the few that trap, under PVM by emulating every
 * supervisor instruction) and the VMM sees nothing but the console I/O. */
#include "vmm/guests/abi.h"

/* Control-register and EFER bits, named as in the SDM. */
#define CR0_PE (1 << 0)		/* protection enable */
#define CR0_PG (1 << 31)	/* paging */
#define CR4_PAE (1 << 5)	/* physical address extension: 64-bit entries */
#define MSR_EFER 0xc0000080	/* extended feature enable register */
#define EFER_LME (1 << 8)	/* long mode enable (becomes active with CR0.PG) */

/* Page-table entry bits. */
#define PTE_P (1 << 0)		/* present */
#define PTE_RW (1 << 1)		/* writable */
#define PDE_PS (1 << 7)		/* in a page directory: a 2 MiB page */

/* This guest's own page tables, in free RAM: one page each. */
#define PML4 (KVMSCOPE_FREE_RAM + 0x0000)
#define PDPT (KVMSCOPE_FREE_RAM + 0x1000)
#define PD (KVMSCOPE_FREE_RAM + 0x2000)

/* Selectors into this guest's own GDT (below), not the VMM's. */
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18

#define LSR_THRE 0x20		/* line status: transmit holding register empty */

/* PRINT msg: write the NUL-terminated string at msg to COM1, waiting for
 * LSR.THRE before each byte. A macro rather than a subroutine so that the
 * very same lines assemble as 16-, 32- or 64-bit code, depending on the
 * .code directive where it is used (lodsb reads DS:SI, ESI or RSI). */
.macro PRINT msg
	mov	$\msg, %esi
1:	lodsb				/* AL = next byte */
	test	%al, %al
	jz	3f
	mov	%al, %bl		/* keep it: the LSR read overwrites AL */
	mov	$KVMSCOPE_COM1_LSR, %dx
2:	in	%dx, %al		/* poll: KVM_EXIT_IO (in) */
	test	$LSR_THRE, %al
	jz	2b			/* not ready: ask again */
	mov	%bl, %al
	mov	$KVMSCOPE_COM1_PORT, %dx
	out	%al, %dx		/* the byte: KVM_EXIT_IO (out) */
	jmp	1b
3:
.endm

	.text
	.globl _start

/* ---- 1. real mode: 16-bit code, segments based at 0 (the VMM's reset) ---- */
	.code16
_start:
	xor	%ebp, %ebp		/* EBP collects a bit per mode reached */
	PRINT	msg_real
	or	$1, %ebp

	cli				/* no interrupts while the tables change */
	lgdtl	gdt_desc		/* GDTR = our GDT (32-bit base: lgdtl) */
	mov	%cr0, %eax
	or	$CR0_PE, %eax
	mov	%eax, %cr0		/* protected mode on ... */
	ljmpl	$SEL_CODE32, $pm32	/* ... but CS still holds a real-mode
					 * segment until this far jump loads a
					 * 32-bit code selector */

/* ---- 2. 32-bit protected mode, flat segments ---- */
	.code32
pm32:
	mov	$SEL_DATA, %ax		/* data segments still hold real-mode */
	mov	%ax, %ds		/* values: load the flat data selector */
	mov	%ax, %es
	mov	%ax, %fs
	mov	%ax, %gs
	mov	%ax, %ss
	mov	$KVMSCOPE_STACK_TOP, %esp	/* a 32-bit stack pointer, to be safe */
	PRINT	msg_prot
	or	$2, %ebp

	/* Page tables: clear three pages, then chain PML4[0] -> PDPT[0] ->
	 * PD[0] -> the first 2 MiB of RAM, identity-mapped (virtual address ==
	 * physical address). That covers this code, its stack and the tables
	 * themselves: everything the guest touches after paging is on. */
	mov	$PML4, %edi
	xor	%eax, %eax
	mov	$(3 * 4096 / 4), %ecx
	rep stosl
	movl	$(PDPT | PTE_P | PTE_RW), PML4
	movl	$(PD | PTE_P | PTE_RW), PDPT
	movl	$(0 | PTE_P | PTE_RW | PDE_PS), PD

	mov	%cr4, %eax
	or	$CR4_PAE, %eax		/* long mode needs PAE-format tables */
	mov	%eax, %cr4
	mov	$PML4, %eax
	mov	%eax, %cr3		/* the top of the page-table tree */
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr				/* long mode enabled, not yet active */
	mov	%cr0, %eax
	or	$CR0_PG, %eax
	mov	%eax, %cr0		/* paging on: EFER.LMA becomes 1, we are
					 * in compatibility mode (still 32-bit) */
	ljmp	$SEL_CODE64, $lm64	/* a code segment with L=1: 64-bit mode */

/* ---- 3. 64-bit long mode ---- */
	.code64
lm64:
	mov	$SEL_DATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	PRINT	msg_long
	or	$4, %ebp

	mov	%ebp, %eax		/* self-check: 1 | 2 | 4 = 7 */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt

/* The GDT. Each descriptor packs base, limit and flags into 8 bytes; all
 * three segments here are flat (base 0, limit 4 GiB with 4 KiB granularity).
 *   0x00cf9a000000ffff: present, ring 0, code execute/read, D=1 (32-bit)
 *   0x00cf92000000ffff: present, ring 0, data read/write, B=1
 *   0x00af9a000000ffff: present, ring 0, code execute/read, L=1 (64-bit) */
	.p2align 3
gdt:
	.quad	0			/* the null descriptor */
	.quad	0x00cf9a000000ffff	/* SEL_CODE32 */
	.quad	0x00cf92000000ffff	/* SEL_DATA */
	.quad	0x00af9a000000ffff	/* SEL_CODE64 */
gdt_end:
gdt_desc:				/* the operand of lgdt: limit, base */
	.word	gdt_end - gdt - 1
	.long	gdt

msg_real:
	.asciz	"real mode\n"
msg_prot:
	.asciz	"protected mode\n"
msg_long:
	.asciz	"long mode\n"

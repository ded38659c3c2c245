/* pagefault: page faults of two kinds. Long mode, ring 0 and ring 3.
 *
 * Ring 0 (the guest "kernel") builds its own 4 KiB page tables for a user
 * region at virtual 1 GiB (USER_VA): entry 1 of the VMM's PDPT points to a
 * new page directory, whose entry 0 points to a new page table. The first
 * MAPPED_PAGES (16) pages of the region are mapped present, writable and
 * user-accessible to fresh physical pages that nobody has touched yet; the
 * next DEMAND_PAGES (4) are left not present. It fills IDT gate 14 (#PF)
 * and a "system call" gate (VEC_SYSCALL, DPL 3 so that ring 3 may use it
 * with INT n; why vector 4 and not Linux's 0x80: see VEC_SYSCALL below),
 * then drops to ring 3 with iretq.
 *
 * Ring 3 (the "process") writes to each of the 16 mapped pages, then to each
 * of the 4 unmapped ones, reads all 20 back and asks the kernel, with
 * int $VEC_SYSCALL, to report the result.
 *
 *  - The 16 mapped pages are present in the guest's page tables, but KVM
 *    has not yet built the mappings the hardware really uses (shadow pages
 *    under PVM or with EPT/NPT off, EPT/NPT entries otherwise). Under shadow
 *    paging (PVM, ept=0, npt=0) the first write to each one traps to KVM as
 *    a #PF: kvm_mmu_page_fault walks the guest tables
 *    (kvmmmu:kvm_mmu_pagetable_walk), installs a shadow entry
 *    (kvmmmu:kvm_mmu_set_spte) and resumes the guest, which never sees a
 *    fault. With EPT/NPT the exit is an EPT violation / NPF on the
 *    guest-physical page: KVM maps it (kvm_mmu_set_spte) without walking the
 *    guest's tables, and one huge mapping may cover several pages.
 *  - The 4 unmapped pages are not present for the guest either. Under
 *    shadow paging KVM's walk fails (kvmmmu:kvm_mmu_walker_error) and KVM
 *    injects a #PF into the guest (kvm:kvm_inj_exception, vector 14, error
 *    code 0x6 = write from user mode to a not-present page); with EPT/NPT
 *    the CPU delivers the guest's #PF itself. The guest's handler reads
 *    the faulting address from CR2, maps a fresh page there ("demand
 *    paging"), flushes the stale TLB entry with invlpg and returns with
 *    iretq: the CPU retries the write, which now succeeds (after one more
 *    first-touch trap to KVM).
 *
 * Self-check: the system call reports (pages touched << 8) | demand faults
 * handled on the status port: (16 << 8) | 4 = 0x1004 when everything
 * worked; values 0xBADxx mean a check failed (see FAIL_*), then hlt.
 *
 * Exits: only KVM_EXIT_IO (one per console byte, one for the status) and the
 * final KVM_EXIT_HLT. All the faults are handled inside KVM_RUN. Under PVM
 * the ring-0 code runs in KVM's instruction emulator (kvm:kvm_emulate_insn
 * per instruction; its iretq's show up as "failed" emulations that PVM then
 * completes itself) while the ring-3 code runs natively. */
#include "vmm/guests/abi.h"

#define USER_VA 0x40000000	/* 1 GiB: the user region, PDPT entry 1 */
#define MAPPED_PAGES 16		/* mapped before ring 3 runs */
#define DEMAND_PAGES 4		/* mapped by the #PF handler on demand */
#define TOTAL_PAGES (MAPPED_PAGES + DEMAND_PAGES)
#define DEMAND_VA (USER_VA + MAPPED_PAGES * PAGE_SIZE)
#define TOUCH_OFFSET 0x800	/* ring 3 writes mid-page: CR2 is the exact byte */
#define PAGE_SIZE 0x1000

/* Guest-physical memory this guest takes from the free RAM: */
/* The page directory, its page table, then fresh pages handed out from
 * FIRST_FRAME on. The user stack is in the identity-mapped 1st GiB. */
#define USER_PD KVMSCOPE_FREE_RAM
#define USER_PT (KVMSCOPE_FREE_RAM + PAGE_SIZE)
#define FIRST_FRAME (KVMSCOPE_FREE_RAM + 2 * PAGE_SIZE)
#define USER_STACK_TOP (KVMSCOPE_FREE_RAM + 0x80000)

#define PTE_P 0x1		/* present */
#define PTE_RW 0x2		/* writable */
#define PTE_US 0x4		/* user-accessible */
#define PTE_USER_RW (PTE_P | PTE_RW | PTE_US)
#define PF_ERR_USER_WRITE_NP 0x6	/* #PF error code: user, write, not present */

#define GATE_INTR_DPL0 0x8e	/* present, DPL 0, 64-bit interrupt gate */
#define GATE_INTR_DPL3 0xee	/* the same with DPL 3: ring 3 may INT n it */
#define VEC_PF 14
/* The system call vector. Linux used 0x80, but under PVM ring 3 can only
 * reach the guest's IDT with INT n for n = 3 (int3) and n = 4: any other
 * vector (0x80, 0x81, 0x40, 0x20, 0xff were tried) makes KVM emulate the
 * INT instruction, which its emulator cannot do in long mode, and KVM
 * injects #UD instead. Vector 4 is #OF, raised only by INTO, which does not
 * exist in 64-bit mode: so in long mode vector 4 is free for our own use.
 * With VMX/SVM any vector from 32 to 255 would do. */
#define VEC_SYSCALL 4
#define RFLAGS_RESERVED 0x2	/* bit 1 always set; IF=0: no interrupts */

#define FAIL_PF 0xBAD0E		/* a #PF we did not expect */
#define FAIL_SYSCALL 0xBAD5C	/* the system call did not come from ring 3 */
#define BAD_READBACK 0xBAD	/* "pages touched" when a read-back failed */

/* GATE vector, handler, attributes: fill in one IDT gate. */
.macro GATE vector, handler, attr
	mov	$\vector, %edi
	lea	\handler(%rip), %rsi
	mov	$\attr, %edx
	call	set_gate
.endm

/* PUTS message: print a string from ring 0. */
.macro PUTS message
	lea	\message(%rip), %rsi
	call	puts
.endm

/* REPORT value: the self-check result to the status port, then stop. */
.macro REPORT value
	mov	\value, %eax
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt				/* -> KVM_EXIT_HLT */
.endm

	.code64
	.text
	.globl _start
_start:
	PUTS	msg_start
	GATE	VEC_PF, pf_handler, GATE_INTR_DPL0
	GATE	VEC_SYSCALL, syscall_handler, GATE_INTR_DPL3

	/* A new page directory and page table, all entries not present. */
	mov	$USER_PD, %edi
	mov	$(2 * PAGE_SIZE / 8), %ecx
	xor	%eax, %eax
	rep stosq			/* zero USER_PD and USER_PT (adjacent) */
	/* PD[0] -> PT: covers VA 1 GiB .. 1 GiB + 2 MiB */
	movq	$(USER_PT | PTE_USER_RW), USER_PD
	/* PDPT[1] -> PD: covers VA 1 GiB .. 2 GiB */
	movq	$(USER_PD | PTE_USER_RW), KVMSCOPE_PDPT_ADDR + 8

	/* PT[0..15] -> fresh pages. PT[16..19] stay not present. */
	xor	%ecx, %ecx
1:	call	alloc_frame		/* RAX = physical address of a fresh page */
	or	$PTE_USER_RW, %rax
	mov	%rax, USER_PT(,%rcx,8)
	inc	%ecx
	cmp	$MAPPED_PAGES, %ecx
	jb	1b
	mov	%cr3, %rax		/* reload CR3: flush the TLB (not needed */
					/* when only adding entries, but a safe habit) */
	mov	%rax, %cr3

	/* Drop to ring 3: iretq pops RIP, CS, RFLAGS, RSP, SS. */
	PUTS	msg_ring3
	push	$KVMSCOPE_SEL_UDATA	/* SS */
	push	$USER_STACK_TOP		/* RSP */
	push	$RFLAGS_RESERVED	/* RFLAGS */
	push	$KVMSCOPE_SEL_UCODE	/* CS: RPL 3, so CPL becomes 3 */
	lea	user_main(%rip), %rax
	push	%rax			/* RIP */
	iretq

/* ---- Ring 3: runs natively on the CPU, even under PVM. No I/O here (that
 * would be a #GP at IOPL 0): the kernel prints on our behalf. ---- */
user_main:
	/* Touch the mapped pages: each first write traps to KVM only. */
	mov	$(USER_VA + TOUCH_OFFSET), %rdi
	xor	%ebx, %ebx		/* RBX = pages touched */
1:	mov	%rdi, (%rdi)		/* store the address itself */
	add	$PAGE_SIZE, %rdi
	inc	%ebx
	cmp	$MAPPED_PAGES, %ebx
	jb	1b
	/* Touch the unmapped pages: each write -> guest #PF, then retried. */
2:	mov	%rdi, (%rdi)
	add	$PAGE_SIZE, %rdi
	cmp	$(USER_VA + TOTAL_PAGES * PAGE_SIZE), %rdi
	jb	2b
	/* Read all 20 pages back. */
	mov	$(USER_VA + TOUCH_OFFSET), %rdi
3:	cmp	%rdi, (%rdi)
	je	4f
	mov	$BAD_READBACK, %ebx	/* wrong value: spoil the result */
4:	add	$PAGE_SIZE, %rdi
	cmp	$(USER_VA + TOTAL_PAGES * PAGE_SIZE), %rdi
	jb	3b
	mov	%rbx, %rdi		/* the system call's argument */
	int	$VEC_SYSCALL		/* -> ring 0, syscall_handler */
	jmp	.			/* not reached */

/* ---- Ring 0 handlers. The CPU switched to the TSS's RSP0 stack. ---- */

/* #PF: the frame is error code, RIP, CS, RFLAGS, RSP, SS; CR2 holds the
 * faulting address. Maps a fresh page there and returns to retry. */
pf_handler:
	push	%rax
	push	%rcx
	push	%rsi
	cmpq	$PF_ERR_USER_WRITE_NP, 24(%rsp)	/* the error code */
	jne	pf_bad
	mov	%cr2, %rcx
	sub	$DEMAND_VA, %rcx	/* only the 4 demand pages may fault */
	cmp	$(DEMAND_PAGES * PAGE_SIZE), %rcx
	jae	pf_bad
	PUTS	msg_pf
	mov	%cr2, %rax
	call	put_hex
	PUTS	msg_newline
	mov	%cr2, %rcx
	shr	$12, %rcx
	and	$511, %ecx		/* RCX = index of the PT entry */
	call	alloc_frame
	or	$PTE_USER_RW, %rax
	mov	%rax, USER_PT(,%rcx,8)	/* map it */
	mov	%cr2, %rax
	invlpg	(%rax)			/* drop any stale translation */
	incl	faults(%rip)
	pop	%rsi
	pop	%rcx
	pop	%rax
	add	$8, %rsp		/* pop the error code: iretq does not */
	iretq				/* back to ring 3: retry the write */
pf_bad:
	REPORT	$FAIL_PF

/* The system call (int $VEC_SYSCALL): the frame is RIP, CS, RFLAGS, RSP,
 * SS, no error code. RDI is the process's argument: pages touched. Reports
 * and stops the machine. */
syscall_handler:
	cmpq	$KVMSCOPE_SEL_UCODE, 8(%rsp)	/* CS: did we come from ring 3? */
	jne	syscall_bad
	PUTS	msg_syscall
	mov	%edi, %eax
	shl	$8, %eax
	or	faults(%rip), %eax	/* (pages touched << 8) | faults */
	REPORT	%eax
syscall_bad:
	REPORT	$FAIL_SYSCALL

/* ---- Ring-0 helpers ---- */

/* alloc_frame: RAX = a fresh 4 KiB physical page (a bump allocator). */
alloc_frame:
	mov	next_frame(%rip), %rax
	addq	$PAGE_SIZE, next_frame(%rip)
	ret

/* set_gate: IDT gate EDI -> handler RSI, type/attributes byte DL. A
 * long-mode gate is 16 bytes: offset 15..0, selector, IST, type/attributes,
 * offset 31..16, offset 63..32, reserved. Clobbers RAX, RDI. */
set_gate:
	shl	$4, %rdi
	add	$KVMSCOPE_IDT_ADDR, %rdi	/* RDI = &idt[vector] */
	mov	%si, (%rdi)			/* offset 15..0 */
	movw	$KVMSCOPE_SEL_KCODE, 2(%rdi)	/* handlers run in ring 0 */
	movb	$0, 4(%rdi)			/* IST 0 */
	mov	%dl, 5(%rdi)			/* present, DPL, gate type */
	mov	%rsi, %rax
	shr	$16, %rax
	mov	%ax, 6(%rdi)			/* offset 31..16 */
	shr	$16, %rax
	mov	%eax, 8(%rdi)			/* offset 63..32 */
	movl	$0, 12(%rdi)
	ret

/* puts: print the NUL-terminated string at RSI, one OUT (one KVM_EXIT_IO)
 * per byte. Clobbers RSI. */
puts:
	push	%rax
	push	%rdx
	mov	$KVMSCOPE_COM1_PORT, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
2:	pop	%rdx
	pop	%rax
	ret

/* put_hex: print EAX as 8 hex digits, most significant first. */
put_hex:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	mov	%eax, %esi
	mov	$8, %ecx
	mov	$KVMSCOPE_COM1_PORT, %dx
1:	rol	$4, %esi		/* next digit into the low 4 bits */
	mov	%esi, %eax
	and	$0xf, %eax
	movzbl	hex_digits(%rax), %eax	/* its character (hex_digits + RAX) */
	out	%al, %dx
	loop	1b
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	ret

msg_start:	.asciz	"pagefault: page tables for 1 GiB\n"
msg_ring3:	.asciz	"to ring 3\n"
msg_pf:		.asciz	"#PF at 0x"
msg_newline:	.asciz	"\n"
msg_syscall:	.asciz	"system call from ring 3\n"
hex_digits:	.ascii	"0123456789abcdef"

	.balign	8
next_frame:	.quad	FIRST_FRAME	/* the next fresh physical page */
faults:		.long	0		/* demand faults handled */

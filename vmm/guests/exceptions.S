/* exceptions: raises four CPU exceptions on purpose and handles each in its
 * own IDT. Long mode, ring 0, except for one short trip to ring 3.
 *
 * The VMM points IDTR at KVMSCOPE_IDT_ADDR with all 256 gates empty. This
 * guest fills in four of them and then triggers, in this order:
 *   #DE (vector 0)   divide error        div by zero                (ring 0)
 *   #BP (vector 3)   breakpoint          int3                       (ring 3)
 *   #UD (vector 6)   invalid opcode      ud2                        (ring 0)
 *   #GP (vector 13)  general protection  load through the non-
 *                                        canonical address
 *                                        0x8000000000000000         (ring 0)
 * Before each trigger the main code "arms" a resume point (an address and
 * its stack pointer, like setjmp). Each handler sets bit (1 << vector) in
 * `mask`, prints "#XX handled" on the console and iretq's to the resume
 * point by rewriting the interrupt frame (like longjmp): a fault saves the
 * address of the faulting instruction, so a plain iretq would only raise it
 * again. At the end the guest reports the mask on the status port,
 * 1<<0 | 1<<3 | 1<<6 | 1<<13 = 0x2049, and halts.
 *
 * What KVM does: no exception exits to the VMM. With VMX/SVM the CPU
 * delivers #DE, #BP and #GP through this IDT by itself; #UD is always
 * intercepted: KVM's handle_ud tries to emulate ud2, cannot, and injects #UD
 * (kvm:kvm_inj_exception). Under PVM, ring-0 code is run by
 * KVM's instruction emulator: it meets the fault while emulating div, ud2 or
 * the load and injects it (kvm:kvm_inj_exception), delivering it through
 * this IDT. Ring-3 code runs natively: the CPU's #BP traps to the host and
 * PVM injects it into the guest the same way. Why int3 in ring 3: under PVM
 * the emulator cannot run INT3 (or INT n) in 64-bit ring 0, the vCPU stops
 * with KVM_EXIT_INTERNAL_ERROR (emulation failure). The iretq's are not
 * emulated either: the emulator gives up on them and PVM completes them
 * itself (a "failed" kvm:kvm_emulate_insn, then the guest goes on).
 * The only exits: KVM_EXIT_IO, one per console byte and one for the status
 * report, and the final KVM_EXIT_HLT. */
#include "vmm/guests/abi.h"

#define GATE_INTR_DPL0 0x8e	/* present, DPL 0, 64-bit interrupt gate */
#define GATE_INTR_DPL3 0xee	/* the same with DPL 3: ring 3 may INT3 it */
#define RFLAGS_RESERVED 0x2	/* bit 1 always set; IF=0: no interrupts */
/* user_bp uses no stack, but iretq to ring 3 needs an RSP to load. */
#define USER_STACK_TOP (KVMSCOPE_FREE_RAM + 0x1000)
/* Bits 63..47 not all equal: not canonical, any access is a #GP. */
#define NONCANONICAL 0x8000000000000000

/* The interrupt frame the CPU pushes in long mode (lowest address first):
 * [error code,] RIP, CS, RFLAGS, RSP, SS. #GP pushes an error code; #DE,
 * #BP and #UD do not. Our handlers push two registers of their own on top,
 * so a field of the frame is at FRAME(has error code, F_field). */
#define FRAME(errcode, field) (16 + 8 * (errcode) + (field))(%rsp)
#define F_RIP 0
#define F_CS 8
#define F_RSP 24
#define F_SS 32

/* HANDLER name, vector, message, errcode: one exception handler. It returns
 * to the armed resume point by rewriting RIP, CS, RSP and SS in the frame,
 * so it works whether the exception came from ring 0 or from ring 3 (#BP). */
.macro HANDLER name, vector, message, errcode
\name:
	push	%rax
	push	%rsi
	orl	$(1 << \vector), mask(%rip)	/* record: this vector was handled */
	lea	\message(%rip), %rsi
	call	puts
	mov	resume_rip(%rip), %rax
	mov	%rax, FRAME(\errcode, F_RIP)
	movq	$KVMSCOPE_SEL_KCODE, FRAME(\errcode, F_CS)
	mov	resume_rsp(%rip), %rax
	mov	%rax, FRAME(\errcode, F_RSP)
	movq	$KVMSCOPE_SEL_KDATA, FRAME(\errcode, F_SS)
	pop	%rsi
	pop	%rax
	.if \errcode
	add	$8, %rsp		/* drop the error code: iretq does not */
	.endif
	iretq
.endm

/* ARM label: make `label` (in ring 0, on the current stack) the place to
 * resume after the exception that is about to be raised. Clobbers RAX. */
.macro ARM label
	lea	\label(%rip), %rax
	mov	%rax, resume_rip(%rip)
	mov	%rsp, resume_rsp(%rip)
.endm

/* GATE vector, handler, attributes: fill in one IDT gate. */
.macro GATE vector, handler, attr
	mov	$\vector, %edi
	lea	\handler(%rip), %rsi
	mov	$\attr, %edx
	call	set_gate
.endm

	.code64
	.text
	.globl _start
_start:
	/* Fill in the four gates we need. Exceptions raised by the CPU itself
	 * ignore the gate's DPL; INT3 from ring 3 needs DPL 3 on gate 3. */
	GATE	0, de_handler, GATE_INTR_DPL0
	GATE	3, bp_handler, GATE_INTR_DPL3
	GATE	6, ud_handler, GATE_INTR_DPL0
	GATE	13, gp_handler, GATE_INTR_DPL0

	/* #DE: divide by zero. */
	ARM	after_de
	xor	%edx, %edx
	mov	$1, %eax
	xor	%ecx, %ecx
	div	%ecx			/* EDX:EAX / 0 -> #DE (a fault) */
after_de:
	/* #BP: int3, raised in ring 3 (see the header for why). iretq
	 * "returns" to user_bp in ring 3 with a frame we build; the #BP
	 * handler comes back to after_bp in ring 0. */
	ARM	after_bp
	push	$KVMSCOPE_SEL_UDATA	/* SS */
	push	$USER_STACK_TOP		/* RSP */
	push	$RFLAGS_RESERVED	/* RFLAGS: IF=0, IOPL=0 */
	push	$KVMSCOPE_SEL_UCODE	/* CS: ring 3 */
	lea	user_bp(%rip), %rax
	push	%rax			/* RIP */
	iretq
after_bp:
	/* #UD: ud2 is the instruction defined to be invalid. */
	ARM	after_ud
	ud2
after_ud:
	/* #GP: a load through a non-canonical address. Not a page fault: the
	 * address is rejected before any page table is looked at. */
	ARM	after_gp
	movabs	$NONCANONICAL, %rbx
	mov	(%rbx), %rax		/* -> #GP(0) */
after_gp:

	/* Self-check: report which vectors were handled (0x2049 if all four). */
	mov	mask(%rip), %eax
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt				/* -> KVM_EXIT_HLT */

/* set_gate: IDT gate EDI -> handler RSI, type/attributes byte DL.
 * A long-mode gate is 16 bytes: offset 15..0, selector, IST, type/attributes,
 * offset 31..16, offset 63..32, reserved. Clobbers RAX, RDI. */
set_gate:
	shl	$4, %rdi
	add	$KVMSCOPE_IDT_ADDR, %rdi	/* RDI = &idt[vector] */
	mov	%si, (%rdi)			/* offset 15..0 */
	movw	$KVMSCOPE_SEL_KCODE, 2(%rdi)	/* handler runs in the kernel code segment */
	movb	$0, 4(%rdi)			/* IST 0: stay on the current stack */
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

	HANDLER	de_handler, 0, msg_de, 0
	HANDLER	bp_handler, 3, msg_bp, 0
	HANDLER	ud_handler, 6, msg_ud, 0
	HANDLER	gp_handler, 13, msg_gp, 1

/* The only ring-3 code: runs natively on the CPU even under PVM. */
user_bp:
	int3				/* -> #BP, through gate 3 (DPL 3) */
	jmp	user_bp			/* not reached: the handler returns to ring 0 */

msg_de:	.asciz	"#DE handled\n"
msg_bp:	.asciz	"#BP handled\n"
msg_ud:	.asciz	"#UD handled\n"
msg_gp:	.asciz	"#GP handled\n"

	.balign	8
resume_rip:	.quad	0	/* where the next handler returns to ... */
resume_rsp:	.quad	0	/* ... and with which ring-0 stack pointer */
mask:	.long	0		/* bit (1 << vector) per exception handled */

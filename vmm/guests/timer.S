/* timer: sleep until an interrupt, three times. 32-bit protected mode. The
 * VMM creates the in-kernel interrupt controllers for this guest
 * (KVM_CREATE_IRQCHIP: local APIC, I/O APIC, 8259 PICs; KVM_CREATE_PIT2),
 * so everything below happens inside KVM:
 *
 *   - the guest builds a 32-bit IDT with a gate for TIMER_VECTOR (lidt);
 *   - it software-enables its local APIC (spurious-vector register) and
 *     programs the APIC timer: periodic, TIMER_VECTOR, every ~10 ms. The
 *     APIC's registers are MMIO at 0xfee00000, but KVM's in-kernel APIC
 *     answers those accesses itself: no KVM_EXIT_MMIO;
 *   - `sti; hlt`: the vCPU has nothing to do. HLT does not exit to the VMM
 *     either: KVM blocks the vCPU thread (kvm_vcpu_halt → kvm_vcpu_block;
 *     5.15 has kvm_vcpu_block alone) until the timer (a host hrtimer)
 *     fires, then injects the interrupt (tracepoints kvm_apic_accept_irq,
 *     kvm_vcpu_wakeup, and kvm_inj_virq under VMX/SVM without APICv) and
 *     the guest's handler runs;
 *   - the handler counts the tick and writes EOI to the APIC.
 * After three ticks the guest stops the timer and reports 3 on the status
 * port: KVM_EXIT_IO, the only exit this guest makes. With the in-kernel
 * irqchip the final HLT would stay in the kernel too, so the VMM ends the
 * vCPU at the status report. */
#include "vmm/guests/abi.h"

#define TIMER_VECTOR 0x40	/* any vector from 32 up is free for us */
#define SPURIOUS_VECTOR 0xff	/* the APIC's "never mind" interrupt */
#define TICKS 3			/* how many interrupts to wait for */

/* Local APIC registers: offsets from its MMIO base. */
#define APIC_BASE 0xfee00000
#define APIC_EOI 0x0b0		/* write 0: end of interrupt */
#define APIC_SVR 0x0f0		/* spurious-interrupt vector register */
#define APIC_LVT_TIMER 0x320	/* timer: vector and mode */
#define APIC_TIMER_INIT 0x380	/* initial count: writing it starts the timer */
#define APIC_TIMER_DIV 0x3e0	/* divide configuration */
#define APIC_SVR_ENABLE (1 << 8)	/* APIC software enable */
#define APIC_LVT_MASKED (1 << 16)
#define APIC_LVT_PERIODIC (1 << 17)	/* reload the count at zero */
#define APIC_DIV_1 0xb		/* count at the full APIC bus clock */
/* KVM's APIC timer counts at 1 GHz (one count per ns) before the divider:
 * 10,000,000 counts at divide-by-1 are 10 ms. */
#define TIMER_COUNT 10000000

/* A 32-bit interrupt gate: present, ring 0, type 0xe (interrupts stay off
 * while the handler runs, IRET turns them back on). */
#define GATE_INTR32 0x8e00

	.code32
	.text
	.globl _start
_start:
	/* The IDT: 256 gates of 8 bytes at KVMSCOPE_IDT_ADDR (zeroed RAM, so
	 * every other gate is "not present"). Fill in the two we use. */
	mov	$timer_handler, %eax
	mov	$TIMER_VECTOR, %ecx
	call	set_gate
	mov	$spurious_handler, %eax
	mov	$SPURIOUS_VECTOR, %ecx
	call	set_gate
	lidt	idt_desc

	/* The local APIC: enable it, then start the timer. */
	mov	$APIC_BASE, %ebx
	movl	$(APIC_SVR_ENABLE | SPURIOUS_VECTOR), APIC_SVR(%ebx)
	movl	$APIC_DIV_1, APIC_TIMER_DIV(%ebx)
	movl	$(APIC_LVT_PERIODIC | TIMER_VECTOR), APIC_LVT_TIMER(%ebx)
	movl	$TIMER_COUNT, APIC_TIMER_INIT(%ebx)

wait:
	sti				/* interrupts on; STI holds them off one
					 * more instruction, so none can slip in
					 * between here and the HLT */
	hlt				/* sleep in KVM until the next interrupt */
	cmpl	$TICKS, ticks
	jb	wait

	cli
	movl	$APIC_LVT_MASKED, APIC_LVT_TIMER(%ebx)	/* timer off */
	mov	ticks, %eax		/* self-check: TICKS interrupts taken */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx		/* KVM_EXIT_IO: the VMM ends us here */
	hlt

/* The timer interrupt: count it and tell the APIC we are done with it, or
 * it delivers no further interrupt of this priority.
 *
 * It returns with LRET $4 rather than IRET. The CPU pushed EFLAGS, CS and
 * EIP; LRET pops EIP and CS like IRET, and $4 drops the saved EFLAGS, so IF
 * stays clear (the interrupt gate cleared it) and the wait loop's STI sets
 * it again. Why not IRET: KVM's instruction emulator implements IRET for
 * real mode only, and under PVM every supervisor instruction goes through
 * that emulator, so a protected-mode IRET ends the run with
 * KVM_EXIT_INTERNAL_ERROR (emulation failure). */
timer_handler:
	incl	ticks
	movl	$0, APIC_BASE + APIC_EOI
	lret	$4

/* A spurious interrupt needs no EOI. */
spurious_handler:
	lret	$4

/* set_gate: point IDT gate ECX at the handler EAX, in our code segment. */
set_gate:
	lea	KVMSCOPE_IDT_ADDR(, %ecx, 8), %edi
	mov	%ax, (%edi)			/* offset bits 0..15 */
	movw	$KVMSCOPE_SEL_CODE32, 2(%edi)	/* code segment selector */
	movw	$GATE_INTR32, 4(%edi)		/* type and present bit */
	shr	$16, %eax
	mov	%ax, 6(%edi)			/* offset bits 16..31 */
	ret

idt_desc:				/* the operand of lidt: limit, base */
	.word	256 * 8 - 1
	.long	KVMSCOPE_IDT_ADDR

	.p2align 2
ticks:
	.long	0

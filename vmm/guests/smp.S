/* smp: two vCPUs, one counter. Real mode. The VMM creates two vCPUs and
 * starts both at _start at the same time, each in its own thread inside
 * KVM_RUN; the only difference between them is RDI, the vCPU index.
 *
 * Each vCPU adds 1 to a shared 32-bit counter ITERATIONS times with a locked
 * instruction (lock incl), then adds 1 to a shared "done" counter, also
 * locked. vCPU 1 then halts. vCPU 0 waits until done says both finished,
 * prints the counter on COM1 ("smp: 2000") and reports it on the status
 * port. Without LOCK the two read-modify-writes could interleave and lose
 * updates; with it the total is always exactly 2 x ITERATIONS. (Try it:
 * drop the lock prefix and make ITERATIONS 100000: the total comes out
 * short. It does even under PVM, where KVM's instruction emulator runs
 * every instruction of this real-mode guest.)
 *
 * Exits, per vCPU (the two vCPUs' exits interleave in time):
 *   vCPU 0: one KVM_EXIT_IO per console byte, one KVM_EXIT_IO for the
 *           status, KVM_EXIT_HLT
 *   vCPU 1: KVM_EXIT_HLT
 * The counting itself never leaves KVM: both vCPUs work on the same guest
 * RAM, which is the same host memory. */
#include "vmm/guests/abi.h"

#define VCPUS 2
#define ITERATIONS 1000
#define STACK_SHIFT 10		/* each vCPU gets 1 KiB of stack */

	.code16
	.text
	.globl _start
_start:
	/* Both vCPUs start with SP = KVMSCOPE_STACK_TOP: pushing onto one
	 * stack from two CPUs at once would corrupt it, so vCPU n moves its
	 * stack n KiB lower. */
	mov	%di, %ax
	shl	$STACK_SHIFT, %ax
	mov	$KVMSCOPE_STACK_TOP, %sp
	sub	%ax, %sp

	mov	$ITERATIONS, %ecx
add_loop:
	lock incl counter		/* atomic read-modify-write */
	dec	%ecx
	jnz	add_loop

	lock incl done			/* "this vCPU has finished" */
	test	%di, %di
	jnz	other_vcpu

	/* vCPU 0: wait for everyone, then report. */
wait:
	pause				/* a spin-wait hint to the CPU */
	cmpl	$VCPUS, done
	jne	wait

	mov	$msg_smp, %si
	call	puts
	mov	counter, %eax
	call	print_decimal
	mov	$msg_newline, %si
	call	puts

	mov	counter, %eax		/* self-check: 2 x ITERATIONS = 2000 */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt				/* KVM_EXIT_HLT on vCPU 0 */

other_vcpu:
	hlt				/* KVM_EXIT_HLT on vCPU 1 */

/* puts: write the NUL-terminated string at SI to COM1. */
puts:
	mov	$KVMSCOPE_COM1_PORT, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx		/* one KVM_EXIT_IO per byte */
	jmp	1b
2:	ret

/* print_decimal: write EAX in decimal to COM1. Divides by 10 until nothing
 * is left, pushing each remainder (the digits come out last one first),
 * then pops and prints them in the right order. */
print_decimal:
	mov	$10, %ecx
	xor	%bx, %bx		/* BX counts the digits pushed */
1:	xor	%edx, %edx
	div	%ecx			/* EAX = EDX:EAX / 10, EDX = remainder */
	push	%dx
	inc	%bx
	test	%eax, %eax
	jnz	1b
	mov	$KVMSCOPE_COM1_PORT, %dx
2:	pop	%ax
	add	$'0', %al
	out	%al, %dx
	dec	%bx
	jnz	2b
	ret

msg_smp:
	.asciz	"smp: "
msg_newline:
	.asciz	"\n"

/* The shared variables: the same guest-physical bytes for both vCPUs. */
	.p2align 2
counter:
	.long	0
done:
	.long	0

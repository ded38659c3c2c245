/* pio-pair: the exit-heavy workload on two vCPUs. Real mode. Both vCPUs
 * start at _start at once (RDI = the vCPU index) and each writes N times to
 * the tick port (N from the VMM in ESI: --param N, default 1000): two vCPU
 * threads going through the run loop at the same time, 2 x N exits in all.
 * Each adds 1 to a shared "done" counter (locked) when its writes are made;
 * vCPU 1 then halts, vCPU 0 waits until both are done, reports N on the
 * status port and halts.
 *
 * Exits, per vCPU: N x KVM_EXIT_IO to the tick port, then KVM_EXIT_HLT;
 * vCPU 0 also one KVM_EXIT_IO for the status. */
#include "vmm/guests/abi.h"

#define VCPUS 2

	.code16
	.text
	.globl _start
_start:
	mov	%esi, %ecx		/* ECX = N, the loop count */
	xor	%ebx, %ebx		/* EBX counts this vCPU's writes */
	mov	$KVMSCOPE_TICK_PORT, %dx
	test	%ecx, %ecx
	jz	written
loop_top:
	out	%al, %dx		/* one exit per write */
	inc	%ebx
	dec	%ecx
	jnz	loop_top
written:
	lock incl done			/* "this vCPU has made its writes" */
	test	%di, %di
	jnz	other_vcpu

	/* vCPU 0: wait for the other, then report. */
wait:
	pause
	cmpl	$VCPUS, done
	jne	wait
	mov	%ebx, %eax		/* self-check: vCPU 0's writes == N */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt				/* KVM_EXIT_HLT on vCPU 0 */

other_vcpu:
	hlt				/* KVM_EXIT_HLT on vCPU 1 */

	.p2align 2
done:
	.long	0

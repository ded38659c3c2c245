/* pio-loop: the exit-heavy workload. Real mode. Writes N times to the tick
 * port (N comes from the VMM in ESI: --param N, default 1000), reports N on
 * the status port and halts. Each OUT is one KVM_EXIT_IO: a full trip from
 * the guest through KVM to the VMM and back, N times. */
#include "vmm/guests/abi.h"

	.code16
	.text
	.globl _start
_start:
	mov	%esi, %ecx		/* ECX = N, the loop count */
	xor	%ebx, %ebx		/* EBX counts writes done */
	mov	$KVMSCOPE_TICK_PORT, %dx
	test	%ecx, %ecx
	jz	done
loop_top:
	out	%al, %dx		/* one exit per write */
	inc	%ebx
	dec	%ecx
	jnz	loop_top
done:
	mov	%ebx, %eax		/* self-check: writes made == N */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt

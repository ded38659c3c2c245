/* hello: the smallest guest. Real mode (16-bit). Writes a greeting to the
 * serial console one byte at a time, reports its length on the status port,
 * and halts.
 *
 * Every OUT to a port leaves the guest: KVM returns from KVM_RUN with
 * KVM_EXIT_IO and the VMM (kvmscope) hands the byte to its 16550 model. So
 * this guest makes exactly one KVM_EXIT_IO per console byte, one for the
 * status report, and one KVM_EXIT_HLT. It does not poll the line status
 * register, to keep that pattern exact (see `modes` for a guest that polls). */
#include "vmm/guests/abi.h"

	.code16
	.text
	.globl _start
_start:
	mov	$message, %si		/* SI walks the string */
	mov	$KVMSCOPE_COM1_PORT, %dx
	xor	%cx, %cx		/* CX counts bytes written */
next:
	lodsb				/* AL = *SI++ */
	test	%al, %al
	jz	done
	out	%al, %dx		/* one byte -> one KVM_EXIT_IO */
	inc	%cx
	jmp	next
done:
	/* Self-check: report how many bytes went out. */
	movzx	%cx, %eax
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt				/* -> KVM_EXIT_HLT: the VMM stops this vCPU */

message:
	.asciz	"Hello from a KVM guest!\n"

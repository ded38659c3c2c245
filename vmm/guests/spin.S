/* spin: loops forever in supervisor code (long mode, ring 0), for the
 * watchdog. Nothing here ever leaves the guest by itself: under VMX/SVM the
 * CPU runs the loop natively; under PVM KVM's emulator runs it one
 * instruction at a time inside KVM_RUN. Either way only a pending signal
 * (the VMM's kick, with kvm_run->immediate_exit) makes KVM_RUN return. */
#include "vmm/guests/abi.h"

	.code64
	.text
	.globl _start
_start:
	xor	%rax, %rax
1:	inc	%rax			/* count, so a register dump shows progress */
	jmp	1b

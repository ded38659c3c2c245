/* mmio: memory-mapped I/O. 32-bit protected mode, flat segments, no paging.
 * The VMM's test device sits at KVMSCOPE_MMIO_BASE, an address where the
 * VMM registered no memory slot. A load or store there cannot complete in
 * guest RAM: KVM decodes the instruction, works out address, size and (for a
 * store) the data, and returns from KVM_RUN with KVM_EXIT_MMIO. The VMM
 * plays the device (for a load it fills in kvm_run->mmio.data) and the next
 * KVM_RUN finishes the instruction.
 *
 * Exactly four 32-bit accesses, each one KVM_EXIT_MMIO:
 *   1. read  ID       must be KVMSCOPE_MMIO_ID_VALUE ("KVMS")
 *   2. write SCRATCH  0x12345678
 *   3. read  SCRATCH  must read back 0x12345678
 *   4. read  COUNT    the device counts accesses: must be 4
 * then one KVM_EXIT_IO (the status report: 4, or 0xBAD0 | failing check)
 * and KVM_EXIT_HLT. No console output, so that is the whole exit sequence. */
#include "vmm/guests/abi.h"

#define SCRATCH_VALUE 0x12345678
#define FAIL_BASE 0xbad0	/* status on failure: FAIL_BASE | check number */

	.code32
	.text
	.globl _start
_start:
	mov	$KVMSCOPE_MMIO_BASE, %ebx	/* EBX = the device's base address */

	/* Check 1: the ID register identifies the device. */
	mov	$1, %ecx			/* ECX = number of the current check */
	mov	KVMSCOPE_MMIO_ID(%ebx), %eax	/* MMIO read: KVM_EXIT_MMIO */
	cmp	$KVMSCOPE_MMIO_ID_VALUE, %eax
	jne	fail

	/* Check 2: what goes into SCRATCH comes back out. */
	mov	$2, %ecx
	movl	$SCRATCH_VALUE, KVMSCOPE_MMIO_SCRATCH(%ebx) /* MMIO write */
	mov	KVMSCOPE_MMIO_SCRATCH(%ebx), %eax	/* MMIO read */
	cmp	$SCRATCH_VALUE, %eax
	jne	fail

	/* Check 3: the device saw every access, this one included. */
	mov	$3, %ecx
	mov	KVMSCOPE_MMIO_COUNT(%ebx), %eax	/* MMIO read */
	cmp	$4, %eax
	jne	fail

report:					/* EAX = 4 here: the self-check value */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx			/* KVM_EXIT_IO */
	hlt					/* KVM_EXIT_HLT */

fail:
	mov	$FAIL_BASE, %eax
	or	%ecx, %eax
	jmp	report

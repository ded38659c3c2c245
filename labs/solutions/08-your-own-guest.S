/* Reference solution of labs/08-your-own-guest.md. 32-bit protected mode
 * (flat segments from the VMM's GDT, no paging), loaded at 0x8000.
 *
 * The task: exactly three MMIO writes of 1, 2 and 3 to the test device's
 * SCRATCH register, then exactly two port reads of COM1's line status
 * register, then the status report 3 on port 0x500, then HLT. Each line
 * marked "exit" is one KVM_RUN returning to the VMM. */
	.code32
	.text
	.globl _start
_start:
	mov	$0x10000000, %ebx	/* KVMSCOPE_MMIO_BASE: the test device */
	movl	$1, 0x8(%ebx)		/* SCRATCH = 1: KVM_EXIT_MMIO (write) */
	movl	$2, 0x8(%ebx)		/* SCRATCH = 2: KVM_EXIT_MMIO (write) */
	movl	$3, 0x8(%ebx)		/* SCRATCH = 3: KVM_EXIT_MMIO (write) */

	mov	$0x3fd, %dx		/* KVMSCOPE_COM1_LSR */
	in	%dx, %al		/* KVM_EXIT_IO (in) */
	in	%dx, %al		/* KVM_EXIT_IO (in) */

	mov	$0x500, %dx		/* KVMSCOPE_STATUS_PORT */
	mov	$3, %eax
	out	%eax, %dx		/* KVM_EXIT_IO (out): the status report */
	hlt				/* KVM_EXIT_HLT */

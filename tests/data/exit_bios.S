/* A deterministic QEMU guest for the external-VMM tests: a 64 KiB -bios image
 * (16-bit real mode, from the reset vector) that makes a known number of
 * port-I/O exits and then ends QEMU with a known status:
 *   1. "kvmscope" to port 0x402, one byte per `out` (8 exits; QEMU's
 *      isa-debugcon there, when present, writes them to a file),
 *   2. N times `out %al, $0x80` (N exits),
 *   3. `out` of 0x2a to 0xf4, QEMU's isa-debug-exit: QEMU exits with status
 *      (0x2a << 1) | 1 = 85 (1 exit).
 * So KVM_EXIT_IO happens exactly N + 9 times. N is the 32-bit word after the
 * marker "KSCOUNT=" below: tests/qemu_vm.h patches it in a copy of the image.
 * Built by tests/CMakeLists.txt: as, then ld --oformat binary. */
	.code16
	.text
	.org 0
start:
	mov	$0xf000, %ax		/* QEMU maps the last 128 KiB of the BIOS at 0xe0000..0xfffff: */
	mov	%ax, %ds		/* with a 64 KiB image, offset X is at 0xf000:X */
	cld
	mov	$0x402, %dx
	mov	$text, %si
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
2:	mov	count, %ecx
	test	%ecx, %ecx
	jz	4f
3:	out	%al, $0x80
	dec	%ecx
	jnz	3b
4:	mov	$0x2a, %al
	out	%al, $0xf4		/* isa-debug-exit: QEMU exits with (0x2a << 1) | 1 = 85 */
5:	hlt				/* not reached under isa-debug-exit */
	jmp	5b

text:	.asciz	"kvmscope"
	.ascii	"KSCOUNT="
count:	.long	20000

	.org	0xfff0			/* the reset vector: CS base 0xffff0000, IP 0xfff0 */
reset:	ljmp	$0xf000, $start
	.org	0x10000

/* cpuid: four instructions whose answer comes from KVM, not from the CPU
 * alone. 64-bit long mode, ring 0.
 *
 *   check  instruction             expected                        bit
 *   1      CPUID leaf 0x40000000   "KVMKVMKVM\0\0\0" in EBX,ECX,EDX 1
 *   2      WRMSR, then RDMSR       MSR_KERNEL_GS_BASE reads back   2
 *   3      RDTSC twice             the second value is larger      4
 *   4      VMCALL, RAX = 0x7fff    RAX = -1000 (-KVM_ENOSYS)       8
 *
 * None of them exits to the VMM. CPUID traps to KVM, which answers only from
 * the table the VMM gave with KVM_SET_CPUID2 (kvm_emulate_cpuid, tracepoint
 * kvm_cpuid); leaf 0x40000000 is in it because the VMM copied it from
 * KVM_GET_SUPPORTED_CPUID. WRMSR and RDMSR of MSR_KERNEL_GS_BASE run without
 * an exit on VMX/SVM (KVM passes that MSR through); under PVM KVM's
 * emulator handles them (emulator_set_msr_with_filter and
 * emulator_get_msr_with_filter, tracepoint kvm_msr). RDTSC usually runs on
 * the CPU without any exit; the hardware adds the offset KVM chose for this
 * guest. VMCALL goes to kvm_emulate_hypercall (kvm_hypercall), which answers
 * -KVM_ENOSYS for a number it does not know. KVM also rewrites VMCALL into
 * VMMCALL on AMD (and back on Intel), so one guest binary works on both: the
 * guest's code is patched behind its back (unless the VMM disabled
 * KVM_X86_QUIRK_FIX_HYPERCALL_INSN: then the guest gets #UD).
 *
 * The VMM says which checks to run with a bitmask in ESI (--param, default
 * 0xf: all four). Each check run prints its name on COM1 before it starts
 * and "ok" or "FAILED" after (one KVM_EXIT_IO per byte, no LSR polling), so
 * a check that never finishes is the last name on the console. Then the
 * guest reports the bitmask of checks that passed on the status port and
 * halts: it passes when that equals the mask it was given.
 *
 * Under PVM (supervisor code run by KVM's instruction emulator) check 4
 * never finishes: the emulator's VMCALL handler only "fixes" the instruction
 * (rewrites it to the host's preferred hypercall instruction, VMCALL again)
 * and re-runs it, expecting the CPU to trap it natively the next time. Under
 * PVM the next time is the emulator again, and so on forever: no
 * kvm_hypercall, no exit, until the watchdog kicks the vCPU. That is why the
 * catalog leaves check 4 out (mask 0x7) on PVM; --param 0xf shows the hang. */
#include "vmm/guests/abi.h"

#define KVM_CPUID_SIGNATURE 0x40000000	/* KVM's hypervisor CPUID leaf */
#define SIG_EBX 0x4b4d564b		/* "KVMK" as a little-endian dword */
#define SIG_ECX 0x564b4d56		/* "VMKV" */
#define SIG_EDX 0x0000004d		/* "M\0\0\0" */

#define MSR_KERNEL_GS_BASE 0xc0000102	/* what SWAPGS swaps GS.base with */
#define MSR_TEST_HIGH 0x00001234	/* a canonical address, or WRMSR #GPs */
#define MSR_TEST_LOW 0x5678abc0

#define HC_UNKNOWN 0x7fff		/* a hypercall number KVM does not know */
#define KVM_ENOSYS 1000			/* include/uapi/linux/kvm_para.h */

#define BIT_CPUID 1
#define BIT_MSR 2
#define BIT_TSC 4
#define BIT_HYPERCALL 8

	.code64
	.text
	.globl _start
_start:
	mov	%esi, %r12d		/* R12D = the checks to run (puts uses ESI) */
	xor	%ebp, %ebp		/* EBP collects the bits of passed checks */

	/* 1. CPUID: the hypervisor leaf names the hypervisor. */
	test	$BIT_CPUID, %r12d
	jz	skip_cpuid
	mov	$msg_cpuid, %esi
	call	puts
	mov	$KVM_CPUID_SIGNATURE, %eax
	xor	%ecx, %ecx
	cpuid				/* handled by KVM: kvm_emulate_cpuid */
	xor	$SIG_EBX, %ebx		/* each XOR gives 0 where it matches */
	xor	$SIG_ECX, %ecx
	xor	$SIG_EDX, %edx
	or	%ecx, %ebx
	or	%edx, %ebx
	setz	%al			/* AL = 1: all twelve bytes match */
	mov	$BIT_CPUID, %ecx
	call	verdict
skip_cpuid:

	/* 2. WRMSR, RDMSR: a model-specific register keeps what was written. */
	test	$BIT_MSR, %r12d
	jz	skip_msr
	mov	$msg_msr, %esi
	call	puts
	mov	$MSR_KERNEL_GS_BASE, %ecx
	mov	$MSR_TEST_HIGH, %edx	/* WRMSR writes EDX:EAX */
	mov	$MSR_TEST_LOW, %eax
	wrmsr				/* kvm_set_msr */
	xor	%eax, %eax
	xor	%edx, %edx
	rdmsr				/* kvm_get_msr: EDX:EAX = the MSR */
	xor	$MSR_TEST_HIGH, %edx
	xor	$MSR_TEST_LOW, %eax
	or	%edx, %eax
	setz	%al
	mov	$BIT_MSR, %ecx
	call	verdict
skip_msr:

	/* 3. RDTSC: the time-stamp counter moves forward. */
	test	$BIT_TSC, %r12d
	jz	skip_tsc
	mov	$msg_tsc, %esi
	call	puts
	rdtsc				/* EDX:EAX = TSC */
	shl	$32, %rdx
	or	%rax, %rdx
	mov	%rdx, %r8		/* R8 = first reading */
	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx		/* RDX = second reading */
	cmp	%r8, %rdx
	seta	%al			/* AL = 1: second > first (unsigned) */
	mov	$BIT_TSC, %ecx
	call	verdict
skip_tsc:

	/* 4. A KVM hypercall: number in RAX, result in RAX. */
	test	$BIT_HYPERCALL, %r12d
	jz	skip_hypercall
	mov	$msg_hypercall, %esi
	call	puts
	mov	$HC_UNKNOWN, %eax
	vmcall				/* kvm_emulate_hypercall */
	cmp	$-KVM_ENOSYS, %rax
	sete	%al
	mov	$BIT_HYPERCALL, %ecx
	call	verdict
skip_hypercall:

	mov	%ebp, %eax		/* self-check: the checks that passed */
	mov	$KVMSCOPE_STATUS_PORT, %dx
	out	%eax, %dx
	hlt

/* verdict: finish the check's line with "ok" or "FAILED". AL = 1 if the
 * check passed; then its bit (ECX) goes into EBP. */
verdict:
	mov	$msg_failed, %esi
	test	%al, %al
	jz	1f
	or	%ecx, %ebp
	mov	$msg_ok, %esi
1:	call	puts
	ret

/* puts: write the NUL-terminated string at RSI to COM1. */
puts:
	mov	$KVMSCOPE_COM1_PORT, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx		/* one KVM_EXIT_IO per byte */
	jmp	1b
2:	ret

msg_cpuid:
	.asciz	"cpuid: KVMKVMKVM "
msg_msr:
	.asciz	"msr: KERNEL_GS_BASE "
msg_tsc:
	.asciz	"rdtsc: "
msg_hypercall:
	.asciz	"hypercall: "
msg_ok:
	.asciz	"ok\n"
msg_failed:
	.asciz	"FAILED\n"

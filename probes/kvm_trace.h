/* The contract between kvm_trace.bpf.c and its C++ loader: one fixed-size
 * record per kernel event (fixed-width fields, no pointers, explicit padding)
 * and the layout of the in-kernel counters. Included by both sides. */
#ifndef KVMSCOPE_PROBES_KVM_TRACE_H
#define KVMSCOPE_PROBES_KVM_TRACE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* KVM_RUN as an ioctl request number: _IO(KVMIO, 0x80). */
#define KVMSCOPE_KVM_RUN 0xae80

#define KVMSCOPE_NARGS 6
/* Frames kept per captured stack. */
#define KVMSCOPE_STACK_DEPTH 64
/* Set in a stack id from the overflow map (more_stacks), not `stacks`. */
#define KVMSCOPE_MORE_STACKS 0x40000000

/* What produced a record. The loader maps these to traces::KernelEventKind
 * in one switch; the numbering here is the ABI, not the C++ enum's. */
enum kvmscope_kind {
	KS_RUN_ENTER = 0,
	KS_RUN_EXIT,
	KS_EXIT_HANDLER,
	KS_MMU_PAGE_FAULT,
	KS_KVM_EXIT,
	KS_KVM_ENTRY,
	KS_USERSPACE_EXIT,
	KS_PIO,
	KS_MMIO,
	KS_EMULATE_INSN,
	KS_INJ_EXCEPTION,
	KS_INJ_VIRQ,
	KS_CPUID,
	KS_MSR,
	KS_HYPERCALL,
	KS_PAGE_FAULT,
	KS_MMU_WALK,
	KS_MMU_SET_SPTE,
	KS_MMU_WALKER_ERROR,
	KS_KIND_COUNT,
};

/* Where a KVM_RUN span came from (flags of KS_RUN_ENTER/KS_RUN_EXIT). */
enum kvmscope_run_source {
	KS_RUN_FROM_SYSCALL = 0, /* syscalls:sys_enter_ioctl/sys_exit_ioctl */
	KS_RUN_FROM_KPROBE = 1,  /* kprobe/kretprobe on kvm_arch_vcpu_ioctl_run */
	KS_RUN_FROM_FENTRY = 2,  /* fentry/fexit on kvm_arch_vcpu_ioctl_run */
};
/* Or'ed into a run edge's flags (and a[2]) when a[1] holds the vCPU's
 * vcpu_id, read from struct kvm_vcpu: the kprobe and fentry sources have the
 * vCPU at hand, the syscall source only its fd (a[0] of KS_RUN_ENTER). */
#define KS_RUN_HAS_VCPU 0x100

/* Every kind in the ring buffer (rodata stream_mask's default): a kind whose
 * bit is clear is still counted (KS_CNT_SEEN, KS_CNT_HELD) but never
 * streamed. A kind in rodata budget_mask streams its first stream_budget
 * events (all CPUs together) and is counted only after that. */
#define KS_STREAM_ALL ((1u << KS_KIND_COUNT) - 1)

struct kvmscope_event {
	__u64 ts_ns;    /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;      /* tgid */
	__u32 tid;
	__u32 cpu;
	__u16 kind;     /* enum kvmscope_kind */
	__u16 flags;    /* kind-specific: enum kvmscope_run_source for runs */
	__s32 stack_id; /* into `stacks` (more_stacks: KVMSCOPE_MORE_STACKS set); <0: none */
	__u32 pad;
	__u64 a[KVMSCOPE_NARGS]; /* packed as traces/kernel_event.h documents */
};

/* Per-CPU counters, summed by the loader: index kind = events seen (after
 * the process filter), KS_KIND_COUNT + kind = events lost because the ring
 * buffer was full, 2 * KS_KIND_COUNT + kind = events held back by choice
 * (stream_mask, or past the kind's stream budget; a kind a raw program
 * counts is held back by its perf program only until that is detached),
 * then the stack counters. */
enum kvmscope_counter {
	KS_CNT_SEEN = 0,
	KS_CNT_LOST = KS_KIND_COUNT,
	KS_CNT_HELD = 2 * KS_KIND_COUNT,
	KS_CNT_STACKS_TAKEN = 3 * KS_KIND_COUNT,
	KS_CNT_STACKS_FAILED, /* bpf_get_stackid() failed (map full, collision) */
	KS_CNT_COUNT,
};

/* Stack policy (rodata stack_mode). */
enum kvmscope_stack_mode {
	KS_STACKS_NONE = 0,
	KS_STACKS_NEW = 1, /* first sightings of a call path, then a sample */
	KS_STACKS_ALL = 2,
};

#endif

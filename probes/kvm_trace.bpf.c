// SPDX-License-Identifier: GPL-2.0
/* The kernel side of kvmscope: programs on KVM's tracepoints and, where the
 * kernel allows, kprobes/fentry on the three probe points of the design
 * (kvm_arch_vcpu_ioctl_run, the vendor exit handler, kvm_mmu_page_fault).
 * Each event becomes one struct kvmscope_event in its CPU's ring buffer, which
 * never wakes the reader; stacks are taken for new call paths and a sample. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm_trace.h"
#include "kvm_tracepoints.bpf.h"

/* What a tracepoint program returns. A program attached to a tracepoint
 * through perf (SEC("tp/...")) decides for every perf user of that
 * tracepoint: 0 drops the event for all of them (perf_trace_run_bpf_submit),
 * so `perf stat -e kvm:kvm_userspace_exit` running beside kvmscope would
 * count nothing. 1 passes it on: other tools keep seeing it. */
#define KS_TP_PASS 1

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 targ_tgid = 0;        /* 0: every process */
/* A user who is not root traces their own processes only (real uid): a pid
 * reused by another user's process after the checks stays untraced. */
const volatile bool filter_uid = false;
const volatile __u32 targ_uid = 0;
const volatile __u32 stack_mode = KS_STACKS_NEW;
const volatile __u32 new_path_stacks = 2;  /* stacks for the first N sightings of a path */
/* then one sighting in sample_mask + 1 (a power of two: a mask, not a
 * 64-bit division per event) */
const volatile __u32 sample_mask = 511;
/* Bit per enum kvmscope_kind: kinds outside it are counted, never streamed
 * (kvm_emulate_insn fires millions of times a second under PVM). */
const volatile __u32 stream_mask = KS_STREAM_ALL;
/* Bit per enum kvmscope_kind: these stream about their first stream_budget
 * events (all CPUs together; the loader keeps exactly that many), then are
 * counted only. */
const volatile __u32 budget_mask = 0;
const volatile __u64 stream_budget = 0;

/* Per budgeted kind, the events it streamed so far on all CPUs: read before
 * it is added to, so past the budget nobody writes the line any more. Two
 * CPUs may both pass the read at budget - 1: the loader drops what comes
 * past the budget. It also reads this to detach a spent kind's perf program
 * when a raw one counts the kind. */
__u64 budget_used[KS_KIND_COUNT] = {};
/* Bit per kind, set by the loader before arming: a raw-tracepoint program
 * counts the kind (KS_CNT_SEEN); its perf program, if attached, only
 * streams its budget. */
__u32 counted_raw = 0;

/* Set by the loader once the attach plan is settled: until then attached
 * programs emit nothing (no duplicate spans while mechanisms are tried). */
__u32 armed = 0;

/* The ring buffers, one per CPU slot (ring_count of them, a power of two
 * set by the loader; CPU n writes to slot n % ring_count): vCPUs on
 * different CPUs never contend for one ring's lock and cache lines. With
 * one shared ring, two vCPUs' exits cost about 0.8 µs more each (pio-pair,
 * README). The loader makes the rings and puts them in; an empty slot loses
 * the event (counted). A thread's events that were written on two CPUs may
 * reach the reader out of order. */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* the loader's rings are the template */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* ring_count: set by the loader */
	__type(key, __u32);
	__array(values, struct ring);
} events SEC(".maps");

const volatile __u32 ring_count = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_CNT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096); /* the loader may set another size (tests) */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, KVMSCOPE_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* A stack whose bucket of `stacks` (its hash modulo the size) holds another
 * stack is refused there (-EEXIST: without BPF_F_REUSE_STACKID an id keeps
 * the stack it was handed out for, and the loader reads each id once). A
 * small guest's few dozen stacks collided in one run in about ten, and the
 * call path lost its stacks: such a stack goes here instead, its id marked
 * KVMSCOPE_MORE_STACKS. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, KVMSCOPE_STACK_DEPTH * sizeof(__u64));
} more_stacks SEC(".maps");

#define KS_EEXIST 17

/* A call path as far as the kernel side can tell without unwinding: the
 * event kind, a kind-specific discriminator and the previous event on this
 * CPU. How often it was seen decides whether a stack is taken. The counts
 * live in a per-CPU table of slots indexed by a hash of the path (an array
 * lookup the verifier inlines, no lock, no atomic): a path that lands on a
 * slot held by another path takes the slot over and counts as new again, so
 * a collision costs an extra stack, never a missing one. Counting per CPU
 * means a path's first sightings are taken on each CPU it runs on. */
#define KS_PATH_SLOTS 1024
struct path_slot {
	__u64 key; /* kind | prev_kind << 8 | disc << 16, + 1 (0: empty) */
	__u64 seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_PATH_SLOTS);
	__type(key, __u32);
	__type(value, struct path_slot);
} paths SEC(".maps");

/* The last event kind seen on this CPU (the previous event of the path).
 * Per CPU rather than per thread: a lookup the verifier inlines instead of
 * a hash lookup per event; a vCPU thread's events between two of its own
 * come on the same CPU unless it migrated. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cpu_prev_kind SEC(".maps");

/* Per thread: whether a KVM_RUN seen by perf's syscall tracepoints is
 * open, and the vcpu_id of the kprobe KVM_RUN in flight (a kretprobe has no
 * arguments): vcpu_id + 1, 0 when none. Only those run-loop programs look
 * it up. */
struct thread_state {
	__u32 in_run;
	__u32 run_vcpu;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* Adds one to a counter of this CPU; returns its new value (0: no counter). */
static __always_inline __u64 count(__u32 index)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &index);

	if (!v)
		return 0;
	*v += 1;
	return *v;
}

static __always_inline bool wanted(__u64 pid_tgid)
{
	if (!armed || (targ_tgid && (pid_tgid >> 32) != targ_tgid))
		return false;
	return !filter_uid || (__u32)bpf_get_current_uid_gid() == targ_uid;
}

static __always_inline struct thread_state *thread(__u32 tid, bool create)
{
	struct thread_state *ts = bpf_map_lookup_elem(&threads, &tid);

	if (!ts && create) {
		struct thread_state zero = {};

		bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST);
		ts = bpf_map_lookup_elem(&threads, &tid);
	}
	return ts;
}

static __always_inline __s32 take_stack(void *ctx, __u16 kind, __u32 disc, __u32 prev_kind)
{
	__u64 key = ((__u64)kind | (__u64)prev_kind << 8 | (__u64)disc << 16) + 1;
	__u32 index = (__u32)((key * 0x9e3779b97f4a7c15ull) >> 54) & (KS_PATH_SLOTS - 1);
	struct path_slot *slot;
	__u64 n = 0;
	long id;

	if (stack_mode == KS_STACKS_NONE)
		return -1;
	if (stack_mode == KS_STACKS_NEW) {
		slot = bpf_map_lookup_elem(&paths, &index);
		if (!slot)
			return -1;
		if (slot->key == key) {
			n = slot->seen++;
		} else {
			slot->key = key;
			slot->seen = 1;
		}
		if (n >= new_path_stacks && (n & sample_mask))
			return -1;
	}
	id = bpf_get_stackid(ctx, &stacks, 0);
	if (id == -KS_EEXIST) {
		id = bpf_get_stackid(ctx, &more_stacks, 0);
		if (id >= 0)
			id |= KVMSCOPE_MORE_STACKS;
	}
	count(id < 0 ? KS_CNT_STACKS_FAILED : KS_CNT_STACKS_TAKEN);
	return id < 0 ? -1 : (__s32)id;
}

/* Whether one more event of `kind` may stream: always, unless the kind is
 * budgeted and its budget is spent. */
static __always_inline bool within_budget(__u16 kind)
{
	__u64 *used;

	if (!(budget_mask & (1u << kind)))
		return true;
	if (kind >= KS_KIND_COUNT)
		return false;
	used = &budget_used[kind];
	if (*(volatile __u64 *)used >= stream_budget)
		return false;
	__sync_fetch_and_add(used, 1);
	return true;
}

/* Reserves a record for `kind` of a wanted thread (pid_tgid: the caller
 * read it and checked wanted()), stamped and with its stack decided; NULL
 * if the kind is not streamed or the ring buffer is full (counted as lost). */
static __always_inline struct kvmscope_event *record_for(void *ctx, __u64 pid_tgid, __u16 kind,
							 __u32 disc, bool stack)
{
	struct kvmscope_event *e;
	__u32 zero = 0, prev_kind = KS_KIND_COUNT, cpu, slot;
	__u32 *prev;
	__s32 stack_id;
	void *ring;

	if (!(counted_raw & (1u << kind)))
		count(KS_CNT_SEEN + kind);
	if (!(stream_mask & (1u << kind)) || !within_budget(kind)) {
		count(KS_CNT_HELD + kind);
		return NULL;
	}
	prev = bpf_map_lookup_elem(&cpu_prev_kind, &zero);
	if (prev) {
		prev_kind = *prev;
		*prev = kind;
	}
	stack_id = stack ? take_stack(ctx, kind, disc, prev_kind) : -1;
	cpu = bpf_get_smp_processor_id();
	slot = cpu & (ring_count - 1);
	ring = bpf_map_lookup_elem(&events, &slot);
	e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
	if (!e) {
		count(KS_CNT_LOST + kind);
		return NULL;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->cpu = cpu;
	e->kind = kind;
	e->flags = 0;
	e->stack_id = stack_id;
	e->pad = 0;
	__builtin_memset(e->a, 0, sizeof(e->a));
	return e;
}

/* The same for the current thread; NULL also when it is filtered out. */
static __always_inline struct kvmscope_event *record(void *ctx, __u16 kind, __u32 disc,
						      bool stack)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	return wanted(pid_tgid) ? record_for(ctx, pid_tgid, kind, disc, stack) : NULL;
}

static __always_inline struct kvmscope_event *begin(void *ctx, __u16 kind, __u32 disc)
{
	return record(ctx, kind, disc, true);
}

/* No wake-up per event: the loader drains the ring on its own clock. */
static __always_inline void commit(struct kvmscope_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* ---- KVM_RUN: kvm_arch_vcpu_ioctl_run, or the ioctl syscall around it ---- */

static __always_inline int run_edge(void *ctx, __u16 kind, __u16 source, __u64 a0,
				    __s64 vcpu_id)
{
	/* The syscall edges of KVM_RUN have the same system-call stack every
	 * time, with nothing of KVM on it: no stack for them. */
	struct kvmscope_event *e = record(ctx, kind, source, source != KS_RUN_FROM_SYSCALL);

	if (!e)
		return 0;
	e->flags = source;
	e->a[0] = a0;
	if (vcpu_id >= 0) {
		e->flags |= KS_RUN_HAS_VCPU;
		e->a[1] = vcpu_id;
	}
	e->a[2] = e->flags;
	commit(e);
	return 0;
}

/* The vCPU's own number (KVM_CREATE_VCPU's argument), as CO-RE finds
 * struct kvm_vcpu on this kernel (vmlinux, or the kvm module's BTF). */
static __always_inline __s64 vcpu_id_of(struct kvm_vcpu *vcpu)
{
	return vcpu ? (__s64)BPF_CORE_READ(vcpu, vcpu_id) : -1;
}

SEC("kprobe/kvm_arch_vcpu_ioctl_run")
int BPF_KPROBE(run_kprobe, struct kvm_vcpu *vcpu)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__s64 id = vcpu_id_of(vcpu);
	struct thread_state *ts;

	if (wanted(pid_tgid)) {
		ts = thread((__u32)pid_tgid, true);
		if (ts)
			ts->run_vcpu = id >= 0 ? (__u32)id + 1 : 0;
	}
	return run_edge(ctx, KS_RUN_ENTER, KS_RUN_FROM_KPROBE, 0, id);
}

SEC("kretprobe/kvm_arch_vcpu_ioctl_run")
int BPF_KRETPROBE(run_kretprobe, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct thread_state *ts;
	__s64 id = -1;

	if (wanted(pid_tgid)) {
		ts = thread((__u32)pid_tgid, false);
		if (ts && ts->run_vcpu) {
			id = ts->run_vcpu - 1;
			ts->run_vcpu = 0;
		}
	}
	return run_edge(ctx, KS_RUN_EXIT, KS_RUN_FROM_KPROBE, (__u64)(__s64)(int)ret, id);
}

SEC("fentry/kvm_arch_vcpu_ioctl_run")
int BPF_PROG(run_fentry, struct kvm_vcpu *vcpu)
{
	return run_edge(ctx, KS_RUN_ENTER, KS_RUN_FROM_FENTRY, 0, vcpu_id_of(vcpu));
}

SEC("fexit/kvm_arch_vcpu_ioctl_run")
int BPF_PROG(run_fexit, struct kvm_vcpu *vcpu, int ret)
{
	return run_edge(ctx, KS_RUN_EXIT, KS_RUN_FROM_FENTRY, (__u64)(__s64)ret, vcpu_id_of(vcpu));
}

/* The KVM_RUN ioctl's edges from perf's syscall tracepoints: the exit's
 * record has no request, so the thread remembers that its ioctl is KVM_RUN. */
static __always_inline void ioctl_enter(void *ctx, __u64 fd, __u64 cmd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct thread_state *ts;

	if (cmd != KVMSCOPE_KVM_RUN || !wanted(pid_tgid))
		return;
	ts = thread((__u32)pid_tgid, true);
	if (ts)
		ts->in_run = 1;
	run_edge(ctx, KS_RUN_ENTER, KS_RUN_FROM_SYSCALL, fd, -1);
}

static __always_inline void ioctl_exit(void *ctx, __s64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct thread_state *ts;

	if (!wanted(pid_tgid))
		return;
	ts = thread((__u32)pid_tgid, false);
	if (!ts || !ts->in_run)
		return;
	ts->in_run = 0;
	run_edge(ctx, KS_RUN_EXIT, KS_RUN_FROM_SYSCALL, (__u64)ret, -1);
}

SEC("tp/syscalls/sys_enter_ioctl")
int run_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	ioctl_enter(ctx, ctx->args[0], ctx->args[1]);
	return KS_TP_PASS;  /* perf users of this tracepoint keep the event */
}

SEC("tp/syscalls/sys_exit_ioctl")
int run_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	ioctl_exit(ctx, ctx->ret);
	return KS_TP_PASS;
}

/* The same edges from the raw tracepoints every system call passes
 * (sys_enter(regs, id), sys_exit(regs, ret)): the program runs from the
 * tracepoint itself, without building perf's record of the call. It runs
 * for every system call of the machine, so the cheapest tests come first
 * and nothing is read from the registers for a process not traced.
 * x86-64 numbering: ioctl is 16; its fd and request are in di and si, and
 * at sys_exit the call's number is in orig_ax and its request still in si:
 * regs are the user registers saved at entry, the result goes to ax, and
 * sys_exit fires in syscall_exit_work() (kernel/entry/common.c) before any
 * signal frame or return to user mode rewrites them. So the exit needs no
 * per-thread state to know it ends a KVM_RUN: no hash lookup at either
 * edge. The loader uses these only for kvmscope's own VM, made after the
 * session is armed, so no KVM_RUN is in flight unseen when it starts. */
#define KS_NR_IOCTL 16

struct syscall_regs {
	__u64 si, di, orig_ax;
};

/* si, di and orig_ax in one read where they are adjacent (x86-64's
 * pt_regs), else one read each. */
static __always_inline void read_syscall_regs(struct pt_regs *regs, struct syscall_regs *r)
{
	__u32 si = bpf_core_field_offset(struct pt_regs, si);

	if (bpf_core_field_offset(struct pt_regs, di) == si + 8 &&
	    bpf_core_field_offset(struct pt_regs, orig_ax) == si + 16) {
		bpf_probe_read_kernel(r, sizeof(*r), (char *)regs + si);
		return;
	}
	r->si = BPF_CORE_READ(regs, si);
	r->di = BPF_CORE_READ(regs, di);
	r->orig_ax = BPF_CORE_READ(regs, orig_ax);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long id)
{
	struct syscall_regs r = {};
	__u64 pid_tgid;

	if (id != KS_NR_IOCTL)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted(pid_tgid))
		return 0;
	read_syscall_regs(regs, &r);
	if (r.si == KVMSCOPE_KVM_RUN)
		run_edge(ctx, KS_RUN_ENTER, KS_RUN_FROM_SYSCALL, r.di, -1);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	struct syscall_regs r = {};
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!wanted(pid_tgid))
		return 0;
	read_syscall_regs(regs, &r);
	if (r.orig_ax == KS_NR_IOCTL && r.si == KVMSCOPE_KVM_RUN)
		run_edge(ctx, KS_RUN_EXIT, KS_RUN_FROM_SYSCALL, (__u64)ret, -1);
	return 0;
}

/* ---- the vendor exit handler: attached by name at run time ---- */

SEC("kprobe")
int BPF_KPROBE(handler_kprobe, void *vcpu, long fastpath)
{
	struct kvmscope_event *e = begin(ctx, KS_EXIT_HANDLER, 0);

	if (!e)
		return 0;
	e->a[0] = fastpath;
	commit(e);
	return 0;
}

SEC("fentry")
int BPF_PROG(handler_fentry, void *vcpu, long fastpath)
{
	struct kvmscope_event *e = begin(ctx, KS_EXIT_HANDLER, 0);

	if (!e)
		return 0;
	e->a[0] = fastpath;
	commit(e);
	return 0;
}

/* ---- kvm_mmu_page_fault(vcpu, cr2_or_gpa, error_code, insn, insn_len) ---- */

static __always_inline int mmu_page_fault(void *ctx, __u64 gpa, __u64 error_code)
{
	struct kvmscope_event *e = begin(ctx, KS_MMU_PAGE_FAULT, (__u32)error_code);

	if (!e)
		return 0;
	e->a[0] = gpa;
	e->a[1] = error_code;
	commit(e);
	return 0;
}

SEC("kprobe/kvm_mmu_page_fault")
int BPF_KPROBE(mmu_pf_kprobe, void *vcpu, __u64 cr2_or_gpa, __u64 error_code)
{
	return mmu_page_fault(ctx, cr2_or_gpa, error_code);
}

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(mmu_pf_fentry, void *vcpu, __u64 cr2_or_gpa, __u64 error_code)
{
	return mmu_page_fault(ctx, cr2_or_gpa, error_code);
}

/* ---- KVM tracepoints ---- */

#include "kvm_trace_events.bpf.h"

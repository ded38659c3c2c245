// SPDX-License-Identifier: GPL-2.0
/* `kvmscope top`'s kernel side: counts KVM_RUN calls, their exit reasons and
 * KVM's events per vCPU thread, with latency histograms, in two hash maps
 * that user space reads every interval. No ring buffer, no stacks: what a
 * live view costs is one map lookup per event. Tracepoints only. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "kvm_top.h"
#include "kvm_tracepoints.bpf.h"

/* What every program returns. Attached to a tracepoint through perf
 * (SEC("tp/...")), a program decides for every perf user of it: 0 would drop
 * the event for all of them (perf_trace_run_bpf_submit), so `perf stat` beside
 * `kvmscope top` would count nothing; 1 passes it on. */
#define KT_TP_PASS 1

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 targ_tgid = 0; /* 0: every process */
/* A user who is not root counts their own processes only (real uid). */
const volatile bool filter_uid = false;
const volatile __u32 targ_uid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct kvm_top_thread);
} top_threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kvm_top_exit_key);
	__type(value, __u64);
} top_exits SEC(".maps");

/* A zeroed value to insert from (too big for the BPF stack); never written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvm_top_thread);
} top_zero SEC(".maps");

static __always_inline bool wanted(__u64 pid_tgid)
{
	if (filter_uid && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return false;
	return !targ_tgid || (pid_tgid >> 32) == targ_tgid;
}

/* The calling thread's counters, created on first sight when `create`. */
static __always_inline struct kvm_top_thread *thread(__u64 pid_tgid, bool create)
{
	__u32 tid = (__u32)pid_tgid, zero_key = 0;
	struct kvm_top_thread *t = bpf_map_lookup_elem(&top_threads, &tid);
	struct kvm_top_thread *zero;

	if (t || !create)
		return t;
	zero = bpf_map_lookup_elem(&top_zero, &zero_key);
	if (!zero)
		return NULL;
	bpf_map_update_elem(&top_threads, &tid, zero, BPF_NOEXIST);
	t = bpf_map_lookup_elem(&top_threads, &tid);
	if (t) {
		t->tgid = pid_tgid >> 32;
		t->last_fd = -1;
	}
	return t;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* The bucket of kvm_top.h: 4 sub-buckets per power of two. */
static __always_inline __u32 bucket(__u64 ns)
{
	__u32 l;

	if (ns < 4)
		return ns;
	l = log2_u64(ns);
	return (4 * (l - 1) + ((ns >> (l - 2)) & 3)) & (KVM_TOP_HIST_BUCKETS - 1);
}

static __always_inline void observe(struct kvm_top_thread *t, __u32 hist, __u64 ns)
{
	if (hist >= KVM_TOP_HISTS)
		return;
	t->hist[hist][bucket(ns)] += 1;
}

/* ---- KVM_RUN at the syscall edge: these fire for every ioctl on the host,
 * so the request number is tested before anything else. ---- */

SEC("tp/syscalls/sys_enter_ioctl")
int top_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid, now;
	struct kvm_top_thread *t;

	if (ctx->args[1] != KVM_TOP_KVM_RUN)
		return KT_TP_PASS;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted(pid_tgid))
		return KT_TP_PASS;
	t = thread(pid_tgid, true);
	if (!t)
		return KT_TP_PASS;
	now = bpf_ktime_get_ns();
	if (t->run_exit_ts) {
		t->vmm_ns += now - t->run_exit_ts;
		observe(t, KVM_TOP_HIST_VMM, now - t->run_exit_ts);
		t->run_exit_ts = 0;
	}
	t->run_enter_ts = now;
	t->last_fd = (__s32)ctx->args[0];
	return KT_TP_PASS;
}

/* The end of an open KVM_RUN: kvm_userspace_exit (inside the ioctl, right
 * after kvm_arch_vcpu_ioctl_run returns; it fires for KVM_RUN only), or
 * sys_exit_ioctl, which the loader attaches only where kvm_userspace_exit
 * is missing: it fires for every ioctl on the host. */
static __always_inline void run_end(struct kvm_top_thread *t)
{
	__u64 now;

	if (!t->run_enter_ts)
		return;
	now = bpf_ktime_get_ns();
	t->runs += 1;
	t->run_ns += now - t->run_enter_ts;
	observe(t, KVM_TOP_HIST_RUN, now - t->run_enter_ts);
	t->run_enter_ts = 0;
	t->run_exit_ts = now;
	t->exit_ts = 0; /* a kvm_exit that went to user space is not KVM's handling */
}

SEC("tp/syscalls/sys_exit_ioctl")
int top_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kvm_top_thread *t;

	if (!wanted(pid_tgid))
		return KT_TP_PASS;
	t = thread(pid_tgid, false);
	if (t)
		run_end(t);
	return KT_TP_PASS;
}

/* ---- KVM's tracepoints (their context structs: kvm_tracepoints.bpf.h) ---- */

SEC("tp/kvm/kvm_userspace_exit")
int top_userspace_exit(struct trace_event_raw_kvm_userspace_exit___ks *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kvm_top_thread *t;
	__u32 reason;

	if (!wanted(pid_tgid))
		return KT_TP_PASS;
	t = thread(pid_tgid, true);
	if (!t)
		return KT_TP_PASS;
	/* KVM_RUN failed (-EINTR, ...): run->exit_reason is stale, not why */
	if (ctx->errno) {
		t->uerrors += 1;
	} else {
		reason = ctx->reason;
		if (reason >= KVM_TOP_UREASONS)
			reason = KVM_TOP_UREASONS - 1;
		t->ureason[reason & (KVM_TOP_UREASONS - 1)] += 1;
	}
	run_end(t);
	return KT_TP_PASS;
}

/* Counting programs: one add on the thread's record. */
#define KVM_TOP_COUNTER(prog, tp, field)                          \
	SEC("tp/kvm/" #tp)                                        \
	int prog(void *ctx)                                       \
	{                                                         \
		__u64 pid_tgid = bpf_get_current_pid_tgid();      \
		struct kvm_top_thread *t;                         \
                                                                  \
		if (!wanted(pid_tgid))                            \
			return KT_TP_PASS;                        \
		t = thread(pid_tgid, true);                       \
		if (t)                                            \
			t->field += 1;                            \
		return KT_TP_PASS;                                \
	}

KVM_TOP_COUNTER(top_pio, kvm_pio, pio)
KVM_TOP_COUNTER(top_mmio, kvm_mmio, mmio)
KVM_TOP_COUNTER(top_inj_exception, kvm_inj_exception, inj_exception)
KVM_TOP_COUNTER(top_emulate_insn, kvm_emulate_insn, emulated)

SEC("tp/kvm/kvm_exit")
int top_kvm_exit(struct trace_event_raw_kvm_exit___ks *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kvm_top_exit_key key = {};
	struct kvm_top_thread *t;
	__u64 one = 1, *n;

	if (!wanted(pid_tgid))
		return KT_TP_PASS;
	t = thread(pid_tgid, true);
	if (!t)
		return KT_TP_PASS;
	t->hw_exits += 1;
	t->exit_ts = bpf_ktime_get_ns();
	key.tid = (__u32)pid_tgid;
	key.reason = ctx->exit_reason;
	if (bpf_core_field_exists(ctx->isa))
		key.isa = ctx->isa;
	n = bpf_map_lookup_elem(&top_exits, &key);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&top_exits, &key, &one, BPF_NOEXIST);
	return KT_TP_PASS;
}

SEC("tp/kvm/kvm_entry")
int top_kvm_entry(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kvm_top_thread *t;
	__u64 now;

	if (!wanted(pid_tgid))
		return KT_TP_PASS;
	t = thread(pid_tgid, false);
	if (!t)
		return KT_TP_PASS;
	t->entries += 1;
	if (t->exit_ts) {
		now = bpf_ktime_get_ns();
		t->kernel_ns += now - t->exit_ts;
		observe(t, KVM_TOP_HIST_KERNEL, now - t->exit_ts);
		t->exit_ts = 0;
	}
	return KT_TP_PASS;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The programs on KVM's own tracepoints, through perf and as raw
 * tracepoints: part of kvm_trace.bpf.c, which includes this after its maps
 * and helpers (record, begin, commit, wanted, count). Their context structs
 * are in kvm_tracepoints.bpf.h. */
#ifndef KVMSCOPE_KVM_TRACE_EVENTS_BPF_H
#define KVMSCOPE_KVM_TRACE_EVENTS_BPF_H

/* ---- KVM tracepoints (their context structs: kvm_tracepoints.bpf.h) ---- */

SEC("tp/kvm/kvm_exit")
int tp_kvm_exit(struct trace_event_raw_kvm_exit___ks *ctx)
{
	struct kvmscope_event *e = begin(ctx, KS_KVM_EXIT, ctx->exit_reason);

	if (!e)
		return KS_TP_PASS;
	e->a[0] = ctx->exit_reason;
	e->a[1] = ctx->guest_rip;
	e->a[2] = ctx->isa;
	e->a[3] = ctx->info1;
	e->a[4] = ctx->info2;
	if (bpf_core_field_exists(ctx->intr_info))
		e->a[5] = ctx->intr_info | (__u64)ctx->error_code << 32;
	commit(e);
	return KS_TP_PASS;
}

SEC("tp/kvm/kvm_entry")
int tp_kvm_entry(struct trace_event_raw_kvm_entry___ks *ctx)
{
	struct kvmscope_event *e = begin(ctx, KS_KVM_ENTRY, 0);

	if (!e)
		return KS_TP_PASS;
	e->a[0] = ctx->vcpu_id;
	if (bpf_core_field_exists(ctx->rip))
		e->a[1] = ctx->rip;
	commit(e);
	return KS_TP_PASS;
}

/* Fills a reserved event with its arguments (the rest stay zero), commits it. */
static __always_inline void fill(struct kvmscope_event *e, __u64 a0, __u64 a1, __u64 a2,
				 __u64 a3, __u64 a4, __u64 a5)
{
	if (!e)
		return;
	e->a[0] = a0;
	e->a[1] = a1;
	e->a[2] = a2;
	e->a[3] = a3;
	e->a[4] = a4;
	e->a[5] = a5;
	commit(e);
}

/* One event of `kind` with its arguments. */
static __always_inline void emit(void *ctx, __u16 kind, __u32 disc, __u64 a0, __u64 a1,
				 __u64 a2, __u64 a3, __u64 a4, __u64 a5)
{
	fill(begin(ctx, kind, disc), a0, a1, a2, a3, a4, a5);
}

/* Below, the tracepoints whose arguments hold all their record does come
 * twice: through perf (SEC("tp/...")), reading the record, and as a raw
 * tracepoint (SEC("raw_tp/...")), reading the arguments (TP_PROTO) and
 * building the same event with no perf record built first; a raw link is
 * also released without waiting for a grace period under the tracing
 * mutex, as a perf one is. The loader prefers the raw one where the running
 * kernel's BTF shows the prototype it reads (btf_trace_<event>: host.h
 * TracepointArgs), else attaches the perf one. Where a raw program reads
 * memory an argument points to, it does so only for a wanted process, and
 * as the tracepoint's TP_fast_assign does. Prototypes: kvm_userspace_exit
 * and kvm_mmio in include/trace/events/kvm.h, the others in
 * arch/x86/kvm/trace.h and arch/x86/kvm/mmu/mmutrace.h. */

SEC("tp/kvm/kvm_userspace_exit")
int tp_kvm_userspace_exit(struct trace_event_raw_kvm_userspace_exit___ks *ctx)
{
	emit(ctx, KS_USERSPACE_EXIT, ctx->reason, ctx->reason, (__u64)(__s64)ctx->errno, 0, 0, 0,
	     0);
	return KS_TP_PASS;
}

SEC("raw_tp/kvm_userspace_exit")
int BPF_PROG(raw_kvm_userspace_exit, __u32 reason, int err)
{
	emit(ctx, KS_USERSPACE_EXIT, reason, reason, (__u64)(__s64)err, 0, 0, 0, 0);
	return 0;
}

SEC("tp/kvm/kvm_pio")
int tp_kvm_pio(struct trace_event_raw_kvm_pio___ks *ctx)
{
	emit(ctx, KS_PIO, ctx->rw, ctx->rw, ctx->port, ctx->size, ctx->count, ctx->val, 0);
	return KS_TP_PASS;
}

/* The value as the tracepoint keeps it: 1, 2 or 4 bytes, the first of a
 * string I/O. */
SEC("raw_tp/kvm_pio")
int BPF_PROG(raw_kvm_pio, unsigned int rw, unsigned int port, unsigned int size,
	     unsigned int count, const void *data)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 val = 0;

	if (!wanted(pid_tgid))
		return 0;  /* another process's VM: its value is not read */
	bpf_probe_read_kernel(&val, size == 1 ? 1 : size == 2 ? 2 : 4, data);
	fill(record_for(ctx, pid_tgid, KS_PIO, rw, true), rw, port, size, count, val, 0);
	return 0;
}

SEC("tp/kvm/kvm_mmio")
int tp_kvm_mmio(struct trace_event_raw_kvm_mmio___ks *ctx)
{
	emit(ctx, KS_MMIO, ctx->type, ctx->type, ctx->len, ctx->gpa, ctx->val, 0, 0);
	return KS_TP_PASS;
}

/* The value as the tracepoint keeps it: at most 8 bytes, 0 without one. */
SEC("raw_tp/kvm_mmio")
int BPF_PROG(raw_kvm_mmio, int type, int len, __u64 gpa, const void *val)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 v[2] = {};
	__u32 n = len;

	if (!wanted(pid_tgid))
		return 0;
	if (n > sizeof(v[0]))
		n = sizeof(v[0]);
	/* The mask only shows the verifier a bound (n is 8 at most); the
	 * barrier keeps the compiler from dropping it. */
	barrier_var(n);
	if (val)
		bpf_probe_read_kernel(v, n & (sizeof(v) - 1), val);
	fill(record_for(ctx, pid_tgid, KS_MMIO, type, true), type, len, gpa, v[0], 0, 0);
	return 0;
}

SEC("tp/kvm/kvm_emulate_insn")
int tp_kvm_emulate_insn(struct trace_event_raw_kvm_emulate_insn___ks *ctx)
{
	struct kvmscope_event *e = begin(ctx, KS_EMULATE_INSN, ctx->failed);
	__u8 bytes[16] = {};

	if (!e)
		return KS_TP_PASS;
	e->a[0] = ctx->rip;
	e->a[1] = ctx->csbase;
	e->a[2] = ctx->len | (__u64)ctx->flags << 8 | (__u64)ctx->failed << 16;
	bpf_probe_read_kernel(bytes, 15, &ctx->insn[0]);
	__builtin_memcpy(&e->a[3], bytes, 16);
	commit(e);
	return KS_TP_PASS;
}

/* Counts kvm_emulate_insn, nothing else: past its stream budget the perf
 * program above (which builds a perf record of every instruction even to
 * throw it away) is detached, and this keeps the count. */
SEC("raw_tp/kvm_emulate_insn")
int count_kvm_emulate_insn(void *ctx)
{
	if (wanted(bpf_get_current_pid_tgid()))
		count(KS_CNT_SEEN + KS_EMULATE_INSN);
	return 0;
}

SEC("tp/kvm/kvm_inj_exception")
int tp_kvm_inj_exception(struct trace_event_raw_kvm_inj_exception___ks *ctx)
{
	bool reinjected = false;

	if (bpf_core_field_exists(ctx->reinjected))
		reinjected = ctx->reinjected;
	emit(ctx, KS_INJ_EXCEPTION, ctx->exception, ctx->exception, ctx->has_error,
	     ctx->error_code, reinjected, 0, 0);
	return KS_TP_PASS;
}

/* The record keeps the vector as a u8. */
SEC("raw_tp/kvm_inj_exception")
int BPF_PROG(raw_kvm_inj_exception, unsigned int exception, bool has_error,
	     unsigned int error_code, bool reinjected)
{
	emit(ctx, KS_INJ_EXCEPTION, (__u8)exception, (__u8)exception, has_error, error_code,
	     reinjected, 0, 0);
	return 0;
}

SEC("tp/kvm/kvm_inj_virq")
int tp_kvm_inj_virq(struct trace_event_raw_kvm_inj_virq___ks *ctx)
{
	/* Read through a helper: direct ctx loads of either field get merged
	 * into one variable-offset load, which the verifier refuses. */
	__u32 vector = 0;
	bool soft = false, reinjected = false;

	if (bpf_core_field_exists(ctx->vector))
		BPF_CORE_READ_INTO(&vector, ctx, vector);
	else if (bpf_core_field_exists(ctx->irq))
		BPF_CORE_READ_INTO(&vector, ctx, irq);
	if (bpf_core_field_exists(ctx->soft))
		soft = ctx->soft;
	if (bpf_core_field_exists(ctx->reinjected))
		reinjected = ctx->reinjected;
	emit(ctx, KS_INJ_VIRQ, 0, vector, soft, reinjected, 0, 0, 0);
	return KS_TP_PASS;
}

SEC("raw_tp/kvm_inj_virq")
int BPF_PROG(raw_kvm_inj_virq, unsigned int vector, bool soft, bool reinjected)
{
	emit(ctx, KS_INJ_VIRQ, 0, vector, soft, reinjected, 0, 0, 0);
	return 0;
}

/* a0 = function | index << 32; a5 = found | used_max_basic << 1. */
SEC("tp/kvm/kvm_cpuid")
int tp_kvm_cpuid(struct trace_event_raw_kvm_cpuid___ks *ctx)
{
	__u64 function = ctx->function;
	__u64 flags = 0;

	if (bpf_core_field_exists(ctx->index))
		function |= (__u64)ctx->index << 32;
	if (bpf_core_field_exists(ctx->found))
		flags = ctx->found;
	if (bpf_core_field_exists(ctx->used_max_basic))
		flags |= (__u64)ctx->used_max_basic << 1;
	emit(ctx, KS_CPUID, ctx->function, function, ctx->rax, ctx->rbx, ctx->rcx, ctx->rdx,
	     flags);
	return KS_TP_PASS;
}

SEC("raw_tp/kvm_cpuid")
int BPF_PROG(raw_kvm_cpuid, unsigned int function, unsigned int index, unsigned long rax,
	     unsigned long rbx, unsigned long rcx, unsigned long rdx, bool found,
	     bool used_max_basic)
{
	emit(ctx, KS_CPUID, function, function | (__u64)index << 32, rax, rbx, rcx, rdx,
	     found | (__u64)used_max_basic << 1);
	return 0;
}

SEC("tp/kvm/kvm_msr")
int tp_kvm_msr(struct trace_event_raw_kvm_msr___ks *ctx)
{
	emit(ctx, KS_MSR, ctx->write, ctx->write, ctx->ecx, ctx->data, ctx->exception, 0, 0);
	return KS_TP_PASS;
}

/* The record keeps `exception` as a u8. */
SEC("raw_tp/kvm_msr")
int BPF_PROG(raw_kvm_msr, unsigned int write, __u32 ecx, __u64 data, bool exception)
{
	emit(ctx, KS_MSR, write, write, ecx, data, exception, 0, 0);
	return 0;
}

SEC("tp/kvm/kvm_hypercall")
int tp_kvm_hypercall(struct trace_event_raw_kvm_hypercall___ks *ctx)
{
	emit(ctx, KS_HYPERCALL, 0, ctx->nr, ctx->a0, ctx->a1, ctx->a2, ctx->a3, 0);
	return KS_TP_PASS;
}

SEC("raw_tp/kvm_hypercall")
int BPF_PROG(raw_kvm_hypercall, unsigned long nr, unsigned long a0, unsigned long a1,
	     unsigned long a2, unsigned long a3)
{
	emit(ctx, KS_HYPERCALL, 0, nr, a0, a1, a2, a3, 0);
	return 0;
}

SEC("tp/kvm/kvm_page_fault")
int tp_kvm_page_fault(struct trace_event_raw_kvm_page_fault___ks *ctx)
{
	struct kvmscope_event *e = begin(ctx, KS_PAGE_FAULT, (__u32)ctx->error_code);

	if (!e)
		return KS_TP_PASS;
	if (bpf_core_field_exists(ctx->vcpu_id))
		e->a[0] = ctx->vcpu_id;
	if (bpf_core_field_exists(ctx->guest_rip))
		e->a[1] = ctx->guest_rip;
	e->a[2] = ctx->fault_address;
	e->a[3] = ctx->error_code;
	commit(e);
	return KS_TP_PASS;
}

SEC("tp/kvmmmu/kvm_mmu_pagetable_walk")
int tp_kvm_mmu_pagetable_walk(struct trace_event_raw_kvm_mmu_pagetable_walk___ks *ctx)
{
	emit(ctx, KS_MMU_WALK, ctx->pferr, ctx->addr, ctx->pferr, 0, 0, 0, 0);
	return KS_TP_PASS;
}

SEC("raw_tp/kvm_mmu_pagetable_walk")
int BPF_PROG(raw_kvm_mmu_pagetable_walk, __u64 addr, __u32 pferr)
{
	emit(ctx, KS_MMU_WALK, pferr, addr, pferr, 0, 0, 0, 0);
	return 0;
}

SEC("tp/kvmmmu/kvm_mmu_set_spte")
int tp_kvm_mmu_set_spte(struct trace_event_raw_kvm_mmu_set_spte___ks *ctx)
{
	emit(ctx, KS_MMU_SET_SPTE, ctx->level, ctx->gfn, ctx->spte, ctx->level, 0, 0, 0);
	return KS_TP_PASS;
}

/* The record keeps the entry's value (*sptep) and the level as a u8. */
SEC("raw_tp/kvm_mmu_set_spte")
int BPF_PROG(raw_kvm_mmu_set_spte, int level, __u64 gfn, __u64 *sptep)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 spte = 0;

	if (!wanted(pid_tgid))
		return 0;
	bpf_probe_read_kernel(&spte, sizeof(spte), sptep);
	fill(record_for(ctx, pid_tgid, KS_MMU_SET_SPTE, (__u8)level, true), gfn, spte, (__u8)level,
	     0, 0, 0);
	return 0;
}

SEC("tp/kvmmmu/kvm_mmu_walker_error")
int tp_kvm_mmu_walker_error(struct trace_event_raw_kvm_mmu_walker_error___ks *ctx)
{
	emit(ctx, KS_MMU_WALKER_ERROR, ctx->pferr, ctx->pferr, 0, 0, 0, 0, 0);
	return KS_TP_PASS;
}

SEC("raw_tp/kvm_mmu_walker_error")
int BPF_PROG(raw_kvm_mmu_walker_error, __u32 pferr)
{
	emit(ctx, KS_MMU_WALKER_ERROR, pferr, pferr, 0, 0, 0, 0, 0);
	return 0;
}

#endif

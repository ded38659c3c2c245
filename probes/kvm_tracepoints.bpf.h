/* SPDX-License-Identifier: GPL-2.0 */
/* The context structs of KVM's tracepoints, for kvm_trace.bpf.c and
 * kvm_top.bpf.c. They are local copies with a ___ks flavour: CO-RE relocates
 * each field against the running kernel's BTF (vmlinux or the kvm module), and
 * fields that older kernels lack are read only where bpf_core_field_exists()
 * says they are there. Include after vmlinux.h. */
#ifndef KVMSCOPE_KVM_TRACEPOINTS_BPF_H
#define KVMSCOPE_KVM_TRACEPOINTS_BPF_H

struct trace_event_raw_kvm_exit___ks {
	unsigned int exit_reason;
	unsigned long guest_rip;
	__u32 isa;
	__u64 info1;
	__u64 info2;
	__u32 intr_info;
	__u32 error_code;
	unsigned int vcpu_id;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_entry___ks {
	unsigned int vcpu_id;
	unsigned long rip;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_userspace_exit___ks {
	__u32 reason;
	int errno;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_pio___ks {
	unsigned int rw;
	unsigned int port;
	unsigned int size;
	unsigned int count;
	unsigned int val;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_mmio___ks {
	__u32 type;
	__u32 len;
	__u64 gpa;
	__u64 val;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_emulate_insn___ks {
	__u64 rip;
	__u32 csbase;
	__u8 len;
	__u8 insn[15];
	__u8 flags;
	__u8 failed;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_inj_exception___ks {
	__u8 exception;
	__u8 has_error;
	__u32 error_code;
	bool reinjected;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_inj_virq___ks {
	unsigned int vector;
	unsigned int irq; /* the field's name before 6.6 */
	bool soft;
	bool reinjected;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_cpuid___ks {
	unsigned int function;
	unsigned int index;
	unsigned long rax;
	unsigned long rbx;
	unsigned long rcx;
	unsigned long rdx;
	bool found;
	bool used_max_basic;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_msr___ks {
	unsigned int write;
	__u32 ecx;
	__u64 data;
	__u8 exception;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_hypercall___ks {
	unsigned long nr;
	unsigned long a0;
	unsigned long a1;
	unsigned long a2;
	unsigned long a3;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_page_fault___ks {
	unsigned int vcpu_id;
	unsigned long guest_rip;
	__u64 fault_address;
	__u64 error_code;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_mmu_pagetable_walk___ks {
	__u64 addr;
	__u32 pferr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_mmu_set_spte___ks {
	__u64 gfn;
	__u64 spte;
	__u8 level;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_mmu_walker_error___ks {
	__u32 pferr;
} __attribute__((preserve_access_index));

#endif

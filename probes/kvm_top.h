/* The contract between kvm_top.bpf.c and its loader (probes/top_session.cpp):
 * per-thread counters that `kvmscope top` reads every interval. Counting
 * only: fixed-width fields, no pointers, explicit padding. */
#ifndef KVMSCOPE_PROBES_KVM_TOP_H
#define KVMSCOPE_PROBES_KVM_TOP_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* KVM_RUN as an ioctl request number: _IO(KVMIO, 0x80). */
#define KVM_TOP_KVM_RUN 0xae80

/* kvm_userspace_exit reasons (KVM_EXIT_*) counted one by one; larger
 * reasons land in the last slot. */
#define KVM_TOP_UREASONS 64

/* Log2 histograms with 4 sub-buckets: values 0..3 have buckets of their own,
 * a value v >= 4 with l = ilog2(v) goes to 4 * (l - 1) + the two bits below
 * its top bit. A bucket spans [(4 + s) << (l - 2), (5 + s) << (l - 2)): at
 * most 25 % of its lower bound. */
#define KVM_TOP_HIST_BUCKETS 256

enum kvm_top_hist {
	KVM_TOP_HIST_RUN = 0, /* KVM_RUN: sys_enter_ioctl → kvm_userspace_exit */
	KVM_TOP_HIST_VMM,     /* the VMM's handling: KVM_RUN return → next KVM_RUN */
	KVM_TOP_HIST_KERNEL,  /* KVM's handling: kvm_exit → kvm_entry (VMX/SVM) */
	KVM_TOP_HISTS,
};

/* One vCPU thread (any thread that called KVM_RUN), keyed by tid. Only the
 * thread itself writes it, so the programs use plain adds. */
struct kvm_top_thread {
	__u32 tgid;
	__s32 last_fd;      /* the vCPU fd of the latest KVM_RUN */
	__u64 run_enter_ts; /* open KVM_RUN: when it began; 0 when none */
	__u64 run_exit_ts;  /* the latest KVM_RUN return; 0 before one */
	__u64 exit_ts;      /* the latest kvm_exit not yet followed by kvm_entry */
	__u64 runs;         /* KVM_RUN returns */
	__u64 run_ns;       /* time inside completed KVM_RUNs */
	__u64 vmm_ns;       /* time between a return and the next KVM_RUN */
	__u64 kernel_ns;    /* kvm_exit → kvm_entry */
	__u64 ureason[KVM_TOP_UREASONS]; /* kvm_userspace_exit by KVM_EXIT_* */
	__u64 uerrors;      /* kvm_userspace_exit with an error (EINTR, ...) */
	__u64 pio;          /* kvm_pio */
	__u64 mmio;         /* kvm_mmio */
	__u64 emulated;     /* kvm_emulate_insn (only with --emulation) */
	__u64 inj_exception; /* kvm_inj_exception */
	__u64 hw_exits;     /* kvm_exit */
	__u64 entries;      /* kvm_entry */
	__u32 hist[KVM_TOP_HISTS][KVM_TOP_HIST_BUCKETS];
};

/* kvm_exit by hardware reason: isa is the tracepoint's (1 VMX, 2 SVM). */
struct kvm_top_exit_key {
	__u32 tid;
	__u32 isa;
	__u32 reason;
	__u32 pad;
};

#endif

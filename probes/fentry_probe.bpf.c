// SPDX-License-Identifier: GPL-2.0
/* The smallest fentry program, loaded on its own to find out whether this
 * kernel accepts BPF tracing programs at all (the main object's fentry
 * programs are only enabled when this one loads). */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/kvm_arch_vcpu_ioctl_run")
int BPF_PROG(fentry_probe)
{
	return 0;
}

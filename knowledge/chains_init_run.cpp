// The init chain and the run loop as data (see chain_rows.h for the row
// helpers; every fact carries where it was checked).
#include "knowledge/chain_rows.h"

namespace kvmscope::knowledge::rows {

// clang-format off
Chain InitChain() {
  return {ChainId::Init, "init", "VM and module initialization",
    "Module load brings up KVM and /dev/kvm; later the VMM's ioctls make a VM and its vCPUs. None "
    "of it runs inside KVM_RUN, so stacks rarely show it: symbols and ioctl counts do.",
    {{"vendor_init", "vendor module init", Phase::Load, "",
      {Checked(InitFn("vt_init", One("arch/x86/kvm/vmx/main.c",
                                     Read("6.16.1 arch/x86/kvm/vmx/main.c:1057 static int __init "
                                          "vt_init")),
                      From(6, 16), Vendor::Vmx),
               "6.14.0 arch/x86/kvm/vmx/main.c: no vt_init (6.15 not read); 6.16.1 "
               "arch/x86/kvm/vmx/main.c:1057 static int __init vt_init, :1102 module_init(vt_init); "
               "6.19.0 arch/x86/kvm/vmx/main.c:1037"),
       // Every version; until 6.15 it is the module_init, from 6.16 vt_init calls it.
       Checked(InitFn("vmx_init", VmxC(), {}, Vendor::Vmx),
               "3.19.8 arch/x86/kvm/vmx.c:9417 static int __init vmx_init, :9442 "
               "module_init(vmx_init); 6.14.0 arch/x86/kvm/vmx/vmx.c:8613, :8674 "
               "module_init(vmx_init); 6.16.1 arch/x86/kvm/vmx/vmx.c:8820 int __init vmx_init, "
               "called at arch/x86/kvm/vmx/main.c:1062 r = vmx_init(); 6.19.0 "
               "arch/x86/kvm/vmx/vmx.c:8723"),
       Checked(InitFn("svm_init", SvmC(), {}, Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:4443 static int __init svm_init, :4454 "
               "module_init(svm_init); 6.19.0 arch/x86/kvm/svm/svm.c:5476, :5513 "
               "module_init(svm_init)"),
       Checked(InitFn("pvm_init", PvmC(), From(6, 7), Vendor::Pvm),
               "running kernel /proc/kallsyms: t pvm_init (a 6.18 kernel), PVM's first base "
               "release (6.7) not read", true)},
      "The module_init() of kvm_intel, kvm_amd or kvm_pvm: checks the hardware and brings up "
      "generic KVM, once, at module load or boot; from 6.16 kvm_intel's is vt_init, which calls "
      "vmx_init.",
      Read("6.14.0 arch/x86/kvm/vmx/vmx.c:8674 module_init(vmx_init); 6.16.1 "
           "arch/x86/kvm/vmx/main.c:1102 module_init(vt_init), :1062 r = vmx_init(), :1090 r = "
           "kvm_init(); 6.19.0 arch/x86/kvm/svm/svm.c:5487 kvm_x86_vendor_init(), :5495 kvm_init(), "
           ":5513 module_init(svm_init); running kernel /proc/kallsyms: t pvm_init")},
     {"vendor_setup", "x86 and vendor setup", Phase::Load, "",
      // Stable kernels backport the 6.3 layout (6.2.12 has both functions;
      // Debian's 6.1.0-57 has it, with kvm_arch_init an empty stub): the
      // symbol decides, the version only without symbols.
      {IfSymbol(Checked(Fn("kvm_x86_vendor_init", X86C(), From(6, 3)),
                        "6.2.1 arch/x86/kvm/x86.c: no kvm_x86_vendor_init; 6.3.8 "
                        "arch/x86/kvm/x86.c:9505 int kvm_x86_vendor_init; 6.2.12 "
                        "arch/x86/kvm/x86.c:9303 int kvm_x86_vendor_init (stable backport); "
                        "6.19.0 arch/x86/kvm/x86.c:10016"),
                "kvm_x86_vendor_init", true),
       IfSymbol(Checked(Fn("kvm_arch_init", X86C(), Until(6, 2)),
                        "6.2.1 arch/x86/kvm/x86.c:9293 int kvm_arch_init, called at "
                        "virt/kvm/kvm_main.c:5931 r = kvm_arch_init(opaque); 6.3.8 "
                        "arch/x86/kvm/x86.c: no kvm_arch_init; 3.19.8 virt/kvm/kvm_main.c:3220 "
                        "r = kvm_arch_init(opaque)"),
                "kvm_x86_vendor_init", false)},
      "Checks that virtualization is usable and installs the vendor's kvm_x86_ops; in the old "
      "layout kvm_init called kvm_arch_init, in the 6.3 layout the vendor init calls "
      "kvm_x86_vendor_init before kvm_init.",
      Read("6.2.1 virt/kvm/kvm_main.c:5931 r = kvm_arch_init(opaque); 6.3.8 "
           "arch/x86/kvm/svm/svm.c:5138 r = kvm_x86_vendor_init(&svm_init_ops), :5146 r = "
           "kvm_init(); 6.3.8 arch/x86/kvm/vmx/vmx.c:8602 r = kvm_x86_vendor_init(&vmx_init_ops)")},
     {"kvm_init", "generic KVM init", Phase::Load, "",
      {Checked(Fn("kvm_init", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init; 6.1-rc7 virt/kvm/kvm_main.c:5864; "
               "6.19.0 virt/kvm/kvm_main.c:6498")},
      "Generic KVM (virt/kvm/kvm_main.c, never vmx.c): registers /dev/kvm; it calls no ioctl "
      "handler, those run later on the VMM's ioctls.",
      Read("6.19.0 virt/kvm/kvm_main.c:6498 int kvm_init, :6558 r = misc_register(&kvm_dev); "
           "3.19.8 virt/kvm/kvm_main.c:3214 int kvm_init")},
     {"dev_ioctl", "ioctl on /dev/kvm", Phase::Setup, "KVM_CREATE_VM",
      {Checked(Fn("kvm_dev_ioctl", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2682 static long kvm_dev_ioctl; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4993; 6.19.0 virt/kvm/kvm_main.c:5544")},
      "The ioctl handler of /dev/kvm: capability checks and KVM_CREATE_VM.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4993 static long kvm_dev_ioctl, :5005 r = "
           "kvm_dev_ioctl_create_vm(arg), :5007 case KVM_CHECK_EXTENSION")},
     {"create_vm", "create a VM", Phase::Setup, "KVM_CREATE_VM",
      {Checked(Fn("kvm_dev_ioctl_create_vm", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2660 static int kvm_dev_ioctl_create_vm; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4950; 6.19.0 virt/kvm/kvm_main.c:5501")},
      "Makes the struct kvm (kvm_create_vm: memory slots, the VM's MMU state) and returns the VM "
      "fd; in-kernel devices such as the irqchip come with later VM ioctls.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4963 kvm = kvm_create_vm(type, fdname), :1129 static "
           "struct kvm *kvm_create_vm; 6.1-rc7 arch/x86/kvm/x86.c:6684 case KVM_CREATE_IRQCHIP")},
     {"vm_ioctl", "ioctl on a VM fd", Phase::Setup, "KVM_CREATE_VCPU",
      {Checked(Fn("kvm_vm_ioctl", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2434 static long kvm_vm_ioctl; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4665; 6.19.0 virt/kvm/kvm_main.c:5169")},
      "The ioctl handler of a VM fd: memory regions, irqchip, KVM_CREATE_VCPU.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4665 static long kvm_vm_ioctl, :4676 r = "
           "kvm_vm_ioctl_create_vcpu(kvm, arg), :4687 case KVM_SET_USER_MEMORY_REGION; 6.1-rc7 "
           "arch/x86/kvm/x86.c:6684 case KVM_CREATE_IRQCHIP (kvm_arch_vm_ioctl)")},
     {"create_vcpu", "create a vCPU", Phase::Setup, "KVM_CREATE_VCPU",
      {Checked(Fn("kvm_vm_ioctl_create_vcpu", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:1955 static int kvm_vm_ioctl_create_vcpu; 6.1-rc7 "
               "virt/kvm/kvm_main.c:3892; 6.19.0 virt/kvm/kvm_main.c:4174")},
      "Makes a vCPU and its fd, whose file operations are kvm_vcpu_fops: .unlocked_ioctl = "
      "kvm_vcpu_ioctl, .compat_ioctl = kvm_vcpu_compat_ioctl.",
      Read("3.19.8 virt/kvm/kvm_main.c:1936 .unlocked_ioctl = kvm_vcpu_ioctl, :1938 "
           ".compat_ioctl = kvm_vcpu_compat_ioctl; 6.1-rc7 virt/kvm/kvm_main.c:3844 "
           ".unlocked_ioctl = kvm_vcpu_ioctl")},
     VcpuIoctlNode("Where a 64-bit VMM's ioctls on a vCPU fd arrive, KVM_RUN included: the door "
                   "from the VMM into the run loop."),
     {"compat_ioctl", "32-bit ioctl on a vCPU fd", Phase::Run, "",
      {Checked(Fn("kvm_vcpu_compat_ioctl", MainC()),
               "3.19.8 virt/kvm/kvm_main.c:2228 static long kvm_vcpu_compat_ioctl; 6.1-rc7 "
               "virt/kvm/kvm_main.c:4253 (under #ifdef CONFIG_KVM_COMPAT, :4252); 6.19.0 "
               "virt/kvm/kvm_main.c:4679")},
      "Only for a 32-bit VMM on a 64-bit kernel (CONFIG_KVM_COMPAT): converts a few arguments and "
      "calls kvm_vcpu_ioctl.",
      Read("6.1-rc7 virt/kvm/kvm_main.c:4252 #ifdef CONFIG_KVM_COMPAT, :4253 static long "
           "kvm_vcpu_compat_ioctl, :4287 r = kvm_vcpu_ioctl(filp, ioctl, arg)")}},
    {Checked(IfSymbol(Call("vendor_init", "vendor_setup", From(6, 3), Paging::Any,
                           "from 6.16 on VMX through vmx_init: vt_init → vmx_init → "
                           "kvm_x86_vendor_init"),
                      "kvm_x86_vendor_init", true),
             "6.3.8 arch/x86/kvm/svm/svm.c:5138 r = kvm_x86_vendor_init(&svm_init_ops); 6.3.8 "
             "arch/x86/kvm/vmx/vmx.c:8602 r = kvm_x86_vendor_init(&vmx_init_ops); 6.2.12 "
             "arch/x86/kvm/vmx/vmx.c:8581 (stable backport); 6.16.1 arch/x86/kvm/vmx/vmx.c:8833 "
             "r = kvm_x86_vendor_init(&vt_init_ops) in vmx_init, called from "
             "arch/x86/kvm/vmx/main.c:1062"),
     Checked(Call("vendor_init", "kvm_init"),
             "3.19.8 arch/x86/kvm/vmx.c:9419 int r = kvm_init(&vmx_x86_ops, ...) in vmx_init; "
             "6.3.8 arch/x86/kvm/svm/svm.c:5146 r = kvm_init(); 6.16.1 arch/x86/kvm/vmx/main.c:1090 "
             "r = kvm_init() in vt_init"),
     Checked(IfSymbol(Call("kvm_init", "vendor_setup", Until(6, 2)), "kvm_x86_vendor_init", false),
             "3.19.8 virt/kvm/kvm_main.c:3220 r = kvm_arch_init(opaque); 6.2.1 "
             "virt/kvm/kvm_main.c:5931 r = kvm_arch_init(opaque)"),
     Then("kvm_init", "dev_ioctl", "registers /dev/kvm; its ioctls come later, from the VMM",
          "6.19.0 virt/kvm/kvm_main.c:6558 r = misc_register(&kvm_dev) in kvm_init"),
     Checked(Call("dev_ioctl", "create_vm"),
             "3.19.8 virt/kvm/kvm_main.c:2694 r = kvm_dev_ioctl_create_vm(arg); 6.1-rc7 "
             "virt/kvm/kvm_main.c:5005; 6.19.0 virt/kvm/kvm_main.c:5556"),
     Then("create_vm", "vm_ioctl", "the VMM's next ioctls go to the new VM fd",
          "6.1-rc7 virt/kvm/kvm_main.c:4963 kvm = kvm_create_vm() in kvm_dev_ioctl_create_vm, "
          "which returns the VM fd, :4665 kvm_vm_ioctl handles its ioctls"),
     Checked(Call("vm_ioctl", "create_vcpu"),
             "3.19.8 virt/kvm/kvm_main.c:2445 r = kvm_vm_ioctl_create_vcpu(kvm, arg); 6.1-rc7 "
             "virt/kvm/kvm_main.c:4676; 6.19.0 virt/kvm/kvm_main.c:5180"),
     Then("create_vcpu", "vcpu_ioctl", "the vCPU fd carries kvm_vcpu_fops; its ioctls come later",
          "6.1-rc7 virt/kvm/kvm_main.c:3844 .unlocked_ioctl = kvm_vcpu_ioctl in kvm_vcpu_fops"),
     Checked(Call("compat_ioctl", "vcpu_ioctl"),
             "3.19.8 virt/kvm/kvm_main.c:2264 r = kvm_vcpu_ioctl(filp, ioctl, arg); 6.1-rc7 "
             "virt/kvm/kvm_main.c:4287; 6.19.0 virt/kvm/kvm_main.c:4713")},
    ""};
}

Chain RunLoopChain() {
  return {ChainId::RunLoop, "run", "The run loop",
    "Each KVM_RUN ioctl enters the guest and handles exits in the kernel until one needs the VMM.",
    {VcpuIoctlNode("The vCPU fd's ioctl handler; for KVM_RUN it calls the architecture's run "
                   "function."),
     ArchRunNode(),
     {"vcpu_run", "the run loop", Phase::Run, "",
      {Checked(Fn("vcpu_run", X86C(), From(4, 1)),
               "4.0.4 arch/x86/kvm/x86.c: no vcpu_run; 4.1.15 arch/x86/kvm/x86.c:6469 static int "
               "vcpu_run; 6.19.0 arch/x86/kvm/x86.c:11637"),
       Checked(Fn("__vcpu_run", X86C(), Until(4, 0)),
               "3.19.8 arch/x86/kvm/x86.c:6390 static int __vcpu_run; 4.0.4 "
               "arch/x86/kvm/x86.c:6385 static int __vcpu_run; 4.1.15 arch/x86/kvm/x86.c: no "
               "__vcpu_run")},
      "The loop itself: enter the guest, handle the exit in the kernel, repeat until something "
      "needs user space (I/O, MMIO, a signal).",
      Read("6.1-rc7 arch/x86/kvm/x86.c:10954 static int vcpu_run, :10969 r = "
           "vcpu_enter_guest(vcpu), :10974 if (r <= 0) break")},
     EnterGuestNode(),
     {"vendor_run", "VM entry", Phase::Run, "",
      {Checked(Fn("vmx_vcpu_run", VmxC(), {}, Vendor::Vmx),
               "3.19.8 arch/x86/kvm/vmx.c:7761 static void __noclone vmx_vcpu_run; 6.1-rc7 "
               "arch/x86/kvm/vmx/vmx.c:7098; 6.19.0 arch/x86/kvm/vmx/vmx.c:7414"),
       Checked(Fn("svm_vcpu_run", SvmC(), {}, Vendor::Svm),
               "3.19.8 arch/x86/kvm/svm.c:3865 static void svm_vcpu_run; 6.19.0 "
               "arch/x86/kvm/svm/svm.c:4198"),
       Checked(Fn("pvm_vcpu_run", PvmC(), {}, Vendor::Pvm),
               "running kernel /proc/kallsyms: t pvm_vcpu_run")},
      "Switches to the guest (VMLAUNCH/VMRESUME, VMRUN, PVM's own switch) and returns at the next "
      "VM exit; most exits are handled after it returns, but since 5.8 a few (WRMSR to the "
      "x2APIC ICR or TSC deadline, more later) are handled inside it, in a fastpath.",
      Read("5.8.1 arch/x86/kvm/vmx/vmx.c:6640 vmx_exit_handlers_fastpath, called in "
           "vmx_vcpu_run; 5.8.1 arch/x86/kvm/svm/svm.c:3447 exit_fastpath = "
           "svm_exit_handlers_fastpath(vcpu); 5.8.1 arch/x86/kvm/x86.c:1631 "
           "handle_fastpath_set_msr_irqoff, :1638 APIC_ICR, :1645 MSR_IA32_TSCDEADLINE; 5.7.14 "
           "arch/x86/kvm/x86.c:8461 kvm_x86_ops.handle_exit_irqoff() (the 5.6–5.7 fastpath ran "
           "from vcpu_enter_guest); 6.1-rc7 arch/x86/kvm/vmx/vmx.c:7261 return "
           "vmx_exit_handlers_fastpath(vcpu)")},
     VendorExitNode(),
     // The table lookup became a function of its own in 5.11 (SVM) and 5.12
     // (VMX); before, it sat inside *_handle_exit.
     ExitTableNode()},
    {Checked(Call("vcpu_ioctl", "arch_run"),
             "3.19.8 virt/kvm/kvm_main.c:2067 r = kvm_arch_vcpu_ioctl_run(vcpu, vcpu->run); "
             "6.1-rc7 virt/kvm/kvm_main.c:4087; 6.19.0 virt/kvm/kvm_main.c:4492"),
     Checked(Call("arch_run", "vcpu_run"),
             "3.19.8 arch/x86/kvm/x86.c:6575 r = __vcpu_run(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:11190 r = vcpu_run(vcpu)"),
     Checked(Call("vcpu_run", "enter_guest"),
             "3.19.8 arch/x86/kvm/x86.c:6401 r = vcpu_enter_guest(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:10969; 6.19.0 arch/x86/kvm/x86.c:11652"),
     Checked(Call("enter_guest", "vendor_run"),
             "3.19.8 arch/x86/kvm/x86.c:6312 kvm_x86_ops->run(vcpu); 5.12.9 "
             "arch/x86/kvm/x86.c:9183 static_call(kvm_x86_run)(vcpu); 6.1-rc7 "
             "arch/x86/kvm/x86.c:10770 static_call(kvm_x86_vcpu_run)(vcpu)"),
     Then("vendor_run", "vendor_exit",
          "the VM exit returns from the entry, then vcpu_enter_guest calls the handler (a "
          "fastpath exit, 5.8+, is handled inside the entry first)",
          "6.1-rc7 arch/x86/kvm/x86.c:10770 exit_fastpath = static_call(kvm_x86_vcpu_run)(vcpu), "
          ":10866 r = static_call(kvm_x86_handle_exit)(vcpu, exit_fastpath); 6.1-rc7 "
          "arch/x86/kvm/vmx/vmx.c:7261 return vmx_exit_handlers_fastpath(vcpu)"),
     Checked(Call("enter_guest", "vendor_exit"),
             "3.19.8 arch/x86/kvm/x86.c:6378 r = kvm_x86_ops->handle_exit(vcpu); 5.12.9 "
             "arch/x86/kvm/x86.c:9277 static_call(kvm_x86_handle_exit); 6.19.0 "
             "arch/x86/kvm/x86.c:11494 kvm_x86_call(handle_exit)"),
     Checked(Tail(Call("vendor_exit", "exit_table"), kSvmTableTail), kExitTableCall)},
    ""};
}
// clang-format on

}  // namespace kvmscope::knowledge::rows

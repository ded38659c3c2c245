// The process exit statuses of kvmscope, documented in --help and README.md.
#pragma once

namespace kvmscope::app {

enum ExitCode : int {
  kExitOk = 0,           // the guest passed its self-check (or the command succeeded)
  kExitGuestFailed = 1,  // the guest ran but did not pass: wrong status, fault, watchdog
  kExitUsage = 2,        // bad command line or bad input file
  kExitEnvironment = 3,  // this host cannot do it: no /dev/kvm, no permission, guest unsupported
  kExitInternal = 4,     // a bug or an unexpected failure of a KVM call
};

inline constexpr const char* kExitCodeHelp =
    "Exit status: 0 the guest passed its self-check; 1 the guest ran but failed (wrong "
    "status, triple fault, internal error, watchdog); 2 usage error or bad input file; "
    "3 this host cannot run KVM (no /dev/kvm, no permission) or the guest is unsupported "
    "here; 4 internal error.";

}  // namespace kvmscope::app

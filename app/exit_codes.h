// The process exit statuses of kvmscope, documented in --help, the man page
// (kvmscope --man-page) and README.md.
#pragma once

#include <string_view>

namespace kvmscope::app {

enum ExitCode : int {
  kExitOk = 0,           // the guest passed its self-check (or the command succeeded)
  kExitGuestFailed = 1,  // the guest ran but did not pass: wrong status, fault, watchdog
  kExitUsage = 2,        // bad command line or bad input file
  kExitEnvironment = 3,  // this host cannot do it: no /dev/kvm, no permission, guest unsupported
  kExitInternal = 4,     // a bug or an unexpected failure of a KVM call
};

// Each status with the words --help and the man page say about it, in order.
struct ExitCodeText {
  ExitCode code;
  std::string_view meaning;
};
inline constexpr ExitCodeText kExitCodes[] = {
    {kExitOk, "the guest passed its self-check"},
    {kExitGuestFailed, "the guest ran but failed (wrong status, triple fault, internal error, watchdog)"},
    {kExitUsage, "usage error or bad input file"},
    {kExitEnvironment, "this host cannot run KVM (no /dev/kvm, no permission) or the guest is unsupported here"},
    {kExitInternal, "internal error"},
};

inline constexpr const char* kExitCodeHelp =
    "Exit status: 0 the guest passed its self-check; 1 the guest ran but failed (wrong "
    "status, triple fault, internal error, watchdog); 2 usage error or bad input file; "
    "3 this host cannot run KVM (no /dev/kvm, no permission) or the guest is unsupported "
    "here; 4 internal error.";

// kExitCodeHelp is "Exit status: " then "N meaning" for every row of
// kExitCodes, joined by "; ", then ".": checked when compiling.
constexpr bool ExitHelpMatchesTable() {
  std::string_view rest = kExitCodeHelp;
  auto take = [&rest](std::string_view s) {
    if (!rest.starts_with(s)) return false;
    rest.remove_prefix(s.size());
    return true;
  };
  if (!take("Exit status: ")) return false;
  bool first = true;
  for (const ExitCodeText& e : kExitCodes) {
    if (!first && !take("; ")) return false;
    first = false;
    const char digit[] = {static_cast<char>('0' + e.code), ' ', '\0'};
    if (e.code < 0 || e.code > 9 || !take(digit) || !take(e.meaning)) return false;
  }
  return take(".") && rest.empty();
}
static_assert(ExitHelpMatchesTable(), "kExitCodeHelp and kExitCodes say different things");

}  // namespace kvmscope::app

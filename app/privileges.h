// Who kvmscope runs as, and what that lets it do. In a lab room a student runs
// the installed kvmscope with file capabilities set by the administrator
// (cap_bpf,cap_perfmon,cap_sys_resource): kernel tracing then works, but only
// for the student's own VMs. System-wide tracing and another user's process
// need real root (uid 0), checked here with a message that says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvmscope::app {

// Root of this machine: uid 0 in the initial user namespace (not the uid 0
// of a user namespace of one's own, such as `unshare -r` makes).
bool RealRoot();

struct Privileges {
  bool real_root = false;    // RealRoot()
  bool secure_exec = false;  // AT_SECURE: started with capabilities the user does not have
  uint64_t effective = 0;    // CapEff of /proc/self/status
  // The capabilities kernel tracing uses, held in the effective set.
  bool Has(int cap) const { return cap >= 0 && cap < 64 && (effective >> cap) & 1; }
  bool CanTrace() const;     // root, or CAP_BPF and CAP_PERFMON
  // "cap_bpf, cap_perfmon, cap_sys_resource" (of those kvmscope cares about), "none".
  std::string TracingCapabilities() const;
};
Privileges CurrentPrivileges();

// Under secure-exec (file capabilities), drops every environment variable but
// those kvmscope and its window need (DISPLAY, XAUTHORITY, LANG, PATH, ...)
// and turns Mesa's shader cache off: LIBGL_DRIVERS_PATH, or a ~/.drirc found
// through HOME, would otherwise make the OpenGL loader load a library of the
// user's choosing into a process that holds CAP_BPF.
// Returns the names dropped. Does nothing (returns none) without secure-exec.
std::vector<std::string> ScrubEnvironment();
// Gives up every capability for good (effective, permitted, inheritable):
// for the commands that trace nothing, so that the files a user hands them
// (traces, labs) are read with the user's own rights only. Root keeps its.
void DropCapabilities();
// The allowlist itself: true when `name` is kept under secure-exec.
bool EnvironmentNameKept(const std::string& name);

// "" when this user may trace process `pid` (root, or the process's real uid
// is the user's, or there is no such process: the caller says that); else
// the message why not.
std::string OtherUserRefusal(int pid, const char* command);
// Whose processes a system-wide count may show: nullopt (everyone's) for real
// root, else the user's own uid.
std::optional<uint32_t> OwnProcessesOnly();
// "" for real root; else the message that `what` needs real root.
std::string RootOnlyRefusal(const char* what);

}  // namespace kvmscope::app

// Who kvmscope runs as: real root, or a user with file capabilities (a lab
// room), or a user without them; and the checks that keep a user with
// capabilities to their own VMs.
#include "app/privileges.h"

#include <fmt/format.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "probes/host.h"
#include "procs/vm_list.h"

extern char** environ;

namespace kvmscope::app {

namespace {
struct NamedCap {
  int cap;
  const char* name;
};
// The capabilities kernel tracing uses (see README, "Install on lab machines").
constexpr NamedCap kTracingCaps[] = {
    {CAP_BPF, "cap_bpf"}, {CAP_PERFMON, "cap_perfmon"}, {CAP_SYS_RESOURCE, "cap_sys_resource"},
    {CAP_SYSLOG, "cap_syslog"}, {CAP_SYS_ADMIN, "cap_sys_admin"}};

}  // namespace

bool Privileges::CanTrace() const { return probes::TracingPrivileged(effective); }

std::string Privileges::TracingCapabilities() const {
  std::string names;
  for (const NamedCap& c : kTracingCaps) {
    if (Has(c.cap)) names += (names.empty() ? "" : ", ") + std::string(c.name);
  }
  return names.empty() ? "none" : names;
}

bool RealRoot() {
  if (getuid() != 0) return false;
  // The initial user namespace maps every id to itself; a namespace of one's
  // own (unshare -r) maps uid 0 to someone, and its capabilities stop at it.
  std::ifstream map("/proc/self/uid_map");
  uint64_t inside = 1, outside = 1, count = 0;
  map >> inside >> outside >> count;
  return inside == 0 && outside == 0 && count == 4294967295u;
}

Privileges CurrentPrivileges() {
  Privileges p;
  p.real_root = RealRoot();
  p.secure_exec = getauxval(AT_SECURE) != 0;
  p.effective = probes::EffectiveCapabilities();
  return p;
}

bool EnvironmentNameKept(const std::string& name) {
  static const char* const kKept[] = {
      "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR", "XDG_SESSION_TYPE",  // the window
      "USER", "LOGNAME", "PATH", "TERM", "COLORTERM", "COLUMNS", "LINES", "NO_COLOR",
      "LANG", "LANGUAGE", "TZ", "KVMSCOPE_LABS", "KVMSCOPE_LIBBPF_DEBUG"};
  for (const char* k : kKept) {
    if (name == k) return true;
  }
  return name.rfind("LC_", 0) == 0;
}

std::vector<std::string> ScrubEnvironment() {
  std::vector<std::string> dropped;
  if (getauxval(AT_SECURE) == 0) return dropped;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    std::string name = eq ? std::string(*e, static_cast<size_t>(eq - *e)) : std::string(*e);
    if (!EnvironmentNameKept(name)) dropped.push_back(std::move(name));
  }
  for (const std::string& name : dropped) unsetenv(name.c_str());
  // Without HOME Mesa reads no ~/.drirc (which can name the DRI driver to
  // load); its shader cache, which llvmpipe loads machine code from, would
  // still fall back to the passwd entry's home: off.
  setenv("MESA_SHADER_CACHE_DISABLE", "true", 1);
  return dropped;
}

std::string OtherUserRefusal(int pid, const char* command) {
  if (RealRoot()) return "";
  std::optional<uint32_t> owner = procs::ProcessOwner(pid);
  if (!owner || *owner == getuid()) return "";
  return fmt::format(
      "kvmscope: {}: pid {} belongs to another user (uid {}): only root may trace another user's "
      "processes; kvmscope's capabilities let you trace your own VMs only",
      command, pid, *owner);
}

void DropCapabilities() {
  if (RealRoot()) return;  // (permitted but not effective ones go too: no check of CapEff)
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  syscall(SYS_capset, &header, none);  // effective, permitted and inheritable: all gone
}

std::optional<uint32_t> OwnProcessesOnly() {
  if (RealRoot()) return std::nullopt;
  return static_cast<uint32_t>(getuid());
}

std::string RootOnlyRefusal(const char* what) {
  if (RealRoot()) return "";
  return fmt::format(
      "kvmscope: {} needs root (uid 0): it would show every user's VMs, and kvmscope's "
      "capabilities let you trace your own VMs only (run it with sudo, or leave it out)",
      what);
}

}  // namespace kvmscope::app

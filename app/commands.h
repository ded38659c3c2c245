// The subcommands of kvmscope, each returning a process exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kvmscope::app {

struct GuestsArgs {
  std::string name;
  bool source = false;
};
int CmdGuests(const GuestsArgs& args);

struct RunArgs {
  std::string guest, guest_bin, guest_asm;
  std::string mode;  // for custom guests; default real
  std::string load;  // parsed by CmdRun so a bad address gets its own message
  std::string expect;
  std::string param;
  bool step = false;
  int slow_ms = 0;
  std::optional<uint64_t> max_exits;
  std::optional<double> timeout_s;
  bool regs = false;
  bool quiet = false;
  // Kernel tracing (probes/).
  bool no_probes = false;
  std::string stacks = "new";  // new|all|none
  bool system_wide = false;
  std::optional<uint32_t> ring_bytes;
};
int CmdRun(const RunArgs& args);

int CmdDoctor();

}  // namespace kvmscope::app

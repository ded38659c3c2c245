// Guest options → machine configuration.
#include "app/guest_setup.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

#include "vmm/guest_image.h"

namespace kvmscope::app {

namespace {
// Parses decimal or 0x-hex; nullopt for anything else.
std::optional<uint64_t> ParseNumber(const std::string& text) {
  std::string_view s = text;
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}


uint64_t NumberOption(const std::string& text, const char* what) {
  std::optional<uint64_t> v = ParseNumber(text);
  if (!v)
    throw UsageFailure{
        fmt::format("bad {} '{}': expected a number (decimal or 0x-hex)", what, text)};
  return *v;
}


}  // namespace

Prepared Prepare(const RunArgs& args) {
  Prepared p;
  bool custom = !args.guest_bin.empty() || !args.guest_asm.empty();
  if (!custom) {
    if (!args.mode.empty() || !args.load.empty() || !args.expect.empty()) {
      throw UsageFailure{"--mode, --load and --expect apply to --guest-bin/--guest-asm only"};
    }
    p.guest = vmm::FindGuest(args.guest);
    if (!p.guest) {
      throw UsageFailure{
          fmt::format("unknown guest '{}' (known: {})", args.guest, vmm::GuestNames())};
    }
    std::optional<uint64_t> param;
    if (!args.param.empty()) {
      if (p.guest->param_meaning.empty()) {
        throw UsageFailure{fmt::format("guest '{}' takes no --param", p.guest->name)};
      }
      param = NumberOption(args.param, "--param");
      if (*param > UINT32_MAX) throw UsageFailure{"--param must fit in 32 bits"};
    }
    p.config = vmm::ConfigFor(*p.guest, param);
    if (!p.guest->param_meaning.empty()) p.param = p.config.param;
    return p;
  }
  std::string mode_name = args.mode.empty() ? "real" : args.mode;
  std::optional<vmm::CpuMode> mode = vmm::ParseCpuMode(mode_name);
  if (!mode)
    throw UsageFailure{fmt::format("unknown mode '{}' (real, protected, long)", mode_name)};
  p.config.mode = *mode;
  if (!args.load.empty()) {
    std::optional<uint64_t> load = ParseNumber(args.load);
    if (!load)
      throw UsageFailure{fmt::format("bad load address '{}': expected a number", args.load)};
    p.config.load_addr = *load;
  }
  if (!args.expect.empty()) {
    uint64_t v = NumberOption(args.expect, "--expect");
    if (v > UINT32_MAX) throw UsageFailure{"--expect must fit in 32 bits"};
    p.config.expected_status = static_cast<uint32_t>(v);
  }
  if (!args.param.empty()) {
    p.config.param = NumberOption(args.param, "--param");
    p.param = p.config.param;
  }
  if (!args.guest_bin.empty()) {
    p.config.name = args.guest_bin;
    p.config.image = vmm::LoadGuestBinary(args.guest_bin, p.config.ram_size);
  } else {
    p.config.name = args.guest_asm;
    p.config.image = vmm::AssembleGuest(args.guest_asm, *mode, p.config.load_addr);
  }
  return p;
}

vmm::RunOptions RunOptionsFor(const RunArgs& args, const Prepared& p) {
  vmm::RunOptions options;
  if (args.timeout_s) {
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(*args.timeout_s * 1000));
  } else if (p.guest && p.guest->timeout_ms) {
    options.timeout = std::chrono::milliseconds(p.guest->timeout_ms);
  }
  if (args.max_exits) options.max_exits = *args.max_exits;
  options.slow_motion = std::chrono::milliseconds(args.slow_ms);
  options.start_paused = args.step;
  options.capture_regs = args.regs;
  return options;
}

}  // namespace kvmscope::app

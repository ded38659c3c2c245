// Events of the trace made readable: type names for both origins, the VMM
// events' packing decoded into named fields, and one line of text per event
// (kernel events reuse the kernel decoders; kvm_page_fault decoded by what
// produced it, fault_context.h).
#include <fmt/format.h>

#include <cstring>

#include "traces/explain.h"
#include "traces/fault_context.h"
#include "traces/trace.h"

namespace kvmscope::traces {
namespace {

constexpr std::array<std::string_view, kVmmEventKinds> kVmmNames = {
    "VMM ioctl",          // Ioctl
    "VMM KVM_RUN enter",  // RunEnter
    "VMM KVM_RUN exit",   // RunExit
    "VMM device access",  // DeviceAccess
    "VMM status",         // Status
    "VMM control",        // Control
    "VMM watchdog",       // Watchdog
    "VMM vCPU done",      // VcpuDone
};

std::string Hex(uint64_t v) { return fmt::format("{:#x}", v); }
std::string Dec(uint64_t v) { return fmt::format("{}", v); }

std::string ExitName(uint64_t reason) {
  std::string_view name = KvmExitReasonName(static_cast<uint32_t>(reason));
  return name.empty() ? fmt::format("exit {}", reason) : fmt::format("KVM_EXIT_{}", name);
}

// "0x3f8 (COM1)": a port with the name of kvmscope's device behind it.
std::string PortText(uint64_t port) {
  const std::string name = PortName(port);
  return name.empty() ? Hex(port) : fmt::format("{} ({})", Hex(port), name);
}
// "0x34 '4'": data with what it means on that port (PortDataNote).
std::string PortDataText(uint64_t port, bool out, uint64_t data) {
  return Hex(data) + PortDataNote(port, out, data);
}

std::string ErrnoText(uint64_t value) {
  int err = static_cast<int>(value);
  const char* name = strerrorname_np(err);
  return name ? name : Dec(value);
}

void ExitFields(const Event& e, std::vector<Field>& out) {
  const auto& a = e.a;
  out.push_back({"reason", a[0], ExitName(a[0])});
  if (a[1]) out.push_back({"errno", a[1], ErrnoText(a[1])});
  out.push_back({"run", a[2], Dec(a[2])});
  switch (a[0]) {
    case kKvmExitIo: {
      bool is_out = (a[3] >> 24) & 1;
      out.push_back({"direction", is_out, is_out ? "out" : "in"});
      const uint64_t port = a[3] & 0xffff;
      out.push_back({"port", port, PortText(port)});
      out.push_back({"size", (a[3] >> 16) & 0xff, Dec((a[3] >> 16) & 0xff)});
      out.push_back({"count", a[4], Dec(a[4])});
      out.push_back({"data", a[5], PortDataText(port, is_out, a[5])});
      break;
    }
    case kKvmExitMmio: {
      bool write = (a[4] >> 32) & 1;
      out.push_back({"direction", write, write ? "write" : "read"});
      out.push_back({"address", a[3], Hex(a[3])});
      out.push_back({"len", a[4] & 0xffffffff, Dec(a[4] & 0xffffffff)});
      out.push_back({"data", a[5], Hex(a[5])});
      break;
    }
    case kKvmExitHypercall: out.push_back({"nr", a[3], Dec(a[3])}); break;
    case kKvmExitInternalError: out.push_back({"suberror", a[3], Dec(a[3])}); break;
    case kKvmExitFailEntry:
      out.push_back({"hardware_entry_failure_reason", a[3], Hex(a[3])});
      break;
    case kKvmExitSystemEvent: out.push_back({"type", a[3], Dec(a[3])}); break;
    default: break;
  }
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  if (type.origin == Origin::Kernel) return KernelEventName(type.kernel());
  return type.kind < kVmmNames.size() ? kVmmNames[type.kind] : std::string_view{};
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kVmmNames.size(); ++i) {
    if (kVmmNames[i] == name) return static_cast<VmmEventKind>(i);
  }
  if (auto k = KernelEventKindFromName(name)) return EventType(*k);
  return std::nullopt;
}

KernelEvent ToKernel(const Event& e) {
  KernelEvent k;
  k.time_ns = e.time_ns;
  k.pid = e.pid;
  k.tid = e.tid;
  k.cpu = e.cpu;
  k.kind = e.type.kernel();
  k.stack_id = e.stack_id;
  k.a = e.a;
  return k;
}

std::vector<Field> EventFields(const TraceData& trace, const Event& e) {
  return EventFieldsWith(trace, e, ContextOf(trace, e));
}

std::string DescribeEvent(const TraceData& trace, const Event& e) {
  return DescribeEventWith(trace, e, ContextOf(trace, e));
}

std::vector<Field> EventFieldsWith(const TraceData& trace, const Event& e,
                                   const DecodeContext& context) {
  if (e.type.origin == Origin::Kernel) {
    std::vector<Field> fields = DecodeFields(ToKernel(e), context);
    if (e.type == KernelEventKind::Pio) {
      // The same port names and characters as the VMM's own exits.
      for (Field& f : fields) {
        if (f.name == "port") f.text = PortText(e.a[1]);
        if (f.name == "val") f.text = PortDataText(e.a[1], e.a[0] != 0, e.a[4]);
      }
    }
    return fields;
  }
  std::vector<Field> out;
  const auto& a = e.a;
  std::string text(trace.Text(e.text));
  switch (e.type.vmm()) {
    case VmmEventKind::Ioctl:
      out.push_back({"ioctl", 0, text});
      out.push_back({"result", a[0], fmt::format("{}", static_cast<int64_t>(a[0]))});
      break;
    case VmmEventKind::RunEnter: out.push_back({"run", a[0], Dec(a[0])}); break;
    case VmmEventKind::RunExit: ExitFields(e, out); break;
    case VmmEventKind::DeviceAccess:
      out.push_back({"bus", a[0], a[0] ? "mmio" : "pio"});
      out.push_back({"device", 0, text.empty() ? "(none)" : text});
      out.push_back({"address", a[1], a[0] ? Hex(a[1]) : PortText(a[1])});
      out.push_back({"size", a[2], Dec(a[2])});
      out.push_back({"direction", a[3], a[3] ? "write" : "read"});
      out.push_back({"data", a[4], a[0] ? Hex(a[4]) : PortDataText(a[1], a[3] != 0, a[4])});
      break;
    case VmmEventKind::Status: out.push_back({"status", a[0], Hex(a[0])}); break;
    case VmmEventKind::Control:
    case VmmEventKind::Watchdog:
    case VmmEventKind::VcpuDone: out.push_back({"detail", 0, text}); break;
    case VmmEventKind::Count: break;
  }
  return out;
}

std::string DescribeEventWith(const TraceData& trace, const Event& e,
                              const DecodeContext& context) {
  if (e.type.origin == Origin::Kernel) {
    std::string line = DescribeKernelEvent(ToKernel(e), context);
    if (e.type == KernelEventKind::Pio) {
      const std::string name = PortName(e.a[1]);
      if (!name.empty()) line += fmt::format(" ({}{})", name, PortDataNote(e.a[1], e.a[0] != 0, e.a[4]));
    }
    return line;
  }
  std::string line(EventTypeName(e.type));
  for (const Field& f : EventFieldsWith(trace, e, context)) {
    line += f.name == "detail" || f.name == "ioctl" || f.name == "reason" || f.name == "direction"
                ? fmt::format(" {}", f.text)
                : fmt::format(" {}={}", f.name, f.text);
  }
  return line;
}

}  // namespace kvmscope::traces

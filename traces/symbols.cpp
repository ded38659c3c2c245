// Kernel symbols and stacks: address lookup in the sorted symbol table, stack
// interning, and the call chain of a stack as a student reads it, from the
// KVM_RUN ioctl down to the function that fired the event.
#include "traces/symbols.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <tuple>

namespace kvmscope::traces {

std::string DisplayName(std::string_view name, std::string_view module) {
  if (module != "bpf") return std::string(name);
  if (name.starts_with("bpf_trampoline_")) return "[bpf trampoline]";
  // bpf_prog_<16 hex digits of tag>_<program name>; the name may be empty.
  constexpr std::string_view kProg = "bpf_prog_";
  if (name.starts_with(kProg) && name.size() >= kProg.size() + 16) {
    std::string_view rest = name.substr(kProg.size() + 16);
    if (rest.starts_with('_')) rest.remove_prefix(1);
    return rest.empty() ? "[bpf program]" : fmt::format("[bpf program {}]", rest);
  }
  return std::string(name);
}

std::string UnknownFrame(uint64_t addr) { return fmt::format("[unknown {:#x}]", addr); }

void SymbolTable::Add(uint64_t addr, std::string name, std::string module, uint64_t end) {
  m_symbols.push_back(Symbol{addr, std::move(name), std::move(module), end});
}

void SymbolTable::Add(Symbol symbol) { m_symbols.push_back(std::move(symbol)); }

void SymbolTable::Finish() {
  std::sort(m_symbols.begin(), m_symbols.end(), [](const Symbol& x, const Symbol& y) {
    return std::tie(x.addr, x.name, x.module) < std::tie(y.addr, y.name, y.module);
  });
  auto same = [](const Symbol& x, const Symbol& y) { return x.addr == y.addr && x.name == y.name; };
  m_symbols.erase(std::unique(m_symbols.begin(), m_symbols.end(), same), m_symbols.end());
}

const Symbol* SymbolTable::Find(uint64_t addr) const {
  auto by_addr = [](uint64_t a, const Symbol& s) { return a < s.addr; };
  auto it = std::upper_bound(m_symbols.begin(), m_symbols.end(), addr, by_addr);
  if (it == m_symbols.begin()) return nullptr;
  // The last symbol at or below addr; step back to the first of its aliases.
  const uint64_t at = std::prev(it)->addr;
  auto first = std::lower_bound(m_symbols.begin(), it, at,
                                [](const Symbol& s, uint64_t a) { return s.addr < a; });
  // Past its end the address belongs to no symbol we know: data, a gap, or
  // code (BPF, trampolines) that did not exist when the table was read.
  return first->Contains(addr) ? &*first : nullptr;
}

std::string SymbolTable::Format(uint64_t addr) const {
  const Symbol* s = Find(addr);
  if (s == nullptr) return UnknownFrame(addr);
  if (s->module.empty()) return fmt::format("{}+{:#x}", s->name, addr - s->addr);
  return fmt::format("{}+{:#x} [{}]", s->name, addr - s->addr, s->module);
}

bool SymbolTable::Has(std::string_view name) const {
  return std::any_of(m_symbols.begin(), m_symbols.end(),
                     [name](const Symbol& s) { return s.name == name; });
}

int32_t StackTable::Intern(const Stack& frames) {
  if (frames.empty()) return -1;
  std::lock_guard lock(m_mutex);
  auto [it, inserted] = m_ids.try_emplace(frames, static_cast<int32_t>(m_stacks.size()));
  if (inserted) m_stacks.push_back(frames);
  return it->second;
}

Stack StackTable::Get(int32_t id) const {
  std::lock_guard lock(m_mutex);
  if (id < 0 || static_cast<size_t>(id) >= m_stacks.size()) return {};
  return m_stacks[static_cast<size_t>(id)];
}

size_t StackTable::size() const {
  std::lock_guard lock(m_mutex);
  return m_stacks.size();
}

namespace {

// Functions of the tracing machinery itself: the BPF program, its trampoline
// or dispatcher, and the tracepoint's iterator. They sit at the innermost end
// of every stack a probe captures and say nothing about KVM.
constexpr std::array<std::string_view, 14> kTracingPrefixes = {
    "[bpf program",
    "[bpf trampoline]",
    "__traceiter_",
    "__bpf_trace_",
    "perf_trace_",
    "bpf_trace_run",
    "bpf_",
    "__bpf_prog",
    "trace_event_raw_event_",
    "trace_call_bpf",
    "kprobe_ftrace_handler",
    "kprobe_perf_func",
    "kprobe_dispatcher",
    "perf_tp_event",
};

bool IsTracingFrame(std::string_view name) {
  return std::any_of(kTracingPrefixes.begin(), kTracingPrefixes.end(),
                     [name](std::string_view p) { return name.starts_with(p); });
}

// The syscall layer below KVM's ioctl handler is the same for every KVM_RUN.
constexpr std::string_view kChainRoot = "kvm_vcpu_ioctl";

}  // namespace

std::vector<std::string> ChainFrames(const Stack& frames, const SymbolTable& symbols) {
  std::vector<std::string> names;  // innermost first, as captured
  names.reserve(frames.size());
  for (uint64_t addr : frames) {
    const Symbol* s = symbols.Find(addr);
    names.push_back(s != nullptr ? s->name : UnknownFrame(addr));
  }
  auto kvm_end = std::find_if_not(names.begin(), names.end(),
                                  [](const std::string& n) { return IsTracingFrame(n); });
  names.erase(names.begin(), kvm_end);
  std::reverse(names.begin(), names.end());
  auto root = std::find(names.begin(), names.end(), kChainRoot);
  if (root != names.end()) names.erase(names.begin(), root);
  // Two frames in a row in one function (a tail of the unwinder, or direct
  // recursion) read as one step of the chain.
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string ChainText(const Stack& frames, const SymbolTable& symbols) {
  std::string text;
  for (const std::string& name : ChainFrames(frames, symbols)) {
    if (!text.empty()) text += " → ";
    text += name;
  }
  return text;
}

}  // namespace kvmscope::traces

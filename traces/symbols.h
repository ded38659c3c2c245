// Kernel symbols and the stacks captured in a trace. A SymbolTable is the
// sorted address → name map (filled from /proc/kallsyms by probes/, or from a
// trace file); a StackTable interns stacks (innermost frame first) under
// small dense ids that stay valid for the trace's lifetime.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kvmscope::traces {

struct Symbol {
  uint64_t addr = 0;
  std::string name;    // as in the kernel: "kvm_arch_vcpu_ioctl_run"
  std::string module;  // "" for vmlinux, else the module: "kvm_intel"
  bool operator==(const Symbol&) const = default;
};

class SymbolTable {
 public:
  // Adds a symbol; call Finish() before any lookup.
  void Add(uint64_t addr, std::string name, std::string module = {});
  // Sorts and drops exact duplicates (same address and name).
  void Finish();
  // The symbol with the largest address <= addr, or nullptr if addr is below
  // the first symbol or the table is empty. Of several names at one address
  // (aliases), the first in alphabetical order.
  const Symbol* Find(uint64_t addr) const;
  // "name+0x1a", "name+0x1a [module]", or "0xffffffff81000000" when unknown.
  std::string Format(uint64_t addr) const;
  // Whether a symbol of this exact name exists (linear in size; for the few
  // names of the attach plan and the call chains).
  bool Has(std::string_view name) const;
  size_t size() const { return m_symbols.size(); }
  const std::vector<Symbol>& symbols() const { return m_symbols; }
  bool operator==(const SymbolTable&) const = default;

 private:
  std::vector<Symbol> m_symbols;
};

// A kernel stack as captured: return addresses, innermost first.
using Stack = std::vector<uint64_t>;

// Thread-safe interning: the same frames always get the same id.
class StackTable {
 public:
  // Ids count up from 0; an empty stack is not stored and gets -1, the same
  // "no stack" as KernelEvent::stack_id.
  int32_t Intern(const Stack& frames);
  Stack Get(int32_t id) const;  // empty for an unknown id
  size_t size() const;

 private:
  mutable std::mutex m_mutex;
  std::vector<Stack> m_stacks;     // by id
  std::map<Stack, int32_t> m_ids;  // frames -> id
};

// The function names of a stack, outermost first, without the tracing
// machinery on top (__traceiter_*, __bpf_trace_*, perf_trace_*, bpf_*,
// trace_event_raw_event_*) and starting at kvm_vcpu_ioctl when it is on the
// stack (the system-call entry below it is the same for every KVM_RUN).
// Frames with no symbol are kept as hex addresses; consecutive frames in the
// same function are shown once.
std::vector<std::string> ChainFrames(const Stack& frames, const SymbolTable& symbols);
// "kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run → pvm_handle_exit → …"
std::string ChainText(const Stack& frames, const SymbolTable& symbols);

}  // namespace kvmscope::traces

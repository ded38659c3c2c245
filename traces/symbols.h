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
  // First address past the symbol: the next kallsyms entry of any type, or
  // its module's end. 0 = unknown (trace files from before the bound), and
  // then the symbol reaches up to the next one in the table.
  uint64_t end = 0;
  bool Contains(uint64_t a) const { return a >= addr && (end == 0 || a < end); }
  bool operator==(const Symbol&) const = default;
};

// The name kvmscope shows for a kallsyms entry: BPF programs and trampolines
// live in the "[bpf]" pseudo-module with generated names and are named for
// what they are: "bpf_prog_6deef7357e7b4530_run_sys_enter" → "[bpf program
// run_sys_enter]", "bpf_trampoline_6442491234" → "[bpf trampoline]". Every
// other name is returned as it is.
std::string DisplayName(std::string_view name, std::string_view module);
// What an address that no symbol covers is called: "[unknown 0xffffffffc0001234]".
std::string UnknownFrame(uint64_t addr);

class SymbolTable {
 public:
  // Adds a symbol; call Finish() before any lookup.
  void Add(uint64_t addr, std::string name, std::string module = {}, uint64_t end = 0);
  void Add(Symbol symbol);
  // Sorts and drops exact duplicates (same address and name).
  void Finish();
  // The symbol with the largest address <= addr, or nullptr if addr is below
  // the first symbol, past that symbol's end, or the table is empty. Of
  // several names at one address (aliases), the first in alphabetical order.
  const Symbol* Find(uint64_t addr) const;
  // "name+0x1a", "name+0x1a [module]", or "[unknown 0xffffffff81000000]".
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
// Frames with no symbol are kept as "[unknown 0x...]"; consecutive frames in the
// same function are shown once.
std::vector<std::string> ChainFrames(const Stack& frames, const SymbolTable& symbols);
// "kvm_vcpu_ioctl → kvm_arch_vcpu_ioctl_run → pvm_handle_exit → …"
std::string ChainText(const Stack& frames, const SymbolTable& symbols);

}  // namespace kvmscope::traces

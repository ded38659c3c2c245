// The questions a lab asks, as queries over the student's own trace: what a
// question's right answer is, computed, never a constant written in the lab.
//
//   count exits reason=IO                 how many KVM_RUNs returned KVM_EXIT_IO
//   count kvm_inj_exception exception=14  how many #PF KVM injected
//   first exits reason=MMIO .address      a field of the first matching event
//   p99 run reason=IO                     a latency: KVM_RUN spans ending in IO
//   kvm-stat halt_exits                   KVM's own counter (KVM_GET_STATS_FD)
//   function kvm_mmu_set_spte             which kernel function emitted those events
//   count runs - count exits reason=HLT   arithmetic; `A > 0` is a yes/no
//
// docs/labs.md is the reference for authors. Parsing is separate from
// evaluation, so a lab file is checked before any trace exists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "traces/trace.h"

namespace kvmscope::lab {

// A filter on one event: `field=value`, `field!=value`, `field>value`,
// `field<value`. Fields are the decoded ones kvmscope shows (`port`,
// `reason`, `exception`, `address`, ...) plus `vcpu`.
struct Filter {
  std::string field;
  enum class Op { Eq, Ne, Gt, Lt } op = Op::Eq;
  std::string value;
};

// Which events: `exits` (KVM_RUN returned to the VMM), `runs` (KVM_RUN
// calls), `ioctls`, `accesses` (device accesses), `status`, or a kernel event
// by name (`kvm_pio`, `kvm_inj_exception`, ...), then filters.
struct Selector {
  std::string word;  // as written
  traces::EventType type;
  std::vector<Filter> filters;
  bool kernel() const { return type.origin == traces::Origin::Kernel; }
};

// One term of a query.
struct Term {
  enum class Kind {
    Number,         // a literal
    Count,          // count SEL
    Field,          // first|last|nth N SEL .field
    Distinct,       // distinct SEL .field: how many different values
    Values,         // values SEL .field: the set of values
    Latency,        // p50|p90|p99|mean|min|max|total SPAN SEL
    KvmStat,        // kvm-stat NAME [vcpu=N]
    Function,       // function SEL: the functions that emitted the events (innermost frame)
    Neighbour,      // callee|caller FUNC SEL: the frames next to FUNC in those events' stacks
    InStack,        // in-stack FUNC SEL: yes when a stack of those events passes through FUNC
    SeedVerdicts,   // seed VERDICT: the seed claims with that verdict on this kernel
    ClaimVerdict,   // verdict CLAIM: one claim's verdict
    Host,           // paging (shadow | tdp, ept, npt) | backend (PVM, VMX, SVM) | vendor-handler
  } kind = Kind::Number;
  double number = 0;
  Selector selector;
  std::string word;   // first/last/nth, the statistic, the function, the counter, ...
  std::string field;  // .field
  std::string span;   // Latency: run | vmm | kernel-run | guest | kernel-handling
  int64_t nth = 0;
  std::optional<int> vcpu;  // KvmStat
  // Whether the term reads what only kernel tracing records (kernel events,
  // stacks, the kernel's spans, the chains).
  bool NeedsTracing() const;
  bool NeedsKvmStats() const { return kind == Kind::KvmStat; }
};

struct Query {
  std::string source;        // as written
  std::vector<Term> terms;   // joined by ops: terms.size() == ops.size() + 1
  std::vector<char> ops;     // '+', '-', '*', '/'
  // A comparison makes the query a yes/no: lhs (terms) CMP rhs.
  std::string compare;  // "", ">", "<", ">=", "<=", "==", "!="
  std::vector<Term> rhs_terms;
  std::vector<char> rhs_ops;
  bool NeedsTracing() const;
  bool NeedsKvmStats() const;
};

// Parses a query; on error returns the message (what was expected, where in
// the text).
std::variant<Query, std::string> ParseQuery(const std::string& text);
// Parses a selector alone (a lab's "look at" links).
std::variant<Selector, std::string> ParseSelector(const std::string& text);

// What a query evaluates to.
struct Value {
  enum class Kind { Number, Text, Set, YesNo } kind = Kind::Number;
  double number = 0;
  bool duration = false;  // number is nanoseconds
  std::string text;       // Text; for a Number from a field, the field's decoded text
  std::vector<std::string> set;  // Set: every member is a right answer
  bool yes = false;
  // How a student would write it: "26", "12.4 us", "kvm_mmu_page_fault", "yes";
  // a field by the first word of its decoded text ("0x3f8", "KVM_EXIT_IO").
  std::string Show() const;
};

// Evaluates a query over a trace: a value, or why it cannot be answered from
// this trace (`skipped`: it needs kernel tracing or KVM's counters and the
// trace has none, saying why), or an error (`error`: e.g. no such event).
struct Outcome {
  std::optional<Value> value;
  std::string skipped;
  std::string error;
};
Outcome Evaluate(const Query& query, const traces::TraceData& trace);

// The events a selector picks, in time order over all tracks; with `first`
// only the earliest.
std::vector<traces::EventRef> Select(const Selector& selector, const traces::TraceData& trace);

}  // namespace kvmscope::lab

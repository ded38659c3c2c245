// The matching of the four KVM call chains (their data: knowledge/chains.h)
// against one kernel: which function implements each step there, and
// whether captured stacks went through it.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "knowledge/chains.h"
#include "traces/symbols.h"

namespace kvmscope::traces {

// The chains' data and the words they are stated in live in knowledge/.
using knowledge::Alternative;
using knowledge::BackendVendor;
using knowledge::Chain;
using knowledge::ChainEdge;
using knowledge::ChainId;
using knowledge::ChainIdFromName;
using knowledge::ChainNode;
using knowledge::Chains;
using knowledge::EdgeKind;
using knowledge::FormatRange;
using knowledge::FormatVersion;
using knowledge::GetChain;
using knowledge::ImpliedStep;
using knowledge::ImpliedSteps;
using knowledge::kAllChains;
using knowledge::KernelVersion;
using knowledge::kNewestKernel;
using knowledge::kOldestKernel;
using knowledge::ParseKernelRelease;
using knowledge::Paging;
using knowledge::PagingName;
using knowledge::Phase;
using knowledge::SourceFile;
using knowledge::Vendor;
using knowledge::VendorName;
using knowledge::VersionRange;

// Where a kernel function's code ran inside one VM exit, in the order the
// trace's events showed it: a kprobe/fentry event on the function, or a
// frame of an event's captured stack.
struct Sighting {
  std::string function;  // base name
  std::string how;       // "kprobe on svm_handle_exit", "stack of kvm_page_fault"
  bool operator==(const Sighting&) const = default;
};
// One VM exit on one vCPU thread (kvm_exit or the exit handler's probe up to
// the next kvm_entry or the end of KVM_RUN): its decoded reason and what its
// events showed; identical exits merged with a count.
struct ExitSightings {
  std::string reason;  // "NPF", "EPT_VIOLATION", "EXCP_UD"; "" without kvm_exit
  std::vector<Sighting> seen;
  uint64_t count = 0;
};
// The rule of Chain::entry, one for matching (which stacks count for a step)
// and for the path of one stack (which steps it lights): the functions one of
// which must be a frame outer of step `node`'s own for a stack to light it.
// The entry's functions when the step lies below the entry (reached from it
// by Calls links), else none: any stack through the step lights it.
std::vector<std::string_view> EntryGate(const Chain& chain, size_t node);

// Every kernel function that any chain step or seed claim names, sorted, once
// each. A trace keeps the kernel's symbols of these (ChainSymbols) so that a
// loaded trace answers the same questions as the live kernel.
std::vector<std::string> ChainSymbolNames();
// A symbol name without the compiler's suffix: "__pvm_handle_exit.isra.0" →
// "__pvm_handle_exit", "kvm_init.cold" → "kvm_init".
std::string_view BaseName(std::string_view symbol);
// The symbols of `all` whose base name is one of ChainSymbolNames().
std::vector<Symbol> ChainSymbols(const SymbolTable& all);

// --- One kernel, as seen ------------------------------------------------------

// One captured stack and how many events carried it.
struct StackUse {
  Stack frames;  // innermost first, as captured
  uint64_t count = 0;
};

struct FunctionUse {
  size_t stacks = 0;
  uint64_t events = 0;
};

// Stacks in which `caller` is a frame outer of `callee`.
struct LinkUse {
  size_t stacks = 0;
  uint64_t events = 0;
  size_t direct_stacks = 0;  // ... with no frame between them
  uint64_t direct_events = 0;
  std::vector<std::string> via;  // the frames between, in the most used indirect stack
};

// Everything the chains and the seed check ask of a kernel, computed once:
// which functions exist (compiler suffixes ignored), the stacks as function
// names, the backend, the paging mode and the version. Fed live (kallsyms,
// captured stacks, uname) or from a trace file. Defined in kernel_facts.cpp.
class KernelFacts {
 public:
  // ioctl_counts: VM-creation ioctls seen live, by name ("KVM_CREATE_VM").
  // kernel_symbol_count: how many symbols the kernel has, when `symbols` is
  // a subset kept in a trace; 0 means symbols.size(). backend: the vendor
  // the host reported (BackendVendor), used when neither stacks nor
  // symbols name a vendor exit handler (a trace without kernel data).
  KernelFacts(const SymbolTable& symbols, const std::vector<StackUse>& stacks,
              std::string_view release, std::map<std::string, uint64_t> ioctl_counts = {},
              size_t kernel_symbol_count = 0, Vendor backend = Vendor::Any);

  bool Has(std::string_view function) const;
  FunctionUse Through(std::string_view function) const;
  LinkUse Link(std::string_view caller, std::string_view callee) const;
  // The functions right above (callers) / below (callees) `function` in the
  // stacks, by events, most first.
  std::vector<std::pair<std::string, uint64_t>> Callers(std::string_view function) const;
  std::vector<std::pair<std::string, uint64_t>> Callees(std::string_view function) const;
  uint64_t IoctlCount(std::string_view ioctl) const;
  // The VM exits a trace showed (FactsOf fills them; live facts have none).
  void SetExits(std::vector<ExitSightings> exits) { m_exits = std::move(exits); }
  const std::vector<ExitSightings>& exits() const { return m_exits; }

  // Whether anything of the kernel was recorded: symbols or stacks. Without,
  // nothing can be said of any function (the kernel was not traced).
  bool has_kernel_data() const { return !m_names.empty() || !m_stacks.empty(); }
  Vendor vendor() const { return m_vendor; }  // Any: no vendor exit handler found
  Paging paging() const { return m_paging; }  // Any: could not tell
  // The paging mode as the host's vendor module parameter says (HostFacts::
  // TwoDimensionalPaging: kvm_intel.ept, kvm_amd.npt; PVM always shadow),
  // with what said so ("kvm_amd.npt=Y"): configuration beats the stacks,
  // which show the mode only once a fault was captured. nullopt: unchanged.
  void SetPagingFromHost(std::optional<bool> two_dimensional, std::string how);
  // The host's vendor module parameters as recorded ("kvm.tdp_mmu" → "Y"),
  // and one of them as a flag: nullopt when not recorded.
  void SetModuleParams(std::map<std::string, std::string> params) { m_params = std::move(params); }
  std::optional<bool> ParamOn(std::string_view key) const;
  const std::optional<KernelVersion>& version() const { return m_version; }
  const std::string& release() const { return m_release; }
  size_t symbol_count() const { return m_symbol_count; }
  size_t stack_count() const { return m_stacks.size(); }
  uint64_t event_count() const;
  // "6.18 (PVM, shadow paging)"
  std::string Describe() const;

 private:
  struct NamedStack {
    std::vector<std::string> frames;  // base names, outermost first
    uint64_t count = 0;
  };
  std::vector<std::pair<std::string, uint64_t>> Neighbours(std::string_view function,
                                                           int direction) const;

  std::unordered_set<std::string> m_names;  // base names of every symbol
  std::vector<NamedStack> m_stacks;
  std::map<std::string, uint64_t> m_ioctls;
  std::vector<ExitSightings> m_exits;
  std::string m_release;
  std::optional<KernelVersion> m_version;
  size_t m_symbol_count = 0;
  Vendor m_vendor = Vendor::Any;
  Paging m_paging = Paging::Any;
  std::string m_paging_how = "seen in stacks";  // what decided m_paging
  std::map<std::string, std::string> m_params;
};

// --- Matching -----------------------------------------------------------------

// Observed: a captured stack passed through it (count = events of those
// stacks). PresentNotObserved: the symbol exists, no stack went through it.
// Absent: no symbol (never shown as observed). NotApplicable: for another
// vendor, paging mode or kernel version.
enum class NodeStatus { Observed, PresentNotObserved, Absent, NotApplicable };
// Why a step has no symbol. Inlined: stacks go from its caller straight to
// what it calls (or its ioctl was made), so its code runs inside the caller.
// InitCodeFreed: an __init function of a module. NotInSymbols: neither.
// NotTraced: the trace has no kernel data at all (no symbols, no stacks), so
// nothing is known of this step on this kernel. Decided once per kernel over
// all chains: a function has the same reason on every chain it is a step of.
enum class AbsentReason { None, Inlined, InitCodeFreed, NotInSymbols, NotTraced };

struct AlternativeMatch {
  NodeStatus status = NodeStatus::Absent;
  FunctionUse use;
  std::string note;  // "VMX only", "until 3.19", "present although DESIGN.md says ≥6.3"
};

struct NodeMatch {
  const ChainNode* node = nullptr;
  const Alternative* chosen = nullptr;  // the function for this kernel; never null
  // What to call the step: chosen's function, or one function per vendor
  // ("vmx_handle_exit / svm_handle_exit / pvm_handle_exit") when the vendor
  // is unknown and the step differs per vendor.
  std::string label;
  NodeStatus status = NodeStatus::Absent;
  AbsentReason absent_reason = AbsentReason::None;
  std::string inlined_into;                    // the caller's function when Inlined
  uint64_t count = 0;                          // events through it (0 unless Observed)
  // PresentNotObserved, yet proved to run: it only runs as a tail call (no
  // frame of its own in any stack) and, in some chain, the link into it and
  // the link out of it are both observed through a tail call. tail_exits:
  // the exits of the link into it; tail_note: the links and their evidence.
  // Never shown as plain "observed".
  uint64_t tail_exits = 0;
  std::string tail_note;
  uint64_t ioctl_count = 0;                    // Setup steps: how often its ioctl was made
  std::string_view source_file;                // of `chosen`, for this kernel's version
  std::string note;                            // why n/a, or a remark on the version
  std::vector<AlternativeMatch> alternatives;  // parallel to node->alternatives
};

// ObservedTailCall: no stack shows the link (the caller jumps to the callee,
// its frame vanishes) but the trace's events prove it ran: see EdgeMatch::note.
enum class EdgeStatus { Observed, ObservedTailCall, NotObserved, Unobservable, NotApplicable };

struct EdgeMatch {
  const ChainEdge* edge = nullptr;
  EdgeStatus status = EdgeStatus::NotObserved;
  LinkUse use;
  std::string note;  // "through inlined vcpu_enter_guest", "not a call: ..."
  uint64_t tail_exits = 0;  // ObservedTailCall: the exits that proved it
  std::string tail_evidence;  // ObservedTailCall: what those exits showed, in order
};

struct ChainMatch {
  const Chain* chain = nullptr;
  Vendor vendor = Vendor::Any;
  Paging paging = Paging::Any;
  std::optional<KernelVersion> version;
  std::string kernel;            // KernelFacts::Describe()
  // How layout markers were decided: "by symbols (kvm_x86_vendor_init is a
  // symbol)", "by version (no symbols)"; "" when the chain has none.
  std::string layout;
  std::vector<NodeMatch> nodes;  // parallel to chain->nodes
  std::vector<EdgeMatch> edges;  // parallel to chain->edges
  const NodeMatch* Node(std::string_view id) const;
  const EdgeMatch* Edge(std::string_view from, std::string_view to) const;
};

// Matched in chain_match.cpp. Both look at every chain to decide why a step
// has no symbol, so MatchChain(id) agrees with MatchChains()[id].
ChainMatch MatchChain(ChainId id, const KernelFacts& facts);
std::vector<ChainMatch> MatchChains(const KernelFacts& facts);

// "[observed 1234]", "[present, not seen]", "[absent: inlined into x]", "[n/a: VMX only]",
// "[kernel not traced]", "[observed through a tail call, 30 exits: a → b → c, ...]"
std::string NodeMark(const NodeMatch& node);
std::string AlternativeMark(const AlternativeMatch& alternative);  // "[absent]", ...
std::string EdgeMark(const EdgeMatch& edge);
// The chain for the terminal: a title line, one line per step (function,
// mark, source file for this version) with its teaching sentence and the
// other alternatives, then the links.
// sources: also where each step's function and sentence were checked
// (`kvmscope chains --sources`); what is unverified is said either way.
std::vector<std::string> FormatChain(const ChainMatch& match, bool sources = false);
// Where the step's function on this kernel (the chosen alternative) and its
// sentence were checked: "function: 4.0.4 arch/...; sentence: 6.1-rc7 ...".
// `unverified` when either could not be checked.
struct StepEvidence {
  std::string text;
  bool unverified = false;
};
StepEvidence EvidenceOf(const NodeMatch& node);

// --- The observed call tree ---------------------------------------------------

// All captured stacks merged, outermost first (as ChainFrames gives them).
// count: events whose stacks pass through this path; children most first.
struct CallTreeNode {
  std::string name;  // "" for the root
  uint64_t count = 0;
  std::vector<CallTreeNode> children;
};
CallTreeNode BuildCallTree(const std::vector<StackUse>& stacks, const SymbolTable& symbols);

struct CallTreeOptions {
  size_t max_depth = 64;   // levels below the root
  uint64_t min_count = 1;  // hide paths with fewer events
};
// "kvm_vcpu_ioctl (1234)", "└─ kvm_arch_vcpu_ioctl_run (1234)", ...
std::vector<std::string> FormatCallTree(const CallTreeNode& root,
                                        const CallTreeOptions& options = {});

}  // namespace kvmscope::traces

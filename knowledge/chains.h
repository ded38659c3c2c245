// The four KVM call chains kvmscope teaches (init, run loop, exceptions, page
// faults) as data: for each step the kernel functions that implement it, on
// which vendor, paging mode and versions, in which source file, with where
// each fact was checked. Matching them against one kernel is traces/'s job
// (traces/chains.h).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "knowledge/kernel.h"

namespace kvmscope::knowledge {

// The source file of a function over a range of versions.
struct SourceFile {
  VersionRange versions;
  std::string_view path;  // "arch/x86/kvm/vmx/vmx.c"
  Evidence evidence;      // of the path over `versions` (a move has both sides)
};

// One kernel function that implements a step on some vendors and versions.
struct Alternative {
  std::string_view function;  // exactly as in the kernel
  Vendor vendor = Vendor::Any;
  Paging paging = Paging::Any;
  VersionRange versions;  // where the function exists (per DESIGN.md / the sources)
  std::vector<SourceFile> files;
  // An __init function: a module drops its symbol once loaded (built-in
  // kernels keep it).
  bool init_text = false;
  // Where the function, its file and `versions` were checked.
  Evidence evidence;
  // A layout marker: when not empty, whether this function is a step here
  // is decided by whether `if_symbol` is a symbol of the kernel (backports
  // make version numbers lie); `versions` decides only without symbols.
  std::string_view if_symbol;
  bool if_present = true;
  // Configuration: when not empty, a boolean module parameter ("kvm.tdp_mmu")
  // that must be on for this function to be the step. Decided where the
  // host's value was recorded (HostFacts::module_params), else not at all.
  std::string_view if_param;
};

// When a step runs, which decides how it can be seen. Load: module init,
// never in a captured stack. Setup: a VM/vCPU creation ioctl, known from the
// ioctl counts. Run: inside KVM_RUN, where captured stacks see it.
enum class Phase { Load, Setup, Run };

struct ChainNode {
  std::string_view id;    // "vendor_exit"
  std::string_view step;  // "vendor exit handler"
  Phase phase = Phase::Run;
  std::string_view ioctl;                 // "KVM_CREATE_VM" for Setup steps, "" otherwise
  std::vector<Alternative> alternatives;  // in order of preference
  std::string_view teaching;              // one sentence for the student
  Evidence evidence;                      // of the teaching sentence
};

// Calls: the caller's frame is on the stack while the callee runs, so a stack
// can show it. Later: not a call; the second step happens afterwards (a
// registered handler runs on a later ioctl, a queued exception is injected on
// the next entry, the VM exit returns before the handler runs).
enum class EdgeKind { Calls, Later };

struct ChainEdge {
  std::string_view from, to;  // node ids
  EdgeKind kind = EdgeKind::Calls;
  Vendor vendor = Vendor::Any;
  Paging paging = Paging::Any;
  VersionRange versions;
  std::string_view note;  // "registers kvm_vcpu_fops", "" if nothing to add
  // As Alternative::if_symbol: the layout marker deciding before `versions`.
  std::string_view if_symbol;
  bool if_present = true;
  // The caller can jump to the callee (a tail call: `return callee(...)`,
  // checked in the source named here), so its frame can vanish from stacks.
  std::string_view tail_call;
  Evidence evidence;  // of the call (or of what happens later) and its versions
  std::string_view if_param;  // as Alternative::if_param
};

// What an exit reason fixes in the source: in an exit of `reason` on
// `vendor`, `function` runs right after `after` (the exit table hands the
// reason to its handler; EPT/NPT makes kvm_tdp_page_fault the MMU's handler).
struct ImpliedStep {
  Vendor vendor = Vendor::Any;
  std::string_view reason;    // decoded exit reason
  std::string_view after;     // function it runs after ("" = first in the exit)
  std::string_view function;  // what the reason fixes
  Evidence evidence;          // where that was checked
};
// The table above, for the exits whose handlers the chains show.
const std::vector<ImpliedStep>& ImpliedSteps();

enum class ChainId { Init, RunLoop, Exceptions, PageFaults };
inline constexpr ChainId kAllChains[] = {ChainId::Init, ChainId::RunLoop, ChainId::Exceptions,
                                         ChainId::PageFaults};

struct Chain {
  ChainId id = ChainId::Init;
  std::string_view name;   // "init", "run", "exceptions", "page-faults" (for the CLI)
  std::string_view title;  // "VM and module initialization"
  std::string_view summary;
  std::vector<ChainNode> nodes;  // outermost step first
  std::vector<ChainEdge> edges;
  // The step every stack must pass through to light a step below it (the
  // page-fault chain: kvm_mmu_page_fault, so that the instruction decoder's
  // own page-table walk does not light the fault's walk); "" for none.
  std::string_view entry;
  const ChainNode* Node(std::string_view id) const;  // nullptr if unknown
};

const std::vector<Chain>& Chains();  // in kAllChains order
const Chain& GetChain(ChainId id);
std::optional<ChainId> ChainIdFromName(std::string_view name);  // "run" → RunLoop

}  // namespace kvmscope::knowledge

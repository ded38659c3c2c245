// Questions about the chain graphs that the views ask: which step a kernel
// function is (in one chain or across all), which step a seed claim is about,
// and the path a captured stack takes through a chain, with the links between
// its steps (through steps that have no frame of their own).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "traces/chains.h"
#include "traces/seed_check.h"

namespace kvmscope::traces {

// The step of `chain` one of whose functions is `function` (compiler
// suffixes ignored: "__pvm_handle_exit.isra.0" is __pvm_handle_exit), by
// index into chain.nodes; nullopt when no step names it.
std::optional<size_t> ChainNodeOf(const Chain& chain, std::string_view function);

// A step of one chain.
struct ChainNodeRef {
  ChainId chain = ChainId::Init;
  size_t node = 0;  // index into GetChain(chain).nodes
  bool operator==(const ChainNodeRef&) const = default;
};
// Every step, over all chains (in kAllChains order), that `function` is:
// pvm_handle_native_exit is a step of both the exceptions and the page-fault
// chain.
std::vector<ChainNodeRef> ChainNodesOf(std::string_view function);

// The links from step `from` to step `to` of a matched chain: a Calls edge,
// or a run of them through steps that have no symbol here (their code runs
// inlined); edges n/a on this kernel are not taken. Shortest first; empty
// when there is no such route. Indices into match.chain->edges.
std::vector<size_t> RouteBetween(const ChainMatch& match, size_t from, size_t to);

// The steps of one chain a captured stack passes through, in the stack's
// order (outermost first), and between consecutive steps the links taken:
// direct calls or calls through steps that have no frame (inlined). A route
// is empty when the chain has no such link.
struct ChainPath {
  std::vector<size_t> nodes;                // indices into the chain's nodes
  std::vector<std::vector<size_t>> routes;  // routes[i]: edge indices nodes[i] → nodes[i + 1]
};
// frames: function names outermost first, as ChainFrames gives them. A step
// below the chain's entry is on the path only when an outer frame is the
// entry (EntryGate, the rule matching uses).
ChainPath PathThrough(const ChainMatch& match, const std::vector<std::string>& frames);

// The seed's claim about a chain mapped to the step it names (the function it
// is about, else its other function, else a function it is checked against);
// -1 when no step of the chain names any of them.
int NodeOfClaim(const Chain& chain, const SeedClaim& claim);

}  // namespace kvmscope::traces

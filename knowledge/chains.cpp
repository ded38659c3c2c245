// The four call chains (see chains.h and docs/kernel-facts.md): their order,
// lookup by id and name. The rows are in chains_*.cpp, built with
// chain_rows.h.
#include "knowledge/chain_rows.h"

namespace kvmscope::knowledge {

const ChainNode* Chain::Node(std::string_view node_id) const {
  for (const ChainNode& n : nodes)
    if (n.id == node_id) return &n;
  return nullptr;
}

const std::vector<Chain>& Chains() {
  static const std::vector<Chain> chains = {rows::InitChain(), rows::RunLoopChain(),
                                            rows::ExceptionsChain(), rows::PageFaultsChain()};
  return chains;
}

const Chain& GetChain(ChainId id) {
  return Chains()[static_cast<size_t>(id)];
}

std::optional<ChainId> ChainIdFromName(std::string_view name) {
  for (const Chain& c : Chains())
    if (c.name == name) return c.id;
  if (name == "run-loop" || name == "runloop") return ChainId::RunLoop;
  if (name == "pagefaults" || name == "page-fault" || name == "pf") return ChainId::PageFaults;
  return std::nullopt;
}

}  // namespace kvmscope::knowledge

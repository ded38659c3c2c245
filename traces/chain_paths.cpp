// The chain-graph questions of chain_paths.h: steps of a function or a claim,
// routes between steps, the path of a stack. Pure functions over the chain
// tables and one chain's match.
#include "traces/chain_paths.h"

#include <algorithm>
#include <deque>

namespace kvmscope::traces {

namespace {

size_t IndexOf(const Chain& chain, std::string_view id) {
  for (size_t i = 0; i < chain.nodes.size(); ++i)
    if (chain.nodes[i].id == id) return i;
  return chain.nodes.size();
}

}  // namespace

std::optional<size_t> ChainNodeOf(const Chain& chain, std::string_view function) {
  const std::string_view base = BaseName(function);
  for (size_t i = 0; i < chain.nodes.size(); ++i)
    for (const Alternative& alt : chain.nodes[i].alternatives)
      if (alt.function == base) return i;
  return std::nullopt;
}

std::vector<ChainNodeRef> ChainNodesOf(std::string_view function) {
  std::vector<ChainNodeRef> refs;
  for (ChainId id : kAllChains)
    if (const std::optional<size_t> node = ChainNodeOf(GetChain(id), function))
      refs.push_back({id, *node});
  return refs;
}

std::vector<size_t> RouteBetween(const ChainMatch& match, size_t from, size_t to) {
  if (match.chain == nullptr) return {};
  const Chain& chain = *match.chain;
  if (from >= chain.nodes.size() || to >= chain.nodes.size() ||
      match.nodes.size() != chain.nodes.size())
    return {};
  // Breadth first, so the shortest route wins.
  std::vector<int> via_edge(chain.nodes.size(), -1);
  std::vector<bool> seen(chain.nodes.size(), false);
  std::deque<size_t> todo{from};
  seen[from] = true;
  while (!todo.empty()) {
    const size_t at = todo.front();
    todo.pop_front();
    for (size_t e = 0; e < chain.edges.size(); ++e) {
      const ChainEdge& edge = chain.edges[e];
      if (edge.kind != EdgeKind::Calls || IndexOf(chain, edge.from) != at) continue;
      if (e < match.edges.size() && match.edges[e].status == EdgeStatus::NotApplicable) continue;
      const size_t next = IndexOf(chain, edge.to);
      if (next >= chain.nodes.size() || seen[next]) continue;
      if (next != to && match.nodes[next].status != NodeStatus::Absent) continue;
      seen[next] = true;
      via_edge[next] = static_cast<int>(e);
      if (next == to) {
        std::vector<size_t> route;
        for (size_t n = to; n != from;) {
          const size_t edge_index = static_cast<size_t>(via_edge[n]);
          route.push_back(edge_index);
          n = IndexOf(chain, chain.edges[edge_index].from);
        }
        std::reverse(route.begin(), route.end());
        return route;
      }
      todo.push_back(next);
    }
  }
  return {};
}

ChainPath PathThrough(const ChainMatch& match, const std::vector<std::string>& frames) {
  ChainPath path;
  if (match.chain == nullptr || match.nodes.size() != match.chain->nodes.size()) return path;
  for (size_t k = 0; k < frames.size(); ++k) {
    const std::optional<size_t> node = ChainNodeOf(*match.chain, frames[k]);
    if (!node || std::find(path.nodes.begin(), path.nodes.end(), *node) != path.nodes.end())
      continue;
    // Below the chain's entry only a stack through the entry lights a step,
    // as in matching: the decoder's own walk is not the fault's.
    const std::vector<std::string_view> gate = EntryGate(*match.chain, *node);
    const bool through =
        gate.empty() ||
        std::any_of(frames.begin(), frames.begin() + k, [&](const std::string& outer) {
          return std::find(gate.begin(), gate.end(), BaseName(outer)) != gate.end();
        });
    if (through) path.nodes.push_back(*node);
  }
  for (size_t i = 0; i + 1 < path.nodes.size(); ++i)
    path.routes.push_back(RouteBetween(match, path.nodes[i], path.nodes[i + 1]));
  return path;
}

int NodeOfClaim(const Chain& chain, const SeedClaim& claim) {
  std::vector<std::string_view> names{claim.function, claim.other};
  for (const auto& [first, second] : claim.here) {
    names.push_back(first);
    names.push_back(second);
  }
  for (std::string_view name : names) {
    if (name.empty()) continue;
    if (const std::optional<size_t> node = ChainNodeOf(chain, name)) return static_cast<int>(*node);
  }
  return -1;
}

}  // namespace kvmscope::traces

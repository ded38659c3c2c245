// Matching the chains against one kernel's facts: per step the function this
// kernel uses and whether stacks went through it, per link whether a stack
// showed it; why a step has no symbol is decided once per kernel, over every
// chain, so that one function has one status in all chains.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "traces/chains.h"

namespace kvmscope::traces {

namespace {

bool Fits(Vendor need, Vendor have) {
  return need == Vendor::Any || have == Vendor::Any || need == have;
}
bool Fits(Paging need, Paging have) {
  return need == Paging::Any || have == Paging::Any || need == have;
}

// "VMX only", "EPT only", "shadow paging only", "until 3.19", "from 6.3"; ""
// when the condition holds on this kernel.
std::string Unmet(Vendor vendor, Paging paging, const VersionRange& versions,
                  const KernelFacts& facts) {
  if (!Fits(vendor, facts.vendor())) return fmt::format("{} only", VendorName(vendor));
  if (!Fits(paging, facts.paging())) {
    if (paging == Paging::Shadow) return "shadow paging only";
    return vendor == Vendor::Vmx ? "EPT only" : vendor == Vendor::Svm ? "NPT only" : "EPT/NPT only";
  }
  if (facts.version() && !versions.Contains(*facts.version()))
    return *facts.version() < versions.min ? "from " + FormatVersion(versions.min)
                                           : "until " + FormatVersion(versions.max);
  return {};
}

AlternativeMatch MatchAlternative(const Alternative& alt, const KernelFacts& facts) {
  AlternativeMatch m;
  m.use = facts.Through(alt.function);
  const std::string unmet = Unmet(alt.vendor, alt.paging, alt.versions, facts);
  const bool version_only = !unmet.empty() && Unmet(alt.vendor, alt.paging, {}, facts).empty();
  // What the kernel shows beats what the tables expect: an observed frame is
  // never n/a, and an existing symbol outside its version range is a remark.
  if (m.use.stacks > 0) {
    m.status = NodeStatus::Observed;
  } else if (!unmet.empty() && !(version_only && facts.Has(alt.function))) {
    m.status = NodeStatus::NotApplicable;
    m.note = unmet;
  } else {
    m.status = facts.Has(alt.function) ? NodeStatus::PresentNotObserved : NodeStatus::Absent;
  }
  if (m.status != NodeStatus::NotApplicable && version_only)
    m.note = fmt::format("present although expected {}", FormatRange(alt.versions));
  return m;
}

std::string_view FileFor(const Alternative& alt, const std::optional<KernelVersion>& version) {
  if (alt.files.empty()) return {};
  if (version)
    for (const SourceFile& f : alt.files)
      if (f.versions.Contains(*version)) return f.path;
  return version && *version < alt.files.front().versions.min ? alt.files.front().path
                                                              : alt.files.back().path;
}

bool IsPresent(NodeStatus s) {
  return s == NodeStatus::Observed || s == NodeStatus::PresentNotObserved;
}

// The functions of a node that exist on this kernel, observed ones first.
std::vector<std::string_view> PresentNames(const NodeMatch& n) {
  std::vector<std::string_view> names;
  for (NodeStatus want : {NodeStatus::Observed, NodeStatus::PresentNotObserved})
    for (size_t i = 0; i < n.alternatives.size(); ++i)
      if (n.alternatives[i].status == want) names.push_back(n.node->alternatives[i].function);
  return names;
}

// A step without a symbol whose code a stack showed running inside a caller.
struct InlinedStep {
  std::string caller;
  uint64_t events = 0;  // of the link that showed it
};
// By function: what the chains together show about steps without a symbol.
using InlinedSteps = std::map<std::string, InlinedStep, std::less<>>;

// One per vendor, for a kernel whose vendor is unknown: "vmx_handle_exit /
// svm_handle_exit / pvm_handle_exit"; the chosen function when the step is
// the same on every vendor or the vendor is known.
std::string LabelOf(const NodeMatch& n, Vendor kernel_vendor) {
  const std::vector<Alternative>& alts = n.node->alternatives;
  const bool per_vendor = std::any_of(alts.begin(), alts.end(),
                                      [](const Alternative& a) { return a.vendor != Vendor::Any; });
  if (kernel_vendor != Vendor::Any || !per_vendor) return std::string(n.chosen->function);
  std::string label;
  std::vector<Vendor> named;
  for (size_t i = 0; i < alts.size(); ++i) {
    if (n.alternatives[i].status == NodeStatus::NotApplicable) continue;
    if (std::find(named.begin(), named.end(), alts[i].vendor) != named.end()) continue;
    named.push_back(alts[i].vendor);
    label += fmt::format("{}{}", label.empty() ? "" : " / ", alts[i].function);
  }
  return label.empty() ? std::string(n.chosen->function) : label;
}

class Matcher {
 public:
  // inlined: what every chain shows about steps without a symbol (nullptr:
  // only this chain's own links, for the pass that gathers it).
  Matcher(const Chain& chain, const KernelFacts& facts, const InlinedSteps* inlined)
      : m_chain(chain), m_facts(facts), m_inlined(inlined) {}

  // found: the steps this chain alone shows inlined, with the link's events.
  ChainMatch Run(InlinedSteps* found = nullptr) {
    m_found = found;
    m_match.chain = &m_chain;
    m_match.vendor = m_facts.vendor();
    m_match.paging = m_facts.paging();
    m_match.version = m_facts.version();
    m_match.kernel = m_facts.Describe();
    for (const ChainNode& node : m_chain.nodes) m_match.nodes.push_back(MatchNode(node));
    for (const ChainEdge& edge : m_chain.edges)
      m_applies.push_back(Unmet(edge.vendor, edge.paging, edge.versions, m_facts).empty());
    for (size_t i = 0; i < m_match.nodes.size(); ++i)
      if (m_match.nodes[i].status == NodeStatus::Absent) ExplainAbsence(i);
    for (size_t e = 0; e < m_chain.edges.size(); ++e) m_match.edges.push_back(MatchEdge(e));
    return std::move(m_match);
  }

 private:
  NodeMatch MatchNode(const ChainNode& node) {
    NodeMatch n;
    n.node = &node;
    for (const Alternative& alt : node.alternatives)
      n.alternatives.push_back(MatchAlternative(alt, m_facts));
    auto first = [&](NodeStatus s) -> int {
      for (size_t i = 0; i < n.alternatives.size(); ++i)
        if (n.alternatives[i].status == s) return static_cast<int>(i);
      return -1;
    };
    int chosen = -1;
    for (size_t i = 0; i < n.alternatives.size(); ++i)
      if (n.alternatives[i].status == NodeStatus::Observed &&
          (chosen < 0 || n.alternatives[i].use.events > n.alternatives[chosen].use.events))
        chosen = static_cast<int>(i);
    if (chosen < 0) chosen = first(NodeStatus::PresentNotObserved);
    if (chosen < 0) chosen = first(NodeStatus::Absent);
    if (chosen < 0) {  // n/a everywhere: show the alternative of this vendor
      for (size_t i = 0; i < node.alternatives.size() && chosen < 0; ++i)
        if (Fits(node.alternatives[i].vendor, m_facts.vendor())) chosen = static_cast<int>(i);
      chosen = std::max(chosen, 0);
    }
    const AlternativeMatch& c = n.alternatives[static_cast<size_t>(chosen)];
    n.chosen = &node.alternatives[static_cast<size_t>(chosen)];
    n.status = c.status;
    n.count = c.status == NodeStatus::Observed ? c.use.events : 0;
    n.note = c.note;
    n.source_file = FileFor(*n.chosen, m_facts.version());
    if (!node.ioctl.empty() && node.phase == Phase::Setup)
      n.ioctl_count = m_facts.IoctlCount(node.ioctl);
    n.label = LabelOf(n, m_facts.vendor());
    return n;
  }

  size_t Index(std::string_view id) const {
    for (size_t i = 0; i < m_chain.nodes.size(); ++i)
      if (m_chain.nodes[i].id == id) return i;
    return m_chain.nodes.size();
  }

  // The nearest present nodes above (up) or below a node, reached through
  // Calls edges that apply here and nodes without a symbol.
  std::vector<size_t> PresentAround(size_t start, bool up) const {
    std::vector<size_t> found, todo{start};
    std::vector<bool> seen(m_chain.nodes.size(), false);
    seen[start] = true;
    while (!todo.empty()) {
      const size_t at = todo.back();
      todo.pop_back();
      for (size_t e = 0; e < m_chain.edges.size(); ++e) {
        const ChainEdge& edge = m_chain.edges[e];
        if (edge.kind != EdgeKind::Calls || !m_applies[e]) continue;
        const size_t from = Index(edge.from), to = Index(edge.to);
        const size_t next = up ? from : to;
        if ((up ? to : from) != at || next >= seen.size() || seen[next]) continue;
        seen[next] = true;
        if (IsPresent(m_match.nodes[next].status))
          found.push_back(next);
        else
          todo.push_back(next);
      }
    }
    return found;
  }

  // Whether some stack goes from one of `callers` to `callee` (best pair).
  std::pair<LinkUse, std::string_view> BestLink(const std::vector<size_t>& callers,
                                                size_t callee) const {
    LinkUse best;
    std::string_view via;
    for (size_t a : callers)
      for (std::string_view from : PresentNames(m_match.nodes[a]))
        for (std::string_view to : PresentNames(m_match.nodes[callee])) {
          LinkUse link = m_facts.Link(from, to);
          if (link.events > best.events || (link.stacks > 0 && best.stacks == 0)) {
            best = std::move(link);
            via = from;
          }
        }
    return {best, via};
  }

  void ExplainAbsence(size_t i) {
    NodeMatch& n = m_match.nodes[i];
    if (!m_facts.has_kernel_data()) {
      n.absent_reason = AbsentReason::NotTraced;
      return;
    }
    // What all chains showed decides, so that a function reads the same on
    // every chain it is a step of.
    if (m_inlined != nullptr) {
      const auto it = m_inlined->find(n.chosen->function);
      if (it != m_inlined->end()) {
        n.absent_reason = AbsentReason::Inlined;
        n.inlined_into = it->second.caller;
        return;
      }
    } else if (const std::optional<InlinedStep> step = InlinedHere(i); step && m_found) {
      InlinedStep& known = (*m_found)[std::string(n.chosen->function)];
      if (known.caller.empty() || step->events > known.events) known = *step;
    }
    n.absent_reason =
        n.chosen->init_text ? AbsentReason::InitCodeFreed : AbsentReason::NotInSymbols;
  }

  // Whether this chain's links show step i's code running inside a caller:
  // a stack goes from a present step above it straight to one below it, or
  // it is a creation step whose ioctl was made.
  std::optional<InlinedStep> InlinedHere(size_t i) const {
    const NodeMatch& n = m_match.nodes[i];
    const std::vector<size_t> above = PresentAround(i, true), below = PresentAround(i, false);
    for (size_t d : below) {
      auto [link, caller] = BestLink(above, d);
      if (link.stacks > 0) return InlinedStep{std::string(caller), link.events};
    }
    if (n.ioctl_count > 0 && !above.empty() && !PresentNames(m_match.nodes[above[0]]).empty())
      return InlinedStep{std::string(PresentNames(m_match.nodes[above[0]]).front()), 0};
    return std::nullopt;
  }

  EdgeMatch MatchEdge(size_t e) const {
    const ChainEdge& edge = m_chain.edges[e];
    EdgeMatch m;
    m.edge = &edge;
    const size_t from = Index(edge.from), to = Index(edge.to);
    const NodeMatch& caller = m_match.nodes[from];
    const NodeMatch& callee = m_match.nodes[to];
    auto set = [&](EdgeStatus s, std::string note) {
      m.status = s;
      m.note = std::move(note);
      return m;
    };
    if (!m_applies[e])
      return set(EdgeStatus::NotApplicable,
                 Unmet(edge.vendor, edge.paging, edge.versions, m_facts));
    for (const NodeMatch* n : {&caller, &callee})
      if (n->status == NodeStatus::NotApplicable)
        return set(EdgeStatus::NotApplicable, fmt::format("{} n/a here", n->chosen->function));
    if (edge.kind == EdgeKind::Later)
      return set(EdgeStatus::Unobservable, fmt::format("not a call: {}", edge.note));
    if (caller.node->phase == Phase::Load || callee.node->phase == Phase::Load)
      return set(EdgeStatus::Unobservable, "runs at module load, before any capture");
    if (!m_facts.has_kernel_data()) return set(EdgeStatus::Unobservable, "kernel not traced");
    if (!IsPresent(callee.status))
      return set(
          EdgeStatus::Unobservable,
          callee.absent_reason == AbsentReason::Inlined
              ? fmt::format("{} is inlined into {}", callee.chosen->function, callee.inlined_into)
              : fmt::format("{} has no symbol here", callee.chosen->function));
    const std::vector<size_t> callers =
        IsPresent(caller.status) ? std::vector<size_t>{from} : PresentAround(from, true);
    if (callers.empty())
      return set(EdgeStatus::Unobservable,
                 fmt::format("{} has no symbol here", caller.chosen->function));
    auto [link, via] = BestLink(callers, to);
    m.use = std::move(link);
    if (m.use.stacks == 0) return set(EdgeStatus::NotObserved, std::string(edge.note));
    // Seen from the caller's caller: the absent caller's code runs inlined there.
    if (!IsPresent(caller.status))
      return set(EdgeStatus::Observed,
                 fmt::format("seen as {} → {}, {} inlined", via, callee.chosen->function,
                             caller.chosen->function));
    return set(EdgeStatus::Observed, std::string(edge.note));
  }

  const Chain& m_chain;
  const KernelFacts& m_facts;
  const InlinedSteps* m_inlined;
  InlinedSteps* m_found = nullptr;
  ChainMatch m_match;
  std::vector<bool> m_applies;  // per edge: holds for this vendor, paging, version
};

}  // namespace

const NodeMatch* ChainMatch::Node(std::string_view id) const {
  for (const NodeMatch& n : nodes)
    if (n.node->id == id) return &n;
  return nullptr;
}

const EdgeMatch* ChainMatch::Edge(std::string_view from, std::string_view to) const {
  for (const EdgeMatch& e : edges)
    if (e.edge->from == from && e.edge->to == to) return &e;
  return nullptr;
}

namespace {

// The first pass: every chain on its own, gathering what its links show
// about steps without a symbol.
InlinedSteps GatherInlined(const KernelFacts& facts) {
  InlinedSteps found;
  if (!facts.has_kernel_data()) return found;
  for (const Chain& chain : Chains()) Matcher(chain, facts, nullptr).Run(&found);
  return found;
}

}  // namespace

ChainMatch MatchChain(ChainId id, const KernelFacts& facts) {
  const InlinedSteps inlined = GatherInlined(facts);
  return Matcher(GetChain(id), facts, &inlined).Run();
}

std::vector<ChainMatch> MatchChains(const KernelFacts& facts) {
  const InlinedSteps inlined = GatherInlined(facts);
  std::vector<ChainMatch> all;
  for (ChainId id : kAllChains) all.push_back(Matcher(GetChain(id), facts, &inlined).Run());
  return all;
}

}  // namespace kvmscope::traces

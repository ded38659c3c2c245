// Matching the chains against one kernel's facts: per step the function this
// kernel uses and whether stacks went through it, per link whether a stack
// showed it; why a step has no symbol is decided once per kernel, over every
// chain, so that one function has one status in all chains.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "traces/chains.h"

namespace kvmscope::traces {

namespace {

bool Fits(Vendor need, Vendor have) {
  return need == Vendor::Any || have == Vendor::Any || need == have;
}
bool Fits(Paging need, Paging have) {
  return need == Paging::Any || have == Paging::Any || need == have;
}

// A layout marker (Alternative::if_symbol) decided on one kernel.
struct LayoutDecision {
  bool holds = true;
  bool by_symbols = false;
  std::string how;  // "by symbols: kvm_x86_vendor_init is a symbol", "by version 6.1"
};

// The symbols decide when the kernel's symbols are known (a trace keeps every
// chain function's, markers included), else the version; nullopt without a
// marker.
std::optional<LayoutDecision> DecideLayout(std::string_view symbol, bool present,
                                           const VersionRange& versions,
                                           const KernelFacts& facts) {
  if (symbol.empty()) return std::nullopt;
  LayoutDecision d;
  if (facts.symbol_count() > 0 && facts.has_kernel_data()) {
    const bool has = facts.Has(symbol);
    d.holds = has == present;
    d.by_symbols = true;
    d.how = fmt::format("by symbols: {} {} a symbol", symbol, has ? "is" : "is not");
  } else if (facts.version()) {
    d.holds = versions.Contains(*facts.version());
    d.how = fmt::format("by version {} (no symbols)", FormatVersion(*facts.version()));
  } else {
    d.how = "undecided: no symbols, no version";
  }
  return d;
}

// "VMX only", "EPT only", "shadow paging only", "until 3.19", "from 6.3",
// "not this kernel's layout (by symbols: ...)"; "" when the condition holds
// on this kernel.
std::string Unmet(Vendor vendor, Paging paging, const VersionRange& versions,
                  const KernelFacts& facts, std::string_view if_symbol = {},
                  bool if_present = true, std::string_view if_param = {}) {
  if (!Fits(vendor, facts.vendor())) return fmt::format("{} only", VendorName(vendor));
  if (!Fits(paging, facts.paging())) {
    if (paging == Paging::Shadow) return "shadow paging only";
    return vendor == Vendor::Vmx ? "EPT only" : vendor == Vendor::Svm ? "NPT only" : "EPT/NPT only";
  }
  if (!if_param.empty() && facts.ParamOn(if_param) == false)
    return fmt::format("only with {}=Y (this host: N)", if_param);
  if (const auto layout = DecideLayout(if_symbol, if_present, versions, facts))
    return layout->holds ? std::string() : fmt::format("not this kernel's layout ({})", layout->how);
  if (facts.version() && !versions.Contains(*facts.version()))
    return *facts.version() < versions.min ? "from " + FormatVersion(versions.min)
                                           : "until " + FormatVersion(versions.max);
  return {};
}

// entry: the chain's entry functions when the step is below the entry: only
// stacks through one of them count (empty: every stack).
AlternativeMatch MatchAlternative(const Alternative& alt, const KernelFacts& facts,
                                  const std::vector<std::string_view>& entry) {
  AlternativeMatch m;
  if (entry.empty()) {
    m.use = facts.Through(alt.function);
  } else {
    for (std::string_view e : entry) {
      const LinkUse link = facts.Link(e, alt.function);
      if (link.events > m.use.events || (link.stacks > 0 && m.use.stacks == 0))
        m.use = {link.stacks, link.events};
    }
  }
  const std::string unmet =
      Unmet(alt.vendor, alt.paging, alt.versions, facts, alt.if_symbol, alt.if_present, alt.if_param);
  const auto layout = DecideLayout(alt.if_symbol, alt.if_present, alt.versions, facts);
  // Vendor, paging and configuration fit: only the version or layout can rule it out.
  const bool fits_otherwise = Unmet(alt.vendor, alt.paging, {}, facts, {}, true, alt.if_param).empty();
  const bool version_only = !unmet.empty() && !(layout && layout->by_symbols) && fits_otherwise;
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
  // Only a version or layout verdict rests on the unverified range; "SVM
  // only" does not.
  if (m.status == NodeStatus::NotApplicable && alt.evidence.unverified &&
      !(layout && layout->by_symbols) && fits_otherwise)
    m.note += " (range not verified)";
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

// A step with a symbol that no stack shows because it only runs as a tail
// call: in some chain the link into it and the link out of it are both
// observed through a tail call (EdgeStatus::ObservedTailCall).
struct TailStep {
  uint64_t exits = 0;  // of the link into it: the exits that proved it ran
  std::string note;    // "a → b → c, both links tail calls; evidence: ..."
};
// What the first pass gathers over every chain, so that a function reads the
// same on every chain it is a step of (a leaf of one chain included).
struct Gathered {
  InlinedSteps inlined;
  std::map<std::string, TailStep, std::less<>> tail;
};

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
  // known: what every chain shows about steps without a symbol and steps
  // run only as tail calls (nullptr: only this chain's own links, for the
  // pass that gathers it).
  Matcher(const Chain& chain, const KernelFacts& facts, const Gathered* known)
      : m_chain(chain),
        m_facts(facts),
        m_inlined(known ? &known->inlined : nullptr),
        m_known(known) {}

  // found: the steps this chain alone shows inlined, with the link's events,
  // and those it shows run only as tail calls.
  ChainMatch Run(Gathered* found = nullptr) {
    m_found = found ? &found->inlined : nullptr;
    m_match.chain = &m_chain;
    m_match.vendor = m_facts.vendor();
    m_match.paging = m_facts.paging();
    m_match.version = m_facts.version();
    m_match.kernel = m_facts.Describe();
    for (size_t i = 0; i < m_chain.nodes.size(); ++i)
      m_match.nodes.push_back(MatchNode(m_chain.nodes[i], EntryGate(m_chain, i)));
    for (const ChainEdge& edge : m_chain.edges)
      m_applies.push_back(
          Unmet(edge.vendor, edge.paging, edge.versions, m_facts, edge.if_symbol, edge.if_present,
                edge.if_param)
              .empty());
    m_match.layout = LayoutText();
    for (size_t i = 0; i < m_match.nodes.size(); ++i)
      if (m_match.nodes[i].status == NodeStatus::Absent) ExplainAbsence(i);
    for (size_t e = 0; e < m_chain.edges.size(); ++e) m_match.edges.push_back(MatchEdge(e));
    if (found != nullptr) GatherTailSteps(found->tail);
    if (m_known != nullptr)
      for (NodeMatch& n : m_match.nodes) {
        const auto it = m_known->tail.find(n.chosen->function);
        if (n.status != NodeStatus::PresentNotObserved || it == m_known->tail.end()) continue;
        n.tail_exits = it->second.exits;
        n.tail_note = it->second.note;
      }
    return std::move(m_match);
  }

 private:
  // The steps of this chain that no stack shows but whose link in and link
  // out are both observed through a tail call: they ran, as jumps.
  void GatherTailSteps(std::map<std::string, TailStep, std::less<>>& tail) const {
    for (size_t i = 0; i < m_match.nodes.size(); ++i) {
      const NodeMatch& n = m_match.nodes[i];
      if (n.status != NodeStatus::PresentNotObserved) continue;
      const EdgeMatch* in = nullptr;
      const EdgeMatch* out = nullptr;
      for (const EdgeMatch& e : m_match.edges) {
        if (e.status != EdgeStatus::ObservedTailCall) continue;
        if (Index(e.edge->to) == i && (in == nullptr || e.tail_exits > in->tail_exits)) in = &e;
        if (Index(e.edge->from) == i && (out == nullptr || e.tail_exits > out->tail_exits))
          out = &e;
      }
      if (in == nullptr || out == nullptr) continue;
      TailStep& step = tail[std::string(n.chosen->function)];
      if (in->tail_exits <= step.exits) continue;
      step.exits = in->tail_exits;
      step.note =
          fmt::format("{} → {} → {}, both links tail calls; evidence: {}",
                      m_match.nodes[Index(in->edge->from)].chosen->function, n.chosen->function,
                      m_match.nodes[Index(out->edge->to)].chosen->function, in->tail_evidence);
    }
  }

  // How the chain's layout markers were decided here ("" without markers).
  std::string LayoutText() const {
    auto text = [&](std::string_view symbol, bool present, const VersionRange& versions) {
      const auto d = DecideLayout(symbol, present, versions, m_facts);
      return d ? d->how : std::string();
    };
    for (const ChainEdge& e : m_chain.edges)
      if (!e.if_symbol.empty()) return text(e.if_symbol, e.if_present, e.versions);
    // A marker of another vendor or paging mode (SVM's NPF handler before
    // 4.16) says nothing about this kernel's layout.
    for (const ChainNode& n : m_chain.nodes)
      for (const Alternative& a : n.alternatives)
        if (!a.if_symbol.empty() && Fits(a.vendor, m_facts.vendor()) &&
            Fits(a.paging, m_facts.paging()))
          return text(a.if_symbol, a.if_present, a.versions);
    return {};
  }

  // entry: EntryGate of the node.
  NodeMatch MatchNode(const ChainNode& node, const std::vector<std::string_view>& entry) {
    NodeMatch n;
    n.node = &node;
    for (const Alternative& alt : node.alternatives)
      n.alternatives.push_back(MatchAlternative(alt, m_facts, entry));
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
      return set(EdgeStatus::NotApplicable, Unmet(edge.vendor, edge.paging, edge.versions, m_facts,
                                                  edge.if_symbol, edge.if_present, edge.if_param));
    for (const NodeMatch* n : {&caller, &callee})
      if (n->status == NodeStatus::NotApplicable)
        return set(EdgeStatus::NotApplicable, fmt::format("{} n/a here", n->chosen->function));
    if (edge.kind == EdgeKind::Later)
      return set(EdgeStatus::Unobservable, fmt::format("not a call: {}", edge.note));
    if (caller.node->phase == Phase::Load || callee.node->phase == Phase::Load)
      return set(EdgeStatus::Unobservable,
                 edge.if_symbol.empty()
                     ? std::string("runs at module load, before any capture")
                     : fmt::format("runs at module load, before any capture; this kernel's "
                                   "layout {}",
                                   m_match.layout));
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
    if (m.use.stacks == 0) {
      if (!edge.tail_call.empty() && !StepBetween(from, to))
        if (TailEvidence t = TailCallEvidence(callers, to); t.exits > 0) {
          m.tail_exits = t.exits;
          m.tail_evidence = t.text;
          return set(EdgeStatus::ObservedTailCall,
                     fmt::format("{} (its frame vanishes), evidence: {}", edge.tail_call, t.text));
        }
      return set(EdgeStatus::NotObserved, std::string(edge.note));
    }
    // Seen from the caller's caller: the absent caller's code runs inlined there.
    if (!IsPresent(caller.status))
      return set(EdgeStatus::Observed,
                 fmt::format("seen as {} → {}, {} inlined", via, callee.chosen->function,
                             caller.chosen->function));
    return set(EdgeStatus::Observed, std::string(edge.note));
  }

  // Whether another route from step `from` to step `to` goes through a step
  // that applies and has a symbol here: then the direct link is not the
  // path, and a gap in the stacks is no evidence for it (VMX shadow paging:
  // handle_exception_nmi → kvm_handle_page_fault → kvm_mmu_page_fault).
  bool StepBetween(size_t from, size_t to) const {
    auto reaches = [&](size_t a, size_t b) {
      std::vector<bool> seen(m_chain.nodes.size(), false);
      std::vector<size_t> todo{a};
      while (!todo.empty()) {
        const size_t at = todo.back();
        todo.pop_back();
        if (at == b) return true;
        for (size_t e = 0; e < m_chain.edges.size(); ++e) {
          const size_t next = Index(m_chain.edges[e].to);
          if (m_chain.edges[e].kind != EdgeKind::Calls || !m_applies[e] ||
              Index(m_chain.edges[e].from) != at || next >= seen.size() || seen[next])
            continue;
          seen[next] = true;
          todo.push_back(next);
        }
      }
      return false;
    };
    for (size_t mid = 0; mid < m_chain.nodes.size(); ++mid)
      if (mid != from && mid != to && IsPresent(m_match.nodes[mid].status) &&
          reaches(from, mid) && reaches(mid, to))
        return true;
    return false;
  }

  struct TailEvidence {
    uint64_t exits = 0;
    std::string text;
  };
  // Whether the trace's exits show a caller of step `from` running before
  // a callee of step `to` in one exit on one thread, with something seen
  // directly (not only fixed by the exit reason) at or after the callee.
  TailEvidence TailCallEvidence(const std::vector<size_t>& callers, size_t to) const {
    TailEvidence best;
    for (size_t from : callers)
    for (std::string_view a : PresentNames(m_match.nodes[from]))
      for (std::string_view b : PresentNames(m_match.nodes[to])) {
        TailEvidence t;
        for (const ExitSightings& exit : m_facts.exits()) {
          const std::vector<Seen> seen = WithImplied(exit);
          const auto i = std::find_if(seen.begin(), seen.end(),
                                      [&](const Seen& s) { return s.function == a; });
          if (i == seen.end()) continue;
          const auto j =
              std::find_if(i + 1, seen.end(), [&](const Seen& s) { return s.function == b; });
          const std::set<std::string_view> below = Below(b);
          const auto k = std::find_if(j, seen.end(), [&](const Seen& s) {
            return !s.implied && (s.function == b || below.count(s.function) != 0);
          });
          if (j == seen.end() || k == seen.end()) continue;
          if (t.exits == 0) {
            t.text = fmt::format("{} then {}", i->how, j->how);
            if (k != j) t.text += fmt::format(", then {}", k->how);
            t.text += " in one exit on one thread";
          }
          t.exits += exit.count;
        }
        if (t.exits > best.exits) best = std::move(t);
      }
    if (best.exits > 0)
      best.text += fmt::format(" ({} exit{})", best.exits, best.exits == 1 ? "" : "s");
    return best;
  }

  // The functions any chain places below `function` (through Calls edges).
  static std::set<std::string_view> Below(std::string_view function) {
    std::set<std::string_view> found;
    for (const Chain& chain : Chains()) {
      auto index = [&](std::string_view id) {
        for (size_t i = 0; i < chain.nodes.size(); ++i)
          if (chain.nodes[i].id == id) return i;
        return chain.nodes.size();
      };
      std::vector<bool> seen(chain.nodes.size(), false);
      std::vector<size_t> todo;
      for (size_t i = 0; i < chain.nodes.size(); ++i)
        for (const Alternative& alt : chain.nodes[i].alternatives)
          if (alt.function == function) todo.push_back(i);
      while (!todo.empty()) {
        const size_t at = todo.back();
        todo.pop_back();
        for (const ChainEdge& edge : chain.edges) {
          const size_t to = index(edge.to);
          if (edge.kind != EdgeKind::Calls || index(edge.from) != at || to >= seen.size() ||
              seen[to])
            continue;
          seen[to] = true;
          todo.push_back(to);
          for (const Alternative& alt : chain.nodes[to].alternatives) found.insert(alt.function);
        }
      }
    }
    return found;
  }

  struct Seen {
    std::string_view function;
    std::string how;
    bool implied = false;
  };
  // An exit's sightings with what its reason fixes (ImpliedSteps) inserted
  // right after the function each step follows.
  std::vector<Seen> WithImplied(const ExitSightings& exit) const {
    std::vector<Seen> out;
    std::vector<const ImpliedStep*> left;
    for (const ImpliedStep& step : ImpliedSteps())
      if (step.reason == exit.reason && Fits(step.vendor, m_facts.vendor()) &&
          m_facts.Has(step.function))
        left.push_back(&step);
    auto add = [&](auto&& self, Seen seen) -> void {
      const std::string_view function = seen.function;
      out.push_back(std::move(seen));
      for (auto& step : left) {
        if (step == nullptr || step->after != function) continue;
        const bool already = std::any_of(out.begin(), out.end(), [&](const Seen& s) {
          return s.function == step->function;
        });
        if (already) continue;
        const ImpliedStep* s = std::exchange(step, nullptr);
        self(self, Seen{s->function,
                        fmt::format("exit reason {} (kvm_exit) fixing {} ({})", exit.reason,
                                    s->function, s->evidence.where),
                        true});
      }
    };
    for (const Sighting& s : exit.seen)
      add(add, Seen{s.function,
                    s.how.starts_with("stack of ") ? fmt::format("{} on the {}", s.function, s.how)
                                                   : s.how,
                    false});
    return out;
  }

  const Chain& m_chain;
  const KernelFacts& m_facts;
  const InlinedSteps* m_inlined;
  const Gathered* m_known;
  InlinedSteps* m_found = nullptr;
  ChainMatch m_match;
  std::vector<bool> m_applies;  // per edge: holds for this vendor, paging, version
};

}  // namespace

std::vector<std::string_view> EntryGate(const Chain& chain, size_t node) {
  auto index = [&](std::string_view id) {
    for (size_t i = 0; i < chain.nodes.size(); ++i)
      if (chain.nodes[i].id == id) return i;
    return chain.nodes.size();
  };
  const size_t entry = index(chain.entry);
  if (entry >= chain.nodes.size() || node >= chain.nodes.size() || node == entry) return {};
  // Below the entry: reached from it through Calls links.
  std::vector<bool> below(chain.nodes.size(), false);
  std::vector<size_t> todo{entry};
  while (!todo.empty() && !below[node]) {
    const size_t at = todo.back();
    todo.pop_back();
    for (const ChainEdge& edge : chain.edges) {
      const size_t to = index(edge.to);
      if (edge.kind != EdgeKind::Calls || index(edge.from) != at || to == entry ||
          to >= below.size() || below[to])
        continue;
      below[to] = true;
      todo.push_back(to);
    }
  }
  if (!below[node]) return {};
  std::vector<std::string_view> gate;
  for (const Alternative& alt : chain.nodes[entry].alternatives) gate.push_back(alt.function);
  return gate;
}

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
// about steps without a symbol and steps run only as tail calls.
Gathered Gather(const KernelFacts& facts) {
  Gathered found;
  if (!facts.has_kernel_data()) return found;
  for (const Chain& chain : Chains()) Matcher(chain, facts, nullptr).Run(&found);
  return found;
}

}  // namespace

ChainMatch MatchChain(ChainId id, const KernelFacts& facts) {
  const Gathered known = Gather(facts);
  return Matcher(GetChain(id), facts, &known).Run();
}

std::vector<ChainMatch> MatchChains(const KernelFacts& facts) {
  const Gathered known = Gather(facts);
  std::vector<ChainMatch> all;
  for (ChainId id : kAllChains) all.push_back(Matcher(GetChain(id), facts, &known).Run());
  return all;
}

}  // namespace kvmscope::traces

// The terminal rendering of chains and of the observed call tree, and the
// chains' symbols. The chains' data is knowledge/chains.cpp, matching is in
// chain_match.cpp, KernelFacts in kernel_facts.cpp.
#include "traces/chains.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "knowledge/seed_claims.h"

namespace kvmscope::traces {

std::string_view BaseName(std::string_view symbol) {
  const size_t dot = symbol.find('.');
  return dot == std::string_view::npos || dot == 0 ? symbol : symbol.substr(0, dot);
}

std::vector<std::string> ChainSymbolNames() {
  std::set<std::string> names;
  for (const Chain& c : Chains())
    for (const ChainNode& n : c.nodes)
      for (const Alternative& a : n.alternatives) names.emplace(a.function);
  for (const ImpliedStep& step : ImpliedSteps()) names.emplace(step.function);
  for (std::string_view f : knowledge::SeedClaimFunctions()) names.emplace(f);
  return {names.begin(), names.end()};
}

std::vector<Symbol> ChainSymbols(const SymbolTable& all) {
  const std::vector<std::string> wanted = ChainSymbolNames();
  std::vector<Symbol> kept;
  for (const Symbol& s : all.symbols())
    if (std::binary_search(wanted.begin(), wanted.end(), BaseName(s.name))) kept.push_back(s);
  return kept;
}

// --- Text ------------------------------------------------------------------------

std::string NodeMark(const NodeMatch& n) {
  const std::string ioctl =
      n.ioctl_count > 0 ? fmt::format("; {} ×{}", n.node->ioctl, n.ioctl_count) : std::string();
  switch (n.status) {
    case NodeStatus::Observed: return fmt::format("[observed {}]", n.count);
    case NodeStatus::PresentNotObserved:
      if (n.tail_exits > 0)
        return fmt::format("[observed through a tail call, {} exit{}: {}]", n.tail_exits,
                           n.tail_exits == 1 ? "" : "s", n.tail_note);
      if (n.node->phase == Phase::Load) return "[present, runs at load]";
      if (n.ioctl_count > 0) return fmt::format("[present{}]", ioctl);
      return "[present, not seen]";
    case NodeStatus::Absent:
      switch (n.absent_reason) {
        case AbsentReason::Inlined:
          return fmt::format("[absent: inlined into {}{}]", n.inlined_into, ioctl);
        case AbsentReason::InitCodeFreed: return "[absent: __init code, freed after load]";
        case AbsentReason::NotTraced: return "[kernel not traced]";
        default: return fmt::format("[absent: not in this kernel's symbols{}]", ioctl);
      }
    case NodeStatus::NotApplicable: return fmt::format("[n/a: {}]", n.note);
  }
  return {};
}

std::string AlternativeMark(const AlternativeMatch& a) {
  switch (a.status) {
    case NodeStatus::Observed: return fmt::format("[observed {}]", a.use.events);
    case NodeStatus::PresentNotObserved: return "[present, not seen]";
    case NodeStatus::Absent: return "[absent]";
    case NodeStatus::NotApplicable: return fmt::format("[n/a: {}]", a.note);
  }
  return {};
}

std::string EdgeMark(const EdgeMatch& e) {
  switch (e.status) {
    case EdgeStatus::Observed:
      return fmt::format("[observed {}{}{}]", e.use.events, e.note.empty() ? "" : ", ", e.note);
    case EdgeStatus::ObservedTailCall:
      return fmt::format("[observed through a tail call: {}]", e.note);
    case EdgeStatus::NotObserved: return "[not seen]";
    case EdgeStatus::Unobservable: return fmt::format("[unobservable: {}]", e.note);
    case EdgeStatus::NotApplicable: return fmt::format("[n/a: {}]", e.note);
  }
  return {};
}

StepEvidence EvidenceOf(const NodeMatch& n) {
  StepEvidence out;
  auto add = [&](std::string_view what, const knowledge::Evidence& e) {
    if (e.where.empty()) return;
    out.text += fmt::format("{}{}{}: {}", out.text.empty() ? "" : "; ", what,
                            e.unverified ? " (unverified)" : "", e.where);
    out.unverified = out.unverified || e.unverified;
  };
  if (n.chosen) add(n.chosen->function, n.chosen->evidence);
  if (n.node && !n.node->teaching.empty()) add("sentence", n.node->evidence);
  return out;
}

std::vector<std::string> FormatChain(const ChainMatch& match, bool sources) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("{} — kernel {}", match.chain->title, match.kernel));
  lines.push_back(fmt::format("  {}", match.chain->summary));
  if (!match.layout.empty()) lines.push_back(fmt::format("  layout decided {}", match.layout));
  for (size_t i = 0; i < match.nodes.size(); ++i) {
    const NodeMatch& n = match.nodes[i];
    std::string line = fmt::format("  {:>2}. {:<28} {}", i + 1, n.label, NodeMark(n));
    if (!n.source_file.empty()) line += fmt::format("  {}", n.source_file);
    lines.push_back(std::move(line));
    lines.push_back(fmt::format("        {}: {}", n.node->step, n.node->teaching));
    const StepEvidence evidence = EvidenceOf(n);
    if (evidence.unverified || (sources && !evidence.text.empty()))
      lines.push_back(fmt::format("        {}: {}", evidence.unverified ? "not all verified" : "checked",
                                  evidence.text));
    std::string others;
    // Untraced, nothing is known of the other functions either.
    for (size_t a = 0; a < n.alternatives.size() && n.absent_reason != AbsentReason::NotTraced;
         ++a) {
      if (&n.node->alternatives[a] == n.chosen) continue;
      others += fmt::format("{}{} {}", others.empty() ? "" : ", ", n.node->alternatives[a].function,
                            AlternativeMark(n.alternatives[a]));
    }
    if (!others.empty()) lines.push_back("        other: " + others);
  }
  lines.push_back("  links:");
  for (const EdgeMatch& e : match.edges) {
    const NodeMatch* from = match.Node(e.edge->from);
    const NodeMatch* to = match.Node(e.edge->to);
    lines.push_back(fmt::format("    {} {} {}  {}", from->label,
                                e.edge->kind == EdgeKind::Calls ? "→" : "⇢", to->label,
                                EdgeMark(e)));
  }
  return lines;
}

// --- Call tree ----------------------------------------------------------------------

namespace {

void SortTree(CallTreeNode& node) {
  std::stable_sort(node.children.begin(), node.children.end(), [](const auto& x, const auto& y) {
    return x.count != y.count ? x.count > y.count : x.name < y.name;
  });
  for (CallTreeNode& c : node.children) SortTree(c);
}

void FormatTree(const CallTreeNode& node, const std::string& prefix, size_t depth,
                const CallTreeOptions& options, std::vector<std::string>& lines) {
  if (depth >= options.max_depth) return;
  std::vector<const CallTreeNode*> shown;
  uint64_t hidden_events = 0;
  for (const CallTreeNode& c : node.children) {
    if (c.count >= options.min_count)
      shown.push_back(&c);
    else
      hidden_events += c.count;
  }
  const size_t hidden = node.children.size() - shown.size();
  for (size_t i = 0; i < shown.size(); ++i) {
    const bool last = i + 1 == shown.size() && hidden == 0;
    const bool top = depth == 0;
    lines.push_back(fmt::format("{}{}{} ({})", prefix,
                                top    ? ""
                                : last ? "└─ "
                                       : "├─ ",
                                shown[i]->name, shown[i]->count));
    FormatTree(*shown[i], top ? prefix : prefix + (last ? "   " : "│  "), depth + 1, options,
               lines);
  }
  if (hidden > 0)
    lines.push_back(fmt::format("{}{}… {} more path{} ({} events)", prefix, depth == 0 ? "" : "└─ ",
                                hidden, hidden == 1 ? "" : "s", hidden_events));
}

}  // namespace

CallTreeNode BuildCallTree(const std::vector<StackUse>& stacks, const SymbolTable& symbols) {
  CallTreeNode root;
  for (const StackUse& use : stacks) {
    root.count += use.count;
    CallTreeNode* at = &root;
    for (std::string& name : ChainFrames(use.frames, symbols)) {
      auto it = std::find_if(at->children.begin(), at->children.end(),
                             [&](const CallTreeNode& c) { return c.name == name; });
      if (it == at->children.end()) {
        at->children.push_back(CallTreeNode{std::move(name), 0, {}});
        it = std::prev(at->children.end());
      }
      it->count += use.count;
      at = &*it;
    }
  }
  SortTree(root);
  return root;
}

std::vector<std::string> FormatCallTree(const CallTreeNode& root, const CallTreeOptions& options) {
  std::vector<std::string> lines;
  FormatTree(root, "", 0, options, lines);
  return lines;
}

}  // namespace kvmscope::traces

// The facts tables (see facts_table.h): one function walks every fact once
// (ForEachFact), the Markdown and the count are built on it.
#include "knowledge/facts_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <vector>

#include "knowledge/seed_claims.h"

namespace kvmscope::knowledge {

namespace {

// A table cell: pipes escaped, line breaks flattened.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string Code(std::string_view name) { return name.empty() ? "" : fmt::format("`{}`", name); }

std::string EvidenceCell(const Evidence& e) {
  if (e.where.empty()) return "**no evidence**";
  return (e.unverified ? "**unverified:** " : "") + Cell(e.where);
}

std::string Condition(Vendor vendor, Paging paging, std::string_view param = {}) {
  std::vector<std::string> parts;
  if (vendor != Vendor::Any) parts.emplace_back(VendorName(vendor));
  if (paging != Paging::Any) parts.emplace_back(PagingName(paging));
  if (!param.empty()) parts.push_back(fmt::format("{}=Y", param));
  return parts.empty() ? "any" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string Versions(const VersionRange& r, std::string_view if_symbol, bool if_present) {
  std::string out = FormatRange(r);
  if (!if_symbol.empty()) {
    out += fmt::format(" (decided by whether `{}` is a symbol: {})", if_symbol,
                       if_present ? "present" : "absent");
  }
  return out;
}

std::string FilesCell(const std::vector<SourceFile>& files) {
  std::vector<std::string> parts;
  for (const SourceFile& f : files) {
    parts.push_back(f.versions.All() ? std::string(f.path)
                                     : fmt::format("{} ({})", f.path, FormatRange(f.versions)));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

std::string_view ClaimKindName(ClaimKind k) {
  switch (k) {
    case ClaimKind::Exists: return "exists";
    case ClaimKind::DefinedIn: return "defined in";
    case ClaimKind::Calls: return "calls";
  }
  return "";
}

bool Wanted(const FactsOptions& o, const Evidence& e) { return !o.unverified_only || e.unverified || e.where.empty(); }

// Each source file over part of the versions (one side of a move) once, in
// chain order; a file over every version is its function's own evidence.
void ForEachMovedFile(const std::function<void(const SourceFile&)>& visit) {
  std::set<std::pair<std::string_view, std::string>> seen;
  for (const Chain& chain : Chains())
    for (const ChainNode& node : chain.nodes)
      for (const Alternative& alt : node.alternatives)
        for (const SourceFile& f : alt.files)
          if (!f.versions.All() && seen.emplace(f.path, FormatRange(f.versions)).second) visit(f);
}

}  // namespace

void ForEachEvidence(const std::function<void(const std::string&, const Evidence&)>& visit) {
  for (const Chain& chain : Chains()) {
    const std::string c = fmt::format("chain {}: ", chain.name);
    for (const ChainNode& node : chain.nodes) {
      if (!node.teaching.empty()) visit(fmt::format("{}sentence of {}", c, node.id), node.evidence);
      for (const Alternative& alt : node.alternatives) {
        visit(fmt::format("{}{} ({}, {})", c, alt.function, node.id, VendorName(alt.vendor)),
              alt.evidence);
      }
    }
    for (const ChainEdge& edge : chain.edges)
      visit(fmt::format("{}link {} -> {} ({})", c, edge.from, edge.to, FormatRange(edge.versions)),
            edge.evidence);
  }
  ForEachMovedFile([&](const SourceFile& f) {
    visit(fmt::format("file {} ({})", f.path, FormatRange(f.versions)), f.evidence);
  });
  for (const ImpliedStep& step : ImpliedSteps())
    visit(fmt::format("implied step {} {}: {} after {}", VendorName(step.vendor), step.reason,
                      step.function, step.after),
          step.evidence);
  for (const SeedClaim& claim : SeedClaims()) visit(fmt::format("seed claim {}", claim.id), claim.evidence);
}

namespace {

void ChainTables(const Chain& chain, const FactsOptions& o, std::string& out) {
  out += fmt::format("## {} (`{}`)\n\n{}\n\n", chain.title, chain.name, Cell(chain.summary));
  std::string rows;
  for (const ChainNode& node : chain.nodes) {
    for (const Alternative& alt : node.alternatives) {
      if (!Wanted(o, alt.evidence)) continue;
      rows += fmt::format("| {} | {}{} | {} | {} | {} | {} |\n", Cell(node.step), Code(alt.function),
                          alt.init_text ? " (__init)" : "", Condition(alt.vendor, alt.paging, alt.if_param),
                          Versions(alt.versions, alt.if_symbol, alt.if_present),
                          Cell(FilesCell(alt.files)), EvidenceCell(alt.evidence));
    }
  }
  if (!rows.empty()) {
    out += "Functions of each step:\n\n| step | function | where | versions | source file | evidence |\n"
           "|---|---|---|---|---|---|\n" + rows + "\n";
  }
  rows.clear();
  for (const ChainNode& node : chain.nodes) {
    if (node.teaching.empty() || !Wanted(o, node.evidence)) continue;
    rows += fmt::format("| {} | {} | {} |\n", Cell(node.step), Cell(node.teaching),
                        EvidenceCell(node.evidence));
  }
  if (!rows.empty()) {
    out += "What the window says of each step:\n\n| step | sentence | evidence |\n|---|---|---|\n" +
           rows + "\n";
  }
  rows.clear();
  for (const ChainEdge& edge : chain.edges) {
    if (!Wanted(o, edge.evidence)) continue;
    const ChainNode* from = chain.Node(edge.from);
    const ChainNode* to = chain.Node(edge.to);
    std::string what = edge.kind == EdgeKind::Calls ? "calls" : "later";
    if (!edge.tail_call.empty()) what += fmt::format(" (can be a tail call: {})", Cell(edge.tail_call));
    if (!edge.note.empty()) what += fmt::format("; {}", Cell(edge.note));
    rows += fmt::format("| {} → {} | {} | {} | {} | {} |\n", from ? Cell(from->step) : edge.from,
                        to ? Cell(to->step) : edge.to, what, Condition(edge.vendor, edge.paging, edge.if_param),
                        Versions(edge.versions, edge.if_symbol, edge.if_present),
                        EvidenceCell(edge.evidence));
  }
  if (!rows.empty()) {
    out += "Links between the steps:\n\n| link | kind | where | versions | evidence |\n"
           "|---|---|---|---|---|\n" + rows + "\n";
  }
}

}  // namespace

std::string FactsMarkdown(const FactsOptions& o) {
  std::string out =
      "# Kernel facts and their evidence\n\n"
      "Every kernel fact kvmscope states — the functions of each call-chain step with their "
      "versions and source files, the sentences the window shows, the links between steps, "
      "what an exit reason fixes, and the seed document's claims — with where it was checked. "
      "Evidence names the source tree (its release as its top-level Makefile says; see the last "
      "table) or `running kernel` (this machine's kallsyms), then file:line and what is there. "
      "**unverified** marks what could not be checked. Symbols on the running kernel beat these "
      "version ranges: stable kernels backport.\n\n"
      "Generated by `kvmscope facts` (a test checks that this file is current).\n\n";
  for (const Chain& chain : Chains()) {
    if (!o.chain || *o.chain == chain.id) ChainTables(chain, o, out);
  }
  std::string rows;
  ForEachMovedFile([&](const SourceFile& f) {
    if (Wanted(o, f.evidence))
      rows += fmt::format("| {} | {} | {} |\n", f.path, FormatRange(f.versions), EvidenceCell(f.evidence));
  });
  if (!rows.empty() && !o.chain) {
    out += "## Where the source files were\n\n| file | versions | evidence |\n|---|---|---|\n" +
           rows + "\n";
  }
  rows.clear();
  for (const ImpliedStep& step : ImpliedSteps()) {
    if (!Wanted(o, step.evidence)) continue;
    rows += fmt::format("| {} | {} | {} | {} | {} |\n", VendorName(step.vendor), step.reason,
                        step.after.empty() ? "(first)" : Code(step.after), Code(step.function),
                        EvidenceCell(step.evidence));
  }
  if (!rows.empty() && !o.chain) {
    out += "## What an exit reason fixes\n\nIn an exit of this reason, the function runs right "
           "after the one before it, whatever the stacks show.\n\n"
           "| backend | exit reason | after | runs | evidence |\n|---|---|---|---|---|\n" + rows + "\n";
  }
  rows.clear();
  for (const SeedClaim& claim : SeedClaims()) {
    if (!Wanted(o, claim.evidence)) continue;
    if (o.chain && std::find(claim.chains.begin(), claim.chains.end(), *o.chain) == claim.chains.end())
      continue;
    std::vector<std::string> ranges;
    for (const VersionRange& r : claim.true_in) ranges.push_back(FormatRange(r));
    rows += fmt::format("| {} | {} | {} | {} | {} |\n", Cell(claim.claim), ClaimKindName(claim.kind),
                        ranges.empty() ? "never" : fmt::format("{}", fmt::join(ranges, ", ")),
                        Cell(claim.history), EvidenceCell(claim.evidence));
  }
  if (!rows.empty()) {
    out += "## The seed document's claims\n\n| claim | kind | true in | what is true | evidence |\n"
           "|---|---|---|---|---|\n" + rows + "\n";
  }
  if (!o.unverified_only) {
    out += "## The source trees\n\nEach release as its top-level Makefile says, read at the "
           "commit given (several repositories named for a release hold another one, or edited "
           "sources: those are not used).\n\n| release | repository | commit | note |\n|---|---|---|---|\n";
    for (const SourceTree& t : SourceTrees()) {
      out += fmt::format("| {} | {} | {} | {} |\n", t.release, Cell(t.repo), t.commit, Cell(t.note));
    }
  }
  return out;
}

FactsCount CountFacts() {
  FactsCount c;
  ForEachEvidence([&](const std::string&, const Evidence& e) {
    ++c.total;
    if (e.where.empty()) ++c.missing;
    else if (e.unverified) ++c.unverified;
  });
  return c;
}

}  // namespace kvmscope::knowledge

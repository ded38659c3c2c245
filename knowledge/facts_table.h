// Every kernel fact kvmscope states, with where it was checked, as Markdown
// tables: what `kvmscope facts` prints and docs/kernel-facts.md holds (a test
// keeps the two equal).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "knowledge/chains.h"

namespace kvmscope::knowledge {

struct FactsOptions {
  std::optional<ChainId> chain;  // only this chain and the seed claims about it
  bool unverified_only = false;  // only what could not be checked
};

std::string FactsMarkdown(const FactsOptions& options = {});

// Every fact's evidence once, with a label naming the fact ("chain run:
// vcpu_run (vcpu_run, any)", "seed claim __vcpu_run-is-the-loop").
void ForEachEvidence(const std::function<void(const std::string& fact, const Evidence&)>& visit);

// How many facts carry no evidence at all, and how many are unverified.
struct FactsCount {
  size_t total = 0;
  size_t unverified = 0;
  size_t missing = 0;  // no evidence: a bug, a test fails on it
};
FactsCount CountFacts();

}  // namespace kvmscope::knowledge

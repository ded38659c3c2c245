// `kvmscope facts`: every kernel fact kvmscope states, with its evidence
// (knowledge/facts_table.h); no trace, no privileges.
#include <cstdio>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "knowledge/facts_table.h"

namespace kvmscope::app {

int CmdFacts(const FactsArgs& args) {
  knowledge::FactsOptions options;
  options.unverified_only = args.unverified;
  if (!args.chain.empty()) {
    options.chain = knowledge::ChainIdFromName(args.chain);
    if (!options.chain) {
      std::fprintf(stderr, "kvmscope: unknown chain '%s' (init, run, exceptions, page-faults)\n",
                   args.chain.c_str());
      return kExitUsage;
    }
  }
  std::fputs(knowledge::FactsMarkdown(options).c_str(), stdout);
  knowledge::FactsCount count = knowledge::CountFacts();
  std::fprintf(stderr, "%zu facts: %zu checked in the sources, %zu unverified, %zu without evidence\n",
               count.total, count.total - count.unverified - count.missing, count.unverified,
               count.missing);
  return kExitOk;
}

}  // namespace kvmscope::app

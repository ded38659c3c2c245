// The kernel source trees kvmscope's facts were checked in (see kernel.h,
// SourceTree). Each release was read from its top-level Makefile at the
// commit given, never from the repository's name: several trees named for a
// release turned out to be another one, or edited (left out below).
#include <string>

#include "knowledge/kernel.h"

namespace kvmscope::knowledge {

const std::vector<SourceTree>& SourceTrees() {
  // clang-format off
  static const std::vector<SourceTree> trees = {
    {"3.19.8", "yuanguohuo/linux-3.19.8", "a38bf8b12dbc", ""},
    {"4.0.4", "omkar062/linux-4.0.4", "df7c8bb3cbb1", ""},
    {"4.1.15", "liwanliang-123/linux-4.1.15-elf", "af351934cb7c", "the tree is under work/src/linux-4.1.15/"},
    {"4.12.0", "jason50123/linux-4.12", "d7bbb6bbf66c", ""},
    {"4.12.4", "AnnyFigueira/linux-4.12.4", "de839a1e4445", ""},
    {"4.13.4", "shizukanaskytree/linux-4.13.4", "ffb1305f6e24", ""},
    {"4.14.5", "monkeygq/linux-4.14.5", "67c81f98d221", ""},
    {"4.14.177", "linuxzjs/linux-4.14", "7b102d5dac53", "the tree is under linux-4.14.177/"},
    {"4.16.13", "lizuobin/linux-4.16.13_tiny4412", "cff582ce6f47", ""},
    {"4.17.0", "SaumyaSachdev/linux-4.17", "4b4a148ccf12", ""},
    {"4.19.124", "hypoxic/GP2-linux-4.19.124", "e064ab096735", ""},
    {"4.19.304", "maxiangpan/linux-4.19", "c46e277ca0cf", "the tree is under kernel/"},
    {"4.20.0", "a4913994/linux-4.20", "681419ebe67f", ""},
    {"5.0.1", "VVvector/linux-5.0.1", "0fa9cb14d4ed", "the tree is under linux-5.0.1/"},
    {"5.2.1", "wangliang-cs/linux-5.2.1", "fc4ec72ddfe7", ""},
    {"5.3.1", "github-lvbing/linux-5.3.1", "676199489bfb", ""},
    {"5.4.286", "KINGFIOX/linux-5.4.286", "157e1f2b846f", ""},
    {"5.5-rc5", "grandleaf/Linux5.5-rc5", "a81f22f5d65d", ""},
    {"5.6.4", "shmily1012/linux-5.6.4", "93830a5cf2aa", ""},
    {"5.7.14", "a5221985/linux-5.7.14", "5d0b54d93391", ""},
    {"5.8.1", "semwett0301/linux-5.8.1", "a673859d4b11", ""},
    {"5.9.1", "ach84/linux-5.9.1", "1722444408da", ""},
    {"5.10.7", "ejga2001/linux-5.10.7", "3791f9c55148", ""},
    {"5.10.89", "Prashant446/linux-5.10.89", "74115436247a", ""},
    {"5.11.0", "CompressionDuck/linux-5.11", "2dbae366306d", ""},
    {"5.12.9", "zhangyinjun/linux-5.12.9", "38c16b0cce67", ""},
    {"5.14.2", "Kingdo777/linux-5.14.2-faascale-host", "56e6f69d075f",
     "a research fork: used only where its KVM files match the release"},
    {"5.15.16", "yashlala/fastswap-linux-5.16.16", "e74c5ce03412",
     "a research fork whose Makefile says 5.15.16: used only for KVM files it does not touch"},
    {"5.15.85", "Tptogiar/linux-5.15.85", "b44f813e92bb", ""},
    {"5.17-rc5", "dunli/linux-5.17", "a5835cacde99", ""},
    {"5.18.12", "esuoyanyu/kernel-5.18", "4b13cea91dc6", ""},
    {"5.19.0", "yishangzhang/linux-5.19", "4a8550523ce9", ""},
    {"6.0-rc1", "sun363587351/linux-6.0", "071a8bf088f3", ""},
    {"6.0.1", "HHRhr/linux-6.0.1", "0f3467a6a960", ""},
    {"6.1-rc7", "krr-io/linux-6.1.0", "2a410d07ec5e", ""},
    {"6.1.192", "Debian 12: linux-source-6.1 6.1.192-3", "",
     "Debian's own source package (apt-get download linux-source-6.1), the test hosts' kernel"},
    {"6.2.1", "daniellucs2002/linux-6.2.1-customized", "9a50c8f9bea1", ""},
    {"6.2.12", "xmphoenix/linux-6.2.12-slow-motion", "d86fed0db598", "the tree is under linux-6.2.12/"},
    {"6.3.8", "SToPire/linux-6.3.8", "1ab8cd40ddb5", ""},
    {"6.4.6", "lewisevans2007/linux-6.4", "9862bdef2c0d", ""},
    {"6.6.9", "mihaelbh/adding-new-sched-policy-to-linux-6.6.9", "b0e4488ba24c", ""},
    {"6.12.0", "shilei-massclouds/linux-6.12", "e02d6450498d", ""},
    {"6.13.7", "ChenRuiwei/linux-6.13.7", "4ebf2100a581", ""},
    {"6.14.0", "perishh/linux-6.14", "347b100ec166", ""},
    {"6.16.1", "KT0511/linux-6.16.1", "30b97c8a18bb", ""},
    {"6.18.2", "gfunkmonk/linux-6.18.2", "062668f4d006", ""},
    {"6.19.0", "matankalina/linux-6.19.10-fork", "483059de9f93", "its Makefile says 6.19.0"},
    {"pvm", "virt-pvm/linux", "02cf70ff4e49",
     "PVM is not in mainline; this tree's base release is not known, and this machine's PVM "
     "kernel differs from it (its symbols are cited as 'running kernel')"},
  };
  // clang-format on
  return trees;
}

std::vector<std::string> UnknownTrees(const Evidence& evidence) {
  std::vector<std::string> unknown;
  std::string_view rest = evidence.where;
  while (!rest.empty()) {
    const size_t end = rest.find("; ");
    std::string_view part = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    const std::string_view tree = part.substr(0, part.find(' '));
    if (part.starts_with("running kernel")) continue;
    bool known = false;
    for (const SourceTree& t : SourceTrees()) known = known || t.release == tree;
    if (!known) unknown.emplace_back(tree);
  }
  return unknown;
}

}  // namespace kvmscope::knowledge

// A made-up kernel for the chain and seed-check tests: symbols at fake
// addresses and stacks written as a student reads them, so each test states
// its kernel in a few lines.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "traces/chains.h"
#include "traces/symbols.h"

namespace kvmscope::traces {

// A made-up kernel: every function gets 0x1000 bytes at a fake address, and
// stacks are written outermost first (as a student reads them) and stored
// innermost first (as captured), each frame a return address inside its
// function.
class FakeKernel {
 public:
  explicit FakeKernel(std::vector<std::string> functions) {
    uint64_t addr = 0xffffffff81000000;
    for (std::string& f : functions) {
      m_names.push_back(f);
      m_symbols.Add(addr, std::move(f));
      addr += 0x1000;
    }
    m_symbols.Add(addr, "zz_end_of_text");
    m_symbols.Finish();
  }
  uint64_t Frame(std::string_view name) const {
    auto it = std::find(m_names.begin(), m_names.end(), name);
    EXPECT_NE(it, m_names.end()) << "no function " << name;
    return 0xffffffff81000000 + 0x1000 * static_cast<uint64_t>(it - m_names.begin()) + 0x42;
  }
  void AddStack(std::vector<std::string_view> outermost_first, uint64_t count) {
    StackUse use;
    for (auto it = outermost_first.rbegin(); it != outermost_first.rend(); ++it)
      use.frames.push_back(Frame(*it));
    use.count = count;
    m_stacks.push_back(std::move(use));
  }
  const SymbolTable& symbols() const { return m_symbols; }
  const std::vector<StackUse>& stacks() const { return m_stacks; }

 private:
  std::vector<std::string> m_names;
  SymbolTable m_symbols;
  std::vector<StackUse> m_stacks;
};

}  // namespace kvmscope::traces

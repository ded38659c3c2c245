// Counts as people read them, for the text outputs and the window.
#pragma once

#include <cstdint>
#include <string>

namespace kvmscope::traces {

// "1,234,567": counts with thousands separators.
std::string FormatCount(uint64_t n);

}  // namespace kvmscope::traces

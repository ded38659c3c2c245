// Users' own guests: a flat binary read from a file, or a GNU-as source
// assembled and linked at run time. Both throw Error(Usage) with a one-line
// message for bad input (missing, empty or oversized file, assembler error
// with its line).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/cpu_mode.h"

namespace kvmscope::vmm {

std::vector<uint8_t> LoadGuestBinary(const std::string& path, uint64_t max_size);

// Assembles `path` with `as --64`, preceded by .code16/.code32/.code64 for
// `mode`, links it at `load_addr` and returns the flat binary.
std::vector<uint8_t> AssembleGuest(const std::string& path, CpuMode mode, uint64_t load_addr);

}  // namespace kvmscope::vmm

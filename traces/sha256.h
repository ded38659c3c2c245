// SHA-256 of a byte buffer, as lowercase hex: how a trace names the exact
// guest binary it recorded (FIPS 180-4; small enough not to need a crypto
// library).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace kvmscope::traces {

std::string Sha256Hex(std::span<const uint8_t> data);

}  // namespace kvmscope::traces

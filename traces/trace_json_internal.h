// Shared by the native trace file's writer (trace_json.cpp) and reader
// (trace_json_read.cpp): the JSON library's type, number limits, track kinds
// and base64 for bytes that are not UTF-8 text. Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "traces/trace.h"

namespace kvmscope::traces::json_detail {

using Json = nlohmann::json;

constexpr uint16_t kMaxU16 = std::numeric_limits<uint16_t>::max();
constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxI32 = std::numeric_limits<int32_t>::max();
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinI64 = std::numeric_limits<int64_t>::min();

constexpr std::array<TrackKind, 3> kTrackKinds = {TrackKind::Vcpu, TrackKind::Vmm,
                                                  TrackKind::System};

std::string Base64Encode(std::string_view bytes);
// Strict: a length that is a multiple of 4, padding only at the end.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace kvmscope::traces::json_detail

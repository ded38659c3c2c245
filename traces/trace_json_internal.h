// Shared by the native trace file's writer (trace_json.cpp) and readers
// (trace_json_read.cpp, trace_json_facts.cpp): the JSON library's type, number
// limits, track kinds, base64 for bytes that are not UTF-8 text, and the
// checked conversions of the small objects. Not part of the public API.
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

// --- reading (trace_json_facts.cpp) ---
// Throws TraceFormatError "where: what" ("what" alone when where is "").
[[noreturn]] void Fail(const std::string& where, std::string_view what);
// "expected an object, got array".
std::string Expected(std::string_view what, const Json& got);
// "host.plan", "tracks[3]": a field's and an element's place.
std::string Join(const std::string& where, std::string_view key);
std::string At(const std::string& where, size_t index);
// Numbers in range and strings (or {"base64":...}), else Fail at `where`.
uint64_t ReadUnsigned(const Json& j, const std::string& where, uint64_t max = kMaxU64);
int64_t ReadSigned(const Json& j, const std::string& where, int64_t min, int64_t max);
std::string ReadString(const Json& j, const std::string& where);
// The small top-level objects, each read from its own short-lived DOM.
HostFacts ReadHost(const Json& j);
GuestFacts ReadGuest(const Json& j);
std::optional<KernelCounts> ReadKernelCounts(const Json& j);
std::optional<KvmStatsRecord> ReadKvmStats(const Json& j);
std::optional<ExternalVmm> ReadExternalVmm(const Json& j);
GuestRegs ReadRegs(const Json& j, const std::string& where);
std::optional<TrackKind> TrackKindFromName(std::string_view name);

}  // namespace kvmscope::traces::json_detail

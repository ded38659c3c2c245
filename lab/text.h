// Small text helpers the lab files, answers and queries share.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace kvmscope::lab {

// Without the spaces (and, for TrimLines, the blank lines) around it.
inline std::string TrimChars(std::string_view s, const char* chars) {
  const size_t b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(chars);
  return std::string(s.substr(b, e - b + 1));
}
inline std::string Trim(std::string_view s) { return TrimChars(s, " \t\r"); }
inline std::string TrimLines(std::string_view s) { return TrimChars(s, " \t\r\n"); }

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace kvmscope::lab

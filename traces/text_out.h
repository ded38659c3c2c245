// The text output of the trace writers (the native trace file, the Chrome
// export): one reusable block filled with plain memory copies and handed to
// the stream in large writes, integers formatted with std::to_chars, JSON
// strings escaped without building a JSON value. A trace holds millions of
// events, so each of them costs a few copies, never an allocation, a stream
// call or a formatting library's parse of a format string.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace kvmscope::traces {

// Whether `text` is well-formed UTF-8 (the Unicode standard's table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), which is exactly
// what nlohmann::json accepts as a string.
bool ValidUtf8(std::string_view text);

// Appends `text` as a JSON string, escaped as nlohmann::json's dump() escapes
// it (ensure_ascii off: \" \\ \b \f \n \r \t, other bytes below 0x20 as
// \u00xx, everything else as it is). Returns false, appending nothing, when
// `text` is not valid UTF-8: the caller decides what such bytes become.
bool AppendJsonString(std::string& out, std::string_view text);

class TextOut {
 public:
  // `failure`: the message of the std::runtime_error thrown when the
  // stream fails.
  TextOut(std::ostream& out, std::string failure);
  TextOut(const TextOut&) = delete;
  TextOut& operator=(const TextOut&) = delete;

  TextOut& operator<<(std::string_view text) {
    if (text.size() > Room()) return Spill(text);
    std::memcpy(m_next, text.data(), text.size());
    m_next += text.size();
    return *this;
  }
  TextOut& operator<<(const char* text) { return *this << std::string_view(text); }
  TextOut& operator<<(char c) {
    if (Room() == 0) Flush();
    *m_next++ = c;
    return *this;
  }
  template <std::integral T>
  TextOut& operator<<(T v) {
    static_assert(!std::is_same_v<T, bool> && !std::is_same_v<T, char>);
    if (Room() < kMaxDigits) Flush();
    m_next = std::to_chars(m_next, m_next + kMaxDigits, v).ptr;
    return *this;
  }

  // AppendJsonString into the output.
  bool JsonString(std::string_view text);

  // Hands what is buffered to the stream; throws on failure (stopping at the
  // first one, a full disk, rather than formatting the rest).
  void Flush();

 private:
  static constexpr size_t kBlock = 1 << 18;
  static constexpr size_t kMaxDigits = 24;  // a 64-bit integer with its sign

  size_t Room() const { return static_cast<size_t>(m_end - m_next); }
  TextOut& Spill(std::string_view text);  // text larger than the room left
  // Room for `size` more bytes, flushing first if needed; false when `size`
  // exceeds the whole block.
  bool Reserve(size_t size);

  std::ostream& m_out;
  std::string m_failure;
  std::unique_ptr<char[]> m_block;
  char* m_next;
  char* m_end;
};

}  // namespace kvmscope::traces

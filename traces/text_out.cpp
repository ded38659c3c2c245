// TextOut: the trace writers' buffered output and JSON string escaping.
#include "traces/text_out.h"

#include <array>
#include <stdexcept>

namespace kvmscope::traces {
namespace {

// The most a JSON string of `size` bytes takes: every byte as \u00xx, and
// the quotes.
constexpr size_t EscapedSizeLimit(size_t size) {
  return 6 * size + 2;
}

// Bytes a JSON string holds as they are; the others need an escape (ASCII)
// or a UTF-8 check (0x80 and up).
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// The length of the prefix of `text` that needs no escape and no check.
size_t PlainPrefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && kPlain[static_cast<uint8_t>(text[i])]) ++i;
  return i;
}

// Writes `text` (valid UTF-8) quoted and escaped at `out`, which has room
// for EscapedSizeLimit(text.size()) bytes; returns the end.
char* Escape(std::string_view text, char* out) {
  constexpr std::string_view kHex = "0123456789abcdef";
  *out++ = '"';
  for (char ch : text) {
    const auto c = static_cast<uint8_t>(ch);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *out++ = ch;  // UTF-8 sequences too: nlohmann::json writes them as they are
      continue;
    }
    *out++ = '\\';
    switch (c) {
      case '"': *out++ = '"'; break;
      case '\\': *out++ = '\\'; break;
      case '\b': *out++ = 'b'; break;
      case '\f': *out++ = 'f'; break;
      case '\n': *out++ = 'n'; break;
      case '\r': *out++ = 'r'; break;
      case '\t': *out++ = 't'; break;
      default:
        *out++ = 'u';
        *out++ = '0';
        *out++ = '0';
        *out++ = kHex[c >> 4];
        *out++ = kHex[c & 15];
    }
  }
  *out++ = '"';
  return out;
}

}  // namespace

bool ValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte gives the length and the range of the second byte (which
    // is what rules out overlong forms, surrogates and code points past
    // U+10FFFF); the later bytes are plain continuation bytes.
    size_t length = 0;
    uint8_t low = 0x80, high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return false;
    }
    if (n - i < length || s[i + 1] < low || s[i + 1] > high) return false;
    for (size_t k = 2; k < length; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xbf) return false;
    }
    i += length;
  }
  return true;
}

bool AppendJsonString(std::string& out, std::string_view text) {
  const size_t plain = PlainPrefix(text);
  if (plain < text.size() && !ValidUtf8(text.substr(plain))) return false;
  const size_t old_size = out.size();
  out.resize(old_size + EscapedSizeLimit(text.size()));
  char* end = Escape(text, out.data() + old_size);
  out.resize(static_cast<size_t>(end - out.data()));
  return true;
}

TextOut::TextOut(std::ostream& out, std::string failure)
    : m_out(out),
      m_failure(std::move(failure)),
      m_block(new char[kBlock]),
      m_next(m_block.get()),
      m_end(m_block.get() + kBlock) {}

bool TextOut::JsonString(std::string_view text) {
  const size_t plain = PlainPrefix(text);
  if (plain == text.size()) {
    if (Reserve(text.size() + 2)) {
      *m_next++ = '"';
      std::memcpy(m_next, text.data(), text.size());
      m_next += text.size();
      *m_next++ = '"';
    } else {
      *this << '"' << text << '"';
    }
    return true;
  }
  if (!ValidUtf8(text.substr(plain))) return false;
  if (Reserve(EscapedSizeLimit(text.size()))) {
    m_next = Escape(text, m_next);
  } else {
    std::string quoted;
    AppendJsonString(quoted, text);
    *this << quoted;
  }
  return true;
}

void TextOut::Flush() {
  m_out.write(m_block.get(), m_next - m_block.get());
  m_next = m_block.get();
  if (!m_out) throw std::runtime_error(m_failure);
}

TextOut& TextOut::Spill(std::string_view text) {
  Flush();
  if (text.size() <= Room()) return *this << text;
  m_out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!m_out) throw std::runtime_error(m_failure);
  return *this;
}

bool TextOut::Reserve(size_t size) {
  if (size <= Room()) return true;
  Flush();
  return size <= Room();
}

}  // namespace kvmscope::traces

// The inputs the native trace reader (trace_json_read.cpp) hands the JSON
// parser: a stream read in blocks, with progress, and a text in memory. Both
// lend the row scanner (trace_rows.h) the bytes past the parser's position.
// Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <iterator>
#include <string_view>
#include <vector>

#include "traces/trace_json.h"
#include "traces/trace_rows.h"

namespace kvmscope::traces::json_detail {

// The iterator types the JSON parser asks of an input of chars.
struct CharInput {
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
};

// Reads a stream in large blocks for the parser. nlohmann's own stream
// adapter costs a call per byte, which made loading 2.5 times slower. The
// row scanner reads the same blocks in place.
class StreamChunks final : public UnreadInput {
 public:
  StreamChunks(std::istream& in, LoadProgress progress, uint64_t size)
      : m_in(in), m_buffer(kBlock), m_progress(std::move(progress)), m_file_size(size) {
    Fill();
  }

  class Iterator : public CharInput {
   public:
    Iterator() = default;
    explicit Iterator(StreamChunks* chunks) : m_chunks(chunks) {}
    const char& operator*() const { return m_chunks->m_buffer[m_chunks->m_pos]; }
    Iterator& operator++() {
      if (++m_chunks->m_pos == m_chunks->m_size) m_chunks->Fill();
      return *this;
    }
    // Only "at the end or not" matters to the parser.
    bool operator==(const Iterator& other) const { return AtEnd() == other.AtEnd(); }

   private:
    bool AtEnd() const { return m_chunks == nullptr || m_chunks->ended(); }
    StreamChunks* m_chunks = nullptr;
  };
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }
  bool ended() const { return m_pos == m_size; }
  // Bytes read from the stream so far.
  size_t total() const { return m_total; }

  std::string_view Peek(size_t want) override {
    if (m_size - m_pos < want && !m_in.eof()) {
      // The unread bytes move to the front and the next blocks follow them,
      // so that reads stay whole blocks (and progress comes as often).
      std::memmove(m_buffer.data(), m_buffer.data() + m_pos, m_size - m_pos);
      m_size -= m_pos;
      m_pos = 0;
      size_t count = 0;
      do {
        if (m_buffer.size() < m_size + kBlock) m_buffer.resize(m_size + kBlock);
        count = Read();
      } while (m_size < want && count > 0);
    }
    return {m_buffer.data() + m_pos, m_size - m_pos};
  }
  void Skip(size_t count) override {
    m_pos += count;
    if (m_pos == m_size) Fill();
  }

 private:
  static constexpr size_t kBlock = 1 << 16;
  void Fill() {
    m_pos = 0;
    m_size = 0;
    Read();
  }
  // One block after the m_size bytes held; returns how many bytes came.
  size_t Read() {
    m_in.read(m_buffer.data() + m_size, static_cast<std::streamsize>(kBlock));
    const size_t count = static_cast<size_t>(m_in.gcount());
    if (m_in.bad()) {
      throw TraceFormatError(fmt::format("reading failed after byte {}", m_total));
    }
    m_size += count;
    m_total += count;
    if (m_progress) m_progress(m_total, m_file_size);
    return count;
  }
  std::istream& m_in;
  std::vector<char> m_buffer;
  LoadProgress m_progress;
  uint64_t m_file_size = 0;  // 0: not known
  size_t m_pos = 0;
  size_t m_size = 0;
  size_t m_total = 0;
};

// A text in memory for the parser, and for the row scanner in place.
class TextInput final : public UnreadInput {
 public:
  explicit TextInput(std::string_view text) : m_text(text) {}

  // The parser reads through the input's own position, which Skip moves.
  class Iterator : public CharInput {
   public:
    Iterator() = default;
    explicit Iterator(TextInput* input) : m_input(input) {}
    const char& operator*() const { return m_input->m_text[m_input->m_pos]; }
    Iterator& operator++() {
      ++m_input->m_pos;
      return *this;
    }
    bool operator==(const Iterator& other) const { return AtEnd() == other.AtEnd(); }

   private:
    bool AtEnd() const { return m_input == nullptr || m_input->m_pos == m_input->m_text.size(); }
    TextInput* m_input = nullptr;
  };
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }

  std::string_view Peek(size_t) override { return m_text.substr(m_pos); }
  void Skip(size_t count) override { m_pos += count; }

 private:
  std::string_view m_text;
  size_t m_pos = 0;
};

// One reading of the input; `scan_rows`: with the row scanner.

}  // namespace kvmscope::traces::json_detail

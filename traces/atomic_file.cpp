// Atomic file replacement: a buffered stream over a temporary file's
// descriptor (so that it can be fsynced), renamed over the final name only
// once everything was written and flushed.
#include "traces/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <streambuf>
#include <vector>

namespace kvmscope::traces {
namespace {

// A write-only streambuf over a file descriptor that remembers the errno of
// the first failed write, so that the error can say why (ENOSPC, EIO, ...).
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : m_fd(fd), m_buffer(1 << 16) {
    setp(m_buffer.data(), m_buffer.data() + m_buffer.size());
  }
  int error() const { return m_error; }

 protected:
  int_type overflow(int_type ch) override {
    if (!Drain()) return traits_type::eof();
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
    return ch;
  }
  int sync() override { return Drain() ? 0 : -1; }

 private:
  bool Drain() {
    const char* p = pbase();
    const char* end = pptr();
    while (p < end && m_error == 0) {
      ssize_t n = ::write(m_fd, p, static_cast<size_t>(end - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        m_error = n < 0 ? errno : EIO;
        break;
      }
      p += n;
    }
    setp(m_buffer.data(), m_buffer.data() + m_buffer.size());
    return m_error == 0;
  }

  int m_fd;
  std::vector<char> m_buffer;
  int m_error = 0;
};

std::string Reason(int err) {
  return std::strerror(err);
}

// Closes and unlinks the temporary file unless released: every way out of
// WriteFileAtomically before the rename, exceptions included, cleans up.
class TempFile {
 public:
  TempFile(std::string path, int fd) : m_path(std::move(path)), m_fd(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_path.empty()) ::unlink(m_path.c_str());
  }
  int fd() const { return m_fd; }
  const std::string& path() const { return m_path; }
  // Closes the descriptor; returns 0 or the errno of close().
  int Close() {
    int rc = ::close(m_fd);
    m_fd = -1;
    return rc == 0 ? 0 : errno;
  }
  void Release() { m_path.clear(); }

 private:
  std::string m_path;
  int m_fd;
};

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

TempFile CreateTemp(const std::string& path) {
  std::random_device random;
  for (int attempt = 0;; ++attempt) {
    std::string temp = fmt::format("{}.tmp-{}-{:08x}", path, ::getpid(), random());
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return TempFile(temp, fd);
    // A name collision with another writer is retried; anything else (no such
    // directory, permission denied, read-only file system) is final.
    if (errno != EEXIST || attempt == 8) {
      throw FileError(fmt::format("cannot write {}: cannot create the temporary file {}: {}", path,
                                  temp, Reason(errno)));
    }
  }
}

}  // namespace

void WriteFileAtomically(const std::string& path,
                         const std::function<void(std::ostream&)>& produce) {
  if (path.empty()) throw FileError("cannot write a file with an empty name");
  TempFile temp = CreateTemp(path);
  {
    FdStreamBuf buffer(temp.fd());
    std::ostream out(&buffer);
    try {
      produce(out);
    } catch (...) {
      // A producer that gave up because its stream failed: the system's
      // reason (ENOSPC, EFBIG) says more than the producer's message.
      if (buffer.error() == 0) throw;
    }
    out.flush();
    if (!out || buffer.error() != 0) {
      int err = buffer.error() != 0 ? buffer.error() : EIO;
      throw FileError(
          fmt::format("cannot write {}: writing {} failed: {}", path, temp.path(), Reason(err)));
    }
  }
  // Without fsync a crash after the rename could leave the new name pointing
  // at an empty or partial file on some file systems.
  while (::fsync(temp.fd()) != 0) {
    if (errno == EINTR) continue;
    throw FileError(
        fmt::format("cannot write {}: fsync of {} failed: {}", path, temp.path(), Reason(errno)));
  }
  if (int err = temp.Close(); err != 0) {
    throw FileError(
        fmt::format("cannot write {}: closing {} failed: {}", path, temp.path(), Reason(err)));
  }
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    throw FileError(fmt::format("cannot write {}: renaming {} to it failed: {}", path, temp.path(),
                                Reason(errno)));
  }
  temp.Release();
  // Make the rename itself durable. Best effort: some file systems refuse
  // fsync on a directory, and the file's content is already safe.
  int dir = ::open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace kvmscope::traces

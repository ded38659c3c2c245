// The binary stats fd: header, descriptors and values, by pread.
#include "vmm/kvm_stats.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmm/error.h"

namespace kvmscope::vmm {

namespace {

// <linux/kvm.h> declares kvm_stats_desc's name with __DECLARE_FLEX_ARRAY,
// which in C++ may change its size (see CpuidHeader in kvm.h): the fixed part
// is read with this C layout, 16 bytes, and the name follows it.
struct StatsDescHead {
  uint32_t flags;
  int16_t exponent;
  uint16_t size;
  uint32_t offset;
  uint32_t bucket_size;
};
static_assert(sizeof(StatsDescHead) == 16);
static_assert(sizeof(kvm_stats_header) == 24);

// A guard against a header that would make us allocate without bound.
constexpr uint64_t kMaxBlock = 16u << 20;

void PreadAll(int fd, void* into, size_t bytes, uint64_t offset, const char* what) {
  auto* p = static_cast<uint8_t*>(into);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = pread(fd, p + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorKind::Internal, ErrnoMessage(what, errno));
    if (n == 0) {
      throw Error(ErrorKind::Internal,
                  fmt::format("{}: the stats file ends at byte {} (expected {})", what,
                              offset + done, offset + bytes));
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

KvmStats::KvmStats(Fd stats_fd) : m_fd(std::move(stats_fd)) {
  const int fd = m_fd.get();
  kvm_stats_header header{};
  PreadAll(fd, &header, sizeof header, 0, "reading the KVM stats header");
  const uint64_t desc_bytes = sizeof(StatsDescHead) + uint64_t{header.name_size};
  if (header.name_size == 0 || header.name_size > 4096 ||
      uint64_t{header.num_desc} * desc_bytes > kMaxBlock) {
    throw Error(ErrorKind::Internal,
                fmt::format("KVM stats header makes no sense: {} descriptors, name size {}",
                            header.num_desc, header.name_size));
  }
  // The id string ("kvm-1234/vcpu-0"), name_size bytes at id_offset.
  std::vector<char> id(header.name_size);
  PreadAll(fd, id.data(), id.size(), header.id_offset, "reading the KVM stats id");
  m_id.assign(id.data(), strnlen(id.data(), id.size()));

  std::vector<uint8_t> block(header.num_desc * desc_bytes);
  PreadAll(fd, block.data(), block.size(), header.desc_offset,
           "reading the KVM stats descriptors");
  m_data_offset = header.data_offset;
  for (uint32_t i = 0; i < header.num_desc; ++i) {
    const uint8_t* at = block.data() + i * desc_bytes;
    StatsDescHead head;
    std::memcpy(&head, at, sizeof head);
    const char* name = reinterpret_cast<const char*>(at + sizeof head);
    KvmStatDesc d;
    d.name.assign(name, strnlen(name, header.name_size));
    d.flags = head.flags;
    d.exponent = head.exponent;
    d.size = head.size;
    d.offset = head.offset;
    d.bucket_size = head.bucket_size;
    const uint64_t end = uint64_t{d.offset} + uint64_t{d.size} * 8;
    if (d.size == 0 || d.offset % 8 != 0 || end > kMaxBlock) {
      throw Error(ErrorKind::Internal,
                  fmt::format("KVM stats descriptor {} ('{}') makes no sense: offset {}, size {}",
                              i, d.name, d.offset, d.size));
    }
    m_data_words = std::max<size_t>(m_data_words, end / 8);
    m_descs.push_back(std::move(d));
  }
}

std::map<std::string, uint64_t> KvmStats::Read() const {
  std::map<std::string, uint64_t> out;
  if (!valid()) return out;
  // One pread of the whole data block: the values are as close to one
  // moment as the kernel allows (it takes no lock for these either).
  std::vector<uint64_t> data(m_data_words);
  PreadAll(m_fd.get(), data.data(), data.size() * 8, m_data_offset,
           "reading the KVM stats values");
  for (const KvmStatDesc& d : m_descs) {
    if (d.histogram()) continue;
    out[d.name] = data[d.offset / 8];  // by the descriptor's own offset: not in list order
  }
  return out;
}

bool HasBinaryStats(const IoctlReporter& io, int kvm_fd) {
  return io.Call(kvm_fd, KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", KVM_CAP_BINARY_STATS_FD, -1,
                 true) > 0;
}

KvmStats OpenKvmStats(const IoctlReporter& io, int vm_or_vcpu_fd, int vcpu) {
  long fd = io.Call(vm_or_vcpu_fd, KVM_GET_STATS_FD, "KVM_GET_STATS_FD", 0UL, vcpu, true);
  if (fd < 0) {
    throw Error(ErrorKind::Internal, ErrnoMessage("KVM_GET_STATS_FD failed", static_cast<int>(-fd)));
  }
  return KvmStats(Fd(static_cast<int>(fd)));
}

}  // namespace kvmscope::vmm

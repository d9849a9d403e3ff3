#include "service/backend/filesystem/chunk_io.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"

namespace ecsimage::backend::filesystem {
namespace {

// cachestat(2), Linux 6.5; Debian 12's headers predate it. 451 in every
// architecture's table.
constexpr long kSysCachestat = 451;
struct CachestatRange {
  uint64_t off;
  uint64_t len;
};
struct Cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

int64_t RoundUp(int64_t n) {
  return (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
}

}  // namespace

absl::Status ErrnoError(int err, absl::string_view what) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": no space left on the device"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

AlignedBuffer::AlignedBuffer(size_t size)
    : size_(static_cast<size_t>(RoundUp(static_cast<int64_t>(size)))) {
  void* p = nullptr;
  if (::posix_memalign(&p, kDirectAlign, std::max<size_t>(size_, 1)) != 0) {
    throw std::bad_alloc();
  }
  data_ = static_cast<char*>(p);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

SourceReader::SourceReader(int fd) : fd_(fd) {
  // A second open file description of the same file (not a path lookup of
  // anything the object's owner controls).
  const std::string self = absl::StrCat("/proc/self/fd/", fd);
  direct_ = UniqueFd(::open(self.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
}

absl::Status SourceReader::ReadExact(char* buf, int64_t len, int64_t offset) {
  bool direct = false;
  if (direct_.valid() && offset % kDirectAlign == 0) {
    // Cached pages (dirty ones included) are read from the cache; a range
    // not wholly cached is read from the disk. No cachestat (an old kernel,
    // a seccomp filter): from the cache.
    CachestatRange range{static_cast<uint64_t>(offset),
                         static_cast<uint64_t>(len)};
    Cachestat cs{};
    if (::syscall(kSysCachestat, fd_, &range, &cs, 0) == 0) {
      direct = cs.nr_cache < static_cast<uint64_t>(RoundUp(len) / 4096);
    }
  }
  int64_t got = 0;
  while (got < len) {
    ssize_t n;
    if (direct) {
      n = ::pread(direct_.get(), buf + got, RoundUp(len - got), offset + got);
      if (n < 0 && errno == EINVAL) {  // the file system refuses O_DIRECT
        direct_.Reset();
        direct = false;
        continue;
      }
    } else {
      n = ::pread(fd_, buf + got, len - got, offset + got);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "read");
    if (n == 0) return absl::InternalError("read: the file shrank");
    got += n;
    if (direct) direct_bytes_ += n;
    // O_DIRECT reads whole blocks; a short one mid-way goes on buffered.
    if (direct && got < len && got % kDirectAlign != 0) direct = false;
  }
  return absl::OkStatus();
}

ChunkWriter::ChunkWriter(Files& files, int fd, int dir_fd,
                         const std::string& name)
    : files_(files), fd_(fd) {
  const int direct = files.OpenAt(dir_fd, name, O_WRONLY | O_DIRECT, 0);
  if (direct >= 0) direct_ = UniqueFd(direct);
}

int ChunkWriter::Write(const char* data, int64_t len, int64_t offset) {
  if (direct_.valid() && len % kDirectAlign == 0 &&
      offset % kDirectAlign == 0 &&
      reinterpret_cast<uintptr_t>(data) % kDirectAlign == 0) {
    const int rc = PWriteAll(files_, direct_.get(), data,
                             static_cast<size_t>(len), offset);
    if (rc != -EINVAL) return rc;
    direct_.Reset();  // the file system refuses O_DIRECT: buffered from now
  }
  return PWriteAll(files_, fd_, data, static_cast<size_t>(len), offset);
}

}  // namespace ecsimage::backend::filesystem

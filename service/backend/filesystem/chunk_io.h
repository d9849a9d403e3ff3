// How the chunked copy moves bytes without paying for the page cache
// (BENCHMARKS.md, filesystem section). On these virtual machines a page-cache
// page the guest freed is handed back to the host (free page reporting), so
// filling the page cache with a fresh GiB costs seconds of CPU in page
// faults charged to the kernel's copy: measured 4.6 s of system time for a
// buffered 1 GiB write against 0.3 s with O_DIRECT. So:
//  - the destination is written with O_DIRECT where the file system allows
//    it (chunk-aligned offsets, lengths a multiple of kDirectAlign), through
//    the page cache otherwise (a short last chunk, tmpfs on old kernels);
//  - the source is read from the page cache when it is cached there
//    (preadv2 RWF_NOWAIT) and with O_DIRECT when it is not, so a cold
//    source is not pulled through the page cache either.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_CHUNK_IO_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_CHUNK_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "service/backend/filesystem/files.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {

// O_DIRECT's alignment for offsets, lengths and buffers (the largest
// logical block size in use).
inline constexpr int64_t kDirectAlign = 4096;

// ENOSPC/EDQUOT: ResourceExhausted; anything else Internal.
absl::Status ErrnoError(int err, absl::string_view what);

// A heap buffer aligned for O_DIRECT.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size);
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();
  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a file (not owned) from the page cache when cached, with O_DIRECT
// on a second descriptor of the same file otherwise.
class SourceReader {
 public:
  explicit SourceReader(int fd);
  int fd() const { return fd_; }
  // Reads exactly `len` bytes at `offset` (a multiple of kDirectAlign) into
  // `buf`, aligned and at least `len` rounded up to kDirectAlign long.
  absl::Status ReadExact(char* buf, int64_t len, int64_t offset);
  // Bytes read with O_DIRECT so far (for tests and figures).
  int64_t direct_bytes() const { return direct_bytes_; }

 private:
  int fd_;
  UniqueFd direct_;  // invalid: no O_DIRECT reads
  int64_t direct_bytes_ = 0;
};

// Writes chunks of a file opened (buffered) as `fd` in `dir_fd` as `name`,
// with O_DIRECT through `files` where it can. Durability is the caller's:
// Sync(fd) covers both descriptors.
class ChunkWriter {
 public:
  ChunkWriter(Files& files, int fd, int dir_fd, const std::string& name);
  // Writes all of `data` at `offset`; -errno on failure. Not thread-safe;
  // may run on another thread than the one that made the writer.
  int Write(const char* data, int64_t len, int64_t offset);
  bool direct() const { return direct_.valid(); }

 private:
  Files& files_;
  int fd_;
  UniqueFd direct_;
};

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_CHUNK_IO_H_

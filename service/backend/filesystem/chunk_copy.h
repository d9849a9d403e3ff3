// Chunked, resumable, verified byte copies (data-plane.md §2).
//
// An image is cut in chunks of kChunkBytes (8 MiB; the last may be short).
// Each chunk has a SHA-256 digest; the image digest is the SHA-256 of the
// chunk digests (32 raw bytes each, in order). A chunk that is a hole in the
// source (SEEK_DATA) or all zeros is not written (the copy stays sparse),
// and its digest is the cached digest of zeros, so a blank disk is not
// hashed byte by byte.
//
// A copy writes into a temporary file; every kCheckpointChunks chunks it
// makes the file durable (fsync) and then appends the chunks' digests to a
// checkpoint file (fsync), so a restart resumes after the last checkpoint,
// first verifying the chunks it kept.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_CHUNK_COPY_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_CHUNK_COPY_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/backend/filesystem/files.h"

namespace ecsimage::backend::filesystem {

inline constexpr int64_t kChunkBytes = int64_t{8} << 20;
inline constexpr int64_t kCheckpointChunks = 8;

// SHA-256 of `size` zero bytes' chunk digests: the image digest of a blank
// disk of `size` bytes, computed without reading anything.
std::string BlankImageDigest(int64_t size);

std::string HexDigest(const unsigned char* digest32);

// The image digest of an image with data disks: the SHA-256 of its disks'
// digests (32 raw bytes each, the system disk first). With one disk, that
// disk's digest.
std::string ImageDigestOfDisks(const std::vector<std::string>& hex_digests);

struct ChunkCopyTarget {
  int dir_fd = -1;       // holds `part`
  std::string part;      // the temporary data file
  int ckpt_dir_fd = -1;  // holds `checkpoint`
  std::string checkpoint;
};

struct ChunkCopyControl {
  // Set: stop at the next chunk (Cancelled).
  const std::atomic<bool>* stop = nullptr;
  // Bytes made durable so far (resumed ones included), plus base_bytes
  // (the disks of the same work before this one).
  std::atomic<int64_t>* done_bytes = nullptr;
  int64_t base_bytes = 0;
  // Bytes written so far, durable or not (for the measured rate).
  std::atomic<int64_t>* moved_bytes = nullptr;
  // 0: unlimited.
  int64_t bandwidth_bytes_per_s = 0;
  // Resumed (checkpointed) bytes, for tests and figures.
  int64_t* resumed_bytes = nullptr;
};

// Copies `size` bytes of `src_fd` into the target, resuming from its
// checkpoint, and leaves the part file synced (not renamed). Returns the
// image digest (hex). Errors: Cancelled (stop), ResourceExhausted (no
// space), Internal (I/O).
absl::StatusOr<std::string> CopyChunks(Files& files, int src_fd, int64_t size,
                                       const ChunkCopyTarget& target,
                                       const ChunkCopyControl& control);

// The image digest of `size` bytes of `fd` (reads only data extents).
absl::StatusOr<std::string> DigestOfFile(int fd, int64_t size);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_CHUNK_COPY_H_

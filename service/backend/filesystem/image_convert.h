// ExportImage in a format other than the stored one (data-plane.md §2):
// `qemu-img convert`, then `qemu-img compare` of the result against the
// source. qemu-img is the one tool the filesystem backend runs on image
// content, so it runs fenced:
//  - formats are named, never probed, and a QCOW2 is opened with no backing
//    file ("backing": null; import already refused external data files);
//  - files are the descriptors given here, as /proc/self/fd/3 and 4 in the
//    child, never paths under a bucket (no symlink is ever followed);
//  - address space, CPU time and wall-clock time are limited (ConvertLimits)
//    and the child dies with its parent thread (PR_SET_PDEATHSIG);
//  - `stop` kills it at once.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_IMAGE_CONVERT_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_IMAGE_CONVERT_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace ecsimage::backend::filesystem {

struct ConvertLimits {
  int64_t address_space_bytes = int64_t{1} << 30;
  // Each step (convert, compare): base + per GiB of the source.
  int64_t cpu_seconds_base = 120;
  int64_t cpu_seconds_per_gib = 30;
  int64_t wall_ms_base = 600'000;
  int64_t wall_ms_per_gib = 120'000;
};

struct ConvertJob {
  std::string qemu_img = "qemu-img";  // looked up on PATH without a '/'
  int src_fd = -1;
  std::string src_format;  // "RAW" | "QCOW2"
  int64_t src_size = 0;    // bytes of the source file
  // An empty regular file opened read-write; filled in `dst_format`.
  int dst_fd = -1;
  std::string dst_format;
  const std::atomic<bool>* stop = nullptr;
  // base_bytes + 0..src_size while converting, from qemu-img's progress;
  // may be null.
  std::atomic<int64_t>* done_bytes = nullptr;
  int64_t base_bytes = 0;
  ConvertLimits limits;
};

// Converts and verifies. OK: dst holds the source's disk in dst_format (not
// yet synced). kCancelled when `stop` was set; kResourceExhausted when the
// destination is full; kDataLoss when the result differs from the source;
// kDeadlineExceeded past a limit; kUnavailable when qemu-img cannot run;
// kInternal for any other failure (its message ends with qemu-img's).
absl::Status ConvertImage(const ConvertJob& job);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_IMAGE_CONVERT_H_

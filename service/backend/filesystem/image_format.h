// Recognises a disk image by its content (data-plane.md §2): QCOW2 by its
// header (magic, version 2 or 3, virtual size; a backing file or an
// external data file is refused), VHD/VHDX refused as unsupported, anything
// else RAW. Reads only the header and the last 512 bytes; runs no tool.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_IMAGE_FORMAT_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_IMAGE_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ecsimage::backend::filesystem {

struct DetectedFormat {
  std::string format;        // "RAW" or "QCOW2"; empty when refused
  int64_t virtual_size = 0;  // bytes of the disk it stands for
  // When refused: a FailureCode and a message for the owner.
  std::string failure_code;
  std::string failure_message;
};

// `header`: the file's first bytes (up to 512); `tail`: its last 512 bytes
// (or all of it when shorter); `file_size`: its length.
DetectedFormat DetectFormat(absl::string_view header, absl::string_view tail,
                            int64_t file_size);

// Reads what DetectFormat needs from `fd`.
DetectedFormat DetectFormatOfFd(int fd);

// For the owner, when an object's content is `found` and the request said
// `wanted` (ImportImage's DiskDeviceMapping.N.Format).
std::string FormatMismatchMessage(absl::string_view found,
                                  absl::string_view wanted);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_IMAGE_FORMAT_H_

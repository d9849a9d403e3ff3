// The FailureCode values a filesystem task ends with (docs/operations.md).
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FAILURE_CODES_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FAILURE_CODES_H_

#include "absl/strings/string_view.h"

namespace ecsimage::backend::filesystem {

inline constexpr absl::string_view kFailInvalidBucket = "InvalidOSSBucket";
inline constexpr absl::string_view kFailBucketNotFound = "OSSBucketNotFound";
inline constexpr absl::string_view kFailInvalidObject = "InvalidOSSObject";
inline constexpr absl::string_view kFailObjectNotFound = "OSSObjectNotFound";
inline constexpr absl::string_view kFailInvalidFormat = "InvalidImageFormat";
inline constexpr absl::string_view kFailUnsupportedFormat =
    "UnsupportedImageFormat";
inline constexpr absl::string_view kFailBackingFile = "BackingFileNotAllowed";
inline constexpr absl::string_view kFailDiskFull = "DiskFull";
inline constexpr absl::string_view kFailChecksum = "ChecksumMismatch";
inline constexpr absl::string_view kFailDataMissing = "ImageDataMissing";
inline constexpr absl::string_view kFailIo = "IOError";
// ExportImage to another format: qemu-img missing, failed or past a limit.
inline constexpr absl::string_view kFailConversion = "ImageConversionFailed";

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FAILURE_CODES_H_

// The object store of the filesystem backend: bucket B is the directory
// <oss-root>/B, an object key a path beneath it (data-plane.md §2). Every
// file is reached by a walk that opens one component at a time with
// O_NOFOLLOW from the bucket's descriptor, so no symlink is ever followed
// and nothing outside the bucket is ever touched.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_OSS_PATHS_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_OSS_PATHS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {

// OSS's rules: [a-z0-9-]{3,63}, no leading or trailing '-'.
absl::Status CheckBucketName(absl::string_view bucket);
// Relative, <= 1023 bytes, no NUL, no empty, "." or ".." segment.
absl::Status CheckObjectKey(absl::string_view key);

// Opens bucket `bucket` under `oss_root` (must exist, a real directory).
absl::StatusOr<UniqueFd> OpenBucket(const std::string& oss_root,
                                    absl::string_view bucket);

// Opens `key` beneath `bucket_fd` for reading: non-blocking, and only if it
// is a regular file (no symlink, FIFO or device anywhere on the way).
absl::StatusOr<UniqueFd> OpenObjectForRead(int bucket_fd,
                                           absl::string_view key);

// Opens the directory that will hold `key` (every parent must exist) and
// returns it with the key's last component in `*name`.
absl::StatusOr<UniqueFd> OpenObjectParent(int bucket_fd, absl::string_view key,
                                          std::string* name);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_OSS_PATHS_H_

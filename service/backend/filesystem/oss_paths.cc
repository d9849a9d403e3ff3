#include "service/backend/filesystem/oss_paths.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr size_t kMaxKeyBytes = 1023;

absl::Status ErrnoStatus(int err, absl::string_view what) {
  if (err == ENOENT || err == ENOTDIR) {
    return absl::NotFoundError(absl::StrCat(what, ": not found"));
  }
  if (err == ELOOP) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": a symbolic link is never followed"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// Opens directory component `name` beneath `dir_fd` without following links.
absl::StatusOr<UniqueFd> OpenDirBeneath(int dir_fd, const std::string& name,
                                        absl::string_view what) {
  UniqueFd fd(::openat(dir_fd, name.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, what);
  return fd;
}

}  // namespace

absl::Status CheckBucketName(absl::string_view bucket) {
  bool ok = bucket.size() >= 3 && bucket.size() <= 63 &&
            bucket.front() != '-' && bucket.back() != '-';
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "OSSBucket: 3-63 characters of [a-z0-9-], no leading or trailing '-'");
}

absl::Status CheckObjectKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError("OSSObject: 1-1023 bytes");
  }
  if (key.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("OSSObject: no NUL byte");
  }
  if (key.front() == '/') {
    return absl::InvalidArgumentError("OSSObject: must be relative");
  }
  for (absl::string_view segment : absl::StrSplit(key, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          "OSSObject: no empty, '.' or '..' segment");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenBucket(const std::string& oss_root,
                                    absl::string_view bucket) {
  if (absl::Status s = CheckBucketName(bucket); !s.ok()) return s;
  UniqueFd root(::open(oss_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "oss root");
  return OpenDirBeneath(root.get(), std::string(bucket),
                        absl::StrCat("bucket ", bucket));
}

absl::StatusOr<UniqueFd> OpenObjectParent(int bucket_fd, absl::string_view key,
                                          std::string* name) {
  if (absl::Status s = CheckObjectKey(key); !s.ok()) return s;
  std::vector<std::string> parts = absl::StrSplit(key, '/');
  UniqueFd dir(::fcntl(bucket_fd, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return ErrnoStatus(errno, "bucket");
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    absl::StatusOr<UniqueFd> next =
        OpenDirBeneath(dir.get(), parts[i], absl::StrCat("object ", key));
    if (!next.ok()) return next.status();
    dir = *std::move(next);
  }
  *name = parts.back();
  return dir;
}

absl::StatusOr<UniqueFd> OpenObjectForRead(int bucket_fd,
                                           absl::string_view key) {
  std::string name;
  absl::StatusOr<UniqueFd> dir = OpenObjectParent(bucket_fd, key, &name);
  if (!dir.ok()) return dir.status();
  // O_NONBLOCK: opening a FIFO never waits for a writer.
  UniqueFd fd(::openat(dir->get(), name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("object ", key));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "object");
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("object ", key, ": not a regular file"));
  }
  return fd;
}

}  // namespace ecsimage::backend::filesystem

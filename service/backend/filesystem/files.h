// The small file interface every write of the filesystem backend goes
// through (data-plane.md §4), so that a test can inject a full disk or an
// I/O error. Calls return 0 (or a count / descriptor) or -errno.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FILES_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FILES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace ecsimage::backend::filesystem {

class Files {
 public:
  virtual ~Files() = default;
  // openat(dir_fd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode).
  virtual int OpenAt(int dir_fd, const std::string& name, int flags,
                     mode_t mode) = 0;
  virtual ssize_t PWrite(int fd, const void* data, size_t size,
                         int64_t offset) = 0;
  virtual int Truncate(int fd, int64_t size) = 0;
  virtual int Sync(int fd) = 0;  // fsync: a file's data or a directory
  virtual int RenameAt(int dir_fd, const std::string& from,
                       const std::string& to) = 0;
  virtual int UnlinkAt(int dir_fd, const std::string& name) = 0;
};

// The real thing (POSIX calls).
Files& PosixFiles();

// Writes all of `data` at `offset`; -errno on failure.
int PWriteAll(Files& files, int fd, const void* data, size_t size,
              int64_t offset);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FILES_H_

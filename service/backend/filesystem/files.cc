#include "service/backend/filesystem/files.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

namespace ecsimage::backend::filesystem {
namespace {

int Result(int rc) { return rc < 0 ? -errno : rc; }

class Posix : public Files {
 public:
  int OpenAt(int dir_fd, const std::string& name, int flags,
             mode_t mode) override {
    return Result(
        ::openat(dir_fd, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode));
  }
  ssize_t PWrite(int fd, const void* data, size_t size,
                 int64_t offset) override {
    ssize_t n = ::pwrite(fd, data, size, offset);
    return n < 0 ? -errno : n;
  }
  int Truncate(int fd, int64_t size) override {
    return Result(::ftruncate(fd, size));
  }
  int Sync(int fd) override { return Result(::fsync(fd)); }
  int RenameAt(int dir_fd, const std::string& from,
               const std::string& to) override {
    return Result(::renameat(dir_fd, from.c_str(), dir_fd, to.c_str()));
  }
  int UnlinkAt(int dir_fd, const std::string& name) override {
    return Result(::unlinkat(dir_fd, name.c_str(), 0));
  }
};

}  // namespace

Files& PosixFiles() {
  static Posix* files = new Posix();
  return *files;
}

int PWriteAll(Files& files, int fd, const void* data, size_t size,
              int64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = files.PWrite(fd, p, size, offset);
    if (n == -EINTR) continue;
    if (n < 0) return static_cast<int>(n);
    if (n == 0) return -EIO;
    p += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return 0;
}

}  // namespace ecsimage::backend::filesystem

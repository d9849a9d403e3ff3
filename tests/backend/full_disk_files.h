// A Files that fails writes with ENOSPC once a byte budget is spent (an
// injected full disk), for the backend tests.
#ifndef ECSIMAGE_TESTS_BACKEND_FULL_DISK_FILES_H_
#define ECSIMAGE_TESTS_BACKEND_FULL_DISK_FILES_H_

#include <cerrno>
#include <cstdint>
#include <string>

#include "service/backend/filesystem/files.h"

namespace ecsimage::backend::filesystem {

class FullDiskFiles : public Files {
 public:
  explicit FullDiskFiles(int64_t budget) : budget_(budget) {}
  int OpenAt(int d, const std::string& n, int f, mode_t m) override {
    return PosixFiles().OpenAt(d, n, f, m);
  }
  ssize_t PWrite(int fd, const void* p, size_t n, int64_t off) override {
    if (static_cast<int64_t>(n) > budget_) return -ENOSPC;
    budget_ -= static_cast<int64_t>(n);
    return PosixFiles().PWrite(fd, p, n, off);
  }
  int Truncate(int fd, int64_t s) override {
    return PosixFiles().Truncate(fd, s);
  }
  int Sync(int fd) override { return PosixFiles().Sync(fd); }
  int RenameAt(int d, const std::string& a, const std::string& b) override {
    return PosixFiles().RenameAt(d, a, b);
  }
  int UnlinkAt(int d, const std::string& n) override {
    return PosixFiles().UnlinkAt(d, n);
  }

 private:
  int64_t budget_;
};

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_TESTS_BACKEND_FULL_DISK_FILES_H_

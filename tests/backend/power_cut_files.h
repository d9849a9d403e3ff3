// A Files that models a power cut, for crash rounds of the filesystem
// backend (data-plane.md §4). The worst case, deterministically: at the cut
// every file's content goes back to what its last Sync made durable, and
// every directory's entries go back to what its last Sync made durable
// (creates, renames and unlinks since are undone; an entry made durable
// whose file was never synced comes back empty). Files and entries present
// when a directory is first touched are durable as they are.
//
// `CutAfter(n)`: from the n-th operation on, every call fails with EIO (the
// process is gone); `ApplyCut()` then rewrites the touched directories to
// their durable state. Durable content is kept as sparse copies in a shadow
// directory. Not thread-safe: a test runs one work item at a time.
#ifndef ECSIMAGE_TESTS_BACKEND_POWER_CUT_FILES_H_
#define ECSIMAGE_TESTS_BACKEND_POWER_CUT_FILES_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/backend/filesystem/files.h"

namespace ecsimage::backend::filesystem {

class PowerCutFiles : public Files {
 public:
  explicit PowerCutFiles(std::string shadow_dir)
      : shadow_(std::move(shadow_dir)) {}

  // Operations so far (every call counts, failed ones too).
  int64_t operations() const { return ops_; }
  void CutAfter(int64_t n) { cut_at_ = n; }
  bool cut() const { return ops_ >= cut_at_; }

  int OpenAt(int d, const std::string& n, int f, mode_t m) override {
    if (Tick()) return -EIO;
    Touch(d);
    return PosixFiles().OpenAt(d, n, f, m);
  }
  ssize_t PWrite(int fd, const void* p, size_t n, int64_t off) override {
    if (Tick()) return -EIO;
    return PosixFiles().PWrite(fd, p, n, off);
  }
  int Truncate(int fd, int64_t s) override {
    if (Tick()) return -EIO;
    return PosixFiles().Truncate(fd, s);
  }
  int Sync(int fd) override {
    if (Tick()) return -EIO;
    const int rc = PosixFiles().Sync(fd);
    if (rc != 0) return rc;
    struct stat st;
    if (::fstat(fd, &st) != 0) return -errno;
    if (S_ISDIR(st.st_mode)) {
      Touch(fd);
      dirs_[PathOf(fd)] = Listing(fd);
    } else {
      Snapshot(fd, Key(st));
    }
    return 0;
  }
  int RenameAt(int d, const std::string& a, const std::string& b) override {
    if (Tick()) return -EIO;
    Touch(d);
    return PosixFiles().RenameAt(d, a, b);
  }
  int UnlinkAt(int d, const std::string& n) override {
    if (Tick()) return -EIO;
    Touch(d);
    return PosixFiles().UnlinkAt(d, n);
  }

  // Rewrites every touched directory to its durable state.
  void ApplyCut() {
    for (const auto& [dir, durable] : dirs_) {
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) continue;
      for (const auto& [name, key] : Listing(fd)) {
        ::unlinkat(fd, name.c_str(), 0);
      }
      for (const auto& [name, key] : durable) {
        int out =
            ::openat(fd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        auto it = content_.find(key);
        if (out >= 0 && it != content_.end()) CopySparse(it->second, out);
        if (out >= 0) ::close(out);
      }
      ::close(fd);
    }
  }

 private:
  using InodeKey = std::pair<dev_t, ino_t>;

  static InodeKey Key(const struct stat& st) { return {st.st_dev, st.st_ino}; }

  bool Tick() { return ++ops_ > cut_at_; }

  static std::string PathOf(int fd) {
    char buf[4096];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  // Regular files of a directory: name -> inode.
  static std::map<std::string, InodeKey> Listing(int dir_fd) {
    std::map<std::string, InodeKey> out;
    int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    DIR* dir = dup >= 0 ? ::fdopendir(dup) : nullptr;
    if (dir == nullptr) return out;
    ::rewinddir(dir);
    while (struct dirent* e = ::readdir(dir)) {
      struct stat st;
      if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode)) {
        out[e->d_name] = Key(st);
      }
    }
    ::closedir(dir);
    return out;
  }

  // First sight of a directory: what is in it is durable as it is.
  void Touch(int dir_fd) {
    const std::string path = PathOf(dir_fd);
    if (path.empty() || dirs_.count(path) > 0) return;
    dirs_[path] = Listing(dir_fd);
    for (const auto& [name, key] : dirs_[path]) {
      int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        Snapshot(fd, key);
        ::close(fd);
      }
    }
  }

  void Snapshot(int fd, InodeKey key) {
    const std::string path = shadow_ + "/" + std::to_string(key.first) + "-" +
                             std::to_string(key.second);
    int out =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return;
    // `fd` may be write-only: read through a new description of the file.
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    int in = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
      CopyFd(in, out);
      ::close(in);
    }
    ::close(out);
    content_[key] = path;
  }

  static void CopySparse(const std::string& from, int out) {
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return;
    CopyFd(in, out);
    ::close(in);
  }

  // Copies the data extents of `in` into `out` (same size, holes kept).
  static void CopyFd(int in, int out) {
    struct stat st;
    if (::fstat(in, &st) != 0 || ::ftruncate(out, st.st_size) != 0) return;
    std::vector<char> buf(1 << 20);
    off_t off = 0;
    while (off < st.st_size) {
      off_t data = ::lseek(in, off, SEEK_DATA);
      if (data < 0) break;
      off_t hole = ::lseek(in, data, SEEK_HOLE);
      if (hole < 0) hole = st.st_size;
      for (off_t p = data; p < hole;) {
        ssize_t n =
            ::pread(in, buf.data(), std::min<off_t>(buf.size(), hole - p), p);
        if (n <= 0) return;
        if (::pwrite(out, buf.data(), n, p) != n) return;
        p += n;
      }
      off = hole;
    }
  }

  const std::string shadow_;
  int64_t ops_ = 0;
  int64_t cut_at_ = INT64_MAX;
  // Durable entries of every touched directory, by its path.
  std::map<std::string, std::map<std::string, InodeKey>> dirs_;
  // Durable content of every synced (or pre-existing) file.
  std::map<InodeKey, std::string> content_;
};

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_TESTS_BACKEND_POWER_CUT_FILES_H_

// The chunked copy's reads and writes: the page cache and O_DIRECT give the
// same bytes, and a file system (or a Files fake) that refuses O_DIRECT
// gets buffered writes.
#include "service/backend/filesystem/chunk_io.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/backend/full_disk_files.h"
#include "tests/backend/temp_dir_test.h"

namespace ecsimage::backend::filesystem {
namespace {

bool CachestatWorks(int fd) {
  uint64_t range[2] = {0, 4096};
  uint64_t stat[5] = {};
  return syscall(451, fd, range, stat, 0) == 0;
}

class ChunkIoTest : public TempDirTest {
 protected:
  static std::string Pattern(size_t size) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * 131 + 7);
    return s;
  }
  std::string ReadBack(const std::string& name, size_t size) {
    UniqueFd fd(openat(dir_.get(), name.c_str(), O_RDONLY));
    std::string out(size, '\0');
    EXPECT_EQ(pread(fd.get(), out.data(), size, 0), static_cast<ssize_t>(size));
    return out;
  }
};

TEST_F(ChunkIoTest, CachedAndUncachedRangesReadTheSame) {
  const size_t size = 3 * (1 << 20) + 100;  // a short last block
  const std::string want = Pattern(size);
  UniqueFd fd(openat(dir_.get(), "src", O_RDWR | O_CREAT, 0644));
  ASSERT_EQ(pwrite(fd.get(), want.data(), size, 0), static_cast<ssize_t>(size));
  ASSERT_EQ(fsync(fd.get()), 0);
  // The first 2 MiB are not in the page cache, the rest is (dropped whole,
  // then the tail read back: large folios are never dropped in part).
  ASSERT_EQ(posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED), 0);
  std::string tail(size - (2 << 20), '\0');
  ASSERT_EQ(pread(fd.get(), tail.data(), tail.size(), 2 << 20),
            static_cast<ssize_t>(tail.size()));
  SourceReader reader(fd.get());
  AlignedBuffer buf(size);
  ASSERT_TRUE(reader.ReadExact(buf.data(), 2 << 20, 0).ok());
  ASSERT_TRUE(
      reader.ReadExact(buf.data() + (2 << 20), size - (2 << 20), 2 << 20).ok());
  EXPECT_EQ(std::memcmp(buf.data(), want.data(), size), 0);
  // The uncached part came from the disk, the cached rest from the cache
  // (where the kernel has cachestat(2), 6.5+, and the file system O_DIRECT).
  if (CachestatWorks(fd.get())) {
    EXPECT_EQ(reader.direct_bytes(), 2 << 20);
  }
  // Past the end: the file shrank under the copy.
  EXPECT_FALSE(reader.ReadExact(buf.data(), 8192, size - 100).ok());
}

// Refuses O_DIRECT opens as some file systems do.
class NoDirectFiles : public FullDiskFiles {
 public:
  NoDirectFiles() : FullDiskFiles(INT64_MAX) {}
  int OpenAt(int d, const std::string& n, int f, mode_t m) override {
    if ((f & O_DIRECT) != 0) return -EINVAL;
    return FullDiskFiles::OpenAt(d, n, f, m);
  }
};

TEST_F(ChunkIoTest, WritesAlignedAndShortChunksWithOrWithoutODirect) {
  NoDirectFiles no_direct;
  for (Files* files : {&PosixFiles(), static_cast<Files*>(&no_direct)}) {
    const std::string name = files == &no_direct ? "buffered" : "direct";
    const int fd = files->OpenAt(dir_.get(), name, O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    UniqueFd owned(fd);
    ChunkWriter writer(*files, fd, dir_.get(), name);
    if (files == &no_direct) {
      EXPECT_FALSE(writer.direct());
    }
    const size_t size = 2 * (1 << 20) + 100;
    const std::string want = Pattern(size);
    AlignedBuffer buf(size);
    std::memcpy(buf.data(), want.data(), size);
    // An aligned chunk, then a short one (never O_DIRECT).
    ASSERT_EQ(writer.Write(buf.data(), 1 << 20, 0), 0);
    ASSERT_EQ(writer.Write(buf.data() + (1 << 20), size - (1 << 20), 1 << 20),
              0);
    ASSERT_EQ(fsync(fd), 0);
    EXPECT_EQ(ReadBack(name, size), want) << name;
  }
}

TEST_F(ChunkIoTest, NoSpaceIsResourceExhausted) {
  EXPECT_TRUE(absl::IsResourceExhausted(ErrnoError(ENOSPC, "write")));
  EXPECT_TRUE(absl::IsResourceExhausted(ErrnoError(EDQUOT, "write")));
  EXPECT_TRUE(absl::IsInternal(ErrnoError(EIO, "write")));
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

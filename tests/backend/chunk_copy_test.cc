// Chunked copies: digests, sparseness, resume from a checkpoint, stop,
// and a full disk injected through the Files interface.
#include "service/backend/filesystem/chunk_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "service/backend/filesystem/unique_fd.h"
#include "tests/backend/full_disk_files.h"
#include "tests/backend/temp_dir_test.h"

namespace ecsimage::backend::filesystem {
namespace {

class ChunkCopyTest : public TempDirTest {
 protected:
  // A file of `size` bytes: holes, with a distinct byte pattern in every
  // third chunk.
  UniqueFd Source(int64_t size) {
    UniqueFd fd(openat(dir_.get(), "src", O_RDWR | O_CREAT | O_TRUNC, 0644));
    EXPECT_EQ(ftruncate(fd.get(), size), 0);
    for (int64_t off = 0; off < size; off += 3 * kChunkBytes) {
      std::string block(
          static_cast<size_t>(std::min<int64_t>(4096, size - off)),
          static_cast<char>('a' + (off / kChunkBytes) % 26));
      EXPECT_EQ(pwrite(fd.get(), block.data(), block.size(), off),
                static_cast<ssize_t>(block.size()));
    }
    return fd;
  }
  ChunkCopyTarget Target() {
    return ChunkCopyTarget{dir_.get(), "dst.part", dir_.get(), "dst.ckpt"};
  }
  std::string FileDigest(const std::string& name, int64_t size) {
    UniqueFd fd(openat(dir_.get(), name.c_str(), O_RDONLY));
    absl::StatusOr<std::string> d = DigestOfFile(fd.get(), size);
    EXPECT_TRUE(d.ok());
    return d.value_or("");
  }
};

TEST_F(ChunkCopyTest, CopiesAndDigestsEqualTheSource) {
  const int64_t size = 5 * kChunkBytes + 123;
  UniqueFd src = Source(size);
  std::atomic<int64_t> done{0};
  ChunkCopyControl control;
  control.done_bytes = &done;
  absl::StatusOr<std::string> digest =
      CopyChunks(PosixFiles(), src.get(), size, Target(), control);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, FileDigest("src", size));
  EXPECT_EQ(*digest, FileDigest("dst.part", size));
  EXPECT_EQ(done.load(), size);
  struct stat st;
  ASSERT_EQ(fstatat(dir_.get(), "dst.part", &st, 0), 0);
  EXPECT_EQ(st.st_size, size);
  // Sparse: far fewer blocks than bytes.
  EXPECT_LT(st.st_blocks * 512, size / 2);
}

TEST_F(ChunkCopyTest, BlankDigestNeedsNoRead) {
  const int64_t size = 2 * kChunkBytes + 7;
  UniqueFd fd(openat(dir_.get(), "blank", O_RDWR | O_CREAT, 0644));
  ASSERT_EQ(ftruncate(fd.get(), size), 0);
  EXPECT_EQ(BlankImageDigest(size), FileDigest("blank", size));
  EXPECT_NE(BlankImageDigest(size), BlankImageDigest(size + 1));
}

TEST_F(ChunkCopyTest, ResumesFromTheCheckpointAndVerifiesWhatItKept) {
  const int64_t size = 3 * kCheckpointChunks * kChunkBytes;
  UniqueFd src = Source(size);
  // First attempt: stopped after its first checkpoint.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  ChunkCopyControl control;
  control.stop = &stop;
  control.done_bytes = &done;
  class StopAfter : public FullDiskFiles {
   public:
    StopAfter(std::atomic<bool>& stop)
        : FullDiskFiles(INT64_MAX), stop_(stop) {}
    int Sync(int fd) override {
      // The data at the start, the two directories, then the first
      // checkpoint's data and digests.
      if (++syncs_ == 5) stop_.store(true);
      return PosixFiles().Sync(fd);
    }
    std::atomic<bool>& stop_;
    int syncs_ = 0;
  } stopper(stop);
  EXPECT_TRUE(absl::IsCancelled(
      CopyChunks(stopper, src.get(), size, Target(), control).status()));
  EXPECT_EQ(done.load(), kCheckpointChunks * kChunkBytes);
  // Second attempt keeps the checkpointed chunks.
  stop.store(false);
  int64_t resumed = -1;
  control.resumed_bytes = &resumed;
  absl::StatusOr<std::string> digest =
      CopyChunks(PosixFiles(), src.get(), size, Target(), control);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(resumed, kCheckpointChunks * kChunkBytes);
  EXPECT_EQ(*digest, FileDigest("src", size));

  // A kept chunk that no longer reads back as recorded is copied again.
  UniqueFd part(openat(dir_.get(), "dst.part", O_RDWR));
  ASSERT_EQ(pwrite(part.get(), "X", 1, 10), 1);
  ASSERT_TRUE(
      CopyChunks(PosixFiles(), src.get(), size, Target(), control).ok());
  EXPECT_EQ(resumed, 0);
  EXPECT_EQ(FileDigest("dst.part", size), FileDigest("src", size));
}

TEST_F(ChunkCopyTest, FullDiskIsResourceExhausted) {
  const int64_t size = 4 * kChunkBytes;
  UniqueFd src = Source(size);
  FullDiskFiles full(1024);
  absl::Status s =
      CopyChunks(full, src.get(), size, Target(), ChunkCopyControl{}).status();
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

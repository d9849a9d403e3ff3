// Crash rounds of a copy and an export on the power-cut fake (data-plane.md
// §4): cut after operation K for K spread over a whole copy, lose everything
// unsynced (data and directory entries), then check that no half image is
// visible (a .meta always stands for the whole, verified bytes) and that the
// copy, run again under another lease epoch, ends with the source's digest.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/backend/filesystem/chunk_copy.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/work.h"
#include "tests/backend/power_cut_files.h"

namespace ecsimage::backend::filesystem {
namespace {

class PowerCutCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ecsimage_powercut_XXXXXX";
    root_ = mkdtemp(tmpl);
    for (const char* d : {"/data", "/data/region-a", "/data/region-b", "/oss",
                          "/oss/outbox", "/shadow"}) {
      ASSERT_EQ(mkdir((root_ + d).c_str(), 0755), 0);
    }
    options_.data_root = root_ + "/data";
    options_.oss_root = root_ + "/oss";
    // The source: 17 chunks and a short one; every fourth chunk has data,
    // the rest are holes, so checkpoints come often and writes stay small.
    const int64_t size = 17 * kChunkBytes + 1000;
    const std::string src = root_ + "/data/region-a/m-src.img";
    int fd = open(src.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, size), 0);
    for (int64_t i = 0; i <= 17; i += 4) {
      std::string block(4096, static_cast<char>('a' + i));
      ASSERT_EQ(pwrite(fd, block.data(), block.size(), i * kChunkBytes), 4096);
    }
    std::string tail(1000, 'z');
    ASSERT_EQ(pwrite(fd, tail.data(), tail.size(), 17 * kChunkBytes), 1000);
    absl::StatusOr<std::string> digest = DigestOfFile(fd, size);
    close(fd);
    ASSERT_TRUE(digest.ok());
    digest_ = *digest;
    std::ofstream(root_ + "/data/region-a/m-src.meta")
        << "format=RAW\nsize=" << size << "\ndigest=" << digest_ << "\n";
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  WorkResult Copy(Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kCopy;
    order.key = "copy/1";
    order.lease_epoch = epoch;
    order.region_id = "region-b";
    order.image_id = "m-dst";
    order.source_region_id = "region-a";
    order.source_image_id = "m-src";
    std::atomic<bool> stop{false};
    std::atomic<int64_t> done{0}, total{0}, moved{0};
    WorkContext ctx{files, options_, stop, done, total, moved};
    return RunWork(order, ctx);
  }
  WorkResult Export(Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kExport;
    order.key = "task/t-1";
    order.lease_epoch = epoch;
    order.region_id = "region-a";
    order.image_id = "m-src";
    order.oss_bucket = "outbox";
    order.format = "RAW";
    std::atomic<bool> stop{false};
    std::atomic<int64_t> done{0}, total{0}, moved{0};
    WorkContext ctx{files, options_, stop, done, total, moved};
    return RunWork(order, ctx);
  }
  std::vector<std::string> Names(const std::string& rel) {
    std::vector<std::string> names;
    DIR* dir = opendir((root_ + "/" + rel).c_str());
    while (struct dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
    return names;
  }
  std::vector<std::string> Dest() {
    std::vector<std::string> names;
    DIR* dir = opendir((root_ + "/data/region-b").c_str());
    while (struct dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
    return names;
  }
  void ClearDest() {
    std::string cmd = "rm -rf '" + root_ + "/data/region-b'/* '" + root_ +
                      "/data/region-b'/.[!.]* '" + root_ + "/shadow'/*";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  // The image's data, if it has any: the whole, verified bytes.
  void ExpectNoHalfImage(const std::string& what) {
    UniqueFd dir(
        open((root_ + "/data/region-b").c_str(), O_RDONLY | O_DIRECTORY));
    absl::StatusOr<ImageMeta> meta = ReadMeta(dir.get(), "m-dst");
    if (!meta.ok()) return;
    ++published_;
    EXPECT_EQ(meta->digest, digest_) << what;
    UniqueFd img(openat(dir.get(), "m-dst.img", O_RDONLY));
    ASSERT_TRUE(img.valid()) << what << ": a .meta without its .img";
    absl::StatusOr<std::string> got = DigestOfFile(img.get(), meta->size);
    ASSERT_TRUE(got.ok()) << what;
    EXPECT_EQ(*got, meta->digest) << what << ": a .meta over other bytes";
  }

  std::string root_;
  std::string digest_;
  FilesystemOptions options_;
  int published_ = 0;
};

TEST_F(PowerCutCopyTest, EveryCutLeavesNoHalfImageAndTheCopyEndsRight) {
  PowerCutFiles counting(root_ + "/shadow");
  ASSERT_EQ(Copy(counting, 1).state, Observation::State::kDone);
  const int64_t n = counting.operations();
  ASSERT_GT(n, 20);
  std::set<int64_t> cuts = {1,     2,     3,         n / 8,     n / 4,
                            n / 3, n / 2, 2 * n / 3, 3 * n / 4, n - 4,
                            n - 3, n - 2, n - 1};
  int resumable = 0;
  for (int64_t k : cuts) {
    ClearDest();
    const std::string what = absl::StrCat("cut after operation ", k, " of ", n);
    PowerCutFiles cut(root_ + "/shadow");
    cut.CutAfter(k);
    Copy(cut, 1);
    ASSERT_TRUE(cut.cut()) << what;
    cut.ApplyCut();
    const int before = published_;
    ExpectNoHalfImage(what);
    // Cut mid-copy, something durable to resume from: a checkpoint with
    // chunk digests (and its data file).
    struct stat st;
    if (published_ == before &&
        stat((root_ + "/data/region-b/.m-dst.e1.ckpt").c_str(), &st) == 0 &&
        st.st_size > 0 &&
        stat((root_ + "/data/region-b/.m-dst.e1.part").c_str(), &st) == 0) {
      ++resumable;
    }
    // After the restart (the task's lease moved on: epoch 2).
    WorkResult again = Copy(PosixFiles(), 2);
    ASSERT_EQ(again.state, Observation::State::kDone)
        << what << ": " << again.failure_code << " " << again.failure_message;
    EXPECT_EQ(again.digest, digest_) << what;
    ExpectNoHalfImage(what + ", resumed");
    for (const std::string& name : Dest()) {
      EXPECT_FALSE(absl::EndsWith(name, ".part") ||
                   absl::EndsWith(name, ".ckpt"))
          << what << ": " << name << " left";
    }
  }
  // The rounds reached both kinds of state: mid-copy with a durable
  // checkpoint, and after a durable publish.
  EXPECT_GT(resumable, 0);
  EXPECT_GT(published_, static_cast<int>(cuts.size()));
}

TEST_F(PowerCutCopyTest, EveryCutLeavesNoHalfExportAndTheExportEndsRight) {
  const std::string object = root_ + "/oss/outbox/m-src_system.raw";
  PowerCutFiles counting(root_ + "/shadow");
  WorkResult whole_run = Export(counting, 1);
  ASSERT_EQ(whole_run.state, Observation::State::kDone)
      << whole_run.failure_code << " " << whole_run.failure_message;
  const int64_t n = counting.operations();
  ASSERT_GT(n, 20);
  std::set<int64_t> cuts = {1, 3, n / 4, n / 2, 3 * n / 4, n - 3, n - 2, n - 1};
  int resumable = 0;
  int whole = 0;
  for (int64_t k : cuts) {
    ASSERT_EQ(std::system(("rm -rf '" + root_ + "/oss/outbox'/* '" + root_ +
                           "/oss/outbox'/.[!.]* '" + root_ +
                           "/data/region-a'/.[!.]* '" + root_ + "/shadow'/*")
                              .c_str()),
              0);
    const std::string what = absl::StrCat("cut after operation ", k, " of ", n);
    PowerCutFiles cut(root_ + "/shadow");
    cut.CutAfter(k);
    Export(cut, 1);
    ASSERT_TRUE(cut.cut()) << what;
    cut.ApplyCut();
    // The object's name stands for the whole, verified bytes or nothing.
    struct stat st;
    if (stat(object.c_str(), &st) == 0) {
      ++whole;
      UniqueFd fd(open(object.c_str(), O_RDONLY));
      absl::StatusOr<std::string> got = DigestOfFile(fd.get(), st.st_size);
      ASSERT_TRUE(got.ok()) << what;
      EXPECT_EQ(*got, digest_) << what << ": a partial object under its name";
    } else if (stat((root_ + "/data/region-a/.export-t-1.ckpt").c_str(), &st) ==
                   0 &&
               st.st_size > 0) {
      ++resumable;
    }
    WorkResult again = Export(PosixFiles(), 2);
    ASSERT_EQ(again.state, Observation::State::kDone)
        << what << ": " << again.failure_code << " " << again.failure_message;
    UniqueFd fd(open(object.c_str(), O_RDONLY));
    ASSERT_TRUE(fd.valid()) << what;
    ASSERT_EQ(fstat(fd.get(), &st), 0);
    EXPECT_EQ(DigestOfFile(fd.get(), st.st_size).value_or(""), digest_) << what;
    EXPECT_EQ(Names("oss/outbox"), std::vector<std::string>{"m-src_system.raw"})
        << what;
    for (const std::string& name : Names("data/region-a")) {
      EXPECT_FALSE(absl::StartsWith(name, ".export-")) << what << ": " << name;
    }
  }
  EXPECT_GT(resumable, 0);
  EXPECT_GT(whole, 0);
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

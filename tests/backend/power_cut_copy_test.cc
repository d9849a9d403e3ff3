// Crash rounds of a copy and an export on the power-cut fake (data-plane.md
// §4): cut after operation K for K spread over a whole copy, lose everything
// unsynced (data and directory entries), then check that no half image is
// visible (a .meta always stands for the whole, verified bytes) and that the
// copy, run again under another lease epoch, ends with the source's digest.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/backend/filesystem/chunk_copy.h"
#include "service/backend/filesystem/data_layout.h"
#include "tests/backend/power_cut_fixture.h"

namespace ecsimage::backend::filesystem {
namespace {

class PowerCutCopyTest : public PowerCutFixture {
 protected:
  void SetUp() override {
    PowerCutFixture::SetUp();
    if (HasFatalFailure()) return;
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

  WorkResult Copy(Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kCopy;
    order.key = "copy/1";
    order.region_id = "region-b";
    order.image_id = "m-dst";
    order.source_region_id = "region-a";
    order.source_image_id = "m-src";
    return Run(order, files, epoch);
  }
  WorkResult Export(Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kExport;
    order.key = "task/t-1";
    order.region_id = "region-a";
    order.image_id = "m-src";
    order.oss_bucket = "outbox";
    order.format = "RAW";
    return Run(order, files, epoch);
  }
  // The image's data, if it has any: the whole, verified bytes.
  void ExpectNoHalfImage(const std::string& what) {
    if (ExpectWholeImage("region-b", "m-dst", digest_, what)) ++published_;
  }

  std::string digest_;
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
    Clear({"data/region-b"});
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
    for (const std::string& name : Names("data/region-b")) {
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
    // The source image stays; its directory's hidden files go.
    for (const std::string& name : Names("data/region-a")) {
      if (name[0] == '.') unlink((root_ + "/data/region-a/" + name).c_str());
    }
    Clear({"oss/outbox"});
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

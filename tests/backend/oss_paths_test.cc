// Bucket and key rules and the no-follow walk beneath a bucket.
#include "service/backend/filesystem/oss_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace ecsimage::backend::filesystem {
namespace {

class OssPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ecsimage_oss_XXXXXX";
    root_ = mkdtemp(tmpl);
    ASSERT_EQ(mkdir((root_ + "/bucket-a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/bucket-a/dir").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/outside").c_str(), 0755), 0);
    Write(root_ + "/bucket-a/dir/disk.raw", "data");
    Write(root_ + "/outside/secret", "secret");
    ASSERT_EQ(symlink((root_ + "/outside/secret").c_str(),
                      (root_ + "/bucket-a/link").c_str()),
              0);
    ASSERT_EQ(symlink((root_ + "/outside").c_str(),
                      (root_ + "/bucket-a/linkdir").c_str()),
              0);
    ASSERT_EQ(mkfifo((root_ + "/bucket-a/fifo").c_str(), 0644), 0);
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  absl::Status Read(const std::string& key) {
    absl::StatusOr<UniqueFd> bucket = OpenBucket(root_, "bucket-a");
    if (!bucket.ok()) return bucket.status();
    return OpenObjectForRead(bucket->get(), key).status();
  }
  std::string root_;
};

TEST(BucketNameTest, FollowsOssRules) {
  EXPECT_TRUE(CheckBucketName("abc").ok());
  EXPECT_TRUE(CheckBucketName("my-bucket-01").ok());
  EXPECT_TRUE(CheckBucketName(std::string(63, 'a')).ok());
  EXPECT_FALSE(CheckBucketName("ab").ok());
  EXPECT_FALSE(CheckBucketName(std::string(64, 'a')).ok());
  EXPECT_FALSE(CheckBucketName("-abc").ok());
  EXPECT_FALSE(CheckBucketName("abc-").ok());
  EXPECT_FALSE(CheckBucketName("ABC").ok());
  EXPECT_FALSE(CheckBucketName("a.b.c").ok());
  EXPECT_FALSE(CheckBucketName("../x").ok());
  EXPECT_FALSE(CheckBucketName(std::string("ab\0c", 4)).ok());
}

TEST(ObjectKeyTest, RelativeWithoutDotDot) {
  EXPECT_TRUE(CheckObjectKey("disk.raw").ok());
  EXPECT_TRUE(CheckObjectKey("a/b/c.qcow2").ok());
  EXPECT_TRUE(CheckObjectKey(std::string(1023, 'k')).ok());
  EXPECT_FALSE(CheckObjectKey("").ok());
  EXPECT_FALSE(CheckObjectKey(std::string(1024, 'k')).ok());
  EXPECT_FALSE(CheckObjectKey("/etc/passwd").ok());
  EXPECT_FALSE(CheckObjectKey("../x").ok());
  EXPECT_FALSE(CheckObjectKey("a/../../x").ok());
  EXPECT_FALSE(CheckObjectKey("a/./b").ok());
  EXPECT_FALSE(CheckObjectKey("a//b").ok());
  EXPECT_FALSE(CheckObjectKey("a/").ok());
  EXPECT_FALSE(CheckObjectKey(std::string("a\0b", 3)).ok());
}

TEST_F(OssPathsTest, OpensRegularFilesBeneathTheBucket) {
  EXPECT_TRUE(Read("dir/disk.raw").ok());
}

TEST_F(OssPathsTest, RefusesLinksFifosDirsAndMissing) {
  EXPECT_TRUE(absl::IsInvalidArgument(Read("link")));
  EXPECT_FALSE(Read("linkdir/secret").ok());  // ENOTDIR: never followed
  EXPECT_TRUE(absl::IsInvalidArgument(Read("fifo")));  // and did not block
  EXPECT_TRUE(absl::IsInvalidArgument(Read("dir")));
  EXPECT_TRUE(absl::IsNotFound(Read("missing")));
  EXPECT_TRUE(absl::IsInvalidArgument(Read("../outside/secret")));
  EXPECT_TRUE(absl::IsInvalidArgument(Read("/etc/passwd")));
}

TEST_F(OssPathsTest, MissingOrBadBucket) {
  EXPECT_TRUE(absl::IsNotFound(OpenBucket(root_, "no-such").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenBucket(root_, "..").status()));
  // A bucket that is a symlink is not followed either.
  ASSERT_EQ(
      symlink((root_ + "/outside").c_str(), (root_ + "/bucket-b").c_str()), 0);
  EXPECT_FALSE(OpenBucket(root_, "bucket-b").ok());
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

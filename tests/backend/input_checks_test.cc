// Call-time checks of ImportImage's object and ExportImage's target on the
// filesystem backend: each problem is its own kind (the domain maps kinds to
// ECS codes), and the simulated backend finds nothing.
#include "service/backend/filesystem/input_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace ecsimage::backend::filesystem {
namespace {

using Kind = InputProblem::Kind;

class InputChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ecsimage_input_XXXXXX";
    root_ = mkdtemp(tmpl);
    ASSERT_EQ(mkdir((root_ + "/inbox").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/inbox/dir").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/outside").c_str(), 0755), 0);
    Write("inbox/dir/disk.raw", std::string(4096, '\1'));
    Write("inbox/empty.raw", "");
    Write("inbox/disk.vhd",
          std::string(1024, '\0') + "conectix" + std::string(504, '\0'));
    std::string backed(512, '\0');
    backed.replace(0, 8, std::string("QFI\xfb\0\0\0\3", 8));
    backed[15] = 1;  // backing file offset != 0
    Write("inbox/backed.qcow2", backed);
    Write("outside/secret", "secret");
    ASSERT_EQ(symlink((root_ + "/outside/secret").c_str(),
                      (root_ + "/inbox/link.raw").c_str()),
              0);
    ASSERT_EQ(symlink((root_ + "/outside").c_str(),
                      (root_ + "/inbox/linkdir").c_str()),
              0);
    ASSERT_EQ(mkfifo((root_ + "/inbox/fifo.raw").c_str(), 0644), 0);
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ + "/" + rel, std::ios::binary) << text;
  }
  Kind Import(const std::string& bucket, const std::string& key) {
    InputProblem p = CheckImportObject(root_, bucket, key);
    EXPECT_EQ(p.ok(), p.detail.empty()) << p.detail;
    return p.kind;
  }
  Kind Export(const std::string& bucket, const std::string& prefix) {
    return CheckExportPrefix(root_, bucket, prefix, "m-abc").kind;
  }
  std::string root_;
};

TEST_F(InputChecksTest, AReadableImageIsFine) {
  EXPECT_EQ(Import("inbox", "dir/disk.raw"), Kind::kNone);
}

TEST_F(InputChecksTest, BucketsThatAreNotThereOrNotValid) {
  EXPECT_EQ(Import("no-such-bucket", "x"), Kind::kBucketNotFound);
  EXPECT_EQ(Import("Bad_Bucket", "x"), Kind::kBucketNotFound);
  EXPECT_EQ(Import("..", "outside/secret"), Kind::kBucketNotFound);
  EXPECT_EQ(Export("no-such-bucket", ""), Kind::kBucketNotFound);
}

TEST_F(InputChecksTest, KeysThatNameNoObject) {
  EXPECT_EQ(Import("inbox", "../outside/secret"), Kind::kObjectMalformed);
  EXPECT_EQ(Import("inbox", "/etc/passwd"), Kind::kObjectMalformed);
  EXPECT_EQ(Import("inbox", "a//b"), Kind::kObjectMalformed);
  EXPECT_EQ(Import("inbox", std::string(1024, 'x')), Kind::kObjectMalformed);
  EXPECT_EQ(Import("inbox", std::string("a\0b", 3)), Kind::kObjectMalformed);
}

TEST_F(InputChecksTest, ObjectsThatAreNotThereOrNotRegularFiles) {
  EXPECT_EQ(Import("inbox", "missing.raw"), Kind::kObjectNotFound);
  EXPECT_EQ(Import("inbox", "link.raw"), Kind::kObjectUnreadable);
  // A symlinked directory is not a directory of the bucket: nothing there.
  EXPECT_EQ(Import("inbox", "linkdir/secret"), Kind::kObjectNotFound);
  EXPECT_EQ(Import("inbox", "fifo.raw"), Kind::kObjectUnreadable);
  EXPECT_EQ(Import("inbox", "dir"), Kind::kObjectUnreadable);
}

TEST_F(InputChecksTest, ContentRefusedByItsHeader) {
  EXPECT_EQ(Import("inbox", "disk.vhd"), Kind::kFormatUnsupported);
  EXPECT_EQ(Import("inbox", "backed.qcow2"), Kind::kBackingFile);
  EXPECT_EQ(Import("inbox", "empty.raw"), Kind::kFormatCorrupt);
}

TEST_F(InputChecksTest, TheFormatARequestNamesMustBeTheContents) {
  EXPECT_EQ(CheckImportObject(root_, "inbox", "dir/disk.raw", "RAW").kind,
            Kind::kNone);
  InputProblem p = CheckImportObject(root_, "inbox", "dir/disk.raw", "QCOW2");
  EXPECT_EQ(p.kind, Kind::kFormatMismatch);
  EXPECT_EQ(p.detail,
            "the object's content is RAW, not QCOW2 as its Format says");
  // A refusal by the header comes first.
  EXPECT_EQ(CheckImportObject(root_, "inbox", "disk.vhd", "RAW").kind,
            Kind::kFormatUnsupported);
}

TEST_F(InputChecksTest, ExportPrefixes) {
  EXPECT_EQ(Export("inbox", ""), Kind::kNone);
  EXPECT_EQ(Export("inbox", "dir/"), Kind::kNone);
  EXPECT_EQ(Export("inbox", "dir/x-"), Kind::kNone);
  EXPECT_EQ(Export("inbox", "../"), Kind::kPrefixMalformed);
  EXPECT_EQ(Export("inbox", "/abs/"), Kind::kPrefixMalformed);
  EXPECT_EQ(Export("inbox", "nodir/"), Kind::kPrefixMalformed);
  EXPECT_EQ(Export("inbox", "linkdir/"), Kind::kPrefixMalformed);
  EXPECT_EQ(Export("inbox", std::string(1010, 'p')), Kind::kPrefixMalformed);
}

TEST(SimulatedInputChecksTest, FindNothing) {
  auto simulated = NewSimulatedBackend({});
  EXPECT_TRUE(simulated->CheckImportSource("Bad_Bucket", "../x", "RAW").ok());
  EXPECT_TRUE(simulated->CheckExportTarget("Bad_Bucket", "../", "m-1").ok());
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

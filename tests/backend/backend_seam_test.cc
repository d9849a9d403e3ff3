// The Backend interface on both backends: what the task engine relies on
// (progress never backwards, a cancel ends cancelled, deleting nothing is
// fine), then the filesystem backend's work end to end through the seam.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "service/backend/backend.h"
#include "service/backend/filesystem/chunk_copy.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/filesystem_backend.h"
#include "tests/backend/full_disk_files.h"

namespace ecsimage::backend {
namespace {

using State = Observation::State;

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ecsimage_backend_XXXXXX";
    root_ = mkdtemp(tmpl);
    ASSERT_EQ(mkdir((root_ + "/data").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/oss").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/oss/bucket-in").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/oss/bucket-out").c_str(), 0755), 0);
    backend_ = Make("db-1");
    ASSERT_NE(backend_, nullptr);
  }
  void TearDown() override {
    backend_.reset();
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::unique_ptr<Backend> Make(const std::string& identity,
                                filesystem::Files* files = nullptr) {
    if (GetParam() == "simulated") return NewSimulatedBackend({});
    filesystem::FilesystemOptions options;
    options.data_root = root_ + "/data";
    options.oss_root = root_ + "/oss";
    options.database_identity = identity;
    options.files = files;
    auto made = filesystem::NewFilesystemBackend(options);
    return made.ok() ? *std::move(made) : nullptr;
  }
  // Observes `work` (reconciling as the engine does) until it ends; the
  // simulated backend's time is moved on instead.
  Observation Finish(const WorkOrder& work) {
    WorkProgress at{1000, 0, 0, 0};
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      backend_->Reconcile({work});
      Observation obs = backend_->Observe(work, at);
      EXPECT_GE(obs.done, at.done);
      EXPECT_LE(obs.done, at.total);
      if (obs.state != State::kRunning) return obs;
      at.done = obs.done;
      at.now_ms += 100;
      std::this_thread::yield();
    }
    ADD_FAILURE() << "work " << work.key << " did not end";
    return {};
  }
  bool Exists(const std::string& rel) {
    struct stat st;
    return lstat((root_ + "/" + rel).c_str(), &st) == 0;
  }
  WorkOrder Import(const std::string& key, const std::string& image) {
    WorkOrder w;
    w.kind = WorkKind::kImport;
    w.key = "task/t-" + image;
    w.lease_epoch = 1;
    w.region_id = "region-a";
    w.image_id = image;
    w.oss_bucket = "bucket-in";
    w.oss_object = key;
    return w;
  }
  WorkOrder Copy(const std::string& src, const std::string& dst) {
    WorkOrder w;
    w.kind = WorkKind::kCopy;
    w.key = "copy/" + dst;
    w.lease_epoch = 1;
    w.region_id = "region-b";
    w.image_id = dst;
    w.source_region_id = "region-a";
    w.source_image_id = src;
    return w;
  }
  std::string root_;
  std::unique_ptr<Backend> backend_;
};

TEST_P(BackendTest, NamesItself) { EXPECT_EQ(backend_->name(), GetParam()); }

TEST_P(BackendTest, CreateEndsDoneAndDeleteOfNothingIsFine) {
  WorkOrder w;
  w.kind = WorkKind::kCreate;
  w.key = "create/m-1";
  w.region_id = "region-a";
  w.image_id = "m-1";
  w.size_gib = 1;
  EXPECT_EQ(Finish(w).state, State::kDone);
  backend_->Reconcile({});
  EXPECT_TRUE(backend_->DeleteImageData("region-a", "m-1").ok());
  EXPECT_TRUE(backend_->DeleteImageData("region-a", "m-none").ok());
  EXPECT_FALSE(Exists("data/region-a/m-1.img"));
}

TEST_P(BackendTest, ACancelledCopyEndsCancelled) {
  WorkOrder w = Copy("m-src", "m-dst");
  w.cancel = true;
  EXPECT_EQ(Finish(w).state, State::kCancelled);
  EXPECT_FALSE(Exists("data/region-b/m-dst.img"));
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::Values("simulated", "filesystem"));

class FilesystemBackendTest : public BackendTest {};

TEST_P(FilesystemBackendTest, ImportCopyExportKeepTheBytes) {
  {
    std::ofstream f(root_ + "/oss/bucket-in/disk.raw", std::ios::binary);
    for (int i = 0; i < 300000; ++i) f << "chunk" << i;
  }
  Observation imported = Finish(Import("disk.raw", "m-src"));
  ASSERT_EQ(imported.state, State::kDone) << imported.failure_message;
  EXPECT_EQ(imported.size_gib, 1);
  Observation copied = Finish(Copy("m-src", "m-dst"));
  ASSERT_EQ(copied.state, State::kDone) << copied.failure_message;
  EXPECT_EQ(copied.digest, imported.digest);
  WorkOrder exp;
  exp.kind = WorkKind::kExport;
  exp.key = "task/t-exp";
  exp.lease_epoch = 3;
  exp.region_id = "region-b";
  exp.image_id = "m-dst";
  exp.oss_bucket = "bucket-out";
  exp.oss_object = "pre-";
  ASSERT_EQ(Finish(exp).state, State::kDone);
  backend_->Reconcile({});
  std::string a, b;
  std::getline(std::ifstream(root_ + "/oss/bucket-in/disk.raw"), a, '\0');
  std::getline(std::ifstream(root_ + "/oss/bucket-out/pre-m-dst_system.raw"), b,
               '\0');
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.empty());
  EXPECT_FALSE(Exists("data/region-b/.m-dst.e1.part"));
  EXPECT_FALSE(Exists("data/region-b/.m-dst.e1.ckpt"));
}

TEST_P(FilesystemBackendTest, FailuresCarryACodeAndLeaveNothing) {
  ASSERT_EQ(symlink("/etc/passwd", (root_ + "/oss/bucket-in/link").c_str()), 0);
  Observation obs = Finish(Import("link", "m-1"));
  EXPECT_EQ(obs.state, State::kFailed);
  EXPECT_EQ(obs.failure_code, "InvalidOSSObject");
  EXPECT_EQ(Finish(Import("../x", "m-2")).failure_code, "InvalidOSSObject");
  EXPECT_EQ(Finish(Import("none", "m-3")).failure_code, "OSSObjectNotFound");
  Observation missing = Finish(Copy("m-missing", "m-4"));
  EXPECT_EQ(missing.failure_code, "ImageDataMissing");
  EXPECT_TRUE(missing.source_data_missing);
  EXPECT_FALSE(obs.source_data_missing);  // the object, not an image, was bad
  // The image without data shows why (the engine turns it UnAvailable).
  DataDetails source = backend_->ImageDetails("region-a", "m-missing");
  EXPECT_EQ(source.failure_code, "ImageDataMissing");
  EXPECT_NE(source.failure_message.find("m-missing"), std::string::npos);
  backend_->Reconcile({});
  EXPECT_FALSE(Exists("data/region-a/m-1.img"));
  EXPECT_FALSE(Exists("data/region-b/.m-4.e1.part"));
}

TEST_P(FilesystemBackendTest, AFullDiskFailsTheWorkAndFreesItsSpace) {
  {
    std::ofstream f(root_ + "/oss/bucket-in/disk.raw", std::ios::binary);
    for (int i = 0; i < 3000000; ++i) f << "chunk" << i;
  }
  ASSERT_EQ(Finish(Import("disk.raw", "m-src")).state, State::kDone);
  filesystem::FullDiskFiles full(1 << 20);
  backend_ = Make("db-1", &full);
  Observation obs = Finish(Copy("m-src", "m-dst"));
  EXPECT_EQ(obs.state, State::kFailed);
  EXPECT_EQ(obs.failure_code, "DiskFull");
  backend_->Reconcile({});
  EXPECT_FALSE(Exists("data/region-b/.m-dst.e1.part"));
  EXPECT_FALSE(Exists("data/region-b/m-dst.img"));
  EXPECT_TRUE(Exists("data/region-a/m-src.img"));  // the source untouched
  EXPECT_EQ(backend_->ImageDetails("region-b", "m-dst").failure_code,
            "DiskFull");
}

TEST_P(FilesystemBackendTest, AnotherDatabaseIsRefused) {
  EXPECT_NE(Make("db-1"), nullptr);
  EXPECT_EQ(Make("db-2"), nullptr);
  absl::Status s = filesystem::CheckRootIdentity(root_ + "/data", "db-2");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("belongs to database \"db-1\""), std::string::npos)
      << s;
}

TEST_P(FilesystemBackendTest, AMarkerOfTheOldKindIsTakenOver) {
  // Older versions wrote the --db locator; the database's id replaces it
  // when the locator matches, and only then.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      filesystem::CheckRootIdentity(root_ + "/data", "db-new", "other.db")));
  EXPECT_TRUE(
      filesystem::CheckRootIdentity(root_ + "/data", "db-new", "db-1").ok());
  EXPECT_TRUE(filesystem::CheckRootIdentity(root_ + "/data", "db-new").ok());
  EXPECT_EQ(Make("db-1"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Filesystem, FilesystemBackendTest,
                         ::testing::Values("filesystem"));

}  // namespace
}  // namespace ecsimage::backend

// The Backend interface on both backends: what the task engine relies on
// (progress never backwards, a cancel ends cancelled, deleting nothing is
// fine), then the filesystem backend's work end to end through the seam.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
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
                                filesystem::Files* files = nullptr,
                                const std::string& qemu_img = "qemu-img") {
    if (GetParam() == "simulated") return NewSimulatedBackend({});
    filesystem::FilesystemOptions options;
    options.data_root = root_ + "/data";
    options.oss_root = root_ + "/oss";
    options.database_identity = identity;
    options.files = files;
    options.qemu_img = qemu_img;
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

TEST_P(BackendTest, CreateEndsDoneWithItsDataAndDeleteOfNothingIsFine) {
  WorkOrder w;
  w.kind = WorkKind::kCreate;
  w.key = "create/m-1";
  w.region_id = "region-a";
  w.image_id = "m-1";
  w.size_gib = 1;
  EXPECT_EQ(Finish(w).state, State::kDone);
  backend_->Reconcile({});
  // What the start-up check asks of every finished image.
  EXPECT_TRUE(backend_->HasImageData("region-a", "m-1"));
  // Its one-pass index, where the backend has one.
  if (std::unique_ptr<ImageDataIndex> index = backend_->IndexImageData()) {
    EXPECT_TRUE(index->Has("region-a", "m-1"));
    EXPECT_FALSE(index->Has("region-a", "m-2"));
    EXPECT_FALSE(index->Has("region-b", "m-1"));
  } else {
    EXPECT_EQ(GetParam(), "simulated");
  }
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

WorkOrder ExportOf(const std::string& image, const std::string& format) {
  WorkOrder exp;
  exp.kind = WorkKind::kExport;
  exp.key = "task/x-" + image + "-" + format;  // not the import's key
  exp.lease_epoch = 2;
  exp.region_id = "region-a";
  exp.image_id = image;
  exp.oss_bucket = "bucket-out";
  exp.oss_object = "pre-";
  exp.format = format;
  return exp;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

TEST_P(FilesystemBackendTest, ExportConvertsToTheAskedFormatVerified) {
  // RAW whose length is whole sectors, so that RAW -> QCOW2 -> RAW gives
  // the same bytes back.
  std::string original(3 << 20, '\0');
  for (size_t i = 0; i < original.size(); i += 4096) {
    const std::string label = "sector " + std::to_string(i / 4096);
    original.replace(i, label.size(), label);
  }
  std::ofstream(root_ + "/oss/bucket-in/disk.raw", std::ios::binary)
      << original;
  ASSERT_EQ(Finish(Import("disk.raw", "m-raw")).state, State::kDone);
  EXPECT_TRUE(backend_->HasImageData("region-a", "m-raw"));
  EXPECT_FALSE(backend_->HasImageData("region-a", "m-none"));

  Observation to_qcow2 = Finish(ExportOf("m-raw", "QCOW2"));
  ASSERT_EQ(to_qcow2.state, State::kDone) << to_qcow2.failure_message;
  const std::string qcow2 =
      ReadAll(root_ + "/oss/bucket-out/pre-m-raw_system.qcow2");
  ASSERT_GE(qcow2.size(), 4u);
  EXPECT_EQ(qcow2.substr(0, 4), "QFI\xfb");
  EXPECT_FALSE(Exists("oss/bucket-out/pre-m-raw_system.raw"));
  EXPECT_FALSE(Exists("oss/bucket-out/.pre-m-raw_system.qcow2.e2.part"));

  // The QCOW2 imported back (stored as QCOW2), exported as RAW: the bytes
  // of the first file.
  ASSERT_EQ(rename((root_ + "/oss/bucket-out/pre-m-raw_system.qcow2").c_str(),
                   (root_ + "/oss/bucket-in/back.qcow2").c_str()),
            0);
  ASSERT_EQ(Finish(Import("back.qcow2", "m-q")).state, State::kDone);
  Observation to_raw = Finish(ExportOf("m-q", "RAW"));
  ASSERT_EQ(to_raw.state, State::kDone) << to_raw.failure_message;
  const std::string raw = ReadAll(root_ + "/oss/bucket-out/pre-m-q_system.raw");
  EXPECT_EQ(raw.size(), original.size());
  EXPECT_TRUE(raw == original);
  // The stored format asked for (or none asked): the bytes as stored.
  ASSERT_EQ(Finish(ExportOf("m-q", "")).state, State::kDone);
  const std::string stored = ReadAll(root_ + "/oss/bucket-in/back.qcow2");
  EXPECT_GT(stored.size(), 0u);
  EXPECT_TRUE(ReadAll(root_ + "/oss/bucket-out/pre-m-q_system.qcow2") ==
              stored);
}

TEST_P(FilesystemBackendTest, AConversionThatCannotRunFailsAndLeavesNothing) {
  std::ofstream(root_ + "/oss/bucket-in/disk.raw", std::ios::binary)
      << std::string(1 << 20, 'x');
  ASSERT_EQ(Finish(Import("disk.raw", "m-raw")).state, State::kDone);
  backend_ = Make("db-1", nullptr, root_ + "/no-such-qemu-img");
  Observation obs = Finish(ExportOf("m-raw", "QCOW2"));
  EXPECT_EQ(obs.state, State::kFailed);
  EXPECT_EQ(obs.failure_code, "ImageConversionFailed");
  EXPECT_NE(obs.failure_message.find("qemu-utils"), std::string::npos)
      << obs.failure_message;
  backend_->Reconcile({});
  EXPECT_FALSE(Exists("oss/bucket-out/pre-m-raw_system.qcow2"));
  EXPECT_FALSE(Exists("oss/bucket-out/.pre-m-raw_system.qcow2.e2.part"));
  EXPECT_EQ(backend_->TaskDetails("region-a", "x-m-raw-QCOW2").failure_code,
            "ImageConversionFailed");
}

TEST_P(FilesystemBackendTest, AnImportWhoseObjectIsNotItsFormatFails) {
  std::ofstream(root_ + "/oss/bucket-in/disk.raw", std::ios::binary)
      << std::string(4096, 'r');
  WorkOrder w = Import("disk.raw", "m-1");
  w.format = "QCOW2";  // checked at the call; the object changed since
  Observation obs = Finish(w);
  EXPECT_EQ(obs.state, State::kFailed);
  EXPECT_EQ(obs.failure_code, "InvalidImageFormat");
  EXPECT_EQ(obs.failure_message,
            "the object's content is RAW, not QCOW2 as its Format says");
  backend_->Reconcile({});
  EXPECT_FALSE(Exists("data/region-a/m-1.img"));
  w.key = "task/t-m-1-raw";
  w.format = "RAW";
  EXPECT_EQ(Finish(w).state, State::kDone);
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

// Data disks (ImportImage's DiskDeviceMapping.2..N, CreateImage's data
// mappings): one file per disk, published before the system disk.
void WriteObject(const std::string& path, const std::string& text, int n) {
  std::ofstream f(path, std::ios::binary);
  for (int i = 0; i < n; ++i) f << text << i;
}

TEST_P(FilesystemBackendTest, CreateWritesOneBlankDiskPerMapping) {
  WorkOrder w;
  w.kind = WorkKind::kCreate;
  w.key = "create/m-c";
  w.region_id = "region-a";
  w.image_id = "m-c";
  w.size_gib = 40;  // the mappings' sizes win
  w.disk_sizes_gib = {2, 1, 3};
  Observation obs = Finish(w);
  ASSERT_EQ(obs.state, State::kDone) << obs.failure_message;
  backend_->Reconcile({});
  struct stat st;
  ASSERT_EQ(stat((root_ + "/data/region-a/m-c.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, int64_t{2} << 30);
  EXPECT_LT(st.st_blocks, 1024);  // sparse
  ASSERT_EQ(stat((root_ + "/data/region-a/m-c.img.1").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, int64_t{1} << 30);
  ASSERT_EQ(stat((root_ + "/data/region-a/m-c.img.2").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, int64_t{3} << 30);
  EXPECT_FALSE(Exists("data/region-a/m-c.img.3"));
  // The image digest covers the three disks, in order.
  const std::string digest = filesystem::ImageDigestOfDisks(
      {filesystem::BlankImageDigest(int64_t{2} << 30),
       filesystem::BlankImageDigest(int64_t{1} << 30),
       filesystem::BlankImageDigest(int64_t{3} << 30)});
  EXPECT_EQ(obs.digest, digest);
  EXPECT_EQ(backend_->ImageDetails("region-a", "m-c").image_digest, digest);
  EXPECT_NE(digest, filesystem::BlankImageDigest(int64_t{2} << 30));
  EXPECT_TRUE(backend_->HasImageData("region-a", "m-c"));
  ASSERT_TRUE(backend_->DeleteImageData("region-a", "m-c").ok());
  for (const char* gone :
       {"m-c.img", "m-c.meta", "m-c.img.1", "m-c.meta.1", "m-c.img.2"}) {
    EXPECT_FALSE(Exists(std::string("data/region-a/") + gone)) << gone;
  }
}

TEST_P(FilesystemBackendTest, TheIndexListsRegularSystemMetasOnly) {
  WorkOrder w;
  w.kind = WorkKind::kCreate;
  w.key = "create/m-c";
  w.region_id = "region-a";
  w.image_id = "m-c";
  w.disk_sizes_gib = {1, 1};
  ASSERT_EQ(Finish(w).state, State::kDone);
  backend_->Reconcile({});
  const std::string dir = root_ + "/data/region-a/";
  ASSERT_EQ(symlink((dir + "m-c.meta").c_str(), (dir + "m-link.meta").c_str()),
            0);
  ASSERT_EQ(mkdir((dir + "m-dir.meta").c_str(), 0755), 0);
  std::ofstream(dir + ".m-tmp.meta") << "x";
  std::unique_ptr<ImageDataIndex> index = backend_->IndexImageData();
  ASSERT_NE(index, nullptr);
  EXPECT_TRUE(index->Has("region-a", "m-c"));
  EXPECT_FALSE(index->Has("region-a", "m-c#1"));   // a data disk's
  EXPECT_FALSE(index->Has("region-a", "m-link"));  // a symlink
  EXPECT_FALSE(index->Has("region-a", "m-dir"));
  EXPECT_FALSE(index->Has("region-a", ".m-tmp"));
  EXPECT_FALSE(index->Has("region-b", "m-c"));
  // As HasImageData says, image by image.
  EXPECT_FALSE(backend_->HasImageData("region-a", "m-link"));
  EXPECT_FALSE(backend_->HasImageData("region-a", "m-dir"));
}

TEST_P(FilesystemBackendTest, DataDisksAreImportedCopiedAndExportedByteExact) {
  WriteObject(root_ + "/oss/bucket-in/sys.raw", "system", 200000);
  WriteObject(root_ + "/oss/bucket-in/d1.raw", "first", 100);
  WriteObject(root_ + "/oss/bucket-in/d2.raw", "second", 2000000);
  WorkOrder imp = Import("sys.raw", "m-src");
  imp.data_disks = {{"bucket-in", "d1.raw", "RAW"},
                    {"bucket-in", "d2.raw", ""}};
  Observation imported = Finish(imp);
  ASSERT_EQ(imported.state, State::kDone) << imported.failure_message;
  Observation single = Finish(Import("sys.raw", "m-one"));
  ASSERT_EQ(single.state, State::kDone);
  EXPECT_NE(imported.digest, single.digest);  // the data disks count
  Observation copied = Finish(Copy("m-src", "m-dst"));
  ASSERT_EQ(copied.state, State::kDone) << copied.failure_message;
  EXPECT_EQ(copied.digest, imported.digest);
  EXPECT_EQ(backend_->ImageDetails("region-b", "m-dst").image_digest,
            imported.digest);
  WorkOrder exp = ExportOf("m-dst", "RAW");
  exp.region_id = "region-b";
  Observation exported = Finish(exp);
  ASSERT_EQ(exported.state, State::kDone) << exported.failure_message;
  backend_->Reconcile({});
  EXPECT_EQ(ReadAll(root_ + "/oss/bucket-out/pre-m-dst_system.raw"),
            ReadAll(root_ + "/oss/bucket-in/sys.raw"));
  EXPECT_EQ(ReadAll(root_ + "/oss/bucket-out/pre-m-dst_data1.raw"),
            ReadAll(root_ + "/oss/bucket-in/d1.raw"));
  EXPECT_EQ(ReadAll(root_ + "/oss/bucket-out/pre-m-dst_data2.raw"),
            ReadAll(root_ + "/oss/bucket-in/d2.raw"));
  EXPECT_FALSE(Exists("oss/bucket-out/pre-m-dst_data3.raw"));
  // No temporary file of any disk is left.
  for (const char* gone :
       {"data/region-b/.m-dst.e1.part.1", "data/region-b/.m-dst.e1.ckpt",
        "data/region-b/.export-x-m-dst-RAW.ckpt.2"}) {
    EXPECT_FALSE(Exists(gone)) << gone;
  }
  ASSERT_TRUE(backend_->DeleteImageData("region-b", "m-dst").ok());
  EXPECT_FALSE(Exists("data/region-b/m-dst.img.2"));
  EXPECT_TRUE(Exists("data/region-a/m-src.img.2"));
}

TEST_P(FilesystemBackendTest, AFailedDataDiskFailsTheImportNamingItsMapping) {
  WriteObject(root_ + "/oss/bucket-in/sys.raw", "system", 1000);
  WorkOrder imp = Import("sys.raw", "m-x");
  imp.data_disks = {{"bucket-in", "sys.raw", ""}, {"bucket-in", "none", ""}};
  Observation obs = Finish(imp);
  EXPECT_EQ(obs.state, State::kFailed);
  EXPECT_EQ(obs.failure_code, "OSSObjectNotFound");
  EXPECT_NE(obs.failure_message.find("DiskDeviceMapping.3"), std::string::npos)
      << obs.failure_message;
  backend_->Reconcile({});
  EXPECT_FALSE(Exists("data/region-a/m-x.img.1"));
  EXPECT_FALSE(Exists("data/region-a/m-x.img"));
}

TEST_P(FilesystemBackendTest, AFullDiskAfterADataDiskFreesThatDiskToo) {
  WriteObject(root_ + "/oss/bucket-in/sys.raw", "system", 3000000);
  WriteObject(root_ + "/oss/bucket-in/d1.raw", "small", 100);
  WorkOrder imp = Import("sys.raw", "m-src");
  imp.data_disks = {{"bucket-in", "d1.raw", ""}};
  ASSERT_EQ(Finish(imp).state, State::kDone);
  filesystem::FullDiskFiles full(1 << 20);
  backend_ = Make("db-1", &full);
  // The data disk fits and is published first; the system disk does not.
  Observation obs = Finish(Copy("m-src", "m-dst"));
  EXPECT_EQ(obs.state, State::kFailed);
  EXPECT_EQ(obs.failure_code, "DiskFull");
  backend_->Reconcile({});
  EXPECT_FALSE(Exists("data/region-b/m-dst.img.1"));
  EXPECT_FALSE(Exists("data/region-b/m-dst.meta.1"));
  EXPECT_FALSE(Exists("data/region-b/m-dst.img"));
  EXPECT_TRUE(Exists("data/region-a/m-src.img.1"));
  EXPECT_EQ(backend_->ImageDetails("region-b", "m-dst").failure_code,
            "DiskFull");
}

INSTANTIATE_TEST_SUITE_P(Filesystem, FilesystemBackendTest,
                         ::testing::Values("filesystem"));

}  // namespace
}  // namespace ecsimage::backend

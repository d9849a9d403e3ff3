// Crash rounds of an import, a blank disk's create and the removal of a
// deleted image's data on the power-cut fake (data-plane.md §4): cut after
// operation K for every K of the whole work, lose everything unsynced (data
// and directory entries), check that no half image is visible (a .meta
// always stands for the whole, verified bytes), then run again (work under
// another lease epoch) and check the end.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/backend/filesystem/chunk_copy.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/filesystem_backend.h"
#include "service/backend/filesystem/orphan_collector.h"
#include "tests/backend/power_cut_fixture.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr int64_t kGib = int64_t{1} << 30;
using State = Observation::State;

void PutBe(std::string& s, size_t off, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    s[off + i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// A QCOW2 v3 header (as image_format_test.cc makes it) for `virtual_size`.
std::string Qcow2Header(uint64_t virtual_size) {
  std::string h(512, '\0');
  h.replace(0, 4, std::string("QFI\xfb", 4));
  PutBe(h, 4, 3, 4);
  PutBe(h, 24, virtual_size, 8);
  PutBe(h, 100, 104, 4);
  return h;
}

// Writes `size` bytes to `path`: `head` at 0, then a 4 KiB block of data
// every eighth chunk and 1000 bytes at the end; holes elsewhere (few chunks
// to read and hash, so that a round is quick).
void PutSparse(const std::string& path, const std::string& head, int64_t size,
               char fill) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(ftruncate(fd.get(), size), 0);
  for (int64_t off = 0; off + 4096 <= size; off += 8 * kChunkBytes) {
    std::string block(4096, static_cast<char>(fill + off / kChunkBytes));
    ASSERT_EQ(pwrite(fd.get(), block.data(), block.size(), off), 4096);
  }
  std::string tail(1000, 'z');
  ASSERT_EQ(pwrite(fd.get(), tail.data(), tail.size(), size - 1000), 1000);
  ASSERT_EQ(pwrite(fd.get(), head.data(), head.size(), 0),
            static_cast<ssize_t>(head.size()));
}

std::string DigestOfPath(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0) return "";
  return DigestOfFile(fd.get(), st.st_size).value_or("");
}

// Whether two files hold the same bytes: same size, and the same bytes over
// the data extents of either (outside them both read as zeros).
bool SameBytes(const std::string& a, const std::string& b) {
  UniqueFd fa(open(a.c_str(), O_RDONLY)), fb(open(b.c_str(), O_RDONLY));
  struct stat sa, sb;
  if (!fa.valid() || !fb.valid() || fstat(fa.get(), &sa) != 0 ||
      fstat(fb.get(), &sb) != 0 || sa.st_size != sb.st_size) {
    return false;
  }
  std::vector<char> ba(1 << 20), bb(1 << 20);
  for (int fd : {fa.get(), fb.get()}) {
    for (off_t off = 0; off < sa.st_size;) {
      off_t data = lseek(fd, off, SEEK_DATA);
      if (data < 0) break;
      off_t hole = lseek(fd, data, SEEK_HOLE);
      if (hole < 0) hole = sa.st_size;
      for (off_t p = data; p < hole;) {
        const size_t len = std::min<off_t>(ba.size(), hole - p);
        if (pread(fa.get(), ba.data(), len, p) != static_cast<ssize_t>(len) ||
            pread(fb.get(), bb.data(), len, p) != static_cast<ssize_t>(len) ||
            std::memcmp(ba.data(), bb.data(), len) != 0) {
          return false;
        }
        p += len;
      }
      off = hole;
    }
  }
  return true;
}

class FakeOwners : public DataOwners {
 public:
  DataOwner OfImage(std::string_view, std::string_view id) override {
    auto it = images.find(std::string(id));
    return it == images.end() ? DataOwner::kNone : it->second;
  }
  DataOwner OfTask(std::string_view, std::string_view) override {
    return DataOwner::kNone;
  }
  std::map<std::string, DataOwner> images;
};

class PowerCutWorkTest : public PowerCutFixture {
 protected:
  void SetUp() override {
    PowerCutFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(mkdir((root_ + "/oss/inbox").c_str(), 0755), 0);
  }

  WorkResult Import(const std::string& key, Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kImport;
    order.key = "task/t-imp";
    order.region_id = "region-b";
    order.image_id = "m-imp";
    order.oss_bucket = "inbox";
    order.oss_object = key;
    return Run(order, files, epoch);
  }
  WorkResult Create(Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kCreate;
    order.key = "create/m-new";
    order.region_id = "region-b";
    order.image_id = "m-new";
    order.size_gib = 1;
    return Run(order, files, epoch);
  }
  std::string MetaFormat(const std::string& region, const std::string& image) {
    UniqueFd dir(open((options_.data_root + "/" + region).c_str(),
                      O_RDONLY | O_DIRECTORY));
    absl::StatusOr<ImageMeta> meta = ReadMeta(dir.get(), image);
    return meta.ok() ? meta->format : "";
  }

  // Cuts an import of `key` after every operation; after each cut and a
  // rerun the image's data is the object's bytes, in `format`.
  void ImportRounds(const std::string& key, const std::string& format,
                    int64_t size_gib) {
    const std::string object = root_ + "/oss/inbox/" + key;
    const std::string image = root_ + "/data/region-b/m-imp.img";
    const std::string digest = DigestOfPath(object);
    ASSERT_FALSE(digest.empty());
    PowerCutFiles counting(root_ + "/shadow");
    WorkResult whole_run = Import(key, counting, 1);
    ASSERT_EQ(whole_run.state, State::kDone)
        << whole_run.failure_code << " " << whole_run.failure_message;
    ASSERT_EQ(whole_run.digest, digest);
    const int64_t n = counting.operations();
    ASSERT_GT(n, 20);
    int published = 0;
    int resumable = 0;
    for (int64_t k = 1; k <= n; ++k) {
      Clear({"data/region-b"});
      const std::string what =
          absl::StrCat(key, ": cut after operation ", k, " of ", n);
      PowerCutFiles cut(root_ + "/shadow");
      cut.CutAfter(k);
      Import(key, cut, 1);
      ASSERT_TRUE(cut.cut()) << what;
      cut.ApplyCut();
      struct stat st;
      if (ExpectWholeImage("region-b", "m-imp", digest, what)) {
        ++published;
        EXPECT_EQ(MetaFormat("region-b", "m-imp"), format) << what;
        EXPECT_TRUE(SameBytes(object, image)) << what;
      } else if (stat((root_ + "/data/region-b/.m-imp.e1.ckpt").c_str(), &st) ==
                     0 &&
                 st.st_size > 0 &&
                 stat((root_ + "/data/region-b/.m-imp.e1.part").c_str(), &st) ==
                     0) {
        ++resumable;
      }
      WorkResult again = Import(key, PosixFiles(), 2);
      ASSERT_EQ(again.state, State::kDone)
          << what << ": " << again.failure_code << " " << again.failure_message;
      EXPECT_EQ(again.digest, digest) << what;
      EXPECT_EQ(again.size_gib, size_gib) << what;
      EXPECT_TRUE(ExpectWholeImage("region-b", "m-imp", digest, what)) << what;
      EXPECT_EQ(MetaFormat("region-b", "m-imp"), format) << what;
      EXPECT_TRUE(SameBytes(object, image)) << what << ": other bytes";
      EXPECT_EQ(Names("data/region-b"),
                (std::vector<std::string>{"m-imp.img", "m-imp.meta"}))
          << what << ": temporary files left";
    }
    // The rounds reached both: mid-copy with a durable checkpoint, and
    // after a durable publish.
    EXPECT_GT(resumable, 0) << key;
    EXPECT_GT(published, 0) << key;
  }
};

TEST_F(PowerCutWorkTest, EveryCutOfARawImportLeavesNoHalfImage) {
  // 12 chunks and a short one: a checkpoint midway.
  PutSparse(root_ + "/oss/inbox/disk.raw", "", 12 * kChunkBytes + 1000, 'a');
  ImportRounds("disk.raw", "RAW", 1);
}

TEST_F(PowerCutWorkTest, EveryCutOfAQcow2ImportLeavesNoHalfImage) {
  // A small file standing for a 3 GiB disk; past the header it is data the
  // import copies as it is.
  PutSparse(root_ + "/oss/inbox/disk.qcow2", Qcow2Header(3 * kGib),
            10 * kChunkBytes + 3000, 'k');
  ImportRounds("disk.qcow2", "QCOW2", 3);
}

TEST_F(PowerCutWorkTest, EveryCutOfABlankDiskLeavesNoneOrAWholeOne) {
  const int64_t size = kGib;
  const std::string digest = BlankImageDigest(size);
  // An earlier attempt's part file whose directory entry a real file system
  // made durable (the fake only ever loses): the work ends without it.
  const std::string earlier = root_ + "/data/region-b/.m-new.e0.part";
  auto put_earlier = [&] {
    UniqueFd fd(open(earlier.c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(ftruncate(fd.get(), size), 0);
  };
  put_earlier();
  PowerCutFiles counting(root_ + "/shadow");
  ASSERT_EQ(Create(counting, 1).state, State::kDone);
  const int64_t n = counting.operations();
  ASSERT_GE(n, 5);
  int published = 0;
  for (int64_t k = 1; k <= n; ++k) {
    Clear({"data/region-b"});
    put_earlier();
    const std::string what = absl::StrCat("cut after operation ", k, " of ", n);
    PowerCutFiles cut(root_ + "/shadow");
    cut.CutAfter(k);
    Create(cut, 1);
    ASSERT_TRUE(cut.cut()) << what;
    cut.ApplyCut();
    if (ExpectWholeImage("region-b", "m-new", digest, what)) {
      ++published;
      EXPECT_EQ(MetaFormat("region-b", "m-new"), "RAW") << what;
    }
    WorkResult again = Create(PosixFiles(), 2);
    ASSERT_EQ(again.state, State::kDone)
        << what << ": " << again.failure_code << " " << again.failure_message;
    EXPECT_EQ(again.digest, digest) << what;
    EXPECT_TRUE(ExpectWholeImage("region-b", "m-new", digest, what)) << what;
    struct stat st;
    ASSERT_EQ(stat((root_ + "/data/region-b/m-new.img").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, size) << what;
    EXPECT_EQ(Names("data/region-b"),
              (std::vector<std::string>{"m-new.img", "m-new.meta"}))
        << what << ": temporary files left";
  }
  // A cut before the directory's sync leaves nothing; one after it, the
  // whole disk.
  EXPECT_GT(published, 0);
  EXPECT_LT(published, n);
}

TEST_F(PowerCutWorkTest, EveryCutOfADiskWithDataDisksLeavesNoHalfImage) {
  const std::string system_digest = BlankImageDigest(kGib);
  const std::string data_digest = BlankImageDigest(2 * kGib);
  auto create = [&](Files& files, int64_t epoch) {
    WorkOrder order;
    order.kind = WorkKind::kCreate;
    order.key = "create/m-new";
    order.region_id = "region-b";
    order.image_id = "m-new";
    order.disk_sizes_gib = {1, 2, 2};
    return Run(order, files, epoch);
  };
  PowerCutFiles counting(root_ + "/shadow");
  ASSERT_EQ(create(counting, 1).state, State::kDone);
  const int64_t n = counting.operations();
  ASSERT_GE(n, 15);
  int published = 0;
  for (int64_t k = 1; k <= n; ++k) {
    Clear({"data/region-b"});
    const std::string what = absl::StrCat("cut after operation ", k, " of ", n);
    PowerCutFiles cut(root_ + "/shadow");
    cut.CutAfter(k);
    create(cut, 1);
    ASSERT_TRUE(cut.cut()) << what;
    cut.ApplyCut();
    // The system disk's .meta says the image has data: then every data
    // disk is whole too (they are published first).
    if (ExpectWholeImage("region-b", "m-new", system_digest, what)) {
      ++published;
      EXPECT_TRUE(
          ExpectWholeImage("region-b", DiskId("m-new", 1), data_digest, what))
          << what;
      EXPECT_TRUE(
          ExpectWholeImage("region-b", DiskId("m-new", 2), data_digest, what))
          << what;
    }
    WorkResult again = create(PosixFiles(), 2);
    ASSERT_EQ(again.state, State::kDone)
        << what << ": " << again.failure_code << " " << again.failure_message;
    EXPECT_EQ(again.digest,
              ImageDigestOfDisks({system_digest, data_digest, data_digest}))
        << what;
    EXPECT_EQ(Names("data/region-b"),
              (std::vector<std::string>{"m-new.img", "m-new.img.1",
                                        "m-new.img.2", "m-new.meta",
                                        "m-new.meta.1", "m-new.meta.2"}))
        << what << ": temporary files left";
  }
  EXPECT_GT(published, 0);
  EXPECT_LT(published, n);
}

class PowerCutDeleteTest : public PowerCutFixture {
 protected:
  // An image with data in region-a; returns its digest.
  std::string PutImage(const std::string& id, char fill) {
    const int64_t size = 5 * 4096;
    const std::string dir = root_ + "/data/region-a/";
    PutSparse(dir + DataName(id), "", size, fill);
    const std::string digest = DigestOfPath(dir + DataName(id));
    std::ofstream(dir + MetaName(id))
        << "format=RAW\nsize=" << size << "\ndigest=" << digest << "\n";
    return digest;
  }
  // m-del, tombstoned: its data, a failure record and an earlier attempt's
  // temporary files; m-keep, live.
  void PutImages() {
    del_digest_ = PutImage("m-del", 'd');
    del_data_digest_ = PutImage(DiskId("m-del", 1), 'e');  // a data disk
    keep_digest_ = PutImage("m-keep", 'k');
    const std::string dir = root_ + "/data/region-a/";
    std::ofstream(dir + ".m-del.failure") << "Io\nan earlier failure";
    std::ofstream(dir + ".m-del.e3.part") << "partial";
    std::ofstream(dir + ".m-del.e3.ckpt") << "0 digest\n";
    std::ofstream(dir + ".m-del.e3.part.1") << "partial";
  }
  absl::Status DeleteImageData(Files& files) {
    FilesystemOptions options = options_;
    options.database_identity = "power-cut";
    options.files = &files;
    absl::StatusOr<std::unique_ptr<Backend>> backend =
        NewFilesystemBackend(options);
    if (!backend.ok()) return backend.status();
    return (*backend)->DeleteImageData("region-a", "m-del");
  }
  // Names in region-a of m-del's files (any kind, temporary ones too).
  std::vector<std::string> FilesOfDeleted() {
    std::vector<std::string> out;
    for (const std::string& name : Names("data/region-a")) {
      if (absl::StartsWith(name, "m-del.") ||
          absl::StartsWith(name, ".m-del.")) {
        out.push_back(name);
      }
    }
    return out;
  }

  std::string del_digest_;
  std::string del_data_digest_;
  std::string keep_digest_;
};

TEST_F(PowerCutDeleteTest, EveryCutLeavesTheWholeImageOrWhatCleanUpRemoves) {
  PutImages();
  PowerCutFiles counting(root_ + "/shadow");
  ASSERT_TRUE(DeleteImageData(counting).ok());
  ASSERT_TRUE(FilesOfDeleted().empty());
  const int64_t n = counting.operations();
  ASSERT_GE(n, 5);
  int whole = 0;
  int gone = 0;
  for (int64_t k = 1; k <= n; ++k) {
    // After the cut, either the next DeleteImageData call or (had the
    // process died before it) the orphan collector removes the rest.
    for (bool by_collector : {false, true}) {
      Clear({"data/region-a"});
      PutImages();
      const std::string what =
          absl::StrCat("cut after operation ", k, " of ", n,
                       by_collector ? ", collected" : ", deleted again");
      PowerCutFiles cut(root_ + "/shadow");
      cut.CutAfter(k);
      EXPECT_EQ(DeleteImageData(cut).ok(), k >= n) << what;
      ASSERT_TRUE(cut.cut()) << what;
      cut.ApplyCut();
      EXPECT_TRUE(ExpectWholeImage("region-a", "m-keep", keep_digest_, what))
          << what;
      // Never a .meta over missing or other bytes: a live-looking image
      // with a wrong digest.
      if (ExpectWholeImage("region-a", "m-del", del_digest_, what)) {
        ++whole;
        // The system disk's .meta goes first: while it is there, so is
        // every data disk.
        EXPECT_TRUE(ExpectWholeImage("region-a", DiskId("m-del", 1),
                                     del_data_digest_, what))
            << what;
      } else {
        ++gone;
      }
      // A delete that returned is durable.
      if (k >= n) {
        EXPECT_TRUE(FilesOfDeleted().empty()) << what;
      }
      if (by_collector) {
        FakeOwners owners;
        owners.images = {{"m-keep", DataOwner::kKept}};
        // Grace 0 (and a clock a second on): every file is old enough.
        CollectOrphanFiles(PosixFiles(), options_.data_root, owners, 0,
                           static_cast<int64_t>(time(nullptr)) + 1);
      } else {
        EXPECT_TRUE(DeleteImageData(PosixFiles()).ok()) << what;
      }
      EXPECT_TRUE(FilesOfDeleted().empty()) << what << ": left behind";
      EXPECT_TRUE(ExpectWholeImage("region-a", "m-keep", keep_digest_, what))
          << what;
      EXPECT_EQ(Names("data/region-a"),
                (std::vector<std::string>{"m-keep.img", "m-keep.meta"}))
          << what;
    }
  }
  EXPECT_GT(whole, 0);
  EXPECT_GT(gone, 0);
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

// The orphan collector: which names it knows, and that it removes exactly
// the old files nobody owns (a fake stands for the database's answers).
#include "service/backend/filesystem/orphan_collector.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace ecsimage::backend::filesystem {
namespace {

using Kind = DataFile::Kind;

TEST(ClassifyDataFileTest, KnowsTheLayoutsNamesAndNothingElse) {
  auto is = [](const std::string& name, Kind kind, const std::string& id) {
    DataFile f = ClassifyDataFile(name);
    EXPECT_EQ(f.kind, kind) << name;
    EXPECT_EQ(f.id, id) << name;
  };
  is("m-1.img", Kind::kImageData, "m-1");
  is("m-1.meta", Kind::kImageData, "m-1");
  is(".m-1.e3.part", Kind::kImageTemp, "m-1");
  is(".m-1.e12.ckpt", Kind::kImageTemp, "m-1");
  is(".m-1.failure", Kind::kImageFailure, "m-1");
  is(".export-t-9.ckpt", Kind::kExportCkpt, "t-9");
  is(".task-t-9.failure", Kind::kTaskFailure, "t-9");
  // A data disk's files are its image's; an export's checkpoint of one,
  // its task's.
  is("m-1.img.1", Kind::kImageData, "m-1");
  is("m-1.meta.16", Kind::kImageData, "m-1");
  is(".m-1.e3.part.2", Kind::kImageTemp, "m-1");
  is(".export-t-9.ckpt.3", Kind::kExportCkpt, "t-9");
  // Not a data disk's: no such disk number, or not a disk's kind of file.
  for (const char* unknown :
       {"m-1.img.17", "m-1.img.01", "m-1.img.0", ".m-1.failure.2",
        ".task-t-9.failure.1", "notes.1", "m-1.img.1.bak"}) {
    is(unknown, Kind::kUnknown, "");
  }
  is(".m-1.meta.tmp", Kind::kWriteTemp, "");
  is("..m-1.failure.tmp", Kind::kWriteTemp, "");
  for (const char* unknown :
       {"notes.txt", ".m-1.ex.part", ".m-1.part", "m-1.img.bak", ".img",
        ".ecsimage-data-root", "lost+found", "x.tmp", ".task-.failure"}) {
    is(unknown, Kind::kUnknown, "");
  }
}

class FakeOwners : public DataOwners {
 public:
  DataOwner OfImage(std::string_view, std::string_view id) override {
    auto it = images.find(std::string(id));
    return it == images.end() ? DataOwner::kNone : it->second;
  }
  DataOwner OfTask(std::string_view, std::string_view id) override {
    auto it = tasks.find(std::string(id));
    return it == tasks.end() ? DataOwner::kNone : it->second;
  }
  std::map<std::string, DataOwner> images, tasks;
};

class OrphanCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ecsimage_orphans_XXXXXX";
    root_ = mkdtemp(tmpl);
    ASSERT_EQ(mkdir((root_ + "/region-a").c_str(), 0755), 0);
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void Put(const std::string& name) {
    std::ofstream(root_ + "/region-a/" + name) << "x";
  }
  bool Has(const std::string& name) {
    struct stat st;
    return lstat((root_ + "/region-a/" + name).c_str(), &st) == 0;
  }
  std::string root_;
};

TEST_F(OrphanCollectorTest, RemovesOldFilesNobodyOwnsAndNothingElse) {
  FakeOwners owners;
  owners.images = {{"m-live", DataOwner::kKept},
                   {"m-busy", DataOwner::kWorking}};
  owners.tasks = {{"t-done", DataOwner::kKept}, {"t-run", DataOwner::kWorking}};
  const std::vector<std::string> kept = {
      "m-live.img",         "m-live.meta",          ".m-live.failure",
      "m-busy.meta",        ".m-busy.e2.part",      ".m-busy.e2.ckpt",
      ".export-t-run.ckpt", ".task-t-done.failure", ".task-t-run.failure",
      "notes.txt",          "m-live.img.1",         "m-live.meta.1",
      ".m-busy.e2.part.2",  ".export-t-run.ckpt.1"};
  const std::vector<std::string> orphans = {
      "m-gone.img",           "m-gone.meta",         ".m-gone.failure",
      ".m-gone.e1.part",      ".m-live.e1.part",     ".m-live.e1.ckpt",
      ".export-t-done.ckpt",  ".export-t-gone.ckpt", ".task-t-gone.failure",
      ".m-live.meta.tmp",     "m-gone.img.1",        ".m-live.e1.part.1",
      ".export-t-done.ckpt.2"};
  for (const auto& n : kept) Put(n);
  for (const auto& n : orphans) Put(n);
  ASSERT_EQ(symlink("/etc/passwd", (root_ + "/region-a/m-link.img").c_str()),
            0);
  const int64_t grace_ms = 20000;
  const int64_t now_s = static_cast<int64_t>(::time(nullptr));
  // Young: nothing goes, owned or not.
  EXPECT_EQ(CollectOrphanFiles(PosixFiles(), root_, owners, grace_ms, now_s),
            0);
  for (const auto& n : orphans) EXPECT_TRUE(Has(n)) << n;
  // Two grace periods later: exactly the orphans go.
  EXPECT_EQ(CollectOrphanFiles(PosixFiles(), root_, owners, grace_ms,
                               now_s + 2 * grace_ms / 1000),
            static_cast<int>(orphans.size()));
  for (const auto& n : orphans) EXPECT_FALSE(Has(n)) << n;
  for (const auto& n : kept) EXPECT_TRUE(Has(n)) << n;
  EXPECT_TRUE(Has("m-link.img"));  // not a regular file: never touched
}

TEST_F(OrphanCollectorTest, FilesTheDatabaseKeepsStayHoweverOld) {
  // kKept is also what the domain answers when its read fails.
  class Unsure : public DataOwners {
    DataOwner OfImage(std::string_view, std::string_view) override {
      return DataOwner::kKept;
    }
    DataOwner OfTask(std::string_view, std::string_view) override {
      return DataOwner::kKept;
    }
  } unsure;
  Put("m-1.img");
  Put(".task-t-1.failure");
  EXPECT_EQ(CollectOrphanFiles(PosixFiles(), root_, unsure, 0,
                               static_cast<int64_t>(::time(nullptr)) + 100),
            0);
  EXPECT_TRUE(Has("m-1.img"));
}

}  // namespace
}  // namespace ecsimage::backend::filesystem

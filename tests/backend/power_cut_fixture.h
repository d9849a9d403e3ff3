// The fixture of the crash rounds on the power-cut fake (power_cut_files.h):
// a data root with two regions, an oss root with one bucket, a shadow
// directory for the fake, and the checks every round makes.
#ifndef ECSIMAGE_TESTS_BACKEND_POWER_CUT_FIXTURE_H_
#define ECSIMAGE_TESTS_BACKEND_POWER_CUT_FIXTURE_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "service/backend/filesystem/chunk_copy.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/work.h"
#include "tests/backend/power_cut_files.h"

namespace ecsimage::backend::filesystem {

class PowerCutFixture : public ::testing::Test {
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
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  // Runs `order` to its end under `epoch` on `files`.
  WorkResult Run(WorkOrder order, Files& files, int64_t epoch) {
    order.lease_epoch = epoch;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> done{0}, total{0}, moved{0};
    WorkContext ctx{files, options_, stop, done, total, moved};
    return RunWork(order, ctx);
  }

  // The entries of `rel` (under the root), sorted.
  std::vector<std::string> Names(const std::string& rel) {
    std::set<std::string> names;
    DIR* dir = opendir((root_ + "/" + rel).c_str());
    if (dir == nullptr) return {};
    while (struct dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.insert(name);
    }
    closedir(dir);
    return {names.begin(), names.end()};
  }

  // Empties the directories `rels` (under the root; files only) and the
  // shadow.
  void Clear(std::vector<std::string> rels) {
    rels.push_back("shadow");
    for (const std::string& rel : rels) {
      UniqueFd dir(open((root_ + "/" + rel).c_str(), O_RDONLY | O_DIRECTORY));
      ASSERT_TRUE(dir.valid()) << rel;
      for (const std::string& name : Names(rel)) {
        ASSERT_EQ(unlinkat(dir.get(), name.c_str(), 0), 0)
            << rel << "/" << name;
      }
    }
  }

  // Whether `image` in `region` has a .meta; if it has, the .meta must stand
  // for the whole, verified bytes: its .img is there, as long as the .meta
  // says (a digest reads a missing tail as zeros), and with `digest`.
  bool ExpectWholeImage(const std::string& region, const std::string& image,
                        const std::string& digest, const std::string& what) {
    UniqueFd dir(open((options_.data_root + "/" + region).c_str(),
                      O_RDONLY | O_DIRECTORY));
    absl::StatusOr<ImageMeta> meta = ReadMeta(dir.get(), image);
    if (!meta.ok()) return false;
    EXPECT_EQ(meta->digest, digest) << what;
    UniqueFd img(openat(dir.get(), DataName(image).c_str(), O_RDONLY));
    struct stat st;
    if (!img.valid() || fstat(img.get(), &st) != 0) {
      ADD_FAILURE() << what << ": a .meta without its .img";
      return true;
    }
    EXPECT_EQ(st.st_size, meta->size) << what << ": a .meta over a short .img";
    absl::StatusOr<std::string> got = DigestOfFile(img.get(), meta->size);
    EXPECT_TRUE(got.ok()) << what;
    EXPECT_EQ(got.value_or(""), meta->digest)
        << what << ": a .meta over other bytes";
    return true;
  }

  std::string root_;
  FilesystemOptions options_;
};

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_TESTS_BACKEND_POWER_CUT_FIXTURE_H_

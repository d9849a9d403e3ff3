// A domain-level environment for the task tests: a real SqliteStore in a
// fresh temporary file, the seeded catalog, two accounts, a FakeClock,
// deterministic ids, and helpers that put copies and images straight into
// the store so each test starts from exactly the state it needs.
#ifndef ECSIMAGE_TESTS_DOMAIN_TASK_TEST_ENV_H_
#define ECSIMAGE_TESTS_DOMAIN_TASK_TEST_ENV_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "service/domain/clock.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "storage/image_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace ecsimage::testing {

class TaskTestEnv {
 public:
  explicit TaskTestEnv(domain::DomainOptions options = {}) : options_(options) {
    std::string tmpl = ::testing::TempDir() + "ecsimage_tasks_XXXXXX";
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ecsimage.db";
    Open();
    absl::Status seeded = domain::SeedCatalog(*store_, clock_.NowMs());
    EXPECT_TRUE(seeded.ok()) << seeded;
    domain::AccountAdmin admin(*store_, clock_, ids_);
    auto alice = admin.CreateAccount("alice");
    auto bob = admin.CreateAccount("bob");
    EXPECT_TRUE(alice.ok() && bob.ok());
    alice_.account_id = alice->account_id;
    bob_.account_id = bob->account_id;
  }

  ~TaskTestEnv() {
    domain_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Closes the store and opens the same file again, with a new domain: what
  // a process restart does.
  void Reopen() {
    domain_.reset();
    store_.reset();
    Open();
  }

  storage::SqliteStore& store() { return *store_; }
  domain::ImageDomain& domain() { return *domain_; }
  domain::FakeClock& clock() { return clock_; }
  const domain::DomainOptions& options() const { return options_; }
  const domain::Caller& alice() const { return alice_; }
  const domain::Caller& bob() const { return bob_; }

  // A live custom image of `owner` put straight into the store.
  storage::ImageRow PutImage(const domain::Caller& owner,
                             const std::string& region,
                             const std::string& status, int32_t size_gib = 20,
                             int64_t creating_remaining_ms = 0) {
    storage::ImageRow image;
    image.image_id = ids_.NewImageId();
    image.region_id = region;
    image.owner_account_id = owner.account_id;
    image.status = status;
    image.progress = status == "Available" ? 100 : 0;
    image.size_gib = size_gib;
    image.architecture = "x86_64";
    image.os_type = "linux";
    image.created_at_ms = clock_.NowMs();
    image.creating_remaining_ms = creating_remaining_ms;
    storage::DiskMappingRow disk;
    disk.device = "/dev/xvda";
    disk.type = "system";
    disk.snapshot_id = ids_.NewSnapshotId();
    disk.size_gib = size_gib;
    image.disks.push_back(disk);
    Write([&](storage::WriteTxn& txn) { return txn.InsertImage(image); });
    return image;
  }

  // A QUEUED copy of a fresh Available image of `owner` from `source_region`
  // to `dest_region`, as CopyImage leaves it. Returns the copy, with
  // dest_image_id filled in.
  storage::CopyTaskRow PutCopy(const domain::Caller& owner,
                               const std::string& source_region,
                               const std::string& dest_region,
                               int64_t total_mib, bool support_cancel = true) {
    storage::ImageRow source = PutImage(owner, source_region, "Available");
    storage::ImageRow dest;
    dest.image_id = ids_.NewImageId();
    dest.region_id = dest_region;
    dest.owner_account_id = owner.account_id;
    dest.status = "Waiting";
    dest.size_gib = source.size_gib;
    dest.architecture = source.architecture;
    dest.os_type = source.os_type;
    dest.is_copied = true;
    dest.created_at_ms = clock_.NowMs();
    storage::CopyTaskRow copy;
    copy.account_id = owner.account_id;
    copy.source_region_id = source_region;
    copy.dest_region_id = dest_region;
    copy.phase = "QUEUED";
    copy.total_mib = total_mib;
    copy.encrypted = !support_cancel;
    copy.support_cancel = support_cancel;
    copy.created_at_ms = clock_.NowMs();
    copy.phase_changed_at_ms = clock_.NowMs();
    Write([&](storage::WriteTxn& txn) -> absl::Status {
      absl::Status status = txn.InsertImage(dest);
      if (!status.ok()) return status;
      copy.source_image_rowid = source.rowid;
      copy.dest_image_rowid = dest.rowid;
      return txn.InsertCopy(copy);
    });
    copy.source_image_id = source.image_id;
    copy.dest_image_id = dest.image_id;
    return copy;
  }

  // The image by internal key, tombstones included.
  storage::ImageRow ImageAt(int64_t rowid) {
    std::optional<storage::ImageRow> image;
    Read([&](storage::ReadTxn& txn) -> absl::Status {
      auto got = txn.GetImageByRowid(rowid);
      if (!got.ok()) return got.status();
      image = *std::move(got);
      return absl::OkStatus();
    });
    EXPECT_TRUE(image.has_value()) << "no image at rowid " << rowid;
    return image.value_or(storage::ImageRow{});
  }

  // The copy into the image at `dest_rowid`.
  storage::CopyTaskRow CopyInto(int64_t dest_rowid) {
    std::optional<storage::CopyTaskRow> copy;
    Read([&](storage::ReadTxn& txn) -> absl::Status {
      auto got = txn.GetCopyByDest(dest_rowid);
      if (!got.ok()) return got.status();
      copy = *std::move(got);
      return absl::OkStatus();
    });
    EXPECT_TRUE(copy.has_value()) << "no copy into rowid " << dest_rowid;
    return copy.value_or(storage::CopyTaskRow{});
  }

  storage::IoTaskRow Task(const std::string& task_id) {
    std::optional<storage::IoTaskRow> task;
    Read([&](storage::ReadTxn& txn) -> absl::Status {
      auto got = txn.GetIoTask(task_id);
      if (!got.ok()) return got.status();
      task = *std::move(got);
      return absl::OkStatus();
    });
    EXPECT_TRUE(task.has_value()) << "no task " << task_id;
    return task.value_or(storage::IoTaskRow{});
  }

  storage::ImageRow Image(const std::string& region,
                          const std::string& image_id) {
    std::optional<storage::ImageRow> image;
    Read([&](storage::ReadTxn& txn) -> absl::Status {
      auto got = txn.GetImage(region, image_id);
      if (!got.ok()) return got.status();
      image = *std::move(got);
      return absl::OkStatus();
    });
    EXPECT_TRUE(image.has_value()) << "no image " << image_id;
    return image.value_or(storage::ImageRow{});
  }

  int64_t LiveImages(const domain::Caller& owner, const std::string& region) {
    int64_t count = -1;
    Read([&](storage::ReadTxn& txn) -> absl::Status {
      auto got = txn.CountLiveImages(owner.account_id, region);
      if (!got.ok()) return got.status();
      count = *got;
      return absl::OkStatus();
    });
    return count;
  }

  void Write(const std::function<absl::Status(storage::WriteTxn&)>& fn) {
    absl::Status status = store_->RunInWriteTransaction(fn);
    EXPECT_TRUE(status.ok()) << status;
  }
  void Read(const std::function<absl::Status(storage::ReadTxn&)>& fn) {
    absl::Status status = store_->RunInReadTransaction(fn);
    EXPECT_TRUE(status.ok()) << status;
  }

 private:
  void Open() {
    storage::SqliteStoreOptions options;
    options.path = path_;
    options.create_if_missing = true;
    auto opened = storage::SqliteStore::Open(options);
    EXPECT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
    domain_ =
        std::make_unique<domain::ImageDomain>(*store_, clock_, ids_, options_);
  }

  domain::DomainOptions options_;
  std::string dir_;
  std::string path_;
  domain::FakeClock clock_;
  domain::RandomIdGenerator ids_{20240101};
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<domain::ImageDomain> domain_;
  domain::Caller alice_;
  domain::Caller bob_;
};

// The ECS code an error carries ("" for OK or a plain status).
inline std::string EcsCode(const absl::Status& status) {
  auto payload = domain::PayloadOf(status);
  return payload.has_value() ? payload->ecs_code() : "";
}

// The metadata value of `key` in an error's payload ("" if absent).
inline std::string MetaOf(const absl::Status& status, const std::string& key) {
  auto payload = domain::PayloadOf(status);
  if (!payload.has_value()) return "";
  for (const auto& entry : payload->metadata()) {
    if (entry.key() == key) return entry.value();
  }
  return "";
}

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_DOMAIN_TASK_TEST_ENV_H_

// BackupTo (VACUUM INTO) and DatabaseBytes.
#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_migrate.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::HasSubstr;

using BackupTest = SqliteStoreTest;

absl::StatusOr<std::unique_ptr<SqliteStore>> OpenExisting(
    const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  options.migrate = false;  // a backup is already at the latest version
  return SqliteStore::Open(options);
}

TEST_F(BackupTest, BackupIsAnOpenableCopy) {
  ASSERT_OK_AND_ASSIGN(int64_t rowid,
                       Insert(CustomImage(kAlice, kHangzhou, "m-1", "web")));
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.AddShare(rowid, kBob, 3); }));
  const std::string backup = dir_.File("backup.db");
  ASSERT_OK(store().BackupTo(backup));
  EXPECT_FALSE(std::filesystem::exists(backup + ".partial"));

  // Later writes do not reach the backup.
  ASSERT_OK(Insert(CustomImage(kAlice, kHangzhou, "m-2")).status());

  ASSERT_OK_AND_ASSIGN(auto copy, OpenExisting(backup));
  EXPECT_OK(copy->RunInReadTransaction([](ReadTxn& txn) {
    auto image = txn.GetImage(kHangzhou, "m-1");
    EXPECT_TRUE(image.ok() && image->has_value() && (*image)->name == "web" &&
                (*image)->disks.size() == 1);
    EXPECT_THAT(txn.GetImage(kHangzhou, "m-2"),
                IsOkAndHolds(::testing::Eq(std::nullopt)));
    EXPECT_THAT(txn.CountLiveImages(kAlice, kHangzhou), IsOkAndHolds(1));
    EXPECT_THAT(txn.AccountExists(kCarol), IsOkAndHolds(true));
    return absl::OkStatus();
  }));
  EXPECT_THAT(copy->AccountForTokenHash(std::string(32, '1')),
              IsOkAndHolds(::testing::Optional(std::string(kAlice))));
  copy.reset();
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(backup, false));
  EXPECT_THAT(SchemaVersion(*conn), IsOkAndHolds(LatestSchemaVersion()));
}

TEST_F(BackupTest, ExistingTargetIsRefusedAndKept) {
  const std::string target = dir_.File("taken.db");
  {
    std::ofstream out(target);
    out << "precious";
  }
  EXPECT_THAT(
      store().BackupTo(target),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("taken.db")));
  std::ifstream in(target);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(BackupTest, UnwritableTargetFailsWithoutLeavingFiles) {
  const std::string target = dir_.File("no-such-dir/backup.db");
  EXPECT_THAT(store().BackupTo(target),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(std::filesystem::exists(target));
  // The reader connection used for the backup is query_only again.
  absl::Status status = store().RunInReadTransaction([](ReadTxn& txn) {
    auto* writable = dynamic_cast<WriteTxn*>(&txn);
    if (writable == nullptr) return absl::InternalError("not writable");
    return writable->PutClientToken(kAlice, "Rpc", "t", {"f", "r", 1});
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(BackupTest, BackupTakenDuringWritesIsConsistent) {
  // One writer inserts m-0, m-1, ... in order; a consistent snapshot holds
  // exactly a prefix of them, with counters that match its rows.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  Latch some_written(1);
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      absl::Status s =
          Insert(CustomImage(kAlice, kHangzhou, absl::StrCat("m-", i)))
              .status();
      if (!s.ok()) break;
      if (written.fetch_add(1) + 1 == 20) some_written.CountDown();
    }
  });
  some_written.Wait();
  const std::string backup = dir_.File("live.db");
  absl::Status backed_up = store().BackupTo(backup);
  const int written_after_backup = written.load();
  stop.store(true);
  writer.join();
  ASSERT_OK(backed_up);

  ASSERT_OK_AND_ASSIGN(auto copy, OpenExisting(backup));
  ASSERT_OK_AND_ASSIGN(int64_t count, ReadWith(*copy, [](ReadTxn& txn) {
                         return txn.CountLiveImages(kAlice, kHangzhou);
                       }));
  EXPECT_GE(count, 20);
  EXPECT_LE(count, written_after_backup);
  EXPECT_OK(copy->RunInReadTransaction([&](ReadTxn& txn) {
    for (int i = 0; i < count + 5; ++i) {
      auto image = txn.GetImage(kHangzhou, absl::StrCat("m-", i));
      EXPECT_TRUE(image.ok());
      EXPECT_EQ(image.ok() && image->has_value(), i < count) << i;
    }
    // Rows counted one by one (the usage filter bypasses the counters).
    ImageQuery q;
    q.caller_account_id = kAlice;
    q.region_id = kHangzhou;
    q.statuses = {"Available"};
    q.in_use = false;
    auto page = txn.ListImages(q);
    EXPECT_TRUE(page.ok() && page->total_count == count);
    return absl::OkStatus();
  }));
}

TEST_F(BackupTest, DatabaseBytesCountsTheFileAndItsLog) {
  ASSERT_OK_AND_ASSIGN(int64_t before, store().DatabaseBytes());
  EXPECT_GT(before, 0);
  ASSERT_OK(store().RunInWriteTransaction([](WriteTxn& txn) {
    for (int i = 0; i < 500; ++i) {
      ImageRow image = CustomImage(kAlice, kHangzhou, absl::StrCat("m-", i));
      image.description = std::string(200, 'd');
      absl::Status s = txn.InsertImage(image);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(int64_t after, store().DatabaseBytes());
  EXPECT_GT(after, before + 500 * 200);
  std::error_code ec;
  const auto main_size = std::filesystem::file_size(path_, ec);
  const auto wal_size = std::filesystem::file_size(path_ + "-wal", ec);
  EXPECT_EQ(after, static_cast<int64_t>(main_size + (ec ? 0 : wal_size)));
}

}  // namespace
}  // namespace ecsimage::storage::testing

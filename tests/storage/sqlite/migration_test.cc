// The user_version ladder: a database at every earlier schema version, with
// rows in it, upgrades to the latest and keeps its data; each step is one
// transaction.
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_migrate.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Rows written with the version-1 schema (explicit columns, so the same
// statements stay valid at every later version).
constexpr char kVersion1Rows[] = R"sql(
INSERT INTO regions (region_id, local_name, endpoint) VALUES
  ('cn-hangzhou', 'Hangzhou', 'ecs.hz'), ('cn-shanghai', 'Shanghai', 'ecs.sh');
INSERT INTO accounts (account_id, name, created_at_ms) VALUES
  ('1000000000000001', 'alice', 1), ('1000000000000002', 'bob', 1);
INSERT INTO tokens (token_sha256, account_id, created_at_ms) VALUES
  (x'0101010101010101010101010101010101010101010101010101010101010101',
   '1000000000000001', 1);
INSERT INTO images (id, image_id, region_id, owner_account_id, is_system, name,
    description, status, progress, size_gib, architecture, os_type, platform,
    is_copied, is_public, created_at_ms, deleted_at_ms, creating_remaining_ms)
VALUES
  (1, 'ubuntu_22', 'cn-hangzhou', NULL, 1, 'ubuntu_22', '', 'Available', 100,
   20, 'x86_64', 'linux', 'Ubuntu', 0, 0, 1, NULL, 0),
  (2, 'm-a1', 'cn-hangzhou', '1000000000000001', 0, 'alpha', '', 'Available',
   100, 40, 'x86_64', 'linux', 'Ubuntu', 0, 0, 2, NULL, 0),
  (3, 'm-a2', 'cn-hangzhou', '1000000000000001', 0, 'beta', '', 'Creating',
   0, 40, 'x86_64', 'linux', 'Ubuntu', 0, 0, 3, NULL, 5000),
  (4, 'm-a3', 'cn-hangzhou', '1000000000000001', 0, 'gone', '', 'Available',
   100, 40, 'x86_64', 'linux', 'Ubuntu', 0, 0, 4, 10, 0),
  (5, 'm-b1', 'cn-hangzhou', '1000000000000002', 0, 'bobs', '', 'Available',
   100, 40, 'x86_64', 'linux', 'Ubuntu', 0, 1, 5, NULL, 0),
  (6, 'm-a4', 'cn-shanghai', '1000000000000001', 0, 'alpha', '', 'Waiting',
   0, 40, 'x86_64', 'linux', 'Ubuntu', 1, 0, 6, NULL, 0);
INSERT INTO disk_mappings (image_rowid, ordinal, device, type, snapshot_id,
    size_gib) VALUES (2, 0, '/dev/xvda', 'system', 's-1', 40);
INSERT INTO copy_tasks (id, account_id, source_image_rowid, dest_image_rowid,
    dest_region_id, phase, progress, total_mib, transferred_mib, encrypted,
    kms_key_id, support_cancel, created_at_ms, phase_changed_at_ms)
VALUES (1, '1000000000000001', 2, 6, 'cn-shanghai', 'QUEUED', 0, 40960, 0, 0,
    '', 1, 6, 6);
INSERT INTO shares (image_rowid, account_id, created_at_ms) VALUES
  (2, '1000000000000002', 7);
INSERT INTO instances (id, instance_id, account_id, region_id, image_rowid,
    created_at_ms, released_at_ms) VALUES
  (1, 'i-1', '1000000000000002', 'cn-hangzhou', 2, 8, NULL),
  (2, 'i-2', '1000000000000001', 'cn-hangzhou', 2, 9, NULL),
  (3, 'i-3', '1000000000000001', 'cn-hangzhou', 2, 9, 10),
  (4, 'i-4', '1000000000000001', 'cn-hangzhou', 1, 9, NULL);
INSERT INTO io_tasks (id, task_id, account_id, region_id, image_rowid, action,
    status, progress, total_mib, transferred_mib, support_cancel, oss_bucket,
    oss_object, created_at_ms, finished_at_ms) VALUES
  (1, 't-1', '1000000000000001', 'cn-hangzhou', 3, 'ImportImage',
   'Processing', 50, 100, 50, 1, 'bucket', 'object', 3, NULL);
INSERT INTO client_tokens (account_id, rpc, token, params_fingerprint,
    response, created_at_ms) VALUES
  ('1000000000000001', 'CreateImage', 'tok', x'01', x'02', 5);
)sql";

std::vector<std::string> Ids(const ImagePage& page) {
  std::vector<std::string> ids;
  for (const auto& entry : page.entries) {
    ids.push_back(entry.image.image_id + "/" + entry.owner_alias);
  }
  return ids;
}

ImageQuery AllOf(const std::string& account, const std::string& region) {
  ImageQuery query;
  query.caller_account_id = account;
  query.region_id = region;
  query.statuses = {"Waiting",     "Creating",     "Available",
                    "UnAvailable", "CreateFailed", "Deprecated"};
  query.limit = 100;
  return query;
}

// Everything kVersion1Rows wrote, read through the store at the latest
// version, including what the later migrations derive from it.
void ExpectVersion1RowsSurvived(Store& store) {
  absl::Status status = store.RunInReadTransaction([&](ReadTxn& txn) {
    EXPECT_THAT(txn.CountLiveImages(kAlice, kHangzhou), IsOkAndHolds(2));
    EXPECT_THAT(txn.CountLiveImages(kAlice, kShanghai), IsOkAndHolds(1));
    EXPECT_THAT(txn.CountLiveImages(kBob, kHangzhou), IsOkAndHolds(1));

    auto a1 = txn.GetImage(kHangzhou, "m-a1");
    EXPECT_TRUE(a1.ok() && a1->has_value());
    if (a1.ok() && a1->has_value()) {
      EXPECT_EQ((*a1)->name, "alpha");
      EXPECT_EQ((*a1)->disks.size(), 1u);
      EXPECT_EQ((*a1)->live_instance_count, 2);  // i-3 was released
    }
    auto system = txn.GetImage(kHangzhou, "ubuntu_22");
    EXPECT_TRUE(system.ok() && system->has_value() &&
                (*system)->live_instance_count == 1);

    auto alice = txn.ListImages(AllOf(kAlice, kHangzhou));
    EXPECT_TRUE(alice.ok());
    if (alice.ok()) {
      EXPECT_EQ(alice->total_count, 4);
      EXPECT_THAT(Ids(*alice), ElementsAre("m-b1/others", "m-a2/self",
                                           "m-a1/self", "ubuntu_22/system"));
    }
    auto bob = txn.ListImages(AllOf(kBob, kHangzhou));
    EXPECT_TRUE(bob.ok());
    if (bob.ok()) {
      EXPECT_EQ(bob->total_count, 3);
      EXPECT_THAT(Ids(*bob),
                  ElementsAre("m-b1/self", "m-a1/others", "ubuntu_22/system"));
    }

    auto copy = txn.GetCopyByDest(6);
    EXPECT_TRUE(copy.ok() && copy->has_value() && (*copy)->phase == "QUEUED");
    auto active = txn.GetActiveCopyBySource(2);
    EXPECT_TRUE(active.ok() && active->has_value());
    auto import = txn.GetActiveIoTask(3, "ImportImage");
    EXPECT_TRUE(import.ok() && import->has_value() &&
                (*import)->task_id == "t-1");
    auto creating = txn.ListCreatingImages(10, "", 0);
    EXPECT_TRUE(creating.ok() && creating->empty());  // m-a2 is an import
    auto token = txn.GetClientToken(kAlice, "CreateImage", "tok");
    EXPECT_TRUE(token.ok() && token->has_value() &&
                (*token)->response == "\x02");
    return absl::OkStatus();
  });
  EXPECT_OK(status);
  EXPECT_THAT(store.AccountForTokenHash(std::string(32, '\x01')),
              IsOkAndHolds(::testing::Optional(std::string(kAlice))));
}

TEST(MigrationTest, EmbeddedMigrationsFormALadder) {
  const auto& all = EmbeddedSqliteMigrations();
  ASSERT_GE(all.size(), 2u);
  EXPECT_OK(CheckMigrationLadder(all));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i) + 1);
    EXPECT_EQ(all[i].name.substr(0, 5), absl::StrFormat("%04d_", i + 1));
    EXPECT_FALSE(all[i].sql.empty());
  }
  EXPECT_EQ(LatestSchemaVersion(), all.back().version);
}

TEST(MigrationTest, LadderWithAGapIsRejected) {
  std::vector<Migration> broken = {{1, "0001_a", "SELECT 1"},
                                   {3, "0003_c", "SELECT 1"}};
  EXPECT_THAT(CheckMigrationLadder(broken),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("0003_c")));
}

TEST(MigrationTest, EachStepSetsItsVersion) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(dir.File("l.db"), true));
  for (int k = 1; k <= LatestSchemaVersion(); ++k) {
    ASSERT_OK_AND_ASSIGN(int v,
                         ApplyMigrations(*conn, EmbeddedSqliteMigrations(), k));
    EXPECT_EQ(v, k);
    ASSERT_OK_AND_ASSIGN(int read, SchemaVersion(*conn));
    EXPECT_EQ(read, k);
  }
}

TEST(MigrationTest, DatabaseAtEveryEarlierVersionUpgradesWithItsData) {
  for (int k = 0; k < LatestSchemaVersion(); ++k) {
    SCOPED_TRACE(absl::StrCat("starting at version ", k));
    TempDir dir;
    const std::string path = dir.File("ladder.db");
    {
      ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, true));
      ASSERT_OK(conn->Exec("PRAGMA foreign_keys = ON"));
      ASSERT_OK_AND_ASSIGN(
          int v, ApplyMigrations(*conn, EmbeddedSqliteMigrations(), k));
      ASSERT_EQ(v, k);
      if (k >= 1) ASSERT_OK(conn->Exec(kVersion1Rows));
    }
    SqliteStoreOptions options;
    options.path = path;
    ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
    if (k >= 1) {
      ExpectVersion1RowsSurvived(*store);
      // Counters keep working for writes after the upgrade.
      ImageRow image = CustomImage(kAlice, kHangzhou, "m-new", "gamma");
      ASSERT_OK(store->RunInWriteTransaction(
          [&](WriteTxn& txn) { return txn.InsertImage(image); }));
      EXPECT_THAT(ReadWith(*store,
                           [](ReadTxn& txn) {
                             return txn.CountLiveImages(kAlice, kHangzhou);
                           }),
                  IsOkAndHolds(3));
    }
    store.reset();
    ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, false));
    ASSERT_OK_AND_ASSIGN(int version, SchemaVersion(*conn));
    EXPECT_EQ(version, LatestSchemaVersion());
  }
}

// Migration 0005 rewrote three CHECK constraints in place (writable_schema):
// the file stays intact and the rewritten checks refuse what the old ones
// refused, and accept what they accepted.
TEST(MigrationTest, RewrittenChecksRefuseUnknownStatesAfterUpgrade) {
  TempDir dir;
  const std::string path = dir.File("checks.db");
  {
    ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, true));
    ASSERT_OK_AND_ASSIGN(int v,
                         ApplyMigrations(*conn, EmbeddedSqliteMigrations(), 4));
    ASSERT_EQ(v, 4);
    ASSERT_OK(conn->Exec(kVersion1Rows));
  }
  ASSERT_OK_AND_ASSIGN(int version, MigrateDatabase(path));
  ASSERT_GE(version, 5);
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, false));
  ASSERT_OK_AND_ASSIGN(std::string integrity,
                       conn->QueryText("PRAGMA integrity_check"));
  EXPECT_EQ(integrity, "ok");
  for (const char* refused : {"UPDATE images SET status = 'Gone' WHERE id = 2",
                              "UPDATE images SET status = NULL WHERE id = 2",
                              "UPDATE copy_tasks SET phase = 'PAUSED'",
                              "UPDATE io_tasks SET status = 'Done'"}) {
    SCOPED_TRACE(refused);
    absl::Status status = conn->Exec(refused);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal));
    EXPECT_THAT(std::string(status.message()), HasSubstr("constraint failed"));
  }
  for (const char* accepted :
       {"UPDATE images SET status = 'Deprecated' WHERE id = 2",
        "UPDATE images SET status = 'UnAvailable' WHERE id = 2",
        "UPDATE copy_tasks SET phase = 'CANCELLING'",
        "UPDATE io_tasks SET status = 'Cancelled'"}) {
    SCOPED_TRACE(accepted);
    EXPECT_OK(conn->Exec(accepted));
  }
}

TEST(MigrationTest, MigratingTwiceChangesNothing) {
  TempDir dir;
  const std::string path = dir.File("twice.db");
  { ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, true)); }
  ASSERT_OK_AND_ASSIGN(int first, MigrateDatabase(path));
  ASSERT_OK_AND_ASSIGN(int second, MigrateDatabase(path));
  EXPECT_EQ(first, LatestSchemaVersion());
  EXPECT_EQ(second, LatestSchemaVersion());
}

TEST(MigrationTest, FailedStepLeavesVersionAndSchemaUntouched) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(dir.File("f.db"), true));
  std::vector<Migration> steps = {
      {1, "0001_ok", "CREATE TABLE a (x INTEGER) STRICT;"},
      {2, "0002_broken",
       "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO missing VALUES (1);"}};
  EXPECT_THAT(ApplyMigrations(*conn, steps, 2),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("0002_broken")));
  ASSERT_OK_AND_ASSIGN(int version, SchemaVersion(*conn));
  EXPECT_EQ(version, 1);
  ASSERT_OK_AND_ASSIGN(
      int64_t tables,
      conn->QueryInt("SELECT count(*) FROM sqlite_schema WHERE name = 'b'"));
  EXPECT_EQ(tables, 0);
  EXPECT_FALSE(conn->InTransaction());
}

}  // namespace
}  // namespace ecsimage::storage::testing

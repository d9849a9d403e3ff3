// Opening a database: creation only when asked, pragmas read back on every
// connection, refusal of corrupt, newer and (without migrate) older
// databases.
#include <fstream>
#include <string>

#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_migrate.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::HasSubstr;

SqliteStoreOptions Options(const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  return options;
}

int ReadUserVersion(const std::string& path) {
  auto conn = Connection::Open(path, /*create=*/false);
  if (!conn.ok()) return -1;
  auto version = SchemaVersion(**conn);
  return version.ok() ? *version : -1;
}

TEST(OpenTest, MissingFileIsNotFoundAndNotCreatedUnlessAsked) {
  TempDir dir;
  const std::string path = dir.File("missing.db");
  EXPECT_THAT(SqliteStore::Open(Options(path)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.db")));
  EXPECT_FALSE(std::filesystem::exists(path));

  SqliteStoreOptions options = Options(path);
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(OpenTest, NewDatabaseIsMigratedToLatestVersion) {
  TempDir dir;
  SqliteStoreOptions options = Options(dir.File("new.db"));
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
  store.reset();
  EXPECT_GE(LatestSchemaVersion(), 2);
  EXPECT_EQ(ReadUserVersion(options.path), LatestSchemaVersion());
}

TEST(OpenTest, EveryConnectionReadsBackItsPragmas) {
  TempDir dir;
  SqliteStoreOptions options = Options(dir.File("p.db"));
  options.create_if_missing = true;
  options.reader_connections = 3;
  options.busy_timeout_ms = 1234;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
  const auto& settings = store->connection_settings();
  ASSERT_EQ(settings.size(), 5u);  // writer + 3 readers + the lookup one
  for (size_t i = 0; i < settings.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(settings[i].journal_mode, "wal");
    EXPECT_EQ(settings[i].synchronous, 2);  // FULL
    EXPECT_TRUE(settings[i].foreign_keys);
    EXPECT_EQ(settings[i].busy_timeout_ms, 1234);
    EXPECT_EQ(settings[i].query_only, i > 0);
  }
}

TEST(OpenTest, PragmasThatDoNotTakeFailLoudly) {
  // An in-memory database cannot be in WAL mode.
  SqliteStoreOptions options = Options(":memory:");
  options.create_if_missing = true;
  EXPECT_THAT(SqliteStore::Open(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("journal_mode=memory")));
}

TEST(OpenTest, ConfigureConnectionReportsWhatItReadBack) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(dir.File("c.db"), true));
  ASSERT_OK_AND_ASSIGN(ConnectionSettings got,
                       ConfigureConnection(*conn, 777, /*query_only=*/true));
  EXPECT_EQ(got.journal_mode, "wal");
  EXPECT_EQ(got.synchronous, 2);
  EXPECT_TRUE(got.foreign_keys);
  EXPECT_EQ(got.busy_timeout_ms, 777);
  EXPECT_TRUE(got.query_only);
  ASSERT_OK_AND_ASSIGN(int64_t fk, conn->QueryInt("PRAGMA foreign_keys"));
  EXPECT_EQ(fk, 1);
}

TEST(OpenTest, DatabaseNewerThanBinaryIsRefused) {
  TempDir dir;
  const std::string path = dir.File("newer.db");
  {
    ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, true));
    ASSERT_OK(conn->Exec(
        absl::StrCat("PRAGMA user_version = ", LatestSchemaVersion() + 1)));
  }
  const std::string expected =
      absl::StrCat("schema version ", LatestSchemaVersion() + 1);
  EXPECT_THAT(
      SqliteStore::Open(Options(path)),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(expected)));
  EXPECT_THAT(
      MigrateDatabase(path),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(expected)));
  EXPECT_EQ(ReadUserVersion(path), LatestSchemaVersion() + 1);
}

TEST(OpenTest, OlderDatabaseIsRefusedWhenMigrationIsOff) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path, true));
    ASSERT_OK_AND_ASSIGN(int v,
                         ApplyMigrations(*conn, EmbeddedSqliteMigrations(), 1));
    ASSERT_EQ(v, 1);
  }
  SqliteStoreOptions options = Options(path);
  options.migrate = false;
  EXPECT_THAT(SqliteStore::Open(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("run migrate")));
  EXPECT_EQ(ReadUserVersion(path), 1);

  ASSERT_OK_AND_ASSIGN(int version, MigrateDatabase(path));
  EXPECT_EQ(version, LatestSchemaVersion());
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
}

TEST(OpenTest, MigrateDatabaseNeverCreatesAFile) {
  TempDir dir;
  const std::string path = dir.File("absent.db");
  EXPECT_THAT(MigrateDatabase(path), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(OpenTest, FileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(8192, 'x');
  }
  EXPECT_THAT(SqliteStore::Open(Options(path)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("garbage.db")));
  EXPECT_THAT(MigrateDatabase(path), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(OpenTest, DatabaseWithACorruptPageIsRefused) {
  TempDir dir;
  const std::string path = dir.File("corrupt.db");
  {
    SqliteStoreOptions options = Options(path);
    options.create_if_missing = true;
    ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
    ASSERT_OK(store->SeedIfEmpty({{kHangzhou, "Hangzhou", "ecs.hz"}}, {}));
    ASSERT_OK(store->RunInWriteTransaction([](WriteTxn& txn) {
      for (int i = 0; i < 300; ++i) {
        ImageRow image = SystemImage(kHangzhou, absl::StrCat("sys-", i));
        absl::Status status = txn.InsertImage(image);
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    }));
  }  // the last connection checkpoints the WAL into the file
  ASSERT_FALSE(std::filesystem::exists(path + "-wal"));
  const auto size = std::filesystem::file_size(path);
  ASSERT_GT(size, 8 * 4096u);
  {
    // Scribble over the b-tree header of the last page.
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size - 4096));
    const std::string junk(64, '\xA5');
    file.write(junk.data(), junk.size());
  }
  EXPECT_THAT(SqliteStore::Open(Options(path)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(MigrateDatabase(path), StatusIs(absl::StatusCode::kDataLoss));

  // Without the check the same file opens: the check is what refuses it.
  SqliteStoreOptions unchecked = Options(path);
  unchecked.check_integrity = false;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(unchecked));
  EXPECT_OK(store->CheckReady());

  // The background check finds it; from then on no write reaches the file
  // and readiness says why.
  EXPECT_THAT(store->CheckIntegrity(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt.db")));
  EXPECT_THAT(store->CheckReady(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("corrupt")));
  bool ran = false;
  EXPECT_THAT(store->RunInWriteTransaction([&](WriteTxn&) {
    ran = true;
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("corrupt")));
  absl::Status async_result;
  Latch answered(1);
  store->RunInWriteTransactionAsync(
      [&](WriteTxn&) {
        ran = true;
        return absl::OkStatus();
      },
      {},
      [&](absl::Status s) {
        async_result = s;
        answered.CountDown();
      });
  answered.Wait();
  EXPECT_THAT(async_result,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("corrupt")));
  EXPECT_FALSE(ran);
  EXPECT_THAT(store->CreateAccount({"1000000000000077", "late", 1},
                                   std::string(32, 'L')),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(OpenTest, BackupOfAHealthyDatabaseIsChecked) {
  TempDir dir;
  SqliteStoreOptions options = Options(dir.File("healthy.db"));
  options.create_if_missing = true;
  options.check_integrity = false;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
  ASSERT_OK(store->SeedIfEmpty({{kHangzhou, "Hangzhou", "ecs.hz"}}, {}));
  EXPECT_OK(store->CheckIntegrity());
  EXPECT_OK(store->BackupTo(dir.File("copy.db")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("copy.db")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("copy.db.partial")));
}

TEST(OpenTest, ForeignKeysAreEnforcedInWrites) {
  TempDir dir;
  SqliteStoreOptions options = Options(dir.File("fk.db"));
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
  ASSERT_OK(store->SeedIfEmpty({{kHangzhou, "Hangzhou", "ecs.hz"}}, {}));
  // The owner account does not exist.
  ImageRow image = CustomImage(kAlice, kHangzhou, "m-orphan");
  EXPECT_THAT(store->RunInWriteTransaction(
                  [&](WriteTxn& txn) { return txn.InsertImage(image); }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("FOREIGN KEY")));
}

TEST(OpenTest, ReaderConnectionsCannotWrite) {
  TempDir dir;
  SqliteStoreOptions options = Options(dir.File("ro.db"));
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(options));
  absl::Status status = store->RunInReadTransaction([](ReadTxn& txn) {
    // The reader's transaction object can write in C++, not in SQLite.
    auto* writable = dynamic_cast<WriteTxn*>(&txn);
    if (writable == nullptr) return absl::OkStatus();
    return writable->PutClientToken(kAlice, "Rpc", "t", {"f", "r", 1});
  });
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("readonly")));
}

}  // namespace
}  // namespace ecsimage::storage::testing

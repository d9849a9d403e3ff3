// The PostgreSQL ladder: a fresh database reaches the latest version, many
// stores opening at once apply each step once, and the schema_meta rules of
// rolling updates (refuse only a database whose min_binary_version is newer
// than the binary).
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <vector>

#include "storage/migrations.h"
#include "storage/postgres/pg_migrate.h"
#include "tests/storage/postgres/pg_test_util.h"

namespace ecsimage::storage::pg::testing {
namespace {

using MigrationTest = PgTest;

int64_t QueryInt(PgConn& conn, const std::string& sql) {
  absl::StatusOr<PgResult> r = conn.Exec(sql);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() && r->rows() > 0 ? r->Int(0, 0) : -1;
}

TEST_F(MigrationTest, LadderIsConsecutiveAndEndsAtSqlitesVersion) {
  EXPECT_TRUE(CheckPgMigrationLadder(EmbeddedPostgresMigrations()).ok());
  const std::vector<Migration>& sqlite = EmbeddedSqliteMigrations();
  EXPECT_EQ(LatestPostgresSchemaVersion(), sqlite.back().version);
}

TEST_F(MigrationTest, LadderMayStartAtABaselineButHasNoGaps) {
  std::vector<Migration> ladder = {{5, "0005_baseline", ""}, {6, "0006_x", ""}};
  EXPECT_TRUE(CheckPgMigrationLadder(ladder).ok());
  ladder.push_back({8, "0008_y", ""});
  EXPECT_EQ(CheckPgMigrationLadder(ladder).code(), absl::StatusCode::kInternal);
}

TEST_F(MigrationTest, MigrateBringsAFreshDatabaseToTheLatestVersion) {
  absl::StatusOr<int> version = MigratePostgres(uri_);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, LatestPostgresSchemaVersion());
  // Again: nothing to do.
  version = MigratePostgres(uri_);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, LatestPostgresSchemaVersion());
  auto raw = Raw();
  EXPECT_EQ(QueryInt(*raw, "SELECT version FROM schema_meta"),
            LatestPostgresSchemaVersion());
  // The baseline raised min_binary_version to 5; 0006 (task leases) only
  // adds columns with defaults, so a binary of schema 5 may still run on
  // it (old replicas of a rolling update, a rollback): it stays 5.
  EXPECT_EQ(QueryInt(*raw, "SELECT min_binary_version FROM schema_meta"), 5);
}

TEST_F(MigrationTest, ConcurrentOpensApplyEachStepOnce) {
  // Ten stores (replicas) open the same empty database at once.
  constexpr int kStores = 10;
  std::vector<std::future<absl::Status>> opens;
  for (int i = 0; i < kStores; ++i) {
    opens.push_back(std::async(std::launch::async, [this] {
      PostgresStoreOptions options = Options();
      options.pool_connections = 1;
      options.write_threads = 1;
      absl::StatusOr<std::unique_ptr<PostgresStore>> store =
          PostgresStore::Open(options);
      if (!store.ok()) return store.status();
      // Seeding at once too: once only.
      ImageRow image;
      image.image_id = "ubuntu";
      image.region_id = "cn-hangzhou";
      image.name = "ubuntu";
      image.status = "Available";
      image.progress = 100;
      return (*store)->SeedIfEmpty({{"cn-hangzhou", "Hangzhou", "e"}}, {image});
    }));
  }
  for (auto& f : opens) {
    absl::Status s = f.get();
    EXPECT_TRUE(s.ok()) << s;
  }
  auto raw = Raw();
  EXPECT_EQ(QueryInt(*raw, "SELECT version FROM schema_meta"),
            LatestPostgresSchemaVersion());
  EXPECT_EQ(QueryInt(*raw, "SELECT count(*) FROM schema_meta"), 1);
  EXPECT_EQ(QueryInt(*raw, "SELECT count(*) FROM regions"), 1);
  EXPECT_EQ(QueryInt(*raw, "SELECT count(*) FROM images"), 1);
  EXPECT_EQ(QueryInt(*raw, "SELECT live_count FROM image_counts"), 1);
}

TEST_F(MigrationTest, ConcurrentProcessesApplyEachStepOnce) {
  // Separate processes, as replicas are: fork after the test set up.
  constexpr int kProcs = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcs; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      absl::StatusOr<int> v = MigratePostgres(uri_);
      _exit(v.ok() && *v == LatestPostgresSchemaVersion() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  }
  auto raw = Raw();
  EXPECT_EQ(QueryInt(*raw, "SELECT version FROM schema_meta"),
            LatestPostgresSchemaVersion());
}

TEST_F(MigrationTest, NewerSchemaIsRefusedOnlyWhenItNeedsANewerBinary) {
  ASSERT_TRUE(MigratePostgres(uri_).ok());
  auto raw = Raw();
  const int latest = LatestPostgresSchemaVersion();
  // A newer release migrated (added things) but old binaries stay welcome.
  ASSERT_TRUE(raw->Exec("UPDATE schema_meta SET version = $1",
                        PgParams().Int(latest + 1))
                  .ok());
  {
    absl::StatusOr<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(Options());
    EXPECT_TRUE(store.ok()) << store.status();
  }
  // A release that made old binaries unsafe raised min_binary_version.
  ASSERT_TRUE(raw->Exec("UPDATE schema_meta SET min_binary_version = $1",
                        PgParams().Int(latest + 1))
                  .ok());
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MigratePostgres(uri_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(MigrationTest, WithoutMigrateAnOlderSchemaIsRefused) {
  PostgresStoreOptions options = Options();
  options.migrate = false;
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::HasSubstr("run migrate"));
}

}  // namespace
}  // namespace ecsimage::storage::pg::testing

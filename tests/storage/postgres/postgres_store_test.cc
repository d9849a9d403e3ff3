// PostgresStore's own behaviour: whole-transaction restarts on deadlocks
// and unique-violation races, the locks that keep check-then-act atomic
// across connections, reconnects after the server dropped connections,
// commit-outcome resolution, abandoned writes, async writes and shutdown,
// the corrupt-row fixture, BackupTo's refusal, readiness and helpers.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "storage/postgres/pg_txn.h"
#include "tests/storage/postgres/pg_test_util.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kAlice[] = "1000000000000001";
constexpr char kBob[] = "1000000000000002";
constexpr char kRegion[] = "cn-hangzhou";

ImageRow Image(const std::string& owner, const std::string& id,
               const std::string& name = "") {
  ImageRow image;
  image.image_id = id;
  image.region_id = kRegion;
  image.owner_account_id = owner;
  image.name = name;
  image.status = "Available";
  image.progress = 100;
  image.size_gib = 20;
  image.created_at_ms = 1;
  image.disks = {{"/dev/xvda", "system", "s-" + id, 20}};
  return image;
}

class PostgresStoreTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Open(Options());
    ASSERT_TRUE(store_->SeedIfEmpty({{kRegion, "Hangzhou", "e"}}, {}).ok());
    for (const char* account : {kAlice, kBob}) {
      ASSERT_TRUE(store_
                      ->CreateAccount({account, account, 1},
                                      std::string(32, account[15]))
                      .ok());
    }
  }
  void CloseStore() override { store_.reset(); }

  void Open(const PostgresStoreOptions& options) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  absl::StatusOr<int64_t> Insert(ImageRow image) {
    absl::Status s = store_->RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.InsertImage(image); });
    if (!s.ok()) return s;
    return image.rowid;
  }

  int64_t Count(const std::string& sql) {
    auto raw = Raw();
    absl::StatusOr<PgResult> r = raw->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->Int(0, 0) : -1;
  }

  // Terminates every connection of the store (application_name ecsimage).
  void KillStoreConnections() {
    auto raw = Raw();
    absl::StatusOr<PgResult> r = raw->Exec(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = "
        "'ecsimage'");
    ASSERT_TRUE(r.ok()) << r.status();
    // Let the backends go.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  uint64_t Retries(const std::string& sqlstate) {
    for (const auto& [state, n] : store_->RetriesBySqlstate()) {
      if (state == sqlstate) return n;
    }
    return 0;
  }

  std::unique_ptr<PostgresStore> store_;
};

TEST_F(PostgresStoreTest, DeadlockRestartsTheWholeTransaction) {
  ASSERT_OK_AND_ASSIGN_PG(int64_t x, Insert(Image(kAlice, "m-x")));
  ASSERT_OK_AND_ASSIGN_PG(int64_t y, Insert(Image(kAlice, "m-y")));
  auto other = Raw();
  ASSERT_TRUE(other->ExecScript("BEGIN").ok());
  ASSERT_TRUE(other
                  ->Exec("UPDATE images SET description = 'other' "
                         "WHERE id = $1",
                         PgParams().Int(y))
                  .ok());
  int runs = 0;
  std::future<absl::Status> other_side;
  absl::Status status = store_->RunInWriteTransaction([&](WriteTxn& txn) {
    ++runs;
    absl::StatusOr<std::optional<ImageRow>> mx = txn.GetImageByRowid(x);
    if (!mx.ok()) return mx.status();
    ImageRow changed = **mx;
    changed.description = absl::StrCat("run ", runs);
    absl::Status s = txn.UpdateImage(changed);
    if (!s.ok()) return s;
    if (runs == 1) {
      // The other client will want x while we wait for y: a cycle, and we
      // waited first, so PostgreSQL picks us as the victim.
      other_side = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        absl::Status u = other
                             ->Exec(
                                 "UPDATE images SET description = 'other' "
                                 "WHERE id = $1",
                                 PgParams().Int(x))
                             .status();
        if (!u.ok()) return u;
        return other->ExecScript("COMMIT");
      });
    }
    return txn.GetImageByRowid(y).status();
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(runs, 2);
  EXPECT_TRUE(other_side.get().ok());
  EXPECT_EQ(Retries("40P01"), 1u);
  EXPECT_EQ(store_->stats().retries, 1u);
  // The retry's change won, after the other client's.
  auto raw = Raw();
  absl::StatusOr<PgResult> r = raw->Exec(
      "SELECT description FROM images WHERE id = $1", PgParams().Int(x));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Text(0, 0), "run 2");
}

TEST_F(PostgresStoreTest, UniqueRaceIsRetriedAndThenAlreadyExists) {
  // Another client inserts the same token hash and commits while our insert
  // waits on its index entry: 23505, a race. The retry's read sees the
  // winner: kAlreadyExists as the interface says.
  auto other = Raw();
  ASSERT_TRUE(other->ExecScript("BEGIN").ok());
  ASSERT_TRUE(other
                  ->Exec("INSERT INTO tokens VALUES ($1, $2, 5)",
                         PgParams().Bytes(std::string(32, 'r')).Text(kBob))
                  .ok());
  std::future<absl::Status> commit = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return other->ExecScript("COMMIT");
  });
  absl::StatusOr<bool> added =
      store_->AddToken({std::string(32, 'r'), kAlice, 6});
  EXPECT_TRUE(commit.get().ok());
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Retries("23505"), 1u);
}

TEST_F(PostgresStoreTest, RetriesAreBoundedThenUnavailable) {
  PostgresStoreOptions options = Options();
  options.max_attempts = 3;
  Open(options);
  int runs = 0;
  absl::Status status = store_->RunInWriteTransaction([&](WriteTxn& txn) {
    ++runs;
    // Always a race: a duplicate key nobody checked for.
    auto& t = static_cast<PgTxn&>(txn);
    absl::Status s = t.Exec(
                          "INSERT INTO regions VALUES ('x', 'x', 'x'), "
                          "('x', 'x', 'x')")
                         .status();
    return s;
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("try again"));
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(Retries("23505"), 3u);
}

TEST_F(PostgresStoreTest, NameAndQuotaChecksHoldAcrossConnections) {
  // Eight writers at once, each: "if no live image has this name and the
  // account has fewer than 3 images, insert one" (CreateImage's checks).
  constexpr int kWriters = 8;
  std::vector<std::future<absl::Status>> writers;
  std::atomic<int> inserted{0};
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(std::async(std::launch::async, [&, i] {
      return store_->RunInWriteTransaction([&, i](WriteTxn& txn) {
        const std::string name = i % 2 == 0 ? "even" : absl::StrCat("n", i);
        auto same = txn.FindLiveImageByName(kAlice, kRegion, name);
        if (!same.ok()) return same.status();
        if (same->has_value()) return absl::OkStatus();
        auto live = txn.CountLiveImages(kAlice, kRegion);
        if (!live.ok()) return live.status();
        if (*live >= 3) return absl::OkStatus();
        ImageRow image = Image(kAlice, absl::StrCat("m-", i), name);
        absl::Status s = txn.InsertImage(image);
        if (s.ok()) ++inserted;
        return s;
      });
    }));
  }
  for (auto& w : writers) {
    absl::Status s = w.get();
    EXPECT_TRUE(s.ok()) << s;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM images"), 3);
  EXPECT_LE(Count("SELECT count(*) FROM images WHERE name = 'even'"), 1);
  EXPECT_EQ(Count("SELECT live_count FROM image_counts"), 3);
}

TEST_F(PostgresStoreTest, ClientTokenCallsSerialise) {
  // Two calls with one ClientToken: the second sees the first's response.
  constexpr int kCalls = 6;
  std::vector<std::future<absl::Status>> calls;
  std::atomic<int> created{0};
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return store_->RunInWriteTransaction([&, i](WriteTxn& txn) {
        auto got = txn.GetClientToken(kAlice, "CreateImage", "tok");
        if (!got.ok()) return got.status();
        if (got->has_value()) return absl::OkStatus();
        ImageRow image = Image(kAlice, absl::StrCat("m-", i));
        absl::Status s = txn.InsertImage(image);
        if (!s.ok()) return s;
        ++created;
        return txn.PutClientToken(kAlice, "CreateImage", "tok",
                                  {"fp", image.image_id, 1});
      });
    }));
  }
  for (auto& c : calls) EXPECT_TRUE(c.get().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM images"), 1);
}

TEST_F(PostgresStoreTest, LostConnectionsAreMadeAnewOnNextUse) {
  ASSERT_OK_AND_ASSIGN_PG(int64_t x, Insert(Image(kAlice, "m-x")));
  ASSERT_TRUE(store_->AccountForTokenHash(std::string(32, '1')).ok());
  KillStoreConnections();
  // Idle connections that died are replaced transparently.
  EXPECT_TRUE(store_
                  ->RunInReadTransaction([&](ReadTxn& txn) {
                    return txn.GetImageByRowid(x).status();
                  })
                  .ok());
  EXPECT_THAT(store_->AccountForTokenHash(std::string(32, '1')),
              ::testing::Property(
                  &absl::StatusOr<std::optional<std::string>>::ok, true));
  EXPECT_TRUE(Insert(Image(kAlice, "m-y")).ok());
  EXPECT_TRUE(store_->CheckReady().ok());
  KillStoreConnections();
  EXPECT_TRUE(store_->CheckReady().ok());
}

TEST_F(PostgresStoreTest, ConnectionLostInsideATransactionIsUnavailable) {
  ASSERT_OK_AND_ASSIGN_PG(int64_t x, Insert(Image(kAlice, "m-x")));
  absl::Status status = store_->RunInWriteTransaction([&](WriteTxn& txn) {
    ImageRow image = Image(kAlice, "m-lost");
    absl::Status s = txn.InsertImage(image);
    if (!s.ok()) return s;
    KillStoreConnections();  // a failover, a crash of the backend
    return txn.GetImageByRowid(x).status();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(Count("SELECT count(*) FROM images WHERE image_id = 'm-lost'"), 0);
  status = store_->RunInReadTransaction([&](ReadTxn& txn) {
    KillStoreConnections();
    return txn.GetImageByRowid(x).status();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  // And then the store heals by itself.
  EXPECT_TRUE(Insert(Image(kAlice, "m-after")).ok());
}

TEST_F(PostgresStoreTest, CommitLostWithTheConnectionIsResolved) {
  // A deferred trigger makes the backend end itself inside COMMIT: the
  // client loses the connection without an answer; pg_xact_status() on a
  // new connection tells the transaction aborted, and the call answers
  // kUnavailable without effect.
  auto raw = Raw();
  ASSERT_TRUE(
      raw->ExecScript("CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql "
                      "AS $$ BEGIN PERFORM pg_terminate_backend("
                      "pg_backend_pid()); RETURN NULL; END $$;"
                      "CREATE CONSTRAINT TRIGGER die AFTER INSERT ON accounts "
                      "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                      "EXECUTE FUNCTION die()")
          .ok());
  absl::Status status =
      store_->CreateAccount({"1000000000000077", "x", 1}, std::string(32, 'x'));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(Count("SELECT count(*) FROM accounts WHERE account_id = "
                  "'1000000000000077'"),
            0);
  EXPECT_GE(store_->stats().failed_commits, 1u);
  ASSERT_TRUE(raw->ExecScript("DROP TRIGGER die ON accounts").ok());
  EXPECT_TRUE(
      store_->CreateAccount({"1000000000000078", "y", 1}, std::string(32, 'y'))
          .ok());
}

TEST_F(PostgresStoreTest, AbandonedWritesRollBack) {
  int checks = 0;
  WriteOptions before;
  before.abandoned = [&] { return ++checks >= 1; };
  int runs = 0;
  absl::Status status = store_->RunInWriteTransaction(
      [&](WriteTxn&) {
        ++runs;
        return absl::OkStatus();
      },
      before);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(runs, 0);

  checks = 0;
  WriteOptions at_commit;
  at_commit.abandoned = [&] { return ++checks >= 2; };
  status = store_->RunInWriteTransaction(
      [&](WriteTxn& txn) {
        ImageRow image = Image(kAlice, "m-abandoned");
        return txn.InsertImage(image);
      },
      at_commit);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Count("SELECT count(*) FROM images"), 0);
}

TEST_F(PostgresStoreTest, AsyncWritesAnswerOnceAndShutdownRefusesTheRest) {
  PostgresStoreOptions options = Options();
  options.write_threads = 2;
  Open(options);
  constexpr int kWrites = 200;
  std::atomic<int> answered{0}, ok{0}, refused{0};
  std::vector<std::atomic<int>> per_write(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    store_->RunInWriteTransactionAsync(
        [i](WriteTxn& txn) {
          ImageRow image = Image(kAlice, absl::StrCat("m-", i));
          return txn.InsertImage(image);
        },
        {},
        [&, i](absl::Status s) {
          ++per_write[i];
          ++answered;
          if (s.ok()) {
            ++ok;
          } else if (s.code() == absl::StatusCode::kUnavailable) {
            ++refused;
          }
        });
  }
  store_->Shutdown();
  EXPECT_EQ(answered.load(), kWrites);
  for (auto& n : per_write) EXPECT_EQ(n.load(), 1);
  EXPECT_EQ(ok.load() + refused.load(), kWrites);
  EXPECT_EQ(Count("SELECT count(*) FROM images"), ok.load());
  // After shutdown: refused at once, on the caller's thread; reads work.
  bool called = false;
  store_->RunInWriteTransactionAsync(
      [](WriteTxn&) { return absl::OkStatus(); }, {},
      [&](absl::Status s) {
        called = true;
        EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
        EXPECT_THAT(std::string(s.message()), HasSubstr("shutting down"));
      });
  EXPECT_TRUE(called);
  EXPECT_EQ(
      store_->RunInWriteTransaction([](WriteTxn&) { return absl::OkStatus(); })
          .code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->CheckReady().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_
                  ->RunInReadTransaction(
                      [](ReadTxn& txn) { return txn.ListRegions().status(); })
                  .ok());
}

TEST_F(PostgresStoreTest, QueuedWritesOfOneKeyShareACommitEachAsItsOwn) {
  PostgresStoreOptions options = Options();
  options.write_threads = 1;
  Open(options);
  // The only write thread is held by a write of another key while the
  // batch queues behind it.
  absl::Notification started, release;
  std::promise<absl::Status> blocker;
  store_->RunInWriteTransactionAsync(
      [&](WriteTxn& txn) {
        started.Notify();
        release.WaitForNotification();
        ImageRow image = Image(kBob, "m-blocker");
        return txn.InsertImage(image);
      },
      {nullptr, kBob}, [&](absl::Status s) { blocker.set_value(s); });
  started.WaitForNotification();
  // Another client holds an uncommitted token that write 8 will race for
  // (23505: rolled back to its savepoint, run again on its own).
  auto other = Raw();
  ASSERT_TRUE(other->ExecScript("BEGIN").ok());
  ASSERT_TRUE(other
                  ->Exec("INSERT INTO tokens VALUES ($1, $2, 5)",
                         PgParams().Bytes(std::string(32, 'q')).Text(kBob))
                  .ok());

  constexpr int kWrites = 10;
  std::vector<std::promise<absl::Status>> answers(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    WriteOptions write_options;
    write_options.batch_key = kAlice;
    if (i == 5) write_options.abandoned = [] { return true; };
    store_->RunInWriteTransactionAsync(
        [i](WriteTxn& txn) -> absl::Status {
          ImageRow image = Image(kAlice, absl::StrCat("m-", i));
          RETURN_IF_ERROR(txn.InsertImage(image));
          if (i == 3) return absl::FailedPreconditionError("refused");
          if (i == 7) {
            // A failed statement, then its error.
            return static_cast<PgTxn&>(txn).Exec("SELECT 1 / 0").status();
          }
          if (i == 8) {
            return static_cast<PgTxn&>(txn).InsertToken(
                {std::string(32, 'q'), kAlice, 6});
          }
          return absl::OkStatus();
        },
        write_options,
        [&answers, i](absl::Status s) { answers[i].set_value(s); });
  }
  const uint64_t commits_before = store_->stats().commits;
  std::future<absl::Status> commit = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return other->ExecScript("COMMIT");
  });
  release.Notify();
  EXPECT_TRUE(blocker.get_future().get().ok());
  std::vector<absl::Status> results;
  for (auto& a : answers) results.push_back(a.get_future().get());
  EXPECT_TRUE(commit.get().ok());

  for (int i : {0, 1, 2, 4, 6, 9}) EXPECT_TRUE(results[i].ok()) << i;
  EXPECT_EQ(results[3].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(results[5].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(results[7].code(), absl::StatusCode::kInternal);
  EXPECT_EQ(results[8].code(), absl::StatusCode::kAlreadyExists) << results[8];
  EXPECT_EQ(Retries("23505"), 1u);
  // Only what answered OK is there: the failed, abandoned and raced writes
  // left nothing, not even the image each inserted first.
  EXPECT_EQ(Count("SELECT count(*) FROM images WHERE image_id IN ('m-0', "
                  "'m-1', 'm-2', 'm-4', 'm-6', 'm-9', 'm-blocker')"),
            7);
  EXPECT_EQ(Count("SELECT count(*) FROM images"), 7);
  EXPECT_EQ(Count("SELECT live_count FROM image_counts WHERE owner_key = '" +
                  std::string(kAlice) + "'"),
            6);
  EXPECT_TRUE(store_->CheckIntegrity().ok());
  // Two commits: the blocker's, and one for the whole batch (write 8's
  // rerun on its own ended in kAlreadyExists, rolled back).
  EXPECT_EQ(store_->stats().commits - commits_before, 2u);
}

TEST_F(PostgresStoreTest, PipelineAnswersInOrderOrItsFirstError) {
  auto conn = Raw();
  ASSERT_OK_AND_ASSIGN_PG(
      std::vector<PgResult> r,
      conn->ExecPipeline({{"SELECT $1::bigint + 1", PgParams().Int(1)},
                          {"SELECT 'x' || $1", PgParams().Text("y")}}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].Int(0, 0), 2);
  EXPECT_EQ(r[1].Text(0, 0), "xy");
  // A deferred statement goes in the same round trip; a failure in the
  // middle is the answer, and the connection stays usable.
  ASSERT_TRUE(conn->ExecScript("BEGIN").ok());
  conn->Defer("SAVEPOINT s");
  absl::StatusOr<std::vector<PgResult>> failed =
      conn->ExecPipeline({{"SELECT $1::bigint", PgParams().Int(1)},
                          {"SELECT 1 / $1::bigint", PgParams().Int(0)},
                          {"SELECT $1::bigint", PgParams().Int(3)}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.status().message()),
              HasSubstr("division by zero"));
  EXPECT_TRUE(conn->InFailedTransaction());
  ASSERT_TRUE(conn->ExecScript("ROLLBACK TO SAVEPOINT s").ok());
  EXPECT_FALSE(conn->InFailedTransaction());
  ASSERT_TRUE(conn->ExecScript("ROLLBACK").ok());
  EXPECT_FALSE(conn->broken());
  ASSERT_OK_AND_ASSIGN_PG(PgResult one, conn->Exec("SELECT 1"));
  EXPECT_EQ(one.Int(0, 0), 1);
}

TEST_F(PostgresStoreTest, RegionsAreRememberedOnlyOnceCommitted) {
  auto conn = Raw();
  // Inserted by this transaction and rolled back: not remembered.
  ASSERT_TRUE(conn->ExecScript("BEGIN").ok());
  {
    PgTxn txn(*conn, /*write=*/true);
    ASSERT_TRUE(txn.InsertRegion({"xx-gone", "Gone", "e"}).ok());
    absl::StatusOr<bool> seen = txn.RegionExists("xx-gone");
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_TRUE(*seen);
  }
  ASSERT_TRUE(conn->ExecScript("ROLLBACK").ok());
  EXPECT_FALSE(conn->KnowsRegion("xx-gone"));
  {
    PgTxn txn(*conn, /*write=*/false);
    absl::StatusOr<bool> gone = txn.RegionExists("xx-gone");
    ASSERT_TRUE(gone.ok()) << gone.status();
    EXPECT_FALSE(*gone);
    // A committed region is read once, then remembered.
    absl::StatusOr<bool> there = txn.RegionExists(kRegion);
    ASSERT_TRUE(there.ok()) << there.status();
    EXPECT_TRUE(*there);
  }
  EXPECT_TRUE(conn->KnowsRegion(kRegion));
}

TEST_F(PostgresStoreTest, LookupsDoNotWaitForThePool) {
  PostgresStoreOptions options = Options();
  options.pool_connections = 1;
  Open(options);
  absl::Notification reading, release;
  std::future<absl::Status> long_read = std::async(std::launch::async, [&] {
    return store_->RunInReadTransaction([&](ReadTxn&) {
      reading.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    });
  });
  reading.WaitForNotification();
  absl::StatusOr<std::optional<std::string>> account =
      store_->AccountForTokenHash(std::string(32, '1'));
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(account->value_or(""), kAlice);
  release.Notify();
  EXPECT_TRUE(long_read.get().ok());
}

TEST_F(PostgresStoreTest, IntegrityCheckFindsDriftedCountersAndRefusesWrites) {
  ASSERT_OK_AND_ASSIGN_PG(int64_t x, Insert(Image(kAlice, "m-counted")));
  (void)x;
  ASSERT_TRUE(store_->CheckIntegrity().ok());
  // A counter the triggers keep, changed behind their back.
  ASSERT_TRUE(
      ExecPostgresForTest(uri_,
                          "UPDATE image_counts SET live_count = live_count + 1 "
                          "WHERE owner_key = '" +
                              std::string(kAlice) + "'")
          .ok());
  absl::Status check = store_->CheckIntegrity();
  EXPECT_EQ(check.code(), absl::StatusCode::kDataLoss) << check;
  EXPECT_THAT(std::string(check.message()), HasSubstr("1 image_counts rows"));
  absl::Status ready = store_->CheckReady();
  EXPECT_EQ(ready.code(), absl::StatusCode::kUnavailable) << ready;
  EXPECT_THAT(std::string(ready.message()), HasSubstr("corrupt"));
  bool ran = false;
  absl::Status write = store_->RunInWriteTransaction([&](WriteTxn&) {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(write.code(), absl::StatusCode::kUnavailable) << write;
  EXPECT_FALSE(ran);
}

TEST_F(PostgresStoreTest, CorruptRowIsInternalOnEveryRead) {
  ASSERT_OK_AND_ASSIGN_PG(int64_t x, Insert(Image(kAlice, "m-bad")));
  ASSERT_TRUE(CorruptImageRowForTest(uri_, kRegion, "m-bad").ok());
  EXPECT_EQ(CorruptImageRowForTest(uri_, kRegion, "m-none").code(),
            absl::StatusCode::kNotFound);
  absl::Status get = store_->RunInReadTransaction(
      [&](ReadTxn& txn) { return txn.GetImage(kRegion, "m-bad").status(); });
  EXPECT_EQ(get.code(), absl::StatusCode::kInternal) << get;
  absl::Status by_rowid = store_->RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.GetImageByRowid(x).status(); });
  EXPECT_EQ(by_rowid.code(), absl::StatusCode::kInternal) << by_rowid;
  absl::Status list = store_->RunInReadTransaction([&](ReadTxn& txn) {
    ImageQuery q;
    q.caller_account_id = kAlice;
    q.region_id = kRegion;
    return txn.ListImages(q).status();
  });
  EXPECT_EQ(list.code(), absl::StatusCode::kInternal) << list;
  // The message names the row, not the SQL or the connection.
  EXPECT_THAT(std::string(get.message()), HasSubstr("invariants"));
}

TEST_F(PostgresStoreTest, BackupIsRefusedWithTheWayToBackUp) {
  absl::Status status = store_->BackupTo("/tmp/x.db");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("pg_dump"));
}

TEST_F(PostgresStoreTest, SizeReadinessStatsAndActiveTasks) {
  absl::StatusOr<int64_t> bytes = store_->DatabaseBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_GT(*bytes, 0);
  EXPECT_TRUE(store_->CheckReady().ok());
  absl::StatusOr<std::vector<ActiveTaskCount>> tasks =
      store_->CountActiveTasks();
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  EXPECT_TRUE(tasks->empty());
  PostgresStoreStats stats = store_->stats();
  EXPECT_GE(stats.commits, 3u);  // seed and two accounts
  EXPECT_EQ(stats.pool_busy, 0u);
  EXPECT_GE(stats.pool_idle, 1u);
}

TEST_F(PostgresStoreTest, PreparedStatementsAreCachedPerConnection) {
  std::mutex mu;
  std::vector<std::string> prepared;
  PostgresStoreOptions options = Options();
  options.pool_connections = 1;
  options.on_prepare = [&](const std::string& sql) {
    std::lock_guard<std::mutex> lock(mu);
    prepared.push_back(sql);
  };
  Open(options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_
                    ->RunInReadTransaction([](ReadTxn& txn) {
                      return txn.RegionExists(kRegion).status();
                    })
                    .ok());
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(std::count_if(prepared.begin(), prepared.end(),
                          [](const std::string& s) {
                            return s.find("FROM regions WHERE") !=
                                   std::string::npos;
                          }),
            1);
}

TEST(PostgresUriTest, DatabaseIsReplacedAndParametersKept) {
  EXPECT_EQ(PostgresUriWithDatabase("postgresql:///postgres?host=/tmp/pg&"
                                    "user=postgres",
                                    "t1"),
            "postgresql:///t1?host=/tmp/pg&user=postgres");
  EXPECT_EQ(PostgresUriWithDatabase("postgres://u:p@db:5432/app?sslmode="
                                    "require&dbname=x",
                                    "t 2"),
            "postgres://u:p@db:5432/t%202?sslmode=require");
  EXPECT_EQ(PostgresUriWithDatabase("postgresql://db", "t3"),
            "postgresql://db/t3");
}

TEST(PostgresUriTest, DefaultsAreAddedAndTheUriNeverEchoed) {
  absl::StatusOr<std::string> conninfo = WithConnectionDefaults(
      "postgresql://u:secret@db/app?connect_timeout=9&sslmode=verify-full");
  ASSERT_TRUE(conninfo.ok());
  EXPECT_THAT(*conninfo, HasSubstr("connect_timeout='9'"));
  EXPECT_THAT(*conninfo, HasSubstr("sslmode='verify-full'"));
  EXPECT_THAT(*conninfo, HasSubstr("tcp_user_timeout='10000'"));
  EXPECT_THAT(*conninfo, HasSubstr("keepalives_idle='10'"));
  EXPECT_THAT(*conninfo, HasSubstr("application_name='ecsimage'"));
  absl::StatusOr<std::string> bad =
      WithConnectionDefaults("postgresql://u:secret@db/app?nonsense=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(bad.status().message()).find("secret"),
            std::string::npos);
  // A server that is not there: kUnavailable, no password in the message.
  PostgresStoreOptions options;
  options.uri = "postgresql://u:secret@127.0.0.1:1/app?connect_timeout=2";
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(store.status().message()).find("secret"),
            std::string::npos);
}

}  // namespace
}  // namespace ecsimage::storage::pg::testing

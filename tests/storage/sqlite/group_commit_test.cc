// The writer thread: batches share one COMMIT, each write is isolated in
// its savepoint, callers are answered only after the COMMIT, abandoned
// callers leave no trace, shutdown drains the queue.
//
// To put writes in one batch deterministically, a first write holds the
// writer (it blocks inside its callback on a latch) while the others queue
// up; the test waits for the queue hook to count them, then releases it.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::Each;
using ::testing::Eq;
using ::testing::HasSubstr;

class GroupCommitTest : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    ASSERT_OK(Open([](SqliteStoreOptions&) {}));
  }

  void TearDown() override {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  absl::Status Open(const std::function<void(SqliteStoreOptions&)>& tweak) {
    store_.reset();
    SqliteStoreOptions options = DefaultOptions();
    options.test_hooks.on_write_queued = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++queued_;
      cv_.notify_all();
    };
    options.test_hooks.commit_hook = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++commit_hooks_;
      events_.push_back("commit");
      commit_answered_.push_back(answered_);
      return veto_commit_ == commit_hooks_;
    };
    tweak(options);
    return OpenStore(options);
  }

  // Runs a write on its own thread that blocks in its callback until
  // ReleaseWriter(); returns once the writer is inside it.
  void HoldWriter() {
    auto running = std::make_shared<Latch>(1);
    threads_.emplace_back([this, running] {
      holder_status_ = store().RunInWriteTransaction([&](WriteTxn& txn) {
        ImageRow image = CustomImage(kAlice, kHangzhou, "m-holder");
        absl::Status s = txn.InsertImage(image);
        running->CountDown();
        release_.Wait();
        return s;
      });
    });
    running->Wait();
  }
  void ReleaseWriter() { release_.CountDown(); }

  // Starts a write on its own thread; its status lands in results_[slot].
  void StartWrite(size_t slot, std::function<absl::Status(WriteTxn&)> fn,
                  WriteOptions options = {}) {
    threads_.emplace_back(
        [this, slot, fn = std::move(fn), options = std::move(options)] {
          absl::Status status = store().RunInWriteTransaction(fn, options);
          std::lock_guard<std::mutex> lock(mu_);
          results_[slot] = status;
          events_.push_back(absl::StrCat("answer ", slot));
          ++answered_;
          cv_.notify_all();
        });
  }

  // Queues a write with RunInWriteTransactionAsync from this thread; its
  // answer lands in results_[slot] (as the completion gives it).
  void StartAsync(size_t slot, std::function<absl::Status(WriteTxn&)> fn,
                  WriteOptions options = {}) {
    store().RunInWriteTransactionAsync(
        std::move(fn), std::move(options), [this, slot](absl::Status status) {
          std::lock_guard<std::mutex> lock(mu_);
          results_[slot] = status;
          events_.push_back(absl::StrCat("answer ", slot));
          ++answered_;
          cv_.notify_all();
        });
  }

  // Waits until `n` answers arrived.
  void WaitAnswered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return answered_ >= n; });
  }

  // Waits until `n` writes in total were queued.
  void WaitQueued(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queued_ >= n; });
  }

  void JoinAll() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  std::function<absl::Status(WriteTxn&)> InsertFn(const std::string& id) {
    return [this, id](WriteTxn& txn) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        commits_seen_by_fn_[id] = commit_hooks_;
      }
      ImageRow image = CustomImage(kAlice, kHangzhou, id);
      return txn.InsertImage(image);
    };
  }

  bool Exists(const std::string& id) {
    auto found = ReadWith(
        store(), [&](ReadTxn& txn) { return txn.GetImage(kHangzhou, id); });
    return found.ok() && found->has_value();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int queued_ = 0;
  int commit_hooks_ = 0;
  int veto_commit_ = 0;  // 1-based index of the commit to veto; 0 = none
  int answered_ = 0;
  std::vector<std::string> events_;
  std::vector<int> commit_answered_;  // answers seen by each commit hook
  std::map<std::string, int> commits_seen_by_fn_;
  std::map<size_t, absl::Status> results_;
  absl::Status holder_status_;
  Latch release_{1};
  std::vector<std::thread> threads_;
};

TEST_F(GroupCommitTest, BatchMatesCommitTogetherAndFailAlone) {
  const SqliteStoreStats before = store().stats();
  HoldWriter();
  constexpr int kWrites = 5;
  for (int i = 0; i < kWrites; ++i) {
    const std::string id = absl::StrCat("m-", i);
    if (i == 2) {
      StartWrite(i, [this, id](WriteTxn& txn) {
        absl::Status s = InsertFn(id)(txn);
        if (!s.ok()) return s;
        return absl::AbortedError("rule said no");
      });
    } else if (i == 3) {
      // A statement that fails inside SQLite (duplicate live name).
      StartWrite(i, [](WriteTxn& txn) {
        ImageRow image = CustomImage(kAlice, kHangzhou, "m-holder-2");
        image.name = "dup";
        absl::Status s = txn.InsertImage(image);
        if (!s.ok()) return s;
        image = CustomImage(kAlice, kHangzhou, "m-holder-3");
        image.name = "dup";
        return txn.InsertImage(image);
      });
    } else {
      StartWrite(i, InsertFn(id));
    }
  }
  WaitQueued(1 + kWrites);
  ReleaseWriter();
  JoinAll();

  EXPECT_OK(holder_status_);
  EXPECT_OK(results_[0]);
  EXPECT_OK(results_[1]);
  EXPECT_THAT(results_[2],
              StatusIs(absl::StatusCode::kAborted, HasSubstr("rule said no")));
  EXPECT_THAT(results_[3], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_OK(results_[4]);
  EXPECT_TRUE(Exists("m-holder"));
  EXPECT_TRUE(Exists("m-0"));
  EXPECT_TRUE(Exists("m-1"));
  EXPECT_FALSE(Exists("m-2"));
  EXPECT_FALSE(Exists("m-holder-2"));  // its first insert was rolled back too
  EXPECT_TRUE(Exists("m-4"));
  // Exactly two commits: the holder's, then one for all five queued writes,
  // and every queued callback ran after the first and before the second.
  const SqliteStoreStats after = store().stats();
  EXPECT_EQ(after.commits - before.commits, 2u);
  EXPECT_EQ(after.writes - before.writes, 1u + kWrites);
  EXPECT_EQ(commit_hooks_, 2);
  for (const char* id : {"m-0", "m-1", "m-2", "m-4"}) {
    EXPECT_EQ(commits_seen_by_fn_[id], 1) << id;
  }
  EXPECT_THAT(ReadWith(store(),
                       [](ReadTxn& txn) {
                         return txn.CountLiveImages(kAlice, kHangzhou);
                       }),
              IsOkAndHolds(4));
}

TEST_F(GroupCommitTest, CallersAreAnsweredOnlyAfterTheirCommit) {
  HoldWriter();
  for (int i = 0; i < 4; ++i) StartWrite(i, InsertFn(absl::StrCat("m-", i)));
  WaitQueued(5);
  ReleaseWriter();
  JoinAll();
  for (int i = 0; i < 4; ++i) EXPECT_OK(results_[i]);
  // Events: the holder's commit, the batch's commit, then four answers.
  ASSERT_EQ(events_.size(), 6u);
  EXPECT_EQ(events_[0], "commit");
  EXPECT_EQ(events_[1], "commit");
  // When the batch's commit hook ran, none of its callers had an answer.
  ASSERT_EQ(commit_answered_.size(), 2u);
  EXPECT_EQ(commit_answered_[1], 0);
}

// The completion-based path (RunInWriteTransactionAsync, used by the
// callback RPC handlers) keeps every rule of the blocking one.
TEST_F(GroupCommitTest, AsyncWritesShareTheBatchFailAloneAndAreAnsweredAfter) {
  const SqliteStoreStats before = store().stats();
  HoldWriter();
  StartAsync(0, InsertFn("m-0"));
  StartAsync(1, [this](WriteTxn& txn) {
    absl::Status s = InsertFn("m-1")(txn);
    if (!s.ok()) return s;
    return absl::AbortedError("rule said no");
  });
  StartWrite(2, InsertFn("m-2"));  // a blocking caller in the same batch
  StartAsync(3, InsertFn("m-3"));
  WaitQueued(5);
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(answered_, 0);  // queued, not answered
  }
  ReleaseWriter();
  WaitAnswered(4);
  JoinAll();

  EXPECT_OK(results_[0]);
  EXPECT_THAT(results_[1],
              StatusIs(absl::StatusCode::kAborted, HasSubstr("rule said no")));
  EXPECT_OK(results_[2]);
  EXPECT_OK(results_[3]);
  EXPECT_TRUE(Exists("m-0"));
  EXPECT_FALSE(Exists("m-1"));
  EXPECT_TRUE(Exists("m-2"));
  EXPECT_TRUE(Exists("m-3"));
  // One commit for the holder, one for the batch of four; when the batch's
  // commit hook ran, nobody of it had an answer.
  EXPECT_EQ(store().stats().commits - before.commits, 2u);
  ASSERT_EQ(commit_answered_.size(), 2u);
  EXPECT_EQ(commit_answered_[1], 0);
  ASSERT_EQ(events_.size(), 6u);
  EXPECT_EQ(events_[1], "commit");
}

TEST_F(GroupCommitTest, AsyncWritesOfAFailedCommitAllFail) {
  veto_commit_ = 2;
  HoldWriter();
  StartAsync(0, InsertFn("m-0"));
  StartAsync(1, InsertFn("m-1"));
  WaitQueued(3);
  ReleaseWriter();
  WaitAnswered(2);
  JoinAll();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_THAT(results_[i], StatusIs(absl::StatusCode::kUnavailable,
                                      HasSubstr("commit failed")));
  }
  EXPECT_FALSE(Exists("m-0"));
  EXPECT_FALSE(Exists("m-1"));
}

TEST_F(GroupCommitTest, AsyncWritesAreAnsweredUnavailableAtShutdown) {
  Latch stopping(1);
  ASSERT_OK(Open([&](SqliteStoreOptions& o) {
    o.test_hooks.on_shutdown_started = [&stopping] { stopping.CountDown(); };
  }));
  HoldWriter();
  bool queued_ran = false;
  StartAsync(0, [&](WriteTxn&) {
    queued_ran = true;
    return absl::OkStatus();
  });
  WaitQueued(2);
  std::thread stopper([this] { store().Shutdown(); });
  stopping.Wait();
  StartAsync(1, InsertFn("m-late"));  // after shutdown began: at once
  ReleaseWriter();
  stopper.join();
  JoinAll();
  WaitAnswered(2);
  EXPECT_THAT(results_[0], StatusIs(absl::StatusCode::kUnavailable,
                                    HasSubstr("shutting down")));
  EXPECT_THAT(results_[1], StatusIs(absl::StatusCode::kUnavailable,
                                    HasSubstr("shutting down")));
  EXPECT_FALSE(queued_ran);
  EXPECT_FALSE(Exists("m-late"));
}

TEST_F(GroupCommitTest, FailedCommitFailsTheWholeBatch) {
  veto_commit_ = 2;  // the holder commits; the batch's COMMIT fails
  HoldWriter();
  for (int i = 0; i < 3; ++i) StartWrite(i, InsertFn(absl::StrCat("m-", i)));
  StartWrite(3, [](WriteTxn&) { return absl::AbortedError("own failure"); });
  WaitQueued(5);
  ReleaseWriter();
  JoinAll();

  EXPECT_OK(holder_status_);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(results_[i], StatusIs(absl::StatusCode::kUnavailable,
                                      HasSubstr("commit failed")));
    EXPECT_FALSE(Exists(absl::StrCat("m-", i)));
  }
  // A write that failed on its own keeps its own answer.
  EXPECT_THAT(results_[3], StatusIs(absl::StatusCode::kAborted));
  EXPECT_TRUE(Exists("m-holder"));
  EXPECT_EQ(store().stats().failed_commits, 1u);
  EXPECT_THAT(ReadWith(store(),
                       [](ReadTxn& txn) {
                         return txn.CountLiveImages(kAlice, kHangzhou);
                       }),
              IsOkAndHolds(1));

  // The writer goes on: the next write commits.
  EXPECT_OK(store().RunInWriteTransaction(InsertFn("m-after")));
  EXPECT_TRUE(Exists("m-after"));
}

TEST_F(GroupCommitTest, AbandonedBeforeRunningNeverRuns) {
  bool ran = false;
  WriteOptions options;
  options.abandoned = [] { return true; };
  EXPECT_THAT(store().RunInWriteTransaction(
                  [&](WriteTxn& txn) {
                    ran = true;
                    return InsertFn("m-1")(txn);
                  },
                  options),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(Exists("m-1"));
}

TEST_F(GroupCommitTest, AbandonedAfterRunningRollsBackOnlyItself) {
  HoldWriter();
  auto gave_up = std::make_shared<std::atomic<bool>>(false);
  WriteOptions options;
  options.abandoned = [gave_up] { return gave_up->load(); };
  // The caller's deadline passes while its callback runs.
  StartWrite(
      0,
      [this, gave_up](WriteTxn& txn) {
        absl::Status s = InsertFn("m-late")(txn);
        gave_up->store(true);
        return s;
      },
      options);
  StartWrite(1, InsertFn("m-mate"));
  WaitQueued(3);
  ReleaseWriter();
  JoinAll();
  EXPECT_THAT(results_[0], StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_OK(results_[1]);
  EXPECT_FALSE(Exists("m-late"));
  EXPECT_TRUE(Exists("m-mate"));
  EXPECT_EQ(commits_seen_by_fn_["m-late"], commits_seen_by_fn_["m-mate"]);
  EXPECT_THAT(ReadWith(store(),
                       [](ReadTxn& txn) {
                         return txn.CountLiveImages(kAlice, kHangzhou);
                       }),
              IsOkAndHolds(2));
}

TEST_F(GroupCommitTest, WithoutGroupCommitEachWriteIsItsOwnTransaction) {
  ASSERT_OK(Open([](SqliteStoreOptions& o) { o.group_commit = false; }));
  const SqliteStoreStats before = store().stats();
  HoldWriter();
  for (int i = 0; i < 3; ++i) StartWrite(i, InsertFn(absl::StrCat("m-", i)));
  WaitQueued(4);
  ReleaseWriter();
  JoinAll();
  for (int i = 0; i < 3; ++i) EXPECT_OK(results_[i]);
  EXPECT_EQ(store().stats().commits - before.commits, 4u);
}

TEST_F(GroupCommitTest, BatchesAreCappedAtMaxBatchSize) {
  ASSERT_OK(Open([](SqliteStoreOptions& o) { o.max_batch_size = 2; }));
  const SqliteStoreStats before = store().stats();
  HoldWriter();
  for (int i = 0; i < 5; ++i) StartWrite(i, InsertFn(absl::StrCat("m-", i)));
  WaitQueued(6);
  ReleaseWriter();
  JoinAll();
  for (int i = 0; i < 5; ++i) EXPECT_OK(results_[i]);
  // Holder, then 2 + 2 + 1.
  EXPECT_EQ(store().stats().commits - before.commits, 4u);
}

TEST_F(GroupCommitTest, ShutdownAnswersQueuedWritesUnavailable) {
  Latch stopping(1);
  ASSERT_OK(Open([&](SqliteStoreOptions& o) {
    o.test_hooks.on_shutdown_started = [&stopping] { stopping.CountDown(); };
  }));
  HoldWriter();
  bool queued_ran = false;
  StartWrite(0, [&](WriteTxn& txn) {
    queued_ran = true;
    return absl::OkStatus();
  });
  WaitQueued(2);
  std::thread stopper([this] { store().Shutdown(); });
  stopping.Wait();
  EXPECT_THAT(
      store().RunInWriteTransaction(InsertFn("m-late")),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  ReleaseWriter();
  stopper.join();
  JoinAll();
  EXPECT_OK(holder_status_);  // the batch in progress finished
  EXPECT_THAT(results_[0], StatusIs(absl::StatusCode::kUnavailable,
                                    HasSubstr("shutting down")));
  EXPECT_FALSE(queued_ran);
  EXPECT_TRUE(Exists("m-holder"));  // reads still work
  store().Shutdown();               // idempotent
}

TEST_F(GroupCommitTest, NestedWriteTransactionIsRefused) {
  absl::Status inner;
  ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) {
    inner = store().RunInWriteTransaction(InsertFn("m-inner"));
    return InsertFn("m-outer")(txn);
  }));
  EXPECT_THAT(inner, StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(Exists("m-outer"));
  EXPECT_FALSE(Exists("m-inner"));
}

TEST_F(GroupCommitTest, ThrowingCallbackIsInternalAndRolledBack) {
  EXPECT_THAT(store().RunInWriteTransaction([&](WriteTxn& txn) -> absl::Status {
    absl::Status s = InsertFn("m-throw")(txn);
    if (s.ok()) throw std::runtime_error("boom");
    return s;
  }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("boom")));
  EXPECT_FALSE(Exists("m-throw"));
  EXPECT_OK(store().RunInWriteTransaction(InsertFn("m-next")));
}

TEST_F(GroupCommitTest, ConcurrentWritersAreAllDurableAfterReopen) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 40;
  Latch start(1);
  std::atomic<int> failures{0};
  std::atomic<int> inconsistent_snapshots{0};
  std::atomic<bool> writers_done{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      start.Wait();
      for (int i = 0; i < kWritesPerThread; ++i) {
        const std::string id = absl::StrCat("m-", t, "-", i);
        absl::Status s = store().RunInWriteTransaction([&](WriteTxn& txn) {
          ImageRow image = CustomImage(kAlice, kHangzhou, id, id);
          absl::Status st = txn.InsertImage(image);
          if (!st.ok()) return st;
          InstanceRow instance;
          instance.instance_id = "i-" + id;
          instance.account_id = kBob;
          instance.region_id = kHangzhou;
          instance.image_rowid = image.rowid;
          return txn.InsertInstance(instance);
        });
        if (!s.ok()) failures.fetch_add(1);
      }
    });
  }
  // A reader checks, in each snapshot, that the counter and the rows agree.
  std::thread reader([&] {
    start.Wait();
    while (!writers_done.load()) {
      absl::Status s = store().RunInReadTransaction([&](ReadTxn& txn) {
        auto count = txn.CountLiveImages(kAlice, kHangzhou);
        ImageQuery q;
        q.caller_account_id = kAlice;
        q.region_id = kHangzhou;
        q.statuses = {"Available"};
        q.include_system = q.include_others = false;
        q.in_use = true;  // counted from rows, not from the counter
        q.limit = 1;
        auto page = txn.ListImages(q);
        if (!count.ok() || !page.ok() || *count != page->total_count) {
          inconsistent_snapshots.fetch_add(1);
        }
        return absl::OkStatus();
      });
      if (!s.ok()) inconsistent_snapshots.fetch_add(1);
    }
  });
  start.CountDown();
  for (std::thread& w : writers) w.join();
  writers_done.store(true);
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(inconsistent_snapshots.load(), 0);
  const SqliteStoreStats stats = store().stats();
  EXPECT_LE(stats.commits, stats.writes);

  ASSERT_OK(Reopen());
  EXPECT_THAT(ReadWith(store(),
                       [](ReadTxn& txn) {
                         return txn.CountLiveImages(kAlice, kHangzhou);
                       }),
              IsOkAndHolds(kThreads * kWritesPerThread));
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const std::string id = absl::StrCat("m-", t, "-", i);
        auto image = txn.GetImage(kHangzhou, id);
        EXPECT_TRUE(image.ok() && image->has_value() &&
                    (*image)->live_instance_count == 1)
            << id;
      }
    }
    return absl::OkStatus();
  }));
}

}  // namespace
}  // namespace ecsimage::storage::testing

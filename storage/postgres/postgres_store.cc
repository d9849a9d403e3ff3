#include "storage/postgres/postgres_store.h"

#include <chrono>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/migrations.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_migrate.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/pg_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

using pg::PgConn;
using pg::PgParams;
using pg::PgPool;
using pg::PgResult;
using pg::PgTxn;

// Async writes waiting for a write thread; past this the call answers
// kUnavailable at once (overload), instead of queueing without bound.
constexpr size_t kMaxQueuedWrites = 10000;

constexpr char kBeginWrite[] = "BEGIN ISOLATION LEVEL READ COMMITTED";
constexpr char kBeginRead[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

bool Abandoned(const WriteOptions& options) {
  return options.abandoned && options.abandoned();
}

// Jittered exponential backoff before restart `attempt` (1-based): about
// 2, 4, 8 ... ms, capped at 100 ms, times a random factor in [0.5, 1.5).
void Backoff(int attempt) {
  thread_local std::mt19937 rng(std::random_device{}());
  const double base = std::min(100.0, 2.0 * (1 << std::min(attempt, 6)));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  std::this_thread::sleep_for(std::chrono::microseconds(
      static_cast<int64_t>(base * 1000 * jitter(rng))));
}

absl::Status RunCallback(const std::function<absl::Status(PgTxn&)>& fn,
                         PgTxn& txn) {
  try {
    return fn(txn);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("transaction threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("transaction threw");
  }
}

// Runs `begin` on a leased connection; a pooled connection that was lost
// while idle (server restart, failover, pg_terminate_backend) fails its
// first statement: it is dropped and the next one tried, so callers see
// kUnavailable only when the server cannot be reached now.
absl::StatusOr<PgPool::Lease> AcquireAndBegin(PgPool& pool, const char* begin) {
  absl::Status last;
  for (int tries = 0; tries < 64; ++tries) {
    ASSIGN_OR_RETURN(PgPool::Lease lease, pool.Acquire());
    last = lease->ExecScript(begin);
    if (last.ok()) return lease;
    if (!lease.reused() || !lease->broken()) return last;
  }
  return last;
}

}  // namespace

int LatestPostgresSchemaVersion() {
  const std::vector<Migration>& all = EmbeddedPostgresMigrations();
  return all.empty() ? 0 : all.back().version;
}

absl::StatusOr<int> MigratePostgres(const std::string& uri) {
  ASSIGN_OR_RETURN(std::string conninfo, pg::WithConnectionDefaults(uri));
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(conninfo));
  return pg::BringPgSchemaUpToDate(*conn, EmbeddedPostgresMigrations(),
                                   /*migrate=*/true);
}

PostgresStore::PostgresStore(const PostgresStoreOptions& options,
                             std::string conninfo)
    : options_(options), conninfo_(std::move(conninfo)) {
  pool_ = std::make_unique<PgPool>(conninfo_, options_.pool_connections,
                                   options_.on_prepare);
}

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresStoreOptions& options) {
  if (options.pool_connections < 1 || options.write_threads < 1 ||
      options.max_attempts < 1 || options.max_batch < 1) {
    return absl::InvalidArgumentError(
        "pool_connections, write_threads, max_attempts and max_batch must be "
        "positive");
  }
  if (options.max_batch > 32) {
    return absl::InvalidArgumentError("max_batch is at most 32");
  }
  ASSIGN_OR_RETURN(std::string conninfo,
                   pg::WithConnectionDefaults(options.uri));
  {
    absl::StatusOr<std::unique_ptr<PgConn>> connected =
        PgConn::Connect(conninfo);
    if (!connected.ok()) {
      // Name the server (host, port, database), never the URI itself.
      return absl::Status(connected.status().code(),
                          absl::StrCat(pg::DescribeUri(options.uri), ": ",
                                       connected.status().message()));
    }
    std::unique_ptr<PgConn> conn = *std::move(connected);
    RETURN_IF_ERROR(pg::BringPgSchemaUpToDate(
                        *conn, EmbeddedPostgresMigrations(), options.migrate)
                        .status());
  }
  std::unique_ptr<PostgresStore> store(
      new PostgresStore(options, std::move(conninfo)));
  for (int i = 0; i < options.write_threads; ++i) {
    store->workers_.emplace_back([s = store.get()] { s->WriteLoop(); });
  }
  return store;
}

PostgresStore::~PostgresStore() { Shutdown(); }

void PostgresStore::Shutdown() {
  std::lock_guard<std::mutex> serial(shutdown_mu_);
  shut_down_.store(true);
  std::deque<AsyncWrite> refused;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    refused.swap(queue_);
  }
  queue_cv_.notify_all();
  for (AsyncWrite& w : refused) {
    w.done(absl::UnavailableError("store is shutting down"));
  }
  // Each worker finishes the write it runs, then exits.
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

absl::Status PostgresStore::Corrupt() {
  std::lock_guard<std::mutex> lock(corrupt_mu_);
  return corrupt_;
}

namespace {

// Rows where a trigger-kept counter disagrees with a recount of its rows
// (the recount ImportIntoEmptyPostgres writes).
std::string CounterDriftSql() {
  return absl::StrCat(
      "WITH kept AS (SELECT owner_key, region_id, status, live_count "
      "FROM image_counts WHERE live_count <> 0), counted AS (",
      pg::kImageCountsFromRows,
      ") SELECT (SELECT count(DISTINCT (owner_key, region_id, status)) FROM "
      "((SELECT * FROM kept EXCEPT SELECT * FROM counted) UNION ALL "
      "(SELECT * FROM counted EXCEPT SELECT * FROM kept)) d), "
      "(SELECT count(*) FROM images i LEFT JOIN (",
      pg::kLiveInstancesFromRows,
      ") x ON x.image_rowid = i.id "
      "WHERE i.live_instance_count <> coalesce(x.n, 0))");
}

}  // namespace

absl::Status PostgresStore::CheckIntegrity() {
  ASSIGN_OR_RETURN(PgPool::Lease lease, pool_->Acquire());
  RETURN_IF_ERROR(
      lease->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  absl::StatusOr<PgResult> drift = lease->Exec(CounterDriftSql());
  lease->ExecScript("ROLLBACK").IgnoreError();
  if (!drift.ok()) return drift.status();
  const int64_t counts = drift->Int(0, 0);
  const int64_t instances = drift->Int(0, 1);
  if (counts == 0 && instances == 0) return absl::OkStatus();
  absl::Status status = absl::DataLossError(absl::StrCat(
      "database counters disagree with their rows: ", counts,
      " image_counts rows, ", instances, " images.live_instance_count values"));
  std::lock_guard<std::mutex> lock(corrupt_mu_);
  if (corrupt_.ok()) {
    corrupt_ = absl::UnavailableError(absl::StrCat(
        "database is corrupt, writes are refused: ", status.message()));
  }
  return status;
}

absl::Status PostgresStore::CheckReady() {
  if (shut_down_.load()) return absl::UnavailableError("shutting down");
  RETURN_IF_ERROR(Corrupt());
  std::lock_guard<std::mutex> lock(ready_mu_);
  absl::Status last;
  // A connection lost while idle fails its first ping: connect anew once.
  for (int tries = 0; tries < 2; ++tries) {
    const bool reused = ready_ != nullptr && !ready_->broken();
    if (!reused) {
      ready_.reset();
      absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(conninfo_);
      if (!conn.ok()) return conn.status();
      // A ping that takes longer than this is an unhealthy server.
      absl::Status set = (*conn)->ExecScript("SET statement_timeout = 2000");
      if (!set.ok()) return absl::UnavailableError(set.message());
      ready_ = *std::move(conn);
    }
    absl::StatusOr<PgResult> r = ready_->Exec("SELECT 1");
    if (r.ok()) return absl::OkStatus();
    last = absl::UnavailableError(
        absl::StrCat("database not ready: ", r.status().message()));
    if (!ready_->broken()) return last;
    ready_.reset();
    if (!reused) return last;
  }
  return last;
}

void PostgresStore::CountRetry(const std::string& sqlstate) {
  retries_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(retries_mu_);
  ++retries_by_sqlstate_[sqlstate];
}

PostgresStore::Attempt PostgresStore::ResolveCommit(const std::string& txid) {
  // The server may still be finishing the COMMIT it received: ask a few
  // times, about two seconds in all, while it says "in progress".
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::unique_ptr<PgConn>> conn = pool_->ConnectFresh();
    if (conn.ok()) {
      absl::StatusOr<PgResult> r = (*conn)->Exec(
          "SELECT pg_xact_status($1::text::xid8)", PgParams().Text(txid));
      if (r.ok() && !r->IsNull(0, 0)) {
        const std::string state = r->Text(0, 0);
        if (state == "committed") return {absl::OkStatus(), ""};
        if (state == "aborted") return {absl::OkStatus(), "08006"};
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {absl::UnavailableError(
              "the connection was lost during COMMIT and the outcome is "
              "unknown"),
          ""};
}

PostgresStore::Attempt PostgresStore::TryWrite(
    PgConn& conn, const std::function<absl::Status(WriteTxn&)>& fn,
    const WriteOptions& options) {
  PgTxn txn(conn, /*write=*/true);
  absl::Status status =
      RunCallback([&fn](PgTxn& t) -> absl::Status { return fn(t); }, txn);
  auto rollback = [&conn]() {
    if (!conn.broken()) conn.ExecScript("ROLLBACK").IgnoreError();
  };
  if (!txn.retry_sqlstate().empty()) {
    rollback();
    return {status, txn.retry_sqlstate()};
  }
  if (!status.ok()) {
    rollback();
    return {status, ""};
  }
  if (conn.InFailedTransaction()) {
    // The callback went on after a failed statement: COMMIT would roll
    // back silently.
    rollback();
    return {absl::InternalError(
                "write transaction returned OK after a failed statement"),
            ""};
  }
  if (Abandoned(options)) {
    rollback();
    return {absl::DeadlineExceededError(
                "the caller gave up before its write committed"),
            ""};
  }
  // The transaction id, if it wrote anything: what pg_xact_status() needs
  // should the connection be lost during COMMIT.
  std::string txid;
  {
    absl::StatusOr<PgResult> r =
        conn.Exec("SELECT txid_current_if_assigned()::text");
    if (!r.ok()) {
      rollback();
      return {r.status(), ""};
    }
    if (!r->IsNull(0, 0)) txid = r->Text(0, 0);
  }
  absl::Status committed = conn.ExecScript("COMMIT");
  if (committed.ok()) {
    commits_.fetch_add(1, std::memory_order_relaxed);
    return {absl::OkStatus(), ""};
  }
  const std::string sqlstate = conn.last_sqlstate();
  if (pg::IsRetryableSqlstate(sqlstate)) {
    rollback();
    return {committed, sqlstate};
  }
  if (conn.broken() && !txid.empty()) {
    Attempt resolved = ResolveCommit(txid);
    if (resolved.status.ok() && resolved.retry_sqlstate.empty()) {
      commits_.fetch_add(1, std::memory_order_relaxed);
      return resolved;
    }
    if (!resolved.retry_sqlstate.empty()) {
      // Aborted: nothing took effect. The server just lost us, so answer
      // kUnavailable (the client retries) rather than hammer it.
      failed_commits_.fetch_add(1, std::memory_order_relaxed);
      return {absl::UnavailableError(
                  absl::StrCat("commit aborted: ", committed.message())),
              ""};
    }
    failed_commits_.fetch_add(1, std::memory_order_relaxed);
    return resolved;
  }
  failed_commits_.fetch_add(1, std::memory_order_relaxed);
  rollback();
  if (conn.broken() && txid.empty()) {
    // Nothing was written: a lost COMMIT of a read-only callback is
    // harmless, the callback saw a consistent state.
    return {absl::OkStatus(), ""};
  }
  return {committed, ""};
}

absl::Status PostgresStore::RunWrite(
    const std::function<absl::Status(WriteTxn&)>& fn,
    const WriteOptions& options) {
  if (shut_down_.load()) {
    return absl::UnavailableError("store is shutting down");
  }
  return RunAccepted(fn, options);
}

absl::Status PostgresStore::RunAccepted(
    const std::function<absl::Status(WriteTxn&)>& fn,
    const WriteOptions& options) {
  RETURN_IF_ERROR(Corrupt());
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (Abandoned(options)) {
      return absl::DeadlineExceededError(
          "the caller gave up before its write ran");
    }
    absl::StatusOr<PgPool::Lease> lease = AcquireAndBegin(*pool_, kBeginWrite);
    if (!lease.ok()) return lease.status();
    Attempt result = TryWrite(**lease, fn, options);
    if (result.retry_sqlstate.empty()) return result.status;
    last = result.status;
    // A lost connection whose transaction aborted: answer kUnavailable.
    if (last.code() == absl::StatusCode::kUnavailable) return last;
    CountRetry(result.retry_sqlstate);
    if (attempt < options_.max_attempts) Backoff(attempt);
  }
  return absl::UnavailableError(absl::StrCat(
      "write transaction conflicted ", options_.max_attempts,
      " times with concurrent writes; try again (", last.message(), ")"));
}

absl::Status PostgresStore::RunInWriteTransaction(
    const std::function<absl::Status(WriteTxn&)>& fn,
    const WriteOptions& options) {
  return RunWrite(fn, options);
}

void PostgresStore::RunInWriteTransactionAsync(
    std::function<absl::Status(WriteTxn&)> fn, WriteOptions options,
    std::function<void(absl::Status)> done) {
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) {
      refused = absl::UnavailableError("store is shutting down");
    } else if (queue_.size() >= kMaxQueuedWrites) {
      refused = absl::UnavailableError("too many writes are waiting");
    } else {
      queue_.push_back({std::move(fn), std::move(options), std::move(done)});
    }
  }
  if (!refused.ok()) {
    done(refused);
    return;
  }
  queue_cv_.notify_one();
}

void PostgresStore::WriteLoop() {
  const size_t max_batch = static_cast<size_t>(options_.max_batch);
  while (true) {
    std::vector<AsyncWrite> batch;
    std::string key;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      // The oldest write whose key no other thread is running, with the
      // writes of the same key queued after it: one replica never runs two
      // batches of one account at once (they would only queue on the same
      // counter rows, or lock each other's rows in a cycle).
      auto pick = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
          if (!it->options.batch_key.empty() &&
              busy_keys_.count(it->options.batch_key) > 0) {
            continue;
          }
          key = it->options.batch_key;
          batch.push_back(std::move(*it));
          it = queue_.erase(it);
          if (key.empty()) return true;
          busy_keys_.insert(key);
          while (it != queue_.end() && batch.size() < max_batch) {
            if (it->options.batch_key == key) {
              batch.push_back(std::move(*it));
              it = queue_.erase(it);
            } else {
              ++it;
            }
          }
          return true;
        }
        return false;
      };
      queue_cv_.wait(lock, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || pick();
      });
      if (stopping_ && batch.empty()) return;  // Shutdown answers the rest.
    }
    // Accepted before any Shutdown: they run to their end.
    if (batch.size() == 1) {
      batch[0].done(RunAccepted(batch[0].fn, batch[0].options));
    } else {
      RunBatch(batch);
    }
    if (!key.empty()) {
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        busy_keys_.erase(key);
      }
      // Writes of this key may have been left waiting for it.
      queue_cv_.notify_all();
    }
  }
}

// Group commit (the PostgreSQL counterpart of SQLite's writer batches):
// the queued writes run one after the other in ONE READ COMMITTED
// transaction, each behind a savepoint, and share its COMMIT — one WAL
// flush, and one wait on the account's counter row, for the whole batch
// instead of one per write. Each write keeps the semantics of its own
// transaction:
// - a write that fails (a domain error, a failed statement) is rolled back
//   to its savepoint and answered with its error; the others go on;
// - a write that hits a retryable error (40001, 40P01, 23505) is rolled
//   back to its savepoint and, after the batch, run again on its own
//   (RunAccepted: its own transaction and retries);
// - a write whose caller gave up is rolled back and answered
//   kDeadlineExceeded;
// - the rest are answered after the COMMIT, with its outcome (a lost
//   COMMIT is resolved with pg_xact_status() as for a single write).
// At most `max_batch` (≤ 32) writes: every write that changes a row takes
// a subtransaction id, and PostgreSQL keeps 64 per backend before its
// snapshots slow down for everyone.
void PostgresStore::RunBatch(std::vector<AsyncWrite>& batch) {
  std::vector<absl::Status> results(batch.size());
  std::vector<bool> rerun(batch.size(), false);  // retryable: on their own
  absl::Status refused = Corrupt();
  if (refused.ok()) {
    // The connection goes back to the pool before anyone is answered.
    absl::StatusOr<PgPool::Lease> lease = AcquireAndBegin(*pool_, kBeginWrite);
    if (lease.ok()) {
      RunBatchOn(**lease, batch, results, rerun);
    } else {
      refused = lease.status();
    }
  }
  if (!refused.ok()) {
    for (AsyncWrite& w : batch) w.done(refused);
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!rerun[i]) batch[i].done(std::move(results[i]));
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (rerun[i]) batch[i].done(RunAccepted(batch[i].fn, batch[i].options));
  }
}

void PostgresStore::RunBatchOn(PgConn& conn, std::vector<AsyncWrite>& batch,
                               std::vector<absl::Status>& results,
                               std::vector<bool>& rerun) {
  std::vector<size_t> pending;  // ran OK: answered with the commit
  bool lost = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    AsyncWrite& w = batch[i];
    if (lost) {
      results[i] = absl::UnavailableError("PostgreSQL connection was lost");
      continue;
    }
    if (Abandoned(w.options)) {
      results[i] = absl::DeadlineExceededError(
          "the caller gave up before its write ran");
      continue;
    }
    // Sent with the write's first statement: no round trip of its own.
    conn.Defer("SAVEPOINT batched_write");
    PgTxn txn(conn, /*write=*/true);
    absl::Status status =
        RunCallback([&w](PgTxn& t) -> absl::Status { return w.fn(t); }, txn);
    if (conn.broken()) {
      results[i] = absl::UnavailableError("PostgreSQL connection was lost");
      lost = true;
      continue;
    }
    const bool retry = !txn.retry_sqlstate().empty();
    if (status.ok() && !retry && conn.InFailedTransaction()) {
      // The callback went on after a failed statement.
      status = absl::InternalError(
          "write transaction returned OK after a failed statement");
    }
    if (status.ok() && !retry && Abandoned(w.options)) {
      status = absl::DeadlineExceededError(
          "the caller gave up before its write committed");
    }
    if (!status.ok() || retry) {
      absl::Status back =
          conn.ExecScript("ROLLBACK TO SAVEPOINT batched_write");
      if (!back.ok()) {
        // Cannot undo this write: nothing of the batch may commit.
        lost = true;
        results[i] = retry ? absl::UnavailableError(back.message()) : status;
        continue;
      }
      if (retry) {
        CountRetry(txn.retry_sqlstate());
        rerun[i] = true;
      } else {
        results[i] = status;
      }
      continue;
    }
    pending.push_back(i);
  }
  absl::Status outcome = absl::OkStatus();
  // COMMIT of an aborted transaction answers ROLLBACK without an error:
  // never let one stand for the batch's outcome.
  if (!lost && conn.InFailedTransaction()) lost = true;
  if (lost) {
    if (!conn.broken()) conn.ExecScript("ROLLBACK").IgnoreError();
    outcome = absl::UnavailableError(
        "PostgreSQL connection was lost before the commit");
  } else if (!pending.empty()) {
    std::string txid;
    absl::StatusOr<PgResult> r =
        conn.Exec("SELECT txid_current_if_assigned()::text");
    if (!r.ok()) {
      if (!conn.broken()) conn.ExecScript("ROLLBACK").IgnoreError();
      outcome = r.status();
    } else {
      if (!r->IsNull(0, 0)) txid = r->Text(0, 0);
      absl::Status committed = conn.ExecScript("COMMIT");
      if (committed.ok()) {
        commits_.fetch_add(1, std::memory_order_relaxed);
      } else if (pg::IsRetryableSqlstate(conn.last_sqlstate())) {
        if (!conn.broken()) conn.ExecScript("ROLLBACK").IgnoreError();
        CountRetry(conn.last_sqlstate());
        for (size_t i : pending) rerun[i] = true;
        pending.clear();
      } else if (conn.broken() && !txid.empty()) {
        Attempt resolved = ResolveCommit(txid);
        if (resolved.status.ok() && resolved.retry_sqlstate.empty()) {
          commits_.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed_commits_.fetch_add(1, std::memory_order_relaxed);
          outcome = resolved.retry_sqlstate.empty()
                        ? resolved.status
                        : absl::UnavailableError(absl::StrCat(
                              "commit aborted: ", committed.message()));
        }
      } else {
        failed_commits_.fetch_add(1, std::memory_order_relaxed);
        if (!conn.broken()) conn.ExecScript("ROLLBACK").IgnoreError();
        outcome = committed;
      }
    }
  } else {
    conn.ExecScript("ROLLBACK").IgnoreError();
  }
  for (size_t i : pending) results[i] = outcome;
}

absl::Status PostgresStore::ReadOn(
    PgConn& conn, const std::function<absl::Status(ReadTxn&)>& fn) {
  PgTxn txn(conn, /*write=*/false);
  absl::Status status =
      RunCallback([&fn](PgTxn& t) -> absl::Status { return fn(t); }, txn);
  absl::Status end = conn.broken()
                         ? absl::OkStatus()
                         : conn.ExecScript(status.ok() ? "COMMIT" : "ROLLBACK");
  if (!status.ok()) return status;
  if (!txn.retry_sqlstate().empty()) {
    return absl::UnavailableError("read transaction conflicted; try again");
  }
  return end;
}

absl::Status PostgresStore::RunInReadTransaction(
    const std::function<absl::Status(ReadTxn&)>& fn) {
  ASSIGN_OR_RETURN(PgPool::Lease lease, AcquireAndBegin(*pool_, kBeginRead));
  return ReadOn(*lease, fn);
}

absl::Status PostgresStore::RunInLookupTransaction(
    const std::function<absl::Status(ReadTxn&)>& fn) {
  std::lock_guard<std::mutex> lock(lookup_mu_);
  for (int tries = 0; tries < 2; ++tries) {
    const bool reused = lookup_ != nullptr && !lookup_->broken();
    if (!reused) {
      lookup_.reset();
      ASSIGN_OR_RETURN(lookup_, pool_->ConnectFresh());
    }
    absl::Status begun = lookup_->ExecScript(kBeginRead);
    if (begun.ok()) return ReadOn(*lookup_, fn);
    if (!reused || !lookup_->broken()) return begun;
    lookup_.reset();  // lost while idle: connect anew once
  }
  return absl::UnavailableError("lookup connection lost");
}

absl::StatusOr<std::optional<std::string>> PostgresStore::AccountForTokenHash(
    const std::string& token_sha256) {
  std::optional<std::string> account;
  RETURN_IF_ERROR(RunInLookupTransaction([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(account,
                     static_cast<PgTxn&>(txn).AccountOfToken(token_sha256));
    return absl::OkStatus();
  }));
  return account;
}

absl::Status PostgresStore::CreateAccount(const AccountRow& account,
                                          const std::string& token_sha256) {
  return RunWrite(
      [&](WriteTxn& txn) {
        return static_cast<PgTxn&>(txn).InsertAccount(account, token_sha256);
      },
      {});
}

absl::StatusOr<bool> PostgresStore::AddToken(const TokenRow& token) {
  bool added = false;
  RETURN_IF_ERROR(RunWrite(
      [&](WriteTxn& txn) -> absl::Status {
        added = false;
        ASSIGN_OR_RETURN(bool exists, txn.AccountExists(token.account_id));
        if (!exists) return absl::OkStatus();
        RETURN_IF_ERROR(static_cast<PgTxn&>(txn).InsertToken(token));
        added = true;
        return absl::OkStatus();
      },
      {}));
  return added;
}

absl::StatusOr<Store::EnsuredToken> PostgresStore::EnsureAccountToken(
    const AccountRow& if_new, const std::string& token_sha256) {
  EnsuredToken result;
  RETURN_IF_ERROR(RunWrite(
      [&](WriteTxn& txn) -> absl::Status {
        result = EnsuredToken();
        auto& t = static_cast<PgTxn&>(txn);
        // Replicas bootstrapping at once: one creates the account, the
        // others wait here and then find the token.
        RETURN_IF_ERROR(
            t.Exec("SELECT pg_advisory_xact_lock($1::int4, $2::int4)",
                   PgParams()
                       .Int(pg::kAdvisoryLockClass)
                       .Int(pg::kBootstrapLockKey))
                .status());
        ASSIGN_OR_RETURN(std::optional<std::string> owner,
                         t.AccountOfToken(token_sha256));
        if (owner.has_value()) {
          result.account_id = *std::move(owner);
          return absl::OkStatus();
        }
        ASSIGN_OR_RETURN(std::optional<std::string> named,
                         t.OldestAccountNamed(if_new.name));
        if (!named.has_value()) {
          RETURN_IF_ERROR(t.InsertAccount(if_new, token_sha256));
          result.account_id = if_new.account_id;
          result.account_created = result.token_added = true;
          return absl::OkStatus();
        }
        RETURN_IF_ERROR(
            t.InsertToken({token_sha256, *named, if_new.created_at_ms}));
        result.account_id = *std::move(named);
        result.token_added = true;
        return absl::OkStatus();
      },
      {}));
  return result;
}

absl::StatusOr<std::optional<std::vector<TokenRow>>> PostgresStore::ListTokens(
    const std::string& account_id) {
  std::optional<std::vector<TokenRow>> tokens;
  RETURN_IF_ERROR(RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
    tokens.reset();
    ASSIGN_OR_RETURN(bool exists, txn.AccountExists(account_id));
    if (!exists) return absl::OkStatus();
    ASSIGN_OR_RETURN(tokens, static_cast<PgTxn&>(txn).ListTokens(account_id));
    return absl::OkStatus();
  }));
  return tokens;
}

absl::StatusOr<std::optional<int64_t>> PostgresStore::DeleteToken(
    const std::string& account_id, const std::string& token_sha256) {
  std::optional<int64_t> left;
  RETURN_IF_ERROR(RunWrite(
      [&](WriteTxn& txn) -> absl::Status {
        left.reset();
        auto& t = static_cast<PgTxn&>(txn);
        ASSIGN_OR_RETURN(int64_t deleted,
                         t.DeleteToken(account_id, token_sha256));
        if (deleted == 0) return absl::OkStatus();
        ASSIGN_OR_RETURN(std::vector<TokenRow> rest, t.ListTokens(account_id));
        left = static_cast<int64_t>(rest.size());
        return absl::OkStatus();
      },
      {}));
  return left;
}

absl::Status PostgresStore::SeedIfEmpty(
    const std::vector<RegionRow>& regions,
    const std::vector<ImageRow>& system_images) {
  return RunWrite(
      [&](WriteTxn& txn) -> absl::Status {
        auto& t = static_cast<PgTxn&>(txn);
        // Replicas starting at once seed once: the others wait here, then
        // find the regions.
        RETURN_IF_ERROR(
            t.Exec("SELECT pg_advisory_xact_lock($1::int4, $2::int4)",
                   PgParams().Int(pg::kAdvisoryLockClass).Int(pg::kSeedLockKey))
                .status());
        ASSIGN_OR_RETURN(std::vector<RegionRow> existing, txn.ListRegions());
        if (!existing.empty()) return absl::OkStatus();
        for (const RegionRow& region : regions) {
          RETURN_IF_ERROR(t.InsertRegion(region));
        }
        for (ImageRow image : system_images) {
          image.owner_account_id.clear();
          image.is_system = true;
          RETURN_IF_ERROR(txn.InsertImage(image));
        }
        return absl::OkStatus();
      },
      {});
}

absl::Status PostgresStore::PruneClientTokens(int64_t cutoff_ms) {
  return RunWrite(
      [&](WriteTxn& txn) {
        return static_cast<PgTxn&>(txn).PruneClientTokens(cutoff_ms);
      },
      {});
}

absl::Status PostgresStore::BackupTo(const std::string& path) {
  (void)path;
  return absl::FailedPreconditionError(
      "backup of a PostgreSQL database: use pg_dump or the operator's "
      "backups");
}

absl::StatusOr<int64_t> PostgresStore::DatabaseBytes() {
  ASSIGN_OR_RETURN(PgPool::Lease lease, pool_->Acquire());
  ASSIGN_OR_RETURN(PgResult r,
                   lease->Exec("SELECT pg_database_size(current_database())"));
  return r.Int(0, 0);
}

absl::StatusOr<std::vector<ActiveTaskCount>> PostgresStore::CountActiveTasks() {
  std::vector<ActiveTaskCount> out;
  RETURN_IF_ERROR(RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
    out.clear();
    ASSIGN_OR_RETURN(PgResult r,
                     static_cast<PgTxn&>(txn).Exec(
                         "SELECT 'copy', phase, count(*) FROM copy_tasks "
                         "WHERE phase <> 'SUCCEEDED' AND phase <> 'FAILED' AND "
                         "phase <> 'CANCELLED' GROUP BY phase "
                         "UNION ALL "
                         "SELECT action, status, count(*) FROM io_tasks "
                         "WHERE status IN ('Waiting', 'Processing') "
                         "GROUP BY action, status"));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.Text(i, 0), r.Text(i, 1), r.Int(i, 2)});
    }
    return absl::OkStatus();
  }));
  return out;
}

PostgresStoreStats PostgresStore::stats() const {
  PostgresStoreStats s;
  s.commits = commits_.load();
  s.failed_commits = failed_commits_.load();
  s.retries = retries_.load();
  s.pool_idle = static_cast<uint64_t>(pool_->idle());
  s.pool_busy = static_cast<uint64_t>(pool_->busy());
  return s;
}

std::vector<std::pair<std::string, uint64_t>> PostgresStore::RetriesBySqlstate()
    const {
  std::lock_guard<std::mutex> lock(retries_mu_);
  return {retries_by_sqlstate_.begin(), retries_by_sqlstate_.end()};
}

}  // namespace ecsimage::storage

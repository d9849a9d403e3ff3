// The PostgreSQL implementation of Store (PostgreSQL 15+, Debian's libpq),
// for running several ecsimage replicas on one database
// (docs: /work/shared/spec/scale-out.md §1-§3, §5).
//
// - Connections: a pool of `pool_connections` for reads and writes, one
//   dedicated lookup connection (RunInLookupTransaction never waits behind
//   a long read), one readiness connection (CheckReady). A lost connection
//   is dropped and made anew on next use.
// - Writes run on the caller's thread (RunInWriteTransaction) or on one of
//   `write_threads` workers fed by a bounded queue
//   (RunInWriteTransactionAsync), each in its own READ COMMITTED
//   transaction with explicit locks (why: storage/postgres/pg_txn.h) —
//   except that async writes queued together share one transaction and
//   one COMMIT, each behind a savepoint (group commit, `max_batch`).
//   Serialization failures, deadlocks and unique violations restart the
//   whole callback, at most `max_attempts` times with jittered backoff,
//   then kUnavailable. The callback may therefore run more than once: it
//   must do nothing outside its transaction.
// - A commit whose outcome is unknown (connection lost during COMMIT) is
//   resolved with pg_xact_status() of the transaction id taken before
//   COMMIT, on a new connection: committed is OK, aborted is retried,
//   unknown is kUnavailable.
// - The password never appears in a status message or a log line: errors
//   name the server by host, port and database only.
#ifndef ECSIMAGE_STORAGE_POSTGRES_POSTGRES_STORE_H_
#define ECSIMAGE_STORAGE_POSTGRES_POSTGRES_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/image_store.h"
#include "storage/table_rows.h"

namespace ecsimage::storage {

namespace pg {
class PgConn;
class PgPool;
class PgTxn;
}  // namespace pg

struct PostgresStoreOptions {
  std::string uri;  // postgresql://… or postgres://…; password never logged
  bool migrate =
      true;  // apply pending migrations under a session advisory lock
  // Connection pool size (reads and writes); the lookup connection and the
  // readiness connection come on top: pool_connections + 2 in all.
  int pool_connections = 8;
  int write_threads = 4;  // threads running RunInWriteTransactionAsync
  // Async writes queued together run in one transaction, each behind a
  // savepoint, and share one COMMIT (group commit; postgres_store.cc
  // RunBatch). 1 = one transaction per write. At most 32.
  int max_batch = 32;
  // Runs of one write in all (the first included): the whole transaction
  // restarts on 40001/40P01/23505 with jittered backoff, then kUnavailable.
  int max_attempts = 8;
  // Test hooks, empty in production: every SQL text prepared on any
  // connection.
  std::function<void(const std::string& sql)> on_prepare;
};

struct PostgresStoreStats {
  uint64_t commits = 0;
  uint64_t failed_commits = 0;
  uint64_t retries = 0;
  uint64_t pool_idle = 0;
  uint64_t pool_busy = 0;
};

class PostgresStore final : public Store {
 public:
  // Connects, refuses a database that needs a newer binary, migrates (or,
  // without `migrate`, refuses an older schema), and starts the write
  // threads. kUnavailable if the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(
      const PostgresStoreOptions& options);

  // Shutdown().
  ~PostgresStore() override;

  void Shutdown() override;
  // `SELECT 1` on the readiness connection with a short statement timeout.
  absl::Status CheckReady() override;
  // In one REPEATABLE READ snapshot, the counters the triggers keep
  // (image_counts, images.live_instance_count) against a recount of the
  // rows they count: quotas and TotalCount rest on them. Pages and indexes
  // are the server's own (data checksums, amcheck).
  absl::Status CheckIntegrity() override;
  absl::Status RunInWriteTransaction(
      const std::function<absl::Status(WriteTxn&)>& fn,
      const WriteOptions& options = {}) override;
  // `done` is called on a write thread after the commit, or at once on the
  // caller's thread when shutting down or when the queue is full.
  void RunInWriteTransactionAsync(
      std::function<absl::Status(WriteTxn&)> fn, WriteOptions options,
      std::function<void(absl::Status)> done) override;
  absl::Status RunInReadTransaction(
      const std::function<absl::Status(ReadTxn&)>& fn) override;
  absl::Status RunInLookupTransaction(
      const std::function<absl::Status(ReadTxn&)>& fn) override;
  absl::StatusOr<std::optional<std::string>> AccountForTokenHash(
      const std::string& token_sha256) override;
  absl::Status CreateAccount(const AccountRow& account,
                             const std::string& token_sha256) override;
  // sqlite_access_keys.cc / pg_access_keys.cc
  absl::StatusOr<bool> AddAccessKey(const AccessKeyRow& key) override;
  absl::StatusOr<std::optional<AccessKeyRow>> GetAccessKey(
      const std::string& access_key_id) override;
  absl::StatusOr<std::optional<std::vector<AccessKeyRow>>> ListAccessKeys(
      const std::string& account_id) override;
  absl::StatusOr<bool> RevokeAccessKey(const std::string& account_id,
                                       const std::string& access_key_id,
                                       int64_t now_ms) override;
  absl::StatusOr<bool> AddToken(const TokenRow& token) override;
  absl::StatusOr<EnsuredToken> EnsureAccountToken(
      const AccountRow& if_new, const std::string& token_sha256) override;
  absl::StatusOr<std::optional<std::vector<TokenRow>>> ListTokens(
      const std::string& account_id) override;
  absl::StatusOr<std::optional<int64_t>> DeleteToken(
      const std::string& account_id, const std::string& token_sha256) override;
  absl::Status SeedIfEmpty(const std::vector<RegionRow>& regions,
                           const std::vector<ImageRow>& system_images) override;
  absl::Status PruneClientTokens(int64_t cutoff_ms) override;
  // kFailedPrecondition: a PostgreSQL database is backed up with pg_dump or
  // the operator's backups.
  absl::Status BackupTo(const std::string& path) override;
  // pg_database_size(current_database()).
  absl::StatusOr<int64_t> DatabaseBytes() override;
  absl::StatusOr<std::vector<ActiveTaskCount>> CountActiveTasks() override;

  PostgresStoreStats stats() const;
  // The database's clock_timestamp() in Unix ms: the clock of task leases,
  // so that replicas whose host clocks disagree agree on expiry.
  absl::StatusOr<int64_t> DatabaseNowMs();
  // Retries by SQLSTATE, for ecsimage_db_retries_total{sqlstate}.
  std::vector<std::pair<std::string, uint64_t>> RetriesBySqlstate() const;

 private:
  struct AsyncWrite {
    std::function<absl::Status(WriteTxn&)> fn;
    WriteOptions options;
    std::function<void(absl::Status)> done;
  };
  // The outcome of one attempt of a write transaction.
  struct Attempt {
    absl::Status status;
    std::string retry_sqlstate;  // non-empty: restart the transaction
  };

  PostgresStore(const PostgresStoreOptions& options, std::string conninfo);

  absl::Status RunWrite(const std::function<absl::Status(WriteTxn&)>& fn,
                        const WriteOptions& options);
  // RunWrite without the shutdown check (async writes accepted before it).
  absl::Status RunAccepted(const std::function<absl::Status(WriteTxn&)>& fn,
                           const WriteOptions& options);
  Attempt TryWrite(pg::PgConn& conn,
                   const std::function<absl::Status(WriteTxn&)>& fn,
                   const WriteOptions& options);
  // After a lost COMMIT: the transaction's fate from pg_xact_status().
  Attempt ResolveCommit(const std::string& txid);
  // `fn` in a REPEATABLE READ READ ONLY transaction on `conn`.
  static absl::Status ReadOn(pg::PgConn& conn,
                             const std::function<absl::Status(ReadTxn&)>& fn);
  void WriteLoop();
  // Several queued async writes in one transaction (group commit).
  void RunBatch(std::vector<AsyncWrite>& batch);
  // The transaction of RunBatch on `conn`: fills `results` (all but the
  // writes marked in `rerun`, which run again on their own).
  void RunBatchOn(pg::PgConn& conn, std::vector<AsyncWrite>& batch,
                  std::vector<absl::Status>& results, std::vector<bool>& rerun);
  void CountRetry(const std::string& sqlstate);

  const PostgresStoreOptions options_;
  const std::string conninfo_;  // with defaults; holds the password
  std::unique_ptr<pg::PgPool> pool_;

  std::mutex lookup_mu_;
  std::unique_ptr<pg::PgConn> lookup_ ABSL_GUARDED_BY(lookup_mu_);
  std::mutex ready_mu_;
  std::unique_ptr<pg::PgConn> ready_ ABSL_GUARDED_BY(ready_mu_);

  std::atomic<bool> shut_down_{false};
  // Set once CheckIntegrity found corruption: every write is refused.
  std::mutex corrupt_mu_;
  absl::Status corrupt_ ABSL_GUARDED_BY(corrupt_mu_);
  absl::Status Corrupt();
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<AsyncWrite> queue_ ABSL_GUARDED_BY(queue_mu_);
  // Batch keys a write thread is running now (WriteLoop).
  std::set<std::string> busy_keys_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::mutex shutdown_mu_;  // serialises Shutdown callers around join()
  std::vector<std::thread> workers_;

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> failed_commits_{0};
  std::atomic<uint64_t> retries_{0};
  mutable std::mutex retries_mu_;
  std::map<std::string, uint64_t> retries_by_sqlstate_
      ABSL_GUARDED_BY(retries_mu_);
};

// Applies pending migrations (under the advisory lock) to the database at
// `uri` and returns its schema version. Same refusals as Open.
absl::StatusOr<int> MigratePostgres(const std::string& uri);
// The schema version this binary migrates PostgreSQL databases to.
int LatestPostgresSchemaVersion();

// Test/admin helpers (fixtures, `ecsimage db …`). `server_uri` is any
// database on the server (e.g. .../postgres). Names are quoted identifiers.
absl::Status CreatePostgresDatabase(const std::string& server_uri,
                                    const std::string& name,
                                    const std::string& template_name);
// Drops the database if it exists, disconnecting its sessions.
absl::Status DropPostgresDatabase(const std::string& server_uri,
                                  const std::string& name);
// `uri` with the database name replaced (host, socket and parameters kept).
std::string PostgresUriWithDatabase(const std::string& uri,
                                    const std::string& dbname);
// Test fixture: makes the image row (region_id, image_id) break an
// invariant the store checks when reading it (its progress leaves 0..100,
// after dropping the CHECK that forbids it, as a foreign tool could), so
// every read of that row answers kInternal. kNotFound if there is no such
// row.
absl::Status CorruptImageRowForTest(const std::string& uri,
                                    const std::string& region_id,
                                    const std::string& image_id);
// Names of the databases on the server of `server_uri` that start with
// `prefix` (test fixtures clean up what earlier runs left).
absl::StatusOr<std::vector<std::string>> ListPostgresDatabases(
    const std::string& server_uri, const std::string& prefix);
// Test fixture: runs `sql` on the database at `uri`, behind any store's back.
absl::Status ExecPostgresForTest(const std::string& uri,
                                 const std::string& sql);

// `ecsimage db copy` (pg_copy.cc). Inserts every row of `tables` (parents
// first) into the database at `uri` in one transaction, keeping the row
// ids, and moves the identity sequences past them; the trigger-kept
// counters are rebuilt by the triggers as the rows arrive. Refuses
// (kFailedPrecondition, nothing written) unless the database holds no
// accounts, regions or images.
absl::Status ImportIntoEmptyPostgres(const std::string& uri,
                                     const std::vector<TableRows>& tables);
// Every row of each of `tables`, from one snapshot, ordered by the first
// column.
absl::StatusOr<std::vector<TableRows>> ExportPostgresTables(
    const std::string& uri, const std::vector<std::string>& tables);

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_POSTGRES_POSTGRES_STORE_H_

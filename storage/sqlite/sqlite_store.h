// The SQLite implementation of Store: one writer thread with group commit,
// a pool of reader connections, WAL and synchronous=FULL.
#ifndef ECSIMAGE_STORAGE_SQLITE_SQLITE_STORE_H_
#define ECSIMAGE_STORAGE_SQLITE_SQLITE_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/image_store.h"
#include "storage/sqlite/sqlite_db.h"

namespace ecsimage::storage {

class Writer;

struct SqliteStoreOptions {
  std::string path;
  // Off: a missing file is kNotFound, so that a missing volume never turns
  // into a fresh, empty database silently.
  bool create_if_missing = false;
  // Applies pending migrations at open. Off: a database below the latest
  // schema version is refused (kFailedPrecondition).
  bool migrate = true;
  // PRAGMA quick_check at open; a corrupt database is refused (kDataLoss).
  // It reads the whole file (seconds at 1M images from a cold cache); off,
  // the check is CheckIntegrity's, after the store serves.
  bool check_integrity = true;
  int busy_timeout_ms = 5000;
  int reader_connections = 4;
  // Off: one transaction per write (for comparison in benchmarks).
  bool group_commit = true;
  int max_batch_size = 128;
  // Zero: the writer takes whatever is queued, without waiting for more.
  absl::Duration max_batch_wait = absl::ZeroDuration();

  // Test hooks; leave empty in production.
  struct TestHooks {
    // After a write was queued, on the caller's thread.
    std::function<void()> on_write_queued;
    // Once Shutdown() refuses new writes.
    std::function<void()> on_shutdown_started;
    // SQLite's commit hook on the writer connection: true vetoes the COMMIT.
    std::function<bool()> commit_hook;
    // Every SQL text prepared on any connection.
    std::function<void(const std::string&)> on_prepare;
  };
  TestHooks test_hooks;
};

// What the store did, for metrics and tests.
struct SqliteStoreStats {
  uint64_t commits = 0;
  uint64_t failed_commits = 0;
  uint64_t writes = 0;
  uint64_t queue_depth = 0;  // writes waiting for the writer
  // CPU time (CLOCK_THREAD_CPUTIME_ID) of the writer thread in its batches
  // (run, commit, answer), and of the completer thread calling async
  // writes' callbacks. Blocking (fsync, waits) is not CPU time.
  uint64_t writer_cpu_ns = 0;
  uint64_t completer_cpu_ns = 0;
};

class SqliteStore final : public Store {
 public:
  // Opens (and with create_if_missing, creates) the database, configures
  // every connection (WAL, synchronous=FULL, foreign_keys, busy_timeout;
  // read back, kFailedPrecondition if one did not take), refuses a corrupt
  // database (kDataLoss) or one newer than this binary (kFailedPrecondition),
  // migrates, and starts the writer thread. A missing file without
  // create_if_missing is kNotFound.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const SqliteStoreOptions& options);

  // Shutdown().
  ~SqliteStore() override;

  // Store::Shutdown, and stops the writer thread.
  void Shutdown() override;
  // OK unless shut down.
  absl::Status CheckReady() override;
  // PRAGMA integrity_check and foreign_key_check, on a connection of its
  // own (readers and the writer go on meanwhile; WAL gives it a snapshot).
  absl::Status CheckIntegrity() override;

  void RunInWriteTransactionAsync(
      std::function<absl::Status(WriteTxn&)> fn, WriteOptions options,
      std::function<void(absl::Status)> done) override;
  absl::Status RunInWriteTransaction(
      const std::function<absl::Status(WriteTxn&)>& fn,
      const WriteOptions& options = {}) override;
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
  // kAlreadyExists if `path` exists. Writes `path`.partial, syncs it, then
  // links it into place, so `path` never holds a partial copy.
  absl::Status BackupTo(const std::string& path) override;
  // Database file plus WAL file.
  absl::StatusOr<int64_t> DatabaseBytes() override;
  // Counts over the partial indexes of active tasks (never all tasks).
  absl::StatusOr<std::vector<ActiveTaskCount>> CountActiveTasks() override;

  SqliteStoreStats stats() const;
  // The pragmas every connection read back at open (writer first).
  const std::vector<ConnectionSettings>& connection_settings() const {
    return settings_;
  }

 private:
  explicit SqliteStore(std::string path);

  // A reader connection for the caller's exclusive use.
  std::unique_ptr<Connection> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> conn);

  const std::string path_;
  std::atomic<bool> shut_down_{false};
  std::unique_ptr<Writer> writer_;
  // The connection of a CheckIntegrity in progress, for Shutdown to
  // interrupt.
  std::mutex check_mu_;
  sqlite3* checking_ ABSL_GUARDED_BY(check_mu_) = nullptr;
  std::vector<ConnectionSettings> settings_;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Connection>> idle_readers_
      ABSL_GUARDED_BY(readers_mu_);

  // The lookup connection (RunInLookupTransaction), apart from the pool.
  std::mutex lookup_mu_;
  std::unique_ptr<Connection> lookup_ ABSL_GUARDED_BY(lookup_mu_);
};

// Applies pending migrations to the existing database at `path` (never
// creates one: kNotFound) and returns the resulting schema version. Same
// refusals as SqliteStore::Open (corrupt, newer than this binary).
absl::StatusOr<int> MigrateDatabase(const std::string& path);

// The schema version this binary migrates to.
int LatestSchemaVersion();

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_SQLITE_SQLITE_STORE_H_

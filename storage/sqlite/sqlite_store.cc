#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_migrate.h"
#include "storage/sqlite/sqlite_txn.h"
#include "storage/sqlite/sqlite_writer.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

namespace fs = std::filesystem;

bool FileExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// Corruption found while opening is kDataLoss (refuse to start), not the
// kInternal a query would get.
absl::Status AsOpenError(absl::Status status, const Connection& conn) {
  if (status.ok() || !IsCorruptionCode(conn.last_error_code())) return status;
  return absl::DataLossError(absl::StrCat("database ", conn.path(),
                                          " is corrupt: ", status.message()));
}

// A configured read-write connection to a checked database.
absl::StatusOr<std::unique_ptr<Connection>> OpenWriteConnection(
    const std::string& path, bool create, int busy_timeout_ms,
    bool check_integrity, ConnectionSettings* settings) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   Connection::Open(path, create));
  absl::StatusOr<ConnectionSettings> got =
      ConfigureConnection(*conn, busy_timeout_ms, /*query_only=*/false);
  if (!got.ok()) return AsOpenError(got.status(), *conn);
  *settings = *got;
  if (check_integrity) RETURN_IF_ERROR(QuickCheck(*conn));
  return conn;
}

// Brings the schema to the latest version, or refuses.
absl::StatusOr<int> BringSchemaUpToDate(Connection& conn, bool migrate) {
  const int latest = LatestSchemaVersion();
  absl::StatusOr<int> version = SchemaVersion(conn);
  if (!version.ok()) return AsOpenError(version.status(), conn);
  RETURN_IF_ERROR(RefuseNewerSchema(conn.path(), *version, latest));
  if (*version == latest) return latest;
  if (!migrate) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", conn.path(), " has schema version ", *version,
                     ", older than this binary's ", latest, "; run migrate"));
  }
  ASSIGN_OR_RETURN(int migrated,
                   ApplyMigrations(conn, EmbeddedSqliteMigrations(), latest));
  // Another process may have migrated past us meanwhile.
  RETURN_IF_ERROR(RefuseNewerSchema(conn.path(), migrated, latest));
  return migrated;
}

absl::Status ErrnoStatus(absl::string_view what, const std::string& path,
                         int err) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == EEXIST) return absl::AlreadyExistsError(message);
  if (err == ENOENT) return absl::NotFoundError(message);
  return absl::UnavailableError(message);
}

absl::Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(),
                  O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return ErrnoStatus("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync", path, err);
  return absl::OkStatus();
}

}  // namespace

int LatestSchemaVersion() {
  const std::vector<Migration>& all = EmbeddedSqliteMigrations();
  return all.empty() ? 0 : all.back().version;
}

absl::StatusOr<int> MigrateDatabase(const std::string& path) {
  RETURN_IF_ERROR(CheckMigrationLadder(EmbeddedSqliteMigrations()));
  if (!FileExists(path)) {
    return absl::NotFoundError(
        absl::StrCat("database file ", path, " does not exist"));
  }
  ConnectionSettings settings;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   OpenWriteConnection(path, /*create=*/false,
                                       /*busy_timeout_ms=*/5000,
                                       /*check_integrity=*/true, &settings));
  return BringSchemaUpToDate(*conn, /*migrate=*/true);
}

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {}

SqliteStore::~SqliteStore() { Shutdown(); }

void SqliteStore::Shutdown() {
  shut_down_.store(true);
  {
    // A check in progress stops at its next page (SQLITE_INTERRUPT).
    std::lock_guard<std::mutex> lock(check_mu_);
    if (checking_ != nullptr) sqlite3_interrupt(checking_);
  }
  if (writer_ != nullptr) writer_->Shutdown();
}

absl::Status SqliteStore::CheckReady() {
  if (shut_down_.load()) return absl::UnavailableError("shutting down");
  return writer_->refused();
}

absl::Status SqliteStore::CheckIntegrity() {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   Connection::Open(path_, /*create=*/false));
  {
    std::lock_guard<std::mutex> lock(check_mu_);
    if (shut_down_.load()) return absl::UnavailableError("shutting down");
    checking_ = conn->handle();
  }
  absl::StatusOr<ConnectionSettings> got =
      ConfigureConnection(*conn, /*busy_timeout_ms=*/5000, /*query_only=*/true);
  absl::Status status =
      got.ok() ? FullCheck(*conn) : AsOpenError(got.status(), *conn);
  {
    std::lock_guard<std::mutex> lock(check_mu_);
    checking_ = nullptr;
  }
  if (shut_down_.load() && !status.ok()) {
    return absl::UnavailableError("integrity check stopped: shutting down");
  }
  if (status.code() == absl::StatusCode::kDataLoss) {
    writer_->Refuse(absl::UnavailableError(absl::StrCat(
        "database is corrupt, writes are refused: ", status.message())));
  }
  return status;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("database path is empty");
  }
  if (options.reader_connections < 1 || options.max_batch_size < 1 ||
      options.busy_timeout_ms < 0) {
    return absl::InvalidArgumentError(
        "reader_connections and max_batch_size must be positive");
  }
  RETURN_IF_ERROR(CheckMigrationLadder(EmbeddedSqliteMigrations()));
  if (!options.create_if_missing && !FileExists(options.path)) {
    return absl::NotFoundError(
        absl::StrCat("database file ", options.path,
                     " does not exist (and creating one was not asked for)"));
  }

  std::unique_ptr<SqliteStore> store(new SqliteStore(options.path));
  ConnectionSettings writer_settings;
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> writer_conn,
      OpenWriteConnection(options.path, options.create_if_missing,
                          options.busy_timeout_ms, options.check_integrity,
                          &writer_settings));
  store->settings_.push_back(writer_settings);
  RETURN_IF_ERROR(BringSchemaUpToDate(*writer_conn, options.migrate).status());
  writer_conn->set_prepare_observer(options.test_hooks.on_prepare);

  // The pool's readers, then the lookup connection.
  for (int i = 0; i <= options.reader_connections; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                     Connection::Open(options.path, /*create=*/false));
    absl::StatusOr<ConnectionSettings> got = ConfigureConnection(
        *reader, options.busy_timeout_ms, /*query_only=*/true);
    if (!got.ok()) return AsOpenError(got.status(), *reader);
    store->settings_.push_back(*got);
    reader->set_prepare_observer(options.test_hooks.on_prepare);
    if (i == options.reader_connections) {
      std::lock_guard<std::mutex> lock(store->lookup_mu_);
      store->lookup_ = std::move(reader);
    } else {
      std::lock_guard<std::mutex> lock(store->readers_mu_);
      store->idle_readers_.push_back(std::move(reader));
    }
  }

  WriterOptions writer_options;
  writer_options.group_commit = options.group_commit;
  writer_options.max_batch_size = options.max_batch_size;
  writer_options.max_batch_wait = options.max_batch_wait;
  writer_options.on_queued = options.test_hooks.on_write_queued;
  writer_options.on_shutdown_started = options.test_hooks.on_shutdown_started;
  writer_options.commit_hook = options.test_hooks.commit_hook;
  store->writer_ =
      std::make_unique<Writer>(std::move(writer_conn), writer_options);
  return store;
}

std::unique_ptr<Connection> SqliteStore::AcquireReader() {
  std::unique_lock<std::mutex> lock(readers_mu_);
  readers_cv_.wait(lock, [this] { return !idle_readers_.empty(); });
  std::unique_ptr<Connection> conn = std::move(idle_readers_.back());
  idle_readers_.pop_back();
  return conn;
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    idle_readers_.push_back(std::move(conn));
  }
  readers_cv_.notify_one();
}

namespace {

// Gives a reader connection back to the pool, out of any transaction.
class ReaderLease {
 public:
  ReaderLease(std::unique_ptr<Connection> conn,
              std::function<void(std::unique_ptr<Connection>)> release)
      : conn_(std::move(conn)), release_(std::move(release)) {}
  ~ReaderLease() {
    if (conn_->InTransaction()) conn_->Exec("ROLLBACK").IgnoreError();
    release_(std::move(conn_));
  }
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  std::unique_ptr<Connection> conn_;
  std::function<void(std::unique_ptr<Connection>)> release_;
};

}  // namespace

absl::Status SqliteStore::RunInWriteTransaction(
    const std::function<absl::Status(WriteTxn&)>& fn,
    const WriteOptions& options) {
  return writer_->Run(fn, options);
}

void SqliteStore::RunInWriteTransactionAsync(
    std::function<absl::Status(WriteTxn&)> fn, WriteOptions options,
    std::function<void(absl::Status)> done) {
  writer_->RunAsync(std::move(fn), std::move(options), std::move(done));
}

namespace {

// `fn` inside one read snapshot of `conn`.
absl::Status RunReadSnapshot(Connection& conn,
                             const std::function<absl::Status(ReadTxn&)>& fn) {
  RETURN_IF_ERROR(conn.Exec("BEGIN"));
  SqliteTxn txn(conn);
  absl::Status status = fn(txn);
  absl::Status end = conn.Exec(status.ok() ? "COMMIT" : "ROLLBACK");
  if (conn.InTransaction()) conn.Exec("ROLLBACK").IgnoreError();
  return status.ok() ? end : status;
}

}  // namespace

absl::Status SqliteStore::RunInReadTransaction(
    const std::function<absl::Status(ReadTxn&)>& fn) {
  ReaderLease conn(AcquireReader(), [this](std::unique_ptr<Connection> c) {
    ReleaseReader(std::move(c));
  });
  return RunReadSnapshot(*conn, fn);
}

absl::Status SqliteStore::RunInLookupTransaction(
    const std::function<absl::Status(ReadTxn&)>& fn) {
  std::lock_guard<std::mutex> lock(lookup_mu_);
  return RunReadSnapshot(*lookup_, fn);
}

absl::StatusOr<std::optional<std::string>> SqliteStore::AccountForTokenHash(
    const std::string& token_sha256) {
  std::lock_guard<std::mutex> lock(lookup_mu_);
  ASSIGN_OR_RETURN(Stmt q, lookup_->Prepare("SELECT account_id FROM tokens "
                                            "WHERE token_sha256 = ?"));
  q.Bind(Blob{token_sha256});
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return q.Text(0);
}

absl::Status SqliteStore::CreateAccount(const AccountRow& account,
                                        const std::string& token_sha256) {
  return writer_->Run(
      [&](WriteTxn& txn) {
        return static_cast<SqliteTxn&>(txn).InsertAccount(account,
                                                          token_sha256);
      },
      {});
}

absl::StatusOr<bool> SqliteStore::AddToken(const TokenRow& token) {
  bool added = false;
  RETURN_IF_ERROR(writer_->Run(
      [&](WriteTxn& txn) -> absl::Status {
        added = false;
        ASSIGN_OR_RETURN(bool exists, txn.AccountExists(token.account_id));
        if (!exists) return absl::OkStatus();
        RETURN_IF_ERROR(static_cast<SqliteTxn&>(txn).InsertToken(token));
        added = true;
        return absl::OkStatus();
      },
      {}));
  return added;
}

absl::StatusOr<Store::EnsuredToken> SqliteStore::EnsureAccountToken(
    const AccountRow& if_new, const std::string& token_sha256) {
  EnsuredToken result;
  RETURN_IF_ERROR(writer_->Run(
      [&](WriteTxn& txn) -> absl::Status {
        result = EnsuredToken();
        auto& sqlite_txn = static_cast<SqliteTxn&>(txn);
        ASSIGN_OR_RETURN(std::optional<std::string> owner,
                         sqlite_txn.AccountOfToken(token_sha256));
        if (owner.has_value()) {
          result.account_id = *std::move(owner);
          return absl::OkStatus();
        }
        ASSIGN_OR_RETURN(std::optional<std::string> named,
                         sqlite_txn.OldestAccountNamed(if_new.name));
        if (!named.has_value()) {
          RETURN_IF_ERROR(sqlite_txn.InsertAccount(if_new, token_sha256));
          result.account_id = if_new.account_id;
          result.account_created = result.token_added = true;
          return absl::OkStatus();
        }
        TokenRow token{token_sha256, *named, if_new.created_at_ms};
        RETURN_IF_ERROR(sqlite_txn.InsertToken(token));
        result.account_id = *std::move(named);
        result.token_added = true;
        return absl::OkStatus();
      },
      {}));
  return result;
}

absl::StatusOr<std::optional<std::vector<TokenRow>>> SqliteStore::ListTokens(
    const std::string& account_id) {
  std::optional<std::vector<TokenRow>> tokens;
  RETURN_IF_ERROR(RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
    tokens.reset();
    ASSIGN_OR_RETURN(bool exists, txn.AccountExists(account_id));
    if (!exists) return absl::OkStatus();
    ASSIGN_OR_RETURN(tokens,
                     static_cast<SqliteTxn&>(txn).ListTokens(account_id));
    return absl::OkStatus();
  }));
  return tokens;
}

absl::StatusOr<std::optional<int64_t>> SqliteStore::DeleteToken(
    const std::string& account_id, const std::string& token_sha256) {
  std::optional<int64_t> left;
  RETURN_IF_ERROR(writer_->Run(
      [&](WriteTxn& txn) -> absl::Status {
        left.reset();
        auto& sqlite_txn = static_cast<SqliteTxn&>(txn);
        ASSIGN_OR_RETURN(int64_t deleted,
                         sqlite_txn.DeleteToken(account_id, token_sha256));
        if (deleted == 0) return absl::OkStatus();
        ASSIGN_OR_RETURN(std::vector<TokenRow> rest,
                         sqlite_txn.ListTokens(account_id));
        left = static_cast<int64_t>(rest.size());
        return absl::OkStatus();
      },
      {}));
  return left;
}

absl::Status SqliteStore::SeedIfEmpty(
    const std::vector<RegionRow>& regions,
    const std::vector<ImageRow>& system_images) {
  return writer_->Run(
      [&](WriteTxn& txn) -> absl::Status {
        auto& sqlite_txn = static_cast<SqliteTxn&>(txn);
        ASSIGN_OR_RETURN(std::vector<RegionRow> existing, txn.ListRegions());
        if (!existing.empty()) return absl::OkStatus();
        for (const RegionRow& region : regions) {
          RETURN_IF_ERROR(sqlite_txn.InsertRegion(region));
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

absl::Status SqliteStore::PruneClientTokens(int64_t cutoff_ms) {
  return writer_->Run(
      [&](WriteTxn& txn) {
        return static_cast<SqliteTxn&>(txn).PruneClientTokens(cutoff_ms);
      },
      {});
}

absl::Status SqliteStore::BackupTo(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("backup path is empty");
  if (FileExists(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat("backup target ", path, " already exists"));
  }
  const std::string partial = absl::StrCat(path, ".partial");
  std::error_code ec;
  fs::remove(partial, ec);  // left over from an interrupted backup
  {
    ReaderLease conn(AcquireReader(), [this](std::unique_ptr<Connection> c) {
      ReleaseReader(std::move(c));
    });
    // VACUUM INTO writes another file; query_only would refuse it.
    RETURN_IF_ERROR(conn->Exec("PRAGMA query_only = OFF"));
    absl::Status vacuum = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(Stmt q, conn->Prepare("VACUUM INTO ?"));
      q.Bind(partial);
      return q.Run();
    }();
    absl::Status restore = conn->Exec("PRAGMA query_only = ON");
    if (!vacuum.ok()) {
      fs::remove(partial, ec);
      return vacuum;
    }
    RETURN_IF_ERROR(restore);
  }
  absl::Status status = SyncPath(partial, /*directory=*/false);
  if (status.ok()) {
    // The copy is checked before it gets its name: a backup that exists is
    // a good one.
    absl::StatusOr<std::unique_ptr<Connection>> copy =
        Connection::Open(partial, /*create=*/false);
    status = copy.ok() ? QuickCheck(**copy) : copy.status();
  }
  if (status.ok() && ::link(partial.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus("link backup to", path, errno);
  }
  fs::remove(partial, ec);
  RETURN_IF_ERROR(status);
  fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
  return SyncPath(parent.string(), /*directory=*/true);
}

absl::StatusOr<int64_t> SqliteStore::DatabaseBytes() {
  std::error_code ec;
  uintmax_t main_size = fs::file_size(path_, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("size of ", path_, ": ", ec.message()));
  }
  uintmax_t wal_size = fs::file_size(path_ + "-wal", ec);
  if (ec) wal_size = 0;  // no WAL file right now
  return static_cast<int64_t>(main_size + wal_size);
}

SqliteStoreStats SqliteStore::stats() const {
  WriterStats w = writer_->stats();
  SqliteStoreStats s;
  s.commits = w.commits;
  s.failed_commits = w.failed_commits;
  s.writes = w.writes;
  s.queue_depth = w.queue_depth;
  s.writer_cpu_ns = w.writer_cpu_ns;
  s.completer_cpu_ns = w.completer_cpu_ns;
  return s;
}

absl::StatusOr<std::vector<ActiveTaskCount>> SqliteStore::CountActiveTasks() {
  ReaderLease conn(AcquireReader(), [this](std::unique_ptr<Connection> c) {
    ReleaseReader(std::move(c));
  });
  ASSIGN_OR_RETURN(
      Stmt q,
      conn->Prepare(
          "SELECT 'copy', phase, COUNT(*) FROM copy_tasks "
          "WHERE phase <> 'SUCCEEDED' AND phase <> 'FAILED' AND "
          "phase <> 'CANCELLED' "
          "GROUP BY phase "
          "UNION ALL "
          "SELECT action, status, COUNT(*) FROM io_tasks "
          "WHERE status IN ('Waiting', 'Processing') GROUP BY action, status"));
  std::vector<ActiveTaskCount> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Text(1), q.Int(2)});
  }
  return out;
}

}  // namespace ecsimage::storage

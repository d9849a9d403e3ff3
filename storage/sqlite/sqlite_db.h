// RAII wrappers over a SQLite connection and its prepared statements, and
// the mapping of SQLite result codes to absl::Status. Internal to storage/;
// sqlite3.h itself stays in the .cc files.
#ifndef ECSIMAGE_STORAGE_SQLITE_SQLITE_DB_H_
#define ECSIMAGE_STORAGE_SQLITE_SQLITE_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ecsimage::storage {

// The absl::Status for SQLite result code `rc` (primary or extended):
// BUSY, LOCKED, FULL, IOERR, CANTOPEN, NOMEM, READONLY, INTERRUPT ->
// kUnavailable; everything else (CORRUPT, NOTADB, CONSTRAINT, MISUSE...) ->
// kInternal. The message names `context` and SQLite's own text; it is meant
// for logs, the gRPC layer never shows it to clients.
absl::Status SqliteStatus(int rc, absl::string_view context,
                          absl::string_view detail);

// True if `rc` says the file is not a database or is corrupt.
bool IsCorruptionCode(int rc);

// A blob parameter (Bind of a std::string binds TEXT).
struct Blob {
  absl::string_view data;
};

// One use of a prepared statement owned by a Connection's cache. Binding
// is positional: each Bind takes the next parameter. The statement is reset
// and its bindings cleared when this handle goes out of scope, so a handle
// must not outlive the transaction it was made in.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  template <typename T>
  Stmt& Bind(const T& value) {
    BindAt(++next_param_, value);
    return *this;
  }
  template <typename... Ts>
  Stmt& BindAll(const Ts&... values) {
    (Bind(values), ...);
    return *this;
  }

  // Explicit positions (1-based), for statements that reuse a parameter.
  void BindInt(int index, int64_t value);
  void BindText(int index, absl::string_view value);
  void BindBlob(int index, absl::string_view value);
  void BindNull(int index);

  // Makes the statement ready to bind and run again.
  void Reset();

  // True while a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, expecting no rows (INSERT/UPDATE/DELETE).
  absl::Status Run();
  // Steps once and expects exactly one row.
  absl::Status StepRow();

  int64_t Int(int col) const;
  bool Bool(int col) const { return Int(col) != 0; }
  std::string Text(int col) const;  // TEXT or BLOB bytes; NULL -> ""
  std::optional<int64_t> OptInt(int col) const;
  bool IsNull(int col) const;
  // SQLITE_INTEGER, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL, SQLITE_FLOAT.
  int ColumnType(int col) const;

  // The largest parameter index of the statement.
  int ParameterCount() const;

  // The extended result code of the last failed step, or 0.
  int error_code() const { return error_code_; }

 private:
  friend class Connection;
  Stmt(sqlite3_stmt* stmt, bool* in_use, absl::string_view sql);

  template <typename T>
  void BindAt(int index, const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      BindInt(index, value ? 1 : 0);
    } else if constexpr (std::is_integral_v<T>) {
      BindInt(index, static_cast<int64_t>(value));
    } else if constexpr (std::is_same_v<T, std::optional<int64_t>>) {
      if (value.has_value()) {
        BindInt(index, *value);
      } else {
        BindNull(index);
      }
    } else if constexpr (std::is_same_v<T, std::nullopt_t>) {
      BindNull(index);
    } else if constexpr (std::is_same_v<T, Blob>) {
      BindBlob(index, value.data);
    } else {
      BindText(index, absl::string_view(value));
    }
  }
  void NoteBindResult(int rc, int index);

  sqlite3_stmt* stmt_;
  bool* in_use_;
  absl::string_view sql_;
  int next_param_ = 0;
  absl::Status bind_status_;
  int error_code_ = 0;
};

// One SQLite connection and its statement cache. Not thread-safe: one
// thread uses it at a time (the writer thread, or the reader holding it).
class Connection {
 public:
  // Opens `path` read-write (creating it only if `create`), in SQLite's
  // multi-thread mode with extended result codes.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, bool create);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without caching them.
  absl::Status Exec(const std::string& sql);
  // A statement from the cache (prepared on first use). A statement cannot
  // be used twice at once: that is a bug and fails kInternal.
  absl::StatusOr<Stmt> Prepare(const std::string& sql);
  // The first column of the first row of `sql` (pragma reads).
  absl::StatusOr<std::string> QueryText(const std::string& sql);
  absl::StatusOr<int64_t> QueryInt(const std::string& sql);

  // False between BEGIN and COMMIT/ROLLBACK, including when SQLite rolled a
  // transaction back by itself after an error.
  bool InTransaction() const;
  int64_t Changes() const;
  int64_t LastInsertRowid() const;
  // The extended result code of the most recent failure on this connection.
  int last_error_code() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Called with the text of every statement this connection prepares (for
  // the query-plan test).
  void set_prepare_observer(std::function<void(const std::string&)> observer) {
    prepare_observer_ = std::move(observer);
  }

  absl::Status Error(int rc, absl::string_view context) const;

 private:
  struct CachedStmt {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  // Keyed by SQL text; dynamic SQL (ListImages) is bounded by clearing the
  // cache when it grows past a limit while no statement is in use.
  std::unordered_map<std::string, std::unique_ptr<CachedStmt>> cache_;
  int in_use_count_ = 0;
  std::function<void(const std::string&)> prepare_observer_;
};

// What a connection's pragmas read back as after ConfigureConnection.
struct ConnectionSettings {
  std::string journal_mode;  // "wal"
  int64_t synchronous = 0;   // 2 = FULL
  bool foreign_keys = false;
  int64_t busy_timeout_ms = 0;
  bool query_only = false;
};

// Sets busy_timeout, journal_mode=WAL, synchronous=FULL, foreign_keys=ON
// and query_only, then reads each back: kFailedPrecondition if any did not
// take (e.g. WAL on an in-memory database).
absl::StatusOr<ConnectionSettings> ConfigureConnection(Connection& conn,
                                                       int busy_timeout_ms,
                                                       bool query_only);

// PRAGMA quick_check: kDataLoss unless the database reads "ok". Reads every
// page (O(N) in the file), not the indexes against their tables.
absl::Status QuickCheck(Connection& conn);

// PRAGMA integrity_check (also every index against its table) and
// foreign_key_check: kDataLoss unless both find nothing. Slower than
// QuickCheck; for background checks.
absl::Status FullCheck(Connection& conn);

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_SQLITE_SQLITE_DB_H_

#include "storage/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

// Past this many cached statements, the cache is emptied before the next
// prepare (only ListImages/ListIoTasks build SQL that varies).
constexpr size_t kMaxCachedStatements = 512;

}  // namespace

absl::Status SqliteStatus(int rc, absl::string_view context,
                          absl::string_view detail) {
  std::string message =
      absl::StrCat(context, ": ", sqlite3_errstr(rc), " (", rc, ")");
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_INTERRUPT:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

bool IsCorruptionCode(int rc) {
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

// Stmt -----------------------------------------------------------------

Stmt::Stmt(sqlite3_stmt* stmt, bool* in_use, absl::string_view sql)
    : stmt_(stmt), in_use_(in_use), sql_(sql) {
  *in_use_ = true;
}

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      sql_(other.sql_),
      next_param_(other.next_param_),
      bind_status_(std::move(other.bind_status_)),
      error_code_(other.error_code_) {}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  next_param_ = 0;
  bind_status_ = absl::OkStatus();
  error_code_ = 0;
}

void Stmt::NoteBindResult(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteStatus(rc, absl::StrCat("bind parameter ", index),
                                sqlite3_errmsg(sqlite3_db_handle(stmt_)));
  }
}

void Stmt::BindInt(int index, int64_t value) {
  NoteBindResult(sqlite3_bind_int64(stmt_, index, value), index);
}

void Stmt::BindText(int index, absl::string_view value) {
  NoteBindResult(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8),
                 index);
}

void Stmt::BindBlob(int index, absl::string_view value) {
  // A zero-length blob needs a non-null pointer or it binds NULL.
  static const char kEmpty = 0;
  NoteBindResult(
      sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(),
                          value.size(), SQLITE_TRANSIENT),
      index);
}

void Stmt::BindNull(int index) {
  NoteBindResult(sqlite3_bind_null(stmt_, index), index);
}

absl::StatusOr<bool> Stmt::Step() {
  RETURN_IF_ERROR(bind_status_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  error_code_ = sqlite3_extended_errcode(db);
  return SqliteStatus(error_code_, "step", sqlite3_errmsg(db));
}

absl::Status Stmt::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  while (row) {
    ASSIGN_OR_RETURN(row, Step());
  }
  return absl::OkStatus();
}

absl::Status Stmt::StepRow() {
  ASSIGN_OR_RETURN(bool row, Step());
  if (!row) {
    return absl::InternalError(
        absl::StrCat("statement returned no row: ", sql_.substr(0, 80)));
  }
  return absl::OkStatus();
}

int Stmt::ParameterCount() const { return sqlite3_bind_parameter_count(stmt_); }

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Text(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  int size = sqlite3_column_bytes(stmt_, col);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), size);
}

std::optional<int64_t> Stmt::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

bool Stmt::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

int Stmt::ColumnType(int col) const { return sqlite3_column_type(stmt_, col); }

// Connection -------------------------------------------------------------

namespace {

// Process-wide settings, before the library's first use. Memory statistics
// off: with them on, every sqlite3_malloc takes one global mutex, which the
// writer and the lookups on gRPC's threads then fight over (futex calls in
// the write path; nothing here reads the statistics). Fails harmlessly if
// something initialised SQLite first.
void ConfigureLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& path, bool create) {
  ConfigureLibraryOnce();
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
              SQLITE_OPEN_EXRESCODE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status =
        SqliteStatus(rc, absl::StrCat("open ", path),
                     db != nullptr ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close_v2(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db, path));
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached->stmt);
  cache_.clear();
  // Closing the last connection checkpoints the WAL into the database.
  sqlite3_close_v2(db_);
}

absl::Status Connection::Error(int rc, absl::string_view context) const {
  return SqliteStatus(rc, context, sqlite3_errmsg(db_));
}

absl::Status Connection::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string detail = err != nullptr ? err : "";
  sqlite3_free(err);
  return SqliteStatus(sqlite3_extended_errcode(db_),
                      absl::StrCat("exec ", sql.substr(0, 40)), detail);
}

absl::StatusOr<Stmt> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    if (cache_.size() >= kMaxCachedStatements) {
      bool any_in_use = false;
      for (const auto& [text, cached] : cache_) any_in_use |= cached->in_use;
      if (!any_in_use) {
        for (auto& [text, cached] : cache_) sqlite3_finalize(cached->stmt);
        cache_.clear();
      }
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteStatus(rc, "prepare", sqlite3_errmsg(db_));
    }
    if (prepare_observer_) prepare_observer_(sql);
    auto cached = std::make_unique<CachedStmt>();
    cached->stmt = stmt;
    it = cache_.emplace(sql, std::move(cached)).first;
  }
  CachedStmt& cached = *it->second;
  if (cached.in_use) {
    return absl::InternalError(
        absl::StrCat("statement used twice at once: ",
                     absl::string_view(sql).substr(0, 80)));
  }
  return Stmt(cached.stmt, &cached.in_use, it->first);
}

absl::StatusOr<std::string> Connection::QueryText(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  rc = sqlite3_step(stmt);
  absl::StatusOr<std::string> result;
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    result =
        std::string(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  } else if (rc == SQLITE_DONE) {
    result = absl::InternalError(absl::StrCat(sql, " returned no row"));
  } else {
    result = Error(sqlite3_extended_errcode(db_), sql);
  }
  sqlite3_finalize(stmt);
  return result;
}

absl::StatusOr<int64_t> Connection::QueryInt(const std::string& sql) {
  ASSIGN_OR_RETURN(std::string text, QueryText(sql));
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InternalError(absl::StrCat(sql, " returned ", text));
  }
  return value;
}

bool Connection::InTransaction() const { return !sqlite3_get_autocommit(db_); }

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

int64_t Connection::LastInsertRowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int Connection::last_error_code() const {
  return sqlite3_extended_errcode(db_);
}

// Settings -----------------------------------------------------------------

absl::StatusOr<ConnectionSettings> ConfigureConnection(Connection& conn,
                                                       int busy_timeout_ms,
                                                       bool query_only) {
  int rc = sqlite3_busy_timeout(conn.handle(), busy_timeout_ms);
  if (rc != SQLITE_OK) return conn.Error(rc, "busy_timeout");
  ConnectionSettings got;
  ASSIGN_OR_RETURN(got.journal_mode,
                   conn.QueryText("PRAGMA journal_mode = WAL"));
  got.journal_mode = absl::AsciiStrToLower(got.journal_mode);
  RETURN_IF_ERROR(conn.Exec("PRAGMA synchronous = FULL"));
  ASSIGN_OR_RETURN(got.synchronous, conn.QueryInt("PRAGMA synchronous"));
  RETURN_IF_ERROR(conn.Exec("PRAGMA foreign_keys = ON"));
  ASSIGN_OR_RETURN(int64_t fk, conn.QueryInt("PRAGMA foreign_keys"));
  got.foreign_keys = fk == 1;
  ASSIGN_OR_RETURN(got.busy_timeout_ms, conn.QueryInt("PRAGMA busy_timeout"));
  RETURN_IF_ERROR(conn.Exec(query_only ? "PRAGMA query_only = ON"
                                       : "PRAGMA query_only = OFF"));
  ASSIGN_OR_RETURN(int64_t qo, conn.QueryInt("PRAGMA query_only"));
  got.query_only = qo == 1;

  std::string wrong;
  if (got.journal_mode != "wal") {
    absl::StrAppend(&wrong, " journal_mode=", got.journal_mode);
  }
  if (got.synchronous != 2)
    absl::StrAppend(&wrong, " synchronous=", got.synchronous);
  if (!got.foreign_keys) absl::StrAppend(&wrong, " foreign_keys=off");
  if (got.busy_timeout_ms != busy_timeout_ms) {
    absl::StrAppend(&wrong, " busy_timeout=", got.busy_timeout_ms);
  }
  if (got.query_only != query_only) absl::StrAppend(&wrong, " query_only=", qo);
  if (!wrong.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", conn.path(), ": pragmas did not take, read back:", wrong));
  }
  return got;
}

namespace {

// Runs a check pragma whose healthy answer is one row "ok" (`ok_row`) or no
// row at all; any other answer, or a corruption error, is kDataLoss naming
// the pragma and the first problems.
absl::Status RunCheckPragma(Connection& conn, const std::string& pragma,
                            bool ok_row) {
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "PRAGMA " + pragma;
  int rc = sqlite3_prepare_v2(conn.handle(), sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    int code = conn.last_error_code();
    if (IsCorruptionCode(code)) {
      return absl::DataLossError(
          absl::StrCat("database ", conn.path(),
                       " is corrupt: ", sqlite3_errmsg(conn.handle())));
    }
    return conn.Error(rc, pragma);
  }
  std::string problems;
  int rows = 0;
  int bad = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    ++rows;
    std::string line;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      absl::StrAppend(
          &line, i == 0 ? "" : " ",
          text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
    }
    if (ok_row && rows == 1 && line == "ok") continue;
    if (++bad <= 5) absl::StrAppend(&problems, "; ", line);
  }
  int code = sqlite3_extended_errcode(conn.handle());
  std::string errmsg = sqlite3_errmsg(conn.handle());
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    if (IsCorruptionCode(code)) {
      return absl::DataLossError(
          absl::StrCat("database ", conn.path(), " is corrupt: ", errmsg));
    }
    return SqliteStatus(code, pragma, errmsg);
  }
  if (bad > 0 || (ok_row && rows == 0)) {
    return absl::DataLossError(
        absl::StrCat("database ", conn.path(), " failed ", pragma, problems));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status QuickCheck(Connection& conn) {
  return RunCheckPragma(conn, "quick_check", /*ok_row=*/true);
}

absl::Status FullCheck(Connection& conn) {
  RETURN_IF_ERROR(RunCheckPragma(conn, "integrity_check", /*ok_row=*/true));
  return RunCheckPragma(conn, "foreign_key_check", /*ok_row=*/false);
}

}  // namespace ecsimage::storage

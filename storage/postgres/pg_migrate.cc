#include "storage/postgres/pg_migrate.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg {
namespace {

// One row: the schema's version and the oldest binary that may use it.
constexpr char kCreateSchemaMeta[] =
    "CREATE TABLE IF NOT EXISTS schema_meta ("
    " singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),"
    " version BIGINT NOT NULL,"
    " min_binary_version BIGINT NOT NULL);"
    "INSERT INTO schema_meta (version, min_binary_version) VALUES (0, 0) "
    "ON CONFLICT DO NOTHING";

absl::Status RefuseTooNew(const SchemaState& state, int latest) {
  if (state.min_binary_version <= latest) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the database's schema version ", state.version,
      " needs an ecsimage that knows schema version ", state.min_binary_version,
      " or newer; this binary knows up to ", latest));
}

// Holds the session-level migration lock for its lifetime.
class MigrationLock {
 public:
  explicit MigrationLock(PgConn& conn) : conn_(conn) {}
  absl::Status Lock() {
    RETURN_IF_ERROR(
        conn_
            .Exec("SELECT pg_advisory_lock($1::int4, $2::int4)",
                  PgParams().Int(kAdvisoryLockClass).Int(kMigrateLockKey))
            .status());
    held_ = true;
    return absl::OkStatus();
  }
  ~MigrationLock() {
    if (held_ && !conn_.broken()) {
      conn_
          .Exec("SELECT pg_advisory_unlock($1::int4, $2::int4)",
                PgParams().Int(kAdvisoryLockClass).Int(kMigrateLockKey))
          .IgnoreError();
    }
  }

 private:
  PgConn& conn_;
  bool held_ = false;
};

absl::Status ApplyStep(PgConn& conn, const Migration& m) {
  RETURN_IF_ERROR(conn.ExecScript("BEGIN"));
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SchemaState state, ReadSchemaState(conn));
    if (state.version >= m.version) return absl::OkStatus();
    absl::Status applied = conn.ExecScript(m.sql);
    if (!applied.ok()) {
      return absl::Status(
          applied.code(),
          absl::StrCat("migration ", m.name, ": ", applied.message()));
    }
    return conn
        .Exec("UPDATE schema_meta SET version = $1", PgParams().Int(m.version))
        .status();
  }();
  if (status.ok()) status = conn.ExecScript("COMMIT");
  if (!status.ok() && !conn.broken()) conn.ExecScript("ROLLBACK").IgnoreError();
  return status;
}

}  // namespace

absl::Status CheckPgMigrationLadder(const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version != migrations[i - 1].version + 1) {
      return absl::InternalError(absl::StrCat(
          "embedded PostgreSQL migrations are not consecutive: ",
          migrations[i].name, " follows ", migrations[i - 1].name));
    }
  }
  if (migrations.empty()) {
    return absl::InternalError("no embedded PostgreSQL migrations");
  }
  return absl::OkStatus();
}

absl::StatusOr<SchemaState> ReadSchemaState(PgConn& conn) {
  ASSIGN_OR_RETURN(PgResult exists,
                   conn.Exec("SELECT to_regclass('schema_meta') IS NOT NULL"));
  SchemaState state;
  if (!exists.Bool(0, 0)) return state;
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT version, min_binary_version "
                                         "FROM schema_meta"));
  if (r.rows() != 1) {
    return absl::InternalError("schema_meta does not hold exactly one row");
  }
  state.version = static_cast<int>(r.Int(0, 0));
  state.min_binary_version = static_cast<int>(r.Int(0, 1));
  return state;
}

absl::StatusOr<int> BringPgSchemaUpToDate(PgConn& conn,
                                          const std::vector<Migration>& ladder,
                                          bool migrate) {
  RETURN_IF_ERROR(CheckPgMigrationLadder(ladder));
  const int latest = ladder.back().version;
  MigrationLock lock(conn);
  RETURN_IF_ERROR(lock.Lock());
  ASSIGN_OR_RETURN(SchemaState state, ReadSchemaState(conn));
  RETURN_IF_ERROR(RefuseTooNew(state, latest));
  if (state.version >= latest) return state.version;
  if (!migrate) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database has schema version ", state.version,
                     ", older than this binary's ", latest, "; run migrate"));
  }
  if (state.version != 0 && state.version < ladder.front().version - 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database has schema version ", state.version,
                     ", below this binary's baseline ", ladder.front().name));
  }
  RETURN_IF_ERROR(conn.ExecScript(kCreateSchemaMeta));
  for (const Migration& m : ladder) {
    if (m.version <= state.version) continue;
    RETURN_IF_ERROR(ApplyStep(conn, m));
  }
  ASSIGN_OR_RETURN(state, ReadSchemaState(conn));
  RETURN_IF_ERROR(RefuseTooNew(state, latest));
  return state.version;
}

}  // namespace ecsimage::storage::pg

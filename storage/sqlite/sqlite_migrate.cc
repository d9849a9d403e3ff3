#include "storage/sqlite/sqlite_migrate.h"

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::storage {

absl::StatusOr<int> SchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(int64_t version, conn.QueryInt("PRAGMA user_version"));
  return static_cast<int>(version);
}

absl::Status CheckMigrationLadder(const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat(
          "embedded migrations are not numbered 1..n without gaps: ",
          migrations[i].name, " is at position ", i + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status RefuseNewerSchema(const std::string& path, int version,
                               int latest) {
  if (version <= latest) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("database ", path, " has schema version ", version,
                   ", newer than this binary's latest schema version ", latest,
                   "; run a newer ecsimage"));
}

absl::StatusOr<int> ApplyMigrations(Connection& conn,
                                    const std::vector<Migration>& migrations,
                                    int target_version) {
  RETURN_IF_ERROR(CheckMigrationLadder(migrations));
  ASSIGN_OR_RETURN(int version, SchemaVersion(conn));
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    if (m.version > target_version) break;
    RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
    absl::Status status = [&]() -> absl::Status {
      // Another process may have migrated while we waited for the lock.
      ASSIGN_OR_RETURN(int current, SchemaVersion(conn));
      if (current >= m.version) return absl::OkStatus();
      if (current != m.version - 1) {
        return absl::InternalError(
            absl::StrCat("database is at schema version ", current,
                         ", cannot apply ", m.name));
      }
      absl::Status applied = conn.Exec(m.sql);
      if (!applied.ok()) {
        return absl::Status(
            applied.code(),
            absl::StrCat("migration ", m.name, ": ", applied.message()));
      }
      return conn.Exec(absl::StrCat("PRAGMA user_version = ", m.version));
    }();
    if (status.ok()) status = conn.Exec("COMMIT");
    if (!status.ok()) {
      if (conn.InTransaction()) conn.Exec("ROLLBACK").IgnoreError();
      return status;
    }
    ASSIGN_OR_RETURN(version, SchemaVersion(conn));
  }
  return version;
}

}  // namespace ecsimage::storage

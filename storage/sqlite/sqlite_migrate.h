// The PRAGMA user_version ladder: which schema a database is at, and
// applying the embedded migrations in order, each step and its version bump
// in one transaction. Internal to storage/ (and its tests).
#ifndef ECSIMAGE_STORAGE_SQLITE_SQLITE_MIGRATE_H_
#define ECSIMAGE_STORAGE_SQLITE_SQLITE_MIGRATE_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_db.h"

namespace ecsimage::storage {

// PRAGMA user_version.
absl::StatusOr<int> SchemaVersion(Connection& conn);

// kInternal unless `migrations` are numbered 1, 2, ... without gaps.
absl::Status CheckMigrationLadder(const std::vector<Migration>& migrations);

// Applies the migrations above the database's version, up to and including
// `target_version`. Each step runs in its own BEGIN IMMEDIATE transaction
// and re-reads the version under the write lock, so two processes migrating
// at once apply each step once. Returns the resulting version. A database
// newer than `target_version` is left alone (the caller decides).
absl::StatusOr<int> ApplyMigrations(Connection& conn,
                                    const std::vector<Migration>& migrations,
                                    int target_version);

// kFailedPrecondition if `version` is newer than this binary knows.
absl::Status RefuseNewerSchema(const std::string& path, int version,
                               int latest);

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_SQLITE_SQLITE_MIGRATE_H_

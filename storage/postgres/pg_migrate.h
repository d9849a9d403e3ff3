// The PostgreSQL schema ladder (migrations/postgres/NNNN_name.sql) and the
// schema_meta row (version, min_binary_version).
//
// Rollouts: a step only adds; a step that makes older binaries unsafe
// raises min_binary_version. A binary refuses a database only when
// min_binary_version is newer than the binary's latest version, so during a
// rolling update (and after `kubectl rollout undo`) the older replicas keep
// serving a database one of the newer ones migrated.
//
// Several replicas starting at once: the whole ladder runs under a
// session-level advisory lock, so each step is applied exactly once (the
// others wait, then find the version already there). Session-level locks
// need a session: a transaction-pooling PgBouncer between ecsimage and
// PostgreSQL is not supported (use session pooling or connect directly).
#ifndef ECSIMAGE_STORAGE_POSTGRES_PG_MIGRATE_H_
#define ECSIMAGE_STORAGE_POSTGRES_PG_MIGRATE_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/migrations.h"
#include "storage/postgres/pg_conn.h"

namespace ecsimage::storage::pg {

// Advisory lock keys (the two-int4 form; row locks and the store's hashed
// transaction locks use the one-bigint form, a separate key space).
inline constexpr int kAdvisoryLockClass = 0x45435349;  // "ECSI"
inline constexpr int kMigrateLockKey = 1;
inline constexpr int kSeedLockKey = 2;
inline constexpr int kBootstrapLockKey = 3;

// kInternal unless the versions are consecutive (the first may be a
// baseline above 1: a PostgreSQL database starts there).
absl::Status CheckPgMigrationLadder(const std::vector<Migration>& migrations);

struct SchemaState {
  int version = 0;  // 0: no schema_meta yet
  int min_binary_version = 0;
};
absl::StatusOr<SchemaState> ReadSchemaState(PgConn& conn);

// Under the migration lock: refuses a database that needs a newer binary,
// applies the pending steps (each with its version bump in one transaction)
// if `migrate`, or refuses an older schema if not. Returns the version.
absl::StatusOr<int> BringPgSchemaUpToDate(PgConn& conn,
                                          const std::vector<Migration>& ladder,
                                          bool migrate);

}  // namespace ecsimage::storage::pg

#endif  // ECSIMAGE_STORAGE_POSTGRES_PG_MIGRATE_H_

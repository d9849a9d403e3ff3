// Task leases of PgTxn (WriteTxn::ClaimTaskLeases, ReleaseTaskLeases).
//
// Each replica's engine claims, in its tick's write transaction, the leases
// of the running tasks it may advance. The rows are picked FOR UPDATE SKIP
// LOCKED: a task another replica is advancing right now (its tick holds the
// row) is skipped, never waited for, and the claim cannot take a lease that
// is not free, expired or already this replica's. The rows stay locked until
// the tick commits, so every progress and phase write of the tick is fenced
// by the lease it holds; a replica whose lease was taken over finds nothing
// to advance. Lease time is the caller's `now_ms` (serve passes the
// database's clock_timestamp(), so that replicas with skewed host clocks
// still agree on when a lease expired).
#include <string>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg {
namespace {

struct LeasedKind {
  const char* table;
  const char* active;  // spelled as the partial indexes spell it
};
constexpr LeasedKind kLeasedKinds[] = {
    {"copy_tasks",
     "phase <> 'SUCCEEDED' AND phase <> 'FAILED' AND phase <> 'CANCELLED'"},
    {"io_tasks", "status IN ('Waiting', 'Processing')"},
    {"images",
     "status = 'Creating' AND deleted_at_ms IS NULL AND is_copied = 0 AND "
     "creating_remaining_ms > 0 AND NOT EXISTS (SELECT 1 FROM io_tasks t "
     "WHERE t.image_rowid = images.id AND t.action = 'ImportImage')"},
};

}  // namespace

absl::StatusOr<WriteTxn::LeaseClaim> PgTxn::ClaimTaskLeases(
    const std::string& owner, int64_t now_ms, int64_t lease_ms, int64_t limit) {
  LeaseClaim claim;
  for (const LeasedKind& kind : kLeasedKinds) {
    // $1 owner, $2 now, $3 renew an own lease expiring before this,
    // $4 limit, $5 term. RETURNING tells whether it came from another owner.
    ASSIGN_OR_RETURN(
        PgResult taken,
        Exec(absl::StrCat(
                 "WITH picked AS (SELECT id, lease_owner FROM ", kind.table,
                 " WHERE ", kind.active,
                 " AND ((lease_owner = $1 AND lease_expires_at_ms <= $3) OR "
                 "(lease_owner <> $1 AND lease_expires_at_ms <= $2)) "
                 "ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) UPDATE ",
                 kind.table,
                 " AS t SET lease_epoch = t.lease_epoch + CASE WHEN "
                 "t.lease_owner <> $1 THEN 1 ELSE 0 END, lease_owner = $1, "
                 "lease_expires_at_ms = $2 + $5 FROM picked "
                 "WHERE t.id = picked.id RETURNING "
                 "(picked.lease_owner <> '' AND picked.lease_owner <> $1)"),
             PgParams()
                 .Text(owner)
                 .Int(now_ms)
                 .Int(now_ms + lease_ms / 2)
                 .Int(limit)
                 .Int(lease_ms)));
    for (int i = 0; i < taken.rows(); ++i) {
      ++claim.claimed;
      if (taken.Bool(i, 0)) ++claim.taken_over;
    }
    ASSIGN_OR_RETURN(PgResult held,
                     Exec(absl::StrCat("SELECT count(*) FROM ", kind.table,
                                       " WHERE ", kind.active,
                                       " AND lease_owner = $1 AND "
                                       "lease_expires_at_ms > $2"),
                          PgParams().Text(owner).Int(now_ms)));
    claim.held += held.Int(0, 0);
  }
  return claim;
}

absl::Status PgTxn::ReleaseTaskLeases(const std::string& owner) {
  for (const LeasedKind& kind : kLeasedKinds) {
    RETURN_IF_ERROR(Exec(absl::StrCat("UPDATE ", kind.table,
                                      " SET lease_expires_at_ms = 0 WHERE ",
                                      kind.active, " AND lease_owner = $1"),
                         PgParams().Text(owner))
                        .status());
  }
  return absl::OkStatus();
}

}  // namespace ecsimage::storage::pg

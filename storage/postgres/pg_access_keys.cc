// PostgresStore's AccessKey methods (the access_keys table, migration 0007).
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/pg_txn.h"
#include "storage/postgres/postgres_store.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

using pg::PgParams;
using pg::PgResult;
using pg::PgTxn;

constexpr char kColumns[] =
    "SELECT access_key_id, account_id, secret_sealed, key_id, "
    "created_at_ms, revoked_at_ms FROM access_keys ";

AccessKeyRow RowOf(const PgResult& r, int i) {
  return {r.Text(i, 0), r.Text(i, 1), r.Bytes(i, 2),
          r.Text(i, 3), r.Int(i, 4),  r.Int(i, 5)};
}

}  // namespace

absl::StatusOr<bool> PostgresStore::AddAccessKey(const AccessKeyRow& key) {
  bool added = false;
  RETURN_IF_ERROR(RunWrite(
      [&](WriteTxn& txn) -> absl::Status {
        added = false;
        ASSIGN_OR_RETURN(bool exists, txn.AccountExists(key.account_id));
        if (!exists) return absl::OkStatus();
        auto& t = static_cast<PgTxn&>(txn);
        ASSIGN_OR_RETURN(PgResult taken,
                         t.Exec("SELECT 1 FROM access_keys "
                                "WHERE access_key_id = $1",
                                PgParams().Text(key.access_key_id)));
        if (taken.rows() > 0) {
          return absl::AlreadyExistsError("access key already exists");
        }
        RETURN_IF_ERROR(t.Exec("INSERT INTO access_keys (access_key_id, "
                               "account_id, secret_sealed, key_id, "
                               "created_at_ms, revoked_at_ms) "
                               "VALUES ($1, $2, $3, $4, $5, $6)",
                               PgParams()
                                   .Text(key.access_key_id)
                                   .Text(key.account_id)
                                   .Bytes(key.secret_sealed)
                                   .Text(key.key_id)
                                   .Int(key.created_at_ms)
                                   .Int(key.revoked_at_ms))
                            .status());
        added = true;
        return absl::OkStatus();
      },
      {}));
  return added;
}

absl::StatusOr<std::optional<AccessKeyRow>> PostgresStore::GetAccessKey(
    const std::string& access_key_id) {
  std::optional<AccessKeyRow> key;
  RETURN_IF_ERROR(RunInLookupTransaction([&](ReadTxn& txn) -> absl::Status {
    key.reset();
    ASSIGN_OR_RETURN(PgResult r,
                     static_cast<PgTxn&>(txn).Exec(
                         std::string(kColumns) + "WHERE access_key_id = $1",
                         PgParams().Text(access_key_id)));
    if (r.rows() > 0) key = RowOf(r, 0);
    return absl::OkStatus();
  }));
  return key;
}

absl::StatusOr<std::optional<std::vector<AccessKeyRow>>>
PostgresStore::ListAccessKeys(const std::string& account_id) {
  std::optional<std::vector<AccessKeyRow>> keys;
  RETURN_IF_ERROR(RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
    keys.reset();
    ASSIGN_OR_RETURN(bool exists, txn.AccountExists(account_id));
    if (!exists) return absl::OkStatus();
    ASSIGN_OR_RETURN(
        PgResult r,
        static_cast<PgTxn&>(txn).Exec(
            std::string(kColumns) + "WHERE account_id = $1 "
                                    "ORDER BY created_at_ms, access_key_id",
            PgParams().Text(account_id)));
    std::vector<AccessKeyRow> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(RowOf(r, i));
    keys = std::move(out);
    return absl::OkStatus();
  }));
  return keys;
}

absl::StatusOr<bool> PostgresStore::RevokeAccessKey(
    const std::string& account_id, const std::string& access_key_id,
    int64_t now_ms) {
  bool revoked = false;
  RETURN_IF_ERROR(RunWrite(
      [&](WriteTxn& txn) -> absl::Status {
        revoked = false;
        ASSIGN_OR_RETURN(PgResult r,
                         static_cast<PgTxn&>(txn).Exec(
                             "UPDATE access_keys SET revoked_at_ms = $1 "
                             "WHERE access_key_id = $2 AND account_id = $3 "
                             "AND revoked_at_ms = 0",
                             PgParams()
                                 .Int(now_ms > 0 ? now_ms : 1)
                                 .Text(access_key_id)
                                 .Text(account_id)));
        revoked = r.Affected() > 0;
        return absl::OkStatus();
      },
      {}));
  return revoked;
}

}  // namespace ecsimage::storage

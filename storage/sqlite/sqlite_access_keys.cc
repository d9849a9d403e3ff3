// SqliteStore's AccessKey methods (the access_keys table, migration 0007).
#include <string>
#include <utility>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/sqlite_txn.h"
#include "storage/sqlite/sqlite_writer.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

constexpr char kColumns[] =
    "SELECT access_key_id, account_id, secret_sealed, key_id, "
    "created_at_ms, revoked_at_ms FROM access_keys ";

AccessKeyRow RowOf(const Stmt& q) {
  return {q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Int(4), q.Int(5)};
}

}  // namespace

absl::StatusOr<bool> SqliteStore::AddAccessKey(const AccessKeyRow& key) {
  bool added = false;
  RETURN_IF_ERROR(writer_->Run(
      [&](WriteTxn& txn) -> absl::Status {
        added = false;
        ASSIGN_OR_RETURN(bool exists, txn.AccountExists(key.account_id));
        if (!exists) return absl::OkStatus();
        Connection& conn = static_cast<SqliteTxn&>(txn).conn();
        ASSIGN_OR_RETURN(Stmt taken, conn.Prepare("SELECT 1 FROM access_keys "
                                                  "WHERE access_key_id = ?"));
        taken.Bind(key.access_key_id);
        ASSIGN_OR_RETURN(bool row, taken.Step());
        if (row) return absl::AlreadyExistsError("access key already exists");
        ASSIGN_OR_RETURN(Stmt q,
                         conn.Prepare("INSERT INTO access_keys (access_key_id, "
                                      "account_id, secret_sealed, key_id, "
                                      "created_at_ms, revoked_at_ms) "
                                      "VALUES (?, ?, ?, ?, ?, ?)"));
        q.BindAll(key.access_key_id, key.account_id, Blob{key.secret_sealed},
                  key.key_id, key.created_at_ms, key.revoked_at_ms);
        RETURN_IF_ERROR(q.Run());
        added = true;
        return absl::OkStatus();
      },
      {}));
  return added;
}

absl::StatusOr<std::optional<AccessKeyRow>> SqliteStore::GetAccessKey(
    const std::string& access_key_id) {
  std::optional<AccessKeyRow> key;
  RETURN_IF_ERROR(RunInLookupTransaction([&](ReadTxn& txn) -> absl::Status {
    key.reset();
    Connection& conn = static_cast<SqliteTxn&>(txn).conn();
    ASSIGN_OR_RETURN(Stmt q, conn.Prepare(std::string(kColumns) +
                                          "WHERE access_key_id = ?"));
    q.Bind(access_key_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) key = RowOf(q);
    return absl::OkStatus();
  }));
  return key;
}

absl::StatusOr<std::optional<std::vector<AccessKeyRow>>>
SqliteStore::ListAccessKeys(const std::string& account_id) {
  std::optional<std::vector<AccessKeyRow>> keys;
  RETURN_IF_ERROR(RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
    keys.reset();
    ASSIGN_OR_RETURN(bool exists, txn.AccountExists(account_id));
    if (!exists) return absl::OkStatus();
    Connection& conn = static_cast<SqliteTxn&>(txn).conn();
    ASSIGN_OR_RETURN(Stmt q,
                     conn.Prepare(std::string(kColumns) +
                                  "WHERE account_id = ? "
                                  "ORDER BY created_at_ms, access_key_id"));
    q.Bind(account_id);
    std::vector<AccessKeyRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back(RowOf(q));
    }
    keys = std::move(out);
    return absl::OkStatus();
  }));
  return keys;
}

absl::StatusOr<bool> SqliteStore::RevokeAccessKey(
    const std::string& account_id, const std::string& access_key_id,
    int64_t now_ms) {
  bool revoked = false;
  RETURN_IF_ERROR(writer_->Run(
      [&](WriteTxn& txn) -> absl::Status {
        revoked = false;
        Connection& conn = static_cast<SqliteTxn&>(txn).conn();
        ASSIGN_OR_RETURN(
            Stmt q, conn.Prepare("UPDATE access_keys SET revoked_at_ms = ? "
                                 "WHERE access_key_id = ? AND account_id = ? "
                                 "AND revoked_at_ms = 0"));
        q.BindAll(now_ms > 0 ? now_ms : 1, access_key_id, account_id);
        RETURN_IF_ERROR(q.Run());
        revoked = conn.Changes() > 0;
        return absl::OkStatus();
      },
      {}));
  return revoked;
}

}  // namespace ecsimage::storage

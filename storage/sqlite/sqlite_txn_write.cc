// WriteTxn methods of SqliteTxn, and the operator writes behind
// Store::CreateAccount, AddToken, DeleteToken, SeedIfEmpty and
// PruneClientTokens.
#include <sqlite3.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

bool IsUniqueViolation(int code) {
  return code == SQLITE_CONSTRAINT_UNIQUE ||
         code == SQLITE_CONSTRAINT_PRIMARYKEY;
}

// Runs an INSERT or UPDATE; a UNIQUE/PRIMARY KEY violation becomes
// kAlreadyExists saying `what`, anything else keeps its mapping.
absl::Status RunUnique(Stmt& q, absl::string_view what) {
  absl::Status status = q.Run();
  if (!status.ok() && IsUniqueViolation(q.error_code())) {
    return absl::AlreadyExistsError(what);
  }
  return status;
}

}  // namespace

absl::Status SqliteTxn::ExpectOneChange(absl::string_view what, int64_t rowid) {
  if (conn_.Changes() == 1) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": no row with id ", rowid));
}

absl::Status SqliteTxn::InsertImage(ImageRow& image) {
  ASSIGN_OR_RETURN(std::optional<ImageRow> existing,
                   GetImage(image.region_id, image.image_id));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "image ", image.image_id, " already exists in ", image.region_id));
  }
  {
    ASSIGN_OR_RETURN(
        Stmt q,
        conn_.Prepare(
            "INSERT INTO images (image_id, region_id, owner_account_id, "
            "is_system, name, description, status, progress, size_gib, "
            "architecture, os_type, platform, is_copied, is_public, "
            "created_at_ms, deleted_at_ms, creating_remaining_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.BindAll(image.image_id, image.region_id);
    if (image.owner_account_id.empty()) {
      q.Bind(std::nullopt);
    } else {
      q.Bind(image.owner_account_id);
    }
    q.BindAll(image.is_system, image.name, image.description, image.status,
              image.progress, image.size_gib, image.architecture, image.os_type,
              image.platform, image.is_copied, image.is_public,
              image.created_at_ms, image.deleted_at_ms,
              image.creating_remaining_ms);
    // The id was checked above, so a unique violation is the live name.
    RETURN_IF_ERROR(RunUnique(
        q, absl::StrCat("a live image named ", image.name, " exists")));
  }
  image.rowid = conn_.LastInsertRowid();
  image.live_instance_count = 0;
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("INSERT INTO disk_mappings (image_rowid, ordinal, "
                            "device, type, snapshot_id, size_gib) "
                            "VALUES (?, ?, ?, ?, ?, ?)"));
  for (size_t i = 0; i < image.disks.size(); ++i) {
    const DiskMappingRow& d = image.disks[i];
    q.Reset();
    q.BindAll(image.rowid, static_cast<int64_t>(i), d.device, d.type,
              d.snapshot_id, d.size_gib);
    RETURN_IF_ERROR(q.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteTxn::UpdateImage(const ImageRow& image) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("UPDATE images SET name = ?, description = ?, "
                            "status = ?, progress = ?, is_public = ?, "
                            "deleted_at_ms = ?, creating_remaining_ms = ?, "
                            "size_gib = ? WHERE id = ?"));
  q.BindAll(image.name, image.description, image.status, image.progress,
            image.is_public, image.deleted_at_ms, image.creating_remaining_ms,
            image.size_gib, image.rowid);
  RETURN_IF_ERROR(
      RunUnique(q, absl::StrCat("a live image named ", image.name, " exists")));
  return ExpectOneChange("UpdateImage", image.rowid);
}

absl::Status SqliteTxn::SetDiskSize(int64_t image_rowid, int ordinal,
                                    int64_t size_gib) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("UPDATE disk_mappings SET size_gib = ? "
                                 "WHERE image_rowid = ? AND "
                                 "ordinal = ?"));
  q.BindAll(size_gib, image_rowid, int64_t{ordinal});
  RETURN_IF_ERROR(q.Run());
  if (conn_.Changes() != 1) {
    return absl::NotFoundError(
        absl::StrCat("image ", image_rowid, " has no disk ", ordinal));
  }
  return absl::OkStatus();
}

absl::Status SqliteTxn::InsertCopy(CopyTaskRow& copy) {
  {
    // The destination region is the destination image's, never the caller's
    // say-so.
    ASSIGN_OR_RETURN(
        Stmt q,
        conn_.Prepare("INSERT INTO copy_tasks (account_id, source_image_rowid, "
                      "dest_image_rowid, dest_region_id, phase, progress, "
                      "total_mib, transferred_mib, encrypted, kms_key_id, "
                      "support_cancel, created_at_ms, phase_changed_at_ms) "
                      "VALUES (?, ?, ?, (SELECT region_id FROM images WHERE "
                      "id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.BindAll(copy.account_id, copy.source_image_rowid, copy.dest_image_rowid,
              copy.dest_image_rowid, copy.phase, copy.progress, copy.total_mib,
              copy.transferred_mib, copy.encrypted, copy.kms_key_id,
              copy.support_cancel, copy.created_at_ms,
              copy.phase_changed_at_ms);
    RETURN_IF_ERROR(
        RunUnique(q, absl::StrCat("image row ", copy.dest_image_rowid,
                                  " is already a copy destination")));
  }
  ASSIGN_OR_RETURN(std::optional<CopyTaskRow> stored,
                   GetCopyByDest(copy.dest_image_rowid));
  if (!stored.has_value()) {
    return absl::InternalError("inserted copy task not found");
  }
  copy = *std::move(stored);
  return absl::OkStatus();
}

absl::Status SqliteTxn::UpdateCopy(const CopyTaskRow& copy) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("UPDATE copy_tasks SET phase_moves = "
                                 "phase_moves + (phase <> ?1), phase = ?1, "
                                 "progress = ?2, transferred_mib = ?3, "
                                 "phase_changed_at_ms = ?4 WHERE id = ?5"));
  q.BindAll(copy.phase, copy.progress, copy.transferred_mib,
            copy.phase_changed_at_ms, copy.rowid);
  RETURN_IF_ERROR(q.Run());
  return ExpectOneChange("UpdateCopy", copy.rowid);
}

absl::Status SqliteTxn::InsertIoTask(IoTaskRow& task) {
  {
    ASSIGN_OR_RETURN(
        Stmt q,
        conn_.Prepare("INSERT INTO io_tasks (task_id, account_id, region_id, "
                      "image_rowid, action, status, progress, total_mib, "
                      "transferred_mib, support_cancel, oss_bucket, "
                      "oss_object, created_at_ms, finished_at_ms, "
                      "image_format, data_disks) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                      "?)"));
    q.BindAll(task.task_id, task.account_id, task.region_id, task.image_rowid,
              task.action, task.status, task.progress, task.total_mib,
              task.transferred_mib, task.support_cancel, task.oss_bucket,
              task.oss_object, task.created_at_ms, task.finished_at_ms,
              task.image_format, task.data_disks);
    RETURN_IF_ERROR(
        RunUnique(q, absl::StrCat("task ", task.task_id, " already exists")));
  }
  ASSIGN_OR_RETURN(std::optional<IoTaskRow> stored, GetIoTask(task.task_id));
  if (!stored.has_value()) {
    return absl::InternalError("inserted task not found");
  }
  task = *std::move(stored);
  return absl::OkStatus();
}

absl::Status SqliteTxn::UpdateIoTask(const IoTaskRow& task) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("UPDATE io_tasks SET phase_moves = phase_moves + "
                            "(status <> ?1), status = ?1, progress = ?2, "
                            "transferred_mib = ?3, finished_at_ms = ?4 "
                            "WHERE id = ?5"));
  q.BindAll(task.status, task.progress, task.transferred_mib,
            task.finished_at_ms, task.rowid);
  RETURN_IF_ERROR(q.Run());
  return ExpectOneChange("UpdateIoTask", task.rowid);
}

// The three kinds of leased task: table and the WHERE that makes a row of
// it a running task (spelled as the partial indexes spell it).
namespace {
struct LeasedKind {
  const char* table;
  const char* active;
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

absl::StatusOr<WriteTxn::LeaseClaim> SqliteTxn::ClaimTaskLeases(
    const std::string& owner, int64_t now_ms, int64_t lease_ms, int64_t limit) {
  // One writer at a time: no row can be held by another transaction here,
  // so "skip locked" has nothing to skip.
  LeaseClaim claim;
  const int64_t renew_before = now_ms + lease_ms / 2;
  for (const LeasedKind& kind : kLeasedKinds) {
    // Rows to take, with their previous owner, before changing them.
    std::vector<std::pair<int64_t, bool>> rows;  // id, taken from another
    {
      ASSIGN_OR_RETURN(
          Stmt q,
          conn_.Prepare(absl::StrCat(
              "SELECT id, lease_owner <> '' AND lease_owner <> ?1 FROM ",
              kind.table, " WHERE ", kind.active,
              " AND ((lease_owner = ?1 AND lease_expires_at_ms <= ?3) OR "
              "(lease_owner <> ?1 AND lease_expires_at_ms <= ?2)) "
              "ORDER BY id LIMIT ?4")));
      q.BindAll(owner, now_ms, renew_before, limit);
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        rows.emplace_back(q.Int(0), q.Bool(1));
      }
    }
    for (const auto& [id, taken] : rows) {
      ASSIGN_OR_RETURN(
          Stmt q, conn_.Prepare(absl::StrCat(
                      "UPDATE ", kind.table,
                      " SET lease_epoch = lease_epoch + (lease_owner <> ?1), "
                      "lease_owner = ?1, lease_expires_at_ms = ?2 "
                      "WHERE id = ?3")));
      q.BindAll(owner, now_ms + lease_ms, id);
      RETURN_IF_ERROR(q.Run());
      ++claim.claimed;
      if (taken) ++claim.taken_over;
    }
    ASSIGN_OR_RETURN(
        Stmt q, conn_.Prepare(absl::StrCat("SELECT count(*) FROM ", kind.table,
                                           " WHERE ", kind.active,
                                           " AND lease_owner = ?1 AND "
                                           "lease_expires_at_ms > ?2")));
    q.BindAll(owner, now_ms);
    RETURN_IF_ERROR(q.StepRow());
    claim.held += q.Int(0);
  }
  return claim;
}

absl::Status SqliteTxn::ReleaseTaskLeases(const std::string& owner) {
  for (const LeasedKind& kind : kLeasedKinds) {
    ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(absl::StrCat(
                                 "UPDATE ", kind.table,
                                 " SET lease_expires_at_ms = 0 WHERE ",
                                 kind.active, " AND lease_owner = ?1")));
    q.Bind(owner);
    RETURN_IF_ERROR(q.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteTxn::AddShare(int64_t image_rowid,
                                 const std::string& account_id,
                                 int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("INSERT INTO shares (image_rowid, "
                                         "account_id, created_at_ms) "
                                         "VALUES (?, ?, ?) "
                                         "ON CONFLICT DO NOTHING"));
  q.BindAll(image_rowid, account_id, now_ms);
  return q.Run();
}

absl::Status SqliteTxn::RemoveShare(int64_t image_rowid,
                                    const std::string& account_id) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("DELETE FROM shares WHERE "
                                         "image_rowid = ? AND account_id = ?"));
  q.BindAll(image_rowid, account_id);
  return q.Run();
}

absl::Status SqliteTxn::InsertInstance(InstanceRow& instance) {
  {
    ASSIGN_OR_RETURN(Stmt q,
                     conn_.Prepare("INSERT INTO instances (instance_id, "
                                   "account_id, region_id, image_rowid, "
                                   "created_at_ms) VALUES (?, ?, ?, ?, ?)"));
    q.BindAll(instance.instance_id, instance.account_id, instance.region_id,
              instance.image_rowid, instance.created_at_ms);
    RETURN_IF_ERROR(RunUnique(
        q, absl::StrCat("instance ", instance.instance_id, " already exists")));
  }
  instance.rowid = conn_.LastInsertRowid();
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("SELECT image_id FROM images WHERE id = ?"));
  q.Bind(instance.image_rowid);
  RETURN_IF_ERROR(q.StepRow());
  instance.image_id = q.Text(0);
  return absl::OkStatus();
}

absl::Status SqliteTxn::ReleaseInstance(int64_t instance_rowid,
                                        int64_t now_ms) {
  {
    ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("UPDATE instances SET "
                                           "released_at_ms = ? WHERE id = ? "
                                           "AND released_at_ms IS NULL"));
    q.BindAll(now_ms, instance_rowid);
    RETURN_IF_ERROR(q.Run());
    if (conn_.Changes() == 1) return absl::OkStatus();
  }
  // Releasing a released instance changes nothing; an unknown one is a bug.
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("SELECT 1 FROM instances WHERE id = ?"));
  q.Bind(instance_rowid);
  ASSIGN_OR_RETURN(bool exists, q.Step());
  if (exists) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("ReleaseInstance: no instance with id ", instance_rowid));
}

absl::Status SqliteTxn::PutClientToken(const std::string& account_id,
                                       const std::string& rpc,
                                       const std::string& token,
                                       const ClientTokenRow& row) {
  ASSIGN_OR_RETURN(
      Stmt q,
      conn_.Prepare("INSERT INTO client_tokens (account_id, rpc, token, "
                    "params_fingerprint, response, created_at_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (account_id, rpc, token) DO UPDATE SET "
                    "params_fingerprint = excluded.params_fingerprint, "
                    "response = excluded.response, "
                    "created_at_ms = excluded.created_at_ms"));
  q.BindAll(account_id, rpc, token, Blob{row.params_fingerprint},
            Blob{row.response}, row.created_at_ms);
  return q.Run();
}

absl::StatusOr<std::optional<WriteTxn::ReplicaSetting>>
SqliteTxn::GetReplicaSetting(const std::string& name) {
  // The single writer orders every write transaction already.
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("SELECT value, confirmed_at_ms FROM "
                                         "replica_settings WHERE name = ?"));
  q.Bind(name);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return ReplicaSetting{q.Text(0), q.Int(1)};
}

absl::Status SqliteTxn::PutReplicaSetting(const std::string& name,
                                          const std::string& value,
                                          int64_t confirmed_at_ms) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("INSERT INTO replica_settings (name, value, "
                                 "confirmed_at_ms) VALUES (?, ?, ?) "
                                 "ON CONFLICT (name) DO UPDATE SET "
                                 "value = excluded.value, "
                                 "confirmed_at_ms = excluded.confirmed_at_ms"));
  q.BindAll(name, value, confirmed_at_ms);
  return q.Run();
}

absl::Status SqliteTxn::InsertAccount(const AccountRow& account,
                                      const std::string& token_sha256) {
  {
    ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("INSERT INTO accounts (account_id, "
                                           "name, created_at_ms) "
                                           "VALUES (?, ?, ?)"));
    q.BindAll(account.account_id, account.name, account.created_at_ms);
    RETURN_IF_ERROR(RunUnique(
        q, absl::StrCat("account ", account.account_id, " already exists")));
  }
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("INSERT INTO tokens (token_sha256, "
                                         "account_id, created_at_ms) "
                                         "VALUES (?, ?, ?)"));
  q.BindAll(Blob{token_sha256}, account.account_id, account.created_at_ms);
  return RunUnique(q, "token already exists");
}

absl::Status SqliteTxn::InsertToken(const TokenRow& token) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("INSERT INTO tokens (token_sha256, "
                                         "account_id, created_at_ms) "
                                         "VALUES (?, ?, ?)"));
  q.BindAll(Blob{token.token_sha256}, token.account_id, token.created_at_ms);
  return RunUnique(q, "token already exists");
}

absl::StatusOr<std::optional<std::string>> SqliteTxn::AccountOfToken(
    const std::string& token_sha256) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("SELECT account_id FROM tokens "
                                         "WHERE token_sha256 = ?"));
  q.Bind(Blob{token_sha256});
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return q.Text(0);
}

absl::StatusOr<std::optional<std::string>> SqliteTxn::OldestAccountNamed(
    const std::string& name) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("SELECT account_id FROM accounts "
                                         "WHERE name = ? ORDER BY "
                                         "created_at_ms, account_id LIMIT 1"));
  q.Bind(name);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return q.Text(0);
}

absl::StatusOr<int64_t> SqliteTxn::DeleteToken(
    const std::string& account_id, const std::string& token_sha256) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("DELETE FROM tokens WHERE "
                                 "token_sha256 = ? AND account_id = ?"));
  q.BindAll(Blob{token_sha256}, account_id);
  RETURN_IF_ERROR(q.Run());
  return conn_.Changes();
}

absl::Status SqliteTxn::InsertRegion(const RegionRow& region) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("INSERT INTO regions (region_id, "
                                         "local_name, endpoint) "
                                         "VALUES (?, ?, ?)"));
  q.BindAll(region.region_id, region.local_name, region.endpoint);
  return RunUnique(
      q, absl::StrCat("region ", region.region_id, " already exists"));
}

absl::Status SqliteTxn::PruneClientTokens(int64_t cutoff_ms) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("DELETE FROM client_tokens "
                                         "WHERE created_at_ms < ?"));
  q.Bind(cutoff_ms);
  return q.Run();
}

}  // namespace ecsimage::storage

// WriteTxn methods of PgTxn and the operator writes behind Store's
// CreateAccount, AddToken, DeleteToken, SeedIfEmpty, PruneClientTokens.
//
// In PostgreSQL any failed statement aborts the whole transaction, so a
// duplicate the interface answers kAlreadyExists is found by a read first
// (the transaction stays usable, as the domain may go on). A unique
// violation that still happens was a race with a concurrent insert: it is
// remembered as retryable and the store restarts the transaction.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg {
namespace {

absl::Status ExpectOne(const PgResult& r, absl::string_view what,
                       int64_t rowid) {
  if (r.Affected() == 1) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": no row with id ", rowid));
}

}  // namespace

absl::Status PgTxn::CheckLiveNameFree(const std::string& owner,
                                      const std::string& region_id,
                                      const std::string& name, int64_t rowid) {
  if (owner.empty() || name.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(LockAccountRegion(owner, region_id));
  ASSIGN_OR_RETURN(
      PgResult r,
      Exec("SELECT 1 FROM images WHERE owner_account_id = $1 AND "
           "region_id = $2 AND name = $3 AND name <> '' AND "
           "deleted_at_ms IS NULL AND id <> $4",
           PgParams().Text(owner).Text(region_id).Text(name).Int(rowid)));
  if (r.rows() > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("a live image named ", name, " exists"));
  }
  return absl::OkStatus();
}

absl::Status PgTxn::InsertImage(ImageRow& image) {
  ASSIGN_OR_RETURN(std::optional<ImageRow> existing,
                   GetImage(image.region_id, image.image_id));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "image ", image.image_id, " already exists in ", image.region_id));
  }
  if (!image.deleted_at_ms.has_value()) {
    RETURN_IF_ERROR(CheckLiveNameFree(image.owner_account_id, image.region_id,
                                      image.name, 0));
  }
  {
    PgParams p;
    p.Text(image.image_id)
        .Text(image.region_id)
        .TextOrNull(image.owner_account_id)
        .Int(image.is_system)
        .Text(image.name)
        .Text(image.description)
        .Text(image.status)
        .Int(image.progress)
        .Int(image.size_gib)
        .Text(image.architecture)
        .Text(image.os_type)
        .Text(image.platform)
        .Int(image.is_copied)
        .Int(image.is_public)
        .Int(image.created_at_ms)
        .OptInt(image.deleted_at_ms)
        .Int(image.creating_remaining_ms);
    ASSIGN_OR_RETURN(
        PgResult r,
        Exec("INSERT INTO images (image_id, region_id, owner_account_id, "
             "is_system, name, description, status, progress, size_gib, "
             "architecture, os_type, platform, is_copied, is_public, "
             "created_at_ms, deleted_at_ms, creating_remaining_ms) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
             "$14, $15, $16, $17) RETURNING id",
             p));
    image.rowid = r.Int(0, 0);
  }
  image.live_instance_count = 0;
  for (size_t i = 0; i < image.disks.size(); ++i) {
    const DiskMappingRow& d = image.disks[i];
    RETURN_IF_ERROR(Exec("INSERT INTO disk_mappings (image_rowid, ordinal, "
                         "device, type, snapshot_id, size_gib) "
                         "VALUES ($1, $2, $3, $4, $5, $6)",
                         PgParams()
                             .Int(image.rowid)
                             .Int(static_cast<int64_t>(i))
                             .Text(d.device)
                             .Text(d.type)
                             .Text(d.snapshot_id)
                             .Int(d.size_gib))
                        .status());
  }
  return absl::OkStatus();
}

absl::Status PgTxn::UpdateImage(const ImageRow& image) {
  if (!image.deleted_at_ms.has_value() && !image.name.empty()) {
    // The owner and region are identity columns: read them from the row.
    // Only a new name (or a revived tombstone) can collide: progress
    // updates of a named image take no account-region lock.
    ASSIGN_OR_RETURN(PgResult old,
                     Exec("SELECT owner_account_id, region_id, name, "
                          "deleted_at_ms IS NOT NULL FROM images "
                          "WHERE id = $1",
                          PgParams().Int(image.rowid)));
    if (old.rows() > 0 && !old.IsNull(0, 0) &&
        (old.Text(0, 2) != image.name || old.Bool(0, 3))) {
      RETURN_IF_ERROR(CheckLiveNameFree(old.Text(0, 0), old.Text(0, 1),
                                        image.name, image.rowid));
    }
  }
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("UPDATE images SET name = $1, description = $2, "
                        "status = $3, progress = $4, is_public = $5, "
                        "deleted_at_ms = $6, creating_remaining_ms = $7, "
                        "size_gib = $8 WHERE id = $9",
                        PgParams()
                            .Text(image.name)
                            .Text(image.description)
                            .Text(image.status)
                            .Int(image.progress)
                            .Int(image.is_public)
                            .OptInt(image.deleted_at_ms)
                            .Int(image.creating_remaining_ms)
                            .Int(image.size_gib)
                            .Int(image.rowid)));
  return ExpectOne(r, "UpdateImage", image.rowid);
}

absl::Status PgTxn::SetDiskSize(int64_t image_rowid, int ordinal,
                                int64_t size_gib) {
  ASSIGN_OR_RETURN(
      PgResult r, Exec("UPDATE disk_mappings SET size_gib = $1 "
                       "WHERE image_rowid = $2 AND ordinal = $3",
                       PgParams().Int(size_gib).Int(image_rowid).Int(ordinal)));
  if (r.Affected() != 1) {
    return absl::NotFoundError(
        absl::StrCat("image ", image_rowid, " has no disk ", ordinal));
  }
  return absl::OkStatus();
}

absl::Status PgTxn::InsertCopy(CopyTaskRow& copy) {
  {
    ASSIGN_OR_RETURN(
        PgResult r, Exec("SELECT 1 FROM copy_tasks WHERE dest_image_rowid = $1",
                         PgParams().Int(copy.dest_image_rowid)));
    if (r.rows() > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("image row ", copy.dest_image_rowid,
                       " is already a copy destination"));
    }
  }
  // The destination region is the destination image's, never the caller's
  // say-so.
  RETURN_IF_ERROR(
      Exec("INSERT INTO copy_tasks (account_id, source_image_rowid, "
           "dest_image_rowid, dest_region_id, phase, progress, total_mib, "
           "transferred_mib, encrypted, kms_key_id, support_cancel, "
           "created_at_ms, phase_changed_at_ms) "
           "VALUES ($1, $2, $3, (SELECT region_id FROM images WHERE id = $3), "
           "$4, $5, $6, $7, $8, $9, $10, $11, $12)",
           PgParams()
               .Text(copy.account_id)
               .Int(copy.source_image_rowid)
               .Int(copy.dest_image_rowid)
               .Text(copy.phase)
               .Int(copy.progress)
               .Int(copy.total_mib)
               .Int(copy.transferred_mib)
               .Int(copy.encrypted)
               .Text(copy.kms_key_id)
               .Int(copy.support_cancel)
               .Int(copy.created_at_ms)
               .Int(copy.phase_changed_at_ms))
          .status());
  ASSIGN_OR_RETURN(std::optional<CopyTaskRow> stored,
                   GetCopyByDest(copy.dest_image_rowid));
  if (!stored.has_value()) {
    return absl::InternalError("inserted copy task not found");
  }
  copy = *std::move(stored);
  return absl::OkStatus();
}

absl::Status PgTxn::UpdateCopy(const CopyTaskRow& copy) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("UPDATE copy_tasks SET phase_moves = phase_moves + "
                        "CASE WHEN phase <> $1 THEN 1 ELSE 0 END, phase = $1, "
                        "progress = $2, transferred_mib = $3, "
                        "phase_changed_at_ms = $4 WHERE id = $5",
                        PgParams()
                            .Text(copy.phase)
                            .Int(copy.progress)
                            .Int(copy.transferred_mib)
                            .Int(copy.phase_changed_at_ms)
                            .Int(copy.rowid)));
  return ExpectOne(r, "UpdateCopy", copy.rowid);
}

absl::Status PgTxn::InsertIoTask(IoTaskRow& task) {
  {
    ASSIGN_OR_RETURN(PgResult r,
                     Exec("SELECT 1 FROM io_tasks WHERE task_id = $1",
                          PgParams().Text(task.task_id)));
    if (r.rows() > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("task ", task.task_id, " already exists"));
    }
  }
  RETURN_IF_ERROR(Exec("INSERT INTO io_tasks (task_id, account_id, region_id, "
                       "image_rowid, action, status, progress, total_mib, "
                       "transferred_mib, support_cancel, oss_bucket, "
                       "oss_object, created_at_ms, finished_at_ms, "
                       "image_format, data_disks) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                       "$12, $13, $14, $15, $16)",
                       PgParams()
                           .Text(task.task_id)
                           .Text(task.account_id)
                           .Text(task.region_id)
                           .Int(task.image_rowid)
                           .Text(task.action)
                           .Text(task.status)
                           .Int(task.progress)
                           .Int(task.total_mib)
                           .Int(task.transferred_mib)
                           .Int(task.support_cancel)
                           .Text(task.oss_bucket)
                           .Text(task.oss_object)
                           .Int(task.created_at_ms)
                           .OptInt(task.finished_at_ms)
                           .Text(task.image_format)
                           .Text(task.data_disks))
                      .status());
  ASSIGN_OR_RETURN(std::optional<IoTaskRow> stored, GetIoTask(task.task_id));
  if (!stored.has_value()) {
    return absl::InternalError("inserted task not found");
  }
  task = *std::move(stored);
  return absl::OkStatus();
}

absl::Status PgTxn::UpdateIoTask(const IoTaskRow& task) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("UPDATE io_tasks SET phase_moves = phase_moves + "
                        "CASE WHEN status <> $1 THEN 1 ELSE 0 END, "
                        "status = $1, progress = $2, transferred_mib = $3, "
                        "finished_at_ms = $4 WHERE id = $5",
                        PgParams()
                            .Text(task.status)
                            .Int(task.progress)
                            .Int(task.transferred_mib)
                            .OptInt(task.finished_at_ms)
                            .Int(task.rowid)));
  return ExpectOne(r, "UpdateIoTask", task.rowid);
}

absl::Status PgTxn::AddShare(int64_t image_rowid, const std::string& account_id,
                             int64_t now_ms) {
  return Exec(
             "INSERT INTO shares (image_rowid, account_id, created_at_ms) "
             "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
             PgParams().Int(image_rowid).Text(account_id).Int(now_ms))
      .status();
}

absl::Status PgTxn::RemoveShare(int64_t image_rowid,
                                const std::string& account_id) {
  return Exec("DELETE FROM shares WHERE image_rowid = $1 AND account_id = $2",
              PgParams().Int(image_rowid).Text(account_id))
      .status();
}

absl::Status PgTxn::InsertInstance(InstanceRow& instance) {
  {
    ASSIGN_OR_RETURN(PgResult r,
                     Exec("SELECT 1 FROM instances WHERE instance_id = $1",
                          PgParams().Text(instance.instance_id)));
    if (r.rows() > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("instance ", instance.instance_id, " already exists"));
    }
  }
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("INSERT INTO instances (instance_id, account_id, "
                        "region_id, image_rowid, created_at_ms) "
                        "VALUES ($1, $2, $3, $4, $5) RETURNING id, "
                        "(SELECT image_id FROM images WHERE id = $4)",
                        PgParams()
                            .Text(instance.instance_id)
                            .Text(instance.account_id)
                            .Text(instance.region_id)
                            .Int(instance.image_rowid)
                            .Int(instance.created_at_ms)));
  instance.rowid = r.Int(0, 0);
  instance.image_id = r.Text(0, 1);
  return absl::OkStatus();
}

absl::Status PgTxn::ReleaseInstance(int64_t instance_rowid, int64_t now_ms) {
  {
    ASSIGN_OR_RETURN(PgResult r,
                     Exec("UPDATE instances SET released_at_ms = $1 "
                          "WHERE id = $2 AND released_at_ms IS NULL",
                          PgParams().Int(now_ms).Int(instance_rowid)));
    if (r.Affected() == 1) return absl::OkStatus();
  }
  // Releasing a released instance changes nothing; an unknown one is a bug.
  ASSIGN_OR_RETURN(PgResult r, Exec("SELECT 1 FROM instances WHERE id = $1",
                                    PgParams().Int(instance_rowid)));
  if (r.rows() > 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("ReleaseInstance: no instance with id ", instance_rowid));
}

absl::StatusOr<std::optional<WriteTxn::ReplicaSetting>>
PgTxn::GetReplicaSetting(const std::string& name) {
  // The row may not exist yet: an advisory lock on the name, not a row
  // lock, orders two replicas claiming it at once.
  RETURN_IF_ERROR(LockKey(
      absl::StrCat("ecsimage/replica-setting/", name.size(), ":", name)));
  ASSIGN_OR_RETURN(PgResult r, Exec("SELECT value, confirmed_at_ms FROM "
                                    "replica_settings WHERE name = $1",
                                    PgParams().Text(name)));
  if (r.rows() == 0) return std::nullopt;
  return ReplicaSetting{r.Text(0, 0), r.Int(0, 1)};
}

absl::Status PgTxn::PutReplicaSetting(const std::string& name,
                                      const std::string& value,
                                      int64_t confirmed_at_ms) {
  return Exec(
             "INSERT INTO replica_settings (name, value, confirmed_at_ms) "
             "VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET "
             "value = excluded.value, "
             "confirmed_at_ms = excluded.confirmed_at_ms",
             PgParams().Text(name).Text(value).Int(confirmed_at_ms))
      .status();
}

absl::Status PgTxn::PutClientToken(const std::string& account_id,
                                   const std::string& rpc,
                                   const std::string& token,
                                   const ClientTokenRow& row) {
  RETURN_IF_ERROR(
      LockKey(absl::StrCat("ecsimage/client-token/", account_id.size(), ":",
                           account_id, "/", rpc.size(), ":", rpc, "/", token)));
  return Exec(
             "INSERT INTO client_tokens (account_id, rpc, token, "
             "params_fingerprint, response, created_at_ms) "
             "VALUES ($1, $2, $3, $4, $5, $6) "
             "ON CONFLICT (account_id, rpc, token) DO UPDATE SET "
             "params_fingerprint = excluded.params_fingerprint, "
             "response = excluded.response, "
             "created_at_ms = excluded.created_at_ms",
             PgParams()
                 .Text(account_id)
                 .Text(rpc)
                 .Text(token)
                 .Bytes(row.params_fingerprint)
                 .Bytes(row.response)
                 .Int(row.created_at_ms))
      .status();
}

absl::Status PgTxn::InsertAccount(const AccountRow& account,
                                  const std::string& token_sha256) {
  ASSIGN_OR_RETURN(bool exists, AccountExists(account.account_id));
  if (exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("account ", account.account_id, " already exists"));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> owner,
                   AccountOfToken(token_sha256));
  if (owner.has_value())
    return absl::AlreadyExistsError("token already exists");
  RETURN_IF_ERROR(Exec("INSERT INTO accounts (account_id, name, "
                       "created_at_ms) VALUES ($1, $2, $3)",
                       PgParams()
                           .Text(account.account_id)
                           .Text(account.name)
                           .Int(account.created_at_ms))
                      .status());
  return Exec(
             "INSERT INTO tokens (token_sha256, account_id, created_at_ms) "
             "VALUES ($1, $2, $3)",
             PgParams()
                 .Bytes(token_sha256)
                 .Text(account.account_id)
                 .Int(account.created_at_ms))
      .status();
}

absl::Status PgTxn::InsertToken(const TokenRow& token) {
  ASSIGN_OR_RETURN(std::optional<std::string> owner,
                   AccountOfToken(token.token_sha256));
  if (owner.has_value())
    return absl::AlreadyExistsError("token already exists");
  return Exec(
             "INSERT INTO tokens (token_sha256, account_id, created_at_ms) "
             "VALUES ($1, $2, $3)",
             PgParams()
                 .Bytes(token.token_sha256)
                 .Text(token.account_id)
                 .Int(token.created_at_ms))
      .status();
}

absl::StatusOr<std::optional<std::string>> PgTxn::AccountOfToken(
    const std::string& token_sha256) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT account_id FROM tokens WHERE token_sha256 = $1",
                        PgParams().Bytes(token_sha256)));
  if (r.rows() == 0) return std::nullopt;
  return r.Text(0, 0);
}

absl::StatusOr<std::optional<std::string>> PgTxn::OldestAccountNamed(
    const std::string& name) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT account_id FROM accounts WHERE name = $1 "
                        "ORDER BY created_at_ms, account_id COLLATE \"C\" "
                        "LIMIT 1",
                        PgParams().Text(name)));
  if (r.rows() == 0) return std::nullopt;
  return r.Text(0, 0);
}

absl::StatusOr<int64_t> PgTxn::DeleteToken(const std::string& account_id,
                                           const std::string& token_sha256) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("DELETE FROM tokens WHERE token_sha256 = $1 AND "
                        "account_id = $2",
                        PgParams().Bytes(token_sha256).Text(account_id)));
  return r.Affected();
}

absl::Status PgTxn::InsertRegion(const RegionRow& region) {
  ASSIGN_OR_RETURN(bool exists, RegionExists(region.region_id));
  if (exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("region ", region.region_id, " already exists"));
  }
  inserted_region_ = true;
  return Exec(
             "INSERT INTO regions (region_id, local_name, endpoint) "
             "VALUES ($1, $2, $3)",
             PgParams()
                 .Text(region.region_id)
                 .Text(region.local_name)
                 .Text(region.endpoint))
      .status();
}

absl::Status PgTxn::PruneClientTokens(int64_t cutoff_ms) {
  return Exec("DELETE FROM client_tokens WHERE created_at_ms < $1",
              PgParams().Int(cutoff_ms))
      .status();
}

}  // namespace ecsimage::storage::pg

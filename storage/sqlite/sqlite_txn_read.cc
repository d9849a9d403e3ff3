// ReadTxn methods of SqliteTxn (ListImages is in sqlite_list_images.cc).
// Every WHERE clause that should use a partial index repeats the index's
// WHERE terms as written in migrations/0002_*.sql.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage {

const char kImageColumns[] =
    "i.id, i.image_id, i.region_id, i.owner_account_id, i.is_system, i.name, "
    "i.description, i.status, i.progress, i.size_gib, i.architecture, "
    "i.os_type, i.platform, i.is_copied, i.is_public, i.created_at_ms, "
    "i.deleted_at_ms, i.creating_remaining_ms, i.live_instance_count";

const char kCopyColumns[] =
    "c.id, c.account_id, c.source_image_rowid, c.dest_image_rowid, "
    "s.image_id, s.region_id, d.image_id, c.dest_region_id, c.phase, "
    "c.progress, c.total_mib, c.transferred_mib, c.encrypted, c.kms_key_id, "
    "c.support_cancel, c.created_at_ms, c.phase_changed_at_ms, "
    "c.phase_moves, c.lease_owner, c.lease_epoch "
    "FROM copy_tasks c "
    "JOIN images s ON s.id = c.source_image_rowid "
    "JOIN images d ON d.id = c.dest_image_rowid";

const char kIoTaskColumns[] =
    "t.id, t.task_id, t.account_id, t.region_id, t.image_rowid, i.image_id, "
    "t.action, t.status, t.progress, t.total_mib, t.transferred_mib, "
    "t.support_cancel, t.oss_bucket, t.oss_object, t.created_at_ms, "
    "t.finished_at_ms, t.phase_moves, t.lease_owner, t.lease_epoch, "
    "t.image_format, t.data_disks FROM io_tasks t JOIN images i ON i.id = "
    "t.image_rowid";

namespace {

// By the primary key; images_live_by_owner would not help (every owner).
constexpr char kFinishedCustomImagesSql[] =
    "SELECT id, image_id, region_id, status FROM images WHERE id > ?1 AND "
    "is_system = 0 AND deleted_at_ms IS NULL AND status IN ('Available', "
    "'Deprecated') ORDER BY id LIMIT ?2";

// Spelled as the partial indexes copy_tasks_active(_by_source) spell it
// (migration 0005), so that the planner uses them.
constexpr char kNonTerminalPhase[] =
    "c.phase <> 'SUCCEEDED' AND c.phase <> 'FAILED' AND "
    "c.phase <> 'CANCELLED'";

CopyTaskRow ReadCopy(const Stmt& q) {
  CopyTaskRow c;
  c.rowid = q.Int(0);
  c.account_id = q.Text(1);
  c.source_image_rowid = q.Int(2);
  c.dest_image_rowid = q.Int(3);
  c.source_image_id = q.Text(4);
  c.source_region_id = q.Text(5);
  c.dest_image_id = q.Text(6);
  c.dest_region_id = q.Text(7);
  c.phase = q.Text(8);
  c.progress = static_cast<int32_t>(q.Int(9));
  c.total_mib = q.Int(10);
  c.transferred_mib = q.Int(11);
  c.encrypted = q.Bool(12);
  c.kms_key_id = q.Text(13);
  c.support_cancel = q.Bool(14);
  c.created_at_ms = q.Int(15);
  c.phase_changed_at_ms = q.Int(16);
  c.phase_moves = q.Int(17);
  c.lease_owner = q.Text(18);
  c.lease_epoch = q.Int(19);
  return c;
}

IoTaskRow ReadIoTask(const Stmt& q) {
  IoTaskRow t;
  t.rowid = q.Int(0);
  t.task_id = q.Text(1);
  t.account_id = q.Text(2);
  t.region_id = q.Text(3);
  t.image_rowid = q.Int(4);
  t.image_id = q.Text(5);
  t.action = q.Text(6);
  t.status = q.Text(7);
  t.progress = static_cast<int32_t>(q.Int(8));
  t.total_mib = q.Int(9);
  t.transferred_mib = q.Int(10);
  t.support_cancel = q.Bool(11);
  t.oss_bucket = q.Text(12);
  t.oss_object = q.Text(13);
  t.created_at_ms = q.Int(14);
  t.finished_at_ms = q.OptInt(15);
  t.phase_moves = q.Int(16);
  t.lease_owner = q.Text(17);
  t.lease_epoch = q.Int(18);
  t.image_format = q.Text(19);
  t.data_disks = q.Text(20);
  return t;
}

InstanceRow ReadInstance(const Stmt& q) {
  InstanceRow r;
  r.rowid = q.Int(0);
  r.instance_id = q.Text(1);
  r.account_id = q.Text(2);
  r.region_id = q.Text(3);
  r.image_rowid = q.Int(4);
  r.image_id = q.Text(5);
  r.created_at_ms = q.Int(6);
  return r;
}

// Rows of a statement whose columns start with kCopyColumns/kIoTaskColumns.
template <typename Row, typename ReadFn>
absl::StatusOr<std::vector<Row>> ReadAll(Stmt& q, ReadFn read) {
  std::vector<Row> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    rows.push_back(read(q));
  }
  return rows;
}

template <typename Row>
std::optional<Row> First(std::vector<Row> rows) {
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

}  // namespace

ImageRow SqliteTxn::ReadImage(const Stmt& q, int first) {
  ImageRow r;
  r.rowid = q.Int(first + 0);
  r.image_id = q.Text(first + 1);
  r.region_id = q.Text(first + 2);
  r.owner_account_id = q.Text(first + 3);
  r.is_system = q.Bool(first + 4);
  r.name = q.Text(first + 5);
  r.description = q.Text(first + 6);
  r.status = q.Text(first + 7);
  r.progress = static_cast<int32_t>(q.Int(first + 8));
  r.size_gib = static_cast<int32_t>(q.Int(first + 9));
  r.architecture = q.Text(first + 10);
  r.os_type = q.Text(first + 11);
  r.platform = q.Text(first + 12);
  r.is_copied = q.Bool(first + 13);
  r.is_public = q.Bool(first + 14);
  r.created_at_ms = q.Int(first + 15);
  r.deleted_at_ms = q.OptInt(first + 16);
  r.creating_remaining_ms = q.Int(first + 17);
  r.live_instance_count = q.Int(first + 18);
  return r;
}

absl::Status SqliteTxn::FillDisks(ImageRow& image) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("SELECT device, type, snapshot_id, size_gib "
                                 "FROM disk_mappings WHERE image_rowid = ? "
                                 "ORDER BY ordinal"));
  q.Bind(image.rowid);
  image.disks.clear();
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    DiskMappingRow d;
    d.device = q.Text(0);
    d.type = q.Text(1);
    d.snapshot_id = q.Text(2);
    d.size_gib = static_cast<int32_t>(q.Int(3));
    image.disks.push_back(std::move(d));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ImageRow>> SqliteTxn::ImagesToOne(Stmt& q) {
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  ImageRow image = ReadImage(q, 0);
  RETURN_IF_ERROR(FillDisks(image));
  return image;
}

absl::StatusOr<bool> SqliteTxn::RegionExists(const std::string& region_id) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("SELECT 1 FROM regions WHERE region_id = ?"));
  q.Bind(region_id);
  return q.Step();
}

absl::StatusOr<std::vector<RegionRow>> SqliteTxn::ListRegions() {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("SELECT region_id, local_name, "
                                         "endpoint FROM regions "
                                         "ORDER BY region_id"));
  return ReadAll<RegionRow>(q, [](const Stmt& q) {
    return RegionRow{q.Text(0), q.Text(1), q.Text(2)};
  });
}

absl::StatusOr<bool> SqliteTxn::AccountExists(const std::string& account_id) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("SELECT 1 FROM accounts WHERE account_id = ?"));
  q.Bind(account_id);
  return q.Step();
}

absl::StatusOr<std::optional<ImageRow>> SqliteTxn::GetImage(
    const std::string& region_id, const std::string& image_id) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(absl::StrCat(
                               "SELECT ", kImageColumns,
                               " FROM images i WHERE i.region_id = ? AND "
                               "i.image_id = ?")));
  q.BindAll(region_id, image_id);
  return ImagesToOne(q);
}

absl::StatusOr<std::optional<ImageRow>> SqliteTxn::GetImageByRowid(
    int64_t rowid) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare(absl::StrCat("SELECT ", kImageColumns,
                                         " FROM images i WHERE i.id = ?")));
  q.Bind(rowid);
  return ImagesToOne(q);
}

absl::StatusOr<std::optional<ImageRow>> SqliteTxn::FindLiveImageByName(
    const std::string& account_id, const std::string& region_id,
    const std::string& name) {
  if (name.empty() || account_id.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(
      Stmt q,
      conn_.Prepare(absl::StrCat(
          "SELECT ", kImageColumns,
          " FROM images i WHERE i.owner_account_id = ? AND i.region_id = ? "
          "AND i.name = ? AND i.name <> '' AND i.deleted_at_ms IS NULL")));
  q.BindAll(account_id, region_id, name);
  return ImagesToOne(q);
}

absl::StatusOr<int64_t> SqliteTxn::SumImageCounts(
    const std::string& owner_key, const std::string& region_id,
    const std::vector<std::string>* statuses) {
  return SumCounts("image_counts", "owner_key", owner_key, region_id, statuses);
}

absl::StatusOr<int64_t> SqliteTxn::SumVisibleCounts(
    const std::string& viewer_key, const std::string& region_id,
    const std::vector<std::string>& statuses) {
  return SumCounts("visible_counts", "viewer_key", viewer_key, region_id,
                   &statuses);
}

absl::StatusOr<int64_t> SqliteTxn::SumCounts(
    const char* counter_table, const char* key_column, const std::string& key,
    const std::string& region_id, const std::vector<std::string>* statuses) {
  std::string sql =
      absl::StrCat("SELECT coalesce(sum(live_count), 0) FROM ", counter_table,
                   " WHERE ", key_column, " = ? AND region_id = ?");
  if (statuses != nullptr) {
    absl::StrAppend(&sql, " AND status IN (");
    for (size_t i = 0; i < statuses->size(); ++i) {
      absl::StrAppend(&sql, i == 0 ? "?" : ", ?");
    }
    absl::StrAppend(&sql, ")");
  }
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(sql));
  q.BindAll(key, region_id);
  if (statuses != nullptr) {
    for (const std::string& s : *statuses) q.Bind(s);
  }
  RETURN_IF_ERROR(q.StepRow());
  return q.Int(0);
}

absl::StatusOr<int64_t> SqliteTxn::CountLiveImages(
    const std::string& account_id, const std::string& region_id) {
  if (account_id.empty()) return 0;
  return SumImageCounts(account_id, region_id, nullptr);
}

absl::StatusOr<std::vector<CopyTaskRow>> SqliteTxn::QueryCopies(
    const std::string& sql, int64_t param) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(sql));
  q.Bind(param);
  return ReadAll<CopyTaskRow>(q, ReadCopy);
}

absl::StatusOr<std::optional<CopyTaskRow>> SqliteTxn::GetCopyByDest(
    int64_t dest_image_rowid) {
  ASSIGN_OR_RETURN(auto rows,
                   QueryCopies(absl::StrCat("SELECT ", kCopyColumns,
                                            " WHERE c.dest_image_rowid = ?"),
                               dest_image_rowid));
  return First(std::move(rows));
}

absl::StatusOr<std::optional<CopyTaskRow>> SqliteTxn::GetActiveCopyBySource(
    int64_t source_image_rowid) {
  ASSIGN_OR_RETURN(
      auto rows,
      QueryCopies(absl::StrCat("SELECT ", kCopyColumns,
                               " WHERE c.source_image_rowid = ? AND ",
                               kNonTerminalPhase, " ORDER BY c.id LIMIT 1"),
                  source_image_rowid));
  return First(std::move(rows));
}

absl::StatusOr<int64_t> SqliteTxn::CountRunningCopies(
    const std::string& account_id, const std::string& dest_region_id) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("SELECT count(*) FROM copy_tasks "
                            "WHERE account_id = ? AND dest_region_id = ? AND "
                            "(phase = 'PREPARING' OR phase = 'TRANSFERRING' "
                            "OR phase = 'REGISTERING')"));
  q.BindAll(account_id, dest_region_id);
  RETURN_IF_ERROR(q.StepRow());
  return q.Int(0);
}

absl::StatusOr<std::vector<CopyTaskRow>> SqliteTxn::ListActiveCopies(
    int64_t limit, const std::string& lease_owner, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare(absl::StrCat(
                       "SELECT ", kCopyColumns, " WHERE ", kNonTerminalPhase,
                       " AND (?1 = '' OR (c.lease_owner = ?1 AND "
                       "c.lease_expires_at_ms > ?2)) ORDER BY c.id LIMIT ?3")));
  q.BindAll(lease_owner, now_ms, limit);
  return ReadAll<CopyTaskRow>(q, ReadCopy);
}

absl::StatusOr<std::vector<IoTaskRow>> SqliteTxn::QueryIoTasks(Stmt& q) {
  return ReadAll<IoTaskRow>(q, ReadIoTask);
}

absl::StatusOr<std::optional<IoTaskRow>> SqliteTxn::GetIoTask(
    const std::string& task_id) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(absl::StrCat("SELECT ", kIoTaskColumns,
                                                      " WHERE t.task_id = ?")));
  q.Bind(task_id);
  ASSIGN_OR_RETURN(auto rows, QueryIoTasks(q));
  return First(std::move(rows));
}

absl::StatusOr<std::optional<IoTaskRow>> SqliteTxn::GetActiveIoTask(
    int64_t image_rowid, const std::string& action) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare(absl::StrCat(
                  "SELECT ", kIoTaskColumns,
                  " WHERE t.image_rowid = ? AND t.action = ? AND t.status IN "
                  "('Waiting', 'Processing') ORDER BY t.id LIMIT 1")));
  q.BindAll(image_rowid, action);
  ASSIGN_OR_RETURN(auto rows, QueryIoTasks(q));
  return First(std::move(rows));
}

absl::StatusOr<std::vector<IoTaskRow>> SqliteTxn::ListActiveIoTasks(
    int64_t limit, const std::string& lease_owner, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare(absl::StrCat(
                       "SELECT ", kIoTaskColumns,
                       " WHERE t.status IN ('Waiting', 'Processing') AND "
                       "(?1 = '' OR (t.lease_owner = ?1 AND "
                       "t.lease_expires_at_ms > ?2)) ORDER BY t.id LIMIT ?3")));
  q.BindAll(lease_owner, now_ms, limit);
  return QueryIoTasks(q);
}

absl::StatusOr<std::pair<int64_t, std::vector<IoTaskRow>>>
SqliteTxn::ListIoTasks(const IoTaskQuery& query) {
  // Shared WHERE clause of the count and the page; parameters in order.
  std::string where = "t.account_id = ? AND t.region_id = ?";
  if (!query.task_ids.empty()) {
    absl::StrAppend(&where, " AND t.task_id IN (");
    for (size_t i = 0; i < query.task_ids.size(); ++i) {
      absl::StrAppend(&where, i == 0 ? "?" : ", ?");
    }
    absl::StrAppend(&where, ")");
  }
  if (!query.action.empty()) absl::StrAppend(&where, " AND t.action = ?");
  if (!query.status.empty()) absl::StrAppend(&where, " AND t.status = ?");
  auto bind_where = [&](Stmt& q) {
    q.BindAll(query.account_id, query.region_id);
    for (const std::string& id : query.task_ids) q.Bind(id);
    if (!query.action.empty()) q.Bind(query.action);
    if (!query.status.empty()) q.Bind(query.status);
  };

  int64_t total = 0;
  {
    ASSIGN_OR_RETURN(Stmt q,
                     conn_.Prepare(absl::StrCat(
                         "SELECT count(*) FROM io_tasks t WHERE ", where)));
    bind_where(q);
    RETURN_IF_ERROR(q.StepRow());
    total = q.Int(0);
  }
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(absl::StrCat("SELECT ", kIoTaskColumns,
                                                      " WHERE ", where,
                                                      " ORDER BY t.id DESC "
                                                      "LIMIT ? OFFSET ?")));
  bind_where(q);
  q.BindAll(query.limit, query.offset);
  ASSIGN_OR_RETURN(auto rows, QueryIoTasks(q));
  return std::make_pair(total, std::move(rows));
}

absl::StatusOr<std::vector<ImageRow>> SqliteTxn::ListCreatingImages(
    int64_t limit, const std::string& lease_owner, int64_t now_ms) {
  std::vector<ImageRow> images;
  {
    ASSIGN_OR_RETURN(
        Stmt q, conn_.Prepare(absl::StrCat(
                    "SELECT ", kImageColumns,
                    " FROM images i WHERE i.status = 'Creating' AND "
                    "i.deleted_at_ms IS NULL AND i.is_copied = 0 AND "
                    "i.creating_remaining_ms > 0 AND NOT EXISTS (SELECT 1 FROM "
                    "io_tasks t WHERE t.image_rowid = i.id AND "
                    "t.action = 'ImportImage') AND (?1 = '' OR "
                    "(i.lease_owner = ?1 AND i.lease_expires_at_ms > ?2)) "
                    "ORDER BY i.id LIMIT ?3")));
    q.BindAll(lease_owner, now_ms, limit);
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      images.push_back(ReadImage(q, 0));
    }
  }
  for (ImageRow& image : images) RETURN_IF_ERROR(FillDisks(image));
  return images;
}

absl::StatusOr<std::vector<ImageRow>> SqliteTxn::ListFinishedCustomImages(
    int64_t after_rowid, int64_t limit) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(kFinishedCustomImagesSql));
  q.BindAll(after_rowid, limit);
  std::vector<ImageRow> images;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ImageRow image;
    image.rowid = q.Int(0);
    image.image_id = q.Text(1);
    image.region_id = q.Text(2);
    image.status = q.Text(3);
    images.push_back(std::move(image));
  }
  return images;
}

absl::StatusOr<int64_t> SqliteTxn::CountShares(int64_t image_rowid) {
  ASSIGN_OR_RETURN(
      Stmt q,
      conn_.Prepare("SELECT count(*) FROM shares WHERE image_rowid = ?"));
  q.Bind(image_rowid);
  RETURN_IF_ERROR(q.StepRow());
  return q.Int(0);
}

absl::StatusOr<bool> SqliteTxn::HasShare(int64_t image_rowid,
                                         const std::string& account_id) {
  ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("SELECT 1 FROM shares WHERE "
                                         "image_rowid = ? AND account_id = ?"));
  q.BindAll(image_rowid, account_id);
  return q.Step();
}

absl::StatusOr<std::vector<ShareRow>> SqliteTxn::ListShares(int64_t image_rowid,
                                                            int64_t offset,
                                                            int64_t limit) {
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("SELECT account_id, created_at_ms FROM shares "
                            "WHERE image_rowid = ? "
                            "ORDER BY created_at_ms, rowid LIMIT ? OFFSET ?"));
  q.BindAll(image_rowid, limit, offset);
  return ReadAll<ShareRow>(q, [](const Stmt& q) {
    return ShareRow{q.Text(0), q.Int(1)};
  });
}

absl::StatusOr<std::optional<InstanceRow>> SqliteTxn::GetLiveInstance(
    const std::string& instance_id) {
  ASSIGN_OR_RETURN(
      Stmt q,
      conn_.Prepare("SELECT n.id, n.instance_id, n.account_id, n.region_id, "
                    "n.image_rowid, i.image_id, n.created_at_ms "
                    "FROM instances n JOIN images i ON i.id = n.image_rowid "
                    "WHERE n.instance_id = ? AND n.released_at_ms IS NULL"));
  q.Bind(instance_id);
  ASSIGN_OR_RETURN(auto rows, ReadAll<InstanceRow>(q, ReadInstance));
  return First(std::move(rows));
}

absl::StatusOr<std::pair<int64_t, std::vector<InstanceRef>>>
SqliteTxn::ListInstanceRefs(int64_t image_rowid, int64_t limit) {
  int64_t total = 0;
  {
    ASSIGN_OR_RETURN(Stmt q, conn_.Prepare("SELECT live_instance_count FROM "
                                           "images WHERE id = ?"));
    q.Bind(image_rowid);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) total = q.Int(0);
  }
  ASSIGN_OR_RETURN(
      Stmt q, conn_.Prepare("SELECT instance_id, account_id FROM instances "
                            "WHERE image_rowid = ? AND released_at_ms IS NULL "
                            "ORDER BY id LIMIT ?"));
  q.BindAll(image_rowid, limit);
  ASSIGN_OR_RETURN(auto refs, ReadAll<InstanceRef>(q, [](const Stmt& q) {
                     return InstanceRef{q.Text(0), q.Text(1)};
                   }));
  return std::make_pair(total, std::move(refs));
}

absl::StatusOr<std::pair<int64_t, std::vector<InstanceRow>>>
SqliteTxn::ListInstances(const std::string& account_id,
                         const std::string& region_id,
                         std::optional<int64_t> image_rowid, int64_t offset,
                         int64_t limit) {
  const std::string where = absl::StrCat(
      "n.account_id = ? AND n.region_id = ? AND n.released_at_ms IS NULL",
      image_rowid.has_value() ? " AND n.image_rowid = ?" : "");
  auto bind_where = [&](Stmt& q) {
    q.BindAll(account_id, region_id);
    if (image_rowid.has_value()) q.Bind(*image_rowid);
  };
  int64_t total = 0;
  {
    ASSIGN_OR_RETURN(Stmt q,
                     conn_.Prepare(absl::StrCat(
                         "SELECT count(*) FROM instances n WHERE ", where)));
    bind_where(q);
    RETURN_IF_ERROR(q.StepRow());
    total = q.Int(0);
  }
  ASSIGN_OR_RETURN(
      Stmt q,
      conn_.Prepare(absl::StrCat(
          "SELECT n.id, n.instance_id, n.account_id, n.region_id, "
          "n.image_rowid, i.image_id, n.created_at_ms "
          "FROM instances n JOIN images i ON i.id = n.image_rowid WHERE ",
          where, " ORDER BY n.id DESC LIMIT ? OFFSET ?")));
  bind_where(q);
  q.BindAll(limit, offset);
  ASSIGN_OR_RETURN(auto rows, ReadAll<InstanceRow>(q, ReadInstance));
  return std::make_pair(total, std::move(rows));
}

absl::StatusOr<std::optional<ClientTokenRow>> SqliteTxn::GetClientToken(
    const std::string& account_id, const std::string& rpc,
    const std::string& token) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("SELECT params_fingerprint, response, "
                                 "created_at_ms FROM client_tokens WHERE "
                                 "account_id = ? AND rpc = ? AND token = ?"));
  q.BindAll(account_id, rpc, token);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return ClientTokenRow{q.Text(0), q.Text(1), q.Int(2)};
}

absl::StatusOr<std::vector<TokenRow>> SqliteTxn::ListTokens(
    const std::string& account_id) {
  ASSIGN_OR_RETURN(Stmt q,
                   conn_.Prepare("SELECT token_sha256, account_id, "
                                 "created_at_ms FROM tokens "
                                 "WHERE account_id = ? "
                                 "ORDER BY created_at_ms, token_sha256"));
  q.Bind(account_id);
  return ReadAll<TokenRow>(q, [](const Stmt& q) {
    return TokenRow{q.Text(0), q.Text(1), q.Int(2)};
  });
}

}  // namespace ecsimage::storage

// ReadTxn methods of PgTxn (ListImages is in pg_list_images.cc). Queries
// are SQLite's (storage/sqlite/sqlite_txn_read.cc) with $n parameters; the
// WHERE terms of partial indexes are spelled as in the baseline migration.
// Inside write transactions, reads by key lock their row (see pg_txn.h).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg {

const char kImageColumns[] =
    "i.id, i.image_id, i.region_id, i.owner_account_id, i.is_system, i.name, "
    "i.description, i.status, i.progress, i.size_gib, i.architecture, "
    "i.os_type, i.platform, i.is_copied, i.is_public, i.created_at_ms, "
    "i.deleted_at_ms, i.creating_remaining_ms, i.live_instance_count";

const char kImageCountsFromRows[] =
    "SELECT coalesce(owner_account_id, '') AS owner_key, region_id, status, "
    "count(*) AS live_count FROM images WHERE deleted_at_ms IS NULL "
    "GROUP BY 1, 2, 3";

const char kLiveInstancesFromRows[] =
    "SELECT image_rowid, count(*) AS n FROM instances "
    "WHERE released_at_ms IS NULL GROUP BY image_rowid";

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

constexpr char kNonTerminalPhase[] =
    "c.phase <> 'SUCCEEDED' AND c.phase <> 'FAILED' AND "
    "c.phase <> 'CANCELLED'";

bool KnownImageStatus(const std::string& s) {
  return s == "Waiting" || s == "Creating" || s == "Available" ||
         s == "UnAvailable" || s == "CreateFailed" || s == "Deprecated";
}

bool IsFlag(const PgResult& r, int row, int col) {
  const std::string v = r.Text(row, col);
  return v == "0" || v == "1";
}

CopyTaskRow ReadCopy(const PgResult& r, int i) {
  CopyTaskRow c;
  c.rowid = r.Int(i, 0);
  c.account_id = r.Text(i, 1);
  c.source_image_rowid = r.Int(i, 2);
  c.dest_image_rowid = r.Int(i, 3);
  c.source_image_id = r.Text(i, 4);
  c.source_region_id = r.Text(i, 5);
  c.dest_image_id = r.Text(i, 6);
  c.dest_region_id = r.Text(i, 7);
  c.phase = r.Text(i, 8);
  c.progress = static_cast<int32_t>(r.Int(i, 9));
  c.total_mib = r.Int(i, 10);
  c.transferred_mib = r.Int(i, 11);
  c.encrypted = r.Bool(i, 12);
  c.kms_key_id = r.Text(i, 13);
  c.support_cancel = r.Bool(i, 14);
  c.created_at_ms = r.Int(i, 15);
  c.phase_changed_at_ms = r.Int(i, 16);
  c.phase_moves = r.Int(i, 17);
  c.lease_owner = r.Text(i, 18);
  c.lease_epoch = r.Int(i, 19);
  return c;
}

IoTaskRow ReadIoTask(const PgResult& r, int i) {
  IoTaskRow t;
  t.rowid = r.Int(i, 0);
  t.task_id = r.Text(i, 1);
  t.account_id = r.Text(i, 2);
  t.region_id = r.Text(i, 3);
  t.image_rowid = r.Int(i, 4);
  t.image_id = r.Text(i, 5);
  t.action = r.Text(i, 6);
  t.status = r.Text(i, 7);
  t.progress = static_cast<int32_t>(r.Int(i, 8));
  t.total_mib = r.Int(i, 9);
  t.transferred_mib = r.Int(i, 10);
  t.support_cancel = r.Bool(i, 11);
  t.oss_bucket = r.Text(i, 12);
  t.oss_object = r.Text(i, 13);
  t.created_at_ms = r.Int(i, 14);
  t.finished_at_ms = r.OptInt(i, 15);
  t.phase_moves = r.Int(i, 16);
  t.lease_owner = r.Text(i, 17);
  t.lease_epoch = r.Int(i, 18);
  t.image_format = r.Text(i, 19);
  t.data_disks = r.Text(i, 20);
  return t;
}

InstanceRow ReadInstance(const PgResult& r, int i) {
  InstanceRow n;
  n.rowid = r.Int(i, 0);
  n.instance_id = r.Text(i, 1);
  n.account_id = r.Text(i, 2);
  n.region_id = r.Text(i, 3);
  n.image_rowid = r.Int(i, 4);
  n.image_id = r.Text(i, 5);
  n.created_at_ms = r.Int(i, 6);
  return n;
}

template <typename Row>
std::optional<Row> First(std::vector<Row> rows) {
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

}  // namespace

absl::StatusOr<ImageRow> ReadImageRow(const PgResult& r, int i) {
  ImageRow m;
  m.rowid = r.Int(i, 0);
  m.image_id = r.Text(i, 1);
  m.region_id = r.Text(i, 2);
  m.owner_account_id = r.IsNull(i, 3) ? "" : r.Text(i, 3);
  m.is_system = r.Bool(i, 4);
  m.name = r.Text(i, 5);
  m.description = r.Text(i, 6);
  m.status = r.Text(i, 7);
  m.progress = static_cast<int32_t>(r.Int(i, 8));
  m.size_gib = static_cast<int32_t>(r.Int(i, 9));
  m.architecture = r.Text(i, 10);
  m.os_type = r.Text(i, 11);
  m.platform = r.Text(i, 12);
  m.is_copied = r.Bool(i, 13);
  m.is_public = r.Bool(i, 14);
  m.created_at_ms = r.Int(i, 15);
  m.deleted_at_ms = r.OptInt(i, 16);
  m.creating_remaining_ms = r.Int(i, 17);
  m.live_instance_count = r.Int(i, 18);
  // The schema's CHECKs promise these; a row breaking them was written
  // behind the store's back (or the schema was altered): refuse to use it.
  const int64_t progress = r.Int(i, 8);
  if (!KnownImageStatus(m.status) || progress < 0 || progress > 100 ||
      !IsFlag(r, i, 4) || !IsFlag(r, i, 13) || !IsFlag(r, i, 14) ||
      m.is_system != r.IsNull(i, 3) || m.size_gib < 0 ||
      m.live_instance_count < 0) {
    return absl::InternalError(
        absl::StrCat("image row ", m.rowid, " breaks the schema's invariants"));
  }
  return m;
}

std::string PgTxn::ForUpdate(const char* table) const {
  if (!write_) return "";
  return table == nullptr ? " FOR UPDATE"
                          : absl::StrCat(" FOR UPDATE OF ", table);
}

absl::StatusOr<PgResult> PgTxn::Exec(const std::string& sql,
                                     const PgParams& params) {
  absl::StatusOr<PgResult> r = conn_.Exec(sql, params);
  if (!r.ok() && IsRetryableSqlstate(conn_.last_sqlstate())) {
    retry_sqlstate_ = conn_.last_sqlstate();
  }
  return r;
}

absl::StatusOr<std::vector<PgResult>> PgTxn::ExecPipeline(
    const std::vector<PgStatement>& statements) {
  absl::StatusOr<std::vector<PgResult>> r = conn_.ExecPipeline(statements);
  if (!r.ok() && IsRetryableSqlstate(conn_.last_sqlstate())) {
    retry_sqlstate_ = conn_.last_sqlstate();
  }
  return r;
}

absl::Status PgTxn::LockKey(const std::string& key) {
  if (!write_ || !locked_keys_.insert(key).second) return absl::OkStatus();
  // hashtextextended: a 64-bit key; the migration lock uses the two-int4
  // form, a separate key space.
  return Exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
              PgParams().Text(key))
      .status();
}

absl::Status PgTxn::LockAccountRegion(const std::string& account_id,
                                      const std::string& region_id) {
  return LockKey(absl::StrCat("ecsimage/account-region/", account_id.size(),
                              ":", account_id, "/", region_id));
}

absl::Status PgTxn::FillDisks(std::vector<ImageRow>& images) {
  if (images.empty()) return absl::OkStatus();
  // One round trip for all of them (a DescribeImages page has 100).
  std::vector<std::string> rowids;
  rowids.reserve(images.size());
  for (const ImageRow& image : images) {
    rowids.push_back(absl::StrCat(image.rowid));
  }
  ASSIGN_OR_RETURN(
      PgResult r,
      Exec("SELECT image_rowid, device, type, snapshot_id, size_gib "
           "FROM disk_mappings WHERE image_rowid = ANY($1::text[]::bigint[]) "
           "ORDER BY image_rowid, ordinal",
           PgParams().TextArray(rowids)));
  AssignDisks(r, images);
  return absl::OkStatus();
}

void PgTxn::AssignDisks(const PgResult& r, std::vector<ImageRow>& images) {
  std::map<int64_t, std::vector<DiskMappingRow>> by_image;
  for (int i = 0; i < r.rows(); ++i) {
    by_image[r.Int(i, 0)].push_back({r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
                                     static_cast<int32_t>(r.Int(i, 4))});
  }
  for (ImageRow& image : images) {
    auto it = by_image.find(image.rowid);
    image.disks.clear();
    if (it != by_image.end()) image.disks = it->second;
  }
}

absl::StatusOr<std::vector<ImageRow>> PgTxn::ImagesByRowids(
    const std::vector<int64_t>& rowids) {
  std::vector<std::string> ids;
  ids.reserve(rowids.size());
  for (int64_t id : rowids) ids.push_back(absl::StrCat(id));
  ASSIGN_OR_RETURN(std::vector<ImageRow> found,
                   ImagesWithDisks(absl::StrCat("SELECT ", kImageColumns,
                                                " FROM images i WHERE i.id = "
                                                "ANY($1::text[]::bigint[])"),
                                   PgParams().TextArray(ids)));
  std::map<int64_t, size_t> at;
  for (size_t i = 0; i < found.size(); ++i) at[found[i].rowid] = i;
  std::vector<ImageRow> out;
  out.reserve(rowids.size());
  for (int64_t id : rowids) {
    auto it = at.find(id);
    if (it == at.end()) {
      return absl::InternalError(
          absl::StrCat("image row ", id, " vanished inside a snapshot"));
    }
    out.push_back(found[it->second]);
  }
  return out;
}

absl::StatusOr<std::vector<ImageRow>> PgTxn::ImagesWithDisks(
    const std::string& sql, const PgParams& params) {
  ASSIGN_OR_RETURN(PgResult r, Exec(sql, params));
  std::vector<ImageRow> images;
  images.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    ASSIGN_OR_RETURN(ImageRow image, ReadImageRow(r, i));
    images.push_back(std::move(image));
  }
  RETURN_IF_ERROR(FillDisks(images));
  return images;
}

absl::StatusOr<std::optional<ImageRow>> PgTxn::OneImage(
    const std::string& sql, const PgParams& params) {
  ASSIGN_OR_RETURN(std::vector<ImageRow> images, ImagesWithDisks(sql, params));
  return First(std::move(images));
}

absl::StatusOr<bool> PgTxn::RegionExists(const std::string& region_id) {
  if (conn_.KnowsRegion(region_id)) return true;
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT 1 FROM regions WHERE region_id = $1",
                        PgParams().Text(region_id)));
  if (r.rows() == 0) return false;
  // Only committed rows are remembered: not one this transaction inserted.
  if (!inserted_region_) conn_.RememberRegion(region_id);
  return true;
}

absl::StatusOr<std::vector<RegionRow>> PgTxn::ListRegions() {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT region_id, local_name, endpoint "
                        "FROM regions ORDER BY region_id COLLATE \"C\""));
  std::vector<RegionRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.Text(i, 0), r.Text(i, 1), r.Text(i, 2)});
  }
  return out;
}

absl::StatusOr<bool> PgTxn::AccountExists(const std::string& account_id) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT 1 FROM accounts WHERE account_id = $1",
                        PgParams().Text(account_id)));
  return r.rows() > 0;
}

absl::StatusOr<std::optional<ImageRow>> PgTxn::GetImage(
    const std::string& region_id, const std::string& image_id) {
  // The row and its disks in one round trip (every write starts here).
  ASSIGN_OR_RETURN(
      std::vector<PgResult> r,
      ExecPipeline({{absl::StrCat("SELECT ", kImageColumns,
                                  " FROM images i WHERE i.region_id = $1 AND "
                                  "i.image_id = $2",
                                  ForUpdate(nullptr)),
                     PgParams().Text(region_id).Text(image_id)},
                    {"SELECT d.image_rowid, d.device, d.type, d.snapshot_id, "
                     "d.size_gib FROM disk_mappings d JOIN images i "
                     "ON i.id = d.image_rowid WHERE i.region_id = $1 AND "
                     "i.image_id = $2 ORDER BY d.ordinal",
                     PgParams().Text(region_id).Text(image_id)}}));
  if (r[0].rows() == 0) return std::nullopt;
  std::vector<ImageRow> images;
  ASSIGN_OR_RETURN(ImageRow image, ReadImageRow(r[0], 0));
  images.push_back(std::move(image));
  AssignDisks(r[1], images);
  return std::move(images[0]);
}

absl::StatusOr<std::optional<ImageRow>> PgTxn::GetImageByRowid(int64_t rowid) {
  return OneImage(
      absl::StrCat("SELECT ", kImageColumns, " FROM images i WHERE i.id = $1",
                   ForUpdate(nullptr)),
      PgParams().Int(rowid));
}

absl::StatusOr<std::optional<ImageRow>> PgTxn::FindLiveImageByName(
    const std::string& account_id, const std::string& region_id,
    const std::string& name) {
  if (name.empty() || account_id.empty()) return std::nullopt;
  RETURN_IF_ERROR(LockAccountRegion(account_id, region_id));
  return OneImage(
      absl::StrCat("SELECT ", kImageColumns,
                   " FROM images i WHERE i.owner_account_id = $1 AND "
                   "i.region_id = $2 AND i.name = $3 AND i.name <> '' AND "
                   "i.deleted_at_ms IS NULL",
                   ForUpdate(nullptr)),
      PgParams().Text(account_id).Text(region_id).Text(name));
}

absl::StatusOr<int64_t> PgTxn::SumCounts(
    const char* table, const char* key_column, const std::string& key,
    const std::string& region_id, const std::vector<std::string>* statuses) {
  PgParams params;
  params.Text(key).Text(region_id);
  std::string sql =
      absl::StrCat("SELECT coalesce(sum(live_count), 0) FROM ", table,
                   " WHERE ", key_column, " = $1 AND region_id = $2");
  if (statuses != nullptr) {
    absl::StrAppend(&sql, " AND status = ANY($3)");
    params.TextArray(*statuses);
  }
  ASSIGN_OR_RETURN(PgResult r, Exec(sql, params));
  return r.Int(0, 0);
}

absl::StatusOr<int64_t> PgTxn::CountLiveImages(const std::string& account_id,
                                               const std::string& region_id) {
  if (account_id.empty()) return 0;
  RETURN_IF_ERROR(LockAccountRegion(account_id, region_id));
  return SumCounts("image_counts", "owner_key", account_id, region_id, nullptr);
}

absl::StatusOr<std::vector<CopyTaskRow>> PgTxn::Copies(const std::string& sql,
                                                       const PgParams& params) {
  ASSIGN_OR_RETURN(PgResult r, Exec(sql, params));
  std::vector<CopyTaskRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(ReadCopy(r, i));
  return out;
}

absl::StatusOr<std::optional<CopyTaskRow>> PgTxn::GetCopyByDest(
    int64_t dest_image_rowid) {
  PgStatement q = CopyByDestQuery(dest_image_rowid);
  ASSIGN_OR_RETURN(auto rows, Copies(q.first, q.second));
  return First(std::move(rows));
}

PgStatement PgTxn::CopyByDestQuery(int64_t dest_image_rowid) const {
  return {absl::StrCat("SELECT ", kCopyColumns,
                       " WHERE c.dest_image_rowid = $1", ForUpdate("c")),
          PgParams().Int(dest_image_rowid)};
}

absl::StatusOr<std::optional<CopyTaskRow>> PgTxn::GetActiveCopyBySource(
    int64_t source_image_rowid) {
  PgStatement q = ActiveCopyBySourceQuery(source_image_rowid);
  ASSIGN_OR_RETURN(auto rows, Copies(q.first, q.second));
  return First(std::move(rows));
}

PgStatement PgTxn::ActiveCopyBySourceQuery(int64_t source_image_rowid) const {
  return {absl::StrCat(
              "SELECT ", kCopyColumns, " WHERE c.source_image_rowid = $1 AND ",
              kNonTerminalPhase, " ORDER BY c.id LIMIT 1", ForUpdate("c")),
          PgParams().Int(source_image_rowid)};
}

absl::StatusOr<int64_t> PgTxn::CountRunningCopies(
    const std::string& account_id, const std::string& dest_region_id) {
  RETURN_IF_ERROR(LockAccountRegion(account_id, dest_region_id));
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT count(*) FROM copy_tasks "
                        "WHERE account_id = $1 AND dest_region_id = $2 AND "
                        "(phase = 'PREPARING' OR phase = 'TRANSFERRING' "
                        "OR phase = 'REGISTERING')",
                        PgParams().Text(account_id).Text(dest_region_id)));
  return r.Int(0, 0);
}

// With a lease owner, the rows are the ones ClaimTaskLeases locked in this
// transaction: FOR UPDATE takes nothing new.
absl::StatusOr<std::vector<CopyTaskRow>> PgTxn::ListActiveCopies(
    int64_t limit, const std::string& lease_owner, int64_t now_ms) {
  return Copies(
      absl::StrCat("SELECT ", kCopyColumns, " WHERE ", kNonTerminalPhase,
                   " AND ($2 = '' OR (c.lease_owner = $2 AND "
                   "c.lease_expires_at_ms > $3)) ORDER BY c.id LIMIT $1",
                   ForUpdate("c")),
      PgParams().Int(limit).Text(lease_owner).Int(now_ms));
}

absl::StatusOr<std::vector<IoTaskRow>> PgTxn::IoTasks(const std::string& sql,
                                                      const PgParams& params) {
  ASSIGN_OR_RETURN(PgResult r, Exec(sql, params));
  std::vector<IoTaskRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(ReadIoTask(r, i));
  return out;
}

absl::StatusOr<std::optional<IoTaskRow>> PgTxn::GetIoTask(
    const std::string& task_id) {
  ASSIGN_OR_RETURN(
      auto rows, IoTasks(absl::StrCat("SELECT ", kIoTaskColumns,
                                      " WHERE t.task_id = $1", ForUpdate("t")),
                         PgParams().Text(task_id)));
  return First(std::move(rows));
}

absl::StatusOr<std::optional<IoTaskRow>> PgTxn::GetActiveIoTask(
    int64_t image_rowid, const std::string& action) {
  PgStatement q = ActiveIoTaskQuery(image_rowid, action);
  ASSIGN_OR_RETURN(auto rows, IoTasks(q.first, q.second));
  return First(std::move(rows));
}

PgStatement PgTxn::ActiveIoTaskQuery(int64_t image_rowid,
                                     const std::string& action) const {
  return {absl::StrCat("SELECT ", kIoTaskColumns,
                       " WHERE t.image_rowid = $1 AND t.action = $2 AND "
                       "t.status IN ('Waiting', 'Processing') "
                       "ORDER BY t.id LIMIT 1",
                       ForUpdate("t")),
          PgParams().Int(image_rowid).Text(action)};
}

absl::StatusOr<std::vector<IoTaskRow>> PgTxn::ListActiveIoTasks(
    int64_t limit, const std::string& lease_owner, int64_t now_ms) {
  return IoTasks(absl::StrCat("SELECT ", kIoTaskColumns,
                              " WHERE t.status IN ('Waiting', 'Processing') "
                              "AND ($2 = '' OR (t.lease_owner = $2 AND "
                              "t.lease_expires_at_ms > $3)) "
                              "ORDER BY t.id LIMIT $1",
                              ForUpdate("t")),
                 PgParams().Int(limit).Text(lease_owner).Int(now_ms));
}

absl::StatusOr<std::pair<int64_t, std::vector<IoTaskRow>>> PgTxn::ListIoTasks(
    const IoTaskQuery& query) {
  // One statement text whatever the filters: an empty array / text means
  // "any".
  const std::string where =
      "t.account_id = $1 AND t.region_id = $2 AND "
      "(cardinality($3::text[]) = 0 OR t.task_id = ANY($3)) AND "
      "($4 = '' OR t.action = $4) AND ($5 = '' OR t.status = $5)";
  auto params = [&]() {
    PgParams p;
    p.Text(query.account_id)
        .Text(query.region_id)
        .TextArray(query.task_ids)
        .Text(query.action)
        .Text(query.status);
    return p;
  };
  ASSIGN_OR_RETURN(
      PgResult count,
      Exec(absl::StrCat("SELECT count(*) FROM io_tasks t WHERE ", where),
           params()));
  const int64_t total = count.Int(0, 0);
  PgParams page = params();
  page.Int(std::max<int64_t>(query.limit, 0))
      .Int(std::max<int64_t>(query.offset, 0));
  ASSIGN_OR_RETURN(
      auto rows,
      IoTasks(absl::StrCat("SELECT ", kIoTaskColumns, " WHERE ", where,
                           " ORDER BY t.id DESC LIMIT $6 OFFSET $7"),
              page));
  return std::make_pair(total, std::move(rows));
}

absl::StatusOr<std::vector<ImageRow>> PgTxn::ListCreatingImages(
    int64_t limit, const std::string& lease_owner, int64_t now_ms) {
  return ImagesWithDisks(
      absl::StrCat("SELECT ", kImageColumns,
                   " FROM images i WHERE i.status = 'Creating' AND "
                   "i.deleted_at_ms IS NULL AND i.is_copied = 0 AND "
                   "i.creating_remaining_ms > 0 AND NOT EXISTS (SELECT 1 FROM "
                   "io_tasks t WHERE t.image_rowid = i.id AND "
                   "t.action = 'ImportImage') AND ($2 = '' OR "
                   "(i.lease_owner = $2 AND i.lease_expires_at_ms > $3)) "
                   "ORDER BY i.id LIMIT $1",
                   ForUpdate("i")),
      PgParams().Int(limit).Text(lease_owner).Int(now_ms));
}

constexpr char kFinishedCustomImagesSql[] =
    "SELECT id, image_id, region_id, status FROM images WHERE id > $1 AND "
    "is_system = 0 AND deleted_at_ms IS NULL AND status IN ('Available', "
    "'Deprecated') ORDER BY id LIMIT $2";

absl::StatusOr<std::vector<ImageRow>> PgTxn::ListFinishedCustomImages(
    int64_t after_rowid, int64_t limit) {
  ASSIGN_OR_RETURN(PgResult r, Exec(kFinishedCustomImagesSql,
                                    PgParams().Int(after_rowid).Int(limit)));
  std::vector<ImageRow> images;
  for (int i = 0; i < r.rows(); ++i) {
    ImageRow image;
    image.rowid = r.Int(i, 0);
    image.image_id = r.Text(i, 1);
    image.region_id = r.Text(i, 2);
    image.status = r.Text(i, 3);
    images.push_back(std::move(image));
  }
  return images;
}

constexpr char kCountSharesSql[] =
    "SELECT count(*) FROM shares WHERE image_rowid = $1";

absl::StatusOr<int64_t> PgTxn::CountShares(int64_t image_rowid) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec(kCountSharesSql, PgParams().Int(image_rowid)));
  return r.Int(0, 0);
}

absl::StatusOr<bool> PgTxn::HasShare(int64_t image_rowid,
                                     const std::string& account_id) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT 1 FROM shares WHERE "
                        "image_rowid = $1 AND account_id = $2",
                        PgParams().Int(image_rowid).Text(account_id)));
  return r.rows() > 0;
}

absl::StatusOr<std::vector<ShareRow>> PgTxn::ListShares(int64_t image_rowid,
                                                        int64_t offset,
                                                        int64_t limit) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT account_id, created_at_ms FROM shares "
                        "WHERE image_rowid = $1 ORDER BY created_at_ms, id "
                        "LIMIT $2 OFFSET $3",
                        PgParams()
                            .Int(image_rowid)
                            .Int(std::max<int64_t>(limit, 0))
                            .Int(std::max<int64_t>(offset, 0))));
  std::vector<ShareRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.Text(i, 0), r.Int(i, 1)});
  return out;
}

absl::StatusOr<std::optional<InstanceRow>> PgTxn::GetLiveInstance(
    const std::string& instance_id) {
  ASSIGN_OR_RETURN(
      PgResult r,
      Exec(absl::StrCat("SELECT n.id, n.instance_id, n.account_id, "
                        "n.region_id, n.image_rowid, i.image_id, "
                        "n.created_at_ms FROM instances n "
                        "JOIN images i ON i.id = n.image_rowid "
                        "WHERE n.instance_id = $1 AND n.released_at_ms IS NULL",
                        ForUpdate("n")),
           PgParams().Text(instance_id)));
  if (r.rows() == 0) return std::nullopt;
  return ReadInstance(r, 0);
}

namespace {

constexpr char kInstanceCountSql[] =
    "SELECT live_instance_count FROM images WHERE id = $1";
constexpr char kInstanceRefsSql[] =
    "SELECT instance_id, account_id FROM instances "
    "WHERE image_rowid = $1 AND released_at_ms IS NULL ORDER BY id LIMIT $2";

std::pair<int64_t, std::vector<InstanceRef>> ReadInstanceRefs(
    const PgResult& count, const PgResult& refs) {
  std::pair<int64_t, std::vector<InstanceRef>> out{0, {}};
  if (count.rows() > 0) out.first = count.Int(0, 0);
  for (int i = 0; i < refs.rows(); ++i) {
    out.second.push_back({refs.Text(i, 0), refs.Text(i, 1)});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::pair<int64_t, std::vector<InstanceRef>>>
PgTxn::ListInstanceRefs(int64_t image_rowid, int64_t limit) {
  ASSIGN_OR_RETURN(PgResult count,
                   Exec(kInstanceCountSql, PgParams().Int(image_rowid)));
  ASSIGN_OR_RETURN(
      PgResult refs,
      Exec(kInstanceRefsSql,
           PgParams().Int(image_rowid).Int(std::max<int64_t>(limit, 0))));
  return ReadInstanceRefs(count, refs);
}

// One round trip for the seven reads DeleteImage needs: the same
// statements, and so the same row locks, as calling each in turn.
absl::StatusOr<ImageBlockers> PgTxn::GetImageBlockers(int64_t image_rowid,
                                                      int64_t instance_limit) {
  std::vector<PgStatement> statements = {
      ActiveIoTaskQuery(image_rowid, "ImportImage"),
      CopyByDestQuery(image_rowid),
      ActiveCopyBySourceQuery(image_rowid),
      ActiveIoTaskQuery(image_rowid, "ExportImage"),
      {kCountSharesSql, PgParams().Int(image_rowid)},
      {kInstanceCountSql, PgParams().Int(image_rowid)},
      {kInstanceRefsSql,
       PgParams().Int(image_rowid).Int(std::max<int64_t>(instance_limit, 0))}};
  ASSIGN_OR_RETURN(std::vector<PgResult> r, ExecPipeline(statements));
  auto io_task = [](const PgResult& rows) -> std::optional<IoTaskRow> {
    if (rows.rows() == 0) return std::nullopt;
    return ReadIoTask(rows, 0);
  };
  auto copy = [](const PgResult& rows) -> std::optional<CopyTaskRow> {
    if (rows.rows() == 0) return std::nullopt;
    return ReadCopy(rows, 0);
  };
  ImageBlockers b;
  b.import_task = io_task(r[0]);
  b.copy_as_dest = copy(r[1]);
  b.active_copy_as_source = copy(r[2]);
  b.export_task = io_task(r[3]);
  b.shares = r[4].Int(0, 0);
  b.instances = ReadInstanceRefs(r[5], r[6]);
  return b;
}

absl::StatusOr<std::pair<int64_t, std::vector<InstanceRow>>>
PgTxn::ListInstances(const std::string& account_id,
                     const std::string& region_id,
                     std::optional<int64_t> image_rowid, int64_t offset,
                     int64_t limit) {
  const std::string where =
      "n.account_id = $1 AND n.region_id = $2 AND n.released_at_ms IS NULL "
      "AND ($3::bigint IS NULL OR n.image_rowid = $3)";
  auto params = [&]() {
    PgParams p;
    p.Text(account_id).Text(region_id).OptInt(image_rowid);
    return p;
  };
  ASSIGN_OR_RETURN(
      PgResult count,
      Exec(absl::StrCat("SELECT count(*) FROM instances n WHERE ", where),
           params()));
  PgParams page = params();
  page.Int(std::max<int64_t>(limit, 0)).Int(std::max<int64_t>(offset, 0));
  ASSIGN_OR_RETURN(
      PgResult r,
      Exec(absl::StrCat("SELECT n.id, n.instance_id, n.account_id, "
                        "n.region_id, n.image_rowid, i.image_id, "
                        "n.created_at_ms FROM instances n "
                        "JOIN images i ON i.id = n.image_rowid WHERE ",
                        where, " ORDER BY n.id DESC LIMIT $4 OFFSET $5"),
           page));
  std::vector<InstanceRow> rows;
  for (int i = 0; i < r.rows(); ++i) rows.push_back(ReadInstance(r, i));
  return std::make_pair(count.Int(0, 0), std::move(rows));
}

absl::StatusOr<std::optional<ClientTokenRow>> PgTxn::GetClientToken(
    const std::string& account_id, const std::string& rpc,
    const std::string& token) {
  RETURN_IF_ERROR(
      LockKey(absl::StrCat("ecsimage/client-token/", account_id.size(), ":",
                           account_id, "/", rpc.size(), ":", rpc, "/", token)));
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT params_fingerprint, response, created_at_ms "
                        "FROM client_tokens WHERE account_id = $1 AND "
                        "rpc = $2 AND token = $3",
                        PgParams().Text(account_id).Text(rpc).Text(token)));
  if (r.rows() == 0) return std::nullopt;
  return ClientTokenRow{r.Bytes(0, 0), r.Bytes(0, 1), r.Int(0, 2)};
}

absl::StatusOr<std::vector<TokenRow>> PgTxn::ListTokens(
    const std::string& account_id) {
  ASSIGN_OR_RETURN(PgResult r,
                   Exec("SELECT token_sha256, account_id, created_at_ms "
                        "FROM tokens WHERE account_id = $1 "
                        "ORDER BY created_at_ms, token_sha256",
                        PgParams().Text(account_id)));
  std::vector<TokenRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.Bytes(i, 0), r.Text(i, 1), r.Int(i, 2)});
  }
  return out;
}

}  // namespace ecsimage::storage::pg

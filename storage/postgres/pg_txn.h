// The ReadTxn/WriteTxn implementation over one PgConn, inside a transaction
// the store began: REPEATABLE READ READ ONLY for reads and lookups (one
// snapshot, as the interface promises), READ COMMITTED for writes.
//
// Why READ COMMITTED with explicit locks, and not SERIALIZABLE: every write
// transaction bumps trigger-kept counters (image_counts, visible_counts)
// that are hot rows per account and region; under SERIALIZABLE concurrent
// writes of one account fail with 40001 on them constantly, and retries
// redo the whole call. Instead, each check-then-act of the domain is made
// atomic by a lock taken by the read that precedes the act:
// - a read of an image, copy task, I/O task or instance by key inside a
//   write transaction is SELECT ... FOR UPDATE (of that row only): every
//   writer that changes the image, adds a share to it or starts an
//   instance on it reads it first (service/domain: UsableImage /
//   LoadOwnedImage -> GetImage), so CountShares, HasShare and
//   ListInstanceRefs that follow see every committed change and no other
//   writer can slip one in before our commit;
// - counts that gate an insert (CountLiveImages -> quota, CountRunningCopies
//   -> copy slots) and the name check (FindLiveImageByName, and the name
//   check inside InsertImage/UpdateImage) first take ONE transaction-level
//   advisory lock per (account, region): writers of the same account and
//   region queue there, different accounts never contend. Under READ
//   COMMITTED each statement takes a fresh snapshot, so the count read after
//   the lock was granted includes the previous holder's committed insert.
//   An advisory lock instead of a lock row keeps the schema identical to
//   SQLite's and leaves no rows to clean up;
// - GetClientToken and PutClientToken take an advisory lock on the (account,
//   rpc, token) key: two calls with one ClientToken serialise, and the
//   second sees the first's remembered response;
// - anything the locks do not order (a unique index losing a race: 23505, a
//   deadlock between row locks: 40P01) aborts the transaction, and the store
//   restarts the whole callback (postgres_store.cc); on the retry the
//   domain's own checks see the winner.
// Storage-level duplicates the interface reports as kAlreadyExists (id,
// token hash, task id, instance id, copy destination, live name) are
// checked by a read before the insert, so they never depend on an error
// that would abort the transaction.
#ifndef ECSIMAGE_STORAGE_POSTGRES_PG_TXN_H_
#define ECSIMAGE_STORAGE_POSTGRES_PG_TXN_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/image_store.h"
#include "storage/postgres/pg_conn.h"

namespace ecsimage::storage::pg {

// One statement and its parameters.
using PgStatement = std::pair<std::string, PgParams>;

class PgTxn final : public WriteTxn {
 public:
  PgTxn(PgConn& conn, bool write) : conn_(conn), write_(write) {}

  // The SQLSTATE of a statement that failed with a retryable error (the
  // transaction is aborted and must be restarted), or "".
  const std::string& retry_sqlstate() const { return retry_sqlstate_; }

  // ReadTxn.
  absl::StatusOr<bool> RegionExists(const std::string& region_id) override;
  absl::StatusOr<std::vector<RegionRow>> ListRegions() override;
  absl::StatusOr<bool> AccountExists(const std::string& account_id) override;
  absl::StatusOr<std::optional<ImageRow>> GetImage(
      const std::string& region_id, const std::string& image_id) override;
  absl::StatusOr<std::optional<ImageRow>> GetImageByRowid(
      int64_t rowid) override;
  absl::StatusOr<std::optional<ImageRow>> FindLiveImageByName(
      const std::string& account_id, const std::string& region_id,
      const std::string& name) override;
  absl::StatusOr<int64_t> CountLiveImages(
      const std::string& account_id, const std::string& region_id) override;
  absl::StatusOr<ImagePage> ListImages(const ImageQuery& query) override;
  absl::StatusOr<std::optional<CopyTaskRow>> GetCopyByDest(
      int64_t dest_image_rowid) override;
  absl::StatusOr<std::optional<CopyTaskRow>> GetActiveCopyBySource(
      int64_t source_image_rowid) override;
  absl::StatusOr<int64_t> CountRunningCopies(
      const std::string& account_id,
      const std::string& dest_region_id) override;
  absl::StatusOr<std::vector<CopyTaskRow>> ListActiveCopies(
      int64_t limit, const std::string& lease_owner, int64_t now_ms) override;
  absl::StatusOr<std::optional<IoTaskRow>> GetIoTask(
      const std::string& task_id) override;
  absl::StatusOr<std::optional<IoTaskRow>> GetActiveIoTask(
      int64_t image_rowid, const std::string& action) override;
  absl::StatusOr<std::vector<IoTaskRow>> ListActiveIoTasks(
      int64_t limit, const std::string& lease_owner, int64_t now_ms) override;
  absl::StatusOr<std::pair<int64_t, std::vector<IoTaskRow>>> ListIoTasks(
      const IoTaskQuery& query) override;
  absl::StatusOr<std::vector<ImageRow>> ListCreatingImages(
      int64_t limit, const std::string& lease_owner, int64_t now_ms) override;
  absl::StatusOr<std::vector<ImageRow>> ListFinishedCustomImages(
      int64_t after_rowid, int64_t limit) override;
  absl::StatusOr<int64_t> CountShares(int64_t image_rowid) override;
  absl::StatusOr<bool> HasShare(int64_t image_rowid,
                                const std::string& account_id) override;
  absl::StatusOr<std::vector<ShareRow>> ListShares(int64_t image_rowid,
                                                   int64_t offset,
                                                   int64_t limit) override;
  absl::StatusOr<std::optional<InstanceRow>> GetLiveInstance(
      const std::string& instance_id) override;
  absl::StatusOr<std::pair<int64_t, std::vector<InstanceRef>>> ListInstanceRefs(
      int64_t image_rowid, int64_t limit) override;
  absl::StatusOr<ImageBlockers> GetImageBlockers(
      int64_t image_rowid, int64_t instance_limit) override;
  absl::StatusOr<std::pair<int64_t, std::vector<InstanceRow>>> ListInstances(
      const std::string& account_id, const std::string& region_id,
      std::optional<int64_t> image_rowid, int64_t offset,
      int64_t limit) override;
  absl::StatusOr<std::optional<ClientTokenRow>> GetClientToken(
      const std::string& account_id, const std::string& rpc,
      const std::string& token) override;

  // WriteTxn.
  absl::Status InsertImage(ImageRow& image) override;
  absl::Status UpdateImage(const ImageRow& image) override;
  absl::Status SetDiskSize(int64_t image_rowid, int ordinal,
                           int64_t size_gib) override;
  absl::Status InsertCopy(CopyTaskRow& copy) override;
  absl::Status UpdateCopy(const CopyTaskRow& copy) override;
  absl::Status InsertIoTask(IoTaskRow& task) override;
  absl::Status UpdateIoTask(const IoTaskRow& task) override;
  absl::Status AddShare(int64_t image_rowid, const std::string& account_id,
                        int64_t now_ms) override;
  absl::Status RemoveShare(int64_t image_rowid,
                           const std::string& account_id) override;
  absl::Status InsertInstance(InstanceRow& instance) override;
  absl::Status ReleaseInstance(int64_t instance_rowid, int64_t now_ms) override;
  absl::Status PutClientToken(const std::string& account_id,
                              const std::string& rpc, const std::string& token,
                              const ClientTokenRow& row) override;
  absl::StatusOr<LeaseClaim> ClaimTaskLeases(const std::string& owner,
                                             int64_t now_ms, int64_t lease_ms,
                                             int64_t limit) override;
  absl::Status ReleaseTaskLeases(const std::string& owner) override;
  absl::StatusOr<std::optional<ReplicaSetting>> GetReplicaSetting(
      const std::string& name) override;
  absl::Status PutReplicaSetting(const std::string& name,
                                 const std::string& value,
                                 int64_t confirmed_at_ms) override;

  // Operator reads and writes behind the Store methods of the same names.
  absl::Status InsertAccount(const AccountRow& account,
                             const std::string& token_sha256);
  // kAlreadyExists if the hash is taken; the caller checked the account.
  absl::Status InsertToken(const TokenRow& token);
  absl::StatusOr<std::optional<std::string>> AccountOfToken(
      const std::string& token_sha256);
  absl::StatusOr<std::optional<std::string>> OldestAccountNamed(
      const std::string& name);
  absl::StatusOr<std::vector<TokenRow>> ListTokens(
      const std::string& account_id);
  absl::StatusOr<int64_t> DeleteToken(const std::string& account_id,
                                      const std::string& token_sha256);
  absl::Status InsertRegion(const RegionRow& region);
  absl::Status PruneClientTokens(int64_t cutoff_ms);

  // Runs `sql` on the connection; a retryable failure is remembered (see
  // retry_sqlstate()).
  absl::StatusOr<PgResult> Exec(const std::string& sql,
                                const PgParams& params = PgParams());
  // Several statements in one round trip, failures remembered as Exec's.
  absl::StatusOr<std::vector<PgResult>> ExecPipeline(
      const std::vector<PgStatement>& statements);

 private:
  // " FOR UPDATE[ OF t]" inside write transactions, "" in reads.
  std::string ForUpdate(const char* table) const;
  // The statements of GetCopyByDest, GetActiveCopyBySource and
  // GetActiveIoTask (shared with GetImageBlockers).
  PgStatement CopyByDestQuery(int64_t dest_image_rowid) const;
  PgStatement ActiveCopyBySourceQuery(int64_t source_image_rowid) const;
  PgStatement ActiveIoTaskQuery(int64_t image_rowid,
                                const std::string& action) const;
  // The transaction-level advisory lock ordering the name, quota and
  // copy-slot checks of one (account, region); once per transaction.
  absl::Status LockAccountRegion(const std::string& account_id,
                                 const std::string& region_id);
  absl::Status LockKey(const std::string& key);
  // Image rows (kImageColumns) with their disks; kInternal for a row that
  // breaks the schema's invariants.
  absl::StatusOr<std::vector<ImageRow>> ImagesWithDisks(const std::string& sql,
                                                        const PgParams& params);
  absl::StatusOr<std::optional<ImageRow>> OneImage(const std::string& sql,
                                                   const PgParams& params);
  // Disks of every image in one statement.
  absl::Status FillDisks(std::vector<ImageRow>& images);
  // Sets each image's disks from rows of (image_rowid, device, type,
  // snapshot_id, size_gib) ordered by image_rowid, ordinal.
  static void AssignDisks(const PgResult& r, std::vector<ImageRow>& images);
  // The images with these row ids, in that order, in two statements;
  // kInternal if one is missing.
  absl::StatusOr<std::vector<ImageRow>> ImagesByRowids(
      const std::vector<int64_t>& rowids);
  absl::StatusOr<std::vector<CopyTaskRow>> Copies(const std::string& sql,
                                                  const PgParams& params);
  absl::StatusOr<std::vector<IoTaskRow>> IoTasks(const std::string& sql,
                                                 const PgParams& params);
  absl::StatusOr<int64_t> SumCounts(const char* table, const char* key_column,
                                    const std::string& key,
                                    const std::string& region_id,
                                    const std::vector<std::string>* statuses);
  // kAlreadyExists if a live image of the owner in the region other than
  // `rowid` has this name (after LockAccountRegion).
  absl::Status CheckLiveNameFree(const std::string& owner,
                                 const std::string& region_id,
                                 const std::string& name, int64_t rowid);

  PgConn& conn_;
  const bool write_;
  std::string retry_sqlstate_;
  std::set<std::string> locked_keys_;
  bool inserted_region_ = false;  // RegionExists must not remember it
};

// What the triggers keep in image_counts and images.live_instance_count,
// recounted from the rows they count: a SELECT of (owner_key, region_id,
// status, live_count), and one of (image_rowid, n). Shared by the recount
// after an import (pg_copy.cc) and the integrity check (postgres_store.cc).
extern const char kImageCountsFromRows[];
extern const char kLiveInstancesFromRows[];

// Column lists shared by the read, list and write files.
extern const char kImageColumns[];
extern const char kCopyColumns[];    // FROM copy_tasks c JOIN images s, d
extern const char kIoTaskColumns[];  // FROM io_tasks t JOIN images i

// An image row from kImageColumns at `row`; kInternal if it breaks an
// invariant the schema promises (status, progress, flags, owner).
absl::StatusOr<ImageRow> ReadImageRow(const PgResult& r, int row);

}  // namespace ecsimage::storage::pg

#endif  // ECSIMAGE_STORAGE_POSTGRES_PG_TXN_H_

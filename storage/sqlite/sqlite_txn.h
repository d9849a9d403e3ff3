// The ReadTxn/WriteTxn implementation over one Connection. The store hands
// it out as ReadTxn& on reader connections (query_only) and as WriteTxn&
// on the writer connection, inside a transaction the store began.
// Read methods live in sqlite_txn_read.cc, ListImages in
// sqlite_list_images.cc, writes in sqlite_txn_write.cc.
#ifndef ECSIMAGE_STORAGE_SQLITE_SQLITE_TXN_H_
#define ECSIMAGE_STORAGE_SQLITE_SQLITE_TXN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/image_store.h"
#include "storage/sqlite/sqlite_db.h"

namespace ecsimage::storage {

class SqliteTxn final : public WriteTxn {
 public:
  explicit SqliteTxn(Connection& conn) : conn_(conn) {}
  // For the store's own statements (sqlite_access_keys.cc).
  Connection& conn() { return conn_; }

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

  // Operator reads and writes behind the Store methods of the same names
  // (CreateAccount, AddToken, ListTokens, DeleteToken, SeedIfEmpty).
  absl::Status InsertAccount(const AccountRow& account,
                             const std::string& token_sha256);
  // kAlreadyExists if the hash is taken; the caller checked the account.
  absl::Status InsertToken(const TokenRow& token);
  absl::StatusOr<std::optional<std::string>> AccountOfToken(
      const std::string& token_sha256);
  // The first created account with this name (ties: lowest id).
  absl::StatusOr<std::optional<std::string>> OldestAccountNamed(
      const std::string& name);
  absl::StatusOr<std::vector<TokenRow>> ListTokens(
      const std::string& account_id);
  // Rows deleted: 0 or 1.
  absl::StatusOr<int64_t> DeleteToken(const std::string& account_id,
                                      const std::string& token_sha256);
  absl::Status InsertRegion(const RegionRow& region);
  absl::Status PruneClientTokens(int64_t cutoff_ms);

 private:
  // An image row from the columns of kImageColumns starting at `first`.
  static ImageRow ReadImage(const Stmt& q, int first);
  absl::Status FillDisks(ImageRow& image);
  // The first row of `q` (kImageColumns), with its disks.
  absl::StatusOr<std::optional<ImageRow>> ImagesToOne(Stmt& q);
  absl::StatusOr<std::vector<CopyTaskRow>> QueryCopies(const std::string& sql,
                                                       int64_t param);
  absl::StatusOr<std::vector<IoTaskRow>> QueryIoTasks(Stmt& q);
  // Sum of the trigger-maintained live image counters of one owner ("" for
  // system images) in a region, over `statuses` (all if null).
  absl::StatusOr<int64_t> SumImageCounts(
      const std::string& owner_key, const std::string& region_id,
      const std::vector<std::string>* statuses);
  // The same over visible_counts (migration 0004: 'shared:<account>',
  // 'public', 'public:<owner>').
  absl::StatusOr<int64_t> SumVisibleCounts(
      const std::string& viewer_key, const std::string& region_id,
      const std::vector<std::string>& statuses);
  // Sum of `counter_table`'s live_count where `key_column` = key, in the
  // region, over `statuses` (all if null). Both names are constants.
  absl::StatusOr<int64_t> SumCounts(const char* counter_table,
                                    const char* key_column,
                                    const std::string& key,
                                    const std::string& region_id,
                                    const std::vector<std::string>* statuses);
  // kInternal unless the last statement changed exactly one row.
  absl::Status ExpectOneChange(absl::string_view what, int64_t rowid);

  Connection& conn_;
};

// Column lists shared by the read and write files.
extern const char kImageColumns[];
extern const char kCopyColumns[];    // FROM copy_tasks c JOIN images s, d
extern const char kIoTaskColumns[];  // FROM io_tasks t JOIN images i

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_SQLITE_SQLITE_TXN_H_

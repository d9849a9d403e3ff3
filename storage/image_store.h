// The storage interface: everything the rules need from the database.
//
// Storage knows rows, not ECS rules: it never decides whether a call is
// allowed and never names an ECS error code. Statuses and phases travel as
// the strings the API shows ("Available", "TRANSFERRING", "Processing").
// Times are Unix milliseconds, given by the caller (storage never reads a
// clock, so tests control time).
//
// Errors: a method returns absl::Status only for failures of the database
// itself: kUnavailable (busy past its timeout, disk full, I/O error,
// shutting down), kInternal (corrupt row, broken invariant),
// kDeadlineExceeded / kCancelled (the caller gave up before commit).
// "Not found" is an empty std::optional or a false bool, never an error.
#ifndef ECSIMAGE_STORAGE_IMAGE_STORE_H_
#define ECSIMAGE_STORAGE_IMAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ecsimage::storage {

struct RegionRow {
  std::string region_id;
  std::string local_name;
  std::string endpoint;
};

struct DiskMappingRow {
  std::string device;
  std::string type;  // "system" | "data"
  std::string snapshot_id;
  int32_t size_gib = 0;
};

// One image. Custom image ids ("m-...") are unique across regions; system
// image ids are names and unique only within a region, so (region_id,
// image_id) identifies an image and `rowid` is the stable internal key.
struct ImageRow {
  int64_t rowid = 0;  // assigned by InsertImage
  std::string image_id;
  std::string region_id;
  std::string owner_account_id;  // empty for system images
  bool is_system = false;
  std::string name;         // may be empty
  std::string description;  // may be empty
  std::string
      status;  // Waiting|Creating|Available|UnAvailable|CreateFailed|Deprecated
  int32_t progress = 0;  // 0..100
  int32_t size_gib = 0;
  std::string architecture;
  std::string os_type;
  std::string platform;
  bool is_copied = false;  // destination of a CopyImage
  bool is_public = false;
  int64_t created_at_ms = 0;
  std::optional<int64_t> deleted_at_ms;  // set: tombstone
  // Work left for a Creating image (CreateImage/ImportImage), in milliseconds
  // of simulated time; 0 when nothing is pending.
  int64_t creating_remaining_ms = 0;
  std::vector<DiskMappingRow> disks;  // filled by GetImage* and ListImages
  // Filled by reads only: number of live instances referencing the image
  // (any account).
  int64_t live_instance_count = 0;
};

// One CopyImage. The destination image mirrors `phase`.
struct CopyTaskRow {
  int64_t rowid = 0;
  std::string account_id;  // who asked for the copy
  int64_t source_image_rowid = 0;
  int64_t dest_image_rowid = 0;
  std::string source_image_id;  // filled by reads
  std::string source_region_id;
  std::string dest_image_id;  // filled by reads
  std::string dest_region_id;
  // QUEUED|PREPARING|TRANSFERRING|REGISTERING|SUCCEEDED|FAILED|CANCELLING|CANCELLED
  std::string phase;
  int32_t progress = 0;         // 0..100, never decreases
  int64_t total_mib = 0;        // data to move
  int64_t transferred_mib = 0;  // data moved so far
  bool encrypted = false;
  std::string kms_key_id;
  bool support_cancel = true;
  int64_t created_at_ms = 0;
  int64_t phase_changed_at_ms = 0;
  // Filled by reads: how often `phase` changed (UpdateCopy counts it), and
  // who advances the copy (see WriteTxn::ClaimTaskLeases).
  int64_t phase_moves = 0;
  std::string lease_owner;
  int64_t lease_epoch = 0;
};

// One ImportImage or ExportImage task.
struct IoTaskRow {
  int64_t rowid = 0;
  std::string task_id;  // "t-..."
  std::string account_id;
  std::string region_id;
  int64_t image_rowid = 0;
  std::string image_id;  // filled by reads
  std::string action;    // ImportImage|ExportImage
  std::string status;    // Waiting|Processing|Finished|Failed|Cancelled
  int32_t progress = 0;  // 0..100
  int64_t total_mib = 0;
  int64_t transferred_mib = 0;
  bool support_cancel = true;
  std::string oss_bucket;
  std::string oss_object;  // object (import) or prefix (export)
  // Export: "RAW" or "QCOW2" (ExportImage's ImageFormat); "" on exports
  // recorded before schema 9 (they write the stored format). Import: the
  // format its DiskDeviceMapping.1.Format named, or "" for any.
  std::string image_format;
  // Import: DiskDeviceMapping.2..N (the data disks), as
  // service/domain/import_disks.h encodes them; "" for one disk. Stored
  // as given, never read by the store.
  std::string data_disks;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  // Filled by reads: how often `status` changed (UpdateIoTask counts it),
  // and who advances the task (see WriteTxn::ClaimTaskLeases).
  int64_t phase_moves = 0;
  std::string lease_owner;
  int64_t lease_epoch = 0;
};

struct ShareRow {
  std::string account_id;
  int64_t created_at_ms = 0;
};

struct InstanceRow {
  int64_t rowid = 0;
  std::string instance_id;  // "i-..."
  std::string account_id;
  std::string region_id;
  int64_t image_rowid = 0;
  std::string image_id;  // filled by reads
  int64_t created_at_ms = 0;
};

// A live instance that references an image, as a blocker of DeleteImage.
struct InstanceRef {
  std::string instance_id;
  std::string account_id;
};

// Everything that can keep an image from being deleted (DeleteImage's
// precedence list, api.md §4), read at once: the domain decides in order,
// the store may fetch it all in one round trip.
struct ImageBlockers {
  std::optional<IoTaskRow> import_task;     // GetActiveIoTask(, "ImportImage")
  std::optional<CopyTaskRow> copy_as_dest;  // GetCopyByDest
  std::optional<CopyTaskRow> active_copy_as_source;  // GetActiveCopyBySource
  std::optional<IoTaskRow> export_task;  // GetActiveIoTask(, "ExportImage")
  int64_t shares = 0;                    // CountShares
  // ListInstanceRefs(, instance_limit)
  std::pair<int64_t, std::vector<InstanceRef>> instances;
};

struct ClientTokenRow {
  std::string params_fingerprint;  // opaque to storage
  std::string response;            // opaque to storage (serialized ids)
  int64_t created_at_ms = 0;
};

// What DescribeImages asks for. All filters AND together; an empty vector
// means "no filter" except where noted.
struct ImageQuery {
  std::string caller_account_id;
  std::string region_id;
  std::vector<std::string> image_ids;  // exact ids
  std::vector<std::string> statuses;   // never empty: the caller defaults it
  // Which sets to include (at least one is true):
  bool include_self = true;    // caller's own custom images
  bool include_system = true;  // system images of the region
  bool include_others = true;  // shared to the caller, or public (not own)
  std::optional<bool> in_use;  // Usage filter: instance (true) / none (false)
  std::optional<bool> is_copied;
  std::string name;  // exact name; empty = any
  int64_t offset = 0;
  int64_t limit = 10;
};

// Rows of one page plus the total count of rows matching the query.
struct ImagePage {
  int64_t total_count = 0;
  // Each row also tells which set it came from.
  struct Entry {
    ImageRow image;
    std::string owner_alias;          // self|system|others
    std::optional<CopyTaskRow> copy;  // set for copy destinations
  };
  std::vector<Entry> entries;
};

struct IoTaskQuery {
  std::string account_id;
  std::string region_id;
  std::vector<std::string> task_ids;
  std::string action;  // empty = both
  std::string status;  // empty = all
  int64_t offset = 0;
  int64_t limit = 10;
};

// Read access inside one consistent snapshot. Not thread-safe: a transaction
// object belongs to the thread running the callback it was given to.
class ReadTxn {
 public:
  virtual ~ReadTxn() = default;

  virtual absl::StatusOr<bool> RegionExists(const std::string& region_id) = 0;
  virtual absl::StatusOr<std::vector<RegionRow>> ListRegions() = 0;
  virtual absl::StatusOr<bool> AccountExists(const std::string& account_id) = 0;

  // The image with that id in that region, tombstones included.
  virtual absl::StatusOr<std::optional<ImageRow>> GetImage(
      const std::string& region_id, const std::string& image_id) = 0;
  virtual absl::StatusOr<std::optional<ImageRow>> GetImageByRowid(
      int64_t rowid) = 0;
  // A live (non-tombstoned) custom image of `account_id` named `name`.
  virtual absl::StatusOr<std::optional<ImageRow>> FindLiveImageByName(
      const std::string& account_id, const std::string& region_id,
      const std::string& name) = 0;
  // Live custom images of an account in a region. O(1): kept as a counter.
  virtual absl::StatusOr<int64_t> CountLiveImages(
      const std::string& account_id, const std::string& region_id) = 0;
  virtual absl::StatusOr<ImagePage> ListImages(const ImageQuery& query) = 0;

  // The copy task whose destination is this image, if any (any phase).
  virtual absl::StatusOr<std::optional<CopyTaskRow>> GetCopyByDest(
      int64_t dest_image_rowid) = 0;
  // A non-terminal copy whose source is this image, if any.
  virtual absl::StatusOr<std::optional<CopyTaskRow>> GetActiveCopyBySource(
      int64_t source_image_rowid) = 0;
  // Copies of an account into a region in PREPARING, TRANSFERRING or
  // REGISTERING.
  virtual absl::StatusOr<int64_t> CountRunningCopies(
      const std::string& account_id, const std::string& dest_region_id) = 0;
  // Non-terminal copies (QUEUED..REGISTERING, CANCELLING), oldest first;
  // with a `lease_owner`, only those whose lease it holds unexpired at
  // `now_ms` (see WriteTxn::ClaimTaskLeases); "" = all.
  virtual absl::StatusOr<std::vector<CopyTaskRow>> ListActiveCopies(
      int64_t limit, const std::string& lease_owner, int64_t now_ms) = 0;

  virtual absl::StatusOr<std::optional<IoTaskRow>> GetIoTask(
      const std::string& task_id) = 0;
  // The Waiting or Processing task of `action` on this image, if any.
  virtual absl::StatusOr<std::optional<IoTaskRow>> GetActiveIoTask(
      int64_t image_rowid, const std::string& action) = 0;
  // Waiting or Processing tasks, oldest first; `lease_owner` as above.
  virtual absl::StatusOr<std::vector<IoTaskRow>> ListActiveIoTasks(
      int64_t limit, const std::string& lease_owner, int64_t now_ms) = 0;
  // Returns the total count and one page.
  virtual absl::StatusOr<std::pair<int64_t, std::vector<IoTaskRow>>>
  ListIoTasks(const IoTaskQuery& query) = 0;

  // Live, non-copy, non-imported images still Creating with work left;
  // `lease_owner` as above.
  virtual absl::StatusOr<std::vector<ImageRow>> ListCreatingImages(
      int64_t limit, const std::string& lease_owner, int64_t now_ms) = 0;

  // Live custom images whose work has finished (Available or Deprecated),
  // rowid above `after_rowid`, in rowid order, at most `limit`: what a
  // backend that holds bytes must have data for (data-plane.md §1). Only
  // rowid, image_id, region_id and status are filled.
  virtual absl::StatusOr<std::vector<ImageRow>> ListFinishedCustomImages(
      int64_t after_rowid, int64_t limit) = 0;

  virtual absl::StatusOr<int64_t> CountShares(int64_t image_rowid) = 0;
  virtual absl::StatusOr<bool> HasShare(int64_t image_rowid,
                                        const std::string& account_id) = 0;
  // Oldest first.
  virtual absl::StatusOr<std::vector<ShareRow>> ListShares(int64_t image_rowid,
                                                           int64_t offset,
                                                           int64_t limit) = 0;

  virtual absl::StatusOr<std::optional<InstanceRow>> GetLiveInstance(
      const std::string& instance_id) = 0;
  // Live instances referencing the image: the total and the first `limit`.
  virtual absl::StatusOr<std::pair<int64_t, std::vector<InstanceRef>>>
  ListInstanceRefs(int64_t image_rowid, int64_t limit) = 0;
  // The reads above that DeleteImage needs, equal to calling each in turn
  // (inside a write transaction with the same row locks); a store may
  // override it to fetch them in one round trip.
  virtual absl::StatusOr<ImageBlockers> GetImageBlockers(
      int64_t image_rowid, int64_t instance_limit) {
    ImageBlockers b;
    auto import = GetActiveIoTask(image_rowid, "ImportImage");
    if (!import.ok()) return import.status();
    b.import_task = *std::move(import);
    auto dest = GetCopyByDest(image_rowid);
    if (!dest.ok()) return dest.status();
    b.copy_as_dest = *std::move(dest);
    auto source = GetActiveCopyBySource(image_rowid);
    if (!source.ok()) return source.status();
    b.active_copy_as_source = *std::move(source);
    auto export_task = GetActiveIoTask(image_rowid, "ExportImage");
    if (!export_task.ok()) return export_task.status();
    b.export_task = *std::move(export_task);
    auto shares = CountShares(image_rowid);
    if (!shares.ok()) return shares.status();
    b.shares = *shares;
    auto refs = ListInstanceRefs(image_rowid, instance_limit);
    if (!refs.ok()) return refs.status();
    b.instances = *std::move(refs);
    return b;
  }
  // The account's live instances in a region (optionally of one image).
  virtual absl::StatusOr<std::pair<int64_t, std::vector<InstanceRow>>>
  ListInstances(const std::string& account_id, const std::string& region_id,
                std::optional<int64_t> image_rowid, int64_t offset,
                int64_t limit) = 0;

  virtual absl::StatusOr<std::optional<ClientTokenRow>> GetClientToken(
      const std::string& account_id, const std::string& rpc,
      const std::string& token) = 0;
};

// Read and write access inside one write transaction (BEGIN IMMEDIATE, or a
// savepoint of a batch: see Store::RunInWriteTransaction).
class WriteTxn : public ReadTxn {
 public:
  // Sets image.rowid. Fails kAlreadyExists if the id exists in the region.
  virtual absl::Status InsertImage(ImageRow& image) = 0;
  // Writes every mutable column of image.rowid: name, description, status,
  // progress, size_gib, is_public, deleted_at_ms, creating_remaining_ms.
  // Disks (but for SetDiskSize) and the identity columns never change.
  virtual absl::Status UpdateImage(const ImageRow& image) = 0;
  // The size of disk `ordinal` (0-based, as ImageRow::disks) of the image:
  // an imported disk larger than its mapping asked. NotFound when the image
  // has no such disk.
  virtual absl::Status SetDiskSize(int64_t image_rowid, int ordinal,
                                   int64_t size_gib) = 0;

  virtual absl::Status InsertCopy(CopyTaskRow& copy) = 0;  // sets rowid
  // Writes phase, progress, transferred_mib, phase_changed_at_ms.
  virtual absl::Status UpdateCopy(const CopyTaskRow& copy) = 0;

  virtual absl::Status InsertIoTask(IoTaskRow& task) = 0;  // sets rowid
  // Writes status, progress, transferred_mib, finished_at_ms.
  virtual absl::Status UpdateIoTask(const IoTaskRow& task) = 0;

  // Adding an existing share or removing an absent one is a no-op.
  virtual absl::Status AddShare(int64_t image_rowid,
                                const std::string& account_id,
                                int64_t now_ms) = 0;
  virtual absl::Status RemoveShare(int64_t image_rowid,
                                   const std::string& account_id) = 0;

  virtual absl::Status InsertInstance(InstanceRow& instance) = 0;  // rowid
  // Marks the instance released; its image reference ends.
  virtual absl::Status ReleaseInstance(int64_t instance_rowid,
                                       int64_t now_ms) = 0;

  virtual absl::Status PutClientToken(const std::string& account_id,
                                      const std::string& rpc,
                                      const std::string& token,
                                      const ClientTokenRow& row) = 0;

  // Task leases (scale-out.md §4): each running task — a non-terminal
  // copy, a Waiting/Processing import or export, an image still Creating
  // with work left (ListCreatingImages) — is advanced by one engine at a
  // time. Takes for `owner` the lease of up to `limit` tasks of each kind
  // whose lease is free, expired (expires at or before `now_ms`), or its
  // own and past half its term, and sets it to expire at now_ms + lease_ms.
  // A lease that changes hands (or is taken free) gets epoch + 1; one taken
  // from another owner counts as a takeover. Rows that another transaction
  // holds are skipped, never waited for. The rows stay locked until this
  // transaction ends, so the engine's writes in the same transaction are
  // fenced by the lease: a paused engine whose lease was taken cannot write.
  struct LeaseClaim {
    int64_t claimed = 0;     // leases taken or renewed now
    int64_t taken_over = 0;  // of them, from another owner
    int64_t held = 0;        // leases `owner` holds after the claim
  };
  virtual absl::StatusOr<LeaseClaim> ClaimTaskLeases(const std::string& owner,
                                                     int64_t now_ms,
                                                     int64_t lease_ms,
                                                     int64_t limit) = 0;
  // Ends every lease `owner` holds (SIGTERM: another engine takes the tasks
  // at once instead of after the lease term).
  virtual absl::Status ReleaseTaskLeases(const std::string& owner) = 0;

  // Settings the replicas of one database must agree on, with the last
  // time a running replica confirmed the value (scale-out.md §4). Reading
  // orders the transaction after any other writer of the same setting
  // until it ends (check-then-act across replicas).
  struct ReplicaSetting {
    std::string value;
    int64_t confirmed_at_ms = 0;
  };
  virtual absl::StatusOr<std::optional<ReplicaSetting>> GetReplicaSetting(
      const std::string& name) = 0;
  // Inserts or overwrites the setting.
  virtual absl::Status PutReplicaSetting(const std::string& name,
                                         const std::string& value,
                                         int64_t confirmed_at_ms) = 0;
};

struct AccountRow {
  std::string account_id;  // 16 decimal digits
  std::string name;
  int64_t created_at_ms = 0;
};

// One bearer token of an account, as stored: only its SHA-256.
struct TokenRow {
  std::string token_sha256;  // raw 32 bytes; never logged
  std::string account_id;
  int64_t created_at_ms = 0;
};

// One AccessKey pair of an account (ecs-http.md §2), as stored: the secret
// only sealed (AES-256-GCM) under the operator's key `key_id`. Storage never
// sees the secret in clear and never logs the sealed bytes.
struct AccessKeyRow {
  std::string access_key_id;
  std::string account_id;
  std::string secret_sealed;  // nonce || ciphertext || tag
  std::string key_id;         // which key file sealed it
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0: active
};

// What a write may be told about its caller.
struct WriteOptions {
  // Checked right before the callback runs and again right before its change
  // is released into the commit: if it returns true the change is rolled
  // back and the call fails kDeadlineExceeded without effect.
  std::function<bool()> abandoned;
  // Async writes with the same non-empty key may share one transaction and
  // its commit (PostgreSQL's group commit; SQLite's single writer batches
  // every write anyway). The domain passes the caller's account: writes of
  // one account touch the same counter rows, so batching them saves waits
  // instead of adding lock cycles between batches.
  std::string batch_key;
};

// Non-terminal tasks in one state, for metrics: kind "copy" (state = phase)
// or "ImportImage"/"ExportImage" (state = task status).
struct ActiveTaskCount {
  std::string kind;
  std::string state;
  int64_t count = 0;
};

// The database. Thread-safe: every method may be called from any thread.
class Store {
 public:
  virtual ~Store() = default;

  // Stops accepting writes (kUnavailable "shutting down"), finishes the
  // writes in progress and answers queued ones kUnavailable. Reads keep
  // working until destruction. Idempotent.
  virtual void Shutdown() = 0;

  // Whether the store can serve now, cheaply (readiness): OK, or
  // kUnavailable with the reason (database unreachable, shutting down).
  // Never blocks longer than a short connect timeout.
  virtual absl::Status CheckReady() = 0;

  // The store's full consistency check, meant for off the serving path: it
  // may read the whole database (seconds at 1M images). Each
  // implementation documents what it checks. OK; kDataLoss with what is
  // wrong, after which the store refuses every write (kUnavailable
  // "database is corrupt: ...") and CheckReady answers the same, until the
  // process restarts on a repaired or restored database; or another code if
  // the check could not run (it may be retried).
  virtual absl::Status CheckIntegrity() = 0;

  // Runs `fn` in a write transaction on the single writer thread, and returns
  // after the transaction holding its change has committed (or was rolled
  // back). `fn` returning non-OK rolls back exactly its own changes and that
  // status is returned; other writes batched with it are unaffected. If the
  // commit itself fails, every write of the batch gets kUnavailable (or
  // kInternal) and none of them took effect. `fn` must not block on anything
  // but the database and must not start another transaction. `fn` may run
  // more than once (PostgreSQL restarts the whole transaction after a
  // serialization failure, deadlock or lost unique race): it must do nothing
  // outside its transaction, and what it writes for its caller must not
  // depend on an earlier run (overwrite, never append).
  virtual absl::Status RunInWriteTransaction(
      const std::function<absl::Status(WriteTxn&)>& fn,
      const WriteOptions& options = {}) = 0;

  // RunInWriteTransaction without blocking: queues `fn` and returns;
  // `done` is called exactly once with the status RunInWriteTransaction
  // would return, after the commit, on the store's completer thread (at
  // once, on the caller's, if the store is shutting down). It must be quick
  // and must not wait for another write: the answers after it wait for it.
  // `fn` and `options` are kept until then; what they refer to must live as
  // long.
  virtual void RunInWriteTransactionAsync(
      std::function<absl::Status(WriteTxn&)> fn, WriteOptions options,
      std::function<void(absl::Status)> done) = 0;

  // Runs `fn` on a reader connection inside one snapshot.
  virtual absl::Status RunInReadTransaction(
      const std::function<absl::Status(ReadTxn&)>& fn) = 0;

  // RunInReadTransaction on the store's own lookup connection, for reads of
  // a few rows by key (regions, tokens) made on threads that must never wait
  // behind long reads (a DescribeImages page on a big database holds a pool
  // reader for milliseconds): gRPC's own threads. Lookups wait only for
  // each other.
  virtual absl::Status RunInLookupTransaction(
      const std::function<absl::Status(ReadTxn&)>& fn) = 0;

  // The account of a token hash (SHA-256 of the token), if any. Reads the
  // database each time, on the lookup connection (RunInLookupTransaction),
  // so that tokens created by another process work at once. Never logs the
  // hash. The domain's Authenticator keeps what this finds for less than a
  // second (a revoked token stops within one second, scale-out.md §5).
  virtual absl::StatusOr<std::optional<std::string>> AccountForTokenHash(
      const std::string& token_sha256) = 0;

  // Operator actions (run in their own write transaction).
  virtual absl::Status CreateAccount(const AccountRow& account,
                                     const std::string& token_sha256) = 0;
  // Adds a token to an existing account (operator rotation). False, and
  // nothing written, if the account does not exist; kAlreadyExists if the
  // hash already is a token (of any account). Works at once for a server on
  // the same file (see AccountForTokenHash).
  virtual absl::StatusOr<bool> AddToken(const TokenRow& token) = 0;
  // The tokens of `account_id`, oldest first (equal times by hash), from one
  // snapshot; nullopt if the account does not exist (an account may exist
  // with no tokens: empty vector).
  virtual absl::StatusOr<std::optional<std::vector<TokenRow>>> ListTokens(
      const std::string& account_id) = 0;
  // Deletes the token with this hash if, and only if, it belongs to
  // `account_id`; returns how many tokens the account has left after the
  // delete. nullopt, and nothing deleted, if the account has no such token
  // (another account's token is never touched). Calls with the token fail
  // from the commit on, also on a server in another process.
  virtual absl::StatusOr<std::optional<int64_t>> DeleteToken(
      const std::string& account_id, const std::string& token_sha256) = 0;
  // Bootstrap credentials: makes sure the token with this hash authenticates,
  // in one write transaction. If it already belongs to an account, nothing
  // changes; otherwise it is added to the oldest account named
  // `if_new.name`, and if there is none, that account is created (with
  // `if_new`'s id and time) holding it. The result says which happened.
  struct EnsuredToken {
    std::string account_id;
    bool account_created = false;
    bool token_added = false;
  };
  virtual absl::StatusOr<EnsuredToken> EnsureAccountToken(
      const AccountRow& if_new, const std::string& token_sha256) = 0;
  // AccessKeys. AddAccessKey: false, nothing written, if the account does
  // not exist; kAlreadyExists if the id is taken.
  virtual absl::StatusOr<bool> AddAccessKey(const AccessKeyRow& key) = 0;
  // The key with this id, active or revoked; read on the lookup connection
  // each time (a key created or revoked by another process counts at once).
  virtual absl::StatusOr<std::optional<AccessKeyRow>> GetAccessKey(
      const std::string& access_key_id) = 0;
  // The keys of `account_id`, oldest first (then by id); nullopt if the
  // account does not exist.
  virtual absl::StatusOr<std::optional<std::vector<AccessKeyRow>>>
  ListAccessKeys(const std::string& account_id) = 0;
  // Marks the key revoked at `now_ms` if, and only if, it belongs to
  // `account_id` and is active; false (nothing changed) otherwise.
  virtual absl::StatusOr<bool> RevokeAccessKey(const std::string& account_id,
                                               const std::string& access_key_id,
                                               int64_t now_ms) = 0;
  // Seeds regions and system images if the tables are empty.
  virtual absl::Status SeedIfEmpty(
      const std::vector<RegionRow>& regions,
      const std::vector<ImageRow>& system_images) = 0;
  // Forgets client tokens created before `cutoff_ms`.
  virtual absl::Status PruneClientTokens(int64_t cutoff_ms) = 0;
  // Online, consistent copy of the database to `path` (VACUUM INTO).
  virtual absl::Status BackupTo(const std::string& path) = 0;
  // Size of the database in bytes, for metrics.
  virtual absl::StatusOr<int64_t> DatabaseBytes() = 0;
  // Counts of non-terminal tasks by kind and state, for metrics (from
  // indexes of active tasks, never a scan of all tasks).
  virtual absl::StatusOr<std::vector<ActiveTaskCount>> CountActiveTasks() = 0;
};

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_IMAGE_STORE_H_

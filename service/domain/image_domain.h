// The rules of the contract (../shared/spec/api.md), one method per RPC.
//
// Every method has the shape
//   absl::Status Method(const Caller&, const Request&, Response*)
// and fills everything of the response except request_id, which the gRPC
// adapter owns. Errors come from the catalog in errors.h only. Writes run
// their checks and their change in one write transaction, and each is
// written once, as MethodAsync (answers through a callback after the
// commit); Method waits for it.
//
// Thread-safe: one instance serves all calls.
#ifndef ECSIMAGE_SERVICE_DOMAIN_IMAGE_DOMAIN_H_
#define ECSIMAGE_SERVICE_DOMAIN_IMAGE_DOMAIN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ecs/image/v1/image_service.pb.h"
#include "service/backend/backend.h"
#include "service/domain/clock.h"
#include "service/domain/ids.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

namespace v1 = ::ecs::image::v1;

// Who is calling, decided by the Authenticator before any image data is read.
struct Caller {
  std::string account_id;
  // True once the caller's deadline passed or it cancelled; checked before
  // a change commits.
  std::function<bool()> abandoned = [] { return false; };
};

struct DomainOptions {
  // Live custom images per account and region (QuotaExceed.Image).
  int64_t image_quota_per_region = 1000;
  // Running copies per account and destination region; the rest wait.
  int64_t max_running_copies = 5;
  // Simulated transfer rate for copies, imports and exports, MiB/s.
  int64_t transfer_rate_mib_per_s = 1024;
  // Simulated snapshot work of CreateImage, ms per GiB.
  int64_t create_ms_per_gib = 100;
  // Remembered ClientTokens live at least this long.
  int64_t client_token_ttl_ms = 24LL * 3600 * 1000;
  // What moves the bytes (not owned; outlives the domain and the engine).
  // Null: the simulated backend, built from the rates above.
  backend::Backend* backend = nullptr;
  // The background data check (data-plane.md §2): finished images asked
  // about per engine tick, walking the database round and round; one found
  // without data turns UnAvailable (FailureCode ImageDataMissing). 0: off.
  int64_t data_check_per_tick = 0;
};

class ImageDomain {
 public:
  ImageDomain(storage::Store& store, Clock& clock, IdGenerator& ids,
              DomainOptions options);

  // Every write has two forms. XAsync runs the checks that need no database
  // at once and queues the rest as one write transaction (group commit);
  // `done` gets the answer after the commit, on the store's completion
  // thread, or at once for a bad parameter. `req` and `resp` must live until
  // then. X is the same call, waiting for the answer (tests, tools).
  using Done = std::function<void(absl::Status)>;
  template <typename Req, typename Resp>
  using AsyncMethod = void (ImageDomain::*)(const Caller&, const Req&, Resp*,
                                            Done);

  // ImageService writes.
  void CancelCopyImageAsync(const Caller& caller,
                            const v1::CancelCopyImageRequest& req,
                            v1::CancelCopyImageResponse* resp, Done done);
  void DeleteImageAsync(const Caller& caller, const v1::DeleteImageRequest& req,
                        v1::DeleteImageResponse* resp, Done done);
  void CreateImageAsync(const Caller& caller, const v1::CreateImageRequest& req,
                        v1::CreateImageResponse* resp, Done done);
  void CopyImageAsync(const Caller& caller, const v1::CopyImageRequest& req,
                      v1::CopyImageResponse* resp, Done done);
  void ModifyImageAttributeAsync(const Caller& caller,
                                 const v1::ModifyImageAttributeRequest& req,
                                 v1::ModifyImageAttributeResponse* resp,
                                 Done done);
  void ModifyImageSharePermissionAsync(
      const Caller& caller, const v1::ModifyImageSharePermissionRequest& req,
      v1::ModifyImageSharePermissionResponse* resp, Done done);
  void ImportImageAsync(const Caller& caller, const v1::ImportImageRequest& req,
                        v1::ImportImageResponse* resp, Done done);
  void ExportImageAsync(const Caller& caller, const v1::ExportImageRequest& req,
                        v1::ExportImageResponse* resp, Done done);
  void CancelTaskAsync(const Caller& caller, const v1::CancelTaskRequest& req,
                       v1::CancelTaskResponse* resp, Done done);

  absl::Status CancelCopyImage(const Caller& caller,
                               const v1::CancelCopyImageRequest& req,
                               v1::CancelCopyImageResponse* resp) {
    return Await(&ImageDomain::CancelCopyImageAsync, caller, req, resp);
  }
  absl::Status DeleteImage(const Caller& caller,
                           const v1::DeleteImageRequest& req,
                           v1::DeleteImageResponse* resp) {
    return Await(&ImageDomain::DeleteImageAsync, caller, req, resp);
  }
  absl::Status CreateImage(const Caller& caller,
                           const v1::CreateImageRequest& req,
                           v1::CreateImageResponse* resp) {
    return Await(&ImageDomain::CreateImageAsync, caller, req, resp);
  }
  absl::Status CopyImage(const Caller& caller, const v1::CopyImageRequest& req,
                         v1::CopyImageResponse* resp) {
    return Await(&ImageDomain::CopyImageAsync, caller, req, resp);
  }
  absl::Status ModifyImageAttribute(const Caller& caller,
                                    const v1::ModifyImageAttributeRequest& req,
                                    v1::ModifyImageAttributeResponse* resp) {
    return Await(&ImageDomain::ModifyImageAttributeAsync, caller, req, resp);
  }
  absl::Status ModifyImageSharePermission(
      const Caller& caller, const v1::ModifyImageSharePermissionRequest& req,
      v1::ModifyImageSharePermissionResponse* resp) {
    return Await(&ImageDomain::ModifyImageSharePermissionAsync, caller, req,
                 resp);
  }
  absl::Status ImportImage(const Caller& caller,
                           const v1::ImportImageRequest& req,
                           v1::ImportImageResponse* resp) {
    return Await(&ImageDomain::ImportImageAsync, caller, req, resp);
  }
  absl::Status ExportImage(const Caller& caller,
                           const v1::ExportImageRequest& req,
                           v1::ExportImageResponse* resp) {
    return Await(&ImageDomain::ExportImageAsync, caller, req, resp);
  }
  absl::Status CancelTask(const Caller& caller,
                          const v1::CancelTaskRequest& req,
                          v1::CancelTaskResponse* resp) {
    return Await(&ImageDomain::CancelTaskAsync, caller, req, resp);
  }

  // ImageService reads.
  absl::Status DescribeImages(const Caller& caller,
                              const v1::DescribeImagesRequest& req,
                              v1::DescribeImagesResponse* resp);
  absl::Status DescribeImageSharePermission(
      const Caller& caller, const v1::DescribeImageSharePermissionRequest& req,
      v1::DescribeImageSharePermissionResponse* resp);
  absl::Status DescribeTasks(const Caller& caller,
                             const v1::DescribeTasksRequest& req,
                             v1::DescribeTasksResponse* resp);
  // Short: reads the regions on the store's lookup connection, so it never
  // waits behind long reads.
  absl::Status DescribeRegions(const Caller& caller,
                               const v1::DescribeRegionsRequest& req,
                               v1::DescribeRegionsResponse* resp);

  // InstanceService.
  void RunInstancesAsync(const Caller& caller,
                         const v1::RunInstancesRequest& req,
                         v1::RunInstancesResponse* resp, Done done);
  void DeleteInstanceAsync(const Caller& caller,
                           const v1::DeleteInstanceRequest& req,
                           v1::DeleteInstanceResponse* resp, Done done);
  absl::Status RunInstances(const Caller& caller,
                            const v1::RunInstancesRequest& req,
                            v1::RunInstancesResponse* resp) {
    return Await(&ImageDomain::RunInstancesAsync, caller, req, resp);
  }
  absl::Status DeleteInstance(const Caller& caller,
                              const v1::DeleteInstanceRequest& req,
                              v1::DeleteInstanceResponse* resp) {
    return Await(&ImageDomain::DeleteInstanceAsync, caller, req, resp);
  }
  absl::Status DescribeInstances(const Caller& caller,
                                 const v1::DescribeInstancesRequest& req,
                                 v1::DescribeInstancesResponse* resp);

  // SimulationControl (synchronous: a test hook, not a hot path).
  absl::Status AdvanceTask(const Caller& caller,
                           const v1::AdvanceTaskRequest& req,
                           v1::TaskStateResponse* resp);
  absl::Status FailTask(const Caller& caller, const v1::FailTaskRequest& req,
                        v1::TaskStateResponse* resp);

  const DomainOptions& options() const { return options_; }

 private:
  using WriteFn = std::function<absl::Status(storage::WriteTxn&)>;

  // The shape of every XAsync: runs `prepare` (the checks that need no
  // database) now, then queues the write transaction it returns. A failed
  // check is answered at once, without touching the store.
  //
  // kWithAccount lets the store run the write in one transaction with other
  // queued writes of the caller's account (PostgreSQL group commit). Not
  // for writes that wait for an existing task row (CancelCopyImage,
  // CancelTask, ImportImage, ExportImage): a batch holds its account's
  // counter rows and locks until its commit, the task engine holds the task
  // rows it claimed while it moves those counters, and the cycle is broken
  // only by PostgreSQL's 1 s deadlock_timeout (CancelCopyImage p99 2.2 s in
  // bench/). CopyImage only inserts its task and is batched: one at a time
  // it queued on its account's copy-slot lock (47 calls/s, p99 4 s, against
  // ~700 calls/s batched).
  enum class Batch { kOwn, kWithAccount };
  void StartWrite(const Caller& caller, Done done,
                  absl::FunctionRef<absl::StatusOr<WriteFn>()> prepare,
                  Batch batch = Batch::kOwn);

  // Runs an XAsync and waits for its answer.
  template <typename Req, typename Resp>
  absl::Status Await(AsyncMethod<Req, Resp> method, const Caller& caller,
                     const Req& req, Resp* resp) {
    std::promise<absl::Status> answer;
    std::future<absl::Status> answered = answer.get_future();
    (this->*method)(caller, req, resp, [&answer](absl::Status status) {
      answer.set_value(std::move(status));
    });
    return answered.get();
  }

  // The precedence lists and changes of DeleteImage and CancelCopyImage,
  // inside the write transaction (delete_image.cc).
  absl::Status DeleteImageInTxn(storage::WriteTxn& txn, const Caller& caller,
                                const v1::DeleteImageRequest& req);
  absl::Status CancelCopyImageInTxn(storage::WriteTxn& txn,
                                    const Caller& caller,
                                    const v1::CancelCopyImageRequest& req);

  storage::Store& store_;
  Clock& clock_;
  IdGenerator& ids_;
  DomainOptions options_;
};

// Maps bearer tokens to accounts (api.md §2): SHA-256 at rest, constant-time
// comparison, no write transaction, no image data read.
//
// Known tokens are cached by their SHA-256 for less than kTokenCacheMs of
// `clock` time (scale-out.md §5): a new token works at once (a miss reads
// the store), a revoked one stops working within one second on every
// replica. Unknown tokens are never cached. A clock that goes backwards
// expires the entry. At most `max_cached` entries: when full, the cache
// starts over.
class Authenticator {
 public:
  static constexpr int64_t kTokenCacheMs = 1000;
  static constexpr size_t kTokenCacheEntries = 4096;

  Authenticator(storage::Store& store, Clock& clock,
                size_t max_cached = kTokenCacheEntries)
      : store_(store), clock_(clock), max_cached_(max_cached) {}
  // The account of `token`, or kUnauthenticated (catalog kInvalidToken).
  absl::StatusOr<std::string> Authenticate(std::string_view token);
  // Store lookups so far (cache misses): what the cache spares is visible.
  int64_t store_lookups() const { return store_lookups_.load(); }

 private:
  struct Cached {
    std::string account_id;
    int64_t cached_at_ms = 0;
  };
  storage::Store& store_;
  Clock& clock_;
  const size_t max_cached_;
  std::atomic<int64_t> store_lookups_{0};
  std::mutex mu_;
  absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
};

// Operator actions of the CLI and of the README's run command.
class AccountAdmin {
 public:
  AccountAdmin(storage::Store& store, Clock& clock, IdGenerator& ids)
      : store_(store), clock_(clock), ids_(ids) {}
  struct Created {
    std::string account_id;
    std::string token;     // shown once
    std::string token_id;  // TokenId(token): safe to show and log
  };
  absl::StatusOr<Created> CreateAccount(const std::string& name);

  // Token rotation. Each fails InvalidParameter "account" if the account
  // does not exist. A new token works at once, old ones keep working until
  // revoked.
  absl::StatusOr<Created> CreateToken(const std::string& account_id);
  struct TokenInfo {
    std::string token_id;
    int64_t created_at_ms = 0;
  };
  // Oldest first; never the token or its full hash.
  absl::StatusOr<std::vector<TokenInfo>> ListTokens(
      const std::string& account_id);
  struct Revoked {
    std::string token_id;
    int64_t tokens_left = 0;  // 0: the account can no longer call
  };
  // Deletes the one token of `account_id` whose TokenId is `token_id`.
  // InvalidParameter "token-id", nothing changed, unless exactly one of that
  // account's tokens matches (another account's token never does).
  absl::StatusOr<Revoked> RevokeToken(const std::string& account_id,
                                      const std::string& token_id);

  // Bootstrap credentials (`serve --bootstrap-token`, fed from a Kubernetes
  // Secret): makes `token` authenticate as the oldest account named `name`,
  // creating that account if there is none; nothing changes when the token
  // already works (Store::EnsureAccountToken). A new token (a rotated
  // Secret) is added to the same account; old ones work until revoked.
  // InvalidParameter "name" / "bootstrap-token" unless the name is 1-128
  // characters and the token 32-256 printable ASCII characters, no spaces.
  struct Bootstrapped {
    std::string account_id;
    std::string token_id;
    bool account_created = false;
    bool token_added = false;
  };
  absl::StatusOr<Bootstrapped> EnsureBootstrapToken(const std::string& name,
                                                    const std::string& token);

 private:
  storage::Store& store_;
  Clock& clock_;
  IdGenerator& ids_;
};

// The rule EnsureBootstrapToken applies to its token (InvalidParameter
// "bootstrap-token"), for checking a flag before anything is opened.
absl::Status CheckBootstrapToken(std::string_view token);

// SHA-256 of `data`, raw 32 bytes.
std::string Sha256(std::string_view data);

// The public handle of a token: the first 16 lowercase hex digits of its
// SHA-256. Names a token in `account token list/revoke` without revealing
// it (64 bits of a hash of 256 random bits).
std::string TokenId(std::string_view token);
std::string TokenIdOfHash(std::string_view token_sha256);

// Seeds regions and system images on first start.
absl::Status SeedCatalog(storage::Store& store, int64_t now_ms);

// Moves tasks along by themselves (when not under SimulationControl):
// QUEUED copies start when their region has room, transfers progress at the
// configured rate, CANCELLING copies finish, imports/exports and image
// creation complete. Each Tick advances everything by the time elapsed since
// the previous Tick (the first Tick only records the time), in one write
// transaction, so a restart resumes from the stored state.
// Who an engine is among the replicas on one database and how long its
// task leases last (scale-out.md §4).
struct TaskLeaseOptions {
  // Unique per running process (serve: host name, pid and a random part).
  std::string owner = "local";
  int64_t lease_ms = 10000;
};

// Moves running tasks along by themselves, one write transaction a tick.
// Each tick first claims the leases of the tasks it may advance (its own,
// free ones, and those whose lease expired) and then advances only those,
// in the same transaction, so that several engines on one database — one
// per replica — never advance a task twice, and the tasks of a replica that
// died are taken over once its leases expire.
class TaskEngine {
 public:
  // Progress is simulated on `clock`; leases run on `lease_clock` (the
  // database's clock in production on PostgreSQL; `clock` when null).
  TaskEngine(storage::Store& store, Clock& clock, DomainOptions options,
             TaskLeaseOptions lease = {}, Clock* lease_clock = nullptr);
  absl::Status Tick();
  // Lets every lease of this engine go (SIGTERM), so that another replica
  // takes its tasks at once rather than after the lease term.
  absl::Status ReleaseLeases();

  // For metrics: leases held after the last tick; takeovers since start.
  int64_t leases_held() const { return leases_held_.load(); }
  int64_t takeovers() const { return takeovers_.load(); }

 private:
  storage::Store& store_;
  Clock& clock_;
  Clock& lease_clock_;
  DomainOptions options_;
  TaskLeaseOptions lease_;
  std::unique_ptr<backend::Backend> owned_backend_;  // when options_ has none
  backend::Backend* backend_ = nullptr;
  // One slice of the background data check; `data_check_after_` is where
  // the next starts (a rowid; 0: from the first image).
  absl::Status CheckDataSlice();
  int64_t data_check_after_ = 0;
  int64_t last_tick_ms_ = -1;
  std::atomic<int64_t> leases_held_{0};
  std::atomic<int64_t> takeovers_{0};
};

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_IMAGE_DOMAIN_H_

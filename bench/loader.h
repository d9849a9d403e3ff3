// Fills a database with a realistic population of images straight through
// storage/ (big write transactions, no RPCs), so that 1k ... 1M image
// databases take seconds, not hours. Also adds the per-scenario target
// pools the load generator consumes (plain images to delete or share,
// copies in TRANSFERRING to cancel).
//
// Population of a dataset of N images (every count is part of N):
//   - the bench account owns almost all of them, in kRegion, Available;
//   - 1% are copy destinations in kCopyRegion whose copy SUCCEEDED;
//   - 1% are shared with one peer account; 1% have a live instance;
//   - 0.1% belong to peers and are shared with the bench account, 0.1% are
//     public images of peers (both show up as "others" in DescribeImages).
// Accounts and their tokens are deterministic, so a cached database can be
// reused without a side file.
#ifndef ECSIMAGE_BENCH_LOADER_H_
#define ECSIMAGE_BENCH_LOADER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/image_store.h"

namespace ecsimage::bench {

inline constexpr char kRegion[] = "cn-hangzhou";
inline constexpr char kCopyRegion[] = "cn-shanghai";

struct BenchAccount {
  std::string account_id;
  std::string token;
};

struct LoadSpec {
  int64_t images = 1000;
  int peers = 10;
};

// How the loader writes: many small write callbacks submitted from several
// threads at once, so that the store's group commit puts many of them in
// one transaction. Small callbacks keep each callback's savepoint journal
// in memory (SQLite spills a statement/savepoint journal larger than 64 KiB
// to a temporary file, which made 5,000-image callbacks ~10x slower).
struct LoaderOptions {
  int64_t batch = 32;  // images per write callback
  int submitters = 8;  // threads submitting callbacks
};

struct Dataset {
  BenchAccount owner;
  std::vector<BenchAccount> peers;
  // Available images of the owner in kRegion without any blocker, usable as
  // CopyImage sources (never deleted or shared by the scenarios).
  std::vector<std::string> copy_sources;
};

// What a dataset looks like in the database right now.
struct DatasetCounts {
  int64_t owner_live_in_region = 0;       // the owner's live images there
  int64_t owner_live_in_copy_region = 0;  // and in kCopyRegion
};

class Loader {
 public:
  // `seed` makes ids distinct between loaders writing the same database.
  Loader(storage::Store& store, uint64_t seed, LoaderOptions options = {});

  // The accounts (created if missing) of every dataset.
  absl::StatusOr<Dataset> EnsureAccounts(int peers);

  // Seeds the catalog, creates the accounts and writes the population of
  // `spec` (see the file comment). Returns the dataset.
  absl::StatusOr<Dataset> Load(const LoadSpec& spec);

  // The dataset of a database loaded before (accounts must exist).
  absl::StatusOr<Dataset> Open(int peers);

  // `n` Available images of the owner in kRegion with no blocker.
  absl::StatusOr<std::vector<std::string>> AddPlainImages(const Dataset& data,
                                                          int64_t n);
  // `n` copy destinations of the owner in kCopyRegion, copy in TRANSFERRING
  // at 50%, cancellable.
  absl::StatusOr<std::vector<std::string>> AddTransferringCopies(
      const Dataset& data, int64_t n);

  // Tombstones those of `ids` (owner's, in `region`) that are still live, so
  // that leftovers of a pool do not count towards the next phase.
  absl::Status TombstoneLive(const std::string& region,
                             const std::vector<std::string>& ids);

  absl::StatusOr<DatasetCounts> Counts(const Dataset& data);

 private:
  std::string NextImageId();
  std::string NextName(const char* kind);
  std::string NextInstanceId();
  // Calls fn(txn, begin, end) for consecutive ranges covering [0, n), each in
  // its own write callback, from options_.submitters threads. Callbacks run
  // one at a time on the store's writer thread, so `fn` may touch loader
  // state without locks.
  absl::Status InBatches(
      int64_t n,
      const std::function<absl::Status(storage::WriteTxn&, int64_t, int64_t)>&
          fn);

  storage::Store& store_;
  const LoaderOptions options_;
  const std::string prefix_;  // 6 [a-z0-9], distinct per loader
  int64_t counter_ = 0;
  int64_t now_ms_ = 0;
};

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_LOADER_H_

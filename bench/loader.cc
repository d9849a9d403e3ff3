#include "bench/loader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/domain/image_domain.h"
#include "util/status_macros.h"

namespace ecsimage::bench {
namespace {

constexpr char kAlnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
// Accounts are 16 decimal digits; the bench uses a fixed block of them.
constexpr int64_t kFirstAccount = 7000000000000000;
constexpr int32_t kSizeGib = 40;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// `width` base-36 digits of `v` (most significant first).
std::string Base36(uint64_t v, int width) {
  std::string out(width, '0');
  for (int i = width - 1; i >= 0; --i) {
    out[i] = kAlnum[v % 36];
    v /= 36;
  }
  return out;
}

BenchAccount AccountNumber(int64_t k) {
  const std::string id = absl::StrCat(kFirstAccount + k);
  return {id, absl::StrCat("ecsimage-bench-token-", id)};
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Loader::Loader(storage::Store& store, uint64_t seed, LoaderOptions options)
    : store_(store),
      options_(options),
      prefix_(Base36(SplitMix(seed), 6)),
      now_ms_(WallMs()) {}

std::string Loader::NextImageId() {
  return absl::StrCat("m-", prefix_, Base36(counter_++, 14));
}

std::string Loader::NextName(const char* kind) {
  return absl::StrCat(kind, "-", prefix_, "-", counter_);
}

std::string Loader::NextInstanceId() {
  return absl::StrCat("i-", prefix_, Base36(counter_++, 14));
}

absl::StatusOr<Dataset> Loader::EnsureAccounts(int peers) {
  Dataset data;
  data.owner = AccountNumber(0);
  for (int k = 1; k <= peers; ++k) data.peers.push_back(AccountNumber(k));
  std::vector<BenchAccount> all = data.peers;
  all.insert(all.begin(), data.owner);
  for (size_t k = 0; k < all.size(); ++k) {
    bool exists = false;
    RETURN_IF_ERROR(
        store_.RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
          ASSIGN_OR_RETURN(exists, txn.AccountExists(all[k].account_id));
          return absl::OkStatus();
        }));
    if (exists) continue;
    storage::AccountRow row;
    row.account_id = all[k].account_id;
    row.name = k == 0 ? "bench-owner" : absl::StrCat("bench-peer-", k);
    row.created_at_ms = now_ms_;
    RETURN_IF_ERROR(store_.CreateAccount(row, domain::Sha256(all[k].token)));
  }
  return data;
}

absl::StatusOr<Dataset> Loader::Open(int peers) {
  RETURN_IF_ERROR(domain::SeedCatalog(store_, now_ms_));
  return EnsureAccounts(peers);
}

namespace {

storage::ImageRow PlainRow(std::string image_id, std::string region,
                           std::string owner, std::string name,
                           int64_t created_at_ms) {
  storage::ImageRow row;
  row.image_id = std::move(image_id);
  row.region_id = std::move(region);
  row.owner_account_id = std::move(owner);
  row.name = std::move(name);
  row.description = "loaded by ecsimage_bench";
  row.status = "Available";
  row.progress = 100;
  row.size_gib = kSizeGib;
  row.architecture = "x86_64";
  row.os_type = "linux";
  row.platform = "Ubuntu";
  row.created_at_ms = created_at_ms;
  row.disks.push_back({"/dev/xvda", "system", "", kSizeGib});
  return row;
}

}  // namespace
absl::Status Loader::InBatches(
    int64_t n,
    const std::function<absl::Status(storage::WriteTxn&, int64_t, int64_t)>&
        fn) {
  const int64_t batch = std::max<int64_t>(options_.batch, 1);
  std::atomic<int64_t> next{0};
  std::mutex mu;
  absl::Status first_error;  // guarded by mu
  auto submit = [&] {
    while (true) {
      const int64_t begin = next.fetch_add(batch);
      if (begin >= n) return;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error.ok()) return;
      }
      const int64_t end = std::min(n, begin + batch);
      absl::Status s = store_.RunInWriteTransaction(
          [&](storage::WriteTxn& txn) { return fn(txn, begin, end); });
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = s;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int k = 1; k < options_.submitters; ++k) threads.emplace_back(submit);
  submit();
  for (std::thread& t : threads) t.join();
  return first_error;
}

absl::StatusOr<Dataset> Loader::Load(const LoadSpec& spec) {
  ASSIGN_OR_RETURN(Dataset data, Open(spec.peers));
  int64_t last_plain_rowid = 0;  // used on the writer thread only
  const int64_t start_ms = now_ms_ - spec.images;
  RETURN_IF_ERROR(InBatches(
      spec.images,
      [&](storage::WriteTxn& txn, int64_t begin, int64_t end) -> absl::Status {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t created = start_ms + i;
          const BenchAccount& peer = data.peers[(i / 100) % data.peers.size()];
          if (i % 1000 == 500 || i % 1000 == 501) {
            // A peer's image, shared with the owner or public.
            storage::ImageRow row =
                PlainRow(NextImageId(), kRegion, peer.account_id,
                         NextName("peer"), created);
            row.is_public = i % 1000 == 501;
            RETURN_IF_ERROR(txn.InsertImage(row));
            if (!row.is_public) {
              RETURN_IF_ERROR(
                  txn.AddShare(row.rowid, data.owner.account_id, created));
            }
            continue;
          }
          if (i % 100 == 10 && last_plain_rowid != 0) {
            // A finished copy of an earlier image.
            storage::ImageRow row =
                PlainRow(NextImageId(), kCopyRegion, data.owner.account_id,
                         NextName("copy"), created);
            row.is_copied = true;
            RETURN_IF_ERROR(txn.InsertImage(row));
            storage::CopyTaskRow copy;
            copy.account_id = data.owner.account_id;
            copy.source_image_rowid = last_plain_rowid;
            copy.dest_image_rowid = row.rowid;
            copy.phase = "SUCCEEDED";
            copy.progress = 100;
            copy.total_mib = int64_t{kSizeGib} * 1024;
            copy.transferred_mib = copy.total_mib;
            copy.support_cancel = true;
            copy.created_at_ms = created;
            copy.phase_changed_at_ms = created;
            RETURN_IF_ERROR(txn.InsertCopy(copy));
            continue;
          }
          storage::ImageRow row =
              PlainRow(NextImageId(), kRegion, data.owner.account_id,
                       NextName("img"), created);
          RETURN_IF_ERROR(txn.InsertImage(row));
          if (i % 100 == 20) {
            RETURN_IF_ERROR(txn.AddShare(row.rowid, peer.account_id, created));
          } else if (i % 100 == 30) {
            storage::InstanceRow instance;
            instance.instance_id = NextInstanceId();
            instance.account_id = data.owner.account_id;
            instance.region_id = kRegion;
            instance.image_rowid = row.rowid;
            instance.created_at_ms = created;
            RETURN_IF_ERROR(txn.InsertInstance(instance));
          } else {
            last_plain_rowid = row.rowid;
          }
        }
        return absl::OkStatus();
      }));
  return data;
}

absl::StatusOr<std::vector<std::string>> Loader::AddPlainImages(
    const Dataset& data, int64_t n) {
  std::vector<std::string> ids(n);
  RETURN_IF_ERROR(InBatches(
      n,
      [&](storage::WriteTxn& txn, int64_t begin, int64_t end) -> absl::Status {
        for (int64_t i = begin; i < end; ++i) {
          storage::ImageRow row =
              PlainRow(NextImageId(), kRegion, data.owner.account_id,
                       NextName("pool"), now_ms_);
          RETURN_IF_ERROR(txn.InsertImage(row));
          ids[i] = row.image_id;
        }
        return absl::OkStatus();
      }));
  return ids;
}

absl::StatusOr<std::vector<std::string>> Loader::AddTransferringCopies(
    const Dataset& data, int64_t n) {
  std::vector<std::string> ids(n);
  RETURN_IF_ERROR(InBatches(
      n,
      [&](storage::WriteTxn& txn, int64_t begin, int64_t end) -> absl::Status {
        // One source per batch; it is in no pool, so its running copies
        // block nothing a scenario does.
        storage::ImageRow source =
            PlainRow(NextImageId(), kRegion, data.owner.account_id,
                     NextName("src"), now_ms_);
        RETURN_IF_ERROR(txn.InsertImage(source));
        for (int64_t i = begin; i < end; ++i) {
          storage::ImageRow row =
              PlainRow(NextImageId(), kCopyRegion, data.owner.account_id,
                       NextName("xfer"), now_ms_);
          row.status = "Creating";
          row.progress = 50;
          row.is_copied = true;
          RETURN_IF_ERROR(txn.InsertImage(row));
          storage::CopyTaskRow copy;
          copy.account_id = data.owner.account_id;
          copy.source_image_rowid = source.rowid;
          copy.dest_image_rowid = row.rowid;
          copy.phase = "TRANSFERRING";
          copy.progress = 50;
          copy.total_mib = int64_t{kSizeGib} * 1024;
          copy.transferred_mib = copy.total_mib / 2;
          copy.support_cancel = true;
          copy.created_at_ms = now_ms_;
          copy.phase_changed_at_ms = now_ms_;
          RETURN_IF_ERROR(txn.InsertCopy(copy));
          ids[i] = row.image_id;
        }
        return absl::OkStatus();
      }));
  return ids;
}

absl::Status Loader::TombstoneLive(const std::string& region,
                                   const std::vector<std::string>& ids) {
  return InBatches(
      static_cast<int64_t>(ids.size()),
      [&](storage::WriteTxn& txn, int64_t begin, int64_t end) -> absl::Status {
        for (int64_t i = begin; i < end; ++i) {
          ASSIGN_OR_RETURN(auto image, txn.GetImage(region, ids[i]));
          if (!image.has_value() || image->deleted_at_ms.has_value()) {
            continue;
          }
          image->deleted_at_ms = now_ms_;
          RETURN_IF_ERROR(txn.UpdateImage(*image));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<DatasetCounts> Loader::Counts(const Dataset& data) {
  DatasetCounts counts;
  RETURN_IF_ERROR(
      store_.RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
        ASSIGN_OR_RETURN(counts.owner_live_in_region,
                         txn.CountLiveImages(data.owner.account_id, kRegion));
        ASSIGN_OR_RETURN(
            counts.owner_live_in_copy_region,
            txn.CountLiveImages(data.owner.account_id, kCopyRegion));
        return absl::OkStatus();
      }));
  return counts;
}

}  // namespace ecsimage::bench

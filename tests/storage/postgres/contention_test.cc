// The isolation choice, measured (scale-out.md §3): eight writers running
// CreateImage's checks (name, quota) and insert, all for one account, then
// spread over eight accounts. One account serialises on its (account,
// region) lock; eight do not contend. The figures are printed (and
// recorded as test properties), not asserted: machines are shared. What
// is asserted is that every write committed exactly once and the counters
// agree with the rows.
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <vector>

#include "tests/storage/postgres/pg_test_util.h"

namespace ecsimage::storage::pg::testing {
namespace {

class ContentionTest : public PgTest {
 protected:
  void CloseStore() override { store_.reset(); }
  std::unique_ptr<PostgresStore> store_;
};

TEST_F(ContentionTest, OneAccountAndEightAccounts) {
  absl::StatusOr<std::unique_ptr<PostgresStore>> opened =
      PostgresStore::Open(Options());
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = *std::move(opened);
  ASSERT_TRUE(store_->SeedIfEmpty({{"r", "R", "e"}}, {}).ok());
  for (int a = 0; a < 8; ++a) {
    ASSERT_TRUE(
        store_
            ->CreateAccount({absl::StrCat("10000000000000", 10 + a), "a", 1},
                            std::string(32, static_cast<char>('a' + a)))
            .ok());
  }
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 40;
  int64_t expected_rows = 0;
  for (int accounts : {1, 8}) {
    const uint64_t retries_before = store_->stats().retries;
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::future<int>> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.push_back(std::async(std::launch::async, [&, w] {
        int ok = 0;
        const std::string account =
            absl::StrCat("10000000000000", 10 + w % accounts);
        for (int i = 0; i < kPerWriter; ++i) {
          absl::Status s = store_->RunInWriteTransaction([&](WriteTxn& txn) {
            const std::string name =
                absl::StrCat("img-", accounts, "-", w, "-", i);
            auto same = txn.FindLiveImageByName(account, "r", name);
            if (!same.ok()) return same.status();
            if (same->has_value()) return absl::AlreadyExistsError(name);
            auto live = txn.CountLiveImages(account, "r");
            if (!live.ok()) return live.status();
            if (*live >= 100000) return absl::ResourceExhaustedError("quota");
            ImageRow image;
            image.image_id = absl::StrCat("m-", accounts, "-", w, "-", i);
            image.region_id = "r";
            image.owner_account_id = account;
            image.name = name;
            image.status = "Available";
            image.progress = 100;
            image.disks = {{"/dev/xvda", "system", "s", 1}};
            return txn.InsertImage(image);
          });
          if (s.ok()) ++ok;
        }
        return ok;
      }));
    }
    int ok = 0;
    for (auto& w : writers) ok += w.get();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    EXPECT_EQ(ok, kWriters * kPerWriter);
    expected_rows += ok;
    const uint64_t retries = store_->stats().retries - retries_before;
    std::cout << "[ contention ] " << accounts << " account(s), " << kWriters
              << " writers: " << static_cast<int>(ok / seconds) << " writes/s, "
              << retries << " restarts" << std::endl;
    RecordProperty(absl::StrCat("writes_per_s_", accounts, "_accounts"),
                   static_cast<int>(ok / seconds));
  }
  auto raw = Raw();
  absl::StatusOr<PgResult> rows = raw->Exec("SELECT count(*) FROM images");
  absl::StatusOr<PgResult> counted =
      raw->Exec("SELECT sum(live_count) FROM image_counts");
  ASSERT_TRUE(rows.ok() && counted.ok());
  EXPECT_EQ(rows->Int(0, 0), expected_rows);
  EXPECT_EQ(counted->Int(0, 0), expected_rows);
}

}  // namespace
}  // namespace ecsimage::storage::pg::testing

// SQLite's lookup connection (Store::RunInLookupTransaction,
// AccountForTokenHash): short reads made on gRPC's own threads never wait for
// the pool's readers, which a long read may hold for milliseconds. What every
// store's lookups do is in tests/storage/lookup_test.cc.
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/storage_test_util.h"
#include "util/status_macros.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::Optional;
using ::testing::SizeIs;

using LookupTest = SqliteStoreTest;

TEST_F(LookupTest, LookupsDoNotWaitForTheReadersOfThePool) {
  SqliteStoreOptions options = DefaultOptions();
  options.reader_connections = 1;
  ASSERT_OK(OpenStore(options));

  // The pool's only reader is held by a read that waits for the test.
  absl::Notification reading, release;
  std::future<absl::Status> long_read = std::async(std::launch::async, [&] {
    return store().RunInReadTransaction([&](ReadTxn&) {
      reading.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    });
  });
  reading.WaitForNotification();

  // With the pool's reader taken, lookups still answer; were they to use the
  // pool, they would wait for `release`, which comes only after them.
  std::future<void> lookups = std::async(std::launch::async, [&] {
    EXPECT_THAT(store().AccountForTokenHash(std::string(32, kAlice[15])),
                IsOkAndHolds(Optional(std::string(kAlice))));
    std::vector<RegionRow> regions;
    EXPECT_OK(store().RunInLookupTransaction([&](ReadTxn& txn) {
      ASSIGN_OR_RETURN(regions, txn.ListRegions());
      return absl::OkStatus();
    }));
    EXPECT_THAT(regions, SizeIs(2));
  });
  const bool answered =
      lookups.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  release.Notify();
  EXPECT_TRUE(answered) << "a lookup waited for the pool's reader";
  lookups.wait();
  EXPECT_OK(long_read.get());
}

}  // namespace
}  // namespace ecsimage::storage::testing

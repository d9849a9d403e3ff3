// Store::RunInLookupTransaction and AccountForTokenHash, on every store.
#include <optional>
#include <string>

#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::Optional;

using LookupTest = StoreTest;

TEST_F(LookupTest, ALookupSeesCommittedWritesAndFailsCleanly) {
  EXPECT_THAT(store().AccountForTokenHash(std::string(32, 'z')),
              IsOkAndHolds(std::nullopt));
  ASSERT_THAT(store().AddToken({std::string(32, 'z'), kBob, 5}),
              IsOkAndHolds(true));
  EXPECT_THAT(store().AccountForTokenHash(std::string(32, 'z')),
              IsOkAndHolds(Optional(std::string(kBob))));
  // A failing lookup returns its error and leaves the connection usable.
  EXPECT_THAT(store().RunInLookupTransaction([](ReadTxn&) {
    return absl::AbortedError("from the lookup");
  }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store().AccountForTokenHash(std::string(32, 'z')),
              IsOkAndHolds(Optional(std::string(kBob))));
}

}  // namespace
}  // namespace ecsimage::storage::testing

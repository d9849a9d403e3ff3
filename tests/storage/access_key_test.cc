// AccessKeys in storage (migration 0007): AddAccessKey, GetAccessKey,
// ListAccessKeys, RevokeAccessKey, scoped to their account and seen at once
// by another store on the same database (the CLI while `serve` runs).
#include <optional>
#include <string>
#include <vector>

#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Optional;

using AccessKeyTest = StoreTest;

AccessKeyRow Key(std::string id, std::string account, int64_t at) {
  // Sealed bytes are opaque to storage; a NUL checks they stay binary.
  return {std::move(id),
          std::move(account),
          std::string("s\0e\xffz", 5),
          "k1",
          at,
          0};
}

TEST_F(AccessKeyTest, AddedKeyIsFoundWithItsSealedSecretIntact) {
  EXPECT_THAT(store().AddAccessKey(Key("LTAIa", kAlice, 7)),
              IsOkAndHolds(true));
  ASSERT_OK_AND_ASSIGN(std::optional<AccessKeyRow> got,
                       store().GetAccessKey("LTAIa"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->account_id, kAlice);
  EXPECT_EQ(got->secret_sealed, std::string("s\0e\xffz", 5));
  EXPECT_EQ(got->key_id, "k1");
  EXPECT_EQ(got->created_at_ms, 7);
  EXPECT_EQ(got->revoked_at_ms, 0);
  EXPECT_THAT(store().GetAccessKey("LTAIb"), IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(AccessKeyTest, AddToAnUnknownAccountWritesNothing) {
  EXPECT_THAT(store().AddAccessKey(Key("LTAIu", "9999999999999999", 7)),
              IsOkAndHolds(false));
  EXPECT_THAT(store().GetAccessKey("LTAIu"), IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store().ListAccessKeys("9999999999999999"),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(AccessKeyTest, AnIdIsNeverReused) {
  ASSERT_THAT(store().AddAccessKey(Key("LTAIa", kAlice, 7)),
              IsOkAndHolds(true));
  EXPECT_THAT(store().AddAccessKey(Key("LTAIa", kBob, 8)).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store().GetAccessKey("LTAIa"),
              IsOkAndHolds(Optional(
                  Field(&AccessKeyRow::account_id, std::string(kAlice)))));
}

TEST_F(AccessKeyTest, ListIsPerAccountOldestFirst) {
  ASSERT_OK(store().AddAccessKey(Key("LTAIz", kAlice, 5)).status());
  ASSERT_OK(store().AddAccessKey(Key("LTAIb", kAlice, 5)).status());
  ASSERT_OK(store().AddAccessKey(Key("LTAIa", kAlice, 9)).status());
  ASSERT_OK(store().AddAccessKey(Key("LTAIc", kBob, 1)).status());
  ASSERT_OK_AND_ASSIGN(auto keys, store().ListAccessKeys(kAlice));
  ASSERT_TRUE(keys.has_value());
  std::vector<std::string> ids;
  for (const AccessKeyRow& k : *keys) ids.push_back(k.access_key_id);
  EXPECT_THAT(ids, ElementsAre("LTAIb", "LTAIz", "LTAIa"));
  EXPECT_THAT(store().ListAccessKeys(kCarol),
              IsOkAndHolds(Optional(IsEmpty())));
}

TEST_F(AccessKeyTest, RevokeMarksOnlyTheOwnersActiveKey) {
  ASSERT_OK(store().AddAccessKey(Key("LTAIa", kAlice, 5)).status());
  // Another account cannot revoke it.
  EXPECT_THAT(store().RevokeAccessKey(kBob, "LTAIa", 10), IsOkAndHolds(false));
  EXPECT_THAT(store().GetAccessKey("LTAIa"),
              IsOkAndHolds(Optional(Field(&AccessKeyRow::revoked_at_ms, 0))));
  EXPECT_THAT(store().RevokeAccessKey(kAlice, "LTAIa", 10), IsOkAndHolds(true));
  EXPECT_THAT(store().GetAccessKey("LTAIa"),
              IsOkAndHolds(Optional(Field(&AccessKeyRow::revoked_at_ms, 10))));
  // Revoking twice changes nothing.
  EXPECT_THAT(store().RevokeAccessKey(kAlice, "LTAIa", 20),
              IsOkAndHolds(false));
  EXPECT_THAT(store().GetAccessKey("LTAIa"),
              IsOkAndHolds(Optional(Field(&AccessKeyRow::revoked_at_ms, 10))));
  EXPECT_THAT(store().RevokeAccessKey(kAlice, "LTAInone", 20),
              IsOkAndHolds(false));
}

TEST_F(AccessKeyTest, ChangesByAnotherStoreAreSeenAtOnce) {
  ASSERT_OK_AND_ASSIGN(auto cli, OpenAnother());
  ASSERT_OK(store().GetAccessKey("LTAIa").status());  // prime the readers
  ASSERT_THAT(cli->AddAccessKey(Key("LTAIa", kAlice, 5)), IsOkAndHolds(true));
  EXPECT_THAT(store().GetAccessKey("LTAIa"),
              IsOkAndHolds(Optional(Field(&AccessKeyRow::revoked_at_ms, 0))));
  ASSERT_THAT(cli->RevokeAccessKey(kAlice, "LTAIa", 6), IsOkAndHolds(true));
  EXPECT_THAT(store().GetAccessKey("LTAIa"),
              IsOkAndHolds(Optional(Field(&AccessKeyRow::revoked_at_ms, 6))));
}

}  // namespace
}  // namespace ecsimage::storage::testing

// Token rotation in storage: AddToken, ListTokens, DeleteToken, and that
// each is scoped to its account and seen at once by another store on the
// same file (a running server while the CLI rotates).
#include <optional>
#include <string>
#include <vector>

#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::FieldsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

using TokenTest = StoreTest;

// StoreTest gives kAlice, kBob and kCarol one token each, hash 32 x '1',
// '2' and '3', created at 1.
std::string Hash(char c) { return std::string(32, c); }

TEST_F(TokenTest, AddTokenGivesAnAccountASecondWorkingToken) {
  EXPECT_THAT(store().AddToken({Hash('n'), kAlice, 7}), IsOkAndHolds(true));
  EXPECT_THAT(store().AccountForTokenHash(Hash('n')),
              IsOkAndHolds(Optional(std::string(kAlice))));
  // The old token keeps working: a client can be moved over.
  EXPECT_THAT(store().AccountForTokenHash(Hash('1')),
              IsOkAndHolds(Optional(std::string(kAlice))));
  EXPECT_THAT(store().ListTokens(kAlice),
              IsOkAndHolds(Optional(
                  ElementsAre(FieldsAre(Hash('1'), std::string(kAlice), 1),
                              FieldsAre(Hash('n'), std::string(kAlice), 7)))));
  // Other accounts are untouched.
  EXPECT_THAT(store().ListTokens(kBob),
              IsOkAndHolds(Optional(
                  ElementsAre(FieldsAre(Hash('2'), std::string(kBob), 1)))));
}

TEST_F(TokenTest, AddTokenToAnUnknownAccountWritesNothing) {
  EXPECT_THAT(store().AddToken({Hash('u'), "9999999999999999", 7}),
              IsOkAndHolds(false));
  EXPECT_THAT(store().AccountForTokenHash(Hash('u')),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store().ListTokens("9999999999999999"),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(TokenTest, AddTokenRefusesAHashThatIsAlreadyAToken) {
  // Bob's hash offered to Alice: refused, and it stays Bob's.
  EXPECT_THAT(store().AddToken({Hash('2'), kAlice, 7}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store().AccountForTokenHash(Hash('2')),
              IsOkAndHolds(Optional(std::string(kBob))));
  EXPECT_THAT(store().ListTokens(kAlice),
              IsOkAndHolds(Optional(
                  ElementsAre(FieldsAre(Hash('1'), std::string(kAlice), 1)))));
}

TEST_F(TokenTest, ListTokensIsOldestFirstThenByHash) {
  ASSERT_OK(store().AddToken({Hash('z'), kAlice, 5}).status());
  ASSERT_OK(store().AddToken({Hash('b'), kAlice, 5}).status());
  ASSERT_OK(store().AddToken({Hash('a'), kAlice, 9}).status());
  ASSERT_OK_AND_ASSIGN(auto tokens, store().ListTokens(kAlice));
  ASSERT_TRUE(tokens.has_value());
  std::vector<std::string> order;
  for (const TokenRow& t : *tokens) order.push_back(t.token_sha256);
  EXPECT_THAT(order, ElementsAre(Hash('1'), Hash('b'), Hash('z'), Hash('a')));
}

TEST_F(TokenTest, DeleteTokenRemovesOnlyThatTokenAndCountsTheRest) {
  ASSERT_OK(store().AddToken({Hash('n'), kAlice, 7}).status());
  EXPECT_THAT(store().DeleteToken(kAlice, Hash('1')),
              IsOkAndHolds(Optional(int64_t{1})));
  EXPECT_THAT(store().AccountForTokenHash(Hash('1')),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store().AccountForTokenHash(Hash('n')),
              IsOkAndHolds(Optional(std::string(kAlice))));
  // Gone: a second delete finds nothing.
  EXPECT_THAT(store().DeleteToken(kAlice, Hash('1')),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(TokenTest, DeleteTokenCannotTouchAnotherAccountsToken) {
  // Alice names Bob's token: nothing happens.
  EXPECT_THAT(store().DeleteToken(kAlice, Hash('2')),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store().AccountForTokenHash(Hash('2')),
              IsOkAndHolds(Optional(std::string(kBob))));
  EXPECT_THAT(store().ListTokens(kBob),
              IsOkAndHolds(Optional(
                  ElementsAre(FieldsAre(Hash('2'), std::string(kBob), 1)))));
  EXPECT_THAT(store().ListTokens(kAlice),
              IsOkAndHolds(Optional(
                  ElementsAre(FieldsAre(Hash('1'), std::string(kAlice), 1)))));
  // Nor can an unknown account.
  EXPECT_THAT(store().DeleteToken("9999999999999999", Hash('2')),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(TokenTest, DeletingTheLastTokenLeavesTheAccountWithNone) {
  EXPECT_THAT(store().DeleteToken(kBob, Hash('2')),
              IsOkAndHolds(Optional(int64_t{0})));
  // The account still exists (empty list, not nullopt) and can get a token.
  EXPECT_THAT(store().ListTokens(kBob), IsOkAndHolds(Optional(IsEmpty())));
  EXPECT_THAT(store().AddToken({Hash('m'), kBob, 8}), IsOkAndHolds(true));
  EXPECT_THAT(store().AccountForTokenHash(Hash('m')),
              IsOkAndHolds(Optional(std::string(kBob))));
}

TEST_F(TokenTest, RotationByAnotherStoreIsSeenAtOnce) {
  // Another process (the CLI) on the same file while this store serves.
  ASSERT_OK_AND_ASSIGN(auto cli, OpenAnother());
  // Prime this store's readers so that a stale cache would show.
  ASSERT_OK(store().AccountForTokenHash(Hash('1')).status());

  ASSERT_THAT(cli->AddToken({Hash('n'), kAlice, 7}), IsOkAndHolds(true));
  EXPECT_THAT(store().AccountForTokenHash(Hash('n')),
              IsOkAndHolds(Optional(std::string(kAlice))));
  ASSERT_THAT(cli->DeleteToken(kAlice, Hash('1')),
              IsOkAndHolds(Optional(int64_t{1})));
  EXPECT_THAT(store().AccountForTokenHash(Hash('1')),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store().AccountForTokenHash(Hash('n')),
              IsOkAndHolds(Optional(std::string(kAlice))));
}

// EnsureAccountToken: the bootstrap token of `serve --bootstrap-token`.
AccountRow Boot(const std::string& id, const std::string& name, int64_t at) {
  return AccountRow{id, name, at};
}

TEST_F(TokenTest, EnsureAccountTokenCreatesTheNamedAccountOnce) {
  ASSERT_OK_AND_ASSIGN(
      Store::EnsuredToken first,
      store().EnsureAccountToken(Boot("5000000000000001", "bootstrap", 9),
                                 Hash('b')));
  EXPECT_EQ(first.account_id, "5000000000000001");
  EXPECT_TRUE(first.account_created);
  EXPECT_TRUE(first.token_added);
  EXPECT_THAT(store().AccountForTokenHash(Hash('b')),
              IsOkAndHolds(Optional(std::string("5000000000000001"))));
  // A restart with the same Secret: nothing changes, not even a new id.
  ASSERT_OK_AND_ASSIGN(
      Store::EnsuredToken again,
      store().EnsureAccountToken(Boot("5000000000000002", "bootstrap", 10),
                                 Hash('b')));
  EXPECT_EQ(again.account_id, "5000000000000001");
  EXPECT_FALSE(again.account_created);
  EXPECT_FALSE(again.token_added);
  EXPECT_THAT(store().ListTokens("5000000000000002"),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store().ListTokens("5000000000000001"),
              IsOkAndHolds(Optional(ElementsAre(
                  FieldsAre(Hash('b'), std::string("5000000000000001"), 9)))));
}

TEST_F(TokenTest, EnsureAccountTokenAddsARotatedTokenToTheSameAccount) {
  ASSERT_OK(store()
                .EnsureAccountToken(Boot("5000000000000001", "bootstrap", 9),
                                    Hash('b'))
                .status());
  ASSERT_OK_AND_ASSIGN(
      Store::EnsuredToken rotated,
      store().EnsureAccountToken(Boot("5000000000000002", "bootstrap", 12),
                                 Hash('c')));
  EXPECT_EQ(rotated.account_id, "5000000000000001");
  EXPECT_FALSE(rotated.account_created);
  EXPECT_TRUE(rotated.token_added);
  // Both work until the operator revokes the old one.
  EXPECT_THAT(store().ListTokens("5000000000000001"),
              IsOkAndHolds(Optional(ElementsAre(
                  FieldsAre(Hash('b'), std::string("5000000000000001"), 9),
                  FieldsAre(Hash('c'), std::string("5000000000000001"), 12)))));
}

TEST_F(TokenTest, EnsureAccountTokenLeavesAnotherAccountsTokenAlone) {
  // Bob's token offered as the bootstrap token: it already authenticates,
  // as Bob; no account is created and nothing moves.
  ASSERT_OK_AND_ASSIGN(
      Store::EnsuredToken ensured,
      store().EnsureAccountToken(Boot("5000000000000001", "bootstrap", 9),
                                 Hash('2')));
  EXPECT_EQ(ensured.account_id, kBob);
  EXPECT_FALSE(ensured.account_created);
  EXPECT_FALSE(ensured.token_added);
  EXPECT_THAT(store().ListTokens("5000000000000001"),
              IsOkAndHolds(Eq(std::nullopt)));
}

}  // namespace
}  // namespace ecsimage::storage::testing

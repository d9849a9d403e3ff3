// Authenticator's token cache (scale-out.md §5): a new token works at once,
// a revoked one stops working within one second of the injected clock, an
// unknown token is never cached, a clock that goes backwards expires the
// entry.
#include "gtest/gtest.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "tests/domain/task_test_env.h"

namespace ecsimage::domain {
namespace {

constexpr uint64_t kSeed = 7;

std::string CodeOf(const absl::Status& s) {
  auto payload = PayloadOf(s);
  return payload.has_value() ? payload->ecs_code() : "";
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  testing::TaskTestEnv env_;
  RandomIdGenerator ids_{kSeed};
  AccountAdmin admin_{env_.store(), env_.clock(), ids_};
  Authenticator auth_{env_.store(), env_.clock()};
};

TEST_F(AuthenticatorTest, KnownTokenIsReadOnceThenServedFromTheCache) {
  auto created = admin_.CreateToken(env_.alice().account_id);
  ASSERT_TRUE(created.ok()) << created.status();
  for (int i = 0; i < 5; ++i) {
    auto account = auth_.Authenticate(created->token);
    ASSERT_TRUE(account.ok()) << account.status();
    EXPECT_EQ(*account, env_.alice().account_id);
    env_.clock().AdvanceMs(100);
  }
  EXPECT_EQ(auth_.store_lookups(), 1);
  // 500 ms on: still cached. 1000 ms after the lookup: read again.
  env_.clock().AdvanceMs(499);
  ASSERT_TRUE(auth_.Authenticate(created->token).ok());
  EXPECT_EQ(auth_.store_lookups(), 1);
  env_.clock().AdvanceMs(1);
  ASSERT_TRUE(auth_.Authenticate(created->token).ok());
  EXPECT_EQ(auth_.store_lookups(), 2);
}

TEST_F(AuthenticatorTest, RevokedTokenStopsWorkingWithinOneSecond) {
  auto created = admin_.CreateToken(env_.alice().account_id);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(auth_.Authenticate(created->token).ok());  // cached now
  env_.clock().AdvanceMs(10);
  auto revoked = admin_.RevokeToken(env_.alice().account_id, created->token_id);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  // Still answered from the cache for the rest of its second...
  env_.clock().AdvanceMs(Authenticator::kTokenCacheMs - 11);
  EXPECT_TRUE(auth_.Authenticate(created->token).ok());
  // ...and refused once that second is over, less than a second after the
  // revocation.
  env_.clock().AdvanceMs(1);
  EXPECT_EQ(CodeOf(auth_.Authenticate(created->token).status()),
            "InvalidToken");
  EXPECT_EQ(CodeOf(auth_.Authenticate(created->token).status()),
            "InvalidToken");
}

TEST_F(AuthenticatorTest, NewTokenWorksAtOnceAndUnknownTokensAreNotCached) {
  const std::string unknown = "not-a-token-of-anyone-000000000000";
  EXPECT_EQ(CodeOf(auth_.Authenticate(unknown).status()), "InvalidToken");
  EXPECT_EQ(CodeOf(auth_.Authenticate(unknown).status()), "InvalidToken");
  EXPECT_EQ(auth_.store_lookups(), 2);
  // A token created after a miss works at once: misses are not remembered.
  auto created = admin_.CreateToken(env_.bob().account_id);
  ASSERT_TRUE(created.ok()) << created.status();
  auto account = auth_.Authenticate(created->token);
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(*account, env_.bob().account_id);
}

TEST_F(AuthenticatorTest, ClockGoingBackwardsExpiresTheEntry) {
  auto created = admin_.CreateToken(env_.alice().account_id);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(auth_.Authenticate(created->token).ok());
  env_.clock().AdvanceMs(-5000);
  ASSERT_TRUE(
      admin_.RevokeToken(env_.alice().account_id, created->token_id).ok());
  EXPECT_EQ(CodeOf(auth_.Authenticate(created->token).status()),
            "InvalidToken");
}

TEST_F(AuthenticatorTest, TheCacheIsBounded) {
  Authenticator small(env_.store(), env_.clock(), /*max_cached=*/2);
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    auto t = admin_.CreateToken(env_.bob().account_id);
    ASSERT_TRUE(t.ok()) << t.status();
    tokens.push_back(t->token);
  }
  ASSERT_TRUE(small.Authenticate(tokens[0]).ok());
  ASSERT_TRUE(small.Authenticate(tokens[1]).ok());
  ASSERT_TRUE(small.Authenticate(tokens[0]).ok());  // cached
  EXPECT_EQ(small.store_lookups(), 2);
  // A third token finds the cache full: it starts over with that one, so
  // the first is read from the store again within its second.
  ASSERT_TRUE(small.Authenticate(tokens[2]).ok());
  ASSERT_TRUE(small.Authenticate(tokens[2]).ok());
  EXPECT_EQ(small.store_lookups(), 3);
  ASSERT_TRUE(small.Authenticate(tokens[0]).ok());
  EXPECT_EQ(small.store_lookups(), 4);
}

}  // namespace
}  // namespace ecsimage::domain

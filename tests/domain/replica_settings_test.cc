// ClaimReplicaSetting: the rule that keeps --simulation-control equal on
// every replica of one database (scale-out.md §4), on a real store.
#include "service/domain/replica_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/domain/task_test_env.h"

namespace ecsimage::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kStaleMs = 30000;

absl::Status Claim(TaskTestEnv& env, const std::string& value) {
  return domain::ClaimReplicaSetting(
      env.store(), domain::kSimulationControlSetting, "--simulation-control",
      value, env.clock().NowMs(), kStaleMs);
}

TEST(ReplicaSettingsTest, FirstClaimAndSameValueAreAccepted) {
  TaskTestEnv env;
  EXPECT_TRUE(Claim(env, "false").ok());
  env.clock().AdvanceMs(1000);
  EXPECT_TRUE(Claim(env, "false").ok());  // another replica, or a confirm
}

TEST(ReplicaSettingsTest, OtherValueIsRefusedWhileConfirmedRecently) {
  TaskTestEnv env;
  ASSERT_TRUE(Claim(env, "false").ok());
  env.clock().AdvanceMs(kStaleMs - 1);
  absl::Status refused = Claim(env, "true");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()),
              AllOf(HasSubstr("--simulation-control=false"),
                    HasSubstr("confirmed 29 s ago"), HasSubstr("wait 30 s")));
  // The refusal wrote nothing: the running value stays.
  env.clock().AdvanceMs(1);
  EXPECT_TRUE(Claim(env, "false").ok());
}

TEST(ReplicaSettingsTest, OtherValueReplacesOneNobodyConfirmed) {
  TaskTestEnv env;
  ASSERT_TRUE(Claim(env, "false").ok());
  env.clock().AdvanceMs(kStaleMs);
  EXPECT_TRUE(Claim(env, "true").ok());
  // Now the old value is the one refused.
  EXPECT_EQ(Claim(env, "false").code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ReplicaSettingsTest, ConfirmingKeepsTheValueAlive) {
  TaskTestEnv env;
  ASSERT_TRUE(Claim(env, "false").ok());
  for (int i = 0; i < 5; ++i) {
    env.clock().AdvanceMs(kStaleMs / 2);
    ASSERT_TRUE(Claim(env, "false").ok());  // the running replica confirms
  }
  EXPECT_EQ(Claim(env, "true").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ecsimage::testing

// AccessKeys: secrets sealed under the key file, resolved only while
// active, opened with the previous key file during a rotation, and never
// stored in clear.
#include "service/domain/access_keys.h"

#include "gtest/gtest.h"
#include "service/domain/errors.h"
#include "tests/domain/task_test_env.h"

namespace ecsimage::domain {
namespace {

std::string CodeOf(const absl::Status& s) {
  auto payload = PayloadOf(s);
  return payload.has_value() ? payload->ecs_code() : "";
}

TEST(AccessKeysTest, CreateResolveRevoke) {
  testing::TaskTestEnv env;
  SecretBox box(std::string(32, 'a'));
  AccessKeys keys(env.store(), env.clock(), &box);
  auto created = keys.Create(env.alice().account_id);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->access_key_id.substr(0, 4), "LTAI");
  EXPECT_EQ(created->access_key_id.size(), 24u);
  EXPECT_EQ(created->access_key_secret.size(), 30u);
  auto row = env.store().GetAccessKey(created->access_key_id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->secret_sealed.find(created->access_key_secret),
            std::string::npos);

  auto resolved = keys.Resolve(created->access_key_id);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->account_id, env.alice().account_id);
  EXPECT_EQ(resolved->secret, created->access_key_secret);

  EXPECT_EQ(CodeOf(keys.Revoke(env.bob().account_id, created->access_key_id)),
            "InvalidParameter");
  ASSERT_TRUE(keys.Revoke(env.alice().account_id, created->access_key_id).ok());
  EXPECT_EQ(CodeOf(keys.Resolve(created->access_key_id).status()),
            "InvalidAccessKeyId.Inactive");
  EXPECT_EQ(CodeOf(keys.Resolve("LTAInone").status()),
            "InvalidAccessKeyId.NotFound");
  EXPECT_EQ(CodeOf(keys.Create("9999999999999999").status()),
            "InvalidParameter");
  auto listed = keys.List(env.alice().account_id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_GT((*listed)[0].revoked_at_ms, 0);
}

TEST(AccessKeysTest, RotationOpensOldSecretsWithThePreviousKeyFile) {
  testing::TaskTestEnv env;
  SecretBox old_box(std::string(32, 'o'));
  SecretBox new_box(std::string(32, 'n'));
  AccessKeys before(env.store(), env.clock(), &old_box);
  auto old_key = before.Create(env.alice().account_id);
  ASSERT_TRUE(old_key.ok());

  AccessKeys without_previous(env.store(), env.clock(), &new_box);
  EXPECT_EQ(CodeOf(without_previous.Resolve(old_key->access_key_id).status()),
            "InvalidAccessKeyId.NotFound");
  AccessKeys rotating(env.store(), env.clock(), &new_box, &old_box);
  auto resolved = rotating.Resolve(old_key->access_key_id);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->secret, old_key->access_key_secret);
  auto new_key = rotating.Create(env.alice().account_id);
  ASSERT_TRUE(new_key.ok());
  EXPECT_TRUE(without_previous.Resolve(new_key->access_key_id).ok());
}

TEST(AccessKeysTest, WithoutAKeyFileNothingIsCreatedOrResolved) {
  testing::TaskTestEnv env;
  AccessKeys keys(env.store(), env.clock(), nullptr);
  EXPECT_EQ(CodeOf(keys.Create(env.alice().account_id).status()),
            "AccessKeyAuthDisabled");
  EXPECT_EQ(CodeOf(keys.Resolve("LTAIx").status()), "AccessKeyAuthDisabled");
}

}  // namespace
}  // namespace ecsimage::domain

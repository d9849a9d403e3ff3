// Sharing rules (api.md §2): limits, forbidden and unknown accounts,
// all-or-nothing, what a grantee sees and may do, Deprecated and public.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class SharingTest : public ContractTest {
 protected:
  std::vector<std::string> NewAccountIds(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(
          server_->CreateAccount("grantee-" + std::to_string(++accounts_))
              .account_id);
    }
    return ids;
  }

  void ExpectNotAvailable(const Decoded& d) {
    ExpectEcsError(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "IncorrectImageStatus", 400, kMsgImageNotAvailable,
                   Detail::kPreconditionFailure, Retry::kUnspecified);
  }

  int accounts_ = 0;
};

TEST_F(SharingTest, AccountIdsAreSixteenDigits) {
  EXPECT_THAT(alice_.account_id, ::testing::MatchesRegex("[0-9]{16}"));
  EXPECT_THAT(bob_.account_id, ::testing::MatchesRegex("[0-9]{16}"));
}

TEST_F(SharingTest, MoreThanTenAddedAccountsIsInvalidParameter) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> eleven = NewAccountIds(11);
  ExpectInvalidParameter(TryShare(alice_, kRegion, id, eleven), "AddAccount");
  EXPECT_TRUE(SharedWith(alice_, id).empty());
  std::vector<std::string> ten(eleven.begin(), eleven.begin() + 10);
  EXPECT_CALL_OK(TryShare(alice_, kRegion, id, ten));
  EXPECT_EQ(SharedWith(alice_, id).size(), 10u);
}

TEST_F(SharingTest, MoreThanTenRemovedAccountsIsInvalidParameter) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> eleven = NewAccountIds(11);
  Share(alice_, id,
        std::vector<std::string>(eleven.begin(), eleven.begin() + 10));
  ExpectInvalidParameter(TryShare(alice_, kRegion, id, {}, eleven),
                         "RemoveAccount");
  EXPECT_EQ(SharedWith(alice_, id).size(), 10u);
}

TEST_F(SharingTest, FiftyFirstShareIsQuotaExceedAndAllOrNothing) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> accounts = NewAccountIds(56);
  auto slice = [&](int from, int to) {
    return std::vector<std::string>(accounts.begin() + from,
                                    accounts.begin() + to);
  };
  for (int i = 0; i < 40; i += 10) Share(alice_, id, slice(i, i + 10));
  Share(alice_, id, slice(40, 45));
  ASSERT_EQ(SharedWith(alice_, id).size(), 45u);

  // 45 + 10 > 50: nothing of the call is applied.
  Decoded d = TryShare(alice_, kRegion, id, slice(45, 55));
  EXPECT_ECS_ERROR(
      d, grpc::StatusCode::RESOURCE_EXHAUSTED, "QuotaExceed.ShareImageUser",
      403, "The shared Image user Quota exceeds.", Detail::kUnspecified);
  EXPECT_EQ(SharedWith(alice_, id).size(), 45u);

  Share(alice_, id, slice(45, 50));
  EXPECT_EQ(SharedWith(alice_, id).size(), 50u);
  d = TryShare(alice_, kRegion, id, slice(50, 51));
  EXPECT_ECS_ERROR(
      d, grpc::StatusCode::RESOURCE_EXHAUSTED, "QuotaExceed.ShareImageUser",
      403, "The shared Image user Quota exceeds.", Detail::kUnspecified);
  EXPECT_EQ(SharedWith(alice_, id).size(), 50u);
  // Removing one and adding another in the same call stays within 50.
  EXPECT_CALL_OK(TryShare(alice_, kRegion, id, slice(50, 51), slice(0, 1)));
  EXPECT_EQ(SharedWith(alice_, id).size(), 50u);
}

TEST_F(SharingTest, SharingWithYourselfIsForbbiden) {
  std::string id = CreateAvailableImage(alice_);
  Decoded d = TryShare(alice_, kRegion, id, {alice_.account_id});
  EXPECT_ECS_ERROR(
      d, grpc::StatusCode::INVALID_ARGUMENT, "InvalidAccount.Forbbiden", 404,
      "The specified Account does not yourself.", Detail::kUnspecified);
  // All-or-nothing: bob is not added either.
  d = TryShare(alice_, kRegion, id, {bob_.account_id, alice_.account_id});
  EXPECT_EQ(d.ecs_code(), "InvalidAccount.Forbbiden");
  EXPECT_TRUE(SharedWith(alice_, id).empty());
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
}

TEST_F(SharingTest, UnknownAccountIsInvalidAccountNotFound) {
  std::string id = CreateAvailableImage(alice_);
  const std::string nobody = "9999999999999999";
  Decoded d = TryShare(alice_, kRegion, id, {nobody});
  EXPECT_ECS_ERROR(d, grpc::StatusCode::NOT_FOUND, "InvalidAccount.NotFound",
                   404,
                   "The specified parameter \"AddAccount.n\" or "
                   "\"RemoveAccount.n\" does not exist.",
                   Detail::kUnspecified);
  // All-or-nothing: bob is not added either.
  d = TryShare(alice_, kRegion, id, {bob_.account_id, nobody});
  EXPECT_EQ(d.ecs_code(), "InvalidAccount.NotFound");
  EXPECT_TRUE(SharedWith(alice_, id).empty());
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
}

TEST_F(SharingTest, RemovingAnAbsentShareIsANoOp) {
  std::string id = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TryShare(alice_, kRegion, id, {}, {bob_.account_id}));
  EXPECT_TRUE(SharedWith(alice_, id).empty());
  Share(alice_, id, {bob_.account_id});
  Unshare(alice_, id, {bob_.account_id});
  EXPECT_CALL_OK(TryShare(alice_, kRegion, id, {}, {bob_.account_id}));
  EXPECT_TRUE(SharedWith(alice_, id).empty());
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(SharingTest, SharedImageIsVisibleToTheGranteeAsOthers) {
  std::string id = CreateAvailableImage(alice_);
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
  Share(alice_, id, {bob_.account_id});

  std::vector<v1::Image> others = ListImages(bob_, kRegion, "others");
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].image_id(), id);
  EXPECT_EQ(others[0].image_owner_alias(), "others");
  EXPECT_EQ(others[0].image_owner_id(), alice_.account_id);
  EXPECT_FALSE(others[0].is_public());
  EXPECT_TRUE(ListImages(bob_, kRegion, "self").empty());
  EXPECT_TRUE(FindImage(bob_, kRegion, id, "").has_value());
  // The owner still sees it as self; other regions do not show it.
  EXPECT_EQ(ImageOf(alice_, kRegion, id).image_owner_alias(), "self");
  EXPECT_TRUE(ListImages(bob_, kOtherRegion, "others").empty());

  Unshare(alice_, id, {bob_.account_id});
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
}

TEST_F(SharingTest, GranteeCannotDeleteShareModifyOrCancelTheImage) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  TestAccount carol = server_->CreateAccount("carol");

  ExpectImageNotFound(TryDelete(bob_, kRegion, id), id);
  ExpectImageNotFound(TryShare(bob_, kRegion, id, {carol.account_id}), id);
  ExpectImageNotFound(TryShare(bob_, kRegion, id, {}, {bob_.account_id}), id);
  ExpectImageNotFound(TryShare(bob_, kRegion, id, {}, {}, true), id);
  ExpectImageNotFound(TryCancelCopy(bob_, kRegion, id), id);
  ExpectImageNotFound(TrySetStatus(bob_, id, "Deprecated"), id);
  ExpectImageNotFound(TryDescribeSharePermission(bob_, kRegion, id), id);
  EXPECT_EQ(SharedWith(alice_, id), std::vector<std::string>{bob_.account_id});
  EXPECT_FALSE(FindImage(carol, kRegion, id).has_value());
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");

  // What a grantee may do: start instances from it.
  EXPECT_EQ(Run(bob_, id, 1).size(), 1u);
}

TEST_F(SharingTest, DeprecatedImageCannotBeSharedButStillStartsInstances) {
  std::string id = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TrySetStatus(alice_, id, "Deprecated"));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Deprecated");
  ExpectNotAvailable(TryShare(alice_, kRegion, id, {bob_.account_id}));
  EXPECT_TRUE(SharedWith(alice_, id).empty());
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
  EXPECT_EQ(Run(alice_, id, 1).size(), 1u);
  EXPECT_CALL_OK(TrySetStatus(alice_, id, "Available"));
  Share(alice_, id, {bob_.account_id});
}

TEST_F(SharingTest, ImageStillCreatingCannotBeShared) {
  std::string id = CreateImage(alice_);
  ExpectNotAvailable(TryShare(alice_, kRegion, id, {bob_.account_id}));
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
}

TEST_F(SharingTest, SharedImageCannotBeDeprecated) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  Decoded d = TrySetStatus(alice_, id, "Deprecated");
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION, "ImageUseShared",
                   403,
                   "The specified image has been shared to others, please "
                   "remove shared accounts first.",
                   Detail::kPreconditionFailure);
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
  Unshare(alice_, id, {bob_.account_id});
  EXPECT_CALL_OK(TrySetStatus(alice_, id, "Deprecated"));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Deprecated");
}

TEST_F(SharingTest, PublicImageIsListedToEveryone) {
  std::string id = CreateAvailableImage(alice_);
  TestAccount carol = server_->CreateAccount("carol");
  SetPublic(alice_, id, true);
  for (const TestAccount* who : {&bob_, &carol}) {
    std::vector<v1::Image> others = ListImages(*who, kRegion, "others");
    ASSERT_EQ(others.size(), 1u);
    EXPECT_EQ(others[0].image_id(), id);
    EXPECT_EQ(others[0].image_owner_alias(), "others");
    EXPECT_TRUE(others[0].is_public());
  }
  EXPECT_TRUE(ImageOf(alice_, kRegion, id).is_public());

  v1::DescribeImageSharePermissionResponse perm;
  ASSERT_CALL_OK(TryDescribeSharePermission(alice_, kRegion, id, &perm));
  ASSERT_EQ(perm.share_groups_size(), 1);
  EXPECT_EQ(perm.share_groups(0).group(), "all");
  EXPECT_EQ(perm.accounts_size(), 0);

  SetPublic(alice_, id, false);
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
  ASSERT_CALL_OK(TryDescribeSharePermission(alice_, kRegion, id, &perm));
  EXPECT_EQ(perm.share_groups_size(), 0);
}

TEST_F(SharingTest, PublicImageCannotBeExported) {
  std::string id = CreateAvailableImage(alice_);
  SetPublic(alice_, id, true);
  Decoded d = TryExport(alice_, kRegion, id);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION, "ImageIsPublic",
                   403, "", Detail::kPreconditionFailure);
}

TEST_F(SharingTest, DescribeSharePermissionListsGrantees) {
  std::string id = CreateAvailableImage(alice_);
  TestAccount carol = server_->CreateAccount("carol");
  Share(alice_, id, {bob_.account_id, carol.account_id});
  v1::DescribeImageSharePermissionResponse perm;
  ASSERT_CALL_OK(TryDescribeSharePermission(alice_, kRegion, id, &perm));
  EXPECT_EQ(perm.image_id(), id);
  EXPECT_EQ(perm.total_count(), 2);
  std::vector<std::string> ids;
  for (const auto& a : perm.accounts()) {
    ids.push_back(a.aliyun_id());
    EXPECT_THAT(a.shared_time(),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
                                        "[0-9]{2}:[0-9]{2}Z"));
  }
  EXPECT_THAT(
      ids, ::testing::UnorderedElementsAre(bob_.account_id, carol.account_id));
}

}  // namespace
}  // namespace ecsimage::testing::contract

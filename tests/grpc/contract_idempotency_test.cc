// ClientToken idempotency (api.md §5): the same account + RPC + token with
// the same parameters returns the first response's ids with a fresh
// RequestId; other parameters are IdempotentParameterMismatch; only
// successful calls are remembered.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class IdempotencyTest : public ContractTest {
 protected:
  void ExpectMismatch(const Decoded& d) {
    ExpectEcsError(d, grpc::StatusCode::INVALID_ARGUMENT,
                   "IdempotentParameterMismatch", 400, kMsgIdempotentMismatch,
                   Detail::kUnspecified);
  }

  v1::CreateImageRequest CreateRequest(const std::string& name,
                                       const std::string& token) {
    v1::CreateImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_name(name);
    req.set_description("idempotent image");
    req.set_client_token(token);
    return req;
  }
};

TEST_F(IdempotencyTest, CreateImageRetryReturnsTheSameImage) {
  v1::CreateImageRequest req = CreateRequest("retry-me", "token-create-1");
  v1::CreateImageResponse first, second;
  ASSERT_CALL_OK(TryCreateImage(alice_, req, &first));
  ASSERT_CALL_OK(TryCreateImage(alice_, req, &second));
  EXPECT_EQ(second.image_id(), first.image_id());
  EXPECT_NE(second.request_id(), first.request_id());
  EXPECT_EQ(ListImages(alice_, kRegion, "self").size(), 1u);
}

TEST_F(IdempotencyTest, CreateImageWithChangedParametersIsMismatch) {
  v1::CreateImageResponse first;
  ASSERT_CALL_OK(TryCreateImage(
      alice_, CreateRequest("first-name", "token-create-2"), &first));
  ExpectMismatch(
      TryCreateImage(alice_, CreateRequest("other-name", "token-create-2")));
  v1::CreateImageRequest bigger = CreateRequest("first-name", "token-create-2");
  bigger.set_size(80);
  ExpectMismatch(TryCreateImage(alice_, bigger));
  std::vector<v1::Image> images = ListImages(alice_, kRegion, "self");
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].image_id(), first.image_id());
}

TEST_F(IdempotencyTest, FailedCreateImageIsNotRemembered) {
  Decoded failed =
      TryCreateImage(alice_, CreateRequest("1-bad-name", "token-create-3"));
  EXPECT_EQ(failed.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(failed.ecs_code(), "InvalidImageName.Malformed");

  v1::CreateImageResponse ok, again;
  ASSERT_CALL_OK(TryCreateImage(
      alice_, CreateRequest("good-name", "token-create-3"), &ok));
  ASSERT_CALL_OK(TryCreateImage(
      alice_, CreateRequest("good-name", "token-create-3"), &again));
  EXPECT_EQ(again.image_id(), ok.image_id());
}

TEST_F(IdempotencyTest, TokensAreScopedToTheAccount) {
  v1::CreateImageResponse alices, bobs;
  ASSERT_CALL_OK(TryCreateImage(
      alice_, CreateRequest("shared-token", "token-scope"), &alices));
  ASSERT_CALL_OK(TryCreateImage(
      bob_, CreateRequest("shared-token", "token-scope"), &bobs));
  EXPECT_NE(bobs.image_id(), alices.image_id());
  EXPECT_TRUE(FindImage(bob_, kRegion, bobs.image_id()).has_value());
  EXPECT_FALSE(FindImage(bob_, kRegion, alices.image_id()).has_value());
}

TEST_F(IdempotencyTest, TokensAreScopedToTheRpc) {
  v1::CreateImageResponse created;
  ASSERT_CALL_OK(TryCreateImage(alice_, CreateRequest("by-create", "token-rpc"),
                                &created));
  v1::ImportImageRequest import = ImportRequest();
  import.set_client_token("token-rpc");
  v1::ImportImageResponse imported;
  ASSERT_CALL_OK(TryImport(alice_, import, &imported));
  EXPECT_NE(imported.image_id(), created.image_id());
}

TEST_F(IdempotencyTest, OverlongClientTokenIsInvalidParameter) {
  ExpectInvalidParameter(
      TryCreateImage(alice_, CreateRequest("long-token", std::string(65, 't'))),
      "ClientToken");
  EXPECT_TRUE(ListImages(alice_, kRegion, "self").empty());
  EXPECT_CALL_OK(TryCreateImage(
      alice_, CreateRequest("long-token", std::string(64, 't'))));
}

TEST_F(IdempotencyTest, CopyImageRetryReturnsTheSameCopy) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions options;
  options.client_token = "token-copy-1";
  v1::CopyImageResponse first, second;
  ASSERT_CALL_OK(TryCopy(alice_, kRegion, src, kOtherRegion, options, &first,
                         "copy-retry"));
  ASSERT_CALL_OK(TryCopy(alice_, kRegion, src, kOtherRegion, options, &second,
                         "copy-retry"));
  EXPECT_EQ(second.image_id(), first.image_id());
  EXPECT_NE(second.request_id(), first.request_id());
  EXPECT_EQ(ListImages(alice_, kOtherRegion, "self").size(), 1u);

  ExpectMismatch(TryCopy(alice_, kRegion, src, kThirdRegion, options, nullptr,
                         "copy-retry"));
  ExpectMismatch(TryCopy(alice_, kRegion, src, kOtherRegion, options, nullptr,
                         "copy-renamed"));
  EXPECT_TRUE(ListImages(alice_, kThirdRegion, "self").empty());
  EXPECT_EQ(ListImages(alice_, kOtherRegion, "self").size(), 1u);
}

TEST_F(IdempotencyTest, FailedCopyImageIsNotRemembered) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions options;
  options.client_token = "token-copy-2";
  Decoded failed = TryCopy(alice_, kRegion, src, "cn-atlantis", options,
                           nullptr, "copy-after-fail");
  EXPECT_EQ(failed.ecs_code(), "DestinationRegion.NotFound");
  v1::CopyImageResponse ok;
  ASSERT_CALL_OK(TryCopy(alice_, kRegion, src, kOtherRegion, options, &ok,
                         "copy-after-fail"));
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, ok.image_id()), "QUEUED");
}

TEST_F(IdempotencyTest, ImportImageRetryReturnsTheSameImageAndTask) {
  v1::ImportImageRequest req = ImportRequest();
  req.set_client_token("token-import");
  v1::ImportImageResponse first, second;
  ASSERT_CALL_OK(TryImport(alice_, req, &first));
  ASSERT_CALL_OK(TryImport(alice_, req, &second));
  EXPECT_EQ(second.image_id(), first.image_id());
  EXPECT_EQ(second.task_id(), first.task_id());
  EXPECT_NE(second.request_id(), first.request_id());
  EXPECT_EQ(ListImages(alice_, kRegion, "self").size(), 1u);

  v1::ImportImageRequest changed = req;
  changed.set_oss_object("other-disk.qcow2");
  ExpectMismatch(TryImport(alice_, changed));
  EXPECT_EQ(ListImages(alice_, kRegion, "self").size(), 1u);
}

TEST_F(IdempotencyTest, ExportImageRetryReturnsTheSameTask) {
  std::string id = CreateAvailableImage(alice_);
  v1::ExportImageResponse first, second;
  ASSERT_CALL_OK(TryExport(alice_, kRegion, id, "token-export", &first));
  ASSERT_CALL_OK(TryExport(alice_, kRegion, id, "token-export", &second));
  EXPECT_EQ(second.task_id(), first.task_id());
  EXPECT_NE(second.request_id(), first.request_id());
  ExpectMismatch(
      TryExport(alice_, kRegion, id, "token-export", nullptr, "bucket-b"));

  v1::DescribeTasksRequest req;
  req.set_region_id(kRegion);
  req.set_task_action("ExportImage");
  v1::DescribeTasksResponse tasks;
  ASSERT_CALL_OK(TryDescribeTasks(alice_, req, &tasks));
  ASSERT_EQ(tasks.task_set_size(), 1);
  EXPECT_EQ(tasks.task_set(0).task_id(), first.task_id());
  EXPECT_EQ(tasks.total_count(), 1);
}

TEST_F(IdempotencyTest, RunInstancesRetryReturnsTheSameInstances) {
  std::string id = CreateAvailableImage(alice_);
  v1::RunInstancesResponse first, second;
  ASSERT_CALL_OK(TryRun(alice_, kRegion, id, 3, "token-run", &first));
  ASSERT_CALL_OK(TryRun(alice_, kRegion, id, 3, "token-run", &second));
  ASSERT_EQ(first.instance_id_sets_size(), 3);
  EXPECT_THAT(second.instance_id_sets(),
              ::testing::ElementsAreArray(first.instance_id_sets()));
  EXPECT_NE(second.request_id(), first.request_id());
  EXPECT_EQ(InstancesOf(alice_, id).size(), 3u);

  ExpectMismatch(TryRun(alice_, kRegion, id, 4, "token-run"));
  EXPECT_EQ(InstancesOf(alice_, id).size(), 3u);
}

TEST_F(IdempotencyTest, FailedRunInstancesIsNotRemembered) {
  std::string id = CreateImage(alice_);  // still Creating: not usable
  Decoded failed = TryRun(alice_, kRegion, id, 1, "token-run-2");
  EXPECT_NE(failed.code, grpc::StatusCode::OK);
  Advance(alice_, kRegion, id, "Available");
  v1::RunInstancesResponse ok;
  ASSERT_CALL_OK(TryRun(alice_, kRegion, id, 1, "token-run-2", &ok));
  EXPECT_EQ(ok.instance_id_sets_size(), 1);
}

}  // namespace
}  // namespace ecsimage::testing::contract

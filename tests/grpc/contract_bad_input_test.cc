// Hostile and malformed input: empty, oversized and wrong-format ids and
// names, unknown enum words, absurd numbers. Each gets its documented ECS
// error, and the server keeps serving afterwards.
#include <climits>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

const std::string kHuge(10 * 1024, 'a');
const std::string kHugeImageId = "m-" + std::string(10 * 1024, 'z');

class BadInputTest : public ContractTest {
 protected:
  void TearDown() override { ExpectServing(); }

  void ExpectServing() {
    v1::DescribeRegionsResponse regions;
    Decoded d = TryDescribeRegions(alice_, &regions);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "server stopped serving";
    EXPECT_GE(regions.regions_size(), 5);
  }

  void ExpectNameMalformed(const Decoded& d) {
    // CreateImage/ImportImage/ModifyImageAttribute: the message is not in
    // the seed documents, so only its presence is checked.
    ExpectEcsError(d, grpc::StatusCode::INVALID_ARGUMENT,
                   "InvalidImageName.Malformed", 400, "", Detail::kBadRequest);
  }

  void ExpectDescriptionMalformed(const Decoded& d) {
    ExpectEcsError(d, grpc::StatusCode::INVALID_ARGUMENT,
                   "InvalidDescription.Malformed", 400,
                   "The specified description is wrongly formed.",
                   Detail::kBadRequest);
  }

  v1::CreateImageRequest Create(const std::string& name) {
    v1::CreateImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_name(name);
    return req;
  }
};

TEST_F(BadInputTest, OversizedImageIdIsImageNotFoundEverywhere) {
  std::string src = CreateAvailableImage(alice_);
  ExpectImageNotFound(TryDelete(alice_, kRegion, kHugeImageId), kHugeImageId,
                      false);
  ExpectImageNotFound(TryCancelCopy(alice_, kRegion, kHugeImageId),
                      kHugeImageId, false);
  ExpectImageNotFound(TryCopy(alice_, kRegion, kHugeImageId, kOtherRegion),
                      kHugeImageId, false);
  ExpectImageNotFound(TryRun(alice_, kRegion, kHugeImageId), kHugeImageId,
                      false);
  ExpectImageNotFound(TryExport(alice_, kRegion, kHugeImageId), kHugeImageId,
                      false);
  ExpectImageNotFound(
      TryShare(alice_, kRegion, kHugeImageId, {bob_.account_id}), kHugeImageId,
      false);
  ExpectImageNotFound(TrySetStatus(alice_, kHugeImageId, "Deprecated"),
                      kHugeImageId, false);
  ExpectImageNotFound(TryDescribeSharePermission(alice_, kRegion, kHugeImageId),
                      kHugeImageId, false);
  EXPECT_FALSE(FindImage(alice_, kRegion, kHugeImageId).has_value());
  ExpectServing();
  EXPECT_EQ(StatusOf(alice_, kRegion, src), "Available");
}

TEST_F(BadInputTest, EmptyImageIdIsMissingParameterEverywhere) {
  ExpectMissingParameter(TryDelete(alice_, kRegion, ""), "ImageId");
  ExpectMissingParameter(TryCancelCopy(alice_, kRegion, ""), "ImageId");
  ExpectMissingParameter(TryCopy(alice_, kRegion, "", kOtherRegion), "ImageId");
  ExpectMissingParameter(TryRun(alice_, kRegion, ""), "ImageId");
  ExpectMissingParameter(TryExport(alice_, kRegion, ""), "ImageId");
  ExpectMissingParameter(TryShare(alice_, kRegion, "", {bob_.account_id}),
                         "ImageId");
  ExpectMissingParameter(TrySetStatus(alice_, "", "Deprecated"), "ImageId");
}

TEST_F(BadInputTest, OversizedOrOddRegionIdIsRegionNotFound) {
  std::string id = CreateAvailableImage(alice_);
  for (std::string region :
       {kHuge, std::string("CN-HANGZHOU"), std::string("cn-hangzhou "),
        std::string("cn-hangzhou\n"), std::string("../../etc/passwd"),
        std::string("'; DROP TABLE images; --")}) {
    SCOPED_TRACE(region.substr(0, 30));
    ExpectRegionNotFound(TryDelete(alice_, region, id));
    ExpectRegionNotFound(TryCancelCopy(alice_, region, id));
    ExpectRegionNotFound(TryDescribeImages(alice_, [&] {
      v1::DescribeImagesRequest req;
      req.set_region_id(region);
      return req;
    }()));
  }
  ExpectServing();
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(BadInputTest, MalformedImageNamesAreRefused) {
  for (std::string name :
       {std::string("1starts-with-digit"), std::string("a"),
        std::string("http://example.com"), std::string("https://example"),
        std::string("has space"), std::string("semi;colon"),
        std::string("new\nline"), std::string("\xe5\x90\x8d\xe5\xad\x97"),
        std::string(129, 'n'), kHuge}) {
    SCOPED_TRACE(name.substr(0, 30));
    ExpectNameMalformed(TryCreateImage(alice_, Create(name)));
  }
  EXPECT_TRUE(ListImages(alice_, kRegion, "self").empty());
  // The boundaries of the rule are accepted.
  for (std::string name :
       {std::string("ab"), std::string(128, 'n'), std::string("A.b_c:d-e9")}) {
    SCOPED_TRACE(name.substr(0, 30));
    EXPECT_CALL_OK(TryCreateImage(alice_, Create(name)));
  }
}

TEST_F(BadInputTest, DuplicateImageNameIsDuplicated) {
  EXPECT_CALL_OK(TryCreateImage(alice_, Create("twice")));
  Decoded d = TryCreateImage(alice_, Create("twice"));
  EXPECT_ECS_ERROR(d, grpc::StatusCode::ALREADY_EXISTS,
                   "InvalidImageName.Duplicated", 400, "",
                   Detail::kUnspecified);
  // Same name in another region, or by another account, is fine.
  v1::CreateImageRequest other = Create("twice");
  other.set_region_id(kOtherRegion);
  EXPECT_CALL_OK(TryCreateImage(alice_, other));
  EXPECT_CALL_OK(TryCreateImage(bob_, Create("twice")));
}

TEST_F(BadInputTest, MalformedDescriptionsAreRefused) {
  for (std::string description :
       {std::string("x"), std::string("http://example.com/desc"),
        std::string("https://x"), std::string(257, 'd'), kHuge}) {
    SCOPED_TRACE(description.substr(0, 30));
    v1::CreateImageRequest req = Create(NextName());
    req.set_description(description);
    ExpectDescriptionMalformed(TryCreateImage(alice_, req));

    v1::ImportImageRequest import = ImportRequest();
    import.set_description(description);
    ExpectDescriptionMalformed(TryImport(alice_, import));
  }
  std::string id = CreateAvailableImage(alice_);
  v1::ModifyImageAttributeRequest modify;
  modify.set_region_id(kRegion);
  modify.set_image_id(id);
  modify.set_description("y");
  ExpectDescriptionMalformed(TryModifyAttribute(alice_, modify));
  modify.set_description("");
  modify.set_image_name("9lives");
  ExpectNameMalformed(TryModifyAttribute(alice_, modify));
  EXPECT_EQ(ImageOf(alice_, kRegion, id).image_name().rfind("img-", 0), 0u);
}

TEST_F(BadInputTest, UnknownEnumWordsAreInvalidParameter) {
  v1::CreateImageRequest req = Create(NextName());
  req.set_architecture("sparc");
  ExpectInvalidParameter(TryCreateImage(alice_, req), "Architecture");
  req = Create(NextName());
  req.set_os_type("beos");
  ExpectInvalidParameter(TryCreateImage(alice_, req), "OSType");

  std::string id = CreateAvailableImage(alice_);
  ExpectInvalidParameter(TrySetStatus(alice_, id, "Broken"), "Status");

  v1::DescribeTasksRequest tasks;
  tasks.set_region_id(kRegion);
  tasks.set_task_status("Sleeping");
  ExpectInvalidParameter(TryDescribeTasks(alice_, tasks), "TaskStatus");
  tasks.set_task_status("");
  tasks.set_task_action("Teleport");
  ExpectInvalidParameter(TryDescribeTasks(alice_, tasks), "TaskAction");

  std::string copy = StartCopy(alice_, id);
  ExpectInvalidParameter(TryAdvance(alice_, kOtherRegion, copy, "WARPING"),
                         "Phase");
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "QUEUED");
}

TEST_F(BadInputTest, AbsurdNumbersAreInvalidParameter) {
  v1::CreateImageRequest req = Create(NextName());
  req.set_size(-1);
  ExpectInvalidParameter(TryCreateImage(alice_, req), "Size");
  req.set_size(INT_MAX);
  ExpectInvalidParameter(TryCreateImage(alice_, req), "Size");

  std::string id = CreateAvailableImage(alice_);
  ExpectInvalidParameter(TryRun(alice_, kRegion, id, 101), "Amount");
  ExpectInvalidParameter(TryRun(alice_, kRegion, id, -3), "Amount");
  ExpectInvalidParameter(TryRun(alice_, kRegion, id, INT_MAX), "Amount");
  EXPECT_TRUE(InstancesOf(alice_, id).empty());
  EXPECT_EQ(Run(alice_, id, 0).size(), 1u);  // 0 means 1

  v1::DescribeImagesRequest describe;
  describe.set_region_id(kRegion);
  describe.set_page_size(INT_MAX);
  ExpectInvalidParameter(TryDescribeImages(alice_, describe), "PageSize");
  describe.set_page_size(INT_MIN);
  ExpectInvalidParameter(TryDescribeImages(alice_, describe), "PageSize");
  describe.set_page_size(0);
  describe.set_page_number(INT_MIN);
  ExpectInvalidParameter(TryDescribeImages(alice_, describe), "PageNumber");
}

TEST_F(BadInputTest, HugePageNumberIsAnEmptyPage) {
  std::string id = CreateAvailableImage(alice_);
  v1::DescribeImagesRequest req;
  req.set_region_id(kRegion);
  req.set_image_owner_alias("self");
  req.set_page_number(INT_MAX);
  req.set_page_size(100);
  v1::DescribeImagesResponse resp;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  EXPECT_EQ(resp.images_size(), 0);
  EXPECT_EQ(resp.total_count(), 1);
  EXPECT_EQ(resp.page_number(), INT_MAX);
}

TEST_F(BadInputTest, BadInstanceAndTaskIdsAreNotFound) {
  ExpectMissingParameter(TryDeleteInstance(alice_, ""), "InstanceId");
  for (std::string id : {std::string("i-BAD"), std::string("m-abc"),
                         "i-" + std::string(10 * 1024, 'q'),
                         std::string("i-notexist0000000001")}) {
    SCOPED_TRACE(id.substr(0, 30));
    EXPECT_ECS_ERROR(TryDeleteInstance(alice_, id), grpc::StatusCode::NOT_FOUND,
                     "InvalidInstanceId.NotFound", 404, "",
                     Detail::kResourceInfo);
  }
  ExpectMissingParameter(TryCancelTask(alice_, kRegion, ""), "TaskId");
  for (std::string id : {std::string("t-BAD"), std::string("task"),
                         "t-" + std::string(10 * 1024, 'q'),
                         std::string("t-notexist0000000001")}) {
    SCOPED_TRACE(id.substr(0, 30));
    EXPECT_ECS_ERROR(TryCancelTask(alice_, kRegion, id),
                     grpc::StatusCode::NOT_FOUND, "InvalidTaskId.NotFound", 404,
                     "", Detail::kResourceInfo);
  }
}

TEST_F(BadInputTest, ImportNeedsItsOssLocation) {
  v1::ImportImageRequest req = ImportRequest();
  req.clear_oss_bucket();
  ExpectMissingParameter(TryImport(alice_, req), "OSSBucket");
  req = ImportRequest();
  req.clear_oss_object();
  ExpectMissingParameter(TryImport(alice_, req), "OSSObject");
  EXPECT_TRUE(ListImages(alice_, kRegion, "self").empty());
}

TEST_F(BadInputTest, MissingOrUnknownTokenIsUnauthenticated) {
  std::string id = CreateAvailableImage(alice_);
  for (std::string token : {std::string(""), std::string("not-a-token"),
                            alice_.token + "x", std::string(4096, 't')}) {
    SCOPED_TRACE(token.substr(0, 30));
    TestAccount stranger{"", token};
    Decoded d = TryDelete(stranger, kRegion, id);
    EXPECT_EQ(d.code, grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(IsRequestIdShape(d.trailer_request_id))
        << "'" << d.trailer_request_id << "'";
    d = TryDescribeRegions(stranger);
    EXPECT_EQ(d.code, grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(BadInputTest, EveryResponseCarriesAFreshRequestId) {
  v1::DescribeRegionsResponse a, b;
  Decoded da = TryDescribeRegions(alice_, &a);
  Decoded db = TryDescribeRegions(alice_, &b);
  ASSERT_CALL_OK(da);
  ASSERT_CALL_OK(db);
  EXPECT_TRUE(IsRequestIdShape(a.request_id())) << a.request_id();
  EXPECT_EQ(a.request_id(), da.trailer_request_id);
  EXPECT_NE(a.request_id(), b.request_id());
}

}  // namespace
}  // namespace ecsimage::testing::contract

// CopyImage's own error rows (ecs-errors.md, CopyImage) through the API.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

using CopyImageTest = ContractTest;

TEST_F(CopyImageTest, UnknownDestinationRegionIsDestinationRegionNotFound) {
  std::string src = CreateAvailableImage(alice_);
  Decoded d = TryCopy(alice_, kRegion, src, "cn-atlantis");
  EXPECT_ECS_ERROR(d, grpc::StatusCode::INVALID_ARGUMENT,
                   "DestinationRegion.NotFound", 400,
                   "The destination region not found", Detail::kUnspecified);
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
}

TEST_F(CopyImageTest, MissingDestinationRegionIsMissingParameter) {
  std::string src = CreateAvailableImage(alice_);
  ExpectMissingParameter(TryCopy(alice_, kRegion, src, ""),
                         "DestinationRegionId");
}

TEST_F(CopyImageTest, CreatingSourceIsNotAvailable) {
  std::string src = CreateImage(alice_);
  Decoded d = TryCopy(alice_, kRegion, src, kOtherRegion);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "IncorrectImageStatus", 400, kMsgImageNotAvailable,
                   Detail::kPreconditionFailure, Retry::kUnspecified);
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
}

TEST_F(CopyImageTest, DeprecatedSourceCannotBeCopied) {
  std::string src = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TrySetStatus(alice_, src, "Deprecated"));
  Decoded d = TryCopy(alice_, kRegion, src, kOtherRegion);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "IncorrectImageStatus", 400, kMsgImageNotAvailable,
                   Detail::kPreconditionFailure);
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
}

TEST_F(CopyImageTest, KmsKeyWithoutEncryptedIsEncryptedIllegal) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions options;
  options.kms_key_id = "key-1";
  Decoded d = TryCopy(alice_, kRegion, src, kOtherRegion, options);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::INVALID_ARGUMENT,
                   "InvalidParameter.EncryptedIllegal", 400,
                   "The specified parameter Encrypted must be true when "
                   "kmsKeyId is not empty.",
                   Detail::kBadRequest);
}

TEST_F(CopyImageTest, DuplicateDestinationNameIsDuplicated) {
  std::string src = CreateAvailableImage(alice_);
  v1::CopyImageResponse first;
  ASSERT_CALL_OK(
      TryCopy(alice_, kRegion, src, kOtherRegion, {}, &first, "same-name"));
  Decoded d =
      TryCopy(alice_, kRegion, src, kOtherRegion, {}, nullptr, "same-name");
  EXPECT_ECS_ERROR(d, grpc::StatusCode::ALREADY_EXISTS,
                   "InvalidImageName.Duplicated", 400,
                   "The destination image is exist.", Detail::kUnspecified);
  EXPECT_EQ(ListImages(alice_, kOtherRegion, "self").size(), 1u);
  // Another account may use the same name.
  std::string bobs = CreateAvailableImage(bob_);
  EXPECT_CALL_OK(
      TryCopy(bob_, kRegion, bobs, kOtherRegion, {}, nullptr, "same-name"));
}

TEST_F(CopyImageTest, BadDestinationNameIsMalformed) {
  std::string src = CreateAvailableImage(alice_);
  for (std::string name :
       std::vector<std::string>{"1starts-with-digit", "x", "http://evil",
                                "has space", std::string(129, 'a')}) {
    SCOPED_TRACE(name);
    Decoded d = TryCopy(alice_, kRegion, src, kOtherRegion, {}, nullptr, name);
    EXPECT_ECS_ERROR(d, grpc::StatusCode::INVALID_ARGUMENT,
                     "InvalidImageName.Malformed", 400,
                     "The specified destination Image name is wrongly formed.",
                     Detail::kBadRequest);
  }
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
}

TEST_F(CopyImageTest, BadDestinationDescriptionIsMalformed) {
  std::string src = CreateAvailableImage(alice_);
  for (std::string description : std::vector<std::string>{
           "x", "https://evil.example", std::string(257, 'd')}) {
    SCOPED_TRACE(description.substr(0, 20));
    v1::CopyImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(src);
    req.set_destination_region_id(kOtherRegion);
    req.set_destination_image_name(NextName("copy"));
    req.set_destination_description(description);
    Decoded d =
        Invoke(*images_, &v1::ImageService::Stub::CopyImage, alice_, req);
    EXPECT_ECS_ERROR(d, grpc::StatusCode::INVALID_ARGUMENT,
                     "InvalidDescription.Malformed", 400,
                     "The specified destination description is wrongly "
                     "formed.",
                     Detail::kBadRequest);
  }
}

TEST_F(CopyImageTest, SharedImageCopiesOnlyWithinItsRegion) {
  std::string src = CreateAvailableImage(alice_);
  Share(alice_, src, {bob_.account_id});
  Decoded d = TryCopy(bob_, kRegion, src, kOtherRegion);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "OperationDenied.SameRegionOnly", 403,
                   "The image shared from others can not be copied to "
                   "another region directly.",
                   Detail::kPreconditionFailure);
  v1::CopyImageResponse resp;
  ASSERT_CALL_OK(TryCopy(bob_, kRegion, src, kRegion, {}, &resp));
  v1::Image copy = ImageOf(bob_, kRegion, resp.image_id());
  EXPECT_EQ(copy.image_owner_id(), bob_.account_id);
  EXPECT_EQ(copy.image_owner_alias(), "self");
  EXPECT_TRUE(copy.is_copied());
}

TEST_F(CopyImageTest, CopyOfAnotherAccountsPrivateImageIsImageNotFound) {
  std::string src = CreateAvailableImage(bob_);
  ExpectImageNotFound(TryCopy(alice_, kRegion, src, kOtherRegion), src);
}

TEST_F(CopyImageTest, SystemImagesCannotBeCopied) {
  std::vector<v1::Image> system =
      ListImages(alice_, kRegion, "system", "Available");
  ASSERT_FALSE(system.empty());
  Decoded d = TryCopy(alice_, kRegion, system[0].image_id(), kOtherRegion);
  EXPECT_NE(d.code, grpc::StatusCode::OK);
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
}

TEST_F(CopyImageTest, PublicImagesCannotBeCopied) {
  std::string src = CreateAvailableImage(alice_);
  SetPublic(alice_, src, true);
  Decoded d = TryCopy(alice_, kRegion, src, kOtherRegion);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION, "ImageIsPublic",
                   403, "", Detail::kPreconditionFailure);
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
}

}  // namespace
}  // namespace ecsimage::testing::contract

// ModifyImageAttribute (ecs-errors.md): renames, descriptions, Deprecated
// and back, and the name uniqueness rule among live images (api.md §1).
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class ModifyImageTest : public ContractTest {
 protected:
  Decoded Rename(const std::string& id, const std::string& name) {
    v1::ModifyImageAttributeRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    req.set_image_name(name);
    return TryModifyAttribute(alice_, req);
  }
};

TEST_F(ModifyImageTest, RenameAndDescribeChangeTheImage) {
  std::string id = CreateAvailableImage(alice_);
  v1::ModifyImageAttributeRequest req;
  req.set_region_id(kRegion);
  req.set_image_id(id);
  req.set_image_name("renamed-image");
  req.set_description("a new description");
  EXPECT_CALL_OK(TryModifyAttribute(alice_, req));
  v1::Image image = ImageOf(alice_, kRegion, id);
  EXPECT_EQ(image.image_name(), "renamed-image");
  EXPECT_EQ(image.description(), "a new description");
}

TEST_F(ModifyImageTest, RenameToALiveNameIsDuplicated) {
  std::string a = CreateAvailableImage(alice_);
  std::string b = CreateAvailableImage(alice_);
  std::string a_name = ImageOf(alice_, kRegion, a).image_name();
  Decoded d = Rename(b, a_name);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::ALREADY_EXISTS,
                   "InvalidImageName.Duplicated", 400, "",
                   Detail::kUnspecified);
  EXPECT_NE(ImageOf(alice_, kRegion, b).image_name(), a_name);
}

TEST_F(ModifyImageTest, DeletedImagesFreeTheirName) {
  std::string a = CreateAvailableImage(alice_);
  std::string name = ImageOf(alice_, kRegion, a).image_name();
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, a));
  v1::CreateImageRequest req;
  req.set_region_id(kRegion);
  req.set_image_name(name);
  EXPECT_CALL_OK(TryCreateImage(alice_, req));
  std::string b = CreateAvailableImage(alice_);
  EXPECT_EQ(Rename(b, name).ecs_code(), "InvalidImageName.Duplicated");
}

TEST_F(ModifyImageTest, DeprecateAndRestore) {
  std::string id = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TrySetStatus(alice_, id, "Deprecated"));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Deprecated");
  // The default Status filter (Available) hides it.
  EXPECT_FALSE(FindImage(alice_, kRegion, id, "").has_value());
  EXPECT_CALL_OK(TrySetStatus(alice_, id, "Available"));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(ModifyImageTest, OnlyAvailableOrDeprecatedImagesChangeStatus) {
  std::string creating = CreateImage(alice_);
  Decoded d = TrySetStatus(alice_, creating, "Deprecated");
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "IncorrectImageStatus", 400, kMsgImageNotAvailable,
                   Detail::kPreconditionFailure, Retry::kUnspecified);
  EXPECT_EQ(StatusOf(alice_, kRegion, creating), "Creating");

  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "FAILED");
  d = TrySetStatus(alice_, copy, "Available", kOtherRegion);
  EXPECT_EQ(d.ecs_code(), "IncorrectImageStatus");
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, copy), "CreateFailed");
}

TEST_F(ModifyImageTest, MissingParametersAndUnknownRegion) {
  std::string id = CreateAvailableImage(alice_);
  ExpectMissingParameter(TrySetStatus(alice_, id, "Deprecated", ""),
                         "RegionId");
  ExpectRegionNotFound(TrySetStatus(alice_, id, "Deprecated", "eu-nowhere"));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

}  // namespace
}  // namespace ecsimage::testing::contract

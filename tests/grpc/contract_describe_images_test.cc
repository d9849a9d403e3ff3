// DescribeImages (api.md §1-§3): the Status default, paging, filters,
// tombstones and system images.
#include <set>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class DescribeImagesTest : public ContractTest {
 protected:
  v1::DescribeImagesRequest Request(const std::string& region = kRegion) {
    v1::DescribeImagesRequest req;
    req.set_region_id(region);
    return req;
  }
};

TEST_F(DescribeImagesTest, StatusDefaultsToAvailableAlsoWithImageId) {
  std::string creating = CreateImage(alice_);
  std::string available = CreateAvailableImage(alice_);

  v1::DescribeImagesRequest req = Request();
  req.set_image_id(creating);
  v1::DescribeImagesResponse resp;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  EXPECT_EQ(resp.images_size(), 0);
  EXPECT_EQ(resp.total_count(), 0);

  req.set_image_id(creating + "," + available);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), available);

  req.set_status("Waiting,Creating");
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), creating);
  EXPECT_EQ(resp.images(0).status(), "Creating");

  req.set_status("Creating,Available");
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  EXPECT_EQ(resp.images_size(), 2);
  EXPECT_EQ(resp.total_count(), 2);
}

TEST_F(DescribeImagesTest, PagingDefaultsAndTotalCount) {
  std::set<std::string> created;
  for (int i = 0; i < 12; ++i) created.insert(CreateAvailableImage(alice_));
  CreateImage(alice_);  // Creating: not counted by the default filter

  v1::DescribeImagesRequest req = Request();
  req.set_image_owner_alias("self");
  v1::DescribeImagesResponse page1, page2, page3;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &page1));
  EXPECT_EQ(page1.images_size(), 10);
  EXPECT_EQ(page1.page_size(), 10);
  EXPECT_EQ(page1.page_number(), 1);
  EXPECT_EQ(page1.total_count(), 12);
  EXPECT_EQ(page1.region_id(), kRegion);

  req.set_page_number(2);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &page2));
  EXPECT_EQ(page2.images_size(), 2);
  EXPECT_EQ(page2.page_number(), 2);
  EXPECT_EQ(page2.total_count(), 12);

  req.set_page_number(3);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &page3));
  EXPECT_EQ(page3.images_size(), 0);
  EXPECT_EQ(page3.total_count(), 12);

  std::set<std::string> seen;
  for (const auto& i : page1.images()) seen.insert(i.image_id());
  for (const auto& i : page2.images()) seen.insert(i.image_id());
  EXPECT_EQ(seen, created);

  req.set_page_number(0);
  req.set_page_size(5);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &page1));
  EXPECT_EQ(page1.page_number(), 1);
  EXPECT_EQ(page1.page_size(), 5);
  EXPECT_EQ(page1.images_size(), 5);
  EXPECT_EQ(page1.total_count(), 12);
}

TEST_F(DescribeImagesTest, PageSizeAboveHundredIsInvalidParameter) {
  v1::DescribeImagesRequest req = Request();
  req.set_page_size(101);
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "PageSize");
  req.set_page_size(-1);
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "PageSize");
  req.set_page_size(100);
  EXPECT_CALL_OK(TryDescribeImages(alice_, req));
}

TEST_F(DescribeImagesTest, NegativePageNumberIsInvalidParameter) {
  v1::DescribeImagesRequest req = Request();
  req.set_page_number(-1);
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "PageNumber");
}

TEST_F(DescribeImagesTest, UnknownFilterWordsAreInvalidParameter) {
  v1::DescribeImagesRequest req = Request();
  req.set_status("Bogus");
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "Status");
  req.set_status("Available,Bogus");
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "Status");

  req = Request();
  req.set_image_owner_alias("nobody");
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "ImageOwnerAlias");

  req = Request();
  req.set_usage("sometimes");
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "Usage");

  for (std::string alias : {"system", "self", "others", "marketplace"}) {
    req = Request();
    req.set_image_owner_alias(alias);
    EXPECT_CALL_OK(TryDescribeImages(alice_, req));
  }
}

TEST_F(DescribeImagesTest, MissingOrUnknownRegion) {
  ExpectMissingParameter(TryDescribeImages(alice_, Request("")), "RegionId");
  ExpectRegionNotFound(TryDescribeImages(alice_, Request("mars-north-1")));
}

TEST_F(DescribeImagesTest, TombstonesAreNeverReturned) {
  std::string kept = CreateAvailableImage(alice_);
  std::string deleted = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, deleted));

  EXPECT_FALSE(FindImage(alice_, kRegion, deleted).has_value());
  EXPECT_FALSE(FindImage(alice_, kRegion, deleted, "").has_value());
  v1::DescribeImagesRequest req = Request();
  req.set_image_owner_alias("self");
  req.set_status(kAllStatuses);
  v1::DescribeImagesResponse resp;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), kept);
  EXPECT_EQ(resp.total_count(), 1);

  req.set_image_id(deleted + "," + kept);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), kept);
}

TEST_F(DescribeImagesTest, SystemImagesAreVisibleInEveryRegion) {
  v1::DescribeRegionsResponse regions;
  ASSERT_CALL_OK(TryDescribeRegions(alice_, &regions));
  std::set<std::string> names;
  for (const auto& r : regions.regions()) names.insert(r.region_id());
  for (std::string must : {"cn-hangzhou", "cn-shanghai", "cn-beijing",
                           "cn-shenzhen", "ap-southeast-1"}) {
    EXPECT_EQ(names.count(must), 1u) << must;
  }
  for (const std::string& region : names) {
    SCOPED_TRACE(region);
    std::vector<v1::Image> system = ListImages(alice_, region, "system");
    ASSERT_FALSE(system.empty());
    for (const auto& image : system) {
      EXPECT_EQ(image.image_owner_alias(), "system");
      EXPECT_EQ(image.status(), "Available");
      EXPECT_FALSE(image.image_id().empty());
      EXPECT_GT(image.size(), 0);
    }
    std::vector<v1::Image> for_bob = ListImages(bob_, region, "system");
    EXPECT_EQ(for_bob.size(), system.size());
    // An account's own listing never contains them.
    for (const auto& image : ListImages(alice_, region, "self")) {
      EXPECT_NE(image.image_owner_alias(), "system");
    }
  }
}

TEST_F(DescribeImagesTest, SystemImagesStartInstances) {
  std::vector<v1::Image> system = ListImages(alice_, kRegion, "system");
  ASSERT_FALSE(system.empty());
  std::vector<std::string> ids = Run(alice_, system[0].image_id(), 2);
  EXPECT_EQ(ids.size(), 2u);
  for (const auto& id : ids) {
    EXPECT_THAT(id, ::testing::MatchesRegex("i-[a-z0-9]{20}"));
  }
}

TEST_F(DescribeImagesTest, UsageFilterFollowsLiveInstances) {
  std::string used = CreateAvailableImage(alice_);
  std::string unused = CreateAvailableImage(alice_);
  std::vector<std::string> instances = Run(alice_, used, 1);

  v1::DescribeImagesRequest req = Request();
  req.set_image_owner_alias("self");
  req.set_usage("instance");
  v1::DescribeImagesResponse resp;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), used);
  EXPECT_EQ(resp.images(0).usage(), "instance");

  req.set_usage("none");
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), unused);
  EXPECT_EQ(resp.images(0).usage(), "none");

  ASSERT_EQ(instances.size(), 1u);
  EXPECT_CALL_OK(TryDeleteInstance(alice_, instances[0]));
  EXPECT_EQ(ImageOf(alice_, kRegion, used).usage(), "none");
}

TEST_F(DescribeImagesTest, CreatedImageShowsItsAttributes) {
  v1::CreateImageRequest req;
  req.set_region_id(kRegion);
  req.set_image_name("attr-image");
  req.set_description("an image with attributes");
  v1::CreateImageResponse resp;
  ASSERT_CALL_OK(TryCreateImage(alice_, req, &resp));
  EXPECT_THAT(resp.image_id(), ::testing::MatchesRegex("m-[a-z0-9]{20}"));
  Advance(alice_, kRegion, resp.image_id(), "Available");
  v1::Image image = ImageOf(alice_, kRegion, resp.image_id());
  EXPECT_EQ(image.image_name(), "attr-image");
  EXPECT_EQ(image.description(), "an image with attributes");
  EXPECT_EQ(image.size(), 40);
  EXPECT_EQ(image.architecture(), "x86_64");
  EXPECT_EQ(image.progress(), "100%");
  EXPECT_EQ(image.image_owner_alias(), "self");
  EXPECT_EQ(image.region_id(), kRegion);
  EXPECT_FALSE(image.is_copied());
  EXPECT_FALSE(image.is_public());
  EXPECT_THAT(image.creation_time(),
              ::testing::MatchesRegex(
                  "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
}

TEST_F(DescribeImagesTest, ImageNameAndIsCopiedFilters) {
  std::string src = CreateAvailableImage(alice_);
  v1::CopyImageResponse copy;
  ASSERT_CALL_OK(TryCopy(alice_, kRegion, src, kRegion, {}, &copy, "the-copy"));
  Advance(alice_, kRegion, copy.image_id(), "SUCCEEDED");

  v1::DescribeImagesRequest req = Request();
  req.set_image_name("the-copy");
  v1::DescribeImagesResponse resp;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), copy.image_id());

  req = Request();
  req.set_image_owner_alias("self");
  req.set_is_copied(true);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), copy.image_id());
  req.set_is_copied(false);
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
  ASSERT_EQ(resp.images_size(), 1);
  EXPECT_EQ(resp.images(0).image_id(), src);
}

TEST_F(DescribeImagesTest, MoreThanHundredImageIdsIsInvalidParameter) {
  std::string ids;
  for (int i = 0; i < 101; ++i) {
    if (i > 0) ids += ",";
    ids += UnknownImageId(i);
  }
  v1::DescribeImagesRequest req = Request();
  req.set_image_id(ids);
  ExpectInvalidParameter(TryDescribeImages(alice_, req), "ImageId");
}

}  // namespace
}  // namespace ecsimage::testing::contract

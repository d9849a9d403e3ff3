#include "service/domain/validation.h"

#include <string>

#include "gtest/gtest.h"
#include "service/domain/ids.h"

namespace ecsimage::domain {
namespace {

TEST(ValidationTest, NamesFollowEcsRules) {
  EXPECT_TRUE(IsValidName("ab"));
  EXPECT_TRUE(IsValidName("web-1.2_3:x"));
  EXPECT_FALSE(IsValidName("a"));
  EXPECT_FALSE(IsValidName("1abc"));
  EXPECT_FALSE(IsValidName("http://x"));
  EXPECT_FALSE(IsValidName("https://x"));
  EXPECT_FALSE(IsValidName("with space"));
  EXPECT_FALSE(IsValidName(std::string(129, 'a')));
  EXPECT_TRUE(IsValidName(std::string(128, 'a')));
}

TEST(ValidationTest, DescriptionsFollowEcsRules) {
  EXPECT_TRUE(IsValidDescription("a description with spaces"));
  EXPECT_FALSE(IsValidDescription("x"));
  EXPECT_FALSE(IsValidDescription("http://example"));
  EXPECT_FALSE(IsValidDescription(std::string(257, 'd')));
}

TEST(ValidationTest, PagingDefaultsAndBounds) {
  auto page = CheckPage(0, 0);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->number, 1);
  EXPECT_EQ(page->size, 10);
  EXPECT_EQ(CheckPage(3, 100)->offset(), 200);
  EXPECT_EQ(CheckPage(1, 101).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPage(-1, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidationTest, ListsAreTrimmedAndBounded) {
  auto items = SplitList("Status", " Available, Creating ", 10);
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(*items, (std::vector<std::string>{"Available", "Creating"}));
  EXPECT_FALSE(SplitList("Status", "a,,b", 10).ok());
  EXPECT_FALSE(SplitList("Status", "a,b,c", 2).ok());
  EXPECT_TRUE(SplitList("Status", "", 2)->empty());
}

TEST(ValidationTest, ClientTokenIsShortPrintableAscii) {
  EXPECT_TRUE(CheckClientToken("").ok());
  EXPECT_TRUE(CheckClientToken(std::string(64, 'k')).ok());
  EXPECT_FALSE(CheckClientToken(std::string(65, 'k')).ok());
  EXPECT_FALSE(CheckClientToken("has space").ok());
}

TEST(IdsTest, GeneratedIdsHaveTheirShapes) {
  RandomIdGenerator ids(42);
  EXPECT_TRUE(IsImageIdShape(ids.NewImageId()));
  EXPECT_TRUE(IsTaskIdShape(ids.NewTaskId()));
  EXPECT_TRUE(IsInstanceIdShape(ids.NewInstanceId()));
  EXPECT_TRUE(IsAccountIdShape(ids.NewAccountId()));
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(IsRequestIdShape(ids.NewRequestId()));
  }
  EXPECT_NE(ids.NewToken(), ids.NewToken());
  EXPECT_FALSE(IsImageIdShape("m-ABCDEFGHIJKLMNOPQRST"));
  EXPECT_FALSE(IsImageIdShape("m-short"));
}

}  // namespace
}  // namespace ecsimage::domain

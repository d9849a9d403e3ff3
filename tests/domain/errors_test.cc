#include "service/domain/errors.h"

#include <set>

#include "gtest/gtest.h"

namespace ecsimage::domain {
namespace {

TEST(UpperSnakeTest, FollowsAip193) {
  EXPECT_EQ(UpperSnake("InvalidImageId.NotFound"),
            "INVALID_IMAGE_ID_NOT_FOUND");
  EXPECT_EQ(UpperSnake("OperationDenied.ImageCopying"),
            "OPERATION_DENIED_IMAGE_COPYING");
  EXPECT_EQ(UpperSnake("QuotaExceed.ShareImageUser"),
            "QUOTA_EXCEED_SHARE_IMAGE_USER");
  EXPECT_EQ(UpperSnake("InvalidParameter.EncryptedIllegal"),
            "INVALID_PARAMETER_ENCRYPTED_ILLEGAL");
  EXPECT_EQ(UpperSnake("InvalidAccount.Forbbiden"),
            "INVALID_ACCOUNT_FORBBIDEN");
  EXPECT_EQ(UpperSnake("MissingParameter"), "MISSING_PARAMETER");
}

TEST(ErrorCatalogTest, IncorrectImageStatusHasSixFrozenMessages) {
  std::set<std::string_view> messages;
  for (Err e : {Err::kIncorrectImageStatusCopyFinished,
                Err::kIncorrectImageStatusSnapshotNotCoping,
                Err::kIncorrectImageStatusImageNotCoping,
                Err::kIncorrectImageStatusCompletedCopy,
                Err::kIncorrectImageStatusCopyFailed,
                Err::kIncorrectImageStatusNotAvailable}) {
    EXPECT_EQ(SpecOf(e).ecs_code, "IncorrectImageStatus");
    EXPECT_EQ(SpecOf(e).http_status, 400);
    EXPECT_EQ(SpecOf(e).code, absl::StatusCode::kFailedPrecondition);
    messages.insert(SpecOf(e).message);
  }
  EXPECT_EQ(messages.size(), 6u);
}

TEST(ErrorCatalogTest, HeadlineMessagesAreFrozen) {
  EXPECT_EQ(SpecOf(Err::kCancelNotSupported).message,
            "The specified image coping can not be cancelled.");
  EXPECT_EQ(SpecOf(Err::kOperationDeniedImageCopying).message,
            "The Image is coping.");
  EXPECT_EQ(SpecOf(Err::kImageIsExporting).message,
            "The specified Image is exporting. Please cancel task first.");
  EXPECT_EQ(SpecOf(Err::kInvalidAccountForbbiden).http_status, 404);
  EXPECT_EQ(SpecOf(Err::kInvalidAccountForbbiden).code,
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SpecOf(Err::kInvalidImageNameDuplicated).code,
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(SpecOf(Err::kThrottling).code,
            absl::StatusCode::kResourceExhausted);
}

TEST(ErrorBuilderTest, CarriesPayloadWithParameterAndMetadata) {
  absl::Status s =
      Error(Err::kMissingParameter).Param("RegionId").Meta("imageId", "m-1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "The input parameter \"RegionId\" that is mandatory for processing "
            "this request is not supplied.");
  auto payload = PayloadOf(s);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(payload->ecs_code(), "MissingParameter");
  EXPECT_EQ(payload->http_status(), 400);
  ASSERT_EQ(payload->field_violations_size(), 1);
  EXPECT_EQ(payload->field_violations(0).field(), "RegionId");
  ASSERT_EQ(payload->metadata_size(), 2);
  EXPECT_EQ(payload->metadata(1).key(), "imageId");
}

TEST(ErrorBuilderTest, PlainStatusHasNoPayload) {
  EXPECT_FALSE(PayloadOf(absl::InternalError("x")).has_value());
}

TEST(ErrorBuilderTest, RetryDelayIsPositive) {
  auto payload = PayloadOf(Error(Err::kImageIsImporting).RetryAfterMs(-5));
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(payload->retry_delay_ms(), 1);
}

}  // namespace
}  // namespace ecsimage::domain

// The contract tests are only as strict as ExpectEcsError: these cases feed
// it hand-made answers, each wrong in one way, and require it to notice.
#include <gtest/gtest-spi.h>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

constexpr char kRequestId[] = "0F4C3A6B-1D2E-4F60-8A7B-9C0D1E2F3A4B";

// A well-formed InvalidImageId.NotFound answer.
Decoded GoodNotFound() {
  Decoded d;
  d.code = grpc::StatusCode::NOT_FOUND;
  d.message = "The specified ImageId does not exist.";
  d.has_status_details = true;
  d.has_error_info = true;
  d.error_info.set_reason("INVALID_IMAGE_ID_NOT_FOUND");
  d.error_info.set_domain("ecsimage.example");
  (*d.error_info.mutable_metadata())["code"] = "InvalidImageId.NotFound";
  (*d.error_info.mutable_metadata())["httpStatus"] = "404";
  (*d.error_info.mutable_metadata())["requestId"] = kRequestId;
  (*d.error_info.mutable_metadata())["imageId"] = "m-abc";
  d.has_request_info = true;
  d.request_info.set_request_id(kRequestId);
  d.has_resource_info = true;
  d.resource_info.set_resource_name("m-abc");
  d.detail_count = 3;
  d.trailer_request_id = kRequestId;
  return d;
}

void Check(const Decoded& d, Retry retry = Retry::kAbsent) {
  ExpectEcsError(d, grpc::StatusCode::NOT_FOUND, "InvalidImageId.NotFound", 404,
                 "The specified ImageId does not exist.", Detail::kResourceInfo,
                 retry);
}

TEST(ContractChecksTest, UpperSnakeFollowsAip193) {
  EXPECT_EQ(UpperSnakeOf("InvalidImageId.NotFound"),
            "INVALID_IMAGE_ID_NOT_FOUND");
  EXPECT_EQ(UpperSnakeOf("OperationDenied.ImageCopying"),
            "OPERATION_DENIED_IMAGE_COPYING");
  EXPECT_EQ(UpperSnakeOf("QuotaExceed.ShareImageUser"),
            "QUOTA_EXCEED_SHARE_IMAGE_USER");
  EXPECT_EQ(UpperSnakeOf("InvalidAccount.Forbbiden"),
            "INVALID_ACCOUNT_FORBBIDEN");
  EXPECT_EQ(UpperSnakeOf("MissingParameter"), "MISSING_PARAMETER");
}

TEST(ContractChecksTest, RequestIdShapeIsUppercaseUuidV4) {
  EXPECT_TRUE(IsRequestIdShape(kRequestId));
  EXPECT_FALSE(IsRequestIdShape("0f4c3a6b-1d2e-4f60-8a7b-9c0d1e2f3a4b"));
  EXPECT_FALSE(IsRequestIdShape("0F4C3A6B-1D2E-1F60-8A7B-9C0D1E2F3A4B"));
  EXPECT_FALSE(IsRequestIdShape(""));
}

TEST(ContractChecksTest, AcceptsAWellFormedError) { Check(GoodNotFound()); }

TEST(ContractChecksTest, NoticesWrongCode) {
  Decoded d = GoodNotFound();
  d.code = grpc::StatusCode::INVALID_ARGUMENT;
  EXPECT_NONFATAL_FAILURE(Check(d), "d.code");
}

TEST(ContractChecksTest, NoticesWrongMessage) {
  Decoded d = GoodNotFound();
  d.message = "The specified ImageId does not exist";
  EXPECT_NONFATAL_FAILURE(Check(d), "d.message");
}

TEST(ContractChecksTest, NoticesWrongReason) {
  Decoded d = GoodNotFound();
  d.error_info.set_reason("InvalidImageId.NotFound");
  EXPECT_NONFATAL_FAILURE(Check(d), "reason");
}

TEST(ContractChecksTest, NoticesEmptyDomain) {
  Decoded d = GoodNotFound();
  d.error_info.clear_domain();
  EXPECT_NONFATAL_FAILURE(Check(d), "domain");
}

TEST(ContractChecksTest, NoticesWrongHttpStatus) {
  Decoded d = GoodNotFound();
  (*d.error_info.mutable_metadata())["httpStatus"] = "400";
  EXPECT_NONFATAL_FAILURE(Check(d), "httpStatus");
}

TEST(ContractChecksTest, NoticesTrailerMismatch) {
  Decoded d = GoodNotFound();
  d.trailer_request_id = "11111111-1D2E-4F60-8A7B-9C0D1E2F3A4B";
  EXPECT_NONFATAL_FAILURE(Check(d), "trailer_request_id");
}

TEST(ContractChecksTest, NoticesRequestInfoMismatch) {
  Decoded d = GoodNotFound();
  d.request_info.set_request_id("11111111-1D2E-4F60-8A7B-9C0D1E2F3A4B");
  EXPECT_NONFATAL_FAILURE(Check(d), "request_info.request_id");
}

TEST(ContractChecksTest, NoticesWrongDetailKind) {
  Decoded d = GoodNotFound();
  d.has_resource_info = false;
  d.has_bad_request = true;
  d.bad_request.add_field_violations()->set_field("ImageId");
  EXPECT_NONFATAL_FAILURE(Check(d), "has_resource_info");
}

TEST(ContractChecksTest, NoticesUnexpectedRetryInfo) {
  Decoded d = GoodNotFound();
  d.has_retry_info = true;
  d.retry_info.mutable_retry_delay()->set_seconds(3);
  d.detail_count = 4;
  EXPECT_NONFATAL_FAILURE(Check(d), "unexpected RetryInfo");
}

TEST(ContractChecksTest, NoticesMissingRetryInfo) {
  EXPECT_NONFATAL_FAILURE(Check(GoodNotFound(), Retry::kPresent),
                          "RetryInfo missing");
}

TEST(ContractChecksTest, NoticesAnUnknownExtraDetail) {
  Decoded d = GoodNotFound();
  d.detail_count = 4;  // something not decoded rode along
  EXPECT_NONFATAL_FAILURE(Check(d), "detail_count");
}

TEST(ContractChecksTest, NoticesPreconditionViolationOfAnotherType) {
  Decoded d;
  d.code = grpc::StatusCode::FAILED_PRECONDITION;
  d.message = "The Image is coping.";
  d.has_status_details = true;
  d.has_error_info = true;
  d.error_info.set_reason("OPERATION_DENIED_IMAGE_COPYING");
  d.error_info.set_domain("ecsimage.example");
  (*d.error_info.mutable_metadata())["code"] = "OperationDenied.ImageCopying";
  (*d.error_info.mutable_metadata())["httpStatus"] = "403";
  (*d.error_info.mutable_metadata())["requestId"] = kRequestId;
  d.has_request_info = true;
  d.request_info.set_request_id(kRequestId);
  d.has_precondition_failure = true;
  auto* v = d.precondition_failure.add_violations();
  v->set_type("ImageCopying");
  v->set_subject("image/m-abc");
  d.has_retry_info = true;
  d.retry_info.mutable_retry_delay()->set_seconds(5);
  d.detail_count = 4;
  d.trailer_request_id = kRequestId;
  EXPECT_NONFATAL_FAILURE(
      ExpectBlocked(d, "OperationDenied.ImageCopying", "The Image is coping.",
                    Retry::kPresent),
      "v.type()");
}

}  // namespace
}  // namespace ecsimage::testing::contract

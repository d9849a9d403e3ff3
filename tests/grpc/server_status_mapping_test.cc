// status_mapping.cc: catalog errors keep code and message and gain their
// details in a fixed order; anything else is replaced by a catalog entry
// and its text goes to the log only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "service/domain/clock.h"
#include "service/domain/errors.h"
#include "service/grpc/json_log.h"
#include "service/grpc/rate_limiter.h"
#include "service/grpc/status_mapping.h"

namespace ecsimage::grpcapi {
namespace {

using domain::Err;
using domain::SpecOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRid[] = "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9";

google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

// Type names of the details, in order.
std::vector<std::string> DetailTypes(const google::rpc::Status& details) {
  std::vector<std::string> types;
  for (const auto& any : details.details()) {
    types.push_back(any.type_url().substr(any.type_url().rfind('/') + 1));
  }
  return types;
}

// Collects log lines while alive.
class LogCapture {
 public:
  LogCapture() {
    SetLogSinkForTesting([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      text_.append(line);
    });
  }
  ~LogCapture() { SetLogSinkForTesting(nullptr); }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

TEST(StatusMappingTest, OkIsOk) {
  MappedStatus m = ToGrpcStatus(absl::OkStatus(), kRid);
  EXPECT_TRUE(m.status.ok());
  EXPECT_EQ(m.ecs_code, "");
  EXPECT_TRUE(m.status.error_details().empty());
}

TEST(StatusMappingTest, ResourceErrorHasErrorInfoRequestInfoResourceInfo) {
  absl::Status s = domain::Error(Err::kInvalidImageIdNotFound)
                       .Meta("imageId", "m-abc")
                       .Meta("regionId", "cn-hangzhou")
                       .Resource("image", "m-abc");
  MappedStatus m = ToGrpcStatus(s, kRid);
  const domain::ErrorSpec& spec = SpecOf(Err::kInvalidImageIdNotFound);
  EXPECT_EQ(m.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(m.status.error_message(), std::string(spec.message));
  EXPECT_EQ(m.ecs_code, "InvalidImageId.NotFound");

  google::rpc::Status details = Details(m.status);
  EXPECT_EQ(details.code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(details.message(), std::string(spec.message));
  EXPECT_EQ(DetailTypes(details),
            (std::vector<std::string>{"google.rpc.ErrorInfo",
                                      "google.rpc.RequestInfo",
                                      "google.rpc.ResourceInfo"}));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "INVALID_IMAGE_ID_NOT_FOUND");
  EXPECT_EQ(info.domain(), "ecsimage.ecs.image.v1");
  EXPECT_EQ(info.metadata().at("code"), "InvalidImageId.NotFound");
  EXPECT_EQ(info.metadata().at("httpStatus"), "404");
  EXPECT_EQ(info.metadata().at("requestId"), kRid);
  EXPECT_EQ(info.metadata().at("imageId"), "m-abc");
  EXPECT_EQ(info.metadata().at("regionId"), "cn-hangzhou");
  google::rpc::RequestInfo request_info;
  ASSERT_TRUE(details.details(1).UnpackTo(&request_info));
  EXPECT_EQ(request_info.request_id(), kRid);
  google::rpc::ResourceInfo resource;
  ASSERT_TRUE(details.details(2).UnpackTo(&resource));
  EXPECT_EQ(resource.resource_type(), "image");
  EXPECT_EQ(resource.resource_name(), "m-abc");
}

TEST(StatusMappingTest, ParameterErrorHasBadRequest) {
  absl::Status s = domain::Error(Err::kMissingParameter).Param("RegionId");
  MappedStatus m = ToGrpcStatus(s, kRid);
  EXPECT_EQ(m.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details = Details(m.status);
  EXPECT_EQ(DetailTypes(details),
            (std::vector<std::string>{"google.rpc.ErrorInfo",
                                      "google.rpc.RequestInfo",
                                      "google.rpc.BadRequest"}));
  google::rpc::BadRequest bad;
  ASSERT_TRUE(details.details(2).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "RegionId");
}

TEST(StatusMappingTest, StateErrorHasPreconditionFailureThenRetryInfo) {
  absl::Status s = domain::Error(Err::kOperationDeniedImageCopying)
                       .Meta("imageId", "m-abc")
                       .Precondition("image/m-dest", "copy in progress")
                       .RetryAfterMs(2500);
  MappedStatus m = ToGrpcStatus(s, kRid);
  EXPECT_EQ(m.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  google::rpc::Status details = Details(m.status);
  EXPECT_EQ(DetailTypes(details),
            (std::vector<std::string>{
                "google.rpc.ErrorInfo", "google.rpc.RequestInfo",
                "google.rpc.PreconditionFailure", "google.rpc.RetryInfo"}));
  google::rpc::PreconditionFailure failure;
  ASSERT_TRUE(details.details(2).UnpackTo(&failure));
  ASSERT_EQ(failure.violations_size(), 1);
  EXPECT_EQ(failure.violations(0).type(), "OperationDenied.ImageCopying");
  EXPECT_EQ(failure.violations(0).subject(), "image/m-dest");
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(3).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 2);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
}

TEST(StatusMappingTest, FixedMetadataKeysWinOverPayloadEntries) {
  absl::Status s = domain::Error(Err::kInvalidImageIdNotFound)
                       .Meta("requestId", "forged")
                       .Meta("code", "Forged");
  google::rpc::Status details = Details(ToGrpcStatus(s, kRid).status);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.metadata().at("requestId"), kRid);
  EXPECT_EQ(info.metadata().at("code"), "InvalidImageId.NotFound");
}

struct FallbackCase {
  absl::Status in;
  Err want;
};

TEST(StatusMappingTest, StatusWithoutPayloadNeverLeaksItsText) {
  const std::string secret = "SELECT token_sha256 FROM accounts: disk I/O";
  for (const FallbackCase& c : {
           FallbackCase{absl::InternalError(secret), Err::kInternalError},
           FallbackCase{absl::UnknownError(secret), Err::kInternalError},
           FallbackCase{absl::NotFoundError(secret), Err::kInternalError},
           FallbackCase{absl::InvalidArgumentError(secret),
                        Err::kInternalError},
           FallbackCase{absl::UnavailableError(secret),
                        Err::kServiceUnavailable},
           FallbackCase{absl::DeadlineExceededError(secret),
                        Err::kServiceUnavailableDeadline},
           FallbackCase{absl::CancelledError(secret),
                        Err::kServiceUnavailableDeadline},
           FallbackCase{absl::UnauthenticatedError(secret), Err::kInvalidToken},
       }) {
    SCOPED_TRACE(c.in.ToString());
    LogCapture log;
    MappedStatus m = ToGrpcStatus(c.in, kRid, "/ecs.image.v1.ImageService/X");
    const domain::ErrorSpec& spec = SpecOf(c.want);
    EXPECT_EQ(m.status.error_code(), static_cast<grpc::StatusCode>(spec.code));
    EXPECT_EQ(m.status.error_message(), std::string(spec.message));
    EXPECT_EQ(m.ecs_code, std::string(spec.ecs_code));
    EXPECT_THAT(m.status.error_message(), Not(HasSubstr("SELECT")));
    EXPECT_THAT(m.status.error_details(), Not(HasSubstr("SELECT")));
    EXPECT_THAT(m.status.error_details(), Not(HasSubstr("disk I/O")));
    google::rpc::Status details = Details(m.status);
    EXPECT_EQ(details.code(), static_cast<int>(spec.code));
    ASSERT_GE(details.details_size(), 2);
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(details.details(0).UnpackTo(&info));
    EXPECT_EQ(info.metadata().at("requestId"), kRid);
    // The cause is logged with the RequestId instead.
    const std::string logged = log.text();
    EXPECT_THAT(logged, HasSubstr(secret));
    EXPECT_THAT(logged, HasSubstr(kRid));
    EXPECT_THAT(logged, HasSubstr("/ecs.image.v1.ImageService/X"));
  }
}

TEST(StatusMappingTest, CatalogSpecsMatchTheContractTable) {
  EXPECT_EQ(SpecOf(Err::kServiceUnavailable).code,
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(SpecOf(Err::kServiceUnavailable).http_status, 503);
  EXPECT_EQ(SpecOf(Err::kInternalError).code, absl::StatusCode::kInternal);
  EXPECT_EQ(SpecOf(Err::kInternalError).http_status, 500);
  EXPECT_EQ(SpecOf(Err::kThrottling).code,
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(SpecOf(Err::kInvalidToken).code,
            absl::StatusCode::kUnauthenticated);
}

TEST(JsonLogTest, EscapesAndOrdersFields) {
  std::string line = JsonLine()
                         .Str("msg", "a\"b\\c\nd\x01")
                         .Int("n", -3)
                         .Bool("ok", true)
                         .Build();
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
  EXPECT_THAT(line, HasSubstr(R"("msg":"a\"b\\c\nd\u0001","n":-3,"ok":true})"));
}

TEST(RateLimiterTest, RefillsWithTheInjectedClockUpToTheBurst) {
  domain::FakeClock clock;
  AccountRateLimiter limiter(/*per_second=*/10, /*burst=*/3, clock);
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("b"));
  clock.AdvanceMs(100);  // one token
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("a"));
  clock.AdvanceMs(60'000);  // capped at the burst
  int allowed = 0;
  while (limiter.Allow("a")) ++allowed;
  EXPECT_EQ(allowed, 3);
  // A clock going backwards gives nothing away.
  clock.AdvanceMs(-5'000);
  EXPECT_FALSE(limiter.Allow("a"));
}

}  // namespace
}  // namespace ecsimage::grpcapi

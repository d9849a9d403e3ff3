// Helpers for the end-to-end contract tests (tests/grpc/contract_*_test.cc):
// a fixture owning an in-process server with two accounts, one-line RPC
// wrappers, and the checks every ECS error must pass (api.md §4).
//
// The frozen ECS messages are written here and in the tests literally, on
// purpose: the tests are the independent check of the implementation's
// catalog, so they never read it.
#ifndef ECSIMAGE_TESTS_GRPC_CONTRACT_HELPERS_H_
#define ECSIMAGE_TESTS_GRPC_CONTRACT_HELPERS_H_

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "tests/testing/test_server.h"

namespace ecsimage::testing::contract {

namespace v1 = ::ecs::image::v1;

inline constexpr char kRegion[] = "cn-hangzhou";
inline constexpr char kOtherRegion[] = "cn-shanghai";
inline constexpr char kThirdRegion[] = "cn-beijing";
// Every image status, for DescribeImages calls that must see all live images.
inline constexpr char kAllStatuses[] =
    "Waiting,Creating,UnAvailable,CreateFailed,Available,Deprecated";

// Frozen messages used by many tests (api.md §4, ecs-errors.md).
inline constexpr char kMsgRegionNotFound[] =
    "The specified RegionId does not exist.";
inline constexpr char kMsgImageNotFound[] =
    "The specified ImageId does not exist.";
inline constexpr char kMsgImageCopying[] = "The Image is coping.";
inline constexpr char kMsgImageUsingByInstance[] =
    "The specified image has been used to create instances.";
inline constexpr char kMsgImageUseShared[] =
    "The specified image has been shared to others.";
inline constexpr char kMsgImageIsPublic[] =
    "You can not delete public image, please modify it to private.";
inline constexpr char kMsgImageIsExporting[] =
    "The specified Image is exporting. Please cancel task first.";
inline constexpr char kMsgImageIsImporting[] =
    "The specified Image is importing.";
inline constexpr char kMsgCancelNotSupported[] =
    "The specified image coping can not be cancelled.";
inline constexpr char kMsgIdempotentMismatch[] =
    "The request uses the same client token as a previous, but non-identical "
    "request.";
inline constexpr char kMsgImageNotAvailable[] = "The image not available.";
inline constexpr char kMsgQuotaExceedImage[] = "The Image Quota exceeds.";

// Which type-specific detail an error must carry besides ErrorInfo and
// RequestInfo. kUnspecified: the contract does not say; at most one of them.
enum class Detail {
  kNone,
  kBadRequest,
  kResourceInfo,
  kPreconditionFailure,
  kUnspecified
};
enum class Retry { kAbsent, kPresent, kUnspecified };

// "InvalidImageId.NotFound" -> "INVALID_IMAGE_ID_NOT_FOUND" (AIP-193).
inline std::string UpperSnakeOf(std::string_view code) {
  std::string out;
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (c == '.') {
      out += '_';
      continue;
    }
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0 &&
        (std::islower(static_cast<unsigned char>(code[i - 1])) ||
         std::isdigit(static_cast<unsigned char>(code[i - 1])))) {
      out += '_';
    }
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

inline bool IsRequestIdShape(const std::string& id) {
  static const std::regex kShape(
      "^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$");
  return std::regex_match(id, kShape);
}

inline std::string Describe(const Decoded& d) {
  return "grpc code " + std::to_string(static_cast<int>(d.code)) + ", ecs '" +
         d.ecs_code() + "', message '" + d.message + "'";
}

inline std::string MetaOf(const Decoded& d, const std::string& key) {
  auto it = d.error_info.metadata().find(key);
  return it == d.error_info.metadata().end() ? std::string() : it->second;
}

// The checks every ECS error passes: canonical code, frozen message (any
// non-empty message when `message` is empty), ErrorInfo with the UPPER_SNAKE
// reason and metadata code/httpStatus/requestId, RequestInfo with the same
// request id as the x-acs-request-id trailer, exactly the expected detail
// types and nothing else.
inline void ExpectEcsError(const Decoded& d, grpc::StatusCode code,
                           std::string_view ecs_code, int http_status,
                           std::string_view message, Detail detail,
                           Retry retry = Retry::kAbsent) {
  EXPECT_EQ(d.code, code) << Describe(d);
  if (message.empty()) {
    EXPECT_FALSE(d.message.empty());
  } else {
    EXPECT_EQ(d.message, message);
  }
  ASSERT_TRUE(d.has_status_details) << Describe(d);
  ASSERT_TRUE(d.has_error_info) << Describe(d);
  EXPECT_EQ(d.error_info.reason(), UpperSnakeOf(ecs_code));
  EXPECT_FALSE(d.error_info.domain().empty());
  EXPECT_EQ(MetaOf(d, "code"), ecs_code);
  EXPECT_EQ(MetaOf(d, "httpStatus"), std::to_string(http_status));
  const std::string request_id = MetaOf(d, "requestId");
  EXPECT_TRUE(IsRequestIdShape(request_id))
      << "requestId '" << request_id << "'";
  ASSERT_TRUE(d.has_request_info);
  EXPECT_EQ(d.request_info.request_id(), request_id);
  EXPECT_EQ(d.trailer_request_id, request_id);

  int typed = (d.has_bad_request ? 1 : 0) + (d.has_resource_info ? 1 : 0) +
              (d.has_precondition_failure ? 1 : 0);
  switch (detail) {
    case Detail::kNone:
      EXPECT_EQ(typed, 0);
      break;
    case Detail::kBadRequest:
      EXPECT_TRUE(d.has_bad_request);
      EXPECT_EQ(typed, 1);
      break;
    case Detail::kResourceInfo:
      EXPECT_TRUE(d.has_resource_info);
      EXPECT_EQ(typed, 1);
      break;
    case Detail::kPreconditionFailure:
      EXPECT_TRUE(d.has_precondition_failure);
      EXPECT_EQ(typed, 1);
      break;
    case Detail::kUnspecified:
      EXPECT_LE(typed, 1);
      break;
  }
  if (d.has_bad_request) {
    EXPECT_GT(d.bad_request.field_violations_size(), 0);
  }
  if (d.has_precondition_failure) {
    EXPECT_GT(d.precondition_failure.violations_size(), 0);
    for (const auto& v : d.precondition_failure.violations()) {
      EXPECT_EQ(v.type(), ecs_code);
    }
  }
  switch (retry) {
    case Retry::kAbsent:
      EXPECT_FALSE(d.has_retry_info) << "unexpected RetryInfo";
      break;
    case Retry::kPresent:
      EXPECT_TRUE(d.has_retry_info) << "RetryInfo missing";
      if (d.has_retry_info) {
        const auto& delay = d.retry_info.retry_delay();
        EXPECT_TRUE(delay.seconds() > 0 || delay.nanos() > 0);
      }
      break;
    case Retry::kUnspecified:
      break;
  }
  EXPECT_EQ(d.detail_count,
            2 + typed + (d.has_retry_info ? 1 : 0));  // at most one of each
}

// Where a failure was expected: SCOPED_TRACE points at the caller's line.
#define EXPECT_ECS_ERROR(decoded, ...)                                   \
  do {                                                                   \
    SCOPED_TRACE("EXPECT_ECS_ERROR");                                    \
    ::ecsimage::testing::contract::ExpectEcsError(decoded, __VA_ARGS__); \
  } while (0)

#define EXPECT_CALL_OK(decoded)                                  \
  do {                                                           \
    const auto& d_ = (decoded);                                  \
    EXPECT_EQ(d_.code, grpc::StatusCode::OK)                     \
        << ::ecsimage::testing::contract::Describe(d_);          \
    EXPECT_TRUE(::ecsimage::testing::contract::IsRequestIdShape( \
        d_.trailer_request_id))                                  \
        << "trailer '" << d_.trailer_request_id << "'";          \
  } while (0)

#define ASSERT_CALL_OK(decoded)                         \
  do {                                                  \
    const auto& d_ = (decoded);                         \
    ASSERT_EQ(d_.code, grpc::StatusCode::OK)            \
        << ::ecsimage::testing::contract::Describe(d_); \
  } while (0)

inline void ExpectMissingParameter(const Decoded& d, const std::string& param) {
  ExpectEcsError(d, grpc::StatusCode::INVALID_ARGUMENT, "MissingParameter", 400,
                 "The input parameter \"" + param +
                     "\" that is mandatory for processing this request is "
                     "not supplied.",
                 Detail::kBadRequest);
  ASSERT_TRUE(d.has_bad_request);
  ASSERT_EQ(d.bad_request.field_violations_size(), 1);
  EXPECT_EQ(d.bad_request.field_violations(0).field(), param);
}

inline void ExpectInvalidParameter(const Decoded& d, const std::string& param) {
  ExpectEcsError(d, grpc::StatusCode::INVALID_ARGUMENT, "InvalidParameter", 400,
                 "The specified parameter \"" + param + "\" is not valid.",
                 Detail::kBadRequest);
  ASSERT_TRUE(d.has_bad_request);
  ASSERT_EQ(d.bad_request.field_violations_size(), 1);
  EXPECT_EQ(d.bad_request.field_violations(0).field(), param);
}

inline void ExpectRegionNotFound(const Decoded& d) {
  ExpectEcsError(d, grpc::StatusCode::NOT_FOUND, "InvalidRegionId.NotFound",
                 404, kMsgRegionNotFound, Detail::kResourceInfo);
}

// InvalidImageId.NotFound naming `image_id` (ResourceInfo and metadata).
inline void ExpectImageNotFound(const Decoded& d, const std::string& image_id,
                                bool check_id_echo = true) {
  ExpectEcsError(d, grpc::StatusCode::NOT_FOUND, "InvalidImageId.NotFound", 404,
                 kMsgImageNotFound, Detail::kResourceInfo);
  if (check_id_echo) {
    EXPECT_EQ(d.resource_info.resource_name(), image_id);
    EXPECT_EQ(MetaOf(d, "imageId"), image_id);
  }
}

// A DeleteImage blocker (403 FAILED_PRECONDITION with PreconditionFailure).
inline void ExpectBlocked(const Decoded& d, std::string_view ecs_code,
                          std::string_view message, Retry retry) {
  ExpectEcsError(d, grpc::StatusCode::FAILED_PRECONDITION, ecs_code, 403,
                 message, Detail::kPreconditionFailure, retry);
}

// A CancelCopyImage phase answer (400 FAILED_PRECONDITION).
inline void ExpectIncorrectImageStatus(const Decoded& d,
                                       std::string_view message,
                                       Retry retry = Retry::kAbsent) {
  ExpectEcsError(d, grpc::StatusCode::FAILED_PRECONDITION,
                 "IncorrectImageStatus", 400, message,
                 Detail::kPreconditionFailure, retry);
}

inline void ExpectCancelNotSupported(const Decoded& d) {
  ExpectEcsError(d, grpc::StatusCode::FAILED_PRECONDITION, "CancelNotSupported",
                 400, kMsgCancelNotSupported, Detail::kPreconditionFailure);
}

inline void ExpectQuotaExceedImage(const Decoded& d) {
  ExpectEcsError(d, grpc::StatusCode::RESOURCE_EXHAUSTED, "QuotaExceed.Image",
                 403, kMsgQuotaExceedImage, Detail::kUnspecified);
}

// A well-formed image id that never existed: "m-" + 20 [a-z0-9].
inline std::string UnknownImageId(int n = 1) {
  std::string digits = std::to_string(n);
  return "m-notexist" + std::string(12 - digits.size(), '0') + digits;
}

struct CopyOptions {
  bool encrypted = false;
  std::string kms_key_id;
  std::string client_token;
};

// One server, two accounts (alice, bob), stubs, and short RPC wrappers.
// Wrappers named Try* return the decoded status; the others expect success
// (a failure is reported and an empty value returned).
class ContractTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(TestServerOptions{}); }

  static TestServerOptions NonSimulated() {
    TestServerOptions options;
    options.simulation_control = false;
    return options;
  }

  void StartServer(TestServerOptions options) {
    ResetStubs();
    server_.reset();
    simulated_ = options.simulation_control;
    server_ = std::make_unique<TestServer>(options);
    alice_ = server_->CreateAccount("alice");
    bob_ = server_->CreateAccount("bob");
    Reconnect();
  }

  // Restarts the server on the same database and makes new stubs.
  void RestartServer() {
    ResetStubs();
    server_->Restart();
    Reconnect();
  }

  void Reconnect() {
    images_ = server_->images();
    instances_ = server_->instances();
    sim_ = server_->simulation();
  }

  // Calls `method` of `stub` as `who`, fills `resp` if given.
  template <typename Stub, typename Req, typename Resp>
  static Decoded Invoke(Stub& stub,
                        grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                     const Req&, Resp*),
                        const TestAccount& who, const Req& req,
                        Resp* resp = nullptr) {
    Resp local;
    auto ctx = AuthContext(who.token);
    grpc::Status status = (stub.*method)(ctx.get(), req, resp ? resp : &local);
    Decoded d = Decode(status, *ctx);
    if (status.ok() && resp != nullptr) {
      EXPECT_EQ(resp->request_id(), d.trailer_request_id);
    }
    return d;
  }

  // --- ImageService -------------------------------------------------------

  Decoded TryCancelCopy(const TestAccount& who, const std::string& region,
                        const std::string& image_id) {
    v1::CancelCopyImageRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    v1::CancelCopyImageResponse resp;
    return Invoke(*images_, &v1::ImageService::Stub::CancelCopyImage, who, req,
                  &resp);
  }

  Decoded TryDelete(const TestAccount& who, const std::string& region,
                    const std::string& image_id, bool force = false) {
    v1::DeleteImageRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_force(force);
    v1::DeleteImageResponse resp;
    return Invoke(*images_, &v1::ImageService::Stub::DeleteImage, who, req,
                  &resp);
  }

  std::string NextName(const std::string& prefix = "img") {
    return prefix + "-" + std::to_string(++name_seq_);
  }

  Decoded TryCreateImage(const TestAccount& who,
                         const v1::CreateImageRequest& req,
                         v1::CreateImageResponse* resp = nullptr) {
    return Invoke(*images_, &v1::ImageService::Stub::CreateImage, who, req,
                  resp);
  }

  // A new image, still Creating under simulation control.
  std::string CreateImage(const TestAccount& who,
                          const std::string& region = kRegion) {
    v1::CreateImageRequest req;
    req.set_region_id(region);
    req.set_image_name(NextName());
    v1::CreateImageResponse resp;
    Decoded d = TryCreateImage(who, req, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "CreateImage: " << Describe(d);
    return resp.image_id();
  }

  // A new Available image: driven by AdvanceTask under simulation control,
  // by the clock and Tick otherwise.
  std::string CreateAvailableImage(const TestAccount& who,
                                   const std::string& region = kRegion) {
    std::string id = CreateImage(who, region);
    if (id.empty()) return id;
    if (simulated_) {
      Advance(who, region, id, "Available");
    } else {
      for (int i = 0; i < 50; ++i) {
        auto image = FindImage(who, region, id);
        if (image && image->status() == "Available") break;
        TickBy(10'000);
      }
    }
    auto image = FindImage(who, region, id);
    EXPECT_TRUE(image && image->status() == "Available")
        << "image " << id << " did not become Available";
    return id;
  }

  Decoded TryCopy(const TestAccount& who, const std::string& src_region,
                  const std::string& src_id, const std::string& dest_region,
                  const CopyOptions& options = {},
                  v1::CopyImageResponse* resp = nullptr,
                  const std::string& dest_name = "") {
    v1::CopyImageRequest req;
    req.set_region_id(src_region);
    req.set_image_id(src_id);
    req.set_destination_region_id(dest_region);
    req.set_destination_image_name(dest_name.empty() ? NextName("copy")
                                                     : dest_name);
    req.set_encrypted(options.encrypted);
    req.set_kms_key_id(options.kms_key_id);
    req.set_client_token(options.client_token);
    return Invoke(*images_, &v1::ImageService::Stub::CopyImage, who, req, resp);
  }

  // Starts a copy of `src_id` (in kRegion) into `dest_region`; returns the
  // copy's id (phase QUEUED under simulation control).
  std::string StartCopy(const TestAccount& who, const std::string& src_id,
                        const std::string& dest_region = kOtherRegion,
                        const CopyOptions& options = {},
                        const std::string& src_region = kRegion) {
    v1::CopyImageResponse resp;
    Decoded d = TryCopy(who, src_region, src_id, dest_region, options, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "CopyImage: " << Describe(d);
    return resp.image_id();
  }

  Decoded TryDescribeImages(const TestAccount& who,
                            const v1::DescribeImagesRequest& req,
                            v1::DescribeImagesResponse* resp = nullptr) {
    return Invoke(*images_, &v1::ImageService::Stub::DescribeImages, who, req,
                  resp);
  }

  // The image as `who` sees it through DescribeImages (any status), or
  // nullopt when it is not listed.
  std::optional<v1::Image> FindImage(const TestAccount& who,
                                     const std::string& region,
                                     const std::string& image_id,
                                     const std::string& status = kAllStatuses) {
    v1::DescribeImagesRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_status(status);
    v1::DescribeImagesResponse resp;
    Decoded d = TryDescribeImages(who, req, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK)
        << "DescribeImages: " << Describe(d);
    for (const auto& image : resp.images()) {
      if (image.image_id() == image_id) return image;
    }
    return std::nullopt;
  }

  // Status / CopyPhase of an image as `who` sees it; "<absent>" when not
  // listed.
  std::string StatusOf(const TestAccount& who, const std::string& region,
                       const std::string& image_id) {
    auto image = FindImage(who, region, image_id);
    return image ? image->status() : "<absent>";
  }
  std::string PhaseOf(const TestAccount& who, const std::string& region,
                      const std::string& image_id) {
    auto image = FindImage(who, region, image_id);
    return image ? image->copy_phase() : "<absent>";
  }

  // The image as `who` sees it; a test failure (and an empty Image) when it
  // is not listed.
  v1::Image ImageOf(const TestAccount& who, const std::string& region,
                    const std::string& image_id) {
    auto image = FindImage(who, region, image_id);
    if (!image) {
      ADD_FAILURE() << "image " << image_id << " not listed in " << region;
      return v1::Image();
    }
    return *image;
  }

  // Every image of `who` in `region` matching the filters (all pages).
  std::vector<v1::Image> ListImages(const TestAccount& who,
                                    const std::string& region,
                                    const std::string& alias = "",
                                    const std::string& status = kAllStatuses) {
    std::vector<v1::Image> out;
    for (int page = 1; page < 1000; ++page) {
      v1::DescribeImagesRequest req;
      req.set_region_id(region);
      req.set_status(status);
      req.set_image_owner_alias(alias);
      req.set_page_number(page);
      req.set_page_size(100);
      v1::DescribeImagesResponse resp;
      Decoded d = TryDescribeImages(who, req, &resp);
      EXPECT_EQ(d.code, grpc::StatusCode::OK) << Describe(d);
      if (d.code != grpc::StatusCode::OK) break;
      for (const auto& image : resp.images()) out.push_back(image);
      if (resp.images_size() < 100) break;
    }
    return out;
  }

  Decoded TryShare(const TestAccount& who, const std::string& region,
                   const std::string& image_id,
                   const std::vector<std::string>& add,
                   const std::vector<std::string>& remove = {},
                   std::optional<bool> is_public = std::nullopt) {
    v1::ModifyImageSharePermissionRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    for (const auto& a : add) req.add_add_account(a);
    for (const auto& r : remove) req.add_remove_account(r);
    if (is_public) req.set_is_public(*is_public);
    v1::ModifyImageSharePermissionResponse resp;
    return Invoke(*images_, &v1::ImageService::Stub::ModifyImageSharePermission,
                  who, req, &resp);
  }

  void Share(const TestAccount& who, const std::string& image_id,
             const std::vector<std::string>& add,
             const std::string& region = kRegion) {
    Decoded d = TryShare(who, region, image_id, add);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "share: " << Describe(d);
  }

  void Unshare(const TestAccount& who, const std::string& image_id,
               const std::vector<std::string>& remove,
               const std::string& region = kRegion) {
    Decoded d = TryShare(who, region, image_id, {}, remove);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "unshare: " << Describe(d);
  }

  void SetPublic(const TestAccount& who, const std::string& image_id,
                 bool is_public, const std::string& region = kRegion) {
    Decoded d = TryShare(who, region, image_id, {}, {}, is_public);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "publish: " << Describe(d);
  }

  Decoded TryDescribeSharePermission(
      const TestAccount& who, const std::string& region,
      const std::string& image_id,
      v1::DescribeImageSharePermissionResponse* resp = nullptr) {
    v1::DescribeImageSharePermissionRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_page_size(100);
    return Invoke(*images_,
                  &v1::ImageService::Stub::DescribeImageSharePermission, who,
                  req, resp);
  }

  // Account ids the image is shared with, as its owner sees them.
  std::vector<std::string> SharedWith(const TestAccount& who,
                                      const std::string& image_id,
                                      const std::string& region = kRegion) {
    v1::DescribeImageSharePermissionResponse resp;
    Decoded d = TryDescribeSharePermission(who, region, image_id, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << Describe(d);
    std::vector<std::string> out;
    for (const auto& a : resp.accounts()) out.push_back(a.aliyun_id());
    return out;
  }

  Decoded TryModifyAttribute(const TestAccount& who,
                             const v1::ModifyImageAttributeRequest& req) {
    v1::ModifyImageAttributeResponse resp;
    return Invoke(*images_, &v1::ImageService::Stub::ModifyImageAttribute, who,
                  req, &resp);
  }

  Decoded TrySetStatus(const TestAccount& who, const std::string& image_id,
                       const std::string& status,
                       const std::string& region = kRegion) {
    v1::ModifyImageAttributeRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_status(status);
    return TryModifyAttribute(who, req);
  }

  Decoded TryImport(const TestAccount& who, const v1::ImportImageRequest& req,
                    v1::ImportImageResponse* resp = nullptr) {
    return Invoke(*images_, &v1::ImageService::Stub::ImportImage, who, req,
                  resp);
  }

  v1::ImportImageRequest ImportRequest(const std::string& region = kRegion) {
    v1::ImportImageRequest req;
    req.set_region_id(region);
    req.set_image_name(NextName("imported"));
    req.set_oss_bucket("bucket-a");
    req.set_oss_object("disk.qcow2");
    return req;
  }

  // Starts an import; returns {image id, task id}.
  std::pair<std::string, std::string> StartImport(
      const TestAccount& who, const std::string& region = kRegion) {
    v1::ImportImageResponse resp;
    Decoded d = TryImport(who, ImportRequest(region), &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "ImportImage: " << Describe(d);
    return {resp.image_id(), resp.task_id()};
  }

  Decoded TryExport(const TestAccount& who, const std::string& region,
                    const std::string& image_id,
                    const std::string& client_token = "",
                    v1::ExportImageResponse* resp = nullptr,
                    const std::string& bucket = "bucket-a") {
    v1::ExportImageRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_oss_bucket(bucket);
    req.set_oss_prefix("exports/");
    req.set_client_token(client_token);
    return Invoke(*images_, &v1::ImageService::Stub::ExportImage, who, req,
                  resp);
  }

  // Starts an export; returns its task id.
  std::string StartExport(const TestAccount& who, const std::string& image_id,
                          const std::string& region = kRegion) {
    v1::ExportImageResponse resp;
    Decoded d = TryExport(who, region, image_id, "", &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "ExportImage: " << Describe(d);
    return resp.task_id();
  }

  Decoded TryCancelTask(const TestAccount& who, const std::string& region,
                        const std::string& task_id) {
    v1::CancelTaskRequest req;
    req.set_region_id(region);
    req.set_task_id(task_id);
    v1::CancelTaskResponse resp;
    return Invoke(*images_, &v1::ImageService::Stub::CancelTask, who, req,
                  &resp);
  }

  Decoded TryDescribeTasks(const TestAccount& who,
                           const v1::DescribeTasksRequest& req,
                           v1::DescribeTasksResponse* resp = nullptr) {
    return Invoke(*images_, &v1::ImageService::Stub::DescribeTasks, who, req,
                  resp);
  }

  Decoded TryDescribeRegions(const TestAccount& who,
                             v1::DescribeRegionsResponse* resp = nullptr) {
    v1::DescribeRegionsRequest req;
    return Invoke(*images_, &v1::ImageService::Stub::DescribeRegions, who, req,
                  resp);
  }

  // --- InstanceService ----------------------------------------------------

  Decoded TryRun(const TestAccount& who, const std::string& region,
                 const std::string& image_id, int amount = 1,
                 const std::string& client_token = "",
                 v1::RunInstancesResponse* resp = nullptr) {
    v1::RunInstancesRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_amount(amount);
    req.set_client_token(client_token);
    return Invoke(*instances_, &v1::InstanceService::Stub::RunInstances, who,
                  req, resp);
  }

  std::vector<std::string> Run(const TestAccount& who,
                               const std::string& image_id, int amount = 1,
                               const std::string& region = kRegion) {
    v1::RunInstancesResponse resp;
    Decoded d = TryRun(who, region, image_id, amount, "", &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "RunInstances: " << Describe(d);
    return {resp.instance_id_sets().begin(), resp.instance_id_sets().end()};
  }

  Decoded TryDeleteInstance(const TestAccount& who,
                            const std::string& instance_id) {
    v1::DeleteInstanceRequest req;
    req.set_instance_id(instance_id);
    v1::DeleteInstanceResponse resp;
    return Invoke(*instances_, &v1::InstanceService::Stub::DeleteInstance, who,
                  req, &resp);
  }

  // Live instance ids of `who` started from `image_id`.
  std::vector<std::string> InstancesOf(const TestAccount& who,
                                       const std::string& image_id,
                                       const std::string& region = kRegion) {
    v1::DescribeInstancesRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_page_size(100);
    v1::DescribeInstancesResponse resp;
    Decoded d =
        Invoke(*instances_, &v1::InstanceService::Stub::DescribeInstances, who,
               req, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << Describe(d);
    std::vector<std::string> out;
    for (const auto& i : resp.instances()) out.push_back(i.instance_id());
    return out;
  }

  // --- SimulationControl --------------------------------------------------

  Decoded TryAdvance(const TestAccount& who, const std::string& region,
                     const std::string& image_id, const std::string& phase,
                     int progress = 0, v1::TaskStateResponse* resp = nullptr,
                     const std::string& task_id = "") {
    v1::AdvanceTaskRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_task_id(task_id);
    req.set_phase(phase);
    req.set_progress(progress);
    return Invoke(*sim_, &v1::SimulationControl::Stub::AdvanceTask, who, req,
                  resp);
  }

  v1::TaskStateResponse Advance(const TestAccount& who,
                                const std::string& region,
                                const std::string& image_id,
                                const std::string& phase, int progress = 0) {
    v1::TaskStateResponse resp;
    Decoded d = TryAdvance(who, region, image_id, phase, progress, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK)
        << "AdvanceTask " << image_id << " -> " << phase << ": " << Describe(d);
    return resp;
  }

  v1::TaskStateResponse AdvanceTaskTo(const TestAccount& who,
                                      const std::string& region,
                                      const std::string& task_id,
                                      const std::string& status) {
    v1::TaskStateResponse resp;
    Decoded d = TryAdvance(who, region, "", status, 0, &resp, task_id);
    EXPECT_EQ(d.code, grpc::StatusCode::OK)
        << "AdvanceTask " << task_id << " -> " << status << ": " << Describe(d);
    return resp;
  }

  // Drives a copy (in kOtherRegion unless told) to `phase`; TRANSFERRING
  // gets `progress` (default 50).
  v1::TaskStateResponse AdvanceCopyTo(const TestAccount& who,
                                      const std::string& copy_id,
                                      const std::string& phase,
                                      const std::string& region = kOtherRegion,
                                      int progress = 0) {
    if (phase == "TRANSFERRING" && progress == 0) progress = 50;
    if (phase == "CANCELLING") {
      // Only CancelCopyImage reaches CANCELLING.
      Advance(who, region, copy_id, "TRANSFERRING", 50);
      Decoded d = TryCancelCopy(who, region, copy_id);
      EXPECT_EQ(d.code, grpc::StatusCode::OK) << "cancel: " << Describe(d);
      v1::TaskStateResponse state;
      state.set_phase("CANCELLING");
      return state;
    }
    if (phase == "FAILED") {
      Advance(who, region, copy_id, "TRANSFERRING", 50);
      return Fail(who, region, copy_id);
    }
    return Advance(who, region, copy_id, phase, progress);
  }

  Decoded TryFail(const TestAccount& who, const std::string& region,
                  const std::string& image_id,
                  v1::TaskStateResponse* resp = nullptr,
                  const std::string& task_id = "") {
    v1::FailTaskRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_task_id(task_id);
    return Invoke(*sim_, &v1::SimulationControl::Stub::FailTask, who, req,
                  resp);
  }

  v1::TaskStateResponse Fail(const TestAccount& who, const std::string& region,
                             const std::string& image_id) {
    v1::TaskStateResponse resp;
    Decoded d = TryFail(who, region, image_id, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << "FailTask: " << Describe(d);
    return resp;
  }

  // --- Time (simulation_control = false) ----------------------------------

  // One engine step covering `ms` of fake time. The engine's first Tick only
  // records the time, so each step ticks before and after the advance.
  void TickBy(int64_t ms) {
    server_->Tick();
    server_->clock().AdvanceMs(ms);
    server_->Tick();
  }

  std::unique_ptr<TestServer> server_;
  bool simulated_ = true;
  TestAccount alice_;
  TestAccount bob_;
  std::unique_ptr<v1::ImageService::Stub> images_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::SimulationControl::Stub> sim_;

 private:
  void ResetStubs() {
    images_.reset();
    instances_.reset();
    sim_.reset();
  }
  int name_seq_ = 0;
};

}  // namespace ecsimage::testing::contract

#endif  // ECSIMAGE_TESTS_GRPC_CONTRACT_HELPERS_H_

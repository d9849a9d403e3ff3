#include "service/domain/errors.h"

#include <cctype>

#include "absl/strings/cord.h"
#include "absl/strings/str_replace.h"
#include "util/absl_compat.h"

namespace ecsimage::domain {
namespace {

using Kind = ecsimage::internal::ErrorPayload;
using absl::StatusCode;

constexpr auto kBad = Kind::KIND_BAD_REQUEST;
constexpr auto kRes = Kind::KIND_RESOURCE_INFO;
constexpr auto kPre = Kind::KIND_PRECONDITION;
constexpr auto kNone = Kind::KIND_NONE;

constexpr std::string_view kNotCoping = "IncorrectImageStatus";

// The catalog. Messages are frozen: ECS's own spelling ("coping",
// "Forbbiden") stays.
const ErrorSpec& Lookup(Err err) {
  switch (err) {
#define ECS_ERR(id, code, http, grpc, msg, kind)              \
  case Err::id: {                                             \
    static const ErrorSpec spec{code, http, grpc, msg, kind}; \
    return spec;                                              \
  }
    ECS_ERR(kMissingParameter, "MissingParameter", 400,
            StatusCode::kInvalidArgument,
            "The input parameter \"%s\" that is mandatory for processing this "
            "request is not supplied.",
            kBad)
    ECS_ERR(kInvalidParameter, "InvalidParameter", 400,
            StatusCode::kInvalidArgument,
            "The specified parameter \"%s\" is not valid.", kBad)
    ECS_ERR(kIdempotentParameterMismatch, "IdempotentParameterMismatch", 400,
            StatusCode::kInvalidArgument,
            "The request uses the same client token as a previous, but "
            "non-identical request.",
            kBad)
    ECS_ERR(kInvalidImageNameMalformed, "InvalidImageName.Malformed", 400,
            StatusCode::kInvalidArgument,
            "The specified image name is wrongly formed.", kBad)
    ECS_ERR(kInvalidImageNameMalformedDestination, "InvalidImageName.Malformed",
            400, StatusCode::kInvalidArgument,
            "The specified destination Image name is wrongly formed.", kBad)
    ECS_ERR(kInvalidDescriptionMalformed, "InvalidDescription.Malformed", 400,
            StatusCode::kInvalidArgument,
            "The specified description is wrongly formed.", kBad)
    ECS_ERR(kInvalidDescriptionMalformedDestination,
            "InvalidDescription.Malformed", 400, StatusCode::kInvalidArgument,
            "The specified destination description is wrongly formed.", kBad)
    ECS_ERR(kInvalidParameterEncryptedIllegal,
            "InvalidParameter.EncryptedIllegal", 400,
            StatusCode::kInvalidArgument,
            "The specified parameter Encrypted must be true when kmsKeyId is "
            "not empty.",
            kBad)
    ECS_ERR(kDestinationRegionNotFound, "DestinationRegion.NotFound", 400,
            StatusCode::kInvalidArgument, "The destination region not found",
            kBad)
    ECS_ERR(kInvalidAccountForbbiden, "InvalidAccount.Forbbiden", 404,
            StatusCode::kInvalidArgument,
            "The specified Account does not yourself.", kBad)
    ECS_ERR(kInvalidRegionIdNotFound, "InvalidRegionId.NotFound", 404,
            StatusCode::kNotFound, "The specified RegionId does not exist.",
            kRes)
    ECS_ERR(kInvalidImageIdNotFound, "InvalidImageId.NotFound", 404,
            StatusCode::kNotFound, "The specified ImageId does not exist.",
            kRes)
    ECS_ERR(kInvalidTaskIdNotFound, "InvalidTaskId.NotFound", 404,
            StatusCode::kNotFound, "The specified TaskId does not exist.", kRes)
    ECS_ERR(kInvalidInstanceIdNotFound, "InvalidInstanceId.NotFound", 404,
            StatusCode::kNotFound, "The specified InstanceId does not exist.",
            kRes)
    ECS_ERR(kInvalidAccountNotFound, "InvalidAccount.NotFound", 404,
            StatusCode::kNotFound,
            "The specified parameter \"AddAccount.n\" or \"RemoveAccount.n\" "
            "does not exist.",
            kRes)
    ECS_ERR(kImageCreatedNotFromCopy, "ImageCreatedNotFromCopy", 400,
            StatusCode::kFailedPrecondition,
            "The specified image is not the target image of a copy action.",
            kPre)
    ECS_ERR(kIncorrectImageStatusCopyFinished, kNotCoping, 400,
            StatusCode::kFailedPrecondition, "The image is copied finished.",
            kPre)
    ECS_ERR(kIncorrectImageStatusSnapshotNotCoping, kNotCoping, 400,
            StatusCode::kFailedPrecondition,
            "The specified snapshot is not coping.", kPre)
    ECS_ERR(kIncorrectImageStatusImageNotCoping, kNotCoping, 400,
            StatusCode::kFailedPrecondition,
            "The specified image is not coping.", kPre)
    ECS_ERR(kIncorrectImageStatusCompletedCopy, kNotCoping, 400,
            StatusCode::kFailedPrecondition, "The image has completed copy.",
            kPre)
    ECS_ERR(kIncorrectImageStatusCopyFailed, kNotCoping, 400,
            StatusCode::kFailedPrecondition, "The Image copy has been failed.",
            kPre)
    ECS_ERR(kIncorrectImageStatusNotAvailable, kNotCoping, 400,
            StatusCode::kFailedPrecondition, "The image not available.", kPre)
    ECS_ERR(kIncorrectTaskStatus, "IncorrectTaskStatus", 400,
            StatusCode::kFailedPrecondition,
            "The current status of the task does not support this operation.",
            kPre)
    ECS_ERR(kCancelNotSupported, "CancelNotSupported", 400,
            StatusCode::kFailedPrecondition,
            "The specified image coping can not be cancelled.", kPre)
    ECS_ERR(kInvalidTransition, "InvalidTransition", 400,
            StatusCode::kFailedPrecondition,
            "The task can not move to the specified phase.", kPre)
    ECS_ERR(kImageUsingByInstance, "ImageUsingByInstance", 403,
            StatusCode::kFailedPrecondition,
            "The specified image has been used to create instances.", kPre)
    ECS_ERR(kImageUseShared, "ImageUseShared", 403,
            StatusCode::kFailedPrecondition,
            "The specified image has been shared to others.", kPre)
    ECS_ERR(kImageUseSharedDeprecate, "ImageUseShared", 403,
            StatusCode::kFailedPrecondition,
            "The specified image has been shared to others, please remove "
            "shared accounts first.",
            kPre)
    ECS_ERR(kOperationDeniedImageCopying, "OperationDenied.ImageCopying", 403,
            StatusCode::kFailedPrecondition, "The Image is coping.", kPre)
    ECS_ERR(kOperationDeniedSameRegionOnly, "OperationDenied.SameRegionOnly",
            403, StatusCode::kFailedPrecondition,
            "The image shared from others can not be copied to another region "
            "directly.",
            kPre)
    ECS_ERR(kImageIsImporting, "ImageIsImporting", 403,
            StatusCode::kFailedPrecondition,
            "The specified Image is importing.", kPre)
    ECS_ERR(kImageIsExporting, "ImageIsExporting", 403,
            StatusCode::kFailedPrecondition,
            "The specified Image is exporting. Please cancel task first.", kPre)
    ECS_ERR(
        kImageIsPublic, "ImageIsPublic", 403, StatusCode::kFailedPrecondition,
        "You can not delete public image, please modify it to private.", kPre)
    ECS_ERR(kImageIsPublicExport, "ImageIsPublic", 403,
            StatusCode::kFailedPrecondition,
            "The specified image is public and can not be exported or copied.",
            kPre)
    ECS_ERR(kInvalidImageNameDuplicated, "InvalidImageName.Duplicated", 400,
            StatusCode::kAlreadyExists,
            "The specified image name is already in use.", kBad)
    ECS_ERR(kInvalidImageNameDuplicatedDestination,
            "InvalidImageName.Duplicated", 400, StatusCode::kAlreadyExists,
            "The destination image is exist.", kBad)
    ECS_ERR(kQuotaExceedImage, "QuotaExceed.Image", 403,
            StatusCode::kResourceExhausted, "The Image Quota exceeds.", kPre)
    ECS_ERR(kInvalidOssBucketNotFound, "InvalidOSSBucket.NotFound", 400,
            StatusCode::kInvalidArgument,
            "The specified OSS bucket does not exist in this region.", kBad)
    ECS_ERR(kInvalidOssObjectMalformed, "InvalidOSSObject.Malformed", 400,
            StatusCode::kInvalidArgument,
            "The specified OSS object is wrongly formed.", kBad)
    ECS_ERR(kInvalidOssObjectNotFound, "InvalidOSSObject.NotFound", 400,
            StatusCode::kInvalidArgument,
            "The specified OSS object does not exist in this region.", kBad)
    ECS_ERR(kInvalidOssObjectNotRetrieved, "InvalidOSSObject.NotFound", 400,
            StatusCode::kInvalidArgument,
            "The specified OSS object cannot be retrieved.", kBad)
    ECS_ERR(kInvalidOssPrefixMalformed, "InvalidOSSPrefix.Malformed", 400,
            StatusCode::kInvalidArgument,
            "The specified OSSPrefix format is wrongly formed.", kBad)
    ECS_ERR(kInvalidImageFormatNotSupported, "InvalidImageFormat.NotSupported",
            400, StatusCode::kInvalidArgument,
            "The format of the specified OSS object is not supported; "
            "import RAW or QCOW2.",
            kBad)
    ECS_ERR(kInvalidImageFormatBackingFile, "InvalidImageFormat.BackingFile",
            400, StatusCode::kInvalidArgument,
            "The specified OSS object refers to a backing file or an external "
            "data file.",
            kBad)
    ECS_ERR(kInvalidImageFormatCorrupt, "InvalidImageFormat.Corrupt", 400,
            StatusCode::kInvalidArgument,
            "The specified OSS object is not a valid RAW or QCOW2 image.", kBad)
    ECS_ERR(kInvalidImageFormatMismatch, "InvalidImageFormat.Mismatch", 400,
            StatusCode::kInvalidArgument,
            "The content of the specified OSS object is not in the specified "
            "Format.",
            kBad)
    ECS_ERR(kQuotaExceedShareImageUser, "QuotaExceed.ShareImageUser", 403,
            StatusCode::kResourceExhausted,
            "The shared Image user Quota exceeds.", kPre)
    ECS_ERR(kThrottling, "Throttling", 400, StatusCode::kResourceExhausted,
            "Request was denied due to request throttling.", kNone)
    ECS_ERR(kServiceUnavailable, "ServiceUnavailable", 503,
            StatusCode::kUnavailable,
            "The request has failed due to a temporary failure of the server.",
            kNone)
    ECS_ERR(kServiceUnavailableDeadline, "ServiceUnavailable", 503,
            StatusCode::kDeadlineExceeded,
            "The request has failed due to a temporary failure of the server.",
            kNone)
    ECS_ERR(kInternalError, "InternalError", 500, StatusCode::kInternal,
            "The request processing has failed due to some unknown error.",
            kNone)
    ECS_ERR(kInvalidToken, "InvalidToken", 401, StatusCode::kUnauthenticated,
            "The bearer token is missing or not valid.", kNone)
    // The ECS HTTP gateway. Messages of Alibaba Cloud's API gateway (POP).
    ECS_ERR(kInvalidActionNotFound, "InvalidAction.NotFound", 404,
            StatusCode::kUnimplemented,
            "Specified api is not found, please check your url and method.",
            kNone)
    ECS_ERR(kInvalidVersion, "InvalidVersion", 400,
            StatusCode::kInvalidArgument,
            "Specified parameter Version is not valid.", kNone)
    ECS_ERR(kUnsupportedHttpMethod, "UnsupportedHTTPMethod", 405,
            StatusCode::kUnimplemented, "This http method is not supported.",
            kNone)
    ECS_ERR(kRequestTooLarge, "RequestTooLarge", 413,
            StatusCode::kInvalidArgument,
            "The request is larger than the server accepts.", kNone)
    ECS_ERR(kIncompleteSignature, "IncompleteSignature", 400,
            StatusCode::kUnauthenticated,
            "The request signature does not conform to Aliyun standards.",
            kNone)
    ECS_ERR(kSignatureDoesNotMatch, "SignatureDoesNotMatch", 400,
            StatusCode::kUnauthenticated,
            "Specified signature is not matched with our calculation.", kNone)
    ECS_ERR(kInvalidAccessKeyIdNotFound, "InvalidAccessKeyId.NotFound", 404,
            StatusCode::kUnauthenticated, "Specified access key is not found.",
            kNone)
    ECS_ERR(kInvalidAccessKeyIdInactive, "InvalidAccessKeyId.Inactive", 400,
            StatusCode::kUnauthenticated, "Specified access key is disabled.",
            kNone)
    ECS_ERR(kSignatureNonceUsed, "SignatureNonceUsed", 400,
            StatusCode::kUnauthenticated,
            "Specified signature nonce was used already.", kNone)
    ECS_ERR(kInvalidTimeStampExpired, "InvalidTimeStamp.Expired", 400,
            StatusCode::kUnauthenticated,
            "Specified time stamp or date value is expired.", kNone)
    ECS_ERR(kInvalidTimeStampFormat, "InvalidTimeStamp.Format", 400,
            StatusCode::kUnauthenticated,
            "Specified time stamp or date value is not well formatted.", kNone)
    ECS_ERR(kAccessKeyAuthDisabled, "AccessKeyAuthDisabled", 403,
            StatusCode::kUnauthenticated,
            "This server accepts no AccessKey signatures: it was started "
            "without a secret key file.",
            kNone)
    ECS_ERR(kDryRunOperation, "DryRunOperation", 412,
            StatusCode::kFailedPrecondition,
            "Request validation has been passed with DryRun flag set.", kNone)
#undef ECS_ERR
  }
  return Lookup(Err::kInternalError);
}

}  // namespace

const ErrorSpec& SpecOf(Err err) { return Lookup(err); }

Err FallbackFor(absl::StatusCode code) {
  switch (code) {
    case StatusCode::kUnavailable:
      return Err::kServiceUnavailable;
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kCancelled:
      return Err::kServiceUnavailableDeadline;
    case StatusCode::kUnauthenticated:
      return Err::kInvalidToken;
    default:
      return Err::kInternalError;
  }
}

Error::Error(Err err) : spec_(SpecOf(err)), message_(spec_.message) {
  payload_.set_ecs_code(std::string(spec_.ecs_code));
  payload_.set_http_status(spec_.http_status);
  payload_.set_kind(spec_.kind);
}

Error& Error::Param(std::string_view name, std::string_view why) {
  message_ = absl::StrReplaceAll(AV(spec_.message), {{"%s", AV(name)}});
  Meta("parameter", name);
  auto* v = payload_.add_field_violations();
  v->set_field(std::string(name));
  v->set_description(why.empty() ? message_ : std::string(why));
  return *this;
}

Error& Error::Meta(std::string_view key, std::string_view value) {
  for (auto& e : *payload_.mutable_metadata()) {
    if (e.key() == key) {
      e.set_value(std::string(value));
      return *this;
    }
  }
  auto* e = payload_.add_metadata();
  e->set_key(std::string(key));
  e->set_value(std::string(value));
  return *this;
}

Error& Error::Precondition(std::string_view subject,
                           std::string_view description) {
  auto* v = payload_.add_precondition_violations();
  v->set_type(std::string(spec_.ecs_code));
  v->set_subject(std::string(subject));
  v->set_description(std::string(description));
  return *this;
}

Error& Error::Resource(std::string_view type, std::string_view name) {
  payload_.set_resource_type(std::string(type));
  payload_.set_resource_name(std::string(name));
  payload_.set_resource_description(message_);
  return *this;
}

Error& Error::RetryAfterMs(int64_t delay_ms) {
  payload_.set_retry_delay_ms(delay_ms < 1 ? 1 : delay_ms);
  return *this;
}

absl::Status Error::Build() const {
  absl::Status status(spec_.code, message_);
  // A violation-less kind still gets its detail: a generic entry.
  ecsimage::internal::ErrorPayload payload = payload_;
  if (payload.kind() == Kind::KIND_BAD_REQUEST &&
      payload.field_violations().empty()) {
    auto* v = payload.add_field_violations();
    v->set_description(message_);
  }
  if (payload.kind() == Kind::KIND_PRECONDITION &&
      payload.precondition_violations().empty()) {
    auto* v = payload.add_precondition_violations();
    v->set_type(std::string(spec_.ecs_code));
    v->set_description(message_);
  }
  status.SetPayload(AV(kPayloadUrl), absl::Cord(payload.SerializeAsString()));
  return status;
}

std::optional<ecsimage::internal::ErrorPayload> PayloadOf(
    const absl::Status& status) {
  auto cord = status.GetPayload(AV(kPayloadUrl));
  if (!cord.has_value()) return std::nullopt;
  ecsimage::internal::ErrorPayload payload;
  if (!payload.ParseFromString(std::string(*cord))) return std::nullopt;
  return payload;
}

std::string UpperSnake(std::string_view ecs_code) {
  std::string out;
  for (size_t i = 0; i < ecs_code.size(); ++i) {
    char c = ecs_code[i];
    if (c == '.' || c == '_' || c == '-') {
      if (!out.empty() && out.back() != '_') out.push_back('_');
      continue;
    }
    bool upper = std::isupper(static_cast<unsigned char>(c));
    if (upper && i > 0 && !out.empty() && out.back() != '_') {
      char prev = ecs_code[i - 1];
      bool prev_lower = std::islower(static_cast<unsigned char>(prev)) ||
                        std::isdigit(static_cast<unsigned char>(prev));
      bool next_lower =
          i + 1 < ecs_code.size() &&
          std::islower(static_cast<unsigned char>(ecs_code[i + 1]));
      bool prev_upper = std::isupper(static_cast<unsigned char>(prev));
      if (prev_lower || (prev_upper && next_lower)) out.push_back('_');
    }
    out.push_back(
        static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace ecsimage::domain

// The one error catalog: every ECS error this service returns, keyed by
// (ECS code, situation), with its HTTP status, canonical code and frozen
// message. No other file holds error text. See ../shared/spec/api.md §4.
//
// Errors travel as absl::Status whose message is the ECS message and whose
// payload (kPayloadUrl) is an ecsimage.internal.ErrorPayload;
// service/grpc/status_mapping.cc turns that into google.rpc.Status details.
#ifndef ECSIMAGE_SERVICE_DOMAIN_ERRORS_H_
#define ECSIMAGE_SERVICE_DOMAIN_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "ecsimage/internal/error_payload.pb.h"

namespace ecsimage::domain {

inline constexpr std::string_view kPayloadUrl =
    "type.googleapis.com/ecsimage.internal.ErrorPayload";

// (code, situation). Names: ECS code, then the situation where one code has
// several messages.
enum class Err {
  kMissingParameter,
  kInvalidParameter,
  kIdempotentParameterMismatch,
  kInvalidImageNameMalformed,               // CreateImage, ImportImage, Modify
  kInvalidImageNameMalformedDestination,    // CopyImage
  kInvalidDescriptionMalformed,             // CreateImage, ImportImage, Modify
  kInvalidDescriptionMalformedDestination,  // CopyImage
  kInvalidParameterEncryptedIllegal,
  kDestinationRegionNotFound,
  kInvalidAccountForbbiden,
  kInvalidRegionIdNotFound,
  kInvalidImageIdNotFound,
  kInvalidTaskIdNotFound,
  kInvalidInstanceIdNotFound,
  kInvalidAccountNotFound,
  kImageCreatedNotFromCopy,
  kIncorrectImageStatusCopyFinished,       // REGISTERING
  kIncorrectImageStatusSnapshotNotCoping,  // PREPARING
  kIncorrectImageStatusImageNotCoping,     // CANCELLING
  kIncorrectImageStatusCompletedCopy,      // SUCCEEDED
  kIncorrectImageStatusCopyFailed,         // FAILED
  kIncorrectImageStatusNotAvailable,       // image must be Available
  kIncorrectTaskStatus,
  kCancelNotSupported,
  kInvalidTransition,
  kImageUsingByInstance,
  kImageUseShared,           // DeleteImage
  kImageUseSharedDeprecate,  // ModifyImageAttribute Status=Deprecated
  kOperationDeniedImageCopying,
  kOperationDeniedSameRegionOnly,
  kImageIsImporting,
  kImageIsExporting,
  kImageIsPublic,               // DeleteImage
  kImageIsPublicExport,         // ExportImage, CopyImage of a public image
  kInvalidImageNameDuplicated,  // CreateImage, ImportImage, Modify
  kInvalidImageNameDuplicatedDestination,  // CopyImage
  kQuotaExceedImage,
  // ImportImage / ExportImage input refused at call time by a backend that
  // reads it (the filesystem backend; docs/operations.md). ECS's codes
  // first, then ecsimage's where ECS documents none.
  kInvalidOssBucketNotFound,        // no such bucket (or a bad name)
  kInvalidOssObjectMalformed,       // a key that can name no object
  kInvalidOssObjectNotFound,        // no such object
  kInvalidOssObjectNotRetrieved,    // a symlink, FIFO, device, directory
  kInvalidOssPrefixMalformed,       // ExportImage's OSSPrefix
  kInvalidImageFormatNotSupported,  // ecsimage: VHD/VHDX content
  kInvalidImageFormatBackingFile,   // ecsimage: QCOW2 backing/data file
  kInvalidImageFormatCorrupt,       // ecsimage: empty or broken header
  kInvalidImageFormatMismatch,      // ecsimage: content is not its Format
  kQuotaExceedShareImageUser,
  kThrottling,
  kServiceUnavailable,
  kServiceUnavailableDeadline,  // caller's deadline passed before commit
  kInternalError,
  kInvalidToken,  // missing or unknown bearer token
  // The ECS HTTP gateway (ecs-http.md; service/ecs_http/): the request
  // itself, then its signature, then DryRun. Order in docs/ecs-http.md.
  kInvalidActionNotFound,       // unknown Action
  kInvalidVersion,              // Version other than 2014-05-26
  kUnsupportedHttpMethod,       // not GET or POST
  kRequestTooLarge,             // body, URI or headers over the limits
  kIncompleteSignature,         // Authorization/Signature malformed
  kSignatureDoesNotMatch,       // HMAC differs (wrong secret, tampered)
  kInvalidAccessKeyIdNotFound,  // no such AccessKeyId
  kInvalidAccessKeyIdInactive,  // revoked AccessKeyId
  kSignatureNonceUsed,          // nonce seen within the time window
  kInvalidTimeStampExpired,     // outside +-15 minutes
  kInvalidTimeStampFormat,      // not yyyy-MM-ddTHH:mm:ssZ
  kAccessKeyAuthDisabled,       // serve has no --secret-key-file
  kDryRunOperation,             // DryRun=true and every check passed
};

struct ErrorSpec {
  std::string_view ecs_code;
  int http_status;
  absl::StatusCode code;
  // Frozen message; "%s" (at most one) is replaced by the parameter name.
  std::string_view message;
  ecsimage::internal::ErrorPayload::Kind kind;
};

const ErrorSpec& SpecOf(Err err);

// Builds the absl::Status of one catalog entry with its details:
//   return Error(Err::kImageUsingByInstance)
//       .Meta("imageId", id).Precondition("instance/i-...", "...");
class Error {
 public:
  explicit Error(Err err);

  // Parameter name for MissingParameter/InvalidParameter-like entries: fills
  // the message's "%s", adds a BadRequest field violation and metadata
  // "parameter".
  Error& Param(std::string_view name, std::string_view why = "");
  Error& Meta(std::string_view key, std::string_view value);
  // A PreconditionFailure violation of type = the ECS code.
  Error& Precondition(std::string_view subject, std::string_view description);
  Error& Resource(std::string_view type, std::string_view name);
  // Adds RetryInfo: the blocking state ends by itself in about this long.
  Error& RetryAfterMs(int64_t delay_ms);

  absl::Status Build() const;
  operator absl::Status() const { return Build(); }  // NOLINT

 private:
  const ErrorSpec& spec_;
  std::string message_;
  ecsimage::internal::ErrorPayload payload_;
};

// The catalog entry standing in for a status that carries no payload (its
// text is never shown to a client): kUnavailable -> ServiceUnavailable,
// kDeadlineExceeded/kCancelled -> ServiceUnavailable (deadline),
// kUnauthenticated -> InvalidToken, anything else -> InternalError.
Err FallbackFor(absl::StatusCode code);

// The payload of an error built by Error, if any.
std::optional<ecsimage::internal::ErrorPayload> PayloadOf(
    const absl::Status& status);

// "InvalidImageId.NotFound" -> "INVALID_IMAGE_ID_NOT_FOUND" (AIP-193).
std::string UpperSnake(std::string_view ecs_code);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_ERRORS_H_

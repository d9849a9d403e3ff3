// THE one place an absl::Status becomes a grpc::Status (api.md §4).
//
// An error built from the catalog (service/domain/errors.h) keeps its code
// and ECS message; grpc-status-details-bin carries a google.rpc.Status with,
// in this order: ErrorInfo (always), RequestInfo (always), then BadRequest,
// ResourceInfo or PreconditionFailure by the payload's kind, and RetryInfo
// when the payload asks for a retry delay.
//
// A status without a catalog payload never shows its text to the client:
//   kUnavailable                     -> ServiceUnavailable
//   kDeadlineExceeded, kCancelled    -> ServiceUnavailable (deadline)
//   kUnauthenticated                 -> InvalidToken
//   anything else                    -> InternalError
// and its original text is logged (JSON, with the RequestId) instead.
#ifndef ECSIMAGE_SERVICE_GRPC_STATUS_MAPPING_H_
#define ECSIMAGE_SERVICE_GRPC_STATUS_MAPPING_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ecsimage::grpcapi {

// google.rpc.ErrorInfo.domain of every error of this service.
inline constexpr std::string_view kErrorDomain = "ecsimage.ecs.image.v1";

struct MappedStatus {
  grpc::Status status;
  // The ECS code sent to the client ("" on success).
  std::string ecs_code;
};

// `method` only labels the log line of an unexpected error.
MappedStatus ToGrpcStatus(const absl::Status& status,
                          std::string_view request_id,
                          std::string_view method = "");

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_STATUS_MAPPING_H_

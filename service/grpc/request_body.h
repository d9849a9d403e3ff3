// Request and response bodies of the raw-bytes methods (raw_service.h): the
// request is parsed here, after authentication, so that a body that is not
// a valid protobuf message answers the ECS bad-parameter error instead of
// gRPC's own bare refusal (api.md §4).
#ifndef ECSIMAGE_SERVICE_GRPC_REQUEST_BODY_H_
#define ECSIMAGE_SERVICE_GRPC_REQUEST_BODY_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include <string_view>

#include "absl/status/status.h"

namespace ecsimage::grpcapi {

// The parameter name of a malformed body in InvalidParameter's message and
// BadRequest field violation.
inline constexpr std::string_view kBodyParameter = "body";

// Parses `body` into `message` (cleared first). A truncated message, an
// invalid wire type or tag, a string field that is not valid UTF-8, or
// bytes after the end of the message: InvalidParameter on "body".
absl::Status ParseBody(const grpc::ByteBuffer& body,
                       google::protobuf::Message* message);

// Serializes `message` as the response body; InternalError-bound status
// (no catalog payload, so its text is only logged) when it cannot.
absl::Status SerializeBody(const google::protobuf::Message& message,
                           grpc::ByteBuffer* out);

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_REQUEST_BODY_H_

// ECS's flattened parameters onto a proto request message, by reflection
// over the fields' json_name (the ECS parameter names, api.md §1):
//   scalar            Name=value        (bool: true|false; ints: decimal)
//   repeated scalar   Name.1=a&Name.2=b (AddAccount.N)
//   repeated message  Name.N.Field=v    (DiskDeviceMapping.N.Size, Tag.N.Key)
// Indexes run 1..100 without gaps. Every parameter must be consumed: one
// the message does not have is refused with InvalidParameter naming it
// (a filter ecsimage does not model must never be silently ignored), unless
// the caller listed it as ignorable.
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_FLATTEN_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_FLATTEN_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace ecsimage::ecs_http {

using ParamMap = std::map<std::string, std::string>;

// A parameter name as it may appear in an error: printable ASCII only
// (anything else becomes '?'), at most 64 characters.
std::string SafeName(std::string_view name);
// Whether `s` is well-formed UTF-8 (string values must be, as over gRPC).
bool IsUtf8(std::string_view s);

// Fills `out` from `params`; InvalidParameter (catalog) on a malformed
// name, index or value, or on a parameter the message does not have.
absl::Status FillRequest(const ParamMap& params,
                         google::protobuf::Message* out);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_FLATTEN_H_

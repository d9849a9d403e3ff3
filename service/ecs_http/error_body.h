// THE one place in service/ecs_http where an absl::Status becomes an HTTP
// error answer (ecs-http.md §3): the catalog's HTTP status and
//   {"RequestId","HostId","Code","Message","Recommend"}
// (XML: <Error>…</Error>, text/xml;charset=utf-8). A status without a
// catalog payload never shows its text: it becomes ServiceUnavailable,
// InternalError, … exactly as over gRPC (service/grpc/status_mapping.h).
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_ERROR_BODY_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_ERROR_BODY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ecsimage::ecs_http {

struct HttpAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string ecs_code;  // "" on success
};

inline constexpr char kJsonType[] = "application/json;charset=utf-8";
inline constexpr char kXmlType[] = "text/xml;charset=utf-8";

HttpAnswer ErrorAnswer(const absl::Status& status, std::string_view request_id,
                       std::string_view host, bool xml);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_ERROR_BODY_H_

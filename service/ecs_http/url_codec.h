// Percent-encoding as Alibaba Cloud's signers do it (RFC 3986 unreserved
// characters stay, everything else %XX upper case, space as %20), and
// decoding of query strings and x-www-form-urlencoded bodies.
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_URL_CODEC_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_URL_CODEC_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ecsimage::ecs_http {

using ParamList = std::vector<std::pair<std::string, std::string>>;

std::string PercentEncode(std::string_view s);

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}; '+' is a space (both query and
// form bodies, as browsers and the SDKs' form encoders write it). A bad
// escape (%G1, a trailing %) is kInvalidArgument naming the parameter.
absl::StatusOr<ParamList> DecodeParams(std::string_view text);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_URL_CODEC_H_

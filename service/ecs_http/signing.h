// The two request-signing schemes of Alibaba Cloud's OpenAPI, as pure
// functions (the verifier in signature_verifier.h uses them; the unit tests
// check them against vectors computed independently with Python's hmac):
//   V3  ACS3-HMAC-SHA256 (@alicloud/ecs20140526 v7 via openapi-core):
//       CanonicalRequest = METHOD \n PATH \n CanonicalQuery \n
//                          CanonicalHeaders \n SignedHeaders \n
//                          hex(SHA-256(body))
//       StringToSign = "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))
//       Signature = hex(HMAC-SHA256(secret, StringToSign))
//   RPC HMAC-SHA1 v1.0 (@alicloud/pop-core, aliyun CLI, Terraform):
//       StringToSign = METHOD & enc("/") & enc(sorted enc(k)=enc(v) joined
//                      by &), without Signature
//       Signature = base64(HMAC-SHA1(secret + "&", StringToSign))
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_SIGNING_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_SIGNING_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "service/ecs_http/url_codec.h"

namespace ecsimage::ecs_http {

// Request headers by lower-case name (several values per name possible).
using HeaderMap = std::multimap<std::string, std::string>;

std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);
std::string HmacSha1Base64(std::string_view key, std::string_view data);

// Keys sorted, "key=" + PercentEncode(value), joined by '&'. Keys are not
// encoded (openapi-core does not encode them either).
std::string CanonicalQueryV3(const ParamList& query);
// `signed_headers`: lower-case names, sorted; each becomes
// "name:" + its trimmed values sorted and joined by ',' + "\n".
std::string CanonicalRequestV3(std::string_view method, std::string_view path,
                               const ParamList& query, const HeaderMap& headers,
                               const std::vector<std::string>& signed_headers,
                               std::string_view payload_sha256_hex);
std::string StringToSignV3(std::string_view canonical_request);
std::string SignV3(std::string_view secret, std::string_view string_to_sign);

// `params`: every parameter but Signature.
std::string StringToSignRpc(std::string_view method, const ParamList& params);
std::string SignRpc(std::string_view secret, std::string_view string_to_sign);

// Equal in time independent of where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_SIGNING_H_

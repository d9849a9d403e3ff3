// Authenticates one ECS HTTP request (ecs-http.md §2): the scheme by the
// `Authorization: ACS3-HMAC-SHA256` prefix, otherwise by a `Signature`
// parameter (RPC HMAC-SHA1 v1.0). First failure wins, in this order:
//   no Authorization and no Signature        -> IncompleteSignature
//   malformed Authorization / missing signed
//   x-acs-* header, missing RPC parameter     -> IncompleteSignature /
//                                               MissingParameter
//   SignatureMethod/SignatureVersion other    -> InvalidParameter
//   timestamp not yyyy-MM-ddTHH:mm:ssZ        -> InvalidTimeStamp.Format
//   timestamp outside +-window                -> InvalidTimeStamp.Expired
//   x-acs-content-sha256 != SHA-256(body)     -> SignatureDoesNotMatch
//   unknown / revoked AccessKeyId             -> InvalidAccessKeyId.NotFound
//                                               / .Inactive
//   HMAC differs (constant-time compare)      -> SignatureDoesNotMatch
//   nonce seen within the window              -> SignatureNonceUsed
// No write, no image data read; the secret never leaves this call.
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_SIGNATURE_VERIFIER_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_SIGNATURE_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "service/domain/access_keys.h"
#include "service/domain/clock.h"
#include "service/ecs_http/nonce_cache.h"
#include "service/ecs_http/signing.h"

namespace ecsimage::ecs_http {

struct SignedRequest {
  std::string method;  // "GET" or "POST"
  std::string path;    // "/"
  ParamList query;     // decoded, in arrival order
  ParamList form;      // decoded x-www-form-urlencoded body
  std::string body;    // raw
  HeaderMap headers;   // lower-case names
};

class SignatureVerifier {
 public:
  using Resolver = std::function<absl::StatusOr<domain::AccessKeys::Resolved>(
      const std::string& access_key_id)>;
  static constexpr int64_t kWindowMs = 15 * 60 * 1000;

  SignatureVerifier(Resolver resolve, domain::Clock& clock, NonceCache& nonces)
      : resolve_(std::move(resolve)), clock_(clock), nonces_(nonces) {}

  // The account of a correctly signed, fresh, unreplayed request.
  absl::StatusOr<std::string> Verify(const SignedRequest& req) const;

 private:
  absl::StatusOr<std::string> VerifyV3(const SignedRequest& req,
                                       const std::string& authorization) const;
  absl::StatusOr<std::string> VerifyRpc(const SignedRequest& req) const;
  absl::Status CheckTimestamp(const std::string& value) const;
  absl::Status ClaimNonce(const std::string& access_key_id,
                          const std::string& nonce) const;

  Resolver resolve_;
  domain::Clock& clock_;
  NonceCache& nonces_;
};

// "2024-01-02T03:04:05Z" -> Unix ms; false if not exactly that shape.
bool ParseAcsTimestamp(const std::string& text, int64_t* unix_ms);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_SIGNATURE_VERIFIER_H_

// One ECS HTTP request from parsed bytes to answer, independent of the HTTP
// library (ecs_http_server.h feeds it). First match wins:
//   1. method not GET/POST              -> UnsupportedHTTPMethod (405)
//   2. path not "/"                     -> InvalidAction.NotFound (404)
//   3. a parameter given twice, or a
//      bad %-escape                     -> InvalidParameter
//   4. Action missing / unknown, or the
//      Action parameter and x-acs-action
//      header disagree                  -> MissingParameter /
//                                          InvalidAction.NotFound /
//                                          InvalidParameter
//   5. Version missing / other / the two
//      disagree                         -> MissingParameter / InvalidVersion /
//                                          InvalidParameter
//   6. signature (signature_verifier.h), or a bearer token (InvalidToken)
//   7. per-account throttling           -> Throttling
//   8. DryRun not true/false            -> InvalidParameter
//   9. the action's parameters (flatten.h), DryRun -> DryRunOperation
//  10. the domain, as over gRPC
// Oversized requests never get here (the server answers RequestTooLarge).
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_GATEWAY_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_GATEWAY_H_

#include <map>
#include <string>

#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/ecs_http/actions.h"
#include "service/ecs_http/error_body.h"
#include "service/ecs_http/signature_verifier.h"
#include "service/grpc/rate_limiter.h"

namespace ecsimage::ecs_http {

inline constexpr char kApiVersion[] = "2014-05-26";

struct GatewayDeps {
  domain::ImageDomain& domain;
  domain::IdGenerator& ids;
  const SignatureVerifier& verifier;
  grpcapi::AccountRateLimiter* rate_limiter = nullptr;  // shared with gRPC
  bool simulation = false;  // AdvanceTask/FailTask (--simulation-control)
  bool log_calls = true;
  // `Authorization: Bearer <token>` (the gRPC token) instead of a
  // signature; null: bearer tokens are not accepted.
  domain::Authenticator* bearer = nullptr;
};

class Gateway {
 public:
  explicit Gateway(GatewayDeps deps)
      : deps_(deps), actions_(EcsActions(deps.simulation)) {}

  struct Answer {
    HttpAnswer http;
    std::string request_id;
  };
  // `host`: the Host header (HostId of errors).
  Answer Handle(const SignedRequest& req, const std::string& host) const;

  // An answer for a request the HTTP layer refused before parsing (too
  // large, malformed): the same error shape.
  Answer Refuse(const absl::Status& status, const std::string& host,
                bool xml) const;

 private:
  absl::StatusOr<std::string> Authenticate(const SignedRequest& req) const;
  absl::Status Run(const SignedRequest& req, const std::string& request_id,
                   std::string* account, std::string* action,
                   std::unique_ptr<google::protobuf::Message>* response) const;

  GatewayDeps deps_;
  std::map<std::string, ActionFn> actions_;
};

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_GATEWAY_H_

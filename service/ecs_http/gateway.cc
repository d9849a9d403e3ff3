#include "service/ecs_http/gateway.h"

#include <chrono>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/ecs_http/render.h"
#include "service/grpc/json_log.h"
#include "util/absl_compat.h"
#include "util/status_macros.h"

namespace ecsimage::ecs_http {
namespace {

using domain::Err;
using domain::Error;

// Common parameters of ECS's RPC protocol: consumed by the gateway, never
// passed to an action. The ones that cannot change a result (ownership
// hints of RAM sub-accounts) are accepted and ignored.
const std::set<std::string>& CommonParams() {
  static const auto* s =
      new std::set<std::string>{"Action",           "Version",
                                "Format",           "AccessKeyId",
                                "Signature",        "SignatureMethod",
                                "SignatureVersion", "SignatureNonce",
                                "SignatureType",    "Timestamp",
                                "DryRun",           "OwnerId",
                                "OwnerAccount",     "ResourceOwnerAccount",
                                "ResourceOwnerId"};
  return *s;
}

bool WantsXml(const SignedRequest& req) {
  for (const ParamList* list : {&req.query, &req.form}) {
    for (const auto& [k, v] : *list) {
      if (k == "Format") return absl::AsciiStrToUpper(AV(v)) == "XML";
    }
  }
  return false;
}

const std::string* HeaderValue(const HeaderMap& headers,
                               const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

// The Action or Version of a request: the parameter, the x-acs-* header,
// or both when they agree.
absl::StatusOr<std::string> Named(const ParamMap& params,
                                  const HeaderMap& headers,
                                  const std::string& param,
                                  const std::string& header) {
  auto it = params.find(param);
  const std::string* h = HeaderValue(headers, header);
  if (it != params.end() && h != nullptr && it->second != *h) {
    return Error(Err::kInvalidParameter).Param(param);
  }
  if (it != params.end() && !it->second.empty()) return it->second;
  if (h != nullptr && !h->empty()) return *h;
  return Error(Err::kMissingParameter).Param(param);
}

// The Host header as HostId: printable ASCII, at most 255 characters.
std::string SafeHost(const std::string& host) {
  std::string out;
  for (char c : std::string_view(host).substr(0, 255)) {
    out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
  return out;
}

}  // namespace

absl::Status Gateway::Run(
    const SignedRequest& req, const std::string& request_id,
    std::string* account, std::string* action_name,
    std::unique_ptr<google::protobuf::Message>* response) const {
  if (req.method != "GET" && req.method != "POST") {
    return Error(Err::kUnsupportedHttpMethod);
  }
  if (req.path != "/") return Error(Err::kInvalidActionNotFound);
  ParamMap params;
  for (const ParamList* list : {&req.query, &req.form}) {
    for (const auto& [k, v] : *list) {
      if (!params.emplace(k, v).second) {
        return Error(Err::kInvalidParameter).Param(SafeName(k));
      }
    }
  }
  ASSIGN_OR_RETURN(*action_name,
                   Named(params, req.headers, "Action", "x-acs-action"));
  auto action = actions_.find(*action_name);
  if (action == actions_.end()) return Error(Err::kInvalidActionNotFound);
  ASSIGN_OR_RETURN(std::string version,
                   Named(params, req.headers, "Version", "x-acs-version"));
  if (version != kApiVersion) return Error(Err::kInvalidVersion);

  ASSIGN_OR_RETURN(*account, Authenticate(req));
  if (deps_.rate_limiter != nullptr && !deps_.rate_limiter->Allow(*account)) {
    return Error(Err::kThrottling);
  }

  ParamMap own;
  bool dry_run = false;
  for (auto& [k, v] : params) {
    if (k == "DryRun") {
      if (v != "true" && v != "false") {
        return Error(Err::kInvalidParameter).Param("DryRun");
      }
      dry_run = v == "true";
    } else if (CommonParams().count(k) == 0 &&
               (k != "RegionId" || HasRegionId(*action_name))) {
      own.emplace(k, v);
    }
  }
  domain::Caller caller;
  caller.account_id = *account;
  return action->second(deps_.domain, caller,
                        ActionCall{own, dry_run, request_id}, response);
}

absl::StatusOr<std::string> Gateway::Authenticate(
    const SignedRequest& req) const {
  const std::string* auth = HeaderValue(req.headers, "authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (deps_.bearer != nullptr && auth != nullptr &&
      auth->size() > kBearer.size() &&
      absl::EqualsIgnoreCase(AV(std::string_view(*auth).substr(0, 7)),
                             AV(kBearer))) {
    std::string token(absl::StripAsciiWhitespace(AV(auth->substr(7))));
    return deps_.bearer->Authenticate(token);
  }
  return deps_.verifier.Verify(req);
}

Gateway::Answer Gateway::Handle(const SignedRequest& req,
                                const std::string& host) const {
  const auto start = std::chrono::steady_clock::now();
  Answer answer;
  answer.request_id = deps_.ids.NewRequestId();
  const bool xml = WantsXml(req);
  std::string account, action;
  std::unique_ptr<google::protobuf::Message> response;
  absl::Status status =
      Run(req, answer.request_id, &account, &action, &response);
  if (status.ok()) {
    answer.http.status = 200;
    if (xml) {
      answer.http.content_type = kXmlType;
      answer.http.body = RenderXml(*response, absl::StrCat(action, "Response"));
    } else {
      answer.http.content_type = kJsonType;
      answer.http.body = RenderJson(*response);
    }
  } else {
    answer.http = ErrorAnswer(status, answer.request_id, SafeHost(host), xml);
  }
  if (deps_.log_calls) {
    grpcapi::JsonLine line;
    line.Str("level", "info")
        .Str("listener", "ecs-http")
        .Str("action", SafeName(action))
        .Str("account", account)
        .Str("requestId", answer.request_id)
        .Int("httpStatus", answer.http.status)
        .Str("ecsCode", answer.http.ecs_code)
        .Num("latencyMs", std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count());
    // A status without a catalog entry: its text goes to the log only.
    if (!status.ok() && !domain::PayloadOf(status).has_value()) {
      line.Str("cause",
               status.ToString(absl::StatusToStringMode::kWithNoExtraData));
    }
    line.Emit();
  }
  return answer;
}

Gateway::Answer Gateway::Refuse(const absl::Status& status,
                                const std::string& host, bool xml) const {
  Answer answer;
  answer.request_id = deps_.ids.NewRequestId();
  answer.http = ErrorAnswer(status, answer.request_id, SafeHost(host), xml);
  if (deps_.log_calls) {
    grpcapi::JsonLine()
        .Str("level", "info")
        .Str("listener", "ecs-http")
        .Str("requestId", answer.request_id)
        .Int("httpStatus", answer.http.status)
        .Str("ecsCode", answer.http.ecs_code)
        .Emit();
  }
  return answer;
}

}  // namespace ecsimage::ecs_http

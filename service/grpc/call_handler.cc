#include "service/grpc/call_handler.h"

#include <cctype>
#include <iterator>
#include <string>

#include "service/domain/errors.h"
#include "service/grpc/json_log.h"
#include "service/grpc/status_mapping.h"

namespace ecsimage::grpcapi {
namespace {

// Longer tokens are garbage; spares hashing megabytes of header.
constexpr size_t kMaxTokenBytes = 512;

}  // namespace

std::string BearerToken(const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto [begin, end] = md.equal_range("authorization");
  if (begin == end || std::next(begin) != end) return "";
  std::string_view value(begin->second.data(), begin->second.size());
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return "";
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) {
      return "";
    }
  }
  std::string_view token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > kMaxTokenBytes) return "";
  for (char c : token) {
    if (c <= ' ' || c > '~') return "";
  }
  return std::string(token);
}

CallHandler::~CallHandler() {
  std::unique_lock<std::mutex> lock(async_mu_);
  async_cv_.wait(lock, [this] { return async_pending_ == 0; });
}

void CallHandler::AsyncStarted() {
  std::lock_guard<std::mutex> lock(async_mu_);
  ++async_pending_;
}

void CallHandler::AsyncAnswered() {
  std::lock_guard<std::mutex> lock(async_mu_);
  if (--async_pending_ == 0) async_cv_.notify_all();
}

bool CallHandler::Abandoned(grpc::ServerContextBase* context) {
  return context->IsCancelled() ||
         context->deadline() <= std::chrono::system_clock::now();
}

CallHandler::Call CallHandler::Begin(grpc::ServerContextBase* context) {
  Call call;
  call.start = std::chrono::steady_clock::now();
  call.request_id = deps_.ids.NewRequestId();
  return call;
}

absl::Status CallHandler::Busy() {
  return domain::Error(domain::Err::kThrottling)
      .Meta("reason", "serverBusy")
      .RetryAfterMs(100);
}

absl::Status CallHandler::Admit(grpc::ServerContextBase* context,
                                const InFlight& slot,
                                const grpc::ByteBuffer& body,
                                google::protobuf::Message* request,
                                Call* call) {
  if (deps_.max_in_flight > 0 && slot.count > deps_.max_in_flight) {
    return Busy();
  }
  std::string token = BearerToken(*context);
  if (token.empty()) return domain::Error(domain::Err::kInvalidToken);
  absl::StatusOr<std::string> account = deps_.authenticator.Authenticate(token);
  if (!account.ok()) return account.status();
  call->account_id = *std::move(account);
  if (deps_.rate_limiter != nullptr &&
      !deps_.rate_limiter->Allow(call->account_id)) {
    return domain::Error(domain::Err::kThrottling);
  }
  return ParseBody(body, request);
}

domain::Caller CallHandler::CallerOf(grpc::ServerContextBase* context,
                                     const Call& call) {
  domain::Caller caller;
  caller.account_id = call.account_id;
  caller.abandoned = [context] { return Abandoned(context); };
  return caller;
}

grpc::Status CallHandler::Finish(grpc::ServerContextBase* context,
                                 std::string_view method, const Call& call,
                                 const absl::Status& status) {
  MappedStatus mapped = ToGrpcStatus(status, call.request_id, method);
  context->AddTrailingMetadata(kRequestIdTrailer, call.request_id);
  const double latency_s = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - call.start)
                               .count();
  if (deps_.log_calls) {
    JsonLine()
        .Str("level", "info")
        .Str("method", method)
        .Str("account", call.account_id)
        .Str("requestId", call.request_id)
        .Int("grpcCode", static_cast<int>(mapped.status.error_code()))
        .Str("ecsCode", mapped.ecs_code)
        .Num("latencyMs", latency_s * 1000.0)
        .Emit();
  }
  if (deps_.observer != nullptr) {
    deps_.observer->OnCallDone(method, mapped.status.error_code(),
                               mapped.ecs_code, latency_s);
  }
  return std::move(mapped.status);
}

}  // namespace ecsimage::grpcapi

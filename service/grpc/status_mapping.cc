#include "service/grpc/status_mapping.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "service/domain/errors.h"
#include "service/grpc/json_log.h"

namespace ecsimage::grpcapi {
namespace {

using domain::Err;
using ecsimage::internal::ErrorPayload;

void LogUnmapped(const absl::Status& status, std::string_view request_id,
                 std::string_view method, std::string_view sent_code) {
  JsonLine()
      .Str("level", "error")
      .Str("msg", "error without catalog entry")
      .Str("method", method)
      .Str("requestId", request_id)
      .Str("sentEcsCode", sent_code)
      .Str("cause", status.ToString(absl::StatusToStringMode::kWithNoExtraData))
      .Emit();
}

google::rpc::ErrorInfo MakeErrorInfo(const ErrorPayload& payload,
                                     std::string_view request_id) {
  google::rpc::ErrorInfo info;
  info.set_reason(domain::UpperSnake(payload.ecs_code()));
  info.set_domain(std::string(kErrorDomain));
  auto& meta = *info.mutable_metadata();
  for (const ErrorPayload::Entry& e : payload.metadata()) {
    meta[e.key()] = e.value();
  }
  // The fixed keys win over a payload entry of the same name.
  meta["code"] = payload.ecs_code();
  meta["httpStatus"] = absl::StrCat(payload.http_status());
  meta["requestId"] = std::string(request_id);
  return info;
}

void AddKindDetail(const ErrorPayload& payload, google::rpc::Status* out) {
  switch (payload.kind()) {
    case ErrorPayload::KIND_BAD_REQUEST: {
      google::rpc::BadRequest bad;
      for (const ErrorPayload::FieldViolation& v : payload.field_violations()) {
        google::rpc::BadRequest::FieldViolation* fv =
            bad.add_field_violations();
        fv->set_field(v.field());
        fv->set_description(v.description());
      }
      out->add_details()->PackFrom(bad);
      break;
    }
    case ErrorPayload::KIND_RESOURCE_INFO: {
      google::rpc::ResourceInfo info;
      info.set_resource_type(payload.resource_type());
      info.set_resource_name(payload.resource_name());
      info.set_owner(payload.resource_owner());
      info.set_description(payload.resource_description());
      out->add_details()->PackFrom(info);
      break;
    }
    case ErrorPayload::KIND_PRECONDITION: {
      google::rpc::PreconditionFailure failure;
      for (const ErrorPayload::PreconditionViolation& v :
           payload.precondition_violations()) {
        google::rpc::PreconditionFailure::Violation* pv =
            failure.add_violations();
        pv->set_type(v.type());
        pv->set_subject(v.subject());
        pv->set_description(v.description());
      }
      out->add_details()->PackFrom(failure);
      break;
    }
    default:
      break;
  }
}

grpc::Status Render(absl::StatusCode code, std::string_view message,
                    const ErrorPayload& payload, std::string_view request_id) {
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(std::string(message));
  rpc_status.add_details()->PackFrom(MakeErrorInfo(payload, request_id));

  google::rpc::RequestInfo request_info;
  request_info.set_request_id(std::string(request_id));
  rpc_status.add_details()->PackFrom(request_info);

  AddKindDetail(payload, &rpc_status);

  if (payload.retry_delay_ms() > 0) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(payload.retry_delay_ms() / 1000);
    retry.mutable_retry_delay()->set_nanos(
        static_cast<int32_t>(payload.retry_delay_ms() % 1000) * 1000000);
    rpc_status.add_details()->PackFrom(retry);
  }

  std::string details;
  rpc_status.SerializeToString(&details);
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::string(message),
                      std::move(details));
}

}  // namespace

MappedStatus ToGrpcStatus(const absl::Status& status,
                          std::string_view request_id,
                          std::string_view method) {
  if (status.ok()) return {grpc::Status::OK, ""};

  std::optional<ErrorPayload> payload = domain::PayloadOf(status);
  if (payload.has_value() && !payload->ecs_code().empty()) {
    return {Render(status.code(), std::string(status.message()), *payload,
                   request_id),
            payload->ecs_code()};
  }

  absl::Status fallback =
      domain::Error(domain::FallbackFor(status.code())).Build();
  std::optional<ErrorPayload> fallback_payload = domain::PayloadOf(fallback);
  ErrorPayload p = fallback_payload.value_or(ErrorPayload());
  LogUnmapped(status, request_id, method, p.ecs_code());
  return {
      Render(fallback.code(), std::string(fallback.message()), p, request_id),
      p.ecs_code()};
}

}  // namespace ecsimage::grpcapi

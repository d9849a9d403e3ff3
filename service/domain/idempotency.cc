#include "service/domain/idempotency.h"

#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/reflection.h"
#include "service/domain/errors.h"
#include "util/status_macros.h"

namespace ecsimage::domain {

std::string Fingerprint(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  const auto* field = copy->GetDescriptor()->FindFieldByName("client_token");
  if (field != nullptr) copy->GetReflection()->ClearField(copy.get(), field);
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    copy->SerializeToCodedStream(&coded);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> RecallClientToken(
    storage::ReadTxn& txn, const std::string& account_id,
    const std::string& rpc, const std::string& token,
    const std::string& fingerprint, int64_t now_ms, int64_t ttl_ms) {
  if (token.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(auto row, txn.GetClientToken(account_id, rpc, token));
  if (!row.has_value() || row->created_at_ms + ttl_ms < now_ms) {
    return std::nullopt;
  }
  if (row->params_fingerprint != fingerprint) {
    return Error(Err::kIdempotentParameterMismatch)
        .Param("ClientToken",
               "the same client token was used with other parameters");
  }
  return row->response;
}

absl::StatusOr<bool> RecallInto(storage::ReadTxn& txn,
                                const std::string& account_id,
                                const std::string& rpc,
                                const std::string& token,
                                const std::string& fingerprint, int64_t now_ms,
                                int64_t ttl_ms,
                                google::protobuf::Message* response) {
  ASSIGN_OR_RETURN(auto stored, RecallClientToken(txn, account_id, rpc, token,
                                                  fingerprint, now_ms, ttl_ms));
  if (!stored.has_value()) return false;
  if (!response->ParseFromString(*stored)) {
    return absl::InternalError("stored client token response is corrupt");
  }
  return true;
}

absl::Status RememberClientToken(storage::WriteTxn& txn,
                                 const std::string& account_id,
                                 const std::string& rpc,
                                 const std::string& token,
                                 const std::string& fingerprint,
                                 const google::protobuf::Message& response,
                                 int64_t now_ms) {
  if (token.empty()) return absl::OkStatus();
  storage::ClientTokenRow row;
  row.params_fingerprint = fingerprint;
  row.response = response.SerializeAsString();
  row.created_at_ms = now_ms;
  return txn.PutClientToken(account_id, rpc, token, row);
}

}  // namespace ecsimage::domain

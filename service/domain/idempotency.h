// ClientToken idempotency (api.md §5): the same account + RPC + token with
// the same parameters returns the first response's ids; different
// parameters give IdempotentParameterMismatch. Only successes are stored,
// inside the same write transaction as the change they describe.
#ifndef ECSIMAGE_SERVICE_DOMAIN_IDEMPOTENCY_H_
#define ECSIMAGE_SERVICE_DOMAIN_IDEMPOTENCY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

// Fingerprint of a request: its deterministic serialization with
// client_token cleared (so the token itself does not count).
std::string Fingerprint(const google::protobuf::Message& request);

// Within a write transaction. Empty token: always nullopt.
// Same token, same fingerprint: the stored response (serialized bytes of the
// RPC's response message). Same token, other fingerprint:
// IdempotentParameterMismatch. Token older than `ttl_ms`: treated as absent.
absl::StatusOr<std::optional<std::string>> RecallClientToken(
    storage::ReadTxn& txn, const std::string& account_id,
    const std::string& rpc, const std::string& token,
    const std::string& fingerprint, int64_t now_ms, int64_t ttl_ms);

// RecallClientToken that parses a hit into `response`; true on a hit.
absl::StatusOr<bool> RecallInto(storage::ReadTxn& txn,
                                const std::string& account_id,
                                const std::string& rpc,
                                const std::string& token,
                                const std::string& fingerprint, int64_t now_ms,
                                int64_t ttl_ms,
                                google::protobuf::Message* response);

// Stores the response for the token (no-op for an empty token).
absl::Status RememberClientToken(storage::WriteTxn& txn,
                                 const std::string& account_id,
                                 const std::string& rpc,
                                 const std::string& token,
                                 const std::string& fingerprint,
                                 const google::protobuf::Message& response,
                                 int64_t now_ms);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_IDEMPOTENCY_H_

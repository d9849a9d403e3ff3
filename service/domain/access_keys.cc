#include "service/domain/access_keys.h"

#include <openssl/rand.h>

#include "service/domain/errors.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// `n` characters of kAlphabet from the CSPRNG (rejection sampling: 62 does
// not divide 256).
absl::StatusOr<std::string> RandomText(size_t n) {
  std::string out;
  while (out.size() < n) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof(buf)) != 1) {
      return absl::InternalError("no randomness");
    }
    for (unsigned char b : buf) {
      if (b < 248 && out.size() < n) out.push_back(kAlphabet[b % 62]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<AccessKeys::Created> AccessKeys::Create(
    const std::string& account_id) {
  if (current_ == nullptr) return Error(Err::kAccessKeyAuthDisabled);
  Created created;
  created.account_id = account_id;
  ASSIGN_OR_RETURN(std::string id_tail, RandomText(20));
  created.access_key_id = "LTAI" + id_tail;
  ASSIGN_OR_RETURN(created.access_key_secret, RandomText(30));
  storage::AccessKeyRow row;
  row.access_key_id = created.access_key_id;
  row.account_id = account_id;
  ASSIGN_OR_RETURN(row.secret_sealed, current_->Seal(created.access_key_secret,
                                                     row.access_key_id));
  row.key_id = current_->key_id();
  row.created_at_ms = clock_.NowMs();
  ASSIGN_OR_RETURN(bool added, store_.AddAccessKey(row));
  if (!added) return Error(Err::kInvalidParameter).Param("account");
  return created;
}

absl::StatusOr<std::vector<AccessKeys::Info>> AccessKeys::List(
    const std::string& account_id) {
  ASSIGN_OR_RETURN(auto rows, store_.ListAccessKeys(account_id));
  if (!rows.has_value()) return Error(Err::kInvalidParameter).Param("account");
  std::vector<Info> out;
  for (const storage::AccessKeyRow& r : *rows) {
    out.push_back({r.access_key_id, r.created_at_ms, r.revoked_at_ms});
  }
  return out;
}

absl::Status AccessKeys::Revoke(const std::string& account_id,
                                const std::string& access_key_id) {
  ASSIGN_OR_RETURN(
      bool revoked,
      store_.RevokeAccessKey(account_id, access_key_id, clock_.NowMs()));
  if (!revoked) return Error(Err::kInvalidParameter).Param("access-key-id");
  return absl::OkStatus();
}

absl::StatusOr<AccessKeys::Resolved> AccessKeys::Resolve(
    const std::string& access_key_id) {
  if (current_ == nullptr) return Error(Err::kAccessKeyAuthDisabled);
  if (access_key_id.empty() || access_key_id.size() > 128) {
    return Error(Err::kInvalidAccessKeyIdNotFound);
  }
  ASSIGN_OR_RETURN(auto row, store_.GetAccessKey(access_key_id));
  if (!row.has_value()) return Error(Err::kInvalidAccessKeyIdNotFound);
  if (row->revoked_at_ms != 0) return Error(Err::kInvalidAccessKeyIdInactive);
  const SecretBox* box = current_;
  if (row->key_id != current_->key_id()) {
    box = (previous_ != nullptr && row->key_id == previous_->key_id())
              ? previous_
              : nullptr;
  }
  // A key sealed under a key file this server does not have cannot be
  // checked: to the caller it is as good as unknown (the cause is logged by
  // the caller of Resolve with the RequestId, never the secret).
  if (box == nullptr) {
    return Error(Err::kInvalidAccessKeyIdNotFound)
        .Meta("cause", "sealed under another secret key file");
  }
  absl::StatusOr<std::string> secret =
      box->Open(row->secret_sealed, row->access_key_id);
  if (!secret.ok()) {
    return Error(Err::kInvalidAccessKeyIdNotFound)
        .Meta("cause", "sealed secret does not open");
  }
  return Resolved{row->account_id, *std::move(secret)};
}

}  // namespace ecsimage::domain

// AccessKey pairs of the accounts (ecs-http.md §2): created, listed and
// revoked by the operator CLI, looked up by the ECS HTTP listener to verify
// a signature. Secrets are sealed at rest (secret_box.h) and returned in
// clear only by Create (shown once) and Resolve (to compute an HMAC).
#ifndef ECSIMAGE_SERVICE_DOMAIN_ACCESS_KEYS_H_
#define ECSIMAGE_SERVICE_DOMAIN_ACCESS_KEYS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/domain/clock.h"
#include "service/domain/secret_box.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

class AccessKeys {
 public:
  // `current` seals new secrets; `previous` (may be null) only opens old
  // ones (key rotation). Without `current` nothing can be created or
  // resolved (kAccessKeyAuthDisabled).
  AccessKeys(storage::Store& store, Clock& clock, const SecretBox* current,
             const SecretBox* previous = nullptr)
      : store_(store), clock_(clock), current_(current), previous_(previous) {}

  struct Created {
    std::string account_id;
    std::string access_key_id;
    std::string access_key_secret;  // shown once
  };
  // InvalidParameter "account" if the account does not exist.
  absl::StatusOr<Created> Create(const std::string& account_id);

  struct Info {
    std::string access_key_id;
    int64_t created_at_ms = 0;
    int64_t revoked_at_ms = 0;  // 0: active
  };
  absl::StatusOr<std::vector<Info>> List(const std::string& account_id);
  // InvalidParameter "access-key-id" unless the account has that active key.
  absl::Status Revoke(const std::string& account_id,
                      const std::string& access_key_id);

  struct Resolved {
    std::string account_id;
    std::string secret;  // never logged
  };
  // The account and secret of an active key; InvalidAccessKeyId.NotFound,
  // InvalidAccessKeyId.Inactive, AccessKeyAuthDisabled. Reads the database
  // each time: a revoked key stops at once.
  absl::StatusOr<Resolved> Resolve(const std::string& access_key_id);

 private:
  storage::Store& store_;
  Clock& clock_;
  const SecretBox* current_;
  const SecretBox* previous_;
};

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_ACCESS_KEYS_H_

// AES-256-GCM sealing of AccessKey secrets at rest (ecs-http.md §2), with
// OpenSSL's libcrypto. Sealed form: 12-byte nonce || ciphertext || 16-byte
// tag; the associated data (the AccessKeyId) binds a sealed secret to its
// row. A key is exactly 32 raw bytes read from the operator's key file.
#ifndef ECSIMAGE_SERVICE_DOMAIN_SECRET_BOX_H_
#define ECSIMAGE_SERVICE_DOMAIN_SECRET_BOX_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ecsimage::domain {

class SecretBox {
 public:
  // `key` must be 32 bytes (checked by LoadSecretKeyFile).
  explicit SecretBox(std::string key);

  // Names the key without revealing it: 16 hex digits of SHA-256("ecsimage
  // secret key" || key). Stored with each sealed secret.
  const std::string& key_id() const { return key_id_; }

  absl::StatusOr<std::string> Seal(std::string_view plaintext,
                                   std::string_view associated_data) const;
  // kDataLoss if the sealed bytes or the associated data were changed or
  // another key sealed them; the message never contains secret bytes.
  absl::StatusOr<std::string> Open(std::string_view sealed,
                                   std::string_view associated_data) const;

 private:
  std::string key_;
  std::string key_id_;
};

// Reads a key file: exactly 32 raw bytes, else kInvalidArgument with a
// message for the operator. `*warning` gets a note when the file is
// readable by group or others (it is still used).
absl::StatusOr<std::string> LoadSecretKeyFile(const std::string& path,
                                              std::string* warning);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_SECRET_BOX_H_

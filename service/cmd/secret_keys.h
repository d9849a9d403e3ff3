// The operator's secret key files (--secret-key-file and
// --secret-key-file-previous, ECSIMAGE_SECRET_KEY_FILE[_PREVIOUS]) that seal
// AccessKey secrets at rest, shared by `serve` and `account accesskey`.
#ifndef ECSIMAGE_SERVICE_CMD_SECRET_KEYS_H_
#define ECSIMAGE_SERVICE_CMD_SECRET_KEYS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/cmd/flags.h"
#include "service/domain/secret_box.h"

namespace ecsimage::cmd {

struct SecretKeyFlags {
  std::string file;           // "" = no AccessKeys
  std::string previous_file;  // "" = no rotation in progress
  void Register(FlagSet& flags);
};

struct SecretKeys {
  std::unique_ptr<domain::SecretBox> current;   // null without a file
  std::unique_ptr<domain::SecretBox> previous;  // null without a file
};

// Reads the files named by `flags` (exactly 32 raw bytes each); warns on
// stderr (JSON line) about loose permissions. The message of an error
// names the file and the rule, never the bytes.
absl::StatusOr<SecretKeys> LoadSecretKeys(const SecretKeyFlags& flags);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_SECRET_KEYS_H_

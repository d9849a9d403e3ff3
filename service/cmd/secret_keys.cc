#include "service/cmd/secret_keys.h"

#include "service/grpc/json_log.h"

namespace ecsimage::cmd {
namespace {

absl::StatusOr<std::unique_ptr<domain::SecretBox>> Load(
    const std::string& path) {
  if (path.empty()) return nullptr;
  std::string warning;
  absl::StatusOr<std::string> key = domain::LoadSecretKeyFile(path, &warning);
  if (!key.ok()) return key.status();
  if (!warning.empty()) {
    grpcapi::JsonLine().Str("level", "warning").Str("msg", warning).Emit();
  }
  return std::make_unique<domain::SecretBox>(*std::move(key));
}

}  // namespace

void SecretKeyFlags::Register(FlagSet& flags) {
  flags.String("secret-key-file", &file,
               "32 raw bytes that seal AccessKey secrets at rest (empty: no "
               "AccessKeys; the ECS HTTP listener refuses signed requests)");
  flags.String("secret-key-file-previous", &previous_file,
               "the key file before a rotation: still opens old secrets");
}

absl::StatusOr<SecretKeys> LoadSecretKeys(const SecretKeyFlags& flags) {
  SecretKeys keys;
  absl::StatusOr<std::unique_ptr<domain::SecretBox>> current = Load(flags.file);
  if (!current.ok()) return current.status();
  keys.current = *std::move(current);
  absl::StatusOr<std::unique_ptr<domain::SecretBox>> previous =
      Load(flags.previous_file);
  if (!previous.ok()) return previous.status();
  keys.previous = *std::move(previous);
  return keys;
}

}  // namespace ecsimage::cmd

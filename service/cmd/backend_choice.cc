#include "service/cmd/backend_choice.h"

#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/backend/filesystem/filesystem_backend.h"

namespace ecsimage::cmd {

void AddBackendFlags(FlagSet& flags, BackendFlags* f) {
  flags.String("backend", &f->backend,
               "what moves image bytes: simulated (a timer, the default) or "
               "filesystem (--data-root, --oss-root)");
  flags.String("data-root", &f->data_root,
               "filesystem backend: image data, one directory per region");
  flags.String("oss-root", &f->oss_root,
               "filesystem backend: the object store, one directory per "
               "bucket (ImportImage reads, ExportImage writes)");
  flags.Int("backend-max-concurrent-tasks", &f->max_concurrent_tasks,
            "filesystem backend: byte tasks running at once per replica");
  flags.Int("backend-bandwidth-mib", &f->bandwidth_mib,
            "filesystem backend: cap per task, MiB/s (0: unlimited)");
  flags.String("backend-qemu-img", &f->qemu_img,
               "filesystem backend: the qemu-img that converts ExportImage's "
               "ImageFormat (Debian's qemu-utils; looked up on PATH)");
  flags.Int("backend-data-check-per-tick", &f->data_check_per_tick,
            "filesystem backend: finished images checked for their data per "
            "engine tick, round and round (0: only at start); one without "
            "data turns UnAvailable");
  flags.String("backend-test-pause-before-registering",
               &f->test_pause_before_registering,
               "filesystem backend, tests only: while this file exists, "
               "finished copies stay TRANSFERRING");
}

absl::Status CheckBackendFlags(const BackendFlags& f, bool simulation_control) {
  if (f.backend == "simulated") {
    if (!f.data_root.empty() || !f.oss_root.empty() ||
        !f.test_pause_before_registering.empty()) {
      return absl::InvalidArgumentError(
          "--data-root, --oss-root and --backend-test-pause-before-registering "
          "need --backend=filesystem");
    }
    return absl::OkStatus();
  }
  if (f.backend != "filesystem") {
    return absl::InvalidArgumentError(
        "--backend (ECSIMAGE_BACKEND) must be simulated or filesystem");
  }
  if (simulation_control) {
    return absl::InvalidArgumentError(
        "--simulation-control drives the simulated backend only: it cannot "
        "be used with --backend=filesystem");
  }
  if (f.data_root.empty() || f.oss_root.empty()) {
    return absl::InvalidArgumentError(
        "--backend=filesystem needs --data-root and --oss-root");
  }
  if (f.max_concurrent_tasks < 1 || f.max_concurrent_tasks > 64) {
    return absl::InvalidArgumentError(
        "--backend-max-concurrent-tasks must be between 1 and 64");
  }
  if (f.bandwidth_mib < 0) {
    return absl::InvalidArgumentError("--backend-bandwidth-mib must be >= 0");
  }
  if (f.data_check_per_tick < 0 || f.data_check_per_tick > 100000) {
    return absl::InvalidArgumentError(
        "--backend-data-check-per-tick must be between 0 and 100000");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DatabaseIdentity(storage::Store& store) {
  unsigned char random[16];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(random), sizeof random)) {
    return absl::InternalError("cannot read /dev/urandom");
  }
  const std::string fresh = absl::StrCat(
      "db-", absl::BytesToHexString(absl::string_view(
                 reinterpret_cast<const char*>(random), sizeof random)));
  std::string identity;
  absl::Status s =
      store.RunInWriteTransaction([&](storage::WriteTxn& txn) -> absl::Status {
        absl::StatusOr<std::optional<storage::WriteTxn::ReplicaSetting>> got =
            txn.GetReplicaSetting(kDatabaseIdSetting);
        if (!got.ok()) return got.status();
        if (got->has_value()) {
          identity = (*got)->value;
          return absl::OkStatus();
        }
        identity = fresh;  // the same on a retried transaction
        return txn.PutReplicaSetting(kDatabaseIdSetting, fresh, 0);
      });
  if (!s.ok()) return s;
  return identity;
}

absl::StatusOr<std::unique_ptr<backend::Backend>> MakeBackend(
    const BackendFlags& f, const std::string& database_identity,
    const std::string& legacy_identity) {
  if (f.backend != "filesystem") return std::unique_ptr<backend::Backend>();
  backend::filesystem::FilesystemOptions options;
  options.data_root = f.data_root;
  options.oss_root = f.oss_root;
  options.database_identity = database_identity;
  options.legacy_identity = legacy_identity;
  options.max_concurrent_tasks = static_cast<int>(f.max_concurrent_tasks);
  options.bandwidth_bytes_per_s = f.bandwidth_mib * 1024 * 1024;
  options.pause_before_registering_file = f.test_pause_before_registering;
  options.qemu_img = f.qemu_img;
  return backend::filesystem::NewFilesystemBackend(std::move(options));
}

}  // namespace ecsimage::cmd

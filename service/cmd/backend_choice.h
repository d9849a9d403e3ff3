// `serve --backend=simulated|filesystem` and the flags of the filesystem
// backend: the one place that names the concrete backends.
#ifndef ECSIMAGE_SERVICE_CMD_BACKEND_CHOICE_H_
#define ECSIMAGE_SERVICE_CMD_BACKEND_CHOICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/backend/backend.h"
#include "service/cmd/flags.h"
#include "storage/image_store.h"

namespace ecsimage::cmd {

struct BackendFlags {
  std::string backend = "simulated";
  std::string data_root;
  std::string oss_root;
  int64_t max_concurrent_tasks = 2;
  int64_t bandwidth_mib = 0;  // 0: unlimited
  std::string qemu_img = "qemu-img";
  std::string test_pause_before_registering;  // a file; tests only
  // Finished images the background data check asks about per engine tick.
  int64_t data_check_per_tick = 256;
};

void AddBackendFlags(FlagSet& flags, BackendFlags* f);

// Before anything is opened: a bad combination is refused with a message
// naming the flags.
absl::Status CheckBackendFlags(const BackendFlags& f, bool simulation_control);

// The database's identity for the data root's marker (data-plane.md §2): a
// random id kept in the database itself (replica_settings, name
// kDatabaseIdSetting), made by the first start that asks for it, so every
// replica of one database agrees and a different database (another
// deployment, a new file at the same path) never does.
inline constexpr char kDatabaseIdSetting[] = "database_id";
absl::StatusOr<std::string> DatabaseIdentity(storage::Store& store);

// Null for the simulated backend (the domain builds it from its rates).
// `database_identity` goes into the data root's marker; a marker that still
// holds `legacy_identity` (the --db locator older versions wrote) is taken
// over.
absl::StatusOr<std::unique_ptr<backend::Backend>> MakeBackend(
    const BackendFlags& f, const std::string& database_identity,
    const std::string& legacy_identity);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_BACKEND_CHOICE_H_

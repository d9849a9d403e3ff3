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

namespace ecsimage::cmd {

struct BackendFlags {
  std::string backend = "simulated";
  std::string data_root;
  std::string oss_root;
  int64_t max_concurrent_tasks = 2;
  int64_t bandwidth_mib = 0;  // 0: unlimited
};

void AddBackendFlags(FlagSet& flags, BackendFlags* f);

// Before anything is opened: a bad combination is refused with a message
// naming the flags.
absl::Status CheckBackendFlags(const BackendFlags& f, bool simulation_control);

// Null for the simulated backend (the domain builds it from its rates).
// `database_identity` goes into the data root's marker.
absl::StatusOr<std::unique_ptr<backend::Backend>> MakeBackend(
    const BackendFlags& f, const std::string& database_identity);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_BACKEND_CHOICE_H_

// Settings every replica of one database must agree on (scale-out.md §4):
// today --simulation-control, which decides whether tasks move by
// themselves or only when SimulationControl drives them. A replica claims
// its value at start and confirms it every half lease term; a replica whose
// value differs from one confirmed within the last `stale_ms` refuses to
// start. When no replica of the other value has confirmed for `stale_ms`
// (all stopped), the new value replaces it.
#ifndef ECSIMAGE_SERVICE_DOMAIN_REPLICA_SETTINGS_H_
#define ECSIMAGE_SERVICE_DOMAIN_REPLICA_SETTINGS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

// The setting's name in the database for --simulation-control.
inline constexpr char kSimulationControlSetting[] = "simulation_control";

// Claims (or confirms) `name` = `value` at `now_ms` in one write
// transaction. OK when the database holds no value, the same value, or
// another value last confirmed at or before now_ms - stale_ms (then
// replaced). Otherwise kFailedPrecondition saying which value the other
// replicas run with, how long ago one confirmed it, and what to do; `flag`
// names the setting as the operator spells it ("--simulation-control").
absl::Status ClaimReplicaSetting(storage::Store& store, const std::string& name,
                                 const std::string& flag,
                                 const std::string& value, int64_t now_ms,
                                 int64_t stale_ms);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_REPLICA_SETTINGS_H_

// Keeps this replica's claim on a replica setting alive (domain/
// replica_settings.h): confirms it every `period` until stopped, so that a
// replica starting with another value is refused while this one runs. A
// confirmation that fails is logged (a database outage, or another value
// took over after this replica stalled longer than the stale period) and
// tried again at the next period.
#ifndef ECSIMAGE_SERVICE_CMD_REPLICA_SETTING_KEEPER_H_
#define ECSIMAGE_SERVICE_CMD_REPLICA_SETTING_KEEPER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "service/domain/clock.h"
#include "storage/image_store.h"

namespace ecsimage::cmd {

class ReplicaSettingKeeper {
 public:
  ReplicaSettingKeeper(storage::Store& store, domain::Clock& clock,
                       std::string name, std::string flag, std::string value,
                       int64_t stale_ms, std::chrono::milliseconds period);
  ~ReplicaSettingKeeper() { Stop(); }

  // The claim at start: not OK means this replica must not start.
  absl::Status Claim();
  // Starts confirming every period.
  void Start();
  void Stop();

 private:
  void Loop();

  storage::Store& store_;
  domain::Clock& clock_;
  const std::string name_, flag_, value_;
  const int64_t stale_ms_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_REPLICA_SETTING_KEEPER_H_

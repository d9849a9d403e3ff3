// The database's full consistency check (Store::CheckIntegrity) off the
// serving path: once right after the server is SERVING, then every
// `period` (zero: only once). A check that finds corruption makes the store
// refuse every write and report not ready (Health NOT_SERVING through the
// ReadinessMonitor within its period), logs one error line and sets
// ecsimage_db_integrity_corrupt to 1. A check that cannot run (database
// unreachable) is logged and tried again at the next period.
#ifndef ECSIMAGE_SERVICE_CMD_INTEGRITY_MONITOR_H_
#define ECSIMAGE_SERVICE_CMD_INTEGRITY_MONITOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "service/metrics/service_metrics.h"
#include "storage/image_store.h"

namespace ecsimage::cmd {

class IntegrityMonitor {
 public:
  IntegrityMonitor(storage::Store& store, std::chrono::seconds period);
  ~IntegrityMonitor() { Stop(); }

  // ecsimage_db_integrity_corrupt, ecsimage_db_integrity_checks_total
  // {result}, ecsimage_db_integrity_check_seconds.
  void AddMetrics(metrics::ServiceMetrics& metrics);
  // Starts the thread (the first check begins at once).
  void Start();
  // Stops between checks; a check in progress runs to its end.
  void Stop();

 private:
  void Loop();
  void CheckOnce();

  storage::Store& store_;
  const std::chrono::seconds period_;
  std::atomic<bool> corrupt_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> corrupt_found_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<double> last_seconds_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_INTEGRITY_MONITOR_H_

// The background worker of `ecsimage serve`.
#ifndef ECSIMAGE_SERVICE_CMD_TASK_WORKER_H_
#define ECSIMAGE_SERVICE_CMD_TASK_WORKER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>

#include "service/domain/clock.h"
#include "service/domain/image_domain.h"
#include "storage/image_store.h"

namespace ecsimage::cmd {

// Ticks the TaskEngine every `period` of real time and prunes remembered
// ClientTokens now and then. Stops between two ticks: each tick is one
// write transaction, so the database never sees half a step.
class TaskWorker {
 public:
  TaskWorker(storage::Store& store, domain::Clock& clock,
             domain::DomainOptions options, std::chrono::milliseconds period,
             bool tick_tasks, domain::TaskLeaseOptions lease = {},
             domain::Clock* lease_clock = nullptr)
      : store_(store),
        clock_(clock),
        engine_(store, clock, options, std::move(lease), lease_clock),
        ttl_ms_(options.client_token_ttl_ms),
        period_(period),
        tick_tasks_(tick_tasks),
        thread_([this] { Loop(); }) {}

  ~TaskWorker() { Stop(); }

  // Stops between two ticks and lets the engine's task leases go, so that
  // another replica takes the tasks at once. Idempotent.
  void Stop();

  // Read by metrics at scrape time.
  const domain::TaskEngine& engine() const { return engine_; }

 private:
  void Loop();

  storage::Store& store_;
  domain::Clock& clock_;
  domain::TaskEngine engine_;  // used by the worker thread only
  const int64_t ttl_ms_;
  const std::chrono::milliseconds period_;
  const bool tick_tasks_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_TASK_WORKER_H_

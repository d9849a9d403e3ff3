#include "service/cmd/readiness_monitor.h"

#include "service/grpc/json_log.h"

namespace ecsimage::cmd {

ReadinessMonitor::ReadinessMonitor(storage::Store& store,
                                   grpcapi::Server& server,
                                   std::chrono::milliseconds period)
    : store_(store), server_(server), period_(period) {
  thread_ = std::thread([this] { Loop(); });
}

bool ReadinessMonitor::CheckOnce() {
  const absl::Status status = store_.CheckReady();
  const bool ready = status.ok();
  if (ready != ready_) {
    // Transitions only: an outage is one line, not one a second.
    grpcapi::JsonLine line;
    line.Str("level", ready ? "info" : "warning")
        .Str("msg", ready ? "database reachable again: ready"
                          : "database not ready (unreachable or corrupt)");
    if (!ready) line.Str("error", std::string(status.message()));
    line.Emit();
    ready_ = ready;
  }
  server_.SetReady(ready);
  return ready;
}

void ReadinessMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReadinessMonitor::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    CheckOnce();
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace ecsimage::cmd

#include "service/cmd/task_worker.h"

#include "service/grpc/json_log.h"

namespace ecsimage::cmd {
namespace {

void LogError(std::string_view msg, const absl::Status& status) {
  grpcapi::JsonLine()
      .Str("level", "error")
      .Str("msg", msg)
      .Str("error", status.ToString())
      .Emit();
}

}  // namespace

void TaskWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (tick_tasks_) {
    absl::Status s = engine_.ReleaseLeases();
    if (!s.ok()) LogError("cannot release task leases", s);
  }
}

void TaskWorker::Loop() {
  constexpr auto kPruneEvery = std::chrono::minutes(10);
  auto next_prune = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    if (tick_tasks_) {
      absl::Status s = engine_.Tick();
      if (!s.ok()) LogError("task tick failed", s);
    }
    if (std::chrono::steady_clock::now() >= next_prune) {
      absl::Status s = store_.PruneClientTokens(clock_.NowMs() - ttl_ms_);
      if (!s.ok()) LogError("client token prune failed", s);
      next_prune = std::chrono::steady_clock::now() + kPruneEvery;
    }
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace ecsimage::cmd

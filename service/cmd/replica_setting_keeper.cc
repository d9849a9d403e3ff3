#include "service/cmd/replica_setting_keeper.h"

#include <utility>

#include "service/domain/replica_settings.h"
#include "service/grpc/json_log.h"

namespace ecsimage::cmd {

ReplicaSettingKeeper::ReplicaSettingKeeper(storage::Store& store,
                                           domain::Clock& clock,
                                           std::string name, std::string flag,
                                           std::string value, int64_t stale_ms,
                                           std::chrono::milliseconds period)
    : store_(store),
      clock_(clock),
      name_(std::move(name)),
      flag_(std::move(flag)),
      value_(std::move(value)),
      stale_ms_(stale_ms),
      period_(period) {}

absl::Status ReplicaSettingKeeper::Claim() {
  return domain::ClaimReplicaSetting(store_, name_, flag_, value_,
                                     clock_.NowMs(), stale_ms_);
}

void ReplicaSettingKeeper::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ReplicaSettingKeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReplicaSettingKeeper::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, period_, [this] { return stop_; })) return;
    }
    if (absl::Status s = Claim(); !s.ok()) {
      grpcapi::JsonLine()
          .Str("level", "error")
          .Str("msg", "could not confirm this replica's setting")
          .Str("setting", flag_)
          .Str("error", std::string(s.message()))
          .Emit();
    }
  }
}

}  // namespace ecsimage::cmd

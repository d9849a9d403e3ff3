#include "service/cmd/integrity_monitor.h"

#include <string>
#include <utility>

#include "service/grpc/json_log.h"

namespace ecsimage::cmd {

IntegrityMonitor::IntegrityMonitor(storage::Store& store,
                                   std::chrono::seconds period)
    : store_(store), period_(period) {}

void IntegrityMonitor::AddMetrics(metrics::ServiceMetrics& metrics) {
  metrics.AddGauge("ecsimage_db_integrity_corrupt",
                   "1 once a background integrity check found the database "
                   "corrupt (writes are refused, readiness is NOT_SERVING); "
                   "0 otherwise.",
                   [this] { return corrupt_.load() ? 1.0 : 0.0; });
  metrics.AddLabeledGauge(
      "ecsimage_db_integrity_checks_total",
      "Background integrity checks finished, by result (ok, corrupt, or "
      "error: the check could not run).",
      "result", [this] {
        return metrics::LabeledValues{
            {"ok", static_cast<double>(ok_.load())},
            {"corrupt", static_cast<double>(corrupt_found_.load())},
            {"error", static_cast<double>(failed_.load())}};
      });
  metrics.AddGauge("ecsimage_db_integrity_check_seconds",
                   "Duration of the last finished integrity check.",
                   [this] { return last_seconds_.load(); });
}

void IntegrityMonitor::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void IntegrityMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IntegrityMonitor::CheckOnce() {
  const auto t0 = std::chrono::steady_clock::now();
  const absl::Status status = store_.CheckIntegrity();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  last_seconds_.store(seconds);
  grpcapi::JsonLine line;
  line.Num("seconds", seconds);
  if (status.ok()) {
    ok_.fetch_add(1);
    line.Str("level", "info").Str("msg", "database integrity check ok");
  } else if (status.code() == absl::StatusCode::kDataLoss) {
    corrupt_found_.fetch_add(1);
    corrupt_.store(true);
    line.Str("level", "error")
        .Str("msg",
             "database integrity check found corruption: writes refused, "
             "not ready; restore the latest backup")
        .Str("error", std::string(status.message()));
  } else {
    failed_.fetch_add(1);
    line.Str("level", "warning")
        .Str("msg", "database integrity check could not run")
        .Str("error", std::string(status.message()));
  }
  line.Emit();
}

void IntegrityMonitor::Loop() {
  while (true) {
    CheckOnce();
    // Corruption stays until a restart: checking again proves nothing new.
    if (corrupt_.load() || period_.count() == 0) return;
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, period_, [this] { return stop_; })) return;
  }
}

}  // namespace ecsimage::cmd

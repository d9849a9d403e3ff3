#include "service/cmd/store_metrics.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace ecsimage::cmd {

void AddStoreMetrics(const OpenedDb& db, metrics::ServiceMetrics& metrics) {
  storage::Store* store = db.store.get();
  metrics.AddLabeledGauge(
      metrics::kTasksGauge, "Tasks not yet finished, by kind and state.",
      "state", [store] {
        metrics::LabeledValues values;
        auto counts = store->CountActiveTasks();
        if (!counts.ok()) return values;
        for (const auto& c : *counts) {
          values.emplace_back(absl::StrCat(c.kind, ":", c.state),
                              static_cast<double>(c.count));
        }
        return values;
      });
  if (storage::SqliteStore* sqlite = db.sqlite; sqlite != nullptr) {
    const std::string& path = db.locator.value;
    metrics.AddGauge(metrics::kDatabaseSizeGauge,
                     "Database file plus WAL, bytes.",
                     metrics::FileSizeSum({path, path + "-wal"}));
    metrics.AddGauge(
        metrics::kQueueDepthGauge, "Writes waiting for the single writer.",
        [sqlite] { return static_cast<double>(sqlite->stats().queue_depth); });
    metrics.AddGauge("ecsimage_write_commits_total_gauge",
                     "Write transactions committed since start.", [sqlite] {
                       return static_cast<double>(sqlite->stats().commits);
                     });
  }
  if (storage::PostgresStore* pg = db.postgres; pg != nullptr) {
    metrics.AddGauge(metrics::kDatabaseSizeGauge,
                     "pg_database_size of the database, bytes.", [pg] {
                       auto bytes = pg->DatabaseBytes();
                       return bytes.ok() ? static_cast<double>(*bytes) : 0.0;
                     });
    metrics.AddLabeledGauge(
        "ecsimage_db_pool_connections",
        "Connections of the PostgreSQL pool, by state.", "state", [pg] {
          const storage::PostgresStoreStats stats = pg->stats();
          return metrics::LabeledValues{
              {"idle", static_cast<double>(stats.pool_idle)},
              {"busy", static_cast<double>(stats.pool_busy)}};
        });
    metrics.AddLabeledGauge(
        "ecsimage_db_retries_total",
        "Write transactions restarted, by the SQLSTATE that caused it.",
        "sqlstate", [pg] {
          metrics::LabeledValues values;
          for (const auto& [sqlstate, count] : pg->RetriesBySqlstate()) {
            values.emplace_back(sqlstate, static_cast<double>(count));
          }
          return values;
        });
    metrics.AddGauge("ecsimage_write_commits_total_gauge",
                     "Write transactions committed since start.",
                     [pg] { return static_cast<double>(pg->stats().commits); });
  }
}

}  // namespace ecsimage::cmd

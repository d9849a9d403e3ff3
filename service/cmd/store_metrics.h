// The gauges read from the store at scrape time: the same names on every
// store where the idea is shared (tasks, database size), and each store's
// own (SQLite's writer queue; PostgreSQL's pool and retries).
#ifndef ECSIMAGE_SERVICE_CMD_STORE_METRICS_H_
#define ECSIMAGE_SERVICE_CMD_STORE_METRICS_H_

#include "service/cmd/db.h"
#include "service/metrics/service_metrics.h"

namespace ecsimage::cmd {

// Registers the gauges of `db`'s store; `db` must outlive `metrics`' use.
void AddStoreMetrics(const OpenedDb& db, metrics::ServiceMetrics& metrics);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_STORE_METRICS_H_

// The production object graph (SqliteStore + ImageDomain + grpcapi::Server)
// in the bench process, on 127.0.0.1:0, so that a benchmark can choose store
// options (group commit on/off, batch size) that `ecsimage serve` does not
// expose. No background task worker: copies stay in the phase the loader
// put them in.
#ifndef ECSIMAGE_BENCH_INPROC_SERVER_H_
#define ECSIMAGE_BENCH_INPROC_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/domain/clock.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/grpc/server.h"
#include "service/metrics/service_metrics.h"
#include "storage/sqlite/sqlite_store.h"

namespace ecsimage::bench {

struct InProcessConfig {
  std::string db;
  bool group_commit = true;
  int max_batch_size = storage::SqliteStoreOptions().max_batch_size;
  absl::Duration max_batch_wait = storage::SqliteStoreOptions().max_batch_wait;
  int reader_connections = storage::SqliteStoreOptions().reader_connections;
  int max_threads = grpcapi::ServerOptions().max_threads;
  // 0: the server's default (a share of max_threads).
  int max_concurrent_calls = grpcapi::ServerOptions().max_concurrent_calls;
  // Per-call costs `ecsimage serve` has: Prometheus call metrics (always on
  // there) and the access log (one JSON line per call on stderr, on by
  // default there).
  bool metrics = true;
  bool log_calls = false;
};

class InProcessServer {
 public:
  // Opens (creating if missing) the database and starts serving.
  static absl::StatusOr<std::unique_ptr<InProcessServer>> Start(
      const InProcessConfig& config);
  // Stops the server (in-flight calls get a few seconds), then the store.
  ~InProcessServer();

  storage::SqliteStore& store() { return *store_; }
  domain::ImageDomain& domain() { return *domain_; }
  std::string target() const;

 private:
  InProcessServer() = default;

  std::unique_ptr<storage::SqliteStore> store_;
  domain::SystemClock clock_;
  domain::RandomIdGenerator ids_;
  std::unique_ptr<domain::ImageDomain> domain_;
  std::unique_ptr<domain::Authenticator> authenticator_;
  std::unique_ptr<metrics::ServiceMetrics> metrics_;  // null: off
  std::unique_ptr<grpcapi::Server> server_;
};

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_INPROC_SERVER_H_

// Serves ServiceMetrics as Prometheus text on GET /metrics over plain HTTP
// (cpp-httplib), on its own port, apart from the gRPC API.
#ifndef ECSIMAGE_SERVICE_METRICS_METRICS_HTTP_SERVER_H_
#define ECSIMAGE_SERVICE_METRICS_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "service/metrics/service_metrics.h"

namespace httplib {
class Server;
}

namespace ecsimage::metrics {

class MetricsHttpServer {
 public:
  // Binds `listen_address` ("127.0.0.1:9090", "0.0.0.0:9090", "[::]:9090";
  // port 0 picks a free port) and serves from a background thread, one
  // scrape at a time. `metrics` must outlive the server. Returns
  // InvalidArgument for an unparsable address and Unavailable when the bind
  // fails.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      std::string_view listen_address, const ServiceMetrics& metrics);

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  // Stops and joins.
  ~MetricsHttpServer();

  // The bound port (the chosen one when started with port 0).
  int port() const { return port_; }

  // Stops accepting, finishes the scrape in progress and joins the thread.
  // Idempotent.
  void Stop();

 private:
  MetricsHttpServer(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::atomic<bool> loop_exited_{false};
  std::thread thread_;
};

}  // namespace ecsimage::metrics

#endif  // ECSIMAGE_SERVICE_METRICS_METRICS_HTTP_SERVER_H_

// Prometheus metrics for ecsimage: per-call counters and latency histograms
// fed through grpcapi::CallObserver, gauges read from callbacks at scrape
// time, and build info. Rendered as Prometheus text exposition format 0.0.4;
// served over HTTP by MetricsHttpServer (metrics_http_server.h).
#ifndef ECSIMAGE_SERVICE_METRICS_SERVICE_METRICS_H_
#define ECSIMAGE_SERVICE_METRICS_SERVICE_METRICS_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "service/grpc/call_observer.h"

namespace ecsimage::metrics {

// Metric family names, for dashboards and tests.
inline constexpr char kCallsTotal[] = "ecsimage_grpc_server_handled_total";
inline constexpr char kCallLatency[] = "ecsimage_grpc_server_handling_seconds";
inline constexpr char kBuildInfo[] = "ecsimage_build_info";
// Suggested names for the gauges the server registers.
inline constexpr char kTasksGauge[] = "ecsimage_tasks";
inline constexpr char kQueueDepthGauge[] = "ecsimage_write_queue_depth";
inline constexpr char kDatabaseSizeGauge[] = "ecsimage_database_size_bytes";
inline constexpr char kTlsExpiryGauge[] =
    "ecsimage_tls_certificate_expiry_timestamp_seconds";

// Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

struct BuildInfo {
  std::string version;  // e.g. "0.1.0"
  std::string commit;   // VCS revision, "" when unknown
};

// The version this library was compiled with (the CMake project version)
// and, when the build passed one, the commit.
BuildInfo DefaultBuildInfo();

// One labelled sample of a gauge: (label value, gauge value).
using LabeledValues = std::vector<std::pair<std::string, double>>;

// Thread-safe. OnCallDone takes one short std::mutex section with no I/O
// and no allocation once a (method, code, ecs_code) series exists. Gauge
// callbacks run on the scraping thread with no lock of this class held, so
// they may take their own locks or stat files; they must not call back into
// this object.
class ServiceMetrics final : public grpcapi::CallObserver {
 public:
  explicit ServiceMetrics(BuildInfo build_info = DefaultBuildInfo());
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;
  ~ServiceMetrics() override;

  // `method` is the full gRPC method, "/pkg.Service/Method".
  void OnCallDone(std::string_view method, grpc::StatusCode code,
                  std::string_view ecs_code, double latency_seconds) override;

  // Registers a gauge read at every scrape. `name` must match
  // [a-zA-Z_:][a-zA-Z0-9_:]* and be unique among gauges; a later call with
  // the same name replaces the earlier one.
  void AddGauge(std::string name, std::string help,
                std::function<double()> read);
  // A gauge with one label, e.g. AddLabeledGauge(kTasksGauge, "...",
  // "phase", ...) rendering ecsimage_tasks{phase="Copying"} 3.
  void AddLabeledGauge(std::string name, std::string help, std::string label,
                       std::function<LabeledValues()> read);

  // The whole exposition, families in a stable order.
  std::string Render() const;

 private:
  struct CallKey {
    int code;
    std::string ecs_code;
  };
  struct CallKeyLess {
    using is_transparent = void;
    bool operator()(const CallKey& a, const CallKey& b) const;
    bool operator()(const CallKey& a,
                    const std::pair<int, std::string_view>& b) const;
    bool operator()(const std::pair<int, std::string_view>& a,
                    const CallKey& b) const;
  };
  struct MethodStats {
    std::map<CallKey, uint64_t, CallKeyLess> calls;
    // Non-cumulative counts; index kLatencyBuckets.size() is (10s, +Inf).
    std::array<uint64_t, kLatencyBuckets.size() + 1> buckets{};
    double latency_sum = 0;
    uint64_t latency_count = 0;
  };
  struct Gauge {
    std::string help;
    std::string label;  // "" for a scalar gauge
    std::function<double()> scalar;
    std::function<LabeledValues()> labeled;
  };

  const BuildInfo build_info_;
  mutable std::mutex mu_;
  std::map<std::string, MethodStats, std::less<>> methods_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Gauge> gauges_ ABSL_GUARDED_BY(mu_);
};

// A gauge callback summing the sizes of the files that exist among `paths`
// (missing files count 0), e.g. {db, db + "-wal"} for a WAL database.
std::function<double()> FileSizeSum(std::vector<std::string> paths);

// Text of a gRPC status code as in the gRPC spec ("NOT_FOUND").
std::string_view StatusCodeName(grpc::StatusCode code);

}  // namespace ecsimage::metrics

#endif  // ECSIMAGE_SERVICE_METRICS_SERVICE_METRICS_H_

#include "service/metrics/service_metrics.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#ifndef ECSIMAGE_VERSION
#define ECSIMAGE_VERSION "unknown"
#endif
#ifndef ECSIMAGE_COMMIT
#define ECSIMAGE_COMMIT ""
#endif

namespace ecsimage::metrics {
namespace {

// Debian's Abseil is built with its own string_view, so absl::StrAppend does
// not take std::string_view: a tiny appender instead.
void AppendOne(std::string& out, std::string_view s) { out.append(s); }
void AppendOne(std::string& out, uint64_t v) { out += std::to_string(v); }
template <typename... Args>
void Append(std::string& out, const Args&... args) {
  (AppendOne(out, args), ...);
}

// Label values: backslash, double quote and newline are escaped.
void AppendLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// HELP text: backslash and newline are escaped.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Metric and label names must match [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' in
// label names); anything else becomes '_'.
std::string SanitizeName(std::string name, bool is_label) {
  if (name.empty()) return "_";
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (!is_label && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) name[i] = '_';
  }
  return name;
}

// Shortest text that reads back as the same double; Prometheus spellings for
// the special values.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void AppendFamilyHeader(std::string& out, std::string_view name,
                        std::string_view help, std::string_view type) {
  Append(out, "# HELP ", name, " ", EscapeHelp(help), "\n# TYPE ", name, " ",
         type, "\n");
}

// `{grpc_service="…",grpc_method="…"` without the closing brace, so callers
// can add labels.
std::string MethodLabels(std::string_view full_method) {
  std::string_view service;
  std::string_view method = full_method;
  if (!full_method.empty() && full_method[0] == '/') {
    size_t slash = full_method.find('/', 1);
    if (slash != std::string_view::npos) {
      service = full_method.substr(1, slash - 1);
      method = full_method.substr(slash + 1);
    }
  }
  std::string out = "{grpc_service=\"";
  AppendLabelValue(out, service);
  out += "\",grpc_method=\"";
  AppendLabelValue(out, method);
  out += "\"";
  return out;
}

}  // namespace

BuildInfo DefaultBuildInfo() { return {ECSIMAGE_VERSION, ECSIMAGE_COMMIT}; }

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

bool ServiceMetrics::CallKeyLess::operator()(const CallKey& a,
                                             const CallKey& b) const {
  return std::tie(a.code, a.ecs_code) < std::tie(b.code, b.ecs_code);
}
bool ServiceMetrics::CallKeyLess::operator()(
    const CallKey& a, const std::pair<int, std::string_view>& b) const {
  if (a.code != b.first) return a.code < b.first;
  return std::string_view(a.ecs_code) < b.second;
}
bool ServiceMetrics::CallKeyLess::operator()(
    const std::pair<int, std::string_view>& a, const CallKey& b) const {
  if (a.first != b.code) return a.first < b.code;
  return a.second < std::string_view(b.ecs_code);
}

ServiceMetrics::ServiceMetrics(BuildInfo build_info)
    : build_info_(std::move(build_info)) {}

ServiceMetrics::~ServiceMetrics() = default;

void ServiceMetrics::OnCallDone(std::string_view method, grpc::StatusCode code,
                                std::string_view ecs_code,
                                double latency_seconds) {
  // Negative or NaN latencies (a clock step) land in the first bucket.
  if (!(latency_seconds >= 0)) latency_seconds = 0;
  const size_t bucket =
      std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(),
                       latency_seconds) -
      kLatencyBuckets.begin();
  const std::pair<int, std::string_view> key(static_cast<int>(code), ecs_code);

  std::lock_guard<std::mutex> lock(mu_);
  auto it = methods_.find(method);
  if (it == methods_.end()) {
    it = methods_.emplace(std::string(method), MethodStats{}).first;
  }
  MethodStats& stats = it->second;
  auto call = stats.calls.find(key);
  if (call == stats.calls.end()) {
    call =
        stats.calls.emplace(CallKey{key.first, std::string(ecs_code)}, 0).first;
  }
  ++call->second;
  ++stats.buckets[bucket];
  stats.latency_sum += latency_seconds;
  ++stats.latency_count;
}

void ServiceMetrics::AddGauge(std::string name, std::string help,
                              std::function<double()> read) {
  Gauge gauge;
  gauge.help = std::move(help);
  gauge.scalar = std::move(read);
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[SanitizeName(std::move(name), false)] = std::move(gauge);
}

void ServiceMetrics::AddLabeledGauge(std::string name, std::string help,
                                     std::string label,
                                     std::function<LabeledValues()> read) {
  Gauge gauge;
  gauge.help = std::move(help);
  gauge.label = SanitizeName(std::move(label), true);
  gauge.labeled = std::move(read);
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[SanitizeName(std::move(name), false)] = std::move(gauge);
}

std::string ServiceMetrics::Render() const {
  // Copy under the lock, format and run callbacks outside it, so a slow
  // scrape never delays OnCallDone.
  std::map<std::string, MethodStats, std::less<>> methods;
  std::map<std::string, Gauge> gauges;
  {
    std::lock_guard<std::mutex> lock(mu_);
    methods = methods_;
    gauges = gauges_;
  }

  std::string out;
  AppendFamilyHeader(out, kBuildInfo,
                     "Build of the running binary; the value is always 1.",
                     "gauge");
  Append(out, kBuildInfo, "{version=\"");
  AppendLabelValue(out, build_info_.version);
  out += "\",commit=\"";
  AppendLabelValue(out, build_info_.commit);
  out += "\",grpc_version=\"";
  AppendLabelValue(out, grpc::Version());
  out += "\"} 1\n";

  AppendFamilyHeader(
      out, kCallsTotal,
      "RPCs completed by the server, by method, gRPC code and ECS error code.",
      "counter");
  for (const auto& [method, stats] : methods) {
    const std::string labels = MethodLabels(method);
    for (const auto& [key, count] : stats.calls) {
      Append(out, kCallsTotal, labels, ",grpc_code=\"",
             StatusCodeName(static_cast<grpc::StatusCode>(key.code)),
             "\",ecs_code=\"");
      AppendLabelValue(out, key.ecs_code);
      Append(out, "\"} ", count, "\n");
    }
  }

  AppendFamilyHeader(out, kCallLatency,
                     "Server-side latency of completed RPCs, by method.",
                     "histogram");
  for (const auto& [method, stats] : methods) {
    const std::string labels = MethodLabels(method);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += stats.buckets[i];
      Append(out, kCallLatency, "_bucket", labels, ",le=\"",
             FormatDouble(kLatencyBuckets[i]), "\"} ", cumulative, "\n");
    }
    Append(out, kCallLatency, "_bucket", labels, ",le=\"+Inf\"} ",
           stats.latency_count, "\n");
    Append(out, kCallLatency, "_sum", labels, "} ",
           FormatDouble(stats.latency_sum), "\n");
    Append(out, kCallLatency, "_count", labels, "} ", stats.latency_count,
           "\n");
  }

  for (const auto& [name, gauge] : gauges) {
    AppendFamilyHeader(out, name, gauge.help, "gauge");
    if (gauge.scalar) {
      Append(out, name, " ", FormatDouble(gauge.scalar()), "\n");
    } else if (gauge.labeled) {
      // Sorted, with repeated label values summed: a series appears once.
      std::map<std::string, double> values;
      for (auto& [label_value, value] : gauge.labeled()) {
        values[std::move(label_value)] += value;
      }
      for (const auto& [label_value, value] : values) {
        Append(out, name, "{", gauge.label, "=\"");
        AppendLabelValue(out, label_value);
        Append(out, "\"} ", FormatDouble(value), "\n");
      }
    }
  }
  return out;
}

std::function<double()> FileSizeSum(std::vector<std::string> paths) {
  return [paths = std::move(paths)]() {
    double total = 0;
    for (const std::string& path : paths) {
      struct stat st;
      if (::stat(path.c_str(), &st) == 0)
        total += static_cast<double>(st.st_size);
    }
    return total;
  };
}

}  // namespace ecsimage::metrics

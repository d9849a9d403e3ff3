// Start-up time and resident memory of a real `ecsimage serve` process on a
// loaded database: the time from fork to Health/Check answering SERVING,
// VmRSS/VmHWM from /proc right then and after some traffic, and a clean
// SIGTERM exit.
#ifndef ECSIMAGE_BENCH_STARTUP_H_
#define ECSIMAGE_BENCH_STARTUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ecsimage::bench {

struct StartupOptions {
  std::string binary;  // the ecsimage executable
  std::string db;
  // Bearer token of the account whose images the traffic describes.
  std::string token;
  // DescribeImages (page of 100) calls after SERVING, before the second
  // memory reading: this many, or as many as fit in traffic_s.
  int describe_calls = 200;
  double traffic_s = 10;
  double timeout_s = 120;
  // Extra flags for `ecsimage serve`.
  std::vector<std::string> extra_flags;
};

struct StartupResult {
  double start_line_s = 0;  // fork to the JSON "started" line
  double serving_s = 0;     // fork to Health/Check SERVING
  int64_t rss_kb_serving = 0;
  int64_t rss_kb_after_traffic = 0;
  int64_t hwm_kb = 0;  // peak RSS over the whole life
  int describes = 0;   // DescribeImages calls made
  double first_describe_ms = 0;
  double describe_p50_ms = 0;
  int exit_code = -1;  // after SIGTERM
  double stop_s = 0;   // SIGTERM to exit
};

absl::StatusOr<StartupResult> MeasureStartup(const StartupOptions& options);

// "VmRSS" / "VmHWM" of a process, kB; -1 if unreadable.
int64_t ProcStatusKb(int pid, const std::string& key);

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_STARTUP_H_

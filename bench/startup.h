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
  // Drops the database's pages from the page cache (posix_fadvise
  // DONTNEED after fdatasync) before the start: a cold start of this file
  // without root's drop_caches.
  bool cold_cache = true;
  // After the traffic, wait this long for the background integrity check's
  // "ok" line (0: do not wait).
  double integrity_timeout_s = 0;
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
  // Share of the database file's pages in the page cache just before the
  // start (mincore), 0..1.
  double resident_before = -1;
  // The background integrity check's duration, -1 if not seen.
  double integrity_check_s = -1;
  int exit_code = -1;  // after SIGTERM
  double stop_s = 0;   // SIGTERM to exit
};

absl::StatusOr<StartupResult> MeasureStartup(const StartupOptions& options);

// Share of `path`'s pages resident in the page cache, 0..1; -1 if unknown.
double ResidentFraction(const std::string& path);
// Drops `path`'s clean pages from the page cache (after fdatasync); a
// missing file is fine.
absl::Status EvictFromPageCache(const std::string& path);

// "VmRSS" / "VmHWM" of a process, kB; -1 if unreadable.
int64_t ProcStatusKb(int pid, const std::string& key);

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_STARTUP_H_

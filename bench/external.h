// External mode: the bench as a client only, against a real `ecsimage serve`
// process it starts (default flags, access log on, stderr to a file), on a
// SQLite file and on a PostgreSQL database copied from that file with
// `ecsimage db copy`. Each side's CPU comes from /proc (the server process,
// the postgres processes of the throwaway server) and getrusage (the
// bench), read before and after every phase. Every write phase targets
// distinct live images prepared beforehand, and its effect is counted in
// the database after the server has stopped: exactly one change per OK.
#ifndef ECSIMAGE_BENCH_EXTERNAL_H_
#define ECSIMAGE_BENCH_EXTERNAL_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ecsimage::bench {

struct ExternalHooks {
  // Puts the loaded base database of `images` images at `path` (from the
  // cache when there is one); returns the seconds it took.
  std::function<absl::StatusOr<double>(int64_t images, const std::string& path)>
      prepare_db;
  // One JSON line of the run (stdout and --json_out).
  std::function<void(const std::string& line)> emit;
};

// Runs --scenario=external. `failed` is set when a phase had an unexpected
// error or an effect mismatch (the run must then exit non-zero).
absl::Status RunExternal(const ExternalHooks& hooks, bool* failed);

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_EXTERNAL_H_

// Runs a tool on untrusted content (image_convert.h) as a child process
// under limits: the given descriptors become 3, 4, ... in the child and no
// other descriptor of the server is inherited; stdin is /dev/null; address
// space and CPU seconds are capped with setrlimit; the child gets SIGKILL
// when the thread that started it dies, when the wall-clock limit passes or
// when `stop` is set.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FENCED_PROCESS_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FENCED_PROCESS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ecsimage::backend::filesystem {

struct FencedLimits {
  int64_t address_space_bytes = 0;  // 0: none
  int64_t cpu_seconds = 0;          // 0: none
  int64_t wall_ms = 0;              // 0: none
};

struct FencedRun {
  enum class End { kExited, kSignalled, kStopped, kWallLimit };
  End end = End::kExited;
  int exit_code = 0;        // kExited
  int signal = 0;           // kSignalled (SIGXCPU / SIGKILL past a limit, ...)
  std::string stderr_text;  // the first 4 KiB
};

// argv[0] is looked up on PATH when it has no '/'. An exec failure exits
// 127. `on_stdout` sees the child's output as it comes (may be empty).
// Errors only when the child cannot be started at all.
absl::StatusOr<FencedRun> RunFenced(
    const std::vector<std::string>& argv, const std::vector<int>& fds,
    const FencedLimits& limits, const std::atomic<bool>* stop,
    const std::function<void(absl::string_view)>& on_stdout);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FENCED_PROCESS_H_

// What one work item of the filesystem backend does, start to end, on the
// thread the backend gives it (filesystem_backend.cc schedules).
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_WORK_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_WORK_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "service/backend/backend.h"
#include "service/backend/filesystem/filesystem_backend.h"

namespace ecsimage::backend::filesystem {

struct WorkContext {
  Files& files;
  const FilesystemOptions& options;
  const std::atomic<bool>& stop;
  std::atomic<int64_t>& done_bytes;
  std::atomic<int64_t>& total_bytes;
  std::atomic<int64_t>& moved_bytes;
};

struct WorkResult {
  Observation::State state = Observation::State::kDone;
  std::string failure_code;
  std::string failure_message;
  std::string digest;
  int64_t size_gib = 0;
  std::vector<int64_t> disk_sizes_gib;  // import: every disk's, system first
  // The image read has no data (recorded on it as ImageDataMissing).
  bool source_data_missing = false;
};

// Runs `work` to its end: kDone, kFailed (temporary data removed), or — when
// `stop` was set — kCancelled with the checkpoint kept.
WorkResult RunWork(const WorkOrder& work, WorkContext& ctx);

// Removes what `work` wrote: its temporary files and, with `with_data`
// (a cancelled copy or import), the image's data too; an export's partial
// object.
void CleanUpWork(const WorkOrder& work, Files& files,
                 const FilesystemOptions& options, bool with_data);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_WORK_H_

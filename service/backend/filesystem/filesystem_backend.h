// The filesystem backend (data-plane.md §2): image bytes under --data-root,
// one directory per region; the object store is --oss-root with one
// directory per bucket. Each work item runs on its own thread, at most
// `max_concurrent_tasks` at a time; Observe reads what they made durable.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FILESYSTEM_BACKEND_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FILESYSTEM_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/backend/backend.h"
#include "service/backend/filesystem/files.h"

namespace ecsimage::backend::filesystem {

struct FilesystemOptions {
  std::string data_root;
  std::string oss_root;
  // Written into the data root's marker on first use and checked after.
  std::string database_identity;
  // A marker holding this instead (what older versions wrote) is rewritten
  // to `database_identity`; empty: none.
  std::string legacy_identity;
  int max_concurrent_tasks = 2;
  int64_t bandwidth_bytes_per_s = 0;  // 0: unlimited
  // Test hook (data-plane.md §1): while this file exists, a copy whose
  // bytes are all written, verified and in place is still reported as
  // TRANSFERRING (one unit short of done), so a test reaches that row and
  // REGISTERING without sleeping. Empty: none.
  std::string pause_before_registering_file;
  // Runs ExportImage's conversions to another format (image_convert.h);
  // found on PATH without a '/'.
  std::string qemu_img = "qemu-img";
  // Every write goes through this (tests inject faults); null: POSIX.
  Files* files = nullptr;
};

// Checks both roots and the data root's identity marker.
absl::StatusOr<std::unique_ptr<Backend>> NewFilesystemBackend(
    FilesystemOptions options);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_FILESYSTEM_BACKEND_H_

// The filesystem backend's call-time checks of ImportImage's object and
// ExportImage's bucket and prefix (Backend::CheckImportSource,
// CheckExportTarget): the same walk and header reading the task does, read
// only. An I/O error other than "not there" is not a refusal: the task
// meets it again and fails with IOError.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_INPUT_CHECKS_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_INPUT_CHECKS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "service/backend/backend.h"

namespace ecsimage::backend::filesystem {

// `format`: "RAW" or "QCOW2" the object must be, or "" for any.
InputProblem CheckImportObject(const std::string& oss_root,
                               absl::string_view bucket, absl::string_view key,
                               absl::string_view format = "");

InputProblem CheckExportPrefix(const std::string& oss_root,
                               absl::string_view bucket,
                               absl::string_view prefix,
                               absl::string_view image_id);

// The key ExportImage writes for disk `disk` of the image:
// <prefix><image>_system.<raw|qcow2> for the system disk (0),
// <prefix><image>_data<N>.<raw|qcow2> for data disk N (never longer: the
// call-time check of the system disk's key covers every disk's).
std::string ExportObjectKey(absl::string_view prefix,
                            absl::string_view image_id,
                            absl::string_view format, int disk = 0);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_INPUT_CHECKS_H_

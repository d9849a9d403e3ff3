#include "service/backend/filesystem/input_checks.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/backend/filesystem/failure_codes.h"
#include "service/backend/filesystem/image_format.h"
#include "service/backend/filesystem/oss_paths.h"

namespace ecsimage::backend::filesystem {
namespace {

using Kind = InputProblem::Kind;

InputProblem Problem(Kind kind, absl::string_view detail) {
  InputProblem p;
  p.kind = kind;
  p.detail = std::string(detail);
  return p;
}

// A bucket that cannot be opened as a plain directory of the object store
// does not exist for the caller (a bad name, a symlink, nothing there).
InputProblem BucketProblem(const absl::Status& s) {
  if (absl::IsNotFound(s) || absl::IsInvalidArgument(s)) {
    return Problem(Kind::kBucketNotFound, s.message());
  }
  return {};
}

}  // namespace

std::string ExportObjectKey(absl::string_view prefix,
                            absl::string_view image_id,
                            absl::string_view format, int disk) {
  return absl::StrCat(prefix, image_id,
                      disk == 0 ? "_system" : absl::StrCat("_data", disk), ".",
                      absl::AsciiStrToLower(format));
}

InputProblem CheckImportObject(const std::string& oss_root,
                               absl::string_view bucket, absl::string_view key,
                               absl::string_view format_wanted) {
  absl::StatusOr<UniqueFd> dir = OpenBucket(oss_root, bucket);
  if (!dir.ok()) return BucketProblem(dir.status());
  if (absl::Status s = CheckObjectKey(key); !s.ok()) {
    return Problem(Kind::kObjectMalformed, s.message());
  }
  absl::StatusOr<UniqueFd> object = OpenObjectForRead(dir->get(), key);
  if (!object.ok()) {
    if (absl::IsNotFound(object.status())) {
      return Problem(Kind::kObjectNotFound, object.status().message());
    }
    if (absl::IsInvalidArgument(object.status())) {
      return Problem(Kind::kObjectUnreadable, object.status().message());
    }
    return {};
  }
  const DetectedFormat format = DetectFormatOfFd(object->get());
  if (!format.format.empty()) {
    if (format_wanted.empty() || format.format == format_wanted) return {};
    return Problem(Kind::kFormatMismatch,
                   FormatMismatchMessage(format.format, format_wanted));
  }
  if (format.failure_code == kFailUnsupportedFormat) {
    return Problem(Kind::kFormatUnsupported, format.failure_message);
  }
  if (format.failure_code == kFailBackingFile) {
    return Problem(Kind::kBackingFile, format.failure_message);
  }
  if (format.failure_code == kFailInvalidFormat) {
    return Problem(Kind::kFormatCorrupt, format.failure_message);
  }
  return {};
}

InputProblem CheckExportPrefix(const std::string& oss_root,
                               absl::string_view bucket,
                               absl::string_view prefix,
                               absl::string_view image_id) {
  absl::StatusOr<UniqueFd> dir = OpenBucket(oss_root, bucket);
  if (!dir.ok()) return BucketProblem(dir.status());
  // The longer of the two extensions: both formats' keys must be valid.
  const std::string key = ExportObjectKey(prefix, image_id, "qcow2");
  if (absl::Status s = CheckObjectKey(key); !s.ok()) {
    return Problem(Kind::kPrefixMalformed, s.message());
  }
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenObjectParent(dir->get(), key, &name);
  if (!parent.ok() && (absl::IsNotFound(parent.status()) ||
                       absl::IsInvalidArgument(parent.status()))) {
    return Problem(Kind::kPrefixMalformed,
                   absl::StrCat(parent.status().message(),
                                " (the prefix's directories must exist)"));
  }
  return {};
}

}  // namespace ecsimage::backend::filesystem

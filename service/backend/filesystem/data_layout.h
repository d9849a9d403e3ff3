// Where the filesystem backend keeps an image's bytes under --data-root
// (docs/operations.md): <root>/<region>/<image>.img holds the bytes as
// imported (RAW or QCOW2, never padded) and <image>.meta their format, size
// and image digest; the .meta is renamed into place last, so an image has
// data exactly when its .meta exists. Work in progress lives under
// temporary names carrying the lease epoch: .<image>.e<epoch>.part and
// .<image>.e<epoch>.ckpt.
//
// Data disk N of an image has the system disk's names with ".<N>" after
// them: <image>.img.1, <image>.meta.1, .<image>.e<epoch>.part.1, ... (names
// a binary without data disks does not recognise, so that its orphan
// collector never removes them during a rolling update or after a
// rollback). The data disks are published before the system disk, whose
// .meta counts the disks (disks=N) and holds the image digest over them, so
// the system disk's .meta still says that the whole image has data.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_DATA_LAYOUT_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_DATA_LAYOUT_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/backend/filesystem/files.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {

struct ImageMeta {
  std::string format;  // "RAW" | "QCOW2"
  int64_t size = 0;    // bytes of the .img file
  std::string digest;  // this disk's digest, hex
  // The system disk's .meta: how many disks the image has, and (more than
  // one) the image digest over theirs (ImageDigestOfDisks).
  int disks = 1;
  std::string image_digest;
  // The image digest the owner sees.
  const std::string& ImageDigest() const {
    return image_digest.empty() ? digest : image_digest;
  }
};

inline constexpr int kMaxDisks = 17;

// The id the files of disk `disk` of `image_id` are named by: the image id
// for the system disk (0), "<image>#<N>" for data disk N (never a file
// name itself). Every name below takes either.
std::string DiskId(absl::string_view image_id, int disk);

// N when `name` ends in ".<N>", a data disk's number (1-16, no leading
// zero); else 0.
int DataDiskOfName(absl::string_view name);

std::string DataName(absl::string_view image_id);  // <image>.img
std::string MetaName(absl::string_view image_id);  // <image>.meta
std::string PartName(absl::string_view image_id, int64_t epoch);
std::string CkptName(absl::string_view image_id, int64_t epoch);

// Failures, kept until the image's data is deleted: .<image>.failure for
// work on an image (create, import, copy), .task-<task>.failure for an
// export. The first line is the FailureCode, the rest the message.
std::string ImageFailureName(absl::string_view image_id);
std::string TaskFailureName(absl::string_view task_id);
void WriteFailure(Files& files, int dir_fd, const std::string& name,
                  absl::string_view code, absl::string_view message);
// {code, message}; empty when there is none.
std::pair<std::string, std::string> ReadFailure(int dir_fd,
                                                const std::string& name);

// Checks the identity marker of `root` (creating it on an empty root);
// FailedPrecondition on a mismatch. A marker holding `legacy` (non-empty)
// is rewritten to `identity`.
absl::Status CheckRootIdentity(const std::string& root,
                               const std::string& identity,
                               const std::string& legacy = "");

// Opens (creating) the directory of `region_id` under `root`.
absl::StatusOr<UniqueFd> OpenRegionDir(const std::string& root,
                                       absl::string_view region_id);

absl::StatusOr<ImageMeta> ReadMeta(int dir_fd, absl::string_view image_id);

// Makes the finished part file the image's data: writes the .meta, renames
// both into place, syncs the directory.
absl::Status Publish(Files& files, int dir_fd, absl::string_view image_id,
                     const std::string& part, const ImageMeta& meta);

// Renames another epoch's temporary files of `image_id` to `epoch`'s
// names, so a resumed attempt keeps their checkpointed chunks.
void AdoptEarlierAttempt(Files& files, int dir_fd, absl::string_view image_id,
                         int64_t epoch);

// Removes every temporary file of `image_id` and of its data disks (any
// epoch); with `with_data`, their .img and .meta and the image's failure
// record too (the system disk's .meta first). Syncs the directory.
absl::Status RemoveImageFiles(Files& files, int dir_fd,
                              absl::string_view image_id, bool with_data);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_DATA_LAYOUT_H_

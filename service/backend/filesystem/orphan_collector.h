// The collector of files under --data-root that no live image or task owns
// (data-plane.md §2): what a crash between a tombstone and the removal of
// its data, or a failed clean-up, left behind. It recognises the names of
// data_layout.h and asks the database who owns each; a file nobody owns is
// removed once its last change is older than the grace period (two lease
// periods), so work another replica has only just started is never taken.
// Names it does not recognise are never touched; the object store is never
// scanned (an export's partial object is removed by its own clean-up).
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_ORPHAN_COLLECTOR_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_ORPHAN_COLLECTOR_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "service/backend/backend.h"
#include "service/backend/filesystem/files.h"

namespace ecsimage::backend::filesystem {

// What a file in a region directory is, and whose.
struct DataFile {
  enum class Kind {
    kUnknown,       // never removed
    kImageData,     // <image>.img, <image>.meta: wanted while the image lives
    kImageTemp,     // .<image>.e<N>.part|ckpt: while work on it runs
    kImageFailure,  // .<image>.failure: while the image lives
    kExportCkpt,    // .export-<task>.ckpt[.<N>]: while the export runs
    kTaskFailure,   // .task-<task>.failure: while the task's image lives
    kWriteTemp,     // .<name>.tmp of a small write: nobody's once old
  };
  Kind kind = Kind::kUnknown;
  // The image or task id; a data disk's files (<image>.img.<N>, ...) are
  // their image's.
  std::string id;
};
DataFile ClassifyDataFile(absl::string_view name);

// One sweep over every region directory of `data_root`; `now_s` is the
// file system's notion of now (seconds since the epoch). Returns how many
// files it removed.
int CollectOrphanFiles(Files& files, const std::string& data_root,
                       DataOwners& owners, int64_t grace_ms, int64_t now_s);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_ORPHAN_COLLECTOR_H_

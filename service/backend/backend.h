// The seam between the task engine and whatever moves an image's bytes
// (data-plane.md §1). The task engine keeps the state machine (phases,
// leases, the copy-slot limit, progress never backwards); a Backend does the
// work and reports how far it got.
//
// Two calls per engine tick:
//  - Observe(), inside the engine's write transaction, once per work item the
//    engine holds a lease on. It must have no side effect: the transaction
//    may run more than once (scale-out.md §3).
//  - Reconcile(), after that transaction committed, with every work item the
//    engine still holds. The backend starts what is not running (or resumes
//    it from its last checkpoint), cancels what is marked `cancel`, and stops
//    (and cleans up) what is no longer listed. Idempotent.
// DeleteImageData() runs after a DeleteImage tombstone committed.
//
// No gRPC or ECS error codes here: failures are a short FailureCode string
// and a message for the task's owner.
#ifndef ECSIMAGE_SERVICE_BACKEND_BACKEND_H_
#define ECSIMAGE_SERVICE_BACKEND_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace ecsimage::backend {

enum class WorkKind { kCreate, kImport, kExport, kCopy };

// One data disk an import reads (ImportImage's DiskDeviceMapping.N, N >= 2).
struct ImportDisk {
  std::string oss_bucket;
  std::string oss_object;
  std::string format;  // "RAW", "QCOW2", or "" for any
};

// One piece of work, as the engine decided it in a write transaction.
struct WorkOrder {
  WorkKind kind = WorkKind::kCreate;
  // Unique among live work: "copy/<rowid>", "task/<task id>",
  // "create/<image id>".
  std::string key;
  // The task's lease epoch: names temporary data, so that a replica that
  // lost the task never renames over the new holder's work.
  int64_t lease_epoch = 0;
  // The image that receives the bytes (create, import, copy destination) or
  // whose bytes are read (export).
  std::string region_id;
  std::string image_id;
  // Copy: the image read.
  std::string source_region_id;
  std::string source_image_id;
  // Import: the object read; export: the bucket and the key prefix.
  std::string oss_bucket;
  std::string oss_object;
  // Export: "RAW" or "QCOW2", converted when the stored format differs;
  // empty: the stored format. Import: the format the object must have
  // (DiskDeviceMapping.1.Format); empty: any.
  std::string format;
  int64_t size_gib = 0;  // create: the blank disk's size
  // Create: one blank disk per entry (GiB), the system disk first; empty:
  // one disk of size_gib.
  std::vector<int64_t> disk_sizes_gib;
  // Import: the data disks, after the system disk read from oss_bucket /
  // oss_object / format. An image's disks are numbered 0 (system), 1, 2, …
  // in this order; an export writes <prefix><image>_system.<ext> and
  // <prefix><image>_data<N>.<ext>.
  std::vector<ImportDisk> data_disks;
  // A copy in CANCELLING: stop and remove partial data.
  bool cancel = false;
};

// Where the engine's record of a work item stands, in the engine's units
// (MiB for transfers, milliseconds for the simulated snapshot of
// CreateImage).
struct WorkProgress {
  int64_t total = 0;
  int64_t done = 0;
  int64_t started_at_ms = 0;  // when the current phase began (or `since`)
  int64_t now_ms = 0;
};

struct Observation {
  enum class State { kRunning, kDone, kFailed, kCancelled };
  State state = State::kRunning;
  // In WorkProgress's units, never below WorkProgress::done.
  int64_t done = 0;
  // kDone / kCancelled: when it happened (<= now).
  int64_t at_ms = 0;
  // kFailed.
  std::string failure_code;
  std::string failure_message;
  // Import: the size the image gets (GiB, 0 = keep the requested one), and
  // each disk's (its virtual size rounded up to GiB; the system disk first).
  int64_t size_gib = 0;
  std::vector<int64_t> disk_sizes_gib;
  // Import, copy, create: SHA-256 image digest (hex), when known.
  std::string digest;
  // kFailed because the image read (a copy's source, an export's image) has
  // no data: the engine turns that live image UnAvailable, and the backend
  // shows FailureCode ImageDataMissing on it.
  bool source_data_missing = false;
};

// What the owner of an image or task sees of its data (API extension
// fields ImageDigest, FailureCode, FailureMessage); empty when unknown.
struct DataDetails {
  std::string image_digest;  // hex SHA-256 image digest
  std::string failure_code;
  std::string failure_message;
};

// What a call-time look at a request's object-store input found wrong, so
// that ImportImage and ExportImage refuse it before any task exists (the
// domain maps each kind to its catalog entry; docs/operations.md). The task
// still checks again: the object may change after the call.
struct InputProblem {
  enum class Kind {
    kNone,
    kBucketNotFound,     // bad bucket name, or no such bucket
    kObjectMalformed,    // key: empty, absolute, "..", NUL, > 1023 bytes
    kObjectNotFound,     // no such object
    kObjectUnreadable,   // a symlink, FIFO, device or directory on the way
    kPrefixMalformed,    // export: the key the prefix makes is not valid
    kFormatUnsupported,  // VHD / VHDX
    kBackingFile,        // QCOW2 with a backing or external data file
    kFormatCorrupt,      // empty, truncated or impossible QCOW2 header
    kFormatMismatch,     // the content is not the Format the request names
  };
  Kind kind = Kind::kNone;
  std::string detail;  // for the owner: what exactly was found
  bool ok() const { return kind == Kind::kNone; }
};

// Who wants files under the data root, as the orphan collector asks it
// (answers from the database; each call reads on its own).
enum class DataOwner {
  kNone,     // no such image/task, or its image is deleted: nothing wanted
  kKept,     // live: its data (an image) or its failure record (a task)
  kWorking,  // live with work in progress: its temporary files too
};
class DataOwners {
 public:
  virtual ~DataOwners() = default;
  virtual DataOwner OfImage(std::string_view region_id,
                            std::string_view image_id) = 0;
  virtual DataOwner OfTask(std::string_view region_id,
                           std::string_view task_id) = 0;
};

// A snapshot of which images have data, read in one pass (the start-up
// check asks it first; an image it does not list is asked again with
// HasImageData). It may list an image without data only by a collision of
// 64-bit hashes.
class ImageDataIndex {
 public:
  virtual ~ImageDataIndex() = default;
  virtual bool Has(std::string_view region_id,
                   std::string_view image_id) const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "simulated" or "filesystem".
  virtual std::string_view name() const = 0;

  // Fixed time a copy spends in PREPARING and REGISTERING.
  virtual int64_t PrepareMs() const = 0;
  virtual int64_t RegisterMs() const = 0;

  // Inside a write transaction; no side effects.
  virtual Observation Observe(const WorkOrder& work,
                              const WorkProgress& progress) const = 0;

  // After the commit: every work item the engine holds.
  virtual void Reconcile(const std::vector<WorkOrder>& held) = 0;

  // For DescribeImages / DescribeTasks (owner only); may read files.
  virtual DataDetails ImageDetails(std::string_view /*region_id*/,
                                   std::string_view /*image_id*/) const {
    return {};
  }
  // Milliseconds of work left for `work_key`, from the rate measured so
  // far; nullopt when the backend does not know (the engine then estimates
  // from its configured rate).
  virtual std::optional<int64_t> RemainingMs(
      std::string_view /*work_key*/) const {
    return std::nullopt;
  }
  virtual DataDetails TaskDetails(std::string_view /*region_id*/,
                                  std::string_view /*task_id*/) const {
    return {};
  }

  // Call-time checks of ImportImage's object and ExportImage's bucket and
  // key prefix (the export's key is <prefix><image id>_system.<ext>). Read
  // only, outside any transaction; the simulated backend finds nothing.
  // `format`: "RAW" or "QCOW2" the object must be, or "" for any.
  virtual InputProblem CheckImportSource(std::string_view /*bucket*/,
                                         std::string_view /*object*/,
                                         std::string_view /*format*/) const {
    return {};
  }
  virtual InputProblem CheckExportTarget(std::string_view /*bucket*/,
                                         std::string_view /*prefix*/,
                                         std::string_view /*image_id*/) const {
    return {};
  }

  // Removes files nobody owns (a crash between a tombstone and the removal
  // of its data, a failed clean-up) whose last change is at least
  // `grace_ms` old; never a file it does not recognise. Called after every
  // engine tick; sweeps at most once per grace_ms / 2. Returns how many it
  // removed. Outside any transaction; safe on several replicas at once.
  virtual int CollectOrphans(DataOwners& /*owners*/, int64_t /*grace_ms*/) {
    return 0;
  }

  // Whether the image's bytes are there (a backend that holds none: always).
  // Read only; the start-up check asks it of every finished image.
  virtual bool HasImageData(std::string_view /*region_id*/,
                            std::string_view /*image_id*/) const {
    return true;
  }

  // The background data check found the image without data (the engine
  // then turns it UnAvailable): the backend shows FailureCode
  // ImageDataMissing on it, as when a task finds so.
  virtual void NoteDataMissing(std::string_view /*region_id*/,
                               std::string_view /*image_id*/) {}

  // The index above, or null when asking HasImageData image by image is
  // as cheap (a backend that holds no bytes).
  virtual std::unique_ptr<ImageDataIndex> IndexImageData() const {
    return nullptr;
  }

  // After a DeleteImage tombstone committed: frees the image's bytes.
  virtual absl::Status DeleteImageData(std::string_view region_id,
                                       std::string_view image_id) = 0;
};

// The default backend: today's timer (progress at a configured rate, fixed
// phase times), the one SimulationControl drives. Moves no bytes.
struct SimulatedOptions {
  int64_t transfer_rate_mib_per_s = 1024;
  int64_t prepare_ms = 2000;     // PREPARING
  int64_t register_ms = 2000;    // REGISTERING
  int64_t cancelling_ms = 1000;  // CANCELLING
};
std::unique_ptr<Backend> NewSimulatedBackend(SimulatedOptions options);

}  // namespace ecsimage::backend

#endif  // ECSIMAGE_SERVICE_BACKEND_BACKEND_H_

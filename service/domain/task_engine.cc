// Moves copies, import/export tasks and created images along by themselves
// (TaskEngine), and the single-step moves everybody shares (copy_moves.h).
//
// Every timing decision is taken from stored fields (phase_changed_at_ms,
// transferred_mib, created_at_ms, creating_remaining_ms), never from memory,
// so a new engine on the same database continues where the old one stopped.
// The only thing the engine remembers is when it last ticked, to know how
// much simulated time a tick covers; the first tick of an engine only
// records it, so downtime is never counted as work done.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/backend/backend.h"
#include "service/domain/copy_moves.h"
#include "service/domain/copy_phases.h"
#include "service/domain/data_presence.h"
#include "service/domain/errors.h"
#include "service/domain/image_domain.h"
#include "service/domain/import_disks.h"
#include "storage/image_store.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr std::string_view kImageCreating = "Creating";
constexpr std::string_view kImageAvailable = "Available";
constexpr std::string_view kImageCreateFailed = "CreateFailed";

// Rows one tick looks at, of each kind.
constexpr int64_t kTickBatch = 10000;

int64_t Rate(const DomainOptions& options) {
  return std::max<int64_t>(1, options.transfer_rate_mib_per_s);
}

// Milliseconds to move `mib` at the configured rate, rounded up.
int64_t TransferMs(int64_t mib, const DomainOptions& options) {
  if (mib <= 0) return 0;
  const int64_t rate = Rate(options);
  return (mib * 1000 + rate - 1) / rate;
}

int32_t PercentOf(int64_t done, int64_t total) {
  if (total <= 0) return 100;
  return static_cast<int32_t>(std::clamp<int64_t>(done * 100 / total, 0, 100));
}

absl::StatusOr<storage::ImageRow> ImageOf(storage::ReadTxn& txn,
                                          int64_t rowid) {
  ASSIGN_OR_RETURN(std::optional<storage::ImageRow> image,
                   txn.GetImageByRowid(rowid));
  if (!image.has_value()) {
    return absl::InternalError(
        absl::StrCat("task refers to missing image rowid ", rowid));
  }
  return *std::move(image);
}

// Writes the copy's progress fields and mirrors the progress on its (live)
// destination image.
// A live image whose data the backend found missing (data-plane.md §2):
// UnAvailable, so that nothing copies, exports or starts from it; its
// FailureCode (ImageDataMissing) comes from the backend.
absl::Status MarkDataMissing(storage::WriteTxn& txn, int64_t image_rowid) {
  ASSIGN_OR_RETURN(storage::ImageRow image, ImageOf(txn, image_rowid));
  if (image.deleted_at_ms.has_value() ||
      (image.status != kImageAvailable && image.status != "Deprecated")) {
    return absl::OkStatus();
  }
  image.status = "UnAvailable";
  return txn.UpdateImage(image);
}

absl::Status WriteCopyProgress(storage::WriteTxn& txn,
                               const storage::CopyTaskRow& copy) {
  RETURN_IF_ERROR(txn.UpdateCopy(copy));
  ASSIGN_OR_RETURN(storage::ImageRow image,
                   ImageOf(txn, copy.dest_image_rowid));
  if (image.deleted_at_ms.has_value() || image.progress == copy.progress) {
    return absl::OkStatus();
  }
  image.progress = copy.progress;
  return txn.UpdateImage(image);
}

absl::Status WriteTaskProgress(storage::WriteTxn& txn,
                               const storage::IoTaskRow& task) {
  RETURN_IF_ERROR(txn.UpdateIoTask(task));
  if (task.action != kActionImport) return absl::OkStatus();
  ASSIGN_OR_RETURN(storage::ImageRow image, ImageOf(txn, task.image_rowid));
  if (image.deleted_at_ms.has_value() || image.progress == task.progress) {
    return absl::OkStatus();
  }
  image.progress = task.progress;
  return txn.UpdateImage(image);
}

backend::WorkOrder CopyOrder(const storage::CopyTaskRow& copy) {
  backend::WorkOrder work;
  work.kind = backend::WorkKind::kCopy;
  work.key = absl::StrCat("copy/", copy.rowid);
  work.lease_epoch = copy.lease_epoch;
  work.region_id = copy.dest_region_id;
  work.image_id = copy.dest_image_id;
  work.source_region_id = copy.source_region_id;
  work.source_image_id = copy.source_image_id;
  work.cancel = copy.phase == PhaseName(CopyPhase::kCancelling);
  return work;
}

backend::WorkOrder IoTaskOrder(const storage::IoTaskRow& task) {
  backend::WorkOrder work;
  work.kind = task.action == kActionImport ? backend::WorkKind::kImport
                                           : backend::WorkKind::kExport;
  work.key = absl::StrCat("task/", task.task_id);
  work.lease_epoch = task.lease_epoch;
  work.region_id = task.region_id;
  work.image_id = task.image_id;
  work.oss_bucket = task.oss_bucket;
  work.oss_object = task.oss_object;
  // Export: the format written, empty on exports recorded before schema 9
  // (the stored format, as the binary that recorded them wrote). Import:
  // the format the object must have, empty for any.
  work.format = task.image_format;
  absl::StatusOr<std::vector<backend::ImportDisk>> data_disks =
      DecodeImportDisks(task.data_disks);
  if (data_disks.ok()) {
    work.data_disks = *std::move(data_disks);
  } else {
    // Not what ImportImage wrote: a disk with no bucket, which the backend
    // fails the import on (InvalidBucket), rather than an image missing a
    // disk.
    work.data_disks.push_back({});
  }
  return work;
}

backend::WorkOrder CreateOrder(const storage::ImageRow& image) {
  backend::WorkOrder work;
  work.kind = backend::WorkKind::kCreate;
  work.key = absl::StrCat("create/", image.image_id);
  work.region_id = image.region_id;
  work.image_id = image.image_id;
  work.size_gib = image.size_gib;
  // One blank disk per mapping, the system disk first.
  for (const storage::DiskMappingRow& disk : image.disks) {
    if (disk.type == "system") work.disk_sizes_gib.push_back(disk.size_gib);
  }
  for (const storage::DiskMappingRow& disk : image.disks) {
    if (disk.type != "system") work.disk_sizes_gib.push_back(disk.size_gib);
  }
  return work;
}

// What one tick hands the backend after its commit.
struct TickWork {
  backend::Backend& backend;
  std::vector<backend::WorkOrder> held;
};

// Advances one non-QUEUED copy through every phase change that falls in
// (since_ms, now_ms], each at the time the backend says it happens.
absl::Status AdvanceCopy(storage::WriteTxn& txn, storage::CopyTaskRow& copy,
                         int64_t since_ms, int64_t now_ms, TickWork& work) {
  const backend::Backend& backend = work.backend;
  while (true) {
    std::optional<CopyPhase> phase = ParsePhase(copy.phase);
    if (!phase.has_value()) {
      return absl::InternalError(
          absl::StrCat("copy ", copy.rowid, " has unknown phase"));
    }
    std::optional<std::pair<CopyPhase, int64_t>> next;  // phase, at
    switch (*phase) {
      case CopyPhase::kPreparing:
        next = {CopyPhase::kTransferring,
                copy.phase_changed_at_ms + backend.PrepareMs()};
        break;
      case CopyPhase::kRegistering:
        next = {CopyPhase::kSucceeded,
                copy.phase_changed_at_ms + backend.RegisterMs()};
        break;
      case CopyPhase::kCancelling: {
        backend::WorkProgress at;
        at.total = copy.total_mib;
        at.done = copy.transferred_mib;
        at.started_at_ms = copy.phase_changed_at_ms;
        at.now_ms = now_ms;
        const backend::Observation obs = backend.Observe(CopyOrder(copy), at);
        if (obs.state != backend::Observation::State::kCancelled) break;
        next = {CopyPhase::kCancelled, std::min(obs.at_ms, now_ms)};
        break;
      }
      case CopyPhase::kTransferring: {
        const int64_t start = std::max(copy.phase_changed_at_ms, since_ms);
        backend::WorkProgress at;
        at.total = copy.total_mib;
        at.done = copy.transferred_mib;
        at.started_at_ms = start;
        at.now_ms = now_ms;
        const backend::Observation obs = backend.Observe(CopyOrder(copy), at);
        if (obs.state == backend::Observation::State::kDone) {
          next = {CopyPhase::kRegistering, std::max(obs.at_ms, start)};
          break;
        }
        if (obs.state == backend::Observation::State::kFailed) {
          if (obs.source_data_missing) {
            RETURN_IF_ERROR(MarkDataMissing(txn, copy.source_image_rowid));
          }
          next = {CopyPhase::kFailed, now_ms};
          break;
        }
        if (obs.done <= copy.transferred_mib) return absl::OkStatus();
        copy.transferred_mib = std::min(copy.total_mib, obs.done);
        copy.progress = std::max(
            copy.progress,
            std::clamp(PercentOf(copy.transferred_mib, copy.total_mib), 1, 99));
        return WriteCopyProgress(txn, copy);
      }
      case CopyPhase::kQueued:  // started by the caller, under the limit
      case CopyPhase::kSucceeded:
      case CopyPhase::kFailed:
      case CopyPhase::kCancelled:
        return absl::OkStatus();
    }
    if (!next.has_value() || next->second > now_ms) return absl::OkStatus();
    RETURN_IF_ERROR(ApplyCopyPhase(txn, copy, next->first, next->second));
  }
}

absl::Status AdvanceIoTask(storage::WriteTxn& txn, storage::IoTaskRow& task,
                           int64_t since_ms, int64_t now_ms,
                           const backend::Backend& backend) {
  if (task.status == kTaskWaiting) {
    RETURN_IF_ERROR(ApplyTaskStatus(txn, task, kTaskProcessing, now_ms));
  }
  if (task.status != kTaskProcessing) return absl::OkStatus();
  // A task works from the moment it was created; before it, there is
  // nothing to count.
  const int64_t start = std::max(task.created_at_ms, since_ms);
  if (now_ms <= start) return absl::OkStatus();
  backend::WorkProgress at;
  at.total = task.total_mib;
  at.done = task.transferred_mib;
  at.started_at_ms = start;
  at.now_ms = now_ms;
  const backend::Observation obs = backend.Observe(IoTaskOrder(task), at);
  if (obs.state == backend::Observation::State::kFailed) {
    if (obs.source_data_missing && task.action == kActionExport) {
      RETURN_IF_ERROR(MarkDataMissing(txn, task.image_rowid));
    }
    return ApplyTaskStatus(txn, task, kTaskFailed, now_ms);
  }
  if (obs.state == backend::Observation::State::kDone) {
    if (task.action == kActionImport) {
      // An imported disk larger than asked: the image (its system disk) and
      // each disk mapping grow to it.
      ASSIGN_OR_RETURN(storage::ImageRow image, ImageOf(txn, task.image_rowid));
      if (obs.size_gib > image.size_gib) {
        image.size_gib = static_cast<int32_t>(obs.size_gib);
        RETURN_IF_ERROR(txn.UpdateImage(image));
      }
      for (size_t i = 0;
           i < obs.disk_sizes_gib.size() && i < image.disks.size(); ++i) {
        if (obs.disk_sizes_gib[i] > image.disks[i].size_gib) {
          RETURN_IF_ERROR(txn.SetDiskSize(image.rowid, static_cast<int>(i),
                                          obs.disk_sizes_gib[i]));
        }
      }
    }
    return ApplyTaskStatus(txn, task, kTaskFinished,
                           std::min(std::max(obs.at_ms, start), now_ms));
  }
  if (obs.done <= task.transferred_mib) return absl::OkStatus();
  task.transferred_mib = std::min(task.total_mib, obs.done);
  task.progress =
      std::max(task.progress,
               std::min(PercentOf(task.transferred_mib, task.total_mib), 99));
  return WriteTaskProgress(txn, task);
}

absl::Status AdvanceCreatingImage(storage::WriteTxn& txn,
                                  storage::ImageRow& image, int64_t since_ms,
                                  int64_t now_ms, const DomainOptions& options,
                                  const backend::Backend& backend) {
  const int64_t start = std::max(image.created_at_ms, since_ms);
  if (now_ms - start <= 0) return absl::OkStatus();
  const int64_t before = image.creating_remaining_ms;
  backend::WorkProgress at;
  at.total = before;
  at.done = 0;
  at.started_at_ms = start;
  at.now_ms = now_ms;
  const backend::Observation obs = backend.Observe(CreateOrder(image), at);
  if (obs.state == backend::Observation::State::kFailed) {
    image.status = std::string(kImageCreateFailed);
    image.creating_remaining_ms = 0;
    return txn.UpdateImage(image);
  }
  if (obs.state == backend::Observation::State::kRunning && obs.done <= 0) {
    return absl::OkStatus();
  }
  image.creating_remaining_ms = obs.state == backend::Observation::State::kDone
                                    ? 0
                                    : std::max<int64_t>(1, before - obs.done);
  if (image.creating_remaining_ms == 0) {
    image.status = std::string(kImageAvailable);
    image.progress = 100;
  } else {
    const int64_t total = std::max<int64_t>(
        before, int64_t{image.size_gib} * options.create_ms_per_gib);
    image.progress = std::max(
        image.progress,
        std::min(PercentOf(total - image.creating_remaining_ms, total), 99));
  }
  return txn.UpdateImage(image);
}

// Advances the running tasks whose lease `owner` holds at `lease_now_ms`.
absl::Status AdvanceAll(storage::WriteTxn& txn, int64_t since_ms,
                        int64_t now_ms, const DomainOptions& options,
                        const std::string& owner, int64_t lease_now_ms,
                        TickWork& work) {
  ASSIGN_OR_RETURN(std::vector<storage::CopyTaskRow> copies,
                   txn.ListActiveCopies(kTickBatch, owner, lease_now_ms));
  // Running copies first, so that the slots they free are seen by the
  // QUEUED ones below.
  for (storage::CopyTaskRow& copy : copies) {
    if (copy.phase == PhaseName(CopyPhase::kQueued)) continue;
    RETURN_IF_ERROR(AdvanceCopy(txn, copy, since_ms, now_ms, work));
  }
  // QUEUED copies start oldest first while their account has room in the
  // destination region.
  std::map<std::pair<std::string, std::string>, int64_t> running;
  for (storage::CopyTaskRow& copy : copies) {
    if (copy.phase != PhaseName(CopyPhase::kQueued)) continue;
    auto key = std::make_pair(copy.account_id, copy.dest_region_id);
    auto it = running.find(key);
    if (it == running.end()) {
      ASSIGN_OR_RETURN(
          int64_t count,
          txn.CountRunningCopies(copy.account_id, copy.dest_region_id));
      it = running.emplace(key, count).first;
    }
    if (it->second >= options.max_running_copies) continue;
    RETURN_IF_ERROR(ApplyCopyPhase(txn, copy, CopyPhase::kPreparing, now_ms));
    ++it->second;
  }
  for (const storage::CopyTaskRow& copy : copies) {
    std::optional<CopyPhase> phase = ParsePhase(copy.phase);
    if (phase.has_value() && *phase != CopyPhase::kQueued &&
        !IsTerminal(*phase)) {
      work.held.push_back(CopyOrder(copy));
    }
  }

  ASSIGN_OR_RETURN(std::vector<storage::IoTaskRow> tasks,
                   txn.ListActiveIoTasks(kTickBatch, owner, lease_now_ms));
  for (storage::IoTaskRow& task : tasks) {
    RETURN_IF_ERROR(AdvanceIoTask(txn, task, since_ms, now_ms, work.backend));
    if (!IsTerminalTaskStatus(task.status)) {
      work.held.push_back(IoTaskOrder(task));
    }
  }

  ASSIGN_OR_RETURN(std::vector<storage::ImageRow> creating,
                   txn.ListCreatingImages(kTickBatch, owner, lease_now_ms));
  for (storage::ImageRow& image : creating) {
    RETURN_IF_ERROR(AdvanceCreatingImage(txn, image, since_ms, now_ms, options,
                                         work.backend));
    if (image.status == kImageCreating) work.held.push_back(CreateOrder(image));
  }
  return absl::OkStatus();
}

// The database's answer to the backend's orphan collector. On any doubt
// (a read that failed) the file is wanted: the collector never removes
// what it cannot prove nobody owns.
class StoreDataOwners final : public backend::DataOwners {
 public:
  explicit StoreDataOwners(storage::Store& store) : store_(store) {}

  backend::DataOwner OfImage(std::string_view region_id,
                             std::string_view image_id) override {
    backend::DataOwner out = backend::DataOwner::kKept;
    store_
        .RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
          ASSIGN_OR_RETURN(
              std::optional<storage::ImageRow> image,
              txn.GetImage(std::string(region_id), std::string(image_id)));
          out = Of(image);
          return absl::OkStatus();
        })
        .IgnoreError();
    return out;
  }

  backend::DataOwner OfTask(std::string_view region_id,
                            std::string_view task_id) override {
    backend::DataOwner out = backend::DataOwner::kKept;
    store_
        .RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
          ASSIGN_OR_RETURN(std::optional<storage::IoTaskRow> task,
                           txn.GetIoTask(std::string(task_id)));
          if (!task.has_value() || task->region_id != region_id) {
            out = backend::DataOwner::kNone;
            return absl::OkStatus();
          }
          ASSIGN_OR_RETURN(std::optional<storage::ImageRow> image,
                           txn.GetImageByRowid(task->image_rowid));
          out = Of(image);
          if (out != backend::DataOwner::kNone) {
            out = IsTerminalTaskStatus(task->status)
                      ? backend::DataOwner::kKept
                      : backend::DataOwner::kWorking;
          }
          return absl::OkStatus();
        })
        .IgnoreError();
    return out;
  }

 private:
  static backend::DataOwner Of(const std::optional<storage::ImageRow>& image) {
    if (!image.has_value() || image->deleted_at_ms.has_value()) {
      return backend::DataOwner::kNone;
    }
    return image->status == "Waiting" || image->status == kImageCreating
               ? backend::DataOwner::kWorking
               : backend::DataOwner::kKept;
  }

  storage::Store& store_;
};

}  // namespace

absl::Status InvalidTransitionError(std::string_view resource,
                                    std::string_view id, std::string_view from,
                                    std::string_view to) {
  return Error(Err::kInvalidTransition)
      .Meta(resource == "task" ? "taskId" : "imageId", id)
      .Meta("from", from)
      .Meta("to", to)
      .Precondition(std::string(resource) + "/" + std::string(id),
                    std::string(from) + " -> " + std::string(to));
}

absl::Status ApplyCopyPhase(storage::WriteTxn& txn, storage::CopyTaskRow& copy,
                            CopyPhase to, int64_t now_ms) {
  std::optional<CopyPhase> from = ParsePhase(copy.phase);
  if (!from.has_value()) {
    return absl::InternalError(
        absl::StrCat("copy ", copy.rowid, " has unknown phase"));
  }
  if (!IsLegalMove(*from, to)) {
    return InvalidTransitionError("image", copy.dest_image_id, copy.phase,
                                  PhaseName(to));
  }
  ASSIGN_OR_RETURN(storage::ImageRow image,
                   ImageOf(txn, copy.dest_image_rowid));

  copy.phase = std::string(PhaseName(to));
  copy.phase_changed_at_ms = now_ms;
  switch (to) {
    case CopyPhase::kTransferring:
      copy.progress = std::max(copy.progress, 1);
      break;
    case CopyPhase::kRegistering:
    case CopyPhase::kSucceeded:
      copy.progress = 100;
      copy.transferred_mib = copy.total_mib;
      break;
    default:
      break;
  }
  RETURN_IF_ERROR(txn.UpdateCopy(copy));

  if (to == CopyPhase::kCancelled) {
    image.deleted_at_ms = now_ms;
  } else {
    image.status = std::string(DestinationStatus(to));
    image.progress = copy.progress;
  }
  return txn.UpdateImage(image);
}

absl::Status SetCopyProgress(storage::WriteTxn& txn, storage::CopyTaskRow& copy,
                             int32_t progress) {
  progress = std::clamp(progress, 1, 99);
  if (progress <= copy.progress) return absl::OkStatus();
  copy.progress = progress;
  copy.transferred_mib =
      std::max(copy.transferred_mib, copy.total_mib * progress / 100);
  return WriteCopyProgress(txn, copy);
}

int64_t CopyRemainingMs(const storage::CopyTaskRow& copy,
                        const DomainOptions& options) {
  std::optional<CopyPhase> phase = ParsePhase(copy.phase);
  if (!phase.has_value()) return 0;
  switch (*phase) {
    case CopyPhase::kQueued:
    case CopyPhase::kPreparing:
      return kCopyPrepareMs + TransferMs(copy.total_mib, options) +
             kCopyRegisterMs;
    case CopyPhase::kTransferring:
      return TransferMs(copy.total_mib - copy.transferred_mib, options) +
             kCopyRegisterMs;
    case CopyPhase::kRegistering:
      return kCopyRegisterMs;
    case CopyPhase::kCancelling:
      return kCopyCancellingMs;
    case CopyPhase::kSucceeded:
    case CopyPhase::kFailed:
    case CopyPhase::kCancelled:
      return 0;
  }
  return 0;
}

bool IsTerminalTaskStatus(std::string_view status) {
  return status == kTaskFinished || status == kTaskFailed ||
         status == kTaskCancelled;
}

bool IsLegalTaskMove(std::string_view from, std::string_view to) {
  if (from == kTaskWaiting) {
    return to == kTaskProcessing || to == kTaskFailed || to == kTaskCancelled;
  }
  if (from == kTaskProcessing) {
    return to == kTaskFinished || to == kTaskFailed || to == kTaskCancelled;
  }
  return false;
}

absl::Status ApplyTaskStatus(storage::WriteTxn& txn, storage::IoTaskRow& task,
                             std::string_view to, int64_t now_ms) {
  if (!IsLegalTaskMove(task.status, to)) {
    return InvalidTransitionError("task", task.task_id, task.status, to);
  }
  task.status = std::string(to);
  if (to == kTaskFinished) {
    task.progress = 100;
    task.transferred_mib = task.total_mib;
  }
  if (IsTerminalTaskStatus(to)) task.finished_at_ms = now_ms;
  RETURN_IF_ERROR(txn.UpdateIoTask(task));
  if (task.action != kActionImport) return absl::OkStatus();

  // An import's image follows its task; an export's stays as it was.
  ASSIGN_OR_RETURN(storage::ImageRow image, ImageOf(txn, task.image_rowid));
  if (to == kTaskProcessing) {
    image.status = std::string(kImageCreating);
    image.progress = task.progress;
  } else if (to == kTaskFinished) {
    image.status = std::string(kImageAvailable);
    image.progress = 100;
    image.creating_remaining_ms = 0;
  } else if (to == kTaskFailed) {
    image.status = std::string(kImageCreateFailed);
    image.creating_remaining_ms = 0;
  } else {  // Cancelled
    image.deleted_at_ms = now_ms;
  }
  return txn.UpdateImage(image);
}

absl::Status SetTaskProgress(storage::WriteTxn& txn, storage::IoTaskRow& task,
                             int32_t progress) {
  progress = std::clamp(progress, 0, 99);
  if (progress <= task.progress) return absl::OkStatus();
  task.progress = progress;
  task.transferred_mib =
      std::max(task.transferred_mib, task.total_mib * progress / 100);
  return WriteTaskProgress(txn, task);
}

int64_t IoTaskRemainingMs(const storage::IoTaskRow& task,
                          const DomainOptions& options) {
  if (IsTerminalTaskStatus(task.status)) return 0;
  return std::max<int64_t>(
      1, TransferMs(task.total_mib - task.transferred_mib, options));
}

TaskEngine::TaskEngine(storage::Store& store, Clock& clock,
                       DomainOptions options, TaskLeaseOptions lease,
                       Clock* lease_clock)
    : store_(store),
      clock_(clock),
      lease_clock_(lease_clock != nullptr ? *lease_clock : clock),
      options_(std::move(options)),
      lease_(std::move(lease)) {
  if (options_.backend == nullptr) {
    backend::SimulatedOptions simulated;
    simulated.transfer_rate_mib_per_s = options_.transfer_rate_mib_per_s;
    simulated.prepare_ms = kCopyPrepareMs;
    simulated.register_ms = kCopyRegisterMs;
    simulated.cancelling_ms = kCopyCancellingMs;
    owned_backend_ = backend::NewSimulatedBackend(simulated);
  }
  backend_ =
      options_.backend != nullptr ? options_.backend : owned_backend_.get();
}

absl::Status TaskEngine::ReleaseLeases() {
  absl::Status status =
      store_.RunInWriteTransaction([&](storage::WriteTxn& txn) {
        return txn.ReleaseTaskLeases(lease_.owner);
      });
  if (status.ok()) leases_held_.store(0);
  return status;
}

absl::Status TaskEngine::Tick() {
  const int64_t now_ms = clock_.NowMs();
  // The first tick claims leases but moves nothing: it only records the
  // time, so that downtime is never counted as work done.
  const bool first = last_tick_ms_ < 0;
  // A clock that stepped back counts as no time at all.
  const int64_t since_ms = first ? now_ms : std::min(last_tick_ms_, now_ms);
  const int64_t lease_now_ms = lease_clock_.NowMs();
  storage::WriteTxn::LeaseClaim claim;
  TickWork work{*backend_, {}};
  // The callback may run more than once (a store may restart the
  // transaction): it only reads and writes through `txn`, and starts over
  // the list of work it hands the backend.
  absl::Status status =
      store_.RunInWriteTransaction([&](storage::WriteTxn& txn) {
        work.held.clear();
        ASSIGN_OR_RETURN(claim,
                         txn.ClaimTaskLeases(lease_.owner, lease_now_ms,
                                             lease_.lease_ms, kTickBatch));
        if (first) return absl::OkStatus();
        return AdvanceAll(txn, since_ms, now_ms, options_, lease_.owner,
                          lease_now_ms, work);
      });
  // On failure nothing was written: the next tick covers this one's time.
  if (status.ok()) {
    // Work decided in the transaction starts only after its commit.
    if (!first) backend_->Reconcile(work.held);
    last_tick_ms_ = now_ms;
    // Files nobody owns, two lease terms old, go (the backend sweeps at
    // most once a term).
    if (!first) {
      StoreDataOwners owners(store_);
      backend_->CollectOrphans(owners, 2 * lease_.lease_ms);
    }
    leases_held_.store(claim.held);
    takeovers_.fetch_add(claim.taken_over);
    // A slice of the background data check.
    if (!first && options_.data_check_per_tick > 0) status = CheckDataSlice();
  }
  return status;
}

absl::Status TaskEngine::CheckDataSlice() {
  ASSIGN_OR_RETURN(DataCheckSlice slice,
                   CheckImageDataSlice(store_, *backend_, data_check_after_,
                                       options_.data_check_per_tick));
  data_check_after_ = slice.next;
  for (const storage::ImageRow& image : slice.missing) {
    // The failure first, so that an UnAvailable image always shows why.
    backend_->NoteDataMissing(image.region_id, image.image_id);
    RETURN_IF_ERROR(store_.RunInWriteTransaction([&](storage::WriteTxn& txn) {
      return MarkDataMissing(txn, image.rowid);
    }));
    std::string line = absl::StrCat(
        "{\"level\":\"warning\",\"msg\":\"image data missing\",\"region\":\"",
        absl::CHexEscape(image.region_id), "\",\"imageId\":\"",
        absl::CHexEscape(image.image_id), "\",\"status\":\"UnAvailable\"}\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  return absl::OkStatus();
}

}  // namespace ecsimage::domain

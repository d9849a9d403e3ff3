// SimulationControl (api.md §1, §5): the operator drives the caller's own
// copies, import/export tasks and created images along legal transitions,
// so tests and demos reach every row of the tables without sleeping.
//
// Under simulation nothing moves by itself, so QUEUED -> PREPARING does not
// wait for the running-copy limit: the operator decides. Staying in the same
// phase is no move (InvalidTransition), except a progress update of a
// TRANSFERRING copy or a Processing task.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/domain/copy_moves.h"
#include "service/domain/copy_phases.h"
#include "service/domain/errors.h"
#include "service/domain/image_domain.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "storage/image_store.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr std::string_view kImageCreating = "Creating";
constexpr std::string_view kImageAvailable = "Available";
constexpr std::string_view kImageCreateFailed = "CreateFailed";

bool IsTaskStatus(std::string_view word) {
  return word == kTaskWaiting || word == kTaskProcessing ||
         word == kTaskFinished || word == kTaskFailed || word == kTaskCancelled;
}

// The words AdvanceTask understands; anything else is InvalidParameter. A
// known word that does not fit the target is InvalidTransition.
bool IsKnownTarget(std::string_view word) {
  return ParsePhase(word).has_value() || IsTaskStatus(word) ||
         word == kImageAvailable;
}

// Exactly one of ImageId and TaskId.
absl::Status CheckTarget(std::string_view image_id, std::string_view task_id) {
  if (image_id.empty() && task_id.empty()) {
    return Error(Err::kMissingParameter).Param("ImageId");
  }
  if (!image_id.empty() && !task_id.empty()) {
    return Error(Err::kInvalidParameter)
        .Param("TaskId", "give ImageId or TaskId, not both");
  }
  return absl::OkStatus();
}

absl::Status ProgressBackwards(int32_t current) {
  return Error(Err::kInvalidParameter)
      .Param("Progress", "progress never goes backwards")
      .Meta("progress", PercentString(current));
}

// The caller's live image: in `region_id` when given, else in whichever
// region holds it (custom image ids are unique across regions).
absl::StatusOr<storage::ImageRow> FindOwnImage(storage::ReadTxn& txn,
                                               const Caller& caller,
                                               std::string_view region_id,
                                               std::string_view image_id) {
  if (!region_id.empty()) {
    RETURN_IF_ERROR(CheckRegion(txn, region_id));
    return OwnLiveImage(txn, caller, region_id, image_id);
  }
  ASSIGN_OR_RETURN(std::vector<storage::RegionRow> regions, txn.ListRegions());
  for (const storage::RegionRow& region : regions) {
    absl::StatusOr<storage::ImageRow> image =
        OwnLiveImage(txn, caller, region.region_id, image_id);
    if (image.ok() || image.status().code() != absl::StatusCode::kNotFound) {
      return image;
    }
  }
  return ImageNotFound(region_id, image_id);
}

absl::StatusOr<storage::IoTaskRow> FindOwnTask(storage::ReadTxn& txn,
                                               const Caller& caller,
                                               std::string_view region_id,
                                               std::string_view task_id) {
  if (!region_id.empty()) RETURN_IF_ERROR(CheckRegion(txn, region_id));
  return OwnTask(txn, caller, region_id, task_id);
}

// ImageId and Status of the image a task works on, as it is now.
absl::Status FillImageOf(storage::ReadTxn& txn, int64_t image_rowid,
                         v1::TaskStateResponse* resp) {
  ASSIGN_OR_RETURN(std::optional<storage::ImageRow> image,
                   txn.GetImageByRowid(image_rowid));
  if (!image.has_value()) {
    return absl::InternalError("task refers to a missing image");
  }
  resp->set_image_id(image->image_id);
  resp->set_status(image->deleted_at_ms.has_value() ? "" : image->status);
  return absl::OkStatus();
}

absl::Status FillCopyState(storage::ReadTxn& txn,
                           const storage::CopyTaskRow& copy,
                           v1::TaskStateResponse* resp) {
  resp->set_phase(copy.phase);
  resp->set_progress(PercentString(copy.progress));
  return FillImageOf(txn, copy.dest_image_rowid, resp);
}

absl::Status FillTaskState(storage::ReadTxn& txn,
                           const storage::IoTaskRow& task,
                           v1::TaskStateResponse* resp) {
  resp->set_task_id(task.task_id);
  resp->set_phase(task.status);
  resp->set_progress(PercentString(task.progress));
  return FillImageOf(txn, task.image_rowid, resp);
}

void FillImageState(const storage::ImageRow& image,
                    v1::TaskStateResponse* resp) {
  resp->set_image_id(image.image_id);
  resp->set_phase(image.status);
  resp->set_status(image.status);
  resp->set_progress(PercentString(image.progress));
}

absl::Status AdvanceCopy(storage::WriteTxn& txn, storage::CopyTaskRow& copy,
                         std::string_view target, int32_t progress,
                         int64_t now_ms) {
  const std::optional<CopyPhase> from = ParsePhase(copy.phase);
  const std::optional<CopyPhase> to = ParsePhase(target);
  const absl::Status refused =
      InvalidTransitionError("image", copy.dest_image_id, copy.phase, target);
  if (!from.has_value() || !to.has_value()) return refused;
  std::vector<CopyPhase> path;
  if (*from != *to) {
    path = PathTo(*from, *to);
    if (path.empty()) return refused;
    // A copy that cannot be cancelled never reaches the cancel phases.
    const bool cancels =
        std::any_of(path.begin(), path.end(), [](CopyPhase phase) {
          return phase == CopyPhase::kCancelling ||
                 phase == CopyPhase::kCancelled;
        });
    if (cancels && !copy.support_cancel) return refused;
  } else if (!(*to == CopyPhase::kTransferring && progress > 0)) {
    return refused;
  }
  if (progress > 0 && progress < copy.progress) {
    return ProgressBackwards(copy.progress);
  }
  for (CopyPhase step : path) {
    RETURN_IF_ERROR(ApplyCopyPhase(txn, copy, step, now_ms));
  }
  if (progress > 0) return SetCopyProgress(txn, copy, progress);
  return absl::OkStatus();
}

absl::Status AdvanceIoTask(storage::WriteTxn& txn, storage::IoTaskRow& task,
                           std::string_view target, int32_t progress,
                           int64_t now_ms) {
  std::vector<std::string_view> path;
  if (IsLegalTaskMove(task.status, target)) {
    path = {target};
  } else if (task.status == kTaskWaiting && target == kTaskFinished) {
    path = {kTaskProcessing, kTaskFinished};
  } else if (!(task.status == target && target == kTaskProcessing &&
               progress > 0)) {
    return InvalidTransitionError("task", task.task_id, task.status, target);
  }
  if (progress > 0 && progress < task.progress) {
    return ProgressBackwards(task.progress);
  }
  for (std::string_view step : path) {
    RETURN_IF_ERROR(ApplyTaskStatus(txn, task, step, now_ms));
  }
  if (progress > 0) return SetTaskProgress(txn, task, progress);
  return absl::OkStatus();
}

// The copy whose destination is `image`, with its id filled in.
absl::StatusOr<std::optional<storage::CopyTaskRow>> CopyInto(
    storage::ReadTxn& txn, const storage::ImageRow& image) {
  ASSIGN_OR_RETURN(std::optional<storage::CopyTaskRow> copy,
                   txn.GetCopyByDest(image.rowid));
  if (copy.has_value() && copy->dest_image_id.empty()) {
    copy->dest_image_id = image.image_id;
  }
  return copy;
}

// The Waiting or Processing import of `image`, if any: such an image moves
// with its task.
absl::StatusOr<std::optional<storage::IoTaskRow>> ActiveImport(
    storage::ReadTxn& txn, const storage::ImageRow& image) {
  return txn.GetActiveIoTask(image.rowid, std::string(kActionImport));
}

}  // namespace

absl::Status ImageDomain::AdvanceTask(const Caller& caller,
                                      const v1::AdvanceTaskRequest& req,
                                      v1::TaskStateResponse* resp) {
  RETURN_IF_ERROR(CheckTarget(req.image_id(), req.task_id()));
  RETURN_IF_ERROR(Require("Phase", req.phase()));
  if (!IsKnownTarget(req.phase())) {
    return Error(Err::kInvalidParameter).Param("Phase");
  }
  const int32_t progress = req.progress();
  if (progress != 0) {
    const bool takes_progress =
        req.task_id().empty()
            ? req.phase() == PhaseName(CopyPhase::kTransferring)
            : req.phase() == kTaskProcessing;
    if (!takes_progress || progress < 1 || progress > 99) {
      return Error(Err::kInvalidParameter)
          .Param("Progress", "1-99, with TRANSFERRING or Processing");
    }
  }
  const int64_t now_ms = clock_.NowMs();

  return store_.RunInWriteTransaction(
      [&](storage::WriteTxn& txn) -> absl::Status {
        resp->Clear();
        if (!req.task_id().empty()) {
          ASSIGN_OR_RETURN(
              storage::IoTaskRow task,
              FindOwnTask(txn, caller, req.region_id(), req.task_id()));
          RETURN_IF_ERROR(
              AdvanceIoTask(txn, task, req.phase(), progress, now_ms));
          return FillTaskState(txn, task, resp);
        }

        ASSIGN_OR_RETURN(
            storage::ImageRow image,
            FindOwnImage(txn, caller, req.region_id(), req.image_id()));
        ASSIGN_OR_RETURN(std::optional<storage::CopyTaskRow> copy,
                         CopyInto(txn, image));
        if (copy.has_value()) {
          RETURN_IF_ERROR(
              AdvanceCopy(txn, *copy, req.phase(), progress, now_ms));
          return FillCopyState(txn, *copy, resp);
        }

        // A created image: only Creating -> Available, and not while an
        // import drives it (that one moves by TaskId).
        ASSIGN_OR_RETURN(std::optional<storage::IoTaskRow> import,
                         ActiveImport(txn, image));
        if (import.has_value() || image.status != kImageCreating ||
            req.phase() != kImageAvailable) {
          return InvalidTransitionError("image", image.image_id, image.status,
                                        req.phase());
        }
        image.status = std::string(kImageAvailable);
        image.progress = 100;
        image.creating_remaining_ms = 0;
        RETURN_IF_ERROR(txn.UpdateImage(image));
        FillImageState(image, resp);
        return absl::OkStatus();
      },
      {caller.abandoned, {}});
}

absl::Status ImageDomain::FailTask(const Caller& caller,
                                   const v1::FailTaskRequest& req,
                                   v1::TaskStateResponse* resp) {
  RETURN_IF_ERROR(CheckTarget(req.image_id(), req.task_id()));
  const int64_t now_ms = clock_.NowMs();

  return store_.RunInWriteTransaction(
      [&](storage::WriteTxn& txn) -> absl::Status {
        resp->Clear();
        if (!req.task_id().empty()) {
          ASSIGN_OR_RETURN(
              storage::IoTaskRow task,
              FindOwnTask(txn, caller, req.region_id(), req.task_id()));
          RETURN_IF_ERROR(ApplyTaskStatus(txn, task, kTaskFailed, now_ms));
          return FillTaskState(txn, task, resp);
        }

        ASSIGN_OR_RETURN(
            storage::ImageRow image,
            FindOwnImage(txn, caller, req.region_id(), req.image_id()));
        ASSIGN_OR_RETURN(std::optional<storage::CopyTaskRow> copy,
                         CopyInto(txn, image));
        if (copy.has_value()) {
          RETURN_IF_ERROR(
              ApplyCopyPhase(txn, *copy, CopyPhase::kFailed, now_ms));
          return FillCopyState(txn, *copy, resp);
        }

        // An importing image fails with its import.
        ASSIGN_OR_RETURN(std::optional<storage::IoTaskRow> import,
                         ActiveImport(txn, image));
        if (import.has_value()) {
          RETURN_IF_ERROR(ApplyTaskStatus(txn, *import, kTaskFailed, now_ms));
          return FillTaskState(txn, *import, resp);
        }
        if (image.status != kImageCreating) {
          return InvalidTransitionError("image", image.image_id, image.status,
                                        kImageCreateFailed);
        }
        image.status = std::string(kImageCreateFailed);
        image.creating_remaining_ms = 0;
        RETURN_IF_ERROR(txn.UpdateImage(image));
        FillImageState(image, resp);
        return absl::OkStatus();
      },
      {caller.abandoned, {}});
}

}  // namespace ecsimage::domain

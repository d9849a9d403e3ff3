// DeleteImage (api.md §4): the precedence list, first match wins.
#include "absl/strings/str_cat.h"
#include "service/domain/copy_moves.h"
#include "service/domain/copy_phases.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr int64_t kListedInstanceBlockers = 10;

// Step 4: destination of a running copy, or source of any running copy.
absl::Status CheckNotCopying(const storage::ImageBlockers& blockers,
                             const Caller& caller,
                             const storage::ImageRow& image,
                             const DomainOptions& options) {
  const std::optional<storage::CopyTaskRow>& as_dest = blockers.copy_as_dest;
  std::optional<storage::CopyTaskRow> blocker;
  bool is_dest = false;
  if (as_dest.has_value()) {
    auto phase = ParsePhase(as_dest->phase);
    if (phase.has_value() && !IsTerminal(*phase)) {
      blocker = as_dest;
      is_dest = true;
    }
  }
  if (!blocker.has_value()) blocker = blockers.active_copy_as_source;
  if (!blocker.has_value()) return absl::OkStatus();
  Error error(Err::kOperationDeniedImageCopying);
  error.Meta("imageId", image.image_id)
      .Meta("regionId", image.region_id)
      .Meta("copyPhase", blocker->phase)
      .Meta("copyRole", is_dest ? "destination" : "source");
  if (blocker->account_id == caller.account_id) {
    error.Meta("copyImageId", blocker->dest_image_id)
        .Precondition(absl::StrCat("image/", blocker->dest_image_id),
                      absl::StrCat("copy in phase ", blocker->phase));
  } else {
    error.Precondition("image/(another account)", "a copy of another account");
  }
  return error.RetryAfterMs(CopyRemainingMs(*blocker, options));
}

absl::Status CheckNoIoTask(const std::optional<storage::IoTaskRow>& task,
                           const storage::ImageRow& image,
                           const std::string& action, Err err,
                           const DomainOptions& options) {
  if (!task.has_value()) return absl::OkStatus();
  return Error(err)
      .Meta("imageId", image.image_id)
      .Meta("regionId", image.region_id)
      .Meta("taskId", task->task_id)
      .Precondition(absl::StrCat("task/", task->task_id),
                    absl::StrCat(action, " task ", task->status))
      .RetryAfterMs(IoTaskRemainingMs(*task, options));
}

absl::Status CheckNoInstances(
    const std::pair<int64_t, std::vector<storage::InstanceRef>>& refs,
    const Caller& caller, const storage::ImageRow& image) {
  if (refs.first == 0) return absl::OkStatus();
  Error error(Err::kImageUsingByInstance);
  error.Meta("imageId", image.image_id)
      .Meta("regionId", image.region_id)
      .Meta("instanceCount", absl::StrCat(refs.first));
  int64_t listed = 0;
  for (const auto& ref : refs.second) {
    if (ref.account_id != caller.account_id) continue;
    error.Precondition(absl::StrCat("instance/", ref.instance_id),
                       "a live instance started from this image");
    ++listed;
  }
  // Instances of other accounts (and any past the listed few) are counted,
  // never named.
  if (refs.first > listed) {
    error.Precondition(
        "instance/*",
        absl::StrCat(refs.first - listed, " more live instances (not listed)"));
  }
  return error;
}

// Step 1 of both precedence lists, before any transaction.
absl::Status RequireRegionAndImage(const std::string& region_id,
                                   const std::string& image_id) {
  RETURN_IF_ERROR(Require("RegionId", region_id));
  return Require("ImageId", image_id);
}
}  // namespace

void ImageDomain::DeleteImageAsync(const Caller& caller,
                                   const v1::DeleteImageRequest& req,
                                   v1::DeleteImageResponse* resp, Done done) {
  // The image's bytes go only after the tombstone committed (data-plane.md
  // §2); a crash in between leaves data the backend's collector removes.
  if (options_.backend != nullptr) {
    done = [backend = options_.backend, region = req.region_id(),
            image = req.image_id(), done = std::move(done)](absl::Status s) {
      // The tombstone stands whatever happens to the bytes: a failure here
      // leaves them to the backend's collector, never to the caller.
      if (s.ok()) backend->DeleteImageData(region, image).IgnoreError();
      done(std::move(s));
    };
  }
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(RequireRegionAndImage(req.region_id(), req.image_id()));
        return WriteFn([this, caller, &req](storage::WriteTxn& txn) {
          return DeleteImageInTxn(txn, caller, req);
        });
      },
      Batch::kWithAccount);
}

absl::Status ImageDomain::DeleteImageInTxn(storage::WriteTxn& txn,
                                           const Caller& caller,
                                           const v1::DeleteImageRequest& req) {
  RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
  // Step 2: only the caller's own custom images exist for DeleteImage.
  if (!IsImageIdShape(req.image_id())) {
    return ImageNotFound(req.region_id(), req.image_id());
  }
  ASSIGN_OR_RETURN(auto image, txn.GetImage(req.region_id(), req.image_id()));
  if (!image.has_value() || image->is_system ||
      image->owner_account_id != caller.account_id) {
    return ImageNotFound(req.region_id(), req.image_id());
  }
  if (image->deleted_at_ms.has_value()) return absl::OkStatus();
  // Everything that may block it, read at once; decided in the list's
  // order.
  ASSIGN_OR_RETURN(storage::ImageBlockers blockers,
                   txn.GetImageBlockers(image->rowid, kListedInstanceBlockers));
  RETURN_IF_ERROR(CheckNoIoTask(blockers.import_task, *image, "ImportImage",
                                Err::kImageIsImporting, options_));
  RETURN_IF_ERROR(CheckNotCopying(blockers, caller, *image, options_));
  RETURN_IF_ERROR(CheckNoIoTask(blockers.export_task, *image, "ExportImage",
                                Err::kImageIsExporting, options_));
  if (image->is_public) {
    return Error(Err::kImageIsPublic)
        .Meta("imageId", image->image_id)
        .Meta("regionId", image->region_id)
        .Precondition(absl::StrCat("image/", image->image_id),
                      "the image is public");
  }
  const int64_t shares = blockers.shares;
  if (shares > 0) {
    return Error(Err::kImageUseShared)
        .Meta("imageId", image->image_id)
        .Meta("regionId", image->region_id)
        .Meta("shareCount", absl::StrCat(shares))
        .Precondition(absl::StrCat("image/", image->image_id),
                      absl::StrCat("shared with ", shares, " accounts"));
  }
  if (!req.force()) {
    RETURN_IF_ERROR(CheckNoInstances(blockers.instances, caller, *image));
  }
  image->deleted_at_ms = clock_.NowMs();
  return txn.UpdateImage(*image);
}

void ImageDomain::CancelCopyImageAsync(const Caller& caller,
                                       const v1::CancelCopyImageRequest& req,
                                       v1::CancelCopyImageResponse* resp,
                                       Done done) {
  StartWrite(caller, std::move(done), [&]() -> absl::StatusOr<WriteFn> {
    RETURN_IF_ERROR(RequireRegionAndImage(req.region_id(), req.image_id()));
    return WriteFn([this, caller, &req](storage::WriteTxn& txn) {
      return CancelCopyImageInTxn(txn, caller, req);
    });
  });
}

absl::Status ImageDomain::CancelCopyImageInTxn(
    storage::WriteTxn& txn, const Caller& caller,
    const v1::CancelCopyImageRequest& req) {
  RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
  ASSIGN_OR_RETURN(auto image,
                   OwnLiveImage(txn, caller, req.region_id(), req.image_id()));
  ASSIGN_OR_RETURN(auto copy, txn.GetCopyByDest(image.rowid));
  if (!copy.has_value()) {
    return Error(Err::kImageCreatedNotFromCopy)
        .Meta("imageId", image.image_id)
        .Meta("regionId", image.region_id)
        .Precondition(absl::StrCat("image/", image.image_id),
                      "not the destination of a CopyImage");
  }
  auto phase = ParsePhase(copy->phase);
  if (!phase.has_value()) {
    return absl::InternalError(
        absl::StrCat("copy ", copy->rowid, " has phase ", copy->phase));
  }
  CancelAnswer answer = AnswerCancel(*phase, copy->support_cancel);
  if (answer.error.has_value()) {
    Error error(*answer.error);
    error.Meta("imageId", image.image_id)
        .Meta("regionId", image.region_id)
        .Meta("copyPhase", copy->phase)
        .Precondition(absl::StrCat("image/", image.image_id),
                      absl::StrCat("copy in phase ", copy->phase));
    if (*phase == CopyPhase::kPreparing) {
      // Cancellable once the transfer starts.
      error.RetryAfterMs(kCopyPrepareMs -
                         (clock_.NowMs() - copy->phase_changed_at_ms));
    }
    return error;
  }
  return ApplyCopyPhase(txn, *copy, answer.next, clock_.NowMs());
}

}  // namespace ecsimage::domain

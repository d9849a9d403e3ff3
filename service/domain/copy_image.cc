// CopyImage: a new image in the destination region, fed by a copy task that
// starts QUEUED (api.md §3).
#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/domain/idempotency.h"
#include "service/domain/image_domain.h"
#include "service/domain/image_rules.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

absl::Status CheckTags(const v1::CopyImageRequest& req) {
  if (req.tag_size() > 20) {
    return Error(Err::kInvalidParameter).Param("Tag", "at most 20 tags");
  }
  for (const auto& tag : req.tag()) {
    if (tag.key().empty() || tag.key().size() > 128 ||
        tag.value().size() > 128) {
      return Error(Err::kInvalidParameter)
          .Param("Tag.Key", "1-128 characters; values at most 128");
    }
  }
  return absl::OkStatus();
}

}  // namespace

void ImageDomain::CopyImageAsync(const Caller& caller,
                                 const v1::CopyImageRequest& req,
                                 v1::CopyImageResponse* resp, Done done) {
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(Require("RegionId", req.region_id()));
        RETURN_IF_ERROR(Require("ImageId", req.image_id()));
        RETURN_IF_ERROR(
            Require("DestinationRegionId", req.destination_region_id()));
        RETURN_IF_ERROR(CheckOptionalName(
            "DestinationImageName", req.destination_image_name(),
            Err::kInvalidImageNameMalformedDestination));
        RETURN_IF_ERROR(CheckOptionalDescription(
            "DestinationDescription", req.destination_description(),
            Err::kInvalidDescriptionMalformedDestination));
        if (!req.kms_key_id().empty() && !req.encrypted()) {
          return Error(Err::kInvalidParameterEncryptedIllegal)
              .Param("Encrypted");
        }
        if (req.kms_key_id().size() > 128) {
          return Error(Err::kInvalidParameter)
              .Param("KMSKeyId", "at most 128 characters");
        }
        RETURN_IF_ERROR(CheckTags(req));
        RETURN_IF_ERROR(CheckClientToken(req.client_token()));
        const std::string fingerprint = Fingerprint(req);
        return WriteFn([this, caller, &req, resp,
                        fingerprint](storage::WriteTxn& txn) -> absl::Status {
          RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
          ASSIGN_OR_RETURN(
              bool dest_exists,
              txn.RegionExists(req.destination_region_id().substr(0, 64)));
          if (!dest_exists) {
            return Error(Err::kDestinationRegionNotFound)
                .Param("DestinationRegionId", "no such region")
                .Meta("destinationRegionId",
                      req.destination_region_id().substr(0, 64));
          }
          const int64_t now = clock_.NowMs();
          ASSIGN_OR_RETURN(bool replay,
                           RecallInto(txn, caller.account_id, "CopyImage",
                                      req.client_token(), fingerprint, now,
                                      options_.client_token_ttl_ms, resp));
          if (replay) return absl::OkStatus();
          ASSIGN_OR_RETURN(
              auto source,
              UsableImage(txn, caller, req.region_id(), req.image_id()));
          // Nobody copies system images: to a copier they are not custom
          // images that exist.
          if (source.system) {
            return ImageNotFound(req.region_id(), req.image_id());
          }
          const storage::ImageRow& src = source.image;
          if (src.is_public) {
            return Error(Err::kImageIsPublicExport)
                .Meta("imageId", src.image_id)
                .Meta("regionId", src.region_id)
                .Precondition(absl::StrCat("image/", src.image_id),
                              "public images cannot be copied");
          }
          if (source.shared_or_public &&
              req.destination_region_id() != req.region_id()) {
            return Error(Err::kOperationDeniedSameRegionOnly)
                .Meta("imageId", src.image_id)
                .Meta("regionId", src.region_id)
                .Meta("destinationRegionId", req.destination_region_id())
                .Precondition(absl::StrCat("image/", src.image_id),
                              "shared images are copied within their region");
          }
          if (src.status != "Available") {
            return Error(Err::kIncorrectImageStatusNotAvailable)
                .Meta("imageId", src.image_id)
                .Meta("regionId", src.region_id)
                .Meta("status", src.status)
                .Precondition(absl::StrCat("image/", src.image_id),
                              absl::StrCat("image is ", src.status));
          }
          RETURN_IF_ERROR(CheckNameFree(
              txn, caller.account_id, req.destination_region_id(),
              req.destination_image_name(), "DestinationImageName",
              Err::kInvalidImageNameDuplicatedDestination));
          RETURN_IF_ERROR(CheckImageQuota(
              txn, caller.account_id, req.destination_region_id(), options_));
          storage::ImageRow dest;
          dest.image_id = ids_.NewImageId();
          dest.region_id = req.destination_region_id();
          dest.owner_account_id = caller.account_id;
          dest.name = req.destination_image_name();
          dest.description = req.destination_description();
          dest.status = "Waiting";
          dest.progress = 0;
          dest.size_gib = src.size_gib;
          dest.architecture = src.architecture;
          dest.os_type = src.os_type;
          dest.platform = src.platform;
          dest.is_copied = true;
          dest.created_at_ms = now;
          for (const auto& disk : src.disks) {
            dest.disks.push_back(
                {disk.device, disk.type, ids_.NewSnapshotId(), disk.size_gib});
          }
          RETURN_IF_ERROR(txn.InsertImage(dest));
          storage::CopyTaskRow copy;
          copy.account_id = caller.account_id;
          copy.source_image_rowid = src.rowid;
          copy.dest_image_rowid = dest.rowid;
          copy.source_region_id = src.region_id;
          copy.dest_region_id = dest.region_id;
          copy.phase = "QUEUED";
          copy.progress = 0;
          copy.total_mib = int64_t{src.size_gib} * 1024;
          copy.encrypted = req.encrypted();
          copy.kms_key_id = req.kms_key_id();
          // Fixed at CopyImage time (api.md §3).
          copy.support_cancel = !req.encrypted() && req.kms_key_id().empty();
          copy.created_at_ms = now;
          copy.phase_changed_at_ms = now;
          RETURN_IF_ERROR(txn.InsertCopy(copy));
          resp->set_image_id(dest.image_id);
          return RememberClientToken(txn, caller.account_id, "CopyImage",
                                     req.client_token(), fingerprint, *resp,
                                     now);
        });
      },
      Batch::kWithAccount);
}

}  // namespace ecsimage::domain

// CreateImage: a custom image, Creating until its snapshot work ends.
#include "service/domain/errors.h"
#include "service/domain/idempotency.h"
#include "service/domain/image_domain.h"
#include "service/domain/image_rules.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {

void ImageDomain::CreateImageAsync(const Caller& caller,
                                   const v1::CreateImageRequest& req,
                                   v1::CreateImageResponse* resp, Done done) {
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(Require("RegionId", req.region_id()));
        RETURN_IF_ERROR(CheckOptionalName("ImageName", req.image_name(),
                                          Err::kInvalidImageNameMalformed));
        RETURN_IF_ERROR(
            CheckOptionalDescription("Description", req.description(),
                                     Err::kInvalidDescriptionMalformed));
        ASSIGN_OR_RETURN(int32_t size, CheckSizeGib("Size", req.size()));
        ASSIGN_OR_RETURN(
            auto platform,
            CheckPlatform(req.architecture(), req.os_type(), req.platform()));
        if (req.disk_device_mapping_size() > 17) {
          return Error(Err::kInvalidParameter)
              .Param("DiskDeviceMapping", "at most 17 disks");
        }
        for (const auto& disk : req.disk_device_mapping()) {
          RETURN_IF_ERROR(CheckDiskMapping(disk));
        }
        RETURN_IF_ERROR(CheckClientToken(req.client_token()));
        const std::string fingerprint = Fingerprint(req);
        return WriteFn([this, caller, &req, resp, size, platform,
                        fingerprint](storage::WriteTxn& txn) -> absl::Status {
          RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
          const int64_t now = clock_.NowMs();
          ASSIGN_OR_RETURN(bool replay,
                           RecallInto(txn, caller.account_id, "CreateImage",
                                      req.client_token(), fingerprint, now,
                                      options_.client_token_ttl_ms, resp));
          if (replay) return absl::OkStatus();
          RETURN_IF_ERROR(CheckNameFree(txn, caller.account_id, req.region_id(),
                                        req.image_name(), "ImageName",
                                        Err::kInvalidImageNameDuplicated));
          RETURN_IF_ERROR(CheckImageQuota(txn, caller.account_id,
                                          req.region_id(), options_));
          storage::ImageRow image;
          image.image_id = ids_.NewImageId();
          image.region_id = req.region_id();
          image.owner_account_id = caller.account_id;
          image.name = req.image_name();
          image.description = req.description();
          image.status = "Creating";
          image.progress = 0;
          image.size_gib = size;
          image.architecture = platform.architecture;
          image.os_type = platform.os_type;
          image.platform = platform.platform;
          image.created_at_ms = now;
          image.creating_remaining_ms =
              std::max<int64_t>(1, int64_t{size} * options_.create_ms_per_gib);
          if (req.disk_device_mapping().empty()) {
            image.disks.push_back(
                {"/dev/xvda", "system", ids_.NewSnapshotId(), size});
          }
          for (const auto& disk : req.disk_device_mapping()) {
            image.disks.push_back(
                {disk.device(), disk.type().empty() ? "data" : disk.type(),
                 ids_.NewSnapshotId(), disk.size() > 0 ? disk.size() : size});
          }
          RETURN_IF_ERROR(txn.InsertImage(image));
          resp->set_image_id(image.image_id);
          return RememberClientToken(txn, caller.account_id, "CreateImage",
                                     req.client_token(), fingerprint, *resp,
                                     now);
        });
      },
      Batch::kWithAccount);
}

}  // namespace ecsimage::domain

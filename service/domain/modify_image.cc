// ModifyImageAttribute: rename, re-describe, deprecate or un-deprecate.
#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/domain/image_domain.h"
#include "service/domain/image_rules.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {

void ImageDomain::ModifyImageAttributeAsync(
    const Caller& caller, const v1::ModifyImageAttributeRequest& req,
    v1::ModifyImageAttributeResponse* resp, Done done) {
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(Require("RegionId", req.region_id()));
        RETURN_IF_ERROR(Require("ImageId", req.image_id()));
        RETURN_IF_ERROR(CheckOptionalName("ImageName", req.image_name(),
                                          Err::kInvalidImageNameMalformed));
        RETURN_IF_ERROR(
            CheckOptionalDescription("Description", req.description(),
                                     Err::kInvalidDescriptionMalformed));
        if (!req.status().empty()) {
          RETURN_IF_ERROR(
              CheckOneOf("Status", req.status(), {"Deprecated", "Available"}));
        }
        return WriteFn([this, caller, &req,
                        resp](storage::WriteTxn& txn) -> absl::Status {
          RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
          ASSIGN_OR_RETURN(
              auto image,
              OwnLiveImage(txn, caller, req.region_id(), req.image_id()));
          if (!req.image_name().empty() && req.image_name() != image.name) {
            RETURN_IF_ERROR(CheckNameFree(
                txn, caller.account_id, image.region_id, req.image_name(),
                "ImageName", Err::kInvalidImageNameDuplicated, image.rowid));
            image.name = req.image_name();
          }
          if (!req.description().empty()) image.description = req.description();
          if (!req.status().empty() && req.status() != image.status) {
            if (image.status != "Available" && image.status != "Deprecated") {
              return Error(Err::kIncorrectImageStatusNotAvailable)
                  .Meta("imageId", image.image_id)
                  .Meta("regionId", image.region_id)
                  .Meta("status", image.status)
                  .Precondition(absl::StrCat("image/", image.image_id),
                                absl::StrCat("image is ", image.status));
            }
            if (req.status() == "Deprecated") {
              ASSIGN_OR_RETURN(int64_t shares, txn.CountShares(image.rowid));
              if (shares > 0 || image.is_public) {
                return Error(Err::kImageUseSharedDeprecate)
                    .Meta("imageId", image.image_id)
                    .Meta("regionId", image.region_id)
                    .Meta("shareCount", absl::StrCat(shares))
                    .Precondition(absl::StrCat("image/", image.image_id),
                                  image.is_public ? "the image is public"
                                                  : "the image is shared");
              }
            }
            image.status = req.status();
          }
          return txn.UpdateImage(image);
        });
      },
      Batch::kWithAccount);
}

}  // namespace ecsimage::domain

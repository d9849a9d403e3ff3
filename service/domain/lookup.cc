#include "service/domain/lookup.h"

#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

// Ids are echoed back; a hostile 10 KB id is echoed in part only.
std::string_view Echo(std::string_view id) { return id.substr(0, 128); }

// System image ids are names: short, no spaces.
bool IsPlausibleImageId(std::string_view id) {
  return !id.empty() && id.size() <= 128;
}

}  // namespace

absl::Status ImageNotFound(std::string_view region_id,
                           std::string_view image_id) {
  return Error(Err::kInvalidImageIdNotFound)
      .Meta("imageId", Echo(image_id))
      .Meta("regionId", Echo(region_id))
      .Resource("image", Echo(image_id));
}

absl::StatusOr<storage::ImageRow> OwnLiveImage(storage::ReadTxn& txn,
                                               const Caller& caller,
                                               std::string_view region_id,
                                               std::string_view image_id) {
  if (!IsImageIdShape(image_id)) return ImageNotFound(region_id, image_id);
  ASSIGN_OR_RETURN(auto image,
                   txn.GetImage(std::string(region_id), std::string(image_id)));
  if (!image.has_value() || image->is_system ||
      image->owner_account_id != caller.account_id ||
      image->deleted_at_ms.has_value()) {
    return ImageNotFound(region_id, image_id);
  }
  return *std::move(image);
}

absl::StatusOr<VisibleImage> UsableImage(storage::ReadTxn& txn,
                                         const Caller& caller,
                                         std::string_view region_id,
                                         std::string_view image_id) {
  if (!IsPlausibleImageId(image_id)) return ImageNotFound(region_id, image_id);
  ASSIGN_OR_RETURN(auto image,
                   txn.GetImage(std::string(region_id), std::string(image_id)));
  if (!image.has_value() || image->deleted_at_ms.has_value()) {
    return ImageNotFound(region_id, image_id);
  }
  VisibleImage out;
  if (image->is_system) {
    out.system = true;
  } else if (image->owner_account_id == caller.account_id) {
    out.own = true;
  } else {
    bool visible = image->is_public;
    if (!visible) {
      ASSIGN_OR_RETURN(visible, txn.HasShare(image->rowid, caller.account_id));
    }
    if (!visible) return ImageNotFound(region_id, image_id);
    out.shared_or_public = true;
  }
  out.image = *std::move(image);
  return out;
}

std::string PercentString(int32_t progress) {
  return absl::StrCat(progress, "%");
}

}  // namespace ecsimage::domain

// Finding images and tasks the way the contract wants them found: another
// account's private image is indistinguishable from one that never existed.
#ifndef ECSIMAGE_SERVICE_DOMAIN_LOOKUP_H_
#define ECSIMAGE_SERVICE_DOMAIN_LOOKUP_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/domain/image_domain.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

// InvalidImageId.NotFound for (region, image) with ResourceInfo.
absl::Status ImageNotFound(std::string_view region_id,
                           std::string_view image_id);

// The caller's own live custom image in `region_id`, or
// InvalidImageId.NotFound (never existed, malformed id, another account's,
// system, tombstoned, other region).
absl::StatusOr<storage::ImageRow> OwnLiveImage(storage::ReadTxn& txn,
                                               const Caller& caller,
                                               std::string_view region_id,
                                               std::string_view image_id);

// An image the caller may use (describe, start instances from, copy within a
// region): own live, shared to the caller, public, or system. NotFound else.
struct VisibleImage {
  storage::ImageRow image;
  bool own = false;
  bool system = false;
  bool shared_or_public = false;  // someone else's, visible to the caller
};
absl::StatusOr<VisibleImage> UsableImage(storage::ReadTxn& txn,
                                         const Caller& caller,
                                         std::string_view region_id,
                                         std::string_view image_id);

// "32%".
std::string PercentString(int32_t progress);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_LOOKUP_H_

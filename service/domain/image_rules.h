// Checks shared by the RPCs that create images (CreateImage, CopyImage,
// ImportImage): sizes, platforms, name uniqueness, quota.
#ifndef ECSIMAGE_SERVICE_DOMAIN_IMAGE_RULES_H_
#define ECSIMAGE_SERVICE_DOMAIN_IMAGE_RULES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ecs/image/v1/image_service.pb.h"
#include "service/domain/errors.h"
#include "service/domain/image_domain.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

// Size in GiB: 0 means 40; 1..2048 (InvalidParameter otherwise).
absl::StatusOr<int32_t> CheckSizeGib(std::string_view param, int32_t size);

struct PlatformSpec {
  std::string architecture;  // x86_64 | arm64
  std::string os_type;       // linux | windows
  std::string platform;
};
// Defaults x86_64 / linux; InvalidParameter for other words.
absl::StatusOr<PlatformSpec> CheckPlatform(std::string_view architecture,
                                           std::string_view os_type,
                                           std::string_view platform);

absl::Status CheckDiskMapping(const ::ecs::image::v1::DiskDeviceMapping& disk);

// `duplicated` when a live image of the account in the region has `name`
// (and it is not `except_rowid`). Empty names never collide.
absl::Status CheckNameFree(storage::ReadTxn& txn, const std::string& account_id,
                           const std::string& region_id,
                           const std::string& name, std::string_view param,
                           Err duplicated, int64_t except_rowid = 0);

// QuotaExceed.Image when the account already holds the quota in the region.
absl::Status CheckImageQuota(storage::ReadTxn& txn,
                             const std::string& account_id,
                             const std::string& region_id,
                             const DomainOptions& options);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_IMAGE_RULES_H_

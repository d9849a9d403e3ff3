#include "service/domain/image_rules.h"

#include "absl/strings/str_cat.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {

absl::StatusOr<int32_t> CheckSizeGib(std::string_view param, int32_t size) {
  if (size == 0) return 40;
  if (size < 1 || size > 2048) {
    return Error(Err::kInvalidParameter).Param(param, "1-2048 GiB");
  }
  return size;
}

absl::StatusOr<PlatformSpec> CheckPlatform(std::string_view architecture,
                                           std::string_view os_type,
                                           std::string_view platform) {
  PlatformSpec spec;
  spec.architecture =
      architecture.empty() ? "x86_64" : std::string(architecture);
  spec.os_type = os_type.empty() ? "linux" : std::string(os_type);
  RETURN_IF_ERROR(
      CheckOneOf("Architecture", spec.architecture, {"x86_64", "arm64"}));
  RETURN_IF_ERROR(CheckOneOf("OSType", spec.os_type, {"linux", "windows"}));
  if (platform.size() > 64) {
    return Error(Err::kInvalidParameter)
        .Param("Platform", "at most 64 characters");
  }
  spec.platform = std::string(platform);
  return spec;
}

absl::Status CheckDiskMapping(const ::ecs::image::v1::DiskDeviceMapping& disk) {
  if (disk.size() < 0 || disk.size() > 32768) {
    return Error(Err::kInvalidParameter)
        .Param("DiskDeviceMapping.Size", "0-32768 GiB");
  }
  if (disk.device().size() > 64) {
    return Error(Err::kInvalidParameter)
        .Param("DiskDeviceMapping.Device", "at most 64 characters");
  }
  if (!disk.type().empty()) {
    RETURN_IF_ERROR(
        CheckOneOf("DiskDeviceMapping.Type", disk.type(), {"system", "data"}));
  }
  return absl::OkStatus();
}

absl::Status CheckNameFree(storage::ReadTxn& txn, const std::string& account_id,
                           const std::string& region_id,
                           const std::string& name, std::string_view param,
                           Err duplicated, int64_t except_rowid) {
  if (name.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto existing,
                   txn.FindLiveImageByName(account_id, region_id, name));
  if (!existing.has_value() || existing->rowid == except_rowid) {
    return absl::OkStatus();
  }
  return Error(duplicated)
      .Param(param, absl::StrCat("image ", existing->image_id,
                                 " already has this name"))
      .Meta("imageName", name)
      .Meta("regionId", region_id);
}

absl::Status CheckImageQuota(storage::ReadTxn& txn,
                             const std::string& account_id,
                             const std::string& region_id,
                             const DomainOptions& options) {
  ASSIGN_OR_RETURN(int64_t live, txn.CountLiveImages(account_id, region_id));
  if (live < options.image_quota_per_region) return absl::OkStatus();
  return Error(Err::kQuotaExceedImage)
      .Meta("regionId", region_id)
      .Meta("quota", absl::StrCat(options.image_quota_per_region))
      .Precondition(absl::StrCat("region/", region_id),
                    absl::StrCat(live, " live images of ",
                                 options.image_quota_per_region, " allowed"));
}

}  // namespace ecsimage::domain

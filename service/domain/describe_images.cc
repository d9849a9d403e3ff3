// DescribeImages: own, system, shared-to-me and public images, newest first.
#include <optional>

#include "absl/strings/str_cat.h"
#include "service/domain/copy_moves.h"
#include "service/domain/errors.h"
#include "service/domain/image_domain.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

// `import_remain_ms`: what the backend measured for the image's running
// import, if any.
void FillImage(const storage::ImagePage::Entry& entry,
               const DomainOptions& options, const Caller& caller,
               std::optional<int64_t> import_remain_ms, v1::Image* out) {
  const storage::ImageRow& image = entry.image;
  out->set_image_id(image.image_id);
  out->set_image_name(image.name);
  out->set_description(image.description);
  out->set_status(image.status);
  out->set_progress(PercentString(image.progress));
  out->set_creation_time(FormatIso8601(image.created_at_ms));
  out->set_size(image.size_gib);
  out->set_image_owner_alias(entry.owner_alias);
  out->set_is_copied(image.is_copied);
  out->set_is_public(image.is_public);
  out->set_usage(image.live_instance_count > 0 ? "instance" : "none");
  out->set_architecture(image.architecture);
  out->set_os_type(image.os_type);
  out->set_platform(image.platform);
  out->set_region_id(image.region_id);
  if (!image.is_system) out->set_image_owner_id(image.owner_account_id);
  int64_t remain_ms = 0;
  if (entry.copy.has_value()) {
    const auto& copy = *entry.copy;
    out->set_support_cancel(copy.support_cancel);
    out->set_copy_phase(copy.phase);
    out->set_source_image_id(copy.source_image_id);
    out->set_source_region_id(copy.source_region_id);
    remain_ms = CopyRemainingMs(copy, options);
    // A backend that measures its rate knows better.
    if (options.backend != nullptr && copy.phase == "TRANSFERRING") {
      if (std::optional<int64_t> left =
              options.backend->RemainingMs(absl::StrCat("copy/", copy.rowid))) {
        remain_ms = *left + options.backend->RegisterMs();
      }
    }
  } else if (import_remain_ms.has_value()) {
    remain_ms = *import_remain_ms;
  } else if (image.creating_remaining_ms > 0 && image.status == "Creating") {
    remain_ms = image.creating_remaining_ms;
  }
  const int32_t remain_s = static_cast<int32_t>((remain_ms + 999) / 1000);
  out->set_remain_time(remain_s);
  for (const auto& disk : image.disks) {
    auto* d = out->add_disk_device_mappings();
    d->set_size(disk.size_gib);
    d->set_device(disk.device);
    d->set_type(disk.type);
    d->set_snapshot_id(disk.snapshot_id);
    d->set_progress(PercentString(image.progress));
    d->set_remain_time(remain_s);
  }
  // Extension fields of the data, for the owner only.
  if (options.backend != nullptr && !image.is_system &&
      image.owner_account_id == caller.account_id) {
    backend::DataDetails details =
        options.backend->ImageDetails(image.region_id, image.image_id);
    out->set_image_digest(std::move(details.image_digest));
    out->set_failure_code(std::move(details.failure_code));
    out->set_failure_message(std::move(details.failure_message));
  }
}

}  // namespace

absl::Status ImageDomain::DescribeImages(const Caller& caller,
                                         const v1::DescribeImagesRequest& req,
                                         v1::DescribeImagesResponse* resp) {
  RETURN_IF_ERROR(Require("RegionId", req.region_id()));
  ASSIGN_OR_RETURN(Page page, CheckPage(req.page_number(), req.page_size()));
  storage::ImageQuery query;
  query.caller_account_id = caller.account_id;
  query.region_id = req.region_id();
  ASSIGN_OR_RETURN(query.image_ids, SplitList("ImageId", req.image_id(), 100));
  ASSIGN_OR_RETURN(query.statuses, SplitList("Status", req.status(), 10));
  for (const auto& status : query.statuses) {
    RETURN_IF_ERROR(CheckOneOf("Status", status, ImageStatuses()));
  }
  // As ECS: Available unless asked otherwise, also when ImageId is given.
  if (query.statuses.empty()) query.statuses.push_back("Available");
  const std::string& alias = req.image_owner_alias();
  if (!alias.empty()) {
    RETURN_IF_ERROR(CheckOneOf("ImageOwnerAlias", alias,
                               {"system", "self", "others", "marketplace"}));
    query.include_self = alias == "self";
    query.include_system = alias == "system";
    query.include_others = alias == "others";
  }
  if (!req.usage().empty()) {
    RETURN_IF_ERROR(CheckOneOf("Usage", req.usage(), {"instance", "none"}));
    query.in_use = req.usage() == "instance";
  }
  if (req.image_name().size() > 128) {
    return Error(Err::kInvalidParameter)
        .Param("ImageName", "at most 128 characters");
  }
  query.name = req.image_name();
  if (req.has_is_copied()) query.is_copied = req.is_copied();
  query.offset = page.offset();
  query.limit = page.size;
  resp->set_region_id(req.region_id());
  resp->set_page_number(page.number);
  resp->set_page_size(page.size);
  // Marketplace images do not exist here: a valid, empty answer.
  if (alias == "marketplace") {
    return store_.RunInReadTransaction([&](storage::ReadTxn& txn) {
      return CheckRegion(txn, req.region_id());
    });
  }
  return store_.RunInReadTransaction([&](storage::ReadTxn& txn) {
    RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
    ASSIGN_OR_RETURN(auto result, txn.ListImages(query));
    resp->set_total_count(static_cast<int32_t>(result.total_count));
    for (const auto& entry : result.entries) {
      // An image being imported: RemainTime from the backend's measured
      // rate (a backend that measures none leaves it 0, as before).
      std::optional<int64_t> import_remain_ms;
      if (options_.backend != nullptr && !entry.copy.has_value() &&
          entry.image.status == "Creating") {
        ASSIGN_OR_RETURN(
            std::optional<storage::IoTaskRow> task,
            txn.GetActiveIoTask(entry.image.rowid, std::string(kActionImport)));
        if (task.has_value()) {
          import_remain_ms = options_.backend->RemainingMs(
              absl::StrCat("task/", task->task_id));
        }
      }
      FillImage(entry, options_, caller, import_remain_ms, resp->add_images());
    }
    return absl::OkStatus();
  });
}

}  // namespace ecsimage::domain

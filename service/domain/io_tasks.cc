// ImportImage, ExportImage, DescribeTasks and CancelTask (api.md §1, §3).
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/domain/clock.h"
#include "service/domain/copy_moves.h"
#include "service/domain/errors.h"
#include "service/domain/idempotency.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/domain/image_rules.h"
#include "service/domain/import_disks.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "storage/image_store.h"
#include "util/absl_compat.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr int64_t kMibPerGib = 1024;
constexpr size_t kMaxTaskIds = 100;

const std::vector<std::string_view>& TaskStatuses() {
  static const auto* statuses = new std::vector<std::string_view>{
      kTaskWaiting, kTaskProcessing, kTaskFinished, kTaskFailed,
      kTaskCancelled};
  return *statuses;
}

void FillTask(const storage::IoTaskRow& row, backend::Backend* backend,
              v1::Task* task) {
  task->set_task_id(row.task_id);
  task->set_task_action(row.action);
  task->set_task_status(row.status);
  task->set_task_process(PercentString(row.progress));
  task->set_support_cancel(row.support_cancel &&
                           !IsTerminalTaskStatus(row.status));
  task->set_creation_time(FormatIso8601(row.created_at_ms));
  if (row.finished_at_ms.has_value()) {
    task->set_finished_time(FormatIso8601(*row.finished_at_ms));
  }
  task->set_resource_id(row.image_id);
  // Extension fields (the caller owns every task it sees).
  if (backend != nullptr && row.status == kTaskFailed) {
    backend::DataDetails details =
        row.action == kActionImport
            ? backend->ImageDetails(row.region_id, row.image_id)
            : backend->TaskDetails(row.region_id, row.task_id);
    task->set_failure_code(std::move(details.failure_code));
    task->set_failure_message(std::move(details.failure_message));
  }
}

// A backend's call-time refusal of ImportImage's or ExportImage's input, as
// its catalog entry; OK when nothing was found wrong. `prefix` comes before
// the parameter's name ("DiskDeviceMapping.1." for ECS's shape).
absl::Status InputRefusal(const backend::InputProblem& problem,
                          std::string_view prefix = "") {
  using Kind = backend::InputProblem::Kind;
  Err err = Err::kInternalError;
  std::string_view field = "OSSObject";
  switch (problem.kind) {
    case Kind::kNone:
      return absl::OkStatus();
    case Kind::kBucketNotFound:
      err = Err::kInvalidOssBucketNotFound;
      field = "OSSBucket";
      break;
    case Kind::kObjectMalformed:
      err = Err::kInvalidOssObjectMalformed;
      break;
    case Kind::kObjectNotFound:
      err = Err::kInvalidOssObjectNotFound;
      break;
    case Kind::kObjectUnreadable:
      err = Err::kInvalidOssObjectNotRetrieved;
      break;
    case Kind::kPrefixMalformed:
      err = Err::kInvalidOssPrefixMalformed;
      field = "OSSPrefix";
      break;
    case Kind::kFormatUnsupported:
      err = Err::kInvalidImageFormatNotSupported;
      break;
    case Kind::kBackingFile:
      err = Err::kInvalidImageFormatBackingFile;
      break;
    case Kind::kFormatCorrupt:
      err = Err::kInvalidImageFormatCorrupt;
      break;
    case Kind::kFormatMismatch:
      err = Err::kInvalidImageFormatMismatch;
      field = "Format";
      break;
  }
  return Error(err).Param(absl::StrCat(AV(prefix), AV(field)), problem.detail);
}

// /dev/xvda, /dev/xvdb, … for an imported image's disks (at most 17).
std::string DeviceName(size_t index) {
  return absl::StrCat("/dev/xvd",
                      std::string(1, static_cast<char>('a' + index)));
}

// One disk ImportImage reads: the top-level OSSBucket, OSSObject and Size
// (the system disk), or ECS's DiskDeviceMapping.N.{OSSBucket, OSSObject,
// Format, DiskImageSize}, N = 1 the system disk, 2..17 data disks.
struct ImportSource {
  std::string bucket;
  std::string object;
  std::string format;  // "", RAW or QCOW2
  int32_t size_gib = 0;
  std::string prefix;  // of its parameters' names
};

constexpr int kMaxImportDisks = 17;

absl::StatusOr<ImportSource> ImportDiskOf(
    const v1::ImportDiskDeviceMapping& disk, int n) {
  ImportSource source;
  source.prefix = absl::StrCat("DiskDeviceMapping.", n, ".");
  const std::string& p = source.prefix;
  RETURN_IF_ERROR(Require(absl::StrCat(p, "OSSBucket"), disk.oss_bucket()));
  RETURN_IF_ERROR(Require(absl::StrCat(p, "OSSObject"), disk.oss_object()));
  ASSIGN_OR_RETURN(
      source.size_gib,
      CheckSizeGib(absl::StrCat(p, "DiskImageSize"), disk.disk_image_size()));
  source.bucket = disk.oss_bucket();
  source.object = disk.oss_object();
  source.format = absl::AsciiStrToUpper(disk.format());
  if (source.format == "VHD" || source.format == "VHDX") {
    return Error(Err::kInvalidImageFormatNotSupported)
        .Param(absl::StrCat(p, "Format"), "RAW or QCOW2");
  }
  if (!source.format.empty() && source.format != "RAW" &&
      source.format != "QCOW2") {
    return Error(Err::kInvalidParameter)
        .Param(absl::StrCat(p, "Format"), "RAW or QCOW2");
  }
  return source;
}

// The disks of an import, the system disk first.
absl::StatusOr<std::vector<ImportSource>> ImportSourcesOf(
    const v1::ImportImageRequest& req) {
  std::vector<ImportSource> sources;
  if (req.disk_device_mapping_size() == 0) {
    ImportSource source;
    RETURN_IF_ERROR(Require("OSSBucket", req.oss_bucket()));
    RETURN_IF_ERROR(Require("OSSObject", req.oss_object()));
    ASSIGN_OR_RETURN(source.size_gib, CheckSizeGib("Size", req.size()));
    source.bucket = req.oss_bucket();
    source.object = req.oss_object();
    sources.push_back(std::move(source));
    return sources;
  }
  if (!req.oss_bucket().empty() || !req.oss_object().empty() ||
      req.size() != 0) {
    return Error(Err::kInvalidParameter)
        .Param("DiskDeviceMapping",
               "OSSBucket, OSSObject and Size at the top level or in "
               "DiskDeviceMapping.1, not both");
  }
  if (req.disk_device_mapping_size() > kMaxImportDisks) {
    return Error(Err::kInvalidParameter)
        .Param("DiskDeviceMapping",
               "at most 17 disks (a system disk and 16 data disks)");
  }
  for (int i = 0; i < req.disk_device_mapping_size(); ++i) {
    ASSIGN_OR_RETURN(ImportSource source,
                     ImportDiskOf(req.disk_device_mapping(i), i + 1));
    sources.push_back(std::move(source));
  }
  return sources;
}

// ExportImage's ImageFormat: raw (the default) or qcow2, in any case,
// recorded as RAW / QCOW2. Other formats ECS knows (vhd, vmdk, vdi) are not
// written: InvalidParameter.
absl::StatusOr<std::string> ExportFormat(std::string_view value) {
  if (value.empty()) return std::string("RAW");
  std::string upper = absl::AsciiStrToUpper(AV(value));
  if (upper == "RAW" || upper == "QCOW2") return upper;
  return Error(Err::kInvalidParameter)
      .Param("ImageFormat", "raw or qcow2 (the default is raw)");
}

}  // namespace

absl::Status TaskNotFound(std::string_view region_id,
                          std::string_view task_id) {
  // Ids are echoed back; a hostile long id only in part.
  const std::string_view echoed = task_id.substr(0, 128);
  return Error(Err::kInvalidTaskIdNotFound)
      .Meta("taskId", echoed)
      .Meta("regionId", region_id.substr(0, 128))
      .Resource("task", echoed);
}

absl::StatusOr<storage::IoTaskRow> OwnTask(storage::ReadTxn& txn,
                                           const Caller& caller,
                                           std::string_view region_id,
                                           std::string_view task_id) {
  if (!IsTaskIdShape(task_id)) return TaskNotFound(region_id, task_id);
  ASSIGN_OR_RETURN(std::optional<storage::IoTaskRow> task,
                   txn.GetIoTask(std::string(task_id)));
  if (!task.has_value() || task->account_id != caller.account_id ||
      (!region_id.empty() && task->region_id != region_id)) {
    return TaskNotFound(region_id, task_id);
  }
  return *std::move(task);
}

void ImageDomain::ImportImageAsync(const Caller& caller,
                                   const v1::ImportImageRequest& req,
                                   v1::ImportImageResponse* resp, Done done) {
  StartWrite(caller, std::move(done), [&]() -> absl::StatusOr<WriteFn> {
    RETURN_IF_ERROR(Require("RegionId", req.region_id()));
    ASSIGN_OR_RETURN(std::vector<ImportSource> sources, ImportSourcesOf(req));
    RETURN_IF_ERROR(CheckOptionalName("ImageName", req.image_name(),
                                      Err::kInvalidImageNameMalformed));
    RETURN_IF_ERROR(CheckOptionalDescription(
        "Description", req.description(), Err::kInvalidDescriptionMalformed));
    const int32_t size_gib = sources.front().size_gib;
    ASSIGN_OR_RETURN(
        PlatformSpec platform,
        CheckPlatform(req.architecture(), req.os_type(), req.platform()));
    RETURN_IF_ERROR(CheckClientToken(req.client_token()));
    const std::string fingerprint = Fingerprint(req);
    const int64_t now_ms = clock_.NowMs();
    // Read outside the transaction; applied after a replay could answer:
    // the first disk found wrong. No backend given: the simulated one,
    // which reads nothing.
    absl::Status input_refusal;
    for (const ImportSource& source : sources) {
      if (options_.backend == nullptr) break;
      input_refusal =
          InputRefusal(options_.backend->CheckImportSource(
                           source.bucket, source.object, source.format),
                       source.prefix);
      if (!input_refusal.ok()) break;
    }
    std::vector<backend::ImportDisk> data_disks;
    for (size_t i = 1; i < sources.size(); ++i) {
      data_disks.push_back(
          {sources[i].bucket, sources[i].object, sources[i].format});
    }

    return WriteFn([this, caller, &req, resp, sources, size_gib, platform,
                    fingerprint, now_ms, input_refusal,
                    data_disks](storage::WriteTxn& txn) -> absl::Status {
      resp->Clear();
      RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
      ASSIGN_OR_RETURN(
          bool replayed,
          RecallInto(txn, caller.account_id, "ImportImage", req.client_token(),
                     fingerprint, now_ms, options_.client_token_ttl_ms, resp));
      if (replayed) return absl::OkStatus();
      RETURN_IF_ERROR(input_refusal);
      RETURN_IF_ERROR(CheckNameFree(txn, caller.account_id, req.region_id(),
                                    req.image_name(), "ImageName",
                                    Err::kInvalidImageNameDuplicated));
      RETURN_IF_ERROR(
          CheckImageQuota(txn, caller.account_id, req.region_id(), options_));

      storage::ImageRow image;
      image.image_id = ids_.NewImageId();
      image.region_id = req.region_id();
      image.owner_account_id = caller.account_id;
      image.name = req.image_name();
      image.description = req.description();
      image.status = "Waiting";
      image.progress = 0;
      image.size_gib = size_gib;
      image.architecture = platform.architecture;
      image.os_type = platform.os_type;
      image.platform = platform.platform;
      image.created_at_ms = now_ms;
      int64_t total_gib = 0;
      for (size_t i = 0; i < sources.size(); ++i) {
        storage::DiskMappingRow disk;
        disk.device = DeviceName(i);
        disk.type = i == 0 ? "system" : "data";
        disk.snapshot_id = ids_.NewSnapshotId();
        disk.size_gib = sources[i].size_gib;
        total_gib += disk.size_gib;
        image.disks.push_back(std::move(disk));
      }
      RETURN_IF_ERROR(txn.InsertImage(image));

      storage::IoTaskRow task;
      task.task_id = ids_.NewTaskId();
      task.account_id = caller.account_id;
      task.region_id = req.region_id();
      task.image_rowid = image.rowid;
      task.image_id = image.image_id;
      task.action = std::string(kActionImport);
      task.status = std::string(kTaskWaiting);
      task.total_mib = total_gib * kMibPerGib;
      task.support_cancel = true;
      task.oss_bucket = sources.front().bucket;
      task.oss_object = sources.front().object;
      task.image_format = sources.front().format;
      task.data_disks = EncodeImportDisks(data_disks);
      task.created_at_ms = now_ms;
      RETURN_IF_ERROR(txn.InsertIoTask(task));

      resp->set_region_id(req.region_id());
      resp->set_image_id(image.image_id);
      resp->set_task_id(task.task_id);
      return RememberClientToken(txn, caller.account_id, "ImportImage",
                                 req.client_token(), fingerprint, *resp,
                                 now_ms);
    });
  });
}

void ImageDomain::ExportImageAsync(const Caller& caller,
                                   const v1::ExportImageRequest& req,
                                   v1::ExportImageResponse* resp, Done done) {
  StartWrite(caller, std::move(done), [&]() -> absl::StatusOr<WriteFn> {
    RETURN_IF_ERROR(Require("RegionId", req.region_id()));
    RETURN_IF_ERROR(Require("ImageId", req.image_id()));
    RETURN_IF_ERROR(Require("OSSBucket", req.oss_bucket()));
    ASSIGN_OR_RETURN(std::string format, ExportFormat(req.image_format()));
    RETURN_IF_ERROR(CheckClientToken(req.client_token()));
    const std::string fingerprint = Fingerprint(req);
    const int64_t now_ms = clock_.NowMs();
    // Read outside the transaction; applied once the image may be exported.
    const backend::InputProblem input =
        options_.backend == nullptr
            ? backend::InputProblem{}
            : options_.backend->CheckExportTarget(
                  req.oss_bucket(), req.oss_prefix(), req.image_id());

    return WriteFn([this, caller, &req, resp, format, fingerprint, now_ms,
                    input](storage::WriteTxn& txn) -> absl::Status {
      resp->Clear();
      RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
      ASSIGN_OR_RETURN(
          bool replayed,
          RecallInto(txn, caller.account_id, "ExportImage", req.client_token(),
                     fingerprint, now_ms, options_.client_token_ttl_ms, resp));
      if (replayed) return absl::OkStatus();
      ASSIGN_OR_RETURN(
          storage::ImageRow image,
          OwnLiveImage(txn, caller, req.region_id(), req.image_id()));
      const std::string subject = absl::StrCat("image/", image.image_id);
      if (image.is_public) {
        return Error(Err::kImageIsPublicExport)
            .Meta("imageId", image.image_id)
            .Meta("regionId", image.region_id)
            .Precondition(subject, "the image is public");
      }
      if (image.status != "Available") {
        return Error(Err::kIncorrectImageStatusNotAvailable)
            .Meta("imageId", image.image_id)
            .Meta("regionId", image.region_id)
            .Meta("status", image.status)
            .Precondition(subject, absl::StrCat("image is ", image.status));
      }
      ASSIGN_OR_RETURN(
          std::optional<storage::IoTaskRow> exporting,
          txn.GetActiveIoTask(image.rowid, std::string(kActionExport)));
      if (exporting.has_value()) {
        return Error(Err::kImageIsExporting)
            .Meta("imageId", image.image_id)
            .Meta("regionId", image.region_id)
            .Meta("taskId", exporting->task_id)
            .Precondition(absl::StrCat("task/", exporting->task_id),
                          absl::StrCat("ExportImage task ", exporting->status))
            .RetryAfterMs(IoTaskRemainingMs(*exporting, options_));
      }
      RETURN_IF_ERROR(InputRefusal(input));

      storage::IoTaskRow task;
      task.task_id = ids_.NewTaskId();
      task.account_id = caller.account_id;
      task.region_id = req.region_id();
      task.image_rowid = image.rowid;
      task.image_id = image.image_id;
      task.action = std::string(kActionExport);
      task.status = std::string(kTaskWaiting);
      task.total_mib = int64_t{image.size_gib} * kMibPerGib;
      task.support_cancel = true;
      task.oss_bucket = req.oss_bucket();
      task.oss_object = req.oss_prefix();
      task.image_format = format;
      task.created_at_ms = now_ms;
      RETURN_IF_ERROR(txn.InsertIoTask(task));

      resp->set_region_id(req.region_id());
      resp->set_task_id(task.task_id);
      return RememberClientToken(txn, caller.account_id, "ExportImage",
                                 req.client_token(), fingerprint, *resp,
                                 now_ms);
    });
  });
}

absl::Status ImageDomain::DescribeTasks(const Caller& caller,
                                        const v1::DescribeTasksRequest& req,
                                        v1::DescribeTasksResponse* resp) {
  RETURN_IF_ERROR(Require("RegionId", req.region_id()));
  storage::IoTaskQuery query;
  if (!req.task_ids().empty()) {
    ASSIGN_OR_RETURN(query.task_ids,
                     SplitList("TaskIds", req.task_ids(), kMaxTaskIds));
  }
  if (!req.task_action().empty()) {
    RETURN_IF_ERROR(CheckOneOf("TaskAction", req.task_action(),
                               {kActionImport, kActionExport}));
  }
  if (!req.task_status().empty()) {
    RETURN_IF_ERROR(
        CheckOneOf("TaskStatus", req.task_status(), TaskStatuses()));
  }
  ASSIGN_OR_RETURN(const Page page,
                   CheckPage(req.page_number(), req.page_size()));
  query.account_id = caller.account_id;
  query.region_id = req.region_id();
  query.action = req.task_action();
  query.status = req.task_status();
  query.offset = page.offset();
  query.limit = page.size;

  return store_.RunInReadTransaction(
      [&](storage::ReadTxn& txn) -> absl::Status {
        resp->Clear();
        RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
        ASSIGN_OR_RETURN(auto found, txn.ListIoTasks(query));
        resp->set_region_id(req.region_id());
        resp->set_total_count(static_cast<int32_t>(found.first));
        resp->set_page_number(page.number);
        resp->set_page_size(page.size);
        for (const storage::IoTaskRow& row : found.second) {
          FillTask(row, options_.backend, resp->add_task_set());
        }
        return absl::OkStatus();
      });
}

void ImageDomain::CancelTaskAsync(const Caller& caller,
                                  const v1::CancelTaskRequest& req,
                                  v1::CancelTaskResponse* resp, Done done) {
  StartWrite(caller, std::move(done), [&]() -> absl::StatusOr<WriteFn> {
    RETURN_IF_ERROR(Require("RegionId", req.region_id()));
    RETURN_IF_ERROR(Require("TaskId", req.task_id()));
    const int64_t now_ms = clock_.NowMs();

    return WriteFn([this, caller, &req, resp,
                    now_ms](storage::WriteTxn& txn) -> absl::Status {
      RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
      ASSIGN_OR_RETURN(storage::IoTaskRow task,
                       OwnTask(txn, caller, req.region_id(), req.task_id()));
      const std::string subject = absl::StrCat("task/", task.task_id);
      if (IsTerminalTaskStatus(task.status)) {
        return Error(Err::kIncorrectTaskStatus)
            .Meta("taskId", task.task_id)
            .Meta("regionId", task.region_id)
            .Meta("taskStatus", task.status)
            .Precondition(subject, absl::StrCat("task is ", task.status));
      }
      if (!task.support_cancel) {
        return Error(Err::kCancelNotSupported)
            .Meta("taskId", task.task_id)
            .Meta("regionId", task.region_id)
            .Precondition(subject, "the task cannot be cancelled");
      }
      return ApplyTaskStatus(txn, task, kTaskCancelled, now_ms);
    });
  });
}

}  // namespace ecsimage::domain

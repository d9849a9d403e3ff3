// ImportImage, ExportImage, DescribeTasks and CancelTask on a real SQLite
// file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/domain/import_disks.h"
#include "tests/domain/task_test_env.h"

namespace ecsimage::domain {
namespace {

using ::ecsimage::testing::EcsCode;
using ::ecsimage::testing::MetaOf;
using ::ecsimage::testing::TaskTestEnv;

constexpr char kHangzhou[] = "cn-hangzhou";
constexpr char kShanghai[] = "cn-shanghai";

v1::ImportImageRequest ImportRequest(const std::string& name = "") {
  v1::ImportImageRequest req;
  req.set_region_id(kHangzhou);
  req.set_image_name(name);
  req.set_oss_bucket("images");
  req.set_oss_object("disks/web.qcow2");
  return req;
}

class IoTasksTest : public ::testing::Test {
 protected:
  v1::ImportImageResponse Import(const v1::ImportImageRequest& req,
                                 const Caller* caller = nullptr) {
    v1::ImportImageResponse resp;
    absl::Status status = env_.domain().ImportImage(
        caller != nullptr ? *caller : env_.alice(), req, &resp);
    EXPECT_TRUE(status.ok()) << status;
    return resp;
  }
  absl::Status ImportStatus(const v1::ImportImageRequest& req) {
    v1::ImportImageResponse resp;
    return env_.domain().ImportImage(env_.alice(), req, &resp);
  }
  absl::StatusOr<v1::ExportImageResponse> Export(
      const Caller& caller, const std::string& image_id,
      const std::string& token = "") {
    v1::ExportImageRequest req;
    req.set_region_id(kHangzhou);
    req.set_image_id(image_id);
    req.set_oss_bucket("exports");
    req.set_oss_prefix("web/");
    req.set_client_token(token);
    v1::ExportImageResponse resp;
    absl::Status status = env_.domain().ExportImage(caller, req, &resp);
    if (!status.ok()) return status;
    return resp;
  }
  absl::Status Cancel(const Caller& caller, const std::string& task_id,
                      const std::string& region = kHangzhou) {
    v1::CancelTaskRequest req;
    req.set_region_id(region);
    req.set_task_id(task_id);
    v1::CancelTaskResponse resp;
    return env_.domain().CancelTask(caller, req, &resp);
  }
  absl::StatusOr<v1::DescribeTasksResponse> Describe(
      const Caller& caller, v1::DescribeTasksRequest req) {
    if (req.region_id().empty()) req.set_region_id(kHangzhou);
    v1::DescribeTasksResponse resp;
    absl::Status status = env_.domain().DescribeTasks(caller, req, &resp);
    if (!status.ok()) return status;
    return resp;
  }

  TaskTestEnv env_;
};

TEST_F(IoTasksTest, ImportImageCreatesAWaitingImageAndItsTaskTogether) {
  const int64_t live = env_.LiveImages(env_.alice(), kHangzhou);
  v1::ImportImageRequest req = ImportRequest("web-server");
  req.set_description("imported web server");
  req.set_architecture("arm64");
  req.set_platform("Ubuntu");
  v1::ImportImageResponse resp = Import(req);
  EXPECT_EQ(resp.region_id(), kHangzhou);
  EXPECT_TRUE(IsImageIdShape(resp.image_id())) << resp.image_id();
  EXPECT_TRUE(IsTaskIdShape(resp.task_id())) << resp.task_id();

  storage::ImageRow image = env_.Image(kHangzhou, resp.image_id());
  EXPECT_EQ(image.status, "Waiting");
  EXPECT_EQ(image.progress, 0);
  EXPECT_EQ(image.size_gib, 40);
  EXPECT_EQ(image.name, "web-server");
  EXPECT_EQ(image.description, "imported web server");
  EXPECT_EQ(image.architecture, "arm64");
  EXPECT_EQ(image.os_type, "linux");
  EXPECT_EQ(image.platform, "Ubuntu");
  EXPECT_EQ(image.owner_account_id, env_.alice().account_id);
  EXPECT_FALSE(image.is_copied);

  storage::IoTaskRow task = env_.Task(resp.task_id());
  EXPECT_EQ(task.action, "ImportImage");
  EXPECT_EQ(task.status, "Waiting");
  EXPECT_EQ(task.account_id, env_.alice().account_id);
  EXPECT_EQ(task.region_id, kHangzhou);
  EXPECT_EQ(task.image_rowid, image.rowid);
  EXPECT_EQ(task.total_mib, 40 * 1024);
  EXPECT_EQ(task.oss_bucket, "images");
  EXPECT_EQ(task.oss_object, "disks/web.qcow2");
  EXPECT_TRUE(task.support_cancel);
  EXPECT_EQ(env_.LiveImages(env_.alice(), kHangzhou), live + 1);
}

TEST_F(IoTasksTest, ImportImageTakesEcsDiskDeviceMappingForOneDisk) {
  v1::ImportImageRequest req = ImportRequest("mapped");
  req.clear_oss_bucket();
  req.clear_oss_object();
  v1::ImportDiskDeviceMapping* disk = req.add_disk_device_mapping();
  disk->set_oss_bucket("other-bucket");
  disk->set_oss_object("disks/db.img");
  disk->set_format("qcow2");
  disk->set_disk_image_size(50);
  v1::ImportImageResponse resp = Import(req);
  storage::ImageRow image = env_.Image(kHangzhou, resp.image_id());
  EXPECT_EQ(image.size_gib, 50);
  ASSERT_EQ(image.disks.size(), 1u);
  EXPECT_EQ(image.disks[0].type, "system");
  EXPECT_EQ(image.disks[0].size_gib, 50);
  storage::IoTaskRow task = env_.Task(resp.task_id());
  EXPECT_EQ(task.oss_bucket, "other-bucket");
  EXPECT_EQ(task.oss_object, "disks/db.img");
  EXPECT_EQ(task.image_format, "QCOW2");
  EXPECT_EQ(task.total_mib, 50 * 1024);
  // The shorthand names no format: any.
  EXPECT_EQ(env_.Task(Import(ImportRequest()).task_id()).image_format, "");
}

TEST_F(IoTasksTest, ImportImageTakesDataDisksInEcsDiskDeviceMapping) {
  v1::ImportImageRequest req = ImportRequest("three-disks");
  req.clear_oss_bucket();
  req.clear_oss_object();
  auto add = [&](const std::string& bucket, const std::string& object,
                 const std::string& format, int32_t size) {
    v1::ImportDiskDeviceMapping* disk = req.add_disk_device_mapping();
    disk->set_oss_bucket(bucket);
    disk->set_oss_object(object);
    disk->set_format(format);
    disk->set_disk_image_size(size);
  };
  add("images", "system.qcow2", "qcow2", 20);
  add("images", "data\tone.raw", "raw", 0);  // a tab in the key
  add("other-bucket", "d/two", "", 100);
  v1::ImportImageResponse resp = Import(req);
  storage::ImageRow image = env_.Image(kHangzhou, resp.image_id());
  EXPECT_EQ(image.size_gib, 20);  // the system disk's
  ASSERT_EQ(image.disks.size(), 3u);
  EXPECT_EQ(image.disks[0].type, "system");
  EXPECT_EQ(image.disks[0].device, "/dev/xvda");
  EXPECT_EQ(image.disks[0].size_gib, 20);
  EXPECT_EQ(image.disks[1].type, "data");
  EXPECT_EQ(image.disks[1].device, "/dev/xvdb");
  EXPECT_EQ(image.disks[1].size_gib, 40);
  EXPECT_EQ(image.disks[2].device, "/dev/xvdc");
  EXPECT_EQ(image.disks[2].size_gib, 100);
  EXPECT_NE(image.disks[1].snapshot_id, image.disks[2].snapshot_id);
  storage::IoTaskRow task = env_.Task(resp.task_id());
  EXPECT_EQ(task.oss_object, "system.qcow2");
  EXPECT_EQ(task.image_format, "QCOW2");
  EXPECT_EQ(task.total_mib, (20 + 40 + 100) * 1024);
  absl::StatusOr<std::vector<backend::ImportDisk>> decoded =
      DecodeImportDisks(task.data_disks);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const std::vector<backend::ImportDisk>& disks = *decoded;
  ASSERT_EQ(disks.size(), 2u);
  EXPECT_EQ(disks[0].oss_bucket, "images");
  EXPECT_EQ(disks[0].oss_object, "data\tone.raw");
  EXPECT_EQ(disks[0].format, "RAW");
  EXPECT_EQ(disks[1].oss_bucket, "other-bucket");
  EXPECT_EQ(disks[1].oss_object, "d/two");
  EXPECT_EQ(disks[1].format, "");
}

TEST_F(IoTasksTest, ImportDisksRoundTripAnyKeyAndRefuseGarbage) {
  std::vector<backend::ImportDisk> disks{
      {"b", "tab\tnew\nline\\back\xc3\xa9", "QCOW2"},
      {"bucket-2", "plain", ""}};
  absl::StatusOr<std::vector<backend::ImportDisk>> decoded =
      DecodeImportDisks(EncodeImportDisks(disks));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const std::vector<backend::ImportDisk>& back = *decoded;
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].oss_object, disks[0].oss_object);
  EXPECT_EQ(back[0].format, "QCOW2");
  EXPECT_EQ(back[1].oss_bucket, "bucket-2");
  EXPECT_EQ(back[1].format, "");
  EXPECT_EQ(EncodeImportDisks({}), "");
  absl::StatusOr<std::vector<backend::ImportDisk>> none = DecodeImportDisks("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(DecodeImportDisks("RAW\tonly-two-fields\n").ok());
  EXPECT_FALSE(DecodeImportDisks("RAW\tb\tbad\\escape\\\n").ok());
}

TEST_F(IoTasksTest, ImportImageChecksItsParameters) {
  struct Case {
    std::string what;
    v1::ImportImageRequest req;
    std::string code;
    std::string parameter;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, auto edit, std::string code,
                 std::string parameter = "") {
    v1::ImportImageRequest req = ImportRequest();
    edit(req);
    cases.push_back({what, req, code, parameter});
  };
  add(
      "no region", [](auto& r) { r.clear_region_id(); }, "MissingParameter",
      "RegionId");
  add(
      "no bucket", [](auto& r) { r.clear_oss_bucket(); }, "MissingParameter",
      "OSSBucket");
  add(
      "no object", [](auto& r) { r.clear_oss_object(); }, "MissingParameter",
      "OSSObject");
  add(
      "bad name", [](auto& r) { r.set_image_name("1starts-with-digit"); },
      "InvalidImageName.Malformed");
  add(
      "url name", [](auto& r) { r.set_image_name("http://x"); },
      "InvalidImageName.Malformed");
  add(
      "bad description", [](auto& r) { r.set_description("x"); },
      "InvalidDescription.Malformed");
  add(
      "too big", [](auto& r) { r.set_size(2049); }, "InvalidParameter", "Size");
  add(
      "negative", [](auto& r) { r.set_size(-1); }, "InvalidParameter", "Size");
  add(
      "architecture", [](auto& r) { r.set_architecture("i386"); },
      "InvalidParameter", "Architecture");
  add(
      "os type", [](auto& r) { r.set_os_type("Linux"); }, "InvalidParameter",
      "OSType");
  add(
      "token", [](auto& r) { r.set_client_token(std::string(65, 't')); },
      "InvalidParameter", "ClientToken");
  add(
      "region", [](auto& r) { r.set_region_id("mars-north-1"); },
      "InvalidRegionId.NotFound");
  // ECS's shape, DiskDeviceMapping.N.*.
  auto mapped = [](v1::ImportImageRequest& r) {
    r.clear_oss_bucket();
    r.clear_oss_object();
    v1::ImportDiskDeviceMapping* disk = r.add_disk_device_mapping();
    disk->set_oss_bucket("images");
    disk->set_oss_object("disks/web.qcow2");
    return disk;
  };
  add(
      "both shapes",
      [&](auto& r) {
        mapped(r);
        r.set_oss_bucket("images");
      },
      "InvalidParameter", "DiskDeviceMapping");
  add(
      "both sizes",
      [&](auto& r) {
        mapped(r);
        r.set_size(50);
      },
      "InvalidParameter", "DiskDeviceMapping");
  add(
      "18 disks",
      [&](auto& r) {
        for (int i = 0; i < 18; ++i) mapped(r);
      },
      "InvalidParameter", "DiskDeviceMapping");
  add(
      "a data disk without its object",
      [&](auto& r) {
        mapped(r);
        mapped(r)->clear_oss_object();
      },
      "MissingParameter", "DiskDeviceMapping.2.OSSObject");
  add(
      "a VHD data disk",
      [&](auto& r) {
        mapped(r);
        mapped(r);
        mapped(r)->set_format("VHD");
      },
      "InvalidImageFormat.NotSupported");
  add(
      "a data disk too big",
      [&](auto& r) {
        mapped(r);
        mapped(r)->set_disk_image_size(2049);
      },
      "InvalidParameter", "DiskDeviceMapping.2.DiskImageSize");
  add(
      "mapped, no bucket", [&](auto& r) { mapped(r)->clear_oss_bucket(); },
      "MissingParameter", "DiskDeviceMapping.1.OSSBucket");
  add(
      "mapped, no object", [&](auto& r) { mapped(r)->clear_oss_object(); },
      "MissingParameter", "DiskDeviceMapping.1.OSSObject");
  add(
      "mapped, too big", [&](auto& r) { mapped(r)->set_disk_image_size(2049); },
      "InvalidParameter", "DiskDeviceMapping.1.DiskImageSize");
  add(
      "mapped, VHD", [&](auto& r) { mapped(r)->set_format("vhd"); },
      "InvalidImageFormat.NotSupported");
  add(
      "mapped, ISO", [&](auto& r) { mapped(r)->set_format("iso"); },
      "InvalidParameter", "DiskDeviceMapping.1.Format");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    absl::Status status = ImportStatus(c.req);
    EXPECT_EQ(EcsCode(status), c.code) << status;
    if (!c.parameter.empty()) {
      EXPECT_NE(status.message().find("\"" + c.parameter + "\""),
                std::string::npos)
          << status;
    }
  }
  EXPECT_EQ(env_.LiveImages(env_.alice(), kHangzhou), 0);
}

TEST_F(IoTasksTest, ImportImageSizeLimitsAreInclusive) {
  v1::ImportImageRequest req = ImportRequest();
  req.set_size(1);
  EXPECT_EQ(env_.Task(Import(req).task_id()).total_mib, 1024);
  req.set_size(2048);
  EXPECT_EQ(env_.Task(Import(req).task_id()).total_mib, 2048 * 1024);
}

TEST_F(IoTasksTest, ImportImageNamesAreUniqueAmongLiveImages) {
  v1::ImportImageResponse first = Import(ImportRequest("web"));
  absl::Status duplicate = ImportStatus(ImportRequest("web"));
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(EcsCode(duplicate), "InvalidImageName.Duplicated");
  // Another account may use the name.
  Import(ImportRequest("web"), &env_.bob());
  // A cancelled import frees the name.
  ASSERT_TRUE(Cancel(env_.alice(), first.task_id()).ok());
  Import(ImportRequest("web"));
}

TEST(IoTasksQuotaTest, ImportImageRespectsTheImageQuota) {
  DomainOptions options;
  options.image_quota_per_region = 2;
  TaskTestEnv env(options);
  v1::ImportImageResponse resp;
  ASSERT_TRUE(
      env.domain().ImportImage(env.alice(), ImportRequest(), &resp).ok());
  ASSERT_TRUE(
      env.domain().ImportImage(env.alice(), ImportRequest(), &resp).ok());
  absl::Status full =
      env.domain().ImportImage(env.alice(), ImportRequest(), &resp);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(EcsCode(full), "QuotaExceed.Image");
  EXPECT_EQ(MetaOf(full, "quota"), "2");
  EXPECT_EQ(env.LiveImages(env.alice(), kHangzhou), 2);
  // Per region.
  v1::ImportImageRequest elsewhere = ImportRequest();
  elsewhere.set_region_id(kShanghai);
  EXPECT_TRUE(env.domain().ImportImage(env.alice(), elsewhere, &resp).ok());
}

TEST_F(IoTasksTest, ImportImageClientTokenReplaysTheFirstAnswer) {
  v1::ImportImageRequest req = ImportRequest("tokened");
  req.set_client_token("retry-1");
  v1::ImportImageResponse first = Import(req);
  v1::ImportImageResponse again = Import(req);
  EXPECT_EQ(again.image_id(), first.image_id());
  EXPECT_EQ(again.task_id(), first.task_id());
  EXPECT_EQ(again.region_id(), kHangzhou);
  EXPECT_EQ(env_.LiveImages(env_.alice(), kHangzhou), 1);

  req.set_size(100);
  absl::Status mismatch = ImportStatus(req);
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EcsCode(mismatch), "IdempotentParameterMismatch");
}

TEST_F(IoTasksTest, ExportImageStartsAWaitingTaskAndLeavesTheImage) {
  storage::ImageRow image =
      env_.PutImage(env_.alice(), kHangzhou, "Available", /*size_gib=*/30);
  auto exported = Export(env_.alice(), image.image_id);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->region_id(), kHangzhou);
  storage::IoTaskRow task = env_.Task(exported->task_id());
  EXPECT_EQ(task.action, "ExportImage");
  EXPECT_EQ(task.status, "Waiting");
  EXPECT_EQ(task.image_rowid, image.rowid);
  EXPECT_EQ(task.total_mib, 30 * 1024);
  EXPECT_EQ(task.oss_bucket, "exports");
  EXPECT_EQ(task.oss_object, "web/");
  storage::ImageRow after = env_.ImageAt(image.rowid);
  EXPECT_EQ(after.status, "Available");
  EXPECT_EQ(after.progress, 100);
}

TEST_F(IoTasksTest, ExportImageRefusesWhatCannotBeExported) {
  // Public.
  storage::ImageRow shown = env_.PutImage(env_.alice(), kHangzhou, "Available");
  shown.is_public = true;
  env_.Write([&](storage::WriteTxn& txn) { return txn.UpdateImage(shown); });
  absl::Status status = Export(env_.alice(), shown.image_id).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EcsCode(status), "ImageIsPublic");
  EXPECT_EQ(status.message(),
            "The specified image is public and can not be exported or copied.");

  // Not Available.
  for (const char* state :
       {"Creating", "Waiting", "CreateFailed", "Deprecated", "UnAvailable"}) {
    storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, state);
    status = Export(env_.alice(), image.image_id).status();
    EXPECT_EQ(EcsCode(status), "IncorrectImageStatus") << state;
    EXPECT_EQ(status.message(), "The image not available.") << state;
  }

  // Already exporting: retry once the running export ends.
  storage::ImageRow image =
      env_.PutImage(env_.alice(), kHangzhou, "Available", /*size_gib=*/10);
  auto first = Export(env_.alice(), image.image_id);
  ASSERT_TRUE(first.ok());
  status = Export(env_.alice(), image.image_id).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EcsCode(status), "ImageIsExporting");
  EXPECT_EQ(MetaOf(status, "taskId"), first->task_id());
  auto payload = PayloadOf(status);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(payload->retry_delay_ms(), 10 * 1000);  // 10 GiB at 1 GiB/s

  // Someone else's, or nobody's.
  status = Export(env_.bob(), image.image_id).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(EcsCode(status), "InvalidImageId.NotFound");
  status = Export(env_.alice(), "m-00000000000000000000").status();
  EXPECT_EQ(EcsCode(status), "InvalidImageId.NotFound");
  // Not even an image id.
  status = Export(env_.alice(), "not-an-image-id").status();
  EXPECT_EQ(EcsCode(status), "InvalidImageId.NotFound");
}

TEST_F(IoTasksTest, ExportImageClientTokenReplaysTheFirstTask) {
  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  auto first = Export(env_.alice(), image.image_id, "export-1");
  ASSERT_TRUE(first.ok());
  // Without the token this would be ImageIsExporting.
  auto again = Export(env_.alice(), image.image_id, "export-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->task_id(), first->task_id());
}

TEST_F(IoTasksTest, DescribeTasksListsOnlyTheCallersTasksWithFilters) {
  v1::ImportImageResponse one = Import(ImportRequest());
  v1::ImportImageResponse two = Import(ImportRequest());
  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  auto exported = Export(env_.alice(), image.image_id);
  ASSERT_TRUE(exported.ok());
  Import(ImportRequest(), &env_.bob());
  v1::ImportImageRequest elsewhere = ImportRequest();
  elsewhere.set_region_id(kShanghai);
  Import(elsewhere);
  ASSERT_TRUE(Cancel(env_.alice(), two.task_id()).ok());

  auto all = Describe(env_.alice(), {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->total_count(), 3);
  EXPECT_EQ(all->task_set_size(), 3);
  EXPECT_EQ(all->region_id(), kHangzhou);
  EXPECT_EQ(all->page_number(), 1);
  EXPECT_EQ(all->page_size(), 10);
  for (const v1::Task& task : all->task_set()) {
    EXPECT_TRUE(task.task_id() == one.task_id() ||
                task.task_id() == two.task_id() ||
                task.task_id() == exported->task_id())
        << task.task_id();
    if (task.task_id() == one.task_id()) {
      EXPECT_EQ(task.task_action(), "ImportImage");
      EXPECT_EQ(task.task_status(), "Waiting");
      EXPECT_EQ(task.task_process(), "0%");
      EXPECT_TRUE(task.support_cancel());
      EXPECT_EQ(task.resource_id(), one.image_id());
      EXPECT_EQ(task.creation_time(),
                FormatIso8601(env_.Task(one.task_id()).created_at_ms));
      EXPECT_EQ(task.finished_time(), "");
    }
    if (task.task_id() == two.task_id()) {
      EXPECT_EQ(task.task_status(), "Cancelled");
      EXPECT_FALSE(task.support_cancel());
      EXPECT_NE(task.finished_time(), "");
    }
  }

  v1::DescribeTasksRequest req;
  req.set_task_action("ExportImage");
  auto exports = Describe(env_.alice(), req);
  ASSERT_TRUE(exports.ok());
  ASSERT_EQ(exports->task_set_size(), 1);
  EXPECT_EQ(exports->task_set(0).task_id(), exported->task_id());

  req.Clear();
  req.set_task_status("Cancelled");
  auto cancelled = Describe(env_.alice(), req);
  ASSERT_TRUE(cancelled.ok());
  ASSERT_EQ(cancelled->task_set_size(), 1);
  EXPECT_EQ(cancelled->task_set(0).task_id(), two.task_id());

  req.Clear();
  req.set_task_ids(one.task_id() + "," + exported->task_id() +
                   ",t-00000000000000000000");
  auto picked = Describe(env_.alice(), req);
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(picked->total_count(), 2);

  req.Clear();
  req.set_page_size(2);
  req.set_page_number(2);
  auto page = Describe(env_.alice(), req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_count(), 3);
  EXPECT_EQ(page->task_set_size(), 1);
  EXPECT_EQ(page->page_number(), 2);
  EXPECT_EQ(page->page_size(), 2);

  auto bobs = Describe(env_.bob(), {});
  ASSERT_TRUE(bobs.ok());
  EXPECT_EQ(bobs->total_count(), 1);
}

TEST_F(IoTasksTest, DescribeTasksChecksItsParameters) {
  v1::DescribeTasksRequest req;
  req.set_task_action("CopyImage");
  EXPECT_EQ(EcsCode(Describe(env_.alice(), req).status()), "InvalidParameter");
  req.Clear();
  req.set_task_status("Running");
  EXPECT_EQ(EcsCode(Describe(env_.alice(), req).status()), "InvalidParameter");
  req.Clear();
  req.set_page_size(101);
  EXPECT_EQ(EcsCode(Describe(env_.alice(), req).status()), "InvalidParameter");
  req.Clear();
  std::string ids;
  for (int i = 0; i < 101; ++i) ids += (i ? ",t-" : "t-") + std::to_string(i);
  req.set_task_ids(ids);
  EXPECT_EQ(EcsCode(Describe(env_.alice(), req).status()), "InvalidParameter");
  req.Clear();
  req.set_region_id("mars-north-1");
  EXPECT_EQ(EcsCode(Describe(env_.alice(), req).status()),
            "InvalidRegionId.NotFound");
}

TEST_F(IoTasksTest, CancelTaskOfAnImportTombstonesItsImage) {
  v1::ImportImageResponse resp = Import(ImportRequest("to-cancel"));
  const int64_t live = env_.LiveImages(env_.alice(), kHangzhou);
  env_.clock().AdvanceMs(1234);
  ASSERT_TRUE(Cancel(env_.alice(), resp.task_id()).ok());
  storage::IoTaskRow task = env_.Task(resp.task_id());
  EXPECT_EQ(task.status, "Cancelled");
  ASSERT_TRUE(task.finished_at_ms.has_value());
  EXPECT_EQ(*task.finished_at_ms, env_.clock().NowMs());
  storage::ImageRow image = env_.Image(kHangzhou, resp.image_id());
  ASSERT_TRUE(image.deleted_at_ms.has_value());
  EXPECT_EQ(*image.deleted_at_ms, env_.clock().NowMs());
  EXPECT_EQ(env_.LiveImages(env_.alice(), kHangzhou), live - 1);

  absl::Status again = Cancel(env_.alice(), resp.task_id());
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EcsCode(again), "IncorrectTaskStatus");
  EXPECT_EQ(MetaOf(again, "taskStatus"), "Cancelled");
}

TEST_F(IoTasksTest, CancelTaskOfAnExportLeavesTheImageAsItWas) {
  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  auto exported = Export(env_.alice(), image.image_id);
  ASSERT_TRUE(exported.ok());
  ASSERT_TRUE(Cancel(env_.alice(), exported->task_id()).ok());
  EXPECT_EQ(env_.Task(exported->task_id()).status, "Cancelled");
  storage::ImageRow after = env_.ImageAt(image.rowid);
  EXPECT_EQ(after.status, "Available");
  EXPECT_EQ(after.progress, 100);
  EXPECT_FALSE(after.deleted_at_ms.has_value());
  // The image can be exported again.
  EXPECT_TRUE(Export(env_.alice(), image.image_id).ok());
}

TEST_F(IoTasksTest, CancelTaskRefusesFinishedAndFailedTasks) {
  v1::ImportImageResponse finished = Import(ImportRequest());
  v1::ImportImageResponse failed = Import(ImportRequest());
  env_.Write([&](storage::WriteTxn& txn) -> absl::Status {
    auto task = txn.GetIoTask(finished.task_id());
    if (!task.ok()) return task.status();
    (*task)->status = "Finished";
    absl::Status status = txn.UpdateIoTask(**task);
    if (!status.ok()) return status;
    task = txn.GetIoTask(failed.task_id());
    if (!task.ok()) return task.status();
    (*task)->status = "Failed";
    return txn.UpdateIoTask(**task);
  });
  for (const auto& id : {finished.task_id(), failed.task_id()}) {
    absl::Status status = Cancel(env_.alice(), id);
    EXPECT_EQ(EcsCode(status), "IncorrectTaskStatus") << id;
    EXPECT_EQ(status.message(),
              "The current status of the task does not support this "
              "operation.");
  }
}

TEST_F(IoTasksTest, CancelTaskCannotTellForeignTasksFromMissingOnes) {
  v1::ImportImageResponse bobs = Import(ImportRequest(), &env_.bob());
  v1::ImportImageResponse mine = Import(ImportRequest());
  const std::string missing = "t-00000000000000000000";
  struct Case {
    std::string what;
    std::string task_id;
    std::string region;
  };
  const std::vector<Case> cases = {
      {"another account's", bobs.task_id(), kHangzhou},
      {"never existed", missing, kHangzhou},
      {"malformed", "task-1", kHangzhou},
      {"other region", mine.task_id(), kShanghai},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    absl::Status status = Cancel(env_.alice(), c.task_id, c.region);
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(EcsCode(status), "InvalidTaskId.NotFound");
    EXPECT_EQ(status.message(), "The specified TaskId does not exist.");
    auto payload = PayloadOf(status);
    ASSERT_TRUE(payload.has_value());
    EXPECT_EQ(payload->resource_type(), "task");
    EXPECT_EQ(payload->resource_name(), c.task_id);
    EXPECT_EQ(MetaOf(status, "taskId"), c.task_id);
    EXPECT_EQ(MetaOf(status, "regionId"), c.region);
  }
  // Bob's task is untouched.
  EXPECT_EQ(env_.Task(bobs.task_id()).status, "Waiting");
}

TEST_F(IoTasksTest, CancelTaskNeedsItsParameters) {
  EXPECT_EQ(EcsCode(Cancel(env_.alice(), "")), "MissingParameter");
  EXPECT_EQ(EcsCode(Cancel(env_.alice(), "t-00000000000000000000", "")),
            "MissingParameter");
  EXPECT_EQ(EcsCode(Cancel(env_.alice(), "t-00000000000000000000", "nowhere")),
            "InvalidRegionId.NotFound");
}

}  // namespace
}  // namespace ecsimage::domain

// SimulationControl AdvanceTask / FailTask on a real SQLite file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/domain/image_domain.h"
#include "tests/domain/task_test_env.h"

namespace ecsimage::domain {
namespace {

using ::ecsimage::testing::EcsCode;
using ::ecsimage::testing::MetaOf;
using ::ecsimage::testing::TaskTestEnv;

constexpr char kHangzhou[] = "cn-hangzhou";
constexpr char kShanghai[] = "cn-shanghai";

class SimulationTest : public ::testing::Test {
 protected:
  absl::StatusOr<v1::TaskStateResponse> AdvanceImage(
      const std::string& image_id, const std::string& phase,
      int32_t progress = 0, const Caller* caller = nullptr,
      const std::string& region = kShanghai) {
    v1::AdvanceTaskRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_phase(phase);
    req.set_progress(progress);
    return Advance(req, caller);
  }
  absl::StatusOr<v1::TaskStateResponse> AdvanceTask(
      const std::string& task_id, const std::string& phase,
      int32_t progress = 0, const Caller* caller = nullptr) {
    v1::AdvanceTaskRequest req;
    req.set_region_id(kHangzhou);
    req.set_task_id(task_id);
    req.set_phase(phase);
    req.set_progress(progress);
    return Advance(req, caller);
  }
  absl::StatusOr<v1::TaskStateResponse> Advance(
      const v1::AdvanceTaskRequest& req, const Caller* caller = nullptr) {
    v1::TaskStateResponse resp;
    absl::Status status = env_.domain().AdvanceTask(
        caller != nullptr ? *caller : env_.alice(), req, &resp);
    if (!status.ok()) return status;
    return resp;
  }
  absl::StatusOr<v1::TaskStateResponse> Fail(const std::string& region,
                                             const std::string& image_id,
                                             const std::string& task_id = "",
                                             const Caller* caller = nullptr) {
    v1::FailTaskRequest req;
    req.set_region_id(region);
    req.set_image_id(image_id);
    req.set_task_id(task_id);
    v1::TaskStateResponse resp;
    absl::Status status = env_.domain().FailTask(
        caller != nullptr ? *caller : env_.alice(), req, &resp);
    if (!status.ok()) return status;
    return resp;
  }
  v1::ImportImageResponse Import() {
    v1::ImportImageRequest req;
    req.set_region_id(kHangzhou);
    req.set_oss_bucket("images");
    req.set_oss_object("disk.raw");
    req.set_size(10);
    v1::ImportImageResponse resp;
    absl::Status status = env_.domain().ImportImage(env_.alice(), req, &resp);
    EXPECT_TRUE(status.ok()) << status;
    return resp;
  }
  storage::CopyTaskRow Copy(bool support_cancel = true) {
    return env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 4096,
                        support_cancel);
  }
  // A copy already moved to `phase` by the simulation.
  storage::CopyTaskRow CopyIn(const std::string& phase,
                              bool support_cancel = true) {
    storage::CopyTaskRow copy = Copy(support_cancel);
    if (phase != "QUEUED") {
      auto moved = AdvanceImage(copy.dest_image_id, phase);
      EXPECT_TRUE(moved.ok()) << moved.status();
    }
    return copy;
  }

  TaskTestEnv env_;
};

TEST_F(SimulationTest, AdvanceMovesACopyAlongTheForwardPath) {
  storage::CopyTaskRow copy = Copy();
  auto resp = AdvanceImage(copy.dest_image_id, "TRANSFERRING");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->image_id(), copy.dest_image_id);
  EXPECT_EQ(resp->task_id(), "");
  EXPECT_EQ(resp->phase(), "TRANSFERRING");
  EXPECT_EQ(resp->status(), "Creating");
  EXPECT_EQ(resp->progress(), "1%");

  resp = AdvanceImage(copy.dest_image_id, "TRANSFERRING", 40);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->progress(), "40%");
  storage::CopyTaskRow stored = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(stored.progress, 40);
  EXPECT_EQ(stored.transferred_mib, 4096 * 40 / 100);
  EXPECT_EQ(env_.ImageAt(copy.dest_image_rowid).progress, 40);

  // Progress never goes backwards.
  auto back = AdvanceImage(copy.dest_image_id, "TRANSFERRING", 30);
  EXPECT_EQ(EcsCode(back.status()), "InvalidParameter");
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).progress, 40);

  resp = AdvanceImage(copy.dest_image_id, "REGISTERING");
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status(), "Creating");
  EXPECT_EQ(resp->progress(), "100%");

  resp = AdvanceImage(copy.dest_image_id, "SUCCEEDED");
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->phase(), "SUCCEEDED");
  EXPECT_EQ(resp->status(), "Available");
  EXPECT_EQ(resp->progress(), "100%");
  storage::ImageRow dest = env_.ImageAt(copy.dest_image_rowid);
  EXPECT_EQ(dest.status, "Available");
  EXPECT_EQ(dest.progress, 100);
}

TEST_F(SimulationTest, AdvanceWithProgressFromQueuedLandsInTransferring) {
  storage::CopyTaskRow copy = Copy();
  auto resp = AdvanceImage(copy.dest_image_id, "TRANSFERRING", 65);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "TRANSFERRING");
  EXPECT_EQ(resp->progress(), "65%");
}

TEST_F(SimulationTest, QueuedCopiesStartRegardlessOfTheRunningLimit) {
  for (int i = 0; i < 7; ++i) {
    storage::CopyTaskRow copy = Copy();
    auto resp = AdvanceImage(copy.dest_image_id, "PREPARING");
    ASSERT_TRUE(resp.ok()) << i << " " << resp.status();
    EXPECT_EQ(resp->status(), "Creating");
    EXPECT_EQ(resp->progress(), "0%");
  }
}

TEST_F(SimulationTest, MovesNoLegalPathReachesAreInvalidTransitions) {
  struct Case {
    std::string from;
    std::string to;
    bool support_cancel = true;
  };
  const std::vector<Case> cases = {
      {"QUEUED", "QUEUED"},
      {"PREPARING", "QUEUED"},
      {"TRANSFERRING", "PREPARING"},
      {"REGISTERING", "CANCELLING"},
      {"REGISTERING", "CANCELLED"},
      {"SUCCEEDED", "FAILED"},
      {"SUCCEEDED", "QUEUED"},
      {"FAILED", "SUCCEEDED"},
      {"CANCELLING", "SUCCEEDED"},
      {"CANCELLING", "FAILED"},
      {"SUCCEEDED", "SUCCEEDED"},
      {"QUEUED", "Available"},
      {"QUEUED", "Finished"},
      // A copy that cannot be cancelled never reaches the cancel phases.
      {"QUEUED", "CANCELLED", false},
      {"TRANSFERRING", "CANCELLING", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.from + " -> " + c.to);
    storage::CopyTaskRow copy = CopyIn(c.from, c.support_cancel);
    auto refused = AdvanceImage(copy.dest_image_id, c.to);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(EcsCode(refused.status()), "InvalidTransition");
    EXPECT_EQ(MetaOf(refused.status(), "from"), c.from);
    EXPECT_EQ(MetaOf(refused.status(), "to"), c.to);
    EXPECT_EQ(MetaOf(refused.status(), "imageId"), copy.dest_image_id);
    EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).phase, c.from);
  }
}

TEST_F(SimulationTest, CancellingACopyEndsInATombstone) {
  storage::CopyTaskRow copy = CopyIn("TRANSFERRING");
  auto resp = AdvanceImage(copy.dest_image_id, "CANCELLING");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status(), "UnAvailable");
  resp = AdvanceImage(copy.dest_image_id, "CANCELLED");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "CANCELLED");
  EXPECT_EQ(resp->status(), "");
  EXPECT_TRUE(env_.ImageAt(copy.dest_image_rowid).deleted_at_ms.has_value());
  // The tombstone is gone for every later call.
  auto gone = AdvanceImage(copy.dest_image_id, "SUCCEEDED");
  EXPECT_EQ(EcsCode(gone.status()), "InvalidImageId.NotFound");
}

TEST_F(SimulationTest, AQueuedCopyCancelsDirectly) {
  storage::CopyTaskRow copy = Copy();
  auto resp = AdvanceImage(copy.dest_image_id, "CANCELLED");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status(), "");
  EXPECT_EQ(resp->progress(), "0%");
}

TEST_F(SimulationTest, OnlyTheCallersOwnTasksMove) {
  storage::CopyTaskRow copy = Copy();
  auto refused = AdvanceImage(copy.dest_image_id, "PREPARING", 0, &env_.bob());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(EcsCode(refused.status()), "InvalidImageId.NotFound");
  refused = AdvanceImage(copy.dest_image_id, "PREPARING", 0, nullptr,
                         kHangzhou);  // wrong region
  EXPECT_EQ(EcsCode(refused.status()), "InvalidImageId.NotFound");
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).phase, "QUEUED");

  v1::ImportImageResponse imported = Import();
  refused = AdvanceTask(imported.task_id(), "Processing", 0, &env_.bob());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(EcsCode(refused.status()), "InvalidTaskId.NotFound");
  auto failed = Fail(kHangzhou, "", imported.task_id(), &env_.bob());
  EXPECT_EQ(EcsCode(failed.status()), "InvalidTaskId.NotFound");
  failed = Fail(kShanghai, copy.dest_image_id, "", &env_.bob());
  EXPECT_EQ(EcsCode(failed.status()), "InvalidImageId.NotFound");
  EXPECT_EQ(env_.Task(imported.task_id()).status, "Waiting");
}

TEST_F(SimulationTest, WithoutRegionTheImageIsFoundWhereverItIs) {
  storage::CopyTaskRow copy = Copy();
  v1::AdvanceTaskRequest req;
  req.set_image_id(copy.dest_image_id);
  req.set_phase("PREPARING");
  auto resp = Advance(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "PREPARING");
  req.set_image_id("m-00000000000000000000");
  EXPECT_EQ(EcsCode(Advance(req).status()), "InvalidImageId.NotFound");
}

TEST_F(SimulationTest, ACreatedImageBecomesAvailable) {
  storage::ImageRow image =
      env_.PutImage(env_.alice(), kHangzhou, "Creating", 20, 5000);
  auto resp = AdvanceImage(image.image_id, "Available", 0, nullptr, kHangzhou);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->image_id(), image.image_id);
  EXPECT_EQ(resp->phase(), "Available");
  EXPECT_EQ(resp->status(), "Available");
  EXPECT_EQ(resp->progress(), "100%");
  storage::ImageRow after = env_.ImageAt(image.rowid);
  EXPECT_EQ(after.status, "Available");
  EXPECT_EQ(after.creating_remaining_ms, 0);

  auto again = AdvanceImage(image.image_id, "Available", 0, nullptr, kHangzhou);
  EXPECT_EQ(EcsCode(again.status()), "InvalidTransition");
  EXPECT_EQ(MetaOf(again.status(), "from"), "Available");
  auto wrong = AdvanceImage(image.image_id, "SUCCEEDED", 0, nullptr, kHangzhou);
  EXPECT_EQ(EcsCode(wrong.status()), "InvalidTransition");
}

TEST_F(SimulationTest, ImportTasksMoveAndTheirImageFollows) {
  v1::ImportImageResponse imported = Import();
  auto resp = AdvanceTask(imported.task_id(), "Processing", 30);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->task_id(), imported.task_id());
  EXPECT_EQ(resp->image_id(), imported.image_id());
  EXPECT_EQ(resp->phase(), "Processing");
  EXPECT_EQ(resp->status(), "Creating");
  EXPECT_EQ(resp->progress(), "30%");
  storage::ImageRow image = env_.Image(kHangzhou, imported.image_id());
  EXPECT_EQ(image.status, "Creating");
  EXPECT_EQ(image.progress, 30);

  // The image moves with its task, not by ImageId.
  auto by_image =
      AdvanceImage(imported.image_id(), "Available", 0, nullptr, kHangzhou);
  EXPECT_EQ(EcsCode(by_image.status()), "InvalidTransition");

  resp = AdvanceTask(imported.task_id(), "Finished");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "Finished");
  EXPECT_EQ(resp->status(), "Available");
  EXPECT_EQ(resp->progress(), "100%");
  image = env_.Image(kHangzhou, imported.image_id());
  EXPECT_EQ(image.status, "Available");
  EXPECT_EQ(image.progress, 100);

  auto refused = AdvanceTask(imported.task_id(), "Processing");
  EXPECT_EQ(EcsCode(refused.status()), "InvalidTransition");
  EXPECT_EQ(MetaOf(refused.status(), "from"), "Finished");
  EXPECT_EQ(MetaOf(refused.status(), "taskId"), imported.task_id());
}

TEST_F(SimulationTest, AWaitingTaskFinishesThroughProcessing) {
  v1::ImportImageResponse imported = Import();
  auto resp = AdvanceTask(imported.task_id(), "Finished");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "Finished");
  EXPECT_EQ(env_.Task(imported.task_id()).status, "Finished");

  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  v1::ExportImageRequest req;
  req.set_region_id(kHangzhou);
  req.set_image_id(image.image_id);
  req.set_oss_bucket("exports");
  v1::ExportImageResponse exported;
  ASSERT_TRUE(env_.domain().ExportImage(env_.alice(), req, &exported).ok());
  resp = AdvanceTask(exported.task_id(), "Finished");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status(), "Available");
  EXPECT_EQ(env_.ImageAt(image.rowid).status, "Available");
}

TEST_F(SimulationTest, FailTaskFailsCopiesOnlyWhileTheyRun) {
  for (const char* phase : {"PREPARING", "TRANSFERRING", "REGISTERING"}) {
    SCOPED_TRACE(phase);
    storage::CopyTaskRow copy = CopyIn(phase);
    auto resp = Fail(kShanghai, copy.dest_image_id);
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->phase(), "FAILED");
    EXPECT_EQ(resp->status(), "CreateFailed");
    EXPECT_EQ(env_.ImageAt(copy.dest_image_rowid).status, "CreateFailed");
  }
  for (const char* phase : {"QUEUED", "SUCCEEDED", "FAILED", "CANCELLING"}) {
    SCOPED_TRACE(phase);
    storage::CopyTaskRow copy = CopyIn(phase);
    auto refused = Fail(kShanghai, copy.dest_image_id);
    EXPECT_EQ(EcsCode(refused.status()), "InvalidTransition");
    EXPECT_EQ(MetaOf(refused.status(), "from"), phase);
    EXPECT_EQ(MetaOf(refused.status(), "to"), "FAILED");
  }
}

TEST_F(SimulationTest, FailTaskFailsImportsExportsAndCreatedImages) {
  v1::ImportImageResponse imported = Import();
  auto resp = Fail(kHangzhou, "", imported.task_id());
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "Failed");
  EXPECT_EQ(resp->status(), "CreateFailed");
  storage::IoTaskRow task = env_.Task(imported.task_id());
  EXPECT_EQ(task.status, "Failed");
  EXPECT_TRUE(task.finished_at_ms.has_value());
  storage::ImageRow image = env_.Image(kHangzhou, imported.image_id());
  EXPECT_EQ(image.status, "CreateFailed");
  EXPECT_FALSE(image.deleted_at_ms.has_value());
  auto twice = Fail(kHangzhou, "", imported.task_id());
  EXPECT_EQ(EcsCode(twice.status()), "InvalidTransition");

  // By ImageId, an importing image fails with its import.
  v1::ImportImageResponse second = Import();
  resp = Fail(kHangzhou, second.image_id());
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->task_id(), second.task_id());
  EXPECT_EQ(env_.Task(second.task_id()).status, "Failed");
  EXPECT_EQ(env_.Image(kHangzhou, second.image_id()).status, "CreateFailed");

  storage::ImageRow source =
      env_.PutImage(env_.alice(), kHangzhou, "Available");
  v1::ExportImageRequest req;
  req.set_region_id(kHangzhou);
  req.set_image_id(source.image_id);
  req.set_oss_bucket("exports");
  v1::ExportImageResponse exported;
  ASSERT_TRUE(env_.domain().ExportImage(env_.alice(), req, &exported).ok());
  resp = Fail(kHangzhou, "", exported.task_id());
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->phase(), "Failed");
  EXPECT_EQ(resp->status(), "Available");
  EXPECT_EQ(env_.ImageAt(source.rowid).status, "Available");

  storage::ImageRow creating =
      env_.PutImage(env_.alice(), kHangzhou, "Creating", 20, 5000);
  resp = Fail(kHangzhou, creating.image_id);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status(), "CreateFailed");
  EXPECT_EQ(env_.ImageAt(creating.rowid).status, "CreateFailed");
  auto refused = Fail(kHangzhou, source.image_id);
  EXPECT_EQ(EcsCode(refused.status()), "InvalidTransition");
  EXPECT_EQ(MetaOf(refused.status(), "from"), "Available");
}

TEST_F(SimulationTest, RequestsAreChecked) {
  v1::AdvanceTaskRequest req;
  req.set_region_id(kShanghai);
  req.set_phase("PREPARING");
  EXPECT_EQ(EcsCode(Advance(req).status()), "MissingParameter");

  storage::CopyTaskRow copy = Copy();
  req.set_image_id(copy.dest_image_id);
  req.set_task_id("t-00000000000000000000");
  EXPECT_EQ(EcsCode(Advance(req).status()), "InvalidParameter");
  req.clear_task_id();

  req.clear_phase();
  EXPECT_EQ(EcsCode(Advance(req).status()), "MissingParameter");
  req.set_phase("DONE");
  EXPECT_EQ(EcsCode(Advance(req).status()), "InvalidParameter");
  req.set_phase("TRANSFERRING");
  req.set_progress(100);
  EXPECT_EQ(EcsCode(Advance(req).status()), "InvalidParameter");
  req.set_phase("SUCCEEDED");
  req.set_progress(50);
  EXPECT_EQ(EcsCode(Advance(req).status()), "InvalidParameter");
  req.set_progress(0);
  req.set_region_id("mars-north-1");
  EXPECT_EQ(EcsCode(Advance(req).status()), "InvalidRegionId.NotFound");
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).phase, "QUEUED");

  EXPECT_EQ(EcsCode(Fail(kShanghai, "").status()), "MissingParameter");
}

}  // namespace
}  // namespace ecsimage::domain

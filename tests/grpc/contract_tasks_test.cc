// Import and export tasks (api.md §1, §3), and how long-running work reports
// the time it has left (RemainTime, RetryInfo "delay ≈ remaining time").
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class TasksTest : public ContractTest {
 protected:
  std::vector<v1::Task> Tasks(const TestAccount& who,
                              const std::string& task_ids = "",
                              const std::string& action = "") {
    v1::DescribeTasksRequest req;
    req.set_region_id(kRegion);
    req.set_task_ids(task_ids);
    req.set_task_action(action);
    req.set_page_size(100);
    v1::DescribeTasksResponse resp;
    Decoded d = TryDescribeTasks(who, req, &resp);
    EXPECT_EQ(d.code, grpc::StatusCode::OK) << Describe(d);
    return {resp.task_set().begin(), resp.task_set().end()};
  }

  static int64_t DelayMs(const Decoded& d) {
    const auto& delay = d.retry_info.retry_delay();
    return delay.seconds() * 1000 + delay.nanos() / 1000000;
  }
};

TEST_F(TasksTest, ImportTaskIsDescribedAndEndsWithAnAvailableImage) {
  auto [image, task] = StartImport(alice_);
  EXPECT_THAT(task, ::testing::MatchesRegex("t-[a-z0-9]{20}"));
  EXPECT_THAT(image, ::testing::MatchesRegex("m-[a-z0-9]{20}"));
  EXPECT_EQ(StatusOf(alice_, kRegion, image), "Waiting");

  std::vector<v1::Task> tasks = Tasks(alice_, task);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].task_id(), task);
  EXPECT_EQ(tasks[0].task_action(), "ImportImage");
  EXPECT_EQ(tasks[0].task_status(), "Waiting");
  EXPECT_EQ(tasks[0].resource_id(), image);
  EXPECT_TRUE(tasks[0].support_cancel());

  AdvanceTaskTo(alice_, kRegion, task, "Processing");
  EXPECT_EQ(Tasks(alice_, task).at(0).task_status(), "Processing");
  EXPECT_EQ(StatusOf(alice_, kRegion, image), "Creating");

  AdvanceTaskTo(alice_, kRegion, task, "Finished");
  tasks = Tasks(alice_, task);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].task_status(), "Finished");
  EXPECT_EQ(tasks[0].task_process(), "100%");
  EXPECT_EQ(StatusOf(alice_, kRegion, image), "Available");
}

TEST_F(TasksTest, CancelledImportTombstonesItsImage) {
  auto [image, task] = StartImport(alice_);
  AdvanceTaskTo(alice_, kRegion, task, "Processing");
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  EXPECT_EQ(Tasks(alice_, task).at(0).task_status(), "Cancelled");
  EXPECT_FALSE(FindImage(alice_, kRegion, image).has_value());
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, image));
}

TEST_F(TasksTest, CancelledExportLeavesTheImageAsItWas) {
  std::string id = CreateAvailableImage(alice_);
  v1::Image before = ImageOf(alice_, kRegion, id);
  std::string task = StartExport(alice_, id);
  EXPECT_EQ(Tasks(alice_, task).at(0).task_action(), "ExportImage");
  EXPECT_EQ(Tasks(alice_, task).at(0).resource_id(), id);
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  EXPECT_EQ(Tasks(alice_, task).at(0).task_status(), "Cancelled");
  v1::Image after = ImageOf(alice_, kRegion, id);
  EXPECT_EQ(after.status(), before.status());
  EXPECT_EQ(after.image_name(), before.image_name());
  // A second export may start once the first is over.
  EXPECT_FALSE(StartExport(alice_, id).empty());
}

TEST_F(TasksTest, SecondExportWhileExportingIsRefused) {
  std::string id = CreateAvailableImage(alice_);
  StartExport(alice_, id);
  Decoded d = TryExport(alice_, kRegion, id);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION, "ImageIsExporting",
                   403, kMsgImageIsExporting, Detail::kPreconditionFailure,
                   Retry::kPresent);
  EXPECT_EQ(Tasks(alice_, "", "ExportImage").size(), 1u);
}

TEST_F(TasksTest, ExportNeedsAnAvailableImage) {
  std::string id = CreateImage(alice_);
  Decoded d = TryExport(alice_, kRegion, id);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "IncorrectImageStatus", 400, kMsgImageNotAvailable,
                   Detail::kPreconditionFailure, Retry::kUnspecified);
  EXPECT_TRUE(Tasks(alice_).empty());
}

TEST_F(TasksTest, TasksAreScopedToTheirAccount) {
  auto [image, task] = StartImport(bob_);
  EXPECT_TRUE(Tasks(alice_).empty());
  EXPECT_TRUE(Tasks(alice_, task).empty());
  EXPECT_EQ(Tasks(bob_, task).size(), 1u);
}

TEST_F(TasksTest, FinishedTaskCannotBeCancelled) {
  std::string id = CreateAvailableImage(alice_);
  std::string task = StartExport(alice_, id);
  AdvanceTaskTo(alice_, kRegion, task, "Finished");
  Decoded d = TryCancelTask(alice_, kRegion, task);
  EXPECT_ECS_ERROR(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "IncorrectTaskStatus", 400, "", Detail::kUnspecified);
  EXPECT_EQ(Tasks(alice_, task).at(0).task_status(), "Finished");
}

TEST_F(TasksTest, CopyRemainTimeShrinksAsItTransfers) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 10);
  int32_t early = ImageOf(alice_, kOtherRegion, copy).remain_time();
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 90);
  int32_t late = ImageOf(alice_, kOtherRegion, copy).remain_time();
  EXPECT_GT(early, late);
  EXPECT_GT(late, 0);
  Advance(alice_, kOtherRegion, copy, "SUCCEEDED");
  EXPECT_EQ(ImageOf(alice_, kOtherRegion, copy).remain_time(), 0);
}

TEST_F(TasksTest, CopyingRetryDelayFollowsTheRemainingTime) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 10);
  Decoded early = TryDelete(alice_, kRegion, src);
  ExpectBlocked(early, "OperationDenied.ImageCopying", kMsgImageCopying,
                Retry::kPresent);
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 90);
  Decoded late = TryDelete(alice_, kRegion, src);
  ExpectBlocked(late, "OperationDenied.ImageCopying", kMsgImageCopying,
                Retry::kPresent);
  EXPECT_GT(DelayMs(early), DelayMs(late));
}

}  // namespace
}  // namespace ecsimage::testing::contract

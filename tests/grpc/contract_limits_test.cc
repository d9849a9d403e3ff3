// Limits (api.md §1, §3): live custom images per account and region
// (QuotaExceed.Image), and running copies per account and destination
// region (the rest wait in QUEUED).
#include <map>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class ImageQuotaTest : public ContractTest {
 protected:
  void SetUp() override {
    TestServerOptions options;
    options.domain.image_quota_per_region = 3;
    StartServer(options);
  }
};

TEST_F(ImageQuotaTest, FourthCreateImageIsQuotaExceed) {
  for (int i = 0; i < 3; ++i) CreateImage(alice_);  // Creating counts
  v1::CreateImageRequest req;
  req.set_region_id(kRegion);
  req.set_image_name("one-too-many");
  ExpectQuotaExceedImage(TryCreateImage(alice_, req));
  EXPECT_EQ(ListImages(alice_, kRegion, "self").size(), 3u);

  // Per region and per account.
  req.set_region_id(kOtherRegion);
  EXPECT_CALL_OK(TryCreateImage(alice_, req));
  req.set_region_id(kRegion);
  EXPECT_CALL_OK(TryCreateImage(bob_, req));
}

TEST_F(ImageQuotaTest, DeletedImagesFreeTheirSlot) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(CreateAvailableImage(alice_));
  v1::CreateImageRequest req;
  req.set_region_id(kRegion);
  req.set_image_name("after-delete");
  ExpectQuotaExceedImage(TryCreateImage(alice_, req));
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, ids[0]));
  EXPECT_CALL_OK(TryCreateImage(alice_, req));
  req.set_image_name("after-delete-2");
  ExpectQuotaExceedImage(TryCreateImage(alice_, req));
}

TEST_F(ImageQuotaTest, FourthCopyIntoARegionIsQuotaExceed) {
  std::string src = CreateAvailableImage(alice_, kOtherRegion);
  for (int i = 0; i < 3; ++i) CreateImage(alice_, kRegion);
  Decoded d = TryCopy(alice_, kOtherRegion, src, kRegion);
  ExpectQuotaExceedImage(d);
  EXPECT_EQ(ListImages(alice_, kRegion, "self").size(), 3u);
  // The source region has room: a copy into a third region is fine.
  EXPECT_CALL_OK(TryCopy(alice_, kOtherRegion, src, kThirdRegion));
}

TEST_F(ImageQuotaTest, QueuedCopiesCountAndCancelledCopiesFreeTheirSlot) {
  std::string src = CreateAvailableImage(alice_);
  std::string c1 = StartCopy(alice_, src, kOtherRegion);
  StartCopy(alice_, src, kOtherRegion);
  StartCopy(alice_, src, kOtherRegion);
  ExpectQuotaExceedImage(TryCopy(alice_, kRegion, src, kOtherRegion));
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, c1));
  EXPECT_CALL_OK(TryCopy(alice_, kRegion, src, kOtherRegion));
}

TEST_F(ImageQuotaTest, FourthImportImageIsQuotaExceed) {
  for (int i = 0; i < 3; ++i) StartImport(alice_);
  Decoded d = TryImport(alice_, ImportRequest());
  ExpectQuotaExceedImage(d);
  EXPECT_EQ(ListImages(alice_, kRegion, "self").size(), 3u);
  v1::DescribeTasksRequest req;
  req.set_region_id(kRegion);
  req.set_task_action("ImportImage");
  v1::DescribeTasksResponse tasks;
  ASSERT_CALL_OK(TryDescribeTasks(alice_, req, &tasks));
  EXPECT_EQ(tasks.total_count(), 3);
}

TEST_F(ImageQuotaTest, QuotaFailureIsNotRememberedByClientToken) {
  for (int i = 0; i < 3; ++i) CreateAvailableImage(alice_);
  v1::CreateImageRequest req;
  req.set_region_id(kRegion);
  req.set_image_name("token-quota");
  req.set_client_token("token-quota");
  ExpectQuotaExceedImage(TryCreateImage(alice_, req));
  std::vector<v1::Image> mine = ListImages(alice_, kRegion, "self");
  ASSERT_FALSE(mine.empty());
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, mine[0].image_id()));
  v1::CreateImageResponse resp;
  ASSERT_CALL_OK(TryCreateImage(alice_, req, &resp));
  EXPECT_TRUE(FindImage(alice_, kRegion, resp.image_id()).has_value());
}

class RunningCopyLimitTest : public ContractTest {
 protected:
  void SetUp() override {
    TestServerOptions options = NonSimulated();
    options.domain.transfer_rate_mib_per_s = 64;  // 40 GiB: about 11 min
    StartServer(options);
  }

  // Phase of each copy, as alice sees it in kOtherRegion.
  std::map<std::string, std::string> Phases(
      const std::vector<std::string>& copies) {
    std::map<std::string, std::string> out;
    for (const auto& c : copies) out[c] = PhaseOf(alice_, kOtherRegion, c);
    return out;
  }

  static int CountRunning(const std::map<std::string, std::string>& phases) {
    int n = 0;
    for (const auto& [id, phase] : phases) {
      if (phase == "PREPARING" || phase == "TRANSFERRING" ||
          phase == "REGISTERING") {
        ++n;
      }
    }
    return n;
  }
};

TEST_F(RunningCopyLimitTest, SixthCopyWaitsUntilOneFinishes) {
  std::string src = CreateAvailableImage(alice_);
  std::vector<std::string> copies;
  for (int i = 0; i < 6; ++i) copies.push_back(StartCopy(alice_, src));
  // Another region and another account have their own limits.
  std::string elsewhere = StartCopy(alice_, src, kThirdRegion);
  std::string bobs_src = CreateAvailableImage(bob_);
  std::string bobs = StartCopy(bob_, bobs_src, kOtherRegion);

  TickBy(1'000);
  TickBy(1'000);
  auto phases = Phases(copies);
  EXPECT_EQ(CountRunning(phases), 5);
  EXPECT_EQ(phases[copies[5]], "QUEUED");
  int creating = 0, waiting = 0;
  for (const auto& c : copies) {
    std::string status = StatusOf(alice_, kOtherRegion, c);
    if (status == "Creating") ++creating;
    if (status == "Waiting") ++waiting;
  }
  EXPECT_EQ(creating, 5);
  EXPECT_EQ(waiting, 1);
  EXPECT_NE(PhaseOf(alice_, kThirdRegion, elsewhere), "QUEUED");
  EXPECT_NE(PhaseOf(bob_, kOtherRegion, bobs), "QUEUED");

  bool sixth_started = false;
  bool one_finished = false;
  for (int i = 0;
       i < 300 && PhaseOf(alice_, kOtherRegion, copies[5]) != "SUCCEEDED";
       ++i) {
    TickBy(30'000);
    phases = Phases(copies);
    ASSERT_LE(CountRunning(phases), 5) << "step " << i;
    int finished = 0;
    for (int k = 0; k < 5; ++k) {
      if (phases[copies[k]] == "SUCCEEDED") ++finished;
    }
    if (phases[copies[5]] != "QUEUED") {
      sixth_started = true;
      // The sixth only starts once a slot is free.
      EXPECT_GE(finished, 1) << "sixth copy started while five were running";
    }
    if (finished > 0) one_finished = true;
  }
  EXPECT_TRUE(one_finished);
  EXPECT_TRUE(sixth_started);
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copies[5]), "SUCCEEDED");
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, copies[5]), "Available");
}

TEST_F(RunningCopyLimitTest, CancellingARunningCopyFreesItsSlot) {
  std::string src = CreateAvailableImage(alice_);
  std::vector<std::string> copies;
  for (int i = 0; i < 6; ++i) copies.push_back(StartCopy(alice_, src));
  for (int i = 0;
       i < 100 && PhaseOf(alice_, kOtherRegion, copies[0]) != "TRANSFERRING";
       ++i) {
    TickBy(1'000);
  }
  ASSERT_EQ(PhaseOf(alice_, kOtherRegion, copies[0]), "TRANSFERRING");
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copies[5]), "QUEUED");

  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copies[0]));
  TickBy(1'000);
  EXPECT_NE(PhaseOf(alice_, kOtherRegion, copies[5]), "QUEUED");
  EXPECT_LE(CountRunning(Phases(copies)), 5);
}

TEST_F(RunningCopyLimitTest, CancellingAQueuedCopyLeavesTheOthersWaiting) {
  std::string src = CreateAvailableImage(alice_);
  std::vector<std::string> copies;
  for (int i = 0; i < 7; ++i) copies.push_back(StartCopy(alice_, src));
  TickBy(1'000);
  TickBy(1'000);
  EXPECT_EQ(CountRunning(Phases(copies)), 5);
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copies[5]));
  TickBy(1'000);
  auto phases = Phases(copies);
  EXPECT_EQ(CountRunning(phases), 5);
  EXPECT_EQ(phases[copies[6]], "QUEUED");
  EXPECT_EQ(phases[copies[5]], "<absent>");
}

}  // namespace
}  // namespace ecsimage::testing::contract

// DeleteImage racing RunInstances, CopyImage and ModifyImageSharePermission
// on the same image (api.md §4: check-then-act in one write transaction).
// Both sides are released together; whatever wins, no instance, share or
// running copy may be left pointing at a deleted image. Each outcome must
// be observed at least once, or the race proved nothing.
#include <atomic>
#include <functional>
#include <thread>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

constexpr int kMinRounds = 50;
constexpr int kMaxRounds = 400;

// Runs `a` and `b` on two threads released at the same moment.
void Race(const std::function<void()>& a, const std::function<void()>& b,
          bool a_first) {
  std::atomic<int> ready{0};
  auto wrap = [&ready](const std::function<void()>& f) {
    return [&ready, &f] {
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      f();
    };
  };
  std::thread first(wrap(a_first ? a : b));
  std::thread second(wrap(a_first ? b : a));
  first.join();
  second.join();
}

class ConcurrencyTest : public ContractTest {};

TEST_F(ConcurrencyTest, DeleteImageRacingRunInstancesNeverLeavesAnOrphan) {
  int delete_won = 0, run_won = 0;
  for (int round = 0; round < kMaxRounds &&
                      (round < kMinRounds || delete_won == 0 || run_won == 0);
       ++round) {
    SCOPED_TRACE(round);
    std::string id = CreateAvailableImage(alice_);
    Decoded del, run;
    v1::RunInstancesResponse run_resp;
    Race([&] { del = TryDelete(alice_, kRegion, id); },
         [&] { run = TryRun(alice_, kRegion, id, 1, "", &run_resp); },
         round % 2 == 0);
    if (del.code == grpc::StatusCode::OK) {
      ++delete_won;
      ASSERT_EQ(run.ecs_code(), "InvalidImageId.NotFound") << Describe(run);
      ASSERT_TRUE(InstancesOf(alice_, id).empty());
      ASSERT_FALSE(FindImage(alice_, kRegion, id).has_value());
    } else {
      ++run_won;
      ASSERT_EQ(del.ecs_code(), "ImageUsingByInstance") << Describe(del);
      ASSERT_EQ(run.code, grpc::StatusCode::OK) << Describe(run);
      ASSERT_EQ(InstancesOf(alice_, id).size(), 1u);
      ASSERT_EQ(StatusOf(alice_, kRegion, id), "Available");
    }
  }
  EXPECT_GT(delete_won, 0);
  EXPECT_GT(run_won, 0);
}

TEST_F(ConcurrencyTest, DeleteImageRacingCopyImageNeverLeavesAnOrphanCopy) {
  int delete_won = 0, copy_won = 0;
  for (int round = 0; round < kMaxRounds &&
                      (round < kMinRounds || delete_won == 0 || copy_won == 0);
       ++round) {
    SCOPED_TRACE(round);
    std::string id = CreateAvailableImage(alice_);
    std::string name = NextName("race-copy");
    Decoded del, copy;
    v1::CopyImageResponse copy_resp;
    Race([&] { del = TryDelete(alice_, kRegion, id); },
         [&] {
           copy =
               TryCopy(alice_, kRegion, id, kOtherRegion, {}, &copy_resp, name);
         },
         round % 2 == 0);
    if (del.code == grpc::StatusCode::OK) {
      ++delete_won;
      ASSERT_EQ(copy.ecs_code(), "InvalidImageId.NotFound") << Describe(copy);
      v1::DescribeImagesRequest req;
      req.set_region_id(kOtherRegion);
      req.set_image_name(name);
      req.set_status(kAllStatuses);
      v1::DescribeImagesResponse resp;
      ASSERT_CALL_OK(TryDescribeImages(alice_, req, &resp));
      ASSERT_EQ(resp.images_size(), 0);
    } else {
      ++copy_won;
      ASSERT_EQ(del.ecs_code(), "OperationDenied.ImageCopying")
          << Describe(del);
      ASSERT_EQ(copy.code, grpc::StatusCode::OK) << Describe(copy);
      ASSERT_EQ(StatusOf(alice_, kRegion, id), "Available");
      ASSERT_EQ(PhaseOf(alice_, kOtherRegion, copy_resp.image_id()), "QUEUED");
      // Keep the destination region small.
      ASSERT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy_resp.image_id()));
    }
  }
  EXPECT_GT(delete_won, 0);
  EXPECT_GT(copy_won, 0);
}

TEST_F(ConcurrencyTest,
       DeleteImageRacingShareNeverLeavesAShareOfADeletedImage) {
  int delete_won = 0, share_won = 0;
  for (int round = 0; round < kMaxRounds &&
                      (round < kMinRounds || delete_won == 0 || share_won == 0);
       ++round) {
    SCOPED_TRACE(round);
    std::string id = CreateAvailableImage(alice_);
    Decoded del, share;
    Race([&] { del = TryDelete(alice_, kRegion, id); },
         [&] { share = TryShare(alice_, kRegion, id, {bob_.account_id}); },
         round % 2 == 0);
    if (del.code == grpc::StatusCode::OK) {
      ++delete_won;
      ASSERT_EQ(share.ecs_code(), "InvalidImageId.NotFound") << Describe(share);
      ASSERT_FALSE(FindImage(bob_, kRegion, id).has_value());
    } else {
      ++share_won;
      ASSERT_EQ(del.ecs_code(), "ImageUseShared") << Describe(del);
      ASSERT_EQ(share.code, grpc::StatusCode::OK) << Describe(share);
      ASSERT_TRUE(FindImage(bob_, kRegion, id).has_value());
    }
  }
  EXPECT_GT(delete_won, 0);
  EXPECT_GT(share_won, 0);
}

TEST_F(ConcurrencyTest, DeleteImageRacingPublishNeverLeavesAPublicTombstone) {
  int delete_won = 0, publish_won = 0;
  for (int round = 0;
       round < kMaxRounds &&
       (round < kMinRounds || delete_won == 0 || publish_won == 0);
       ++round) {
    SCOPED_TRACE(round);
    std::string id = CreateAvailableImage(alice_);
    Decoded del, publish;
    Race([&] { del = TryDelete(alice_, kRegion, id); },
         [&] { publish = TryShare(alice_, kRegion, id, {}, {}, true); },
         round % 2 == 1);
    if (del.code == grpc::StatusCode::OK) {
      ++delete_won;
      ASSERT_EQ(publish.ecs_code(), "InvalidImageId.NotFound")
          << Describe(publish);
      ASSERT_FALSE(FindImage(bob_, kRegion, id).has_value());
    } else {
      ++publish_won;
      ASSERT_EQ(del.ecs_code(), "ImageIsPublic") << Describe(del);
      ASSERT_EQ(publish.code, grpc::StatusCode::OK) << Describe(publish);
      ASSERT_TRUE(FindImage(bob_, kRegion, id).has_value());
      SetPublic(alice_, id, false);
    }
  }
  EXPECT_GT(delete_won, 0);
  EXPECT_GT(publish_won, 0);
}

}  // namespace
}  // namespace ecsimage::testing::contract

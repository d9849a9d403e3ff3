// DeleteImage when several blockers hold at once (api.md §4): the earlier one
// in the precedence list wins, and removing it reveals the next. Force
// overrides ImageUsingByInstance only.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

class DeleteBlockersTest : public ContractTest {
 protected:
  void ExpectCopying(const std::string& id, bool force = false) {
    ExpectBlocked(TryDelete(alice_, kRegion, id, force),
                  "OperationDenied.ImageCopying", kMsgImageCopying,
                  Retry::kPresent);
  }
  void ExpectExporting(const std::string& id, bool force = false) {
    ExpectBlocked(TryDelete(alice_, kRegion, id, force), "ImageIsExporting",
                  kMsgImageIsExporting, Retry::kPresent);
  }
  void ExpectPublic(const std::string& id, bool force = false) {
    ExpectBlocked(TryDelete(alice_, kRegion, id, force), "ImageIsPublic",
                  kMsgImageIsPublic, Retry::kAbsent);
  }
  void ExpectShared(const std::string& id, bool force = false) {
    ExpectBlocked(TryDelete(alice_, kRegion, id, force), "ImageUseShared",
                  kMsgImageUseShared, Retry::kAbsent);
  }
  void ExpectInUse(const std::string& id) {
    ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageUsingByInstance",
                  kMsgImageUsingByInstance, Retry::kAbsent);
  }
  // Starts an export of `id` and moves it to Processing.
  std::string Exporting(const std::string& id) {
    std::string task = StartExport(alice_, id);
    AdvanceTaskTo(alice_, kRegion, task, "Processing");
    return task;
  }
};

TEST_F(DeleteBlockersTest, CopyingWinsOverExporting) {
  std::string id = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, id);
  std::string task = Exporting(id);
  ExpectCopying(id);
  ExpectCopying(id, /*force=*/true);
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  ExpectExporting(id);
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(DeleteBlockersTest, CopyingWinsOverShared) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  std::string copy = StartCopy(alice_, id);
  ExpectCopying(id);
  ExpectCopying(id, /*force=*/true);
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  ExpectShared(id);
  ExpectShared(id, /*force=*/true);
}

TEST_F(DeleteBlockersTest, CopyingWinsOverInstances) {
  std::string id = CreateAvailableImage(alice_);
  Run(alice_, id, 1);
  std::string copy = StartCopy(alice_, id);
  AdvanceCopyTo(alice_, copy, "TRANSFERRING");
  ExpectCopying(id);
  ExpectCopying(id, /*force=*/true);
  AdvanceCopyTo(alice_, copy, "SUCCEEDED");
  ExpectInUse(id);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
  // The finished copy is independent of its deleted source.
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, copy), "Available");
}

TEST_F(DeleteBlockersTest, ExportingWinsOverShared) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  std::string task = Exporting(id);
  ExpectExporting(id);
  ExpectExporting(id, /*force=*/true);
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  ExpectShared(id);
}

TEST_F(DeleteBlockersTest, ExportingWinsOverInstances) {
  std::string id = CreateAvailableImage(alice_);
  Run(alice_, id, 2);
  std::string task = Exporting(id);
  ExpectExporting(id);
  ExpectExporting(id, /*force=*/true);
  AdvanceTaskTo(alice_, kRegion, task, "Finished");
  ExpectInUse(id);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
}

TEST_F(DeleteBlockersTest, PublicWinsOverSharedAndSharesSurvivePublishing) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  SetPublic(alice_, id, true);
  ExpectPublic(id);
  ExpectPublic(id, /*force=*/true);
  SetPublic(alice_, id, false);
  EXPECT_EQ(SharedWith(alice_, id), std::vector<std::string>{bob_.account_id});
  ExpectShared(id);
}

TEST_F(DeleteBlockersTest, PublicWinsOverInstances) {
  std::string id = CreateAvailableImage(alice_);
  Run(alice_, id, 1);
  SetPublic(alice_, id, true);
  ExpectPublic(id);
  ExpectPublic(id, /*force=*/true);
  SetPublic(alice_, id, false);
  ExpectInUse(id);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
}

TEST_F(DeleteBlockersTest, PublicImageUsedByStrangersStillNeedsUnpublishing) {
  std::string id = CreateAvailableImage(alice_);
  SetPublic(alice_, id, true);
  Run(bob_, id, 1);
  ExpectPublic(id);
  SetPublic(alice_, id, false);
  ExpectInUse(id);
}

TEST_F(DeleteBlockersTest, SharedWinsOverInstances) {
  std::string id = CreateAvailableImage(alice_);
  Run(alice_, id, 1);
  Share(alice_, id, {bob_.account_id});
  Run(bob_, id, 1);
  ExpectShared(id);
  ExpectShared(id, /*force=*/true);
  Unshare(alice_, id, {bob_.account_id});
  ExpectInUse(id);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
}

TEST_F(DeleteBlockersTest, BlockersPeelOffInPrecedenceOrder) {
  std::string id = CreateAvailableImage(alice_);
  Run(alice_, id, 1);
  Share(alice_, id, {bob_.account_id});
  std::string task = Exporting(id);
  std::string copy = StartCopy(alice_, id);
  AdvanceCopyTo(alice_, copy, "PREPARING");

  ExpectCopying(id, /*force=*/true);
  Fail(alice_, kOtherRegion, copy);
  ExpectExporting(id, /*force=*/true);
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  ExpectShared(id, /*force=*/true);
  Unshare(alice_, id, {bob_.account_id});
  ExpectInUse(id);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
}

TEST_F(DeleteBlockersTest, InstanceErrorGuaranteesForceSucceeds) {
  // ImageUsingByInstance promises that the same call with Force succeeds.
  for (int amount : {1, 5}) {
    SCOPED_TRACE(amount);
    std::string id = CreateAvailableImage(alice_);
    Run(alice_, id, amount);
    ExpectInUse(id);
    EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
    EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
  }
}

TEST_F(DeleteBlockersTest, ImportingImageRefusesForce) {
  auto [id, task] = StartImport(alice_);
  ExpectBlocked(TryDelete(alice_, kRegion, id, /*force=*/true),
                "ImageIsImporting", kMsgImageIsImporting, Retry::kPresent);
  // Cancelling the import tombstones its image.
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

}  // namespace
}  // namespace ecsimage::testing::contract

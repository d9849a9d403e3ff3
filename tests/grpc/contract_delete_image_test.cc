// DeleteImage through the public API: every row of its precedence list
// (api.md §4), one blocker at a time. Pairs of blockers and Force are in
// contract_delete_blockers_test.cc.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

using DeleteImageTest = ContractTest;

// Everything a client can read from an error, as one string.
std::string AllDetailText(const Decoded& d) {
  return d.message + "\n" + d.error_info.DebugString() +
         d.request_info.DebugString() + d.bad_request.DebugString() +
         d.resource_info.DebugString() + d.precondition_failure.DebugString() +
         d.retry_info.DebugString();
}

TEST_F(DeleteImageTest, MissingRegionIdIsMissingParameter) {
  std::string id = CreateAvailableImage(alice_);
  ExpectMissingParameter(TryDelete(alice_, "", id), "RegionId");
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(DeleteImageTest, MissingImageIdIsMissingParameter) {
  ExpectMissingParameter(TryDelete(alice_, kRegion, ""), "ImageId");
}

TEST_F(DeleteImageTest, UnknownRegionIsRegionNotFoundEvenForARealImage) {
  std::string id = CreateAvailableImage(alice_);
  ExpectRegionNotFound(TryDelete(alice_, "xx-nowhere-1", id));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(DeleteImageTest, DeletedImageIsGoneAndRepeatedDeleteIsOk) {
  std::string id = CreateAvailableImage(alice_);
  std::string other = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
  std::vector<v1::Image> before = ListImages(alice_, kRegion, "self");

  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
  std::vector<v1::Image> after = ListImages(alice_, kRegion, "self");
  ASSERT_EQ(after.size(), before.size());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].image_id(), other);
  EXPECT_EQ(after[0].status(), "Available");
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
}

TEST_F(DeleteImageTest, AnotherAccountsTombstoneIsImageNotFound) {
  std::string id = CreateAvailableImage(bob_);
  EXPECT_CALL_OK(TryDelete(bob_, kRegion, id));
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
}

TEST_F(DeleteImageTest, NeverExistedImageIsImageNotFound) {
  std::string id = UnknownImageId(7);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id, /*force=*/true), id);
}

TEST_F(DeleteImageTest, MalformedImageIdIsImageNotFound) {
  for (std::string id : {"m-", "m-ABCDEFGHIJKLMNOPQRST", "image-1",
                         "m-abcdefghijklmnopqrs!", "t-abcdefghij0123456789"}) {
    SCOPED_TRACE(id);
    ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  }
}

TEST_F(DeleteImageTest, AnotherAccountsImageIsImageNotFoundAndKept) {
  std::string id = CreateAvailableImage(bob_);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id, /*force=*/true), id);
  EXPECT_EQ(StatusOf(bob_, kRegion, id), "Available");
}

TEST_F(DeleteImageTest, ImageInAnotherRegionIsImageNotFound) {
  std::string id = CreateAvailableImage(alice_, kOtherRegion);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, id), "Available");
}

TEST_F(DeleteImageTest, SystemImageIsImageNotFoundAndKept) {
  std::vector<v1::Image> system =
      ListImages(alice_, kRegion, "system", "Available");
  ASSERT_FALSE(system.empty());
  const std::string id = system[0].image_id();
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id, /*force=*/true), id);
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(DeleteImageTest, ImageSharedToMeIsImageNotFoundAndKept) {
  std::string id = CreateAvailableImage(bob_);
  Share(bob_, id, {alice_.account_id});
  ASSERT_TRUE(FindImage(alice_, kRegion, id).has_value());
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  ExpectImageNotFound(TryDelete(alice_, kRegion, id, /*force=*/true), id);
  EXPECT_EQ(StatusOf(bob_, kRegion, id), "Available");
  EXPECT_EQ(SharedWith(bob_, id), std::vector<std::string>{alice_.account_id});
}

TEST_F(DeleteImageTest, PublicImageOfAnotherAccountIsImageNotFound) {
  std::string id = CreateAvailableImage(bob_);
  SetPublic(bob_, id, true);
  ASSERT_TRUE(FindImage(alice_, kRegion, id).has_value());
  ExpectImageNotFound(TryDelete(alice_, kRegion, id), id);
  EXPECT_EQ(StatusOf(bob_, kRegion, id), "Available");
}

TEST_F(DeleteImageTest, DeleteImageRefusesWhileImporting) {
  auto [id, task] = StartImport(alice_);
  ASSERT_FALSE(task.empty());
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageIsImporting",
                kMsgImageIsImporting, Retry::kPresent);
  AdvanceTaskTo(alice_, kRegion, task, "Processing");
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageIsImporting",
                kMsgImageIsImporting, Retry::kPresent);
  ExpectBlocked(TryDelete(alice_, kRegion, id, /*force=*/true),
                "ImageIsImporting", kMsgImageIsImporting, Retry::kPresent);
  EXPECT_NE(StatusOf(alice_, kRegion, id), "<absent>");

  AdvanceTaskTo(alice_, kRegion, task, "Finished");
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
}

TEST_F(DeleteImageTest, FailedImportLeavesADeletableCreateFailedImage) {
  auto [id, task] = StartImport(alice_);
  AdvanceTaskTo(alice_, kRegion, task, "Processing");
  v1::TaskStateResponse state;
  ASSERT_CALL_OK(TryFail(alice_, kRegion, "", &state, task));
  EXPECT_EQ(state.phase(), "Failed");
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "CreateFailed");
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
}

TEST_F(DeleteImageTest, DeleteImageRefusesCopyDestinationInEveryRunningPhase) {
  for (std::string phase :
       {"QUEUED", "PREPARING", "TRANSFERRING", "REGISTERING", "CANCELLING"}) {
    SCOPED_TRACE(phase);
    std::string src = CreateAvailableImage(alice_);
    std::string copy = StartCopy(alice_, src);
    if (phase != "QUEUED") AdvanceCopyTo(alice_, copy, phase);
    ASSERT_EQ(PhaseOf(alice_, kOtherRegion, copy), phase);
    ExpectBlocked(TryDelete(alice_, kOtherRegion, copy),
                  "OperationDenied.ImageCopying", kMsgImageCopying,
                  Retry::kPresent);
    ExpectBlocked(TryDelete(alice_, kOtherRegion, copy, /*force=*/true),
                  "OperationDenied.ImageCopying", kMsgImageCopying,
                  Retry::kPresent);
    EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), phase);
  }
}

TEST_F(DeleteImageTest, DeleteImageRefusesCopySourceInEveryRunningPhase) {
  for (std::string phase :
       {"QUEUED", "PREPARING", "TRANSFERRING", "REGISTERING", "CANCELLING"}) {
    SCOPED_TRACE(phase);
    std::string src = CreateAvailableImage(alice_);
    std::string copy = StartCopy(alice_, src);
    if (phase != "QUEUED") AdvanceCopyTo(alice_, copy, phase);
    ASSERT_EQ(PhaseOf(alice_, kOtherRegion, copy), phase);
    ExpectBlocked(TryDelete(alice_, kRegion, src),
                  "OperationDenied.ImageCopying", kMsgImageCopying,
                  Retry::kPresent);
    ExpectBlocked(TryDelete(alice_, kRegion, src, /*force=*/true),
                  "OperationDenied.ImageCopying", kMsgImageCopying,
                  Retry::kPresent);
    EXPECT_EQ(StatusOf(alice_, kRegion, src), "Available");
  }
}

TEST_F(DeleteImageTest, SameRegionCopyBlocksDeletingItsSource) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions encrypted;
  encrypted.encrypted = true;
  std::string copy = StartCopy(alice_, src, kRegion, encrypted);
  ExpectBlocked(TryDelete(alice_, kRegion, src), "OperationDenied.ImageCopying",
                kMsgImageCopying, Retry::kPresent);
  ExpectBlocked(TryDelete(alice_, kRegion, copy),
                "OperationDenied.ImageCopying", kMsgImageCopying,
                Retry::kPresent);
}

TEST_F(DeleteImageTest, TerminalCopiesDoNotBlockDeletingSourceOrDestination) {
  for (std::string phase : {"SUCCEEDED", "FAILED", "CANCELLED"}) {
    SCOPED_TRACE(phase);
    std::string src = CreateAvailableImage(alice_);
    std::string copy = StartCopy(alice_, src);
    if (phase == "CANCELLED") {
      EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
    } else {
      AdvanceCopyTo(alice_, copy, phase);
    }
    EXPECT_CALL_OK(TryDelete(alice_, kRegion, src));
    EXPECT_CALL_OK(TryDelete(alice_, kOtherRegion, copy));
    EXPECT_FALSE(FindImage(alice_, kRegion, src).has_value());
    EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
  }
}

TEST_F(DeleteImageTest, DeleteImageRefusesWhileExporting) {
  std::string id = CreateAvailableImage(alice_);
  std::string task = StartExport(alice_, id);
  ASSERT_FALSE(task.empty());
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageIsExporting",
                kMsgImageIsExporting, Retry::kPresent);
  AdvanceTaskTo(alice_, kRegion, task, "Processing");
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageIsExporting",
                kMsgImageIsExporting, Retry::kPresent);
  ExpectBlocked(TryDelete(alice_, kRegion, id, /*force=*/true),
                "ImageIsExporting", kMsgImageIsExporting, Retry::kPresent);
  AdvanceTaskTo(alice_, kRegion, task, "Finished");
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(DeleteImageTest, CancelledExportNoLongerBlocksDelete) {
  std::string id = CreateAvailableImage(alice_);
  std::string task = StartExport(alice_, id);
  AdvanceTaskTo(alice_, kRegion, task, "Processing");
  EXPECT_CALL_OK(TryCancelTask(alice_, kRegion, task));
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(DeleteImageTest, DeleteImageRefusesPublicImage) {
  std::string id = CreateAvailableImage(alice_);
  SetPublic(alice_, id, true);
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageIsPublic",
                kMsgImageIsPublic, Retry::kAbsent);
  ExpectBlocked(TryDelete(alice_, kRegion, id, /*force=*/true), "ImageIsPublic",
                kMsgImageIsPublic, Retry::kAbsent);
  SetPublic(alice_, id, false);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(DeleteImageTest, DeleteImageRefusesSharedImage) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageUseShared",
                kMsgImageUseShared, Retry::kAbsent);
  ExpectBlocked(TryDelete(alice_, kRegion, id, /*force=*/true),
                "ImageUseShared", kMsgImageUseShared, Retry::kAbsent);
  EXPECT_TRUE(FindImage(bob_, kRegion, id).has_value());
  Unshare(alice_, id, {bob_.account_id});
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  EXPECT_FALSE(FindImage(bob_, kRegion, id).has_value());
}

TEST_F(DeleteImageTest, DeleteImageRefusesWhileInstancesReferenceIt) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> instances = Run(alice_, id, 1);
  ASSERT_EQ(instances.size(), 1u);
  Decoded d = TryDelete(alice_, kRegion, id);
  ExpectBlocked(d, "ImageUsingByInstance", kMsgImageUsingByInstance,
                Retry::kAbsent);
  ASSERT_TRUE(d.has_precondition_failure);
  bool named = false;
  for (const auto& v : d.precondition_failure.violations()) {
    if (v.subject() == "instance/" + instances[0]) named = true;
  }
  EXPECT_TRUE(named) << d.precondition_failure.DebugString();
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
  EXPECT_EQ(ImageOf(alice_, kRegion, id).usage(), "instance");
}

TEST_F(DeleteImageTest, ForceDeletesAnImageInUseAndKeepsItsInstances) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> instances = Run(alice_, id, 3);
  ASSERT_EQ(instances.size(), 3u);
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageUsingByInstance",
                kMsgImageUsingByInstance, Retry::kAbsent);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
  EXPECT_FALSE(FindImage(alice_, kRegion, id).has_value());
  std::vector<std::string> left = InstancesOf(alice_, id);
  EXPECT_THAT(left, ::testing::UnorderedElementsAreArray(instances));
  // A repeated delete of the tombstone stays harmless.
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(DeleteImageTest, ReleasedInstancesNoLongerBlockDelete) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> instances = Run(alice_, id, 2);
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_CALL_OK(TryDeleteInstance(alice_, instances[0]));
  ExpectBlocked(TryDelete(alice_, kRegion, id), "ImageUsingByInstance",
                kMsgImageUsingByInstance, Retry::kAbsent);
  EXPECT_CALL_OK(TryDeleteInstance(alice_, instances[1]));
  EXPECT_EQ(ImageOf(alice_, kRegion, id).usage(), "none");
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
}

TEST_F(DeleteImageTest, GranteeInstancesBlockDeleteWithoutShowingTheirIds) {
  std::string id = CreateAvailableImage(alice_);
  Share(alice_, id, {bob_.account_id});
  std::vector<std::string> bobs = Run(bob_, id, 1);
  ASSERT_EQ(bobs.size(), 1u);
  Unshare(alice_, id, {bob_.account_id});

  Decoded d = TryDelete(alice_, kRegion, id);
  ExpectBlocked(d, "ImageUsingByInstance", kMsgImageUsingByInstance,
                Retry::kAbsent);
  std::string text = AllDetailText(d);
  EXPECT_EQ(text.find(bobs[0]), std::string::npos) << text;
  EXPECT_EQ(text.find(bob_.account_id), std::string::npos) << text;

  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id, /*force=*/true));
  EXPECT_THAT(InstancesOf(bob_, id), ::testing::ElementsAre(bobs[0]));
}

TEST_F(DeleteImageTest, OwnInstanceIdsShownButGranteeInstanceIdsHidden) {
  std::string id = CreateAvailableImage(alice_);
  std::vector<std::string> own = Run(alice_, id, 1);
  Share(alice_, id, {bob_.account_id});
  std::vector<std::string> bobs = Run(bob_, id, 2);
  ASSERT_EQ(own.size(), 1u);
  ASSERT_EQ(bobs.size(), 2u);
  Unshare(alice_, id, {bob_.account_id});

  Decoded d = TryDelete(alice_, kRegion, id);
  ExpectBlocked(d, "ImageUsingByInstance", kMsgImageUsingByInstance,
                Retry::kAbsent);
  std::string text = AllDetailText(d);
  EXPECT_NE(text.find("instance/" + own[0]), std::string::npos) << text;
  for (const auto& b : bobs) {
    EXPECT_EQ(text.find(b), std::string::npos) << text;
  }
}

TEST_F(DeleteImageTest, MissingParameterComesBeforeUnknownRegion) {
  ExpectMissingParameter(TryDelete(alice_, "xx-nowhere-1", ""), "ImageId");
}

TEST_F(DeleteImageTest, UnknownRegionComesBeforeTheTombstoneRule) {
  std::string id = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  ExpectRegionNotFound(TryDelete(alice_, "xx-nowhere-1", id));
  ExpectRegionNotFound(TryDelete(alice_, "xx-nowhere-1", UnknownImageId()));
}

TEST_F(DeleteImageTest, TombstoneInAnotherRegionIsImageNotFound) {
  std::string id = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, id));
  ExpectImageNotFound(TryDelete(alice_, kOtherRegion, id), id);
}

}  // namespace
}  // namespace ecsimage::testing::contract

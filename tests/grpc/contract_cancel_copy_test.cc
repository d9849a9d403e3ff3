// CancelCopyImage through the public API: every row of the precedence list
// and of the phase table (api.md §3, §4).
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

using CancelCopyImageTest = ContractTest;

TEST_F(CancelCopyImageTest, MissingRegionIdIsMissingParameter) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  ExpectMissingParameter(TryCancelCopy(alice_, "", copy), "RegionId");
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "QUEUED");
}

TEST_F(CancelCopyImageTest, MissingImageIdIsMissingParameter) {
  ExpectMissingParameter(TryCancelCopy(alice_, kOtherRegion, ""), "ImageId");
}

TEST_F(CancelCopyImageTest, UnknownRegionIsRegionNotFoundEvenForARealCopy) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  Decoded d = TryCancelCopy(alice_, "cn-nowhere", copy);
  ExpectRegionNotFound(d);
  EXPECT_EQ(MetaOf(d, "regionId"), "cn-nowhere");
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "QUEUED");
}

TEST_F(CancelCopyImageTest, NeverExistedIdIsImageNotFound) {
  std::string id = UnknownImageId();
  ExpectImageNotFound(TryCancelCopy(alice_, kOtherRegion, id), id);
}

TEST_F(CancelCopyImageTest, MalformedIdIsImageNotFound) {
  for (std::string id : {"m-UPPERCASEUPPERCASE12", "m-short", "not-an-image",
                         "m-abcdefghij0123456789x", "i-abcdefghij0123456789"}) {
    SCOPED_TRACE(id);
    ExpectImageNotFound(TryCancelCopy(alice_, kOtherRegion, id), id);
  }
}

TEST_F(CancelCopyImageTest, AnotherAccountsCopyIsImageNotFoundAndStaysQueued) {
  std::string src = CreateAvailableImage(bob_);
  std::string copy = StartCopy(bob_, src);
  ExpectImageNotFound(TryCancelCopy(alice_, kOtherRegion, copy), copy);
  auto image = FindImage(bob_, kOtherRegion, copy);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->copy_phase(), "QUEUED");
  EXPECT_EQ(image->status(), "Waiting");
}

TEST_F(CancelCopyImageTest, CancelledCopyIsImageNotFound) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  ExpectImageNotFound(TryCancelCopy(alice_, kOtherRegion, copy), copy);
}

TEST_F(CancelCopyImageTest, CopyAskedForInAnotherRegionIsImageNotFound) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src, kOtherRegion);
  // The copy lives in kOtherRegion; asking in the source region or a third
  // region does not find it.
  ExpectImageNotFound(TryCancelCopy(alice_, kRegion, copy), copy);
  ExpectImageNotFound(TryCancelCopy(alice_, kThirdRegion, copy), copy);
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "QUEUED");
}

TEST_F(CancelCopyImageTest, PlainImageIsNotFromCopy) {
  std::string id = CreateAvailableImage(alice_);
  Decoded d = TryCancelCopy(alice_, kRegion, id);
  EXPECT_ECS_ERROR(
      d, grpc::StatusCode::FAILED_PRECONDITION, "ImageCreatedNotFromCopy", 400,
      "The specified image is not the target image of a copy action.",
      Detail::kPreconditionFailure);
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

TEST_F(CancelCopyImageTest, SourceOfARunningCopyIsNotFromCopy) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "TRANSFERRING");
  Decoded d = TryCancelCopy(alice_, kRegion, src);
  EXPECT_ECS_ERROR(
      d, grpc::StatusCode::FAILED_PRECONDITION, "ImageCreatedNotFromCopy", 400,
      "The specified image is not the target image of a copy action.",
      Detail::kPreconditionFailure);
  // Nothing was cancelled.
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "TRANSFERRING");
}

TEST_F(CancelCopyImageTest, QueuedCopyIsCancelledAtOnceAndTombstoned) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  auto before = FindImage(alice_, kOtherRegion, copy);
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->status(), "Waiting");

  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
  // The tombstone is the caller's: deleting it is OK, twice.
  EXPECT_CALL_OK(TryDelete(alice_, kOtherRegion, copy));
  EXPECT_CALL_OK(TryDelete(alice_, kOtherRegion, copy));
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
}

TEST_F(CancelCopyImageTest, PreparingCopyIsSnapshotNotCopingWithRetryInfo) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "PREPARING");
  ExpectIncorrectImageStatus(TryCancelCopy(alice_, kOtherRegion, copy),
                             "The specified snapshot is not coping.",
                             Retry::kPresent);
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "PREPARING");
}

TEST_F(CancelCopyImageTest, TransferringCopyGoesCancellingThenCancelled) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "TRANSFERRING", kOtherRegion, 30);

  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  auto cancelling = FindImage(alice_, kOtherRegion, copy, "UnAvailable");
  ASSERT_TRUE(cancelling.has_value());
  EXPECT_EQ(cancelling->status(), "UnAvailable");
  EXPECT_EQ(cancelling->copy_phase(), "CANCELLING");

  v1::TaskStateResponse state =
      Advance(alice_, kOtherRegion, copy, "CANCELLED");
  EXPECT_EQ(state.phase(), "CANCELLED");
  EXPECT_EQ(state.status(), "");
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
  ExpectImageNotFound(TryCancelCopy(alice_, kOtherRegion, copy), copy);
}

TEST_F(CancelCopyImageTest, TransferringCopyFinishesCancellingByItself) {
  TestServerOptions options = NonSimulated();
  options.domain.transfer_rate_mib_per_s = 64;  // 40 GiB: about 11 minutes
  StartServer(options);
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  std::string phase;
  for (int i = 0; i < 200 && phase != "TRANSFERRING"; ++i) {
    TickBy(1'000);
    auto image = FindImage(alice_, kOtherRegion, copy);
    ASSERT_TRUE(image.has_value());
    phase = image->copy_phase();
  }
  ASSERT_EQ(phase, "TRANSFERRING");

  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  auto image = FindImage(alice_, kOtherRegion, copy);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->status(), "UnAvailable");
  for (int i = 0; i < 200 && FindImage(alice_, kOtherRegion, copy); ++i) {
    TickBy(10'000);
  }
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
  ExpectImageNotFound(TryCancelCopy(alice_, kOtherRegion, copy), copy);
  EXPECT_EQ(StatusOf(alice_, kRegion, src), "Available");
}

TEST_F(CancelCopyImageTest, RegisteringCopyIsCopiedFinished) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "REGISTERING");
  ExpectIncorrectImageStatus(TryCancelCopy(alice_, kOtherRegion, copy),
                             "The image is copied finished.",
                             Retry::kUnspecified);
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "REGISTERING");
}

TEST_F(CancelCopyImageTest, SucceededCopyHasCompletedCopy) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "SUCCEEDED");
  ExpectIncorrectImageStatus(TryCancelCopy(alice_, kOtherRegion, copy),
                             "The image has completed copy.");
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, copy), "Available");
}

TEST_F(CancelCopyImageTest, FailedCopyHasBeenFailed) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "FAILED");
  ExpectIncorrectImageStatus(TryCancelCopy(alice_, kOtherRegion, copy),
                             "The Image copy has been failed.");
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, copy), "CreateFailed");
}

TEST_F(CancelCopyImageTest, CancellingCopyIsImageNotCoping) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, copy, "CANCELLING");
  ExpectIncorrectImageStatus(TryCancelCopy(alice_, kOtherRegion, copy),
                             "The specified image is not coping.",
                             Retry::kUnspecified);
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "CANCELLING");
}

TEST_F(CancelCopyImageTest, EncryptedCopyCannotBeCancelledWhenQueued) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions encrypted;
  encrypted.encrypted = true;
  std::string copy = StartCopy(alice_, src, kOtherRegion, encrypted);
  auto image = FindImage(alice_, kOtherRegion, copy);
  ASSERT_TRUE(image.has_value());
  EXPECT_FALSE(image->support_cancel());
  EXPECT_TRUE(image->is_copied());
  ExpectCancelNotSupported(TryCancelCopy(alice_, kOtherRegion, copy));
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "QUEUED");
}

TEST_F(CancelCopyImageTest, EncryptedCopyCannotBeCancelledWhenTransferring) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions encrypted;
  encrypted.encrypted = true;
  std::string copy = StartCopy(alice_, src, kOtherRegion, encrypted);
  AdvanceCopyTo(alice_, copy, "TRANSFERRING");
  ExpectCancelNotSupported(TryCancelCopy(alice_, kOtherRegion, copy));
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "TRANSFERRING");
}

TEST_F(CancelCopyImageTest, KmsKeyCopyCannotBeCancelledWhenQueued) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions kms;
  kms.encrypted = true;
  kms.kms_key_id = "key-0123456789";
  std::string copy = StartCopy(alice_, src, kOtherRegion, kms);
  auto image = FindImage(alice_, kOtherRegion, copy);
  ASSERT_TRUE(image.has_value());
  EXPECT_FALSE(image->support_cancel());
  EXPECT_TRUE(image->is_copied());
  ExpectCancelNotSupported(TryCancelCopy(alice_, kOtherRegion, copy));
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "QUEUED");
}

TEST_F(CancelCopyImageTest, KmsKeyCopyCannotBeCancelledWhenTransferring) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions kms;
  kms.encrypted = true;
  kms.kms_key_id = "key-0123456789";
  std::string copy = StartCopy(alice_, src, kOtherRegion, kms);
  AdvanceCopyTo(alice_, copy, "TRANSFERRING");
  ExpectCancelNotSupported(TryCancelCopy(alice_, kOtherRegion, copy));
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, copy), "TRANSFERRING");
}

TEST_F(CancelCopyImageTest, EncryptedCopyInSameRegionCannotBeCancelled) {
  std::string src = CreateAvailableImage(alice_);
  CopyOptions encrypted;
  encrypted.encrypted = true;
  std::string copy = StartCopy(alice_, src, kRegion, encrypted);
  ExpectCancelNotSupported(TryCancelCopy(alice_, kRegion, copy));
}

TEST_F(CancelCopyImageTest, CancelLeavesTheSourceUntouched) {
  std::string src = CreateAvailableImage(alice_);
  auto before = FindImage(alice_, kRegion, src);
  ASSERT_TRUE(before.has_value());
  std::string queued = StartCopy(alice_, src);
  std::string transferring = StartCopy(alice_, src);
  AdvanceCopyTo(alice_, transferring, "TRANSFERRING");
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, queued));
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, transferring));
  Advance(alice_, kOtherRegion, transferring, "CANCELLED");

  auto after = FindImage(alice_, kRegion, src);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status(), "Available");
  EXPECT_EQ(after->progress(), before->progress());
  EXPECT_EQ(after->image_name(), before->image_name());
  EXPECT_FALSE(after->is_copied());
  // No copy is left running, so the source can be deleted.
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, src));
}

TEST_F(CancelCopyImageTest, GranteeCannotCancelAnImageSharedWithIt) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src, kRegion);
  AdvanceCopyTo(alice_, copy, "SUCCEEDED", kRegion);
  Share(alice_, copy, {bob_.account_id});
  ExpectImageNotFound(TryCancelCopy(bob_, kRegion, copy), copy);
}

TEST_F(CancelCopyImageTest, PhaseErrorsNameTheImageRegionAndPhase) {
  for (std::string phase :
       {"PREPARING", "REGISTERING", "SUCCEEDED", "FAILED", "CANCELLING"}) {
    SCOPED_TRACE(phase);
    std::string src = CreateAvailableImage(alice_);
    std::string copy = StartCopy(alice_, src);
    AdvanceCopyTo(alice_, copy, phase);
    Decoded d = TryCancelCopy(alice_, kOtherRegion, copy);
    EXPECT_EQ(d.ecs_code(), "IncorrectImageStatus");
    EXPECT_EQ(MetaOf(d, "imageId"), copy);
    EXPECT_EQ(MetaOf(d, "regionId"), kOtherRegion);
    EXPECT_EQ(MetaOf(d, "copyPhase"), phase);
    ASSERT_TRUE(d.has_precondition_failure);
    EXPECT_NE(d.precondition_failure.DebugString().find(copy),
              std::string::npos);
  }
}

TEST_F(CancelCopyImageTest, DeleteBlockerNamesTheImage) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  Decoded d = TryDelete(alice_, kRegion, src);
  EXPECT_EQ(d.ecs_code(), "OperationDenied.ImageCopying");
  EXPECT_EQ(MetaOf(d, "imageId"), src);
  EXPECT_EQ(MetaOf(d, "regionId"), kRegion);
}

TEST_F(CancelCopyImageTest, MissingParameterComesBeforeUnknownRegion) {
  ExpectMissingParameter(TryCancelCopy(alice_, "cn-nowhere", ""), "ImageId");
}

TEST_F(CancelCopyImageTest, UnknownRegionComesBeforeUnknownImage) {
  ExpectRegionNotFound(TryCancelCopy(alice_, "cn-nowhere", UnknownImageId()));
}

}  // namespace
}  // namespace ecsimage::testing::contract

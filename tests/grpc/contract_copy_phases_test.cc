// The copy phase table (api.md §3): what the destination image shows in each
// phase, which moves SimulationControl accepts, and the refusal of illegal
// ones with InvalidTransition.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

// The statuses a poller of copies asks for.
constexpr char kCopyStatuses[] =
    "Waiting,Creating,UnAvailable,CreateFailed,Available";

class CopyPhasesTest : public ContractTest {
 protected:
  // The copy as DescribeImages shows it with the copy-poller Status filter.
  v1::Image Dest(const std::string& copy) {
    auto image = FindImage(alice_, kOtherRegion, copy, kCopyStatuses);
    if (!image) {
      ADD_FAILURE() << "copy " << copy << " not listed";
      return v1::Image();
    }
    return *image;
  }

  void ExpectDest(const std::string& copy, const std::string& phase,
                  const std::string& status, const std::string& progress) {
    v1::Image image = Dest(copy);
    EXPECT_EQ(image.copy_phase(), phase);
    EXPECT_EQ(image.status(), status);
    if (!progress.empty()) {
      EXPECT_EQ(image.progress(), progress);
    }
    EXPECT_TRUE(image.is_copied());
  }

  void ExpectInvalidTransition(const Decoded& d) {
    ExpectEcsError(d, grpc::StatusCode::FAILED_PRECONDITION,
                   "InvalidTransition", 400, "", Detail::kUnspecified);
  }

  std::string src_;
};

TEST_F(CopyPhasesTest, NewCopyIsQueuedWaitingAtZeroPercent) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  v1::Image image = Dest(copy);
  EXPECT_EQ(image.copy_phase(), "QUEUED");
  EXPECT_EQ(image.status(), "Waiting");
  EXPECT_EQ(image.progress(), "0%");
  EXPECT_TRUE(image.is_copied());
  EXPECT_TRUE(image.support_cancel());
  EXPECT_EQ(image.image_owner_alias(), "self");
  EXPECT_EQ(image.region_id(), kOtherRegion);
  EXPECT_EQ(image.source_image_id(), src_);
  EXPECT_EQ(image.source_region_id(), kRegion);
  EXPECT_EQ(image.image_owner_id(), alice_.account_id);
  EXPECT_THAT(image.image_id(), ::testing::MatchesRegex("m-[a-z0-9]{20}"));

  v1::Image source = ImageOf(alice_, kRegion, src_);
  EXPECT_FALSE(source.is_copied());
  EXPECT_EQ(source.status(), "Available");
}

TEST_F(CopyPhasesTest, CopyInProgressIsHiddenByTheDefaultStatusFilter) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy, "").has_value());
  EXPECT_TRUE(FindImage(alice_, kOtherRegion, copy, "Waiting,Creating"));
  AdvanceCopyTo(alice_, copy, "SUCCEEDED");
  EXPECT_TRUE(FindImage(alice_, kOtherRegion, copy, "").has_value());
}

TEST_F(CopyPhasesTest, DestinationMirrorsEachForwardPhase) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);

  v1::TaskStateResponse s = Advance(alice_, kOtherRegion, copy, "PREPARING");
  EXPECT_EQ(s.phase(), "PREPARING");
  EXPECT_EQ(s.status(), "Creating");
  EXPECT_EQ(s.progress(), "0%");
  EXPECT_EQ(s.image_id(), copy);
  ExpectDest(copy, "PREPARING", "Creating", "0%");

  s = Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 37);
  EXPECT_EQ(s.phase(), "TRANSFERRING");
  EXPECT_EQ(s.status(), "Creating");
  EXPECT_EQ(s.progress(), "37%");
  ExpectDest(copy, "TRANSFERRING", "Creating", "37%");
  EXPECT_TRUE(Dest(copy).support_cancel());

  s = Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 99);
  EXPECT_EQ(s.progress(), "99%");
  ExpectDest(copy, "TRANSFERRING", "Creating", "99%");

  s = Advance(alice_, kOtherRegion, copy, "REGISTERING");
  EXPECT_EQ(s.phase(), "REGISTERING");
  EXPECT_EQ(s.status(), "Creating");
  EXPECT_EQ(s.progress(), "100%");
  ExpectDest(copy, "REGISTERING", "Creating", "100%");

  s = Advance(alice_, kOtherRegion, copy, "SUCCEEDED");
  EXPECT_EQ(s.phase(), "SUCCEEDED");
  EXPECT_EQ(s.status(), "Available");
  ExpectDest(copy, "SUCCEEDED", "Available", "100%");
}

TEST_F(CopyPhasesTest, AdvanceWalksTheLegalPathFromQueued) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  // QUEUED -> SUCCEEDED in one call goes through every forward phase.
  v1::TaskStateResponse s = Advance(alice_, kOtherRegion, copy, "SUCCEEDED");
  EXPECT_EQ(s.phase(), "SUCCEEDED");
  ExpectDest(copy, "SUCCEEDED", "Available", "100%");
}

TEST_F(CopyPhasesTest, FailedCopyIsCreateFailedFromEveryRunningPhase) {
  for (std::string phase : {"PREPARING", "TRANSFERRING", "REGISTERING"}) {
    SCOPED_TRACE(phase);
    src_ = CreateAvailableImage(alice_);
    std::string copy = StartCopy(alice_, src_);
    Advance(alice_, kOtherRegion, copy, phase,
            phase == "TRANSFERRING" ? 60 : 0);
    v1::TaskStateResponse s = Fail(alice_, kOtherRegion, copy);
    EXPECT_EQ(s.phase(), "FAILED");
    EXPECT_EQ(s.status(), "CreateFailed");
    ExpectDest(copy, "FAILED", "CreateFailed", "");
    EXPECT_EQ(StatusOf(alice_, kRegion, src_), "Available");
  }
}

TEST_F(CopyPhasesTest, CancellingCopyIsUnAvailable) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 20);
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, copy));
  ExpectDest(copy, "CANCELLING", "UnAvailable", "");
  v1::TaskStateResponse s = Advance(alice_, kOtherRegion, copy, "CANCELLED");
  EXPECT_EQ(s.phase(), "CANCELLED");
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
}

TEST_F(CopyPhasesTest, QueuedCopyCanBeCancelledBySimulationControl) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  v1::TaskStateResponse s = Advance(alice_, kOtherRegion, copy, "CANCELLED");
  EXPECT_EQ(s.phase(), "CANCELLED");
  EXPECT_EQ(s.status(), "");
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, copy).has_value());
}

TEST_F(CopyPhasesTest, EncryptedCopyShowsSupportCancelFalseInEveryPhase) {
  src_ = CreateAvailableImage(alice_);
  CopyOptions encrypted;
  encrypted.encrypted = true;
  std::string copy = StartCopy(alice_, src_, kOtherRegion, encrypted);
  EXPECT_FALSE(Dest(copy).support_cancel());
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 10);
  EXPECT_FALSE(Dest(copy).support_cancel());
  EXPECT_TRUE(Dest(copy).is_copied());
}

TEST_F(CopyPhasesTest, NothingLeavesSucceeded) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  Advance(alice_, kOtherRegion, copy, "SUCCEEDED");
  for (std::string phase :
       {"QUEUED", "PREPARING", "TRANSFERRING", "REGISTERING", "CANCELLED"}) {
    SCOPED_TRACE(phase);
    ExpectInvalidTransition(TryAdvance(alice_, kOtherRegion, copy, phase,
                                       phase == "TRANSFERRING" ? 50 : 0));
  }
  ExpectInvalidTransition(TryFail(alice_, kOtherRegion, copy));
  ExpectDest(copy, "SUCCEEDED", "Available", "100%");
}

TEST_F(CopyPhasesTest, NothingLeavesFailed) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  AdvanceCopyTo(alice_, copy, "FAILED");
  for (std::string phase : {"QUEUED", "PREPARING", "TRANSFERRING",
                            "REGISTERING", "SUCCEEDED", "CANCELLED"}) {
    SCOPED_TRACE(phase);
    ExpectInvalidTransition(TryAdvance(alice_, kOtherRegion, copy, phase,
                                       phase == "TRANSFERRING" ? 50 : 0));
  }
  ExpectDest(copy, "FAILED", "CreateFailed", "");
}

TEST_F(CopyPhasesTest, NoWayBackFromRegistering) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  Advance(alice_, kOtherRegion, copy, "REGISTERING");
  for (std::string phase :
       {"QUEUED", "PREPARING", "TRANSFERRING", "CANCELLED"}) {
    SCOPED_TRACE(phase);
    ExpectInvalidTransition(TryAdvance(alice_, kOtherRegion, copy, phase,
                                       phase == "TRANSFERRING" ? 50 : 0));
  }
  ExpectDest(copy, "REGISTERING", "Creating", "100%");
}

TEST_F(CopyPhasesTest, NoWayBackFromTransferring) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 45);
  for (std::string phase : {"QUEUED", "PREPARING"}) {
    SCOPED_TRACE(phase);
    ExpectInvalidTransition(TryAdvance(alice_, kOtherRegion, copy, phase));
  }
  ExpectDest(copy, "TRANSFERRING", "Creating", "45%");
}

TEST_F(CopyPhasesTest, CancellingOnlyEndsCancelled) {
  src_ = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src_);
  AdvanceCopyTo(alice_, copy, "CANCELLING");
  for (std::string phase :
       {"QUEUED", "PREPARING", "TRANSFERRING", "REGISTERING", "SUCCEEDED"}) {
    SCOPED_TRACE(phase);
    ExpectInvalidTransition(TryAdvance(alice_, kOtherRegion, copy, phase,
                                       phase == "TRANSFERRING" ? 50 : 0));
  }
  ExpectInvalidTransition(TryFail(alice_, kOtherRegion, copy));
  ExpectDest(copy, "CANCELLING", "UnAvailable", "");
}

TEST_F(CopyPhasesTest, CreatedImageIsCreatingUntilDriven) {
  std::string id = CreateImage(alice_);
  v1::Image image = ImageOf(alice_, kRegion, id);
  EXPECT_EQ(image.status(), "Creating");
  EXPECT_FALSE(image.is_copied());
  EXPECT_FALSE(FindImage(alice_, kRegion, id, "").has_value());
  v1::TaskStateResponse s = Advance(alice_, kRegion, id, "Available");
  EXPECT_EQ(s.status(), "Available");
  EXPECT_EQ(StatusOf(alice_, kRegion, id), "Available");
}

}  // namespace
}  // namespace ecsimage::testing::contract

// Restart (api.md §3): a copy resumes from its stored phase and progress,
// and progress never goes backwards; everything else stored survives too.
#include <cstdlib>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

// "37%" -> 37; -1 when not of that form.
int Percent(const std::string& progress) {
  if (progress.size() < 2 || progress.back() != '%') return -1;
  return std::atoi(progress.substr(0, progress.size() - 1).c_str());
}

using RestartTest = ContractTest;

TEST_F(RestartTest, DrivenCopyResumesAtItsPhaseAndProgress) {
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  std::string queued = StartCopy(alice_, src);
  Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 40);

  RestartServer();

  v1::Image image = ImageOf(alice_, kOtherRegion, copy);
  EXPECT_EQ(image.copy_phase(), "TRANSFERRING");
  EXPECT_EQ(image.status(), "Creating");
  EXPECT_EQ(image.progress(), "40%");
  EXPECT_EQ(PhaseOf(alice_, kOtherRegion, queued), "QUEUED");

  v1::TaskStateResponse s =
      Advance(alice_, kOtherRegion, copy, "TRANSFERRING", 70);
  EXPECT_EQ(s.progress(), "70%");
  s = Advance(alice_, kOtherRegion, copy, "SUCCEEDED");
  EXPECT_EQ(s.status(), "Available");
  EXPECT_EQ(StatusOf(alice_, kOtherRegion, copy), "Available");
  EXPECT_CALL_OK(TryCancelCopy(alice_, kOtherRegion, queued));
  EXPECT_FALSE(FindImage(alice_, kOtherRegion, queued).has_value());
}

TEST_F(RestartTest, SelfDrivenCopyNeverLosesProgressAcrossRestart) {
  TestServerOptions options = NonSimulated();
  options.domain.transfer_rate_mib_per_s = 64;  // 40 GiB in about 11 min
  StartServer(options);
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);

  int before = -1;
  for (int i = 0; i < 100; ++i) {
    TickBy(60'000);
    v1::Image image = ImageOf(alice_, kOtherRegion, copy);
    int p = Percent(image.progress());
    if (image.copy_phase() == "TRANSFERRING" && p >= 1 && p <= 90) {
      before = p;
      break;
    }
  }
  ASSERT_GE(before, 1) << "copy never reached the middle of its transfer";

  RestartServer();

  v1::Image image = ImageOf(alice_, kOtherRegion, copy);
  EXPECT_EQ(image.copy_phase(), "TRANSFERRING");
  int last = Percent(image.progress());
  EXPECT_GE(last, before);
  for (int i = 0; i < 200 && image.status() != "Available"; ++i) {
    TickBy(30'000);
    image = ImageOf(alice_, kOtherRegion, copy);
    int p = Percent(image.progress());
    if (image.status() == "Creating") {
      EXPECT_GE(p, last) << "progress went backwards at step " << i;
      last = p;
    }
  }
  EXPECT_EQ(image.status(), "Available");
  EXPECT_EQ(image.progress(), "100%");
  EXPECT_EQ(image.copy_phase(), "SUCCEEDED");
}

TEST_F(RestartTest, RestartInTheMiddleOfManyTicksStillFinishes) {
  TestServerOptions options = NonSimulated();
  options.domain.transfer_rate_mib_per_s = 128;
  StartServer(options);
  std::string src = CreateAvailableImage(alice_);
  std::string copy = StartCopy(alice_, src);
  int last = 0;
  std::string status;
  for (int i = 0; i < 60 && status != "Available"; ++i) {
    TickBy(20'000);
    if (i % 3 == 2) RestartServer();
    v1::Image image = ImageOf(alice_, kOtherRegion, copy);
    status = image.status();
    int p = Percent(image.progress());
    EXPECT_GE(p, last) << "progress went backwards at step " << i;
    if (p > last) last = p;
  }
  EXPECT_EQ(status, "Available");
}

TEST_F(RestartTest, TombstonesSharesInstancesAndTokensSurvive) {
  std::string gone = CreateAvailableImage(alice_);
  std::string shared = CreateAvailableImage(alice_);
  std::string used = CreateAvailableImage(alice_);
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, gone));
  Share(alice_, shared, {bob_.account_id});
  std::vector<std::string> instances = Run(alice_, used, 1);

  RestartServer();

  EXPECT_FALSE(FindImage(alice_, kRegion, gone).has_value());
  EXPECT_CALL_OK(TryDelete(alice_, kRegion, gone));
  EXPECT_TRUE(FindImage(bob_, kRegion, shared).has_value());
  ExpectBlocked(TryDelete(alice_, kRegion, shared), "ImageUseShared",
                kMsgImageUseShared, Retry::kAbsent);
  ExpectBlocked(TryDelete(alice_, kRegion, used), "ImageUsingByInstance",
                kMsgImageUsingByInstance, Retry::kAbsent);
  EXPECT_EQ(InstancesOf(alice_, used), instances);
}

TEST_F(RestartTest, ClientTokensSurviveRestart) {
  v1::CreateImageRequest req;
  req.set_region_id(kRegion);
  req.set_image_name("before-restart");
  req.set_client_token("token-restart");
  v1::CreateImageResponse first, second;
  ASSERT_CALL_OK(TryCreateImage(alice_, req, &first));
  RestartServer();
  ASSERT_CALL_OK(TryCreateImage(alice_, req, &second));
  EXPECT_EQ(second.image_id(), first.image_id());
}

}  // namespace
}  // namespace ecsimage::testing::contract

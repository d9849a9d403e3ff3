// Another account's private image is indistinguishable from an id that
// never existed (api.md §2): same code, same message, details equal apart
// from the ids themselves, for every RPC that takes an ImageId.
#include <functional>
#include <map>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

std::string ReplaceAll(std::string s, const std::string& from,
                       const std::string& to) {
  if (from.empty()) return s;
  for (size_t pos = s.find(from); pos != std::string::npos;
       pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// Everything a client sees of a call except its RequestId, with `id`
// replaced by a placeholder.
std::string Normalized(const Decoded& d, const std::string& id) {
  std::string out = "code=" + std::to_string(static_cast<int>(d.code)) +
                    "\nmessage=" + d.message + "\n";
  out += "details=" + std::to_string(d.detail_count) +
         " error_info=" + std::to_string(d.has_error_info) +
         " request_info=" + std::to_string(d.has_request_info) +
         " bad_request=" + std::to_string(d.has_bad_request) +
         " resource_info=" + std::to_string(d.has_resource_info) +
         " precondition=" + std::to_string(d.has_precondition_failure) +
         " retry=" + std::to_string(d.has_retry_info) + "\n";
  out += "reason=" + d.error_info.reason() +
         " domain=" + d.error_info.domain() + "\n";
  std::map<std::string, std::string> meta(d.error_info.metadata().begin(),
                                          d.error_info.metadata().end());
  meta.erase("requestId");
  for (const auto& [k, v] : meta) out += "meta " + k + "=" + v + "\n";
  out += d.bad_request.DebugString() + d.resource_info.DebugString() +
         d.precondition_failure.DebugString() + d.retry_info.DebugString();
  return ReplaceAll(out, id, "<ID>");
}

class CrossAccountTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    bobs_ = CreateAvailableImage(bob_);
    bobs_copy_ = StartCopy(bob_, bobs_);
  }

  // Runs `call` with bob's id and with a never-existing id of the same
  // shape; both answers must be equal apart from the ids. Returns the
  // answer for bob's id.
  Decoded ExpectIndistinguishable(
      const std::string& bobs_id,
      const std::function<Decoded(const std::string&)>& call) {
    const std::string unknown = UnknownImageId(424242);
    Decoded foreign = call(bobs_id);
    Decoded never = call(unknown);
    EXPECT_EQ(Normalized(foreign, bobs_id), Normalized(never, unknown));
    EXPECT_NE(foreign.trailer_request_id, never.trailer_request_id);
    return foreign;
  }

  void ExpectBobsImagesUntouched() {
    v1::Image image = ImageOf(bob_, kRegion, bobs_);
    EXPECT_EQ(image.status(), "Available");
    EXPECT_FALSE(image.is_public());
    EXPECT_EQ(image.usage(), "none");
    EXPECT_TRUE(SharedWith(bob_, bobs_).empty());
    EXPECT_EQ(PhaseOf(bob_, kOtherRegion, bobs_copy_), "QUEUED");
    EXPECT_FALSE(FindImage(alice_, kRegion, bobs_).has_value());
  }

  std::string bobs_;
  std::string bobs_copy_;
};

TEST_F(CrossAccountTest, CancelCopyImage) {
  Decoded d = ExpectIndistinguishable(bobs_copy_, [&](const std::string& id) {
    return TryCancelCopy(alice_, kOtherRegion, id);
  });
  ExpectImageNotFound(d, bobs_copy_);
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, DeleteImage) {
  for (bool force : {false, true}) {
    Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
      return TryDelete(alice_, kRegion, id, force);
    });
    ExpectImageNotFound(d, bobs_);
  }
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, CopyImage) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryCopy(alice_, kRegion, id, kOtherRegion, {}, nullptr, "xcopy");
  });
  ExpectImageNotFound(d, bobs_);
  EXPECT_TRUE(ListImages(alice_, kOtherRegion, "self").empty());
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, ModifyImageAttribute) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    v1::ModifyImageAttributeRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    req.set_image_name("renamed");
    req.set_description("changed by alice");
    return TryModifyAttribute(alice_, req);
  });
  ExpectImageNotFound(d, bobs_);
  d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TrySetStatus(alice_, id, "Deprecated");
  });
  ExpectImageNotFound(d, bobs_);
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, ModifyImageSharePermission) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryShare(alice_, kRegion, id, {bob_.account_id});
  });
  ExpectImageNotFound(d, bobs_);
  d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryShare(alice_, kRegion, id, {}, {}, true);
  });
  ExpectImageNotFound(d, bobs_);
  d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryShare(alice_, kRegion, id, {}, {bob_.account_id});
  });
  ExpectImageNotFound(d, bobs_);
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, DescribeImageSharePermission) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryDescribeSharePermission(alice_, kRegion, id);
  });
  ExpectImageNotFound(d, bobs_);
}

TEST_F(CrossAccountTest, ExportImage) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryExport(alice_, kRegion, id);
  });
  ExpectImageNotFound(d, bobs_);
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, RunInstances) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryRun(alice_, kRegion, id, 1);
  });
  ExpectImageNotFound(d, bobs_);
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, AdvanceTaskAndFailTask) {
  Decoded d = ExpectIndistinguishable(bobs_copy_, [&](const std::string& id) {
    return TryAdvance(alice_, kOtherRegion, id, "SUCCEEDED");
  });
  EXPECT_EQ(d.code, grpc::StatusCode::NOT_FOUND);
  d = ExpectIndistinguishable(bobs_copy_, [&](const std::string& id) {
    return TryFail(alice_, kOtherRegion, id);
  });
  EXPECT_EQ(d.code, grpc::StatusCode::NOT_FOUND);
  ExpectBobsImagesUntouched();
}

TEST_F(CrossAccountTest, DescribeImagesShowsNothing) {
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    v1::DescribeImagesRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    req.set_status(kAllStatuses);
    v1::DescribeImagesResponse resp;
    Decoded r = TryDescribeImages(alice_, req, &resp);
    EXPECT_EQ(resp.images_size(), 0);
    EXPECT_EQ(resp.total_count(), 0);
    return r;
  });
  EXPECT_CALL_OK(d);
}

TEST_F(CrossAccountTest, DescribeInstancesOfImage) {
  Run(bob_, bobs_, 2);
  ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    v1::DescribeInstancesRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    v1::DescribeInstancesResponse resp;
    Decoded r =
        Invoke(*instances_, &v1::InstanceService::Stub::DescribeInstances,
               alice_, req, &resp);
    EXPECT_EQ(resp.instances_size(), 0);
    return r;
  });
}

TEST_F(CrossAccountTest, BusyForeignImageLooksLikeNoImage) {
  // Bob's image is exporting, shared with a third account, used by
  // instances and the source of a running copy: none of it may leak.
  TestAccount carol = server_->CreateAccount("carol");
  Share(bob_, bobs_, {carol.account_id});
  Run(bob_, bobs_, 1);
  EXPECT_CALL_OK(TryExport(bob_, kRegion, bobs_));
  for (bool force : {false, true}) {
    Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
      return TryDelete(alice_, kRegion, id, force);
    });
    ExpectImageNotFound(d, bobs_);
  }
  Decoded d = ExpectIndistinguishable(bobs_, [&](const std::string& id) {
    return TryCancelCopy(alice_, kRegion, id);
  });
  ExpectImageNotFound(d, bobs_);
  EXPECT_EQ(SharedWith(bob_, bobs_),
            std::vector<std::string>{carol.account_id});
}

TEST_F(CrossAccountTest, ForeignTaskIdIsLikeAnUnknownTaskId) {
  auto [image, task] = StartImport(bob_);
  const std::string unknown = "t-notexist0000000001";
  Decoded foreign = TryCancelTask(alice_, kRegion, task);
  Decoded never = TryCancelTask(alice_, kRegion, unknown);
  EXPECT_EQ(Normalized(foreign, task), Normalized(never, unknown));
  EXPECT_ECS_ERROR(foreign, grpc::StatusCode::NOT_FOUND,
                   "InvalidTaskId.NotFound", 404, "", Detail::kResourceInfo);
  // Bob's import is still running.
  EXPECT_THAT(StatusOf(bob_, kRegion, image),
              ::testing::AnyOf("Waiting", "Creating"));
}

TEST_F(CrossAccountTest, ForeignInstanceIdIsLikeAnUnknownInstanceId) {
  std::vector<std::string> bobs = Run(bob_, bobs_, 1);
  ASSERT_EQ(bobs.size(), 1u);
  const std::string unknown = "i-notexist0000000001";
  Decoded foreign = TryDeleteInstance(alice_, bobs[0]);
  Decoded never = TryDeleteInstance(alice_, unknown);
  EXPECT_EQ(Normalized(foreign, bobs[0]), Normalized(never, unknown));
  EXPECT_ECS_ERROR(foreign, grpc::StatusCode::NOT_FOUND,
                   "InvalidInstanceId.NotFound", 404, "",
                   Detail::kResourceInfo);
  EXPECT_EQ(InstancesOf(bob_, bobs_), bobs);
}

}  // namespace
}  // namespace ecsimage::testing::contract

// The server plumbing every RPC shares: authentication, RequestIds and the
// x-acs-request-id trailer, error details, throttling, health, reflection
// and message limits. The rules behind the RPCs are tested elsewhere.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "service/domain/errors.h"
#include "service/grpc/call_observer.h"
#include "service/grpc/status_mapping.h"
#include "tests/testing/reflection_client.h"
#include "tests/testing/test_server.h"

namespace ecsimage {
namespace {

namespace v1 = ::ecs::image::v1;
using domain::Err;
using domain::SpecOf;
using testing::AuthContext;
using ::testing::Contains;
using testing::Decode;
using testing::Decoded;
using ::testing::IsSupersetOf;
using ::testing::Not;
using testing::TestServer;
using testing::TestServerOptions;

constexpr char kRequestIdPattern[] =
    "[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}";

bool IsRequestId(const std::string& id) {
  return std::regex_match(id, std::regex(kRequestIdPattern));
}

// Every failure carries the same RequestId in ErrorInfo, RequestInfo and the
// trailer, and ErrorInfo is shaped as api.md §4 says.
void ExpectErrorEnvelope(const Decoded& d, Err err) {
  const domain::ErrorSpec& spec = SpecOf(err);
  EXPECT_EQ(d.code, static_cast<grpc::StatusCode>(spec.code));
  EXPECT_EQ(d.message, std::string(spec.message));
  ASSERT_TRUE(d.has_status_details);
  ASSERT_TRUE(d.has_error_info);
  ASSERT_TRUE(d.has_request_info);
  EXPECT_EQ(d.error_info.reason(), domain::UpperSnake(spec.ecs_code));
  EXPECT_EQ(d.error_info.domain(), "ecsimage.ecs.image.v1");
  EXPECT_EQ(d.ecs_code(), std::string(spec.ecs_code));
  EXPECT_EQ(d.error_info.metadata().at("httpStatus"),
            std::to_string(spec.http_status));
  EXPECT_TRUE(IsRequestId(d.trailer_request_id)) << d.trailer_request_id;
  EXPECT_EQ(d.request_info.request_id(), d.trailer_request_id);
  EXPECT_EQ(d.error_info.metadata().at("requestId"), d.trailer_request_id);
}

class ServerPlumbingTest : public ::testing::Test {
 protected:
  TestServer server_;
};

TEST_F(ServerPlumbingTest, MissingTokenIsUnauthenticatedWithDetails) {
  auto context = AuthContext("");
  v1::DescribeRegionsResponse response;
  grpc::Status status = server_.images()->DescribeRegions(
      context.get(), v1::DescribeRegionsRequest(), &response);
  Decoded d = Decode(status, *context);
  EXPECT_EQ(d.code, grpc::StatusCode::UNAUTHENTICATED);
  ExpectErrorEnvelope(d, Err::kInvalidToken);
  EXPECT_EQ(d.detail_count, 2);
}

TEST_F(ServerPlumbingTest, GarbledOrUnknownTokensAreUnauthenticated) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  const std::vector<std::string> headers = {
      "Bearer",
      "Bearer ",
      "Bearer    ",
      "Basic " + alice.token,
      "bearer" + alice.token,
      alice.token,
      "Bearer " + alice.token + "x",
      "Bearer x" + alice.token,
      "Bearer " + alice.token + " extra",
      "Bearer " + std::string(600, 'a'),
  };
  for (const std::string& header : headers) {
    SCOPED_TRACE(header);
    grpc::ClientContext context;
    context.AddMetadata("authorization", header);
    v1::DescribeRegionsResponse response;
    grpc::Status status = server_.images()->DescribeRegions(
        &context, v1::DescribeRegionsRequest(), &response);
    Decoded d = Decode(status, context);
    ExpectErrorEnvelope(d, Err::kInvalidToken);
    EXPECT_TRUE(response.request_id().empty());
  }
}

TEST_F(ServerPlumbingTest, TwoAuthorizationHeadersAreRefused) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  const testing::TestAccount bob = server_.CreateAccount("bob");
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + alice.token);
  context.AddMetadata("authorization", "Bearer " + bob.token);
  v1::DescribeRegionsResponse response;
  grpc::Status status = server_.images()->DescribeRegions(
      &context, v1::DescribeRegionsRequest(), &response);
  ExpectErrorEnvelope(Decode(status, context), Err::kInvalidToken);
}

TEST_F(ServerPlumbingTest, BearerSchemeIsCaseInsensitive) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  grpc::ClientContext context;
  context.AddMetadata("authorization", "bearer " + alice.token);
  v1::DescribeRegionsResponse response;
  grpc::Status status = server_.images()->DescribeRegions(
      &context, v1::DescribeRegionsRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ServerPlumbingTest, SuccessCarriesRequestIdInBodyAndTrailer) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  std::set<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto context = AuthContext(alice.token);
    v1::DescribeRegionsResponse response;
    grpc::Status status = server_.images()->DescribeRegions(
        context.get(), v1::DescribeRegionsRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    Decoded d = Decode(status, *context);
    EXPECT_TRUE(IsRequestId(response.request_id())) << response.request_id();
    EXPECT_EQ(d.trailer_request_id, response.request_id());
    EXPECT_FALSE(d.has_status_details);
    EXPECT_GE(response.regions_size(), 5);
    seen.insert(response.request_id());
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST_F(ServerPlumbingTest, DomainErrorCarriesRequestIdEverywhere) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  auto context = AuthContext(alice.token);
  v1::DeleteImageRequest request;
  request.set_region_id("cn-hangzhou");
  request.set_image_id("m-doesnotexist00000000");
  v1::DeleteImageResponse response;
  grpc::Status status =
      server_.images()->DeleteImage(context.get(), request, &response);
  Decoded d = Decode(status, *context);
  ExpectErrorEnvelope(d, Err::kInvalidImageIdNotFound);
  EXPECT_TRUE(d.has_resource_info);
}

TEST_F(ServerPlumbingTest, EveryServiceAuthenticatesBeforeAnything) {
  // Even a request the domain would refuse as malformed is answered
  // UNAUTHENTICATED first.
  {
    auto context = AuthContext("");
    v1::RunInstancesResponse response;
    grpc::Status status = server_.instances()->RunInstances(
        context.get(), v1::RunInstancesRequest(), &response);
    ExpectErrorEnvelope(Decode(status, *context), Err::kInvalidToken);
  }
  {
    auto context = AuthContext("");
    v1::TaskStateResponse response;
    grpc::Status status = server_.simulation()->AdvanceTask(
        context.get(), v1::AdvanceTaskRequest(), &response);
    ExpectErrorEnvelope(Decode(status, *context), Err::kInvalidToken);
  }
}

TEST(ServerThrottlingTest, AccountOverItsRateIsThrottledUntilTimeMoves) {
  TestServerOptions options;
  options.rate_limit_per_account = 2;  // burst 2, refills 2/s
  TestServer server(options);
  const testing::TestAccount alice = server.CreateAccount("alice");
  const testing::TestAccount bob = server.CreateAccount("bob");
  auto call = [&](const std::string& token) {
    auto context = AuthContext(token);
    v1::DescribeRegionsResponse response;
    grpc::Status status = server.images()->DescribeRegions(
        context.get(), v1::DescribeRegionsRequest(), &response);
    return Decode(status, *context);
  };
  EXPECT_EQ(call(alice.token).code, grpc::StatusCode::OK);
  EXPECT_EQ(call(alice.token).code, grpc::StatusCode::OK);
  Decoded throttled = call(alice.token);
  ExpectErrorEnvelope(throttled, Err::kThrottling);
  EXPECT_EQ(throttled.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Buckets are per account.
  EXPECT_EQ(call(bob.token).code, grpc::StatusCode::OK);
  server.clock().AdvanceMs(500);
  EXPECT_EQ(call(alice.token).code, grpc::StatusCode::OK);
  EXPECT_EQ(call(alice.token).code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  // An unauthenticated caller is refused as such, never throttled.
  EXPECT_EQ(call("").code, grpc::StatusCode::UNAUTHENTICATED);
}

// Records what the server reports of each call.
class RecordingObserver final : public grpcapi::CallObserver {
 public:
  struct Call {
    std::string method;
    grpc::StatusCode code;
    std::string ecs_code;
    double latency_seconds;
  };
  void OnCallDone(std::string_view method, grpc::StatusCode code,
                  std::string_view ecs_code, double latency_seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(
        {std::string(method), code, std::string(ecs_code), latency_seconds});
  }
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<Call> calls_;
};

TEST(ServerObserverTest, SeesEveryCallOnceWithItsOutcome) {
  RecordingObserver observer;
  TestServerOptions options;
  options.observer = &observer;
  TestServer server(options);
  const testing::TestAccount alice = server.CreateAccount("alice");
  {
    auto context = AuthContext(alice.token);
    v1::DescribeRegionsResponse response;
    ASSERT_TRUE(server.images()
                    ->DescribeRegions(context.get(),
                                      v1::DescribeRegionsRequest(), &response)
                    .ok());
  }
  {
    auto context = AuthContext("");
    v1::DescribeInstancesResponse response;
    server.instances()->DescribeInstances(
        context.get(), v1::DescribeInstancesRequest(), &response);
  }
  {
    auto context = AuthContext(alice.token);
    v1::DeleteImageRequest request;
    request.set_region_id("cn-hangzhou");
    v1::DeleteImageResponse response;
    server.images()->DeleteImage(context.get(), request, &response);
  }
  std::vector<RecordingObserver::Call> calls = observer.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].method, "/ecs.image.v1.ImageService/DescribeRegions");
  EXPECT_EQ(calls[0].code, grpc::StatusCode::OK);
  EXPECT_EQ(calls[0].ecs_code, "");
  EXPECT_GE(calls[0].latency_seconds, 0.0);
  EXPECT_EQ(calls[1].method, "/ecs.image.v1.InstanceService/DescribeInstances");
  EXPECT_EQ(calls[1].code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(calls[1].ecs_code,
            std::string(SpecOf(Err::kInvalidToken).ecs_code));
  EXPECT_EQ(calls[2].method, "/ecs.image.v1.ImageService/DeleteImage");
  EXPECT_EQ(calls[2].code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(calls[2].ecs_code, "MissingParameter");
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    TestServer& server, const std::string& service, grpc::Status* status) {
  auto stub = grpc::health::v1::Health::NewStub(server.channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  *status = stub->Check(&context, request, &response);
  return response.status();
}

TEST_F(ServerPlumbingTest, HealthServesWithoutTokenAndFollowsSetServing) {
  grpc::Status status;
  EXPECT_EQ(Health(server_, "", &status),
            grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(Health(server_, "ecs.image.v1.ImageService", &status),
            grpc::health::v1::HealthCheckResponse::SERVING);
  Health(server_, "no.such.Service", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  server_.SetServing(false);
  EXPECT_EQ(Health(server_, "", &status),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(server_, "ecs.image.v1.ImageService", &status),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  // NOT_SERVING sends balancers away; calls still in reach are served.
  const testing::TestAccount alice = server_.CreateAccount("alice");
  auto context = AuthContext(alice.token);
  v1::DescribeRegionsResponse response;
  EXPECT_TRUE(server_.images()
                  ->DescribeRegions(context.get(), v1::DescribeRegionsRequest(),
                                    &response)
                  .ok());
  server_.SetServing(true);
  EXPECT_EQ(Health(server_, "", &status),
            grpc::health::v1::HealthCheckResponse::SERVING);
}

using testing::FileNames;
using testing::FilesContainingSymbol;
using testing::ListServices;
using testing::Reflect;
using testing::reflection::ServerReflectionRequest;
using testing::reflection::ServerReflectionResponse;

TEST_F(ServerPlumbingTest, ReflectionListsTheServices) {
  EXPECT_THAT(
      ListServices(server_.channel()),
      IsSupersetOf({"ecs.image.v1.ImageService", "ecs.image.v1.InstanceService",
                    "ecs.image.v1.SimulationControl", "grpc.health.v1.Health",
                    "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST(ServerReflectionTest, SimulationControlOnlyWithTheFlag) {
  TestServerOptions options;
  options.simulation_control = false;
  TestServer server(options);
  std::vector<std::string> names = ListServices(server.channel());
  EXPECT_THAT(names, Contains("ecs.image.v1.ImageService"));
  EXPECT_THAT(names, Not(Contains("ecs.image.v1.SimulationControl")));
  const testing::TestAccount alice = server.CreateAccount("alice");
  auto context = AuthContext(alice.token);
  v1::TaskStateResponse response;
  grpc::Status status = server.simulation()->AdvanceTask(
      context.get(), v1::AdvanceTaskRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ServerPlumbingTest, ReflectionServesErrorDetailsAndHealthProtos) {
  struct Case {
    std::string symbol;
    std::string file;
  };
  for (const Case& c :
       {Case{"google.rpc.ErrorInfo", "google/rpc/error_details.proto"},
        Case{"google.rpc.RetryInfo", "google/rpc/error_details.proto"},
        Case{"grpc.health.v1.Health", "grpc/health/v1/health.proto"},
        Case{"ecs.image.v1.ImageService",
             "ecs/image/v1/image_service.proto"}}) {
    SCOPED_TRACE(c.symbol);
    EXPECT_THAT(FilesContainingSymbol(server_.channel(), c.symbol),
                Contains(c.file));
  }
  ServerReflectionRequest by_name;
  by_name.set_file_by_filename("google/rpc/error_details.proto");
  ServerReflectionResponse response = Reflect(server_.channel(), by_name);
  // The file and what it imports (google/protobuf/duration.proto).
  EXPECT_THAT(FileNames(response),
              IsSupersetOf({"google/rpc/error_details.proto",
                            "google/protobuf/duration.proto"}));
}

TEST_F(ServerPlumbingTest, OversizedRequestIsRefusedAndServerKeepsServing) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  {
    auto context = AuthContext(alice.token);
    v1::CreateImageRequest request;
    request.set_region_id("cn-hangzhou");
    request.set_image_name("big");
    request.set_description(std::string(5 * 1024 * 1024, 'x'));
    v1::CreateImageResponse response;
    grpc::Status status =
        server_.images()->CreateImage(context.get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
  }
  auto context = AuthContext(alice.token);
  v1::DescribeRegionsResponse response;
  grpc::Status status = server_.images()->DescribeRegions(
      context.get(), v1::DescribeRegionsRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ServerPlumbingTest, RestartServesTheSameAccounts) {
  const testing::TestAccount alice = server_.CreateAccount("alice");
  server_.Restart();
  auto context = AuthContext(alice.token);
  v1::DescribeRegionsResponse response;
  grpc::Status status = server_.images()->DescribeRegions(
      context.get(), v1::DescribeRegionsRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace ecsimage

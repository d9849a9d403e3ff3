#include "tests/testing/test_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "google/rpc/status.pb.h"
#include "service/domain/ids.h"
#include "service/grpc/call_handler.h"
#include "service/grpc/server.h"
#include "tests/testing/test_store.h"

namespace ecsimage::testing {
namespace {

// Fixed: ids (and so request ids) repeat from run to run.
constexpr uint64_t kIdSeed = 20240101;

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
  if (base == nullptr || *base == '\0') base = "/tmp";
  std::string pattern = std::string(base) + "/ecsimage_test_XXXXXX";
  char* dir = ::mkdtemp(pattern.data());
  if (dir == nullptr) {
    ADD_FAILURE() << "mkdtemp failed under " << base;
    return "";
  }
  return pattern;
}

}  // namespace

struct TestServer::Impl {
  TestServerOptions options;
  std::string dir;
  std::unique_ptr<TestDatabase> db;
  domain::FakeClock clock;
  domain::RandomIdGenerator ids{kIdSeed};
  // Recreated by Restart(), in this order of construction.
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<domain::ImageDomain> domain;
  std::unique_ptr<domain::Authenticator> authenticator;
  std::unique_ptr<domain::TaskEngine> engine;
  std::unique_ptr<grpcapi::Server> server;
  std::shared_ptr<grpc::Channel> channel;

  void Start() {
    auto opened = db->Open();
    ASSERT_TRUE(opened.ok()) << opened.status();
    store = *std::move(opened);
    absl::Status seeded = domain::SeedCatalog(*store, clock.NowMs());
    ASSERT_TRUE(seeded.ok()) << seeded;
    domain = std::make_unique<domain::ImageDomain>(*store, clock, ids,
                                                   options.domain);
    authenticator = std::make_unique<domain::Authenticator>(*store, clock);
    engine =
        std::make_unique<domain::TaskEngine>(*store, clock, options.domain);

    grpcapi::ServerOptions server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.simulation_control = options.simulation_control;
    server_options.max_threads = 32;
    server_options.rate_limit_per_account = options.rate_limit_per_account;
    // The access log of thousands of test calls is noise; errors are still
    // logged. ECSIMAGE_TEST_LOG=1 turns it on.
    const char* log = std::getenv("ECSIMAGE_TEST_LOG");
    server_options.log_calls = log != nullptr && std::string(log) == "1";
    server_options.tls = options.tls;
    if (options.health_port)
      server_options.health_listen_address = "127.0.0.1:0";
    auto started = grpcapi::Server::Start(
        server_options, grpcapi::ServerDeps{*domain, *authenticator, ids, clock,
                                            options.observer});
    ASSERT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                  grpc::InsecureChannelCredentials());
  }

  void Stop() {
    channel.reset();
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
    server.reset();
    engine.reset();
    authenticator.reset();
    domain.reset();
    store.reset();
  }
};

TestServer::TestServer(TestServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->dir = MakeTempDir();
  auto db = TestDatabase::Create(impl_->dir);
  if (!db.ok()) {
    ADD_FAILURE() << "no test database: " << db.status();
    return;
  }
  impl_->db = *std::move(db);
  impl_->Start();
}

TestServer::~TestServer() {
  impl_->Stop();
  impl_->db.reset();
  if (!impl_->dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(impl_->dir, ignored);
  }
}

TestAccount TestServer::CreateAccount(const std::string& name) {
  domain::AccountAdmin admin(*impl_->store, impl_->clock, impl_->ids);
  auto created = admin.CreateAccount(name);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return {};
  return {created->account_id, created->token};
}

std::shared_ptr<grpc::Channel> TestServer::channel() { return impl_->channel; }

std::unique_ptr<ecs::image::v1::ImageService::Stub> TestServer::images() {
  return ecs::image::v1::ImageService::NewStub(impl_->channel);
}

std::unique_ptr<ecs::image::v1::InstanceService::Stub> TestServer::instances() {
  return ecs::image::v1::InstanceService::NewStub(impl_->channel);
}

std::unique_ptr<ecs::image::v1::SimulationControl::Stub>
TestServer::simulation() {
  return ecs::image::v1::SimulationControl::NewStub(impl_->channel);
}

domain::FakeClock& TestServer::clock() { return impl_->clock; }

void TestServer::Tick() {
  absl::Status status = impl_->engine->Tick();
  EXPECT_TRUE(status.ok()) << status;
}

void TestServer::Restart() {
  impl_->Stop();
  impl_->Start();
}

void TestServer::SetServing(bool serving) {
  impl_->server->SetServing(serving);
}

const std::string& TestServer::db_path() const { return impl_->db->locator(); }

const TestDatabase& TestServer::database() const { return *impl_->db; }

int TestServer::port() const { return impl_->server->port(); }

int TestServer::health_port() const { return impl_->server->health_port(); }

grpcapi::Server& TestServer::server() { return *impl_->server; }

grpcapi::ServerDeps TestServer::deps() {
  return grpcapi::ServerDeps{*impl_->domain, *impl_->authenticator, impl_->ids,
                             impl_->clock, nullptr};
}

std::unique_ptr<grpc::ClientContext> AuthContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

std::string Decoded::ecs_code() const {
  auto it = error_info.metadata().find("code");
  return it == error_info.metadata().end() ? "" : it->second;
}

Decoded Decode(const grpc::Status& status, const grpc::ClientContext& context) {
  Decoded d;
  d.code = status.error_code();
  d.message = status.error_message();
  google::rpc::Status details;
  if (!status.error_details().empty() &&
      details.ParseFromString(status.error_details())) {
    d.has_status_details = true;
    d.detail_count = details.details_size();
    for (const google::protobuf::Any& any : details.details()) {
      if (any.Is<google::rpc::ErrorInfo>()) {
        d.has_error_info = any.UnpackTo(&d.error_info);
      } else if (any.Is<google::rpc::RequestInfo>()) {
        d.has_request_info = any.UnpackTo(&d.request_info);
      } else if (any.Is<google::rpc::BadRequest>()) {
        d.has_bad_request = any.UnpackTo(&d.bad_request);
      } else if (any.Is<google::rpc::ResourceInfo>()) {
        d.has_resource_info = any.UnpackTo(&d.resource_info);
      } else if (any.Is<google::rpc::PreconditionFailure>()) {
        d.has_precondition_failure = any.UnpackTo(&d.precondition_failure);
      } else if (any.Is<google::rpc::RetryInfo>()) {
        d.has_retry_info = any.UnpackTo(&d.retry_info);
      }
    }
  }
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(grpcapi::kRequestIdTrailer);
  if (it != trailers.end()) {
    d.trailer_request_id.assign(it->second.data(), it->second.size());
  }
  return d;
}

}  // namespace ecsimage::testing

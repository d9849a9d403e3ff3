// An in-process ecsimage server for end-to-end tests: a fresh database of
// the store under test (test_store.h), port 0 on 127.0.0.1, a FakeClock,
// deterministic ids, SimulationControl on unless asked otherwise, and real
// stubs.
#ifndef ECSIMAGE_TESTS_TESTING_TEST_SERVER_H_
#define ECSIMAGE_TESTS_TESTING_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "service/domain/clock.h"
#include "service/domain/image_domain.h"
#include "service/grpc/call_observer.h"
#include "service/grpc/server.h"
#include "service/grpc/tls_credentials.h"
#include "tests/testing/test_store.h"

namespace ecsimage::testing {

struct TestServerOptions {
  bool simulation_control = true;
  domain::DomainOptions domain;
  // Calls per second and account (Throttling), on the FakeClock; 0: off.
  double rate_limit_per_account = 0;
  // Sees every finished call (metrics); not owned, may be null.
  grpcapi::CallObserver* observer = nullptr;
  // TLS on the API port (channel() is plaintext: make a TLS channel
  // yourself); off by default.
  grpcapi::TlsFiles tls;
  // Starts the plaintext health-only server on 127.0.0.1:0.
  bool health_port = false;
};

struct TestAccount {
  std::string account_id;
  std::string token;
};

class TestServer {
 public:
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();

  // Creates an account through the operator path; returns id and token.
  TestAccount CreateAccount(const std::string& name);

  // Plaintext, to the API port.
  std::shared_ptr<grpc::Channel> channel();
  std::unique_ptr<ecs::image::v1::ImageService::Stub> images();
  std::unique_ptr<ecs::image::v1::InstanceService::Stub> instances();
  std::unique_ptr<ecs::image::v1::SimulationControl::Stub> simulation();

  domain::FakeClock& clock();
  // Runs one TaskEngine tick (the background worker is not started in
  // tests: time and tasks move only when the test says so).
  void Tick();
  // Stops the server and the store, then starts both again on the same
  // database file (same clock). Channels and stubs must be made anew.
  void Restart();
  // Health of "" and the API services (SIGTERM's first step).
  void SetServing(bool serving);
  // The SQLite path or PostgreSQL URI (TestStoreKind()).
  const std::string& db_path() const;
  const TestDatabase& database() const;
  int port() const;
  // The health-only port (0 unless options.health_port).
  int health_port() const;
  grpcapi::Server& server();
  // What another grpcapi::Server on the same database needs.
  grpcapi::ServerDeps deps();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A ClientContext carrying "authorization: Bearer <token>" (none if empty).
std::unique_ptr<grpc::ClientContext> AuthContext(const std::string& token);

// Everything a failed (or successful) call said, decoded.
struct Decoded {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  // From grpc-status-details-bin; has_* tell which details were present.
  bool has_status_details = false;
  google::rpc::ErrorInfo error_info;
  bool has_error_info = false;
  google::rpc::RequestInfo request_info;
  bool has_request_info = false;
  google::rpc::BadRequest bad_request;
  bool has_bad_request = false;
  google::rpc::ResourceInfo resource_info;
  bool has_resource_info = false;
  google::rpc::PreconditionFailure precondition_failure;
  bool has_precondition_failure = false;
  google::rpc::RetryInfo retry_info;
  bool has_retry_info = false;
  int detail_count = 0;
  // The x-acs-request-id trailing metadata.
  std::string trailer_request_id;

  // ErrorInfo metadata["code"], or "" when absent.
  std::string ecs_code() const;
};

// Decodes `status` and the trailers of `context` (after the call finished).
Decoded Decode(const grpc::Status& status, const grpc::ClientContext& context);

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_TESTING_TEST_SERVER_H_

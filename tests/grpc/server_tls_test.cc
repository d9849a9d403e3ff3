// TLS on the API port (one-way and mutual, certificates reloaded from their
// files) and the plaintext health-only port. Certificates are made at test
// time with `openssl`; every port is 127.0.0.1:0; every wait has a deadline.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "service/grpc/json_log.h"
#include "service/grpc/server.h"
#include "service/grpc/tls_credentials.h"
#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certs.h"
#include "tests/testing/test_server.h"

namespace ecsimage {
namespace {

using ::ecsimage::testing::TempDir;

namespace v1 = ::ecs::image::v1;
namespace health = ::grpc::health::v1;
using testing::AuthContext;
using testing::CertFiles;
using ::testing::HasSubstr;
using testing::ReadFileText;
using testing::TestServer;
using testing::TestServerOptions;

std::chrono::system_clock::time_point In(std::chrono::seconds s) {
  return std::chrono::system_clock::now() + s;
}

// A fresh channel that shares no connection with earlier ones, so each one
// makes its own handshake.
std::shared_ptr<grpc::Channel> Dial(
    int port, const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), creds,
                                   args);
}

// TLS trusting only `ca_file`, presenting `client` if it is set.
std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& ca_file,
                                          const CertFiles& client = {}) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFileText(ca_file);
  if (!client.cert.empty()) {
    options.pem_cert_chain = ReadFileText(client.cert);
    options.pem_private_key = ReadFileText(client.key);
  }
  return Dial(port, grpc::SslCredentials(options));
}

std::shared_ptr<grpc::Channel> PlainChannel(int port) {
  return Dial(port, grpc::InsecureChannelCredentials());
}

grpc::Status DescribeRegions(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& token) {
  auto context = AuthContext(token);
  context->set_deadline(In(std::chrono::seconds(10)));
  v1::DescribeRegionsResponse response;
  grpc::Status status = v1::ImageService::NewStub(channel)->DescribeRegions(
      context.get(), v1::DescribeRegionsRequest(), &response);
  if (status.ok() && response.regions_size() == 0) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "no regions");
  }
  return status;
}

// The status of `service` as the server reports it; UNKNOWN with `*status`
// set when the call fails.
health::HealthCheckResponse::ServingStatus Check(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    grpc::Status* status) {
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(10)));
  health::HealthCheckRequest request;
  request.set_service(service);
  health::HealthCheckResponse response;
  *status =
      health::Health::NewStub(channel)->Check(&context, request, &response);
  return status->ok() ? response.status()
                      : health::HealthCheckResponse::UNKNOWN;
}

// Log lines, captured from any thread.
class LogCapture {
 public:
  LogCapture() {
    previous_ = grpcapi::SetLogSinkForTesting([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { grpcapi::SetLogSinkForTesting(previous_); }
  bool Contains(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& line : lines_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  grpcapi::LogSink previous_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A CA and a server certificate it signed, in a temporary directory; the
// server is configured with copies named server.pem/server.key, so tests
// can replace them.
class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ca_ = testing::MakeCa(dir_.path(), "ca1");
    const CertFiles leaf = testing::MakeLeaf(dir_.path(), "leaf1", ca_);
    ASSERT_FALSE(leaf.cert.empty());
    files_.cert_file = dir_.path() + "/server.pem";
    files_.key_file = dir_.path() + "/server.key";
    testing::ReplaceFile(files_.cert_file, ReadFileText(leaf.cert));
    testing::ReplaceFile(files_.key_file, ReadFileText(leaf.key));
  }

  std::unique_ptr<TestServer> StartServer(int reload_seconds = 60) {
    TestServerOptions options;
    options.tls = files_;
    options.tls.reload_seconds = reload_seconds;
    options.health_port = true;
    return std::make_unique<TestServer>(options);
  }

  TempDir dir_;
  CertFiles ca_;
  grpcapi::TlsFiles files_;
};

TEST_F(ServerTlsTest, TlsClientTrustingTheCaIsServed) {
  auto server = StartServer();
  const testing::TestAccount alice = server->CreateAccount("alice");
  grpc::Status status =
      DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_NE(server->server().tls_info(), nullptr);
  EXPECT_EQ(server->server().tls_info()->subject, "CN=leaf1");
  EXPECT_EQ(server->server().tls_info()->sha256.size(), 64u);
}

TEST_F(ServerTlsTest, PlaintextAndUntrustingClientsAreRefused) {
  auto server = StartServer();
  const testing::TestAccount alice = server->CreateAccount("alice");
  EXPECT_EQ(
      DescribeRegions(PlainChannel(server->port()), alice.token).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  const CertFiles other = testing::MakeCa(dir_.path(), "other");
  EXPECT_EQ(DescribeRegions(TlsChannel(server->port(), other.cert), alice.token)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // Health on the API port is behind TLS too.
  grpc::Status status;
  Check(PlainChannel(server->port()), "", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTlsTest, HealthPortServesOnlyHealthInPlaintext) {
  auto server = StartServer();
  ASSERT_GT(server->health_port(), 0);
  EXPECT_NE(server->health_port(), server->port());
  auto channel = PlainChannel(server->health_port());
  grpc::Status status;
  EXPECT_EQ(Check(channel, "", &status), health::HealthCheckResponse::SERVING)
      << status.error_message();
  EXPECT_EQ(Check(channel, "ecs.image.v1.ImageService", &status),
            health::HealthCheckResponse::SERVING);

  // No API service, even with a valid token.
  const testing::TestAccount alice = server->CreateAccount("alice");
  EXPECT_EQ(DescribeRegions(channel, alice.token).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // No reflection either.
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(10)));
  auto stream = grpc::reflection::v1alpha::ServerReflection::NewStub(channel)
                    ->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ServerTlsTest, HealthPortFollowsSetServingAndShutdown) {
  auto server = StartServer();
  auto channel = PlainChannel(server->health_port());
  auto api = TlsChannel(server->port(), ca_.cert);
  grpc::Status status;
  server->SetServing(false);  // SIGTERM's first step: the grace period
  EXPECT_EQ(Check(channel, "", &status),
            health::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(channel, "ecs.image.v1.ImageService", &status),
            health::HealthCheckResponse::NOT_SERVING);
  // The API port agrees, and still serves calls.
  EXPECT_EQ(Check(api, "", &status), health::HealthCheckResponse::NOT_SERVING);
  const testing::TestAccount alice = server->CreateAccount("alice");
  EXPECT_TRUE(DescribeRegions(api, alice.token).ok());

  server->SetServing(true);
  EXPECT_EQ(Check(channel, "", &status), health::HealthCheckResponse::SERVING);

  server->server().Shutdown(In(std::chrono::seconds(5)));
  EXPECT_NE(Check(PlainChannel(server->health_port()), "", &status),
            health::HealthCheckResponse::SERVING);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ServerHealthPortTest, WorksWithAPlaintextApiPortToo) {
  TestServerOptions options;
  options.health_port = true;
  TestServer server(options);
  EXPECT_EQ(server.server().tls_info(), nullptr);
  grpc::Status status;
  EXPECT_EQ(Check(PlainChannel(server.health_port()), "", &status),
            health::HealthCheckResponse::SERVING);
  EXPECT_EQ(Check(server.channel(), "", &status),
            health::HealthCheckResponse::SERVING);
}

TEST(ServerHealthPortTest, OffByDefault) {
  TestServer server;
  EXPECT_EQ(server.health_port(), 0);
}

TEST_F(ServerTlsTest, ReplacedCertificateIsServedWithoutRestart) {
  LogCapture logs;
  auto server = StartServer(/*reload_seconds=*/1);
  const testing::TestAccount alice = server->CreateAccount("alice");
  ASSERT_TRUE(
      DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token).ok());
  auto kept = TlsChannel(server->port(), ca_.cert);  // connected before
  ASSERT_TRUE(DescribeRegions(kept, alice.token).ok());

  const CertFiles ca2 = testing::MakeCa(dir_.path(), "ca2");
  const CertFiles leaf2 = testing::MakeLeaf(dir_.path(), "leaf2", ca2);
  ASSERT_FALSE(leaf2.cert.empty());
  // Key first, then certificate: each file is replaced atomically, and the
  // short window of a mismatched pair is what operators produce too.
  testing::ReplaceFile(files_.key_file, ReadFileText(leaf2.key));
  testing::ReplaceFile(files_.cert_file, ReadFileText(leaf2.cert));

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  grpc::Status status;
  int attempts = 0;
  do {
    ++attempts;
    status = DescribeRegions(TlsChannel(server->port(), ca2.cert), alice.token);
    if (status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(status.ok()) << "after " << attempts
                           << " attempts: " << status.error_message();

  // New connections no longer get the old certificate.
  EXPECT_EQ(DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The health port is untouched by the change.
  EXPECT_EQ(Check(PlainChannel(server->health_port()), "", &status),
            health::HealthCheckResponse::SERVING);
  // The monitor reported the change (it checks every reload interval).
  const auto log_deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!logs.Contains("TLS certificate changed") &&
         std::chrono::steady_clock::now() < log_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(logs.Contains("TLS certificate changed"));
  EXPECT_TRUE(logs.Contains("\"tlsSubject\":\"CN=leaf2\""));
  // What the expiry gauge reads (ecsimage_tls_certificate_expiry_...)
  // follows the reload: it is leaf2's notAfter now.
  grpcapi::TlsFiles leaf2_files = files_;
  leaf2_files.cert_file = leaf2.cert;
  leaf2_files.key_file = leaf2.key;
  absl::StatusOr<grpcapi::TlsFileInfo> expected =
      grpcapi::CheckTlsFiles(leaf2_files);
  ASSERT_TRUE(expected.ok()) << expected.status();
  std::shared_ptr<const grpcapi::TlsStatus> served =
      server->server().tls_status();
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(served->Get().sha256, expected->sha256);
  EXPECT_NE(expected->sha256, server->server().tls_info()->sha256);
  EXPECT_EQ(served->Get().not_after_unix, expected->not_after_unix);
  EXPECT_GT(expected->not_after_unix, std::time(nullptr));
}

// Bounded wait for `done`, checked every 100 ms.
template <typename F>
bool Eventually(F done, std::chrono::seconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// What gRPC 1.51 does, so that docs/operations.md can say it: a key that
// does not parse is installed anyway and new handshakes fail until the files
// are fixed; the monitor says so in the log, and again when they are fixed.
TEST_F(ServerTlsTest, BrokenKeyAfterStartFailsHandshakesUntilFixed) {
  LogCapture logs;
  auto server = StartServer(/*reload_seconds=*/1);
  const testing::TestAccount alice = server->CreateAccount("alice");
  const std::string good_key = ReadFileText(files_.key_file);
  testing::ReplaceFile(files_.key_file, "not a key\n");
  EXPECT_TRUE(Eventually([&] { return logs.Contains("TLS files unusable"); }));
  EXPECT_TRUE(logs.Contains("is not an unencrypted PEM private key"));
  EXPECT_TRUE(Eventually([&] {
    return !DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token)
                .ok();
  }));

  testing::ReplaceFile(files_.key_file, good_key);
  EXPECT_TRUE(Eventually([&] {
    return DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token)
        .ok();
  }));
  EXPECT_TRUE(
      Eventually([&] { return logs.Contains("TLS files usable again"); }));
}

TEST_F(ServerTlsTest, RemovedFilesAfterStartKeepThePreviousPair) {
  LogCapture logs;
  auto server = StartServer(/*reload_seconds=*/1);
  const testing::TestAccount alice = server->CreateAccount("alice");
  std::filesystem::remove(files_.key_file);
  std::filesystem::remove(files_.cert_file);
  EXPECT_TRUE(
      Eventually([&] { return logs.Contains("cannot read TLS certificate"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(
      DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token).ok());
}

TEST_F(ServerTlsTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  const CertFiles client_ca = testing::MakeCa(dir_.path(), "clients");
  const CertFiles client = testing::MakeLeaf(dir_.path(), "client1", client_ca);
  const CertFiles stranger_ca = testing::MakeCa(dir_.path(), "strangers");
  const CertFiles stranger =
      testing::MakeLeaf(dir_.path(), "stranger", stranger_ca);
  ASSERT_FALSE(client.cert.empty());
  ASSERT_FALSE(stranger.cert.empty());
  files_.client_ca_file = client_ca.cert;
  auto server = StartServer();
  ASSERT_NE(server->server().tls_info(), nullptr);
  EXPECT_EQ(server->server().tls_info()->client_ca_count, 1);
  const testing::TestAccount alice = server->CreateAccount("alice");

  grpc::Status status = DescribeRegions(
      TlsChannel(server->port(), ca_.cert, client), alice.token);
  EXPECT_TRUE(status.ok()) << status.error_message();

  status = DescribeRegions(TlsChannel(server->port(), ca_.cert), alice.token);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();

  status = DescribeRegions(TlsChannel(server->port(), ca_.cert, stranger),
                           alice.token);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();

  // The health port asks for no certificate.
  EXPECT_EQ(Check(PlainChannel(server->health_port()), "", &status),
            health::HealthCheckResponse::SERVING);
}

// Start refuses unusable files instead of serving plaintext or failing
// every handshake.
class ServerTlsStartTest : public ServerTlsTest {
 protected:
  absl::Status StartWith(const grpcapi::TlsFiles& tls) {
    grpcapi::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.health_listen_address = "127.0.0.1:0";
    options.log_calls = false;
    options.tls = tls;
    auto started = grpcapi::Server::Start(options, plain_.deps());
    return started.status();
  }

  TestServer plain_;  // provides the domain; its own server is plaintext
};

TEST_F(ServerTlsStartTest, GoodFilesStart) {
  EXPECT_TRUE(StartWith(files_).ok());
}

TEST_F(ServerTlsStartTest, CertificateWithoutKeyOrKeyWithoutCertificate) {
  grpcapi::TlsFiles only_cert = files_;
  only_cert.key_file.clear();
  absl::Status status = StartWith(only_cert);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("both"));

  grpcapi::TlsFiles only_key = files_;
  only_key.cert_file.clear();
  EXPECT_EQ(StartWith(only_key).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ServerTlsStartTest, MissingFiles) {
  grpcapi::TlsFiles missing = files_;
  missing.cert_file = dir_.path() + "/nope.pem";
  absl::Status status = StartWith(missing);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("nope.pem"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("No such file"));

  missing = files_;
  missing.key_file = dir_.path() + "/nope.key";
  EXPECT_THAT(std::string(StartWith(missing).message()), HasSubstr("nope.key"));

  missing = files_;
  missing.client_ca_file = dir_.path() + "/nope-ca.pem";
  EXPECT_THAT(std::string(StartWith(missing).message()),
              HasSubstr("nope-ca.pem"));
}

TEST_F(ServerTlsStartTest, KeyOfAnotherCertificate) {
  const CertFiles other = testing::MakeLeaf(dir_.path(), "other", ca_);
  grpcapi::TlsFiles mismatched = files_;
  mismatched.key_file = other.key;
  absl::Status status = StartWith(mismatched);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("does not belong to the certificate"));
}

TEST_F(ServerTlsStartTest, FilesThatAreNotPem) {
  const std::string junk = dir_.path() + "/junk";
  testing::ReplaceFile(junk, "hello\n");
  grpcapi::TlsFiles bad = files_;
  bad.cert_file = junk;
  EXPECT_THAT(std::string(StartWith(bad).message()),
              HasSubstr("is not a PEM certificate"));
  bad = files_;
  bad.key_file = junk;
  EXPECT_THAT(std::string(StartWith(bad).message()),
              HasSubstr("is not an unencrypted PEM private key"));
  bad = files_;
  bad.key_file = files_.cert_file;  // a certificate where the key belongs
  EXPECT_FALSE(StartWith(bad).ok());
  bad = files_;
  bad.client_ca_file = junk;
  EXPECT_THAT(std::string(StartWith(bad).message()),
              HasSubstr("TLS client CA"));
}

TEST_F(ServerTlsStartTest, ReloadIntervalMustBePositive) {
  grpcapi::TlsFiles zero = files_;
  zero.reload_seconds = 0;
  EXPECT_EQ(StartWith(zero).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ecsimage

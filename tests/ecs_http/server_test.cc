// EcsHttpServer over real sockets: the library's own refusals come out as
// ECS JSON errors with a request id, the body limit answers
// RequestTooLarge, and TLS (the gRPC port's files) works and is checked.
#include <httplib.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/domain/access_keys.h"
#include "service/ecs_http/ecs_http_server.h"
#include "tests/domain/task_test_env.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certs.h"

namespace ecsimage::ecs_http {
namespace {

using ::testing::HasSubstr;

class ServerTest : public ::testing::Test {
 protected:
  ServerTest()
      : keys_(env_.store(), env_.clock(), nullptr),
        nonces_(1000, 1000),
        verifier_([this](const std::string& id) { return keys_.Resolve(id); },
                  env_.clock(), nonces_),
        gateway_(GatewayDeps{env_.domain(), ids_, verifier_, nullptr, false,
                             false}) {}

  std::unique_ptr<EcsHttpServer> Start(EcsHttpOptions options) {
    options.listen = "127.0.0.1:0";
    options.max_body_bytes = 1024;
    auto server = EcsHttpServer::Start(options, gateway_);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  static void ExpectEcsError(const httplib::Result& r, int status,
                             const std::string& code) {
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_THAT(r->get_header_value("Content-Type"),
                HasSubstr("application/json"));
    EXPECT_THAT(r->body, HasSubstr("\"Code\":\"" + code + "\""));
    const std::string id = r->get_header_value("x-acs-request-id");
    EXPECT_EQ(id.size(), 36u);
    EXPECT_THAT(r->body, HasSubstr(id));
  }

  testing::TaskTestEnv env_;
  domain::RandomIdGenerator ids_;
  domain::AccessKeys keys_;
  NonceCache nonces_;
  SignatureVerifier verifier_;
  Gateway gateway_;
};

TEST_F(ServerTest, EveryRefusalIsAnEcsJsonError) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  httplib::Client cli("127.0.0.1", server->port());
  ExpectEcsError(cli.Get("/favicon.ico"), 404, "InvalidAction.NotFound");
  ExpectEcsError(cli.Get("/?Action=DescribeRegions&Version=2014-05-26"), 400,
                 "IncompleteSignature");
  ExpectEcsError(cli.Post("/", std::string(4096, 'a'),
                          "application/x-www-form-urlencoded"),
                 413, "RequestTooLarge");
  ExpectEcsError(cli.Get("/?" + std::string(20000, 'a')), 413,
                 "RequestTooLarge");
  ExpectEcsError(cli.Get("/?Action=%G1"), 400, "InvalidParameter");
  ExpectEcsError(cli.Put("/", "", "text/plain"), 405, "UnsupportedHTTPMethod");
  // Signed requests without a key file: a clear code.
  ExpectEcsError(
      cli.Get("/?Action=DescribeRegions&Version=2014-05-26&AccessKeyId=a&"
              "SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=n&"
              "Timestamp=" +
              domain::FormatIso8601(env_.clock().NowMs() / 1000 * 1000) +
              "&Signature=x"),
      403, "AccessKeyAuthDisabled");
  server->Stop();
}

TEST_F(ServerTest, ServesTlsWithTheGrpcPortsFiles) {
  ::ecsimage::testing::TempDir dir;
  auto ca = ::ecsimage::testing::MakeCa(dir.path(), "ca");
  auto leaf = ::ecsimage::testing::MakeLeaf(dir.path(), "server", ca);
  EcsHttpOptions options;
  options.tls_cert = leaf.cert;
  options.tls_key = leaf.key;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  httplib::SSLClient tls("localhost", server->port());
  tls.set_ca_cert_path(ca.cert.c_str());
  tls.enable_server_certificate_verification(true);
  ExpectEcsError(tls.Get("/?Version=2014-05-26"), 400, "MissingParameter");
  httplib::Client plain("127.0.0.1", server->port());
  plain.set_read_timeout(std::chrono::seconds(2));
  httplib::Result r = plain.Get("/");
  EXPECT_TRUE(!r || r->status != 200);
}

TEST_F(ServerTest, BadTlsFilesStopTheStart) {
  EcsHttpOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert = "/nonexistent/cert.pem";
  options.tls_key = "/nonexistent/key.pem";
  EXPECT_FALSE(EcsHttpServer::Start(options, gateway_).ok());
  options.tls_cert.clear();
  options.listen = "nonsense";
  EXPECT_FALSE(EcsHttpServer::Start(options, gateway_).ok());
}

}  // namespace
}  // namespace ecsimage::ecs_http

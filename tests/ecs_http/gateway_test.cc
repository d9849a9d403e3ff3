// The ECS HTTP gateway end to end below the HTTP library: a real domain on
// a SQLite file, AccessKeys sealed under a test key, requests signed with
// the RPC scheme (checked against Python's vectors in signing_test.cc).
// Each gateway failure has its own code; none reaches the domain.
#include "service/ecs_http/gateway.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/domain/access_keys.h"
#include "tests/domain/task_test_env.h"

namespace ecsimage::ecs_http {
namespace {

using ::testing::HasSubstr;

class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest()
      : box_(std::string(32, 'k')),
        keys_(env_.store(), env_.clock(), &box_),
        nonces_(1000, 2 * SignatureVerifier::kWindowMs),
        verifier_([this](const std::string& id) { return keys_.Resolve(id); },
                  env_.clock(), nonces_),
        gateway_(GatewayDeps{env_.domain(), ids_, verifier_, nullptr,
                             /*simulation=*/true, /*log_calls=*/false}) {
    auto created = keys_.Create(env_.alice().account_id);
    EXPECT_TRUE(created.ok()) << created.status();
    key_ = *created;
  }

  std::string Now() {
    return domain::FormatIso8601(env_.clock().NowMs() / 1000 * 1000);
  }

  // A signed GET (or POST form) with ECS's common parameters.
  SignedRequest Rpc(ParamList params, const std::string& method = "GET",
                    const std::string& secret = "") {
    params.emplace_back("Version", "2014-05-26");
    params.emplace_back("Format", "JSON");
    params.emplace_back("AccessKeyId", key_.access_key_id);
    params.emplace_back("SignatureMethod", "HMAC-SHA1");
    params.emplace_back("SignatureVersion", "1.0");
    params.emplace_back("SignatureNonce", absl::StrCat("n", ++nonce_));
    bool has_time = false;
    for (auto& [k, v] : params) has_time |= k == "Timestamp";
    if (!has_time) params.emplace_back("Timestamp", Now());
    SignedRequest req;
    req.method = method;
    req.path = "/";
    params.emplace_back(
        "Signature", SignRpc(secret.empty() ? key_.access_key_secret : secret,
                             StringToSignRpc(method, params)));
    (method == "POST" ? req.form : req.query) = params;
    req.headers.emplace("host", "ecs.example");
    return req;
  }

  HttpAnswer Call(const SignedRequest& req) {
    Gateway::Answer a = gateway_.Handle(req, "ecs.example");
    EXPECT_FALSE(a.request_id.empty());
    EXPECT_THAT(a.http.body, HasSubstr(a.request_id));
    return a.http;
  }

  void ExpectError(const HttpAnswer& a, int status, const std::string& code) {
    EXPECT_EQ(a.status, status) << a.body;
    EXPECT_EQ(a.ecs_code, code) << a.body;
    EXPECT_THAT(a.body, HasSubstr(absl::StrCat("\"Code\":\"", code, "\"")));
    EXPECT_THAT(a.body, HasSubstr("\"HostId\":\"ecs.example\""));
    EXPECT_THAT(a.body, HasSubstr("\"Recommend\":\"\""));
  }

  testing::TaskTestEnv env_;
  domain::RandomIdGenerator ids_;
  domain::SecretBox box_;
  domain::AccessKeys keys_;
  NonceCache nonces_;
  SignatureVerifier verifier_;
  Gateway gateway_;
  domain::AccessKeys::Created key_;
  int nonce_ = 0;
};

TEST_F(GatewayTest, DescribeRegionsAnswersInEcsShape) {
  HttpAnswer a = Call(Rpc({{"Action", "DescribeRegions"}}));
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_THAT(a.body, HasSubstr("\"Regions\":{\"Region\":[{\"RegionId\":"));
  EXPECT_EQ(a.content_type, kJsonType);
}

TEST_F(GatewayTest, CreateDescribeDeleteOverPostForms) {
  HttpAnswer created = Call(Rpc({{"Action", "CreateImage"},
                                 {"RegionId", "cn-hangzhou"},
                                 {"ImageName", "http-image"},
                                 {"DiskDeviceMapping.1.Size", "30"}},
                                "POST"));
  ASSERT_EQ(created.status, 200) << created.body;
  size_t at = created.body.find("\"ImageId\":\"m-");
  ASSERT_NE(at, std::string::npos) << created.body;
  const std::string image_id = created.body.substr(at + 11, 22);
  HttpAnswer described = Call(Rpc({{"Action", "DescribeImages"},
                                   {"RegionId", "cn-hangzhou"},
                                   {"ImageId", image_id},
                                   {"Status", "Creating,Available"},
                                   {"OwnerId", "123"}}));
  ASSERT_EQ(described.status, 200) << described.body;
  EXPECT_THAT(described.body, HasSubstr("\"Images\":{\"Image\":[{"));
  EXPECT_THAT(described.body, HasSubstr("\"TotalCount\":1"));
  EXPECT_THAT(described.body,
              HasSubstr("\"DiskDeviceMappings\":{\"DiskDeviceMapping\":["));
  HttpAnswer deleted = Call(Rpc({{"Action", "DeleteImage"},
                                 {"RegionId", "cn-hangzhou"},
                                 {"ImageId", image_id},
                                 {"Force", "true"}}));
  EXPECT_EQ(deleted.status, 200) << deleted.body;
}

TEST_F(GatewayTest, DomainErrorsKeepTheirCodeStatusAndFrozenMessage) {
  HttpAnswer a = Call(Rpc({{"Action", "DeleteImage"},
                           {"RegionId", "cn-hangzhou"},
                           {"ImageId", "m-aaaaaaaaaaaaaaaaaaaa"}}));
  ExpectError(a, 404, "InvalidImageId.NotFound");
  EXPECT_THAT(a.body, HasSubstr("The specified ImageId does not exist."));
  ExpectError(Call(Rpc({{"Action", "CancelCopyImage"},
                        {"RegionId", "xx"},
                        {"ImageId", "m-aaaaaaaaaaaaaaaaaaaa"}})),
              404, "InvalidRegionId.NotFound");
  HttpAnswer missing = Call(Rpc({{"Action", "DeleteImage"}}));
  ExpectError(missing, 400, "MissingParameter");
}

TEST_F(GatewayTest, GatewayFailuresEachHaveTheirCode) {
  ExpectError(Call(Rpc({{"Action", "NoSuchAction"}})), 404,
              "InvalidAction.NotFound");
  SignedRequest wrong_version = Rpc({{"Action", "DescribeRegions"}});
  for (auto& [k, v] : wrong_version.query) {
    if (k == "Version") v = "2016-01-01";
  }
  ExpectError(Call(wrong_version), 400, "InvalidVersion");
  SignedRequest put = Rpc({{"Action", "DescribeRegions"}});
  put.method = "PUT";
  ExpectError(Call(put), 405, "UnsupportedHTTPMethod");
  ExpectError(Call(Rpc({{"Action", "ModifyImageSharePermission"},
                        {"RegionId", "cn-hangzhou"},
                        {"ImageId", "m-aaaaaaaaaaaaaaaaaaaa"},
                        {"AddAccount.0", "1"}})),
              400, "InvalidParameter");
  ExpectError(Call(Rpc({{"Action", "ModifyImageSharePermission"},
                        {"RegionId", "cn-hangzhou"},
                        {"ImageId", "m-aaaaaaaaaaaaaaaaaaaa"},
                        {"AddAccount.1", "1"},
                        {"AddAccount.3", "1"}})),
              400, "InvalidParameter");
  // A filter ecsimage does not model is refused, never ignored.
  HttpAnswer filter = Call(Rpc({{"Action", "DescribeImages"},
                                {"RegionId", "cn-hangzhou"},
                                {"OSType", "linux"}}));
  ExpectError(filter, 400, "InvalidParameter");
  EXPECT_THAT(filter.body, HasSubstr("OSType"));
  ExpectError(Call(Rpc({{"Action", "DescribeImages"},
                        {"RegionId", "cn-hangzhou"},
                        {"PageSize", "ten"}})),
              400, "InvalidParameter");
}

TEST_F(GatewayTest, SignatureFailuresEachHaveTheirCode) {
  SignedRequest tampered = Rpc({{"Action", "DescribeRegions"}});
  tampered.query.emplace_back("RegionId", "cn-beijing");  // after signing
  ExpectError(Call(tampered), 400, "SignatureDoesNotMatch");
  ExpectError(Call(Rpc({{"Action", "DescribeRegions"}}, "GET", "wrong")), 400,
              "SignatureDoesNotMatch");
  ExpectError(Call(Rpc({{"Action", "DescribeRegions"},
                        {"Timestamp", "2020-01-01T00:00:00Z"}})),
              400, "InvalidTimeStamp.Expired");
  ExpectError(
      Call(Rpc({{"Action", "DescribeRegions"}, {"Timestamp", "yesterday"}})),
      400, "InvalidTimeStamp.Format");
  SignedRequest once = Rpc({{"Action", "DescribeRegions"}});
  EXPECT_EQ(Call(once).status, 200);
  ExpectError(Call(once), 400, "SignatureNonceUsed");
  SignedRequest unsigned_request;
  unsigned_request.method = "GET";
  unsigned_request.path = "/";
  unsigned_request.query = {{"Action", "DescribeRegions"},
                            {"Version", "2014-05-26"}};
  ExpectError(Call(unsigned_request), 400, "IncompleteSignature");
  SignedRequest bad_auth = unsigned_request;
  bad_auth.headers.emplace("authorization", "ACS3-HMAC-SHA256 garbage");
  ExpectError(Call(bad_auth), 400, "IncompleteSignature");
}

TEST_F(GatewayTest, UnknownAndRevokedKeysAreRefused) {
  const std::string real = key_.access_key_id;
  key_.access_key_id = "LTAInosuchkey00000000000";
  ExpectError(Call(Rpc({{"Action", "DescribeRegions"}})), 404,
              "InvalidAccessKeyId.NotFound");
  key_.access_key_id = real;
  ASSERT_TRUE(keys_.Revoke(env_.alice().account_id, real).ok());
  ExpectError(Call(Rpc({{"Action", "DescribeRegions"}})), 400,
              "InvalidAccessKeyId.Inactive");
}

TEST_F(GatewayTest, DryRunChecksAndChangesNothing) {
  ExpectError(Call(Rpc({{"Action", "CreateImage"},
                        {"RegionId", "cn-hangzhou"},
                        {"ImageName", "dry"},
                        {"DryRun", "true"}})),
              412, "DryRunOperation");
  HttpAnswer listed = Call(Rpc({{"Action", "DescribeImages"},
                                {"RegionId", "cn-hangzhou"},
                                {"ImageName", "dry"},
                                {"Status", "Creating,Available,Waiting"}}));
  EXPECT_THAT(listed.body, HasSubstr("\"TotalCount\":0"));
}

TEST_F(GatewayTest, BearerTokensOnlyWhenEnabled) {
  domain::AccountAdmin admin(env_.store(), env_.clock(), ids_);
  auto token = admin.CreateToken(env_.alice().account_id);
  ASSERT_TRUE(token.ok());
  SignedRequest req;
  req.method = "GET";
  req.path = "/";
  req.query = {{"Action", "DescribeRegions"}, {"Version", "2014-05-26"}};
  req.headers.emplace("authorization", "Bearer " + token->token);
  // This gateway was built without an Authenticator: no signature.
  ExpectError(Call(req), 400, "IncompleteSignature");
  domain::Authenticator authenticator(env_.store(), env_.clock());
  Gateway with_bearer(GatewayDeps{env_.domain(), ids_, verifier_, nullptr, true,
                                  false, &authenticator});
  EXPECT_EQ(with_bearer.Handle(req, "h").http.status, 200);
  req.headers.clear();
  req.headers.emplace("authorization", "Bearer not-a-token");
  Gateway::Answer bad = with_bearer.Handle(req, "h");
  EXPECT_EQ(bad.http.status, 401);
  EXPECT_EQ(bad.http.ecs_code, "InvalidToken");
}

TEST_F(GatewayTest, XmlWhenAsked) {
  ParamList params = {{"Action", "DescribeRegions"}};
  SignedRequest req = Rpc(params);
  // Re-sign with Format=XML instead of JSON.
  ParamList xml;
  for (auto& [k, v] : req.query) {
    if (k == "Signature") continue;
    xml.emplace_back(k, k == "Format" ? "XML" : v);
  }
  xml.emplace_back("Signature", SignRpc(key_.access_key_secret,
                                        StringToSignRpc("GET", xml)));
  req.query = xml;
  HttpAnswer a = Call(req);
  EXPECT_EQ(a.content_type, kXmlType);
  EXPECT_THAT(a.body, HasSubstr("<DescribeRegionsResponse><RequestId>"));
  EXPECT_THAT(a.body, HasSubstr("<Regions><Region><RegionId>"));
}

}  // namespace
}  // namespace ecsimage::ecs_http

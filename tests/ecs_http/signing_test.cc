// The signing functions against vectors computed independently with
// Python's hmac/hashlib/urllib (see the generator in the comment below), and
// the small pieces around them: percent-encoding, timestamps, the nonce
// cache, the secret box.
//
// Generator (python3):
//   enc = lambda s: urllib.parse.quote(s, safe='-_.~')
//   V3: cq = '&'.join(k+'='+enc(v) for k,v in sorted(query))
//       cr = '\n'.join([method, '/', cq, canonical_headers, signed,
//       sha256(body)]) sig = hmac(secret, 'ACS3-HMAC-SHA256\n'+sha256hex(cr),
//       sha256).hex
//   RPC: sts = 'GET&'+enc('/')+'&'+enc('&'.join(enc(k)+'='+enc(v) sorted))
//        sig = b64(hmac(secret+'&', sts, sha1))
#include "service/ecs_http/signing.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "service/domain/secret_box.h"
#include "service/ecs_http/nonce_cache.h"
#include "service/ecs_http/signature_verifier.h"
#include "service/ecs_http/url_codec.h"

namespace ecsimage::ecs_http {
namespace {

constexpr char kSecret[] = "testsecret0123456789";

TEST(SigningTest, V3VectorFromPython) {
  const std::string body = "ImageId=m-abc&RegionId=cn-hangzhou";
  const std::string payload = Sha256Hex(body);
  EXPECT_EQ(payload,
            "ced3c3bc1fa1e820ed315b3ac7aa6aa107d19a8cf900a69b235e48c2a399ea5f");
  ParamList query = {{"DryRun", "false"},
                     {"AddAccount.1", "1234567890123456"},
                     {"Description", "a b*c(d)!'~"}};
  EXPECT_EQ(CanonicalQueryV3(query),
            "AddAccount.1=1234567890123456&Description=a%20b%2Ac%28d%29%21%27~"
            "&DryRun=false");
  HeaderMap headers = {{"host", "127.0.0.1:8080"},
                       {"x-acs-action", "DeleteImage"},
                       {"x-acs-content-sha256", payload},
                       {"x-acs-date", "2024-01-02T03:04:05Z"},
                       {"x-acs-signature-nonce", "nonce-1"},
                       {"x-acs-version", "2014-05-26"},
                       {"user-agent", "not signed"}};
  std::vector<std::string> signed_headers = {
      "host",       "x-acs-action",          "x-acs-content-sha256",
      "x-acs-date", "x-acs-signature-nonce", "x-acs-version"};
  const std::string cr =
      CanonicalRequestV3("POST", "/", query, headers, signed_headers, payload);
  EXPECT_EQ(SignV3(kSecret, StringToSignV3(cr)),
            "800dc8ad98b167eecc7786fd1cc282fae4b58f06bf0cbcf468629cbfcb64e8a0");
}

TEST(SigningTest, RpcVectorFromPython) {
  ParamList params = {
      {"Action", "DescribeImages"},          {"Version", "2014-05-26"},
      {"AccessKeyId", "LTAItest"},           {"SignatureMethod", "HMAC-SHA1"},
      {"SignatureVersion", "1.0"},           {"SignatureNonce", "n-42"},
      {"Timestamp", "2024-01-02T03:04:05Z"}, {"Format", "JSON"},
      {"RegionId", "cn-hangzhou"},           {"ImageName", "x y/z"}};
  const std::string sts = StringToSignRpc("GET", params);
  EXPECT_EQ(sts,
            "GET&%2F&AccessKeyId%3DLTAItest%26Action%3DDescribeImages%26Format"
            "%3DJSON%26ImageName%3Dx%2520y%252Fz%26RegionId%3Dcn-hangzhou%26"
            "SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dn-42%26"
            "SignatureVersion%3D1.0%26Timestamp%3D2024-01-02T03%253A04%253A05Z"
            "%26Version%3D2014-05-26");
  EXPECT_EQ(SignRpc(kSecret, sts), "94xYlHXUbPqtxC9tUBn2XTjHmOw=");
  EXPECT_NE(SignRpc("other", sts), "94xYlHXUbPqtxC9tUBn2XTjHmOw=");
}

TEST(SigningTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(UrlCodecTest, DecodesPlusPercentAndRefusesBadEscapes) {
  auto params = DecodeParams("a=x+y%2Fz&b=&c&AddAccount.1=1");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(
      *params,
      (ParamList{{"a", "x y/z"}, {"b", ""}, {"c", ""}, {"AddAccount.1", "1"}}));
  EXPECT_FALSE(DecodeParams("a=%G1").ok());
  EXPECT_FALSE(DecodeParams("a=%4").ok());
  EXPECT_EQ(PercentEncode("a b~*é"), "a%20b~%2A%C3%A9");
}

TEST(TimestampTest, OnlyTheIsoShapeParses) {
  int64_t ms = 0;
  EXPECT_TRUE(ParseAcsTimestamp("2024-01-02T03:04:05Z", &ms));
  EXPECT_EQ(ms, 1704164645000);
  EXPECT_FALSE(ParseAcsTimestamp("2024-01-02 03:04:05", &ms));
  EXPECT_FALSE(ParseAcsTimestamp("2024-01-02T03:04:05.000Z", &ms));
  EXPECT_FALSE(ParseAcsTimestamp("2024-13-02T03:04:05Z", &ms));
  EXPECT_FALSE(ParseAcsTimestamp("", &ms));
}

TEST(NonceCacheTest, RefusesAReplayWithinTheTtlAndStaysBounded) {
  NonceCache cache(/*capacity=*/3, /*ttl_ms=*/1000);
  EXPECT_TRUE(cache.Insert("a", 0));
  EXPECT_FALSE(cache.Insert("a", 500));
  EXPECT_TRUE(cache.Insert("a", 1001));  // expired: a new window
  for (int i = 0; i < 100; ++i) cache.Insert("k" + std::to_string(i), 1100);
  EXPECT_LE(cache.size(), 3u);
}

TEST(SecretBoxTest, SealsAndOpensOnlyWithTheSameKeyAndAssociatedData) {
  domain::SecretBox box(std::string(32, 'k'));
  domain::SecretBox other(std::string(32, 'o'));
  EXPECT_NE(box.key_id(), other.key_id());
  auto sealed = box.Seal("the secret", "LTAIa");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("the secret"), std::string::npos);
  EXPECT_EQ(*box.Open(*sealed, "LTAIa"), "the secret");
  EXPECT_FALSE(box.Open(*sealed, "LTAIb").ok());
  EXPECT_FALSE(other.Open(*sealed, "LTAIa").ok());
  std::string tampered = *sealed;
  tampered[14] ^= 1;
  EXPECT_FALSE(box.Open(tampered, "LTAIa").ok());
  // A fresh nonce each time.
  EXPECT_NE(*box.Seal("the secret", "LTAIa"), *sealed);
}

TEST(SecretBoxTest, KeyFileMustHoldExactly32Bytes) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + name, std::ios::binary) << bytes;
    std::filesystem::permissions(dir + name,
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write);
    return dir + name;
  };
  std::string warning;
  EXPECT_TRUE(
      domain::LoadSecretKeyFile(write("k32", std::string(32, '\0')), &warning)
          .ok());
  EXPECT_TRUE(warning.empty());
  EXPECT_FALSE(
      domain::LoadSecretKeyFile(write("k31", std::string(31, 'a')), &warning)
          .ok());
  EXPECT_FALSE(
      domain::LoadSecretKeyFile(write("k33", std::string(33, 'a')), &warning)
          .ok());
  EXPECT_FALSE(domain::LoadSecretKeyFile(dir + "missing", &warning).ok());
  const std::string loose = write("kl", std::string(32, 'x'));
  std::filesystem::permissions(loose, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  EXPECT_TRUE(domain::LoadSecretKeyFile(loose, &warning).ok());
  EXPECT_NE(warning.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace ecsimage::ecs_http

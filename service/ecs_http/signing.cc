#include "service/ecs_http/signing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "util/absl_compat.h"

namespace ecsimage::ecs_http {
namespace {

std::string Hmac(const EVP_MD* md, std::string_view key,
                 std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

ParamList Sorted(ParamList params) {
  std::sort(params.begin(), params.end());
  return params;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      AV(std::string_view(reinterpret_cast<char*>(digest), len)));
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  return absl::BytesToHexString(AV(Hmac(EVP_sha256(), key, data)));
}

std::string HmacSha1Base64(std::string_view key, std::string_view data) {
  return absl::Base64Escape(AV(Hmac(EVP_sha1(), key, data)));
}

std::string CanonicalQueryV3(const ParamList& query) {
  std::string out;
  for (const auto& [k, v] : Sorted(query)) {
    if (!out.empty()) out.push_back('&');
    out.append(k).append("=").append(PercentEncode(v));
  }
  return out;
}

std::string CanonicalRequestV3(std::string_view method, std::string_view path,
                               const ParamList& query, const HeaderMap& headers,
                               const std::vector<std::string>& signed_headers,
                               std::string_view payload_sha256_hex) {
  std::string canonical_headers;
  for (const std::string& name : signed_headers) {
    std::vector<std::string> values;
    auto [begin, end] = headers.equal_range(name);
    for (auto it = begin; it != end; ++it) {
      values.emplace_back(absl::StripAsciiWhitespace(AV(it->second)));
    }
    std::sort(values.begin(), values.end());
    canonical_headers.append(name).append(":").append(
        absl::StrJoin(values, ","));
    canonical_headers.push_back('\n');
  }
  std::string out;
  out.append(method).append("\n");
  out.append(path).append("\n");
  out.append(CanonicalQueryV3(query)).append("\n");
  out.append(canonical_headers).append("\n");
  out.append(absl::StrJoin(signed_headers, ";")).append("\n");
  out.append(payload_sha256_hex);
  return out;
}

std::string StringToSignV3(std::string_view canonical_request) {
  return "ACS3-HMAC-SHA256\n" + Sha256Hex(canonical_request);
}

std::string SignV3(std::string_view secret, std::string_view string_to_sign) {
  return HmacSha256Hex(secret, string_to_sign);
}

std::string StringToSignRpc(std::string_view method, const ParamList& params) {
  std::string canonical;
  for (const auto& [k, v] : Sorted(params)) {
    if (!canonical.empty()) canonical.push_back('&');
    canonical.append(PercentEncode(k)).append("=").append(PercentEncode(v));
  }
  std::string out(method);
  out.append("&").append(PercentEncode("/")).append("&");
  out.append(PercentEncode(canonical));
  return out;
}

std::string SignRpc(std::string_view secret, std::string_view string_to_sign) {
  std::string key(secret);
  key.push_back('&');
  return HmacSha1Base64(key, string_to_sign);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ecsimage::ecs_http

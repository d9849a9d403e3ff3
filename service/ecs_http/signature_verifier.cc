#include "service/ecs_http/signature_verifier.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "service/domain/errors.h"
#include "util/absl_compat.h"
#include "util/status_macros.h"

namespace ecsimage::ecs_http {
namespace {

using domain::Err;
using domain::Error;

constexpr std::string_view kAcs3 = "ACS3-HMAC-SHA256";
constexpr size_t kMaxNonce = 128;

const std::string* Header(const HeaderMap& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

const std::string* Param(const ParamList& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

struct Acs3Authorization {
  std::string credential;
  std::vector<std::string> signed_headers;
  std::string signature;
};

// "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex".
bool ParseAuthorization(std::string_view value, Acs3Authorization* out) {
  if (!absl::StartsWith(AV(value), AV(kAcs3))) return false;
  value.remove_prefix(kAcs3.size());
  if (value.empty() || value.front() != ' ') return false;
  value.remove_prefix(1);
  for (absl::string_view part : absl::StrSplit(AV(value), ',')) {
    part = absl::StripAsciiWhitespace(part);
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) return false;
    absl::string_view key = part.substr(0, eq);
    std::string val(part.substr(eq + 1));
    if (key == "Credential") {
      out->credential = val;
    } else if (key == "SignedHeaders") {
      for (absl::string_view h : absl::StrSplit(val, ';')) {
        out->signed_headers.emplace_back(absl::AsciiStrToLower(h));
      }
    } else if (key == "Signature") {
      out->signature = val;
    } else {
      return false;
    }
  }
  return !out->credential.empty() && !out->signed_headers.empty() &&
         !out->signature.empty();
}

}  // namespace

bool ParseAcsTimestamp(const std::string& text, int64_t* unix_ms) {
  // yyyy-MM-ddTHH:mm:ssZ, nothing else.
  if (text.size() != 20) return false;
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:ddZ";
  for (size_t i = 0; i < 20; ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return false;
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", text, absl::UTCTimeZone(), &t,
                       &err)) {
    return false;
  }
  *unix_ms = absl::ToUnixMillis(t);
  return true;
}

absl::Status SignatureVerifier::CheckTimestamp(const std::string& value) const {
  int64_t at_ms = 0;
  if (!ParseAcsTimestamp(value, &at_ms)) {
    return Error(Err::kInvalidTimeStampFormat);
  }
  const int64_t now = clock_.NowMs();
  if (at_ms < now - kWindowMs || at_ms > now + kWindowMs) {
    return Error(Err::kInvalidTimeStampExpired);
  }
  return absl::OkStatus();
}

absl::Status SignatureVerifier::ClaimNonce(const std::string& access_key_id,
                                           const std::string& nonce) const {
  // Kept for twice the window: a timestamp may be up to one window early.
  if (!nonces_.Insert(access_key_id + "\n" + nonce, clock_.NowMs())) {
    return Error(Err::kSignatureNonceUsed);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignatureVerifier::Verify(
    const SignedRequest& req) const {
  if (const std::string* auth = Header(req.headers, "authorization")) {
    if (absl::StartsWith(AV(*auth), AV(kAcs3))) return VerifyV3(req, *auth);
    return Error(Err::kIncompleteSignature);
  }
  if (Param(req.query, "Signature") != nullptr ||
      Param(req.form, "Signature") != nullptr) {
    return VerifyRpc(req);
  }
  return Error(Err::kIncompleteSignature);
}

absl::StatusOr<std::string> SignatureVerifier::VerifyV3(
    const SignedRequest& req, const std::string& authorization) const {
  Acs3Authorization auth;
  if (!ParseAuthorization(authorization, &auth)) {
    return Error(Err::kIncompleteSignature);
  }
  const std::set<std::string> signed_set(auth.signed_headers.begin(),
                                         auth.signed_headers.end());
  // Every x-acs-* header present (but the signature's own) must be signed,
  // and these must be present.
  for (const char* required : {"host", "x-acs-date", "x-acs-signature-nonce",
                               "x-acs-content-sha256"}) {
    if (Header(req.headers, required) == nullptr ||
        signed_set.count(required) == 0) {
      return Error(Err::kIncompleteSignature);
    }
  }
  for (const auto& [name, value] : req.headers) {
    if (absl::StartsWith(name, "x-acs-") && signed_set.count(name) == 0) {
      return Error(Err::kIncompleteSignature);
    }
  }
  for (const std::string& name : auth.signed_headers) {
    if (Header(req.headers, name) == nullptr) {
      return Error(Err::kIncompleteSignature);
    }
  }
  if (!std::is_sorted(auth.signed_headers.begin(), auth.signed_headers.end())) {
    return Error(Err::kIncompleteSignature);
  }
  const std::string& nonce = *Header(req.headers, "x-acs-signature-nonce");
  if (nonce.empty() || nonce.size() > kMaxNonce) {
    return Error(Err::kIncompleteSignature);
  }
  RETURN_IF_ERROR(CheckTimestamp(*Header(req.headers, "x-acs-date")));
  const std::string payload_hash = Sha256Hex(req.body);
  if (!ConstantTimeEquals(*Header(req.headers, "x-acs-content-sha256"),
                          payload_hash)) {
    return Error(Err::kSignatureDoesNotMatch);
  }
  ASSIGN_OR_RETURN(domain::AccessKeys::Resolved key, resolve_(auth.credential));
  const std::string expected =
      SignV3(key.secret, StringToSignV3(CanonicalRequestV3(
                             req.method, req.path, req.query, req.headers,
                             auth.signed_headers, payload_hash)));
  if (!ConstantTimeEquals(absl::AsciiStrToLower(auth.signature), expected)) {
    return Error(Err::kSignatureDoesNotMatch);
  }
  RETURN_IF_ERROR(ClaimNonce(auth.credential, nonce));
  return key.account_id;
}

absl::StatusOr<std::string> SignatureVerifier::VerifyRpc(
    const SignedRequest& req) const {
  ParamList params;
  std::string signature;
  for (const ParamList* list : {&req.query, &req.form}) {
    for (const auto& [k, v] : *list) {
      if (k == "Signature") {
        signature = v;
      } else {
        params.emplace_back(k, v);
      }
    }
  }
  for (const char* name : {"AccessKeyId", "SignatureMethod", "SignatureVersion",
                           "Timestamp", "SignatureNonce"}) {
    const std::string* value = Param(params, name);
    if (value == nullptr || value->empty()) {
      return Error(Err::kMissingParameter).Param(name);
    }
  }
  if (*Param(params, "SignatureMethod") != "HMAC-SHA1") {
    return Error(Err::kInvalidParameter).Param("SignatureMethod");
  }
  if (*Param(params, "SignatureVersion") != "1.0") {
    return Error(Err::kInvalidParameter).Param("SignatureVersion");
  }
  const std::string& nonce = *Param(params, "SignatureNonce");
  if (nonce.size() > kMaxNonce || signature.empty()) {
    return Error(Err::kIncompleteSignature);
  }
  RETURN_IF_ERROR(CheckTimestamp(*Param(params, "Timestamp")));
  const std::string access_key_id = *Param(params, "AccessKeyId");
  ASSIGN_OR_RETURN(domain::AccessKeys::Resolved key, resolve_(access_key_id));
  const std::string expected =
      SignRpc(key.secret, StringToSignRpc(req.method, params));
  if (!ConstantTimeEquals(signature, expected)) {
    return Error(Err::kSignatureDoesNotMatch);
  }
  RETURN_IF_ERROR(ClaimNonce(access_key_id, nonce));
  return key.account_id;
}

}  // namespace ecsimage::ecs_http

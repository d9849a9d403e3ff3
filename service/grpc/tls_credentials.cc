#include "service/grpc/tls_credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "service/grpc/json_log.h"

namespace ecsimage::grpcapi {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The most recent OpenSSL error of this thread, and clears the queue.
std::string OpenSslError() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& what,
                                          const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::stringstream s;
  s << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", what, " ", path));
  }
  return s.str();
}

// Every PEM certificate of `pem`, in order; an error if there is none or one
// does not parse.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& what,
                                                       const std::string& path,
                                                       const std::string& pem) {
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  const unsigned long err = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM &&
                         ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (certs.empty() || (err != 0 && !clean_end)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " is not a PEM certificate",
                     certs.empty() ? "" : " chain", ": ", OpenSslError()));
  }
  ERR_clear_error();
  return certs;
}

// Refuses encrypted keys instead of prompting on the terminal.
int NoPassword(char*, int, int, void*) { return -1; }

std::string Subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

// The leaf's expiry as text and as Unix seconds ("" and 0 if unreadable).
std::pair<std::string, int64_t> NotAfter(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return {"", 0};
  return {absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec),
          static_cast<int64_t>(timegm(&tm))};
}

std::string Sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i)
    absl::StrAppendFormat(&hex, "%02x", md[i]);
  return hex;
}

}  // namespace

absl::StatusOr<TlsFileInfo> CheckTlsFiles(const TlsFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a key file (--tls-cert and "
        "--tls-key), or neither");
  }
  absl::StatusOr<std::string> cert_pem =
      ReadWholeFile("TLS certificate", files.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem =
      ReadWholeFile("TLS key", files.key_file);
  if (!key_pem.ok()) return key_pem.status();

  auto chain = ParseCertificates("TLS certificate", files.cert_file, *cert_pem);
  if (!chain.ok()) return chain.status();
  X509* leaf = chain->front().get();

  ERR_clear_error();
  BioPtr key_bio(
      BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  PkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "TLS key ", files.key_file,
        " is not an unencrypted PEM private key: ", OpenSslError()));
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(
        "TLS key ", files.key_file, " does not belong to the certificate in ",
        files.cert_file));
  }
  TlsFileInfo info;
  info.subject = Subject(leaf);
  std::tie(info.not_after, info.not_after_unix) = NotAfter(leaf);
  info.sha256 = Sha256(leaf);
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "TLS certificate ", files.cert_file, " expired at ", info.not_after));
  }

  if (files.mutual()) {
    absl::StatusOr<std::string> ca_pem =
        ReadWholeFile("TLS client CA", files.client_ca_file);
    if (!ca_pem.ok()) return ca_pem.status();
    auto cas =
        ParseCertificates("TLS client CA", files.client_ca_file, *ca_pem);
    if (!cas.ok()) return cas.status();
    info.client_ca_count = static_cast<int>(cas->size());
  }
  return info;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeTlsServerCredentials(const TlsFiles& files) {
  if (files.reload_seconds < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS reload interval must be at least 1 second, not ",
                     files.reload_seconds));
  }
  absl::StatusOr<TlsFileInfo> checked = CheckTlsFiles(files);
  if (!checked.ok()) return checked.status();

  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key_file, files.cert_file, files.client_ca_file,
          static_cast<unsigned int>(files.reload_seconds));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.mutual()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) {
    return absl::InternalError("gRPC refused the TLS server options");
  }
  return creds;
}

TlsFileMonitor::TlsFileMonitor(TlsFiles files,
                               std::shared_ptr<TlsStatus> status)
    : files_(std::move(files)),
      status_(std::move(status)),
      last_sha256_(status_->Get().sha256),
      thread_([this] { Loop(); }) {}

TlsFileMonitor::~TlsFileMonitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TlsFileMonitor::Loop() {
  const auto period = std::chrono::seconds(std::max(1, files_.reload_seconds));
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
    lock.unlock();
    absl::StatusOr<TlsFileInfo> info = CheckTlsFiles(files_);
    if (!info.ok()) {
      const std::string error(info.status().message());
      if (error != last_error_) {
        JsonLine()
            .Str("level", "error")
            .Str("msg", "TLS files unusable")
            .Str("error", error)
            .Emit();
        last_error_ = error;
      }
    } else {
      if (!last_error_.empty() || info->sha256 != last_sha256_) {
        JsonLine()
            .Str("level", "info")
            .Str("msg", info->sha256 != last_sha256_ ? "TLS certificate changed"
                                                     : "TLS files usable again")
            .Str("tlsSubject", info->subject)
            .Str("tlsNotAfter", info->not_after)
            .Str("tlsSha256", info->sha256)
            .Emit();
      }
      last_error_.clear();
      last_sha256_ = info->sha256;
      status_->Set(*std::move(info));
    }
    lock.lock();
  }
}

}  // namespace ecsimage::grpcapi

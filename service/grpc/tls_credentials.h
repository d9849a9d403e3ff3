// TLS for the API port: server credentials whose certificate, key and
// (for mTLS) client CA gRPC re-reads from their files every reload interval,
// a start-up check that the files are usable (so a bad file stops the start
// instead of failing every handshake), and a monitor that logs when the files
// change or stop being usable.
#ifndef ECSIMAGE_SERVICE_GRPC_TLS_CREDENTIALS_H_
#define ECSIMAGE_SERVICE_GRPC_TLS_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ecsimage::grpcapi {

struct TlsFiles {
  // PEM certificate chain, leaf first. Empty (with key_file): plaintext.
  std::string cert_file;
  // PEM private key of the leaf, unencrypted.
  std::string key_file;
  // PEM CA bundle; when set, clients must present a certificate it signed.
  std::string client_ca_file;
  // How often the files are re-read (at least 1).
  int reload_seconds = 60;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
};

// What the start-up check saw; for the logs.
struct TlsFileInfo {
  std::string subject;         // leaf subject, RFC 2253
  std::string not_after;       // leaf expiry, "2030-01-02T03:04:05Z"
  int64_t not_after_unix = 0;  // the same, Unix seconds
  std::string sha256;          // leaf fingerprint, lowercase hex
  int client_ca_count = 0;     // certificates in client_ca_file
};

// Reads and parses the files: both of cert_file and key_file are set, every
// certificate of the chain parses, the key parses and belongs to the leaf,
// the leaf has not expired, and client_ca_file (if set) holds at least one
// certificate. The error names the file and what is wrong with it.
absl::StatusOr<TlsFileInfo> CheckTlsFiles(const TlsFiles& files);

// CheckTlsFiles, then credentials backed by gRPC's
// FileWatcherCertificateProvider; with client_ca_file, client certificates
// are required and verified.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeTlsServerCredentials(const TlsFiles& files);

// The certificate being served as last checked, shared between the
// monitor and readers such as a metrics gauge (which may outlive the
// server). Thread-safe.
class TlsStatus {
 public:
  explicit TlsStatus(TlsFileInfo info) : info_(std::move(info)) {}
  TlsFileInfo Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return info_;
  }
  void Set(TlsFileInfo info) {
    std::lock_guard<std::mutex> lock(mu_);
    info_ = std::move(info);
  }

 private:
  mutable std::mutex mu_;
  TlsFileInfo info_;  // guarded by mu_
};

// Re-checks the files every reload interval on its own thread and logs a
// JSON line when they become unusable (gRPC then keeps failing handshakes
// until they are fixed), when they are usable again, and when the served
// certificate changes. gRPC does the reloading; this only reports.
class TlsFileMonitor {
 public:
  // Starts from `status`'s info and keeps it current.
  TlsFileMonitor(TlsFiles files, std::shared_ptr<TlsStatus> status);
  ~TlsFileMonitor();

  TlsFileMonitor(const TlsFileMonitor&) = delete;
  TlsFileMonitor& operator=(const TlsFileMonitor&) = delete;

 private:
  void Loop();

  const TlsFiles files_;
  const std::shared_ptr<TlsStatus> status_;
  std::string last_sha256_;  // used by the thread only
  std::string last_error_;   // used by the thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_TLS_CREDENTIALS_H_

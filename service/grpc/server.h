// The gRPC server: ImageService, InstanceService, SimulationControl (only
// when asked), grpc.health.v1.Health (service "" and each API service) and
// server reflection, which also serves google/rpc/error_details.proto and
// grpc/health/v1/health.proto so grpcurl needs no .proto files. The API
// port is plaintext or TLS (reloaded from files, optionally mTLS); an
// optional second, plaintext port serves only Health, for probes that
// cannot speak TLS.
#ifndef ECSIMAGE_SERVICE_GRPC_SERVER_H_
#define ECSIMAGE_SERVICE_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "service/domain/clock.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/grpc/call_handler.h"
#include "service/grpc/call_observer.h"
#include "service/grpc/rate_limiter.h"
#include "service/grpc/tls_credentials.h"

namespace ecsimage::grpcapi {

// The health service name of liveness: SERVING from start until SIGTERM,
// whatever the database does (Kubernetes' livenessProbe asks for it).
inline constexpr char kLivenessServiceName[] = "liveness";

struct ServerOptions {
  // host:port; port 0 picks a free port (see Server::port()).
  std::string listen_address = "127.0.0.1:50051";
  // Registers SimulationControl.
  bool simulation_control = false;
  int max_receive_message_bytes = 4 * 1024 * 1024;
  int max_send_message_bytes = 16 * 1024 * 1024;
  // Upper bound of server threads (handlers and pollers).
  int max_threads = 256;
  // Calls inside handlers at once; past it a call is refused at once with
  // ECS Throttling (RESOURCE_EXHAUSTED, with details) instead of reaching
  // gRPC's own bare thread-pool refusal. 0: half of max_threads.
  int max_concurrent_calls = 0;
  // Server pings an idle connection this often and drops it when the ping is
  // not answered within the timeout.
  int keepalive_time_ms = 5 * 60 * 1000;
  int keepalive_timeout_ms = 20 * 1000;
  // Connections are closed gracefully after this age so that clients spread
  // over new pods; in-flight calls get the grace period to finish.
  int max_connection_age_ms = 30 * 60 * 1000;
  int max_connection_age_grace_ms = 5 * 60 * 1000;
  // Calls per second and account; 0 disables throttling.
  double rate_limit_per_account = 0;
  // Access log: one JSON line per call on stderr.
  bool log_calls = true;
  // TLS on listen_address when cert_file and key_file are set (one alone is
  // an error); plaintext when neither is.
  TlsFiles tls;
  // host:port of a second, plaintext server that serves only
  // grpc.health.v1.Health, with the same serving status as the API port
  // (see health_port()); empty: none.
  std::string health_listen_address;
};

struct ServerDeps {
  domain::ImageDomain& domain;
  domain::Authenticator& authenticator;
  domain::IdGenerator& ids;
  // Time of the rate limiter's buckets.
  domain::Clock& clock;
  CallObserver* observer = nullptr;
};

class Server {
 public:
  // Builds and starts the server; fails when an address cannot be bound or
  // the TLS files are not a usable certificate and key (see CheckTlsFiles).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, ServerDeps deps);

  // Shuts down at once if Shutdown was not called.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the chosen one when the address asked for port 0).
  int port() const { return port_; }
  // The bound health-only port; 0 when health_listen_address was empty.
  int health_port() const { return health_port_; }
  // The per-account rate limiter (null: off), for other listeners to share
  // (the ECS HTTP listener).
  AccountRateLimiter* rate_limiter() const { return rate_limiter_.get(); }
  // What the start-up check read from the TLS files; null when plaintext.
  const TlsFileInfo* tls_info() const {
    return tls_info_.has_value() ? &*tls_info_ : nullptr;
  }
  // The certificate served now (kept current by the file monitor); null
  // when plaintext. May be kept beyond the server's life.
  std::shared_ptr<const TlsStatus> tls_status() const { return tls_status_; }

  // Health of "" and every API service (readiness) and of "liveness", on
  // the API port and the health port: SERVING or NOT_SERVING. Calls keep
  // being served either way; NOT_SERVING tells probes and balancers to go.
  // SetServing(false) is SIGTERM's first step.
  void SetServing(bool serving);
  // Readiness alone, from the store's CheckReady (a database outage): ""
  // and the API services follow it while serving; "liveness" never does,
  // so that an outage of the database does not restart the pods.
  void SetReady(bool ready);

  // Stops accepting calls, lets in-flight calls finish until `deadline`,
  // then cancels the rest and waits for the handlers to return; the health
  // port stops last (NOT_SERVING until then). Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  Server(const ServerOptions& options, ServerDeps deps);

  std::unique_ptr<AccountRateLimiter> rate_limiter_;
  std::unique_ptr<CallHandler> calls_;
  std::unique_ptr<grpc::Service> image_service_;
  std::unique_ptr<grpc::Service> instance_service_;
  std::unique_ptr<grpc::Service> simulation_service_;  // may be null
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> health_server_;  // may be null
  int health_port_ = 0;
  std::optional<TlsFileInfo> tls_info_;
  std::shared_ptr<TlsStatus> tls_status_;        // may be null
  std::unique_ptr<TlsFileMonitor> tls_monitor_;  // may be null
  void SetHealth(bool ready, bool live);

  std::mutex health_mu_;
  bool serving_ = false;  // guarded by health_mu_
  bool ready_ = true;     // guarded by health_mu_
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_SERVER_H_

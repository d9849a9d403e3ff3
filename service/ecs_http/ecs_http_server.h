// The ECS HTTP listener (serve --ecs-http-listen), on Debian's cpp-httplib
// 0.11 — the library service/metrics already uses; see docs/ecs-http.md for
// the choice over Boost.Beast. Bounds (EcsHttpOptions): request body,
// URI and header sizes, worker threads (= requests in flight), keep-alive,
// read/write timeouts. Every answer, including the library's own 4xx, is
// an ECS error body (never HTML) with an x-acs-request-id header.
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_ECS_HTTP_SERVER_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_ECS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "service/ecs_http/gateway.h"

namespace httplib {
class Server;
}

namespace ecsimage::ecs_http {

struct EcsHttpOptions {
  std::string listen;               // HOST:PORT; port 0: any
  size_t max_body_bytes = 1 << 20;  // 413 RequestTooLarge past this
  int threads = 8;                  // requests served at once
  int max_queued_connections = 64;  // accepted, waiting for a worker
  int read_timeout_s = 10;
  int write_timeout_s = 10;
  int keep_alive_timeout_s = 5;
  int keep_alive_max_requests = 100;
  // TLS with the gRPC port's files (serve --tls-cert/--tls-key and
  // --tls-client-ca for mutual TLS); read at start: cpp-httplib 0.11 cannot
  // reload them. Empty: plaintext.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

class EcsHttpServer {
 public:
  // Binds and starts serving `gateway` (which must outlive the server).
  static absl::StatusOr<std::unique_ptr<EcsHttpServer>> Start(
      const EcsHttpOptions& options, const Gateway& gateway);
  ~EcsHttpServer();
  int port() const { return port_; }
  // Stops accepting, finishes requests in progress. Idempotent.
  void Stop();

 private:
  EcsHttpServer(std::unique_ptr<httplib::Server> server, int port);
  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::thread thread_;
  std::atomic<bool> loop_exited_{false};
};

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_ECS_HTTP_SERVER_H_

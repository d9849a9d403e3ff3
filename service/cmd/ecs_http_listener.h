// `serve --ecs-http-listen`: the ECS HTTP listener beside the gRPC server,
// over the same ImageDomain (service/ecs_http/).
#ifndef ECSIMAGE_SERVICE_CMD_ECS_HTTP_LISTENER_H_
#define ECSIMAGE_SERVICE_CMD_ECS_HTTP_LISTENER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/cmd/flags.h"
#include "service/cmd/secret_keys.h"
#include "service/domain/access_keys.h"
#include "service/ecs_http/ecs_http_server.h"
#include "service/ecs_http/gateway.h"

namespace ecsimage::cmd {

struct EcsHttpFlags {
  std::string listen;  // "" = off
  int64_t threads = 8;
  int64_t max_queued = 64;
  int64_t max_body_bytes = 1 << 20;
  int64_t nonce_capacity = 200000;
  SecretKeyFlags keys;
  void Register(FlagSet& flags);
};

class EcsHttpListener {
 public:
  struct Deps {
    storage::Store& store;
    domain::Clock& clock;
    domain::ImageDomain& domain;
    domain::IdGenerator& ids;
    bool simulation = false;
    bool log_calls = true;
    // The gRPC server's limiter, shared (null: no throttling).
    grpcapi::AccountRateLimiter* rate_limiter = nullptr;
    // Bearer tokens accepted too (the gRPC tokens); null: signatures only.
    domain::Authenticator* bearer = nullptr;
    // serve's --tls-cert, --tls-key, --tls-client-ca (empty: plaintext).
    std::string tls_cert;
    std::string tls_key;
    std::string tls_client_ca;
  };
  // nullptr when flags.listen is empty.
  static absl::StatusOr<std::unique_ptr<EcsHttpListener>> Start(
      const EcsHttpFlags& flags, Deps deps);
  ~EcsHttpListener();
  int port() const { return server_->port(); }
  bool access_keys_enabled() const { return keys_.current != nullptr; }
  void Stop();

 private:
  EcsHttpListener() = default;
  SecretKeys keys_;
  std::unique_ptr<domain::AccessKeys> access_keys_;
  std::unique_ptr<ecs_http::NonceCache> nonces_;
  std::unique_ptr<ecs_http::SignatureVerifier> verifier_;
  std::unique_ptr<ecs_http::Gateway> gateway_;
  std::unique_ptr<ecs_http::EcsHttpServer> server_;
};

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_ECS_HTTP_LISTENER_H_

#include "service/cmd/ecs_http_listener.h"

#include <utility>

namespace ecsimage::cmd {

void EcsHttpFlags::Register(FlagSet& flags) {
  flags.String("ecs-http-listen", &listen,
               "host:port of ECS's HTTP OpenAPI (2014-05-26) for the official "
               "SDKs; port 0 picks one (empty: off)");
  flags.Int("ecs-http-threads", &threads,
            "ECS HTTP requests served at once (worker threads)");
  flags.Int("ecs-http-max-queued-connections", &max_queued,
            "accepted ECS HTTP connections waiting for a worker; past it the "
            "kernel's backlog, then refusal");
  flags.Int("ecs-http-max-body-bytes", &max_body_bytes,
            "largest ECS HTTP request body; larger: RequestTooLarge");
  flags.Int("ecs-http-nonce-capacity", &nonce_capacity,
            "signature nonces remembered for replay protection (memory bound)");
  keys.Register(flags);
}

absl::StatusOr<std::unique_ptr<EcsHttpListener>> EcsHttpListener::Start(
    const EcsHttpFlags& flags, Deps deps) {
  if (flags.listen.empty()) return nullptr;
  if (flags.threads < 1 || flags.threads > 1024 ||
      flags.max_body_bytes < 1024 || flags.nonce_capacity < 1000) {
    return absl::InvalidArgumentError(
        "--ecs-http-threads must be 1-1024, "
        "--ecs-http-max-queued-connections 1-100000, "
        "--ecs-http-max-body-bytes at "
        "least 1024, --ecs-http-nonce-capacity at least 1000");
  }
  std::unique_ptr<EcsHttpListener> self(new EcsHttpListener());
  absl::StatusOr<SecretKeys> keys = LoadSecretKeys(flags.keys);
  if (!keys.ok()) return keys.status();
  self->keys_ = *std::move(keys);
  self->access_keys_ = std::make_unique<domain::AccessKeys>(
      deps.store, deps.clock, self->keys_.current.get(),
      self->keys_.previous.get());
  // Twice the window: a timestamp may be up to one window in the future.
  self->nonces_ = std::make_unique<ecs_http::NonceCache>(
      static_cast<size_t>(flags.nonce_capacity),
      2 * ecs_http::SignatureVerifier::kWindowMs);
  domain::AccessKeys* ak = self->access_keys_.get();
  self->verifier_ = std::make_unique<ecs_http::SignatureVerifier>(
      [ak](const std::string& id) { return ak->Resolve(id); }, deps.clock,
      *self->nonces_);
  self->gateway_ = std::make_unique<ecs_http::Gateway>(ecs_http::GatewayDeps{
      deps.domain, deps.ids, *self->verifier_, deps.rate_limiter,
      deps.simulation, deps.log_calls, deps.bearer});
  ecs_http::EcsHttpOptions options;
  options.listen = flags.listen;
  options.threads = static_cast<int>(flags.threads);
  options.max_queued_connections = static_cast<int>(flags.max_queued);
  options.max_body_bytes = static_cast<size_t>(flags.max_body_bytes);
  options.tls_cert = deps.tls_cert;
  options.tls_key = deps.tls_key;
  options.tls_client_ca = deps.tls_client_ca;
  absl::StatusOr<std::unique_ptr<ecs_http::EcsHttpServer>> server =
      ecs_http::EcsHttpServer::Start(options, *self->gateway_);
  if (!server.ok()) return server.status();
  self->server_ = *std::move(server);
  return self;
}

EcsHttpListener::~EcsHttpListener() { Stop(); }

void EcsHttpListener::Stop() {
  if (server_) server_->Stop();
}

}  // namespace ecsimage::cmd

#include "bench/inproc_server.h"

#include <chrono>
#include <limits>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::bench {

absl::StatusOr<std::unique_ptr<InProcessServer>> InProcessServer::Start(
    const InProcessConfig& config) {
  std::unique_ptr<InProcessServer> s(new InProcessServer());
  storage::SqliteStoreOptions store_options;
  store_options.path = config.db;
  store_options.create_if_missing = true;
  store_options.group_commit = config.group_commit;
  store_options.max_batch_size = config.max_batch_size;
  store_options.max_batch_wait = config.max_batch_wait;
  store_options.reader_connections = config.reader_connections;
  ASSIGN_OR_RETURN(s->store_, storage::SqliteStore::Open(store_options));
  RETURN_IF_ERROR(domain::SeedCatalog(*s->store_, s->clock_.NowMs()));

  domain::DomainOptions domain_options;
  // The bench account owns up to a million images in one region; the quota
  // is a product rule, not a storage cost, so it is lifted here.
  domain_options.image_quota_per_region = std::numeric_limits<int64_t>::max();
  s->domain_ = std::make_unique<domain::ImageDomain>(*s->store_, s->clock_,
                                                     s->ids_, domain_options);
  s->authenticator_ =
      std::make_unique<domain::Authenticator>(*s->store_, s->clock_);

  grpcapi::ServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.max_threads = config.max_threads;
  server_options.max_concurrent_calls = config.max_concurrent_calls;
  server_options.log_calls = config.log_calls;
  if (config.metrics) s->metrics_ = std::make_unique<metrics::ServiceMetrics>();
  ASSIGN_OR_RETURN(s->server_, grpcapi::Server::Start(
                                   server_options,
                                   grpcapi::ServerDeps{
                                       *s->domain_, *s->authenticator_, s->ids_,
                                       s->clock_, s->metrics_.get()}));
  return s;
}

InProcessServer::~InProcessServer() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_.reset();
  }
  if (store_ != nullptr) store_->Shutdown();
}

std::string InProcessServer::target() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

}  // namespace ecsimage::bench

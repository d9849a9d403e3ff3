#include "service/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "service/grpc/image_service_impl.h"
#include "service/grpc/instance_service_impl.h"
#include "service/grpc/simulation_service_impl.h"

namespace ecsimage::grpcapi {
namespace {

constexpr char kImageServiceName[] = "ecs.image.v1.ImageService";
constexpr char kInstanceServiceName[] = "ecs.image.v1.InstanceService";
constexpr char kSimulationServiceName[] = "ecs.image.v1.SimulationControl";

// Process-wide gRPC switches; must run before the first ServerBuilder.
void InitGrpcOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's
    // deadlock detection on: a lock-order graph updated on every lock that
    // gRPC takes (~5% of the CPU of a DeleteImage in bench/).
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    // Reflection answers from the generated pool, which only holds files
    // whose generated code is linked. Naming a descriptor of each keeps
    // error_details.proto and health.proto in the binary, so grpcurl can
    // decode error details and call Health without .proto files.
    (void)google::rpc::ErrorInfo::descriptor();
    (void)grpc::health::v1::HealthCheckRequest::descriptor();
  });
}

// Stands in for the process-wide builder plugins (reflection) on the
// health-only server, so that it offers nothing but Health. That server
// registers no service itself: grpc::Server adds the default health service
// at start, after ServerBuilder chose its completion queues from the
// registered services and plugins. Claiming synchronous methods here gives
// it the polling threads that serve Health and answer every other method
// with UNIMPLEMENTED.
class HealthOnlyPlugin : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "ecsimage_health_only"; }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}
  bool has_sync_methods() const override { return true; }
};

class HealthOnlyPlugins : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->clear();
    plugins->push_back(std::make_unique<HealthOnlyPlugin>());
  }
};

// The plaintext health-only server: no API service is registered, so the
// default health service is all it has.
std::unique_ptr<grpc::Server> StartHealthServer(const std::string& address,
                                                int* selected_port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                           selected_port);
  builder.SetOption(std::make_unique<HealthOnlyPlugins>());
  builder.SetMaxReceiveMessageSize(64 * 1024);
  grpc::ResourceQuota quota("ecsimage-health");
  quota.SetMaxThreads(8);
  builder.SetResourceQuota(quota);
  return builder.BuildAndStart();
}

}  // namespace

Server::Server(const ServerOptions& options, ServerDeps deps) {
  if (options.rate_limit_per_account > 0) {
    rate_limiter_ = std::make_unique<AccountRateLimiter>(
        options.rate_limit_per_account, options.rate_limit_per_account,
        deps.clock);
  }
  calls_ = std::make_unique<CallHandler>(CallDeps{
      deps.domain, deps.authenticator, deps.ids, rate_limiter_.get(),
      deps.observer, options.log_calls,
      options.max_concurrent_calls > 0 ? options.max_concurrent_calls
                                       : std::max(1, options.max_threads / 2)});
  image_service_ = NewImageService(*calls_);
  instance_service_ = NewInstanceService(*calls_);
  if (options.simulation_control) {
    simulation_service_ = NewSimulationService(*calls_);
  }
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, ServerDeps deps) {
  InitGrpcOnce();
  std::unique_ptr<Server> s(new Server(options, deps));

  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (options.tls.enabled()) {
    absl::StatusOr<TlsFileInfo> info = CheckTlsFiles(options.tls);
    if (!info.ok()) return info.status();
    auto tls = MakeTlsServerCredentials(options.tls);
    if (!tls.ok()) return tls.status();
    credentials = *std::move(tls);
    s->tls_info_ = *std::move(info);
  }

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options.listen_address, credentials, &selected_port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             options.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             options.keepalive_timeout_ms);
  // Clients may ping every 10 s without being told off.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             options.max_connection_age_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             options.max_connection_age_grace_ms);

  // The sync server spawns a thread per concurrent call unless bounded.
  // Pollers count against the quota. A thread that finishes a call goes
  // back to polling only while fewer than MAX_POLLERS poll, and exits
  // otherwise; with the default of 2 a burst of calls creates and joins a
  // thread per call (bench/: 1,051 clone3 for 1,854 DeleteImage). Letting
  // up to half the quota poll keeps those threads: +15% DeleteImage calls/s
  // and a lower p99 at 64 in flight (BENCHMARKS.md).
  grpc::ResourceQuota quota("ecsimage");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS,
                              1);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
      std::clamp(options.max_threads / 16, 1, 8));
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
      std::max(2, options.max_threads / 2));

  builder.RegisterService(s->image_service_.get());
  builder.RegisterService(s->instance_service_.get());
  if (s->simulation_service_ != nullptr) {
    builder.RegisterService(s->simulation_service_.get());
  }

  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || selected_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address));
  }
  s->port_ = selected_port;
  if (!options.health_listen_address.empty()) {
    int health_port = 0;
    s->health_server_ =
        StartHealthServer(options.health_listen_address, &health_port);
    if (s->health_server_ == nullptr || health_port == 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", options.health_listen_address, " (health)"));
    }
    s->health_port_ = health_port;
  }
  if (s->tls_info_.has_value()) {
    s->tls_status_ = std::make_shared<TlsStatus>(*s->tls_info_);
    s->tls_monitor_ =
        std::make_unique<TlsFileMonitor>(options.tls, s->tls_status_);
  }
  s->SetServing(true);
  return s;
}

Server::~Server() { Shutdown(std::chrono::system_clock::now()); }

void Server::SetHealth(bool ready, bool live) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    grpc::HealthCheckServiceInterface* health =
        server == nullptr ? nullptr : server->GetHealthCheckService();
    if (health == nullptr) continue;
    health->SetServingStatus("", ready);
    health->SetServingStatus(kImageServiceName, ready);
    health->SetServingStatus(kInstanceServiceName, ready);
    if (simulation_service_ != nullptr) {
      health->SetServingStatus(kSimulationServiceName, ready);
    }
    health->SetServingStatus(kLivenessServiceName, live);
  }
}

void Server::SetServing(bool serving) {
  std::lock_guard<std::mutex> lock(health_mu_);
  serving_ = serving;
  SetHealth(serving && ready_, serving);
}

void Server::SetReady(bool ready) {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (ready == ready_) return;
  ready_ = ready;
  SetHealth(serving_ && ready_, serving_);
}

void Server::Shutdown(std::chrono::system_clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(deadline);
  server_->Wait();
  // Last, so that probes see NOT_SERVING rather than a refused connection
  // while calls drain.
  if (health_server_ != nullptr) {
    health_server_->Shutdown(std::chrono::system_clock::now());
    health_server_->Wait();
  }
  tls_monitor_.reset();
}

}  // namespace ecsimage::grpcapi

#include "service/metrics/metrics_http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ecsimage::metrics {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

struct HostPort {
  std::string host;
  int port;
};

absl::StatusOr<HostPort> ParseListenAddress(const std::string& text) {
  std::string_view address = text;
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad metrics listen address: ", text));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics listen address needs host:port: ", text));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(std::string(port), &port_number) || port_number < 0 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in metrics listen address: ", text));
  }
  return HostPort{host.empty() ? "0.0.0.0" : std::string(host), port_number};
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    std::string_view listen, const ServiceMetrics& metrics) {
  const std::string listen_address(listen);
  absl::StatusOr<HostPort> address = ParseListenAddress(listen_address);
  if (!address.ok()) return address.status();

  auto server = std::make_unique<httplib::Server>();
  // One worker: scrapes are rare and must not compete with the API for cores.
  server->new_task_queue = [] { return new httplib::ThreadPool(1); };
  // cpp-httplib's default options add SO_REUSEPORT, which would let a second
  // process share the port silently; keep only SO_REUSEADDR.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->set_read_timeout(std::chrono::seconds(5));
  server->set_write_timeout(std::chrono::seconds(5));
  server->set_keep_alive_timeout(5);
  server->set_payload_max_length(4096);
  server->Get("/metrics",
              [&metrics](const httplib::Request&, httplib::Response& res) {
                res.set_content(metrics.Render(), kContentType);
              });

  int port = address->port;
  if (port == 0) {
    port = server->bind_to_any_port(address->host);
    if (port < 0) port = 0;
  } else if (!server->bind_to_port(address->host, port)) {
    port = 0;
  }
  if (port == 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics server cannot bind ", listen_address));
  }

  std::unique_ptr<MetricsHttpServer> self(
      new MetricsHttpServer(std::move(server), port));
  httplib::Server* raw = self->server_.get();
  std::atomic<bool>* exited = &self->loop_exited_;
  self->thread_ = std::thread([raw, exited] {
    raw->listen_after_bind();
    exited->store(true);
  });
  // stop() is a no-op until the accept loop runs; wait for it so that Stop()
  // right after Start() cannot leave the thread running. The socket already
  // listens, so no connection is lost meanwhile.
  while (!raw->is_running() && !exited->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (exited->load()) {
    self->thread_.join();
    return absl::UnavailableError(
        absl::StrCat("metrics server stopped at once on ", listen_address));
  }
  return self;
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<httplib::Server> server,
                                     int port)
    : server_(std::move(server)), port_(port) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace ecsimage::metrics

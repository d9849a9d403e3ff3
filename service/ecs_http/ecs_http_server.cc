#include "service/ecs_http/ecs_http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/ecs_http/bounded_task_queue.h"
#include "service/ecs_http/flatten.h"
#include "util/absl_compat.h"

namespace ecsimage::ecs_http {
namespace {

using domain::Err;
using domain::Error;

absl::Status SplitHostPort(const std::string& text, std::string* host,
                           int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(AV(text.substr(colon + 1)), port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ecs-http-listen needs HOST:PORT, got ", text));
  }
  *host = text.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "0.0.0.0";
  return absl::OkStatus();
}

void Send(const Gateway::Answer& answer, httplib::Response& res) {
  res.status = answer.http.status;
  res.set_header("x-acs-request-id", answer.request_id);
  res.set_content(answer.http.body, answer.http.content_type.c_str());
}

bool WantsXml(const httplib::Request& req) {
  return absl::AsciiStrToUpper(AV(req.get_param_value("Format"))) == "XML";
}

// The library's own refusals, as ECS errors.
absl::Status LibraryRefusal(int status) {
  switch (status) {
    case 413:
    case 414:
    case 431:
      return Error(Err::kRequestTooLarge);
    case 404:
      return Error(Err::kInvalidActionNotFound);
    case 405:
      return Error(Err::kUnsupportedHttpMethod);
    case 503:
      return Error(Err::kServiceUnavailable);
    default:
      return Error(Err::kInvalidParameter).Param("request");
  }
}

SignedRequest ToSignedRequest(const httplib::Request& req,
                              absl::Status* malformed) {
  SignedRequest out;
  out.method = req.method;
  std::string_view target = req.target;
  size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    absl::StatusOr<ParamList> query = DecodeParams(target.substr(q + 1));
    if (!query.ok()) {
      *malformed = Error(Err::kInvalidParameter)
                       .Param(SafeName(std::string(query.status().message())));
    } else {
      out.query = *std::move(query);
    }
  }
  for (const auto& [name, value] : req.headers) {
    out.headers.emplace(absl::AsciiStrToLower(AV(name)), value);
  }
  out.body = req.body;
  if (req.method == "POST" &&
      absl::StartsWith(
          AV(absl::AsciiStrToLower(AV(req.get_header_value("Content-Type")))),
          "application/x-www-form-urlencoded")) {
    absl::StatusOr<ParamList> form = DecodeParams(req.body);
    if (!form.ok()) {
      *malformed = Error(Err::kInvalidParameter)
                       .Param(SafeName(std::string(form.status().message())));
    } else {
      out.form = *std::move(form);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EcsHttpServer>> EcsHttpServer::Start(
    const EcsHttpOptions& options, const Gateway& gateway) {
  std::string host;
  int port = 0;
  if (absl::Status s = SplitHostPort(options.listen, &host, &port); !s.ok()) {
    return s;
  }
  std::unique_ptr<httplib::Server> server;
  if (!options.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(
        options.tls_cert.c_str(), options.tls_key.c_str(),
        options.tls_client_ca.empty() ? nullptr
                                      : options.tls_client_ca.c_str());
    if (!tls->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ECS HTTP listener cannot load TLS files ",
                       options.tls_cert, ", ", options.tls_key));
    }
    server = std::move(tls);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  const size_t threads = options.threads > 0 ? options.threads : 1;
  const size_t max_queued =
      options.max_queued_connections > 0 ? options.max_queued_connections : 1;
  server->new_task_queue = [threads, max_queued] {
    return new BoundedTaskQueue(threads, max_queued);
  };
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Small answers on keep-alive connections: no Nagle delay.
  server->set_tcp_nodelay(true);
  server->set_read_timeout(std::chrono::seconds(options.read_timeout_s));
  server->set_write_timeout(std::chrono::seconds(options.write_timeout_s));
  server->set_keep_alive_timeout(options.keep_alive_timeout_s);
  server->set_keep_alive_max_count(options.keep_alive_max_requests);
  server->set_payload_max_length(options.max_body_bytes);

  const Gateway* g = &gateway;
  auto handle = [g](const httplib::Request& req, httplib::Response& res) {
    const std::string host = req.get_header_value("Host");
    absl::Status malformed;
    SignedRequest signed_request = ToSignedRequest(req, &malformed);
    if (!malformed.ok()) {
      Send(g->Refuse(malformed, host, WantsXml(req)), res);
      return;
    }
    Send(g->Handle(signed_request, host), res);
  };
  for (const char* pattern : {"/", R"(/.*)"}) {
    server->Get(pattern, handle);
    server->Post(pattern, handle);
    server->Put(pattern, handle);
    server->Delete(pattern, handle);
    server->Patch(pattern, handle);
    server->Options(pattern, handle);
  }
  // Statuses the library sets itself (413 payload too large, 414 URI too
  // long, 400 unparsable request, ...) come with an empty body: give them
  // the ECS shape. Our own answers already have one and stay as they are.
  server->set_error_handler(httplib::Server::HandlerWithResponse(
      [g](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        Send(g->Refuse(LibraryRefusal(res.status), req.get_header_value("Host"),
                       false),
             res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server->set_exception_handler([g](const httplib::Request& req,
                                    httplib::Response& res,
                                    std::exception_ptr) {
    Send(g->Refuse(Error(Err::kInternalError), req.get_header_value("Host"),
                   false),
         res);
  });

  int bound = port;
  if (port == 0) {
    bound = server->bind_to_any_port(host);
  } else if (!server->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("ECS HTTP listener cannot bind ", options.listen));
  }
  std::unique_ptr<EcsHttpServer> self(
      new EcsHttpServer(std::move(server), bound));
  httplib::Server* raw = self->server_.get();
  std::atomic<bool>* exited = &self->loop_exited_;
  self->thread_ = std::thread([raw, exited] {
    raw->listen_after_bind();
    exited->store(true);
  });
  while (!raw->is_running() && !exited->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (exited->load()) {
    self->thread_.join();
    return absl::UnavailableError(
        absl::StrCat("ECS HTTP listener stopped at once on ", options.listen));
  }
  return self;
}

EcsHttpServer::EcsHttpServer(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

EcsHttpServer::~EcsHttpServer() { Stop(); }

void EcsHttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace ecsimage::ecs_http

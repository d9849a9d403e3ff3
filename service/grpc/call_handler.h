// The shared wrapper every RPC goes through: RequestId, authentication,
// optional per-account throttling, parsing the request body, the domain
// call, the x-acs-request-id trailer, status mapping, one access-log line
// and the CallObserver.
//
// Requests arrive as raw bytes (raw_service.h) and are parsed here, after
// authentication: a body that is not a valid message answers
// InvalidParameter on "body" (request_body.h) like any bad parameter. A
// service adapter is a table of the three kinds of methods:
//
//   std::make_unique<RawService>(ServiceNamed("ecs.image.v1.ImageService"),
//       std::vector<RawMethod>{
//           calls.Sync("DescribeImages", &ImageDomain::DescribeImages),
//           calls.Inline("DescribeRegions", &ImageDomain::DescribeRegions),
//           calls.Async("DeleteImage", &ImageDomain::DeleteImageAsync), ...});
//
// Sync runs on the synchronous server's threads; Inline (callback API) on
// the gRPC thread that received the call, for methods short enough; Async
// (callback API) for domain methods that answer through a completion (the
// writes: ImageDomain::XAsync), finished from the store's completer thread.
#ifndef ECSIMAGE_SERVICE_GRPC_CALL_HANDLER_H_
#define ECSIMAGE_SERVICE_GRPC_CALL_HANDLER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/grpc/call_observer.h"
#include "service/grpc/rate_limiter.h"
#include "service/grpc/raw_service.h"
#include "service/grpc/request_body.h"

namespace ecsimage::grpcapi {

// Trailing metadata that carries the RequestId of every response.
inline constexpr char kRequestIdTrailer[] = "x-acs-request-id";

struct CallDeps {
  domain::ImageDomain& domain;
  domain::Authenticator& authenticator;
  domain::IdGenerator& ids;
  AccountRateLimiter* rate_limiter = nullptr;  // null: no throttling
  CallObserver* observer = nullptr;            // null: no metrics
  bool log_calls = true;                       // the access log
  int max_in_flight = 0;                       // 0: no limit
};

class CallHandler {
 public:
  explicit CallHandler(CallDeps deps) : deps_(deps) {}
  // Waits until every RunAsync call has been answered (they are, once the
  // gRPC server has shut down: it waits for them too, but that wait is
  // inside libgrpc, where ThreadSanitizer cannot see it).
  ~CallHandler();

  template <typename Req, typename Resp>
  using DomainMethod = absl::Status (domain::ImageDomain::*)(
      const domain::Caller&, const Req&, Resp*);
  template <typename Req, typename Resp>
  using AsyncDomainMethod = domain::ImageDomain::AsyncMethod<Req, Resp>;

  // The kinds of methods of a RawService; `name` is the RPC's name in its
  // service.
  template <typename Req, typename Resp>
  RawMethod Sync(std::string name, DomainMethod<Req, Resp> fn) {
    RawMethod m = Typed<Req, Resp>(std::move(name));
    m.sync = [this, fn](std::string_view path, grpc::ServerContext* context,
                        const grpc::ByteBuffer& body, grpc::ByteBuffer* out) {
      return Run(context, path, body, out, fn);
    };
    return m;
  }
  template <typename Req, typename Resp>
  RawMethod Inline(std::string name, DomainMethod<Req, Resp> fn) {
    RawMethod m = Typed<Req, Resp>(std::move(name));
    m.callback =
        [this, fn](std::string_view path, grpc::CallbackServerContext* context,
                   const grpc::ByteBuffer& body, grpc::ByteBuffer* out) {
          grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
          reactor->Finish(Run(context, path, body, out, fn));
          return reactor;
        };
    return m;
  }
  template <typename Req, typename Resp>
  RawMethod Async(std::string name, AsyncDomainMethod<Req, Resp> fn) {
    RawMethod m = Typed<Req, Resp>(std::move(name));
    m.callback =
        [this, fn](std::string_view path, grpc::CallbackServerContext* context,
                   const grpc::ByteBuffer& body, grpc::ByteBuffer* out) {
          return RunAsync(context, path, body, out, fn);
        };
    return m;
  }

  // One call, answered when this returns. `method` is the full gRPC method
  // name, "/pkg.Service/Method".
  template <typename Req, typename Resp>
  grpc::Status Run(grpc::ServerContextBase* context, std::string_view method,
                   const grpc::ByteBuffer& body, grpc::ByteBuffer* out,
                   DomainMethod<Req, Resp> fn) {
    Call call = Begin(context);
    InFlight slot(in_flight_);
    Req request;
    absl::Status status = Admit(context, slot, body, &request, &call);
    Resp response;
    if (status.ok()) {
      status = (deps_.domain.*fn)(CallerOf(context, call), request, &response);
    }
    if (status.ok()) {
      response.set_request_id(call.request_id);
      status = SerializeBody(response, out);
    }
    return Finish(context, method, call, status);
  }

  // One callback-API call whose domain method answers through a completion
  // (a write): no thread waits for the commit. The reactor is finished from
  // the store's completer thread.
  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* RunAsync(grpc::CallbackServerContext* context,
                                     std::string_view method,
                                     const grpc::ByteBuffer& body,
                                     grpc::ByteBuffer* out,
                                     AsyncDomainMethod<Req, Resp> fn) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // The domain wants request and response to live until its answer.
    struct Exchange {
      Call call;
      Req request;
      Resp response;
    };
    auto exchange = std::make_shared<Exchange>();
    exchange->call = Begin(context);
    auto slot = std::make_shared<InFlight>(in_flight_);
    absl::Status status =
        Admit(context, *slot, body, &exchange->request, &exchange->call);
    if (!status.ok()) {
      reactor->Finish(Finish(context, method, exchange->call, status));
      return reactor;
    }
    AsyncStarted();
    (deps_.domain.*fn)(
        CallerOf(context, exchange->call), exchange->request,
        &exchange->response,
        [this, context, method, exchange, slot, out,
         reactor](absl::Status done) mutable {
          if (done.ok()) {
            exchange->response.set_request_id(exchange->call.request_id);
            done = SerializeBody(exchange->response, out);
          }
          grpc::Status answer = Finish(context, method, exchange->call, done);
          // Nothing of this handler may be touched once the call is
          // finished: gRPC may complete it on another thread at once, and
          // the server (with this CallHandler and its in-flight count) may
          // then be destroyed while this thread is still here.
          slot.reset();
          AsyncAnswered();
          reactor->Finish(std::move(answer));
        });
    return reactor;
  }

 private:
  struct Call {
    std::string request_id;
    std::string account_id;
    std::chrono::steady_clock::time_point start;
  };

  // Counts the calls inside handlers for as long as it lives.
  struct InFlight {
    explicit InFlight(std::atomic<int>& n) : counter(n), count(++n) {}
    ~InFlight() { --counter; }
    std::atomic<int>& counter;
    const int count;
  };

  static bool Abandoned(grpc::ServerContextBase* context);
  // The refusal past max_in_flight.
  static absl::Status Busy();

  Call Begin(grpc::ServerContextBase* context);
  // The refusal past max_in_flight, authentication, throttling, then the
  // body parsed into `request`; sets call->account_id.
  absl::Status Admit(grpc::ServerContextBase* context, const InFlight& slot,
                     const grpc::ByteBuffer& body,
                     google::protobuf::Message* request, Call* call);
  static domain::Caller CallerOf(grpc::ServerContextBase* context,
                                 const Call& call);

  template <typename Req, typename Resp>
  static RawMethod Typed(std::string name) {
    RawMethod m;
    m.name = std::move(name);
    m.request_type = Req::descriptor();
    m.response_type = Resp::descriptor();
    return m;
  }
  grpc::Status Finish(grpc::ServerContextBase* context, std::string_view method,
                      const Call& call, const absl::Status& status);

  // A RunAsync call from its start to the last use of this handler before
  // its answer.
  void AsyncStarted();
  void AsyncAnswered();

  CallDeps deps_;
  std::atomic<int> in_flight_{0};
  std::mutex async_mu_;
  std::condition_variable async_cv_;
  int async_pending_ = 0;  // guarded by async_mu_
};

// The token of an "authorization: Bearer <token>" header; "" when the header
// is missing or has another shape.
std::string BearerToken(const grpc::ServerContextBase& context);

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_CALL_HANDLER_H_

// The shared wrapper every RPC goes through: RequestId, authentication,
// optional per-account throttling, the domain call, the x-acs-request-id
// trailer, status mapping, one access-log line and the CallObserver.
//
//   grpc::Status DescribeImages(grpc::ServerContext* ctx, const Req* req,
//                               Resp* resp) override {
//     return calls_.Run(ctx, kDescribeImages, *req, resp,
//                       &domain::ImageDomain::DescribeImages);
//   }
//
// RunAsync does the same for callback-API methods whose domain method
// answers through a completion (the writes: ImageDomain::XAsync), RunInline
// for callback-API methods short enough to run on gRPC's own thread.
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

  // `method` is the full gRPC method name, "/pkg.Service/Method".
  template <typename Req, typename Resp>
  grpc::Status Run(grpc::ServerContextBase* context, std::string_view method,
                   const Req& request, Resp* response,
                   DomainMethod<Req, Resp> fn) {
    Call call = Begin(context);
    InFlight slot(in_flight_);
    absl::Status status =
        deps_.max_in_flight > 0 && slot.count > deps_.max_in_flight
            ? Busy()
            : Admit(context, &call);
    if (status.ok()) {
      domain::Caller caller;
      caller.account_id = call.account_id;
      caller.abandoned = [context] { return Abandoned(context); };
      status = (deps_.domain.*fn)(caller, request, response);
    }
    if (status.ok()) response->set_request_id(call.request_id);
    return Finish(context, method, call, status);
  }

  // Run for a callback-API method, on the gRPC thread that received it.
  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* RunInline(grpc::CallbackServerContext* context,
                                      std::string_view method,
                                      const Req& request, Resp* response,
                                      DomainMethod<Req, Resp> fn) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Run(context, method, request, response, fn));
    return reactor;
  }

  template <typename Req, typename Resp>
  using AsyncDomainMethod = domain::ImageDomain::AsyncMethod<Req, Resp>;

  // Run for a callback-API method whose domain method answers through a
  // completion (a write): no thread waits for the commit. The reactor is
  // finished from the store's completer thread.
  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* RunAsync(grpc::CallbackServerContext* context,
                                     std::string_view method,
                                     const Req& request, Resp* response,
                                     AsyncDomainMethod<Req, Resp> fn) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto call = std::make_shared<Call>(Begin(context));
    auto slot = std::make_shared<InFlight>(in_flight_);
    absl::Status status =
        deps_.max_in_flight > 0 && slot->count > deps_.max_in_flight
            ? Busy()
            : Admit(context, call.get());
    if (!status.ok()) {
      reactor->Finish(Finish(context, method, *call, status));
      return reactor;
    }
    domain::Caller caller;
    caller.account_id = call->account_id;
    caller.abandoned = [context] { return Abandoned(context); };
    AsyncStarted();
    (deps_.domain.*fn)(caller, request, response,
                       [this, context, method, call, slot, response,
                        reactor](absl::Status done) mutable {
                         if (done.ok())
                           response->set_request_id(call->request_id);
                         grpc::Status answer =
                             Finish(context, method, *call, done);
                         // Nothing of this handler may be touched once the call
                         // is finished: gRPC may complete it on another thread
                         // at once, and the server (with this CallHandler and
                         // its in-flight count) may then be destroyed while
                         // this thread is still here.
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
  // Authentication, then throttling; sets call->account_id.
  absl::Status Admit(grpc::ServerContextBase* context, Call* call);
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

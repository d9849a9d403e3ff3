// An asynchronous gRPC load generator: many concurrent unary calls over
// several channels, completion queues polled by a few threads, every status
// checked. Closed loop (a fixed number of calls in flight, each completion
// starts the next) or open loop (calls started on a fixed schedule; latency
// counts from the scheduled start, so a slow server cannot hide queueing).
#ifndef ECSIMAGE_BENCH_LOAD_CLIENT_H_
#define ECSIMAGE_BENCH_LOAD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ecsimage::bench {

using Clock = std::chrono::steady_clock;

// One call in flight. The driver owns it from Start to completion.
class Call {
 public:
  virtual ~Call() = default;
  // Starts the call; its completion is posted to `cq` with `this` as tag.
  virtual void Start(grpc::CompletionQueue* cq) = 0;
  // After an OK status: whether the response says what it must (a call
  // that returns OK with an empty answer is an error too).
  virtual bool ResponseOk() const { return true; }

  grpc::ClientContext context;
  grpc::Status status;
  Clock::time_point start;
};

template <typename Request, typename Response>
class UnaryCall final : public Call {
 public:
  using Prepare =
      std::function<std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>(
          grpc::ClientContext*, const Request&, grpc::CompletionQueue*)>;
  using Check = std::function<bool(const Response&)>;

  // `check` may be empty (any OK response will do).
  UnaryCall(Prepare prepare, Request request, Check check)
      : prepare_(std::move(prepare)),
        check_(std::move(check)),
        request_(std::move(request)) {}

  void Start(grpc::CompletionQueue* cq) override {
    reader_ = prepare_(&context, request_, cq);
    reader_->StartCall();
    reader_->Finish(&response_, &status, this);
  }
  bool ResponseOk() const override { return !check_ || check_(response_); }

 private:
  Prepare prepare_;
  Check check_;
  Request request_;
  Response response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
};

// Makes call number `i` (0, 1, 2, ... in start order) for channel `channel`,
// or returns null when the scenario has nothing left (its pool is used up).
// Called from several threads at once.
using CallFactory =
    std::function<std::unique_ptr<Call>(int64_t i, int channel)>;

struct DriveOptions {
  // Closed loop: calls in flight. Open loop: most calls in flight (the
  // schedule waits, and the wait counts in the latency).
  int concurrency = 64;
  // Open loop when > 0: calls started per second.
  double rate = 0;
  // Stops starting calls after this long (0: no limit)...
  double duration_s = 5;
  // ... or after this many calls (0: no limit), or when the factory is
  // exhausted, whichever comes first.
  int64_t max_calls = 0;
  // Completion queues, each with one polling thread.
  int threads = 2;
  // Per-call deadline.
  double deadline_s = 30;
};

struct PhaseResult {
  std::string name;
  int64_t calls = 0;  // completed
  int64_t ok = 0;
  int64_t errors = 0;  // non-OK status, or OK with a wrong response
  int64_t bad_responses = 0;
  // "UNAVAILABLE" -> count; a sample message of the first error.
  std::map<std::string, int64_t> error_codes;
  std::string first_error;
  bool exhausted = false;  // the factory ran out before time was up
  double seconds = 0;      // first start to last completion
  double calls_per_s = 0;
  std::vector<double> latencies_ms;  // sorted

  // p in [0, 100]; nearest rank.
  double Percentile(double p) const;
};

// Runs one phase against `num_channels` channels (the factory knows them).
PhaseResult Drive(const std::string& name, const CallFactory& factory,
                  int num_channels, const DriveOptions& options);

// "DEADLINE_EXCEEDED" etc.
std::string CodeName(grpc::StatusCode code);

// Channels to `target`, each its own TCP connection.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int n);

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_LOAD_CLIENT_H_

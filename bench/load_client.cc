#include "bench/load_client.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace ecsimage::bench {
namespace {

// One completion queue, its polling thread and what it saw.
struct Poller {
  grpc::CompletionQueue cq;
  std::thread thread;
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> error_codes;
  int64_t ok = 0;
  int64_t errors = 0;
  int64_t bad_responses = 0;
  std::string first_error;
  Clock::time_point last_done;
};

class Driver {
 public:
  Driver(const CallFactory& factory, int num_channels,
         const DriveOptions& options)
      : factory_(factory),
        num_channels_(std::max(num_channels, 1)),
        options_(options),
        pollers_(std::max(options.threads, 1)) {}

  PhaseResult Run(const std::string& name) {
    const Clock::time_point t0 = Clock::now();
    for (Poller& p : pollers_) {
      p.last_done = t0;
      p.thread = std::thread([this, &p] { Poll(p); });
    }
    const bool open_loop = options_.rate > 0;
    const Clock::time_point end =
        options_.duration_s > 0
            ? t0 + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(options_.duration_s))
            : Clock::time_point::max();
    if (open_loop) {
      Pace(t0, end);
    } else {
      for (int k = 0; k < options_.concurrency; ++k) {
        if (!StartNext(Clock::now())) break;
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (end == Clock::time_point::max()) {
        cv_.wait(lock, [this] { return in_flight_ == 0; });
      } else {
        cv_.wait_until(lock, end, [this] { return in_flight_ == 0; });
      }
    }
    stop_.store(true);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return in_flight_ == 0; });
    }
    for (Poller& p : pollers_) p.cq.Shutdown();
    for (Poller& p : pollers_) p.thread.join();

    PhaseResult r;
    r.name = name;
    r.exhausted = exhausted_.load();
    Clock::time_point last = t0;
    for (Poller& p : pollers_) {
      r.ok += p.ok;
      r.errors += p.errors;
      r.bad_responses += p.bad_responses;
      for (const auto& [code, n] : p.error_codes) r.error_codes[code] += n;
      if (r.first_error.empty()) r.first_error = p.first_error;
      r.latencies_ms.insert(r.latencies_ms.end(), p.latencies_ms.begin(),
                            p.latencies_ms.end());
      last = std::max(last, p.last_done);
    }
    std::sort(r.latencies_ms.begin(), r.latencies_ms.end());
    r.calls = static_cast<int64_t>(r.latencies_ms.size());
    r.seconds = std::chrono::duration<double>(last - t0).count();
    r.calls_per_s = r.seconds > 0 ? r.calls / r.seconds : 0;
    return r;
  }

 private:
  // Open loop: call i is due at t0 + i / rate.
  void Pace(Clock::time_point t0, Clock::time_point end) {
    for (int64_t i = 0;; ++i) {
      const Clock::time_point due =
          t0 + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(i / options_.rate));
      if (due >= end) return;
      std::this_thread::sleep_until(due);
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return in_flight_ < options_.concurrency; });
      }
      if (!StartNext(due)) return;
    }
  }

  // Starts the next call, its latency counted from `start`. False when
  // stopping or when nothing is left.
  bool StartNext(Clock::time_point start) {
    if (stop_.load()) return false;
    const int64_t i = next_.fetch_add(1);
    if (options_.max_calls > 0 && i >= options_.max_calls) return false;
    std::unique_ptr<Call> call =
        factory_(i, static_cast<int>(i % num_channels_));
    if (call == nullptr) {
      exhausted_.store(true);
      stop_.store(true);
      return false;
    }
    call->context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::duration<double>(options_.deadline_s)));
    call->start = start;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
    }
    call.release()->Start(&pollers_[i % pollers_.size()].cq);
    return true;
  }

  void Poll(Poller& p) {
    void* tag = nullptr;
    bool ok = false;
    while (p.cq.Next(&tag, &ok)) {
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      const Clock::time_point now = Clock::now();
      p.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(now - call->start).count());
      p.last_done = now;
      if (!call->status.ok()) {
        ++p.errors;
        ++p.error_codes[CodeName(call->status.error_code())];
        if (p.first_error.empty()) {
          p.first_error = CodeName(call->status.error_code()) + ": " +
                          call->status.error_message();
        }
      } else if (!call->ResponseOk()) {
        ++p.errors;
        ++p.bad_responses;
        ++p.error_codes["BAD_RESPONSE"];
        if (p.first_error.empty()) p.first_error = "OK with a wrong response";
      } else {
        ++p.ok;
      }
      call.reset();
      // Closed loop: the next call first, so in-flight never drops to zero
      // while there is work left.
      if (options_.rate <= 0) StartNext(Clock::now());
      {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
      }
      cv_.notify_all();
    }
  }

  const CallFactory& factory_;
  const int num_channels_;
  const DriveOptions options_;
  std::vector<Poller> pollers_;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> exhausted_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t in_flight_ = 0;  // guarded by mu_
};

}  // namespace

double PhaseResult::Percentile(double p) const {
  if (latencies_ms.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * latencies_ms.size());
  const size_t index = static_cast<size_t>(
      std::clamp<double>(rank - 1, 0, latencies_ms.size() - 1));
  return latencies_ms[index];
}

PhaseResult Drive(const std::string& name, const CallFactory& factory,
                  int num_channels, const DriveOptions& options) {
  Driver driver(factory, num_channels, options);
  return driver.Run(name);
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int k = 0; k < std::max(n, 1); ++k) {
    grpc::ChannelArguments args;
    // Without these, channels to one target share a subchannel, i.e. one
    // TCP connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("ecsimage.bench.channel", k);
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channels.push_back(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

}  // namespace ecsimage::bench

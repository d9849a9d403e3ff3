// Per-account token buckets (api.md §4 Throttling; off unless
// `serve --rate-limit-per-account` is given). Time comes from the injected
// Clock so tests can move it.
#ifndef ECSIMAGE_SERVICE_GRPC_RATE_LIMITER_H_
#define ECSIMAGE_SERVICE_GRPC_RATE_LIMITER_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "service/domain/clock.h"

namespace ecsimage::grpcapi {

class AccountRateLimiter {
 public:
  // `per_second` > 0 tokens refill per second, up to `burst` (at least 1).
  AccountRateLimiter(double per_second, double burst, domain::Clock& clock);

  // Takes one token of `account_id`'s bucket; false when it is empty.
  // Thread-safe.
  bool Allow(const std::string& account_id);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  const double per_ms_;
  const double burst_;
  domain::Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_RATE_LIMITER_H_

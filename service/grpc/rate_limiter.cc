#include "service/grpc/rate_limiter.h"

#include <algorithm>

namespace ecsimage::grpcapi {

AccountRateLimiter::AccountRateLimiter(double per_second, double burst,
                                       domain::Clock& clock)
    : per_ms_(per_second / 1000.0),
      burst_(std::max(1.0, burst)),
      clock_(clock) {}

bool AccountRateLimiter::Allow(const std::string& account_id) {
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(account_id);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = burst_;
  } else if (now > b.updated_ms) {
    b.tokens = std::min(burst_, b.tokens + (now - b.updated_ms) * per_ms_);
  }
  b.updated_ms = std::max(b.updated_ms, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace ecsimage::grpcapi

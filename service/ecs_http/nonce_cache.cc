#include "service/ecs_http/nonce_cache.h"

namespace ecsimage::ecs_http {

void NonceCache::Expire(int64_t now_ms) {
  while (!order_.empty() &&
         (order_.front().first <= now_ms || order_.size() > capacity_)) {
    auto it = expires_.find(order_.front().second);
    if (it != expires_.end() && it->second == order_.front().first) {
      expires_.erase(it);
    }
    order_.pop_front();
  }
}

bool NonceCache::Insert(const std::string& key, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Expire(now_ms);
  auto it = expires_.find(key);
  if (it != expires_.end() && it->second > now_ms) return false;
  const int64_t expiry = now_ms + ttl_ms_;
  expires_[key] = expiry;
  order_.emplace_back(expiry, key);
  Expire(now_ms);
  return true;
}

size_t NonceCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return expires_.size();
}

}  // namespace ecsimage::ecs_http

// Signature nonces seen within the timestamp window, per replica, in
// bounded memory: at most `capacity` entries; when full, the oldest entry
// is forgotten early (a replay of that one request would then pass: the
// documented price of the bound). Thread-safe.
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_NONCE_CACHE_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_NONCE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace ecsimage::ecs_http {

class NonceCache {
 public:
  NonceCache(size_t capacity, int64_t ttl_ms)
      : capacity_(capacity), ttl_ms_(ttl_ms) {}

  // True if `key` was not seen within ttl before `now_ms` (and records it);
  // false for a replay.
  bool Insert(const std::string& key, int64_t now_ms);
  size_t size() const;

 private:
  void Expire(int64_t now_ms);  // mu_ held

  const size_t capacity_;
  const int64_t ttl_ms_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> expires_;   // key -> expiry
  std::deque<std::pair<int64_t, std::string>> order_;  // insertion order
};

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_NONCE_CACHE_H_

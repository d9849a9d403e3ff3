// Time as the domain sees it. The domain never reads the wall clock
// directly: tests inject a FakeClock and advance it.
#ifndef ECSIMAGE_SERVICE_DOMAIN_CLOCK_H_
#define ECSIMAGE_SERVICE_DOMAIN_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace ecsimage::domain {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in milliseconds. Thread-safe.
  virtual int64_t NowMs() = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() override;
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1700000000000) : now_ms_(start_ms) {}
  int64_t NowMs() override { return now_ms_.load(); }
  void AdvanceMs(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }
  void SetMs(int64_t now_ms) { now_ms_.store(now_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

// "2019-11-15T06:07:05Z".
std::string FormatIso8601(int64_t unix_ms);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_CLOCK_H_

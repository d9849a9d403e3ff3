// Identifiers: image "m-" + 20 [a-z0-9], task "t-" + 20, instance "i-" + 20,
// account 16 decimal digits, RequestId an uppercase UUID v4, tokens 32
// random bytes in URL-safe base64. Injected so tests can make them
// predictable.
#ifndef ECSIMAGE_SERVICE_DOMAIN_IDS_H_
#define ECSIMAGE_SERVICE_DOMAIN_IDS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace ecsimage::domain {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // All thread-safe.
  virtual std::string NewImageId() = 0;
  virtual std::string NewTaskId() = 0;
  virtual std::string NewInstanceId() = 0;
  virtual std::string NewSnapshotId() = 0;
  virtual std::string NewAccountId() = 0;
  virtual std::string NewRequestId() = 0;
  virtual std::string NewToken() = 0;
};

// Random ids from a CSPRNG-seeded engine (tokens from /dev/urandom).
class RandomIdGenerator final : public IdGenerator {
 public:
  // seed 0: seeded from std::random_device.
  explicit RandomIdGenerator(uint64_t seed = 0);
  std::string NewImageId() override;
  std::string NewTaskId() override;
  std::string NewInstanceId() override;
  std::string NewSnapshotId() override;
  std::string NewAccountId() override;
  std::string NewRequestId() override;
  std::string NewToken() override;

 private:
  std::string Alnum(std::string_view prefix, int n);
  std::mutex mu_;
  std::mt19937_64 engine_;  // guarded by mu_
};

// Shape checks.
bool IsImageIdShape(std::string_view id);     // m- + 20 [a-z0-9]
bool IsTaskIdShape(std::string_view id);      // t- + 20
bool IsInstanceIdShape(std::string_view id);  // i- + 20
bool IsAccountIdShape(std::string_view id);   // 16 digits
bool IsRequestIdShape(std::string_view id);   // uppercase UUID v4

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_IDS_H_

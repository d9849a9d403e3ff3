#include "service/domain/ids.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace ecsimage::domain {
namespace {

constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";

bool IsPrefixedAlnum(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 20 || id.substr(0, prefix.size()) != prefix)
    return false;
  for (char c : id.substr(prefix.size())) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

RandomIdGenerator::RandomIdGenerator(uint64_t seed) {
  if (seed == 0) {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) ^ rd();
  }
  engine_.seed(seed);
}

std::string RandomIdGenerator::Alnum(std::string_view prefix, int n) {
  std::string out(prefix);
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < n; ++i) out.push_back(kAlnum[engine_() % kAlnum.size()]);
  return out;
}

std::string RandomIdGenerator::NewImageId() { return Alnum("m-", 20); }
std::string RandomIdGenerator::NewTaskId() { return Alnum("t-", 20); }
std::string RandomIdGenerator::NewInstanceId() { return Alnum("i-", 20); }
std::string RandomIdGenerator::NewSnapshotId() { return Alnum("s-", 20); }

std::string RandomIdGenerator::NewAccountId() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.push_back(static_cast<char>('1' + engine_() % 9));
  for (int i = 0; i < 15; ++i)
    out.push_back(static_cast<char>('0' + engine_() % 10));
  return out;
}

std::string RandomIdGenerator::NewRequestId() {
  uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hi = engine_();
    lo = engine_();
  }
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return absl::StrFormat("%08X-%04X-%04X-%04X-%012X", hi >> 32,
                         (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                         lo & 0xFFFFFFFFFFFFULL);
}

std::string RandomIdGenerator::NewToken() {
  // Tokens are secrets: straight from the kernel's CSPRNG.
  std::string bytes(32, '\0');
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  urandom.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!urandom) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<char>(rd());
  }
  return "ecs_" + absl::WebSafeBase64Escape(bytes);
}

bool IsImageIdShape(std::string_view id) { return IsPrefixedAlnum(id, "m-"); }
bool IsTaskIdShape(std::string_view id) { return IsPrefixedAlnum(id, "t-"); }
bool IsInstanceIdShape(std::string_view id) {
  return IsPrefixedAlnum(id, "i-");
}

bool IsAccountIdShape(std::string_view id) {
  if (id.size() != 16) return false;
  for (char c : id) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsRequestIdShape(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return id[14] == '4' &&
         (id[19] == '8' || id[19] == '9' || id[19] == 'A' || id[19] == 'B');
}

}  // namespace ecsimage::domain

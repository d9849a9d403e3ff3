// Identity (api.md §2): tokens, accounts, and the seeded catalog.
#include <openssl/evp.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/domain/image_domain.h"
#include "util/absl_compat.h"
#include "util/status_macros.h"

namespace ecsimage::domain {

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), len);
}

std::string TokenIdOfHash(std::string_view token_sha256) {
  return absl::BytesToHexString(AV(token_sha256.substr(0, 8)));
}

std::string TokenId(std::string_view token) {
  return TokenIdOfHash(Sha256(token));
}

absl::StatusOr<std::string> Authenticator::Authenticate(
    std::string_view token) {
  // Tokens are looked up by their SHA-256: the secret itself is never
  // compared byte by byte, so timing reveals nothing about it.
  if (token.empty() || token.size() > 256) return Error(Err::kInvalidToken);
  std::string hash = Sha256(token);
  const int64_t now_ms = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end()) {
      const int64_t age_ms = now_ms - it->second.cached_at_ms;
      if (age_ms >= 0 && age_ms < kTokenCacheMs) return it->second.account_id;
      cache_.erase(it);
    }
  }
  store_lookups_.fetch_add(1, std::memory_order_relaxed);
  ASSIGN_OR_RETURN(auto account, store_.AccountForTokenHash(hash));
  if (!account.has_value()) return Error(Err::kInvalidToken);
  {
    // Stamped with the time before the lookup: the entry never outlives a
    // revocation the lookup missed by more than kTokenCacheMs.
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= max_cached_) cache_.clear();
    cache_[std::move(hash)] = Cached{*account, now_ms};
  }
  return *account;
}

namespace {

absl::Status CheckAccountName(const std::string& name) {
  if (name.empty() || name.size() > 128) {
    return Error(Err::kInvalidParameter).Param("name", "1-128 characters");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AccountAdmin::Created> AccountAdmin::CreateAccount(
    const std::string& name) {
  RETURN_IF_ERROR(CheckAccountName(name));
  Created created;
  created.account_id = ids_.NewAccountId();
  created.token = ids_.NewToken();
  storage::AccountRow row;
  row.account_id = created.account_id;
  row.name = name;
  row.created_at_ms = clock_.NowMs();
  RETURN_IF_ERROR(store_.CreateAccount(row, Sha256(created.token)));
  created.token_id = TokenId(created.token);
  return created;
}

namespace {

absl::Status NoSuchAccount(const std::string& account_id) {
  return Error(Err::kInvalidParameter)
      .Param("account", absl::StrCat("no account ", account_id));
}

absl::Status NoSuchToken(const std::string& account_id,
                         const std::string& token_id) {
  return Error(Err::kInvalidParameter)
      .Param("token-id",
             absl::StrCat("account ", account_id,
                          " has no token with token_id ", token_id));
}

}  // namespace

absl::StatusOr<AccountAdmin::Created> AccountAdmin::CreateToken(
    const std::string& account_id) {
  Created created;
  created.account_id = account_id;
  created.token = ids_.NewToken();
  storage::TokenRow row;
  row.token_sha256 = Sha256(created.token);
  row.account_id = account_id;
  row.created_at_ms = clock_.NowMs();
  ASSIGN_OR_RETURN(bool added, store_.AddToken(row));
  if (!added) return NoSuchAccount(account_id);
  created.token_id = TokenIdOfHash(row.token_sha256);
  return created;
}

absl::StatusOr<std::vector<AccountAdmin::TokenInfo>> AccountAdmin::ListTokens(
    const std::string& account_id) {
  ASSIGN_OR_RETURN(std::optional<std::vector<storage::TokenRow>> rows,
                   store_.ListTokens(account_id));
  if (!rows.has_value()) return NoSuchAccount(account_id);
  std::vector<TokenInfo> tokens;
  tokens.reserve(rows->size());
  for (const storage::TokenRow& row : *rows) {
    tokens.push_back({TokenIdOfHash(row.token_sha256), row.created_at_ms});
  }
  return tokens;
}

absl::StatusOr<AccountAdmin::Revoked> AccountAdmin::RevokeToken(
    const std::string& account_id, const std::string& token_id) {
  ASSIGN_OR_RETURN(std::optional<std::vector<storage::TokenRow>> rows,
                   store_.ListTokens(account_id));
  if (!rows.has_value()) return NoSuchAccount(account_id);
  const storage::TokenRow* match = nullptr;
  int matches = 0;
  for (const storage::TokenRow& row : *rows) {
    if (TokenIdOfHash(row.token_sha256) == token_id) {
      match = &row;
      ++matches;
    }
  }
  if (matches > 1) {
    return Error(Err::kInvalidParameter)
        .Param("token-id", absl::StrCat("token_id ", token_id, " matches ",
                                        matches, " tokens of account ",
                                        account_id, "; nothing revoked"));
  }
  if (match == nullptr) return NoSuchToken(account_id, token_id);
  // Deleted by its full hash and scoped to the account: a token revoked
  // meanwhile by someone else is reported as absent, never another one.
  ASSIGN_OR_RETURN(std::optional<int64_t> left,
                   store_.DeleteToken(account_id, match->token_sha256));
  if (!left.has_value()) return NoSuchToken(account_id, token_id);
  return Revoked{token_id, *left};
}

absl::Status SeedCatalog(storage::Store& store, int64_t now_ms) {
  struct RegionSeed {
    const char* id;
    const char* name;
  };
  static constexpr RegionSeed kRegions[] = {
      {"cn-hangzhou", "China (Hangzhou)"}, {"cn-shanghai", "China (Shanghai)"},
      {"cn-beijing", "China (Beijing)"},   {"cn-shenzhen", "China (Shenzhen)"},
      {"ap-southeast-1", "Singapore"},
  };
  struct SystemImageSeed {
    const char* id;
    const char* platform;
    const char* os_type;
    const char* architecture;
    int size_gib;
  };
  static constexpr SystemImageSeed kSystemImages[] = {
      {"ubuntu_22_04_x64_20G_alibase_20240101.vhd", "Ubuntu", "linux", "x86_64",
       20},
      {"centos_7_9_x64_20G_alibase_20240101.vhd", "CentOS", "linux", "x86_64",
       20},
      {"aliyun_3_x64_20G_alibase_20240101.vhd", "Aliyun", "linux", "x86_64",
       20},
      {"ubuntu_22_04_arm64_20G_alibase_20240101.vhd", "Ubuntu", "linux",
       "arm64", 20},
      {"win2022_21H2_x64_dtc_en-us_40G_alibase_20240101.vhd",
       "Windows Server 2022", "windows", "x86_64", 40},
  };
  std::vector<storage::RegionRow> regions;
  std::vector<storage::ImageRow> images;
  for (const auto& r : kRegions) {
    regions.push_back(
        {r.id, r.name, absl::StrCat("ecs.", r.id, ".aliyuncs.com")});
    for (const auto& s : kSystemImages) {
      storage::ImageRow image;
      image.image_id = s.id;
      image.region_id = r.id;
      image.is_system = true;
      image.name = s.id;
      image.description = absl::StrCat(s.platform, " system image");
      image.status = "Available";
      image.progress = 100;
      image.size_gib = s.size_gib;
      image.architecture = s.architecture;
      image.os_type = s.os_type;
      image.platform = s.platform;
      image.created_at_ms = now_ms;
      image.disks.push_back({"/dev/xvda", "system", "", s.size_gib});
      images.push_back(std::move(image));
    }
  }
  return store.SeedIfEmpty(regions, images);
}

absl::Status CheckBootstrapToken(std::string_view token) {
  // What a Bearer header can carry (no spaces, printable ASCII) and
  // Authenticate accepts, and long enough not to be guessed.
  bool printable = true;
  for (char c : token) printable = printable && c > ' ' && c <= '~';
  if (token.size() < 32 || token.size() > 256 || !printable) {
    return Error(Err::kInvalidParameter)
        .Param("bootstrap-token",
               "32-256 printable ASCII characters without spaces");
  }
  return absl::OkStatus();
}

absl::StatusOr<AccountAdmin::Bootstrapped> AccountAdmin::EnsureBootstrapToken(
    const std::string& name, const std::string& token) {
  RETURN_IF_ERROR(CheckAccountName(name));
  RETURN_IF_ERROR(CheckBootstrapToken(token));
  storage::AccountRow if_new;
  if_new.account_id = ids_.NewAccountId();
  if_new.name = name;
  if_new.created_at_ms = clock_.NowMs();
  const std::string hash = Sha256(token);
  ASSIGN_OR_RETURN(storage::Store::EnsuredToken ensured,
                   store_.EnsureAccountToken(if_new, hash));
  Bootstrapped out;
  out.account_id = std::move(ensured.account_id);
  out.token_id = TokenIdOfHash(hash);
  out.account_created = ensured.account_created;
  out.token_added = ensured.token_added;
  return out;
}

}  // namespace ecsimage::domain

#include "service/domain/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/domain/image_domain.h"
#include "util/absl_compat.h"

namespace ecsimage::domain {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

}  // namespace

SecretBox::SecretBox(std::string key)
    : key_(std::move(key)),
      key_id_(absl::BytesToHexString(
          AV(Sha256(absl::StrCat("ecsimage secret key", key_)).substr(0, 8)))) {
}

absl::StatusOr<std::string> SecretBox::Seal(
    std::string_view plaintext, std::string_view associated_data) const {
  if (key_.size() != kKeyBytes) return absl::InternalError("bad key size");
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  if (RAND_bytes(U(out), kNonceBytes) != 1) {
    return absl::InternalError("no randomness");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  unsigned char* ct = U(out) + kNonceBytes;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key_),
                         U(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          ct + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM seal failed");
  }
  return out;
}

absl::StatusOr<std::string> SecretBox::Open(
    std::string_view sealed, std::string_view associated_data) const {
  if (key_.size() != kKeyBytes) return absl::InternalError("bad key size");
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("sealed secret too short");
  }
  const size_t ct_len = sealed.size() - kNonceBytes - kTagBytes;
  std::string out(ct_len, '\0');
  std::string tag(sealed.substr(kNonceBytes + ct_len));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key_),
                         U(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), U(out), &len, U(sealed) + kNonceBytes,
                        static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, U(tag)) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), U(out) + len, &len) != 1) {
    return absl::DataLossError("sealed secret does not open with this key");
  }
  return out;
}

absl::StatusOr<std::string> LoadSecretKeyFile(const std::string& path,
                                              std::string* warning) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret key file ", path, ": cannot be read"));
  }
  // Read at most one byte past the size: a big file is refused unread.
  std::string key(kKeyBytes + 1, '\0');
  in.read(key.data(), static_cast<std::streamsize>(key.size()));
  key.resize(static_cast<size_t>(in.gcount()));
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secret key file ", path,
        ": must hold exactly 32 raw bytes (make one with: head -c 32 "
        "/dev/urandom > FILE; chmod 600 FILE)"));
  }
  struct stat st {};
  if (warning != nullptr && ::stat(path.c_str(), &st) == 0 &&
      (st.st_mode & 077) != 0) {
    *warning = absl::StrCat("secret key file ", path,
                            " is readable by group or others (chmod 600)");
  }
  return key;
}

}  // namespace ecsimage::domain

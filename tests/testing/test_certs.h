// Certificates made at test time with Debian's `openssl` command: a CA and
// leaves it signs (P-256 keys, valid for two days, SAN localhost and
// 127.0.0.1, usable as server and as client certificates).
#ifndef ECSIMAGE_TESTS_TESTING_TEST_CERTS_H_
#define ECSIMAGE_TESTS_TESTING_TEST_CERTS_H_

#include <string>

namespace ecsimage::testing {

struct CertFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key, unencrypted
};

// Files under `dir`, named after `name`. Each call fails the test (and
// returns empty paths) when openssl does.
CertFiles MakeCa(const std::string& dir, const std::string& name);
CertFiles MakeLeaf(const std::string& dir, const std::string& name,
                   const CertFiles& ca);

// The whole file; "" when it cannot be read.
std::string ReadFileText(const std::string& path);
// Writes `text` to `path` + ".tmp" and renames it over `path`, as an
// operator (or a Kubernetes Secret volume) replaces a file atomically.
void ReplaceFile(const std::string& path, const std::string& text);

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_TESTING_TEST_CERTS_H_

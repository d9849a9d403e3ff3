#include "tests/testing/test_certs.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ecsimage::testing {
namespace {

// Runs `command` through the shell with its output in dir/openssl.log;
// fails the test with that log when it exits non-zero.
bool Run(const std::string& dir, const std::string& command) {
  const std::string log = dir + "/openssl.log";
  const int rc = std::system((command + " >'" + log + "' 2>&1").c_str());
  if (rc != 0) {
    ADD_FAILURE() << command << "\nexit " << rc << "\n" << ReadFileText(log);
    return false;
  }
  return true;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

constexpr char kNewKey[] =
    "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

}  // namespace

CertFiles MakeCa(const std::string& dir, const std::string& name) {
  CertFiles ca{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  if (!Run(dir, "openssl req -x509 " + std::string(kNewKey) + " -keyout " +
                    Quote(ca.key) + " -out " + Quote(ca.cert) +
                    " -days 2 -subj /CN=" + name +
                    " -addext basicConstraints=critical,CA:TRUE"
                    " -addext keyUsage=critical,keyCertSign,cRLSign")) {
    return {};
  }
  return ca;
}

CertFiles MakeLeaf(const std::string& dir, const std::string& name,
                   const CertFiles& ca) {
  CertFiles leaf{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  const std::string csr = dir + "/" + name + ".csr";
  const std::string ext = dir + "/" + name + ".ext";
  {
    std::ofstream out(ext);
    out << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
           "extendedKeyUsage=serverAuth,clientAuth\n";
  }
  if (!Run(dir, "openssl req " + std::string(kNewKey) + " -keyout " +
                    Quote(leaf.key) + " -out " + Quote(csr) +
                    " -subj /CN=" + name) ||
      !Run(dir, "openssl x509 -req -in " + Quote(csr) + " -CA " +
                    Quote(ca.cert) + " -CAkey " + Quote(ca.key) +
                    " -set_serial " + std::to_string(std::rand()) +
                    " -days 2 -extfile " + Quote(ext) + " -out " +
                    Quote(leaf.cert))) {
    return {};
  }
  return leaf;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ReplaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << tmp;
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

}  // namespace ecsimage::testing

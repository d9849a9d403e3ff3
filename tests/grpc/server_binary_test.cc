// The `ecsimage` binary as an operator runs it: `account create`, token
// rotation (`account token create|list|revoke`) against a running server,
// `migrate`, and `serve` on a free port through its SIGTERM sequence. No
// sleeps: every wait is on a condition (a log line, a health answer, a pipe's
// end) with a deadline.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "service/grpc/tls_credentials.h"
#include "tests/grpc/contract_helpers.h"
#include "tests/testing/reflection_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certs.h"
#include "tests/testing/test_server.h"

extern char** environ;

namespace ecsimage {
namespace {

using ::ecsimage::testing::TempDir;

namespace v1 = ::ecs::image::v1;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr auto kTimeout = std::chrono::seconds(30);

// A child process with its stdout and stderr on pipes.
class Child {
 public:
  Child(const std::vector<std::string>& args,
        const std::vector<std::string>& extra_env = {}) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    // The test process may block signals; the child starts clean.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> argv_strings = {ECSIMAGE_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("ECSIMAGE_", 0) != 0) env_strings.push_back(*e);
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    int rc = posix_spawn(&pid_, ECSIMAGE_BINARY, &actions, &attr, argv.data(),
                         envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn: " << rc;
      pid_ = -1;
    }
  }

  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }

  pid_t pid() const { return pid_; }

  // The next stderr line, or nullopt at EOF or when `deadline` passed.
  std::optional<std::string> NextErrLine(Clock::time_point deadline) {
    while (true) {
      size_t nl = err_buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = err_buf_.substr(0, nl);
        err_buf_.erase(0, nl + 1);
        err_text_ += line + "\n";
        return line;
      }
      if (err_eof_) return std::nullopt;
      if (!Fill(err_fd_, &err_buf_, &err_eof_, deadline, &out_buf_)) {
        return std::nullopt;
      }
    }
  }

  // Reads stderr until a line contains `needle`.
  std::optional<std::string> WaitForErrLine(const std::string& needle,
                                            Clock::time_point deadline) {
    while (std::optional<std::string> line = NextErrLine(deadline)) {
      if (line->find(needle) != std::string::npos) return line;
    }
    return std::nullopt;
  }

  // Reads both pipes to EOF and reaps the child; its exit code, or -1 on
  // timeout or a signal.
  int Wait(Clock::time_point deadline) {
    while (!err_eof_ || !out_eof_) {
      if (!err_eof_) {
        while (NextErrLine(deadline)) {
        }
        if (!err_eof_) return -1;
      }
      if (!out_eof_ &&
          !Fill(out_fd_, &out_buf_, &out_eof_, deadline, nullptr)) {
        return -1;
      }
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Everything read so far.
  const std::string& out() const { return out_buf_; }
  std::string err() const { return err_text_ + err_buf_; }

 private:
  // Reads what `fd` has; meanwhile drains stdout into `side` so the child
  // never blocks on a full pipe. False on timeout.
  bool Fill(int fd, std::string* buf, bool* eof, Clock::time_point deadline,
            std::string* side) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {out_fd_, POLLIN, 0}};
    const int nfds = (side != nullptr && fd != out_fd_ && !out_eof_) ? 2 : 1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return false;
    int n = ::poll(fds, nfds, static_cast<int>(left.count()));
    if (n <= 0) return n < 0 && errno == EINTR;
    char chunk[4096];
    if (nfds == 2 && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      ssize_t r = ::read(out_fd_, chunk, sizeof(chunk));
      if (r > 0) {
        side->append(chunk, static_cast<size_t>(r));
      } else {
        out_eof_ = true;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t r = ::read(fd, chunk, sizeof(chunk));
      if (r > 0) {
        buf->append(chunk, static_cast<size_t>(r));
      } else {
        *eof = true;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool out_eof_ = false;
  bool err_eof_ = false;
  std::string out_buf_;
  std::string err_buf_;
  std::string err_text_;
};

// Runs to completion.
struct Result {
  int code;
  std::string out;
  std::string err;
};
Result RunBinary(const std::vector<std::string>& args,
                 const std::vector<std::string>& env = {}) {
  Child child(args, env);
  int code = child.Wait(Clock::now() + kTimeout);
  return {code, child.out(), child.err()};
}

const std::regex kAccountLine(
    R"(\{"account_id":"[0-9]{16}","token":"[A-Za-z0-9_-]{20,}","token_id":"[0-9a-f]{16}"\}\n)");

TEST(BinaryTest, AccountCreatePrintsExactlyOneJsonLine) {
  TempDir dir;
  const std::string db = dir.path() + "/e.db";
  Result migrate = RunBinary({"migrate", "--db", db});
  ASSERT_EQ(migrate.code, 0) << migrate.err;
  EXPECT_THAT(migrate.err, HasSubstr("\"schemaVersion\":"));

  Result created =
      RunBinary({"account", "create", "--name", "alice", "--db", db});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_TRUE(std::regex_match(created.out, kAccountLine)) << created.out;

  // Flags also come from ECSIMAGE_* variables.
  Result from_env = RunBinary({"account", "create"},
                              {"ECSIMAGE_DB=" + db, "ECSIMAGE_NAME=bob"});
  ASSERT_EQ(from_env.code, 0) << from_env.err;
  EXPECT_TRUE(std::regex_match(from_env.out, kAccountLine)) << from_env.out;
  EXPECT_NE(from_env.out, created.out);
}

TEST(BinaryTest, AccountCreateRefusesAMissingDatabase) {
  TempDir dir;
  const std::string db = dir.path() + "/missing/e.db";
  Result r = RunBinary({"account", "create", "--name", "alice", "--db", db});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(BinaryTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunBinary({}).code, 2);
  EXPECT_EQ(RunBinary({"frobnicate"}).code, 2);
  EXPECT_EQ(RunBinary({"serve", "--no-such-flag"}).code, 2);
  EXPECT_EQ(RunBinary({"account", "create"}).code, 2);  // --name missing
  Result help = RunBinary({"serve", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("ECSIMAGE_LISTEN"));
}

TEST(BinaryTest, ServeRefusesToCreateWhenToldNotTo) {
  TempDir dir;
  const std::string db = dir.path() + "/e.db";
  Result r = RunBinary({"serve", "--db", db, "--listen", "127.0.0.1:0",
                        "--create-if-missing=false"});
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(std::filesystem::exists(db));
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    grpc::health::v1::Health::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status =
      stub.Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  if (!status.ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return response.status();
}

// Polls Health until it stops answering SERVING (bounded by kTimeout);
// returns the first other answer.
grpc::health::v1::HealthCheckResponse::ServingStatus HealthOnceServingEnds(
    grpc::health::v1::Health::Stub& stub) {
  const auto until = Clock::now() + kTimeout;
  auto seen = grpc::health::v1::HealthCheckResponse::SERVING;
  while (Clock::now() < until &&
         (seen = Health(stub)) ==
             grpc::health::v1::HealthCheckResponse::SERVING) {
  }
  return seen;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(BinaryTest, ServeOnAFreePortDrainsAndExitsZeroOnSigterm) {
  TempDir dir;
  const std::string db = dir.path() + "/data/e.db";  // directory created
  Child serve({"serve", "--listen", "127.0.0.1:0", "--shutdown-grace-seconds",
               "30", "--log-calls=false"},
              {"ECSIMAGE_DB=" + db});
  std::optional<std::string> started =
      serve.WaitForErrLine("\"msg\":\"started\"", Clock::now() + kTimeout);
  ASSERT_TRUE(started.has_value()) << serve.err();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*started, m, std::regex(R"("port":(\d+))")))
      << *started;
  const std::string address = "127.0.0.1:" + m[1].str();
  EXPECT_THAT(*started, HasSubstr("\"schemaVersion\":"));
  EXPECT_THAT(*started, HasSubstr("\"newDatabase\":true"));

  // The demo account: its token file is private and works.
  const std::string token_file = db + ".token";
  struct stat st;
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::smatch t;
  const std::string token_json = ReadFile(token_file);
  ASSERT_TRUE(
      std::regex_search(token_json, t, std::regex(R"("token":"([^"]+)\")")));
  const std::string token = t[1].str();

  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + kTimeout));
  auto health = grpc::health::v1::Health::NewStub(channel);
  EXPECT_EQ(Health(*health), grpc::health::v1::HealthCheckResponse::SERVING);
  auto images = v1::ImageService::NewStub(channel);
  auto describe = [&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::DescribeRegionsResponse response;
    return images->DescribeRegions(&context, v1::DescribeRegionsRequest(),
                                   &response);
  };
  EXPECT_TRUE(describe().ok());
  // The shipped binary (not only the test's) serves the descriptors grpcurl
  // needs: the services, error details and health.
  EXPECT_THAT(testing::ListServices(channel),
              ::testing::IsSupersetOf({"ecs.image.v1.ImageService",
                                       "ecs.image.v1.InstanceService",
                                       "grpc.health.v1.Health"}));
  EXPECT_THAT(
      testing::ListServices(channel),
      ::testing::Not(::testing::Contains("ecs.image.v1.SimulationControl")));
  EXPECT_THAT(testing::FilesContainingSymbol(channel, "google.rpc.ErrorInfo"),
              ::testing::Contains("google/rpc/error_details.proto"));
  EXPECT_THAT(testing::FilesContainingSymbol(channel, "grpc.health.v1.Health"),
              ::testing::Contains("grpc/health/v1/health.proto"));

  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  ASSERT_TRUE(
      serve.WaitForErrLine("\"msg\":\"stopping\"", Clock::now() + kTimeout)
          .has_value())
      << serve.err();
  // During the grace period: NOT_SERVING, and calls are still answered.
  EXPECT_EQ(HealthOnceServingEnds(*health),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(describe().ok());

  // An idle client acks the server's GOAWAY ping only when its backup
  // poller runs (every 5 s), which would hold Shutdown that long: hang up.
  health.reset();
  images.reset();
  channel.reset();
  // A second signal ends the grace period early.
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  EXPECT_EQ(serve.Wait(Clock::now() + kTimeout), 0) << serve.err();
  EXPECT_THAT(serve.err(), HasSubstr("\"msg\":\"stopped\""));
  // The banner names the account and ready-to-paste commands.
  EXPECT_THAT(serve.out(), HasSubstr(token));
  EXPECT_THAT(serve.out(),
              HasSubstr("grpcurl -plaintext " + address + " list"));
  EXPECT_THAT(serve.out(), HasSubstr("ImageService/CancelCopyImage"));
  EXPECT_THAT(serve.err(), ::testing::Not(HasSubstr(token)));

  // Restart on the same database: no new account, the same banner.
  Child again({"serve", "--db", db, "--listen", "127.0.0.1:0",
               "--shutdown-grace-seconds", "0"});
  std::optional<std::string> restarted =
      again.WaitForErrLine("\"msg\":\"started\"", Clock::now() + kTimeout);
  ASSERT_TRUE(restarted.has_value()) << again.err();
  EXPECT_THAT(*restarted, HasSubstr("\"newDatabase\":false"));
  ASSERT_EQ(::kill(again.pid(), SIGINT), 0);
  EXPECT_EQ(again.Wait(Clock::now() + kTimeout), 0) << again.err();
  EXPECT_THAT(again.out(), HasSubstr(token));
  EXPECT_EQ(ReadFile(token_file), token_json);
}

TEST(BinaryTest, ServeRefusesHalfATlsConfigurationAndBadTlsFiles) {
  TempDir dir;
  const std::string db = dir.path() + "/e.db";
  const std::string cert = dir.path() + "/missing-cert.pem";
  const std::string key = dir.path() + "/missing-key.pem";
  Result only_cert = RunBinary(
      {"serve", "--db", db, "--listen", "127.0.0.1:0", "--tls-cert", cert});
  EXPECT_EQ(only_cert.code, 2);
  EXPECT_THAT(only_cert.err, HasSubstr("set both or neither"));
  Result only_key = RunBinary({"serve", "--db", db, "--listen", "127.0.0.1:0"},
                              {"ECSIMAGE_TLS_KEY=" + key});
  EXPECT_EQ(only_key.code, 2);
  EXPECT_THAT(only_key.err, HasSubstr("set both or neither"));
  Result ca_alone = RunBinary({"serve", "--db", db, "--listen", "127.0.0.1:0",
                               "--tls-client-ca", cert});
  EXPECT_EQ(ca_alone.code, 2);

  // Both given but unreadable: refused before anything is created.
  Result missing = RunBinary({"serve", "--db", db, "--listen", "127.0.0.1:0",
                              "--tls-cert", cert, "--tls-key", key});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("invalid TLS files"));
  EXPECT_THAT(missing.err, HasSubstr("missing-cert.pem"));
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(BinaryTest, ServeWithTlsAndAPlaintextHealthPort) {
  TempDir dir;
  const std::string db = dir.path() + "/e.db";
  const testing::CertFiles ca = testing::MakeCa(dir.path(), "ca");
  const testing::CertFiles leaf = testing::MakeLeaf(dir.path(), "leaf", ca);
  ASSERT_FALSE(leaf.cert.empty());
  Child serve(
      {"serve", "--db", db, "--listen", "127.0.0.1:0", "--health-listen",
       "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
       "--shutdown-grace-seconds", "30", "--log-calls=false"},
      {"ECSIMAGE_TLS_CERT=" + leaf.cert, "ECSIMAGE_TLS_KEY=" + leaf.key});
  std::optional<std::string> started =
      serve.WaitForErrLine("\"msg\":\"started\"", Clock::now() + kTimeout);
  ASSERT_TRUE(started.has_value()) << serve.err();
  EXPECT_THAT(*started, HasSubstr("\"transport\":\"tls\""));
  EXPECT_THAT(*started, HasSubstr("\"tlsSubject\":\"CN=leaf\""));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*started, m, std::regex(R"("port":(\d+))")));
  const std::string api = "127.0.0.1:" + m[1].str();
  ASSERT_TRUE(
      std::regex_search(*started, m, std::regex(R"("healthPort":(\d+))")));
  const std::string health_address = "127.0.0.1:" + m[1].str();
  EXPECT_THAT(serve.out(), HasSubstr("grpcurl -cacert CA.pem " + api));

  // /metrics carries the served certificate's expiry for alerts.
  ASSERT_TRUE(
      std::regex_search(*started, m, std::regex(R"("metricsPort":(\d+))")));
  httplib::Client scraper("127.0.0.1", std::stoi(m[1].str()));
  httplib::Result scraped = scraper.Get("/metrics");
  ASSERT_TRUE(scraped) << httplib::to_string(scraped.error());
  grpcapi::TlsFiles files;
  files.cert_file = leaf.cert;
  files.key_file = leaf.key;
  absl::StatusOr<grpcapi::TlsFileInfo> info = grpcapi::CheckTlsFiles(files);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(scraped->body,
              HasSubstr("\necsimage_tls_certificate_expiry_timestamp_seconds " +
                        std::to_string(info->not_after_unix)));

  {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = testing::ReadFileText(ca.cert);
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(api, grpc::SslCredentials(tls)));
    EXPECT_EQ(Health(*stub), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(health_address, grpc::InsecureChannelCredentials()));
  EXPECT_EQ(Health(*health), grpc::health::v1::HealthCheckResponse::SERVING);

  // SIGTERM: the health port says NOT_SERVING during the grace period.
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  EXPECT_EQ(HealthOnceServingEnds(*health),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  health.reset();  // see above: idle clients hold Shutdown
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  EXPECT_EQ(serve.Wait(Clock::now() + kTimeout), 0) << serve.err();
}

// Lowercase hex SHA-256, computed here independently of the service.
std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

// The string value of "key" in a one-line JSON object ("" if absent).
std::string JsonStr(const std::string& json, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + key + "\":\"([^\"]*)\""))) {
    return "";
  }
  return m[1].str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The address in serve's "started" line.
std::optional<std::string> WaitStarted(Child& serve) {
  std::optional<std::string> started =
      serve.WaitForErrLine("\"msg\":\"started\"", Clock::now() + kTimeout);
  if (!started.has_value()) return std::nullopt;
  std::smatch m;
  if (!std::regex_search(*started, m, std::regex(R"("port":(\d+))"))) {
    return std::nullopt;
  }
  return "127.0.0.1:" + m[1].str();
}

constexpr char kInvalidTokenMessage[] =
    "The bearer token is missing or not valid.";

TEST(BinaryTest, TokensAreRotatedAndRevokedWhileServing) {
  TempDir dir;
  const std::string db = dir.path() + "/e.db";
  // Call logging on (the default): no token may reach the log.
  Child serve({"serve", "--db", db, "--listen", "127.0.0.1:0",
               "--shutdown-grace-seconds", "0"});
  const std::optional<std::string> address = WaitStarted(serve);
  ASSERT_TRUE(address.has_value()) << serve.err();

  // The demo account's token file names its token_id too.
  const std::string token_file = db + ".token";
  const std::string token_json = ReadFile(token_file);
  const std::string account = JsonStr(token_json, "account_id");
  const std::string old_token = JsonStr(token_json, "token");
  ASSERT_FALSE(old_token.empty()) << token_json;
  const std::string old_id = Sha256Hex(old_token).substr(0, 16);
  EXPECT_EQ(JsonStr(token_json, "token_id"), old_id);

  auto channel =
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + kTimeout));
  auto images = v1::ImageService::NewStub(channel);
  auto call = [&](const std::string& token) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::DescribeRegionsResponse response;
    grpc::Status status = images->DescribeRegions(
        &context, v1::DescribeRegionsRequest(), &response);
    return testing::Decode(status, context);
  };
  auto expect_invalid_token = [](const testing::Decoded& d) {
    testing::contract::ExpectEcsError(d, grpc::StatusCode::UNAUTHENTICATED,
                                      "InvalidToken", 401, kInvalidTokenMessage,
                                      testing::contract::Detail::kNone);
  };
  // The server's token cache (scale-out.md §5) may answer from a lookup made
  // before a revocation for the rest of that lookup's second (the cache's
  // own bound is proven with a fake clock in authenticator_test.cc): right
  // after the revocation either answer is allowed, a second after it began
  // only InvalidToken. One wait, no poll: the server's clock is real here,
  // and a busy poll would fill the access log's pipe.
  auto expect_refused_within_a_second =
      [&](const std::string& token,
          std::chrono::steady_clock::time_point revoke_started) {
        const grpc::StatusCode right_after = call(token).code;
        EXPECT_TRUE(right_after == grpc::StatusCode::OK ||
                    right_after == grpc::StatusCode::UNAUTHENTICATED)
            << right_after;
        std::this_thread::sleep_until(revoke_started +
                                      std::chrono::milliseconds(1000 + 50));
        expect_invalid_token(call(token));
      };
  EXPECT_EQ(call(old_token).code, grpc::StatusCode::OK);

  // A second token: works at once on the running server, the old one too.
  Result created = RunBinary(
      {"account", "token", "create", "--account", account, "--db", db});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_TRUE(std::regex_match(
      created.out,
      std::regex(
          R"(\{"account_id":")" + account +
          R"(","token":"[A-Za-z0-9_-]{20,}","token_id":"[0-9a-f]{16}"\}\n)")))
      << created.out;
  const std::string new_token = JsonStr(created.out, "token");
  const std::string new_id = JsonStr(created.out, "token_id");
  EXPECT_EQ(new_id, Sha256Hex(new_token).substr(0, 16));
  EXPECT_NE(new_token, old_token);
  EXPECT_EQ(created.err, "");
  EXPECT_EQ(call(new_token).code, grpc::StatusCode::OK);
  EXPECT_EQ(call(old_token).code, grpc::StatusCode::OK);

  // The list: token_id and time of each, no secret, no full hash. Flags from
  // ECSIMAGE_* variables.
  Result listed =
      RunBinary({"account", "token", "list"},
                {"ECSIMAGE_DB=" + db, "ECSIMAGE_ACCOUNT=" + account});
  ASSERT_EQ(listed.code, 0) << listed.err;
  const std::regex kListLine(
      R"re(\{"token_id":"([0-9a-f]{16})","created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\})re");
  std::vector<std::string> ids;
  for (const std::string& line : Lines(listed.out)) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, kListLine)) << line;
    if (m.size() == 2) ids.push_back(m[1].str());
  }
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre(old_id, new_id));
  for (const std::string& secret :
       {old_token, new_token, Sha256Hex(old_token), Sha256Hex(new_token)}) {
    EXPECT_THAT(listed.out, ::testing::Not(HasSubstr(secret)));
    EXPECT_THAT(created.err + listed.err, ::testing::Not(HasSubstr(secret)));
  }

  // Revoke the old (demo) token: refused within one second with
  // InvalidToken, the new one keeps working; the CLI says it was the token
  // file's.
  const auto revoke_started = std::chrono::steady_clock::now();
  Result revoked =
      RunBinary({"account", "token", "revoke"},
                {"ECSIMAGE_DB=" + db, "ECSIMAGE_ACCOUNT=" + account,
                 "ECSIMAGE_TOKEN_ID=" + old_id});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  EXPECT_EQ(revoked.out, "{\"account_id\":\"" + account + "\",\"token_id\":\"" +
                             old_id + "\",\"tokens_left\":1}\n");
  EXPECT_THAT(revoked.err,
              HasSubstr("the revoked token is the one kept in the token file"));
  EXPECT_THAT(revoked.err, ::testing::Not(HasSubstr("no token left")));
  expect_refused_within_a_second(old_token, revoke_started);
  EXPECT_EQ(call(new_token).code, grpc::StatusCode::OK);

  // Revoking it again changes nothing and fails.
  Result again = RunBinary({"account", "token", "revoke", "--account", account,
                            "--token-id", old_id, "--db", db});
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.out, "");
  EXPECT_THAT(again.err, HasSubstr("account " + account +
                                   " has no token with token_id " + old_id));
  Result one_left =
      RunBinary({"account", "token", "list", "--account", account, "--db", db});
  ASSERT_EQ(one_left.code, 0) << one_left.err;
  ASSERT_EQ(Lines(one_left.out).size(), 1u) << one_left.out;
  EXPECT_EQ(JsonStr(one_left.out, "token_id"), new_id);

  // Another account cannot revoke this account's token.
  Result alice =
      RunBinary({"account", "create", "--name", "alice", "--db", db});
  ASSERT_EQ(alice.code, 0) << alice.err;
  const std::string alice_id = JsonStr(alice.out, "account_id");
  const std::string alice_token = JsonStr(alice.out, "token");
  const std::string alice_tid = JsonStr(alice.out, "token_id");
  EXPECT_EQ(alice_tid, Sha256Hex(alice_token).substr(0, 16));
  Result cross = RunBinary({"account", "token", "revoke", "--account", alice_id,
                            "--token-id", new_id, "--db", db});
  EXPECT_EQ(cross.code, 1);
  EXPECT_EQ(cross.out, "");
  EXPECT_THAT(cross.err, HasSubstr("account " + alice_id +
                                   " has no token with token_id " + new_id));
  EXPECT_EQ(call(new_token).code, grpc::StatusCode::OK);
  EXPECT_EQ(call(alice_token).code, grpc::StatusCode::OK);

  // Unknown accounts: a clear error, nothing printed on stdout.
  const std::string nobody = "9999999999999999";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"account", "token", "create", "--account", nobody, "--db", db},
           {"account", "token", "list", "--account", nobody, "--db", db},
           {"account", "token", "revoke", "--account", nobody, "--token-id",
            new_id, "--db", db}}) {
    Result r = RunBinary(args);
    EXPECT_EQ(r.code, 1) << args[2];
    EXPECT_EQ(r.out, "") << args[2];
    EXPECT_THAT(r.err, HasSubstr("no account " + nobody)) << args[2];
  }

  // Revoking an account's last token is allowed, with a warning.
  const auto last_started = std::chrono::steady_clock::now();
  Result last = RunBinary({"account", "token", "revoke", "--account", alice_id,
                           "--token-id", alice_tid, "--db", db});
  ASSERT_EQ(last.code, 0) << last.err;
  EXPECT_EQ(last.out, "{\"account_id\":\"" + alice_id + "\",\"token_id\":\"" +
                          alice_tid + "\",\"tokens_left\":0}\n");
  EXPECT_THAT(last.err, HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(last.err, HasSubstr("has no token left"));
  expect_refused_within_a_second(alice_token, last_started);
  Result none = RunBinary(
      {"account", "token", "list", "--account", alice_id, "--db", db});
  EXPECT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "");

  images.reset();
  channel.reset();
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  EXPECT_EQ(serve.Wait(Clock::now() + kTimeout), 0) << serve.err();
  for (const std::string& secret : {old_token, new_token, alice_token}) {
    EXPECT_THAT(serve.err(), ::testing::Not(HasSubstr(secret)));
  }
  EXPECT_THAT(serve.out(), HasSubstr(old_token));  // the first banner

  // Restarted, serve no longer shows the demo token it knows is dead, keeps
  // the file as it was and makes no new demo account.
  Child restarted({"serve", "--db", db, "--listen", "127.0.0.1:0",
                   "--shutdown-grace-seconds", "0"});
  ASSERT_TRUE(WaitStarted(restarted).has_value()) << restarted.err();
  ASSERT_EQ(::kill(restarted.pid(), SIGTERM), 0);
  EXPECT_EQ(restarted.Wait(Clock::now() + kTimeout), 0) << restarted.err();
  EXPECT_THAT(restarted.out(), ::testing::Not(HasSubstr(old_token)));
  EXPECT_THAT(restarted.out(), HasSubstr("the token kept in " + token_file +
                                         " no longer authenticates (revoked)"));
  EXPECT_THAT(restarted.out(), HasSubstr("ecsimage account token create --db " +
                                         db + " --account " + account));
  EXPECT_THAT(restarted.err(),
              HasSubstr("the demo token in the token file no longer "
                        "authenticates"));
  EXPECT_EQ(ReadFile(token_file), token_json);
}

TEST(BinaryTest, TokenSubcommandsCheckTheirFlags) {
  TempDir dir;
  const std::string db = dir.path() + "/e.db";
  ASSERT_EQ(RunBinary({"migrate", "--db", db}).code, 0);
  EXPECT_EQ(RunBinary({"account"}).code, 2);
  EXPECT_EQ(RunBinary({"account", "token"}).code, 2);
  EXPECT_EQ(RunBinary({"account", "token", "rotate"}).code, 2);
  EXPECT_EQ(RunBinary({"account", "token", "create", "--db", db}).code, 2);
  EXPECT_EQ(RunBinary({"account", "token", "list", "--db", db}).code, 2);
  EXPECT_EQ(RunBinary({"account", "token", "revoke", "--account",
                       "1000000000000001", "--db", db})
                .code,
            2);
  Result help = RunBinary({"account", "token", "revoke", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: ecsimage account token revoke"));
  EXPECT_THAT(help.out, HasSubstr("ECSIMAGE_TOKEN_ID"));
  EXPECT_THAT(help.out, HasSubstr("ECSIMAGE_ACCOUNT"));
  EXPECT_THAT(help.out, HasSubstr("ECSIMAGE_DB"));
  // A missing database is never created by a token command.
  const std::string missing = dir.path() + "/missing.db";
  Result r = RunBinary(
      {"account", "token", "create", "--account", "1", "--db", missing});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(missing));
}

// `serve --bootstrap-token` (ECSIMAGE_BOOTSTRAP_TOKEN, from a Kubernetes
// Secret): the token works as the "bootstrap" account from the first start,
// a restart changes nothing, a rotated Secret adds its token to the same
// account, and the token never reaches the output.
TEST(BinaryTest, BootstrapTokenFromTheEnvironmentSurvivesRestartsAndRotation) {
  TempDir dir;
  const std::string db = dir.path() + "/boot.db";
  const std::string first(40, 'A');
  const std::string second = "rotated-secret-" + std::string(30, 'z');

  struct Started {
    std::string log_line;
    std::string err;
    bool ok_with_first = false;
    bool ok_with_second = false;
  };
  auto start = [&](const std::string& token) {
    Started s;
    Child serve({"serve", "--db", db, "--listen", "127.0.0.1:0",
                 "--shutdown-grace-seconds", "0"},
                {"ECSIMAGE_BOOTSTRAP_TOKEN=" + token});
    std::optional<std::string> boot = serve.WaitForErrLine(
        "\"msg\":\"bootstrap token\"", Clock::now() + kTimeout);
    const std::optional<std::string> address = WaitStarted(serve);
    EXPECT_TRUE(address.has_value()) << serve.err();
    if (address.has_value()) {
      auto channel =
          grpc::CreateChannel(*address, grpc::InsecureChannelCredentials());
      auto images = v1::ImageService::NewStub(channel);
      auto ok = [&](const std::string& t) {
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer " + t);
        v1::DescribeRegionsResponse response;
        return images
            ->DescribeRegions(&context, v1::DescribeRegionsRequest(), &response)
            .ok();
      };
      s.ok_with_first = ok(first);
      s.ok_with_second = ok(second);
    }
    EXPECT_EQ(::kill(serve.pid(), SIGTERM), 0);
    EXPECT_EQ(serve.Wait(Clock::now() + kTimeout), 0) << serve.err();
    s.log_line = boot.value_or("");
    s.err = serve.err() + serve.out();
    return s;
  };

  Started made = start(first);
  EXPECT_THAT(made.log_line, HasSubstr("\"accountCreated\":true"));
  EXPECT_THAT(made.log_line, HasSubstr("\"tokenAdded\":true"));
  EXPECT_EQ(JsonStr(made.log_line, "token_id"), Sha256Hex(first).substr(0, 16));
  const std::string account = JsonStr(made.log_line, "account_id");
  EXPECT_TRUE(std::regex_match(account, std::regex("[0-9]{16}"))) << account;
  EXPECT_TRUE(made.ok_with_first);
  EXPECT_FALSE(made.ok_with_second);

  Started again = start(first);
  EXPECT_THAT(again.log_line, HasSubstr("\"accountCreated\":false"));
  EXPECT_THAT(again.log_line, HasSubstr("\"tokenAdded\":false"));
  EXPECT_EQ(JsonStr(again.log_line, "account_id"), account);
  EXPECT_TRUE(again.ok_with_first);

  Started rotated = start(second);
  EXPECT_THAT(rotated.log_line, HasSubstr("\"accountCreated\":false"));
  EXPECT_THAT(rotated.log_line, HasSubstr("\"tokenAdded\":true"));
  EXPECT_EQ(JsonStr(rotated.log_line, "account_id"), account);
  // The old token works until `account token revoke`.
  EXPECT_TRUE(rotated.ok_with_first);
  EXPECT_TRUE(rotated.ok_with_second);
  Result listed =
      RunBinary({"account", "token", "list", "--account", account, "--db", db});
  EXPECT_EQ(Lines(listed.out).size(), 2u) << listed.out;

  for (const Started* s : {&made, &again, &rotated}) {
    EXPECT_THAT(s->err, ::testing::Not(HasSubstr(first)));
    EXPECT_THAT(s->err, ::testing::Not(HasSubstr(second)));
  }
}

TEST(BinaryTest, ServeRefusesAWeakBootstrapTokenBeforeOpeningTheDatabase) {
  TempDir dir;
  const std::string db = dir.path() + "/weak.db";
  for (const std::string& weak :
       {std::string("short"), std::string(40, 'a') + " with spaces"}) {
    Result r = RunBinary({"serve", "--db", db, "--listen", "127.0.0.1:0"},
                         {"ECSIMAGE_BOOTSTRAP_TOKEN=" + weak});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("invalid bootstrap token"));
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr(weak)));
    EXPECT_FALSE(std::filesystem::exists(db));
  }
}

}  // namespace
}  // namespace ecsimage

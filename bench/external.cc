#include "bench/external.h"

#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/load_client.h"
#include "bench/loader.h"
#include "bench/report.h"
#include "ecs/image/v1/image_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "util/status_macros.h"

ABSL_DECLARE_FLAG(std::string, sizes);
ABSL_DECLARE_FLAG(int32_t, concurrency);
ABSL_DECLARE_FLAG(int32_t, channels);
ABSL_DECLARE_FLAG(int32_t, describe_concurrency);
ABSL_DECLARE_FLAG(int32_t, threads);
ABSL_DECLARE_FLAG(double, duration);
ABSL_DECLARE_FLAG(double, warmup);
ABSL_DECLARE_FLAG(int64_t, pool);
ABSL_DECLARE_FLAG(std::string, workdir);
ABSL_DECLARE_FLAG(std::string, ecsimage);
ABSL_DECLARE_FLAG(bool, keep_db);

ABSL_FLAG(std::string, stores, "sqlite",
          "external: stores to run, comma-separated: sqlite, postgresql "
          "(needs --pg_dir)");
ABSL_FLAG(std::string, pg_dir, "",
          "external: directory of a throwaway PostgreSQL server started with "
          "`scripts/pg_server.sh start DIR`; the bench creates a database "
          "per size there, and sums the CPU of that server's processes");
ABSL_FLAG(std::string, external_scenarios,
          "health,describe,delete,modify,create,copy,cancel",
          "external: scenarios in order, each after a Health/Check phase "
          "(health alone: `health`)");
ABSL_FLAG(std::string, accounts, "1",
          "external: account counts for the write scenarios (delete, "
          "modify, create), comma-separated, e.g. 1,8 (at most 1 + peers)");
ABSL_FLAG(std::string, serve_flags,
          "--image-quota=1000000000 --transfer-rate-mib=1",
          "external: flags added to `ecsimage serve` (space-separated): the "
          "default quota of 1000 images per region would refuse CreateImage "
          "and CopyImage on the loaded datasets, and at the default "
          "simulated rate the first copies finish before the cancel phase "
          "reaches them (CancelCopyImage then answers IncorrectImageStatus)");
ABSL_FLAG(double, idle_s, 2,
          "external: seconds of no calls after the warm-up, for the server's "
          "background CPU (0: skip)");
ABSL_FLAG(bool, pg_analyze, true,
          "external: ANALYZE the PostgreSQL database after `db copy` (what "
          "autovacuum does within about a minute of a bulk load; without "
          "it the first minute runs on plans made without statistics)");

namespace ecsimage::bench {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::ecs::image::v1;
namespace health = ::grpc::health::v1;

constexpr int kPeers = 10;
constexpr int kCopySources = 8;
constexpr int64_t kDescribePage = 100;
constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";

void Log(const std::string& line) { std::cerr << line << std::endl; }

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// /proc ---------------------------------------------------------------------

struct ProcTimes {
  double self_s = 0;      // utime + stime
  double children_s = 0;  // cutime + cstime (waited-for children)
  int ppid = 0;
  bool ok = false;
};

ProcTimes ReadProcStat(int pid) {
  ProcTimes t;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return t;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return t;
  std::vector<std::string> f =
      absl::StrSplit(line.substr(close + 2), ' ', absl::SkipEmpty());
  // f[0] is field 3 (state): field k is f[k - 3].
  if (f.size() < 15) return t;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto num = [&](int field) { return std::atof(f[field - 3].c_str()); };
  t.ppid = static_cast<int>(num(4));
  t.self_s = (num(14) + num(15)) / tick;
  t.children_s = (num(16) + num(17)) / tick;
  t.ok = true;
  return t;
}

// CPU of a process tree rooted at `root` (one level of children, which is
// what the postmaster has): the root's own and reaped children's time plus
// every live child's own.
double TreeCpuSeconds(int root) {
  if (root <= 0) return 0;
  const ProcTimes r = ReadProcStat(root);
  double total = r.self_s + r.children_s;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return total;
  while (dirent* e = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid == root) continue;
    const ProcTimes c = ReadProcStat(pid);
    if (c.ok && c.ppid == root) total += c.self_s;
  }
  closedir(dir);
  return total;
}

double SelfCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// Child processes -----------------------------------------------------------

// Runs argv with stdout and stderr appended to `log`; returns the exit code.
int RunCommand(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs argv and returns its stdout (stderr appended to `log`), or an error
// when it exits non-zero.
absl::StatusOr<std::string> Capture(const std::vector<std::string>& args,
                                    const std::string& log) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(args[0], " failed"));
  }
  return out;
}

std::string Tail(const std::string& path, size_t bytes = 3000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

// A running `ecsimage serve`, stderr (the access log) to a file.
class ServeProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ServeProcess>> Start(
      const std::string& db, const std::string& log_path) {
    std::vector<std::string> args = {absl::GetFlag(FLAGS_ecsimage),
                                     "serve",
                                     "--db",
                                     db,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--create-if-missing=false"};
    for (absl::string_view f : absl::StrSplit(absl::GetFlag(FLAGS_serve_flags),
                                              ' ', absl::SkipEmpty())) {
      args.emplace_back(f);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto p = std::unique_ptr<ServeProcess>(new ServeProcess());
    p->log_path_ = log_path;
    p->command_ = absl::StrJoin(args, " ");
    // Emptied here, not only in the child: reading the log of an earlier
    // run in the same --workdir before the child truncates it would find
    // that run's start line and a port nobody listens on any more.
    {
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) return absl::InternalError("cannot create " + log_path);
      close(fd);
    }
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) dup2(fd, STDERR_FILENO);
      const int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
      execv(argv[0], argv.data());
      std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    p->pid_ = pid;
    // The port from the JSON start line.
    const Clock::time_point t0 = Clock::now();
    while (p->port_ == 0) {
      std::ifstream in(log_path);
      std::string line;
      while (std::getline(in, line)) {
        // Only a whole line (the server may be writing it).
        if (in.eof() || line.empty() || line.back() != '}') continue;
        if (line.find("\"msg\":\"started\"") == std::string::npos) continue;
        const size_t at = line.find("\"port\":");
        if (at != std::string::npos)
          p->port_ = std::atoi(line.c_str() + at + 7);
      }
      if (p->port_ != 0) break;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        p->pid_ = 0;
        return absl::InternalError("ecsimage serve exited at start:\n" +
                                   Tail(log_path));
      }
      if (Since(t0) > 300) {
        return absl::DeadlineExceededError("no start line:\n" + Tail(log_path));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return p;
  }

  ~ServeProcess() { Stop(); }

  // SIGTERM and wait; the exit code (or 128 + signal).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_code_ =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }

  int pid() const { return pid_; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  const std::string& command() const { return command_; }
  const std::string& log_path() const { return log_path_; }

 private:
  ServeProcess() = default;
  int pid_ = 0;
  int port_ = 0;
  int exit_code_ = -1;
  std::string log_path_;
  std::string command_;
};

// PostgreSQL ------------------------------------------------------------------

std::string PgUri(const std::string& dir, const std::string& database) {
  return absl::StrCat("postgresql:///", database, "?host=", dir,
                      "&user=ecsimage_pg");
}

std::string Psql() {
  const std::string own = absl::StrCat(kPgBin, "/psql");
  return access(own.c_str(), X_OK) == 0 ? own : "psql";
}

absl::Status PgCommand(const std::string& dir, const std::string& sql,
                       const std::string& log) {
  const int rc = RunCommand({Psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                             PgUri(dir, "postgres"), "-c", sql},
                            log);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("psql '", sql, "' exit ", rc, ":\n", Tail(log)));
  }
  return absl::OkStatus();
}

// `ecsimage db copy` at this commit fails its own verification whenever the
// file has shares: it compares SQLite's three share columns with
// PostgreSQL's four (the PostgreSQL table has an identity column `id` that
// SQLite's has not), after every row has been written. The bench accepts
// that one failure only after checking the copy itself: every share row
// equal, and equal row counts in every table db copy checks after shares
// and in images and copy_tasks.
absl::Status CheckCopyDespiteSharesMismatch(const std::string& file,
                                            const std::string& dir,
                                            const std::string& database,
                                            const std::string& log) {
  const std::string tail = Tail(log, 600);
  if (tail.find("\"verification failed\"") == std::string::npos ||
      tail.find("shares: ") == std::string::npos) {
    return absl::InternalError("ecsimage db copy failed:\n" + tail);
  }
  auto sqlite = [&](const std::string& sql) {
    return Capture({"sqlite3", "-readonly", file, sql}, log);
  };
  auto pg = [&](const std::string& sql) {
    return Capture(
        {Psql(), "-X", "-q", "-A", "-t", "-d", PgUri(dir, database), "-c", sql},
        log);
  };
  const std::string shares =
      "SELECT image_rowid || '|' || account_id || '|' || created_at_ms "
      "FROM shares ORDER BY image_rowid, account_id";
  ASSIGN_OR_RETURN(std::string a, sqlite(shares));
  ASSIGN_OR_RETURN(std::string b, pg(shares));
  if (a != b || a.empty()) {
    return absl::DataLossError("shares differ after ecsimage db copy");
  }
  for (const char* table :
       {"images", "copy_tasks", "instances", "client_tokens", "accounts"}) {
    const std::string sql = absl::StrCat("SELECT count(*) FROM ", table);
    ASSIGN_OR_RETURN(std::string x, sqlite(sql));
    ASSIGN_OR_RETURN(std::string y, pg(sql));
    if (x != y) {
      return absl::DataLossError(absl::StrCat(table, ": ", x, " rows vs ", y,
                                              " after ecsimage db copy"));
    }
  }
  Log("ecsimage db copy reported the known shares mismatch (PostgreSQL's "
      "extra id column); the bench's own check of shares and row counts "
      "passed");
  return absl::OkStatus();
}

// The postmaster's pid (first line of postmaster.pid).
int PostmasterPid(const std::string& dir) {
  std::ifstream in(dir + "/data/postmaster.pid");
  int pid = 0;
  in >> pid;
  return pid;
}

// Calls
// ------------------------------------------------------------------------

// What a write phase targets and what it got back, for the check afterwards.
struct Targets {
  std::vector<std::string> ids;       // call i -> ids[i] (pool phases)
  std::mutex mu;                      // guards `returned`
  std::vector<std::string> returned;  // ids the server answered (create,
                                      // copy), OK calls only
};

class Client {
 public:
  Client(const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
    for (const auto& ch : channels) {
      images_.push_back(v1::ImageService::NewStub(ch));
      health_.push_back(health::Health::NewStub(ch));
    }
  }

  std::unique_ptr<Call> Health(int ch) const {
    auto* stub = health_[ch].get();
    return std::make_unique<
        UnaryCall<health::HealthCheckRequest, health::HealthCheckResponse>>(
        [stub](grpc::ClientContext* c, const health::HealthCheckRequest& r,
               grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncCheck(c, r, cq);
        },
        health::HealthCheckRequest(),
        [](const health::HealthCheckResponse& r) {
          return r.status() == health::HealthCheckResponse::SERVING;
        });
  }

  std::unique_ptr<Call> Describe(int ch, const std::string& token) const {
    v1::DescribeImagesRequest req;
    req.set_region_id(kRegion);
    req.set_page_size(kDescribePage);
    return Make<v1::DescribeImagesRequest, v1::DescribeImagesResponse>(
        ch, token, &v1::ImageService::Stub::PrepareAsyncDescribeImages,
        std::move(req), [](const v1::DescribeImagesResponse& r) {
          return r.total_count() > 0 &&
                 r.images_size() ==
                     std::min<int64_t>(kDescribePage, r.total_count());
        });
  }

  std::unique_ptr<Call> Delete(int ch, const std::string& token,
                               const std::string& id) const {
    v1::DeleteImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    return Make<v1::DeleteImageRequest, v1::DeleteImageResponse>(
        ch, token, &v1::ImageService::Stub::PrepareAsyncDeleteImage,
        std::move(req), [](const v1::DeleteImageResponse& r) {
          return !r.request_id().empty();
        });
  }

  std::unique_ptr<Call> Modify(int ch, const std::string& token,
                               const std::string& id,
                               const std::string& description) const {
    v1::ModifyImageAttributeRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    req.set_description(description);
    return Make<v1::ModifyImageAttributeRequest,
                v1::ModifyImageAttributeResponse>(
        ch, token, &v1::ImageService::Stub::PrepareAsyncModifyImageAttribute,
        std::move(req), [](const v1::ModifyImageAttributeResponse& r) {
          return !r.request_id().empty();
        });
  }

  std::unique_ptr<Call> Create(int ch, const std::string& token,
                               const std::string& name, Targets* out) const {
    v1::CreateImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_name(name);
    req.set_size(1);
    return Make<v1::CreateImageRequest, v1::CreateImageResponse>(
        ch, token, &v1::ImageService::Stub::PrepareAsyncCreateImage,
        std::move(req), [out](const v1::CreateImageResponse& r) {
          if (r.image_id().rfind("m-", 0) != 0) return false;
          std::lock_guard<std::mutex> lock(out->mu);
          out->returned.push_back(r.image_id());
          return true;
        });
  }

  std::unique_ptr<Call> Copy(int ch, const std::string& token,
                             const std::string& source, Targets* out) const {
    v1::CopyImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(source);
    req.set_destination_region_id(kCopyRegion);
    return Make<v1::CopyImageRequest, v1::CopyImageResponse>(
        ch, token, &v1::ImageService::Stub::PrepareAsyncCopyImage,
        std::move(req), [out](const v1::CopyImageResponse& r) {
          if (r.image_id().rfind("m-", 0) != 0) return false;
          std::lock_guard<std::mutex> lock(out->mu);
          out->returned.push_back(r.image_id());
          return true;
        });
  }

  std::unique_ptr<Call> Cancel(int ch, const std::string& token,
                               const std::string& id) const {
    v1::CancelCopyImageRequest req;
    req.set_region_id(kCopyRegion);
    req.set_image_id(id);
    return Make<v1::CancelCopyImageRequest, v1::CancelCopyImageResponse>(
        ch, token, &v1::ImageService::Stub::PrepareAsyncCancelCopyImage,
        std::move(req), [](const v1::CancelCopyImageResponse& r) {
          return !r.request_id().empty();
        });
  }

 private:
  template <typename Req, typename Resp, typename PrepareMember>
  std::unique_ptr<Call> Make(int ch, const std::string& token,
                             PrepareMember prepare, Req req,
                             typename UnaryCall<Req, Resp>::Check check) const {
    auto* stub = images_[ch].get();
    auto call = std::make_unique<UnaryCall<Req, Resp>>(
        [stub, prepare](grpc::ClientContext* c, const Req& r,
                        grpc::CompletionQueue* cq) {
          return (stub->*prepare)(c, r, cq);
        },
        std::move(req), std::move(check));
    call->context.AddMetadata("authorization", "Bearer " + token);
    return call;
  }

  std::vector<std::unique_ptr<v1::ImageService::Stub>> images_;
  std::vector<std::unique_ptr<health::Health::Stub>> health_;
};

// Phases
// -------------------------------------------------------------------------

struct Cpu {
  double server_s = 0;
  double client_s = 0;
  double pg_s = 0;
  double wall_s = 0;
};

class CpuSampler {
 public:
  CpuSampler(int server_pid, int pg_pid)
      : server_pid_(server_pid), pg_pid_(pg_pid) {}
  void Begin() {
    t0_ = Clock::now();
    server0_ = ReadProcStat(server_pid_).self_s;
    client0_ = SelfCpuSeconds();
    pg0_ = TreeCpuSeconds(pg_pid_);
  }
  Cpu End() const {
    Cpu c;
    c.server_s = ReadProcStat(server_pid_).self_s - server0_;
    c.client_s = SelfCpuSeconds() - client0_;
    c.pg_s = pg_pid_ > 0 ? TreeCpuSeconds(pg_pid_) - pg0_ : 0;
    c.wall_s = Since(t0_);
    return c;
  }

 private:
  int server_pid_;
  int pg_pid_;
  Clock::time_point t0_;
  double server0_ = 0, client0_ = 0, pg0_ = 0;
};

struct ExtPhase {
  std::string store;  // sqlite | postgresql
  std::string scenario;
  int64_t images = 0;
  int accounts = 1;
  int concurrency = 0;
  PhaseResult result;
  PhaseResult health;
  Cpu cpu;
  Cpu health_cpu;
  int64_t pool = 0;
  Cpu idle;  // the server at rest, before the first phase
  std::shared_ptr<Targets> targets;  // write phases
  int64_t effects = -1;              // -1: read-only
  bool verified = true;

  static double Per(double s, int64_t calls) {
    return calls > 0 ? s * 1e6 / calls : 0;
  }
  double ratio() const {
    return health.calls_per_s > 0 ? result.calls_per_s / health.calls_per_s : 0;
  }
  double ServerUs() const { return Per(cpu.server_s, result.calls); }
  double HealthServerUs() const {
    return Per(health_cpu.server_s, health.calls);
  }
  double ClientUs() const { return Per(cpu.client_s, result.calls); }
  double HealthClientUs() const {
    return Per(health_cpu.client_s, health.calls);
  }
  double PgUs() const { return Per(cpu.pg_s, result.calls); }
  double HealthPgUs() const { return Per(health_cpu.pg_s, health.calls); }
  double ServerCpuRatio() const {
    return HealthServerUs() > 0 ? ServerUs() / HealthServerUs() : 0;
  }
  bool failed() const {
    return result.errors > 0 || health.errors > 0 || !verified ||
           result.calls == 0;
  }
};

std::string CodesJson(const std::map<std::string, int64_t>& codes) {
  Json j;
  for (const auto& [code, n] : codes) j.Int(code, n);
  return j.Build();
}

std::string PhaseJson(const ExtPhase& m) {
  const PhaseResult& r = m.result;
  Json j;
  j.Str("scenario", "external_" + m.scenario)
      .Str("store", m.store)
      .Int("images", m.images)
      .Int("accounts", m.accounts)
      .Int("concurrency", m.concurrency)
      .Int("channels", absl::GetFlag(FLAGS_channels))
      .Int("calls", r.calls)
      .Int("ok", r.ok)
      .Int("errors", r.errors)
      .Raw("error_codes", CodesJson(r.error_codes))
      .Str("first_error", r.first_error)
      .Num("seconds", r.seconds)
      .Num("calls_per_s", r.calls_per_s)
      .Num("p50_ms", r.Percentile(50))
      .Num("p99_ms", r.Percentile(99))
      .Num("health_calls_per_s", m.health.calls_per_s)
      .Num("health_p50_ms", m.health.Percentile(50))
      .Num("health_p99_ms", m.health.Percentile(99))
      .Int("health_calls", m.health.calls)
      .Int("health_errors", m.health.errors)
      .Num("ratio_vs_health", m.ratio())
      .Num("server_cpu_us_per_call", m.ServerUs())
      .Num("health_server_cpu_us_per_call", m.HealthServerUs())
      .Num("server_cpu_ratio_vs_health", m.ServerCpuRatio())
      .Num("client_cpu_us_per_call", m.ClientUs())
      .Num("health_client_cpu_us_per_call", m.HealthClientUs())
      .Num("pg_cpu_us_per_call", m.PgUs())
      .Num("health_pg_cpu_us_per_call", m.HealthPgUs())
      .Num("server_cpu_utilisation",
           m.cpu.wall_s > 0 ? m.cpu.server_s / m.cpu.wall_s : 0)
      .Num("client_cpu_utilisation",
           m.cpu.wall_s > 0 ? m.cpu.client_s / m.cpu.wall_s : 0)
      .Num("pg_cpu_utilisation",
           m.cpu.wall_s > 0 ? m.cpu.pg_s / m.cpu.wall_s : 0)
      .Num("server_idle_cpu_ms_per_s",
           m.idle.wall_s > 0 ? m.idle.server_s * 1e3 / m.idle.wall_s : 0)
      .Num("pg_idle_cpu_ms_per_s",
           m.idle.wall_s > 0 ? m.idle.pg_s * 1e3 / m.idle.wall_s : 0)
      .Int("pool", m.pool)
      .Bool("pool_exhausted", r.exhausted)
      .Int("effects", m.effects)
      .Bool("verified", m.verified)
      .Bool("ok_run", !m.failed());
  return j.Build();
}

std::vector<std::string> Header() {
  return {"store",         "scenario",  "N",       "acc",
          "conc",          "calls",     "calls/s", "health/s",
          "ratio",         "p50 ms",    "p99 ms",  "srv us",
          "srv health us", "srv ratio", "cli us",  "pg us",
          "pg health us",  "err",       "check"};
}

std::vector<std::string> Row(const ExtPhase& m) {
  const PhaseResult& r = m.result;
  return {m.store,
          m.scenario,
          absl::StrCat(m.images),
          absl::StrCat(m.accounts),
          absl::StrCat(m.concurrency),
          absl::StrCat(r.calls),
          Fixed(r.calls_per_s, 0),
          Fixed(m.health.calls_per_s, 0),
          Fixed(m.ratio(), 2),
          Fixed(r.Percentile(50), 2),
          Fixed(r.Percentile(99), 2),
          Fixed(m.ServerUs(), 1),
          Fixed(m.HealthServerUs(), 1),
          Fixed(m.ServerCpuRatio(), 2),
          Fixed(m.ClientUs(), 1),
          m.store == "postgresql" ? Fixed(m.PgUs(), 1) : "-",
          m.store == "postgresql" ? Fixed(m.HealthPgUs(), 1) : "-",
          absl::StrCat(r.errors),
          m.effects < 0 ? "-" : (m.verified ? "ok" : "MISMATCH")};
}

// Pools, per size: prepared in the SQLite file before either server starts
// (PostgreSQL gets them through `db copy`), so both stores see the same ids.
struct Pools {
  std::vector<BenchAccount> accounts;  // owner first, then peers
  // scenario key ("delete/1", "modify/8") -> (account index, image id)
  std::map<std::string, std::vector<std::pair<int, std::string>>> pools;
  std::vector<std::string> copy_sources;
};

absl::StatusOr<Pools> PreparePools(const std::string& db,
                                   const std::vector<int>& account_counts,
                                   const std::set<std::string>& scenarios,
                                   int64_t pool) {
  storage::SqliteStoreOptions options;
  options.path = db;
  ASSIGN_OR_RETURN(auto store, storage::SqliteStore::Open(options));
  Loader loader(*store, std::random_device()());
  ASSIGN_OR_RETURN(Dataset data, loader.Open(kPeers));
  Pools p;
  p.accounts.push_back(data.owner);
  for (const BenchAccount& a : data.peers) p.accounts.push_back(a);
  for (const char* s : {"delete", "modify"}) {
    if (scenarios.count(s) == 0) continue;
    for (int n : account_counts) {
      if (n < 1 || n > static_cast<int>(p.accounts.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("--accounts: 1 to ", p.accounts.size()));
      }
      std::vector<std::vector<std::string>> per(n);
      for (int a = 0; a < n; ++a) {
        Dataset d = data;
        d.owner = p.accounts[a];
        ASSIGN_OR_RETURN(per[a], loader.AddPlainImages(d, (pool + n - 1) / n));
      }
      // Interleaved: call i goes to account i % n.
      auto& out = p.pools[absl::StrCat(s, "/", n)];
      for (int64_t i = 0; i < pool; ++i) {
        out.push_back({static_cast<int>(i % n), per[i % n][i / n]});
      }
    }
  }
  if (scenarios.count("copy") > 0) {
    ASSIGN_OR_RETURN(p.copy_sources, loader.AddPlainImages(data, kCopySources));
  }
  store->Shutdown();
  return p;
}

DriveOptions Options(int concurrency) {
  DriveOptions o;
  o.concurrency = concurrency;
  o.duration_s = absl::GetFlag(FLAGS_duration);
  o.threads = absl::GetFlag(FLAGS_threads);
  return o;
}

// A second handle on the server's database (no migrations, no integrity
// check), for reads beside the running server and the checks afterwards.
absl::StatusOr<std::unique_ptr<storage::Store>> OpenStore(
    const std::string& store, const std::string& db) {
  if (store == "sqlite") {
    storage::SqliteStoreOptions o;
    o.path = db;
    o.migrate = false;
    o.check_integrity = false;
    ASSIGN_OR_RETURN(auto st, storage::SqliteStore::Open(o));
    return std::unique_ptr<storage::Store>(std::move(st));
  }
  storage::PostgresStoreOptions o;
  o.uri = db;
  o.migrate = false;
  o.pool_connections = 2;
  ASSIGN_OR_RETURN(auto st, storage::PostgresStore::Open(o));
  return std::unique_ptr<storage::Store>(std::move(st));
}

// Of `ids` (copy destinations), those whose copy is still QUEUED: the only
// ones CancelCopyImage must accept whatever the worker does meanwhile (a
// PREPARING copy is refused by contract, and the worker starts no queued
// copy while the running ones, at --transfer-rate-mib=1, keep their slots).
absl::StatusOr<std::vector<std::string>> QueuedCopies(
    storage::Store& store, const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  RETURN_IF_ERROR(
      store.RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
        for (const std::string& id : ids) {
          ASSIGN_OR_RETURN(auto image, txn.GetImage(kCopyRegion, id));
          if (!image.has_value()) continue;
          ASSIGN_OR_RETURN(auto copy, txn.GetCopyByDest(image->rowid));
          if (copy.has_value() && copy->phase == "QUEUED") out.push_back(id);
        }
        return absl::OkStatus();
      }));
  return out;
}

// One server (one store at one size): every scenario, each after Health.
class ServerRun {
 public:
  ServerRun(ServeProcess& server, int pg_pid, const Pools& pools,
            std::string store, std::string db, int64_t images)
      : server_(server),
        db_(std::move(db)),
        pools_(pools),
        store_(std::move(store)),
        images_(images),
        sampler_(server.pid(), pg_pid) {
    channels_ = MakeChannels(server.target(), absl::GetFlag(FLAGS_channels));
    client_ = std::make_unique<Client>(channels_);
  }

  absl::Status Connect() {
    for (const auto& ch : channels_) {
      if (!ch->WaitForConnected(std::chrono::system_clock::now() +
                                std::chrono::seconds(30))) {
        return absl::UnavailableError("cannot connect to ecsimage serve");
      }
    }
    const double warm = absl::GetFlag(FLAGS_warmup);
    if (warm > 0) {
      DriveOptions o = Options(absl::GetFlag(FLAGS_concurrency));
      o.duration_s = warm;
      const Client* c = client_.get();
      PhaseResult r = Drive(
          "warmup", [c](int64_t, int ch) { return c->Health(ch); },
          static_cast<int>(channels_.size()), o);
      if (r.errors > 0) {
        return absl::UnavailableError("warm-up Health/Check failed: " +
                                      r.first_error);
      }
    }
    // The server's (and PostgreSQL's) CPU with no calls at all: the task
    // worker's ticks and whatever else runs in the background, which every
    // phase's per-call figure includes.
    const double idle_s = absl::GetFlag(FLAGS_idle_s);
    if (idle_s > 0) {
      sampler_.Begin();
      std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
      idle_ = sampler_.End();
      Log(absl::StrCat("idle ", Fixed(idle_s, 1), " s: ecsimage serve ",
                       Fixed(idle_.server_s * 1e3 / idle_.wall_s, 1),
                       " ms CPU/s, postgres ",
                       Fixed(idle_.pg_s * 1e3 / idle_.wall_s, 1), " ms CPU/s"));
    }
    return absl::OkStatus();
  }

  // Health/Check, then the scenario with the same concurrency.
  ExtPhase Measure(const std::string& scenario, int accounts, int concurrency,
                   const CallFactory& factory) {
    ExtPhase m;
    m.store = store_;
    m.scenario = scenario;
    m.images = images_;
    m.accounts = accounts;
    m.concurrency = concurrency;
    m.idle = idle_;
    const int nch = static_cast<int>(channels_.size());
    const DriveOptions o = Options(concurrency);
    const Client* c = client_.get();
    sampler_.Begin();
    m.health = Drive(
        "health", [c](int64_t, int ch) { return c->Health(ch); }, nch, o);
    m.health_cpu = sampler_.End();
    sampler_.Begin();
    m.result = Drive(scenario, factory, nch, o);
    m.cpu = sampler_.End();
    return m;
  }

  ExtPhase Run(const std::string& scenario, int accounts,
               std::shared_ptr<Targets> copies) {
    const Client* c = client_.get();
    const std::vector<BenchAccount>& acc = pools_.accounts;
    const int conc = absl::GetFlag(FLAGS_concurrency);
    const std::string label =
        accounts > 1 ? absl::StrCat(scenario, "x", accounts) : scenario;
    if (scenario == "health") {
      return Measure(label, 1, conc,
                     [c](int64_t, int ch) { return c->Health(ch); });
    }
    if (scenario == "describe") {
      const std::string token = acc[0].token;
      return Measure(
          label, 1, absl::GetFlag(FLAGS_describe_concurrency),
          [c, token](int64_t, int ch) { return c->Describe(ch, token); });
    }
    auto targets = std::make_shared<Targets>();
    ExtPhase m;
    if (scenario == "delete" || scenario == "modify") {
      const auto* pool =
          &pools_.pools.at(absl::StrCat(scenario, "/", accounts));
      for (const auto& [a, id] : *pool) targets->ids.push_back(id);
      const bool del = scenario == "delete";
      m = Measure(
          label, accounts, conc,
          [c, pool, &acc, del](int64_t i, int ch) -> std::unique_ptr<Call> {
            if (i >= static_cast<int64_t>(pool->size())) return nullptr;
            const auto& [a, id] = (*pool)[i];
            if (del) return c->Delete(ch, acc[a].token, id);
            return c->Modify(ch, acc[a].token, id,
                             absl::StrCat("bench modified ", i));
          });
      m.pool = static_cast<int64_t>(pool->size());
    } else if (scenario == "create") {
      const std::string run =
          absl::StrCat(getpid(), "-", images_, "-", store_, accounts);
      Targets* out = targets.get();
      m = Measure(label, accounts, conc,
                  [c, &acc, accounts, run, out](int64_t i, int ch) {
                    return c->Create(ch, acc[i % accounts].token,
                                     absl::StrCat("bench-", run, "-", i), out);
                  });
    } else if (scenario == "copy") {
      const std::vector<std::string>* sources = &pools_.copy_sources;
      const std::string token = acc[0].token;
      Targets* out = targets.get();
      m = Measure(label, 1, conc, [c, sources, token, out](int64_t i, int ch) {
        return c->Copy(ch, token, (*sources)[i % sources->size()], out);
      });
    } else if (scenario == "cancel") {
      // The copies the copy phase made, in the order they were answered.
      if (copies != nullptr) {
        auto db = OpenStore(store_, db_);
        if (db.ok()) {
          auto queued = QueuedCopies(**db, copies->returned);
          if (queued.ok()) targets->ids = *std::move(queued);
          (*db)->Shutdown();
        }
        if (targets->ids.empty()) Log("cancel: no QUEUED copy to cancel");
      }
      const std::vector<std::string>* ids = &targets->ids;
      const std::string token = acc[0].token;
      m = Measure(label, 1, conc,
                  [c, ids, token](int64_t i, int ch) -> std::unique_ptr<Call> {
                    if (i >= static_cast<int64_t>(ids->size())) return nullptr;
                    return c->Cancel(ch, token, (*ids)[i]);
                  });
      m.pool = static_cast<int64_t>(ids->size());
    }
    m.targets = targets;
    return m;
  }

 private:
  ServeProcess& server_;
  const std::string db_;
  const Pools& pools_;
  const std::string store_;
  const int64_t images_;
  CpuSampler sampler_;
  Cpu idle_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::unique_ptr<Client> client_;
};

// After the server stopped: the effect of every write phase, counted in the
// database.
absl::Status Verify(storage::Store& store, std::vector<ExtPhase*>& phases) {
  return store.RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
    for (ExtPhase* m : phases) {
      const std::string& s = m->scenario;
      if (s == "health" || s == "describe") continue;
      int64_t n = 0;
      const Targets& t = *m->targets;
      const int64_t calls = m->result.calls;
      if (s.rfind("delete", 0) == 0 || s.rfind("modify", 0) == 0) {
        const bool del = s.rfind("delete", 0) == 0;
        const int64_t end = std::min<int64_t>(calls, t.ids.size());
        for (int64_t i = 0; i < end; ++i) {
          ASSIGN_OR_RETURN(auto image, txn.GetImage(kRegion, t.ids[i]));
          if (!image.has_value()) continue;
          if (del ? image->deleted_at_ms.has_value()
                  : image->description == absl::StrCat("bench modified ", i)) {
            ++n;
          }
        }
      } else if (s.rfind("create", 0) == 0 || s == "copy") {
        const std::string region = s == "copy" ? kCopyRegion : kRegion;
        std::set<std::string> distinct(t.returned.begin(), t.returned.end());
        for (const std::string& id : distinct) {
          ASSIGN_OR_RETURN(auto image, txn.GetImage(region, id));
          if (image.has_value()) ++n;
        }
      } else if (s == "cancel") {
        const int64_t end = std::min<int64_t>(calls, t.ids.size());
        for (int64_t i = 0; i < end; ++i) {
          ASSIGN_OR_RETURN(auto image, txn.GetImage(kCopyRegion, t.ids[i]));
          if (!image.has_value()) continue;
          ASSIGN_OR_RETURN(auto copy, txn.GetCopyByDest(image->rowid));
          if (copy.has_value() &&
              (copy->phase == "CANCELLING" || copy->phase == "CANCELLED")) {
            ++n;
          }
        }
      }
      m->effects = n;
      m->verified = n == m->result.ok;
    }
    return absl::OkStatus();
  });
}

std::vector<int> ParseInts(const std::string& csv) {
  std::vector<int> out;
  for (absl::string_view p : absl::StrSplit(csv, ',', absl::SkipEmpty())) {
    int n = 0;
    if (absl::SimpleAtoi(p, &n)) out.push_back(n);
  }
  return out;
}

struct Run {
  std::vector<ExtPhase> phases;
  std::vector<std::string> commands;
};

// One store at one size: start, measure, stop, verify.
absl::Status RunStore(const ExternalHooks& hooks, Run& run,
                      const std::string& store, const std::string& db,
                      int64_t images, const Pools& pools,
                      const std::vector<std::string>& scenarios,
                      const std::vector<int>& account_counts, int pg_pid,
                      bool* failed) {
  const std::string log = absl::StrCat(absl::GetFlag(FLAGS_workdir), "/serve-",
                                       store, "-", images, ".log");
  ASSIGN_OR_RETURN(auto server, ServeProcess::Start(db, log));
  run.commands.push_back(server->command());
  Log(absl::StrCat("== external, ", store, ", ", images,
                   " images: ", server->command(), " (pid ", server->pid(),
                   ", stderr ", log, ")"));
  std::vector<ExtPhase> phases;
  {
    ServerRun r(*server, pg_pid, pools, store, db, images);
    RETURN_IF_ERROR(r.Connect());
    std::shared_ptr<Targets> copies;
    for (const std::string& s : scenarios) {
      const bool multi = s == "delete" || s == "modify" || s == "create";
      for (int n : multi ? account_counts : std::vector<int>{1}) {
        ExtPhase m = r.Run(s, n, copies);
        if (s == "copy") copies = m.targets;
        Log(FormatTable({Header(), Row(m)}));
        phases.push_back(std::move(m));
      }
    }
  }
  const int rc = server->Stop();
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("ecsimage serve exit ", rc, ":\n",
                                            Tail(server->log_path())));
  }
  std::vector<ExtPhase*> ptrs;
  for (ExtPhase& m : phases) ptrs.push_back(&m);
  {
    ASSIGN_OR_RETURN(auto st, OpenStore(store, db));
    RETURN_IF_ERROR(Verify(*st, ptrs));
    st->Shutdown();
  }
  for (ExtPhase& m : phases) {
    hooks.emit(PhaseJson(m));
    if (m.failed()) {
      *failed = true;
      Log(absl::StrCat("FAILED: ", store, " ", m.scenario, " @", images, ": ",
                       m.result.errors, " errors (", m.result.first_error,
                       "), ", m.health.errors, " health errors, effects ",
                       m.effects, " vs ok ", m.result.ok, ", calls ",
                       m.result.calls));
    }
    run.phases.push_back(std::move(m));
  }
  return absl::OkStatus();
}

const ExtPhase* Find(const Run& run, const std::string& store,
                     const std::string& scenario, int64_t images) {
  for (const ExtPhase& m : run.phases) {
    if (m.store == store && m.scenario == scenario && m.images == images) {
      return &m;
    }
  }
  return nullptr;
}

void EmitTargets(const ExternalHooks& hooks, const Run& run,
                 const std::vector<int64_t>& sizes,
                 const std::vector<std::string>& stores,
                 const std::vector<int>& account_counts) {
  std::vector<std::vector<std::string>> rows = {
      {"target", "measured", "limit", "result", "context"}};
  std::string json = "[";
  auto add = [&](const std::string& name, double v, const std::string& limit,
                 bool met, const std::string& context) {
    rows.push_back({name, Fixed(v, 2), limit, met ? "met" : "MISSED", context});
    if (json.size() > 1) json += ",";
    json += Json()
                .Str("target", name)
                .Num("measured", v)
                .Str("limit", limit)
                .Bool("met", met)
                .Str("context", context)
                .Build();
  };
  for (int64_t n : sizes) {
    for (const std::string& store : stores) {
      const ExtPhase* d = Find(run, store, "delete", n);
      if (d == nullptr) continue;
      add(absl::StrCat("server CPU DeleteImage / Health, ", store, " @", n),
          d->ServerCpuRatio(), "<= 2.00", d->ServerCpuRatio() <= 2,
          absl::StrCat(Fixed(d->ServerUs(), 1), " vs ",
                       Fixed(d->HealthServerUs(), 1), " us/call"));
      add(absl::StrCat("DeleteImage / Health calls/s, ", store, " @", n),
          d->ratio(), ">= 0.50", d->ratio() >= 0.5,
          absl::StrCat(Fixed(d->result.calls_per_s, 0), " vs ",
                       Fixed(d->health.calls_per_s, 0), " calls/s"));
    }
    for (int a : account_counts) {
      const std::string s = a > 1 ? absl::StrCat("deletex", a) : "delete";
      const ExtPhase* sq = Find(run, "sqlite", s, n);
      const ExtPhase* pg = Find(run, "postgresql", s, n);
      if (sq == nullptr || pg == nullptr) continue;
      const double r = sq->result.calls_per_s > 0
                           ? pg->result.calls_per_s / sq->result.calls_per_s
                           : 0;
      add(absl::StrCat("DeleteImage PostgreSQL / SQLite, ", a, " account(s) @",
                       n),
          r, ">= 0.50", r >= 0.5,
          absl::StrCat(Fixed(pg->result.calls_per_s, 0), " vs ",
                       Fixed(sq->result.calls_per_s, 0), " calls/s"));
    }
  }
  if (sizes.size() >= 2) {
    for (const std::string& store : stores) {
      const ExtPhase* lo = Find(run, store, "describe", sizes.front());
      const ExtPhase* hi = Find(run, store, "describe", sizes.back());
      if (lo == nullptr || hi == nullptr) continue;
      const double a = lo->result.Percentile(50);
      const double b = hi->result.Percentile(50);
      const double r = a > 0 ? b / a : 0;
      add(absl::StrCat("DescribeImages p50 @", sizes.back(), " / @",
                       sizes.front(), ", ", store),
          r, "<= 1.25", r <= 1.25,
          absl::StrCat(Fixed(b, 2), " / ", Fixed(a, 2), " ms"));
    }
  }
  json += "]";
  Log("External targets (same run):\n" + FormatTable(rows));
  hooks.emit(Json()
                 .Str("scenario", "external_summary")
                 .Str("sizes", absl::GetFlag(FLAGS_sizes))
                 .Str("stores", absl::GetFlag(FLAGS_stores))
                 .Raw("targets", json)
                 .Build());
}

}  // namespace

absl::Status RunExternal(const ExternalHooks& hooks, bool* failed) {
  if (absl::GetFlag(FLAGS_ecsimage).empty()) {
    return absl::InvalidArgumentError("--scenario=external needs --ecsimage");
  }
  std::vector<int64_t> sizes;
  for (absl::string_view p :
       absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',', absl::SkipEmpty())) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(p, &n) || n <= 0) {
      return absl::InvalidArgumentError("bad --sizes");
    }
    sizes.push_back(n);
  }
  std::sort(sizes.begin(), sizes.end());
  const std::vector<std::string> stores =
      absl::StrSplit(absl::GetFlag(FLAGS_stores), ',', absl::SkipEmpty());
  std::vector<std::string> scenarios = absl::StrSplit(
      absl::GetFlag(FLAGS_external_scenarios), ',', absl::SkipEmpty());
  const std::set<std::string> known = {"health", "describe", "delete", "modify",
                                       "create", "copy",     "cancel"};
  for (const std::string& s : scenarios) {
    if (known.count(s) == 0) {
      return absl::InvalidArgumentError("unknown external scenario " + s);
    }
  }
  const std::set<std::string> scenario_set(scenarios.begin(), scenarios.end());
  if (scenario_set.count("cancel") > 0 && scenario_set.count("copy") == 0) {
    return absl::InvalidArgumentError("cancel cancels the copy phase's copies");
  }
  const std::vector<int> account_counts =
      ParseInts(absl::GetFlag(FLAGS_accounts));
  if (account_counts.empty()) return absl::InvalidArgumentError("--accounts");
  const std::string pg_dir = absl::GetFlag(FLAGS_pg_dir);
  bool use_pg = false;
  for (const std::string& s : stores) {
    if (s == "postgresql") {
      use_pg = true;
    } else if (s != "sqlite") {
      return absl::InvalidArgumentError("unknown store " + s);
    }
  }
  if (use_pg && pg_dir.empty()) {
    return absl::InvalidArgumentError("--stores=postgresql needs --pg_dir");
  }
  const int pg_pid = use_pg ? PostmasterPid(pg_dir) : 0;
  if (use_pg && pg_pid <= 0) {
    return absl::FailedPreconditionError("no postmaster.pid in " + pg_dir +
                                         "/data");
  }
  const std::string workdir = absl::GetFlag(FLAGS_workdir);
  Run run;
  for (int64_t n : sizes) {
    const std::string base = absl::StrCat(workdir, "/external-", n, ".db");
    auto remove_db = [](const std::string& p) {
      std::error_code ec;
      for (const char* s : {"", "-wal", "-shm", "-journal", ".token"}) {
        fs::remove(p + s, ec);
      }
    };
    remove_db(base);
    ASSIGN_OR_RETURN(double load_s, hooks.prepare_db(n, base));
    const Clock::time_point t0 = Clock::now();
    ASSIGN_OR_RETURN(Pools pools,
                     PreparePools(base, account_counts, scenario_set,
                                  absl::GetFlag(FLAGS_pool)));
    Log(absl::StrCat("dataset ", n, ": base in ", Fixed(load_s, 1),
                     " s, pools in ", Fixed(Since(t0), 1), " s"));
    std::string pg_db;
    std::string pg_uri;
    bool workaround = false;
    if (use_pg) {
      // A fresh database, filled from the same file before SQLite's run
      // changes it.
      pg_db = absl::StrCat("bench_", n, "_", getpid());
      const std::string log = workdir + "/pg-admin.log";
      RETURN_IF_ERROR(PgCommand(
          pg_dir, absl::StrCat("DROP DATABASE IF EXISTS ", pg_db), log));
      RETURN_IF_ERROR(
          PgCommand(pg_dir, absl::StrCat("CREATE DATABASE ", pg_db), log));
      pg_uri = PgUri(pg_dir, pg_db);
      const Clock::time_point c0 = Clock::now();
      std::vector<std::string> copy = {absl::GetFlag(FLAGS_ecsimage),
                                       "db",
                                       "copy",
                                       "--from",
                                       base,
                                       "--to",
                                       pg_uri};
      const int rc = RunCommand(copy, log);
      workaround = rc != 0;
      if (rc != 0) {
        RETURN_IF_ERROR(
            CheckCopyDespiteSharesMismatch(base, pg_dir, pg_db, log));
      }
      run.commands.push_back(absl::StrJoin(copy, " "));
      if (absl::GetFlag(FLAGS_pg_analyze)) {
        const int arc = RunCommand({Psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                    "-d", pg_uri, "-c", "ANALYZE"},
                                   log);
        if (arc != 0)
          return absl::InternalError("ANALYZE failed:\n" + Tail(log));
      }
      Log(absl::StrCat("db copy of ", n, " images into ", pg_db, ": ",
                       Fixed(Since(c0), 1), " s"));
      hooks.emit(Json()
                     .Str("scenario", "external_db_copy")
                     .Int("images", n)
                     .Num("seconds", Since(c0))
                     .Bool("db_copy_shares_check_failed", workaround)
                     .Build());
    }
    for (const std::string& store : stores) {
      const std::string db = store == "sqlite" ? base : pg_uri;
      RETURN_IF_ERROR(RunStore(hooks, run, store, db, n, pools, scenarios,
                               account_counts,
                               store == "postgresql" ? pg_pid : 0, failed));
    }
    if (!absl::GetFlag(FLAGS_keep_db)) {
      remove_db(base);
      if (use_pg) {
        RETURN_IF_ERROR(PgCommand(pg_dir, "DROP DATABASE " + pg_db,
                                  workdir + "/pg-admin.log"));
      }
    }
  }
  std::vector<std::vector<std::string>> rows = {Header()};
  for (const ExtPhase& m : run.phases) rows.push_back(Row(m));
  Log("\nExternal client, all phases (ratio = calls/s over Health/Check just "
      "before on the same server; srv/cli/pg us = CPU per call of the "
      "ecsimage process, the bench, the postgres processes; srv ratio = "
      "server CPU per call over Health's):\n" +
      FormatTable(rows));
  EmitTargets(hooks, run, sizes, stores, account_counts);
  return absl::OkStatus();
}

}  // namespace ecsimage::bench

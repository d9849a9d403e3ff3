#include "bench/startup.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/loader.h"
#include "ecs/image/v1/image_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace ecsimage::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// Reads the child's stderr line by line until EOF: finds the port in the
// JSON start line and keeps the last lines for error messages. Draining to
// EOF keeps the child from blocking on a full pipe.
class StderrReader {
 public:
  StderrReader(int fd, SteadyClock::time_point t0)
      : fd_(fd), t0_(t0), thread_([this] { Loop(); }) {}
  ~StderrReader() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  // The port, or 0 if the child exited first or time ran out.
  int WaitForPort(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                 [this] { return port_ != 0 || eof_; });
    return port_;
  }
  double start_line_s() {
    std::lock_guard<std::mutex> lock(mu_);
    return start_line_s_;
  }
  std::string Tail() {
    std::lock_guard<std::mutex> lock(mu_);
    return tail_;
  }
  // Seconds the background integrity check took (its "ok" line), or -1.
  double WaitForIntegrityCheck(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                 [this] { return integrity_s_ >= 0 || eof_; });
    return integrity_s_;
  }

 private:
  void Loop() {
    std::string pending;
    char buf[4096];
    while (true) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        OnLine(pending.substr(0, nl));
        pending.erase(0, nl + 1);
      }
    }
    if (!pending.empty()) OnLine(pending);
    std::lock_guard<std::mutex> lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  void OnLine(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    tail_ += line + "\n";
    if (tail_.size() > 4000) tail_.erase(0, tail_.size() - 4000);
    if (line.find("\"msg\":\"database integrity check ok\"") !=
        std::string::npos) {
      const size_t at = line.find("\"seconds\":");
      if (at != std::string::npos) {
        integrity_s_ = std::atof(line.c_str() + at + 10);
        cv_.notify_all();
      }
    }
    if (port_ != 0 || line.find("\"msg\":\"started\"") == std::string::npos) {
      return;
    }
    const size_t at = line.find("\"port\":");
    if (at == std::string::npos) return;
    port_ = std::atoi(line.c_str() + at + 7);
    start_line_s_ = Since(t0_);
    cv_.notify_all();
  }

  const int fd_;
  const SteadyClock::time_point t0_;
  std::mutex mu_;
  std::condition_variable cv_;
  int port_ = 0;             // guarded by mu_
  bool eof_ = false;         // guarded by mu_
  double start_line_s_ = 0;  // guarded by mu_
  double integrity_s_ = -1;  // guarded by mu_
  std::string tail_;         // guarded by mu_
  std::thread thread_;
};

bool HealthServing(grpc::health::v1::Health::Stub& stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(500));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub.Check(&ctx, req, &resp);
  return s.ok() &&
         resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

}  // namespace

double ResidentFraction(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  double fraction = -1;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    void* map = ::mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      const long page = ::sysconf(_SC_PAGESIZE);
      const size_t pages = (st.st_size + page - 1) / page;
      std::vector<unsigned char> vec(pages);
      if (::mincore(map, st.st_size, vec.data()) == 0) {
        size_t resident = 0;
        for (unsigned char v : vec) resident += v & 1;
        fraction = static_cast<double>(resident) / pages;
      }
      ::munmap(map, st.st_size);
    }
  }
  ::close(fd);
  return fraction;
}

absl::Status EvictFromPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  // Dirty pages cannot be dropped: write them first.
  ::fdatasync(fd);
  const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("posix_fadvise ", path, ": ", std::strerror(rc)));
  }
  return absl::OkStatus();
}

int64_t ProcStatusKb(int pid, const std::string& key) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      int64_t kb = -1;
      fields >> kb;
      return kb;
    }
  }
  return -1;
}

absl::StatusOr<StartupResult> MeasureStartup(const StartupOptions& options) {
  std::vector<std::string> args = {options.binary,
                                   "serve",
                                   "--db",
                                   options.db,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--create-if-missing=false",
                                   "--log-calls=false",
                                   "--shutdown-grace-seconds=0"};
  args.insert(args.end(), options.extra_flags.begin(),
              options.extra_flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  StartupResult result;
  if (options.cold_cache) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (absl::Status s = EvictFromPageCache(options.db + suffix); !s.ok()) {
        return s;
      }
    }
  }
  result.resident_before = ResidentFraction(options.db);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const SteadyClock::time_point t0 = SteadyClock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  StderrReader reader(fds[0], t0);
  auto fail = [&](const std::string& what) -> absl::Status {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return absl::InternalError(
        absl::StrCat(what, "; server stderr:\n", reader.Tail()));
  };

  const int port = reader.WaitForPort(options.timeout_s);
  if (port == 0) return fail("no start line from ecsimage serve");
  result.start_line_s = reader.start_line_s();

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  while (!HealthServing(*health)) {
    if (Since(t0) > options.timeout_s) return fail("never SERVING");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  result.serving_s = Since(t0);
  result.rss_kb_serving = ProcStatusKb(pid, "VmRSS");

  auto images = ecs::image::v1::ImageService::NewStub(channel);
  std::vector<double> latencies_ms;
  const SteadyClock::time_point traffic0 = SteadyClock::now();
  while (static_cast<int>(latencies_ms.size()) < options.describe_calls &&
         Since(traffic0) < options.traffic_s) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + options.token);
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    ecs::image::v1::DescribeImagesRequest req;
    req.set_region_id(kRegion);
    req.set_page_size(100);
    ecs::image::v1::DescribeImagesResponse resp;
    const SteadyClock::time_point call0 = SteadyClock::now();
    grpc::Status s = images->DescribeImages(&ctx, req, &resp);
    latencies_ms.push_back(Since(call0) * 1000);
    if (!s.ok()) {
      return fail(absl::StrCat("DescribeImages failed: ", s.error_code(), " ",
                               s.error_message()));
    }
    if (resp.images_size() == 0) return fail("DescribeImages returned nothing");
  }
  result.describes = static_cast<int>(latencies_ms.size());
  if (!latencies_ms.empty()) {
    result.first_describe_ms = latencies_ms.front();
    std::sort(latencies_ms.begin(), latencies_ms.end());
    result.describe_p50_ms = latencies_ms[(latencies_ms.size() - 1) / 2];
  }
  if (options.integrity_timeout_s > 0) {
    result.integrity_check_s =
        reader.WaitForIntegrityCheck(options.integrity_timeout_s);
  }
  result.rss_kb_after_traffic = ProcStatusKb(pid, "VmRSS");
  result.hwm_kb = ProcStatusKb(pid, "VmHWM");

  const SteadyClock::time_point stop0 = SteadyClock::now();
  ::kill(pid, SIGTERM);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  result.stop_s = Since(stop0);
  result.exit_code =
      WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return result;
}

}  // namespace ecsimage::bench

// ecsimage_bench: the load generator and benchmark scenarios of issue 5.
//
// Runs the production object graph in-process (see inproc_server.h) on a
// database filled by the Loader, and drives it with the asynchronous client
// of load_client.h. Every scenario phase is preceded by a Health/Check phase
// on the same server with the same concurrency, so each figure is also a
// ratio against that baseline. Every status is checked: any non-OK status
// (or an OK with a wrong answer) is an error and makes the run fail, and
// write scenarios afterwards count in the database that exactly the
// successful calls took effect.
//
// Output: one JSON line per measured phase on stdout; tables on stderr.
// Each phase also says where the CPU went (process CPU per call against
// Health/Check's, the store's writer and completer threads per write), and
// every run starts by measuring the disk's own sync rate in --workdir.
//
//   ecsimage_bench --scenario=delete --images=100000 --concurrency=64
//   ecsimage_bench --scenario=delete --group_commit=false
//   ecsimage_bench --scenario=suite --sizes=1000,100000,1000000
//       --ecsimage=build/service/ecsimage   (one command line)
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/external.h"
#include "bench/inproc_server.h"
#include "bench/load_client.h"
#include "bench/loader.h"
#include "bench/report.h"
#include "bench/startup.h"
#include "ecs/image/v1/image_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "util/status_macros.h"

ABSL_FLAG(
    std::string, scenario, "health",
    "health | regions (DescribeRegions: the cheapest authenticated RPC) | "
    "describe | delete | cancel | copy | share | startup | "
    "delete_direct (DeleteImage into the domain, no gRPC) | suite (all "
    "of them at every --sizes, with targets) | external (a real `ecsimage "
    "serve` child process per store and size, driven from this process; "
    "see --stores, --pg_dir, --external_scenarios, --accounts)");
ABSL_FLAG(int64_t, images, 1000,
          "images in the database (all scenarios but suite)");
ABSL_FLAG(std::string, sizes, "1000,100000,1000000",
          "suite: database sizes, comma-separated");
ABSL_FLAG(int32_t, concurrency, 64, "calls in flight (closed loop)");
ABSL_FLAG(int32_t, channels, 4, "client channels (TCP connections)");
ABSL_FLAG(int32_t, describe_concurrency, 4,
          "DescribeImages calls in flight (the server has 4 reader "
          "connections; more only queues)");
ABSL_FLAG(int32_t, threads, 2, "client completion queues / polling threads");
ABSL_FLAG(double, duration, 5, "seconds per measured phase");
ABSL_FLAG(double, warmup, 0.5, "seconds of Health/Check after each start");
ABSL_FLAG(double, rate, 0,
          "open loop: calls started per second (0: closed loop)");
ABSL_FLAG(int32_t, max_outstanding, 128,
          "open loop: most calls in flight (keep it under the server's "
          "thread bound, or the server answers RESOURCE_EXHAUSTED)");
ABSL_FLAG(int64_t, pool, 30000,
          "targets created before a write phase (a phase ends early when "
          "they run out)");
ABSL_FLAG(bool, group_commit, true,
          "store option: batch queued writes into one commit");
ABSL_FLAG(int32_t, max_batch_size,
          ecsimage::storage::SqliteStoreOptions().max_batch_size,
          "store option: most writes per commit");
ABSL_FLAG(int32_t, max_batch_wait_us, 0,
          "store option: how long the writer waits for a batch to fill");
ABSL_FLAG(int32_t, server_max_threads,
          ecsimage::grpcapi::ServerOptions().max_threads,
          "server option: bound of server threads");
ABSL_FLAG(int32_t, server_max_concurrent_calls,
          ecsimage::grpcapi::ServerOptions().max_concurrent_calls,
          "server option: calls inside handlers at once, past which calls "
          "are refused with Throttling (0: the server's default share of "
          "--server_max_threads)");
ABSL_FLAG(bool, server_metrics, true,
          "server option: Prometheus call metrics (always on in `ecsimage "
          "serve`)");
ABSL_FLAG(bool, server_log_calls, false,
          "server option: the access log, one JSON line per call on stderr "
          "(on by default in `ecsimage serve`; redirect stderr, and read the "
          "JSON lines on stdout)");
ABSL_FLAG(bool, half_rate, true,
          "suite: also DeleteImage open loop at half its measured max");
ABSL_FLAG(std::string, workdir, "/tmp/ecsimage-bench",
          "where the databases of the run live");
ABSL_FLAG(std::string, cache_dir, "",
          "reuse loaded databases kept here (base-N.db); empty: load anew");
ABSL_FLAG(bool, keep_db, false, "keep the databases of the run");
ABSL_FLAG(std::string, ecsimage, "",
          "the ecsimage binary, for start-up time and memory (suite: "
          "skipped when empty)");
ABSL_FLAG(bool, startup_cold, true,
          "startup: drop the database file's pages from the page cache "
          "(posix_fadvise DONTNEED) before starting the server");
ABSL_FLAG(int32_t, startup_describes, 200,
          "startup: DescribeImages calls (at most 10 s of them) before the "
          "second RSS reading");
ABSL_FLAG(std::string, json_out, "", "also append the JSON lines here");
ABSL_FLAG(int32_t, disk_syncs, 200,
          "at the start of the run: 4 KiB write + fdatasync this many times "
          "(at most ~2 s) in --workdir, for the disk's sync rate (0: skip)");

namespace ecsimage::bench {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::ecs::image::v1;
namespace health = ::grpc::health::v1;

constexpr int kPeers = 10;
constexpr int kCopySources = 8;
constexpr int64_t kDescribePage = 100;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void Log(const std::string& line) { std::cerr << line << std::endl; }

// CPU time of the whole process, user + system: client and server share it.
double ProcessCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

// The cores this process may run on (what `nproc` prints).
int NumCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

// Process CPU and wall time over one phase.
struct PhaseCpu {
  double cpu_s = 0;
  double wall_s = 0;

  double UsPerCall(int64_t calls) const {
    return calls > 0 ? cpu_s * 1e6 / calls : 0;
  }
  // Share of all cores used; near 1 means the phase was CPU-bound.
  double Utilisation() const {
    return wall_s > 0 ? cpu_s / wall_s / NumCpus() : 0;
  }
};

// Measures from construction to Elapsed().
class CpuTimer {
 public:
  CpuTimer() : cpu0_(ProcessCpuSeconds()), wall0_(Clock::now()) {}
  PhaseCpu Elapsed() const {
    return {ProcessCpuSeconds() - cpu0_, SecondsSince(wall0_)};
  }

 private:
  double cpu0_;
  Clock::time_point wall0_;
};

// Stubs per channel, and one factory method per RPC.
class Rpcs {
 public:
  Rpcs(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
       std::string token)
      : token_(std::move(token)) {
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

  std::unique_ptr<Call> Delete(int ch, const std::string& id) const {
    v1::DeleteImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    return Make<v1::DeleteImageRequest, v1::DeleteImageResponse>(
        ch, &v1::ImageService::Stub::PrepareAsyncDeleteImage, std::move(req),
        [](const v1::DeleteImageResponse& r) {
          return !r.request_id().empty();
        });
  }

  std::unique_ptr<Call> Cancel(int ch, const std::string& id) const {
    v1::CancelCopyImageRequest req;
    req.set_region_id(kCopyRegion);
    req.set_image_id(id);
    return Make<v1::CancelCopyImageRequest, v1::CancelCopyImageResponse>(
        ch, &v1::ImageService::Stub::PrepareAsyncCancelCopyImage,
        std::move(req), [](const v1::CancelCopyImageResponse& r) {
          return !r.request_id().empty();
        });
  }

  std::unique_ptr<Call> Copy(int ch, const std::string& source) const {
    v1::CopyImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(source);
    req.set_destination_region_id(kCopyRegion);
    return Make<v1::CopyImageRequest, v1::CopyImageResponse>(
        ch, &v1::ImageService::Stub::PrepareAsyncCopyImage, std::move(req),
        [](const v1::CopyImageResponse& r) {
          return r.image_id().rfind("m-", 0) == 0;
        });
  }

  std::unique_ptr<Call> Share(int ch, const std::string& id,
                              const std::string& account) const {
    v1::ModifyImageSharePermissionRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(id);
    req.add_add_account(account);
    return Make<v1::ModifyImageSharePermissionRequest,
                v1::ModifyImageSharePermissionResponse>(
        ch, &v1::ImageService::Stub::PrepareAsyncModifyImageSharePermission,
        std::move(req), [](const v1::ModifyImageSharePermissionResponse& r) {
          return !r.request_id().empty();
        });
  }

  // The cheapest authenticated RPC: token lookup plus a tiny read.
  std::unique_ptr<Call> Regions(int ch) const {
    return Make<v1::DescribeRegionsRequest, v1::DescribeRegionsResponse>(
        ch, &v1::ImageService::Stub::PrepareAsyncDescribeRegions,
        v1::DescribeRegionsRequest(), [](const v1::DescribeRegionsResponse& r) {
          return r.regions_size() >= 5;
        });
  }

  // Page 1 of 100 of the caller's region (default Status filter:
  // Available); at least `min_total` images must match.
  std::unique_ptr<Call> Describe(int ch, int64_t min_total) const {
    v1::DescribeImagesRequest req;
    req.set_region_id(kRegion);
    req.set_page_size(kDescribePage);
    return Make<v1::DescribeImagesRequest, v1::DescribeImagesResponse>(
        ch, &v1::ImageService::Stub::PrepareAsyncDescribeImages, std::move(req),
        [min_total](const v1::DescribeImagesResponse& r) {
          return r.total_count() >= min_total &&
                 r.images_size() ==
                     std::min<int64_t>(kDescribePage, r.total_count());
        });
  }

 private:
  template <typename Req, typename Resp, typename PrepareMember>
  std::unique_ptr<Call> Make(int ch, PrepareMember prepare, Req req,
                             typename UnaryCall<Req, Resp>::Check check) const {
    auto* stub = images_[ch].get();
    auto call = std::make_unique<UnaryCall<Req, Resp>>(
        [stub, prepare](grpc::ClientContext* c, const Req& r,
                        grpc::CompletionQueue* cq) {
          return (stub->*prepare)(c, r, cq);
        },
        std::move(req), std::move(check));
    call->context.AddMetadata("authorization", "Bearer " + token_);
    return call;
  }

  std::string token_;
  std::vector<std::unique_ptr<v1::ImageService::Stub>> images_;
  std::vector<std::unique_ptr<health::Health::Stub>> health_;
};

// A running in-process server, its channels and a loader on its store.
struct Session {
  std::unique_ptr<InProcessServer> server;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::unique_ptr<Loader> loader;
  Dataset data;
  std::unique_ptr<Rpcs> rpcs;
  bool group_commit = true;
};

absl::StatusOr<std::unique_ptr<Session>> StartSession(const std::string& db,
                                                      bool group_commit) {
  auto s = std::make_unique<Session>();
  s->group_commit = group_commit;
  InProcessConfig config;
  config.db = db;
  config.group_commit = group_commit;
  config.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  config.max_batch_wait =
      absl::Microseconds(absl::GetFlag(FLAGS_max_batch_wait_us));
  config.max_threads = absl::GetFlag(FLAGS_server_max_threads);
  config.max_concurrent_calls =
      absl::GetFlag(FLAGS_server_max_concurrent_calls);
  config.metrics = absl::GetFlag(FLAGS_server_metrics);
  config.log_calls = absl::GetFlag(FLAGS_server_log_calls);
  ASSIGN_OR_RETURN(s->server, InProcessServer::Start(config));
  s->loader =
      std::make_unique<Loader>(s->server->store(), std::random_device()());
  ASSIGN_OR_RETURN(s->data, s->loader->Open(kPeers));
  s->channels =
      MakeChannels(s->server->target(), absl::GetFlag(FLAGS_channels));
  for (const auto& ch : s->channels) {
    if (!ch->WaitForConnected(std::chrono::system_clock::now() +
                              std::chrono::seconds(10))) {
      return absl::UnavailableError("cannot connect to the bench server");
    }
  }
  s->rpcs = std::make_unique<Rpcs>(s->channels, s->data.owner.token);
  // Warm up: connections, server threads, SQLite caches.
  DriveOptions warm;
  warm.concurrency = absl::GetFlag(FLAGS_concurrency);
  warm.duration_s = absl::GetFlag(FLAGS_warmup);
  warm.threads = absl::GetFlag(FLAGS_threads);
  if (warm.duration_s > 0) {
    Rpcs* rpcs = s->rpcs.get();
    PhaseResult r = Drive(
        "warmup", [rpcs](int64_t, int ch) { return rpcs->Health(ch); },
        static_cast<int>(s->channels.size()), warm);
    if (r.errors > 0) {
      return absl::UnavailableError("warm-up Health/Check failed: " +
                                    r.first_error);
    }
  }
  return s;
}

// One measured phase and its Health/Check baseline.
struct Measurement {
  std::string scenario;  // health, describe, delete, delete@half, ...
  int64_t images = 0;    // dataset size N
  bool group_commit = true;
  int concurrency = 0;
  double rate = 0;  // open loop rate; 0 = closed loop
  PhaseResult result;
  PhaseResult health;
  int64_t owner_live_images = 0;  // at phase start
  int64_t pool = 0;
  uint64_t commits = 0;
  uint64_t writes = 0;
  int64_t effects = -1;  // rows found changed afterwards; -1: read-only
  bool verified = true;
  PhaseCpu cpu;                   // the process over the phase
  PhaseCpu health_cpu;            // the process over the Health/Check baseline
  uint64_t writer_cpu_ns = 0;     // the store's writer thread in the phase
  uint64_t completer_cpu_ns = 0;  // the store's completer thread

  double ratio() const {
    return health.calls_per_s > 0 ? result.calls_per_s / health.calls_per_s : 0;
  }
  // Against the disk's sync rate: each commit waits for one sync.
  double CommitsPerS() const {
    return result.seconds > 0 ? commits / result.seconds : 0;
  }
  double CpuUsPerCall() const { return cpu.UsPerCall(result.calls); }
  double HealthCpuUsPerCall() const {
    return health_cpu.UsPerCall(health.calls);
  }
  // The calls/s ratio against Health/Check if both phases were CPU-bound on
  // the same cores: compare with ratio().
  double CpuBoundRatio() const {
    return CpuUsPerCall() > 0 ? HealthCpuUsPerCall() / CpuUsPerCall() : 0;
  }
  // Store thread CPU per write: 0 without writes, NaN (JSON null) if the
  // store reported none for writes.
  double PerWriteUs(uint64_t ns) const {
    if (writes == 0) return 0;
    return writer_cpu_ns == 0 ? NAN : ns / 1e3 / writes;
  }
  double WriterCpuUsPerWrite() const { return PerWriteUs(writer_cpu_ns); }
  double CompleterCpuUsPerWrite() const { return PerWriteUs(completer_cpu_ns); }
  // What the store did between `before` and `after`.
  void SetStoreDeltas(const storage::SqliteStoreStats& before,
                      const storage::SqliteStoreStats& after) {
    commits = after.commits - before.commits;
    writes = after.writes - before.writes;
    writer_cpu_ns = after.writer_cpu_ns - before.writer_cpu_ns;
    completer_cpu_ns = after.completer_cpu_ns - before.completer_cpu_ns;
  }
  bool failed() const {
    return result.errors > 0 || health.errors > 0 || !verified ||
           result.calls == 0;
  }
};

struct StartupMeasurement {
  int64_t images = 0;
  StartupResult r;
};

// Everything a run measured, for the tables and the exit code.
struct Report {
  std::optional<PhaseResult> disk_sync;              // at the start of the run
  std::map<int64_t, PhaseResult> disk_sync_by_size;  // suite: N -> probe
  std::vector<Measurement> phases;
  std::vector<StartupMeasurement> startups;
  std::vector<std::pair<int64_t, double>> load_seconds;  // (N, s)
  std::ofstream json_out;
  bool failed = false;

  void Emit(const std::string& line) {
    std::cout << line << std::endl;
    if (json_out.is_open()) json_out << line << "\n" << std::flush;
  }
};

std::string CodesJson(const std::map<std::string, int64_t>& codes) {
  Json j;
  for (const auto& [code, n] : codes) j.Int(code, n);
  return j.Build();
}

std::string MeasurementJson(const Measurement& m) {
  const PhaseResult& r = m.result;
  Json j;
  j.Str("scenario", m.scenario)
      .Int("images", m.images)
      .Int("owner_live_images", m.owner_live_images)
      .Bool("group_commit", m.group_commit)
      .Int("concurrency", m.concurrency)
      .Num("open_loop_rate", m.rate)
      .Int("channels", absl::GetFlag(FLAGS_channels))
      .Int("calls", r.calls)
      .Int("ok", r.ok)
      .Int("errors", r.errors)
      .Raw("error_codes", CodesJson(r.error_codes))
      .Str("first_error", r.first_error)
      .Num("seconds", r.seconds)
      .Num("calls_per_s", r.calls_per_s)
      .Num("p50_ms", r.Percentile(50))
      .Num("p90_ms", r.Percentile(90))
      .Num("p99_ms", r.Percentile(99))
      .Num("p999_ms", r.Percentile(99.9))
      .Num("max_ms", r.Percentile(100))
      .Num("health_calls_per_s", m.health.calls_per_s)
      .Num("health_p50_ms", m.health.Percentile(50))
      .Num("health_p99_ms", m.health.Percentile(99))
      .Int("health_errors", m.health.errors)
      .Num("ratio_vs_health", m.ratio())
      .Int("pool", m.pool)
      .Bool("pool_exhausted", r.exhausted)
      .Int("commits", static_cast<int64_t>(m.commits))
      .Int("writes", static_cast<int64_t>(m.writes))
      .Num("writes_per_commit",
           m.commits > 0 ? static_cast<double>(m.writes) / m.commits : 0)
      .Int("nproc", NumCpus())
      .Num("cpu_us_per_call", m.CpuUsPerCall())
      .Num("health_cpu_us_per_call", m.HealthCpuUsPerCall())
      .Num("cpu_bound_ratio", m.CpuBoundRatio())
      .Num("cpu_utilisation", m.cpu.Utilisation())
      .Num("health_cpu_utilisation", m.health_cpu.Utilisation())
      .Num("commits_per_s", m.CommitsPerS())
      .Num("writer_cpu_us_per_write", m.WriterCpuUsPerWrite())
      .Num("completer_cpu_us_per_write", m.CompleterCpuUsPerWrite())
      .Int("effects", m.effects)
      .Bool("verified", m.verified)
      .Bool("ok_run", !m.failed());
  return j.Build();
}

std::vector<std::string> TableHeader() {
  return {"scenario",   "images", "commit",   "conc",   "calls",  "calls/s",
          "health/s",   "ratio",  "p50 ms",   "p90 ms", "p99 ms", "p99.9 ms",
          "health p99", "err",    "w/commit", "check"};
}

std::vector<std::string> TableRow(const Measurement& m) {
  const PhaseResult& r = m.result;
  return {
      m.scenario,
      absl::StrCat(m.images),
      m.group_commit ? "group" : "single",
      m.rate > 0 ? absl::StrCat("@", static_cast<int64_t>(m.rate), "/s")
                 : absl::StrCat(m.concurrency),
      absl::StrCat(r.calls),
      Fixed(r.calls_per_s, 0),
      Fixed(m.health.calls_per_s, 0),
      Fixed(m.ratio(), 2),
      Fixed(r.Percentile(50), 2),
      Fixed(r.Percentile(90), 2),
      Fixed(r.Percentile(99), 2),
      Fixed(r.Percentile(99.9), 2),
      Fixed(m.health.Percentile(99), 2),
      absl::StrCat(r.errors),
      m.commits > 0 ? Fixed(static_cast<double>(m.writes) / m.commits, 1) : "-",
      m.effects < 0 ? "-" : (m.verified ? "ok" : "MISMATCH")};
}

// Where the CPU went, one row per phase.
std::vector<std::string> CpuTableHeader() {
  return {"scenario",
          "images",
          "ratio",
          "cpu us/call",
          "health us/call",
          "cpu-bound ratio",
          "cpu util",
          "health util",
          "commits/s",
          "writer us/write",
          "completer us/write"};
}

std::vector<std::string> CpuTableRow(const Measurement& m) {
  auto per_write = [&m](double us) {
    return m.writes == 0 ? "-" : std::isnan(us) ? "n/a" : Fixed(us, 1);
  };
  return {m.scenario,
          absl::StrCat(m.images),
          Fixed(m.ratio(), 2),
          Fixed(m.CpuUsPerCall(), 1),
          Fixed(m.HealthCpuUsPerCall(), 1),
          Fixed(m.CpuBoundRatio(), 2),
          Fixed(m.cpu.Utilisation(), 2),
          Fixed(m.health_cpu.Utilisation(), 2),
          m.commits > 0 ? Fixed(m.CommitsPerS(), 0) : "-",
          per_write(m.WriterCpuUsPerWrite()),
          per_write(m.CompleterCpuUsPerWrite())};
}

constexpr char kCpuTableLegend[] =
    "CPU (process user+sys; client and server share the cores): us/call = "
    "CPU time per call; cpu-bound ratio = health us/call / cpu us/call, the "
    "ratio if both phases were CPU-bound; util = CPU s / wall s / nproc "
    "(near 1: CPU-bound); commits/s: against the disk's syncs/s "
    "(disk_sync); writer, completer = the store's threads' CPU per write";

DriveOptions ClosedLoop() {
  DriveOptions o;
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.duration_s = absl::GetFlag(FLAGS_duration);
  o.threads = absl::GetFlag(FLAGS_threads);
  return o;
}

// Counts how many of the first `calls` targets show the change.
using EffectCounter = std::function<absl::StatusOr<int64_t>(int64_t calls)>;

// Health baseline, then the phase; then the effect check.
absl::StatusOr<Measurement> Measure(Session& s, const std::string& scenario,
                                    int64_t images, const CallFactory& factory,
                                    const DriveOptions& options, int64_t pool,
                                    const EffectCounter& count_effects) {
  Measurement m;
  m.scenario = scenario;
  m.images = images;
  m.group_commit = s.group_commit;
  m.concurrency = options.concurrency;
  m.rate = options.rate;
  m.pool = pool;
  ASSIGN_OR_RETURN(DatasetCounts counts, s.loader->Counts(s.data));
  m.owner_live_images = counts.owner_live_in_region;
  const int num_channels = static_cast<int>(s.channels.size());
  Rpcs* rpcs = s.rpcs.get();
  // The baseline runs with the phase's own options (concurrency, or open
  // loop rate), so that throughput and tail latency compare like for like.
  const CpuTimer health_timer;
  m.health = Drive(
      "health", [rpcs](int64_t, int ch) { return rpcs->Health(ch); },
      num_channels, options);
  m.health_cpu = health_timer.Elapsed();
  const storage::SqliteStoreStats before = s.server->store().stats();
  const CpuTimer timer;
  m.result = Drive(scenario, factory, num_channels, options);
  m.cpu = timer.Elapsed();
  m.SetStoreDeltas(before, s.server->store().stats());
  if (count_effects) {
    ASSIGN_OR_RETURN(m.effects, count_effects(m.result.calls));
    m.verified = m.effects == m.result.ok;
  }
  return m;
}

// The scenarios. Each creates what it consumes, measures, verifies, and
// leaves the live image count where it found it (leftover pool images are
// tombstoned).
class Scenarios {
 public:
  Scenarios(Session& s, int64_t images) : s_(s), images_(images) {}

  absl::StatusOr<Measurement> Health() {
    Rpcs* rpcs = s_.rpcs.get();
    return Measure(
        s_, "health", images_,
        [rpcs](int64_t, int ch) { return rpcs->Health(ch); }, ClosedLoop(), 0,
        nullptr);
  }

  absl::StatusOr<Measurement> Regions() {
    Rpcs* rpcs = s_.rpcs.get();
    return Measure(
        s_, "regions", images_,
        [rpcs](int64_t, int ch) { return rpcs->Regions(ch); }, ClosedLoop(), 0,
        nullptr);
  }

  absl::StatusOr<Measurement> Describe() {
    ASSIGN_OR_RETURN(DatasetCounts counts, s_.loader->Counts(s_.data));
    Rpcs* rpcs = s_.rpcs.get();
    const int64_t min_total = counts.owner_live_in_region;
    DriveOptions options = ClosedLoop();
    options.concurrency = absl::GetFlag(FLAGS_describe_concurrency);
    return Measure(
        s_, "describe", images_,
        [rpcs, min_total](int64_t, int ch) {
          return rpcs->Describe(ch, min_total);
        },
        options, 0, nullptr);
  }

  absl::StatusOr<Measurement> Delete(const DriveOptions& options,
                                     int64_t pool_size,
                                     const std::string& label) {
    ASSIGN_OR_RETURN(std::vector<std::string> pool,
                     s_.loader->AddPlainImages(s_.data, pool_size));
    Rpcs* rpcs = s_.rpcs.get();
    const std::vector<std::string>* ids = &pool;
    ASSIGN_OR_RETURN(
        Measurement m,
        Measure(
            s_, label, images_,
            [rpcs, ids](int64_t i, int ch) -> std::unique_ptr<Call> {
              if (i >= static_cast<int64_t>(ids->size())) return nullptr;
              return rpcs->Delete(ch, (*ids)[i]);
            },
            options, pool_size,
            [this, ids](int64_t calls) {
              return CountImages(
                  kRegion, *ids, calls,
                  [](storage::ReadTxn&,
                     const storage::ImageRow& image) -> absl::StatusOr<bool> {
                    return image.deleted_at_ms.has_value();
                  });
            }));
    RETURN_IF_ERROR(s_.loader->TombstoneLive(kRegion, pool));
    return m;
  }

  absl::StatusOr<Measurement> Cancel() {
    const int64_t pool_size = absl::GetFlag(FLAGS_pool);
    ASSIGN_OR_RETURN(std::vector<std::string> pool,
                     s_.loader->AddTransferringCopies(s_.data, pool_size));
    Rpcs* rpcs = s_.rpcs.get();
    const std::vector<std::string>* ids = &pool;
    return Measure(
        s_, "cancel", images_,
        [rpcs, ids](int64_t i, int ch) -> std::unique_ptr<Call> {
          if (i >= static_cast<int64_t>(ids->size())) return nullptr;
          return rpcs->Cancel(ch, (*ids)[i]);
        },
        ClosedLoop(), pool_size,
        [this, ids](int64_t calls) {
          return CountImages(
              kCopyRegion, *ids, calls,
              [](storage::ReadTxn& txn,
                 const storage::ImageRow& image) -> absl::StatusOr<bool> {
                ASSIGN_OR_RETURN(auto copy, txn.GetCopyByDest(image.rowid));
                return copy.has_value() && copy->phase == "CANCELLING";
              });
        });
  }

  absl::StatusOr<Measurement> Share() {
    const int64_t pool_size = absl::GetFlag(FLAGS_pool);
    ASSIGN_OR_RETURN(std::vector<std::string> pool,
                     s_.loader->AddPlainImages(s_.data, pool_size));
    Rpcs* rpcs = s_.rpcs.get();
    const std::vector<std::string>* ids = &pool;
    const std::string peer = s_.data.peers.front().account_id;
    ASSIGN_OR_RETURN(
        Measurement m,
        Measure(
            s_, "share", images_,
            [rpcs, ids, peer](int64_t i, int ch) -> std::unique_ptr<Call> {
              if (i >= static_cast<int64_t>(ids->size())) return nullptr;
              return rpcs->Share(ch, (*ids)[i], peer);
            },
            ClosedLoop(), pool_size,
            [this, ids, peer](int64_t calls) {
              return CountImages(
                  kRegion, *ids, calls,
                  [&peer](storage::ReadTxn& txn, const storage::ImageRow& image)
                      -> absl::StatusOr<bool> {
                    return txn.HasShare(image.rowid, peer);
                  });
            }));
    // Shared images cannot be tombstoned through the API, but the loader
    // writes rows directly: the pool leaves the live count as it was.
    RETURN_IF_ERROR(s_.loader->TombstoneLive(kRegion, pool));
    return m;
  }

  // DeleteImage straight into ImageDomain from `concurrency` threads: no
  // gRPC, no authentication. Tells the storage/domain share of the cost
  // from the RPC share (compare with "delete").
  absl::StatusOr<Measurement> DeleteDirect() {
    const int64_t pool_size = absl::GetFlag(FLAGS_pool);
    ASSIGN_OR_RETURN(std::vector<std::string> pool,
                     s_.loader->AddPlainImages(s_.data, pool_size));
    const DriveOptions options = ClosedLoop();
    Measurement m;
    m.scenario = s_.group_commit ? "delete_direct" : "delete_direct_single";
    m.images = images_;
    m.group_commit = s_.group_commit;
    m.concurrency = options.concurrency;
    m.pool = pool_size;
    ASSIGN_OR_RETURN(DatasetCounts counts, s_.loader->Counts(s_.data));
    m.owner_live_images = counts.owner_live_in_region;
    Rpcs* rpcs = s_.rpcs.get();
    const CpuTimer health_timer;
    m.health = Drive(
        "health", [rpcs](int64_t, int ch) { return rpcs->Health(ch); },
        static_cast<int>(s_.channels.size()), options);
    m.health_cpu = health_timer.Elapsed();

    domain::ImageDomain& domain = s_.server->domain();
    domain::Caller caller;
    caller.account_id = s_.data.owner.account_id;
    std::atomic<int64_t> next{0};
    std::mutex mu;
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point end =
        t0 + std::chrono::duration_cast<Clock::duration>(
                 std::chrono::duration<double>(options.duration_s));
    Clock::time_point last = t0;
    const storage::SqliteStoreStats before = s_.server->store().stats();
    const CpuTimer timer;
    std::vector<std::thread> threads;
    for (int k = 0; k < options.concurrency; ++k) {
      threads.emplace_back([&] {
        std::vector<double> latencies;
        int64_t ok = 0;
        std::map<std::string, int64_t> codes;
        std::string first_error;
        while (Clock::now() < end) {
          const int64_t i = next.fetch_add(1);
          if (i >= pool_size) break;
          v1::DeleteImageRequest req;
          req.set_region_id(kRegion);
          req.set_image_id(pool[i]);
          v1::DeleteImageResponse resp;
          const Clock::time_point c0 = Clock::now();
          absl::Status st = domain.DeleteImage(caller, req, &resp);
          latencies.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - c0)
                  .count());
          if (st.ok()) {
            ++ok;
          } else {
            ++codes[std::string(absl::StatusCodeToString(st.code()))];
            if (first_error.empty()) first_error = st.ToString();
          }
        }
        std::lock_guard<std::mutex> lock(mu);
        m.result.ok += ok;
        for (const auto& [code, n] : codes) {
          m.result.error_codes[code] += n;
          m.result.errors += n;
        }
        if (m.result.first_error.empty()) m.result.first_error = first_error;
        m.result.latencies_ms.insert(m.result.latencies_ms.end(),
                                     latencies.begin(), latencies.end());
        last = std::max(last, Clock::now());
      });
    }
    for (std::thread& t : threads) t.join();
    m.cpu = timer.Elapsed();
    m.SetStoreDeltas(before, s_.server->store().stats());
    m.result.name = m.scenario;
    std::sort(m.result.latencies_ms.begin(), m.result.latencies_ms.end());
    m.result.calls = static_cast<int64_t>(m.result.latencies_ms.size());
    m.result.exhausted = next.load() >= pool_size;
    m.result.seconds = std::chrono::duration<double>(last - t0).count();
    m.result.calls_per_s =
        m.result.seconds > 0 ? m.result.calls / m.result.seconds : 0;
    ASSIGN_OR_RETURN(
        m.effects,
        CountImages(kRegion, pool, m.result.calls,
                    [](storage::ReadTxn&,
                       const storage::ImageRow& image) -> absl::StatusOr<bool> {
                      return image.deleted_at_ms.has_value();
                    }));
    m.verified = m.effects == m.result.ok;
    RETURN_IF_ERROR(s_.loader->TombstoneLive(kRegion, pool));
    return m;
  }

  absl::StatusOr<Measurement> Copy() {
    if (sources_.empty()) {
      ASSIGN_OR_RETURN(sources_,
                       s_.loader->AddPlainImages(s_.data, kCopySources));
    }
    ASSIGN_OR_RETURN(DatasetCounts before, s_.loader->Counts(s_.data));
    Rpcs* rpcs = s_.rpcs.get();
    const std::vector<std::string>* sources = &sources_;
    return Measure(
        s_, "copy", images_,
        [rpcs, sources](int64_t i, int ch) {
          return rpcs->Copy(ch, (*sources)[i % sources->size()]);
        },
        ClosedLoop(), 0,
        [this, before](int64_t) -> absl::StatusOr<int64_t> {
          ASSIGN_OR_RETURN(DatasetCounts after, s_.loader->Counts(s_.data));
          return after.owner_live_in_copy_region -
                 before.owner_live_in_copy_region;
        });
  }

 private:
  using ImagePredicate = std::function<absl::StatusOr<bool>(
      storage::ReadTxn&, const storage::ImageRow&)>;

  // How many of ids[0, calls) satisfy `pred`.
  absl::StatusOr<int64_t> CountImages(const std::string& region,
                                      const std::vector<std::string>& ids,
                                      int64_t calls,
                                      const ImagePredicate& pred) {
    int64_t n = 0;
    const int64_t end = std::min<int64_t>(calls, ids.size());
    RETURN_IF_ERROR(s_.server->store().RunInReadTransaction(
        [&](storage::ReadTxn& txn) -> absl::Status {
          for (int64_t i = 0; i < end; ++i) {
            ASSIGN_OR_RETURN(auto image, txn.GetImage(region, ids[i]));
            if (!image.has_value()) continue;
            ASSIGN_OR_RETURN(bool yes, pred(txn, *image));
            if (yes) ++n;
          }
          return absl::OkStatus();
        }));
    return n;
  }

  Session& s_;
  const int64_t images_;
  std::vector<std::string> sources_;
};

// Database files ------------------------------------------------------------

void RemoveDb(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(path + suffix, ec);
  }
}

// A database at `path` holding the dataset of `images` images: from the
// cache if there is one, else loaded (and cached). Returns load seconds.
absl::StatusOr<double> PrepareDb(int64_t images, const std::string& path) {
  RemoveDb(path);
  const std::string cache_dir = absl::GetFlag(FLAGS_cache_dir);
  const std::string cached =
      cache_dir.empty() ? ""
                        : absl::StrCat(cache_dir, "/base-v1-", images, ".db");
  const Clock::time_point t0 = Clock::now();
  std::error_code ec;
  if (!cached.empty() && fs::exists(cached, ec)) {
    fs::copy_file(cached, path, ec);
    if (ec) return absl::InternalError("copy " + cached + ": " + ec.message());
    Log(absl::StrCat("using cached ", cached));
    return SecondsSince(t0);
  }
  {
    storage::SqliteStoreOptions options;
    options.path = path;
    options.create_if_missing = true;
    ASSIGN_OR_RETURN(auto store, storage::SqliteStore::Open(options));
    Loader loader(*store, std::random_device()());
    LoadSpec spec;
    spec.images = images;
    spec.peers = kPeers;
    RETURN_IF_ERROR(loader.Load(spec).status());
    store->Shutdown();
  }  // closing the last connection checkpoints the WAL into the file
  const double seconds = SecondsSince(t0);
  Log(absl::StrCat("loaded ", images, " images in ", Fixed(seconds, 1), " s (",
                   Fixed(images / std::max(seconds, 1e-9), 0), " images/s)"));
  if (!cached.empty()) {
    fs::create_directories(cache_dir, ec);
    fs::copy_file(path, cached + ".partial",
                  fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(cached + ".partial", cached, ec);
  }
  return seconds;
}

std::string DbPath(int64_t images) {
  return absl::StrCat(absl::GetFlag(FLAGS_workdir), "/bench-", images, ".db");
}

absl::Status Record(Report& report, absl::StatusOr<Measurement> m) {
  if (!m.ok()) return m.status();
  report.Emit(MeasurementJson(*m));
  Log(FormatTable({TableHeader(), TableRow(*m)}));
  Log(FormatTable({CpuTableHeader(), CpuTableRow(*m)}));
  if (m->failed()) {
    report.failed = true;
    Log(absl::StrCat("FAILED: ", m->scenario, ": ", m->result.errors,
                     " errors (", m->result.first_error, "), ",
                     m->health.errors, " health errors, effects ", m->effects,
                     " vs ok ", m->result.ok));
  }
  report.phases.push_back(*std::move(m));
  return absl::OkStatus();
}

absl::Status RunStartup(Report& report, int64_t images, const std::string& db) {
  StartupOptions options;
  options.binary = absl::GetFlag(FLAGS_ecsimage);
  options.db = db;
  options.token = absl::StrCat("ecsimage-bench-token-", 7000000000000000);
  options.describe_calls = absl::GetFlag(FLAGS_startup_describes);
  options.cold_cache = absl::GetFlag(FLAGS_startup_cold);
  options.integrity_timeout_s = 600;
  ASSIGN_OR_RETURN(StartupResult r, MeasureStartup(options));
  report.Emit(Json()
                  .Str("scenario", "startup")
                  .Int("images", images)
                  .Num("start_line_s", r.start_line_s)
                  .Num("serving_s", r.serving_s)
                  .Int("rss_kb_serving", r.rss_kb_serving)
                  .Int("rss_kb_after_traffic", r.rss_kb_after_traffic)
                  .Int("hwm_kb", r.hwm_kb)
                  .Int("describes", r.describes)
                  .Num("first_describe_ms", r.first_describe_ms)
                  .Num("describe_p50_ms", r.describe_p50_ms)
                  .Num("resident_before", r.resident_before)
                  .Num("integrity_check_s", r.integrity_check_s)
                  .Int("exit_code", r.exit_code)
                  .Num("stop_s", r.stop_s)
                  .Build());
  Log(FormatTable(
      {{"startup", "images", "cached before", "start line s", "SERVING s",
        "RSS MB serving", "RSS MB after", "peak MB", "describes", "p50 ms",
        "integrity check s", "exit"},
       {"ecsimage serve", absl::StrCat(images),
        absl::StrCat(Fixed(r.resident_before * 100, 1), "%"),
        Fixed(r.start_line_s, 3), Fixed(r.serving_s, 3),
        Fixed(r.rss_kb_serving / 1024.0, 1),
        Fixed(r.rss_kb_after_traffic / 1024.0, 1), Fixed(r.hwm_kb / 1024.0, 1),
        absl::StrCat(r.describes), Fixed(r.describe_p50_ms, 1),
        Fixed(r.integrity_check_s, 3), absl::StrCat(r.exit_code)}}));
  if (r.exit_code != 0) report.failed = true;
  report.startups.push_back({images, r});
  return absl::OkStatus();
}

// Disk sync rate --------------------------------------------------------------

// 4 KiB pwrite + fdatasync of one block of a file in `dir`, `syncs` times
// (fewer if they take over ~2 s): how fast this disk makes a write durable.
// Every commit waits for one such sync (of the WAL).
absl::StatusOr<PhaseResult> MeasureDiskSync(const std::string& dir, int syncs) {
  std::string path = dir + "/disk-sync-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("create ", path, ": ", std::strerror(errno)));
  }
  const std::string block(4096, 'x');
  auto write_and_sync = [&] {
    return pwrite(fd, block.data(), block.size(), 0) ==
               static_cast<ssize_t>(block.size()) &&
           fdatasync(fd) == 0;
  };
  PhaseResult r;
  r.name = "disk_sync";
  bool ok = write_and_sync();  // allocates the block; not timed
  const Clock::time_point t0 = Clock::now();
  while (ok && r.calls < syncs && SecondsSince(t0) < 2) {
    const Clock::time_point c0 = Clock::now();
    ok = write_and_sync();
    r.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - c0).count());
    ++r.calls;
  }
  const int saved_errno = errno;
  close(fd);
  unlink(path.c_str());
  if (!ok) {
    return absl::UnavailableError(absl::StrCat("write + fdatasync ", path, ": ",
                                               std::strerror(saved_errno)));
  }
  r.ok = r.calls;
  r.seconds = SecondsSince(t0);
  r.calls_per_s = r.seconds > 0 ? r.calls / r.seconds : 0;
  std::sort(r.latencies_ms.begin(), r.latencies_ms.end());
  return r;
}

// `when`: "start" (every run), or "before delete_single" (suite, per size:
// the disk's rate moves within minutes). `images`: 0 at the start.
absl::Status RunDiskSync(Report& report, const std::string& when,
                         int64_t images) {
  const int syncs = absl::GetFlag(FLAGS_disk_syncs);
  if (syncs <= 0) return absl::OkStatus();
  const std::string dir = absl::GetFlag(FLAGS_workdir);
  ASSIGN_OR_RETURN(PhaseResult r, MeasureDiskSync(dir, syncs));
  // calls, errors, health_errors and verified as in the phase lines, for
  // readers that check every line alike (scripts/bench_smoke.sh).
  report.Emit(Json()
                  .Str("scenario", "disk_sync")
                  .Str("when", when)
                  .Int("images", images)
                  .Str("workdir", dir)
                  .Int("block_bytes", 4096)
                  .Int("syncs", r.calls)
                  .Num("seconds", r.seconds)
                  .Num("syncs_per_s", r.calls_per_s)
                  .Num("p50_ms", r.Percentile(50))
                  .Num("p90_ms", r.Percentile(90))
                  .Num("p99_ms", r.Percentile(99))
                  .Num("max_ms", r.Percentile(100))
                  .Int("calls", r.calls)
                  .Int("errors", 0)
                  .Int("health_errors", 0)
                  .Bool("verified", true)
                  .Build());
  Log(absl::StrCat("disk sync, ", when, " (4 KiB pwrite + fdatasync in ", dir,
                   "): ", r.calls, " syncs in ", Fixed(r.seconds, 2), " s, ",
                   Fixed(r.calls_per_s, 0), " syncs/s, p50 ",
                   Fixed(r.Percentile(50), 2), " ms, p99 ",
                   Fixed(r.Percentile(99), 2), " ms"));
  if (images > 0) {
    report.disk_sync_by_size[images] = std::move(r);
  } else {
    report.disk_sync = std::move(r);
  }
  return absl::OkStatus();
}

// Single scenario ------------------------------------------------------------

absl::Status RunSingle(Report& report, const std::string& scenario) {
  const int64_t images = absl::GetFlag(FLAGS_images);
  const std::string db = DbPath(images);
  ASSIGN_OR_RETURN(double load_s, PrepareDb(images, db));
  report.load_seconds.push_back({images, load_s});
  if (scenario == "startup") {
    if (absl::GetFlag(FLAGS_ecsimage).empty()) {
      return absl::InvalidArgumentError("--scenario=startup needs --ecsimage");
    }
    return RunStartup(report, images, db);
  }
  ASSIGN_OR_RETURN(auto session,
                   StartSession(db, absl::GetFlag(FLAGS_group_commit)));
  Scenarios scenarios(*session, images);
  if (scenario == "health") return Record(report, scenarios.Health());
  if (scenario == "describe") return Record(report, scenarios.Describe());
  if (scenario == "regions") return Record(report, scenarios.Regions());
  if (scenario == "cancel") return Record(report, scenarios.Cancel());
  if (scenario == "share") return Record(report, scenarios.Share());
  if (scenario == "copy") return Record(report, scenarios.Copy());
  if (scenario == "delete_direct") {
    return Record(report, scenarios.DeleteDirect());
  }
  if (scenario == "delete") {
    DriveOptions options = ClosedLoop();
    std::string label = session->group_commit ? "delete" : "delete_single";
    if (absl::GetFlag(FLAGS_rate) > 0) {
      options.rate = absl::GetFlag(FLAGS_rate);
      options.concurrency = absl::GetFlag(FLAGS_max_outstanding);
      label += "@rate";
    }
    return Record(report,
                  scenarios.Delete(options, absl::GetFlag(FLAGS_pool), label));
  }
  return absl::InvalidArgumentError("unknown --scenario " + scenario);
}

// Suite -----------------------------------------------------------------------

const Measurement* Find(const Report& report, const std::string& scenario,
                        int64_t images) {
  for (const Measurement& m : report.phases) {
    if (m.scenario == scenario && m.images == images) return &m;
  }
  return nullptr;
}

absl::Status RunSize(Report& report, int64_t images) {
  const std::string db = DbPath(images);
  ASSIGN_OR_RETURN(double load_s, PrepareDb(images, db));
  report.load_seconds.push_back({images, load_s});
  // Start-up first, on the database exactly as loaded: the phases below
  // leave thousands of copies behind that a real server's task worker
  // would then be busy moving.
  if (!absl::GetFlag(FLAGS_ecsimage).empty()) {
    RETURN_IF_ERROR(RunStartup(report, images, db));
  }
  const int64_t pool = absl::GetFlag(FLAGS_pool);
  {
    ASSIGN_OR_RETURN(auto session, StartSession(db, /*group_commit=*/true));
    Scenarios scenarios(*session, images);
    RETURN_IF_ERROR(Record(report, scenarios.Health()));
    RETURN_IF_ERROR(Record(report, scenarios.Regions()));
    RETURN_IF_ERROR(Record(report, scenarios.Describe()));
    RETURN_IF_ERROR(
        Record(report, scenarios.Delete(ClosedLoop(), pool, "delete")));
    RETURN_IF_ERROR(Record(report, scenarios.DeleteDirect()));
    if (absl::GetFlag(FLAGS_half_rate)) {
      const Measurement* full = Find(report, "delete", images);
      DriveOptions half = ClosedLoop();
      half.rate = std::max(1.0, full->result.calls_per_s / 2);
      half.concurrency = absl::GetFlag(FLAGS_max_outstanding);
      const int64_t half_pool = std::min<int64_t>(
          pool, static_cast<int64_t>(half.rate * half.duration_s * 1.05) + 64);
      RETURN_IF_ERROR(
          Record(report, scenarios.Delete(half, half_pool, "delete@half")));
    }
    RETURN_IF_ERROR(Record(report, scenarios.Cancel()));
    RETURN_IF_ERROR(Record(report, scenarios.Share()));
    RETURN_IF_ERROR(Record(report, scenarios.Copy()));
  }
  {
    ASSIGN_OR_RETURN(auto session, StartSession(db, /*group_commit=*/false));
    Scenarios scenarios(*session, images);
    RETURN_IF_ERROR(RunDiskSync(report, "before delete_single", images));
    RETURN_IF_ERROR(
        Record(report, scenarios.Delete(ClosedLoop(), pool, "delete_single")));
    RETURN_IF_ERROR(Record(report, scenarios.DeleteDirect()));
  }
  if (!absl::GetFlag(FLAGS_keep_db)) RemoveDb(db);
  return absl::OkStatus();
}

struct Target {
  std::string name;
  std::string measured;
  std::string limit;
  std::optional<bool> met;   // nullopt: not measured in this run
  std::string context = "";  // figures to read the measurement against
};

std::vector<Target> EvaluateTargets(const Report& report,
                                    const std::vector<int64_t>& sizes) {
  std::vector<Target> targets;
  for (int64_t n : sizes) {
    const Measurement* del = Find(report, "delete", n);
    const Measurement* single = Find(report, "delete_single", n);
    const Measurement* half = Find(report, "delete@half", n);
    if (del != nullptr) {
      Target t{absl::StrCat("DeleteImage group / Health @", n),
               Fixed(del->ratio(), 2), ">= 0.60", del->ratio() >= 0.6};
      // What the CPU allows: Health's CPU per call over DeleteImage's.
      t.context = absl::StrCat(
          "cpu-bound ratio ", Fixed(del->CpuBoundRatio(), 2), " (CPU/call ",
          Fixed(del->CpuUsPerCall(), 1), " us vs Health ",
          Fixed(del->HealthCpuUsPerCall(), 1), " us; writer ",
          Fixed(del->WriterCpuUsPerWrite(), 1), " us/write, completer ",
          Fixed(del->CompleterCpuUsPerWrite(), 1), " us/write)");
      targets.push_back(std::move(t));
    }
    if (del != nullptr && single != nullptr) {
      const double r =
          single->result.calls_per_s > 0
              ? del->result.calls_per_s / single->result.calls_per_s
              : 0;
      Target t{absl::StrCat("DeleteImage group / single @", n), Fixed(r, 2),
               ">= 5.00", r >= 5};
      auto probe = report.disk_sync_by_size.find(n);
      const PhaseResult* disk_probe =
          probe != report.disk_sync_by_size.end() ? &probe->second
          : report.disk_sync.has_value()          ? &*report.disk_sync
                                                  : nullptr;
      if (disk_probe != nullptr) {
        // Each single commit waits for one sync: its rate against the disk's
        // (probed just before the phase).
        const double commits_per_s = single->CommitsPerS();
        const PhaseResult& disk = *disk_probe;
        t.context = absl::StrCat(
            "single ", Fixed(commits_per_s, 0), " commits/s = ",
            Fixed(disk.calls_per_s > 0 ? commits_per_s / disk.calls_per_s : 0,
                  2),
            " x disk ", Fixed(disk.calls_per_s, 0), " syncs/s (p50 ",
            Fixed(disk.Percentile(50), 2), " ms, p99 ",
            Fixed(disk.Percentile(99), 2), " ms)");
      }
      targets.push_back(std::move(t));
    }
    if (half != nullptr) {
      const double p99 = half->result.Percentile(99);
      targets.push_back({absl::StrCat("DeleteImage p99 at half max (",
                                      Fixed(half->rate, 0), "/s) @", n),
                         Fixed(p99, 2) + " ms", "<= 10 ms", p99 <= 10});
    }
  }
  if (sizes.size() >= 2) {
    const int64_t lo = sizes.front();
    const int64_t hi = sizes.back();
    for (const char* s : {"health", "regions", "describe", "delete",
                          "delete@half", "delete_direct", "delete_single",
                          "delete_direct_single", "cancel", "share", "copy"}) {
      const Measurement* a = Find(report, s, lo);
      const Measurement* b = Find(report, s, hi);
      if (a == nullptr || b == nullptr) continue;
      const double pa = a->result.Percentile(50);
      const double pb = b->result.Percentile(50);
      const double r = pa > 0 ? pb / pa : 0;
      targets.push_back({absl::StrCat(s, " p50 @", hi, " / p50 @", lo),
                         absl::StrCat(Fixed(r, 2), " (", Fixed(pb, 2), " / ",
                                      Fixed(pa, 2), " ms)"),
                         "<= 1.25", r <= 1.25});
    }
  }
  for (const StartupMeasurement& s : report.startups) {
    if (s.images != sizes.back()) continue;
    targets.push_back(
        {absl::StrCat("start-up to SERVING @", s.images,
                      s.r.resident_before >= 0 && s.r.resident_before < 0.01
                          ? " (file not cached)"
                          : ""),
         Fixed(s.r.serving_s, 2) + " s", "<= 1 s", s.r.serving_s <= 1});
    const double peak_mb = s.r.hwm_kb / 1024.0;
    targets.push_back({absl::StrCat("peak RSS (VmHWM) @", s.images),
                       Fixed(peak_mb, 1) + " MB", "<= 200 MB", peak_mb <= 200});
  }
  return targets;
}

absl::Status RunSuite(Report& report) {
  std::vector<int64_t> sizes;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',', absl::SkipEmpty())) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(part, &n) || n <= 0) {
      return absl::InvalidArgumentError("bad --sizes");
    }
    sizes.push_back(n);
  }
  if (sizes.empty()) return absl::InvalidArgumentError("empty --sizes");
  std::sort(sizes.begin(), sizes.end());
  for (int64_t n : sizes) {
    Log(absl::StrCat("== ", n, " images"));
    RETURN_IF_ERROR(RunSize(report, n));
  }

  std::vector<std::vector<std::string>> rows = {TableHeader()};
  std::vector<std::vector<std::string>> cpu_rows = {CpuTableHeader()};
  for (const Measurement& m : report.phases) {
    rows.push_back(TableRow(m));
    cpu_rows.push_back(CpuTableRow(m));
  }
  Log("\nAll phases (ratio = calls/s over Health/Check just before, same "
      "server, same concurrency):\n" +
      FormatTable(rows));
  Log(std::string(kCpuTableLegend) + ":\n" + FormatTable(cpu_rows));

  std::vector<Target> targets = EvaluateTargets(report, sizes);
  std::vector<std::vector<std::string>> trows = {
      {"target", "measured", "limit", "result", "context"}};
  std::string targets_json = "[";
  for (const Target& t : targets) {
    trows.push_back({t.name, t.measured, t.limit,
                     !t.met.has_value() ? "n/a" : (*t.met ? "met" : "MISSED"),
                     t.context});
    if (targets_json.size() > 1) targets_json += ",";
    Json j;
    j.Str("target", t.name)
        .Str("measured", t.measured)
        .Str("limit", t.limit)
        .Bool("met", t.met.value_or(false));
    if (!t.context.empty()) j.Str("context", t.context);
    targets_json += j.Build();
  }
  targets_json += "]";
  Log("Targets:\n" + FormatTable(trows));
  report.Emit(Json()
                  .Str("scenario", "suite_summary")
                  .Str("sizes", absl::GetFlag(FLAGS_sizes))
                  .Raw("targets", targets_json)
                  .Bool("errors", report.failed)
                  .Build());
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ecsimage load generator and benchmark scenarios; see BENCHMARKS.md");
  absl::ParseCommandLine(argc, argv);
  std::error_code ec;
  fs::create_directories(absl::GetFlag(FLAGS_workdir), ec);
  Report report;
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    report.json_out.open(absl::GetFlag(FLAGS_json_out), std::ios::app);
  }
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  absl::Status status = RunDiskSync(report, "start", 0);
  if (status.ok()) {
    if (scenario == "external") {
      ExternalHooks hooks;
      hooks.prepare_db = PrepareDb;
      hooks.emit = [&report](const std::string& line) { report.Emit(line); };
      bool failed = false;
      status = RunExternal(hooks, &failed);
      if (failed) report.failed = true;
    } else {
      status =
          scenario == "suite" ? RunSuite(report) : RunSingle(report, scenario);
    }
  }
  if (scenario != "suite" && scenario != "external" &&
      !absl::GetFlag(FLAGS_keep_db)) {
    RemoveDb(DbPath(absl::GetFlag(FLAGS_images)));
  }
  if (!status.ok()) {
    Log("ecsimage_bench: " + status.ToString());
    return 2;
  }
  if (report.failed) {
    Log("ecsimage_bench: FAILED (unexpected errors or effect mismatch)");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ecsimage::bench

int main(int argc, char** argv) { return ecsimage::bench::Main(argc, argv); }

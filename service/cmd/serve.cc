// `ecsimage serve`: the object graph, the server, the background task
// worker, the demo account of a new database, and the SIGTERM sequence
// (health NOT_SERVING, grace period, worker stop, Shutdown(deadline)).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/cmd/backend_choice.h"
#include "service/cmd/commands.h"
#include "service/cmd/db.h"
#include "service/cmd/demo_banner.h"
#include "service/cmd/ecs_http_listener.h"
#include "service/cmd/flags.h"
#include "service/cmd/integrity_monitor.h"
#include "service/cmd/readiness_monitor.h"
#include "service/cmd/replica_setting_keeper.h"
#include "service/cmd/store_metrics.h"
#include "service/cmd/task_worker.h"
#include "service/domain/clock.h"
#include "service/domain/data_presence.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/domain/replica_settings.h"
#include "service/grpc/json_log.h"
#include "service/grpc/server.h"
#include "service/grpc/tls_credentials.h"
#include "service/metrics/metrics_http_server.h"
#include "service/metrics/service_metrics.h"

#ifndef ECSIMAGE_VERSION
#define ECSIMAGE_VERSION "dev"
#endif

namespace ecsimage::cmd {
namespace {

using grpcapi::JsonLine;

struct ServeFlags {
  std::string db = kDefaultDbPath;
  std::string token_file;  // "" = <db>.token on SQLite, none on PostgreSQL
  bool create_if_missing = true;
  std::string listen = "127.0.0.1:50051";
  bool simulation_control = false;
  int64_t transfer_rate_mib = 1024;
  int64_t create_ms_per_gib = 100;
  int64_t max_running_copies = 5;
  int64_t image_quota = 1000;
  double rate_limit_per_account = 0;
  int64_t max_threads = 256;
  int64_t max_receive_message_bytes = 4 * 1024 * 1024;
  int64_t max_send_message_bytes = 16 * 1024 * 1024;
  int64_t shutdown_grace_seconds = 5;
  int64_t shutdown_deadline_seconds = 10;
  int64_t tick_ms = 200;
  int64_t task_lease_seconds = 10;
  std::string replica_id;  // "" = host name, pid and a random part
  bool log_calls = true;
  std::string metrics_listen;  // "" = no metrics endpoint
  int64_t max_concurrent_calls = 0;
  std::string tls_cert;       // "" = plaintext
  std::string tls_key;        // "" = plaintext
  std::string tls_client_ca;  // "" = no client certificates
  int64_t tls_reload_seconds = 60;
  std::string health_listen;    // "" = no health-only port
  std::string bootstrap_token;  // "" = none; never logged
  std::string bootstrap_account_name = "bootstrap";
  EcsHttpFlags ecs_http;  // --ecs-http-listen, --secret-key-file, ...
  std::string integrity_check = "background";
  int64_t integrity_check_hours = 24;
  BackendFlags backend;
};

void LogError(std::string_view msg, std::string_view detail) {
  JsonLine().Str("level", "error").Str("msg", msg).Str("error", detail).Emit();
}

// Blocks until SIGTERM or SIGINT; returns its number.
int WaitForSignal(const sigset_t& signals) {
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  return sig;
}

// Waits up to `seconds` unless another SIGTERM/SIGINT arrives first.
void GracePeriod(const sigset_t& signals, int64_t seconds) {
  if (seconds <= 0) return;
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (true) {
    auto left = end - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return;
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000),
                static_cast<long>(ns % 1000000000)};
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0) return;
    if (sig < 0 && errno == EAGAIN) return;
  }
}

// Unique among the replicas of one database, readable in the tasks' rows.
std::string DefaultReplicaId(domain::IdGenerator& ids) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "ecsimage", "-", ::getpid(), "-",
                      ids.NewImageId().substr(2, 8));
}

// Leases run on the database's clock on PostgreSQL, so that replicas whose
// host clocks disagree still agree on when a lease expired.
class DatabaseClock final : public domain::Clock {
 public:
  explicit DatabaseClock(storage::PostgresStore& store) : store_(store) {}
  int64_t NowMs() override {
    absl::StatusOr<int64_t> now = store_.DatabaseNowMs();
    // Unreachable database: no lease can be written either; the host
    // clock keeps the engine going until it is back.
    return now.ok() ? *now : fallback_.NowMs();
  }

 private:
  storage::PostgresStore& store_;
  domain::SystemClock fallback_;
};

std::unique_ptr<domain::Clock> LeaseClock(const OpenedDb& db) {
  if (db.postgres != nullptr) {
    return std::make_unique<DatabaseClock>(*db.postgres);
  }
  return std::make_unique<domain::SystemClock>();
}

}  // namespace

int RunServe(const std::vector<std::string>& args) {
  ServeFlags f;
  FlagSet flags("serve");
  flags.String("db", &f.db, kDbFlagHelp);
  flags.String("token-file", &f.token_file,
               "the demo account's token file (default: <db>.token beside a "
               "SQLite file; none on PostgreSQL unless set)");
  flags.Bool("create-if-missing", &f.create_if_missing,
             "create the database when the file does not exist (set false "
             "in Kubernetes: a missing volume must not become a new, empty "
             "database)");
  flags.String("listen", &f.listen, "host:port to serve on; port 0 picks one");
  flags.Bool("simulation-control", &f.simulation_control,
             "register SimulationControl; tasks then move only when driven");
  flags.Int("transfer-rate-mib", &f.transfer_rate_mib,
            "simulated copy/import/export rate, MiB/s");
  flags.Int("create-ms-per-gib", &f.create_ms_per_gib,
            "simulated CreateImage snapshot time, ms per GiB");
  flags.Int("max-running-copies", &f.max_running_copies,
            "running copies per account and destination region");
  flags.Int("image-quota", &f.image_quota,
            "live custom images per account and region");
  flags.Double("rate-limit-per-account", &f.rate_limit_per_account,
               "calls per second per account (0: unlimited)");
  flags.Int("max-threads", &f.max_threads, "upper bound of server threads");
  flags.Int("max-concurrent-calls", &f.max_concurrent_calls,
            "calls handled at once, the rest refused with Throttling "
            "(0: half of --max-threads)");
  flags.Int("max-receive-message-bytes", &f.max_receive_message_bytes,
            "largest request accepted");
  flags.Int("max-send-message-bytes", &f.max_send_message_bytes,
            "largest response sent");
  flags.Int("shutdown-grace-seconds", &f.shutdown_grace_seconds,
            "after SIGTERM: time NOT_SERVING while still serving");
  flags.Int("shutdown-deadline-seconds", &f.shutdown_deadline_seconds,
            "then: time for in-flight calls before they are cancelled");
  flags.Int("tick-ms", &f.tick_ms, "background task step, ms of real time");
  flags.Int("task-lease-seconds", &f.task_lease_seconds,
            "term of a replica's lease on a running task; a dead replica's "
            "tasks are taken over within two terms");
  flags.String("replica-id", &f.replica_id,
               "name of this replica in task leases (default: host name, "
               "pid and a random part; must differ between replicas)");
  flags.Bool("log-calls", &f.log_calls, "one JSON line per call on stderr");
  flags.String("metrics-listen", &f.metrics_listen,
               "host:port of the Prometheus /metrics endpoint (empty: off)");
  flags.String("tls-cert", &f.tls_cert,
               "PEM certificate chain (leaf first) for TLS on --listen; "
               "needs --tls-key (empty: plaintext)");
  flags.String("tls-key", &f.tls_key,
               "PEM private key of --tls-cert, unencrypted");
  flags.String("tls-client-ca", &f.tls_client_ca,
               "PEM CA bundle: require client certificates signed by it "
               "(mTLS; empty: none asked for)");
  flags.Int("tls-reload-seconds", &f.tls_reload_seconds,
            "how often the TLS files are re-read (replace them atomically)");
  flags.String("health-listen", &f.health_listen,
               "host:port of a plaintext server with only grpc.health.v1."
               "Health, for probes when --listen is TLS (empty: off)");
  flags.String("bootstrap-token", &f.bootstrap_token,
               "a token that must authenticate as --bootstrap-account-name "
               "(from a Secret; the account is created if missing; empty: "
               "none)");
  flags.String("bootstrap-account-name", &f.bootstrap_account_name,
               "name of the account --bootstrap-token belongs to");
  f.ecs_http.Register(flags);
  AddBackendFlags(flags, &f.backend);
  flags.String("integrity-check", &f.integrity_check,
               "when the database's full consistency check runs: background "
               "(after SERVING; corruption turns it NOT_SERVING and refuses "
               "writes), startup (SQLite's quick_check before serving: "
               "reads the whole file first), or off");
  flags.Int("integrity-check-hours", &f.integrity_check_hours,
            "background: run the check again every this many hours (0: only "
            "after start)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (f.integrity_check != "background" && f.integrity_check != "startup" &&
      f.integrity_check != "off") {
    LogError("invalid --integrity-check",
             "--integrity-check (ECSIMAGE_INTEGRITY_CHECK) must be "
             "background, startup or off");
    return 2;
  }
  if (f.integrity_check_hours < 0 || f.integrity_check_hours > 24 * 366) {
    LogError("invalid --integrity-check-hours",
             "--integrity-check-hours (ECSIMAGE_INTEGRITY_CHECK_HOURS) must "
             "be between 0 and 8784");
    return 2;
  }
  if (absl::Status s = CheckBackendFlags(f.backend, f.simulation_control);
      !s.ok()) {
    LogError("invalid backend flags", std::string(s.message()));
    return 2;
  }
  if (!f.bootstrap_token.empty()) {
    if (absl::Status s = domain::CheckBootstrapToken(f.bootstrap_token);
        !s.ok()) {
      LogError("invalid bootstrap token",
               "--bootstrap-token (ECSIMAGE_BOOTSTRAP_TOKEN) must be 32-256 "
               "printable ASCII characters without spaces");
      return 2;
    }
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    LogError("invalid TLS flags",
             "--tls-cert and --tls-key (ECSIMAGE_TLS_CERT, ECSIMAGE_TLS_KEY) "
             "go together: set both or neither");
    return 2;
  }
  if (!f.tls_client_ca.empty() && f.tls_cert.empty()) {
    LogError("invalid TLS flags",
             "--tls-client-ca (ECSIMAGE_TLS_CLIENT_CA) needs --tls-cert and "
             "--tls-key");
    return 2;
  }
  if (f.tls_reload_seconds < 1 || f.tls_reload_seconds > 86400) {
    LogError("invalid TLS flags",
             "--tls-reload-seconds (ECSIMAGE_TLS_RELOAD_SECONDS) must be "
             "between 1 and 86400");
    return 2;
  }
  if (!f.tls_cert.empty()) {
    // Before anything is created: a bad file stops the start here, instead
    // of a server whose every handshake fails.
    grpcapi::TlsFiles files{f.tls_cert, f.tls_key, f.tls_client_ca,
                            static_cast<int>(f.tls_reload_seconds)};
    if (absl::StatusOr<grpcapi::TlsFileInfo> checked =
            grpcapi::CheckTlsFiles(files);
        !checked.ok()) {
      LogError("invalid TLS files", std::string(checked.status().message()));
      return 1;
    }
  }

  // Before any thread exists, so that every thread inherits the mask and
  // the signals reach sigwait below only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<OpenedDb> db =
      OpenDatabase(f.db, f.create_if_missing,
                   /*check_at_open=*/f.integrity_check == "startup");
  if (!db.ok()) {
    LogError("cannot open database", db.status().ToString());
    return 1;
  }
  domain::SystemClock clock;
  domain::RandomIdGenerator ids;
  if (absl::Status s = domain::SeedCatalog(*db->store, clock.NowMs());
      !s.ok()) {
    LogError("cannot seed catalog", s.ToString());
    return 1;
  }
  // Replicas of one PostgreSQL database agree on --simulation-control
  // (a SQLite file has one server). Claimed before serving; confirmed every
  // half lease term; another value is refused for three terms after the
  // last confirmation.
  std::unique_ptr<domain::Clock> setting_clock = LeaseClock(*db);
  std::unique_ptr<ReplicaSettingKeeper> setting_keeper;
  if (db->postgres != nullptr) {
    const int64_t lease_ms = f.task_lease_seconds * 1000;
    setting_keeper = std::make_unique<ReplicaSettingKeeper>(
        *db->store, *setting_clock, domain::kSimulationControlSetting,
        "--simulation-control", f.simulation_control ? "true" : "false",
        3 * lease_ms, std::chrono::milliseconds(lease_ms / 2));
    if (absl::Status s = setting_keeper->Claim(); !s.ok()) {
      LogError("replicas disagree", std::string(s.message()));
      return 1;
    }
  }
  if (!f.bootstrap_token.empty()) {
    domain::AccountAdmin admin(*db->store, clock, ids);
    absl::StatusOr<domain::AccountAdmin::Bootstrapped> boot =
        admin.EnsureBootstrapToken(f.bootstrap_account_name, f.bootstrap_token);
    if (!boot.ok()) {
      LogError("cannot apply the bootstrap token", boot.status().ToString());
      return 1;
    }
    JsonLine()
        .Str("level", "info")
        .Str("msg", "bootstrap token")
        .Str("account_id", boot->account_id)
        .Str("token_id", boot->token_id)
        .Bool("accountCreated", boot->account_created)
        .Bool("tokenAdded", boot->token_added)
        .Emit();
  }
  const std::string token_file = TokenFilePath(db->locator, f.token_file);
  // By state, not by `created`: a first start killed between creating the
  // file and writing the token file gets its demo account on the next start.
  // On PostgreSQL only with an explicit --token-file.
  if (!token_file.empty() &&
      (db->created || ((f.create_if_missing || db->locator.is_postgres()) &&
                       !std::filesystem::exists(token_file)))) {
    absl::Status s = CreateDemoAccount(*db->store, clock, ids, token_file);
    if (!s.ok()) {
      LogError("cannot create demo account", s.ToString());
      return 1;
    }
  }

  std::string database_identity;
  if (f.backend.backend == "filesystem") {
    absl::StatusOr<std::string> id = DatabaseIdentity(*db->store);
    if (!id.ok()) {
      LogError("cannot read the database identity", id.status().ToString());
      return 1;
    }
    database_identity = *std::move(id);
  }
  absl::StatusOr<std::unique_ptr<backend::Backend>> backend =
      MakeBackend(f.backend, database_identity, db->locator.display);
  if (!backend.ok()) {
    LogError("cannot start the backend", backend.status().ToString());
    return 1;
  }
  if (*backend != nullptr) {
    const auto started = std::chrono::steady_clock::now();
    // One pass over the data first, then the database's images against it.
    std::unique_ptr<backend::ImageDataIndex> index =
        (*backend)->IndexImageData();
    absl::StatusOr<domain::DataPresence> presence = domain::CheckImageData(
        *db->store, **backend, /*page_size=*/1000, index.get());
    index.reset();
    if (!presence.ok()) {
      LogError("cannot check the images' data", presence.status().ToString());
      return 1;
    }
    if (presence->missing > 0) {
      LogError("images without data", domain::MissingDataMessage(*presence));
      return 1;
    }
    JsonLine()
        .Str("level", "info")
        .Str("msg", "every finished image has its data")
        .Int("images", presence->checked)
        .Int("ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count())
        .Emit();
  }
  domain::DomainOptions options;
  options.backend = backend->get();
  if (*backend != nullptr) {
    options.data_check_per_tick = f.backend.data_check_per_tick;
  }
  options.transfer_rate_mib_per_s = f.transfer_rate_mib;
  options.create_ms_per_gib = f.create_ms_per_gib;
  options.max_running_copies = f.max_running_copies;
  options.image_quota_per_region = f.image_quota;
  domain::ImageDomain domain(*db->store, clock, ids, options);
  domain::Authenticator authenticator(*db->store, clock);

  // Metrics: calls through the CallObserver, the rest read at scrape time.
  metrics::ServiceMetrics service_metrics;
  AddStoreMetrics(*db, service_metrics);
  std::unique_ptr<metrics::MetricsHttpServer> metrics_server;
  if (!f.metrics_listen.empty()) {
    auto started =
        metrics::MetricsHttpServer::Start(f.metrics_listen, service_metrics);
    if (!started.ok()) {
      LogError("cannot start metrics endpoint", started.status().ToString());
      return 1;
    }
    metrics_server = *std::move(started);
  }

  grpcapi::ServerOptions server_options;
  server_options.listen_address = f.listen;
  server_options.simulation_control = f.simulation_control;
  server_options.max_threads = static_cast<int>(f.max_threads);
  server_options.max_concurrent_calls =
      static_cast<int>(f.max_concurrent_calls);
  server_options.max_receive_message_bytes =
      static_cast<int>(f.max_receive_message_bytes);
  server_options.max_send_message_bytes =
      static_cast<int>(f.max_send_message_bytes);
  server_options.rate_limit_per_account = f.rate_limit_per_account;
  server_options.log_calls = f.log_calls;
  server_options.tls.cert_file = f.tls_cert;
  server_options.tls.key_file = f.tls_key;
  server_options.tls.client_ca_file = f.tls_client_ca;
  server_options.tls.reload_seconds = static_cast<int>(f.tls_reload_seconds);
  server_options.health_listen_address = f.health_listen;
  auto server = grpcapi::Server::Start(
      server_options,
      grpcapi::ServerDeps{domain, authenticator, ids, clock, &service_metrics});
  if (!server.ok()) {
    LogError("cannot start server", server.status().ToString());
    return 1;
  }
  const int port = (*server)->port();
  const std::string address = DialAddress(f.listen, port);
  auto ecs_http = EcsHttpListener::Start(
      f.ecs_http, EcsHttpListener::Deps{
                      *db->store, clock, domain, ids, f.simulation_control,
                      f.log_calls, (*server)->rate_limiter(), &authenticator,
                      f.tls_cert, f.tls_key, f.tls_client_ca});
  if (!ecs_http.ok()) {
    LogError("cannot start ECS HTTP listener", ecs_http.status().ToString());
    return 1;
  }
  if (std::shared_ptr<const grpcapi::TlsStatus> tls = (*server)->tls_status()) {
    service_metrics.AddGauge(
        metrics::kTlsExpiryGauge,
        "Expiry (notAfter) of the TLS certificate being served, Unix "
        "seconds; follows reloads.",
        [tls] { return static_cast<double>(tls->Get().not_after_unix); });
  }

  ReadinessMonitor readiness(*db->store, **server, std::chrono::seconds(1));
  IntegrityMonitor integrity(*db->store,
                             std::chrono::hours(f.integrity_check_hours));
  integrity.AddMetrics(service_metrics);
  domain::TaskLeaseOptions lease;
  lease.owner = f.replica_id.empty() ? DefaultReplicaId(ids) : f.replica_id;
  lease.lease_ms = f.task_lease_seconds * 1000;
  std::unique_ptr<domain::Clock> lease_clock = LeaseClock(*db);
  TaskWorker worker(
      *db->store, clock, options, std::chrono::milliseconds(f.tick_ms),
      /*tick_tasks=*/!f.simulation_control, lease, lease_clock.get());
  service_metrics.AddGauge(
      "ecsimage_task_leases_held", "Task leases this replica holds.",
      [&worker] { return static_cast<double>(worker.engine().leases_held()); });
  service_metrics.AddGauge(
      "ecsimage_task_takeovers_total",
      "Task leases this replica took over from another since start.",
      [&worker] { return static_cast<double>(worker.engine().takeovers()); });

  if (absl::StatusOr<DemoAccount> demo = ReadTokenFile(token_file); demo.ok()) {
    // Only a token the database no longer knows is left out; if the check
    // itself fails, the banner is shown as before.
    absl::StatusOr<std::string> owner = authenticator.Authenticate(demo->token);
    if (!owner.ok() && absl::IsUnauthenticated(owner.status())) {
      PrintRevokedDemoNote(*demo, db->locator.display, token_file);
      JsonLine()
          .Str("level", "warning")
          .Str("msg",
               "the demo token in the token file no longer authenticates")
          .Str("file", token_file)
          .Str("account_id", demo->account_id)
          .Emit();
    } else {
      std::string transport = "-plaintext";
      if (!f.tls_cert.empty()) transport = "-cacert CA.pem";
      if (!f.tls_client_ca.empty()) {
        transport += " -cert CLIENT.pem -key CLIENT-KEY.pem";
      }
      PrintDemoBanner(*demo, address, token_file, transport);
    }
  }
  const grpcapi::TlsFileInfo* tls = (*server)->tls_info();
  JsonLine started;
  started.Str("level", "info")
      .Str("msg", "started")
      .Str("version", ECSIMAGE_VERSION)
      .Str("listen", f.listen)
      .Str("address", address)
      .Int("port", port)
      .Str("transport", tls == nullptr            ? "plaintext"
                        : f.tls_client_ca.empty() ? "tls"
                                                  : "mtls");
  if (tls != nullptr) {
    started.Str("tlsCert", f.tls_cert)
        .Str("tlsSubject", tls->subject)
        .Str("tlsNotAfter", tls->not_after)
        .Str("tlsSha256", tls->sha256)
        .Int("tlsReloadSeconds", f.tls_reload_seconds);
    if (!f.tls_client_ca.empty()) {
      started.Str("tlsClientCa", f.tls_client_ca)
          .Int("tlsClientCaCount", tls->client_ca_count);
    }
  }
  started.Str("healthListen", f.health_listen)
      .Int("healthPort", (*server)->health_port())
      .Int("metricsPort", metrics_server ? metrics_server->port() : 0)
      .Int("ecsHttpPort", *ecs_http ? (*ecs_http)->port() : 0)
      .Bool("accessKeys", *ecs_http && (*ecs_http)->access_keys_enabled())
      .Str("db", db->locator.display)
      .Int("schemaVersion", db->schema_version)
      .Bool("newDatabase", db->created)
      .Bool("simulationControl", f.simulation_control)
      .Str("integrityCheck", f.integrity_check)
      .Str("backend", f.backend.backend)
      .Int("pid", getpid())
      .Emit();
  // Off the serving path: SERVING comes first, the check reads the whole
  // database meanwhile.
  if (f.integrity_check == "background") integrity.Start();
  if (setting_keeper) setting_keeper->Start();

  const int sig = WaitForSignal(signals);
  JsonLine()
      .Str("level", "info")
      .Str("msg", "stopping")
      .Str("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")
      .Int("graceSeconds", f.shutdown_grace_seconds)
      .Emit();
  (*server)->SetServing(false);
  GracePeriod(signals, f.shutdown_grace_seconds);
  if (*ecs_http) (*ecs_http)->Stop();
  worker.Stop();
  readiness.Stop();
  (*server)->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(f.shutdown_deadline_seconds));
  server->reset();
  if (metrics_server) metrics_server->Stop();
  if (setting_keeper) setting_keeper->Stop();
  db->store->Shutdown();  // interrupts a check in progress
  integrity.Stop();
  db->store.reset();
  JsonLine().Str("level", "info").Str("msg", "stopped").Emit();
  return 0;
}

}  // namespace ecsimage::cmd

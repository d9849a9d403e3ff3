#include "tests/testing/test_store.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_store.h"

namespace ecsimage::testing {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// DROP DATABASE forces a checkpoint (about a second here): test databases
// are dropped in the background while the next tests run. At exit the
// process waits for the batch in flight only (no thread runs into static
// destruction); what is still queued, the next test process drops as left
// by a dead process (and the CI server is removed whole).
class Dropper {
 public:
  static Dropper& Get() {
    static Dropper* dropper = [] {
      auto* d = new Dropper;
      std::atexit([] { Get().Stop(); });
      return d;
    }();
    return *dropper;
  }
  void Drop(std::string server, std::string name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    queue_.emplace_back(std::move(server), std::move(name));
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    cv_.notify_all();
  }
  // Lets the batch in flight finish and leaves the rest queued.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Drops up to 16 queued databases at once: concurrent DROP DATABASEs
  // share some of their checkpoints (8 at once took 4 s here, against 8 s
  // one after another).
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      std::vector<std::pair<std::string, std::string>> batch;
      while (!queue_.empty() && batch.size() < 16) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      std::vector<std::thread> drops;
      for (auto& [server, name] : batch) {
        drops.emplace_back([&server = server, &name = name] {
          (void)storage::DropPostgresDatabase(server, name);
        });
      }
      for (std::thread& t : drops) t.join();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// "ecsimage_t_<pid>_<n>" / "ecsimage_tpl_<pid>" of a process that is gone.
bool LeftByDeadProcess(const std::string& name) {
  for (const char* prefix : {"ecsimage_t_", "ecsimage_tpl_"}) {
    const std::string p = prefix;
    if (name.compare(0, p.size(), p) != 0) continue;
    const long pid = std::strtol(name.c_str() + p.size(), nullptr, 10);
    return pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 &&
           errno == ESRCH;
  }
  return false;
}

// The template every test database of this process is cloned from: made
// and migrated once, so a test pays for a CREATE DATABASE, not a migration.
absl::StatusOr<std::string> PostgresTemplate(const std::string& server) {
  static std::mutex mu;
  static std::string* name = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (name != nullptr) return *name;
  const std::string tpl = absl::StrCat("ecsimage_tpl_", ::getpid());
  (void)storage::DropPostgresDatabase(server, tpl);
  absl::Status made = storage::CreatePostgresDatabase(server, tpl, "");
  if (!made.ok()) return made;
  absl::StatusOr<int> migrated =
      storage::MigratePostgres(storage::PostgresUriWithDatabase(server, tpl));
  if (!migrated.ok()) return migrated.status();
  name = new std::string(tpl);
  return *name;
}

}  // namespace

StoreKind TestStoreKind() {
  const std::string kind = Env("ECSIMAGE_TEST_STORE");
  return kind == "postgres" ? StoreKind::kPostgres : StoreKind::kSqlite;
}

const char* StoreKindName(StoreKind kind) {
  return kind == StoreKind::kPostgres ? "postgres" : "sqlite";
}

TestDatabase::TestDatabase(StoreKind kind, std::string locator,
                           std::string pg_server, std::string pg_name)
    : kind_(kind),
      locator_(std::move(locator)),
      pg_server_(std::move(pg_server)),
      pg_name_(std::move(pg_name)) {}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create(
    const std::string& dir) {
  if (TestStoreKind() == StoreKind::kSqlite) {
    const std::string path = dir + "/ecsimage.db";
    storage::SqliteStoreOptions options;
    options.path = path;
    options.create_if_missing = true;
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> created =
        storage::SqliteStore::Open(options);
    if (!created.ok()) return created.status();
    return std::unique_ptr<TestDatabase>(
        new TestDatabase(StoreKind::kSqlite, path, "", ""));
  }
  const std::string server = Env("ECSIMAGE_TEST_PG_URI");
  if (server.empty()) {
    return absl::FailedPreconditionError(
        "ECSIMAGE_TEST_STORE=postgres needs ECSIMAGE_TEST_PG_URI (a server "
        "URI; scripts/pg_server.sh starts one)");
  }
  static std::once_flag cleanup;
  std::call_once(cleanup, [&server] {
    absl::StatusOr<std::vector<std::string>> names =
        storage::ListPostgresDatabases(server, "ecsimage_t");
    if (!names.ok()) return;
    for (const std::string& name : *names) {
      if (LeftByDeadProcess(name)) Dropper::Get().Drop(server, name);
    }
  });
  absl::StatusOr<std::string> tpl = PostgresTemplate(server);
  if (!tpl.ok()) return tpl.status();
  static std::atomic<int> counter{0};
  const std::string name =
      absl::StrCat("ecsimage_t_", ::getpid(), "_", counter.fetch_add(1));
  absl::Status made = storage::CreatePostgresDatabase(server, name, *tpl);
  if (!made.ok()) return made;
  return std::unique_ptr<TestDatabase>(new TestDatabase(
      StoreKind::kPostgres, storage::PostgresUriWithDatabase(server, name),
      server, name));
}

TestDatabase::~TestDatabase() {
  if (kind_ == StoreKind::kPostgres) Dropper::Get().Drop(pg_server_, pg_name_);
}

namespace {

// ECSIMAGE_TEST_CAPTURE_PG_SQL=FILE: every SQL text the PostgreSQL store
// prepares is appended to FILE, one per line, once per process (how
// tests/storage/postgres/queries/ is made; see binary_queries_test.cc).
void CaptureSql(const std::string& sql) {
  static std::mutex* mu = new std::mutex;
  static auto* seen = new std::set<std::string>;
  const char* path = std::getenv("ECSIMAGE_TEST_CAPTURE_PG_SQL");
  if (path == nullptr || *path == '\0') return;
  std::string line = sql;
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::lock_guard<std::mutex> lock(*mu);
  if (!seen->insert(line).second) return;
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
}

}  // namespace

absl::StatusOr<std::unique_ptr<storage::Store>> TestDatabase::Open() const {
  if (kind_ == StoreKind::kSqlite) {
    storage::SqliteStoreOptions options;
    options.path = locator_;
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
        storage::SqliteStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<storage::Store>(*std::move(store));
  }
  storage::PostgresStoreOptions options;
  options.uri = locator_;
  options.pool_connections = 4;
  const char* capture = std::getenv("ECSIMAGE_TEST_CAPTURE_PG_SQL");
  if (capture != nullptr && *capture != '\0') options.on_prepare = CaptureSql;
  absl::StatusOr<std::unique_ptr<storage::PostgresStore>> store =
      storage::PostgresStore::Open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<storage::Store>(*std::move(store));
}

absl::Status TestDatabase::ExecBehindTheBack(
    const std::string& sqlite_sql, const std::string& postgres_sql) const {
  if (kind_ == StoreKind::kSqlite) {
    absl::StatusOr<std::unique_ptr<storage::Connection>> conn =
        storage::Connection::Open(locator_, false);
    if (!conn.ok()) return conn.status();
    return (*conn)->Exec(sqlite_sql);
  }
  return storage::ExecPostgresForTest(locator_, postgres_sql);
}

}  // namespace ecsimage::testing

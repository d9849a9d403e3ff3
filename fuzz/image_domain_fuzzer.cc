// libFuzzer target: arbitrary bytes as a sequence of requests of every RPC,
// run through ImageDomain on a real SqliteStore (a temp file).
//
// Input: up to kMaxCalls records of
//   [rpc selector][caller selector][time step][len lo][len hi][len bytes]
// where the bytes are parsed as the selected request message. Each input
// starts from the same state (three accounts, the seeded catalog, no custom
// images, sequential ids from m-00000000000000000001, a fixed clock), so a
// crash reproduces from its input alone.
//
// Fails (abort) when a call answers kInternal or kUnknown, when an error
// carries no ECS code, when an OK answer has malformed ids, or when a
// contract invariant of the stored rows breaks.
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "ecs/image/v1/image_service.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "service/domain/clock.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

namespace v1 = ::ecs::image::v1;
using ecsimage::domain::Caller;
using ecsimage::domain::ImageDomain;

constexpr int kMaxCalls = 16;
constexpr int64_t kStartMs = 1700000000000;

// Predictable ids, restarted for every input.
class SequentialIds final : public ecsimage::domain::IdGenerator {
 public:
  std::string NewImageId() override { return Next("m-"); }
  std::string NewTaskId() override { return Next("t-"); }
  std::string NewInstanceId() override { return Next("i-"); }
  std::string NewSnapshotId() override { return Next("s-"); }
  std::string NewAccountId() override {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrFormat("%016d", 1000000000000000LL + ++accounts_);
  }
  std::string NewRequestId() override {
    return "6F1E2D3C-4B5A-4987-8766-554433221100";
  }
  std::string NewToken() override {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrFormat("fuzz-token-%d", ++tokens_);
  }
  void Restart() {
    std::lock_guard<std::mutex> lock(mu_);
    next_ = 0;
  }

 private:
  std::string Next(const char* prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrFormat("%s%020d", prefix, ++next_);
  }
  std::mutex mu_;
  int64_t next_ = 0;      // guarded by mu_
  int64_t accounts_ = 0;  // guarded by mu_
  int64_t tokens_ = 0;    // guarded by mu_
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "FUZZ INVARIANT BROKEN: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

struct Env {
  std::string dir;
  std::string path;
  ecsimage::domain::FakeClock clock{kStartMs};
  SequentialIds ids;
  ecsimage::domain::DomainOptions options;
  std::unique_ptr<ecsimage::storage::SqliteStore> store;
  std::unique_ptr<ImageDomain> domain;
  std::vector<std::string> accounts;
  sqlite3* side = nullptr;  // resets and invariant checks

  Env() {
    // Invalid UTF-8 in string fields is an expected parse failure, not news.
    google::protobuf::SetLogHandler(nullptr);
    // tmpfs when there is one: synchronous=FULL costs an fsync per commit.
    for (const char* base : {"/dev/shm", "/tmp"}) {
      std::string tmpl = std::string(base) + "/ecsimage_fuzz_XXXXXX";
      if (mkdtemp(tmpl.data()) != nullptr) {
        dir = tmpl;
        break;
      }
    }
    if (dir.empty()) Die("mkdtemp");
    static std::string* cleanup = new std::string(dir);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(*cleanup, ignored);
    });
    path = dir + "/fuzz.db";
    ecsimage::storage::SqliteStoreOptions so;
    so.path = path;
    so.create_if_missing = true;
    so.reader_connections = 2;
    auto opened = ecsimage::storage::SqliteStore::Open(so);
    if (!opened.ok()) Die(opened.status().ToString());
    store = *std::move(opened);
    if (absl::Status s = ecsimage::domain::SeedCatalog(*store, kStartMs);
        !s.ok()) {
      Die(s.ToString());
    }
    options.image_quota_per_region = 20;
    options.max_running_copies = 2;
    options.transfer_rate_mib_per_s = 512;
    options.create_ms_per_gib = 50;
    domain = std::make_unique<ImageDomain>(*store, clock, ids, options);
    ecsimage::domain::AccountAdmin admin(*store, clock, ids);
    for (const char* name : {"alice", "bob", "carol"}) {
      auto created = admin.CreateAccount(name);
      if (!created.ok()) Die(created.status().ToString());
      accounts.push_back(created->account_id);
    }
    if (sqlite3_open_v2(path.c_str(), &side, SQLITE_OPEN_READWRITE, nullptr) !=
        SQLITE_OK) {
      Die("open side connection");
    }
    sqlite3_busy_timeout(side, 10000);
    Exec("PRAGMA foreign_keys = ON");
  }

  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(side, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "?";
      sqlite3_free(err);
      Die(std::string("side sql failed: ") + sql + ": " + msg);
    }
  }

  // First column of the first row, or "" when no row.
  std::string One(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(side, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      Die(std::string("prepare: ") + sql);
    }
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      out = t == nullptr ? "NULL" : reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(stmt);
    return out;
  }

  // Back to the state after construction: every custom row goes (the
  // triggers keep the counters right).
  void Reset() {
    Exec(
        "BEGIN IMMEDIATE;"
        "DELETE FROM shares; DELETE FROM instances; DELETE FROM copy_tasks;"
        "DELETE FROM io_tasks; DELETE FROM client_tokens;"
        "DELETE FROM disk_mappings WHERE image_rowid IN "
        "  (SELECT id FROM images WHERE NOT is_system);"
        "DELETE FROM images WHERE NOT is_system;"
        "UPDATE images SET is_public = 0, status = 'Available' "
        "  WHERE is_system AND (is_public OR status <> 'Available');"
        "COMMIT;");
    ids.Restart();
    clock.SetMs(kStartMs);
  }

  // The contract invariants of api.md §3-§4 over the stored rows.
  void CheckInvariants() {
    struct Check {
      const char* what;
      const char* sql;
    };
    static const Check kChecks[] = {
        {"running copy on a tombstone",
         "SELECT c.id FROM copy_tasks c JOIN images s ON s.id = "
         "c.source_image_rowid JOIN images d ON d.id = c.dest_image_rowid "
         "WHERE c.phase NOT IN ('SUCCEEDED','FAILED','CANCELLED') AND "
         "(s.deleted_at_ms IS NOT NULL OR d.deleted_at_ms IS NOT NULL)"},
        {"share on a tombstone",
         "SELECT i.image_id FROM shares sh JOIN images i ON i.id = "
         "sh.image_rowid WHERE i.deleted_at_ms IS NOT NULL"},
        {"share with the owner",
         "SELECT i.image_id FROM shares sh JOIN images i ON i.id = "
         "sh.image_rowid WHERE sh.account_id = i.owner_account_id"},
        {"more than 50 shares",
         "SELECT image_rowid FROM shares GROUP BY 1 HAVING count(*) > 50"},
        {"active task on a tombstone",
         "SELECT t.task_id FROM io_tasks t JOIN images i ON i.id = "
         "t.image_rowid WHERE t.status IN ('Waiting','Processing') AND "
         "i.deleted_at_ms IS NOT NULL"},
        {"system image changed",
         "SELECT image_id FROM images WHERE is_system AND "
         "(deleted_at_ms IS NOT NULL OR status <> 'Available')"},
        {"copy of a system image",
         "SELECT c.id FROM copy_tasks c JOIN images s ON s.id = "
         "c.source_image_rowid WHERE s.is_system"},
        {"quota exceeded",
         "SELECT owner_account_id FROM images WHERE NOT is_system AND "
         "deleted_at_ms IS NULL GROUP BY owner_account_id, region_id "
         "HAVING count(*) > 20"},
        {"duplicate live name",
         "SELECT name FROM images WHERE deleted_at_ms IS NULL AND name <> '' "
         "AND NOT is_system GROUP BY owner_account_id, region_id, name "
         "HAVING count(*) > 1"},
        {"image counter",
         "SELECT k.owner_key FROM image_counts k WHERE k.live_count <> "
         "(SELECT count(*) FROM images i WHERE coalesce(i.owner_account_id, "
         "'') = k.owner_key AND i.region_id = k.region_id AND i.status = "
         "k.status AND i.deleted_at_ms IS NULL)"},
        {"instance counter",
         "SELECT image_id FROM images i WHERE live_instance_count <> "
         "(SELECT count(*) FROM instances n WHERE n.image_rowid = i.id AND "
         "n.released_at_ms IS NULL)"},
        {"copy destination not mirroring its phase",
         "SELECT c.id FROM copy_tasks c JOIN images d ON d.id = "
         "c.dest_image_rowid WHERE (c.phase = 'QUEUED' AND d.status <> "
         "'Waiting') OR (c.phase IN ('PREPARING','TRANSFERRING',"
         "'REGISTERING') AND d.status <> 'Creating') OR (c.phase = "
         "'CANCELLING' AND d.status <> 'UnAvailable') OR (c.phase = "
         "'CANCELLED' AND d.deleted_at_ms IS NULL) OR (c.phase = 'FAILED' "
         "AND d.status <> 'CreateFailed')"},
        {"too many running copies",
         "SELECT account_id FROM copy_tasks WHERE phase IN ('PREPARING',"
         "'TRANSFERRING','REGISTERING') GROUP BY account_id, dest_region_id "
         "HAVING count(*) > 2"},
        {"progress out of range",
         "SELECT id FROM copy_tasks WHERE progress NOT BETWEEN 0 AND 100 OR "
         "transferred_mib > total_mib"},
    };
    for (const Check& c : kChecks) {
      std::string row = One(c.sql);
      if (!row.empty()) Die(std::string(c.what) + ": " + row);
    }
  }
};

Env& TheEnv() {
  static Env* env = new Env();  // lives for the process
  return *env;
}

bool IdShapeOk(const std::string& id, bool (*shape)(std::string_view)) {
  return shape(id);
}

void CheckStatus(const absl::Status& s, const char* rpc) {
  if (s.ok()) return;
  if (s.code() == absl::StatusCode::kInternal ||
      s.code() == absl::StatusCode::kUnknown) {
    Die(std::string(rpc) + " answered " + s.ToString());
  }
  if (s.code() == absl::StatusCode::kUnavailable ||
      s.code() == absl::StatusCode::kDeadlineExceeded) {
    return;  // the database itself; mapped to ServiceUnavailable later
  }
  auto payload = ecsimage::domain::PayloadOf(s);
  if (!payload.has_value() || payload->ecs_code().empty()) {
    Die(std::string(rpc) + " error without an ECS code: " + s.ToString());
  }
}

template <typename Req>
bool Parse(const uint8_t* data, size_t size, Req* req) {
  return req->ParseFromArray(data, static_cast<int>(size));
}

// Runs one request; `sel` picks the RPC.
void RunOne(Env& env, uint8_t sel, const Caller& caller, const uint8_t* data,
            size_t size) {
  ImageDomain& d = *env.domain;
  using ecsimage::domain::IsImageIdShape;
  using ecsimage::domain::IsInstanceIdShape;
  using ecsimage::domain::IsTaskIdShape;
#define ECSIMAGE_FUZZ_RPC(Name, ReqT, RespT, CHECK)        \
  do {                                                     \
    ReqT req;                                              \
    if (!Parse(data, size, &req)) return;                  \
    RespT resp;                                            \
    absl::Status s = d.Name(caller, req, &resp);           \
    CheckStatus(s, #Name);                                 \
    if (s.ok() && !(CHECK)) Die(#Name " OK with bad ids"); \
    return;                                                \
  } while (0)
  switch (sel % 18) {
    case 0:
      ECSIMAGE_FUZZ_RPC(CancelCopyImage, v1::CancelCopyImageRequest,
                        v1::CancelCopyImageResponse, true);
    case 1:
      ECSIMAGE_FUZZ_RPC(DeleteImage, v1::DeleteImageRequest,
                        v1::DeleteImageResponse, true);
    case 2:
      ECSIMAGE_FUZZ_RPC(CreateImage, v1::CreateImageRequest,
                        v1::CreateImageResponse,
                        IdShapeOk(resp.image_id(), IsImageIdShape));
    case 3:
      ECSIMAGE_FUZZ_RPC(CopyImage, v1::CopyImageRequest, v1::CopyImageResponse,
                        IdShapeOk(resp.image_id(), IsImageIdShape));
    case 4:
      ECSIMAGE_FUZZ_RPC(DescribeImages, v1::DescribeImagesRequest,
                        v1::DescribeImagesResponse,
                        resp.images_size() <= 100 && resp.total_count() >= 0);
    case 5:
      ECSIMAGE_FUZZ_RPC(ModifyImageAttribute, v1::ModifyImageAttributeRequest,
                        v1::ModifyImageAttributeResponse, true);
    case 6:
      ECSIMAGE_FUZZ_RPC(ModifyImageSharePermission,
                        v1::ModifyImageSharePermissionRequest,
                        v1::ModifyImageSharePermissionResponse, true);
    case 7:
      ECSIMAGE_FUZZ_RPC(DescribeImageSharePermission,
                        v1::DescribeImageSharePermissionRequest,
                        v1::DescribeImageSharePermissionResponse,
                        resp.accounts_size() <= 100);
    case 8:
      ECSIMAGE_FUZZ_RPC(ImportImage, v1::ImportImageRequest,
                        v1::ImportImageResponse,
                        IdShapeOk(resp.image_id(), IsImageIdShape) &&
                            IdShapeOk(resp.task_id(), IsTaskIdShape));
    case 9:
      ECSIMAGE_FUZZ_RPC(ExportImage, v1::ExportImageRequest,
                        v1::ExportImageResponse,
                        IdShapeOk(resp.task_id(), IsTaskIdShape));
    case 10:
      ECSIMAGE_FUZZ_RPC(DescribeTasks, v1::DescribeTasksRequest,
                        v1::DescribeTasksResponse, resp.task_set_size() <= 100);
    case 11:
      ECSIMAGE_FUZZ_RPC(CancelTask, v1::CancelTaskRequest,
                        v1::CancelTaskResponse, true);
    case 12:
      ECSIMAGE_FUZZ_RPC(DescribeRegions, v1::DescribeRegionsRequest,
                        v1::DescribeRegionsResponse, resp.regions_size() >= 5);
    case 13: {
      v1::RunInstancesRequest req;
      if (!Parse(data, size, &req)) return;
      v1::RunInstancesResponse resp;
      absl::Status s = d.RunInstances(caller, req, &resp);
      CheckStatus(s, "RunInstances");
      if (s.ok()) {
        if (resp.instance_id_sets_size() != req.amount() &&
            !(req.amount() == 0 && resp.instance_id_sets_size() == 1)) {
          Die("RunInstances returned " +
              std::to_string(resp.instance_id_sets_size()) +
              " ids for Amount " + std::to_string(req.amount()));
        }
        for (const std::string& id : resp.instance_id_sets()) {
          if (!IsInstanceIdShape(id)) Die("RunInstances bad id " + id);
        }
      }
      return;
    }
    case 14:
      ECSIMAGE_FUZZ_RPC(DeleteInstance, v1::DeleteInstanceRequest,
                        v1::DeleteInstanceResponse, true);
    case 15:
      ECSIMAGE_FUZZ_RPC(DescribeInstances, v1::DescribeInstancesRequest,
                        v1::DescribeInstancesResponse,
                        resp.instances_size() <= 100);
    case 16:
      ECSIMAGE_FUZZ_RPC(AdvanceTask, v1::AdvanceTaskRequest,
                        v1::TaskStateResponse, true);
    case 17:
      ECSIMAGE_FUZZ_RPC(FailTask, v1::FailTaskRequest, v1::TaskStateResponse,
                        true);
  }
#undef ECSIMAGE_FUZZ_RPC
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env& env = TheEnv();
  env.Reset();
  ecsimage::domain::TaskEngine engine(*env.store, env.clock, env.options);
  (void)engine.Tick();  // the first tick only records the time
  size_t pos = 0;
  for (int call = 0; call < kMaxCalls && pos + 5 <= size; ++call) {
    const uint8_t sel = data[pos];
    const uint8_t who = data[pos + 1];
    const uint8_t step = data[pos + 2];
    size_t len = data[pos + 3] | (static_cast<size_t>(data[pos + 4]) << 8);
    pos += 5;
    if (len > size - pos) len = size - pos;
    if (step != 0) {
      // Time passes (up to ~4 min) and the engine moves tasks along.
      env.clock.AdvanceMs(int64_t{step} * 1000);
      absl::Status s = engine.Tick();
      CheckStatus(s, "TaskEngine::Tick");
    }
    Caller caller;
    caller.account_id = env.accounts[who % env.accounts.size()];
    RunOne(env, sel, caller, data + pos, len);
    pos += len;
  }
  env.CheckInvariants();
  return 0;
}

// Storage faults injected under a real SqliteStore (through FaultVfs) and an
// in-process server: failed writes and syncs answer ServiceUnavailable
// (503 / UNAVAILABLE), reads keep working, nothing half-done is visible,
// and after the fault ends writes succeed and retries with a ClientToken
// have one effect (api.md §4, §5).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "tests/reliability/fault_vfs.h"
#include "tests/reliability/store_invariants.h"
#include "tests/testing/test_server.h"

namespace ecsimage::reliability {
namespace {

namespace v1 = ::ecs::image::v1;
using ::ecsimage::testing::AuthContext;
using ::ecsimage::testing::Decode;
using ::ecsimage::testing::Decoded;
using ::ecsimage::testing::TestAccount;
using ::ecsimage::testing::TestServer;
using ::ecsimage::testing::TestServerOptions;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRegion[] = "cn-hangzhou";
constexpr char kAllStatuses[] =
    "Waiting,Creating,UnAvailable,CreateFailed,Available,Deprecated";
constexpr char kSystemImage[] = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";

// Copies the database and WAL as they are on disk now, as a crash would
// leave them, and returns the copy's path.
std::string CrashImage(const std::string& db, const std::string& name) {
  std::string dir = std::filesystem::path(db).parent_path() / name;
  std::filesystem::create_directories(dir);
  std::string copy = dir + "/crash.db";
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    std::filesystem::remove(copy + suffix, ec);
    if (std::filesystem::exists(db + suffix)) {
      std::filesystem::copy_file(db + suffix, copy + suffix);
    }
  }
  std::error_code ec;
  std::filesystem::remove(copy + "-shm", ec);
  return copy;
}

class VfsFaultTest : public ::testing::Test {
 protected:
  VfsFaultTest() : vfs_(FaultVfs::Install()) {}
  ~VfsFaultTest() override { vfs_.Reset(); }

  void SetUp() override {
    TestServerOptions options;
    options.simulation_control = true;
    server_ = std::make_unique<TestServer>(options);
    alice_ = server_->CreateAccount("alice");
    bob_ = server_->CreateAccount("bob");
  }

  struct Result {
    grpc::Status status;
    Decoded decoded;
    std::string image_id;
  };

  Result Create(const std::string& name, const std::string& token = "") {
    v1::CreateImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_name(name);
    req.set_size(20);
    req.set_client_token(token);
    v1::CreateImageResponse resp;
    auto ctx = AuthContext(alice_.token);
    Result r;
    r.status = server_->images()->CreateImage(ctx.get(), req, &resp);
    r.decoded = Decode(r.status, *ctx);
    r.image_id = resp.image_id();
    return r;
  }

  // Drives a created image to Available (SimulationControl).
  void MakeAvailable(const std::string& image_id) {
    v1::AdvanceTaskRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(image_id);
    req.set_phase("Available");
    v1::TaskStateResponse resp;
    auto ctx = AuthContext(alice_.token);
    grpc::Status s = server_->simulation()->AdvanceTask(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.status(), "Available");
  }

  // Live images of alice named `name`, through the API.
  std::vector<std::string> Named(const std::string& name) {
    v1::DescribeImagesRequest req;
    req.set_region_id(kRegion);
    req.set_image_name(name);
    req.set_status(kAllStatuses);
    req.set_page_size(100);
    v1::DescribeImagesResponse resp;
    auto ctx = AuthContext(alice_.token);
    grpc::Status s = server_->images()->DescribeImages(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const v1::Image& image : resp.images()) {
      if (image.image_owner_alias() == "self") ids.push_back(image.image_id());
    }
    return ids;
  }

  int64_t Rows(const std::string& sql) {
    std::vector<std::string> r = Query(server_->db_path(), sql);
    return r.empty() ? -1 : std::stoll(r[0]);
  }

  static void ExpectServiceUnavailable(const Result& r,
                                       const std::string& what) {
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << what << ": " << r.status.error_message();
    EXPECT_EQ(r.decoded.ecs_code(), "ServiceUnavailable") << what;
    auto http = r.decoded.error_info.metadata().find("httpStatus");
    ASSERT_NE(http, r.decoded.error_info.metadata().end()) << what;
    EXPECT_EQ(http->second, "503") << what;
    EXPECT_TRUE(r.decoded.has_request_info) << what;
    EXPECT_THAT(r.status.error_message(), Not(HasSubstr("SQL"))) << what;
    EXPECT_THAT(r.status.error_message(), Not(HasSubstr("sqlite"))) << what;
    EXPECT_THAT(r.status.error_message(), Not(HasSubstr("disk"))) << what;
  }

  FaultVfs& vfs_;
  std::unique_ptr<TestServer> server_;
  TestAccount alice_;
  TestAccount bob_;
};

TEST_F(VfsFaultTest, FailedWalWriteAnswersServiceUnavailableAndLeavesNothing) {
  Result before = Create("before");
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  const int64_t faults = vfs_.faults_injected();

  vfs_.FailWrites(true, FaultTarget::kWal, WriteFault::kIoError);
  Result failed = Create("ghost", "token-ghost");
  ExpectServiceUnavailable(failed, "CreateImage with failing WAL writes");
  // Reads keep working while every write fails.
  EXPECT_EQ(Named("before"), std::vector<std::string>{before.image_id});
  EXPECT_TRUE(Named("ghost").empty());
  {
    v1::DescribeRegionsResponse resp;
    auto ctx = AuthContext(alice_.token);
    EXPECT_TRUE(server_->images()->DescribeRegions(ctx.get(), {}, &resp).ok());
    EXPECT_GE(resp.regions_size(), 5);
  }
  vfs_.Reset();
  EXPECT_GT(vfs_.faults_injected(), faults);

  // The same call, retried with its token, has exactly one effect.
  Result retried = Create("ghost", "token-ghost");
  ASSERT_TRUE(retried.status.ok()) << retried.status.error_message();
  Result again = Create("ghost", "token-ghost");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.image_id, retried.image_id);
  EXPECT_EQ(Named("ghost"), std::vector<std::string>{retried.image_id});
  EXPECT_THAT(Violations(server_->db_path()), ::testing::IsEmpty());

  server_->Restart();
  EXPECT_EQ(Named("ghost"), std::vector<std::string>{retried.image_id});
  EXPECT_EQ(Rows("SELECT count(*) FROM images WHERE name = 'ghost'"), 1);
}

TEST_F(VfsFaultTest, DiskFullAnswersServiceUnavailableForEveryWriteKind) {
  Result base = Create("base");
  ASSERT_TRUE(base.status.ok());
  MakeAvailable(base.image_id);

  vfs_.FailWrites(true, FaultTarget::kAny, WriteFault::kFull);
  ExpectServiceUnavailable(Create("full"), "CreateImage on a full disk");
  {
    v1::ModifyImageSharePermissionRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(base.image_id);
    req.add_add_account(bob_.account_id);
    v1::ModifyImageSharePermissionResponse resp;
    auto ctx = AuthContext(alice_.token);
    Result r;
    r.status =
        server_->images()->ModifyImageSharePermission(ctx.get(), req, &resp);
    r.decoded = Decode(r.status, *ctx);
    ExpectServiceUnavailable(r, "ModifyImageSharePermission on a full disk");
  }
  {
    v1::RunInstancesRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(kSystemImage);
    req.set_amount(3);
    v1::RunInstancesResponse resp;
    auto ctx = AuthContext(alice_.token);
    Result r;
    r.status = server_->instances()->RunInstances(ctx.get(), req, &resp);
    r.decoded = Decode(r.status, *ctx);
    ExpectServiceUnavailable(r, "RunInstances on a full disk");
  }
  {
    v1::DeleteImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_id(base.image_id);
    v1::DeleteImageResponse resp;
    auto ctx = AuthContext(alice_.token);
    Result r;
    r.status = server_->images()->DeleteImage(ctx.get(), req, &resp);
    r.decoded = Decode(r.status, *ctx);
    ExpectServiceUnavailable(r, "DeleteImage on a full disk");
  }
  vfs_.Reset();

  EXPECT_EQ(Named("base"), std::vector<std::string>{base.image_id});
  EXPECT_TRUE(Named("full").empty());
  EXPECT_EQ(Rows("SELECT count(*) FROM shares"), 0);
  EXPECT_EQ(Rows("SELECT count(*) FROM instances"), 0);
  Result after = Create("after-full");
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_THAT(Violations(server_->db_path()), ::testing::IsEmpty());
}

// A failed fsync of the WAL at COMMIT: the caller hears ServiceUnavailable
// and the change is not visible while the process lives. A crash right
// after may still recover the written frames (SQLite's WAL replays any
// frame with a valid checksum), which the contract allows: the write is
// whole, and a retry with the ClientToken finds it instead of repeating it.
TEST_F(VfsFaultTest, FailedCommitSyncIsInvisibleAndAtMostWholeAfterCrash) {
  ASSERT_TRUE(Create("base").status.ok());
  const int64_t syncs = vfs_.wal_syncs();
  vfs_.FailSyncs(true, FaultTarget::kWal);
  Result failed = Create("unsynced", "token-unsynced");
  vfs_.Reset();
  ASSERT_GT(vfs_.wal_syncs(), syncs) << "the commit never synced the WAL: is "
                                        "synchronous=FULL in effect?";
  ExpectServiceUnavailable(failed, "CreateImage whose commit sync failed");
  EXPECT_TRUE(Named("unsynced").empty());

  // What a crash right now would leave behind.
  std::string crash = CrashImage(server_->db_path(), "crash1");
  std::vector<std::string> recovered =
      Query(crash, "SELECT count(*) FROM images WHERE name = 'unsynced'");
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_THAT(recovered[0], ::testing::AnyOf("0", "1"));
  EXPECT_THAT(Violations(crash), ::testing::IsEmpty());
  std::printf("[ figures ] failed-sync write recovered after crash: %s\n",
              recovered[0].c_str());

  // The live process goes on; the retry has one effect.
  Result retried = Create("unsynced", "token-unsynced");
  ASSERT_TRUE(retried.status.ok()) << retried.status.error_message();
  EXPECT_EQ(Named("unsynced"), std::vector<std::string>{retried.image_id});
  server_->Restart();
  EXPECT_EQ(Named("unsynced"), std::vector<std::string>{retried.image_id});
  EXPECT_THAT(Violations(server_->db_path()), ::testing::IsEmpty());
}

// Group commit under intermittent write faults: many concurrent writers,
// every 30th WAL write fails. Each call either succeeded (and is stored) or
// answered ServiceUnavailable (and left nothing); both outcomes must occur.
TEST_F(VfsFaultTest, IntermittentWriteFaultsUnderConcurrentLoad) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  struct Outcome {
    std::string name;
    std::string token;
    grpc::StatusCode code;
    std::string ecs;
    std::string image_id;
  };
  std::vector<std::vector<Outcome>> outcomes(kThreads);
  const int64_t faults = vfs_.faults_injected();
  vfs_.FailEveryNthWalWrite(30);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        Outcome o;
        o.name = "load-" + std::to_string(t) + "-" + std::to_string(i);
        o.token = "tok-" + o.name;
        Result r = Create(o.name, o.token);
        o.code = r.status.error_code();
        o.ecs = r.decoded.ecs_code();
        o.image_id = r.image_id;
        outcomes[t].push_back(o);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  vfs_.Reset();
  const int64_t injected = vfs_.faults_injected() - faults;

  int ok = 0;
  int unavailable = 0;
  for (const auto& per_thread : outcomes) {
    for (const Outcome& o : per_thread) {
      const int64_t rows =
          Rows("SELECT count(*) FROM images WHERE name = '" + o.name + "'");
      if (o.code == grpc::StatusCode::OK) {
        ++ok;
        EXPECT_EQ(rows, 1) << o.name << " was acknowledged";
      } else {
        ++unavailable;
        EXPECT_EQ(o.code, grpc::StatusCode::UNAVAILABLE) << o.name;
        EXPECT_EQ(o.ecs, "ServiceUnavailable") << o.name;
        EXPECT_EQ(rows, 0) << o.name << " failed but left rows";
      }
    }
  }
  std::printf(
      "[ figures ] %d writes: %d ok, %d ServiceUnavailable, %lld faults "
      "injected\n",
      kThreads * kPerThread, ok, unavailable, static_cast<long long>(injected));
  EXPECT_GT(ok, 0);
  EXPECT_GT(unavailable, 0);
  EXPECT_GT(injected, 0);
  EXPECT_THAT(Violations(server_->db_path()), ::testing::IsEmpty());

  // Every failed call, retried with its token, now has exactly one effect.
  for (const auto& per_thread : outcomes) {
    for (const Outcome& o : per_thread) {
      Result r = Create(o.name, o.token);
      ASSERT_TRUE(r.status.ok()) << o.name << ": " << r.status.error_message();
      if (o.code == grpc::StatusCode::OK) {
        EXPECT_EQ(r.image_id, o.image_id);
      }
      EXPECT_EQ(
          Rows("SELECT count(*) FROM images WHERE name = '" + o.name + "'"), 1)
          << o.name;
    }
  }
  server_->Restart();
  EXPECT_EQ(Rows("SELECT count(*) FROM images WHERE name LIKE 'load-%'"),
            kThreads * kPerThread);
  EXPECT_THAT(Violations(server_->db_path()), ::testing::IsEmpty());
}

// Checkpoints write the database file; when those writes fail, commits to
// the WAL still succeed and nothing is lost once the fault ends.
TEST_F(VfsFaultTest, FailingCheckpointsDoNotFailCommits) {
  vfs_.FailWrites(true, FaultTarget::kMainDb, WriteFault::kIoError);
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    Result r = Create("cp-" + std::to_string(i));
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.error_message();
    ids.push_back(r.image_id);
  }
  // Force a checkpoint attempt from another connection: it fails.
  Query(server_->db_path(), "PRAGMA wal_checkpoint(TRUNCATE)");
  vfs_.Reset();
  server_->Restart();
  EXPECT_EQ(Rows("SELECT count(*) FROM images WHERE name LIKE 'cp-%'"), 60);
  EXPECT_THAT(Violations(server_->db_path()), ::testing::IsEmpty());
}

}  // namespace
}  // namespace ecsimage::reliability

// Power-cut rounds: an in-process server (the real store, domain and gRPC
// path) takes writes from client threads on FaultVfs's power-cut model; the
// power is cut at a seeded operation (a write, truncate or sync of the
// database or WAL, so mid-commit and mid-checkpoint too), the files are
// rebuilt as the cut left them (unsynced writes kept, lost or torn at 512-
// byte sectors, -shm gone), the server starts on them, and then
// PRAGMA integrity_check must say ok and every acknowledged mutation
// (CreateImage, ModifyImageAttribute's Description, DeleteImage) must be
// there. RELIABILITY.md has the figures.
//
// The same rounds with syncs ignored (a server that skipped fsync) must
// find lost acknowledged writes: the proof that the rounds can fail.
//
// ECSIMAGE_POWER_CUT_ROUNDS sets the rounds (default 200, the CI bound; the
// long mode is 2000), ECSIMAGE_POWER_CUT_SEED the first seed (default 1).
// Every 200 rounds start on a fresh database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
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
using ::ecsimage::testing::TestAccount;
using ::ecsimage::testing::TestServer;
using ::ecsimage::testing::TestServerOptions;

constexpr char kRegion[] = "cn-hangzhou";
constexpr int kThreads = 3;
constexpr int kCallsPerThread = 30;
// Rounds on one database before a fresh one: every round rechecks all the
// acknowledged writes so far, so the check grows with the database; epochs
// keep the long mode's time linear in its rounds.
constexpr int kEpochRounds = 200;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::atoll(v);
}

// What the clients know of one image. Each image belongs to one client
// thread, whose calls on it are sequential, so "the last acknowledged
// description" is well defined; an unanswered call (in flight at the cut)
// may or may not have happened.
struct ImageModel {
  std::string id;
  std::string description;  // the last acknowledged one ("" at creation)
  std::optional<std::string> maybe_description;
  bool deleted = false;  // an acknowledged DeleteImage
  bool maybe_deleted = false;
};

// The database as one reading of it: integrity and alice's images.
struct Snapshot {
  std::string integrity;  // "ok", or the first problem
  std::string error;      // could not even read it
  // image id -> description, for live images; deleted ones in `deleted`.
  std::map<std::string, std::string> live;
  std::map<std::string, bool> deleted;
  // The store's invariants (store_invariants.h): nothing half-done.
  std::vector<std::string> violations;
};

Snapshot Read(const std::string& path, const std::string& account_id) {
  Snapshot snap;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    snap.error = std::string("open: ") + sqlite3_errmsg(db);
    sqlite3_close(db);
    return snap;
  }
  sqlite3_busy_timeout(db, 10000);
  auto query = [&](const std::string& sql, auto&& row) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      if (snap.error.empty()) snap.error = sql + ": " + sqlite3_errmsg(db);
      return;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
    if (rc != SQLITE_DONE && snap.error.empty()) {
      snap.error = sql + ": " + sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  };
  auto text = [](sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t == nullptr ? std::string() : reinterpret_cast<const char*>(t);
  };
  query("PRAGMA integrity_check", [&](sqlite3_stmt* s) {
    if (snap.integrity.empty()) snap.integrity = text(s, 0);
  });
  query(
      "SELECT image_id, description, deleted_at_ms IS NOT NULL FROM images "
      "WHERE owner_account_id = '" +
          account_id + "'",
      [&](sqlite3_stmt* s) {
        if (sqlite3_column_int(s, 2) != 0) {
          snap.deleted[text(s, 0)] = true;
        } else {
          snap.live[text(s, 0)] = text(s, 1);
        }
      });
  sqlite3_close(db);
  return snap;
}

// Compares the models with a reading; returns the acknowledged facts that
// are missing, counts the facts checked, and brings the models up to what
// the database says (the unanswered calls are settled by it).
std::vector<std::string> Check(const Snapshot& snap,
                               std::vector<ImageModel>* images,
                               int64_t* facts) {
  std::vector<std::string> lost;
  std::vector<ImageModel> kept;
  for (ImageModel& m : *images) {
    auto live = snap.live.find(m.id);
    const bool is_live = live != snap.live.end();
    if (m.deleted) {
      ++*facts;
      if (is_live) lost.push_back("acknowledged DeleteImage undone: " + m.id);
      continue;  // gone for good: no longer followed
    }
    ++*facts;  // the acknowledged CreateImage
    if (!is_live) {
      if (m.maybe_deleted && snap.deleted.count(m.id) > 0) continue;
      lost.push_back("acknowledged CreateImage lost: " + m.id);
      continue;
    }
    ++*facts;  // the acknowledged description
    if (live->second != m.description &&
        (!m.maybe_description.has_value() ||
         live->second != *m.maybe_description)) {
      lost.push_back("acknowledged Description '" + m.description + "' of " +
                     m.id + " reads '" + live->second + "'");
    }
    m.description = live->second;
    m.maybe_description.reset();
    m.maybe_deleted = false;
    kept.push_back(m);
  }
  *images = std::move(kept);
  return lost;
}

struct RoundFigures {
  int rounds = 0;
  int cut_mid_run = 0;  // the seeded operation came before the calls ended
  int64_t acknowledged = 0;
  int64_t facts_checked = 0;
  int64_t operations = 0;
  int64_t uncut_rounds_operations = 0;  // the whole load of uncut rounds
  int64_t db_file_writes = 0;           // checkpoints
  int64_t errors_before_cut = 0;
  int clean_restarts = 0;
  int cut_at_directory_operation = 0;
  int64_t directory_operations = 0;  // WAL deletes and creates seen
  PowerCutCounts cut;
  std::vector<std::string> lost;
  std::vector<std::string> broken;  // integrity or unreadable
};

class PowerCutTest : public ::testing::Test {
 protected:
  PowerCutTest() : vfs_(FaultVfs::Install()) {}
  ~PowerCutTest() override { vfs_.Reset(); }

  void StartServer() {
    TestServerOptions options;
    options.simulation_control = true;
    options.domain.image_quota_per_region = 1000000;
    server_.reset();
    server_ = std::make_unique<TestServer>(options);
    alice_ = server_->CreateAccount("alice");
    images_.assign(kThreads, {});
  }

  // One client thread's calls until its budget or the cut.
  void Client(int round, int thread, uint64_t seed, std::mutex* mu,
              int64_t* acknowledged, int64_t* errors) {
    std::mt19937_64 rng(seed);
    std::vector<ImageModel>& mine = images_[thread];
    auto stub = v1::ImageService::NewStub(server_->channel());
    auto ok = [&](const grpc::Status& s) {
      // Answered before the cut: acknowledged. After it, the answer came
      // from a machine that has no power: nobody got it.
      const bool before_cut = !vfs_.power_cut();
      if (!s.ok() && before_cut) {
        std::lock_guard<std::mutex> lock(*mu);
        ++*errors;
      }
      if (s.ok() && before_cut) {
        std::lock_guard<std::mutex> lock(*mu);
        ++*acknowledged;
      }
      return s.ok() && before_cut;
    };
    for (int i = 0; i < kCallsPerThread && !vfs_.power_cut(); ++i) {
      std::vector<size_t> live;
      for (size_t j = 0; j < mine.size(); ++j) {
        if (!mine[j].deleted && !mine[j].maybe_deleted) live.push_back(j);
      }
      const int dice = static_cast<int>(rng() % 10);
      auto ctx = AuthContext(alice_.token);
      if (live.size() < 2 || dice < 4) {
        v1::CreateImageRequest req;
        req.set_region_id(kRegion);
        req.set_image_name("r" + std::to_string(round) + "-t" +
                           std::to_string(thread) + "-" + std::to_string(i));
        v1::CreateImageResponse resp;
        if (ok(stub->CreateImage(ctx.get(), req, &resp))) {
          mine.push_back({resp.image_id(), "", std::nullopt, false, false});
        }
        continue;
      }
      ImageModel& m = mine[live[rng() % live.size()]];
      if (dice < 8) {
        const std::string description = "d" + std::to_string(round) + "-" +
                                        std::to_string(thread) + "-" +
                                        std::to_string(i);
        v1::ModifyImageAttributeRequest req;
        req.set_region_id(kRegion);
        req.set_image_id(m.id);
        req.set_description(description);
        v1::ModifyImageAttributeResponse resp;
        if (ok(stub->ModifyImageAttribute(ctx.get(), req, &resp))) {
          m.description = description;
          m.maybe_description.reset();
        } else {
          m.maybe_description = description;
          break;  // the image's state is unknown until the check
        }
      } else {
        v1::DeleteImageRequest req;
        req.set_region_id(kRegion);
        req.set_image_id(m.id);
        v1::DeleteImageResponse resp;
        if (ok(stub->DeleteImage(ctx.get(), req, &resp))) {
          m.deleted = true;
        } else {
          m.maybe_deleted = true;
          break;
        }
      }
    }
  }

  // Runs the write load until the cut; returns what the cut left, read.
  // `into_dir` empty: the server restarts on the files in place.
  Snapshot Round(int round, uint64_t seed, bool ignore_syncs,
                 const std::string& into_dir, RoundFigures* fig) {
    std::mt19937_64 rng(seed);
    PowerCutOptions options;
    options.seed = rng();
    // Around 800 watched operations a round when uncut: most cuts land
    // mid-run, some after the last call.
    options.cut_at_operation = 1 + static_cast<int64_t>(rng() % 1000);
    options.ignore_syncs = ignore_syncs;
    const std::string dir =
        std::filesystem::path(server_->db_path()).parent_path().string();
    if (into_dir.empty() && round % 10 == 9) {
      // A clean restart inside the watch: the close checkpoints and deletes
      // the WAL, the start creates it again. In turn the cut comes at the
      // seeded operation (maybe inside the restart), after the restart
      // (so the delete and create are recorded), just after the unsynced
      // WAL delete, or just after the WAL is created again.
      const int kind = (round / 10) % 4;
      const int64_t cut_at = options.cut_at_operation;
      if (kind != 0) options.cut_at_operation = 0;
      if (kind >= 2) options.cut_after_directory_operations = kind - 1;
      vfs_.WatchForPowerCut(dir, options);
      server_->Restart();
      if (kind == 1) vfs_.SetPowerCutAt(vfs_.power_cut_operations() + cut_at);
      if (kind >= 2) fig->cut_at_directory_operation++;
      fig->clean_restarts++;
    } else {
      vfs_.WatchForPowerCut(dir, options);
    }

    std::mutex mu;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([this, round, t, s = rng(), &mu, fig] {
        Client(round, t, s, &mu, &fig->acknowledged, &fig->errors_before_cut);
      });
    }
    for (std::thread& t : threads) t.join();
    fig->rounds++;
    if (vfs_.power_cut()) {
      fig->cut_mid_run++;
    } else {
      fig->uncut_rounds_operations += vfs_.power_cut_operations();
    }
    fig->operations += vfs_.power_cut_operations();
    fig->db_file_writes += vfs_.power_cut_db_file_writes();
    fig->directory_operations += vfs_.power_cut_directory_operations();
    vfs_.CutPower();

    PowerCutCounts counts;
    std::string db = server_->db_path();
    if (into_dir.empty()) {
      // The reboot: the restarted server's first open finds the files as
      // the cut left them.
      vfs_.RestoreAtNextOpen();
      server_->Restart();
      EXPECT_TRUE(vfs_.restored());
      counts = vfs_.last_cut_counts();
    } else {
      counts = vfs_.RestoreAfterPowerCut(into_dir);
      db = (std::filesystem::path(into_dir) /
            std::filesystem::path(db).filename())
               .string();
    }
    fig->cut.writes_kept += counts.writes_kept;
    fig->cut.writes_lost += counts.writes_lost;
    fig->cut.writes_torn += counts.writes_torn;
    fig->cut.other_kept += counts.other_kept;
    fig->cut.other_lost += counts.other_lost;
    Snapshot snap = Read(db, alice_.account_id);
    if (snap.error.empty() && snap.integrity == "ok") {
      snap.violations = Violations(db);
    }
    return snap;
  }

  // Checks a reading against every thread's model.
  void CheckRound(int round, const Snapshot& snap, RoundFigures* fig) {
    const std::string where = "round " + std::to_string(round) + ": ";
    if (!snap.error.empty() || snap.integrity != "ok") {
      fig->broken.push_back(where + snap.error + " integrity " +
                            snap.integrity);
    }
    for (const std::string& v : snap.violations) {
      fig->broken.push_back(where + v);
    }
    for (std::vector<ImageModel>& images : images_) {
      for (const std::string& l : Check(snap, &images, &fig->facts_checked)) {
        fig->lost.push_back(where + l);
      }
    }
  }

  static void Print(const char* what, const RoundFigures& fig, double s) {
    std::cout << what << ": rounds=" << fig.rounds
              << " cut_mid_run=" << fig.cut_mid_run
              << " acknowledged=" << fig.acknowledged
              << " facts_checked=" << fig.facts_checked
              << " watched_operations=" << fig.operations
              << " of_uncut_rounds=" << fig.uncut_rounds_operations
              << " db_file_writes=" << fig.db_file_writes
              << " clean_restarts=" << fig.clean_restarts
              << " cut_at_directory_operation="
              << fig.cut_at_directory_operation
              << " directory_operations=" << fig.directory_operations
              << " unsynced_writes kept/lost/torn=" << fig.cut.writes_kept
              << "/" << fig.cut.writes_lost << "/" << fig.cut.writes_torn
              << " other kept/lost=" << fig.cut.other_kept << "/"
              << fig.cut.other_lost << " lost=" << fig.lost.size()
              << " broken=" << fig.broken.size()
              << " errors_before_cut=" << fig.errors_before_cut
              << " seconds=" << s << std::endl;
  }

  FaultVfs& vfs_;
  std::unique_ptr<TestServer> server_;
  TestAccount alice_;
  std::vector<std::vector<ImageModel>> images_;
};

TEST_F(PowerCutTest, EveryAcknowledgedWriteSurvivesPowerCuts) {
  const int rounds = static_cast<int>(EnvInt("ECSIMAGE_POWER_CUT_ROUNDS", 200));
  const uint64_t seed =
      static_cast<uint64_t>(EnvInt("ECSIMAGE_POWER_CUT_SEED", 1));
  const auto start = std::chrono::steady_clock::now();
  RoundFigures fig;
  for (int r = 0; r < rounds; ++r) {
    if (r % kEpochRounds == 0) StartServer();
    Snapshot snap = Round(r, seed * 1000003 + r, false, "", &fig);
    CheckRound(r, snap, &fig);
    if (!fig.lost.empty() || !fig.broken.empty()) break;
  }
  Print("power_cut", fig,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  EXPECT_THAT(fig.lost, ::testing::IsEmpty());
  EXPECT_THAT(fig.broken, ::testing::IsEmpty());
  EXPECT_EQ(fig.errors_before_cut, 0);
  EXPECT_EQ(fig.rounds, rounds);
  // The rounds did what they are for: writes acknowledged and checked,
  // unsynced writes met every fate, most cuts came mid-run.
  EXPECT_GT(fig.facts_checked, fig.rounds * 10);
  EXPECT_GT(fig.cut.writes_lost, 0);
  EXPECT_GT(fig.cut.writes_torn, 0);
  EXPECT_GT(fig.cut_mid_run, fig.rounds / 3);
  if (fig.rounds >= 20) {
    EXPECT_GT(fig.directory_operations, 0);
  }
  if (fig.rounds >= 40) {
    // Cuts just after the WAL's delete and re-creation met them unsynced.
    EXPECT_GT(fig.cut.other_kept + fig.cut.other_lost, 0);
  }
}

// A server that skipped fsync: its syncs make nothing durable, and the same
// rounds must find acknowledged writes lost (or a broken database).
TEST_F(PowerCutTest, IgnoredSyncsAreCaught) {
  const auto start = std::chrono::steady_clock::now();
  RoundFigures fig;
  for (int r = 0; r < 6; ++r) {
    StartServer();
    const std::string side =
        std::filesystem::path(server_->db_path()).parent_path().string() +
        "/after_cut";
    std::filesystem::create_directories(side);
    Snapshot snap = Round(r, 7000 + r, true, side, &fig);
    CheckRound(r, snap, &fig);
    server_.reset();
  }
  Print("power_cut_ignored_syncs", fig,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  EXPECT_GT(fig.acknowledged, 0);
  EXPECT_GT(fig.lost.size() + fig.broken.size(), 0u)
      << "the rounds did not notice a server that never syncs";
}

}  // namespace
}  // namespace ecsimage::reliability

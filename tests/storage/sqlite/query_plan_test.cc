// No statement the store prepares scans a whole table that grows with use:
// every statement, captured while every method runs, is checked with
// EXPLAIN QUERY PLAN. DescribeImages pages also need no sort of all rows.
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

// What a "SCAN <table> [USING [COVERING] INDEX <index>]" plan line reads;
// empty table for other lines (SEARCH, MERGE, scans of subquery results).
struct ScanTarget {
  std::string table;
  std::string index;
};

ScanTarget ParseScan(const std::string& detail) {
  ScanTarget target;
  if (detail.rfind("SCAN ", 0) != 0 || detail.size() < 6 || detail[5] == '(') {
    return target;
  }
  const size_t end = detail.find(' ', 5);
  target.table = detail.substr(5, end == std::string::npos ? end : end - 5);
  const size_t at = detail.find("INDEX ");
  if (at != std::string::npos) {
    const size_t from = at + 6;
    target.index = detail.substr(from, detail.find(' ', from) - from);
  }
  return target;
}

class QueryPlanTest : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    store_.reset();
    SqliteStoreOptions options = DefaultOptions();
    options.test_hooks.on_prepare = [this](const std::string& sql) {
      std::lock_guard<std::mutex> lock(mu_);
      statements_.insert(sql);
    };
    ASSERT_OK(OpenStore(options));
  }

  // Calls every ReadTxn/WriteTxn method and Store method that runs SQL.
  void Exercise() {
    ASSERT_OK_AND_ASSIGN(int64_t a,
                         Insert(CustomImage(kAlice, kHangzhou, "m-a", "web")));
    ASSERT_OK_AND_ASSIGN(int64_t b,
                         Insert(CustomImage(kBob, kHangzhou, "m-b")));
    ASSERT_OK(
        Insert(CustomImage(kAlice, kHangzhou, "m-w", "", "Waiting")).status());
    ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) -> absl::Status {
      ImageRow dest = CustomImage(kAlice, kShanghai, "m-d", "", "Waiting");
      dest.is_copied = true;
      absl::Status s = txn.InsertImage(dest);
      if (!s.ok()) return s;
      CopyTaskRow copy;
      copy.account_id = kAlice;
      copy.source_image_rowid = a;
      copy.dest_image_rowid = dest.rowid;
      copy.phase = "QUEUED";
      s = txn.InsertCopy(copy);
      if (!s.ok()) return s;
      copy.phase = "PREPARING";
      s = txn.UpdateCopy(copy);
      if (!s.ok()) return s;
      IoTaskRow task;
      task.task_id = "t-1";
      task.account_id = kAlice;
      task.region_id = kHangzhou;
      task.image_rowid = a;
      task.action = "ExportImage";
      task.status = "Waiting";
      s = txn.InsertIoTask(task);
      if (!s.ok()) return s;
      task.status = "Processing";
      s = txn.UpdateIoTask(task);
      if (!s.ok()) return s;
      s = txn.AddShare(b, kAlice, 1);
      if (!s.ok()) return s;
      s = txn.AddShare(a, kCarol, 1);
      if (!s.ok()) return s;
      s = txn.RemoveShare(a, kCarol);
      if (!s.ok()) return s;
      InstanceRow instance;
      instance.instance_id = "i-1";
      instance.account_id = kAlice;
      instance.region_id = kHangzhou;
      instance.image_rowid = a;
      s = txn.InsertInstance(instance);
      if (!s.ok()) return s;
      s = txn.ReleaseInstance(instance.rowid, 2);
      if (!s.ok()) return s;
      s = txn.ReleaseInstance(instance.rowid, 2);
      if (!s.ok()) return s;
      instance.instance_id = "i-2";
      s = txn.InsertInstance(instance);
      if (!s.ok()) return s;
      s = txn.PutClientToken(kAlice, "CreateImage", "tok", {"f", "r", 1});
      if (!s.ok()) return s;
      ImageRow image = dest;
      image.status = "Creating";
      return txn.UpdateImage(image);
    }));
    ASSERT_OK(store().PruneClientTokens(0));
    ASSERT_OK(store().AccountForTokenHash(std::string(32, '1')).status());
    ASSERT_OK(store().AddToken({std::string(32, 'n'), kAlice, 2}).status());
    ASSERT_OK(store().ListTokens(kAlice).status());
    ASSERT_OK(store().DeleteToken(kAlice, std::string(32, 'n')).status());
    ASSERT_OK(store()
                  .EnsureAccountToken({"5000000000000001", "boot", 3},
                                      std::string(32, 'b'))
                  .status());
    ASSERT_OK(store().RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
      std::vector<absl::Status> results = {
          txn.RegionExists(kHangzhou).status(),
          txn.ListRegions().status(),
          txn.AccountExists(kAlice).status(),
          txn.GetImage(kHangzhou, "m-a").status(),
          txn.GetImageByRowid(a).status(),
          txn.FindLiveImageByName(kAlice, kHangzhou, "web").status(),
          txn.CountLiveImages(kAlice, kHangzhou).status(),
          txn.GetCopyByDest(a).status(),
          txn.GetActiveCopyBySource(a).status(),
          txn.CountRunningCopies(kAlice, kShanghai).status(),
          txn.ListActiveCopies(10, "", 0).status(),
          txn.GetIoTask("t-1").status(),
          txn.GetActiveIoTask(a, "ExportImage").status(),
          txn.ListActiveIoTasks(10, "", 0).status(),
          txn.ListCreatingImages(10, "", 0).status(),
          txn.CountShares(a).status(),
          txn.HasShare(a, kBob).status(),
          txn.ListShares(a, 0, 10).status(),
          txn.GetLiveInstance("i-1").status(),
          txn.ListInstanceRefs(a, 10).status(),
          txn.ListInstances(kAlice, kHangzhou, std::nullopt, 0, 10).status(),
          txn.ListInstances(kAlice, kHangzhou, a, 0, 10).status(),
          txn.GetClientToken(kAlice, "CreateImage", "tok").status(),
      };
      IoTaskQuery io;
      io.account_id = kAlice;
      io.region_id = kHangzhou;
      results.push_back(txn.ListIoTasks(io).status());
      io.task_ids = {"t-1"};
      io.action = "ExportImage";
      io.status = "Processing";
      results.push_back(txn.ListIoTasks(io).status());
      for (const ImageQuery& q : ImageQueries()) {
        results.push_back(txn.ListImages(q).status());
      }
      for (const absl::Status& s : results) {
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }));
  }

  static std::vector<ImageQuery> ImageQueries() {
    std::vector<ImageQuery> queries;
    ImageQuery q;
    q.caller_account_id = kAlice;
    q.region_id = kHangzhou;
    q.statuses = {"Available"};
    queries.push_back(q);  // the default DescribeImages
    q.statuses = {"Waiting", "Creating"};
    queries.push_back(q);  // the poller
    q.include_system = q.include_others = false;
    queries.push_back(q);
    q.include_system = q.include_others = true;
    q.statuses = {"Available"};
    q.image_ids = {"m-a", "m-b"};
    queries.push_back(q);
    q.image_ids.clear();
    q.name = "web";
    q.in_use = true;
    q.is_copied = false;
    queries.push_back(q);
    return queries;
  }

  std::vector<std::string> Statements() {
    std::lock_guard<std::mutex> lock(mu_);
    return {statements_.begin(), statements_.end()};
  }

  std::mutex mu_;
  std::set<std::string> statements_;
};

TEST(ParseScanTest, ReadsTableAndIndexOfScanLines) {
  EXPECT_EQ(ParseScan("SCAN images").table, "images");
  EXPECT_EQ(ParseScan("SCAN images").index, "");
  const ScanTarget c = ParseScan("SCAN c USING INDEX copy_tasks_active");
  EXPECT_EQ(c.table, "c");
  EXPECT_EQ(c.index, "copy_tasks_active");
  EXPECT_EQ(ParseScan("SCAN s USING COVERING INDEX shares_by_account").index,
            "shares_by_account");
  EXPECT_EQ(ParseScan("SCAN (subquery-2)").table, "");
  EXPECT_EQ(ParseScan("SEARCH i USING INTEGER PRIMARY KEY (rowid=?)").table,
            "");
}

TEST_F(QueryPlanTest, NoStatementScansAGrowingTable) {
  Exercise();
  std::vector<std::string> statements = Statements();
  ASSERT_GT(statements.size(), 40u);

  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path_, false));
  // "SCAN <table>" without an index, or over an index that is not partial,
  // reads every row. Partial indexes of active work only are fine, and so
  // is the regions table (a handful of rows).
  const std::set<std::string> bounded_indexes = {
      "copy_tasks_active", "io_tasks_active", "images_creating"};
  int plans = 0;
  for (const std::string& sql : statements) {
    if (sql.rfind("INSERT", 0) == 0 &&
        sql.find("SELECT") == std::string::npos) {
      continue;
    }
    SCOPED_TRACE(sql);
    ASSERT_OK_AND_ASSIGN(Stmt plan, conn->Prepare("EXPLAIN QUERY PLAN " + sql));
    while (true) {
      ASSERT_OK_AND_ASSIGN(bool row, plan.Step());
      if (!row) break;
      ++plans;
      const std::string detail = plan.Text(3);
      const ScanTarget scan = ParseScan(detail);
      if (scan.table.empty()) continue;
      const std::string& table = scan.table;
      const std::string& index = scan.index;
      if (table == "regions") continue;
      EXPECT_TRUE(!index.empty() && bounded_indexes.count(index) > 0)
          << "full scan: " << detail;
    }
  }
  EXPECT_GT(plans, 40);
}

// The images shared to the caller are found from the caller's shares; the
// region's images are never walked to probe shares for each of them (that
// made DescribeImages' TotalCount grow with the region's image count).
TEST_F(QueryPlanTest, SharedImagesAreFoundFromTheCallersShares) {
  Exercise();
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path_, false));
  // Statistics like a large region's, where walking images looks cheap.
  ASSERT_OK(conn->Exec(
      "ANALYZE; DELETE FROM sqlite_stat1; INSERT INTO sqlite_stat1 VALUES "
      "('images', 'images_live_by_owner', '1000000 1000000 250000 50000 1'),"
      "('shares', 'shares_by_account', '1000000 20 1'); ANALYZE "
      "sqlite_schema;"));
  int arms = 0;
  for (const std::string& sql : Statements()) {
    if (sql.find("FROM shares s") == std::string::npos) continue;
    SCOPED_TRACE(sql);
    ASSERT_OK_AND_ASSIGN(Stmt plan, conn->Prepare("EXPLAIN QUERY PLAN " + sql));
    while (true) {
      ASSERT_OK_AND_ASSIGN(bool row, plan.Step());
      if (!row) break;
      const std::string detail = plan.Text(3);
      if (detail.find("shares_by_account") == std::string::npos) continue;
      ++arms;
      EXPECT_NE(detail.find("(account_id=?)"), std::string::npos) << detail;
    }
  }
  EXPECT_GT(arms, 0);
}

TEST_F(QueryPlanTest, DescribeImagesPagesWalkIndexesWithoutSorting) {
  Exercise();
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path_, false));
  int pages = 0;
  for (const std::string& sql : Statements()) {
    if (sql.find("ORDER BY 1 DESC") == std::string::npos) continue;
    ++pages;
    SCOPED_TRACE(sql);
    ASSERT_OK_AND_ASSIGN(Stmt plan, conn->Prepare("EXPLAIN QUERY PLAN " + sql));
    std::string details;
    while (true) {
      ASSERT_OK_AND_ASSIGN(bool row, plan.Step());
      if (!row) break;
      details += plan.Text(3) + "\n";
    }
    // Queries with an id list may sort their few rows; the others must not.
    if (sql.find("image_id IN") == std::string::npos) {
      EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos) << details;
    }
  }
  EXPECT_EQ(pages, 5);
}

// No write statement builds a temporary b-tree of a list for every row it
// writes (SQLite does so for `x IN (three or more constants)`: CHECK
// constraints, partial-index WHEREs, triggers; migration 0005). EXPLAIN lists a
// statement's program and then each trigger program, headed by
// "-- TRIGGER <name>"; only the counter triggers that run for public or
// shared images alone (their WHEN says so) may open one.
TEST_F(QueryPlanTest, WritesOpenNoEphemeralTablesPerRow) {
  Exercise();
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(path_, false));
  ASSERT_OK(conn->Exec("PRAGMA foreign_keys = ON"));
  const std::set<std::string> public_or_shared_only = {
      "images_visible_update_public", "images_visible_update_shared",
      "images_visible_insert", "images_visible_delete"};
  int writes = 0;
  for (const std::string& sql : Statements()) {
    const bool write = sql.rfind("INSERT", 0) == 0 ||
                       sql.rfind("UPDATE", 0) == 0 ||
                       sql.rfind("DELETE", 0) == 0;
    if (!write) continue;
    ++writes;
    SCOPED_TRACE(sql);
    ASSERT_OK_AND_ASSIGN(Stmt program, conn->Prepare("EXPLAIN " + sql));
    std::string trigger;  // empty: the statement's own program
    while (true) {
      ASSERT_OK_AND_ASSIGN(bool row, program.Step());
      if (!row) break;
      const std::string opcode = program.Text(1);
      const std::string p4 = program.Text(5);  // "-- TRIGGER <name>"
      constexpr char kTrigger[] = "-- TRIGGER ";
      if (opcode == "Init" && p4.rfind(kTrigger, 0) == 0) {
        trigger = p4.substr(sizeof(kTrigger) - 1);
        while (!trigger.empty() && trigger.back() == ' ') trigger.pop_back();
      }
      // A one-column ephemeral table is an IN list (or IN subquery) being
      // materialised; a multi-row DELETE's table of keys to delete is built
      // once per statement, not per row, and is fine.
      if (opcode != "OpenEphemeral" || program.Int(3) != 1) continue;
      EXPECT_TRUE(!trigger.empty() && public_or_shared_only.count(trigger) > 0)
          << "ephemeral table in "
          << (trigger.empty() ? "the statement" : "trigger " + trigger);
    }
  }
  EXPECT_GT(writes, 15);
}

}  // namespace
}  // namespace ecsimage::storage::testing

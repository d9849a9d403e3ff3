// SQLite's and PostgreSQL's schemas at the latest version are the same
// logical schema: the same tables; the same columns with the same logical
// type (integer, text, blob) and nullability; the same unique keys and
// indexes by column set (and whether they are partial). Names of
// constraints, CHECKs and triggers are not compared (SQLite's are unnamed
// or differ by design), but the trigger-kept counters are: the same writes
// through the Store interface leave the same counter rows on both.
//
// Mappings, spelled out: SQLite's `id INTEGER PRIMARY KEY` is the rowid
// (a primary key with no index of its own in index_list); a SQLite rowid
// table without such a column (shares) orders by its implicit rowid, which
// PostgreSQL spells as a column `id`. PostgreSQL's schema_meta stands for
// SQLite's PRAGMA user_version.
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/postgres/pg_test_util.h"
#include "tests/testing/temp_dir.h"

namespace ecsimage::storage::pg::testing {
namespace {

struct Column {
  std::string type;  // integer | text | blob
  bool not_null = false;
  bool operator==(const Column& o) const {
    return type == o.type && not_null == o.not_null;
  }
};

struct Table {
  std::map<std::string, Column> columns;
  // "unique partial (a, b)" style descriptions of keys and indexes.
  std::multiset<std::string> indexes;
};

using Schema = std::map<std::string, Table>;

std::string IndexText(bool unique, bool partial,
                      const std::vector<std::string>& cols) {
  return absl::StrCat(unique ? "unique " : "", partial ? "partial " : "", "(",
                      absl::StrJoin(cols, ", "), ")");
}

std::string SqliteLogicalType(std::string t) {
  for (char& c : t) c = static_cast<char>(toupper(c));
  if (t == "INTEGER") return "integer";
  if (t == "TEXT") return "text";
  if (t == "BLOB") return "blob";
  return "?" + t;
}

std::string PgLogicalType(const std::string& t) {
  if (t == "bigint" || t == "integer" || t == "smallint") return "integer";
  if (t == "text") return "text";
  if (t == "bytea") return "blob";
  return "?" + t;
}

// Rows of a query on a SQLite handle, as text.
std::vector<std::vector<std::string>> SqliteRows(sqlite3* db,
                                                 const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sql << ": " << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* v = sqlite3_column_text(stmt, i);
      row.push_back(v == nullptr ? "" : reinterpret_cast<const char*>(v));
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return rows;
}

Schema SqliteSchema(sqlite3* db) {
  Schema schema;
  for (const auto& t :
       SqliteRows(db,
                  "SELECT name, sql FROM sqlite_schema WHERE type = 'table' "
                  "AND name NOT LIKE 'sqlite_%'")) {
    Table& table = schema[t[0]];
    const bool rowid_table = !absl::StrContains(t[1], "WITHOUT ROWID");
    bool rowid_alias = false;
    for (const auto& c :
         SqliteRows(db, absl::StrCat("PRAGMA table_info(", t[0], ")"))) {
      // cid, name, type, notnull, dflt, pk
      const bool pk = c[5] != "0";
      table.columns[c[1]] = {SqliteLogicalType(c[2]), c[3] == "1" || pk};
      if (rowid_table && pk && SqliteLogicalType(c[2]) == "integer" &&
          c[1] == "id") {
        rowid_alias = true;
      }
    }
    if (rowid_alias) {
      table.indexes.insert(IndexText(true, false, {"id"}));
    } else if (rowid_table) {
      table.columns["id"] = {"integer", true};  // the implicit rowid
    }
    for (const auto& idx :
         SqliteRows(db, absl::StrCat("PRAGMA index_list(", t[0], ")"))) {
      // seq, name, unique, origin, partial
      std::vector<std::string> cols;
      for (const auto& c :
           SqliteRows(db, absl::StrCat("PRAGMA index_info(", idx[1], ")"))) {
        cols.push_back(c[2]);
      }
      table.indexes.insert(IndexText(idx[2] == "1", idx[4] == "1", cols));
    }
  }
  return schema;
}

Schema PgSchema(PgConn& conn) {
  Schema schema;
  absl::StatusOr<PgResult> cols = conn.Exec(
      "SELECT table_name, column_name, data_type, is_nullable "
      "FROM information_schema.columns WHERE table_schema = 'public' "
      "AND table_name <> 'schema_meta'");
  EXPECT_TRUE(cols.ok()) << cols.status();
  for (int i = 0; cols.ok() && i < cols->rows(); ++i) {
    schema[cols->Text(i, 0)].columns[cols->Text(i, 1)] = {
        PgLogicalType(cols->Text(i, 2)), cols->Text(i, 3) == "NO"};
  }
  absl::StatusOr<PgResult> idx = conn.Exec(
      "SELECT t.relname, x.indisunique, x.indpred IS NOT NULL, "
      "  (SELECT string_agg(a.attname, ',' ORDER BY k.ord) "
      "   FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) "
      "   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) "
      "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid "
      "JOIN pg_namespace n ON n.oid = t.relnamespace "
      "WHERE n.nspname = 'public' AND t.relname <> 'schema_meta'");
  EXPECT_TRUE(idx.ok()) << idx.status();
  for (int i = 0; idx.ok() && i < idx->rows(); ++i) {
    std::vector<std::string> cols_of =
        absl::StrSplit(idx->Text(i, 3), ',', absl::SkipEmpty());
    schema[idx->Text(i, 0)].indexes.insert(
        IndexText(idx->Bool(i, 1), idx->Bool(i, 2), cols_of));
  }
  return schema;
}

class SchemaEquivalenceTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    SqliteStoreOptions options;
    options.path = dir_.File("equiv.db");
    options.create_if_missing = true;
    absl::StatusOr<std::unique_ptr<SqliteStore>> sqlite =
        SqliteStore::Open(options);
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    sqlite_ = *std::move(sqlite);
    absl::StatusOr<std::unique_ptr<PostgresStore>> postgres =
        PostgresStore::Open(Options());
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    postgres_ = *std::move(postgres);
    ASSERT_EQ(sqlite3_open_v2(options.path.c_str(), &db_, SQLITE_OPEN_READONLY,
                              nullptr),
              SQLITE_OK);
  }
  void CloseStore() override {
    if (db_ != nullptr) sqlite3_close(db_);
    db_ = nullptr;
    postgres_.reset();
    sqlite_.reset();
  }

  ::ecsimage::testing::TempDir dir_;
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<PostgresStore> postgres_;
  sqlite3* db_ = nullptr;
};

TEST_F(SchemaEquivalenceTest, SameTablesColumnsKeysAndIndexes) {
  Schema lite = SqliteSchema(db_);
  auto raw = Raw();
  Schema pg = PgSchema(*raw);
  std::set<std::string> lite_tables, pg_tables;
  for (const auto& [name, t] : lite) lite_tables.insert(name);
  for (const auto& [name, t] : pg) pg_tables.insert(name);
  ASSERT_EQ(lite_tables, pg_tables);
  EXPECT_GE(lite_tables.size(), 12u);
  for (const auto& [name, table] : lite) {
    const Table& other = pg.at(name);
    for (const auto& [col, c] : table.columns) {
      auto it = other.columns.find(col);
      if (it == other.columns.end()) {
        ADD_FAILURE() << name << "." << col << " missing in PostgreSQL";
        continue;
      }
      EXPECT_EQ(c.type, it->second.type) << name << "." << col;
      EXPECT_EQ(c.not_null, it->second.not_null) << name << "." << col;
    }
    for (const auto& [col, c] : other.columns) {
      EXPECT_TRUE(table.columns.count(col))
          << name << "." << col << " missing in SQLite";
    }
    EXPECT_EQ(table.indexes, other.indexes) << name;
  }
}

// Both stores get the same writes; the counters must end up row for row
// the same.
void SameWrites(Store& store) {
  auto must = [](absl::Status s) { ASSERT_TRUE(s.ok()) << s; };
  must(store.SeedIfEmpty({{"r1", "R1", "e"}, {"r2", "R2", "e"}}, {}));
  for (const char* a :
       {"1000000000000001", "1000000000000002", "1000000000000003"}) {
    must(store.CreateAccount({a, a, 1}, std::string(32, a[15])));
  }
  std::vector<ImageRow> images;
  must(store.RunInWriteTransaction([&](WriteTxn& txn) -> absl::Status {
    images.clear();
    int n = 0;
    for (const char* owner : {"", "1000000000000001", "1000000000000002"}) {
      for (const char* region : {"r1", "r2"}) {
        for (const char* status : {"Available", "Creating"}) {
          ImageRow image;
          image.image_id = absl::StrCat("m-", n++);
          image.region_id = region;
          image.owner_account_id = owner;
          image.is_system = std::string(owner).empty();
          image.status = status;
          image.created_at_ms = n;
          absl::Status s = txn.InsertImage(image);
          if (!s.ok()) return s;
          images.push_back(image);
        }
      }
    }
    return absl::OkStatus();
  }));
  must(store.RunInWriteTransaction([&](WriteTxn& txn) -> absl::Status {
    // Shares (to another account, to the owner), public flips, status
    // changes and tombstones, an instance started and released.
    for (size_t i = 4; i < images.size(); ++i) {
      absl::Status s = txn.AddShare(images[i].rowid, "1000000000000003", 5);
      if (!s.ok()) return s;
      s = txn.AddShare(images[i].rowid, images[i].owner_account_id, 5);
      if (!s.ok()) return s;
    }
    ImageRow& pub = images[5];
    pub.is_public = true;
    absl::Status s = txn.UpdateImage(pub);
    if (!s.ok()) return s;
    pub.status = "Available";
    if (!(s = txn.UpdateImage(pub)).ok()) return s;
    ImageRow& shared = images[9];
    shared.status = "UnAvailable";
    if (!(s = txn.UpdateImage(shared)).ok()) return s;
    ImageRow& gone = images[10];
    gone.deleted_at_ms = 7;
    if (!(s = txn.UpdateImage(gone)).ok()) return s;
    if (!(s = txn.RemoveShare(images[8].rowid, "1000000000000003")).ok()) {
      return s;
    }
    InstanceRow instance;
    instance.instance_id = "i-1";
    instance.account_id = "1000000000000003";
    instance.region_id = "r1";
    instance.image_rowid = images[4].rowid;
    if (!(s = txn.InsertInstance(instance)).ok()) return s;
    InstanceRow second = instance;
    second.instance_id = "i-2";
    if (!(s = txn.InsertInstance(second)).ok()) return s;
    return txn.ReleaseInstance(instance.rowid, 9);
  }));
}

TEST_F(SchemaEquivalenceTest, CountersMoveTheSameOnBothStores) {
  SameWrites(*sqlite_);
  SameWrites(*postgres_);
  auto raw = Raw();
  for (const char* sql :
       {"SELECT owner_key, region_id, status, live_count FROM image_counts "
        "ORDER BY 1, 2, 3",
        "SELECT viewer_key, region_id, status, live_count FROM visible_counts "
        "ORDER BY 1, 2, 3",
        "SELECT image_id, live_instance_count FROM images ORDER BY 1"}) {
    std::vector<std::vector<std::string>> lite = SqliteRows(db_, sql);
    absl::StatusOr<PgResult> r = raw->Exec(sql);
    ASSERT_TRUE(r.ok()) << r.status();
    std::vector<std::vector<std::string>> pg;
    for (int i = 0; i < r->rows(); ++i) {
      std::vector<std::string> row;
      for (int c = 0; c < r->cols(); ++c) row.push_back(r->Text(i, c));
      pg.push_back(std::move(row));
    }
    // Byte order on both sides (collations differ).
    std::sort(lite.begin(), lite.end());
    std::sort(pg.begin(), pg.end());
    EXPECT_EQ(lite, pg) << sql;
    EXPECT_FALSE(lite.empty()) << sql;
  }
}

}  // namespace
}  // namespace ecsimage::storage::pg::testing

// `ecsimage db copy` on the PostgreSQL side: rows in, rows out
// (postgres_store.h), and the test fixture that runs raw SQL.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/pg_txn.h"
#include "storage/postgres/postgres_store.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

using pg::PgConn;
using pg::PgParams;
using pg::PgResult;

absl::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& uri) {
  ASSIGN_OR_RETURN(std::string conninfo, pg::WithConnectionDefaults(uri));
  return PgConn::Connect(conninfo);
}

// Table and column names are spliced into SQL: they come from
// CopiedTables()/CounterTables() and the catalog, and are checked anyway.
bool IsPlainName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// column name -> data_type ("bigint", "smallint", "text", "bytea", ...), in
// the table's column order.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ColumnsOf(
    PgConn& conn, const std::string& table) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT column_name, data_type FROM "
                             "information_schema.columns WHERE table_schema = "
                             "current_schema() AND table_name = $1 "
                             "ORDER BY ordinal_position",
                             PgParams().Text(table)));
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.emplace_back(r.Text(i, 0), r.Text(i, 1));
  }
  if (out.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the PostgreSQL database has no table ", table));
  }
  return out;
}

std::string ValueExpr(const std::string& data_type, int index) {
  const std::string p = absl::StrCat("$", index);
  if (data_type == "bytea") return absl::StrCat("decode(", p, ", 'hex')");
  if (data_type == "text") return p;
  return absl::StrCat(p, "::", data_type);
}

absl::Status InsertTable(PgConn& conn, const TableRows& t) {
  if (!IsPlainName(t.table)) return absl::InvalidArgumentError("bad table");
  ASSIGN_OR_RETURN(auto columns, ColumnsOf(conn, t.table));
  std::vector<std::string> exprs;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (!IsPlainName(t.columns[i])) {
      return absl::InvalidArgumentError("bad column");
    }
    std::string type;
    for (const auto& [name, data_type] : columns) {
      if (name == t.columns[i]) type = data_type;
    }
    if (type.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          t.table, ".", t.columns[i], " is missing in PostgreSQL"));
    }
    exprs.push_back(ValueExpr(type, static_cast<int>(i) + 1));
  }
  const std::string sql = absl::StrCat(
      "INSERT INTO ", t.table, " (", absl::StrJoin(t.columns, ", "),
      ") VALUES (", absl::StrJoin(exprs, ", "), ")");
  for (const auto& row : t.rows) {
    PgParams params;
    for (size_t i = 0; i < row.size(); ++i) {
      const CellValue& v = row[i];
      // Recounted from the instances after the copy (RecountStatements).
      if (t.table == "images" && t.columns[i] == "live_instance_count") {
        params.Text("0");
        continue;
      }
      switch (v.type) {
        case CellValue::Type::kNull:
          params.TextOrNull("");
          break;
        case CellValue::Type::kInt:
          params.Text(absl::StrCat(v.int_value));
          break;
        case CellValue::Type::kText:
          params.Text(v.bytes);
          break;
        case CellValue::Type::kBlob:
          params.Text(absl::BytesToHexString(v.bytes));
          break;
      }
    }
    RETURN_IF_ERROR(conn.Exec(sql, params).status());
  }
  // Identity columns go on after the copied ids.
  for (const auto& [name, data_type] : columns) {
    if (name != "id") continue;
    RETURN_IF_ERROR(
        conn.Exec(absl::StrCat("SELECT setval(pg_get_serial_sequence('",
                               t.table,
                               "', 'id'), (SELECT coalesce(max(id), "
                               "0) + 1 FROM ",
                               t.table, "), false)"))
            .status());
  }
  return absl::OkStatus();
}

// The counters the triggers keep, recounted from the rows in one statement
// each (the same definitions as the SQLite migrations' initial counts).
// Firing the triggers row by row instead updates the same counter row once
// per copied image inside one transaction, whose dead versions make the
// copy quadratic (148k images: 10 minutes).
std::vector<std::string> RecountStatements() {
  return {
      "DELETE FROM image_counts",
      absl::StrCat("INSERT INTO image_counts (owner_key, region_id, status, "
                   "live_count) ",
                   pg::kImageCountsFromRows),
      "DELETE FROM visible_counts",
      "INSERT INTO visible_counts (viewer_key, region_id, status, live_count) "
      "SELECT 'shared:' || s.account_id, i.region_id, i.status, count(*) "
      "FROM shares s JOIN images i ON i.id = s.image_rowid "
      "WHERE i.deleted_at_ms IS NULL AND i.is_public = 0 "
      "AND i.owner_account_id IS NOT NULL AND i.owner_account_id <> "
      "s.account_id GROUP BY 1, 2, 3",
      "INSERT INTO visible_counts (viewer_key, region_id, status, live_count) "
      "SELECT 'public', region_id, status, count(*) FROM images "
      "WHERE deleted_at_ms IS NULL AND is_public = 1 "
      "AND owner_account_id IS NOT NULL GROUP BY 1, 2, 3",
      "INSERT INTO visible_counts (viewer_key, region_id, status, live_count) "
      "SELECT 'public:' || owner_account_id, region_id, status, count(*) "
      "FROM images WHERE deleted_at_ms IS NULL AND is_public = 1 "
      "AND owner_account_id IS NOT NULL GROUP BY 1, 2, 3",
      absl::StrCat("UPDATE images SET live_instance_count = x.n FROM (",
                   pg::kLiveInstancesFromRows,
                   ") x WHERE images.id = x.image_rowid"),
  };
}
// Tables whose user triggers keep the counters above.
constexpr const char* kCountedTables[] = {"images", "shares", "instances"};

}  // namespace

absl::Status ImportIntoEmptyPostgres(const std::string& uri,
                                     const std::vector<TableRows>& tables) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(uri));
  RETURN_IF_ERROR(conn->ExecScript("BEGIN"));
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(PgResult used,
                     conn->Exec("SELECT (SELECT count(*) FROM accounts) + "
                                "(SELECT count(*) FROM regions) + "
                                "(SELECT count(*) FROM images)"));
    if (used.Int(0, 0) != 0) {
      return absl::FailedPreconditionError(
          "the PostgreSQL database is not empty (it has accounts, regions "
          "or images): db copy only fills a new database");
    }
    // Inside the transaction: a failed copy leaves the triggers on.
    for (const char* t : kCountedTables) {
      RETURN_IF_ERROR(conn->ExecScript(
          absl::StrCat("ALTER TABLE ", t, " DISABLE TRIGGER USER")));
    }
    for (const TableRows& t : tables) RETURN_IF_ERROR(InsertTable(*conn, t));
    for (const std::string& sql : RecountStatements()) {
      RETURN_IF_ERROR(conn->ExecScript(sql));
    }
    for (const char* t : kCountedTables) {
      RETURN_IF_ERROR(conn->ExecScript(
          absl::StrCat("ALTER TABLE ", t, " ENABLE TRIGGER USER")));
    }
    return absl::OkStatus();
  }();
  if (status.ok()) status = conn->ExecScript("COMMIT");
  if (!status.ok() && !conn->broken()) {
    conn->ExecScript("ROLLBACK").IgnoreError();
  }
  return status;
}

absl::StatusOr<std::vector<TableRows>> ExportPostgresTables(
    const std::string& uri, const std::vector<std::string>& tables) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(uri));
  RETURN_IF_ERROR(
      conn->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  std::vector<TableRows> out;
  absl::Status status = [&]() -> absl::Status {
    for (const std::string& table : tables) {
      if (!IsPlainName(table)) return absl::InvalidArgumentError("bad table");
      ASSIGN_OR_RETURN(auto columns, ColumnsOf(*conn, table));
      TableRows t;
      t.table = table;
      std::vector<std::string> selects;
      for (const auto& [name, data_type] : columns) {
        t.columns.push_back(name);
        selects.push_back(name);
      }
      ASSIGN_OR_RETURN(PgResult r, conn->Exec(absl::StrCat(
                                       "SELECT ", absl::StrJoin(selects, ", "),
                                       " FROM ", table, " ORDER BY 1")));
      for (int i = 0; i < r.rows(); ++i) {
        std::vector<CellValue> row(columns.size());
        for (size_t c = 0; c < columns.size(); ++c) {
          const int col = static_cast<int>(c);
          const std::string& type = columns[c].second;
          CellValue& v = row[c];
          if (r.IsNull(i, col)) {
            v.type = CellValue::Type::kNull;
          } else if (type == "bytea") {
            v.type = CellValue::Type::kBlob;
            v.bytes = r.Bytes(i, col);
          } else if (type == "text") {
            v.type = CellValue::Type::kText;
            v.bytes = r.Text(i, col);
          } else {
            v.type = CellValue::Type::kInt;
            v.int_value = r.Int(i, col);
          }
        }
        t.rows.push_back(std::move(row));
      }
      out.push_back(std::move(t));
    }
    return absl::OkStatus();
  }();
  conn->ExecScript("COMMIT").IgnoreError();
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<std::string>> ListPostgresDatabases(
    const std::string& server_uri, const std::string& prefix) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(server_uri));
  ASSIGN_OR_RETURN(PgResult r,
                   conn->Exec("SELECT datname FROM pg_database WHERE "
                              "starts_with(datname, $1) ORDER BY datname",
                              PgParams().Text(prefix)));
  std::vector<std::string> names;
  for (int i = 0; i < r.rows(); ++i) names.push_back(r.Text(i, 0));
  return names;
}

absl::Status ExecPostgresForTest(const std::string& uri,
                                 const std::string& sql) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(uri));
  return conn->ExecScript(sql);
}

absl::StatusOr<int64_t> PostgresStore::DatabaseNowMs() {
  ASSIGN_OR_RETURN(pg::PgPool::Lease conn, pool_->Acquire());
  ASSIGN_OR_RETURN(PgResult r,
                   conn->Exec("SELECT (extract(epoch FROM clock_timestamp()) "
                              "* 1000)::bigint"));
  return r.Int(0, 0);
}

}  // namespace ecsimage::storage

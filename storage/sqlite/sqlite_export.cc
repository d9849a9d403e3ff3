#include "storage/sqlite/sqlite_export.h"

#include <sqlite3.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_store.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

// Table names come from CopiedTables()/CounterTables(), never from input;
// checked anyway, since they are spliced into SQL.
bool IsPlainName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

absl::StatusOr<TableRows> ReadTable(Connection& conn,
                                    const std::string& table) {
  if (!IsPlainName(table)) {
    return absl::InvalidArgumentError(absl::StrCat("bad table name ", table));
  }
  TableRows out;
  out.table = table;
  {
    ASSIGN_OR_RETURN(Stmt q, conn.Prepare(absl::StrCat(
                                 "SELECT name FROM pragma_table_info('", table,
                                 "') ORDER BY cid")));
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.columns.push_back(q.Text(0));
    }
  }
  if (out.columns.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the SQLite database has no table ", table));
  }
  ASSIGN_OR_RETURN(Stmt q, conn.Prepare(absl::StrCat(
                               "SELECT ", absl::StrJoin(out.columns, ", "),
                               " FROM ", table, " ORDER BY 1")));
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    std::vector<CellValue> values(out.columns.size());
    for (size_t i = 0; i < out.columns.size(); ++i) {
      const int col = static_cast<int>(i);
      CellValue& v = values[i];
      switch (q.ColumnType(col)) {
        case SQLITE_NULL:
          v.type = CellValue::Type::kNull;
          break;
        case SQLITE_INTEGER:
          v.type = CellValue::Type::kInt;
          v.int_value = q.Int(col);
          break;
        case SQLITE_BLOB:
          v.type = CellValue::Type::kBlob;
          v.bytes = q.Text(col);
          break;
        default:
          v.type = CellValue::Type::kText;
          v.bytes = q.Text(col);
          break;
      }
    }
    out.rows.push_back(std::move(values));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<TableRows>> ExportSqliteTables(
    const std::string& path, const std::vector<std::string>& tables) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   Connection::Open(path, /*create=*/false));
  ASSIGN_OR_RETURN(int64_t version, conn->QueryInt("PRAGMA user_version"));
  if (version != LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the SQLite database is at schema version ", version,
                     ", not ", LatestSchemaVersion(),
                     ": run `ecsimage migrate --db ", path, "` first"));
  }
  RETURN_IF_ERROR(conn->Exec("BEGIN"));  // one snapshot for every table
  std::vector<TableRows> out;
  for (const std::string& table : tables) {
    absl::StatusOr<TableRows> rows = ReadTable(*conn, table);
    if (!rows.ok()) {
      (void)conn->Exec("ROLLBACK");
      return rows.status();
    }
    out.push_back(*std::move(rows));
  }
  RETURN_IF_ERROR(conn->Exec("COMMIT"));
  return out;
}

}  // namespace ecsimage::storage

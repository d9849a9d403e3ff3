// `ecsimage db copy --from PATH --to URI`: the way from SQLite to
// PostgreSQL. Everything moves — accounts, token hashes, images and
// tombstones, tasks in flight, shares, instances, client tokens — with the
// servers stopped; PostgreSQL recounts the counters from the copied rows
// (set-based, not SQLite's triggers), and every row and every counter is
// compared with SQLite's before the command reports success.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/cmd/commands.h"
#include "service/cmd/db.h"
#include "service/cmd/flags.h"
#include "service/grpc/json_log.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_export.h"
#include "storage/table_rows.h"

namespace ecsimage::cmd {
namespace {

using grpcapi::JsonLine;

int Fail(std::string_view msg, const absl::Status& status) {
  JsonLine()
      .Str("level", "error")
      .Str("msg", msg)
      .Str("error", std::string(status.message()))
      .Emit();
  return 1;
}

// Rows compare as text lines of `columns` in that order, whatever order
// each store lists rows and columns in. Only `columns` count (a store may
// keep more, such as PostgreSQL's row id of shares); a column `t` lacks
// reads as "<missing>".
std::vector<std::string> Lines(const storage::TableRows& t,
                               const std::vector<std::string>& columns) {
  std::vector<int> index;
  for (const std::string& c : columns) {
    auto it = std::find(t.columns.begin(), t.columns.end(), c);
    index.push_back(
        it == t.columns.end() ? -1 : static_cast<int>(it - t.columns.begin()));
  }
  std::vector<std::string> out;
  for (const auto& row : t.rows) {
    std::string line;
    for (int i : index) {
      if (i < 0) {
        absl::StrAppend(&line, "<missing>|");
        continue;
      }
      const storage::CellValue& v = row[i];
      if (v.type == storage::CellValue::Type::kNull) {
        absl::StrAppend(&line, "<null>|");
      } else if (v.type == storage::CellValue::Type::kInt) {
        absl::StrAppend(&line, v.int_value, "|");
      } else {
        absl::StrAppend(&line, v.bytes, "|");
      }
    }
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int RunCopy(const std::vector<std::string>& args) {
  std::string from;
  std::string to;
  FlagSet flags("db copy");
  flags.About(
      "Copies every row of the SQLite database --from into the empty\n"
      "PostgreSQL database --to (migrated by this command if it is new),\n"
      "then verifies row counts and counters. Stop every server first.");
  flags.String("from", &from, "SQLite database file (required)");
  flags.String("to", &to, "PostgreSQL URI of an empty database (required)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  absl::StatusOr<DbLocator> src = ParseDbLocator(from);
  absl::StatusOr<DbLocator> dst = ParseDbLocator(to);
  if (from.empty() || to.empty() || !src.ok() || !dst.ok() ||
      src->is_postgres() || !dst->is_postgres()) {
    std::cerr << "db copy: --from takes a SQLite file and --to a "
                 "postgresql:// URI\n"
              << flags.Usage();
    return 2;
  }
  // Brings the source to this binary's schema (refusing a corrupt or newer
  // one) and the destination to the same version.
  if (absl::StatusOr<OpenedDb> db = OpenDatabase(from, false); !db.ok()) {
    return Fail("cannot open the SQLite database", db.status());
  }
  if (absl::StatusOr<int> v = storage::MigratePostgres(to); !v.ok()) {
    return Fail("cannot migrate the PostgreSQL database", v.status());
  }

  absl::StatusOr<std::vector<storage::TableRows>> rows =
      storage::ExportSqliteTables(from, storage::CopiedTables());
  if (!rows.ok()) return Fail("cannot read the SQLite database", rows.status());
  if (absl::Status s = storage::ImportIntoEmptyPostgres(to, *rows); !s.ok()) {
    return Fail("copy failed (nothing was written)", s);
  }

  // Verification: per-table counts, then the counters.
  absl::StatusOr<std::vector<storage::TableRows>> copied =
      storage::ExportPostgresTables(to, storage::CopiedTables());
  if (!copied.ok()) return Fail("cannot verify the copy", copied.status());
  JsonLine done;
  done.Str("level", "info")
      .Str("msg", "copied")
      .Str("from", from)
      .Str("to", dst->display);
  // Every row, every column (the counters kept inside rows, such as an
  // image's live instances, rebuilt by PostgreSQL's triggers, included).
  for (size_t i = 0; i < rows->size(); ++i) {
    const size_t want = (*rows)[i].rows.size();
    const size_t got = (*copied)[i].rows.size();
    const std::vector<std::string>& columns = (*rows)[i].columns;
    if (want != got ||
        Lines((*rows)[i], columns) != Lines((*copied)[i], columns)) {
      return Fail("verification failed",
                  absl::DataLossError(absl::StrCat(
                      (*rows)[i].table, ": ", want, " rows in SQLite, ", got,
                      " in PostgreSQL, or their contents differ")));
    }
    done.Int((*rows)[i].table, static_cast<int64_t>(want));
  }
  absl::StatusOr<std::vector<storage::TableRows>> src_counters =
      storage::ExportSqliteTables(from, storage::CounterTables());
  absl::StatusOr<std::vector<storage::TableRows>> dst_counters =
      storage::ExportPostgresTables(to, storage::CounterTables());
  if (!src_counters.ok() || !dst_counters.ok()) {
    return Fail("cannot verify the counters", !src_counters.ok()
                                                  ? src_counters.status()
                                                  : dst_counters.status());
  }
  for (size_t i = 0; i < src_counters->size(); ++i) {
    // Rows of zero count may exist on one side only (SQLite keeps rows
    // that dropped to zero): compare the non-zero ones.
    auto nonzero = [](std::vector<std::string> lines) {
      std::vector<std::string> out;
      for (std::string& l : lines) {
        if (l.size() < 3 || l.compare(l.size() - 3, 3, "|0|") != 0) {
          out.push_back(std::move(l));
        }
      }
      return out;
    };
    const std::vector<std::string>& columns = (*src_counters)[i].columns;
    if (nonzero(Lines((*src_counters)[i], columns)) !=
        nonzero(Lines((*dst_counters)[i], columns))) {
      return Fail("verification failed",
                  absl::DataLossError(
                      absl::StrCat((*src_counters)[i].table,
                                   " differs between SQLite and PostgreSQL")));
    }
  }
  done.Emit();
  return 0;
}

}  // namespace

int RunDb(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "copy") {
    return RunCopy(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "usage: ecsimage db copy --from PATH --to URI\n";
  return 2;
}

}  // namespace ecsimage::cmd

// Reads whole tables of a SQLite database, for `ecsimage db copy`.
#ifndef ECSIMAGE_STORAGE_SQLITE_SQLITE_EXPORT_H_
#define ECSIMAGE_STORAGE_SQLITE_SQLITE_EXPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/table_rows.h"

namespace ecsimage::storage {

// Every row of each of `tables` of the database at `path` (which must exist
// and be at this binary's schema version), from one snapshot, in rowid /
// primary key order.
absl::StatusOr<std::vector<TableRows>> ExportSqliteTables(
    const std::string& path, const std::vector<std::string>& tables);

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_SQLITE_SQLITE_EXPORT_H_

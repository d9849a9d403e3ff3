// Rows of a table in a form every store reads and writes: what `ecsimage db
// copy` moves from one store to another. Columns are named; a value is
// NULL, an integer, text or bytes (the logical types both ladders share;
// booleans are 0/1 integers).
#ifndef ECSIMAGE_STORAGE_TABLE_ROWS_H_
#define ECSIMAGE_STORAGE_TABLE_ROWS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ecsimage::storage {

struct CellValue {
  enum class Type { kNull, kInt, kText, kBlob };
  Type type = Type::kNull;
  int64_t int_value = 0;
  std::string bytes;  // kText or kBlob
};

struct TableRows {
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::vector<CellValue>> rows;
};

// The tables `db copy` moves, parents first (foreign keys), and the
// trigger-kept counter tables it checks after the copy instead of moving.
inline const std::vector<std::string>& CopiedTables() {
  static const auto* const kTables = new std::vector<std::string>{
      "accounts", "tokens",        "access_keys",   "regions",
      "images",   "disk_mappings", "copy_tasks",    "io_tasks",
      "shares",   "instances",     "client_tokens", "replica_settings"};
  return *kTables;
}
inline const std::vector<std::string>& CounterTables() {
  static const auto* const kTables =
      new std::vector<std::string>{"image_counts", "visible_counts"};
  return *kTables;
}

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_TABLE_ROWS_H_

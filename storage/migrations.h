// Schema migrations: migrations/NNNN_name.sql, embedded at build time
// (cmake/write_migrations.cmake), applied in order on a PRAGMA user_version
// ladder, each step and its version bump in one transaction.
#ifndef ECSIMAGE_STORAGE_MIGRATIONS_H_
#define ECSIMAGE_STORAGE_MIGRATIONS_H_

#include <string>
#include <vector>

namespace ecsimage::storage {

struct Migration {
  int version;       // NNNN of the file name; 1, 2, ... without gaps
  std::string name;  // file name without .sql
  std::string sql;
};

// All migrations compiled into this binary, ascending by version.
const std::vector<Migration>& EmbeddedMigrations();

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_MIGRATIONS_H_

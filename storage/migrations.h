// Schema migrations: migrations/<store>/NNNN_name.sql, embedded at build time
// (cmake/embed_migrations.cmake), applied in order, each step and its
// version bump in one transaction. Each store has its own ladder; both reach
// the same logical schema at the same version.
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

// migrations/sqlite/, ascending by version (a PRAGMA user_version ladder).
const std::vector<Migration>& EmbeddedSqliteMigrations();
// migrations/postgres/, ascending by version (schema_meta ladder).
const std::vector<Migration>& EmbeddedPostgresMigrations();

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_MIGRATIONS_H_

// What the subcommands share: opening the database the way operators
// expect, the demo account's token file, flag parsing boilerplate.
#ifndef ECSIMAGE_SERVICE_CMD_DB_H_
#define ECSIMAGE_SERVICE_CMD_DB_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/cmd/flags.h"
#include "service/domain/clock.h"
#include "service/domain/ids.h"
#include "storage/image_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace ecsimage::cmd {

inline constexpr char kDefaultDbPath[] = "./data/ecsimage.db";
inline constexpr char kDbFlagHelp[] =
    "SQLite database file, or a PostgreSQL URI (postgresql://…)";

// What --db (ECSIMAGE_DB) names: a SQLite file or a PostgreSQL server.
struct DbLocator {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string value;    // the path, or the URI as given (may hold a password)
  std::string display;  // for logs: the URI with any password masked
  bool is_postgres() const { return kind == Kind::kPostgres; }
};

// A path selects SQLite; a URI starting postgresql:// or postgres://
// selects PostgreSQL. Anything else that looks like a URI (another scheme,
// file:…) or is empty is kInvalidArgument: never turned into a file name.
absl::StatusOr<DbLocator> ParseDbLocator(const std::string& db);

// `uri` with the password of its user info and any password= parameter
// replaced by "***".
std::string MaskPassword(const std::string& uri);

struct OpenedDb {
  DbLocator locator;
  std::unique_ptr<storage::Store> store;
  // The same store by its type, for what only one implementation has
  // (SQLite's queue and file sizes; PostgreSQL's pool and retries).
  storage::SqliteStore* sqlite = nullptr;
  storage::PostgresStore* postgres = nullptr;
  bool created = false;  // SQLite: the file did not exist before
  int schema_version = 0;
};

// Opens the database `db` names and applies pending migrations (on
// PostgreSQL under an advisory lock, so that replicas starting together
// apply each step once). A missing SQLite file is created (with its
// directory) only if `create_if_missing`; otherwise kNotFound. A PostgreSQL
// database must exist; the password may come from the URI, PGPASSWORD,
// PGPASSFILE or the one-line file ECSIMAGE_DB_PASSWORD_FILE names.
// `check_at_open`: SQLite's PRAGMA quick_check before anything else, which
// reads the whole file (a corrupt file is kDataLoss); off, the caller runs
// Store::CheckIntegrity itself (serve in the background, backup first).
absl::StatusOr<OpenedDb> OpenDatabase(const std::string& db,
                                      bool create_if_missing,
                                      bool check_at_open = true);

struct DemoAccount {
  std::string account_id;
  std::string token;
};

// The demo account's token file: `explicit_path` if set, else "<db>.token"
// beside a SQLite file; "" (none) on PostgreSQL, where nothing is beside
// the URI.
std::string TokenFilePath(const DbLocator& db,
                          const std::string& explicit_path = "");
// {"account_id":"…","token":"…","token_id":"…"}, no newline.
std::string AccountJson(const std::string& account_id, const std::string& token,
                        const std::string& token_id);
// Creates the demo account and writes its token file (mode 0600, atomic).
absl::Status CreateDemoAccount(storage::Store& store, domain::Clock& clock,
                               domain::IdGenerator& ids,
                               const std::string& token_file);
absl::StatusOr<DemoAccount> ReadTokenFile(const std::string& token_file);

// Parses; on --help prints usage and returns 0, on a bad flag prints the
// error and usage and returns 2; returns -1 to go on.
int ParseOrUsage(FlagSet& flags, const std::vector<std::string>& args);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_DB_H_

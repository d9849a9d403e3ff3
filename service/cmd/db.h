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
#include "storage/sqlite/sqlite_store.h"

namespace ecsimage::cmd {

inline constexpr char kDefaultDbPath[] = "./data/ecsimage.db";

struct OpenedDb {
  std::unique_ptr<storage::SqliteStore> store;
  bool created = false;  // the file did not exist before
  int schema_version = 0;
};

// Opens `path` and applies pending migrations. A missing file is created
// (with its directory) only if `create_if_missing`; otherwise kNotFound.
absl::StatusOr<OpenedDb> OpenDatabase(const std::string& path,
                                      bool create_if_missing);

struct DemoAccount {
  std::string account_id;
  std::string token;
};

// "<db>.token".
std::string TokenFilePath(const std::string& db_path);
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

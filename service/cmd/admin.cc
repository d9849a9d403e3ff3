// The operator subcommands: account create, migrate, backup.
#include <iostream>
#include <string>
#include <vector>

#include "service/cmd/commands.h"
#include "service/cmd/db.h"
#include "service/cmd/flags.h"
#include "service/domain/clock.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/grpc/json_log.h"

namespace ecsimage::cmd {
namespace {

using grpcapi::JsonLine;

int Fail(std::string_view msg, const absl::Status& status) {
  JsonLine()
      .Str("level", "error")
      .Str("msg", msg)
      .Str("error", status.ToString())
      .Emit();
  return 1;
}

}  // namespace

int RunAccount(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "create") {
    std::cerr << "usage: ecsimage account create --name N [--db PATH]\n";
    return 2;
  }
  std::string db_path = kDefaultDbPath;
  std::string name;
  // A typo in --db must not hand out a token for a database nobody serves.
  bool create_if_missing = false;
  FlagSet flags("account create");
  flags.String("db", &db_path, "SQLite database file");
  flags.String("name", &name, "account name (required)");
  flags.Bool("create-if-missing", &create_if_missing,
             "create the database when the file does not exist");
  if (int rc = ParseOrUsage(flags, {args.begin() + 1, args.end()}); rc >= 0) {
    return rc;
  }
  if (name.empty()) {
    std::cerr << "account create: --name is required\n" << flags.Usage();
    return 2;
  }
  absl::StatusOr<OpenedDb> db = OpenDatabase(db_path, create_if_missing);
  if (!db.ok()) return Fail("cannot open database", db.status());
  domain::SystemClock clock;
  domain::RandomIdGenerator ids;
  domain::AccountAdmin admin(*db->store, clock, ids);
  absl::StatusOr<domain::AccountAdmin::Created> created =
      admin.CreateAccount(name);
  if (!created.ok()) return Fail("cannot create account", created.status());
  std::cout << AccountJson(created->account_id, created->token) << "\n"
            << std::flush;
  return 0;
}

int RunMigrate(const std::vector<std::string>& args) {
  std::string db_path = kDefaultDbPath;
  bool create_if_missing = true;
  FlagSet flags("migrate");
  flags.String("db", &db_path, "SQLite database file");
  flags.Bool("create-if-missing", &create_if_missing,
             "create the database when the file does not exist");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  absl::StatusOr<OpenedDb> db = OpenDatabase(db_path, create_if_missing);
  if (!db.ok()) return Fail("migration failed", db.status());
  JsonLine()
      .Str("level", "info")
      .Str("msg", "migrated")
      .Str("db", db_path)
      .Int("schemaVersion", db->schema_version)
      .Bool("newDatabase", db->created)
      .Emit();
  return 0;
}

int RunBackup(const std::vector<std::string>& args) {
  std::string db_path = kDefaultDbPath;
  std::string to;
  FlagSet flags("backup");
  flags.String("db", &db_path, "SQLite database file");
  flags.String("to", &to, "path of the copy (must not exist)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (to.empty()) {
    std::cerr << "backup: --to is required\n" << flags.Usage();
    return 2;
  }
  absl::StatusOr<OpenedDb> db = OpenDatabase(db_path, false);
  if (!db.ok()) return Fail("cannot open database", db.status());
  if (absl::Status s = db->store->BackupTo(to); !s.ok()) {
    return Fail("backup failed", s);
  }
  JsonLine()
      .Str("level", "info")
      .Str("msg", "backup written")
      .Str("db", db_path)
      .Str("to", to)
      .Emit();
  return 0;
}

}  // namespace ecsimage::cmd

// The operator subcommands: account create, account token create | list |
// revoke, migrate, backup.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/cmd/commands.h"
#include "service/cmd/db.h"
#include "service/cmd/flags.h"
#include "service/domain/clock.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/grpc/json_log.h"

namespace ecsimage::cmd {
namespace {

using grpcapi::JsonLine;

// "INVALID_ARGUMENT: <message> (<why>)" without the binary payload that
// absl::Status::ToString would append.
std::string ErrorText(const absl::Status& status) {
  std::string text = absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                                  status.message());
  if (auto payload = domain::PayloadOf(status); payload.has_value()) {
    for (const auto& v : payload->field_violations()) {
      if (v.description() != status.message()) {
        absl::StrAppend(&text, " (", v.description(), ")");
      }
    }
  }
  return text;
}

int Fail(std::string_view msg, const absl::Status& status) {
  JsonLine()
      .Str("level", "error")
      .Str("msg", msg)
      .Str("error", ErrorText(status))
      .Emit();
  return 1;
}

// The one JSON line of a new token: shown this once, never logged.
int PrintCreated(const absl::StatusOr<domain::AccountAdmin::Created>& created,
                 std::string_view failure) {
  if (!created.ok()) return Fail(failure, created.status());
  std::cout << AccountJson(created->account_id, created->token,
                           created->token_id)
            << "\n"
            << std::flush;
  return 0;
}

// An opened database with the operator's AccountAdmin on it.
struct AdminSession {
  OpenedDb db;
  domain::SystemClock clock;
  domain::RandomIdGenerator ids;
  std::unique_ptr<domain::AccountAdmin> admin;
};

absl::StatusOr<std::unique_ptr<AdminSession>> OpenAdmin(
    const std::string& path, bool create_if_missing) {
  auto session = std::make_unique<AdminSession>();
  absl::StatusOr<OpenedDb> db = OpenDatabase(path, create_if_missing);
  if (!db.ok()) return db.status();
  session->db = *std::move(db);
  session->admin = std::make_unique<domain::AccountAdmin>(
      *session->db.store, session->clock, session->ids);
  return session;
}

constexpr char kAccountUsage[] =
    "usage: ecsimage account <command> [flags]\n"
    "  create --name N                  new account and its first token\n"
    "  token create --account ID        another token for the account\n"
    "  token list --account ID          token_id and creation time of each\n"
    "  token revoke --account ID --token-id TID\n"
    "                                   delete one token (calls with it fail)\n"
    "  accesskey create|list|revoke --account ID\n"
    "                                   AccessKey pairs of the ECS HTTP API\n"
    "Run `ecsimage account <command> --help` for its flags.\n";

// The database flags every account subcommand takes. A typo in --db must
// not hand out a token for a database nobody serves, so none creates one
// unless told.
struct DbFlags {
  std::string path = kDefaultDbPath;
  std::string token_file;
  bool create_if_missing = false;
  void Register(FlagSet& flags, bool allow_create) {
    flags.String("db", &path, kDbFlagHelp);
    flags.String("token-file", &token_file,
                 "the demo account's token file (default: <db>.token beside "
                 "a SQLite file; none on PostgreSQL)");
    if (allow_create) {
      flags.Bool("create-if-missing", &create_if_missing,
                 "create the database when the file does not exist");
    }
  }
};

int RunAccountCreate(const std::vector<std::string>& args) {
  DbFlags db_flags;
  std::string name;
  FlagSet flags("account create");
  flags.About(
      "Creates an account and its first token; prints one JSON line\n"
      "{\"account_id\":…,\"token\":…,\"token_id\":…}. The token is shown "
      "only this once.");
  db_flags.Register(flags, /*allow_create=*/true);
  flags.String("name", &name, "account name (required)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (name.empty()) {
    std::cerr << "account create: --name is required\n" << flags.Usage();
    return 2;
  }
  auto session = OpenAdmin(db_flags.path, db_flags.create_if_missing);
  if (!session.ok()) return Fail("cannot open database", session.status());
  return PrintCreated((*session)->admin->CreateAccount(name),
                      "cannot create account");
}

int RunTokenCreate(const std::vector<std::string>& args) {
  DbFlags db_flags;
  std::string account;
  FlagSet flags("account token create");
  flags.About(
      "Adds a token to an existing account; its other tokens keep working,\n"
      "so a client can be moved over before the old one is revoked. Prints\n"
      "one JSON line {\"account_id\":…,\"token\":…,\"token_id\":…}; the\n"
      "token is shown only this once. A running server accepts it at once.");
  db_flags.Register(flags, /*allow_create=*/false);
  flags.String("account", &account, "account id (required)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (account.empty()) {
    std::cerr << "account token create: --account is required\n"
              << flags.Usage();
    return 2;
  }
  auto session = OpenAdmin(db_flags.path, false);
  if (!session.ok()) return Fail("cannot open database", session.status());
  domain::AccountAdmin& admin = *(*session)->admin;
  return PrintCreated(admin.CreateToken(account), "cannot create token");
}

int RunTokenList(const std::vector<std::string>& args) {
  DbFlags db_flags;
  std::string account;
  FlagSet flags("account token list");
  flags.About(
      "Prints one JSON line {\"token_id\":…,\"created_at\":…} per token of\n"
      "the account, oldest first (never a token or its hash).");
  db_flags.Register(flags, /*allow_create=*/false);
  flags.String("account", &account, "account id (required)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (account.empty()) {
    std::cerr << "account token list: --account is required\n" << flags.Usage();
    return 2;
  }
  auto session = OpenAdmin(db_flags.path, false);
  if (!session.ok()) return Fail("cannot open database", session.status());
  domain::AccountAdmin& admin = *(*session)->admin;
  absl::StatusOr<std::vector<domain::AccountAdmin::TokenInfo>> tokens =
      admin.ListTokens(account);
  if (!tokens.ok()) return Fail("cannot list tokens", tokens.status());
  std::string out;
  for (const domain::AccountAdmin::TokenInfo& t : *tokens) {
    absl::StrAppend(&out, "{\"token_id\":\"", t.token_id,
                    "\",\"created_at\":\"",
                    domain::FormatIso8601(t.created_at_ms), "\"}\n");
  }
  std::cout << out << std::flush;
  return 0;
}

int RunTokenRevoke(const std::vector<std::string>& args) {
  DbFlags db_flags;
  std::string account;
  std::string token_id;
  FlagSet flags("account token revoke");
  flags.About(
      "Deletes the account's token with this token_id (see `account token\n"
      "list`); calls with it fail UNAUTHENTICATED at once, also on a running\n"
      "server. Prints one JSON line\n"
      "{\"account_id\":…,\"token_id\":…,\"tokens_left\":N}.");
  db_flags.Register(flags, /*allow_create=*/false);
  flags.String("account", &account, "account id (required)");
  flags.String("token-id", &token_id,
               "token_id of the token to revoke (required)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (account.empty() || token_id.empty()) {
    std::cerr << "account token revoke: --account and --token-id are "
                 "required\n"
              << flags.Usage();
    return 2;
  }
  auto session = OpenAdmin(db_flags.path, false);
  if (!session.ok()) return Fail("cannot open database", session.status());
  domain::AccountAdmin& admin = *(*session)->admin;
  absl::StatusOr<domain::AccountAdmin::Revoked> revoked =
      admin.RevokeToken(account, token_id);
  if (!revoked.ok()) return Fail("cannot revoke token", revoked.status());
  std::cout << absl::StrCat("{\"account_id\":\"", account, "\",\"token_id\":\"",
                            revoked->token_id,
                            "\",\"tokens_left\":", revoked->tokens_left, "}\n")
            << std::flush;
  if (revoked->tokens_left == 0) {
    JsonLine()
        .Str("level", "warning")
        .Str("msg",
             "the account has no token left and cannot call until `ecsimage "
             "account token create` gives it one")
        .Str("account_id", account)
        .Emit();
  }
  // The demo account's token file would otherwise go on looking usable.
  const std::string token_file =
      TokenFilePath((*session)->db.locator, db_flags.token_file);
  if (absl::StatusOr<DemoAccount> demo = ReadTokenFile(token_file);
      !token_file.empty() && demo.ok() && demo->account_id == account &&
      domain::TokenId(demo->token) == revoked->token_id) {
    JsonLine()
        .Str("level", "warning")
        .Str("msg", "the revoked token is the one kept in the token file")
        .Str("file", token_file)
        .Emit();
  }
  return 0;
}

int RunAccountToken(const std::vector<std::string>& args) {
  const std::vector<std::string> rest =
      args.empty() ? args
                   : std::vector<std::string>(args.begin() + 1, args.end());
  if (!args.empty()) {
    if (args[0] == "create") return RunTokenCreate(rest);
    if (args[0] == "list") return RunTokenList(rest);
    if (args[0] == "revoke") return RunTokenRevoke(rest);
  }
  std::cerr << kAccountUsage;
  return 2;
}

}  // namespace

int RunAccount(const std::vector<std::string>& args) {
  if (!args.empty()) {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "create") return RunAccountCreate(rest);
    if (args[0] == "token") return RunAccountToken(rest);
    if (args[0] == "accesskey") return RunAccountAccessKey(rest);
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      std::cout << kAccountUsage;
      return 0;
    }
  }
  std::cerr << kAccountUsage;
  return 2;
}

int RunMigrate(const std::vector<std::string>& args) {
  std::string db_path = kDefaultDbPath;
  bool create_if_missing = true;
  FlagSet flags("migrate");
  flags.String("db", &db_path, kDbFlagHelp);
  flags.Bool("create-if-missing", &create_if_missing,
             "create the database when the file does not exist");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  absl::StatusOr<OpenedDb> db = OpenDatabase(db_path, create_if_missing);
  if (!db.ok()) return Fail("migration failed", db.status());
  JsonLine()
      .Str("level", "info")
      .Str("msg", "migrated")
      .Str("db", db->locator.display)
      .Int("schemaVersion", db->schema_version)
      .Bool("newDatabase", db->created)
      .Emit();
  return 0;
}

int RunBackup(const std::vector<std::string>& args) {
  std::string db_path = kDefaultDbPath;
  std::string to;
  FlagSet flags("backup");
  flags.String("db", &db_path, kDbFlagHelp);
  flags.String("to", &to, "path of the copy (must not exist)");
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (to.empty()) {
    std::cerr << "backup: --to is required\n" << flags.Usage();
    return 2;
  }
  absl::StatusOr<OpenedDb> db =
      OpenDatabase(db_path, false, /*check_at_open=*/false);
  if (!db.ok()) return Fail("cannot open database", db.status());
  // The full check, here rather than at every start of serve: a backup of
  // a corrupt database is refused, so the latest backup is a good one.
  if (absl::Status s = db->store->CheckIntegrity(); !s.ok()) {
    return Fail("backup refused: integrity check failed", s);
  }
  if (absl::Status s = db->store->BackupTo(to); !s.ok()) {
    return Fail("backup failed", s);
  }
  JsonLine()
      .Str("level", "info")
      .Str("msg", "backup written")
      .Str("db", db->locator.display)
      .Str("to", to)
      .Emit();
  return 0;
}

}  // namespace ecsimage::cmd

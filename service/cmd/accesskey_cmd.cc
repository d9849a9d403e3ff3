// `ecsimage account accesskey create|list|revoke`: AccessKey pairs of the
// ECS HTTP listener (ecs-http.md §2), in the style of the token commands.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/cmd/commands.h"
#include "service/cmd/db.h"
#include "service/cmd/flags.h"
#include "service/cmd/secret_keys.h"
#include "service/domain/access_keys.h"
#include "service/domain/clock.h"
#include "service/ecs_http/render.h"
#include "service/grpc/json_log.h"

namespace ecsimage::cmd {
namespace {

using ecs_http::JsonQuote;

constexpr char kUsage[] =
    "usage: ecsimage account accesskey <command> [flags]\n"
    "  create --account ID              new AccessKey pair (secret shown "
    "once)\n"
    "  list --account ID                access_key_id, times, status of each\n"
    "  revoke --account ID --access-key-id AK\n"
    "                                   calls signed with it fail at once\n"
    "Each takes --db and --secret-key-file (create needs the key file).\n";

int Fail(std::string_view msg, const absl::Status& status) {
  grpcapi::JsonLine()
      .Str("level", "error")
      .Str("msg", msg)
      .Str("error", std::string(status.message()))
      .Emit();
  return 1;
}

struct Common {
  std::string db = kDefaultDbPath;
  std::string account;
  SecretKeyFlags keys;
  void Register(FlagSet& flags) {
    flags.String("db", &db, kDbFlagHelp);
    flags.String("account", &account, "account id (required)");
    keys.Register(flags);
  }
};

int Run(const std::string& command, const std::vector<std::string>& args) {
  Common c;
  std::string access_key_id;
  FlagSet flags("account accesskey " + command);
  c.Register(flags);
  if (command == "revoke") {
    flags.String("access-key-id", &access_key_id,
                 "the AccessKeyId to revoke (required)");
  }
  if (int rc = ParseOrUsage(flags, args); rc >= 0) return rc;
  if (c.account.empty() || (command == "revoke" && access_key_id.empty())) {
    std::cerr << "account accesskey " << command << ": --account is required"
              << (command == "revoke" ? " (and --access-key-id)" : "") << "\n"
              << flags.Usage();
    return 2;
  }
  absl::StatusOr<SecretKeys> keys = LoadSecretKeys(c.keys);
  if (!keys.ok()) return Fail("invalid secret key file", keys.status());
  if (command == "create" && keys->current == nullptr) {
    std::cerr << "account accesskey create: --secret-key-file "
                 "(ECSIMAGE_SECRET_KEY_FILE) is required: secrets are "
                 "stored sealed under it\n";
    return 2;
  }
  absl::StatusOr<OpenedDb> db = OpenDatabase(c.db, false);
  if (!db.ok()) return Fail("cannot open database", db.status());
  domain::SystemClock clock;
  domain::AccessKeys access_keys(*db->store, clock, keys->current.get(),
                                 keys->previous.get());
  if (command == "create") {
    auto created = access_keys.Create(c.account);
    if (!created.ok())
      return Fail("cannot create access key", created.status());
    std::cout << "{\"account_id\":" << JsonQuote(created->account_id)
              << ",\"access_key_id\":" << JsonQuote(created->access_key_id)
              << ",\"access_key_secret\":"
              << JsonQuote(created->access_key_secret) << "}\n"
              << std::flush;
    return 0;
  }
  if (command == "list") {
    auto list = access_keys.List(c.account);
    if (!list.ok()) return Fail("cannot list access keys", list.status());
    for (const domain::AccessKeys::Info& k : *list) {
      std::cout << "{\"access_key_id\":" << JsonQuote(k.access_key_id)
                << ",\"created_at_ms\":" << k.created_at_ms << ",\"status\":\""
                << (k.revoked_at_ms == 0 ? "Active" : "Inactive")
                << "\",\"revoked_at_ms\":" << k.revoked_at_ms << "}\n";
    }
    std::cout << std::flush;
    return 0;
  }
  absl::Status revoked = access_keys.Revoke(c.account, access_key_id);
  if (!revoked.ok()) return Fail("cannot revoke access key", revoked);
  std::cout << "{\"account_id\":" << JsonQuote(c.account)
            << ",\"access_key_id\":" << JsonQuote(access_key_id)
            << ",\"status\":\"Inactive\"}\n"
            << std::flush;
  return 0;
}

}  // namespace

int RunAccountAccessKey(const std::vector<std::string>& args) {
  if (!args.empty() &&
      (args[0] == "create" || args[0] == "list" || args[0] == "revoke")) {
    return Run(args[0], std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << kUsage;
  return 2;
}

}  // namespace ecsimage::cmd

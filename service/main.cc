// ecsimage: one binary, subcommands serve | account create | account token
// create/list/revoke | migrate | backup | db copy. Every flag also reads
// ECSIMAGE_<FLAG> from the environment.
#include <iostream>
#include <string>
#include <vector>

#include "service/cmd/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: ecsimage <command> [flags]\n"
    "  serve                 run the gRPC server (--listen, --db, ...)\n"
    "  account create --name N\n"
    "                        create an account; prints "
    "{\"account_id\":…,\"token\":…,\"token_id\":…}\n"
    "  account token create|list|revoke --account ID\n"
    "                        rotate an account's tokens\n"
    "  migrate               apply schema migrations to --db\n"
    "  backup --to PATH      online, consistent copy of --db (SQLite)\n"
    "  db copy --from PATH --to URI\n"
    "                        move a SQLite database into an empty "
    "PostgreSQL one\n"
    "Run `ecsimage <command> --help` for its flags.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "serve") return ecsimage::cmd::RunServe(args);
  if (command == "account") return ecsimage::cmd::RunAccount(args);
  if (command == "migrate") return ecsimage::cmd::RunMigrate(args);
  if (command == "backup") return ecsimage::cmd::RunBackup(args);
  if (command == "db") return ecsimage::cmd::RunDb(args);
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "unknown command \"" << command << "\"\n" << kUsage;
  return 2;
}

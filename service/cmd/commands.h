// The subcommands of the `ecsimage` binary. Each takes the words after its
// name and returns the process exit code (0 ok, 1 failure, 2 usage).
#ifndef ECSIMAGE_SERVICE_CMD_COMMANDS_H_
#define ECSIMAGE_SERVICE_CMD_COMMANDS_H_

#include <string>
#include <vector>

namespace ecsimage::cmd {

// serve: the gRPC server until SIGTERM/SIGINT.
int RunServe(const std::vector<std::string>& args);
// account create --name N: prints {"account_id":…,"token":…,"token_id":…};
// account token create|list|revoke --account ID: rotates its tokens.
int RunAccount(const std::vector<std::string>& args);
// account accesskey create|list|revoke --account ID (accesskey_cmd.cc).
int RunAccountAccessKey(const std::vector<std::string>& args);
// migrate: applies the embedded schema migrations.
int RunMigrate(const std::vector<std::string>& args);
// backup --to PATH: online, consistent copy of the database.
int RunBackup(const std::vector<std::string>& args);
// db copy --from PATH --to URI: moves a SQLite database into an empty
// PostgreSQL one (servers stopped), then verifies counts.
int RunDb(const std::vector<std::string>& args);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_COMMANDS_H_

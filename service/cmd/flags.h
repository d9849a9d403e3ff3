// A small flag parser for the subcommands of `ecsimage`: each subcommand
// declares its own flags, so `account create` does not accept `--listen`.
//
// A flag `--foo-bar` is set, in increasing precedence, by its default, by the
// environment variable ECSIMAGE_FOO_BAR, and by the command line as
// `--foo-bar=V` or `--foo-bar V` (booleans also as `--foo-bar` alone).
#ifndef ECSIMAGE_SERVICE_CMD_FLAGS_H_
#define ECSIMAGE_SERVICE_CMD_FLAGS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace ecsimage::cmd {

// Returns the value of an environment variable, if set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment.
EnvLookup ProcessEnv();

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  // What the command does: printed by Usage() under its first line.
  void About(std::string text) { about_ = std::move(text); }

  // `target` holds the default and receives the value.
  void String(std::string name, std::string* target, std::string help);
  void Bool(std::string name, bool* target, std::string help);
  void Int(std::string name, int64_t* target, std::string help);
  void Double(std::string name, double* target, std::string help);

  // Parses env then `args` (the words after the subcommand). Positional
  // words are refused. "--help" yields kCancelled (print Usage(), exit 0).
  absl::Status Parse(const std::vector<std::string>& args,
                     const EnvLookup& env);

  std::string Usage() const;

  // "listen" -> "ECSIMAGE_LISTEN", "max-threads" -> "ECSIMAGE_MAX_THREADS".
  static std::string EnvName(std::string_view flag);

 private:
  enum class Kind { kString, kBool, kInt, kDouble };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
  };
  absl::Status Set(const Flag& flag, std::string_view value,
                   std::string_view source);
  const Flag* Find(std::string_view name) const;

  std::string command_;
  std::string about_;
  std::vector<Flag> flags_;
};

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_FLAGS_H_

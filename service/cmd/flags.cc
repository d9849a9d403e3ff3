#include "service/cmd/flags.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "util/absl_compat.h"

namespace ecsimage::cmd {

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string FlagSet::EnvName(std::string_view flag) {
  return absl::StrCat("ECSIMAGE_", absl::AsciiStrToUpper(absl::StrReplaceAll(
                                       AV(flag), {{"-", "_"}})));
}

void FlagSet::String(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), Kind::kString, target, std::move(help),
                    absl::StrCat("\"", *target, "\"")});
}

void FlagSet::Bool(std::string name, bool* target, std::string help) {
  flags_.push_back({std::move(name), Kind::kBool, target, std::move(help),
                    *target ? "true" : "false"});
}

void FlagSet::Int(std::string name, int64_t* target, std::string help) {
  flags_.push_back({std::move(name), Kind::kInt, target, std::move(help),
                    absl::StrCat(*target)});
}

void FlagSet::Double(std::string name, double* target, std::string help) {
  flags_.push_back({std::move(name), Kind::kDouble, target, std::move(help),
                    absl::StrCat(*target)});
}

const FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status FlagSet::Set(const Flag& flag, std::string_view value,
                          std::string_view source) {
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(source), ": --", flag.name, " wants ", AV(what),
                     ", got \"", AV(value), "\""));
  };
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = std::string(value);
      return absl::OkStatus();
    case Kind::kBool: {
      bool b = false;
      if (!absl::SimpleAtob(AV(value), &b)) return bad("true or false");
      *static_cast<bool*>(flag.target) = b;
      return absl::OkStatus();
    }
    case Kind::kInt: {
      int64_t i = 0;
      if (!absl::SimpleAtoi(AV(value), &i)) return bad("an integer");
      *static_cast<int64_t*>(flag.target) = i;
      return absl::OkStatus();
    }
    case Kind::kDouble: {
      double d = 0;
      if (!absl::SimpleAtod(AV(value), &d)) return bad("a number");
      *static_cast<double*>(flag.target) = d;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown flag kind");
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args,
                            const EnvLookup& env) {
  for (const Flag& flag : flags_) {
    std::string name = EnvName(flag.name);
    if (std::optional<std::string> value = env(name); value.has_value()) {
      absl::Status s = Set(flag, *value, name);
      if (!s.ok()) return s;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      return absl::CancelledError("help");
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": unexpected argument \"", AV(arg), "\""));
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": unknown flag --", AV(name)));
    }
    if (!value.has_value()) {
      if (flag->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(command_, ": --", AV(name), " needs a value"));
      }
    }
    absl::Status s = Set(*flag, *value, "command line");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ecsimage ", command_, " [flags]\n");
  if (!about_.empty()) absl::StrAppend(&out, about_, "\n");
  for (const Flag& f : flags_) {
    absl::StrAppendFormat(&out, "  --%s (env %s, default %s)\n      %s\n",
                          f.name, EnvName(f.name), f.default_text, f.help);
  }
  return out;
}

}  // namespace ecsimage::cmd

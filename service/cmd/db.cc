#include "service/cmd/db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "service/domain/image_domain.h"
#include "util/absl_compat.h"

namespace ecsimage::cmd {
namespace {

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(AV(what), " ", path, ": ", std::strerror(errno)));
}

// The string value of "key":"value" in a flat JSON object of plain strings.
std::string JsonField(std::string_view json, std::string_view key) {
  const std::string needle = absl::StrCat("\"", AV(key), "\":\"");
  size_t start = json.find(needle);
  if (start == std::string_view::npos) return "";
  start += needle.size();
  size_t end = json.find('"', start);
  if (end == std::string_view::npos) return "";
  return std::string(json.substr(start, end - start));
}

}  // namespace

absl::StatusOr<OpenedDb> OpenDatabase(const std::string& path,
                                      bool create_if_missing) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", ec.message()));
  }
  if (!exists) {
    if (!create_if_missing) {
      return absl::NotFoundError(
          absl::StrCat("database ", path,
                       " does not exist (is the volume mounted?); pass "
                       "--create-if-missing=true to create a new one"));
    }
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) {
      fs::create_directories(parent, ec);
      if (ec) {
        return absl::UnavailableError(absl::StrCat(
            "cannot create directory ", parent.string(), ": ", ec.message()));
      }
    }
  }
  storage::SqliteStoreOptions options;
  options.path = path;
  options.create_if_missing = create_if_missing;
  options.migrate = true;
  absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
      storage::SqliteStore::Open(options);
  if (!store.ok()) return store.status();
  OpenedDb db;
  db.store = *std::move(store);
  db.created = !exists;
  db.schema_version = storage::LatestSchemaVersion();
  return db;
}

std::string TokenFilePath(const std::string& db_path) {
  return db_path + ".token";
}

std::string AccountJson(const std::string& account_id, const std::string& token,
                        const std::string& token_id) {
  return absl::StrCat("{\"account_id\":\"", account_id, "\",\"token\":\"",
                      token, "\",\"token_id\":\"", token_id, "\"}");
}

absl::Status CreateDemoAccount(storage::Store& store, domain::Clock& clock,
                               domain::IdGenerator& ids,
                               const std::string& token_file) {
  domain::AccountAdmin admin(store, clock, ids);
  absl::StatusOr<domain::AccountAdmin::Created> created =
      admin.CreateAccount("demo");
  if (!created.ok()) return created.status();

  // Written beside, then renamed: the file is either absent or complete,
  // and never readable by others, not even for a moment.
  const std::string tmp = token_file + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  const std::string content =
      AccountJson(created->account_id, created->token, created->token_id) +
      "\n";
  std::string_view rest = content;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = ErrnoError("cannot write", tmp);
      ::close(fd);
      return s;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    absl::Status s = ErrnoError("cannot sync", tmp);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return ErrnoError("cannot close", tmp);
  if (::rename(tmp.c_str(), token_file.c_str()) != 0) {
    return ErrnoError("cannot rename to", token_file);
  }
  return absl::OkStatus();
}

absl::StatusOr<DemoAccount> ReadTokenFile(const std::string& token_file) {
  std::ifstream in(token_file);
  if (!in) return absl::NotFoundError(absl::StrCat("no ", token_file));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string json = buffer.str();
  DemoAccount demo{JsonField(json, "account_id"), JsonField(json, "token")};
  if (demo.account_id.empty() || demo.token.empty()) {
    return absl::DataLossError(absl::StrCat("malformed ", token_file));
  }
  return demo;
}

int ParseOrUsage(FlagSet& flags, const std::vector<std::string>& args) {
  absl::Status s = flags.Parse(args, ProcessEnv());
  if (s.ok()) return -1;
  if (absl::IsCancelled(s)) {
    std::cout << flags.Usage();
    return 0;
  }
  std::cerr << s.message() << "\n" << flags.Usage();
  return 2;
}

}  // namespace ecsimage::cmd
